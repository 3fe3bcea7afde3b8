/*
 * cahttp: the CA link's own TCP connect, for OpenSSL's HTTP client.
 *
 * OpenSSL's HTTP client connects with BIO_do_connect_retry(), which retries
 * a refused connection every 100 ms until the whole timeout is spent: with
 * the CA's TLS front down, every attempt waited `timeout` seconds and said
 * "connect timeout". Here one attempt is made within the timeout and a
 * refusal is told at once, as a distinct error; the connected BIO is then
 * handed to OSSL_HTTP_transfer(), which pushes TLS onto it as before.
 */
#ifndef CAHTTP_H
#define CAHTTP_H

#include <openssl/bio.h>

enum cahttp_err {
	CAHTTP_OK = 0,
	CAHTTP_ERR_ARG = -1,
	CAHTTP_ERR_NOMEM = -2,
	CAHTTP_ERR_REFUSED = -3,	/* nothing listens there (RST) */
	CAHTTP_ERR_TIMEOUT = -4,	/* no answer within the timeout */
	CAHTTP_ERR_CONNECT = -5,	/* name lookup or another socket error */
};

const char *cahttp_strerror(int err);
/* The enum constant's name ("CAHTTP_ERR_ARG"), for logs and records. */
const char *cahttp_errname(int err);

/*
 * Connect to host:port (port 1..65535) within timeout seconds (> 0).
 * [out] *out: a connected, non-blocking BIO_s_connect the caller frees
 * with BIO_free_all(); NULL on error. Clears OpenSSL's error queue first;
 * on error it holds why (name lookup, socket error).
 */
int cahttp_connect(const char *host, int port, int timeout, BIO **out);

#endif /* CAHTTP_H */
