/*
 * ks_blob: the one decoder of escrow blobs (untrusted: they come back from the
 * inventory, possibly from another station). Pure: no token, no OpenSSL, so
 * the fuzzer links it alone. Format: docs/keystore.md "Escrow blob".
 */
#include <string.h>

#include "buf.h"
#include "ks.h"

static int
key_type_ok(uint8_t t)
{
	return t == KS_KEY_RSA2048 || t == KS_KEY_P256 || t == KS_KEY_P384;
}

int
ks_escrow_parse(const uint8_t *blob, size_t len, struct ks_escrow *out)
{
	struct buf_reader r;
	const uint8_t *magic = NULL;
	uint8_t fmt = 0, kt = 0;
	uint16_t wl = 0;
	uint32_t ctl = 0;

	if (out == NULL)
		return KS_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (blob == NULL)
		return KS_ERR_ARG;
	buf_reader_init(&r, blob, len);
	if (buf_get_ptr(&r, 4, &magic) != BUF_OK || memcmp(magic, KS_ESCROW_MAGIC, 4) != 0 ||
	    buf_get_u8(&r, &fmt) != BUF_OK || fmt != KS_ESCROW_FORMAT ||
	    buf_get_u8(&r, &kt) != BUF_OK || !key_type_ok(kt) ||
	    buf_get_u32be(&r, &out->krk_version) != BUF_OK || out->krk_version == 0 ||
	    buf_get_u16be(&r, &wl) != BUF_OK || wl == 0 || wl > KS_ESCROW_WRAPPED_MAX ||
	    buf_get_ptr(&r, wl, &out->wrapped) != BUF_OK)
		goto bad;
	out->format = fmt;
	out->key_type = kt;
	out->wrapped_len = wl;
	out->header = blob;
	out->header_len = (size_t)(r.p - blob);
	if (buf_get_ptr(&r, KS_ESCROW_NONCE, &out->nonce) != BUF_OK ||
	    buf_get_u32be(&r, &ctl) != BUF_OK || ctl == 0 || ctl > KS_ESCROW_CT_MAX ||
	    buf_get_ptr(&r, ctl, &out->ct) != BUF_OK ||
	    buf_get_ptr(&r, KS_ESCROW_TAG, &out->tag) != BUF_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto bad;
	out->ct_len = ctl;
	return KS_OK;
bad:
	memset(out, 0, sizeof(*out));
	return KS_ERR_FORMAT;
}
