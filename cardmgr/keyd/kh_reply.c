/*
 * kh_reply: the decoder of the PKCS#11 helper's answers (kh.h). Pure: the
 * helper runs a vendor module, so its bytes are untrusted; fuzzed by
 * tests/fuzz/fuzz_kh_reply.c.
 */
#include "keyd/kh.h"

#include "keyd/keyd_msg.h"
#include "keyd/ks.h"

/* What the answer to req_type must carry on success (KS_R_DATA length). */
static int
data_ok(uint32_t req_type, const struct msg *m, size_t expect)
{
	const struct msg_field *d = msg_get(m, KS_R_DATA);
	const struct msg_field *d2 = msg_get(m, KS_R_DATA2);

	if (expect != 0 && (d == NULL || d->len != expect))
		return 0;
	switch (req_type) {
	case MSG_KS_P11H_OPEN:
		return d == NULL && d2 == NULL && msg_get(m, KS_R_NUM) != NULL &&
		    msg_get(m, KS_R_NUM2) != NULL;
	case MSG_KS_MASTER_NEW:
		return d == NULL && d2 == NULL && msg_get(m, KS_R_NUM) != NULL;
	case MSG_KS_MGMT_KEY:
		return d != NULL && (d->len == 16 || d->len == 24 ||
		    d->len == 32) && d2 == NULL;
	case MSG_KS_MGMT_CRYPT:
		return d != NULL && (d->len == 8 || d->len == 16) && d2 == NULL;
	case MSG_KS_PUK:
		if (d == NULL || d->len != 8 || d2 != NULL)
			return 0;
		for (size_t i = 0; i < 8; i++)
			if (d->p[i] < '0' || d->p[i] > '9')
				return 0;
		return 1;
	case MSG_KS_ESCROW:
		return d != NULL && d->len > 0 && d2 != NULL && d2->len > 0;
	case MSG_KS_RECOVER:
	case MSG_KS_PUBKEY:
		return d != NULL && d->len > 0 && d2 == NULL;
	case MSG_KS_SIGN:
		return d != NULL && d->len > 0 && d->len <= 1024 && d2 == NULL;
	default:
		return 0;
	}
}

int
kh_reply_check(const uint8_t *buf, size_t len, uint32_t req_type,
    uint64_t id, size_t expect, struct msg *m)
{
	const struct msg_field *f;
	int32_t rc;

	switch (req_type) {	/* what keyd sends the helper, nothing else */
	case MSG_KS_P11H_OPEN: case MSG_KS_MASTER_NEW: case MSG_KS_MGMT_KEY:
	case MSG_KS_MGMT_CRYPT: case MSG_KS_PUK: case MSG_KS_ESCROW:
	case MSG_KS_RECOVER: case MSG_KS_SIGN: case MSG_KS_PUBKEY:
		break;
	default:
		return -1;
	}
	if (msg_decode(buf, len, m) != MSG_OK || m->hdr.type != MSG_KS_RESP ||
	    m->hdr.id != id || (f = msg_get(m, KS_R_RC)) == NULL)
		return -1;
	rc = (int32_t)(uint32_t)f->num;
	/* the helper's own codes only: KS_ERR_HELPER is keyd's word */
	if (rc > KS_OK || rc < KS_ERR_NOTOKEN)
		return -1;
	if (rc != KS_OK)	/* a failure carries no data */
		return msg_get(m, KS_R_DATA) == NULL &&
		    msg_get(m, KS_R_DATA2) == NULL ? 0 : -1;
	return data_ok(req_type, m, expect) ? 0 : -1;
}
