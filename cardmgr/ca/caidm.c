/* caidm: identity manager push over mutual TLS. See caidm.h. */
#include "caidm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>

#include "ca.h"
#include "cahttp.h"
#include "catls.h"

#define MAX_CERT 65536

const char *
caidm_strerror(int err)
{
	switch (err) {
	case CAIDM_OK:		return "success";
	case CAIDM_ERR_ARG:	return "bad argument";
	case CAIDM_ERR_TRANSPORT: return "identity manager unreachable";
	case CAIDM_ERR_REFUSED:	return "identity manager refused the certificate";
	case CAIDM_ERR_NOMEM:	return "out of memory";
	case CAIDM_ERR_CONNREFUSED: return "connection refused";
	default:		return "unknown caidm error";
	}
}

const char *
caidm_errname(int err)
{
	switch (err) {
	case CAIDM_OK:	return "CAIDM_OK";
	case CAIDM_ERR_ARG:	return "CAIDM_ERR_ARG";
	case CAIDM_ERR_TRANSPORT:	return "CAIDM_ERR_TRANSPORT";
	case CAIDM_ERR_REFUSED:	return "CAIDM_ERR_REFUSED";
	case CAIDM_ERR_NOMEM:	return "CAIDM_ERR_NOMEM";
	case CAIDM_ERR_CONNREFUSED:	return "CAIDM_ERR_CONNREFUSED";
	default:		return "CAIDM_ERR_UNKNOWN";
	}
}

static BIO *
b64_body(const uint8_t *der, size_t len)
{
	unsigned char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	BIO *b = NULL;
	int n;

	if (b64 == NULL)
		return NULL;
	n = EVP_EncodeBlock(b64, der, (int)len);
	if ((b = BIO_new(BIO_s_mem())) != NULL && BIO_write(b, b64, n) != n) {
		BIO_free(b);
		b = NULL;
	}
	free(b64);
	return b;
}

/* 4xx from the server is a refusal; everything else may pass on retry. */
static int
classify(const struct catls *t, char *detail, size_t dlen)
{
	const char *data = NULL;
	unsigned long e;
	int flags, refused = 0;

	detail[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (detail[0] == '\0') {
			ERR_error_string_n(e, detail, dlen);
			if (data != NULL && (flags & ERR_TXT_STRING) && *data)
				snprintf(detail + strlen(detail),
				    dlen - strlen(detail), " (%s)", data);
		}
		if (data != NULL && (flags & ERR_TXT_STRING) &&
		    strstr(data, "code=4") != NULL)
			refused = 1;
	}
	if (t->verify != X509_V_OK)
		snprintf(detail, dlen, "TLS: identity manager certificate: %s",
		    X509_verify_cert_error_string(t->verify));
	return refused ? CAIDM_ERR_REFUSED : CAIDM_ERR_TRANSPORT;
}

int
caidm_push(const struct caidm_cfg *cfg, EVP_PKEY *key, X509 *cert,
    const uint8_t *der, size_t len, char *detail, size_t dlen)
{
	char *host = NULL, *port = NULL, *path = NULL;
	struct catls t;
	BIO *req = NULL, *rsp = NULL, *conn = NULL;
	int ssl = 0, pnum = 0, timeout, crc, rc = CAIDM_ERR_ARG;

	memset(&t, 0, sizeof(t));
	snprintf(detail, dlen, "bad identity manager URL or certificate");
	if (cfg->url == NULL || der == NULL || len == 0 || len > MAX_CERT ||
	    !OSSL_HTTP_parse_url(cfg->url, &ssl, NULL, &host, &port, &pnum,
	    &path, NULL, NULL) || !ssl)
		goto out;
	if (catls_init(&t, host, cfg->trust, key, cert, NULL) != CATLS_OK ||
	    (req = b64_body(der, len)) == NULL) {
		snprintf(detail, dlen, "identity manager TLS setup failed");
		goto out;
	}
	timeout = ca_timeout(cfg->timeout);
	/* Our own connect: OpenSSL's retries a refusal until the timeout. */
	if ((crc = cahttp_connect(host, pnum, timeout, &conn)) != CAHTTP_OK) {
		rc = crc == CAHTTP_ERR_REFUSED ? CAIDM_ERR_CONNREFUSED :
		    crc == CAHTTP_ERR_NOMEM ? CAIDM_ERR_NOMEM :
		    CAIDM_ERR_TRANSPORT;
		snprintf(detail, dlen, "%s: %s:%d", cahttp_strerror(crc), host,
		    pnum);
		ERR_clear_error();
		goto out;
	}
	ERR_clear_error();
	/* TLS is pushed onto conn by catls_http_cb, as for the CMP link. */
	rsp = OSSL_HTTP_transfer(NULL, host, port, path, 1, NULL, NULL, conn,
	    NULL, catls_http_cb, &t, 0, NULL, "application/pkix-cert", req,
	    NULL, 0, 4096, timeout, 0);
	if (rsp == NULL) {
		rc = classify(&t, detail, dlen);
		goto out;
	}
	detail[0] = '\0';
	rc = CAIDM_OK;
out:
	BIO_free(rsp);
	BIO_free(req);
	BIO_free_all(conn);
	catls_done(&t);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	return rc;
}
