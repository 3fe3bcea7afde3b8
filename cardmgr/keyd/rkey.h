/*
 * rkey: an EVP_PKEY whose private-key operations are done elsewhere.
 *
 * The engine process parses network replies, so it must not load the PKCS#11
 * module or know the token PIN; yet OpenSSL (TLS client authentication, CMP
 * message protection, X509_sign) must sign with the station key. rkey_new
 * gives an EVP_PKEY carrying only the public key; each private-key operation
 * becomes one call of fn, which in the engine sends a request to keyd and in
 * keyd calls ks_sign. Route: legacy RSA_METHOD / EC_KEY_METHOD, which OpenSSL 3
 * still dispatches for such "foreign" keys (docs/keystore.md says why not a
 * provider, and what that means for RSA-PSS).
 */
#ifndef RKEY_H
#define RKEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum rkey_err {
	RKEY_OK = 0,
	RKEY_ERR_ARG = -1,	/* bad argument or unsupported key type */
	RKEY_ERR_NOMEM = -2,
	RKEY_ERR_CRYPTO = -3,	/* OpenSSL refused to build the key */
};

const char *rkey_strerror(int err);
const char *rkey_name(int err);

/* What fn is asked to do; the values are those of enum ks_sign_mech. */
enum rkey_kind {
	RKEY_ECDSA = 1,		/* tbs: digest; sig: DER ECDSA-Sig-Value */
	RKEY_RSA_PKCS1 = 2,	/* tbs: DER DigestInfo; sig: PKCS#1 v1.5 signature */
	RKEY_RSA_PSS = 3,	/* never asked by this route: PSS arrives as RSA_RAW */
	RKEY_RSA_RAW = 4,	/* tbs: encoded block of modulus length (PSS-encoded
				 * by OpenSSL); sig: tbs^d mod n */
};

/*
 * Sign tbs. sig has room for *siglen bytes (at least the key's EVP_PKEY_get_size);
 * set *siglen to the signature length. Return 0 on success, anything else fails
 * the OpenSSL operation. Called from whatever thread OpenSSL signs in.
 */
typedef int (*rkey_sign_fn)(void *arg, int kind, const uint8_t *tbs, size_t tbslen,
    uint8_t *sig, size_t *siglen);

/*
 * A key with pub's public half (RSA, or EC on a named curve) whose signing
 * calls fn(arg, ...). arg must outlive the key. Decryption and ECDH are refused.
 * [out] *out: EVP_PKEY_free(); NULL on failure.
 */
int rkey_new(EVP_PKEY *pub, rkey_sign_fn fn, void *arg, EVP_PKEY **out);

#endif /* RKEY_H */
