/*
 * catls: the station's TLS client side for the CA link and the identity
 * manager: TLS 1.2 or newer, only the given trust anchors (no system store),
 * the peer's host name checked against its certificate, and client
 * authentication with the station's token-backed key.
 */
#ifndef CATLS_H
#define CATLS_H

#include <openssl/ssl.h>

enum catls_err {
	CATLS_OK = 0,
	CATLS_ERR_ARG = -1,
	CATLS_ERR_TRUST = -2,	/* cannot load the anchors */
	CATLS_ERR_KEY = -3,	/* client key or certificate refused */
	CATLS_ERR_NOMEM = -4,
};

const char *catls_strerror(int err);
/* The enum constant's name ("CATLS_ERR_ARG"), for logs and records. */
const char *catls_errname(int err);

/*
 * One TLS peer: the context, what the last handshake found, and the session
 * the next connection resumes (an abbreviated handshake: no certificate
 * exchange, no signature by the station key). A failed exchange drops it.
 * Not thread-safe: one caller at a time per struct catls.
 */
struct catls {
	SSL_CTX *ctx;
	const char *host;	/* not owned */
	long verify;		/* X509_V_OK, or why the server was refused */
	SSL_SESSION *sess;	/* to resume, or NULL */
	int fresh;		/* 1: never resume (a full handshake each time) */
	unsigned long handshakes, resumed;	/* counts, for status and tests */
};

/*
 * Set up t for host with anchors from PEM file trust; key and cert (both or
 * neither) authenticate the station; chain (may be NULL) is sent with it.
 */
int catls_init(struct catls *t, const char *host, const char *trust,
    EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain);
void catls_done(struct catls *t);

/* OSSL_HTTP_bio_cb_t for OpenSSL's HTTP client; arg is a struct catls. */
BIO *catls_http_cb(BIO *bio, void *arg, int connect, int detail);

#endif /* CATLS_H */
