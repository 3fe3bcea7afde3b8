/*
 * vc_crypto: the virtual card's cryptography, on OpenSSL 3 EVP.
 *
 * Key generation and import, the raw private-key operations PIV GENERAL
 * AUTHENTICATE exposes (RSA without padding, ECDSA over a host-supplied hash,
 * ECDH), single-block 3DES/AES for the 9B management key, and the X.509
 * certificates of attestation (slot F9 and the per-slot statements).
 * Keys are EVP_PKEY values owned by the caller (EVP_PKEY_free).
 */
#ifndef VC_CRYPTO_H
#define VC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

/* PIV algorithm identifiers (SP 800-78-4 table 6-2, Yubico AES). */
#define VC_ALG_3DES	0x03
#define VC_ALG_RSA3072	0x05
#define VC_ALG_RSA1024	0x06
#define VC_ALG_RSA2048	0x07
#define VC_ALG_AES128	0x08
#define VC_ALG_AES192	0x0A
#define VC_ALG_AES256	0x0C
#define VC_ALG_P256	0x11
#define VC_ALG_P384	0x14

enum vc_crypto_err {
	VC_CRYPTO_OK = 0,
	VC_CRYPTO_ERR_ALG = -1,		/* algorithm not supported here */
	VC_CRYPTO_ERR_INPUT = -2,	/* input of the wrong size or value */
	VC_CRYPTO_ERR_LIB = -3,		/* OpenSSL failed */
	VC_CRYPTO_ERR_NOSPACE = -4,	/* output buffer too small */
	VC_CRYPTO_ERR_IO = -5,		/* file could not be read or written */
};

const char *vc_crypto_strerror(int err);

/* 1 if alg is an asymmetric key algorithm the card supports. */
int vc_crypto_alg_is_asym(uint8_t alg);
int vc_crypto_alg_is_rsa(uint8_t alg);
/* Block size of a management key algorithm, 0 if not one; key length in *keylen. */
size_t vc_crypto_sym_block(uint8_t alg, size_t *keylen);
/* Modulus or field size in bytes of an asymmetric algorithm. */
size_t vc_crypto_alg_bytes(uint8_t alg);
/* The PIV algorithm of a key, or 0 if it is none the card supports. */
uint8_t vc_crypto_key_alg(EVP_PKEY *k);

/* Generate a key pair. [out] *out, caller frees. */
int vc_crypto_keygen(uint8_t alg, EVP_PKEY **out);
/* Public key as PIV data objects: 81 n 82 e (RSA) or 86 point (EC). */
void vc_crypto_put_pubkey(struct buf_writer *w, EVP_PKEY *k);
/* RSA private-key operation without padding; in must be modulus-sized. */
int vc_crypto_rsa_raw(EVP_PKEY *k, const uint8_t *in, size_t len,
    uint8_t *out, size_t cap, size_t *outlen);
/* ECDSA over a hash given by the host; [out] DER SEQUENCE { r, s }. */
int vc_crypto_ecdsa(EVP_PKEY *k, const uint8_t *hash, size_t len,
    uint8_t *out, size_t cap, size_t *outlen);
/* ECDH with an uncompressed peer point; [out] the shared X coordinate. */
int vc_crypto_ecdh(EVP_PKEY *k, const uint8_t *point, size_t len,
    uint8_t *out, size_t cap, size_t *outlen);
/* Encrypt one block (8 bytes 3DES, 16 AES) in ECB mode with a management key. */
int vc_crypto_block_encrypt(uint8_t alg, const uint8_t *key, size_t keylen,
    const uint8_t *in, uint8_t *out);
/* Build an RSA key from its CRT parts (e = 65537), checked for consistency. */
int vc_crypto_import_rsa(uint8_t alg, const uint8_t *part[5],
    const size_t plen[5], EVP_PKEY **out);
/* Build an EC key from its private scalar. */
int vc_crypto_import_ec(uint8_t alg, const uint8_t *d, size_t len,
    EVP_PKEY **out);

/* DER (i2d) encodings; [out] *der is OPENSSL_malloc'd, free with OPENSSL_free. */
int vc_crypto_key_to_der(EVP_PKEY *k, uint8_t **der, size_t *len);
int vc_crypto_key_from_der(const uint8_t *der, size_t len, EVP_PKEY **out);

/*
 * The attestation key and certificate of a new card: an RSA-2048 key, and a
 * CA certificate for it issued by ca_key/ca_cert, or self-signed when they are
 * NULL. [out] *key and *cert, caller frees.
 */
int vc_crypto_make_f9(EVP_PKEY *ca_key, X509 *ca_cert, uint32_t serial,
    EVP_PKEY **key, X509 **cert);

struct vc_attest_info {
	uint8_t slot;
	uint8_t pin_policy;
	uint8_t touch_policy;
	uint32_t serial;
	const uint8_t *version;	/* 3 bytes */
};

/*
 * An attestation certificate for `subject` signed by the F9 key, issued under
 * the F9 certificate, with Yubico's attestation extensions.
 * [out] *der (OPENSSL_malloc'd) and *len.
 */
int vc_crypto_attest(EVP_PKEY *f9_key, X509 *f9_cert, EVP_PKEY *subject,
    const struct vc_attest_info *info, uint8_t **der, size_t *len);

/* A manufacturer CA in dir: ca.key (mode 0600) and ca.pem. */
int vc_crypto_init_ca(const char *dir);
/* Load a PEM key and certificate. [out] *key and *cert, caller frees. */
int vc_crypto_load_ca(const char *key_path, const char *cert_path,
    EVP_PKEY **key, X509 **cert);

#endif /* VC_CRYPTO_H */
