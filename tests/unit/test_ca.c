/*
 * Unit tests: the parts of cardmgr/ca/ca.c that need no CA: the caCerts parser
 * (bounds), chain verification against the configured anchors, link set-up
 * argument checks, error classification helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <poll.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/bn.h>

#include "ca/ca.h"
#include "ca/cacrl.h"
#include "ca/cafile.h"
#include "ca/caidm.h"
#include "ca/cahttp.h"

struct pki {
	EVP_PKEY *root_key, *ca_key, *leaf_key, *other_key;
	X509 *root, *ca, *leaf, *other;
	char anchors[64];
};

static struct pki P;

static X509 *
mk(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int is_ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)strlen(cn));
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, ikey ? ikey : key, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static int
setup(void **state)
{
	FILE *f;
	int fd;

	(void)state;
	P.root_key = EVP_EC_gen("P-256");
	P.ca_key = EVP_EC_gen("P-256");
	P.leaf_key = EVP_EC_gen("P-256");
	P.other_key = EVP_EC_gen("P-256");
	P.root = mk("root", P.root_key, NULL, NULL, 1);
	P.ca = mk("issuing", P.ca_key, P.root, P.root_key, 1);
	P.leaf = mk("leaf", P.leaf_key, P.ca, P.ca_key, 0);
	P.other = mk("other", P.other_key, NULL, NULL, 1);
	snprintf(P.anchors, sizeof(P.anchors), "/tmp/test_ca.XXXXXX");
	if ((fd = mkstemp(P.anchors)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	PEM_write_X509(f, P.root);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(P.anchors);
	X509_free(P.root);
	X509_free(P.ca);
	X509_free(P.leaf);
	X509_free(P.other);
	EVP_PKEY_free(P.root_key);
	EVP_PKEY_free(P.ca_key);
	EVP_PKEY_free(P.leaf_key);
	EVP_PKEY_free(P.other_key);
	return 0;
}

/* DER SEQUENCE OF the given certificates (+ extra trailing bytes). */
static size_t
seq_of(X509 **certs, int n, uint8_t *out, size_t cap, size_t trailing)
{
	uint8_t body[16384];
	size_t len = 0, hl;
	int i;

	for (i = 0; i < n; i++) {
		unsigned char *p = body + len;

		len += (size_t)i2d_X509(certs[i], &p);
	}
	assert_true(len < 65536 && len + 4 + trailing <= cap);
	out[0] = 0x30;
	out[1] = 0x82;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	hl = 4;
	memcpy(out + hl, body, len);
	memset(out + hl + len, 0, trailing);
	return hl + len + trailing;
}

static void
cacerts_parse(void **state)
{
	X509 *two[] = { P.ca, P.root };
	X509 *many[9] = { P.root, P.root, P.root, P.root, P.root, P.root,
	    P.root, P.root, P.root };
	STACK_OF(X509) *sk = sk_X509_new_null();
	uint8_t der[16384];
	size_t n, cut;

	(void)state;
	n = seq_of(two, 2, der, sizeof(der), 0);
	assert_int_equal(ca_parse_cacerts(der, n, sk), CA_OK);
	assert_int_equal(sk_X509_num(sk), 2);
	assert_int_equal(X509_cmp(sk_X509_value(sk, 0), P.ca), 0);
	sk_X509_pop_free(sk, X509_free);
	/* every truncation is refused */
	for (cut = 0; cut < n; cut += 7) {
		sk = sk_X509_new_null();
		assert_int_equal(ca_parse_cacerts(der, cut, sk), CA_ERR_RESPONSE);
		sk_X509_pop_free(sk, X509_free);
	}
	/* trailing bytes after the SEQUENCE */
	n = seq_of(two, 2, der, sizeof(der), 1);
	sk = sk_X509_new_null();
	assert_int_equal(ca_parse_cacerts(der, n, sk), CA_ERR_RESPONSE);
	sk_X509_pop_free(sk, X509_free);
	/* more than 8 certificates: refused, at most 8 kept */
	n = seq_of(many, 9, der, sizeof(der), 0);
	sk = sk_X509_new_null();
	assert_int_equal(ca_parse_cacerts(der, n, sk), CA_ERR_RESPONSE);
	assert_true(sk_X509_num(sk) <= 8);
	sk_X509_pop_free(sk, X509_free);
}

static void
verify_against_anchors(void **state)
{
	struct ca_cfg cfg = { .server = "ca.test", .port = 1, .path = "cmp",
	    .plain_http = 1, .cmp_trust = P.anchors };
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct ca_link *l;
	struct ca_result res;

	(void)state;
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_OK);
	memset(&res, 0, sizeof(res));
	/* without the intermediate the leaf does not chain */
	assert_int_equal(ca_verify_cert(l, P.leaf, NULL, &res), CA_ERR_CHAIN);
	assert_non_null(strstr(res.detail, "issued certificate chain:"));
	sk_X509_push(chain, P.ca);
	assert_int_equal(ca_verify_cert(l, P.leaf, chain, NULL), CA_OK);
	/* a certificate from another root never does */
	assert_int_equal(ca_verify_cert(l, P.other, chain, NULL), CA_ERR_CHAIN);
	sk_X509_free(chain);
	ca_link_free(l);
}

static void
link_arguments(void **state)
{
	struct ca_cfg cfg = { .server = "ca.test", .port = 1, .path = "cmp",
	    .cmp_trust = P.anchors };
	struct ca_link *l = (struct ca_link *)&cfg;

	(void)state;
	/* TLS without anchors for the server */
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_ARG);
	assert_null(l);
	cfg.tls_trust = P.anchors;
	/* a certificate without its key */
	assert_int_equal(ca_link_new(&cfg, NULL, P.leaf, &l), CA_ERR_ARG);
	/* a missing anchor file */
	cfg.cmp_trust = "/nonexistent/anchors.pem";
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_TRUST);
	cfg.cmp_trust = P.anchors;
	/* a malformed expected sender */
	cfg.sender = "CN=no-leading-slash";
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_ARG);
	cfg.sender = "/O=Test/CN=Test Issuing CA";
	assert_int_equal(ca_link_new(&cfg, P.leaf_key, P.leaf, &l), CA_OK);
	ca_link_free(l);
}

static void
requests_checked_before_sending(void **state)
{
	struct ca_cfg cfg = { .server = "127.0.0.1", .port = 9, .path = "cmp",
	    .plain_http = 1, .cmp_trust = P.anchors, .timeout = 1 };
	uint8_t txid[CA_TXID_LEN] = { 0 }, junk[8] = { 0x30, 0x03, 1, 2, 3 };
	struct ca_result res;
	struct ca_link *l;

	(void)state;
	assert_int_equal(ca_link_new(&cfg, P.leaf_key, P.leaf, &l), CA_OK);
	assert_int_equal(ca_enroll_p10(l, junk, sizeof(junk), "piv-auth", txid,
	    &res), CA_ERR_ARG);
	assert_non_null(strstr(res.detail, "not DER PKCS#10"));
	ca_result_clear(&res);
	assert_int_equal(ca_revoke(l, junk, sizeof(junk), 1, txid, &res),
	    CA_ERR_ARG);
	ca_result_clear(&res);
	/* reason 7 is unused in RFC 5280 */
	assert_int_equal(ca_revoke(l, junk, sizeof(junk), 7, txid, &res),
	    CA_ERR_ARG);
	ca_result_clear(&res);
	assert_int_equal(ca_enroll_station(l, "ref", (const uint8_t *)"", 0,
	    P.leaf_key, "/CN=x", txid, &res), CA_ERR_ARG);
	ca_result_clear(&res);
	ca_link_free(l);
}

static void
error_helpers(void **state)
{
	(void)state;
	assert_true(ca_err_retryable(CA_ERR_TRANSPORT));
	assert_true(ca_err_retryable(CA_ERR_RESPONSE));
	assert_true(ca_err_retryable(CA_ERR_STATION_REVOKED));
	assert_false(ca_err_retryable(CA_ERR_REJECTED));
	assert_false(ca_err_retryable(CA_ERR_CHAIN));
	assert_string_equal(ca_errname(CA_ERR_TLS), "CA_ERR_TLS");
	assert_string_equal(ca_strerror(CA_ERR_TRANSPORT), "CA unreachable");
	assert_true(ca_err_retryable(CA_ERR_REFUSED));
	assert_string_equal(ca_strerror(CA_ERR_REFUSED), "connection refused");
	assert_string_equal(ca_errname(CA_ERR_REFUSED), "CA_ERR_REFUSED");
}

/* A loopback port: listening (s >= 0 returned) or, with keep 0, closed. */
static int
loopback_port(int keep, int *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	if (keep)
		return s;
	close(s);
	return -1;
}

/* One connect attempt: a refusal is its own error, told without waiting
 * (the 300 s timeout would fail the test run long before it expired). */
static void
connect_refused_at_once(void **state)
{
	BIO *b = (BIO *)1;
	int port, s;

	(void)state;
	(void)loopback_port(0, &port);
	assert_int_equal(cahttp_connect("127.0.0.1", port, 300, &b),
	    CAHTTP_ERR_REFUSED);
	assert_null(b);
	assert_string_equal(cahttp_strerror(CAHTTP_ERR_REFUSED),
	    "connection refused");
	s = loopback_port(1, &port);
	assert_int_equal(cahttp_connect("127.0.0.1", port, 5, &b), CAHTTP_OK);
	assert_non_null(b);
	BIO_free_all(b);
	close(s);
	assert_int_equal(cahttp_connect(NULL, port, 5, &b), CAHTTP_ERR_ARG);
	assert_int_equal(cahttp_connect("127.0.0.1", 0, 5, &b), CAHTTP_ERR_ARG);
	assert_int_equal(cahttp_connect("127.0.0.1", port, 0, &b), CAHTTP_ERR_ARG);
	assert_string_equal(cahttp_errname(CAHTTP_ERR_TIMEOUT),
	    "CAHTTP_ERR_TIMEOUT");
}

/*
 * The CRL fetch and the identity manager push connect the same way: nothing
 * listening is "connection refused", its own error, at once (OpenSSL's own
 * connect retried it every 100 ms for the whole 300 s and said "connect
 * timeout"); a push refused so stays retryable (not CAIDM_ERR_REFUSED).
 */
static void
crl_idm_refused_at_once(void **state)
{
	const uint8_t der[3] = { 0x30, 0x01, 0x00 };
	struct caidm_cfg ic;
	X509_CRL *crl = (X509_CRL *)1;
	char url[64], detail[256], want[64];
	int port;

	(void)state;
	(void)loopback_port(0, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/crl", port);
	assert_int_equal(cacrl_fetch(url, 300, &crl), CACRL_ERR_CONNREFUSED);
	assert_null(crl);
	assert_string_equal(cacrl_strerror(CACRL_ERR_CONNREFUSED),
	    "connection refused");
	assert_string_equal(cacrl_errname(CACRL_ERR_CONNREFUSED),
	    "CACRL_ERR_CONNREFUSED");
	assert_int_equal(cacrl_fetch("http://[::1/crl", 300, &crl),
	    CACRL_ERR_ARG);
	assert_int_equal(cacrl_fetch("https://127.0.0.1/crl", 300, &crl),
	    CACRL_ERR_ARG);
	memset(&ic, 0, sizeof(ic));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/idm", port);
	ic.url = url;
	ic.trust = P.anchors;
	ic.timeout = 300;
	assert_int_equal(caidm_push(&ic, P.leaf_key, P.leaf, der, 3, detail,
	    sizeof(detail)), CAIDM_ERR_CONNREFUSED);
	snprintf(want, sizeof(want), "connection refused: 127.0.0.1:%d", port);
	assert_string_equal(detail, want);
	assert_string_equal(caidm_errname(CAIDM_ERR_CONNREFUSED),
	    "CAIDM_ERR_CONNREFUSED");
}

/*
 * Several endpoints: bad lists refused; two closed loopback ports: each is
 * tried once (refused at once), the error says both, none is remembered;
 * a remembered endpoint (ca_link_prefer) is tried first.
 */
static void
endpoints_fail_over(void **state)
{
	struct ca_endpoint ep[CA_MAX_ENDPOINTS + 1] = { { 0 } };
	struct ca_cfg cfg = { .path = "cmp", .plain_http = 1,
	    .cmp_trust = P.anchors, .timeout = 300, .endpoints = ep };
	STACK_OF(X509) *certs = NULL;
	struct ca_result res;
	struct ca_link *l;
	char hp[64];
	int p1, p2, i;

	(void)state;
	for (i = 0; i <= CA_MAX_ENDPOINTS; i++) {
		ep[i].host = "127.0.0.1";
		ep[i].port = 1000 + i;
	}
	cfg.n_endpoints = CA_MAX_ENDPOINTS + 1;
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_ARG);
	cfg.n_endpoints = 2;
	ep[1].port = 0;
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_ARG);
	ep[1].port = 1;
	ep[1].host = "";
	assert_int_equal(ca_link_new(&cfg, NULL, NULL, &l), CA_ERR_ARG);
	(void)loopback_port(0, &p1);
	(void)loopback_port(0, &p2);
	if (p1 == p2)
		p2 = p1 == 65535 ? p1 - 1 : p1 + 1;
	ep[0].host = ep[1].host = "127.0.0.1";
	ep[0].port = p1;
	ep[1].port = p2;
	cfg.keep_order = 1;
	assert_int_equal(ca_link_new(&cfg, P.leaf_key, P.leaf, &l), CA_OK);
	assert_int_equal(ca_link_endpoints(l), 2);
	assert_int_equal(ca_link_good(l), -1);
	/* refused at once on both, whatever the 300 s timeout */
	assert_int_equal(ca_get_cacerts(l, &certs, &res), CA_ERR_REFUSED);
	assert_null(certs);
	assert_non_null(strstr(res.detail, "all 2 CA endpoints failed: "));
	assert_non_null(strstr(res.detail, "connection refused"));
	assert_int_equal(res.failovers, 1);
	assert_true(strncmp(res.failed, "127.0.0.1:", 10) == 0);
	assert_int_equal(ca_link_good(l), -1);
	ca_result_clear(&res);
	/* a remembered endpoint: the next call starts there */
	(void)snprintf(hp, sizeof(hp), "127.0.0.1:%d", p2);
	assert_int_equal(ca_link_prefer(l, hp), CA_OK);
	assert_int_equal(ca_link_good(l), 1);
	assert_int_equal(ca_get_cacerts(l, &certs, &res), CA_ERR_REFUSED);
	(void)snprintf(hp, sizeof(hp), "127.0.0.1:%d: ", p2);
	assert_true(strncmp(res.failed, hp, strlen(hp)) == 0);
	ca_result_clear(&res);
	assert_int_equal(ca_link_prefer(l, "127.0.0.1:1"), CA_ERR_ARG);
	assert_int_equal(ca_link_prefer(l, "127.0.0.1"), CA_ERR_ARG);
	assert_int_equal(ca_link_good(l), 1);
	assert_true(ca_answered(CA_OK) && ca_answered(CA_ERR_REJECTED));
	assert_false(ca_answered(CA_ERR_REFUSED) || ca_answered(CA_ERR_TLS) ||
	    ca_answered(CA_ERR_TRANSPORT));
	ca_link_free(l);
}

/* A CA certificate under root with only keyCertSign: it may not sign CRLs. */
static X509 *
mk_no_crlsign(const char *cn, EVP_PKEY *key)
{
	X509 *x = mk(cn, key, P.root, NULL, 1);
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, P.root, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, P.root_key, EVP_sha256());
	return x;
}

/* As the station gets it: parsed from DER (which sets OpenSSL's flags). */
static X509_CRL *
reparse(X509_CRL *crl)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int n = i2d_X509_CRL(crl, &der);
	X509_CRL *back;

	assert_true(n > 0);
	p = der;
	back = d2i_X509_CRL(NULL, &p, n);
	assert_non_null(back);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return back;
}

/*
 * A CRL by issuer: crlNumber number (hex, NULL: none), listing revoked (may
 * be NULL), with an unknown critical extension if critical.
 */
static X509_CRL *
mk_crl(X509 *issuer, EVP_PKEY *key, const char *number, X509 *revoked,
    int critical)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *num;
	X509_REVOKED *r;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	X509_gmtime_adj(t, -60);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 3600);
	X509_CRL_set1_nextUpdate(crl, t);
	if (number != NULL) {
		assert_true(BN_hex2bn(&bn, number) > 0);
		num = BN_to_ASN1_INTEGER(bn, NULL);
		X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
		ASN1_INTEGER_free(num);
		BN_free(bn);
	}
	if (revoked != NULL) {
		r = X509_REVOKED_new();
		X509_REVOKED_set_serialNumber(r,
		    (ASN1_INTEGER *)X509_get0_serialNumber(revoked));
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
	}
	if (critical) {
		ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *e;

		ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x05\x00", 2);
		e = X509_EXTENSION_create_by_OBJ(NULL, o, 1, os);
		X509_CRL_add_ext(crl, e, -1);
		X509_EXTENSION_free(e);
		ASN1_OCTET_STRING_free(os);
		ASN1_OBJECT_free(o);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	return reparse(crl);
}

static X509_STORE *
root_store(void)
{
	X509_STORE *st = X509_STORE_new();

	assert_true(X509_STORE_add_cert(st, P.root));
	return st;
}

/*
 * The CRL issuer must be allowed to sign CRLs (cRLSign); OpenSSL's own CRL
 * checks run on a certificate of the issuer (here: an unknown critical
 * extension, which the hand checks did not see); a revoked subject or a
 * good CRL is not refused.
 */
static void
crl_checks(void **state)
{
	STACK_OF(X509) *cands = sk_X509_new_null();
	X509_STORE *trust = root_store();
	X509 *nocrl = mk_no_crlsign("issuing", P.other_key);
	X509_CRL *crl;
	char why[256];

	(void)state;
	sk_X509_push(cands, P.ca);
	crl = mk_crl(P.ca, P.ca_key, "01", P.leaf, 0);
	if (cacrl_verify(crl, P.leaf, cands, trust, time(NULL), why,
	    sizeof(why)) != CACRL_OK)
		fail_msg("%s", why);
	assert_int_equal(cacrl_verify(crl, NULL, cands, trust, time(NULL), why,
	    sizeof(why)), CACRL_OK);
	X509_CRL_free(crl);
	crl = mk_crl(P.ca, P.ca_key, "02", NULL, 1);
	assert_int_equal(cacrl_verify(crl, P.leaf, cands, trust, time(NULL), why,
	    sizeof(why)), CACRL_ERR_SIG);
	assert_non_null(strstr(why, "OpenSSL CRL check"));
	X509_CRL_free(crl);
	/* Same name as the issuing CA, but no cRLSign. */
	(void)sk_X509_pop(cands);
	sk_X509_push(cands, nocrl);
	crl = mk_crl(nocrl, P.other_key, "03", NULL, 0);
	assert_int_equal(cacrl_verify(crl, NULL, cands, trust, time(NULL), why,
	    sizeof(why)), CACRL_ERR_SIG);
	assert_non_null(strstr(why, "cRLSign"));
	X509_CRL_free(crl);
	sk_X509_free(cands);
	X509_free(nocrl);
	X509_STORE_free(trust);
}

static int
store(const char *path, const char *number)
{
	X509_CRL *crl = mk_crl(P.ca, P.ca_key, number, NULL, 0);
	int rc = cacrl_store(path, crl);

	X509_CRL_free(crl);
	return rc;
}

/* crlNumbers past LONG_MAX (up to 20 octets) still order; none is older. */
static void
crl_rollback(void **state)
{
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_ca_crl.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(store(path, "0100000000000000000000"), CACRL_OK);
	assert_int_equal(store(path, "05"), CACRL_ERR_OLDER);
	assert_int_equal(store(path, "FFFFFFFFFFFFFFFF"), CACRL_ERR_OLDER);
	assert_int_equal(store(path, NULL), CACRL_ERR_OLDER);
	assert_int_equal(store(path, "0100000000000000000000"), CACRL_OK);
	assert_int_equal(store(path, "0100000000000000000001"), CACRL_OK);
	unlink(path);
	assert_int_equal(store(path, NULL), CACRL_OK);	/* nothing cached */
	assert_int_equal(store(path, "07"), CACRL_OK);
	unlink(path);
}

/*
 * A peer that accepts and never answers: the CRL fetch gives up after its
 * timeout; a timeout of 0 is the default, never "wait forever".
 */
static void
silent_peer_times_out(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct caidm_cfg ic;
	const uint8_t der[3] = { 0x30, 0x01, 0x00 };
	char detail[256];
	X509_CRL *crl;
	char url[64];
	time_t t0;
	int s;

	(void)state;
	assert_int_equal(ca_timeout(0), CA_DEFAULT_TIMEOUT);
	assert_int_equal(ca_timeout(-3), CA_DEFAULT_TIMEOUT);
	assert_int_equal(ca_timeout(7), 7);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/crl",
	    (unsigned)ntohs(sa.sin_port));
	t0 = time(NULL);
	assert_int_equal(cacrl_fetch(url, 1, &crl), CACRL_ERR_FETCH);
	assert_true(time(NULL) - t0 <= 4);
	assert_null(crl);
	/* The identity manager push too (the TLS handshake never completes). */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/idm",
	    (unsigned)ntohs(sa.sin_port));
	ic.url = url;
	ic.trust = P.anchors;
	ic.timeout = 1;
	t0 = time(NULL);
	assert_int_equal(caidm_push(&ic, P.leaf_key, P.leaf, der, 3, detail,
	    sizeof(detail)), CAIDM_ERR_TRANSPORT);
	assert_true(time(NULL) - t0 <= 4);
	close(s);
}

static void
put(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/*
 * Secret files: one trailing newline stripped; refused if group or others
 * may access them, through a symlink, not a regular file, empty or larger
 * than the buffer; the buffer is wiped on refusal.
 */
static void
secret_files(void **state)
{
	char d[64], f[96], l[96];
	uint8_t buf[16];
	size_t n = 99;

	(void)state;
	snprintf(d, sizeof(d), "/tmp/test_ca_sec.XXXXXX");
	assert_non_null(mkdtemp(d));
	snprintf(f, sizeof(f), "%s/pin", d);
	snprintf(l, sizeof(l), "%s/link", d);
	put(f, "123456\n", 0600);
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n), CAFILE_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "123456", 6);
	put(f, "123456\r\n", 0400);
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n), CAFILE_OK);
	assert_int_equal(n, 6);
	put(f, "123456", 0640);
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n),
	    CAFILE_ERR_MODE);
	assert_int_equal(n, 0);
	assert_int_equal(buf[0], 0);	/* wiped */
	put(f, "123456", 0600);
	assert_int_equal(symlink(f, l), 0);
	assert_int_equal(cafile_read_secret(l, buf, sizeof(buf), &n),
	    CAFILE_ERR_TYPE);
	assert_int_equal(cafile_read_secret(d, buf, sizeof(buf), &n),
	    CAFILE_ERR_TYPE);	/* a directory, mode 0700 */
	put(f, "", 0600);
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n),
	    CAFILE_ERR_SIZE);
	put(f, "0123456789abcdef", 0600);	/* 16 bytes: no room to tell */
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n),
	    CAFILE_ERR_SIZE);
	put(f, "0123456789abcde", 0600);
	assert_int_equal(cafile_read_secret(f, buf, sizeof(buf), &n), CAFILE_OK);
	assert_int_equal(n, 15);
	assert_int_equal(cafile_read_secret("/nonexistent/x", buf, sizeof(buf),
	    &n), CAFILE_ERR_IO);
	unlink(l);
	unlink(f);
	rmdir(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cacerts_parse),
		cmocka_unit_test(verify_against_anchors),
		cmocka_unit_test(link_arguments),
		cmocka_unit_test(requests_checked_before_sending),
		cmocka_unit_test(error_helpers),
		cmocka_unit_test(crl_checks),
		cmocka_unit_test(crl_rollback),
		cmocka_unit_test(silent_peer_times_out),
		cmocka_unit_test(connect_refused_at_once),
		cmocka_unit_test(crl_idm_refused_at_once),
		cmocka_unit_test(endpoints_fail_over),
		cmocka_unit_test(secret_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
