/*
 * libFuzzer harness: response assembly in apdu_transceive (61xx GET RESPONSE
 * loop, 6Cxx re-send, chaining acknowledgements, size cap). Input: one flags
 * byte (bit 0 want data, bit 1 extended, bit 2 chained 600-byte command, bits
 * 3-4 pick the cap), then the card's responses, each as 2-byte length + bytes.
 * When they run out the card is "removed".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
transmit(void *arg, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t *rsp_len)
{
	struct buf_reader *r = arg;
	const uint8_t *p;
	uint16_t n;

	(void)cmd;
	(void)cmd_len;
	if (buf_get_u16be(r, &n) != BUF_OK || n > *rsp_len || buf_get_ptr(r, n, &p) != BUF_OK)
		return APDU_ERR_REMOVED;
	memcpy(rsp, p, n);
	*rsp_len = n;
	return APDU_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[4] = { 0, 300, 4096, APDU_MAX_RESPONSE_DEFAULT };
	static uint8_t big[600];
	struct buf_reader r;
	struct apdu_transport t = { transmit, NULL, NULL, &r, NULL };
	struct apdu_ctx *ctx = NULL;
	struct apdu_cmd c = { 0x00, 0xCB, 0x3F, 0xFF, NULL, 0, 0 };
	uint8_t *rsp = NULL;
	size_t len = 0, cap;
	uint16_t sw;
	int rc;

	if (size < 1)
		return 0;
	buf_reader_init(&r, data + 1, size - 1);
	if (apdu_init(&ctx, &t) != APDU_OK)
		return 0;
	cap = caps[(data[0] >> 3) & 3];
	apdu_set_max_response(ctx, cap);
	apdu_set_extended(ctx, data[0] & 2);
	c.want_data = data[0] & 1;
	if (data[0] & 4) {
		c.data = big;
		c.len = sizeof(big);
	}
	rc = apdu_transceive(ctx, &c, &rsp, &len, &sw);
	if (rc == APDU_OK ? (len > cap || (len > 0 && rsp == NULL)) : rsp != NULL)
		abort();
	apdu_free(rsp, len);
	apdu_done(ctx);
	return 0;
}
