/* catls: TLS client setup and OpenSSL HTTP client hook. See catls.h. */
#include "catls.h"

#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

const char *
catls_strerror(int err)
{
	switch (err) {
	case CATLS_OK:		return "success";
	case CATLS_ERR_ARG:	return "bad argument";
	case CATLS_ERR_TRUST:	return "cannot load TLS trust anchors";
	case CATLS_ERR_KEY:	return "station TLS key or certificate refused";
	case CATLS_ERR_NOMEM:	return "out of memory";
	default:		return "unknown catls error";
	}
}

const char *
catls_errname(int err)
{
	switch (err) {
	case CATLS_OK:	return "CATLS_OK";
	case CATLS_ERR_ARG:	return "CATLS_ERR_ARG";
	case CATLS_ERR_TRUST:	return "CATLS_ERR_TRUST";
	case CATLS_ERR_KEY:	return "CATLS_ERR_KEY";
	case CATLS_ERR_NOMEM:	return "CATLS_ERR_NOMEM";
	default:		return "CATLS_ERR_UNKNOWN";
	}
}

int
catls_init(struct catls *t, const char *host, const char *trust,
    EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain)
{
	SSL_CTX *c;
	int i;

	memset(t, 0, sizeof(*t));
	if (host == NULL || trust == NULL || (key == NULL) != (cert == NULL))
		return CATLS_ERR_ARG;
	if ((c = SSL_CTX_new(TLS_client_method())) == NULL)
		return CATLS_ERR_NOMEM;
	t->ctx = c;
	t->host = host;
	/* Only the configured anchors: no default verify paths. */
	if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
	    !SSL_CTX_load_verify_file(c, trust))
		return CATLS_ERR_TRUST;
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if (cert != NULL && (!SSL_CTX_use_certificate(c, cert) ||
	    !SSL_CTX_use_PrivateKey(c, key)))
		return CATLS_ERR_KEY;
	for (i = 0; i < sk_X509_num(chain); i++)
		(void)SSL_CTX_add1_chain_cert(c, sk_X509_value(chain, i));
	return CATLS_OK;
}

void
catls_done(struct catls *t)
{
	SSL_SESSION_free(t->sess);
	SSL_CTX_free(t->ctx);
	memset(t, 0, sizeof(*t));
}

/*
 * OpenSSL's HTTP client writes the request head and body as separate TLS
 * records; with Nagle on, the second waits for the server's delayed ACK
 * (40 ms), twice per CMP transaction.
 */
static void
no_delay(BIO *bio)
{
	int fd = -1, one = 1;

	if (BIO_get_fd(bio, &fd) > 0 && fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static BIO *
push(struct catls *t, BIO *bio)
{
	BIO *sbio = BIO_new_ssl(t->ctx, 1);
	SSL *ssl = NULL;

	if (sbio == NULL)
		return NULL;
	no_delay(bio);
	BIO_get_ssl(sbio, &ssl);
	if (ssl == NULL || !SSL_set_tlsext_host_name(ssl, t->host) ||
	    !SSL_set1_host(ssl, t->host) ||
	    (t->sess != NULL && !SSL_set_session(ssl, t->sess))) {
		BIO_free(sbio);
		return NULL;
	}
	return BIO_push(sbio, bio);
}

/*
 * After an exchange: keep its session for the next one if it went well (with
 * TLS 1.3 the ticket came with the response), else forget any session so
 * the next connection does a full handshake with fresh verification.
 */
static void
keep_session(struct catls *t, SSL *ssl, int ok)
{
	SSL_SESSION *s;

	if (SSL_is_init_finished(ssl)) {
		t->handshakes++;
		if (SSL_session_reused(ssl))
			t->resumed++;
	}
	s = ok && !t->fresh ? SSL_get1_session(ssl) : NULL;
	if (s != NULL && !SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	if (s == NULL && ok && t->sess != NULL && SSL_session_reused(ssl))
		return;	/* resumed, no new ticket: the old one still serves */
	SSL_SESSION_free(t->sess);
	t->sess = s;
}

/* Drop the SSL BIO again and remember why a handshake failed. */
static BIO *
pop(struct catls *t, BIO *bio, int ok)
{
	SSL *ssl = NULL;
	BIO *next;

	BIO_get_ssl(bio, &ssl);
	if (ssl == NULL)
		return bio;
	if (!ok)
		t->verify = SSL_get_verify_result(ssl);
	keep_session(t, ssl, ok);
	(void)ERR_set_mark();
	BIO_ssl_shutdown(bio);
	next = BIO_pop(bio);
	BIO_free(bio);
	(void)ERR_pop_to_mark();
	return next;
}

BIO *
catls_http_cb(BIO *bio, void *arg, int connect, int detail)
{
	struct catls *t = arg;

	if (connect)
		return detail ? push(t, bio) : bio;
	return pop(t, bio, detail);
}
