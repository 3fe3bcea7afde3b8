/* ca: CMP client over mutual TLS on OpenSSL's OSSL_CMP_*. See ca.h. */
#include "ca.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cahttp.h"
#include "catls.h"
#include "tlv.h"

#define MAX_CACERTS 8
#define EP(l) (&(l)->ep[(l)->cur])

/* One CA endpoint: its name and port, and its own TLS context and session. */
struct ca_ep {
	char host[CA_HOSTPORT];
	int port;
	struct catls tls;	/* tls.host points to host */
};

struct ca_link {
	struct ca_cfg cfg;	/* server, port, endpoints: see ep[] */
	EVP_PKEY *key;
	X509 *cert;
	struct ca_ep ep[CA_MAX_ENDPOINTS];
	int n;				/* endpoints in ep[] */
	int order[CA_MAX_ENDPOINTS];	/* shuffled once, at ca_link_new */
	int good;			/* position in order[] that answered
					 * last, -1 before any answer */
	int cur;			/* ep[] index of the call in progress */
	X509_STORE *trust;		/* cmp_trust anchors */
	STACK_OF(X509) *untrusted;	/* intermediates we may use */
	X509_NAME *sender;		/* expected signer of responses */
	const X509_REQ *csr;		/* request in flight, for certConf */
	/*
	 * Implicit confirmation (cfg.implicit_confirm): a certConf went out in
	 * this transaction (the CA did not grant it); the certificate
	 * certconf_cb refused (DER, OPENSSL_malloc), handed to the caller as
	 * ca_result.refused when no certConf told the CA.
	 */
	int certconf_sent;
	unsigned char *refused;
	int refused_len;
	int final_fail;			/* PKIFailureInfo bits that end the
					 * request for good, even in an error
					 * message (see classify) */
	/*
	 * The HTTP connection (transfer(), cmp_free()): kept alive between a
	 * transaction's messages, and with cfg.keep_alive for the next
	 * transactions to the same endpoint (kept: carried over, idle since
	 * http_last, to ep[http_ep]).
	 */
	OSSL_HTTP_REQ_CTX *http;
	BIO *conn;			/* its TCP connection, ours */
	int conn_err;			/* CAHTTP_* of the last connect */
	int kept, http_ep;
	time_t http_last;		/* CLOCK_MONOTONIC seconds */
};

/*
 * What a CA says in an error message about a station enrollment that no
 * retry under the same one-time secret can change: the MAC does not verify
 * (a wrong secret), the request is malformed, or the reference unknown.
 */
#define FINAL_FAIL_IR ((1 << OSSL_CMP_PKIFAILUREINFO_badAlg) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_badMessageCheck) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_badRequest) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_badDataFormat) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_badPOP) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_badCertTemplate) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_wrongAuthority) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_notAuthorized) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_wrongIntegrity) | \
	(1 << OSSL_CMP_PKIFAILUREINFO_unsupportedVersion))

/* id-it-caCerts and id-it-certProfile (RFC 9483 4.3.1, 4.1.1). */
#define OID_CACERTS	"1.3.6.1.5.5.7.4.17"
#define OID_CERTPROFILE	"1.3.6.1.5.5.7.4.21"

static X509_NAME *parse_dn(const char *dn);

const char *
ca_strerror(int err)
{
	switch (err) {
	case CA_OK:		return "success";
	case CA_ERR_ARG:	return "bad argument or configuration";
	case CA_ERR_NOMEM:	return "out of memory";
	case CA_ERR_TRANSPORT:	return "CA unreachable";
	case CA_ERR_TLS:	return "TLS connection to the CA failed";
	case CA_ERR_RESPONSE:	return "invalid CMP response";
	case CA_ERR_REJECTED:	return "request rejected by the CA";
	case CA_ERR_CHAIN:	return "issued certificate does not verify";
	case CA_ERR_STATION_REVOKED: return "station certificate revoked";
	case CA_ERR_TRUST:	return "cannot load trust anchors";
	case CA_ERR_REFUSED:	return "connection refused";
	default:		return "unknown ca error";
	}
}

const char *
ca_errname(int err)
{
	switch (err) {
	case CA_OK:	return "CA_OK";
	case CA_ERR_ARG:	return "CA_ERR_ARG";
	case CA_ERR_NOMEM:	return "CA_ERR_NOMEM";
	case CA_ERR_TRANSPORT:	return "CA_ERR_TRANSPORT";
	case CA_ERR_TLS:	return "CA_ERR_TLS";
	case CA_ERR_RESPONSE:	return "CA_ERR_RESPONSE";
	case CA_ERR_REJECTED:	return "CA_ERR_REJECTED";
	case CA_ERR_CHAIN:	return "CA_ERR_CHAIN";
	case CA_ERR_STATION_REVOKED:	return "CA_ERR_STATION_REVOKED";
	case CA_ERR_TRUST:	return "CA_ERR_TRUST";
	case CA_ERR_REFUSED:	return "CA_ERR_REFUSED";
	default:		return "CA_ERR_UNKNOWN";
	}
}

int
ca_timeout(int t)
{
	return t > 0 ? t : CA_DEFAULT_TIMEOUT;
}

int
ca_err_retryable(int err)
{
	return err == CA_ERR_TRANSPORT || err == CA_ERR_REFUSED ||
	    err == CA_ERR_TLS ||
	    err == CA_ERR_RESPONSE || err == CA_ERR_STATION_REVOKED ||
	    err == CA_ERR_NOMEM;
}

void
ca_result_clear(struct ca_result *res)
{
	if (res == NULL)
		return;
	OPENSSL_free(res->cert);
	OPENSSL_free(res->refused);
	memset(res, 0, sizeof(*res));
	res->status = -1;
}

static void
result_init(struct ca_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = -1;
}

/* ---- trust ---- */

static int
load_pem_certs(const char *file, STACK_OF(X509) **out)
{
	BIO *b = BIO_new_file(file, "r");
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	int rc = CA_ERR_TRUST;

	*out = NULL;
	if (b == NULL || sk == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto out;
		}
	ERR_clear_error();	/* the end of the file reads as an error */
	if (sk_X509_num(sk) > 0) {
		*out = sk;
		sk = NULL;
		rc = CA_OK;
	}
out:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(b);
	return rc;
}

static int
trust_new(struct ca_link *l)
{
	STACK_OF(X509) *anchors = NULL;
	int i, rc;

	if ((rc = load_pem_certs(l->cfg.cmp_trust, &anchors)) != CA_OK)
		return rc;
	if ((l->trust = X509_STORE_new()) == NULL)
		rc = CA_ERR_NOMEM;
	for (i = 0; rc == CA_OK && i < sk_X509_num(anchors); i++)
		if (!X509_STORE_add_cert(l->trust, sk_X509_value(anchors, i)))
			rc = CA_ERR_TRUST;
	sk_X509_pop_free(anchors, X509_free);
	if (rc == CA_OK && l->cfg.untrusted != NULL)
		rc = load_pem_certs(l->cfg.untrusted, &l->untrusted);
	return rc;
}

X509_STORE *
ca_trust_store(struct ca_link *l)
{
	return l->trust;
}

int
ca_verify_cert(struct ca_link *l, X509 *cert, STACK_OF(X509) *chain,
    struct ca_result *res)
{
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	STACK_OF(X509) *all = sk_X509_new_null();
	int i, ok = 0;

	for (i = 0; all != NULL && i < sk_X509_num(chain); i++)
		(void)sk_X509_push(all, sk_X509_value(chain, i));
	for (i = 0; all != NULL && i < sk_X509_num(l->untrusted); i++)
		(void)sk_X509_push(all, sk_X509_value(l->untrusted, i));
	if (vc != NULL && all != NULL &&
	    X509_STORE_CTX_init(vc, l->trust, cert, all))
		ok = X509_verify_cert(vc) == 1;
	if (!ok && res != NULL)
		snprintf(res->detail, sizeof(res->detail),
		    "issued certificate chain: %s", vc == NULL ? "no memory" :
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(vc)));
	X509_STORE_CTX_free(vc);
	sk_X509_free(all);
	return ok ? CA_OK : CA_ERR_CHAIN;
}

/* ---- link ---- */

/*
 * Copy the endpoints (cfg->endpoints, or server and port as the only one)
 * and shuffle their order once: stations spread over the CA's fronts.
 */
static int
endpoints_new(struct ca_link *l, const struct ca_cfg *cfg)
{
	struct ca_endpoint one = { cfg->server, cfg->port };
	const struct ca_endpoint *e = cfg->n_endpoints > 0 ? cfg->endpoints :
	    &one;
	int n = cfg->n_endpoints > 0 ? cfg->n_endpoints : 1, i, j, k;
	uint32_t r;

	if (n > CA_MAX_ENDPOINTS || e == NULL)
		return CA_ERR_ARG;
	for (i = 0; i < n; i++) {
		if (e[i].host == NULL || e[i].host[0] == '\0' ||
		    strlen(e[i].host) >= sizeof(l->ep[i].host) ||
		    e[i].port < 1 || e[i].port > 65535)
			return CA_ERR_ARG;
		memcpy(l->ep[i].host, e[i].host, strlen(e[i].host) + 1);
		l->ep[i].port = e[i].port;
		l->order[i] = i;
	}
	for (i = cfg->keep_order ? 0 : n - 1; i > 0; i--) {
		if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
			break;	/* no randomness: the configured order */
		j = (int)(r % (uint32_t)(i + 1));
		k = l->order[i];
		l->order[i] = l->order[j];
		l->order[j] = k;
	}
	l->n = n;
	l->good = -1;
	l->cur = l->order[0];
	l->cfg.server = l->ep[0].host;
	l->cfg.port = l->ep[0].port;
	l->cfg.endpoints = NULL;
	l->cfg.n_endpoints = 0;
	return CA_OK;
}

int
ca_link_endpoints(const struct ca_link *l)
{
	return l->n;
}

int
ca_link_good(const struct ca_link *l)
{
	return l->good < 0 ? -1 : l->order[l->good];
}

int
ca_link_prefer(struct ca_link *l, const char *hostport)
{
	char ep[CA_HOSTPORT];
	int pos;

	if (l == NULL || hostport == NULL)
		return CA_ERR_ARG;
	for (pos = 0; pos < l->n; pos++) {
		(void)snprintf(ep, sizeof(ep), "%.253s:%u",
		    l->ep[l->order[pos]].host,
		    (unsigned)(uint16_t)l->ep[l->order[pos]].port);
		if (strcmp(ep, hostport) == 0) {
			l->good = pos;
			return CA_OK;
		}
	}
	return CA_ERR_ARG;
}

void
ca_link_tls_counts(const struct ca_link *l, unsigned long *handshakes,
    unsigned long *resumed)
{
	int i;

	*handshakes = *resumed = 0;
	for (i = 0; i < l->n; i++) {
		*handshakes += l->ep[i].tls.handshakes;
		*resumed += l->ep[i].tls.resumed;
	}
}

int
ca_link_new(const struct ca_cfg *cfg, EVP_PKEY *key, X509 *cert,
    struct ca_link **out)
{
	struct ca_link *l = NULL;
	int rc = CA_ERR_ARG, i;

	*out = NULL;
	if (cfg == NULL || (cfg->server == NULL && cfg->n_endpoints == 0) ||
	    cfg->cmp_trust == NULL ||
	    (!cfg->plain_http && cfg->tls_trust == NULL) ||
	    (cert != NULL && key == NULL))
		goto out;
	rc = CA_ERR_NOMEM;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto out;
	l->cfg = *cfg;
	l->cfg.timeout = ca_timeout(l->cfg.timeout);
	if ((rc = endpoints_new(l, cfg)) != CA_OK)
		goto out;
	rc = CA_ERR_NOMEM;
	if (key != NULL && EVP_PKEY_up_ref(key))
		l->key = key;
	if (cert != NULL && X509_up_ref(cert))
		l->cert = cert;
	if ((rc = trust_new(l)) != CA_OK)
		goto out;
	if (cfg->sender != NULL && (l->sender = parse_dn(cfg->sender)) == NULL) {
		rc = CA_ERR_ARG;
		goto out;
	}
	for (i = 0; i < l->n && !cfg->plain_http; i++) {
		if (catls_init(&l->ep[i].tls, l->ep[i].host, cfg->tls_trust,
		    l->key, l->cert, l->untrusted) != CATLS_OK) {
			rc = CA_ERR_TRUST;
			goto out;
		}
		l->ep[i].tls.fresh = cfg->tls_fresh;
	}
	*out = l;
	l = NULL;
out:
	ca_link_free(l);
	return rc;
}

/* End the link's HTTP connection, if one is open. */
static void
http_end(struct ca_link *l, int ok)
{
	if (l->http != NULL)
		(void)OSSL_HTTP_close(l->http, ok);
	l->http = NULL;
	BIO_free_all(l->conn);
	l->conn = NULL;
}

static time_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void
ca_link_free(struct ca_link *l)
{
	int i;

	if (l == NULL)
		return;
	http_end(l, 1);
	for (i = 0; i < CA_MAX_ENDPOINTS; i++)
		catls_done(&l->ep[i].tls);
	X509_STORE_free(l->trust);
	X509_NAME_free(l->sender);
	sk_X509_pop_free(l->untrusted, X509_free);
	X509_free(l->cert);
	EVP_PKEY_free(l->key);
	OPENSSL_free(l->refused);
	free(l);
}

void
ca_link_sessions(const struct ca_link *l, SSL_SESSION *out[CA_MAX_ENDPOINTS])
{
	for (int i = 0; i < CA_MAX_ENDPOINTS; i++) {
		out[i] = i < l->n ? l->ep[i].tls.sess : NULL;
		if (out[i] != NULL && !SSL_SESSION_up_ref(out[i]))
			out[i] = NULL;
	}
}

void
ca_link_resume_from(struct ca_link *l, SSL_SESSION *const in[CA_MAX_ENDPOINTS])
{
	for (int i = 0; i < l->n && i < CA_MAX_ENDPOINTS; i++)
		if (l->ep[i].tls.sess == NULL && !l->ep[i].tls.fresh &&
		    in[i] != NULL &&
		    SSL_SESSION_up_ref(in[i]))
			l->ep[i].tls.sess = in[i];
}

/* ---- one CMP transaction ---- */

/*
 * certConf callback: accept the new certificate only if its chain verifies
 * against our anchors and, for p10cr, it certifies the key of the CSR.
 */
static int
certconf_cb(OSSL_CMP_CTX *ctx, X509 *cert, int fail_info, const char **text)
{
	struct ca_link *l = OSSL_CMP_CTX_get_certConf_cb_arg(ctx);
	STACK_OF(X509) *extra = OSSL_CMP_CTX_get1_extraCertsIn(ctx);
	EVP_PKEY *want;

	if (fail_info != 0)
		goto out;
	if (ca_verify_cert(l, cert, extra, NULL) != CA_OK) {
		*text = "certificate chain does not verify";
		fail_info = 1 << OSSL_CMP_PKIFAILUREINFO_incorrectData;
		goto out;
	}
	want = l->csr ? X509_REQ_get0_pubkey((X509_REQ *)l->csr) : NULL;
	if (want != NULL && EVP_PKEY_eq(want, X509_get0_pubkey(cert)) != 1) {
		*text = "certificate is not for the requested key";
		fail_info = 1 << OSSL_CMP_PKIFAILUREINFO_badCertTemplate;
	}
out:
	/*
	 * Ours to have revoked if no certConf tells the CA: asked for
	 * (implicit) or not, a CA that grants implicit confirmation in its
	 * answer gets none (OpenSSL reads the grant from the answer alone).
	 */
	if (fail_info != 0 && l->refused == NULL && cert != NULL)
		l->refused_len = i2d_X509(cert, &l->refused);
	sk_X509_pop_free(extra, X509_free);
	return fail_info;
}

static int
set_txid(OSSL_CMP_CTX *ctx, const uint8_t txid[CA_TXID_LEN])
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	int ok = os != NULL && ASN1_OCTET_STRING_set(os, txid, CA_TXID_LEN) &&
	    OSSL_CMP_CTX_set1_transactionID(ctx, os);

	ASN1_OCTET_STRING_free(os);
	return ok;
}

/*
 * May the connection an earlier transaction left open carry this one? Only
 * to the same endpoint, within keep_alive seconds of its last use (below
 * the server's own idle close), and if the server has not closed it: an
 * idle HTTP connection has nothing to read but its end (FIN, RST or a TLS
 * close_notify), so anything readable means "closed" and a new one is
 * opened instead.
 */
static int
http_reusable(struct ca_link *l)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };

	if (l->http_ep != l->cur || mono_s() - l->http_last >= l->cfg.keep_alive)
		return 0;
	if (BIO_get_fd(l->conn, &p.fd) <= 0 || p.fd < 0)
		return 0;
	return poll(&p, 1, 0) == 0;
}

/*
 * OSSL_CMP_transfer_cb_t: what OSSL_CMP_MSG_http_perform() does, on a TCP
 * connection we opened (cahttp.h: a refused connect is told at once, not
 * retried until the timeout), kept alive for the transaction's next
 * message (certConf) as OpenSSL would, and for the next transactions
 * (cfg.keep_alive).
 */
static OSSL_CMP_MSG *
transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	static const char ct[] = "application/pkixcmp";
	struct ca_link *l = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	/* The time left of the total timeout, as OpenSSL set it for us. */
	int t = OSSL_CMP_CTX_get_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT);
	int tls = !l->cfg.plain_http;
	BIO *mem = NULL, *rsp = NULL;
	OSSL_CMP_MSG *res = NULL;
	char port[8];

	t = t > 0 ? t : l->cfg.timeout;
	(void)snprintf(port, sizeof(port), "%d", EP(l)->port);
	if (l->kept && !http_reusable(l))
		http_end(l, 1);
	l->kept = 0;
	if (l->http == NULL && (l->conn_err = cahttp_connect(EP(l)->host,
	    EP(l)->port, t, &l->conn)) != CAHTTP_OK)
		return NULL;
	if ((mem = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OSSL_CMP_MSG),
	    (const ASN1_VALUE *)req)) == NULL)
		goto out;
	rsp = OSSL_HTTP_transfer(&l->http, EP(l)->host, port, l->cfg.path,
	    tls, NULL, NULL, l->http == NULL ? l->conn : NULL, NULL,
	    tls ? catls_http_cb : NULL, tls ? &EP(l)->tls : NULL, 0, NULL, ct, mem,
	    ct, 1, OSSL_HTTP_DEFAULT_MAX_RESP_LEN, t, 1);
	res = (OSSL_CMP_MSG *)ASN1_item_d2i_bio(ASN1_ITEM_rptr(OSSL_CMP_MSG),
	    rsp, NULL);
out:
	if (l->http == NULL)	/* closed by OpenSSL (or never opened) */
		http_end(l, 0);
	BIO_free(mem);
	BIO_free(rsp);
	return res;
}

/*
 * Every message goes through here: it notes a certConf (the CA did not
 * grant implicit confirmation), then goes to transfer() or to a test's
 * replacement transport (fuzzers replay recorded answers), which gets its
 * own argument.
 */
#define BODY_CERTCONF 24	/* PKIBody certConf [24] (RFC 4210 5.1.2) */

static OSSL_CMP_MSG *
send_msg(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct ca_link *l = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	OSSL_CMP_MSG *res;

	if (OSSL_CMP_MSG_get_bodytype(req) == BODY_CERTCONF)
		l->certconf_sent = 1;
	if (l->cfg.transfer == NULL)
		return transfer(ctx, req);
	if (!OSSL_CMP_CTX_set_transfer_cb_arg(ctx, l->cfg.transfer_arg))
		return NULL;
	res = l->cfg.transfer(ctx, req);
	(void)OSSL_CMP_CTX_set_transfer_cb_arg(ctx, l);
	return res;
}

static int
set_transport(struct ca_link *l, OSSL_CMP_CTX *ctx)
{
	OSSL_CMP_transfer_cb_t cb = send_msg;
	void *arg = l;

	return OSSL_CMP_CTX_set1_server(ctx, EP(l)->host) &&
	    OSSL_CMP_CTX_set_serverPort(ctx, EP(l)->port) &&
	    OSSL_CMP_CTX_set1_serverPath(ctx, l->cfg.path) &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT,
	    l->cfg.timeout) &&
	    OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT,
	    4 * l->cfg.timeout) &&
	    OSSL_CMP_CTX_set_transfer_cb(ctx, cb) &&
	    OSSL_CMP_CTX_set_transfer_cb_arg(ctx, arg);
}

/*
 * The end of a transaction: its CMP context, and its connection unless it
 * is kept for the next one (cfg.keep_alive).
 */
static void
cmp_free(struct ca_link *l, OSSL_CMP_CTX *ctx)
{
	if (l->http != NULL && l->cfg.keep_alive > 0) {
		l->kept = 1;
		l->http_ep = l->cur;
		l->http_last = mono_s();
	} else {
		http_end(l, 1);
	}
	OSSL_CMP_CTX_free(ctx);
}

static int
set_trust(struct ca_link *l, OSSL_CMP_CTX *ctx)
{
	if (!X509_STORE_up_ref(l->trust))
		return 0;
	if (!OSSL_CMP_CTX_set0_trustedStore(ctx, l->trust)) {
		X509_STORE_free(l->trust);
		return 0;
	}
	if (l->sender != NULL &&
	    !OSSL_CMP_CTX_set1_expected_sender(ctx, l->sender))
		return 0;
	return (l->untrusted == NULL ||
	    OSSL_CMP_CTX_set1_untrusted(ctx, l->untrusted)) &&
	    OSSL_CMP_CTX_set_certConf_cb(ctx, certconf_cb) &&
	    OSSL_CMP_CTX_set_certConf_cb_arg(ctx, l);
}

/*
 * Some of OpenSSL's response checks (the expected sender, for one) report
 * only through the CMP log callback, which has no argument: keep the last
 * warning of this thread so classify() can say why. Thread-confined, reset
 * for every transaction.
 */
static _Thread_local char cmp_diag[256];

static int
log_cb(const char *func, const char *file, int line, OSSL_CMP_severity level,
    const char *msg)
{
	size_t n = strlen(cmp_diag);

	(void)func;
	(void)file;
	(void)line;
	/* Warnings, and the indented detail lines OpenSSL logs at info level
	 * under a failed check; not the "sending ..." progress lines. */
	if (level <= OSSL_CMP_LOG_WARNING || msg[0] == ' ')
		snprintf(cmp_diag + n, sizeof(cmp_diag) - n, "%s%s",
		    n > 0 ? ";" : "", msg);
	return 1;
}

static OSSL_CMP_CTX *
cmp_new(struct ca_link *l, const uint8_t txid[CA_TXID_LEN], int sign)
{
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);

	if (ctx == NULL)
		return NULL;
	cmp_diag[0] = '\0';
	l->conn_err = CAHTTP_OK;
	(void)OSSL_CMP_CTX_set_log_cb(ctx, log_cb);
	(void)OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_INFO);
	if (!set_transport(l, ctx) || !set_trust(l, ctx) ||
	    !set_txid(ctx, txid) ||
	    (sign && (l->cert == NULL || !OSSL_CMP_CTX_set1_cert(ctx, l->cert) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, l->key)))) {
		cmp_free(l, ctx);
		return NULL;
	}
	EP(l)->tls.verify = X509_V_OK;
	l->csr = NULL;
	l->certconf_sent = 0;
	OPENSSL_free(l->refused);
	l->refused = NULL;
	l->refused_len = 0;
	return ctx;
}

/* Kinds of OpenSSL errors seen in a failed transaction. */
struct errsum {
	int asn1, cmp, ssl, other;
	unsigned long shown;
	int pbm;	/* a MAC-protected response fails our secret's check */
};

static int
is_cmp_check(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_CMP &&
	    ERR_GET_REASON(e) != CMP_R_TRANSFER_ERROR;
}

/* OpenSSL's error data may span lines (certificate dumps): flatten it. */
static void
one_line(char *s)
{
	char *w = s, *r;

	for (r = s; *r != '\0'; r++) {
		char ch = (*r == '\n' || *r == '\t' || *r == '\r') ? ' ' : *r;

		if (ch == ' ' && w > s && w[-1] == ' ')
			continue;	/* collapse runs of blanks */
		*w++ = ch;
	}
	*w = '\0';
}

static void
note_error(struct errsum *s, unsigned long e, const char *data, int flags,
    char *detail, size_t dlen)
{
	int lib = ERR_GET_LIB(e);

	s->asn1 |= lib == ERR_LIB_ASN1;
	s->cmp |= is_cmp_check(e);
	s->ssl |= lib == ERR_LIB_SSL;
	s->pbm |= lib == ERR_LIB_CMP && ERR_GET_REASON(e) == CMP_R_WRONG_PBM_VALUE;
	/* Show the CMP layer's verdict if there is one, else the root cause. */
	if (s->shown != 0 && (is_cmp_check(s->shown) || !is_cmp_check(e)))
		return;
	s->shown = e;
	ERR_error_string_n(e, detail, dlen);
	if (data != NULL && (flags & ERR_TXT_STRING) && *data)
		snprintf(detail + strlen(detail), dlen - strlen(detail),
		    " (%s)", data);
	one_line(detail);
}

/* Classify a failed transaction from the CA's status and OpenSSL's errors. */
static int
classify(struct ca_link *l, OSSL_CMP_CTX *ctx, struct ca_result *res)
{
	struct errsum s = { 0, 0, 0, 0, 0, 0 };
	const char *data;
	unsigned long e;
	int flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0)
		note_error(&s, e, data, flags, res->detail, sizeof(res->detail));
	res->status = OSSL_CMP_CTX_get_status(ctx);
	res->fail_info = OSSL_CMP_CTX_get_failInfoCode(ctx);
	/* Our own connect failed: say which way, at once (cahttp.h). */
	if (l->conn_err == CAHTTP_ERR_REFUSED ||
	    l->conn_err == CAHTTP_ERR_TIMEOUT) {
		if (l->conn_err == CAHTTP_ERR_REFUSED)
			snprintf(res->detail, sizeof(res->detail), "%s:%d",
			    EP(l)->host, EP(l)->port);
		else
			snprintf(res->detail, sizeof(res->detail),
			    "connect timeout (%s:%d)", EP(l)->host, EP(l)->port);
		return l->conn_err == CAHTTP_ERR_REFUSED ? CA_ERR_REFUSED :
		    CA_ERR_TRANSPORT;
	}
	if (EP(l)->tls.verify != X509_V_OK) {
		snprintf(res->detail, sizeof(res->detail),
		    "TLS: CA server certificate: %s",
		    X509_verify_cert_error_string(EP(l)->tls.verify));
		return CA_ERR_TLS;
	}
	/* signerNotTrusted: the CA no longer accepts our own certificate. */
	if (res->status == OSSL_CMP_PKISTATUS_rejection &&
	    (res->fail_info & (1 << OSSL_CMP_PKIFAILUREINFO_signerNotTrusted)))
		return CA_ERR_STATION_REVOKED;
	/*
	 * An error message (not a rejecting ip/cp/rp) says the exchange went
	 * wrong, not that the request is refused: e.g. a certConf that met a
	 * delayed duplicate of our own earlier attempt. Retry under the same
	 * transactionID rather than give the operation up.
	 */
	if (s.shown != 0 && ERR_GET_LIB(s.shown) == ERR_LIB_CMP &&
	    ERR_GET_REASON(s.shown) == CMP_R_RECEIVED_ERROR)
		return (res->fail_info & l->final_fail) ? CA_ERR_REJECTED :
		    CA_ERR_RESPONSE;
	/*
	 * The CA protects its answer to a MAC-protected ir with the secret it
	 * holds for our reference: if that does not verify with ours, ours is
	 * wrong (the TLS server was authenticated, so it is the CA talking),
	 * and resending the same secret cannot help.
	 */
	if (l->final_fail != 0 && s.pbm)
		return CA_ERR_REJECTED;
	/*
	 * Before the status: OpenSSL records our own certConf refusal as a
	 * rejection status too (client.c cert_response), which would read as
	 * the CA refusing the request.
	 */
	if (s.shown != 0 && ERR_GET_LIB(s.shown) == ERR_LIB_CMP &&
	    ERR_GET_REASON(s.shown) == CMP_R_CERTIFICATE_NOT_ACCEPTED)
		return CA_ERR_CHAIN;
	if (res->status == OSSL_CMP_PKISTATUS_rejection)
		return CA_ERR_REJECTED;
	if (s.asn1 || s.cmp)
		return CA_ERR_RESPONSE;
	if (s.shown == 0 && cmp_diag[0] != '\0') {
		snprintf(res->detail, sizeof(res->detail), "%s", cmp_diag);
		one_line(res->detail);
		return CA_ERR_RESPONSE;
	}
	return s.ssl ? CA_ERR_TLS : CA_ERR_TRANSPORT;
}

static int
take_cert(OSSL_CMP_CTX *ctx, X509 *cert, struct ca_result *res)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	(void)ctx;
	if (n <= 0)
		return CA_ERR_NOMEM;
	res->cert = der;
	res->cert_len = (size_t)n;
	res->status = OSSL_CMP_PKISTATUS_accepted;
	return CA_OK;
}

static int
push_profile(OSSL_CMP_CTX *ctx, const char *profile)
{
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
	STACK_OF(ASN1_UTF8STRING) *sk = sk_ASN1_UTF8STRING_new_null();
	ASN1_STRING *seq = NULL;
	ASN1_TYPE *val = ASN1_TYPE_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_CERTPROFILE, 1);
	OSSL_CMP_ITAV *itav = NULL;
	uint8_t buf[256];
	struct buf_writer w;
	size_t n = strlen(profile);

	buf_writer_init(&w, buf, sizeof(buf));
	tlv_put_header(&w, 0x30, tlv_size(0x0C, n));
	tlv_put(&w, 0x0C, profile, n);
	if (s && sk && val && oid && buf_writer_error(&w) == BUF_OK &&
	    (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) != NULL &&
	    ASN1_STRING_set(seq, buf, (int)w.len)) {
		ASN1_TYPE_set(val, V_ASN1_SEQUENCE, seq);
		seq = NULL;
		if ((itav = OSSL_CMP_ITAV_create(oid, val)) != NULL) {
			oid = NULL;
			val = NULL;
		}
	}
	ASN1_STRING_free(seq);
	ASN1_TYPE_free(val);
	ASN1_OBJECT_free(oid);
	ASN1_UTF8STRING_free(s);
	sk_ASN1_UTF8STRING_free(sk);
	if (itav == NULL || !OSSL_CMP_CTX_push0_geninfo_ITAV(ctx, itav)) {
		OSSL_CMP_ITAV_free(itav);
		return 0;
	}
	return 1;
}

static int
run_certreq(struct ca_link *l, OSSL_CMP_CTX *ctx, int type,
    struct ca_result *res)
{
	X509 *cert;
	int rc;

	ERR_clear_error();
	cert = OSSL_CMP_exec_certreq(ctx, type, NULL);
	rc = cert == NULL ? classify(l, ctx, res) : take_cert(ctx, cert, res);
	/* Refused, and the CA took it as accepted: the caller revokes it. */
	if (rc != CA_OK && l->refused != NULL && !l->certconf_sent) {
		res->refused = l->refused;
		res->refused_len = (size_t)l->refused_len;
		l->refused = NULL;
	}
	OPENSSL_free(l->refused);
	l->refused = NULL;
	return rc;
}

static int
ca_enroll_p10_once(struct ca_link *l, const uint8_t *csr, size_t csr_len,
    const char *profile, const uint8_t txid[CA_TXID_LEN],
    struct ca_result *res)
{
	const unsigned char *p = csr;
	X509_REQ *req = NULL;
	OSSL_CMP_CTX *ctx = NULL;
	int rc = CA_ERR_ARG;

	result_init(res);
	if (csr == NULL || profile == NULL || csr_len > 65536)
		goto out;
	req = d2i_X509_REQ(NULL, &p, (long)csr_len);
	if (req == NULL || p != csr + csr_len) {
		snprintf(res->detail, sizeof(res->detail), "CSR is not DER PKCS#10");
		goto out;
	}
	rc = CA_ERR_NOMEM;
	/* Card certificates only: the station's own (ir, kur) keep their
	 * certConf, which the CA's one-time secrets and key rollover use. */
	if ((ctx = cmp_new(l, txid, 1)) == NULL)
		goto out;
	if (!OSSL_CMP_CTX_set1_p10CSR(ctx, req) || !push_profile(ctx, profile) ||
	    (l->cfg.implicit_confirm && !OSSL_CMP_CTX_set_option(ctx,
	    OSSL_CMP_OPT_IMPLICIT_CONFIRM, 1)))
		goto out;
	l->csr = req;
	rc = run_certreq(l, ctx, OSSL_CMP_P10CR, res);
out:
	l->csr = NULL;
	cmp_free(l, ctx);
	X509_REQ_free(req);
	return rc;
}

static int
ca_revoke_once(struct ca_link *l, const uint8_t *cert, size_t cert_len,
    int reason, const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	const unsigned char *p = cert;
	X509 *x = NULL;
	OSSL_CMP_CTX *ctx = NULL;
	int rc = CA_ERR_ARG;

	result_init(res);
	if (cert == NULL || reason < 0 || reason > 10 || reason == 7)
		goto out;
	x = d2i_X509(NULL, &p, (long)cert_len);
	if (x == NULL || p != cert + cert_len)
		goto out;
	rc = CA_ERR_NOMEM;
	if ((ctx = cmp_new(l, txid, 1)) == NULL ||
	    !OSSL_CMP_CTX_set1_oldCert(ctx, x) ||
	    !OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_REVOCATION_REASON, reason))
		goto out;
	ERR_clear_error();
	if (OSSL_CMP_exec_RR_ses(ctx) == 1) {
		res->status = OSSL_CMP_PKISTATUS_accepted;
		rc = CA_OK;
		goto out;
	}
	rc = classify(l, ctx, res);
	/* certRevoked for an rr means the target already is revoked: done.
	 * Not for an un-hold, where it means the revocation is final. */
	if (rc == CA_ERR_REJECTED && reason != CRL_REASON_REMOVE_FROM_CRL &&
	    (res->fail_info & (1 << OSSL_CMP_PKIFAILUREINFO_certRevoked)))
		rc = CA_OK;
out:
	cmp_free(l, ctx);
	X509_free(x);
	return rc;
}

int
ca_parse_cacerts(const uint8_t *der, size_t len, STACK_OF(X509) *out)
{
	struct buf_reader r;
	struct tlv seq, c;
	const unsigned char *p;
	const uint8_t *start;
	X509 *x;

	if (tlv_unwrap(der, len, 0x30, &seq) != TLV_OK)
		return CA_ERR_RESPONSE;
	buf_reader_init(&r, seq.val, seq.len);
	while (buf_left(&r) > 0 && sk_X509_num(out) < MAX_CACERTS) {
		start = r.p;
		if (tlv_expect(&r, 0x30, &c) != TLV_OK)
			return CA_ERR_RESPONSE;
		p = start;
		x = d2i_X509(NULL, &p, (long)(c.val + c.len - start));
		if (x == NULL || p != c.val + c.len || !sk_X509_push(out, x)) {
			X509_free(x);
			return CA_ERR_RESPONSE;
		}
	}
	return buf_left(&r) == 0 ? CA_OK : CA_ERR_RESPONSE;
}

static int
find_cacerts(STACK_OF(OSSL_CMP_ITAV) *itavs, STACK_OF(X509) *out)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_CACERTS, 1);
	int i, rc = CA_ERR_RESPONSE;

	for (i = 0; oid && i < sk_OSSL_CMP_ITAV_num(itavs); i++) {
		OSSL_CMP_ITAV *it = sk_OSSL_CMP_ITAV_value(itavs, i);

		if (OBJ_cmp(OSSL_CMP_ITAV_get0_type(it), oid) == 0) {
			const ASN1_TYPE *v = OSSL_CMP_ITAV_get0_value(it);

			if (v != NULL && v->type == V_ASN1_SEQUENCE)
				rc = ca_parse_cacerts(v->value.sequence->data,
				    (size_t)v->value.sequence->length, out);
			break;
		}
	}
	ASN1_OBJECT_free(oid);
	return rc;
}

static int
verify_all(struct ca_link *l, STACK_OF(X509) *certs, struct ca_result *res)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (ca_verify_cert(l, sk_X509_value(certs, i), certs, res) != CA_OK)
			return CA_ERR_CHAIN;
	return sk_X509_num(certs) > 0 ? CA_OK : CA_ERR_RESPONSE;
}

static int
ca_get_cacerts_once(struct ca_link *l, STACK_OF(X509) **certs,
    struct ca_result *res)
{
	uint8_t txid[CA_TXID_LEN];
	OSSL_CMP_CTX *ctx = NULL;
	STACK_OF(OSSL_CMP_ITAV) *rsp = NULL;
	STACK_OF(X509) *out = sk_X509_new_null();
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_CACERTS, 1);
	OSSL_CMP_ITAV *req;
	int rc = CA_ERR_NOMEM;

	*certs = NULL;
	result_init(res);
	/* genm changes nothing at the CA: a fresh transactionID each time. */
	if (out == NULL || oid == NULL || RAND_bytes(txid, sizeof(txid)) != 1 ||
	    (ctx = cmp_new(l, txid, 1)) == NULL ||
	    (req = OSSL_CMP_ITAV_create(oid, NULL)) == NULL)
		goto out;
	oid = NULL;
	if (!OSSL_CMP_CTX_push0_genm_ITAV(ctx, req)) {
		OSSL_CMP_ITAV_free(req);
		goto out;
	}
	ERR_clear_error();
	if ((rsp = OSSL_CMP_exec_GENM_ses(ctx)) == NULL) {
		rc = classify(l, ctx, res);
		goto out;
	}
	if ((rc = find_cacerts(rsp, out)) != CA_OK ||
	    (rc = verify_all(l, out, res)) != CA_OK)
		goto out;
	*certs = out;
	out = NULL;
out:
	sk_OSSL_CMP_ITAV_pop_free(rsp, OSSL_CMP_ITAV_free);
	sk_X509_pop_free(out, X509_free);
	ASN1_OBJECT_free(oid);
	cmp_free(l, ctx);
	return rc;
}

/* "/O=Example/CN=name" as an X509_NAME; NULL if malformed. */
static X509_NAME *
parse_dn(const char *dn)
{
	X509_NAME *n = X509_NAME_new();
	char *dup = strdup(dn), *save = NULL, *part, *eq;
	int ok = n != NULL && dup != NULL && dn[0] == '/';

	for (part = ok ? strtok_r(dup + 1, "/", &save) : NULL; ok && part;
	    part = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(part, '=')) == NULL) {
			ok = 0;
			break;
		}
		*eq++ = '\0';
		ok = X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8,
		    (unsigned char *)eq, -1, -1, 0);
	}
	free(dup);
	if (!ok || X509_NAME_entry_count(n) == 0) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int
set_subject(OSSL_CMP_CTX *ctx, const char *subject)
{
	X509_NAME *n = parse_dn(subject);
	int ok = n != NULL && OSSL_CMP_CTX_set1_subjectName(ctx, n);

	X509_NAME_free(n);
	return ok;
}

static int
ca_enroll_station_once(struct ca_link *l, const char *ref, const uint8_t *secret,
    size_t secret_len, EVP_PKEY *newkey, const char *subject,
    const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	OSSL_CMP_CTX *ctx = NULL;
	int rc = CA_ERR_ARG;

	result_init(res);
	if (ref == NULL || secret == NULL || secret_len == 0 ||
	    secret_len > 1024 || newkey == NULL || subject == NULL)
		goto out;
	rc = CA_ERR_NOMEM;
	if ((ctx = cmp_new(l, txid, 0)) == NULL ||
	    !OSSL_CMP_CTX_set1_referenceValue(ctx, (const unsigned char *)ref,
	    (int)strlen(ref)) ||
	    !OSSL_CMP_CTX_set1_secretValue(ctx, secret, (int)secret_len) ||
	    !EVP_PKEY_up_ref(newkey))
		goto out;
	if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, newkey)) {
		EVP_PKEY_free(newkey);
		goto out;
	}
	if (!set_subject(ctx, subject)) {
		rc = CA_ERR_ARG;
		goto out;
	}
	/*
	 * A wrong one-time secret is final: reported as such, not as
	 * "journaled, will retry". For card operations an error message stays
	 * retryable (it may answer a delayed duplicate of our own attempt).
	 */
	l->final_fail = FINAL_FAIL_IR;
	rc = run_certreq(l, ctx, OSSL_CMP_IR, res);
	l->final_fail = 0;
out:
	/* OSSL_CMP_CTX_free cleanses its copy of the secret (cmp_ctx.c). */
	cmp_free(l, ctx);
	return rc;
}

static int
ca_renew_station_once(struct ca_link *l, EVP_PKEY *newkey,
    const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	OSSL_CMP_CTX *ctx = NULL;
	int rc = CA_ERR_NOMEM;

	result_init(res);
	if (newkey == NULL)
		return CA_ERR_ARG;
	if ((ctx = cmp_new(l, txid, 1)) == NULL || !EVP_PKEY_up_ref(newkey))
		goto out;
	if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, newkey)) {
		EVP_PKEY_free(newkey);
		goto out;
	}
	rc = run_certreq(l, ctx, OSSL_CMP_KUR, res);
out:
	cmp_free(l, ctx);
	return rc;
}

/* ---- failover over the CA's endpoints (ca.h) ---- */

enum op_kind { OP_P10, OP_RR, OP_GENM, OP_IR, OP_KUR };

/* One call's arguments, to repeat it on the next endpoint. */
struct op {
	enum op_kind kind;
	const uint8_t *der;	/* CSR (p10cr) or certificate (rr) */
	size_t len;
	const char *profile;
	int reason;
	const uint8_t *txid;
	STACK_OF(X509) **certs;
	const char *ref, *subject;
	const uint8_t *secret;
	size_t secret_len;
	EVP_PKEY *newkey;
};

static int
op_once(struct ca_link *l, const struct op *o, struct ca_result *res)
{
	switch (o->kind) {
	case OP_P10:
		return ca_enroll_p10_once(l, o->der, o->len, o->profile,
		    o->txid, res);
	case OP_RR:
		return ca_revoke_once(l, o->der, o->len, o->reason, o->txid,
		    res);
	case OP_GENM:
		return ca_get_cacerts_once(l, o->certs, res);
	case OP_IR:
		return ca_enroll_station_once(l, o->ref, o->secret,
		    o->secret_len, o->newkey, o->subject, o->txid, res);
	case OP_KUR:
		return ca_renew_station_once(l, o->newkey, o->txid, res);
	}
	return CA_ERR_ARG;
}

/* The way to the CA failed, not the CA: another endpoint may serve. */
static int
failover_err(int rc)
{
	return rc == CA_ERR_REFUSED || rc == CA_ERR_TRANSPORT ||
	    rc == CA_ERR_TLS;
}

int
ca_answered(int rc)
{
	return !failover_err(rc);
}

/* "host:port: why" of a failed attempt, appended to buf. */
static void
say_failed(char *buf, size_t len, const char *ep, int rc,
    const struct ca_result *res)
{
	size_t n = strlen(buf);

	if (n + 1 < len)
		(void)snprintf(buf + n, len - n, "%s%s: %s%s%s", n ? "; " : "",
		    ep, ca_strerror(rc), res->detail[0] ? ": " : "",
		    res->detail);
}

/*
 * Run o on the endpoints in the link's order, from the one that answered
 * last, to the first that gets an answer from the CA; the same
 * transactionID every time (o->txid). A test's transfer callback has no
 * endpoints to fail over to.
 */
static int
run(struct ca_link *l, const struct op *o, struct ca_result *res)
{
	char ep[CA_HOSTPORT], failed[192] = "", all[256] = "";
	int i, pos, rc = CA_ERR_ARG;
	int n = l->cfg.transfer != NULL ? 1 : l->n;
	int start = l->good < 0 ? 0 : l->good;

	for (i = 0; i < n; i++) {
		pos = (start + i) % l->n;
		l->cur = l->order[pos];
		(void)snprintf(ep, sizeof(ep), "%.253s:%u", EP(l)->host,
		    (unsigned)(uint16_t)EP(l)->port);
		if (i > 0)
			ca_result_clear(res);
		rc = op_once(l, o, res);
		if (!failover_err(rc)) {
			l->good = pos;
			break;
		}
		if (i == 0)
			say_failed(failed, sizeof(failed), ep, rc, res);
		say_failed(all, sizeof(all), ep, rc, res);
	}
	(void)snprintf(res->endpoint, sizeof(res->endpoint), "%.260s", ep);
	(void)snprintf(res->failed, sizeof(res->failed), "%s", failed);
	res->failovers = i < n ? i : n - 1;
	if (i == n && n > 1)
		(void)snprintf(res->detail, sizeof(res->detail),
		    "all %d CA endpoints failed: %.200s", n, all);
	return rc;
}

int
ca_enroll_p10(struct ca_link *l, const uint8_t *csr, size_t csr_len,
    const char *profile, const uint8_t txid[CA_TXID_LEN],
    struct ca_result *res)
{
	struct op o = { .kind = OP_P10, .der = csr, .len = csr_len,
	    .profile = profile, .txid = txid };

	return run(l, &o, res);
}

int
ca_revoke(struct ca_link *l, const uint8_t *cert, size_t cert_len,
    int reason, const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	struct op o = { .kind = OP_RR, .der = cert, .len = cert_len,
	    .reason = reason, .txid = txid };

	return run(l, &o, res);
}

int
ca_get_cacerts(struct ca_link *l, STACK_OF(X509) **certs,
    struct ca_result *res)
{
	struct op o = { .kind = OP_GENM, .certs = certs };

	return run(l, &o, res);
}

int
ca_enroll_station(struct ca_link *l, const char *ref, const uint8_t *secret,
    size_t secret_len, EVP_PKEY *newkey, const char *subject,
    const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	struct op o = { .kind = OP_IR, .ref = ref, .secret = secret,
	    .secret_len = secret_len, .newkey = newkey, .subject = subject,
	    .txid = txid };

	return run(l, &o, res);
}

int
ca_renew_station(struct ca_link *l, EVP_PKEY *newkey,
    const uint8_t txid[CA_TXID_LEN], struct ca_result *res)
{
	struct op o = { .kind = OP_KUR, .newkey = newkey, .txid = txid };

	return run(l, &o, res);
}
