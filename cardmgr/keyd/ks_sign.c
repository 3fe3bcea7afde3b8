/*
 * ks_sign: key pairs in the token (signing keys and key recovery keys), their
 * public keys, and signatures. See ks.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "buf.h"
#include "ks_int.h"

/* DER OBJECT IDENTIFIERs of the named curves (CKA_EC_PARAMS). */
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22 };

/* ---- generation ---------------------------------------------------------- */

int
ks_gen_pair(struct ks *ks, const char *label, int type, CK_ULONG rsa_bits,
    int for_encryption)
{
	static const uint8_t f4[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL sign = for_encryption ? CK_FALSE : CK_TRUE;
	CK_BBOOL crypt = for_encryption ? CK_TRUE : CK_FALSE;
	CK_OBJECT_HANDLE hpub, hpriv;
	uint8_t id[16];
	CK_ATTRIBUTE pub[8], priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_DECRYPT, &crypt, sizeof(crypt) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_ULONG np = 0;
	CK_RV rv;

	if (RAND_bytes(id, sizeof(id)) != 1)
		return KS_ERR_CRYPTO;
	pub[np++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_VERIFY, &sign, sizeof(sign) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &crypt, sizeof(crypt) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
	pub[np++] = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
	switch (type) {
	case KS_KEY_RSA2048:
		pub[np++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &rsa_bits, sizeof(rsa_bits) };
		pub[np++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4) };
		break;
	case KS_KEY_P256:
	case KS_KEY_P384:
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		if (type == KS_KEY_P256)
			pub[np++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256) };
		else
			pub[np++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)oid_p384, sizeof(oid_p384) };
		break;
	default:
		return KS_ERR_ARG;
	}
	rv = ks->f->C_GenerateKeyPair(ks->s, &mech, pub, np, priv,
	    sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_GenerateKeyPair", rv, KS_ERR_TOKEN);
	return KS_OK;
}

static int
label_ok(const char *label)
{
	size_t n = label != NULL ? strlen(label) : 0;

	return n > 0 && n < KS_LABEL_MAX;
}

int
ks_keypair_create(struct ks *ks, const char *label, int type)
{
	CK_OBJECT_HANDLE h;
	int rc;

	if (ks == NULL || !label_ok(label))
		return KS_ERR_ARG;
	/* Our own versioned names are made only by their create functions. */
	if (strncmp(label, "cardmgr-master-", 15) == 0 || strncmp(label, "cardmgr-krk-", 12) == 0)
		return KS_ERR_ARG;
	rc = ks_find(ks, CKO_PRIVATE_KEY, label, &h);
	if (rc == KS_OK)
		return KS_ERR_EXISTS;
	if (rc != KS_ERR_NOKEY)
		return rc;
	rc = ks_find(ks, CKO_PUBLIC_KEY, label, &h);
	if (rc == KS_OK)
		return KS_ERR_EXISTS;
	if (rc != KS_ERR_NOKEY)
		return rc;
	return ks_gen_pair(ks, label, type, 2048, 0);
}

/* ---- public keys --------------------------------------------------------- */

static int
pub_rsa(struct ks *ks, CK_OBJECT_HANDLE h, EVP_PKEY **pub)
{
	uint8_t *n = NULL, *e = NULL;
	size_t nl = 0, el = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int rc;

	if ((rc = ks_get_attr(ks, h, CKA_MODULUS, &n, &nl)) != KS_OK ||
	    (rc = ks_get_attr(ks, h, CKA_PUBLIC_EXPONENT, &e, &el)) != KS_OK)
		goto out;
	rc = KS_ERR_CRYPTO;
	if ((bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pub, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	rc = KS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return rc;
}

/*
 * CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (PKCS#11
 * 2.40); a few tokens give the bare point. Either way the point is checked by
 * OpenSSL when the key is built.
 */
static int
ec_point(const uint8_t *p, size_t len, const uint8_t **pt, size_t *ptlen)
{
	struct buf_reader r;
	uint8_t tag, l1, l2;

	buf_reader_init(&r, p, len);
	if (buf_get_u8(&r, &tag) != BUF_OK || buf_get_u8(&r, &l1) != BUF_OK)
		return KS_ERR_TOKEN;
	if (tag == 0x04 && l1 == 0x81 && buf_get_u8(&r, &l2) == BUF_OK)
		l1 = l2;
	else if (tag != 0x04 || l1 >= 0x80)
		return KS_ERR_TOKEN;
	if (buf_left(&r) != l1 || buf_get_ptr(&r, l1, pt) != BUF_OK)
		return KS_ERR_TOKEN;
	*ptlen = l1;
	return KS_OK;
}

static int
pub_ec(struct ks *ks, CK_OBJECT_HANDLE h, EVP_PKEY **pub)
{
	uint8_t *par = NULL, *pt = NULL;
	size_t parl = 0, ptl = 0, ql = 0;
	const uint8_t *q = NULL;
	const char *group;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int rc;

	if ((rc = ks_get_attr(ks, h, CKA_EC_PARAMS, &par, &parl)) != KS_OK ||
	    (rc = ks_get_attr(ks, h, CKA_EC_POINT, &pt, &ptl)) != KS_OK)
		goto out;
	rc = KS_ERR_MECH;
	if (parl == sizeof(oid_p256) && memcmp(par, oid_p256, parl) == 0)
		group = "P-256";
	else if (parl == sizeof(oid_p384) && memcmp(par, oid_p384, parl) == 0)
		group = "P-384";
	else
		goto out;
	if (ec_point(pt, ptl, &q, &ql) != KS_OK) {
		/* The bare-point form: 04 || X || Y. */
		q = pt;
		ql = ptl;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)q, ql);
	params[2] = OSSL_PARAM_construct_end();
	rc = KS_ERR_CRYPTO;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pub, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	rc = KS_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	free(par);
	free(pt);
	return rc;
}

int
ks_pub_from_object(struct ks *ks, CK_OBJECT_HANDLE h, EVP_PKEY **pub)
{
	uint8_t *v = NULL;
	size_t len = 0;
	CK_KEY_TYPE kt;
	int rc;

	*pub = NULL;
	if ((rc = ks_get_attr(ks, h, CKA_KEY_TYPE, &v, &len)) != KS_OK)
		return rc;
	rc = KS_ERR_TOKEN;
	if (len == sizeof(kt)) {
		memcpy(&kt, v, sizeof(kt));
		if (kt == CKK_RSA)
			rc = pub_rsa(ks, h, pub);
		else if (kt == CKK_EC)
			rc = pub_ec(ks, h, pub);
		else
			rc = KS_ERR_MECH;
	}
	free(v);
	return rc;
}

int
ks_pubkey(struct ks *ks, const char *label, EVP_PKEY **pub)
{
	CK_OBJECT_HANDLE h;
	int rc;

	if (pub == NULL)
		return KS_ERR_ARG;
	*pub = NULL;
	if (ks == NULL || !label_ok(label))
		return KS_ERR_ARG;
	if ((rc = ks_find(ks, CKO_PUBLIC_KEY, label, &h)) != KS_OK)
		return rc;
	return ks_pub_from_object(ks, h, pub);
}

/* ---- signing ------------------------------------------------------------- */

/* PKCS#11 gives r || s; everyone else (X.509, TLS, CMS) wants DER. */
static int
ecdsa_der(const uint8_t *rs, size_t len, uint8_t *sig, size_t *siglen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = sig;
	int n, rc = KS_ERR_CRYPTO;

	if (len == 0 || len % 2 != 0 || len > 132)
		return KS_ERR_TOKEN;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, (int)(len / 2), NULL)) == NULL ||
	    (s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0)
		goto out;
	rc = KS_ERR_NOSPACE;
	if ((size_t)n > *siglen)
		goto out;
	rc = KS_ERR_CRYPTO;
	if (i2d_ECDSA_SIG(es, &p) != n)
		goto out;
	*siglen = (size_t)n;
	rc = KS_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/*
 * Some tokens (SoftHSM2) accept C_SignInit with a mechanism of the wrong key
 * family and fail later with CKR_GENERAL_ERROR: ask first, answer KS_ERR_MECH.
 */
static int
key_type_is(struct ks *ks, CK_OBJECT_HANDLE h, CK_KEY_TYPE want)
{
	uint8_t *v = NULL;
	size_t len = 0;
	CK_KEY_TYPE kt;
	int rc;

	if ((rc = ks_get_attr(ks, h, CKA_KEY_TYPE, &v, &len)) != KS_OK)
		return rc;
	rc = KS_ERR_MECH;
	if (len == sizeof(kt)) {
		memcpy(&kt, v, sizeof(kt));
		if (kt == want)
			rc = KS_OK;
	}
	free(v);
	return rc;
}

static int
pss_params(size_t dlen, CK_RSA_PKCS_PSS_PARAMS *pp)
{
	switch (dlen) {
	case 32: pp->hashAlg = CKM_SHA256, pp->mgf = CKG_MGF1_SHA256; break;
	case 48: pp->hashAlg = CKM_SHA384, pp->mgf = CKG_MGF1_SHA384; break;
	case 64: pp->hashAlg = CKM_SHA512, pp->mgf = CKG_MGF1_SHA512; break;
	default: return KS_ERR_ARG;
	}
	pp->sLen = dlen;
	return KS_OK;
}

int
ks_sign(struct ks *ks, const char *label, int mech, const uint8_t *tbs,
    size_t tbslen, uint8_t *sig, size_t *siglen)
{
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_MECHANISM m = { 0, NULL, 0 };
	CK_OBJECT_HANDLE h;
	uint8_t raw[1024];
	CK_ULONG rl = sizeof(raw);
	CK_RV rv;
	int rc;

	if (ks == NULL || !label_ok(label) || tbs == NULL || tbslen == 0 ||
	    tbslen > 1024 || sig == NULL || siglen == NULL)
		return KS_ERR_ARG;
	switch (mech) {
	case KS_SIGN_ECDSA:	m.mechanism = CKM_ECDSA; break;
	case KS_SIGN_RSA_PKCS1:	m.mechanism = CKM_RSA_PKCS; break;
	case KS_SIGN_RSA_RAW:	m.mechanism = CKM_RSA_X_509; break;
	case KS_SIGN_RSA_PSS:
		if ((rc = pss_params(tbslen, &pp)) != KS_OK)
			return rc;
		m.mechanism = CKM_RSA_PKCS_PSS;
		m.pParameter = &pp;
		m.ulParameterLen = sizeof(pp);
		break;
	default:
		return KS_ERR_ARG;
	}
	if ((rc = ks_find(ks, CKO_PRIVATE_KEY, label, &h)) != KS_OK ||
	    (rc = key_type_is(ks, h, mech == KS_SIGN_ECDSA ? CKK_EC : CKK_RSA)) != KS_OK)
		return rc;
	if ((rv = ks->f->C_SignInit(ks->s, &m, h)) != CKR_OK)
		return ks_p11_fail(ks, "C_SignInit", rv,
		    rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_MECHANISM_INVALID ||
		    rv == CKR_KEY_FUNCTION_NOT_PERMITTED ? KS_ERR_MECH : KS_ERR_TOKEN);
	if ((rv = ks->f->C_Sign(ks->s, (CK_BYTE_PTR)tbs, tbslen, raw, &rl)) != CKR_OK)
		return ks_p11_fail(ks, "C_Sign", rv,
		    rv == CKR_DATA_LEN_RANGE || rv == CKR_DATA_INVALID ? KS_ERR_ARG :
		    KS_ERR_TOKEN);
	if (mech == KS_SIGN_ECDSA)
		return ecdsa_der(raw, rl, sig, siglen);
	if (rl > *siglen)
		return KS_ERR_NOSPACE;
	memcpy(sig, raw, rl);
	*siglen = rl;
	return KS_OK;
}
