/*
 * libFuzzer harness: sequences of APDUs through the virtual PIV card
 * (tests/vcard/), from a fresh factory card each time.
 *
 * Input: records of a 2-byte big-endian length and that many bytes, each an
 * APDU for vc_card_process(). A record of length 0 is followed by one
 * operation byte instead: 0 power-cycles the card, 1 marks the 9B key as
 * authenticated and 2 the PIN as verified, so that the fuzzer reaches the
 * commands behind them without breaking a random challenge. Key generation
 * uses one cached key per algorithm (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
 * in vc_crypto.c) to keep thousands of executions a second.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "vcard/vc_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vc_card *factory;
static uint8_t rsp[VC_RESPONSE_MAX];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vc_card_opts o = { 424242, 1, NULL, NULL };

	(void)argc;
	(void)argv;
	/* Card creation makes an RSA attestation key: do it once, then copy. */
	if (vc_card_create(&o, &factory) != VC_OK)
		abort();
	return 0;
}

static void
special(struct vc_card *c, uint8_t op)
{
	switch (op % 3) {
	case 0: vc_card_power(c); break;
	case 1: c->mgm_ok = 1; break;
	case 2: c->pin_ok = c->pin_fresh = 1; break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf_reader r;
	struct vc_card *c;
	const uint8_t *apdu;
	uint16_t len;
	uint8_t op;
	size_t n;

	if (vc_card_dup(factory, &c) != VC_OK)
		abort();
	buf_reader_init(&r, data, size);
	while (buf_get_u16be(&r, &len) == BUF_OK) {
		if (len == 0) {
			if (buf_get_u8(&r, &op) != BUF_OK)
				break;
			special(c, op);
			continue;
		}
		if (buf_get_ptr(&r, len, &apdu) != BUF_OK)
			break;
		if (vc_card_process(c, apdu, len, rsp, sizeof(rsp), &n) == VC_OK &&
		    (n < 2 || n > sizeof(rsp)))
			abort();
	}
	vc_card_free(c);
	return 0;
}
