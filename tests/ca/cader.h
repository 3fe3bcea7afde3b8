/*
 * cader: bounded walks through the DER of CMP messages, for the fields that
 * OpenSSL 3.0 has no getter for (certProfile, the revocation reason, the first
 * extraCert, a CRMF template's public key). Every walk goes through
 * drivers/tlv.h, so a hostile message can only make it fail, never overread.
 * Used by the test CA and by the station's response checks.
 */
#ifndef CADER_H
#define CADER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum cader_err {
	CADER_OK = 0,
	CADER_ERR_PARSE = -1,		/* not the DER we expected */
	CADER_ERR_NOTFOUND = -2,	/* well formed, field absent */
	CADER_ERR_NOSPACE = -3,		/* caller's buffer too small */
};

const char *cader_strerror(int err);
/* The enum constant's name ("CADER_ERR_PARSE"), for logs and records. */
const char *cader_errname(int err);

/*
 * The first certProfile (id-it-certProfile, RFC 9483 4.1.1) in the header's
 * generalInfo of PKIMessage msg, NUL-terminated into out[outlen].
 */
int cader_profile(const uint8_t *msg, size_t len, char *out, size_t outlen);

/*
 * The CRL reason of the first RevDetails of an rr message.
 * [out] *reason: the CRLReason, or -1 if the request carries none.
 */
int cader_rr_reason(const uint8_t *msg, size_t len, int *reason);

/*
 * The senderKID (header [2], an OCTET STRING) of msg.
 * [out] *kid, *kidlen point into msg.
 */
int cader_sender_kid(const uint8_t *msg, size_t len, const uint8_t **kid,
    size_t *kidlen);

/*
 * The first extraCert of msg (the protection certificate, RFC 9483 3.3).
 * [out] *cert, *certlen point into msg.
 */
int cader_extracert0(const uint8_t *msg, size_t len, const uint8_t **cert,
    size_t *certlen);

/*
 * The public key of a DER CertTemplate ([6] IMPLICIT SubjectPublicKeyInfo).
 * [out] *pkey: new key, caller frees with EVP_PKEY_free.
 */
int cader_tmpl_pubkey(const uint8_t *tmpl, size_t len, EVP_PKEY **pkey);

#endif /* CADER_H */
