/* cacrl: CRL fetch, verification, cache and lookup. See cacrl.h. */
#include "cacrl.h"
#include "ca.h"
#include "cafile.h"
#include "cahttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/x509v3.h>

const char *
cacrl_strerror(int err)
{
	switch (err) {
	case CACRL_OK:		return "success";
	case CACRL_ERR_ARG:	return "bad argument";
	case CACRL_ERR_FETCH:	return "cannot fetch the CRL";
	case CACRL_ERR_PARSE:	return "CRL malformed";
	case CACRL_ERR_SIG:	return "CRL signature not trusted";
	case CACRL_ERR_TIME:	return "CRL not yet valid or without nextUpdate";
	case CACRL_ERR_OLDER:	return "CRL older than the cached one";
	case CACRL_ERR_IO:	return "CRL cache I/O error";
	case CACRL_ERR_NOMEM:	return "out of memory";
	case CACRL_ERR_CONNREFUSED: return "connection refused";
	default:		return "unknown cacrl error";
	}
}

const char *
cacrl_errname(int err)
{
	switch (err) {
	case CACRL_OK:	return "CACRL_OK";
	case CACRL_ERR_ARG:	return "CACRL_ERR_ARG";
	case CACRL_ERR_FETCH:	return "CACRL_ERR_FETCH";
	case CACRL_ERR_PARSE:	return "CACRL_ERR_PARSE";
	case CACRL_ERR_SIG:	return "CACRL_ERR_SIG";
	case CACRL_ERR_TIME:	return "CACRL_ERR_TIME";
	case CACRL_ERR_OLDER:	return "CACRL_ERR_OLDER";
	case CACRL_ERR_IO:	return "CACRL_ERR_IO";
	case CACRL_ERR_NOMEM:	return "CACRL_ERR_NOMEM";
	case CACRL_ERR_CONNREFUSED: return "CACRL_ERR_CONNREFUSED";
	default:		return "CACRL_ERR_UNKNOWN";
	}
}

static int
parse_der(const unsigned char *der, long n, X509_CRL **crl)
{
	const unsigned char *p = der;

	*crl = d2i_X509_CRL(NULL, &p, n);
	if (*crl != NULL && p == der + n)
		return CACRL_OK;
	X509_CRL_free(*crl);
	*crl = NULL;
	return CACRL_ERR_PARSE;
}

int
cacrl_fetch(const char *url, int timeout, X509_CRL **crl)
{
	char *host = NULL, *data = NULL;
	BIO *conn = NULL, *b = NULL;
	int ssl = 0, port = 0, rc;
	long n;

	*crl = NULL;
	if (url == NULL || strncmp(url, "http://", 7) != 0 ||
	    !OSSL_HTTP_parse_url(url, &ssl, NULL, &host, NULL, &port, NULL,
	    NULL, NULL) || ssl) {
		rc = CACRL_ERR_ARG;
		goto out;
	}
	timeout = ca_timeout(timeout);
	/* Our own connect: OpenSSL's retries a refusal until the timeout. */
	switch (cahttp_connect(host, port, timeout, &conn)) {
	case CAHTTP_OK:
		break;
	case CAHTTP_ERR_REFUSED:
		rc = CACRL_ERR_CONNREFUSED;
		goto out;
	case CAHTTP_ERR_NOMEM:
		rc = CACRL_ERR_NOMEM;
		goto out;
	default:
		rc = CACRL_ERR_FETCH;
		goto out;
	}
	b = OSSL_HTTP_get(url, NULL, NULL, conn, NULL, NULL, NULL, 0, NULL,
	    NULL, 1, CACRL_MAX_BYTES, timeout);
	if (b == NULL) {
		rc = CACRL_ERR_FETCH;
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	rc = n > 0 ? parse_der((unsigned char *)data, n, crl) : CACRL_ERR_FETCH;
out:
	BIO_free(b);
	BIO_free_all(conn);
	OPENSSL_free(host);
	return rc;
}

static int
issuer_chain_ok(X509 *issuer, STACK_OF(X509) *cands, X509_STORE *trust)
{
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	int ok = vc != NULL && X509_STORE_CTX_init(vc, trust, issuer, cands) &&
	    X509_verify_cert(vc) == 1;

	X509_STORE_CTX_free(vc);
	return ok;
}

static X509 *
find_signer(X509_CRL *crl, STACK_OF(X509) *cands)
{
	int i;

	for (i = 0; i < sk_X509_num(cands); i++) {
		X509 *c = sk_X509_value(cands, i);

		if (X509_NAME_cmp(X509_get_subject_name(c),
		    X509_CRL_get_issuer(crl)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(c)) == 1)
			return c;
	}
	return NULL;
}

/*
 * OpenSSL's own CRL checks, run by verifying subject (a certificate of the
 * CRL's issuer) with X509_V_FLAG_CRL_CHECK and only this CRL: issuer found
 * and trusted, the issuer's cRLSign key usage, signature, scope, times. What
 * it says about subject itself (revoked, expired) and a CRL past its
 * nextUpdate (accepted here and shown as STALE) are not reasons to refuse
 * the CRL.
 */
static int
crl_verify_cb(int ok, X509_STORE_CTX *vc)
{
	switch (X509_STORE_CTX_get_error(vc)) {
	case X509_V_ERR_CERT_REVOKED:
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return 1;
	default:
		return ok;
	}
}

static int
openssl_crl_check(X509_CRL *crl, X509 *subject, STACK_OF(X509) *cands,
    X509_STORE *trust, time_t now, char *detail, size_t dlen)
{
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	int ok = 0, err = X509_V_ERR_OUT_OF_MEM;

	if (vc != NULL && crls != NULL && sk_X509_CRL_push(crls, crl) &&
	    X509_STORE_CTX_init(vc, trust, subject, cands)) {
		X509_STORE_CTX_set0_crls(vc, crls);
		X509_STORE_CTX_set_flags(vc, X509_V_FLAG_CRL_CHECK);
		X509_STORE_CTX_set_time(vc, 0, now);
		X509_STORE_CTX_set_verify_cb(vc, crl_verify_cb);
		ok = X509_verify_cert(vc) == 1;
		err = X509_STORE_CTX_get_error(vc);
	}
	if (!ok)
		snprintf(detail, dlen, "OpenSSL CRL check: %s",
		    X509_verify_cert_error_string(err));
	X509_STORE_CTX_free(vc);
	sk_X509_CRL_free(crls);
	return ok;
}

int
cacrl_verify(X509_CRL *crl, X509 *subject, STACK_OF(X509) *cands,
    X509_STORE *trust, time_t now, char *detail, size_t dlen)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	X509 *signer;

	ERR_clear_error();
	if ((signer = find_signer(crl, cands)) == NULL) {
		snprintf(detail, dlen, "no known CA signed this CRL");
		return CACRL_ERR_SIG;
	}
	if (!issuer_chain_ok(signer, cands, trust)) {
		snprintf(detail, dlen, "CRL signer does not chain to our anchors");
		return CACRL_ERR_SIG;
	}
	/* X509_get_key_usage: all bits when the extension is absent (RFC 5280). */
	if (!(X509_get_key_usage(signer) & KU_CRL_SIGN)) {
		snprintf(detail, dlen, "CRL signer lacks the cRLSign key usage");
		return CACRL_ERR_SIG;
	}
	if (next == NULL ||
	    X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) > 0) {
		snprintf(detail, dlen, "CRL not yet valid or lacks nextUpdate");
		return CACRL_ERR_TIME;
	}
	if (subject != NULL && X509_NAME_cmp(X509_get_issuer_name(subject),
	    X509_CRL_get_issuer(crl)) == 0 &&
	    !openssl_crl_check(crl, subject, cands, trust, now, detail, dlen)) {
		ERR_clear_error();
		return CACRL_ERR_SIG;
	}
	ERR_clear_error();
	detail[0] = '\0';
	return CACRL_OK;
}

int
cacrl_load(const char *path, X509_CRL **crl)
{
	unsigned char *buf;
	FILE *f;
	size_t n;
	int rc = CACRL_ERR_PARSE;

	*crl = NULL;
	if ((f = fopen(path, "rb")) == NULL)
		return CACRL_ERR_IO;
	if ((buf = malloc(CACRL_MAX_BYTES)) == NULL) {
		fclose(f);
		return CACRL_ERR_NOMEM;
	}
	n = fread(buf, 1, CACRL_MAX_BYTES, f);
	fclose(f);
	if (n > 0 && n < CACRL_MAX_BYTES)
		rc = parse_der(buf, (long)n, crl);
	free(buf);
	return rc;
}

/*
 * Whether crl may replace old: not if old has a crlNumber and crl has none
 * or a lower one. The numbers are compared as ASN1 INTEGERs: they may be up
 * to 20 octets (RFC 5280 5.2.3), where ASN1_INTEGER_get() gives -1.
 */
static int
not_older(X509_CRL *old, X509_CRL *crl)
{
	ASN1_INTEGER *o = X509_CRL_get_ext_d2i(old, NID_crl_number, NULL, NULL);
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	int ok = o == NULL || (n != NULL && ASN1_INTEGER_cmp(n, o) >= 0);

	ASN1_INTEGER_free(o);
	ASN1_INTEGER_free(n);
	ERR_clear_error();
	return ok;
}

int
cacrl_store(const char *path, X509_CRL *crl)
{
	X509_CRL *old = NULL;
	unsigned char *der = NULL;
	int n, rc;

	if (cacrl_load(path, &old) == CACRL_OK && !not_older(old, crl)) {
		X509_CRL_free(old);
		return CACRL_ERR_OLDER;
	}
	X509_CRL_free(old);
	if ((n = i2d_X509_CRL(crl, &der)) <= 0)
		return CACRL_ERR_NOMEM;
	rc = cafile_write_atomic(path, der, (size_t)n, 1) == 0 ? CACRL_OK :
	    CACRL_ERR_IO;
	OPENSSL_free(der);
	return rc;
}

int
cacrl_stale(const X509_CRL *crl, time_t now)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	return next == NULL || X509_cmp_time(next, &now) < 0;
}

int
cacrl_lookup(X509_CRL *crl, X509 *cert, int *reason)
{
	X509_REVOKED *r = NULL;
	ASN1_ENUMERATED *e;

	*reason = -1;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_issuer_name(cert)) != 0)
		return 0;
	if (X509_CRL_get0_by_serial(crl, &r,
	    X509_get0_serialNumber(cert)) != 1 || r == NULL)
		return 0;
	e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
	if (e != NULL)
		*reason = (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return 1;
}
