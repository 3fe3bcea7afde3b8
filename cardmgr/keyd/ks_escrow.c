/*
 * ks_escrow: key recovery keys and escrow of the card's 9D private key.
 *
 * The 9D key is generated here (not on the card) so that it can be escrowed:
 * its PKCS#8 DER is sealed with a fresh AES-256-GCM content key, and the
 * content key is wrapped with RSA-OAEP-SHA256 to the public half of the key
 * recovery key (KRK). Only the token can unwrap it again. See ks.h and
 * docs/keystore.md for the blob format.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "ks_int.h"

#define CEK_LEN	32

int
ks_krk_current(struct ks *ks, uint32_t *version)
{
	int rc;

	if (ks == NULL || version == NULL)
		return KS_ERR_ARG;
	if ((rc = ks_max_version(ks, CKO_PRIVATE_KEY, KS_KRK_PREFIX, version)) != KS_OK)
		return rc;
	return *version == 0 ? KS_ERR_NOKEY : KS_OK;
}

int
ks_krk_create(struct ks *ks, uint32_t *version)
{
	char label[KS_LABEL_MAX];
	uint32_t cur = 0;
	int rc;

	if (ks == NULL || version == NULL)
		return KS_ERR_ARG;
	*version = 0;
	if ((rc = ks_max_version(ks, CKO_PRIVATE_KEY, KS_KRK_PREFIX, &cur)) != KS_OK)
		return rc;
	if (cur >= 999999999u)
		return KS_ERR_ARG;
	if ((rc = ks_versioned_label(label, sizeof(label), KS_KRK_PREFIX, cur + 1)) != KS_OK ||
	    (rc = ks_gen_pair(ks, label, KS_KEY_RSA2048, 3072, 1)) != KS_OK)
		return rc;
	*version = cur + 1;
	return KS_OK;
}

static EVP_PKEY *
keygen(int type)
{
	switch (type) {
	case KS_KEY_RSA2048:	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case KS_KEY_P256:	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case KS_KEY_P384:	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	default:		return NULL;
	}
}

/* Does k have the type the blob header names? A mismatch is a forged header. */
static int
key_matches(EVP_PKEY *k, int type)
{
	char group[16];
	size_t gl = 0;

	switch (type) {
	case KS_KEY_RSA2048:
		return EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) == 2048;
	case KS_KEY_P256:
	case KS_KEY_P384:
		if (!EVP_PKEY_is_a(k, "EC") ||
		    EVP_PKEY_get_group_name(k, group, sizeof(group), &gl) != 1)
			return 0;
		return strcmp(group, type == KS_KEY_P256 ? "prime256v1" : "secp384r1") == 0 ||
		    strcmp(group, type == KS_KEY_P256 ? "P-256" : "P-384") == 0;
	default:
		return 0;
	}
}

/* [out] *der: PKCS#8 PrivateKeyInfo, OPENSSL_clear_free(*der, *len). */
static int
pkcs8_der(EVP_PKEY *k, uint8_t **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	int n, rc = KS_ERR_CRYPTO;

	*der = NULL;
	if ((p8 = EVP_PKEY2PKCS8(k)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, der)) <= 0)
		goto out;
	*len = (size_t)n;
	rc = KS_OK;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

/* GCM over aad1 || aad2: the blob header, then the caller's card binding. */
static int
gcm(int enc, const uint8_t cek[CEK_LEN], const uint8_t *nonce,
    const uint8_t *aad1, size_t aad1len, const uint8_t *aad2, size_t aad2len,
    const uint8_t *in, size_t inlen, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, fin = 0, rc = KS_ERR_CRYPTO;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KS_ESCROW_NONCE, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, cek, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad1, (int)aad1len) != 1 ||
	    (aad2len > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad2, (int)aad2len) != 1) ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1 || (size_t)n != inlen)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KS_ESCROW_TAG,
	    (void *)tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1 || fin != 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KS_ESCROW_TAG, tag) != 1)
		goto out;
	rc = KS_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label, to the KRK's public key. */
static int
oaep_wrap(EVP_PKEY *krk, const uint8_t cek[CEK_LEN], uint8_t *out, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = NULL;
	int rc = KS_ERR_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, krk, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_encrypt(ctx, out, outlen, cek, CEK_LEN) != 1)
		goto out;
	rc = KS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* The current KRK's version and public key. */
static int
krk_public(struct ks *ks, uint32_t *v, EVP_PKEY **pub)
{
	char label[KS_LABEL_MAX];
	CK_OBJECT_HANDLE h;
	int rc;

	if ((rc = ks_krk_current(ks, v)) != KS_OK ||
	    (rc = ks_versioned_label(label, sizeof(label), KS_KRK_PREFIX, *v)) != KS_OK ||
	    (rc = ks_find(ks, CKO_PUBLIC_KEY, label, &h)) != KS_OK)
		return rc;
	rc = ks_pub_from_object(ks, h, pub);
	if (rc == KS_OK && (!EVP_PKEY_is_a(*pub, "RSA") ||
	    EVP_PKEY_get_size(*pub) > (int)KS_ESCROW_WRAPPED_MAX)) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		rc = KS_ERR_MECH;
	}
	return rc;
}

/*
 * magic | format | key type | KRK version | wrapped length | wrapped | nonce |
 * ciphertext length | ciphertext | tag; GCM seals pt under header || aad.
 */
static int
seal(uint32_t krk_v, int type, const uint8_t *wrapped, size_t wl,
    const uint8_t cek[CEK_LEN], const uint8_t *pt, size_t ptlen,
    const uint8_t *aad, size_t aadlen, uint8_t **blob, size_t *bloblen)
{
	uint8_t *mem = NULL, *nonce, *ct, *tag;
	struct buf_writer w;
	size_t cap = 4 + 1 + 1 + 4 + 2 + wl + KS_ESCROW_NONCE + 4 + ptlen + KS_ESCROW_TAG;
	size_t hl;
	int rc = KS_ERR_NOMEM;

	if (ptlen > KS_ESCROW_CT_MAX)
		return KS_ERR_CRYPTO;
	if ((mem = malloc(cap)) == NULL)
		goto out;
	buf_writer_init(&w, mem, cap);
	buf_put_bytes(&w, KS_ESCROW_MAGIC, 4);
	buf_put_u8(&w, KS_ESCROW_FORMAT);
	buf_put_u8(&w, (uint8_t)type);
	buf_put_u32be(&w, krk_v);
	buf_put_u16be(&w, (uint16_t)wl);
	buf_put_bytes(&w, wrapped, wl);
	hl = w.len;
	nonce = buf_reserve(&w, KS_ESCROW_NONCE);
	buf_put_u32be(&w, (uint32_t)ptlen);
	ct = buf_reserve(&w, ptlen);
	tag = buf_reserve(&w, KS_ESCROW_TAG);
	rc = KS_ERR_CRYPTO;
	if (buf_writer_error(&w) != BUF_OK || w.len != cap ||
	    RAND_bytes(nonce, KS_ESCROW_NONCE) != 1 ||
	    gcm(1, cek, nonce, mem, hl, aad, aadlen, pt, ptlen, ct, tag) != KS_OK)
		goto out;
	*blob = mem;
	*bloblen = cap;
	mem = NULL;
	rc = KS_OK;
out:
	free(mem);
	return rc;
}

int
ks_escrow_generate(struct ks *ks, int alg, const uint8_t *aad, size_t aadlen,
    uint8_t **blob, size_t *bloblen, EVP_PKEY **priv)
{
	EVP_PKEY *krk = NULL, *k = NULL;
	uint8_t cek[CEK_LEN], wrapped[KS_ESCROW_WRAPPED_MAX], *der = NULL;
	size_t wl = sizeof(wrapped), derlen = 0;
	uint32_t v = 0;
	int rc;

	if (blob == NULL || bloblen == NULL || priv == NULL)
		return KS_ERR_ARG;
	*blob = NULL;
	*bloblen = 0;
	*priv = NULL;
	if (ks == NULL || (aad == NULL && aadlen > 0) || aadlen > 1024)
		return KS_ERR_ARG;
	if ((rc = krk_public(ks, &v, &krk)) != KS_OK)
		goto out;
	rc = KS_ERR_ARG;
	if ((k = keygen(alg)) == NULL)
		goto out;
	rc = KS_ERR_CRYPTO;
	if (RAND_priv_bytes(cek, sizeof(cek)) != 1 ||
	    (rc = oaep_wrap(krk, cek, wrapped, &wl)) != KS_OK ||
	    (rc = pkcs8_der(k, &der, &derlen)) != KS_OK ||
	    (rc = seal(v, alg, wrapped, wl, cek, der, derlen, aad, aadlen, blob,
	    bloblen)) != KS_OK)
		goto out;
	*priv = k;
	k = NULL;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_clear_free(der, derlen);
	EVP_PKEY_free(k);
	EVP_PKEY_free(krk);
	return rc;
}

/*
 * RSA-OAEP-SHA256 done by the token itself. CKR_MECHANISM_PARAM_INVALID and
 * friends mean this token has no OAEP with SHA-256 (SoftHSM2 2.6 does SHA-1
 * only and says CKR_ARGUMENTS_BAD): KS_ERR_MECH, try raw_unwrap.
 */
static int
oaep_token(struct ks *ks, CK_OBJECT_HANDLE h, const struct ks_escrow *e,
    uint8_t *out, CK_ULONG *ol)
{
	CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED,
		NULL, 0 };
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	CK_RV rv;

	rv = ks->f->C_DecryptInit(ks->s, &m, h);
	if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
	    rv == CKR_MECHANISM_INVALID)
		return ks_p11_fail(ks, "C_DecryptInit", rv, KS_ERR_MECH);
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_DecryptInit", rv, KS_ERR_TOKEN);
	rv = ks->f->C_Decrypt(ks->s, (CK_BYTE_PTR)e->wrapped, e->wrapped_len, out, ol);
	/* A wrapped key that does not decrypt: tampered, or another KRK's. */
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_Decrypt", rv, KS_ERR_CRYPTO);
	return KS_OK;
}

/*
 * The fallback: the token does the RSA private operation (CKM_RSA_X_509; the
 * KRK never leaves it) and OpenSSL's constant-time OAEP check removes the
 * SHA-256 padding here. The blob format is the same either way.
 */
static int
oaep_raw(struct ks *ks, CK_OBJECT_HANDLE h, const struct ks_escrow *e,
    uint8_t *out, CK_ULONG *ol)
{
	CK_MECHANISM m = { CKM_RSA_X_509, NULL, 0 };
	uint8_t em[KS_ESCROW_WRAPPED_MAX];
	CK_ULONG el = sizeof(em);
	size_t k = e->wrapped_len;
	int n, rc = KS_ERR_CRYPTO;
	CK_RV rv;

	if ((rv = ks->f->C_DecryptInit(ks->s, &m, h)) != CKR_OK)
		return ks_p11_fail(ks, "C_DecryptInit", rv, KS_ERR_TOKEN);
	rv = ks->f->C_Decrypt(ks->s, (CK_BYTE_PTR)e->wrapped, e->wrapped_len, em, &el);
	if (rv != CKR_OK) {
		rc = ks_p11_fail(ks, "C_Decrypt", rv, KS_ERR_CRYPTO);
		goto out;
	}
	if (el > k)
		goto out;
	/* Some tokens drop leading zero bytes of the integer: put them back. */
	memmove(em + (k - el), em, el);
	memset(em, 0, k - el);
	n = RSA_padding_check_PKCS1_OAEP_mgf1(out, (int)*ol, em, (int)k, (int)k,
	    NULL, 0, EVP_sha256(), EVP_sha256());
	if (n < 0)
		goto out;
	*ol = (CK_ULONG)n;
	rc = KS_OK;
out:
	OPENSSL_cleanse(em, sizeof(em));
	return rc;
}

/* The content key, unwrapped with the KRK the blob names. */
static int
oaep_unwrap(struct ks *ks, const struct ks_escrow *e, uint8_t cek[CEK_LEN])
{
	char label[KS_LABEL_MAX];
	uint8_t out[KS_ESCROW_WRAPPED_MAX];
	CK_ULONG ol = sizeof(out);
	CK_OBJECT_HANDLE h;
	int rc;

	if ((rc = ks_versioned_label(label, sizeof(label), KS_KRK_PREFIX,
	    e->krk_version)) != KS_OK ||
	    (rc = ks_find(ks, CKO_PRIVATE_KEY, label, &h)) != KS_OK)
		return rc;
	rc = oaep_token(ks, h, e, out, &ol);
	if (rc == KS_ERR_MECH) {
		ol = sizeof(out);
		rc = oaep_raw(ks, h, e, out, &ol);
	}
	if (rc == KS_OK && ol != CEK_LEN)
		rc = KS_ERR_CRYPTO;
	if (rc == KS_OK)
		memcpy(cek, out, CEK_LEN);
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

int
ks_escrow_recover(struct ks *ks, const uint8_t *blob, size_t len,
    const uint8_t *aad, size_t aadlen, EVP_PKEY **priv)
{
	struct ks_escrow e;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	uint8_t cek[CEK_LEN], *pt = NULL;
	const unsigned char *p;
	EVP_PKEY *k = NULL;
	int rc;

	if (priv == NULL)
		return KS_ERR_ARG;
	*priv = NULL;
	if (ks == NULL || (aad == NULL && aadlen > 0) || aadlen > 1024)
		return KS_ERR_ARG;
	if ((rc = ks_escrow_parse(blob, len, &e)) != KS_OK)
		return rc;
	rc = KS_ERR_NOMEM;
	if ((pt = OPENSSL_malloc(e.ct_len)) == NULL)
		goto out;
	if ((rc = oaep_unwrap(ks, &e, cek)) != KS_OK ||
	    (rc = gcm(0, cek, e.nonce, e.header, e.header_len, aad, aadlen, e.ct,
	    e.ct_len, pt, (uint8_t *)e.tag)) != KS_OK)
		goto out;
	rc = KS_ERR_CRYPTO;
	p = pt;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)e.ct_len)) == NULL ||
	    p != pt + e.ct_len || (k = EVP_PKCS82PKEY(p8)) == NULL ||
	    !key_matches(k, e.key_type))
		goto out;
	*priv = k;
	k = NULL;
	rc = KS_OK;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_clear_free(pt, e.ct_len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(k);
	return rc;
}
