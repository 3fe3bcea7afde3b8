/*
 * rkey: EVP_PKEYs whose signatures are made by a callback. See rkey.h.
 *
 * An RSA or EC_KEY with a non-default method is "foreign" to OpenSSL 3, which
 * then keeps it on the legacy EVP_PKEY_METHOD path: RSA PKCS#1 signing reaches
 * RSA_METHOD priv_enc with the DigestInfo and RSA_PKCS1_PADDING, RSA-PSS
 * reaches it PSS-encoded with RSA_NO_PADDING, ECDSA reaches EC_KEY_METHOD sign
 * with the digest. The callback and its argument ride in the key's ex_data.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "rkey.h"

const char *
rkey_strerror(int err)
{
	switch (err) {
	case RKEY_OK:		return "success";
	case RKEY_ERR_ARG:	return "bad argument or unsupported key type";
	case RKEY_ERR_NOMEM:	return "out of memory";
	case RKEY_ERR_CRYPTO:	return "OpenSSL refused the key";
	default:		return "unknown rkey error";
	}
}

const char *
rkey_name(int err)
{
	switch (err) {
	case RKEY_OK:		return "RKEY_OK";
	case RKEY_ERR_ARG:	return "RKEY_ERR_ARG";
	case RKEY_ERR_NOMEM:	return "RKEY_ERR_NOMEM";
	case RKEY_ERR_CRYPTO:	return "RKEY_ERR_CRYPTO";
	default:		return "RKEY_ERR_UNKNOWN";
	}
}

struct rkey_cb {
	rkey_sign_fn fn;
	void *arg;
};

/* Process-wide, made once, never freed: keys may live until exit. */
static CRYPTO_ONCE once = CRYPTO_ONCE_STATIC_INIT;
static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;

static void
cb_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

/* Call fn for a signature of at most cap bytes; the length, or -1. */
static int
call(const struct rkey_cb *cb, int kind, const uint8_t *tbs, size_t tbslen,
    uint8_t *sig, size_t cap)
{
	size_t len = cap;

	if (cb == NULL || cb->fn(cb->arg, kind, tbs, tbslen, sig, &len) != 0 ||
	    len == 0 || len > cap)
		return -1;
	return (int)len;
}

static int
rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
    int padding)
{
	const struct rkey_cb *cb = RSA_get_ex_data(rsa, rsa_idx);
	int size = RSA_size(rsa), kind;

	if (flen <= 0 || size <= 0)
		return -1;
	if (padding == RSA_PKCS1_PADDING)
		kind = RKEY_RSA_PKCS1;
	else if (padding == RSA_NO_PADDING && flen == size)
		kind = RKEY_RSA_RAW;
	else
		return -1;
	return call(cb, kind, from, (size_t)flen, to, (size_t)size);
}

/* The station key signs; it never decrypts (no RSA key exchange here). */
static int
rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
    int padding)
{
	(void)flen, (void)from, (void)to, (void)rsa, (void)padding;
	return -1;
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
    unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	const struct rkey_cb *cb = EC_KEY_get_ex_data(eckey, ec_idx);
	int size = ECDSA_size(eckey), n;

	(void)type;
	/* A caller-chosen nonce (kinv, r) cannot be honoured by a token. */
	if (kinv != NULL || r != NULL || dlen <= 0 || size <= 0)
		return 0;
	if ((n = call(cb, RKEY_ECDSA, dgst, (size_t)dlen, sig, (size_t)size)) < 0)
		return 0;
	*siglen = (unsigned int)n;
	return 1;
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv, const BIGNUM *r,
    EC_KEY *eckey)
{
	unsigned char der[160];
	const unsigned char *p = der;
	unsigned int n = 0;
	ECDSA_SIG *s = NULL;

	if (ECDSA_size(eckey) > (int)sizeof(der) ||
	    ec_sign(0, dgst, dlen, der, &n, kinv, r, eckey) != 1)
		return NULL;
	if ((s = d2i_ECDSA_SIG(NULL, &p, (long)n)) != NULL && p != der + n) {
		ECDSA_SIG_free(s);
		s = NULL;
	}
	return s;
}

static int
ec_sign_setup(EC_KEY *eckey, BN_CTX *ctx, BIGNUM **kinvp, BIGNUM **rp)
{
	(void)eckey, (void)ctx, (void)kinvp, (void)rp;
	return 0;
}

static int
ec_compute_key(unsigned char **psec, size_t *pseclen, const EC_POINT *pub,
    const EC_KEY *ecdh)
{
	(void)psec, (void)pseclen, (void)pub, (void)ecdh;
	return 0;
}

static void
init_methods(void)
{
	RSA_METHOD *rm;
	EC_KEY_METHOD *em;

	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, cb_free);
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, cb_free);
	if ((rm = RSA_meth_dup(RSA_PKCS1_OpenSSL())) != NULL &&
	    (RSA_meth_set1_name(rm, "cardmgr rkey") != 1 ||
	    RSA_meth_set_priv_enc(rm, rsa_priv_enc) != 1 ||
	    RSA_meth_set_priv_dec(rm, rsa_priv_dec) != 1)) {
		RSA_meth_free(rm);
		rm = NULL;
	}
	rsa_meth = rm;
	if ((em = EC_KEY_METHOD_new(EC_KEY_OpenSSL())) != NULL) {
		EC_KEY_METHOD_set_sign(em, ec_sign, ec_sign_setup, ec_sign_sig);
		EC_KEY_METHOD_set_compute_key(em, ec_compute_key);
	}
	ec_meth = em;
}

static struct rkey_cb *
cb_new(rkey_sign_fn fn, void *arg)
{
	struct rkey_cb *cb = malloc(sizeof(*cb));

	if (cb != NULL) {
		cb->fn = fn;
		cb->arg = arg;
	}
	return cb;
}

static int
new_rsa(EVP_PKEY *pub, rkey_sign_fn fn, void *arg, EVP_PKEY **out)
{
	BIGNUM *n = NULL, *e = NULL;
	RSA *rsa = NULL;
	struct rkey_cb *cb = NULL;
	EVP_PKEY *k = NULL;
	int rc = RKEY_ERR_NOMEM;

	if ((cb = cb_new(fn, arg)) == NULL || (rsa = RSA_new()) == NULL ||
	    (k = EVP_PKEY_new()) == NULL)
		goto out;
	rc = RKEY_ERR_CRYPTO;
	if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    RSA_set_method(rsa, rsa_meth) != 1 || RSA_set0_key(rsa, n, e, NULL) != 1)
		goto out;
	n = e = NULL;
	if (RSA_set_ex_data(rsa, rsa_idx, cb) != 1)
		goto out;
	cb = NULL;	/* freed with rsa from here on */
	if (EVP_PKEY_assign_RSA(k, rsa) != 1)
		goto out;
	rsa = NULL;
	*out = k;
	k = NULL;
	rc = RKEY_OK;
out:
	BN_free(n);
	BN_free(e);
	RSA_free(rsa);
	EVP_PKEY_free(k);
	free(cb);
	return rc;
}

static int
curve_nid(EVP_PKEY *pub)
{
	char name[64];
	size_t len = 0;
	int nid;

	if (EVP_PKEY_get_group_name(pub, name, sizeof(name), &len) != 1)
		return NID_undef;
	if ((nid = OBJ_txt2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid;
}

static int
new_ec(EVP_PKEY *pub, rkey_sign_fn fn, void *arg, EVP_PKEY **out)
{
	uint8_t pt[200];
	size_t ptlen = 0;
	EC_KEY *ec = NULL;
	struct rkey_cb *cb = NULL;
	EVP_PKEY *k = NULL;
	int nid = curve_nid(pub), rc = RKEY_ERR_ARG;

	if (nid == NID_undef)
		goto out;
	rc = RKEY_ERR_NOMEM;
	if ((cb = cb_new(fn, arg)) == NULL || (k = EVP_PKEY_new()) == NULL ||
	    (ec = EC_KEY_new_by_curve_name(nid)) == NULL)
		goto out;
	rc = RKEY_ERR_CRYPTO;
	if (EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    sizeof(pt), &ptlen) != 1 ||
	    EC_KEY_set_method(ec, ec_meth) != 1 ||
	    EC_KEY_oct2key(ec, pt, ptlen, NULL) != 1 ||
	    EC_KEY_set_ex_data(ec, ec_idx, cb) != 1)
		goto out;
	cb = NULL;
	if (EVP_PKEY_assign_EC_KEY(k, ec) != 1)
		goto out;
	ec = NULL;
	*out = k;
	k = NULL;
	rc = RKEY_OK;
out:
	EC_KEY_free(ec);
	EVP_PKEY_free(k);
	free(cb);
	return rc;
}

int
rkey_new(EVP_PKEY *pub, rkey_sign_fn fn, void *arg, EVP_PKEY **out)
{
	if (out == NULL)
		return RKEY_ERR_ARG;
	*out = NULL;
	if (pub == NULL || fn == NULL)
		return RKEY_ERR_ARG;
	if (CRYPTO_THREAD_run_once(&once, init_methods) != 1 ||
	    rsa_meth == NULL || ec_meth == NULL || rsa_idx < 0 || ec_idx < 0)
		return RKEY_ERR_NOMEM;
	if (EVP_PKEY_is_a(pub, "RSA"))
		return new_rsa(pub, fn, arg, out);
	if (EVP_PKEY_is_a(pub, "EC"))
		return new_ec(pub, fn, arg, out);
	return RKEY_ERR_ARG;
}
