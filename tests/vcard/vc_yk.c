/*
 * vc_yk: the Yubico PIV extensions that yubico-piv-tool, ykman and ykcs11
 * rely on: GET VERSION (FD), GET SERIAL (F8), SET MANAGEMENT KEY (FF),
 * IMPORT KEY (FE), RESET (FB), SET PIN RETRIES (FA), ATTEST (F9) and
 * GET METADATA (F7); and the YubiKey management application (SELECT,
 * READ CONFIG) that `ykman info` and libykpiv select.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "tlv.h"
#include "vc_crypto.h"
#include "vc_priv.h"

/* ---- the management application */

static const uint8_t mgmt_aid[] = {
	0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17,
};

#define INS_READ_CONFIG	0x1D

/* Application bits of the device information (yubikit CAPABILITY). */
#define CAP_OTP		0x0001
#define CAP_U2F		0x0002
#define CAP_OPENPGP	0x0008
#define CAP_PIV		0x0010
#define CAP_OATH	0x0020
#define CAP_HSMAUTH	0x0100
#define CAP_FIDO2	0x0200
/* What a YubiKey 5 NFC with firmware 5.4.3 has; this card implements only PIV,
 * so only PIV is enabled (a configuration `ykman config` can make on a real one). */
#define CAPS_SUPPORTED	(CAP_OTP | CAP_U2F | CAP_OPENPGP | CAP_PIV | CAP_OATH | \
			 CAP_HSMAUTH | CAP_FIDO2)
#define CAPS_ENABLED	CAP_PIV

/* Device information tags (READ CONFIG). */
#define DI_USB_SUPPORTED 0x01
#define DI_SERIAL	0x02
#define DI_USB_ENABLED	0x03
#define DI_FORM_FACTOR	0x04
#define DI_VERSION	0x05
#define DI_AUTO_EJECT	0x06
#define DI_CHALRESP	0x07
#define DI_FLAGS	0x08
#define DI_CONFIG_LOCK	0x0A
#define DI_NFC_SUPPORTED 0x0D
#define DI_NFC_ENABLED	0x0E

#define FORM_USB_A_KEYCHAIN 0x01
#define CHALRESP_SECONDS 15	/* a YubiKey's default */

uint16_t
vc_yk_select(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	char ver[16];
	int n;
	uint16_t sw;

	if (cmd->p1 != 0x04 || cmd->lc != sizeof(mgmt_aid) ||
	    memcmp(cmd->data, mgmt_aid, sizeof(mgmt_aid)) != 0) {
		/* A failed SELECT leaves the current application selected. */
		if ((sw = vc_piv_select(c, cmd, out)) == SW_OK)
			c->app = VC_APP_PIV;
		return sw;
	}
	n = snprintf(ver, sizeof(ver), "%u.%u.%u", vc_card_version[0],
	    vc_card_version[1], vc_card_version[2]);
	if (n <= 0 || (size_t)n >= sizeof(ver))
		return SW_NO_INFO;
	/* Leaving PIV drops its security status: libykpiv selects this
	 * application to forget a verified PIN (ykpiv_get_pin_retries). */
	c->pin_ok = c->pin_fresh = c->mgm_ok = 0;
	c->chal = VC_CHAL_NONE;
	OPENSSL_cleanse(c->chal_buf, sizeof(c->chal_buf));
	c->app = VC_APP_MGMT;
	buf_put_bytes(out, ver, (size_t)n);
	return SW_OK;
}

/* A 2-byte big-endian TLV (capability masks, the auto-eject timeout). */
static void
put_u16_tlv(struct buf_writer *w, uint8_t tag, uint16_t v)
{
	tlv_put_header(w, tag, 2);
	buf_put_u16be(w, v);
}

/* READ CONFIG: one length byte, then the device information TLVs. */
static uint16_t
read_config(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	const uint8_t ff = FORM_USB_A_KEYCHAIN, chalresp = CHALRESP_SECONDS,
	    zero = 0;
	uint8_t mem[96];
	struct buf_writer w;

	if (cmd->p1 != 0 || cmd->p2 != 0)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	buf_writer_init(&w, mem, sizeof(mem));
	put_u16_tlv(&w, DI_USB_SUPPORTED, CAPS_SUPPORTED);
	tlv_put_header(&w, DI_SERIAL, 4);
	buf_put_u32be(&w, c->st.serial);
	put_u16_tlv(&w, DI_USB_ENABLED, CAPS_ENABLED);
	tlv_put(&w, DI_FORM_FACTOR, &ff, 1);
	tlv_put(&w, DI_VERSION, vc_card_version, sizeof(vc_card_version));
	put_u16_tlv(&w, DI_AUTO_EJECT, 0);
	tlv_put(&w, DI_CHALRESP, &chalresp, 1);
	tlv_put(&w, DI_FLAGS, &zero, 1);
	tlv_put(&w, DI_CONFIG_LOCK, &zero, 1);
	put_u16_tlv(&w, DI_NFC_SUPPORTED, CAPS_SUPPORTED);
	put_u16_tlv(&w, DI_NFC_ENABLED, CAPS_ENABLED);
	if (buf_writer_error(&w) != BUF_OK || w.len > 0xFF)
		return SW_NO_INFO;
	buf_put_u8(out, (uint8_t)w.len);
	buf_put_bytes(out, mem, w.len);
	return SW_OK;
}

/* WRITE CONFIG, SET MODE, RESET and the rest: not emulated. */
uint16_t
vc_yk_mgmt(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	if (cmd->ins == INS_READ_CONFIG)
		return read_config(c, cmd, out);
	return SW_INS;
}

/* ---- PIV extensions */

uint16_t
vc_yk_version(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	(void)c;
	(void)cmd;
	buf_put_bytes(out, vc_card_version, sizeof(vc_card_version));
	return SW_OK;
}

uint16_t
vc_yk_serial(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	(void)cmd;
	buf_put_u32be(out, c->st.serial);
	return SW_OK;
}

/* 00 FF FF FF|FE { alg, 9B len key }: FE asks for touch (not emulated). */
uint16_t
vc_yk_set_mgm(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	struct buf_reader r;
	struct tlv t;
	uint8_t alg;
	size_t keylen;

	(void)out;
	if (cmd->p1 != 0xFF || (cmd->p2 != 0xFF && cmd->p2 != 0xFE))
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	buf_reader_init(&r, cmd->data, cmd->lc);
	if (buf_get_u8(&r, &alg) != BUF_OK || vc_crypto_sym_block(alg, &keylen) == 0 ||
	    tlv_expect(&r, 0x9B, &t) != TLV_OK || buf_expect_end(&r) != BUF_OK ||
	    t.len != keylen)
		return SW_WRONG_DATA;
	OPENSSL_cleanse(c->st.mgm_key, sizeof(c->st.mgm_key));
	memcpy(c->st.mgm_key, t.val, t.len);
	c->st.mgm_len = t.len;
	c->st.mgm_alg = alg;
	c->st.mgm_touch = cmd->p2 == 0xFE;
	c->dirty = 1;
	return SW_OK;
}

struct import {
	struct tlv part[6];	/* tags 01..06 */
	uint8_t pin, touch;
};

/* Bit for a tag IMPORT KEY accepts (01-06 key parts, AA/AB policies), or -1. */
static int
import_bit(uint32_t tag)
{
	if (tag >= 0x01 && tag <= 0x06)
		return (int)tag;
	return tag == 0xAA || tag == 0xAB ? (int)(tag - 0xA0) : -1;
}

/* Each tag at most once; RSA needs exactly 01-05, EC exactly 06. */
static uint16_t
parse_import(const struct vc_cmd *cmd, struct import *im)
{
	struct buf_reader r;
	struct tlv t;
	int seen = 0, bit;

	memset(im, 0, sizeof(*im));
	buf_reader_init(&r, cmd->data, cmd->lc);
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &t) != TLV_OK || (bit = import_bit(t.tag)) < 0 ||
		    (seen & (1 << bit)))
			return SW_WRONG_DATA;
		seen |= 1 << bit;
		if (bit <= 6)
			im->part[bit - 1] = t;
		else if (t.len != 1)
			return SW_WRONG_DATA;
		else
			*(t.tag == 0xAA ? &im->pin : &im->touch) = t.val[0];
	}
	if ((seen & 0x7E) != (vc_crypto_alg_is_rsa(cmd->p1) ? 0x3E : 0x40))
		return SW_WRONG_DATA;
	if (im->pin > VC_PIN_ALWAYS || im->touch > VC_TOUCH_CACHED)
		return SW_WRONG_DATA;
	return SW_OK;
}

uint16_t
vc_yk_import(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	int idx = vc_slot_index(cmd->p2), i, rc;
	const uint8_t *part[5];
	size_t plen[5];
	struct import im;
	EVP_PKEY *pk = NULL;
	struct vc_key *k;
	uint16_t sw;

	(void)out;
	if (idx < 0 || !vc_crypto_alg_is_asym(cmd->p1))
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if ((sw = parse_import(cmd, &im)) != SW_OK)
		return sw;
	for (i = 0; i < 5; i++) {
		part[i] = im.part[i].val;
		plen[i] = im.part[i].len;
	}
	rc = vc_crypto_alg_is_rsa(cmd->p1) ?
	    vc_crypto_import_rsa(cmd->p1, part, plen, &pk) :
	    vc_crypto_import_ec(cmd->p1, im.part[5].val, im.part[5].len, &pk);
	if (rc != VC_CRYPTO_OK)
		return SW_WRONG_DATA;
	k = &c->st.keys[idx];
	vc_key_clear(k);
	k->alg = cmd->p1;
	k->pkey = pk;
	k->origin = VC_ORIGIN_IMPORTED;
	k->pin_policy = im.pin != 0 ? im.pin : vc_slot_default_pin(cmd->p2);
	k->touch_policy = im.touch != 0 ? im.touch : VC_TOUCH_NEVER;
	c->dirty = 1;
	return SW_OK;
}

/* Only a card whose PIN and PUK are both blocked may be reset. */
uint16_t
vc_yk_reset(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	uint16_t sw;

	(void)out;
	if (cmd->p1 != 0 || cmd->p2 != 0)
		return SW_WRONG_P1P2;
	if (c->st.pin_left != 0 || c->st.puk_left != 0)
		return SW_CONDITIONS;
	vc_state_wipe(&c->st);
	vc_state_factory_creds(&c->st);
	sw = vc_state_factory_objects(&c->st);
	vc_card_power(c);
	c->dirty = 1;
	return sw;
}

/* P1 PIN tries, P2 PUK tries; like a YubiKey, PIN and PUK go back to factory. */
uint16_t
vc_yk_pin_retries(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	(void)out;
	if (cmd->p1 == 0 || cmd->p2 == 0)
		return SW_WRONG_P1P2;
	if (!c->mgm_ok || !c->pin_ok)
		return SW_SECURITY;
	vc_state_factory_pins(&c->st);
	c->st.pin_total = c->st.pin_left = cmd->p1;
	c->st.puk_total = c->st.puk_left = cmd->p2;
	c->pin_ok = c->pin_fresh = 0;
	c->dirty = 1;
	return SW_OK;
}

/* The F9 certificate, parsed from object 5FFF01 { 70 cert ... }. */
static X509 *
f9_cert(struct vc_card *c)
{
	struct vc_obj *o = vc_obj_find(&c->st, VC_TAG_ATTEST_CERT);
	const unsigned char *p;
	struct tlv t;
	X509 *x;

	if (o == NULL || tlv_find(o->data, o->len, 0x70, &t) != TLV_OK)
		return NULL;
	p = t.val;
	x = d2i_X509(NULL, &p, (long)t.len);
	if (x != NULL && p != t.val + t.len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

uint16_t
vc_yk_attest(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	int idx = vc_slot_index(cmd->p1);
	struct vc_key *k, *f9 = &c->st.keys[VC_NSLOTS - 1];
	struct vc_attest_info info;
	uint8_t *der = NULL;
	size_t len;
	X509 *cert = NULL;
	uint16_t sw = SW_WRONG_P1P2;

	if (idx < 0 || cmd->p1 == 0xF9 || cmd->p2 != 0)
		goto out;
	k = &c->st.keys[idx];
	sw = SW_NOT_FOUND;
	if (k->alg == 0 || f9->alg == 0 || (cert = f9_cert(c)) == NULL)
		goto out;
	/* A YubiKey vouches only for keys it generated itself. */
	sw = SW_WRONG_DATA;
	if (k->origin != VC_ORIGIN_GENERATED)
		goto out;
	info.slot = cmd->p1;
	info.pin_policy = k->pin_policy;
	info.touch_policy = k->touch_policy;
	info.serial = c->st.serial;
	info.version = vc_card_version;
	sw = SW_NO_INFO;
	if (vc_crypto_attest(f9->pkey, cert, k->pkey, &info, &der, &len) ==
	    VC_CRYPTO_OK) {
		buf_put_bytes(out, der, len);
		sw = SW_OK;
	}
out:
	OPENSSL_free(der);
	X509_free(cert);
	return sw;
}

static uint16_t
metadata_secret(struct vc_card *c, uint8_t ref, struct buf_writer *out)
{
	uint8_t two[2];
	uint8_t dflt = (uint8_t)vc_state_is_default(&c->st, ref);

	if (ref == 0x9B) {
		two[0] = 0;
		two[1] = c->st.mgm_touch ? VC_TOUCH_ALWAYS : VC_TOUCH_NEVER;
		tlv_put(out, 0x01, &c->st.mgm_alg, 1);
		tlv_put(out, 0x02, two, 2);
		tlv_put(out, 0x05, &dflt, 1);
		return SW_OK;
	}
	two[0] = ref == 0x80 ? c->st.pin_total : c->st.puk_total;
	two[1] = ref == 0x80 ? c->st.pin_left : c->st.puk_left;
	tlv_put(out, 0x01, "\xFF", 1);
	tlv_put(out, 0x05, &dflt, 1);
	tlv_put(out, 0x06, two, 2);
	return SW_OK;
}

uint16_t
vc_yk_metadata(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	int idx = vc_slot_index(cmd->p2);
	uint8_t mem[1024], pol[2];
	struct buf_writer w;
	struct vc_key *k;

	if (cmd->p1 != 0)
		return SW_WRONG_P1P2;
	if (cmd->p2 == 0x80 || cmd->p2 == 0x81 || cmd->p2 == 0x9B)
		return metadata_secret(c, cmd->p2, out);
	if (idx < 0)
		return SW_WRONG_P1P2;
	k = &c->st.keys[idx];
	/* A YubiKey says "referenced data not found" for an empty slot; ykman
	 * expects exactly that (6A82 makes `ykman piv keys export` crash). */
	if (k->alg == 0)
		return SW_REF_NOT_FOUND;
	pol[0] = k->pin_policy;
	pol[1] = k->touch_policy;
	buf_writer_init(&w, mem, sizeof(mem));
	vc_crypto_put_pubkey(&w, k->pkey);
	if (buf_writer_error(&w) != BUF_OK)
		return SW_NO_INFO;
	tlv_put(out, 0x01, &k->alg, 1);
	tlv_put(out, 0x02, pol, 2);
	tlv_put(out, 0x03, &k->origin, 1);
	tlv_put(out, 0x04, mem, w.len);
	return SW_OK;
}
