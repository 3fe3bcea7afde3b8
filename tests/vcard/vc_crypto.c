/* vc_crypto: keys, raw operations and attestation for the virtual card. See vc_crypto.h. */
#include "vc_crypto.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "tlv.h"

#define F9_DAYS		(20 * 365)
#define OID_YK_FIRMWARE	"1.3.6.1.4.1.41482.3.3"
#define OID_YK_SERIAL	"1.3.6.1.4.1.41482.3.7"
#define OID_YK_POLICY	"1.3.6.1.4.1.41482.3.8"
#define OID_YK_FORM	"1.3.6.1.4.1.41482.3.9"

const char *
vc_crypto_strerror(int err)
{
	switch (err) {
	case VC_CRYPTO_OK:		return "success";
	case VC_CRYPTO_ERR_ALG:		return "unsupported algorithm";
	case VC_CRYPTO_ERR_INPUT:	return "bad cryptographic input";
	case VC_CRYPTO_ERR_LIB:		return "OpenSSL failure";
	case VC_CRYPTO_ERR_NOSPACE:	return "crypto output buffer too small";
	case VC_CRYPTO_ERR_IO:		return "key or certificate file error";
	default:			return "unknown vc_crypto error";
	}
}

int
vc_crypto_alg_is_rsa(uint8_t alg)
{
	return alg == VC_ALG_RSA1024 || alg == VC_ALG_RSA2048 ||
	    alg == VC_ALG_RSA3072;
}

int
vc_crypto_alg_is_asym(uint8_t alg)
{
	return vc_crypto_alg_is_rsa(alg) || alg == VC_ALG_P256 ||
	    alg == VC_ALG_P384;
}

size_t
vc_crypto_alg_bytes(uint8_t alg)
{
	switch (alg) {
	case VC_ALG_RSA1024:	return 128;
	case VC_ALG_RSA2048:	return 256;
	case VC_ALG_RSA3072:	return 384;
	case VC_ALG_P256:	return 32;
	case VC_ALG_P384:	return 48;
	default:		return 0;
	}
}

size_t
vc_crypto_sym_block(uint8_t alg, size_t *keylen)
{
	size_t kl = 0, bl = 16;

	switch (alg) {
	case VC_ALG_3DES:	kl = 24; bl = 8; break;
	case VC_ALG_AES128:	kl = 16; break;
	case VC_ALG_AES192:	kl = 24; break;
	case VC_ALG_AES256:	kl = 32; break;
	default:		bl = 0; break;
	}
	if (keylen != NULL)
		*keylen = kl;
	return bl;
}

static const char *
curve_name(uint8_t alg)
{
	return alg == VC_ALG_P256 ? "P-256" : alg == VC_ALG_P384 ? "P-384" : NULL;
}

uint8_t
vc_crypto_key_alg(EVP_PKEY *k)
{
	char group[32];
	size_t glen;
	int bits = EVP_PKEY_get_bits(k);

	if (EVP_PKEY_is_a(k, "RSA")) {
		return bits == 1024 ? VC_ALG_RSA1024 : bits == 2048 ?
		    VC_ALG_RSA2048 : bits == 3072 ? VC_ALG_RSA3072 : 0;
	}
	if (!EVP_PKEY_is_a(k, "EC") || !EVP_PKEY_get_utf8_string_param(k,
	    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen))
		return 0;
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		return VC_ALG_P256;
	if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		return VC_ALG_P384;
	return 0;
}

static EVP_PKEY *
keygen_real(uint8_t alg)
{
	size_t bits = vc_crypto_alg_bytes(alg) * 8;

	if (vc_crypto_alg_is_rsa(alg))
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve_name(alg));
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/*
 * Fuzzing: RSA key generation would dominate every input, so each algorithm
 * gets one key per process, shared by reference (keys are never modified).
 */
static EVP_PKEY *
keygen(uint8_t alg)
{
	static EVP_PKEY *cache[0x15];

	if (cache[alg] == NULL && (cache[alg] = keygen_real(alg)) == NULL)
		return NULL;
	return EVP_PKEY_up_ref(cache[alg]) ? cache[alg] : NULL;
}
#else
static EVP_PKEY *
keygen(uint8_t alg)
{
	return keygen_real(alg);
}
#endif

int
vc_crypto_keygen(uint8_t alg, EVP_PKEY **out)
{
	*out = NULL;
	if (!vc_crypto_alg_is_asym(alg))
		return VC_CRYPTO_ERR_ALG;
	if ((*out = keygen(alg)) == NULL)
		return VC_CRYPTO_ERR_LIB;
	return VC_CRYPTO_OK;
}

static void
put_bn(struct buf_writer *w, uint32_t tag, EVP_PKEY *k, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t *at;
	int n;

	if (!EVP_PKEY_get_bn_param(k, name, &bn)) {
		w->err = BUF_ERR_INVALID;
		return;
	}
	n = BN_num_bytes(bn);
	tlv_put_header(w, tag, (size_t)n);
	if ((at = buf_reserve(w, (size_t)n)) != NULL)
		BN_bn2bin(bn, at);
	BN_free(bn);
}

void
vc_crypto_put_pubkey(struct buf_writer *w, EVP_PKEY *k)
{
	uint8_t pt[1 + 2 * 66];
	size_t len = 0;

	if (EVP_PKEY_is_a(k, "RSA")) {
		/* ykpiv insists on the modulus before the exponent. */
		put_bn(w, 0x81, k, OSSL_PKEY_PARAM_RSA_N);
		put_bn(w, 0x82, k, OSSL_PKEY_PARAM_RSA_E);
		return;
	}
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    pt, sizeof(pt), &len)) {
		w->err = BUF_ERR_INVALID;
		return;
	}
	tlv_put(w, 0x86, pt, len);
}

static int
pkey_op(EVP_PKEY *k, int sign, const uint8_t *in, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	size_t need = 0;
	int rc = VC_CRYPTO_ERR_LIB;

	*outlen = 0;
	if (ctx == NULL)
		goto out;
	if (sign) {
		if (EVP_PKEY_sign_init(ctx) <= 0 ||
		    EVP_PKEY_sign(ctx, NULL, &need, in, len) <= 0)
			goto out;
	} else {
		if (EVP_PKEY_decrypt_init(ctx) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) <= 0 ||
		    EVP_PKEY_decrypt(ctx, NULL, &need, in, len) <= 0)
			goto out;
	}
	rc = VC_CRYPTO_ERR_NOSPACE;
	if (need > cap)
		goto out;
	rc = VC_CRYPTO_ERR_INPUT;
	*outlen = cap;
	if ((sign ? EVP_PKEY_sign(ctx, out, outlen, in, len) :
	    EVP_PKEY_decrypt(ctx, out, outlen, in, len)) <= 0) {
		*outlen = 0;
		goto out;
	}
	rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int
vc_crypto_rsa_raw(EVP_PKEY *k, const uint8_t *in, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	*outlen = 0;
	if ((int)len != EVP_PKEY_get_size(k))
		return VC_CRYPTO_ERR_INPUT;
	return pkey_op(k, 0, in, len, out, cap, outlen);
}

int
vc_crypto_ecdsa(EVP_PKEY *k, const uint8_t *hash, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	*outlen = 0;
	if (len == 0 || len > vc_crypto_alg_bytes(vc_crypto_key_alg(k)))
		return VC_CRYPTO_ERR_INPUT;
	return pkey_op(k, 1, hash, len, out, cap, outlen);
}

int
vc_crypto_ecdh(EVP_PKEY *k, const uint8_t *point, size_t len, uint8_t *out,
    size_t cap, size_t *outlen)
{
	EVP_PKEY *peer = EVP_PKEY_new();
	EVP_PKEY_CTX *ctx = NULL;
	size_t fl = vc_crypto_alg_bytes(vc_crypto_key_alg(k));
	int rc = VC_CRYPTO_ERR_INPUT;

	*outlen = 0;
	if (peer == NULL || len != 1 + 2 * fl || point[0] != 0x04)
		goto out;
	if (!EVP_PKEY_copy_parameters(peer, k) ||
	    !EVP_PKEY_set1_encoded_public_key(peer, point, len))
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) <= 0)
		goto out;
	rc = VC_CRYPTO_ERR_NOSPACE;
	*outlen = cap;
	if (cap < fl || EVP_PKEY_derive(ctx, out, outlen) <= 0) {
		*outlen = 0;
		goto out;
	}
	rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return rc;
}

int
vc_crypto_block_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
    const uint8_t *in, uint8_t *out)
{
	const EVP_CIPHER *ciph;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t kl, bl = vc_crypto_sym_block(alg, &kl);
	int n = 0, rc = VC_CRYPTO_ERR_ALG;

	switch (alg) {
	case VC_ALG_3DES:	ciph = EVP_des_ede3_ecb(); break;
	case VC_ALG_AES128:	ciph = EVP_aes_128_ecb(); break;
	case VC_ALG_AES192:	ciph = EVP_aes_192_ecb(); break;
	case VC_ALG_AES256:	ciph = EVP_aes_256_ecb(); break;
	default:		goto out;
	}
	rc = VC_CRYPTO_ERR_INPUT;
	if (keylen != kl)
		goto out;
	rc = VC_CRYPTO_ERR_LIB;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex(ctx, ciph, NULL, key, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
	    !EVP_EncryptUpdate(ctx, out, &n, in, (int)bl) || (size_t)n != bl)
		goto out;
	rc = VC_CRYPTO_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) <= 0)
		k = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* d = e^-1 mod lcm(p-1, q-1), and the CRT parts must agree with it. */
static int
rsa_check_crt(BIGNUM *const bn[5], BIGNUM *d, BN_CTX *bc, const BIGNUM *e)
{
	BIGNUM *p1 = BN_CTX_get(bc), *q1 = BN_CTX_get(bc);
	BIGNUM *phi = BN_CTX_get(bc), *t = BN_CTX_get(bc);

	if (t == NULL || !BN_sub(p1, bn[0], BN_value_one()) ||
	    !BN_sub(q1, bn[1], BN_value_one()) || !BN_mul(phi, p1, q1, bc) ||
	    BN_mod_inverse(d, e, phi, bc) == NULL)
		return 0;
	if (!BN_mod(t, d, p1, bc) || BN_cmp(t, bn[2]) != 0)
		return 0;
	if (!BN_mod(t, d, q1, bc) || BN_cmp(t, bn[3]) != 0)
		return 0;
	if (BN_mod_inverse(t, bn[1], bn[0], bc) == NULL || BN_cmp(t, bn[4]) != 0)
		return 0;
	return 1;
}

static const char *const crt_names[5] = {
	OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
	OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
	OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

int
vc_crypto_import_rsa(uint8_t alg, const uint8_t *part[5], const size_t plen[5],
    EVP_PKEY **out)
{
	BN_CTX *bc = BN_CTX_new();
	BIGNUM *bn[5] = { 0 }, *n = BN_new(), *e = BN_new(), *d = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	size_t half = vc_crypto_alg_bytes(alg) / 2;
	int i, rc = VC_CRYPTO_ERR_LIB;

	*out = NULL;
	if (bc == NULL || n == NULL || e == NULL || d == NULL || bld == NULL)
		goto out;
	BN_CTX_start(bc);
	rc = VC_CRYPTO_ERR_INPUT;
	for (i = 0; i < 5; i++) {
		if (plen[i] == 0 || plen[i] > half ||
		    (bn[i] = BN_bin2bn(part[i], (int)plen[i], NULL)) == NULL)
			goto out;
	}
	if (!BN_set_word(e, RSA_F4) || !BN_mul(n, bn[0], bn[1], bc) ||
	    (size_t)BN_num_bits(n) != half * 16 || !rsa_check_crt(bn, d, bc, e))
		goto out;
	rc = VC_CRYPTO_ERR_LIB;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d))
		goto out;
	for (i = 0; i < 5; i++) {
		if (!OSSL_PARAM_BLD_push_BN(bld, crt_names[i], bn[i]))
			goto out;
	}
	if ((*out = pkey_fromdata("RSA", bld)) != NULL)
		rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	for (i = 0; i < 5; i++)
		BN_clear_free(bn[i]);
	BN_clear_free(d);
	BN_free(n);
	BN_free(e);
	if (bc != NULL)
		BN_CTX_end(bc);
	BN_CTX_free(bc);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

/* The public point d*G, uncompressed, of a private scalar d in [1, order). */
static int
ec_public(const char *curve, const BIGNUM *d, uint8_t *pt, size_t cap,
    size_t *len)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(curve));
	EC_POINT *p = NULL;
	int ok = 0;

	*len = 0;
	if (g == NULL || BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
		goto out;
	if ((p = EC_POINT_new(g)) == NULL ||
	    !EC_POINT_mul(g, p, d, NULL, NULL, NULL))
		goto out;
	*len = EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pt, cap,
	    NULL);
	ok = *len > 0;
out:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return ok;
}

int
vc_crypto_import_ec(uint8_t alg, const uint8_t *dbytes, size_t len,
    EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *d = NULL;
	uint8_t pt[1 + 2 * 48];
	size_t ptlen;
	const char *curve = curve_name(alg);
	int rc = VC_CRYPTO_ERR_ALG;

	*out = NULL;
	if (curve == NULL || bld == NULL)
		goto out;
	rc = VC_CRYPTO_ERR_INPUT;
	if (len != vc_crypto_alg_bytes(alg) ||
	    (d = BN_bin2bn(dbytes, (int)len, NULL)) == NULL ||
	    !ec_public(alg == VC_ALG_P256 ? "prime256v1" : "secp384r1", d, pt,
	    sizeof(pt), &ptlen))
		goto out;
	rc = VC_CRYPTO_ERR_LIB;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    curve, 0) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    ptlen))
		goto out;
	if ((*out = pkey_fromdata("EC", bld)) != NULL)
		rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	BN_clear_free(d);
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

int
vc_crypto_key_to_der(EVP_PKEY *k, uint8_t **der, size_t *len)
{
	unsigned char *p = NULL;
	int n;

	*der = NULL;
	*len = 0;
	if ((n = i2d_PrivateKey(k, &p)) <= 0)
		return VC_CRYPTO_ERR_LIB;
	*der = p;
	*len = (size_t)n;
	return VC_CRYPTO_OK;
}

int
vc_crypto_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	const unsigned char *p = der;

	*out = NULL;
	if (len > INT_MAX)
		return VC_CRYPTO_ERR_INPUT;
	*out = d2i_AutoPrivateKey(NULL, &p, (long)len);
	ERR_clear_error();
	if (*out == NULL)
		return VC_CRYPTO_ERR_INPUT;
	if (p != der + len || vc_crypto_key_alg(*out) == 0) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return VC_CRYPTO_ERR_INPUT;
	}
	return VC_CRYPTO_OK;
}

static int
set_random_serial(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn = NULL;
	int ok;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return 0;
	r[0] &= 0x7F;	/* positive, as RFC 5280 wants */
	r[0] |= 0x40;
	ok = (bn = BN_bin2bn(r, sizeof(r), NULL)) != NULL &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A v3 certificate for pub named CN=cn, validity [now, now + days]. */
static X509 *
cert_new(EVP_PKEY *pub, const char *cn, long days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (x == NULL || !X509_set_version(x, 2) || !set_random_serial(x) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) == NULL ||
	    !X509_set_pubkey(x, pub) || (name = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Make x a CA certificate issued by issuer (NULL: self-signed) and sign it. */
static int
ca_finish(X509 *x, EVP_PKEY *ikey, X509 *issuer)
{
	X509_NAME *iname = X509_get_subject_name(issuer != NULL ? issuer : x);

	return X509_set_issuer_name(x, iname) &&
	    add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") &&
	    add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
	    add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
	    (issuer == NULL || add_ext(x, issuer, NID_authority_key_identifier,
	    "keyid:always")) &&
	    X509_sign(x, ikey, EVP_sha256()) > 0;
}

int
vc_crypto_make_f9(EVP_PKEY *ca_key, X509 *ca_cert, uint32_t serial,
    EVP_PKEY **key, X509 **cert)
{
	char cn[64];
	int rc;

	*cert = NULL;
	if ((rc = vc_crypto_keygen(VC_ALG_RSA2048, key)) != VC_CRYPTO_OK)
		return rc;
	snprintf(cn, sizeof(cn), "Virtual PIV Attestation %u", serial);
	if ((*cert = cert_new(*key, cn, F9_DAYS)) == NULL ||
	    !ca_finish(*cert, ca_key != NULL ? ca_key : *key,
	    ca_key != NULL ? ca_cert : NULL)) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
		ERR_clear_error();
		return VC_CRYPTO_ERR_LIB;
	}
	return VC_CRYPTO_OK;
}

/* A private extension whose value is the raw bytes given (DER inside OCTET STRING). */
static int
add_raw_ext(X509 *x, const char *oid, const uint8_t *val, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = 0;

	if (obj == NULL || os == NULL || !ASN1_OCTET_STRING_set(os, val, (int)len))
		goto out;
	if ((ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL)
		goto out;
	ok = X509_add_ext(x, ext, -1);
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok;
}

/* Yubico's attestation extensions: firmware, serial (DER INTEGER), policies, form. */
static int
add_yk_exts(X509 *x, const struct vc_attest_info *in)
{
	uint8_t ser[7] = { 0x02, 0x05, 0x00 }, pol[2], form = 0x81;

	ser[3] = (uint8_t)(in->serial >> 24);
	ser[4] = (uint8_t)(in->serial >> 16);
	ser[5] = (uint8_t)(in->serial >> 8);
	ser[6] = (uint8_t)in->serial;
	pol[0] = in->pin_policy;
	pol[1] = in->touch_policy;
	return add_raw_ext(x, OID_YK_FIRMWARE, in->version, 3) &&
	    add_raw_ext(x, OID_YK_SERIAL, ser, sizeof(ser)) &&
	    add_raw_ext(x, OID_YK_POLICY, pol, sizeof(pol)) &&
	    add_raw_ext(x, OID_YK_FORM, &form, 1);
}

int
vc_crypto_attest(EVP_PKEY *f9_key, X509 *f9_cert, EVP_PKEY *subject,
    const struct vc_attest_info *info, uint8_t **der, size_t *len)
{
	char cn[64];
	X509 *x;
	unsigned char *p = NULL;
	int n = 0, rc = VC_CRYPTO_ERR_LIB;

	*der = NULL;
	*len = 0;
	snprintf(cn, sizeof(cn), "Virtual PIV Attestation %02x", info->slot);
	if ((x = cert_new(subject, cn, 1)) == NULL)
		goto out;
	/* Like a YubiKey: the statement is valid as long as the F9 certificate. */
	if (!X509_set1_notBefore(x, X509_get0_notBefore(f9_cert)) ||
	    !X509_set1_notAfter(x, X509_get0_notAfter(f9_cert)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(f9_cert)) ||
	    !add_yk_exts(x, info) || X509_sign(x, f9_key, EVP_sha256()) <= 0)
		goto out;
	if ((n = i2d_X509(x, &p)) <= 0)
		goto out;
	*der = p;
	*len = (size_t)n;
	rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	X509_free(x);
	return rc;
}

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	FILE *f;
	int fd, ok;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return 0;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return 0;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	    : PEM_write_X509(f, cert);
	return fclose(f) == 0 && ok;
}

int
vc_crypto_init_ca(const char *dir)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = VC_CRYPTO_ERR_LIB;

	if ((size_t)snprintf(kpath, sizeof(kpath), "%s/ca.key", dir) >= sizeof(kpath) ||
	    (size_t)snprintf(cpath, sizeof(cpath), "%s/ca.pem", dir) >= sizeof(cpath))
		return VC_CRYPTO_ERR_INPUT;
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    (cert = cert_new(key, "Virtual Card Manufacturer CA", 30 * 365)) == NULL ||
	    !ca_finish(cert, key, NULL))
		goto out;
	rc = VC_CRYPTO_ERR_IO;
	(void)mkdir(dir, 0700);
	if (!write_pem(kpath, 0600, key, NULL) || !write_pem(cpath, 0644, NULL, cert))
		goto out;
	rc = VC_CRYPTO_OK;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int
vc_crypto_load_ca(const char *key_path, const char *cert_path, EVP_PKEY **key,
    X509 **cert)
{
	FILE *f;

	*key = NULL;
	*cert = NULL;
	if ((f = fopen(key_path, "re")) != NULL) {
		*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(cert_path, "re")) != NULL) {
		*cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	ERR_clear_error();
	if (*key == NULL || *cert == NULL || X509_check_private_key(*cert, *key) != 1) {
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		return VC_CRYPTO_ERR_IO;
	}
	return VC_CRYPTO_OK;
}
