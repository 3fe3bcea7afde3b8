/*
 * cacrl: the CA's CRL as the station sees it: fetched from the distribution
 * point over HTTP (a CRL is signed, so plain HTTP is the norm), its signature
 * and its issuer's chain verified against the station's anchors, cached on
 * disk, and consulted for the status of any certificate the CA issued --
 * including revocations made centrally, not at this station.
 */
#ifndef CACRL_H
#define CACRL_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

enum cacrl_err {
	CACRL_OK = 0,
	CACRL_ERR_ARG = -1,
	CACRL_ERR_FETCH = -2,	/* distribution point unreachable or bad answer */
	CACRL_ERR_PARSE = -3,	/* not a DER CRL */
	CACRL_ERR_SIG = -4,	/* no trusted issuer's signature on it */
	CACRL_ERR_TIME = -5,	/* not yet valid, or no nextUpdate */
	CACRL_ERR_OLDER = -6,	/* older than the cached one (rollback) */
	CACRL_ERR_IO = -7,	/* cache file */
	CACRL_ERR_NOMEM = -8,
	CACRL_ERR_CONNREFUSED = -9,	/* nothing listens at the point (cahttp.h) */
};

const char *cacrl_strerror(int err);
/* The enum constant's name ("CACRL_ERR_ARG"), for logs and records. */
const char *cacrl_errname(int err);

#define CACRL_MAX_BYTES (1024 * 1024)

/*
 * GET url (http://), at most CACRL_MAX_BYTES, within timeout seconds
 * (ca_timeout: 0 is the default, never "forever") for the connect and again
 * for the exchange. The TCP connect is cahttp_connect()'s: one attempt, a
 * refusal told at once (CACRL_ERR_CONNREFUSED), not retried until the
 * timeout as OpenSSL's own connect does. [out] *crl: X509_CRL_free.
 */
int cacrl_fetch(const char *url, int timeout, X509_CRL **crl);

/*
 * Check crl: signed by one of cands whose chain verifies against trust and
 * which has the cRLSign key usage, thisUpdate <= now with a nextUpdate
 * present; and, if subject (may be NULL) is a certificate of the CRL's
 * issuer, OpenSSL's own CRL checks (X509_V_FLAG_CRL_CHECK) on it. detail
 * gets the reason.
 */
int cacrl_verify(X509_CRL *crl, X509 *subject, STACK_OF(X509) *cands,
    X509_STORE *trust, time_t now, char *detail, size_t dlen);

/* Load a cached DER CRL. [out] *crl: X509_CRL_free. */
int cacrl_load(const char *path, X509_CRL **crl);

/*
 * Replace the cache at path with crl unless the cached CRL has a crlNumber
 * and crl a lower one or none (CACRL_ERR_OLDER). Written atomically.
 */
int cacrl_store(const char *path, X509_CRL *crl);

/* 1 if now is past the CRL's nextUpdate (a fresh one is due). */
int cacrl_stale(const X509_CRL *crl, time_t now);

/*
 * Status of cert in crl: 0 not listed, 1 revoked. [out] *reason: the CRL
 * reason (CRL_REASON_CERTIFICATE_HOLD for a hold), -1 if none given.
 */
int cacrl_lookup(X509_CRL *crl, X509 *cert, int *reason);

#endif /* CACRL_H */
