/* cahttp: one TCP connect attempt, a refusal told at once. See cahttp.h. */
#include "cahttp.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <openssl/err.h>

const char *
cahttp_strerror(int err)
{
	switch (err) {
	case CAHTTP_OK:		return "success";
	case CAHTTP_ERR_ARG:	return "bad argument";
	case CAHTTP_ERR_NOMEM:	return "out of memory";
	case CAHTTP_ERR_REFUSED: return "connection refused";
	case CAHTTP_ERR_TIMEOUT: return "connect timeout";
	case CAHTTP_ERR_CONNECT: return "cannot connect";
	default:		return "unknown cahttp error";
	}
}

const char *
cahttp_errname(int err)
{
	switch (err) {
	case CAHTTP_OK:		return "CAHTTP_OK";
	case CAHTTP_ERR_ARG:	return "CAHTTP_ERR_ARG";
	case CAHTTP_ERR_NOMEM:	return "CAHTTP_ERR_NOMEM";
	case CAHTTP_ERR_REFUSED: return "CAHTTP_ERR_REFUSED";
	case CAHTTP_ERR_TIMEOUT: return "CAHTTP_ERR_TIMEOUT";
	case CAHTTP_ERR_CONNECT: return "CAHTTP_ERR_CONNECT";
	default:		return "CAHTTP_ERR_UNKNOWN";
	}
}

/*
 * Did the failed connect end in ECONNREFUSED? OpenSSL files the socket
 * error as a system error (lib SYS, reason errno) before its own
 * BIO_R_CONNECT_ERROR, in the direct and the deferred (SO_ERROR) case;
 * the queue was cleared before the attempt, so it is the oldest entry.
 */
static int
fail_kind(void)
{
	unsigned long e = ERR_peek_error();

	return ERR_GET_LIB(e) == ERR_LIB_SYS && ERR_GET_REASON(e) == ECONNREFUSED ?
	    CAHTTP_ERR_REFUSED : CAHTTP_ERR_CONNECT;
}

int
cahttp_connect(const char *host, int port, int timeout, BIO **out)
{
	char ps[8];
	time_t max;
	BIO *b;
	int rc, w;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || host == NULL || port < 1 || port > 65535 ||
	    timeout <= 0)
		return CAHTTP_ERR_ARG;
	max = time(NULL) + timeout;
	(void)snprintf(ps, sizeof(ps), "%d", port);
	if ((b = BIO_new(BIO_s_connect())) == NULL ||
	    BIO_set_conn_hostname(b, host) <= 0 ||
	    BIO_set_conn_port(b, ps) <= 0) {
		BIO_free_all(b);
		return CAHTTP_ERR_NOMEM;
	}
	(void)BIO_set_nbio(b, 1);
	ERR_clear_error();
	for (;;) {
		if (BIO_do_connect(b) > 0) {
			rc = CAHTTP_OK;
			break;
		}
		if (!BIO_should_retry(b)) {
			rc = fail_kind();
			break;
		}
		if ((w = BIO_wait(b, max, 100)) <= 0) {
			rc = w == 0 ? CAHTTP_ERR_TIMEOUT : CAHTTP_ERR_CONNECT;
			break;
		}
	}
	if (rc != CAHTTP_OK) {
		BIO_free_all(b);
		return rc;
	}
	*out = b;
	return CAHTTP_OK;
}
