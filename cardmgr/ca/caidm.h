/*
 * caidm: push of an issued certificate to the identity manager: HTTPS POST,
 * Content-Type application/pkix-cert, body the base64 of the DER, with mutual
 * TLS (the station's token key) and the identity manager's own anchors.
 */
#ifndef CAIDM_H
#define CAIDM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum caidm_err {
	CAIDM_OK = 0,
	CAIDM_ERR_ARG = -1,
	CAIDM_ERR_TRANSPORT = -2,	/* unreachable, TLS failure, 5xx */
	CAIDM_ERR_REFUSED = -3,		/* the identity manager said no (4xx) */
	CAIDM_ERR_NOMEM = -4,
	CAIDM_ERR_CONNREFUSED = -5,	/* nothing listens there; retried */
};

const char *caidm_strerror(int err);
/* The enum constant's name ("CAIDM_ERR_ARG"), for logs and records. */
const char *caidm_errname(int err);

struct caidm_cfg {
	const char *url;	/* https://host:port/path */
	const char *trust;	/* PEM anchors for the identity manager */
	int timeout;		/* seconds; <= 0: CA_DEFAULT_TIMEOUT (ca_timeout) */
};

/*
 * POST der (a certificate). detail gets the reason of a failure. The TCP
 * connect is cahttp_connect()'s: a refused connection is told at once
 * (CAIDM_ERR_CONNREFUSED, "connection refused: HOST:PORT"), not retried
 * until the timeout; the connect and the exchange each get the timeout.
 */
int caidm_push(const struct caidm_cfg *cfg, EVP_PKEY *key, X509 *cert,
    const uint8_t *der, size_t len, char *detail, size_t dlen);

#endif /* CAIDM_H */
