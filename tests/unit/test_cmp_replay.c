/*
 * Unit tests: what cardmgr/ca/ca.c makes of the test CA's real responses.
 * Each seed of fuzz_cmp_response (tests/fuzz/corpus/cmp_response/, recorded
 * from the test CA by tests/fuzz/cmp_response_seeds.sh) is replayed through
 * the station's own CMP client (cmp_replay.h: the transport replaced, every
 * check in place) and must give the error the station acts on: issued,
 * refused for good, refused at certConf, or kept for a retry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "fuzz/cmp_replay.h"
#include "fuzz/cmp_seed.h"

static uint8_t seed[CMP_SEED_MAX];

static size_t
load(const char *name)
{
	const char *top = getenv("TOP");
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/tests/fuzz/corpus/cmp_response/%s",
	    top ? top : ".", name);
	f = fopen(p, "rb");
	assert_non_null(f);
	n = fread(seed, 1, sizeof(seed), f);
	fclose(f);
	assert_true(n > CMP_SEED_HDR && n < sizeof(seed));
	return n;
}

/* Replay seed `name` (or its first `cut` bytes): ca.c's verdict and detail. */
static int
replay(const char *name, size_t cut, char *detail, size_t dlen,
    int *has_cert)
{
	struct cmp_replay r;
	size_t n = load(name);
	int rc;

	rc = cmp_replay_run(seed, cut ? cut : n, &r);
	*has_cert = r.res.cert != NULL;
	if (r.op == CMP_SEED_GENM)
		*has_cert = sk_X509_num(r.certs) > 0;
	snprintf(detail, dlen, "%s", r.res.detail);
	cmp_replay_clear(&r);
	return rc;
}

static void
expect(const char *name, int want, int want_cert, const char *text)
{
	char detail[256];
	int cert, rc = replay(name, 0, detail, sizeof(detail), &cert);

	print_message("# %-24s %s %s\n", name, ca_errname(rc), detail);
	assert_string_equal(ca_errname(rc), ca_errname(want));
	assert_int_equal(cert, want_cert);
	if (text != NULL)
		assert_non_null(strstr(detail, text));
}

static void
issued(void **state)
{
	(void)state;
	expect("ir", CA_OK, 1, NULL);
	expect("p10cr", CA_OK, 1, NULL);
	expect("kur", CA_OK, 1, NULL);
	expect("genm", CA_OK, 1, NULL);
}

static void
revocations(void **state)
{
	(void)state;
	expect("rr-hold", CA_OK, 0, NULL);
	expect("rr-unhold", CA_OK, 0, NULL);
	expect("rr-keycompromise", CA_OK, 0, NULL);
	expect("rr-again", CA_OK, 0, NULL);
	/* certRevoked answers an un-hold of a revoked certificate: final. */
	expect("rr-unhold-revoked", CA_ERR_REJECTED, 0, "certRevoked");
}

static void
refused_for_good(void **state)
{
	(void)state;
	expect("ir-wrong-secret", CA_ERR_REJECTED, 0, "wrong pbm value");
	expect("p10cr-unknown-profile", CA_ERR_REJECTED, 0,
	    "unknown certificate profile");
}

/* Our certConf refuses the certificate: CA_ERR_CHAIN, not the CA's no. */
static void
refused_at_certconf(void **state)
{
	(void)state;
	expect("p10cr-expired", CA_ERR_CHAIN, 0,
	    "certificate chain does not verify");
	/* OpenSSL's own key check (client.c) refuses it before ours does. */
	expect("p10cr-other-key", CA_ERR_CHAIN, 0,
	    "does not match our enrollment key");
}

/* A forged, stale or misdirected answer is not believed, and retried. */
static void
kept_for_retry(void **state)
{
	static const char *faults[] = { "p10cr-unprotected", "p10cr-badsig",
	    "p10cr-untrusted", "p10cr-othersigner", "p10cr-badtxid",
	    "p10cr-badnonce" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		expect(faults[i], CA_ERR_RESPONSE, 0, NULL);
		assert_true(ca_err_retryable(CA_ERR_RESPONSE));
	}
}

/* The cp arrives, the CA's pkiconf does not: no certificate, retried. */
static void
pkiconf_lost(void **state)
{
	char detail[256];
	size_t first;
	int cert, rc;

	(void)state;
	(void)load("p10cr");
	first = 2 + ((size_t)seed[CMP_SEED_HDR] << 8 | seed[CMP_SEED_HDR + 1]);
	rc = replay("p10cr", CMP_SEED_HDR + first, detail, sizeof(detail),
	    &cert);
	print_message("# p10cr without pkiconf   %s %s\n", ca_errname(rc), detail);
	assert_false(cert);
	assert_true(ca_err_retryable(rc));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(issued),
		cmocka_unit_test(revocations),
		cmocka_unit_test(refused_for_good),
		cmocka_unit_test(refused_at_certconf),
		cmocka_unit_test(kept_for_retry),
		cmocka_unit_test(pkiconf_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
