/*
 * Unit tests of the virtual PIV card (tests/vcard/) through its APDU
 * interface only: every expectation is computed here, independently of the
 * card (OpenSSL for 9B cryptograms and signature checks).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "vcard/vc_card.h"
#include "vcard/vc_trace.h"

#define RSP_CAP VC_RESPONSE_MAX

static const uint8_t mgm3des[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

struct rsp {
	uint8_t d[RSP_CAP];
	size_t len;	/* data only */
	uint16_t sw;
};

static struct vc_card *
new_card(void)
{
	struct vc_card_opts o = { 12345678, 1, NULL, NULL };
	struct vc_card *c = NULL;

	assert_int_equal(vc_card_create(&o, &c), VC_OK);
	return c;
}

/* One raw APDU; r gets the data and the SW. */
static uint16_t
tx(struct vc_card *c, const uint8_t *apdu, size_t len, struct rsp *r)
{
	size_t n = 0;
	int rc = vc_card_process(c, apdu, len, r->d, RSP_CAP, &n);

	/* VC_ERR_IO: state not saved, and the response (6581) says so. */
	assert_true(rc == VC_OK || rc == VC_ERR_IO);
	assert_true(n >= 2);
	r->len = n - 2;
	r->sw = (uint16_t)(r->d[n - 2] << 8 | r->d[n - 1]);
	return r->sw;
}

/* Short APDU from parts (le < 0: absent), following 61xx with GET RESPONSE. */
static uint16_t
cmd(struct vc_card *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
    const void *data, size_t lc, int le, struct rsp *r)
{
	uint8_t a[300], gr[5] = { 0, 0xC0, 0, 0, 0 };
	size_t n = 0, total = 0;
	static struct rsp part;

	assert_true(lc <= 255);
	a[n++] = cla, a[n++] = ins, a[n++] = p1, a[n++] = p2;
	if (lc > 0) {
		a[n++] = (uint8_t)lc;
		memcpy(a + n, data, lc);
		n += lc;
	}
	if (le >= 0)
		a[n++] = (uint8_t)le;
	tx(c, a, n, r);
	total = r->len;
	while ((r->sw >> 8) == 0x61) {
		tx(c, gr, sizeof(gr), &part);
		memcpy(r->d + total, part.d, part.len);
		total += part.len;
		r->sw = part.sw;
	}
	r->len = total;
	return r->sw;
}

static uint16_t
simple(struct vc_card *c, uint8_t ins, uint8_t p1, uint8_t p2, const void *data,
    size_t lc, struct rsp *r)
{
	return cmd(c, 0, ins, p1, p2, data, lc, -1, r);
}

static uint16_t
verify_pin(struct vc_card *c, const char *pin)
{
	uint8_t p[8];
	struct rsp r;

	memset(p, 0xFF, sizeof(p));
	memcpy(p, pin, strlen(pin));
	return simple(c, 0x20, 0x00, 0x80, p, 8, &r);
}

static void
ecb(uint8_t alg, const uint8_t *key, const uint8_t *in, uint8_t *out, int enc)
{
	const EVP_CIPHER *ciph = alg == 0x03 ? EVP_des_ede3_ecb() :
	    alg == 0x08 ? EVP_aes_128_ecb() : alg == 0x0A ? EVP_aes_192_ecb() :
	    EVP_aes_256_ecb();
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0, bl = alg == 0x03 ? 8 : 16;

	assert_non_null(x);
	assert_true(EVP_CipherInit_ex(x, ciph, NULL, key, NULL, enc));
	EVP_CIPHER_CTX_set_padding(x, 0);
	assert_true(EVP_CipherUpdate(x, out, &n, in, bl));
	assert_int_equal(n, bl);
	EVP_CIPHER_CTX_free(x);
}

/* 9B mutual authentication as ykpiv does it; the cryptograms computed here. */
static uint16_t
mgm_auth(struct vc_card *c, uint8_t alg, const uint8_t *key, int corrupt)
{
	uint8_t req[4] = { 0x7C, 0x02, 0x80, 0x00 }, resp[40], w[16], chal[16], e[16];
	size_t bl = alg == 0x03 ? 8 : 16;
	struct rsp r;

	if (simple(c, 0x87, alg, 0x9B, req, sizeof(req), &r) != 0x9000)
		return r.sw;
	assert_int_equal(r.len, 4 + bl);
	assert_int_equal(r.d[0], 0x7C);
	assert_int_equal(r.d[2], 0x80);
	ecb(alg, key, r.d + 4, w, 0);
	if (corrupt)
		w[0] ^= 1;
	memset(chal, 0xA5, sizeof(chal));
	resp[0] = 0x7C, resp[1] = (uint8_t)(4 + 2 * bl);
	resp[2] = 0x80, resp[3] = (uint8_t)bl;
	memcpy(resp + 4, w, bl);
	resp[4 + bl] = 0x81, resp[5 + bl] = (uint8_t)bl;
	memcpy(resp + 6 + bl, chal, bl);
	if (simple(c, 0x87, alg, 0x9B, resp, 6 + 2 * bl, &r) != 0x9000)
		return r.sw;
	/* The card must prove the key too: 82 = E(our challenge). */
	ecb(alg, key, chal, e, 1);
	assert_int_equal(r.len, 4 + bl);
	assert_int_equal(r.d[2], 0x82);
	assert_memory_equal(r.d + 4, e, bl);
	return r.sw;
}

static void
test_select(void **state)
{
	static const uint8_t full[] = { 0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 0 };
	static const uint8_t fci[] = { 0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10,
	    0x00, 0x01, 0x00, 0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08 };
	/* OATH: a YubiKey application this card does not have. */
	static const uint8_t other[] = { 0xA0, 0, 0, 5, 0x27, 0x21, 0x01 };
	struct vc_card *c = new_card();
	struct rsp r;

	(void)state;
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, full, 9, 0, &r), 0x9000);
	assert_int_equal(r.len, sizeof(fci));
	assert_memory_equal(r.d, fci, sizeof(fci));
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, full, 5, -1, &r), 0x9000);
	assert_memory_equal(r.d, fci, sizeof(fci));
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, other, sizeof(other), 0, &r), 0x6A82);
	/* PIV stays selected: discovery still answers. */
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E", 3, 0, &r), 0x9000);
	assert_int_equal(r.d[0], 0x7E);
	vc_card_free(c);
}

/* The YubiKey management application: what ykman info and libykpiv read. */
static void
test_mgmt(void **state)
{
	static const uint8_t mgmt[] = { 0xA0, 0, 0, 5, 0x27, 0x47, 0x11, 0x17 };
	static const uint8_t otp[] = { 0xA0, 0, 0, 5, 0x27, 0x20, 0x01 };
	static const uint8_t piv[] = { 0xA0, 0, 0, 3, 8 };
	/* Serial 12345678 = 00BC614E, firmware 5.4.3, PIV (0010) of 033B enabled. */
	static const uint8_t info[] = { 43,
	    0x01, 2, 0x03, 0x3B, 0x02, 4, 0x00, 0xBC, 0x61, 0x4E, 0x03, 2, 0x00, 0x10,
	    0x04, 1, 0x01, 0x05, 3, 5, 4, 3, 0x06, 2, 0, 0, 0x07, 1, 15,
	    0x08, 1, 0, 0x0A, 1, 0, 0x0D, 2, 0x03, 0x3B, 0x0E, 2, 0x00, 0x10 };
	struct vc_card *c = new_card();
	struct rsp r;

	(void)state;
	assert_int_equal(sizeof(info), 44);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, mgmt, sizeof(mgmt), 0, &r), 0x9000);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.d, "5.4.3", 5);
	assert_int_equal(cmd(c, 0, 0x1D, 0, 0, NULL, 0, 0, &r), 0x9000);
	assert_int_equal(r.len, sizeof(info));
	assert_memory_equal(r.d, info, sizeof(info));
	assert_int_equal(cmd(c, 0, 0x1D, 1, 0, NULL, 0, 0, &r), 0x6A86);
	assert_int_equal(cmd(c, 0, 0x1D, 0, 0, "\x01", 1, 0, &r), 0x6700);
	/* PIV commands belong to PIV: not answered here. */
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E", 3, 0, &r), 0x6D00);
	assert_int_equal(cmd(c, 0, 0xFD, 0, 0, NULL, 0, 0, &r), 0x6D00);
	/* OTP is disabled: no SELECT, and the management application stays. */
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, otp, sizeof(otp), 0, &r), 0x6A82);
	assert_int_equal(cmd(c, 0, 0x1D, 0, 0, NULL, 0, 0, &r), 0x9000);
	/* Back in PIV the PIN is no longer verified (libykpiv relies on it). */
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, piv, sizeof(piv), 0, &r), 0x9000);
	assert_int_equal(simple(c, 0x20, 0, 0x80, NULL, 0, &r), 0x63C3);
	assert_int_equal(cmd(c, 0, 0x1D, 0, 0, NULL, 0, 0, &r), 0x6D00);
	/* Power on selects PIV again. */
	assert_int_equal(cmd(c, 0, 0xA4, 4, 0, mgmt, sizeof(mgmt), 0, &r), 0x9000);
	vc_card_power(c);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E", 3, 0, &r), 0x9000);
	vc_card_free(c);
}

static void
test_apdu_errors(void **state)
{
	struct vc_card *c = new_card();
	uint8_t bad_lc[] = { 0, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x01 };
	uint8_t bad_ext[] = { 0, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x05, 0x5C };
	uint8_t rsp[RSP_CAP];
	size_t n;
	struct rsp r;

	(void)state;
	assert_int_equal(tx(c, bad_lc, sizeof(bad_lc), &r), 0x6700);
	assert_int_equal(tx(c, bad_ext, sizeof(bad_ext), &r), 0x6700);
	/* Found by fuzz_apdu: extended marker with one length byte. */
	assert_int_equal(tx(c, bad_ext, 6, &r), 0x6700);
	assert_int_equal(simple(c, 0x12, 0, 0, NULL, 0, &r), 0x6D00);
	assert_int_equal(cmd(c, 0x80, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E", 3, 0, &r), 0x6E00);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFE, "\x5C\x01\x7E", 3, 0, &r), 0x6A86);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E\x00", 4, 0, &r), 0x6A80);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x03\x5F\xC1\x05", 5, 0, &r), 0x6A82);
	assert_int_equal(vc_card_process(c, bad_lc, 3, rsp, RSP_CAP, &n), VC_ERR_INVALID);
	/* GET RESPONSE with nothing pending. */
	assert_int_equal(simple(c, 0xC0, 0, 0, NULL, 0, &r), 0x6985);
	vc_card_free(c);
}

/* PUT DATA of `len` bytes of pattern into object 5FC10A with chaining (short APDUs). */
static void
put_big_object(struct vc_card *c, size_t len, uint8_t *body, size_t *blen)
{
	struct rsp r;
	size_t i, off = 0, n;

	body[0] = 0x5C, body[1] = 3, body[2] = 0x5F, body[3] = 0xC1, body[4] = 0x0A;
	body[5] = 0x53, body[6] = 0x82, body[7] = (uint8_t)(len >> 8);
	body[8] = (uint8_t)len;
	for (i = 0; i < len; i++)
		body[9 + i] = (uint8_t)(i * 7 + 3);
	*blen = 9 + len;
	while (off < *blen) {
		n = *blen - off > 255 ? 255 : *blen - off;
		cmd(c, off + n < *blen ? 0x10 : 0x00, 0xDB, 0x3F, 0xFF, body + off, n, -1, &r);
		assert_int_equal(r.sw, 0x9000);
		assert_int_equal(r.len, 0);
		off += n;
	}
}

static void
test_chaining_and_get_response(void **state)
{
	struct vc_card *c = new_card();
	static uint8_t body[3100], whole[3200];
	uint8_t get[] = { 0, 0xCB, 0x3F, 0xFF, 5, 0x5C, 3, 0x5F, 0xC1, 0x0A, 0x00 };
	uint8_t gr[] = { 0, 0xC0, 0, 0, 0x10 };
	size_t blen, got = 0;
	struct rsp r;

	(void)state;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	put_big_object(c, 1000, body, &blen);
	/* Le=00: 256 bytes and 61 00 (more than 256 left)... */
	assert_int_equal(tx(c, get, sizeof(get), &r), 0x6100);
	assert_int_equal(r.len, 256);
	memcpy(whole, r.d, r.len);
	got = r.len;
	/* ...GET RESPONSE honours Le (16 here), then 61xx counts down. */
	assert_int_equal(tx(c, gr, sizeof(gr), &r) >> 8, 0x61);
	assert_int_equal(r.len, 16);
	memcpy(whole + got, r.d, r.len);
	got += r.len;
	gr[4] = 0;
	while ((r.sw >> 8) == 0x61) {
		tx(c, gr, sizeof(gr), &r);
		assert_true(r.len <= 256);
		memcpy(whole + got, r.d, r.len);
		got += r.len;
	}
	assert_int_equal(r.sw, 0x9000);
	/* 53 82 03 E8 + the 1000 bytes, exactly what went in. */
	assert_int_equal(got, 4 + 1000);
	assert_memory_equal(whole, body + 5, 4 + 1000);
	/* A chain abandoned by another command leaves nothing behind. */
	cmd(c, 0x10, 0xDB, 0x3F, 0xFF, body, 100, -1, &r);
	assert_int_equal(r.sw, 0x9000);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x01\x7E", 3, 0, &r), 0x9000);
	assert_int_equal(cmd(c, 0, 0xDB, 0x3F, 0xFF, body + 100, 50, -1, &r), 0x6A80);
	vc_card_free(c);
}

static void
test_extended(void **state)
{
	struct vc_card *c = new_card();
	static uint8_t body[3100], a[3200];
	uint8_t get[] = { 0, 0xCB, 0x3F, 0xFF, 0, 0, 5, 0x5C, 3, 0x5F, 0xC1, 0x0A };
	size_t blen;
	struct rsp r;

	(void)state;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	/* ykman style: one extended PUT DATA, no chaining, no Le. */
	put_big_object(c, 2000, body, &blen);
	memset(body + 9, 0x5A, 2000);
	a[0] = 0, a[1] = 0xDB, a[2] = 0x3F, a[3] = 0xFF, a[4] = 0;
	a[5] = (uint8_t)(blen >> 8), a[6] = (uint8_t)blen;
	memcpy(a + 7, body, blen);
	assert_int_equal(tx(c, a, 7 + blen, &r), 0x9000);
	/* Extended GET DATA without Le: everything in one response. */
	assert_int_equal(tx(c, get, sizeof(get), &r), 0x9000);
	assert_int_equal(r.len, 4 + 2000);
	assert_memory_equal(r.d, body + 5, 4 + 2000);
	/* Too big for a YubiKey object: 6A84. */
	a[5] = 0x0C, a[6] = 0x09;
	a[14] = 0x0C, a[15] = 0x00;	/* 53 82 0C00 */
	assert_int_equal(tx(c, a, 7 + 0x0C09, &r), 0x6A84);
	vc_card_free(c);
}

static void
test_pin_counters(void **state)
{
	struct vc_card *c = new_card();
	uint8_t rrc[16], crd[16];
	struct rsp r;

	(void)state;
	assert_int_equal(simple(c, 0x20, 0, 0x80, NULL, 0, &r), 0x63C3);
	assert_int_equal(verify_pin(c, "654321"), 0x63C2);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(simple(c, 0x20, 0, 0x80, NULL, 0, &r), 0x9000);
	/* A good PIN resets the counter; P1=FF forgets the verification. */
	assert_int_equal(simple(c, 0x20, 0xFF, 0x80, NULL, 0, &r), 0x9000);
	assert_int_equal(simple(c, 0x20, 0, 0x80, NULL, 0, &r), 0x63C3);
	assert_int_equal(verify_pin(c, "000000"), 0x63C2);
	assert_int_equal(verify_pin(c, "000000"), 0x63C1);
	assert_int_equal(verify_pin(c, "000000"), 0x63C0);
	assert_int_equal(verify_pin(c, "123456"), 0x6983);
	assert_int_equal(simple(c, 0x20, 0, 0x80, NULL, 0, &r), 0x6983);
	/* PIN-protected object before verification. */
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x03\x5F\xC1\x09", 5, 0, &r), 0x6982);
	/* Unblock with the PUK: wrong PUK counts down the PUK counter. */
	memcpy(rrc, "87654321", 8);
	memcpy(rrc + 8, "111111\xFF\xFF", 8);
	assert_int_equal(simple(c, 0x2C, 0, 0x80, rrc, 16, &r), 0x63C2);
	memcpy(rrc, "12345678", 8);
	assert_int_equal(simple(c, 0x2C, 0, 0x80, rrc, 16, &r), 0x9000);
	assert_int_equal(verify_pin(c, "111111"), 0x9000);
	/* CHANGE REFERENCE DATA: new PIN must be 6..8 characters. */
	memcpy(crd, "111111\xFF\xFF" "12\xFF\xFF\xFF\xFF\xFF\xFF", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x80, crd, 16, &r), 0x6A80);
	memcpy(crd, "111111\xFF\xFF" "22222222", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x80, crd, 16, &r), 0x9000);
	assert_int_equal(verify_pin(c, "22222222"), 0x9000);
	/* PUK change and PUK blocking. */
	memcpy(crd, "12345678" "87654321", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x9000);
	memcpy(crd, "00000000" "11111111", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x63C2);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x63C1);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x63C0);
	memcpy(crd, "87654321" "11111111", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x6983);
	vc_card_free(c);
}

static void
test_mgm_auth(void **state)
{
	static const uint8_t aes[16] = "0123456789abcdef";
	uint8_t setkey[3 + 16] = { 0x08, 0x9B, 0x10 }, ext[4] = { 0x7C, 2, 0x81, 0 };
	uint8_t resp[20] = { 0x7C, 0x12, 0x82, 0x10 }, obj[] = { 0x5C, 3, 0x5F, 0xC1,
	    0x05, 0x53, 0 };
	struct vc_card *c = new_card();
	struct rsp r;

	(void)state;
	/* No 9B authentication: writes refused. */
	assert_int_equal(simple(c, 0xDB, 0x3F, 0xFF, obj, sizeof(obj), &r), 0x6982);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 1), 0x6982);
	assert_int_equal(simple(c, 0xDB, 0x3F, 0xFF, obj, sizeof(obj), &r), 0x6982);
	/* Wrong algorithm for the key. */
	assert_int_equal(mgm_auth(c, 0x08, aes, 0), 0x6A86);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	assert_int_equal(simple(c, 0xDB, 0x3F, 0xFF, obj, sizeof(obj), &r), 0x9000);
	/* Switch to AES-128, then external authentication with it. */
	memcpy(setkey + 3, aes, 16);
	assert_int_equal(simple(c, 0xFF, 0xFF, 0xFF, setkey, sizeof(setkey), &r), 0x9000);
	vc_card_power(c);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x6A86);
	assert_int_equal(simple(c, 0x87, 0x08, 0x9B, ext, sizeof(ext), &r), 0x9000);
	assert_int_equal(r.len, 20);
	ecb(0x08, aes, r.d + 4, resp + 4, 1);
	assert_int_equal(simple(c, 0x87, 0x08, 0x9B, resp, sizeof(resp), &r), 0x9000);
	assert_int_equal(simple(c, 0xDB, 0x3F, 0xFF, obj, sizeof(obj), &r), 0x9000);
	/* A replayed response without a fresh challenge fails. */
	vc_card_power(c);
	assert_int_equal(simple(c, 0x87, 0x08, 0x9B, resp, sizeof(resp), &r), 0x6982);
	assert_int_equal(mgm_auth(c, 0x08, aes, 0), 0x9000);
	vc_card_free(c);
}

/* GENERATE in slot with alg; returns the public key as an EVP_PKEY. */
static EVP_PKEY *
generate(struct vc_card *c, uint8_t slot, uint8_t alg, uint8_t pin_policy)
{
	uint8_t tpl[8] = { 0xAC, 3, 0x80, 1, alg, 0xAA, 1, pin_policy };
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *p;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;
	BIGNUM *n = NULL, *e = NULL;
	const uint8_t *v;
	struct rsp r;
	size_t off;

	if (pin_policy != 0)
		tpl[1] = 6;
	assert_int_equal(simple(c, 0x47, 0, slot, tpl, tpl[1] + 2u, &r), 0x9000);
	assert_int_equal(r.d[0], 0x7F);
	assert_int_equal(r.d[1], 0x49);
	off = r.d[2] == 0x82 ? 5 : r.d[2] == 0x81 ? 4 : 3;
	v = r.d + off;
	if (alg == 0x11 || alg == 0x14) {
		assert_int_equal(v[0], 0x86);
		OSSL_PARAM_BLD_push_utf8_string(b, "group", alg == 0x11 ? "P-256" : "P-384", 0);
		OSSL_PARAM_BLD_push_octet_string(b, "pub", v + 2, v[1]);
	} else {
		assert_int_equal(v[0], 0x81);
		assert_int_equal(v[1], 0x82);
		n = BN_bin2bn(v + 4, v[2] << 8 | v[3], NULL);
		v += 4 + (v[2] << 8 | v[3]);
		assert_int_equal(v[0], 0x82);
		e = BN_bin2bn(v + 2, v[1], NULL);
		OSSL_PARAM_BLD_push_BN(b, "n", n);
		OSSL_PARAM_BLD_push_BN(b, "e", e);
	}
	p = OSSL_PARAM_BLD_to_param(b);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, alg == 0x11 || alg == 0x14 ? "EC" : "RSA", NULL);
	assert_true(EVP_PKEY_fromdata_init(ctx) > 0);
	assert_true(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, p) > 0);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	BN_free(n);
	BN_free(e);
	return k;
}

/* GENERAL AUTHENTICATE 7C { 82 00, 81 len data }, chained if long. */
static uint16_t
ga_sign(struct vc_card *c, uint8_t alg, uint8_t slot, const uint8_t *in,
    size_t len, struct rsp *r)
{
	uint8_t a[600];
	size_t n = 0, off = 0, blk;

	a[n++] = 0x7C;
	if (len + 6 > 255) {
		a[n++] = 0x82, a[n++] = (uint8_t)((len + 6) >> 8), a[n++] = (uint8_t)(len + 6);
	} else if (len + 4 > 127)
		a[n++] = 0x81, a[n++] = (uint8_t)(len + 5);
	else
		a[n++] = (uint8_t)(len + 4);
	a[n++] = 0x82, a[n++] = 0;
	a[n++] = 0x81;
	if (len > 255)
		a[n++] = 0x82, a[n++] = (uint8_t)(len >> 8);
	else if (len > 127)
		a[n++] = 0x81;
	a[n++] = (uint8_t)len;
	memcpy(a + n, in, len);
	n += len;
	while (n - off > 255) {
		blk = 255;
		cmd(c, 0x10, 0x87, alg, slot, a + off, blk, -1, r);
		assert_int_equal(r->sw, 0x9000);
		off += blk;
	}
	return cmd(c, 0, 0x87, alg, slot, a + off, n - off, 0, r);
}

/* Signature from a 7C { 82 L sig } response. */
static const uint8_t *
ga_result(const struct rsp *r, size_t *len)
{
	size_t off = r->d[1] == 0x82 ? 4 : r->d[1] == 0x81 ? 3 : 2;

	assert_int_equal(r->d[0], 0x7C);
	assert_int_equal(r->d[off], 0x82);
	off++;
	if (r->d[off] == 0x82) {
		*len = (size_t)r->d[off + 1] << 8 | r->d[off + 2];
		return r->d + off + 3;
	}
	if (r->d[off] == 0x81) {
		*len = r->d[off + 1];
		return r->d + off + 2;
	}
	*len = r->d[off];
	return r->d + off + 1;
}

static void
check_ecdsa(EVP_PKEY *pub, const struct rsp *r, const uint8_t *hash, size_t hlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	const uint8_t *sig;
	size_t slen;

	sig = ga_result(r, &slen);
	assert_true(EVP_PKEY_verify_init(ctx) > 0);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, slen, hash, hlen), 1);
	EVP_PKEY_CTX_free(ctx);
}

static void
test_ec_sign_and_pin_policy(void **state)
{
	struct vc_card *c = new_card();
	uint8_t hash[48];
	EVP_PKEY *k9a, *k9c;
	struct rsp r;

	(void)state;
	memset(hash, 0x42, sizeof(hash));
	assert_int_equal(simple(c, 0x47, 0, 0x9A, "\xAC\x03\x80\x01\x11", 5, &r), 0x6982);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	k9a = generate(c, 0x9A, 0x11, 0);
	k9c = generate(c, 0x9C, 0x14, 0);
	/* 9A (PIN once) needs the PIN, then signs as often as asked. */
	assert_int_equal(ga_sign(c, 0x11, 0x9A, hash, 32, &r), 0x6982);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(ga_sign(c, 0x11, 0x9A, hash, 32, &r), 0x9000);
	check_ecdsa(k9a, &r, hash, 32);
	assert_int_equal(ga_sign(c, 0x11, 0x9A, hash, 32, &r), 0x9000);
	check_ecdsa(k9a, &r, hash, 32);
	/* Wrong algorithm, oversized hash. */
	assert_int_equal(ga_sign(c, 0x14, 0x9A, hash, 32, &r), 0x6A80);
	assert_int_equal(ga_sign(c, 0x11, 0x9A, hash, 48, &r), 0x6A80);
	/* 9C (PIN always): one signature per VERIFY. */
	assert_int_equal(ga_sign(c, 0x14, 0x9C, hash, 48, &r), 0x9000);
	check_ecdsa(k9c, &r, hash, 48);
	assert_int_equal(ga_sign(c, 0x14, 0x9C, hash, 48, &r), 0x6982);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(ga_sign(c, 0x14, 0x9C, hash, 48, &r), 0x9000);
	check_ecdsa(k9c, &r, hash, 48);
	/* Power cycle forgets the PIN. */
	vc_card_power(c);
	assert_int_equal(ga_sign(c, 0x11, 0x9A, hash, 32, &r), 0x6982);
	/* Empty slot. */
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(ga_sign(c, 0x11, 0x9D, hash, 32, &r), 0x6A82);
	EVP_PKEY_free(k9a);
	EVP_PKEY_free(k9c);
	vc_card_free(c);
}

static void
test_ecdh(void **state)
{
	struct vc_card *c = new_card();
	uint8_t a[120] = { 0x7C, 0, 0x82, 0, 0x85, 97 }, pt[97], mine[48];
	EVP_PKEY *card_pub, *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY_CTX *ctx;
	const uint8_t *secret;
	size_t ptlen, mlen = sizeof(mine), slen;
	struct rsp r;

	(void)state;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	card_pub = generate(c, 0x9D, 0x14, 1);	/* PIN never */
	assert_true(EVP_PKEY_get_octet_string_param(eph, "encoded-pub-key", pt,
	    sizeof(pt), &ptlen));
	assert_int_equal(ptlen, 97);
	memcpy(a + 6, pt, 97);
	a[1] = 4 + 97;
	assert_int_equal(cmd(c, 0, 0x87, 0x14, 0x9D, a, 6 + 97, 0, &r), 0x9000);
	secret = ga_result(&r, &slen);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
	assert_true(EVP_PKEY_derive_init(ctx) > 0);
	assert_true(EVP_PKEY_derive_set_peer(ctx, card_pub) > 0);
	assert_true(EVP_PKEY_derive(ctx, mine, &mlen) > 0);
	assert_int_equal(slen, mlen);
	assert_memory_equal(secret, mine, mlen);
	/* A point off the curve is refused. */
	a[6 + 50] ^= 1;
	assert_int_equal(cmd(c, 0, 0x87, 0x14, 0x9D, a, 6 + 97, 0, &r), 0x6A80);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(card_pub);
	vc_card_free(c);
}

/* Raw RSA: s = m^d mod n; check s^e mod n == m with the public key. */
static void
check_rsa_raw(EVP_PKEY *pub, const uint8_t *m, size_t mlen, const struct rsp *r)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	uint8_t back[512];
	size_t blen = sizeof(back), slen;
	const uint8_t *s = ga_result(r, &slen);

	assert_int_equal(slen, mlen);
	assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0);
	assert_true(EVP_PKEY_encrypt(ctx, back, &blen, s, slen) > 0);
	assert_int_equal(blen, mlen);
	assert_memory_equal(back, m, mlen);
	EVP_PKEY_CTX_free(ctx);
}

static void
test_rsa(void **state)
{
	struct vc_card *c = new_card();
	uint8_t m[384];
	EVP_PKEY *k2048, *k3072;
	struct rsp r;

	(void)state;
	memset(m, 0x11, sizeof(m));
	m[0] = 0x00;
	m[1] = 0x01;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	k2048 = generate(c, 0x9E, 0x07, 0);
	k3072 = generate(c, 0x82, 0x05, 0);	/* retired slot, like 9D */
	assert_int_equal(ga_sign(c, 0x07, 0x9E, m, 256, &r), 0x9000);	/* 9E: no PIN */
	check_rsa_raw(k2048, m, 256, &r);
	assert_int_equal(ga_sign(c, 0x07, 0x9E, m, 255, &r), 0x6A80);
	assert_int_equal(ga_sign(c, 0x05, 0x82, m, 384, &r), 0x6982);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(ga_sign(c, 0x05, 0x82, m, 384, &r), 0x9000);
	check_rsa_raw(k3072, m, 384, &r);
	EVP_PKEY_free(k2048);
	EVP_PKEY_free(k3072);
	vc_card_free(c);
}

static void
put_bn_tlv(uint8_t *a, size_t *n, uint8_t tag, EVP_PKEY *k, const char *name,
    size_t width)
{
	BIGNUM *bn = NULL;

	assert_true(EVP_PKEY_get_bn_param(k, name, &bn));
	a[(*n)++] = tag;
	a[(*n)++] = 0x81;
	a[(*n)++] = (uint8_t)width;
	assert_int_equal(BN_bn2binpad(bn, a + *n, (int)width), (int)width);
	*n += width;
	BN_clear_free(bn);
}

static void
test_import_and_attest(void **state)
{
	struct vc_card *c = new_card();
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *gen, *f9pub;
	const unsigned char *p;
	uint8_t a[800], m[256];
	size_t n = 0, i;
	X509 *att, *f9;
	struct rsp r;
	static const char *const parts[5] = { "rsa-factor1", "rsa-factor2",
	    "rsa-exponent1", "rsa-exponent2", "rsa-coefficient1" };

	(void)state;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	for (i = 0; i < 5; i++)
		put_bn_tlv(a, &n, (uint8_t)(i + 1), rsa, parts[i], 128);
	a[n++] = 0xAA, a[n++] = 1, a[n++] = 1;	/* PIN never */
	/* ykpiv sends this chained in 255-byte blocks. */
	cmd(c, 0x10, 0xFE, 0x07, 0x9D, a, 255, -1, &r);
	assert_int_equal(r.sw, 0x9000);
	cmd(c, 0x10, 0xFE, 0x07, 0x9D, a + 255, 255, -1, &r);
	assert_int_equal(r.sw, 0x9000);
	assert_int_equal(cmd(c, 0, 0xFE, 0x07, 0x9D, a + 510, n - 510, -1, &r), 0x9000);
	memset(m, 0x33, sizeof(m));
	m[0] = 0;
	assert_int_equal(ga_sign(c, 0x07, 0x9D, m, 256, &r), 0x9000);
	check_rsa_raw(rsa, m, 256, &r);
	/* Metadata: imported (03 = 02), PIN never. */
	assert_int_equal(simple(c, 0xF7, 0, 0x9D, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x01\x01\x07\x02\x02\x01\x01\x03\x01\x02", 10);
	/* Imported keys are not attested; generated ones are, under F9. */
	assert_int_equal(simple(c, 0xF9, 0x9D, 0, NULL, 0, &r), 0x6A80);
	assert_int_equal(simple(c, 0xF9, 0x9A, 0, NULL, 0, &r), 0x6A82);
	gen = generate(c, 0x9A, 0x11, 0);
	assert_int_equal(simple(c, 0xF9, 0x9A, 0, NULL, 0, &r), 0x9000);
	p = r.d;
	assert_non_null(att = d2i_X509(NULL, &p, (long)r.len));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(att), gen), 1);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x03\x5F\xFF\x01", 5, 0, &r), 0x9000);
	p = r.d + 8;	/* 53 82 LL LL 70 82 LL LL cert */
	assert_non_null(f9 = d2i_X509(NULL, &p, (long)r.len - 8));
	assert_non_null(f9pub = X509_get0_pubkey(f9));
	assert_int_equal(X509_verify(att, f9pub), 1);
	assert_int_equal(X509_check_issued(f9, att), X509_V_OK);
	X509_free(att);
	X509_free(f9);
	EVP_PKEY_free(gen);
	EVP_PKEY_free(rsa);
	vc_card_free(c);
}

static void
test_metadata(void **state)
{
	struct vc_card *c = new_card();
	uint8_t crd[16];
	struct rsp r;

	(void)state;
	assert_int_equal(simple(c, 0xF7, 0, 0x80, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x01\x01\xFF\x05\x01\x01\x06\x02\x03\x03", 10);
	assert_int_equal(simple(c, 0xF7, 0, 0x9B, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x01\x01\x03\x02\x02\x00\x01\x05\x01\x01", 10);
	assert_int_equal(verify_pin(c, "999999"), 0x63C2);
	memcpy(crd, "12345678" "11223344", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x81, crd, 16, &r), 0x9000);
	assert_int_equal(simple(c, 0xF7, 0, 0x80, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x01\x01\xFF\x05\x01\x01\x06\x02\x03\x02", 10);
	assert_int_equal(simple(c, 0xF7, 0, 0x81, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x01\x01\xFF\x05\x01\x00\x06\x02\x03\x03", 10);
	assert_int_equal(simple(c, 0xF7, 0, 0x9A, NULL, 0, &r), 0x6A88);
	assert_int_equal(simple(c, 0xFD, 0, 0, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x05\x04\x03", 3);
	assert_int_equal(simple(c, 0xF8, 0, 0, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x00\xBC\x61\x4E", 4);	/* 12345678 */
	vc_card_free(c);
}

static void
block_pin_and_puk(struct vc_card *c)
{
	uint8_t rrc[16];
	struct rsp r;

	memcpy(rrc, "00000000" "123456\xFF\xFF", 16);
	while (verify_pin(c, "000000") != 0x6983)
		;
	while (simple(c, 0x2C, 0, 0x80, rrc, 16, &r) != 0x6983)
		;
}

static void
test_reset(void **state)
{
	struct vc_card *c = new_card();
	struct rsp r;

	(void)state;
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	EVP_PKEY_free(generate(c, 0x9A, 0x11, 0));
	assert_int_equal(simple(c, 0xFB, 0, 0, NULL, 0, &r), 0x6985);
	while (verify_pin(c, "000000") != 0x6983)
		;
	assert_int_equal(simple(c, 0xFB, 0, 0, NULL, 0, &r), 0x6985);
	block_pin_and_puk(c);
	assert_int_equal(simple(c, 0xFB, 0, 0, NULL, 0, &r), 0x9000);
	/* Factory state: PIN works, key gone, 9B back to default, CHUID there. */
	assert_int_equal(simple(c, 0xF7, 0, 0x9A, NULL, 0, &r), 0x6A88);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	assert_int_equal(cmd(c, 0, 0xCB, 0x3F, 0xFF, "\x5C\x03\x5F\xC1\x02", 5, 0, &r), 0x9000);
	/* The attestation key survives a reset. */
	assert_int_equal(simple(c, 0xF7, 0, 0xF9, NULL, 0, &r), 0x9000);
	vc_card_free(c);
}

static void
test_pin_retries(void **state)
{
	struct vc_card *c = new_card();
	uint8_t crd[16];
	struct rsp r;

	(void)state;
	memcpy(crd, "123456\xFF\xFF" "654321\xFF\xFF", 16);
	assert_int_equal(simple(c, 0x24, 0, 0x80, crd, 16, &r), 0x9000);
	assert_int_equal(simple(c, 0xFA, 5, 6, NULL, 0, &r), 0x6982);
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	assert_int_equal(verify_pin(c, "654321"), 0x9000);
	assert_int_equal(simple(c, 0xFA, 5, 6, NULL, 0, &r), 0x9000);
	/* Like a YubiKey: PIN and PUK back to factory values. */
	assert_int_equal(verify_pin(c, "654321"), 0x63C4);
	assert_int_equal(verify_pin(c, "123456"), 0x9000);
	assert_int_equal(simple(c, 0xF7, 0, 0x81, NULL, 0, &r), 0x9000);
	assert_memory_equal(r.d + 6, "\x06\x02\x06\x06", 4);
	vc_card_free(c);
}

static char tmp_dir[] = "/tmp/test_vcard.XXXXXX";
static char tmp_file[64];

static char *
tmp_state(void)
{
	char *path = tmp_dir, *file = tmp_file;

	if (file[0] == '\0') {
		assert_non_null(mkdtemp(path));
		snprintf(file, sizeof(tmp_file), "%s/card.state", path);
	}
	return file;
}

static void
test_store_roundtrip(void **state)
{
	struct vc_card *c = new_card(), *d = NULL;
	uint8_t *b1, *b2, hash[32], obj[] = { 0x5C, 3, 0x5F, 0xC1, 0x05, 0x53, 3, 1, 2, 3 };
	size_t l1, l2;
	EVP_PKEY *pub;
	struct rsp r;

	(void)state;
	memset(hash, 7, sizeof(hash));
	assert_int_equal(mgm_auth(c, 0x03, mgm3des, 0), 0x9000);
	pub = generate(c, 0x9A, 0x11, 0);
	assert_int_equal(simple(c, 0xDB, 0x3F, 0xFF, obj, sizeof(obj), &r), 0x9000);
	assert_int_equal(verify_pin(c, "111111"), 0x63C2);
	assert_int_equal(vc_card_save(c, tmp_state()), VC_OK);
	assert_int_equal(vc_card_load(tmp_state(), &d), VC_OK);
	/* Same bytes, and the loaded card behaves as the original did. */
	assert_int_equal(vc_card_serialize(c, &b1, &l1), VC_OK);
	assert_int_equal(vc_card_serialize(d, &b2, &l2), VC_OK);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	assert_int_equal(simple(d, 0x20, 0, 0x80, NULL, 0, &r), 0x63C2);
	assert_int_equal(verify_pin(d, "123456"), 0x9000);
	assert_int_equal(ga_sign(d, 0x11, 0x9A, hash, 32, &r), 0x9000);
	check_ecdsa(pub, &r, hash, 32);
	assert_int_equal(cmd(d, 0, 0xCB, 0x3F, 0xFF, "\x5C\x03\x5F\xC1\x05", 5, 0, &r), 0x9000);
	assert_memory_equal(r.d, "\x53\x03\x01\x02\x03", 5);
	assert_int_equal(vc_card_serial(d), 12345678);
	vc_card_free(d);
	/* Truncated, extended or corrupted state is refused as a whole. */
	assert_int_equal(vc_card_load_mem(b1, l1 - 1, &d), VC_ERR_FORMAT);
	b1[l1 - 1] ^= 0xFF;
	b1 = realloc(b1, l1 + 1);
	b1[l1] = 0;
	assert_int_equal(vc_card_load_mem(b1, l1 + 1, &d), VC_ERR_FORMAT);
	assert_null(d);
	b2[1] = 5;
	assert_int_equal(vc_card_load_mem(b2, l2, &d), VC_ERR_FORMAT);
	free(b1);
	vc_card_free_bytes(b2, l2);
	EVP_PKEY_free(pub);
	vc_card_free(c);
}

/*
 * Tear: the card saves before answering, so whatever command was the last,
 * the file on disk equals the card in memory, and no temporary is left.
 */
static void
test_tear_consistency(void **state)
{
	struct vc_card *c = new_card(), *d;
	uint8_t *b1, *b2, crd[16];
	size_t l1, l2, step;
	char tmp[80];
	struct rsp r;

	(void)state;
	unlink(tmp_state());
	assert_int_equal(vc_card_bind(c, tmp_state()), VC_OK);
	memcpy(crd, "123456\xFF\xFF" "24682468", 16);
	for (step = 0; step < 5; step++) {
		switch (step) {
		case 0: verify_pin(c, "000000"); break;
		case 1: simple(c, 0x24, 0, 0x80, crd, 16, &r); break;
		case 2: mgm_auth(c, 0x03, mgm3des, 0); break;
		case 3: EVP_PKEY_free(generate(c, 0x9E, 0x11, 0)); break;
		case 4: verify_pin(c, "000000"); break;
		}
		if (step == 2)
			continue;	/* volatile only: nothing written */
		assert_int_equal(vc_card_load(tmp_state(), &d), VC_OK);
		assert_int_equal(vc_card_serialize(c, &b1, &l1), VC_OK);
		assert_int_equal(vc_card_serialize(d, &b2, &l2), VC_OK);
		assert_int_equal(l1, l2);
		assert_memory_equal(b1, b2, l1);
		vc_card_free_bytes(b1, l1);
		vc_card_free_bytes(b2, l2);
		vc_card_free(d);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", tmp_state(), (long)getpid());
	assert_int_not_equal(access(tmp, F_OK), 0);
	/* A card whose file cannot be written says so instead of 9000. */
	assert_int_equal(vc_card_bind(c, "/nonexistent/dir/card.state"), VC_OK);
	assert_int_equal(verify_pin(c, "000000"), 0x6581);
	vc_card_free(c);
}

/* The trace never holds secret command data; totals count what went through. */
static void
test_trace_redaction(void **state)
{
	static const uint8_t verify[] = { 0, 0x20, 0, 0x80, 8, '9', '8', '7', '6',
	    '5', '4', 0xFF, 0xFF };
	static const uint8_t setkey[] = { 0, 0xFF, 0xFF, 0xFF, 4, 3, 0x9B, 1, 0x42 };
	static const uint8_t get[] = { 0, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E, 0 };
	static const uint8_t sw[] = { 0x63, 0xC2 };
	char path[80], text[1024];
	struct vc_trace t;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s.trace", tmp_state());
	unlink(path);
	assert_int_equal(vc_trace_open(&t, path), 0);
	vc_trace_command(&t, verify, sizeof(verify));
	vc_trace_response(&t, sw, sizeof(sw), NULL);
	vc_trace_command(&t, setkey, sizeof(setkey));
	vc_trace_command(&t, get, sizeof(get));
	vc_trace_totals(&t, NULL);
	vc_trace_close(&t);
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	unlink(path);
	text[n] = '\0';
	assert_null(strstr(text, "393837"));	/* "987" of the PIN, in hex */
	assert_null(strstr(text, "9B0142"));
	assert_non_null(strstr(text, "ins=20 p1=00 p2=80 len=13 body=<redacted 9 bytes>"));
	assert_non_null(strstr(text, "ins=FF p1=FF p2=FF len=9 body=<redacted 5 bytes>"));
	assert_non_null(strstr(text, "body=035C017E00"));
	assert_non_null(strstr(text, "< sw=63C2 len=2"));
	assert_non_null(strstr(text, "vcard-trace-totals apdus=3 cmd_bytes=31 rsp_bytes=2\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_mgmt),
		cmocka_unit_test(test_apdu_errors),
		cmocka_unit_test(test_chaining_and_get_response),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_pin_counters),
		cmocka_unit_test(test_mgm_auth),
		cmocka_unit_test(test_ec_sign_and_pin_policy),
		cmocka_unit_test(test_ecdh),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_import_and_attest),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_pin_retries),
		cmocka_unit_test(test_store_roundtrip),
		cmocka_unit_test(test_tear_consistency),
		cmocka_unit_test(test_trace_redaction),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	if (tmp_file[0] != '\0') {
		unlink(tmp_file);
		rmdir(tmp_dir);
	}
	return rc;
}
