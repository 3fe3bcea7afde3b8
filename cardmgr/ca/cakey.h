/*
 * cakey: the station's own key, held in its PKCS#11 token (SoftHSM2 by
 * default) and reached through libp11. The private key never leaves the
 * token: cakey_pkey() returns an EVP_PKEY whose signing operations are done
 * by the token, which is all the CA link (TLS client authentication, CMP
 * message protection, proof of possession) needs. This is the seam where a
 * key-broker process will sit later: the CA link only ever sees an EVP_PKEY.
 */
#ifndef CAKEY_H
#define CAKEY_H

#include <openssl/evp.h>

enum cakey_err {
	CAKEY_OK = 0,
	CAKEY_ERR_ARG = -1,	/* bad argument */
	CAKEY_ERR_MODULE = -2,	/* PKCS#11 module cannot be loaded */
	CAKEY_ERR_TOKEN = -3,	/* no (whole) token with that label */
	CAKEY_ERR_LOGIN = -4,	/* session or PIN rejected */
	CAKEY_ERR_NOKEY = -5,	/* no private key with that label */
	CAKEY_ERR_KEYGEN = -6,	/* key generation in the token failed */
	CAKEY_ERR_NOMEM = -7,
};

const char *cakey_strerror(int err);
/* The enum constant's name ("CAKEY_ERR_ARG"), for logs and records. */
const char *cakey_errname(int err);

struct cakey_cfg {
	const char *module;	/* PKCS#11 module path */
	const char *token;	/* token label */
	const char *pin;	/* user PIN; only libp11 keeps a copy (for
				 * re-login), cleansed by cakey_close */
	const char *label;	/* private key label */
};

struct cakey;

/*
 * Log in to the token and find the key labelled cfg->label; if there is none
 * and create is set, generate an RSA-2048 key pair in the token under that
 * label (the key is never extractable).
 * [out] *out: new handle, free with cakey_close. *out is NULL on error.
 */
int cakey_open(const struct cakey_cfg *cfg, int create, struct cakey **out);

/*
 * Whether the token labelled cfg->token is there and holds a key labelled
 * cfg->label, without logging in (cfg->pin is not used): CAKEY_OK,
 * CAKEY_ERR_TOKEN (missing, or damaged so that the module skips it),
 * CAKEY_ERR_NOKEY, or another error. A login rewrites SoftHSM2's token
 * file; a look does not.
 */
int cakey_check(const struct cakey_cfg *cfg);

/* The token-backed private key; owned by k, valid until cakey_close(k). */
EVP_PKEY *cakey_pkey(const struct cakey *k);

/* 1 if cakey_open generated the key, 0 if it was already there. */
int cakey_created(const struct cakey *k);

/*
 * Another key pair in the same token and session, labelled label; generated
 * if absent and create is set (re-keying at renewal).
 * [out] *pkey: token-backed key, caller frees with EVP_PKEY_free before
 * cakey_close(k). NULL on error.
 */
int cakey_other(struct cakey *k, const char *label, int create,
    EVP_PKEY **pkey);

/* Delete both halves of the key pair labelled label (a retired key). */
int cakey_remove(struct cakey *k, const char *label);

void cakey_close(struct cakey *k);

#endif /* CAKEY_H */
