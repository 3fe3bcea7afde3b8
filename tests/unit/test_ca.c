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

#include "ca/ca.h"

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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
