/*
 * ks: the station keystore, used in-process by keyd, the only process that
 * loads the station's PKCS#11 module and knows its user PIN.
 *
 * It talks raw PKCS#11 (the module is dlopen'ed; libp11 cannot do secret-key
 * operations) over one logged-in R/W session, and holds:
 *   - versioned master keys "cardmgr-master-v<N>" (32-byte generic secrets made
 *     in the token, sensitive, not extractable) from which per-card 9B
 *     management keys and PUKs are derived in the token (HMAC-SHA256);
 *   - versioned key recovery keys "cardmgr-krk-v<N>" (RSA-3072 pairs in the
 *     token) to which escrowed 9D private keys are encrypted;
 *   - signing key pairs by label ("cardmgr-audit", the station's CA-link key).
 * docs/keystore.md describes the hierarchy and every byte format.
 *
 * Errors are negative enum ks_err codes; ks_detail() gives the PKCS#11 function
 * and CK_RV of the last failure (never key bytes). Nothing here logs.
 * A struct ks is not thread-safe (one session); keyd serialises requests.
 * One struct ks per process: PKCS#11 C_Initialize/C_Finalize are per module.
 */
#ifndef KS_H
#define KS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum ks_err {
	KS_OK = 0,
	KS_ERR_ARG = -1,	/* bad argument */
	KS_ERR_NOMEM = -2,
	KS_ERR_MODULE = -3,	/* cannot load or initialise the PKCS#11 module */
	KS_ERR_TOKEN = -4,	/* token not found, or a token operation failed */
	KS_ERR_LOGIN = -5,	/* user login refused (wrong or locked PIN) */
	KS_ERR_NOKEY = -6,	/* no key with that label/version */
	KS_ERR_EXISTS = -7,	/* a key with that label exists already */
	KS_ERR_CRYPTO = -8,	/* OpenSSL failure, or decryption/authentication failed */
	KS_ERR_FORMAT = -9,	/* escrow blob does not parse */
	KS_ERR_NOSPACE = -10,	/* caller's output buffer too small */
	KS_ERR_MECH = -11,	/* the token or the key cannot do this mechanism */
	/*
	 * No initialised token with that label: missing, or damaged so that
	 * the module skips it (SoftHSM2 after a kill inside the rewrite of
	 * token.object at a login; docs/keystore.md, "Backup").
	 */
	KS_ERR_NOTOKEN = -12,
	/*
	 * keyd only: the PKCS#11 helper process that runs the module crashed,
	 * hung or answered garbage (keyd/kh.h); keyd restarts it.
	 */
	KS_ERR_HELPER = -13,
};

const char *ks_strerror(int err);
const char *ks_name(int err);

struct ks_cfg {
	const char *module;	/* absolute path of the PKCS#11 module */
	const char *token;	/* token label */
	const uint8_t *pin;	/* user PIN; ks keeps no copy after login */
	size_t pinlen;
};

struct ks;

/*
 * Load the module, find the token by label, open one R/W session and log in.
 * [out] *out: free with ks_close(). On failure *out is NULL.
 */
int ks_open(const struct ks_cfg *cfg, struct ks **out);
/* Log out, close the session, finalise and unload the module. NULL is a no-op. */
void ks_close(struct ks *ks);
/* Text of the last PKCS#11 failure ("C_Login: CKR_PIN_INCORRECT"), "" if none. */
const char *ks_detail(const struct ks *ks);

/* ---- master keys and diversification ------------------------------------ */

/* Generate master key version current+1 (1 if none) in the token; [out] *version. */
int ks_master_create(struct ks *ks, uint32_t *version);
/* [out] *version: the highest master key version. KS_ERR_NOKEY if none. */
int ks_master_current(struct ks *ks, uint32_t *version);

/* Purpose byte of the diversification input (docs/keystore.md). */
#define KS_DIV_PUK	0x81u	/* PIV_REF_PUK */
/* The 9B key algorithms: the purpose byte is the PIV algorithm identifier. */
#define KS_DIV_3DES	0x03u
#define KS_DIV_AES128	0x08u
#define KS_DIV_AES192	0x0Au
#define KS_DIV_AES256	0x0Cu

/*
 * The card's 9B management key for alg (PIV_ALG_3DES, _AES128, _AES192,
 * _AES256), derived in the token from master key version and the card GUID.
 * outlen must be the key length of alg (24, 16, 24, 32). 3DES keys have odd
 * parity. The caller wipes out.
 */
int ks_derive_mgmt_key(struct ks *ks, uint32_t version, const uint8_t guid[16],
    int alg, uint8_t *out, size_t outlen);
/* The card's PUK: 8 decimal digits and a NUL. The caller wipes out. */
int ks_derive_puk(struct ks *ks, uint32_t version, const uint8_t guid[16],
    char out[9]);
/*
 * One ECB block with the card's derived 9B key (a piv_mgmt_crypt_fn body for
 * keyd): encrypt (1) or decrypt (0) blocklen bytes (8 for 3DES, 16 for AES).
 * The key exists in this process only during the call and is wiped.
 */
int ks_mgmt_crypt(struct ks *ks, uint32_t version, const uint8_t guid[16], int alg,
    int encrypt, const uint8_t *in, uint8_t *out, size_t blocklen);

/* ---- escrow of the card's key management (9D) key ----------------------- */

/* Create key recovery key version current+1 (RSA-3072 in the token). */
int ks_krk_create(struct ks *ks, uint32_t *version);
int ks_krk_current(struct ks *ks, uint32_t *version);

enum ks_key_type {
	KS_KEY_RSA2048 = 1,
	KS_KEY_P256 = 2,
	KS_KEY_P384 = 3,
};

/*
 * Generate a key of type alg here with OpenSSL, encrypt its PKCS#8 DER to the
 * current KRK (fresh AES-256-GCM key wrapped with RSA-OAEP-SHA256; GCM
 * authenticates the blob header and aad, which the caller sets to the card
 * GUID || slot). [out] *blob: free(); [out] *priv: the private key for import
 * to the card, EVP_PKEY_free() (OpenSSL clears key material on free).
 */
int ks_escrow_generate(struct ks *ks, int alg, const uint8_t *aad, size_t aadlen,
    uint8_t **blob, size_t *bloblen, EVP_PKEY **priv);
/*
 * Decrypt an escrow blob: the KRK it names unwraps the content key in the
 * token (C_Decrypt, RSA-OAEP SHA-256). aad must be the one given at
 * generation. A wrong aad, a tampered blob or an unknown KRK fails
 * (KS_ERR_CRYPTO / KS_ERR_FORMAT / KS_ERR_NOKEY). [out] *priv: EVP_PKEY_free().
 */
int ks_escrow_recover(struct ks *ks, const uint8_t *blob, size_t len,
    const uint8_t *aad, size_t aadlen, EVP_PKEY **priv);

#define KS_ESCROW_MAGIC		"CMKE"
#define KS_ESCROW_FORMAT	1u
#define KS_ESCROW_NONCE		12u
#define KS_ESCROW_TAG		16u
#define KS_ESCROW_WRAPPED_MAX	512u	/* RSA-4096 */
#define KS_ESCROW_CT_MAX	4096u	/* PKCS#8 of RSA-2048 is ~1.2 kB */

/* A parsed escrow blob; pointers go into the parsed buffer. */
struct ks_escrow {
	uint32_t format;	/* KS_ESCROW_FORMAT */
	int key_type;		/* enum ks_key_type of the escrowed key */
	uint32_t krk_version;
	const uint8_t *header;	/* magic .. wrapped key: authenticated by GCM */
	size_t header_len;
	const uint8_t *wrapped;	/* RSA-OAEP(KRK, content key) */
	size_t wrapped_len;
	const uint8_t *nonce;	/* KS_ESCROW_NONCE bytes */
	const uint8_t *ct;	/* AES-256-GCM(PKCS#8 DER) */
	size_t ct_len;
	const uint8_t *tag;	/* KS_ESCROW_TAG bytes */
};
/* The one bounded decoder of escrow blobs (fuzzed: tests/fuzz/fuzz_ks_escrow.c). */
int ks_escrow_parse(const uint8_t *blob, size_t len, struct ks_escrow *out);

/* ---- signing keys ------------------------------------------------------- */

/* Create a signing key pair labelled label (KS_ERR_EXISTS if one is). */
int ks_keypair_create(struct ks *ks, const char *label, int type);
/* The public key of the pair labelled label. [out] *pub: EVP_PKEY_free(). */
int ks_pubkey(struct ks *ks, const char *label, EVP_PKEY **pub);

enum ks_sign_mech {
	KS_SIGN_ECDSA = 1,	/* tbs: the digest; sig: DER ECDSA-Sig-Value */
	KS_SIGN_RSA_PKCS1 = 2,	/* tbs: DER DigestInfo; sig: PKCS#1 v1.5 */
	KS_SIGN_RSA_PSS = 3,	/* tbs: SHA-256/384/512 digest (by length);
				 * MGF1 with the same hash, salt = digest length */
	KS_SIGN_RSA_RAW = 4,	/* tbs: a full encoded block (modulus length); raw RSA */
};

/*
 * Sign tbs with the private key labelled label. sig has room for *siglen
 * bytes; on success *siglen is the signature length (KS_ERR_NOSPACE if it does
 * not fit). Every mechanism is done by the token.
 */
int ks_sign(struct ks *ks, const char *label, int mech, const uint8_t *tbs,
    size_t tbslen, uint8_t *sig, size_t *siglen);

#endif /* KS_H */
