/*
 * ks against a fresh SoftHSM2 token (tests/keyd/kstoken.c). Effects are checked
 * through paths that do not go through ks: pkcs11-tool reads public keys,
 * object attributes and decrypts escrow content keys; OpenSSL verifies every
 * signature and recomputes every ECB block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "drivers/fake_transport.h"
#include "keyd/kstoken.h"
#include "keyd/ks.h"
#include "piv.h"

#define PIN "pin-4711"
#define TOKEN "station"

static struct kstoken tok;
static struct ks *cur;	/* the open session, closed by close_ks or after a failure */

static void
close_ks(struct ks *ks)
{
	assert_ptr_equal(ks, cur);
	ks_close(cur);
	cur = NULL;
}

static struct ks *
open_ks(void)
{
	struct ks_cfg cfg = { KSTOKEN_MODULE, TOKEN, (const uint8_t *)PIN, strlen(PIN) };
	struct ks *ks = NULL;

	assert_null(cur);
	assert_int_equal(ks_open(&cfg, &ks), KS_OK);
	assert_non_null(ks);
	cur = ks;
	return ks;
}

/* A failed test leaves its session logged in; the next one needs a fresh login. */
static int
after_each(void **state)
{
	(void)state;
	ks_close(cur);
	cur = NULL;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	return kstoken_init(&tok, TOKEN, PIN);
}

static int
teardown(void **state)
{
	(void)state;
	kstoken_cleanup(&tok);
	return 0;
}

/* ---- session ------------------------------------------------------------- */

static void
test_open_errors(void **state)
{
	struct ks_cfg cfg = { KSTOKEN_MODULE, TOKEN, (const uint8_t *)"wrong-pin", 9 };
	struct ks *ks = (struct ks *)1;

	(void)state;
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_LOGIN);
	assert_null(ks);
	cfg.pin = (const uint8_t *)PIN;
	cfg.pinlen = strlen(PIN);
	cfg.token = "nosuchtoken";
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_NOTOKEN);
	cfg.token = TOKEN;
	cfg.module = "/nonexistent/libpkcs11.so";
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_MODULE);
	cfg.module = "libsofthsm2.so";	/* relative: refused, never searched */
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_ARG);
	cfg.module = KSTOKEN_MODULE;
	cfg.pinlen = 0;
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_ARG);
	assert_int_equal(ks_open(NULL, &ks), KS_ERR_ARG);
	assert_string_equal(ks_name(KS_ERR_LOGIN), "KS_ERR_LOGIN");
	assert_string_equal(ks_strerror(KS_ERR_NOKEY), "no such key in the token");
	ks_close(NULL);
}

static void
test_login_detail(void **state)
{
	struct ks_cfg cfg = { KSTOKEN_MODULE, TOKEN, (const uint8_t *)"nope", 4 };
	struct ks *ks = NULL;
	uint8_t pin[sizeof(PIN)];

	(void)state;
	assert_int_equal(ks_open(&cfg, &ks), KS_ERR_LOGIN);
	/* The caller's buffer may be wiped right after ks_open: ks kept no copy. */
	memcpy(pin, PIN, strlen(PIN));
	cfg.pin = pin;
	cfg.pinlen = strlen(PIN);
	assert_int_equal(ks_open(&cfg, &ks), KS_OK);
	memset(pin, 0, sizeof(pin));
	assert_string_equal(ks_detail(ks), "");
	assert_int_equal(ks_keypair_create(ks, "detail-probe", 99), KS_ERR_ARG);
	ks_close(ks);
}

/* ---- master keys and diversification ------------------------------------ */

static const uint8_t guid_a[16] = { 0xA0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t guid_b[16] = { 0xB0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static int
odd_parity(const uint8_t *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (__builtin_popcount(k[i]) % 2 != 1)
			return 0;
	return 1;
}

/*
 * pkcs11-tool's view of one object: the block of its listing whose first line
 * starts with kind ("Secret Key Object", "Private Key Object; RSA") and which
 * has the label. malloc'd, or NULL.
 */
static char *
object_block(const char *list, const char *kind, const char *label)
{
	char want[96];
	const char *p = list, *end;

	snprintf(want, sizeof(want), "\n  label:      %s\n", label);
	while (*p != '\0') {
		/* a block: a line at column 0, then the indented lines after it */
		for (end = strchr(p, '\n'); end != NULL && end[1] == ' '; end = strchr(end + 1, '\n'))
			;
		end = end != NULL ? end + 1 : p + strlen(p);
		if (strncmp(p, kind, strlen(kind)) == 0) {
			char *blk = strndup(p, (size_t)(end - p));

			if (blk != NULL && strstr(blk, want) != NULL)
				return blk;
			free(blk);
		}
		p = end;
	}
	return NULL;
}

static void
test_master_and_derive(void **state)
{
	uint8_t a1[24], a1b[24], b1[24], a2[24], a1_3des[24], k16[16], k32[32], again[24];
	char puk_a1[9], puk_b1[9], puk_a2[9], puk_again[9], *list, *blk;
	struct ks *ks;
	uint32_t v = 0;
	int i;

	(void)state;
	ks = open_ks();
	assert_int_equal(ks_master_current(ks, &v), KS_ERR_NOKEY);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, a1, 24),
	    KS_ERR_NOKEY);
	assert_int_equal(ks_master_create(ks, &v), KS_OK);
	assert_int_equal(v, 1);
	assert_int_equal(ks_master_current(ks, &v), KS_OK);
	assert_int_equal(v, 1);

	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, a1, 24), KS_OK);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, a1b, 24), KS_OK);
	assert_memory_equal(a1, a1b, 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_b, PIV_ALG_AES192, b1, 24), KS_OK);
	assert_memory_not_equal(a1, b1, 24);
	/* Same length, other algorithm: another purpose byte, another key. */
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_3DES, a1_3des, 24), KS_OK);
	assert_true(odd_parity(a1_3des, 24));
	for (i = 0; i < 24 && (a1_3des[i] & 0xFE) == (a1[i] & 0xFE); i++)
		;
	assert_true(i < 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES128, k16, 16), KS_OK);
	assert_memory_not_equal(k16, a1, 16);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES256, k32, 32), KS_OK);
	assert_memory_not_equal(k32, a1, 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, a1b, 16), KS_ERR_ARG);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_RSA2048, a1b, 24), KS_ERR_ARG);

	assert_int_equal(ks_derive_puk(ks, 1, guid_a, puk_a1), KS_OK);
	assert_int_equal(strlen(puk_a1), 8);
	assert_int_equal(strspn(puk_a1, "0123456789"), 8);
	assert_int_equal(ks_derive_puk(ks, 1, guid_b, puk_b1), KS_OK);
	assert_string_not_equal(puk_a1, puk_b1);

	/* Rotation: v2 is new, v1 answers as before. */
	assert_int_equal(ks_master_create(ks, &v), KS_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ks_master_current(ks, &v), KS_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ks_derive_mgmt_key(ks, 2, guid_a, PIV_ALG_AES192, a2, 24), KS_OK);
	assert_memory_not_equal(a1, a2, 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, again, 24), KS_OK);
	assert_memory_equal(a1, again, 24);
	assert_int_equal(ks_derive_puk(ks, 2, guid_a, puk_a2), KS_OK);
	assert_string_not_equal(puk_a1, puk_a2);
	assert_int_equal(ks_derive_mgmt_key(ks, 3, guid_a, PIV_ALG_AES192, again, 24),
	    KS_ERR_NOKEY);
	assert_int_equal(ks_derive_mgmt_key(ks, 0, guid_a, PIV_ALG_AES192, again, 24),
	    KS_ERR_ARG);
	close_ks(ks);

	/* A new session (a keyd restart) derives the same values. */
	ks = open_ks();
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, again, 24), KS_OK);
	assert_memory_equal(a1, again, 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 2, guid_a, PIV_ALG_AES192, again, 24), KS_OK);
	assert_memory_equal(a2, again, 24);
	assert_int_equal(ks_derive_puk(ks, 1, guid_a, puk_again), KS_OK);
	assert_string_equal(puk_a1, puk_again);
	assert_int_equal(ks_master_current(ks, &v), KS_OK);
	assert_int_equal(v, 2);
	close_ks(ks);

	/* pkcs11-tool: both versions are secret keys the token will not export. */
	list = kstoken_list_objects(&tok);
	assert_non_null(list);
	for (i = 1; i <= 2; i++) {
		char label[32];

		snprintf(label, sizeof(label), "cardmgr-master-v%d", i);
		blk = object_block(list, "Secret Key Object", label);
		if (blk == NULL)
			print_error("listing:\n%s\n", list);
		assert_non_null(blk);
		assert_non_null(strstr(blk, "never extractable"));
		assert_non_null(strstr(blk, "sensitive"));
		free(blk);
	}
	free(list);
}

/* ---- 9B authentication with the derived key ------------------------------ */

static void
ecb(int alg, const uint8_t *key, int enc, const uint8_t *in, uint8_t *out, size_t bl)
{
	const EVP_CIPHER *c = alg == PIV_ALG_3DES ? EVP_des_ede3_ecb() :
	    alg == PIV_ALG_AES128 ? EVP_aes_128_ecb() :
	    alg == PIV_ALG_AES192 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc), 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &n, in, (int)bl), 1);
	assert_int_equal(n, (int)bl);
	EVP_CIPHER_CTX_free(ctx);
}

/* A card that knows its 9B key (as the derived bytes) and runs the 87 exchange. */
struct card9b {
	int alg;
	uint8_t key[32];
	uint8_t witness[16];
	int step, authenticated;
};

static void
sw(uint8_t *rsp, size_t *len, size_t at, unsigned s)
{
	rsp[at] = (uint8_t)(s >> 8);
	rsp[at + 1] = (uint8_t)s;
	*len = at + 2;
}

static int
card9b_fn(void *arg, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *rlen)
{
	struct card9b *c = arg;
	size_t bl = c->alg == PIV_ALG_3DES ? 8 : 16;
	const uint8_t *d = cmd + 5;

	if (len < 5 || cmd[1] != 0x87) {
		sw(rsp, rlen, 0, 0x6D00);
		return APDU_OK;
	}
	if (len >= 9 && d[0] == 0x7C && d[1] == 2 && d[2] == 0x80 && d[3] == 0) {
		assert_int_equal(RAND_bytes(c->witness, (int)bl), 1);
		rsp[0] = 0x7C, rsp[1] = (uint8_t)(bl + 2), rsp[2] = 0x80, rsp[3] = (uint8_t)bl;
		ecb(c->alg, c->key, 1, c->witness, rsp + 4, bl);
		sw(rsp, rlen, 4 + bl, 0x9000);
		return APDU_OK;
	}
	/* 7C L 80 bl witness 81 bl challenge */
	if (len >= 5 + 4 + 2 * bl + 2 && d[2] == 0x80 && d[4 + bl] == 0x81 &&
	    memcmp(d + 4, c->witness, bl) == 0) {
		c->authenticated = 1;
		rsp[0] = 0x7C, rsp[1] = (uint8_t)(bl + 2), rsp[2] = 0x82, rsp[3] = (uint8_t)bl;
		ecb(c->alg, c->key, 1, d + 6 + bl, rsp + 4, bl);
		sw(rsp, rlen, 4 + bl, 0x9000);
		return APDU_OK;
	}
	sw(rsp, rlen, 0, 0x6982);
	return APDU_OK;
}

struct keyd_cb {
	struct ks *ks;
	uint32_t version;
	const uint8_t *guid;
	int alg;
	int calls;
};

/* What the engine's callback would ask keyd for, done in-process here. */
static int
keyd_crypt(void *arg, int encrypt, const uint8_t *in, uint8_t *out, size_t bl)
{
	struct keyd_cb *k = arg;

	k->calls++;
	return ks_mgmt_crypt(k->ks, k->version, k->guid, k->alg, encrypt, in, out, bl);
}

static void
auth_with(struct ks *ks, int alg, const uint8_t *cardkey, size_t keylen,
    uint32_t version, int want)
{
	struct card9b c;
	struct fake f;
	struct apdu_transport t;
	struct piv_card *card = NULL;
	struct keyd_cb k = { ks, version, guid_a, alg, 0 };

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	c.alg = alg;
	memcpy(c.key, cardkey, keylen);
	f.card = card9b_fn;
	f.card_arg = &c;
	fake_transport(&f, &t);
	assert_int_equal(piv_init(&card, &t), PIV_OK);
	assert_int_equal(piv_auth_mgmt_cb(card, alg, keyd_crypt, &k), want);
	assert_int_equal(c.authenticated, want == PIV_OK);
	assert_true(k.calls >= 1);
	piv_done(card);
}

static void
test_mgmt_crypt(void **state)
{
	static const int algs[] = { PIV_ALG_AES192, PIV_ALG_3DES, PIV_ALG_AES128,
		PIV_ALG_AES256 };
	uint8_t key[32], in[16], out[16], want[16], back[16];
	struct ks *ks;
	uint32_t v = 0;
	size_t i;

	(void)state;
	ks = open_ks();
	if (ks_master_current(ks, &v) == KS_ERR_NOKEY)
		assert_int_equal(ks_master_create(ks, &v), KS_OK);
	assert_int_equal(ks_master_current(ks, &v), KS_OK);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		int alg = algs[i];
		size_t kl = alg == PIV_ALG_AES128 ? 16 : alg == PIV_ALG_AES256 ? 32 : 24;
		size_t bl = alg == PIV_ALG_3DES ? 8 : 16;

		assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, alg, key, kl), KS_OK);
		assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
		/* keyd's block equals OpenSSL's ECB under the derived key bytes */
		assert_int_equal(ks_mgmt_crypt(ks, 1, guid_a, alg, 1, in, out, bl), KS_OK);
		ecb(alg, key, 1, in, want, bl);
		assert_memory_equal(out, want, bl);
		assert_int_equal(ks_mgmt_crypt(ks, 1, guid_a, alg, 0, out, back, bl), KS_OK);
		assert_memory_equal(back, in, bl);
		assert_int_equal(ks_mgmt_crypt(ks, 1, guid_a, alg, 1, in, out, bl + 1),
		    KS_ERR_ARG);
		/* The card holding the derived key accepts keyd's answers... */
		auth_with(ks, alg, key, kl, 1, PIV_OK);
	}
	/* ...and one personalised under another version refuses them. */
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, key, 24), KS_OK);
	if (v < 2)
		assert_int_equal(ks_master_create(ks, &v), KS_OK);
	auth_with(ks, PIV_ALG_AES192, key, 24, 2, PIV_ERR_AUTH_FAILED);
	/* A keyd that cannot answer (no such version) fails cleanly. */
	auth_with(ks, PIV_ALG_AES192, key, 24, 77, PIV_ERR_CRYPTO);
	OPENSSL_cleanse(key, sizeof(key));
	close_ks(ks);
}

/* ---- escrow --------------------------------------------------------------- */

static const uint8_t aad_a[17] = { 0xA0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	0x9D };

static void
recover_eq(struct ks *ks, const uint8_t *blob, size_t len, EVP_PKEY *want)
{
	EVP_PKEY *got = NULL;
	int rc = ks_escrow_recover(ks, blob, len, aad_a, sizeof(aad_a), &got);

	if (rc != KS_OK)
		print_error("ks_escrow_recover: %s (%s)\n", ks_name(rc), ks_detail(ks));
	assert_int_equal(rc, KS_OK);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, want), 1);
	EVP_PKEY_free(got);
}

static int
recover_rc(struct ks *ks, const uint8_t *blob, size_t len, const uint8_t *aad,
    size_t aadlen)
{
	EVP_PKEY *got = (EVP_PKEY *)1;
	int rc = ks_escrow_recover(ks, blob, len, aad, aadlen, &got);

	if (rc != KS_OK)
		assert_null(got);
	EVP_PKEY_free(rc == KS_OK ? got : NULL);
	return rc;
}

/*
 * Open the blob as docs/keystore.md says, without ks: openssl with libp11's
 * engine unwraps the content key with the KRK in the token (RSA-OAEP SHA-256;
 * pkcs11-tool 0.23 cannot: it passes no OAEP source, which SoftHSM2 refuses),
 * OpenSSL opens the GCM box over
 * header || aad, and the PKCS#8 inside is the key escrow gave us.
 */
static void
open_independently(const uint8_t *blob, size_t len, EVP_PKEY *want)
{
	struct ks_escrow e;
	char lab[40];
	uint8_t cek[64], pt[4096];
	const unsigned char *p = pt;
	EVP_CIPHER_CTX *ctx;
	EVP_PKEY *k;
	size_t n;
	int m = 0;

	assert_int_equal(ks_escrow_parse(blob, len, &e), KS_OK);
	/* The header by hand: magic, format, key type, KRK version, wrapped length. */
	assert_memory_equal(blob, "CMKE\x01", 5);
	assert_int_equal(blob[5], e.key_type);
	assert_int_equal((blob[6] << 24) | (blob[7] << 16) | (blob[8] << 8) | blob[9],
	    (int)e.krk_version);
	assert_int_equal((blob[10] << 8) | blob[11], 384);
	assert_ptr_equal(e.wrapped, blob + 12);
	assert_int_equal(e.header_len, 12 + 384);
	assert_ptr_equal(e.nonce, blob + 12 + 384);
	assert_ptr_equal(e.ct, blob + 12 + 384 + 12 + 4);
	assert_int_equal(e.ct_len + 12 + 384 + 12 + 4 + 16, len);
	snprintf(lab, sizeof(lab), "cardmgr-krk-v%u", (unsigned)e.krk_version);
	n = sizeof(cek);
	assert_int_equal(kstoken_decrypt_oaep(&tok, lab, e.wrapped, e.wrapped_len, cek, &n), 0);
	assert_int_equal(n, 32);
	ctx = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, cek, e.nonce), 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &m, blob, (int)e.header_len), 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &m, aad_a, sizeof(aad_a)), 1);
	assert_int_equal(EVP_DecryptUpdate(ctx, pt, &m, e.ct, (int)e.ct_len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)e.tag), 1);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, pt + m, &m), 1);
	EVP_CIPHER_CTX_free(ctx);
	k = d2i_AutoPrivateKey(NULL, &p, (long)e.ct_len);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_eq(k, want), 1);
	EVP_PKEY_free(k);
	OPENSSL_cleanse(pt, sizeof(pt));
	OPENSSL_cleanse(cek, sizeof(cek));
}

static void
test_escrow(void **state)
{
	uint8_t *blob = NULL, *blob2 = NULL, *t = NULL;
	size_t len = 0, len2 = 0, i;
	EVP_PKEY *priv = NULL, *priv2 = NULL;
	struct ks_escrow e;
	uint8_t bad_aad[sizeof(aad_a)];
	char *list, *blk;
	struct ks *ks;
	uint32_t v = 0;
	/* one byte in each field: type, KRK version, wrapped, nonce, ct, tag */
	size_t at[] = { 5, 9, 12, 200, 12 + 384, 12 + 384 + 12 + 4, 0 };
	int want[] = { KS_ERR_CRYPTO, KS_ERR_NOKEY, KS_ERR_CRYPTO, KS_ERR_CRYPTO,
		KS_ERR_CRYPTO, KS_ERR_CRYPTO, KS_ERR_CRYPTO };

	(void)state;
	ks = open_ks();
	assert_int_equal(ks_krk_current(ks, &v), KS_ERR_NOKEY);
	assert_int_equal(ks_escrow_generate(ks, KS_KEY_P256, aad_a, sizeof(aad_a), &blob,
	    &len, &priv), KS_ERR_NOKEY);
	assert_null(blob);
	assert_null(priv);
	assert_int_equal(ks_krk_create(ks, &v), KS_OK);
	assert_int_equal(v, 1);

	assert_int_equal(ks_escrow_generate(ks, KS_KEY_P256, aad_a, sizeof(aad_a), &blob,
	    &len, &priv), KS_OK);
	assert_non_null(priv);
	assert_true(EVP_PKEY_is_a(priv, "EC"));
	assert_int_equal(ks_escrow_parse(blob, len, &e), KS_OK);
	assert_int_equal(e.krk_version, 1);
	assert_int_equal(e.key_type, KS_KEY_P256);
	recover_eq(ks, blob, len, priv);
	open_independently(blob, len, priv);

	/* another card's GUID, or another slot: refused */
	memcpy(bad_aad, aad_a, sizeof(bad_aad));
	bad_aad[16] = 0x9C;
	assert_int_equal(recover_rc(ks, blob, len, bad_aad, sizeof(bad_aad)), KS_ERR_CRYPTO);
	bad_aad[16] = 0x9D;
	bad_aad[3] ^= 1;
	assert_int_equal(recover_rc(ks, blob, len, bad_aad, sizeof(bad_aad)), KS_ERR_CRYPTO);
	assert_int_equal(recover_rc(ks, blob, len, aad_a, 16), KS_ERR_CRYPTO);
	assert_int_equal(recover_rc(ks, blob, len, NULL, 0), KS_ERR_CRYPTO);

	/* tampering anywhere is caught */
	at[6] = len - 1;
	t = malloc(len + 1);
	assert_non_null(t);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(t, blob, len);
		t[at[i]] ^= (at[i] == 5) ? 0x01 : 0x40;	/* type 2 -> 3: P-384 claimed */
		assert_int_equal(recover_rc(ks, t, len, aad_a, sizeof(aad_a)), want[i]);
	}
	memcpy(t, blob, len);
	assert_int_equal(recover_rc(ks, t, len - 1, aad_a, sizeof(aad_a)), KS_ERR_FORMAT);
	t[len] = 0;
	assert_int_equal(recover_rc(ks, t, len + 1, aad_a, sizeof(aad_a)), KS_ERR_FORMAT);
	t[4] = 2;	/* a future format */
	assert_int_equal(recover_rc(ks, t, len, aad_a, sizeof(aad_a)), KS_ERR_FORMAT);
	free(t);

	/* KRK rotation: new blobs name v2, v1 blobs still open */
	assert_int_equal(ks_krk_create(ks, &v), KS_OK);
	assert_int_equal(v, 2);
	assert_int_equal(ks_escrow_generate(ks, KS_KEY_RSA2048, aad_a, sizeof(aad_a), &blob2,
	    &len2, &priv2), KS_OK);
	assert_int_equal(ks_escrow_parse(blob2, len2, &e), KS_OK);
	assert_int_equal(e.krk_version, 2);
	assert_int_equal(e.key_type, KS_KEY_RSA2048);
	assert_true(EVP_PKEY_is_a(priv2, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(priv2), 2048);
	recover_eq(ks, blob2, len2, priv2);
	open_independently(blob2, len2, priv2);
	close_ks(ks);
	ks = open_ks();
	recover_eq(ks, blob, len, priv);
	free(blob2);
	EVP_PKEY_free(priv2);
	assert_int_equal(ks_escrow_generate(ks, KS_KEY_P384, aad_a, sizeof(aad_a), &blob2,
	    &len2, &priv2), KS_OK);
	recover_eq(ks, blob2, len2, priv2);
	{
		EVP_PKEY *none = NULL;

		assert_int_equal(ks_escrow_generate(ks, 42, aad_a, sizeof(aad_a), &t, &i,
		    &none), KS_ERR_ARG);
		assert_null(none);
		assert_null(t);
	}
	close_ks(ks);

	list = kstoken_list_objects(&tok);
	assert_non_null(list);
	blk = object_block(list, "Private Key Object; RSA", "cardmgr-krk-v1");
	assert_non_null(blk);
	assert_non_null(strstr(blk, "never extractable"));
	assert_null(strstr(blk, "sign"));	/* decrypts content keys, signs nothing */
	free(blk);
	blk = object_block(list, "Public Key Object; RSA 3072 bits", "cardmgr-krk-v1");
	assert_non_null(blk);
	free(blk);
	free(list);
	free(blob);
	free(blob2);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(priv2);
}

/* ---- signing ---------------------------------------------------------------- */

static void
digest(const char *msg, uint8_t h[32])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(msg, strlen(msg), h, &n, EVP_sha256(), NULL), 1);
}

/* Verify a signature over the digest h with pub, as a relying party would. */
static int
verify(EVP_PKEY *pub, int mech, const uint8_t *h, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	int ok;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	if (mech != KS_SIGN_ECDSA) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, mech == KS_SIGN_RSA_PSS ?
		    RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING), 1);
		if (mech == KS_SIGN_RSA_PSS)
			assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
	}
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ok = EVP_PKEY_verify(ctx, sig, siglen, h, 32);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static const uint8_t sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
	0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };

static void
sign_and_check(struct ks *ks, const char *label, int mech, EVP_PKEY *indep)
{
	uint8_t h[32], tbs[256], sig[512];
	size_t tbslen = 32, siglen = sizeof(sig);
	EVP_PKEY *pub = NULL;

	digest(label, h);
	memcpy(tbs, h, 32);
	if (mech == KS_SIGN_RSA_PKCS1) {
		memcpy(tbs, sha256_prefix, sizeof(sha256_prefix));
		memcpy(tbs + sizeof(sha256_prefix), h, 32);
		tbslen = sizeof(sha256_prefix) + 32;
	} else if (mech == KS_SIGN_RSA_RAW) {
		/* EMSA-PKCS1-v1_5 by hand: 00 01 FF..FF 00 DigestInfo */
		tbslen = 256;
		memset(tbs, 0xFF, tbslen);
		tbs[0] = 0x00, tbs[1] = 0x01;
		tbs[tbslen - 32 - sizeof(sha256_prefix) - 1] = 0x00;
		memcpy(tbs + tbslen - 32 - sizeof(sha256_prefix), sha256_prefix,
		    sizeof(sha256_prefix));
		memcpy(tbs + tbslen - 32, h, 32);
	}
	assert_int_equal(ks_sign(ks, label, mech, tbs, tbslen, sig, &siglen), KS_OK);
	assert_int_equal(ks_pubkey(ks, label, &pub), KS_OK);
	assert_int_equal(EVP_PKEY_eq(pub, indep), 1);
	/* RAW made a PKCS#1 v1.5 signature: verify it as one, with both keys */
	assert_int_equal(verify(indep, mech == KS_SIGN_RSA_RAW ? KS_SIGN_RSA_PKCS1 : mech, h,
	    sig, siglen), 1);
	assert_int_equal(verify(pub, mech == KS_SIGN_RSA_RAW ? KS_SIGN_RSA_PKCS1 : mech, h,
	    sig, siglen), 1);
	sig[siglen / 2] ^= 1;
	assert_int_not_equal(verify(indep, mech == KS_SIGN_RSA_RAW ? KS_SIGN_RSA_PKCS1 : mech,
	    h, sig, siglen), 1);
	EVP_PKEY_free(pub);
}

static void
test_sign(void **state)
{
	EVP_PKEY *audit = NULL, *rsa = NULL, *p384 = NULL, *pub = NULL;
	uint8_t h[32], sig[512];
	size_t siglen;
	struct ks *ks;
	char *list, *blk;

	(void)state;
	ks = open_ks();
	assert_int_equal(ks_keypair_create(ks, "cardmgr-audit", KS_KEY_P256), KS_OK);
	assert_int_equal(ks_keypair_create(ks, "station-ca-link", KS_KEY_RSA2048), KS_OK);
	assert_int_equal(ks_keypair_create(ks, "p384-key", KS_KEY_P384), KS_OK);
	assert_int_equal(ks_keypair_create(ks, "cardmgr-audit", KS_KEY_P256), KS_ERR_EXISTS);
	assert_int_equal(ks_keypair_create(ks, "cardmgr-master-v9", KS_KEY_P256), KS_ERR_ARG);
	assert_int_equal(ks_keypair_create(ks, "cardmgr-krk-v9", KS_KEY_RSA2048), KS_ERR_ARG);
	assert_int_equal(ks_keypair_create(ks, "", KS_KEY_P256), KS_ERR_ARG);
	close_ks(ks);

	/* the public keys as pkcs11-tool reads them, not through ks */
	assert_int_equal(kstoken_read_pubkey(&tok, "cardmgr-audit", &audit), 0);
	assert_int_equal(kstoken_read_pubkey(&tok, "station-ca-link", &rsa), 0);
	assert_int_equal(kstoken_read_pubkey(&tok, "p384-key", &p384), 0);
	assert_true(EVP_PKEY_is_a(audit, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(rsa), 2048);
	assert_int_equal(EVP_PKEY_get_bits(p384), 384);

	ks = open_ks();
	sign_and_check(ks, "cardmgr-audit", KS_SIGN_ECDSA, audit);
	sign_and_check(ks, "p384-key", KS_SIGN_ECDSA, p384);
	sign_and_check(ks, "station-ca-link", KS_SIGN_RSA_PKCS1, rsa);
	sign_and_check(ks, "station-ca-link", KS_SIGN_RSA_PSS, rsa);
	sign_and_check(ks, "station-ca-link", KS_SIGN_RSA_RAW, rsa);

	digest("x", h);
	siglen = sizeof(sig);
	assert_int_equal(ks_sign(ks, "nosuchkey", KS_SIGN_ECDSA, h, 32, sig, &siglen),
	    KS_ERR_NOKEY);
	assert_int_equal(ks_sign(ks, "station-ca-link", KS_SIGN_ECDSA, h, 32, sig, &siglen),
	    KS_ERR_MECH);
	assert_int_equal(ks_sign(ks, "cardmgr-audit", KS_SIGN_RSA_PKCS1, h, 32, sig, &siglen),
	    KS_ERR_MECH);
	assert_int_equal(ks_sign(ks, "station-ca-link", KS_SIGN_RSA_PSS, h, 20, sig, &siglen),
	    KS_ERR_ARG);
	assert_int_equal(ks_sign(ks, "station-ca-link", 9, h, 32, sig, &siglen), KS_ERR_ARG);
	siglen = 255;
	assert_int_equal(ks_sign(ks, "station-ca-link", KS_SIGN_RSA_PSS, h, 32, sig, &siglen),
	    KS_ERR_NOSPACE);
	siglen = 8;
	assert_int_equal(ks_sign(ks, "cardmgr-audit", KS_SIGN_ECDSA, h, 32, sig, &siglen),
	    KS_ERR_NOSPACE);
	assert_int_equal(ks_pubkey(ks, "nosuchkey", &pub), KS_ERR_NOKEY);
	assert_null(pub);
	close_ks(ks);

	/* the station keys: signing only, never extractable */
	list = kstoken_list_objects(&tok);
	assert_non_null(list);
	blk = object_block(list, "Private Key Object; RSA", "station-ca-link");
	assert_non_null(blk);
	assert_non_null(strstr(blk, "never extractable"));
	assert_non_null(strstr(blk, "Usage:      sign"));
	assert_null(strstr(blk, "decrypt"));
	free(blk);
	free(list);
	EVP_PKEY_free(audit);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

/* More versions than one C_FindObjects chunk (64): the search pages. */
static void
test_many_versions(void **state)
{
	uint8_t k1[24], again[24];
	uint32_t v = 0, prev = 0;
	struct ks *ks;

	(void)state;
	ks = open_ks();
	assert_int_equal(ks_master_current(ks, &prev), KS_OK);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, k1, 24), KS_OK);
	while (prev < 70) {
		assert_int_equal(ks_master_create(ks, &v), KS_OK);
		assert_int_equal(v, prev + 1);
		prev = v;
	}
	close_ks(ks);
	ks = open_ks();
	assert_int_equal(ks_master_current(ks, &v), KS_OK);
	assert_int_equal(v, 70);
	assert_int_equal(ks_derive_mgmt_key(ks, 1, guid_a, PIV_ALG_AES192, again, 24), KS_OK);
	assert_memory_equal(k1, again, 24);
	assert_int_equal(ks_derive_mgmt_key(ks, 70, guid_a, PIV_ALG_AES192, again, 24), KS_OK);
	assert_memory_not_equal(k1, again, 24);
	close_ks(ks);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_open_errors, after_each),
		cmocka_unit_test_teardown(test_login_detail, after_each),
		cmocka_unit_test_teardown(test_master_and_derive, after_each),
		cmocka_unit_test_teardown(test_mgmt_crypt, after_each),
		cmocka_unit_test_teardown(test_escrow, after_each),
		cmocka_unit_test_teardown(test_sign, after_each),
		cmocka_unit_test_teardown(test_many_versions, after_each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
