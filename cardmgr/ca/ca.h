/*
 * ca: the station's CMP client (RFC 4210 as profiled by RFC 9483), built on
 * OpenSSL's own OSSL_CMP_* client, over HTTPS with mutual TLS.
 *
 * The station is a Registration Authority: it sends p10cr for card keys (the
 * CSR is signed by the card), rr to revoke, hold and un-hold, genm for the CA
 * certificates, and ir with a password-based MAC to enroll itself. Every
 * request is protected with the station's key (an EVP_PKEY whose signing
 * happens in the station's token, see cakey.h); every response is checked by
 * OpenSSL for protection by a CA the configured trust anchors vouch for,
 * transactionID and nonces, and every issued certificate's chain is verified
 * here before certConf accepts it.
 *
 * No global state: a struct ca_link holds the configuration and the TLS
 * context; each call is one CMP transaction with a transactionID the caller
 * chose (and journaled) beforehand, so a retry of the same operation is
 * recognisable by the CA.
 */
#ifndef CA_H
#define CA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cmp.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

enum ca_err {
	CA_OK = 0,
	CA_ERR_ARG = -1,	/* bad argument or configuration */
	CA_ERR_NOMEM = -2,
	CA_ERR_TRANSPORT = -3,	/* CA unreachable, timeout, HTTP error */
	CA_ERR_TLS = -4,	/* TLS handshake failed (server not trusted?) */
	CA_ERR_RESPONSE = -5,	/* response malformed, unprotected or forged */
	CA_ERR_REJECTED = -6,	/* the CA refused the request */
	CA_ERR_CHAIN = -7,	/* issued certificate does not verify */
	CA_ERR_STATION_REVOKED = -8,	/* the CA says our certificate is revoked */
	CA_ERR_TRUST = -9,	/* cannot load trust anchors */
	CA_ERR_REFUSED = -10,	/* nothing listens at the CA's address */
};

const char *ca_strerror(int err);
/* The enum constant's name ("CA_ERR_ARG"), for logs and records. */
const char *ca_errname(int err);

/* 1 if the operation may succeed when retried later (the outbox keeps it). */
int ca_err_retryable(int err);

#define CA_TXID_LEN 16
#define CA_HOSTPORT 262		/* "host:port" of an endpoint */
#define CA_DEFAULT_TIMEOUT 30

/*
 * The timeout in seconds for one network exchange of the CA link (CMP, CRL,
 * identity manager): t, or CA_DEFAULT_TIMEOUT if t <= 0. OpenSSL reads 0 as
 * "no timeout", which would let a silent peer hang the station forever.
 */
int ca_timeout(int t);

#define CA_MAX_ENDPOINTS 8

/* One CA endpoint (a TLS front of the CA, or of a CA cluster). */
struct ca_endpoint {
	const char *host;	/* also checked against its TLS certificate */
	int port;
};

struct ca_cfg {
	const char *server;	/* host name, also checked against the TLS cert */
	int port;
	/*
	 * Several endpoints of one CA (n_endpoints 1..CA_MAX_ENDPOINTS; then
	 * server and port are not used): see "Failover" below.
	 */
	const struct ca_endpoint *endpoints;
	int n_endpoints;
	int keep_order;		/* 1: try them in the given order, unshuffled */
	const char *path;	/* HTTP path of the CMP endpoint, e.g. "cmp" */
	int plain_http;		/* 1: no TLS (only for the openssl mock server) */
	const char *tls_trust;	/* PEM file: anchors for the server's TLS cert */
	const char *cmp_trust;	/* PEM file: anchors for CMP and issued chains */
	const char *untrusted;	/* PEM file of intermediates, or NULL */
	const char *sender;	/* "/O=../CN=..": only this subject may sign
				 * responses (any anchor-chained cert if NULL) */
	int timeout;		/* seconds per message round trip (see ca_timeout) */
	/*
	 * Seconds an idle HTTP(S) connection is kept open for the link's next
	 * transaction (0: closed at the end of each transaction). A kept
	 * connection is used again only to the same endpoint, within this
	 * time, and when the server has not closed it meanwhile.
	 */
	int keep_alive;
	/*
	 * 1: no TLS session resumption: every connection does a full
	 * handshake, the station key signing it (a CA front that wants the
	 * client certificate on each connection; ca.conf tls_resume = no).
	 */
	int tls_fresh;
	/*
	 * 1: signed certificate requests ask the CA for implicit confirmation
	 * (RFC 4210 5.1.1.1): a CA that grants it takes its certificate as
	 * accepted, and the transaction is one message each way, no certConf.
	 * A certificate the link then refuses (chain, key) reaches no certConf
	 * either: the result carries it (ca_result.refused) for the caller to
	 * have it revoked. A CA that does not grant gets its certConf as ever.
	 * MAC-protected requests (station enrollment) never ask.
	 */
	int implicit_confirm;
	/*
	 * Tests and the fuzzer only (NULL in the station): every CMP message
	 * goes to this callback, with transfer_arg, instead of straight to
	 * HTTP(S) (the callback may call OSSL_CMP_MSG_http_perform, which
	 * still uses the link's TLS); the rest of the transaction (protection,
	 * checks, certConf) is unchanged.
	 */
	OSSL_CMP_transfer_cb_t transfer;
	void *transfer_arg;
};

/* What a CA transaction produced; release with ca_result_clear(). */
struct ca_result {
	int status;		/* PKIStatus from the CA, -1 if none */
	int fail_info;		/* PKIFailureInfo bits from the CA */
	char detail[256];	/* why it failed, for logs and the operator */
	uint8_t *cert;		/* DER of the issued certificate, or NULL */
	size_t cert_len;
	/*
	 * A certificate the CA issued under implicit confirmation that the
	 * link refused (chain or key: CA_ERR_CHAIN): the CA holds it as
	 * accepted, so the caller has it revoked (DER, or NULL).
	 */
	uint8_t *refused;
	size_t refused_len;
	/*
	 * Failover: the endpoint ("host:port") that answered (or the last one
	 * tried), how many endpoints failed before it in this call, and why
	 * the first of them failed ("host:port: reason").
	 */
	char endpoint[CA_HOSTPORT];
	int failovers;
	char failed[192];
};

void ca_result_clear(struct ca_result *res);

struct ca_link;

/*
 * Failover. A link with several endpoints tries them in an order shuffled
 * once when the link is made, starting with the one that answered last
 * (remembered by the link: one per process or daemon). A call that fails
 * on the way there (connection refused, connect or read timeout, TLS
 * failure, an HTTP error such as 5xx from the front: CA_ERR_REFUSED,
 * CA_ERR_TRANSPORT, CA_ERR_TLS) is repeated whole on the next endpoint,
 * under the same transactionID: a CA cluster sharing its state answers the
 * repeat once (a replay), never twice. An answer from the CA itself
 * (rejection, malformed or forged response) ends the call. Each endpoint
 * has its own TLS context, host name check (SNI and certificate) and
 * resumable session. When every endpoint failed, the error is the last
 * one's and res->detail lists each.
 */
int ca_link_endpoints(const struct ca_link *l);
/* Index in cfg order of the endpoint that answered last, -1 if none yet. */
int ca_link_good(const struct ca_link *l);
/*
 * Start the next call at the endpoint hostport ("host:port", as in
 * ca_result.endpoint): the one that answered last as remembered outside the
 * link (the station's journal, shared by every link and process). CA_OK, or
 * CA_ERR_ARG when no endpoint of l has that name (the link's own order
 * stays).
 */
int ca_link_prefer(struct ca_link *l, const char *hostport);
/* 1 if rc is an answer from the CA itself (no other endpoint is tried). */
int ca_answered(int rc);
/* TLS handshakes done and resumed, over all endpoints (status, tests). */
void ca_link_tls_counts(const struct ca_link *l, unsigned long *handshakes,
    unsigned long *resumed);

/*
 * A link to the CA. key and cert are the station's identity (TLS client and
 * CMP signer); key may be NULL with cert NULL for PBM-only enrollment. The
 * link holds references to key and cert.
 * [out] *out: free with ca_link_free. NULL on error.
 */
int ca_link_new(const struct ca_cfg *cfg, EVP_PKEY *key, X509 *cert,
    struct ca_link **out);
void ca_link_free(struct ca_link *l);

/*
 * TLS sessions shared between links of one configuration (the daemon's pool):
 * ca_link_sessions gives l's session per endpoint (up-referenced, NULL where
 * it has none; free each with SSL_SESSION_free), ca_link_resume_from lets a
 * new link resume them where it has none of its own, so a second link does
 * not pay a full handshake (and a station-key signature) either.
 */
void ca_link_sessions(const struct ca_link *l,
    SSL_SESSION *out[CA_MAX_ENDPOINTS]);
void ca_link_resume_from(struct ca_link *l,
    SSL_SESSION *const in[CA_MAX_ENDPOINTS]);

/*
 * Enroll a card key: p10cr with csr (DER PKCS#10, signed by the card) and the
 * certificate profile for the key slot, then certConf after the returned
 * certificate's chain verified. [out] res->cert: the certificate.
 */
int ca_enroll_p10(struct ca_link *l, const uint8_t *csr, size_t csr_len,
    const char *profile, const uint8_t txid[CA_TXID_LEN],
    struct ca_result *res);

/*
 * Revoke (reason: a CRL_REASON_* value; CRL_REASON_CERTIFICATE_HOLD holds,
 * CRL_REASON_REMOVE_FROM_CRL un-holds) the DER certificate cert. A
 * certificate already revoked counts as success.
 */
int ca_revoke(struct ca_link *l, const uint8_t *cert, size_t cert_len,
    int reason, const uint8_t txid[CA_TXID_LEN], struct ca_result *res);

/*
 * genm caCerts: the CA's certificates, each verified against cmp_trust.
 * [out] *certs: caller frees with sk_X509_pop_free(.., X509_free).
 */
int ca_get_cacerts(struct ca_link *l, STACK_OF(X509) **certs,
    struct ca_result *res);

/*
 * Parse a caCerts value (DER SEQUENCE OF Certificate, at most 8) into out,
 * boundedly; no verification. Used by ca_get_cacerts; public for the fuzzer.
 */
int ca_parse_cacerts(const uint8_t *der, size_t len, STACK_OF(X509) *out);

/*
 * Station enrollment: ir protected with a MAC from the one-time secret
 * (reference ref), for newkey (in the token) and subject ("/O=../CN=..").
 * secret is not kept. [out] res->cert: the station certificate.
 */
int ca_enroll_station(struct ca_link *l, const char *ref,
    const uint8_t *secret, size_t secret_len, EVP_PKEY *newkey,
    const char *subject, const uint8_t txid[CA_TXID_LEN],
    struct ca_result *res);

/*
 * Renewal of the station's own certificate: kur signed with the current
 * key and certificate, for newkey (may be the current key).
 */
int ca_renew_station(struct ca_link *l, EVP_PKEY *newkey,
    const uint8_t txid[CA_TXID_LEN], struct ca_result *res);

/*
 * Verify cert (with intermediates, may be NULL) against the link's cmp_trust
 * anchors; at time `at` if nonzero. Returns CA_OK or CA_ERR_CHAIN with
 * res->detail (res may be NULL).
 */
int ca_verify_cert(struct ca_link *l, X509 *cert, STACK_OF(X509) *chain,
    struct ca_result *res);

/* The anchors and intermediates (cmp_trust + untrusted) the link trusts. */
X509_STORE *ca_trust_store(struct ca_link *l);

#endif /* CA_H */
