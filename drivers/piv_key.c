/*
 * piv_key: key operations: management key authentication and change, GENERATE,
 * IMPORT, signing through GENERAL AUTHENTICATE, ATTEST, GET METADATA and CSRs
 * signed by the card. See piv.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "piv.h"
#include "piv_int.h"
#include "tlv.h"

/* ---- management key ---------------------------------------------------- */

size_t
piv_mgmt_block(int alg)
{
	switch (alg) {
	case PIV_ALG_3DES: return 8;
	case PIV_ALG_AES128:
	case PIV_ALG_AES192:
	case PIV_ALG_AES256: return 16;
	default: return 0;
	}
}

static const EVP_CIPHER *
mgmt_cipher(int alg, size_t keylen)
{
	switch (alg) {
	case PIV_ALG_3DES: return keylen == 24 ? EVP_des_ede3_ecb() : NULL;
	case PIV_ALG_AES128: return keylen == 16 ? EVP_aes_128_ecb() : NULL;
	case PIV_ALG_AES192: return keylen == 24 ? EVP_aes_192_ecb() : NULL;
	case PIV_ALG_AES256: return keylen == 32 ? EVP_aes_256_ecb() : NULL;
	default: return NULL;
	}
}

int
piv_mgmt_cipher(int alg, const uint8_t *key, size_t keylen, int enc,
    const uint8_t *in, uint8_t *out, size_t blocklen)
{
	const EVP_CIPHER *c = mgmt_cipher(alg, keylen);
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, rc = PIV_ERR_CRYPTO;

	if (c == NULL || blocklen != piv_mgmt_block(alg))
		return PIV_ERR_INVALID;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return PIV_ERR_NOMEM;
	if (EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n, in, (int)blocklen) == 1 &&
	    (size_t)n == blocklen)
		rc = PIV_OK;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/*
 * The block operations of a mutual authentication, done by whoever holds the
 * key: piv_auth_mgmt's OpenSSL callback here, or keyd through
 * piv_auth_mgmt_cb so that the process talking to the card never sees the key.
 */
struct mgmt_crypt {
	piv_mgmt_crypt_fn fn;
	void *arg;
};

static int
mgmt_crypt(const struct mgmt_crypt *mc, int enc, const uint8_t *in, uint8_t *out,
    size_t bl)
{
	return mc->fn(mc->arg, enc, in, out, bl) == 0 ? PIV_OK : PIV_ERR_CRYPTO;
}

/* Step 1: ask for the witness, return it decrypted in wit. */
static int
auth_witness(struct piv_card *card, int alg, const struct mgmt_crypt *mc,
    uint8_t *wit, size_t bl)
{
	static const uint8_t req[] = { 0x7C, 0x02, 0x80, 0x00 };
	uint8_t *rsp = NULL;
	size_t len = 0;
	struct tlv t, w;
	int rc;

	rc = piv_xfer(card, 0x87, (uint8_t)alg, PIV_SLOT_MGMT, req, sizeof(req),
	    &rsp, &len, NULL);
	if (rc != PIV_OK)
		goto out;
	rc = PIV_ERR_MALFORMED;
	if (tlv_unwrap(rsp, len, 0x7C, &t) != TLV_OK ||
	    tlv_unwrap(t.val, t.len, 0x80, &w) != TLV_OK || w.len != bl)
		goto out;
	rc = mgmt_crypt(mc, 0, w.val, wit, bl);
out:
	apdu_free(rsp, len);
	return rc;
}

/* Step 2: return the witness with our challenge; check the card's answer. */
static int
auth_challenge(struct piv_card *card, int alg, const struct mgmt_crypt *mc,
    const uint8_t *wit, size_t bl)
{
	uint8_t chal[16], expect[16], cmd[40], *rsp = NULL;
	struct buf_writer w;
	size_t len = 0;
	struct tlv t, r;
	int rc = PIV_ERR_CRYPTO;

	if (RAND_bytes(chal, (int)bl) != 1 ||
	    mgmt_crypt(mc, 1, chal, expect, bl) != PIV_OK)
		goto out;
	buf_writer_init(&w, cmd, sizeof(cmd));
	tlv_put_header(&w, 0x7C, 2 * (bl + 2));
	tlv_put(&w, 0x80, wit, bl);
	tlv_put(&w, 0x81, chal, bl);
	rc = piv_xfer(card, 0x87, (uint8_t)alg, PIV_SLOT_MGMT, cmd, w.len, &rsp, &len, NULL);
	if (rc == PIV_ERR_AUTH_REQUIRED || rc == PIV_ERR_WRONG_DATA)
		rc = PIV_ERR_AUTH_FAILED;	/* the card did not accept our witness */
	if (rc != PIV_OK)
		goto out;
	rc = PIV_ERR_MALFORMED;
	if (tlv_unwrap(rsp, len, 0x7C, &t) != TLV_OK ||
	    tlv_unwrap(t.val, t.len, 0x82, &r) != TLV_OK || r.len != bl)
		goto out;
	/* A card that cannot encrypt our challenge does not hold the key. */
	rc = CRYPTO_memcmp(r.val, expect, bl) == 0 ? PIV_OK : PIV_ERR_AUTH_FAILED;
out:
	OPENSSL_cleanse(cmd, sizeof(cmd));
	OPENSSL_cleanse(expect, sizeof(expect));
	apdu_free(rsp, len);
	return rc;
}

int
piv_auth_mgmt_cb(struct piv_card *card, int alg, piv_mgmt_crypt_fn crypt, void *arg)
{
	struct mgmt_crypt mc = { crypt, arg };
	uint8_t wit[16];
	size_t bl = piv_mgmt_block(alg);
	int rc;

	if (crypt == NULL || bl == 0)
		return PIV_ERR_INVALID;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	rc = auth_witness(card, alg, &mc, wit, bl);
	if (rc == PIV_ERR_AUTH_REQUIRED || rc == PIV_ERR_NOT_SUPPORTED)
		rc = PIV_ERR_AUTH_FAILED;	/* e.g. wrong algorithm for the key */
	if (rc == PIV_OK)
		rc = auth_challenge(card, alg, &mc, wit, bl);
	if (rc == PIV_OK)
		card->auth_state = 1;
	OPENSSL_cleanse(wit, sizeof(wit));
	return piv_op_end(card, rc);
}

/* piv_auth_mgmt's block operations: the key is in this process. */
struct mgmt_key {
	int alg;
	const uint8_t *key;
	size_t keylen;
};

static int
mgmt_key_crypt(void *arg, int enc, const uint8_t *in, uint8_t *out, size_t bl)
{
	const struct mgmt_key *k = arg;

	return piv_mgmt_cipher(k->alg, k->key, k->keylen, enc, in, out, bl) == PIV_OK ?
	    0 : -1;
}

int
piv_auth_mgmt(struct piv_card *card, int alg, const uint8_t *key, size_t keylen)
{
	struct mgmt_key k = { alg, key, keylen };

	if (key == NULL || mgmt_cipher(alg, keylen) == NULL)
		return PIV_ERR_INVALID;
	return piv_auth_mgmt_cb(card, alg, mgmt_key_crypt, &k);
}

int
piv_set_mgmt_key(struct piv_card *card, int alg, const uint8_t *key, size_t keylen,
    int touch)
{
	uint8_t cmd[3 + 32];
	int rc;

	if (key == NULL || mgmt_cipher(alg, keylen) == NULL)
		return PIV_ERR_INVALID;
	cmd[0] = (uint8_t)alg;
	cmd[1] = PIV_SLOT_MGMT;
	cmd[2] = (uint8_t)keylen;
	memcpy(cmd + 3, key, keylen);
	if ((rc = piv_op_begin(card)) == PIV_OK)
		rc = piv_op_end(card, piv_xfer(card, 0xFF, 0xFF, touch ? 0xFE : 0xFF,
		    cmd, 3 + keylen, NULL, NULL, NULL));
	OPENSSL_cleanse(cmd, sizeof(cmd));
	return rc;
}

/* ---- GENERATE / IMPORT ------------------------------------------------- */

static int
key_slot_ok(int slot)
{
	return slot == PIV_SLOT_AUTH || slot == PIV_SLOT_SIGN ||
	    slot == PIV_SLOT_KEYMGMT || slot == PIV_SLOT_CARDAUTH ||
	    (slot >= PIV_SLOT_RETIRED1 && slot <= PIV_SLOT_RETIRED20);
}

static void
put_policies(struct buf_writer *w, int pin_policy, int touch_policy)
{
	uint8_t v;

	if (pin_policy != PIV_PIN_DEFAULT) {
		v = (uint8_t)pin_policy;
		tlv_put(w, 0xAA, &v, 1);
	}
	if (touch_policy != PIV_TOUCH_DEFAULT) {
		v = (uint8_t)touch_policy;
		tlv_put(w, 0xAB, &v, 1);
	}
}

static int
policies_ok(int pin_policy, int touch_policy)
{
	return pin_policy >= PIV_PIN_DEFAULT && pin_policy <= PIV_PIN_ALWAYS &&
	    touch_policy >= PIV_TOUCH_DEFAULT && touch_policy <= PIV_TOUCH_CACHED;
}

int
piv_generate(struct piv_card *card, int slot, int alg, int pin_policy,
    int touch_policy, EVP_PKEY **pub)
{
	uint8_t cmd[16], a = (uint8_t)alg, *rsp = NULL;
	struct buf_writer w;
	size_t len = 0;
	int rc;

	if (pub == NULL)
		return PIV_ERR_INVALID;
	*pub = NULL;
	if (!key_slot_ok(slot) || piv_alg_bits(alg) == 0 ||
	    !policies_ok(pin_policy, touch_policy))
		return PIV_ERR_INVALID;
	buf_writer_init(&w, cmd, sizeof(cmd));
	tlv_put_header(&w, 0xAC, 3 + (pin_policy ? 3 : 0) + (touch_policy ? 3 : 0));
	tlv_put(&w, 0x80, &a, 1);
	put_policies(&w, pin_policy, touch_policy);
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	rc = piv_xfer(card, 0x47, 0x00, (uint8_t)slot, cmd, w.len, &rsp, &len, NULL);
	if (rc == PIV_OK)
		rc = piv_pubkey_parse(alg, rsp, len, pub);
	free(rsp);
	return piv_op_end(card, rc);
}

/* Append BN b as a TLV of exactly n bytes (left zero padded). */
static int
put_bn(struct buf_writer *w, uint32_t tag, const BIGNUM *b, size_t n)
{
	uint8_t *p;

	if (b == NULL || (size_t)BN_num_bytes(b) > n)
		return PIV_ERR_INVALID;
	tlv_put_header(w, tag, n);
	if ((p = buf_reserve(w, n)) == NULL)
		return PIV_ERR_INVALID;
	return BN_bn2binpad(b, p, (int)n) == (int)n ? PIV_OK : PIV_ERR_CRYPTO;
}

static int
key_alg(EVP_PKEY *k)
{
	char group[32];
	size_t glen = 0;

	if (EVP_PKEY_is_a(k, "RSA")) {
		switch (EVP_PKEY_get_bits(k)) {
		case 1024: return PIV_ALG_RSA1024;
		case 2048: return PIV_ALG_RSA2048;
		case 3072: return PIV_ALG_RSA3072;
		case 4096: return PIV_ALG_RSA4096;
		default: return 0;
		}
	}
	if (EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_utf8_string_param(k,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) == 1) {
		if (strcmp(group, "prime256v1") == 0)
			return PIV_ALG_ECCP256;
		if (strcmp(group, "secp384r1") == 0)
			return PIV_ALG_ECCP384;
	}
	return 0;
}

static int
put_private(struct buf_writer *w, EVP_PKEY *k, int alg)
{
	static const char *const rsa[5] = { OSSL_PKEY_PARAM_RSA_FACTOR1,
		OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
		OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 };
	BIGNUM *b = NULL;
	size_t n = (size_t)piv_alg_bits(alg) / 8;
	int i, rc = PIV_OK;

	if (alg == PIV_ALG_ECCP256 || alg == PIV_ALG_ECCP384) {
		if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &b) != 1)
			return PIV_ERR_INVALID;
		rc = put_bn(w, 0x06, b, n);
		BN_clear_free(b);
		return rc;
	}
	for (i = 0; i < 5 && rc == PIV_OK; i++) {
		if (EVP_PKEY_get_bn_param(k, rsa[i], &b) != 1)
			return PIV_ERR_INVALID;	/* not a CRT private key */
		rc = put_bn(w, (uint32_t)(i + 1), b, n / 2);
		BN_clear_free(b);
		b = NULL;
	}
	return rc;
}

int
piv_import_key(struct piv_card *card, int slot, EVP_PKEY *priv, int pin_policy,
    int touch_policy)
{
	uint8_t *cmd = NULL;
	struct buf_writer w;
	const size_t cap = 2048;
	int alg, rc;

	if (priv == NULL || !key_slot_ok(slot) || (alg = key_alg(priv)) == 0 ||
	    !policies_ok(pin_policy, touch_policy))
		return PIV_ERR_INVALID;
	if ((cmd = malloc(cap)) == NULL)
		return PIV_ERR_NOMEM;
	buf_writer_init(&w, cmd, cap);
	if ((rc = put_private(&w, priv, alg)) != PIV_OK)
		goto out;
	put_policies(&w, pin_policy, touch_policy);
	rc = PIV_ERR_INVALID;
	if (buf_writer_error(&w) != BUF_OK)
		goto out;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		goto out;
	rc = piv_op_end(card, piv_xfer(card, 0xFE, (uint8_t)alg, (uint8_t)slot, cmd,
	    w.len, NULL, NULL, NULL));
out:
	OPENSSL_cleanse(cmd, cap);
	free(cmd);
	return rc;
}

/* ---- signing ------------------------------------------------------------ */

/* DigestInfo prefixes (RFC 8017 section 9.2, note 1). */
static int
digest_info(const EVP_MD *md, const uint8_t *h, size_t hl, uint8_t *out, size_t *len)
{
	static const uint8_t p256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
		0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	static const uint8_t p384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
		0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
	static const uint8_t p512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
		0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };
	const uint8_t *p;

	switch (EVP_MD_get_type(md)) {
	case NID_sha256: p = p256; break;
	case NID_sha384: p = p384; break;
	case NID_sha512: p = p512; break;
	default: return PIV_ERR_NOT_SUPPORTED;
	}
	if (hl != p[sizeof(p256) - 1])
		return PIV_ERR_INVALID;
	memcpy(out, p, sizeof(p256));
	memcpy(out + sizeof(p256), h, hl);
	*len = sizeof(p256) + hl;
	return PIV_OK;
}

/* The block the card's raw RSA operation gets: padded to the modulus size. */
static int
rsa_block(EVP_PKEY *pub, const EVP_MD *md, int padding, const uint8_t *h,
    size_t hl, uint8_t *blk, size_t k)
{
	uint8_t di[128];
	size_t dl = 0;
	const RSA *rsa;
	int rc;

	if (padding == PIV_PAD_PKCS1) {
		if ((rc = digest_info(md, h, hl, di, &dl)) != PIV_OK)
			return rc;
		return RSA_padding_add_PKCS1_type_1(blk, (int)k, di, (int)dl) == 1 ?
		    PIV_OK : PIV_ERR_CRYPTO;
	}
	if (padding != PIV_PAD_PSS || (rsa = EVP_PKEY_get0_RSA(pub)) == NULL)
		return PIV_ERR_INVALID;
	return RSA_padding_add_PKCS1_PSS_mgf1((RSA *)(uintptr_t)rsa, blk, h, md, md,
	    RSA_PSS_SALTLEN_DIGEST) == 1 ? PIV_OK : PIV_ERR_CRYPTO;
}

/* GENERAL AUTHENTICATE 7C { 82 00, 81 in } -> 7C { 82 out }. */
static int
gen_auth(struct piv_card *card, int alg, int slot, const uint8_t *in, size_t inlen,
    uint8_t **out, size_t *outlen)
{
	uint8_t *cmd = NULL, *rsp = NULL;
	struct buf_writer w;
	size_t cap = inlen + 16, len = 0;
	struct tlv t, r;
	int rc = PIV_ERR_NOMEM;

	if ((cmd = malloc(cap)) == NULL)
		goto out;
	buf_writer_init(&w, cmd, cap);
	tlv_put_header(&w, 0x7C, 2 + tlv_size(0x81, inlen));
	tlv_put(&w, 0x82, NULL, 0);
	tlv_put(&w, 0x81, in, inlen);
	rc = piv_xfer(card, 0x87, (uint8_t)alg, (uint8_t)slot, cmd, w.len, &rsp, &len, NULL);
	if (rc != PIV_OK)
		goto out;
	rc = PIV_ERR_MALFORMED;
	if (tlv_unwrap(rsp, len, 0x7C, &t) != TLV_OK ||
	    tlv_unwrap(t.val, t.len, 0x82, &r) != TLV_OK || r.len == 0)
		goto out;
	rc = PIV_ERR_NOMEM;
	if ((*out = malloc(r.len)) == NULL)
		goto out;
	memcpy(*out, r.val, r.len);
	*outlen = r.len;
	rc = PIV_OK;
out:
	if (cmd != NULL)
		OPENSSL_cleanse(cmd, cap);
	free(cmd);
	apdu_free(rsp, len);
	return rc;
}

/* Check the card's signature with the public key: catches a wrong slot/key. */
static int
check_sig(EVP_PKEY *pub, const EVP_MD *md, int padding, const uint8_t *h, size_t hl,
    const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *vc;
	int ok = 0;

	if ((vc = EVP_PKEY_CTX_new(pub, NULL)) == NULL)
		return PIV_ERR_NOMEM;
	if (EVP_PKEY_verify_init(vc) == 1 && EVP_PKEY_CTX_set_signature_md(vc, md) == 1 &&
	    (!EVP_PKEY_is_a(pub, "RSA") || (EVP_PKEY_CTX_set_rsa_padding(vc,
	    padding == PIV_PAD_PSS ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1 &&
	    (padding != PIV_PAD_PSS || EVP_PKEY_CTX_set_rsa_pss_saltlen(vc,
	    RSA_PSS_SALTLEN_DIGEST) == 1))))
		ok = EVP_PKEY_verify(vc, sig, siglen, h, hl) == 1;
	EVP_PKEY_CTX_free(vc);
	return ok ? PIV_OK : PIV_ERR_BAD_SIGNATURE;
}

static int
sign_rsa(struct piv_card *card, int alg, int slot, EVP_PKEY *pub, const EVP_MD *md,
    int padding, const uint8_t *h, size_t hl, uint8_t **sig, size_t *siglen)
{
	size_t k = (size_t)piv_alg_bits(alg) / 8, olen = 0;
	uint8_t *blk, *o = NULL;
	int rc;

	if ((blk = malloc(k)) == NULL)
		return PIV_ERR_NOMEM;
	if ((rc = rsa_block(pub, md, padding, h, hl, blk, k)) == PIV_OK)
		rc = gen_auth(card, alg, slot, blk, k, &o, &olen);
	if (rc == PIV_OK && olen > k)
		rc = PIV_ERR_MALFORMED;
	if (rc == PIV_OK && (*sig = calloc(1, k)) == NULL)
		rc = PIV_ERR_NOMEM;
	if (rc == PIV_OK) {
		memcpy(*sig + (k - olen), o, olen);	/* left-pad a short result */
		*siglen = k;
	}
	OPENSSL_cleanse(blk, k);
	free(blk);
	free(o);
	return rc;
}

static int
sign_ec(struct piv_card *card, int alg, int slot, const uint8_t *h, size_t hl,
    uint8_t **sig, size_t *siglen)
{
	size_t fl = (size_t)piv_alg_bits(alg) / 8;
	uint8_t in[64];
	const uint8_t *p;
	ECDSA_SIG *es;
	int rc;

	/* ECDSA uses the leftmost field-size bytes of the hash; shorter ones as is. */
	memset(in, 0, sizeof(in));
	if (hl >= fl)
		memcpy(in, h, fl);
	else
		memcpy(in + (fl - hl), h, hl);
	if ((rc = gen_auth(card, alg, slot, in, fl, sig, siglen)) != PIV_OK)
		return rc;
	p = *sig;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)*siglen)) == NULL || p != *sig + *siglen) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		rc = PIV_ERR_MALFORMED;
	}
	ECDSA_SIG_free(es);
	return rc;
}

int
piv_sign(struct piv_card *card, int slot, EVP_PKEY *pub, const EVP_MD *md,
    int padding, const uint8_t *msg, size_t msglen, uint8_t **sig, size_t *siglen)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	int alg, rc;

	if (sig == NULL || siglen == NULL)
		return PIV_ERR_INVALID;
	*sig = NULL;
	*siglen = 0;
	if (pub == NULL || md == NULL || (msg == NULL && msglen > 0) ||
	    !key_slot_ok(slot) || (alg = key_alg(pub)) == 0)
		return PIV_ERR_INVALID;
	if (EVP_Digest(msg, msglen, h, &hl, md, NULL) != 1)
		return PIV_ERR_CRYPTO;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	if (EVP_PKEY_is_a(pub, "RSA"))
		rc = sign_rsa(card, alg, slot, pub, md, padding, h, hl, sig, siglen);
	else
		rc = sign_ec(card, alg, slot, h, hl, sig, siglen);
	rc = piv_op_end(card, rc);
	if (rc == PIV_OK)
		rc = check_sig(pub, md, padding, h, hl, *sig, *siglen);
	if (rc != PIV_OK) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
	}
	return rc;
}

/* ---- attestation, metadata ---------------------------------------------- */

int
piv_attest(struct piv_card *card, int slot, X509 **cert)
{
	uint8_t *rsp = NULL;
	size_t len = 0;
	int rc;

	if (cert == NULL)
		return PIV_ERR_INVALID;
	*cert = NULL;
	if (!key_slot_ok(slot))
		return PIV_ERR_INVALID;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	rc = piv_xfer(card, 0xF9, (uint8_t)slot, 0x00, NULL, 0, &rsp, &len, NULL);
	if (rc == PIV_OK)
		rc = piv_der_to_x509(rsp, len, cert);
	free(rsp);
	return piv_op_end(card, rc);
}

int
piv_get_metadata(struct piv_card *card, int slot, struct piv_metadata *out)
{
	uint8_t *rsp = NULL;
	size_t len = 0;
	int rc;

	if (out == NULL)
		return PIV_ERR_INVALID;
	out->pub = NULL;
	piv_metadata_clear(out);
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	rc = piv_xfer(card, 0xF7, 0x00, (uint8_t)slot, NULL, 0, &rsp, &len, NULL);
	if (rc == PIV_OK)
		rc = piv_metadata_parse(rsp, len, out);
	free(rsp);
	return piv_op_end(card, rc);
}

/* ---- CSR --------------------------------------------------------------- */

static int
csr_sign(struct piv_card *card, int slot, EVP_PKEY *pub, const EVP_MD *md,
    X509_REQ *req)
{
	uint8_t *tbs = NULL, *sig = NULL;
	size_t siglen = 0;
	ASN1_BIT_STRING *bs = NULL;
	X509_ALGOR *algo = NULL;
	int tlen, nid, rc;

	rc = PIV_ERR_NOT_SUPPORTED;
	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md),
	    EVP_PKEY_is_a(pub, "RSA") ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey))
		goto out;
	rc = PIV_ERR_CRYPTO;
	if ((tlen = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0)
		goto out;
	rc = piv_sign(card, slot, pub, md, PIV_PAD_PKCS1, tbs, (size_t)tlen, &sig, &siglen);
	if (rc != PIV_OK)
		goto out;
	rc = PIV_ERR_CRYPTO;
	if ((bs = ASN1_BIT_STRING_new()) == NULL || (algo = X509_ALGOR_new()) == NULL ||
	    !ASN1_BIT_STRING_set(bs, sig, (int)siglen) ||
	    !X509_ALGOR_set0(algo, OBJ_nid2obj(nid), EVP_PKEY_is_a(pub, "RSA") ?
	    V_ASN1_NULL : V_ASN1_UNDEF, NULL))
		goto out;
	/* A signature is a whole number of bytes: no unused bits. */
	bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	X509_REQ_set0_signature(req, bs);
	bs = NULL;
	if (!X509_REQ_set1_signature_algo(req, algo))
		goto out;
	rc = X509_REQ_verify(req, pub) == 1 ? PIV_OK : PIV_ERR_BAD_SIGNATURE;
out:
	ASN1_BIT_STRING_free(bs);
	X509_ALGOR_free(algo);
	OPENSSL_free(tbs);
	free(sig);
	return rc;
}

int
piv_make_csr(struct piv_card *card, int slot, EVP_PKEY *pub,
    const X509_NAME *subject, const EVP_MD *md, X509_REQ **req)
{
	X509_REQ *r = NULL;
	int rc = PIV_ERR_CRYPTO;

	if (req == NULL)
		return PIV_ERR_INVALID;
	*req = NULL;
	if (pub == NULL || subject == NULL || md == NULL)
		return PIV_ERR_INVALID;
	if ((r = X509_REQ_new()) == NULL || !X509_REQ_set_version(r, 0) ||
	    !X509_REQ_set_subject_name(r, subject) || !X509_REQ_set_pubkey(r, pub))
		goto out;
	if ((rc = csr_sign(card, slot, pub, md, r)) != PIV_OK)
		goto out;
	*req = r;
	r = NULL;
out:
	X509_REQ_free(r);
	return rc;
}
