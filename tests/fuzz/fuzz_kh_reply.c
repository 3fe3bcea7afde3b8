/*
 * libFuzzer harness: kh_reply_check, keyd's decoder of its PKCS#11 helper's
 * answers (the helper runs a vendor module: its bytes are untrusted). Input:
 * one byte choosing the request the answer is for, one byte choosing the
 * data length keyd expects, then one datagram (request id 7). An accepted
 * answer must be a MSG_KS_RESP with id 7, an rc the helper may give, no
 * data on a failure, and the data the request asks for on success.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "keyd/keyd_msg.h"
#include "keyd/kh.h"
#include "keyd/ks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct msg m;

static const uint32_t reqs[] = {
	MSG_KS_P11H_OPEN, MSG_KS_MASTER_NEW, MSG_KS_MGMT_KEY, MSG_KS_MGMT_CRYPT,
	MSG_KS_PUK, MSG_KS_ESCROW, MSG_KS_RECOVER, MSG_KS_SIGN, MSG_KS_PUBKEY,
	MSG_KS_INFO,	/* never forwarded: nothing may be accepted for it */
};
static const size_t expects[] = { 0, 8, 16, 24, 32 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct msg_field *rc, *d, *d2;
	uint32_t req;
	size_t expect;

	if (size < 2)
		return 0;
	req = reqs[data[0] % (sizeof(reqs) / sizeof(reqs[0]))];
	expect = expects[data[1] % (sizeof(expects) / sizeof(expects[0]))];
	if (kh_reply_check(data + 2, size - 2, req, 7, expect, &m) != 0)
		return 0;
	rc = msg_get(&m, KS_R_RC);
	d = msg_get(&m, KS_R_DATA);
	d2 = msg_get(&m, KS_R_DATA2);
	if (m.hdr.type != MSG_KS_RESP || m.hdr.id != 7 || rc == NULL ||
	    req == MSG_KS_INFO)
		abort();
	if ((int32_t)rc->num > KS_OK || (int32_t)rc->num < KS_ERR_NOTOKEN)
		abort();
	if ((int32_t)rc->num != KS_OK && (d != NULL || d2 != NULL))
		abort();
	if ((int32_t)rc->num == KS_OK && expect != 0 &&
	    (d == NULL || d->len != expect))
		abort();
	if (d != NULL && ((const uint8_t *)d->p < data + 2 ||
	    d->p + d->len > data + size))
		abort();
	return 0;
}
