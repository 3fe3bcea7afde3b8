/*
 * Unit tests for drivers/piv*.c: object codecs on canned and hostile bytes,
 * management key crypto on known vectors, and card exchanges on a fake
 * transport (scripted steps or a small card model).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "drivers/fake_transport.h"
#include "piv.h"
#include "piv_int.h"
#include "tlv.h"

static uint8_t hb[70000];

/* Decode hex into the shared buffer; returns its length. */
static size_t
H(const char *hex)
{
	long n = fake_unhex(hex, hb, sizeof(hb));

	assert_true(n >= 0);
	return (size_t)n;
}

/* ---- CHUID and FASC-N ----------------------------------------------------- */

/* The FASC-N of yubico-piv-tool's CHUID template (agency 9999 test cards). */
#define YK_FASCN "D4E739DA739CED39CE739D836858210842108421C84210C3EB"

static void
test_fascn_known_vector(void **state)
{
	uint8_t in[25], out[25];
	char digits[33];

	(void)state;
	assert_int_equal(fake_unhex(YK_FASCN, in, sizeof(in)), 25);
	assert_int_equal(piv_fascn_decode(in, digits), PIV_OK);
	/* agency 9999, system 9999, credential 999999, CS 0, ICI 1, PI 0, OC 3, OI 0, POA 1 */
	assert_string_equal(digits, "99999999999999010000000000300001");
	assert_int_equal(piv_fascn_encode(digits, out), PIV_OK);
	assert_memory_equal(in, out, 25);
	in[3] ^= 0x10;	/* one flipped bit breaks parity or LRC */
	assert_int_equal(piv_fascn_decode(in, digits), PIV_ERR_MALFORMED);
	assert_int_equal(piv_fascn_encode("1234", out), PIV_ERR_INVALID);
	assert_int_equal(piv_fascn_encode("9999999999999910000000000100000x", out),
	    PIV_ERR_INVALID);
}

static void
test_chuid_roundtrip(void **state)
{
	struct piv_chuid c, d;
	uint8_t *obj = NULL;
	size_t len = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(piv_fascn_encode("70999999123456111234567890112341", c.fascn),
	    PIV_OK);
	memset(c.guid, 0xA5, 16);
	memcpy(c.expiry, "20301231", 9);
	c.has_fascn = c.has_guid = c.has_expiry = 1;
	assert_int_equal(piv_chuid_build(&c, &obj, &len), PIV_OK);
	assert_int_equal(len, 27 + 18 + 10 + 2 + 2);
	assert_int_equal(piv_chuid_parse(obj, len, &d), PIV_OK);
	assert_memory_equal(d.fascn, c.fascn, 25);
	assert_memory_equal(d.guid, c.guid, 16);
	assert_string_equal(d.expiry, "20301231");
	assert_int_equal(d.sig_len, 0);
	free(obj);
	c.has_expiry = 0;
	assert_int_equal(piv_chuid_build(&c, &obj, &len), PIV_ERR_INVALID);
	assert_null(obj);
}

static void
test_chuid_canned_and_hostile(void **state)
{
	struct piv_chuid c;
	size_t n;

	(void)state;
	/* EE buffer length and 32 org id are skipped; 3E carries a signature. */
	n = H("EE 02 0B B8 30 19 " YK_FASCN " 32 04 31 32 33 34 34 10 00112233445566778899AABBCCDDEEFF"
	    " 35 08 3230333031323331 3E 03 010203 FE 00");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_OK);
	assert_int_equal(c.sig_len, 3);
	assert_int_equal(c.guid[15], 0xFF);
	/* FASC-N of the wrong length */
	n = H("30 18 " "D4E739DA739CED39CE739D836858210842108421C84210C3" " FE 00");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	/* duplicate GUID */
	n = H("34 10 00112233445566778899AABBCCDDEEFF 34 10 00112233445566778899AABBCCDDEEFF");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	/* truncated TLV, trailing byte, LRC with content, non-digit expiry */
	n = H("34 10 0011");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	n = H("34 10 00112233445566778899AABBCCDDEEFF 00");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	n = H("34 10 00112233445566778899AABBCCDDEEFF FE 01 00");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	n = H("34 10 00112233445566778899AABBCCDDEEFF 35 08 323033303132337A");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
	/* neither FASC-N nor GUID: not an identifier */
	n = H("35 08 3230333031323331 FE 00");
	assert_int_equal(piv_chuid_parse(hb, n, &c), PIV_ERR_MALFORMED);
}

/* ---- certificate object ---------------------------------------------------- */

static X509 *
self_signed(EVP_PKEY **keyp)
{
	EVP_PKEY *k = EVP_EC_gen("prime256v1");
	X509 *x = X509_new();

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"unit", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	*keyp = k;
	return x;
}

static void
test_certobj_roundtrip(void **state)
{
	EVP_PKEY *k;
	X509 *x = self_signed(&k), *y = NULL;
	uint8_t *obj = NULL;
	size_t len = 0;
	struct tlv t;
	int compress;

	(void)state;
	for (compress = 0; compress <= 1; compress++) {
		assert_int_equal(piv_certobj_build(x, compress, &obj, &len), PIV_OK);
		assert_int_equal(tlv_find(obj, len, 0x71, &t), TLV_OK);
		assert_int_equal(t.len, 1);
		assert_int_equal(t.val[0], compress);
		assert_int_equal(piv_certobj_parse(obj, len, &y), PIV_OK);
		assert_int_equal(X509_cmp(x, y), 0);
		X509_free(y);
		y = NULL;
		free(obj);
	}
	X509_free(x);
	EVP_PKEY_free(k);
}

/* 53-content with 70 = gzip(data) and 71 01 01. */
static size_t
gz_obj(const uint8_t *data, size_t dlen, uint8_t *out, size_t cap)
{
	uint8_t *z = malloc(dlen + 1024);
	z_stream zs;
	struct buf_writer w;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)dlen;
	zs.next_out = z;
	zs.avail_out = (uInt)(dlen + 1024);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	buf_writer_init(&w, out, cap);
	tlv_put(&w, 0x70, z, zs.total_out);
	tlv_put(&w, 0x71, "\x01", 1);
	tlv_put(&w, 0xFE, NULL, 0);
	deflateEnd(&zs);
	free(z);
	assert_int_equal(buf_writer_error(&w), BUF_OK);
	return w.len;
}

static void
test_certobj_hostile(void **state)
{
	static uint8_t zeros[200000], obj[4096];
	X509 *x = (X509 *)1;
	size_t n;

	(void)state;
	/* gzip bomb: 200 kB of zeros in a few hundred bytes */
	n = gz_obj(zeros, sizeof(zeros), obj, sizeof(obj));
	assert_true(n < 1024);
	assert_int_equal(piv_certobj_parse(obj, n, &x), PIV_ERR_TOOBIG);
	assert_null(x);
	/* gzip of something that is not a certificate */
	n = gz_obj((const uint8_t *)"hello", 5, obj, sizeof(obj));
	assert_int_equal(piv_certobj_parse(obj, n, &x), PIV_ERR_MALFORMED);
	/* "compressed" but not gzip */
	n = H("70 03 010203 71 01 01 FE 00");
	assert_int_equal(piv_certobj_parse(hb, n, &x), PIV_ERR_MALFORMED);
	/* unknown CertInfo value, unknown tag, missing 70, empty 70 */
	n = H("70 01 30 71 01 02 FE 00");
	assert_int_equal(piv_certobj_parse(hb, n, &x), PIV_ERR_MALFORMED);
	n = H("70 01 30 72 00");
	assert_int_equal(piv_certobj_parse(hb, n, &x), PIV_ERR_MALFORMED);
	n = H("71 01 00 FE 00");
	assert_int_equal(piv_certobj_parse(hb, n, &x), PIV_ERR_MALFORMED);
	n = H("70 00 71 01 00 FE 00");
	assert_int_equal(piv_certobj_parse(hb, n, &x), PIV_ERR_MALFORMED);
	assert_null(x);
}

static void
test_certobj_trailing_der(void **state)
{
	EVP_PKEY *k;
	X509 *x = self_signed(&k), *y = (X509 *)1;
	uint8_t *der = NULL, obj[2048];
	struct buf_writer w;
	int dl = i2d_X509(x, &der);
	uint8_t *padded = malloc((size_t)dl + 1);

	(void)state;
	memcpy(padded, der, (size_t)dl);
	padded[dl] = 0;
	buf_writer_init(&w, obj, sizeof(obj));
	tlv_put(&w, 0x70, padded, (size_t)dl + 1);	/* DER plus one stray byte */
	tlv_put(&w, 0x71, "\x00", 1);
	assert_int_equal(piv_certobj_parse(obj, w.len, &y), PIV_ERR_MALFORMED);
	assert_null(y);
	free(padded);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* ---- discovery, key history, CCC, printed ------------------------------- */

static void
test_discovery(void **state)
{
	struct piv_discovery d;
	size_t n;

	(void)state;
	n = H("4F 0B A0000003080000100001 00 5F2F 02 4000");
	assert_int_equal(piv_discovery_parse(hb, n, &d), PIV_OK);
	assert_int_equal(d.aid_len, 11);
	assert_int_equal(d.pin_policy, 0x4000);
	n = H("5F2F 02 4000");
	assert_int_equal(piv_discovery_parse(hb, n, &d), PIV_ERR_MALFORMED);
	n = H("4F 11 A0000003080000100001000000000000000000");
	assert_int_equal(piv_discovery_parse(hb, n, &d), PIV_ERR_MALFORMED);
	n = H("4F 0B A0000003080000100001 00 5F2F 01 40");
	assert_int_equal(piv_discovery_parse(hb, n, &d), PIV_ERR_MALFORMED);
}

static void
test_keyhist(void **state)
{
	struct piv_keyhist k, r;
	uint8_t *obj = NULL;
	size_t len = 0, n;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.on_card = 2;
	k.off_card = 1;
	assert_int_equal(piv_keyhist_build(&k, &obj, &len), PIV_ERR_INVALID);
	snprintf(k.url, sizeof(k.url), "http://pki.example/kh");
	assert_int_equal(piv_keyhist_build(&k, &obj, &len), PIV_OK);
	assert_int_equal(piv_keyhist_parse(obj, len, &r), PIV_OK);
	assert_int_equal(r.on_card, 2);
	assert_int_equal(r.off_card, 1);
	assert_string_equal(r.url, k.url);
	free(obj);
	n = H("C1 01 00 C2 01 01 FE 00");	/* off-card certs without URL */
	assert_int_equal(piv_keyhist_parse(hb, n, &r), PIV_ERR_MALFORMED);
	n = H("C1 01 15 C2 01 00 FE 00");	/* 21 > 20 retired slots */
	assert_int_equal(piv_keyhist_parse(hb, n, &r), PIV_ERR_MALFORMED);
	n = H("C1 01 00 C2 01 01 F3 03 610062 FE 00");	/* NUL in URL */
	assert_int_equal(piv_keyhist_parse(hb, n, &r), PIV_ERR_MALFORMED);
}

static void
test_ccc_and_printed(void **state)
{
	struct piv_ccc c, c2;
	struct piv_printed p, q;
	uint8_t *obj = NULL, *obj2 = NULL;
	size_t len = 0, len2 = 0, n;

	(void)state;
	assert_int_equal(piv_ccc_build(&obj, &len), PIV_OK);
	assert_int_equal(piv_ccc_build(&obj2, &len2), PIV_OK);
	assert_int_equal(piv_ccc_parse(obj, len, &c), PIV_OK);
	assert_int_equal(piv_ccc_parse(obj2, len2, &c2), PIV_OK);
	assert_int_equal(c.card_id_len, 21);
	assert_memory_equal(c.card_id, "\xA0\x00\x00\x01\x16\xFF\x02", 7);
	assert_memory_not_equal(c.card_id, c2.card_id, 21);	/* fresh each time */
	free(obj);
	free(obj2);
	n = H("F1 01 21 FE 00");
	assert_int_equal(piv_ccc_parse(hb, n, &c), PIV_ERR_MALFORMED);

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "DOE, JANE");
	snprintf(p.affiliation, sizeof(p.affiliation), "Employee");
	snprintf(p.expiry, sizeof(p.expiry), "2030DEC31");
	assert_int_equal(piv_printed_build(&p, &obj, &len), PIV_OK);
	assert_int_equal(piv_printed_parse(obj, len, &q), PIV_OK);
	assert_string_equal(q.name, "DOE, JANE");
	assert_string_equal(q.expiry, "2030DEC31");
	assert_string_equal(q.issuer, "");
	free(obj);
	n = H("04 0A 32303330444543333131");	/* expiry longer than 9 */
	assert_int_equal(piv_printed_parse(hb, n, &q), PIV_ERR_MALFORMED);
}

/* ---- public keys, metadata -------------------------------------------------- */

static void
test_pubkey_parse(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("prime256v1"), *pub = NULL;
	uint8_t pt[65], rsp[80];
	size_t ptlen = 0;
	struct buf_writer w;

	(void)state;
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt,
	    sizeof(pt), &ptlen), 1);
	assert_int_equal(ptlen, 65);
	buf_writer_init(&w, rsp, sizeof(rsp));
	tlv_put_header(&w, 0x7F49, 67);
	tlv_put(&w, 0x86, pt, 65);
	assert_int_equal(piv_pubkey_parse(PIV_ALG_ECCP256, rsp, w.len, &pub), PIV_OK);
	assert_int_equal(EVP_PKEY_eq(k, pub), 1);
	EVP_PKEY_free(pub);
	/* Wrong algorithm for the point size; point off the curve; trailing byte. */
	assert_int_equal(piv_pubkey_parse(PIV_ALG_ECCP384, rsp, w.len, &pub),
	    PIV_ERR_MALFORMED);
	rsp[w.len - 1] ^= 1;
	assert_int_equal(piv_pubkey_parse(PIV_ALG_ECCP256, rsp, w.len, &pub),
	    PIV_ERR_MALFORMED);
	assert_null(pub);
	rsp[w.len - 1] ^= 1;
	assert_int_equal(piv_pubkey_parse(PIV_ALG_ECCP256, rsp, w.len + 1, &pub),
	    PIV_ERR_MALFORMED);
	EVP_PKEY_free(k);
}

static void
test_pubkey_rsa_size(void **state)
{
	EVP_PKEY *pub = NULL;
	size_t n;
	char hex[2 * 256 + 64];
	int i;

	(void)state;
	/* A 2048-bit odd modulus: accepted for RSA-2048, refused for RSA-3072. */
	strcpy(hex, "7F49 82 0109 81 82 0100 ");
	for (i = 0; i < 256; i++)
		strcat(hex, i == 0 ? "C1" : i == 255 ? "01" : "5A");
	strcat(hex, " 82 03 010001");
	n = H(hex);
	assert_int_equal(piv_pubkey_parse(PIV_ALG_RSA2048, hb, n, &pub), PIV_OK);
	assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_int_equal(piv_pubkey_parse(PIV_ALG_RSA3072, hb, n, &pub), PIV_ERR_MALFORMED);
	assert_null(pub);
}

static void
test_metadata(void **state)
{
	struct piv_metadata m;
	size_t n;

	(void)state;
	n = H("01 01 FF 05 01 01 06 02 03 03");	/* PIN: default, 3 of 3 */
	assert_int_equal(piv_metadata_parse(hb, n, &m), PIV_OK);
	assert_int_equal(m.alg, 0xFF);
	assert_int_equal(m.is_default, 1);
	assert_int_equal(m.retries_total, 3);
	assert_int_equal(m.retries_left, 3);
	assert_int_equal(m.origin, -1);
	assert_null(m.pub);
	piv_metadata_clear(&m);
	n = H("04 03 86 01 04");	/* public key before any algorithm */
	assert_int_equal(piv_metadata_parse(hb, n, &m), PIV_ERR_MALFORMED);
	n = H("01 01 11 04 03 86 01 04");	/* P-256 point of 1 byte */
	assert_int_equal(piv_metadata_parse(hb, n, &m), PIV_ERR_MALFORMED);
	assert_null(m.pub);
	n = H("01 02 11 11");
	assert_int_equal(piv_metadata_parse(hb, n, &m), PIV_ERR_MALFORMED);
}

static void
test_slot_objects(void **state)
{
	(void)state;
	assert_int_equal(piv_slot_object(0x9A), 0x5FC105);
	assert_int_equal(piv_slot_object(0x9C), 0x5FC10A);
	assert_int_equal(piv_slot_object(0x9D), 0x5FC10B);
	assert_int_equal(piv_slot_object(0x9E), 0x5FC101);
	assert_int_equal(piv_slot_object(0x82), 0x5FC10D);
	assert_int_equal(piv_slot_object(0x95), 0x5FC120);
	assert_int_equal(piv_slot_object(0x9B), 0);
	assert_int_equal(piv_slot_object(0x96), 0);
}

/* ---- management key crypto: known vectors ------------------------------ */

static void
test_mgmt_cipher_vectors(void **state)
{
	static const struct { int alg; const char *key, *pt, *ct; } v[] = {
		/* ykpiv default key, zero block (single-DES equivalent). */
		{ PIV_ALG_3DES, "010203040506070801020304050607080102030405060708",
		  "0000000000000000", "B073DC3FB209536D" },
		{ PIV_ALG_3DES, "0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123",
		  "1122334455667788", "88BE354D2E0B2869" },
		/* FIPS-197 appendix C */
		{ PIV_ALG_AES128, "000102030405060708090A0B0C0D0E0F",
		  "00112233445566778899AABBCCDDEEFF", "69C4E0D86A7B0430D8CDB78070B4C55A" },
		{ PIV_ALG_AES192, "000102030405060708090A0B0C0D0E0F1011121314151617",
		  "00112233445566778899AABBCCDDEEFF", "DDA97CA4864CDFE06EAF70A0EC0D7191" },
		{ PIV_ALG_AES256,
		  "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		  "00112233445566778899AABBCCDDEEFF", "8EA2B7CA516745BFEAFC49904B496089" },
	};
	uint8_t key[32], pt[16], ct[16], out[16];
	size_t i, bl;
	long kl;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		kl = fake_unhex(v[i].key, key, sizeof(key));
		bl = (size_t)fake_unhex(v[i].pt, pt, sizeof(pt));
		fake_unhex(v[i].ct, ct, sizeof(ct));
		assert_int_equal(piv_mgmt_block(v[i].alg), bl);
		assert_int_equal(piv_mgmt_cipher(v[i].alg, key, (size_t)kl, 1, pt, out, bl),
		    PIV_OK);
		assert_memory_equal(out, ct, bl);
		assert_int_equal(piv_mgmt_cipher(v[i].alg, key, (size_t)kl, 0, ct, out, bl),
		    PIV_OK);
		assert_memory_equal(out, pt, bl);
		/* wrong key length for the algorithm */
		assert_int_equal(piv_mgmt_cipher(v[i].alg, key, (size_t)kl - 8, 1, pt, out,
		    bl), PIV_ERR_INVALID);
	}
}

/* ---- a small card model for exchanges -------------------------------------- */

struct model {
	uint32_t serial;
	int alg;
	uint8_t key[32];
	size_t keylen;
	uint8_t witness[16];
	int have_witness, authenticated;
	int lie;		/* answer the host challenge wrongly */
	int no_piv;
	int no_serial;		/* F8 unsupported */
};

static void
put_sw(uint8_t *rsp, size_t *len, size_t at, uint16_t sw)
{
	rsp[at] = (uint8_t)(sw >> 8);
	rsp[at + 1] = (uint8_t)sw;
	*len = at + 2;
}

/* GENERAL AUTHENTICATE on 9B: witness, then challenge/response. */
static void
model_auth(struct model *m, const uint8_t *d, size_t dl, uint8_t *rsp, size_t *len)
{
	size_t bl = piv_mgmt_block(m->alg);
	struct tlv t, w, c;

	if (tlv_unwrap(d, dl, 0x7C, &t) != TLV_OK) {
		put_sw(rsp, len, 0, 0x6A80);
		return;
	}
	if (t.len == 2) {	/* 80 00: give an encrypted witness */
		RAND_bytes(m->witness, (int)bl);
		m->have_witness = 1;
		rsp[0] = 0x7C, rsp[1] = (uint8_t)(bl + 2), rsp[2] = 0x80, rsp[3] = (uint8_t)bl;
		piv_mgmt_cipher(m->alg, m->key, m->keylen, 1, m->witness, rsp + 4, bl);
		put_sw(rsp, len, 4 + bl, 0x9000);
		return;
	}
	if (!m->have_witness || tlv_find(t.val, t.len, 0x80, &w) != TLV_OK ||
	    tlv_find(t.val, t.len, 0x81, &c) != TLV_OK || w.len != bl ||
	    memcmp(w.val, m->witness, bl) != 0) {
		m->have_witness = 0;
		put_sw(rsp, len, 0, 0x6982);
		return;
	}
	m->authenticated = 1;
	rsp[0] = 0x7C, rsp[1] = (uint8_t)(bl + 2), rsp[2] = 0x82, rsp[3] = (uint8_t)bl;
	piv_mgmt_cipher(m->alg, m->key, m->keylen, 1, c.val, rsp + 4, bl);
	if (m->lie)
		rsp[4] ^= 1;
	put_sw(rsp, len, 4 + bl, 0x9000);
}

static int
model_card(void *arg, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rlen)
{
	struct model *m = arg;
	size_t dl = len > 5 ? cmd[4] : 0;

	switch (cmd[1]) {
	case 0xA4:
		put_sw(rsp, rlen, 0, m->no_piv ? 0x6A82 : 0x9000);
		break;
	case 0xFD:
		rsp[0] = 5, rsp[1] = 4, rsp[2] = 3;
		put_sw(rsp, rlen, 3, 0x9000);
		break;
	case 0xF8:
		if (m->no_serial) {
			put_sw(rsp, rlen, 0, 0x6D00);
			break;
		}
		rsp[0] = (uint8_t)(m->serial >> 24), rsp[1] = (uint8_t)(m->serial >> 16);
		rsp[2] = (uint8_t)(m->serial >> 8), rsp[3] = (uint8_t)m->serial;
		put_sw(rsp, rlen, 4, 0x9000);
		break;
	case 0xCB:
		put_sw(rsp, rlen, 0, 0x6A82);
		break;
	case 0x87:
		model_auth(m, cmd + 5, dl, rsp, rlen);
		break;
	default:
		put_sw(rsp, rlen, 0, 0x6D00);
	}
	return APDU_OK;
}

struct env {
	struct fake f;
	struct model m;
	struct piv_card *card;
};

static void
env_model(struct env *e, int alg, const char *keyhex)
{
	struct apdu_transport t;

	memset(e, 0, sizeof(*e));
	e->m.serial = 4242;
	e->m.alg = alg;
	e->m.keylen = (size_t)fake_unhex(keyhex, e->m.key, sizeof(e->m.key));
	e->f.card = model_card;
	e->f.card_arg = &e->m;
	fake_transport(&e->f, &t);
	assert_int_equal(piv_init(&e->card, &t), PIV_OK);
}

#define DEF3DES "010203040506070801020304050607080102030405060708"
#define AES128K "000102030405060708090A0B0C0D0E0F"

static void
test_mutual_auth(void **state)
{
	struct env e;
	uint8_t key[32];

	(void)state;
	env_model(&e, PIV_ALG_3DES, DEF3DES);
	assert_int_equal(piv_auth_mgmt(e.card, PIV_ALG_3DES,
	    (const uint8_t *)PIV_DEFAULT_MGMT_KEY, 24), PIV_OK);
	assert_true(e.m.authenticated);
	assert_int_equal(e.f.begins, 1);
	assert_int_equal(e.f.ends, 1);
	/* wrong host key: the witness we return is wrong, the card says 6982 */
	e.m.authenticated = 0;
	memcpy(key, PIV_DEFAULT_MGMT_KEY, 24);
	key[0] ^= 0x02;	/* not just a parity bit */
	assert_int_equal(piv_auth_mgmt(e.card, PIV_ALG_3DES, key, 24), PIV_ERR_AUTH_FAILED);
	assert_false(e.m.authenticated);
	/* a card that cannot answer our challenge is not trusted */
	e.m.lie = 1;
	assert_int_equal(piv_auth_mgmt(e.card, PIV_ALG_3DES,
	    (const uint8_t *)PIV_DEFAULT_MGMT_KEY, 24), PIV_ERR_AUTH_FAILED);
	piv_done(e.card);

	env_model(&e, PIV_ALG_AES128, AES128K);
	fake_unhex(AES128K, key, sizeof(key));
	assert_int_equal(piv_auth_mgmt(e.card, PIV_ALG_AES128, key, 16), PIV_OK);
	assert_true(e.m.authenticated);
	assert_int_equal(piv_auth_mgmt(e.card, PIV_ALG_AES128, key, 24), PIV_ERR_INVALID);
	piv_done(e.card);
}

static void
test_identify_and_swap(void **state)
{
	struct piv_ident id;
	struct env e;
	int tries;

	(void)state;
	env_model(&e, PIV_ALG_3DES, DEF3DES);
	assert_int_equal(piv_identify(e.card, &id), PIV_OK);
	assert_int_equal(id.type, PIV_TYPE_PIV_YUBICO);
	assert_int_equal(id.serial, 4242);
	assert_false(id.has_chuid);
	/* reset seen by the next transaction: reconnect, same serial: carry on */
	e.f.begin_rc = APDU_ERR_RESET;
	assert_int_equal(piv_verify(e.card, NULL, &tries), PIV_ERR_NOT_SUPPORTED);
	assert_int_equal(e.f.reconnects, 1);
	/* another card in the reader: refused, and the handle stays refused */
	e.f.begin_rc = APDU_ERR_REMOVED;
	e.m.serial = 4343;
	assert_int_equal(piv_verify(e.card, NULL, &tries), PIV_ERR_DIFFERENT_CARD);
	assert_int_equal(e.f.reconnects, 2);
	e.m.serial = 4242;
	assert_int_equal(piv_identify(e.card, &id), PIV_ERR_DIFFERENT_CARD);
	/* 5 begins, 2 of which reported RESET/REMOVED and hold no lock: 3 ends */
	assert_int_equal(e.f.begins, 5);
	assert_int_equal(e.f.ends, 3);
	piv_done(e.card);
}

/* A card with no serial, no CHUID and no CCC: after a reset nothing proves it
 * is the same card, so the handle refuses to go on. */
static void
test_anonymous_card_refused_after_reset(void **state)
{
	struct piv_ident id;
	struct env e;
	int tries;

	(void)state;
	env_model(&e, PIV_ALG_3DES, DEF3DES);
	e.m.no_serial = 1;
	assert_int_equal(piv_identify(e.card, &id), PIV_OK);
	assert_false(id.has_serial);
	assert_int_equal(id.type, PIV_TYPE_PIV_YUBICO);
	e.f.begin_rc = APDU_ERR_RESET;
	assert_int_equal(piv_verify(e.card, NULL, &tries), PIV_ERR_DIFFERENT_CARD);
	piv_done(e.card);
}

static void
test_not_piv(void **state)
{
	struct piv_ident id;
	struct env e;

	(void)state;
	env_model(&e, PIV_ALG_3DES, DEF3DES);
	e.m.no_piv = 1;
	assert_int_equal(piv_identify(e.card, &id), PIV_ERR_NOT_PIV);
	assert_int_equal(id.type, PIV_TYPE_UNKNOWN);
	piv_done(e.card);
}

/* ---- scripted exchanges ------------------------------------------------------ */

static struct piv_card *
scripted(struct fake *f, const struct fake_step *s, size_t n)
{
	struct apdu_transport t;
	struct piv_card *c = NULL;

	memset(f, 0, sizeof(*f));
	f->steps = s;
	f->n = n;
	fake_transport(f, &t);
	assert_int_equal(piv_init(&c, &t), PIV_OK);
	return c;
}

static void
test_verify_counters(void **state)
{
	static const struct fake_step s[] = {
		{ "00 20 00 80 08 313233343536FFFF", "63 C2" },
		{ "00 20 00 80", "63 C2" },
		{ "00 20 00 80 08 313233343536FFFF", "69 83" },
		{ "00 20 00 80 08 313233343536FFFF", "90 00" },
		{ "00 20 00 80", "90 00" },
		{ "00 20 FF 80", "90 00" } };
	struct fake f;
	struct piv_card *c = scripted(&f, s, 6);
	int tries = 99;

	(void)state;
	assert_int_equal(piv_verify(c, "123456", &tries), PIV_ERR_WRONG_PIN);
	assert_int_equal(tries, 2);
	assert_int_equal(piv_verify(c, NULL, &tries), PIV_ERR_WRONG_PIN);
	assert_int_equal(tries, 2);
	assert_int_equal(piv_verify(c, "123456", &tries), PIV_ERR_BLOCKED);
	assert_int_equal(tries, 0);
	assert_int_equal(piv_verify(c, "123456", &tries), PIV_OK);
	assert_int_equal(tries, -1);
	assert_int_equal(piv_verify(c, NULL, &tries), PIV_OK);
	assert_int_equal(piv_unverify(c), PIV_OK);
	assert_int_equal(piv_verify(c, "123456789", &tries), PIV_ERR_INVALID);
	assert_int_equal(f.mismatch, 0);
	assert_int_equal(f.pos, 6);
	piv_done(c);
}

static void
test_change_and_unblock(void **state)
{
	static const struct fake_step s[] = {
		{ "00 24 00 80 10 313233343536FFFF 363534333231FFFF", "90 00" },
		{ "00 24 00 81 10 3132333435363738 3837363534333231", "63 C1" },
		{ "00 2C 00 80 10 3132333435363738 393939393939FFFF", "90 00" } };
	struct fake f;
	struct piv_card *c = scripted(&f, s, 3);
	int tries = 0;

	(void)state;
	/* the scripted bytes pin the padding: FF after short values */
	assert_int_equal(piv_change_ref(c, PIV_REF_PIN, "123456", "654321", &tries), PIV_OK);
	assert_int_equal(piv_change_ref(c, PIV_REF_PUK, "12345678", "87654321", &tries),
	    PIV_ERR_WRONG_PIN);
	assert_int_equal(tries, 1);
	assert_int_equal(piv_unblock_pin(c, "12345678", "999999", &tries), PIV_OK);
	assert_int_equal(piv_change_ref(c, 0x9B, "a", "b", &tries), PIV_ERR_INVALID);
	assert_int_equal(f.mismatch, 0);
	piv_done(c);
}

static void
test_get_data_wrappers(void **state)
{
	static const struct fake_step s[] = {
		/* CHUID in a 53 wrapper with a trailing byte: refused */
		{ "00 CB 3F FF 05 5C 03 5FC102 00", "53 02 3500 00 90 00" },
		/* discovery comes in 7E, not 53 */
		{ "00 CB 3F FF 03 5C 01 7E 00",
		  "7E 12 4F 0B A0000003080000100001 00 5F2F 02 4000 90 00" },
		/* absent object */
		{ "00 CB 3F FF 05 5C 03 5FC10C 00", "6A 82" },
		/* PIN-protected object before VERIFY */
		{ "00 CB 3F FF 05 5C 03 5FC109 00", "69 82" } };
	struct fake f;
	struct piv_card *c = scripted(&f, s, 4);
	struct piv_chuid ch;
	struct piv_discovery d;
	struct piv_keyhist k;
	struct piv_printed p;

	(void)state;
	assert_int_equal(piv_read_chuid(c, &ch), PIV_ERR_MALFORMED);
	assert_int_equal(piv_read_discovery(c, &d), PIV_OK);
	assert_int_equal(d.pin_policy, 0x4000);
	assert_int_equal(piv_read_keyhist(c, &k), PIV_ERR_NOT_FOUND);
	assert_int_equal(piv_read_printed(c, &p), PIV_ERR_AUTH_REQUIRED);
	assert_int_equal(f.mismatch, 0);
	piv_done(c);
}

static void
test_put_data_pulled_mid_chain(void **state)
{
	static const struct fake_step s[] = {
		{ "*", "90 00" },	/* first chained block */
		{ "*", "!REMOVED" },	/* pulled before the last one */
		{ "*", "!REMOVED" } };	/* reconnect found nothing: still removed */
	struct fake f;
	struct piv_card *c = scripted(&f, s, 3);
	uint8_t big[400];
	int tries;

	(void)state;
	memset(big, 0x42, sizeof(big));
	assert_int_equal(piv_write_object(c, PIV_OBJ_CHUID, big, sizeof(big)),
	    PIV_ERR_REMOVED);
	assert_int_equal(f.begins, 1);
	assert_int_equal(f.ends, 1);
	/* The next operation reconnects first; the fake refuses, nothing is sent. */
	f.reconnect_rc = APDU_ERR_REMOVED;
	assert_int_equal(piv_verify(c, NULL, &tries), PIV_ERR_REMOVED);
	assert_int_equal(f.reconnects, 1);
	assert_int_equal(f.pos, 2);
	piv_done(c);
}

static void
test_generate_scripted(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("prime256v1"), *pub = NULL;
	uint8_t pt[65];
	char rsp[400], *p;
	size_t ptlen = 0, i;
	struct fake_step s[1];
	struct fake f;
	struct piv_card *c;

	(void)state;
	EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt, sizeof(pt), &ptlen);
	p = rsp + sprintf(rsp, "7F49 43 86 41 ");
	for (i = 0; i < 65; i++)
		p += sprintf(p, "%02X", pt[i]);
	strcat(rsp, " 90 00");
	s[0].cmd = "00 47 00 9C 0B AC 09 80 01 11 AA 01 03 AB 01 01 00";
	s[0].rsp = rsp;
	c = scripted(&f, s, 1);
	assert_int_equal(piv_generate(c, 0x9C, PIV_ALG_ECCP256, PIV_PIN_ALWAYS,
	    PIV_TOUCH_NEVER, &pub), PIV_OK);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	EVP_PKEY_free(pub);
	assert_int_equal(piv_generate(c, 0x9B, PIV_ALG_ECCP256, 0, 0, &pub), PIV_ERR_INVALID);
	assert_null(pub);
	assert_int_equal(f.mismatch, 0);
	piv_done(c);
	EVP_PKEY_free(k);
}

static void
test_sign_hostile_response(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("prime256v1");
	struct fake_step s[2] = {
		/* not a DER ECDSA signature */
		{ "*", "7C 05 82 03 300100 90 00" },
		/* a valid-looking signature that does not verify */
		{ "*", "7C 0A 82 08 3006020101020101 90 00" } };
	struct fake f;
	struct piv_card *c = scripted(&f, s, 2);
	uint8_t *sig = (uint8_t *)1;
	size_t siglen = 1;

	(void)state;
	assert_int_equal(piv_sign(c, 0x9A, k, EVP_sha256(), 0, (const uint8_t *)"m", 1,
	    &sig, &siglen), PIV_ERR_MALFORMED);
	assert_null(sig);
	assert_int_equal(siglen, 0);
	assert_int_equal(piv_sign(c, 0x9A, k, EVP_sha256(), 0, (const uint8_t *)"m", 1,
	    &sig, &siglen), PIV_ERR_BAD_SIGNATURE);
	assert_null(sig);
	piv_done(c);
	EVP_PKEY_free(k);
}

/* Fault injection: the card vanishes at transmit n, for n = 1, 2, ... until an
 * identify + management-key auth + PIN verify completes without a fault. */
struct chaos {
	struct model m;
	int fail_at, calls;
};

static int
chaos_card(void *arg, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rlen)
{
	struct chaos *c = arg;

	if (++c->calls >= c->fail_at)
		return APDU_ERR_REMOVED;
	if (cmd[1] == 0x20) {	/* VERIFY: accept anything, this is about the transport */
		put_sw(rsp, rlen, 0, 0x9000);
		return APDU_OK;
	}
	return model_card(&c->m, cmd, len, rsp, rlen);
}

static int
chaos_run(int n)
{
	struct apdu_transport t;
	struct piv_card *card = NULL;
	struct chaos c;
	struct fake f;
	int rc, tries;

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	c.fail_at = n;
	c.m.serial = 1;
	c.m.alg = PIV_ALG_3DES;
	c.m.keylen = 24;
	memcpy(c.m.key, PIV_DEFAULT_MGMT_KEY, 24);
	f.card = chaos_card;
	f.card_arg = &c;
	f.reconnect_rc = APDU_ERR_REMOVED;	/* the card stays out */
	fake_transport(&f, &t);
	assert_int_equal(piv_init(&card, &t), PIV_OK);
	if ((rc = piv_identify(card, NULL)) == PIV_OK &&
	    (rc = piv_auth_mgmt(card, PIV_ALG_3DES, (const uint8_t *)PIV_DEFAULT_MGMT_KEY,
	    24)) == PIV_OK)
		rc = piv_verify(card, "123456", &tries);
	if (rc != PIV_OK) {
		/* once gone, every later operation says so without touching the card */
		assert_int_equal(piv_verify(card, NULL, &tries), PIV_ERR_REMOVED);
		assert_int_equal(f.begins, f.ends);	/* no transaction left open */
		assert_int_equal(f.reconnects, 1);
	}
	piv_done(card);
	return rc;
}

static void
test_fault_injection(void **state)
{
	int n, rc;

	(void)state;
	for (n = 1; n < 100; n++) {
		if ((rc = chaos_run(n)) == PIV_OK)
			break;
		assert_int_equal(rc, PIV_ERR_REMOVED);
	}
	assert_true(n > 6 && n < 100);	/* identify 4 + auth 2 + verify 1 APDUs */
}

static void
test_error_names(void **state)
{
	int e;

	(void)state;
	for (e = PIV_OK; e >= PIV_ERR_BAD_SIGNATURE; e--) {
		assert_string_not_equal(piv_name(e), "?");
		assert_string_not_equal(piv_strerror(e), "unknown piv error");
	}
	assert_int_equal(piv_from_apdu(APDU_ERR_SECURITY), PIV_ERR_AUTH_REQUIRED);
	assert_int_equal(piv_from_apdu(APDU_ERR_REMOVED), PIV_ERR_REMOVED);
	assert_int_equal(piv_from_apdu(APDU_ERR_SW), PIV_ERR_CARD);
	assert_int_equal(piv_from_apdu(APDU_ERR_REF_NOT_FOUND), PIV_ERR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fascn_known_vector),
		cmocka_unit_test(test_chuid_roundtrip),
		cmocka_unit_test(test_chuid_canned_and_hostile),
		cmocka_unit_test(test_certobj_roundtrip),
		cmocka_unit_test(test_certobj_hostile),
		cmocka_unit_test(test_certobj_trailing_der),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_keyhist),
		cmocka_unit_test(test_ccc_and_printed),
		cmocka_unit_test(test_pubkey_parse),
		cmocka_unit_test(test_pubkey_rsa_size),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_slot_objects),
		cmocka_unit_test(test_mgmt_cipher_vectors),
		cmocka_unit_test(test_mutual_auth),
		cmocka_unit_test(test_identify_and_swap),
		cmocka_unit_test(test_not_piv),
		cmocka_unit_test(test_anonymous_card_refused_after_reset),
		cmocka_unit_test(test_verify_counters),
		cmocka_unit_test(test_change_and_unblock),
		cmocka_unit_test(test_get_data_wrappers),
		cmocka_unit_test(test_put_data_pulled_mid_chain),
		cmocka_unit_test(test_generate_scripted),
		cmocka_unit_test(test_sign_hostile_response),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
