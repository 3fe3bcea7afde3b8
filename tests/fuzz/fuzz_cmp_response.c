/*
 * libFuzzer harness: the station's handling of CMP responses, through
 * cardmgr/ca/ca.c itself (not a CMP context of its own). The input picks
 * one of ca_enroll_station (ir, MAC), ca_enroll_p10, ca_renew_station (kur),
 * ca_revoke or ca_get_cacerts and supplies the CA's answers to its requests
 * through the link's transfer callback (cmp_replay.h, format in cmp_seed.h).
 * Everything after the transport runs: OpenSSL's protection, sender,
 * transactionID and nonce checks, ca.c's certConf callback (chain, key of
 * the CSR), classify() and the result extraction.
 *
 * The seeds are real responses of the test CA, recorded by
 * tests/fuzz/cmp_response_seeds.sh with the PKI, keys and nonces the replay
 * uses, so they pass every check and reach certConf.
 *
 * Checked on every input: a certificate is handed out only on CA_OK of an
 * enrollment, and then it verifies against the anchors and, for p10cr,
 * certifies the CSR's key; caCerts only on CA_OK, each verifying; every
 * error is one of ca.h's.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "fuzz/cmp_replay.h"
#include "fuzz/cmp_seed.h"

static void
check_issued(const struct cmp_replay *r)
{
	const unsigned char *p = r->res.cert;
	X509 *x = d2i_X509(NULL, &p, (long)r->res.cert_len);
	X509_REQ *req;

	if (x == NULL || p != r->res.cert + r->res.cert_len ||
	    ca_verify_cert(cmp_replay_link(), x, NULL, NULL) != CA_OK)
		__builtin_trap();
	if (r->op == CMP_SEED_P10CR) {
		p = r->csr;
		req = d2i_X509_REQ(NULL, &p, (long)r->csr_len);
		if (req == NULL || EVP_PKEY_eq(X509_REQ_get0_pubkey(req),
		    X509_get0_pubkey(x)) != 1)
			__builtin_trap();
		X509_REQ_free(req);
	}
	X509_free(x);
}

static void
check_cacerts(int rc, STACK_OF(X509) *certs)
{
	int i;

	if (rc != CA_OK) {
		if (certs != NULL)
			__builtin_trap();
		return;
	}
	if (sk_X509_num(certs) < 1)
		__builtin_trap();
	for (i = 0; i < sk_X509_num(certs); i++)
		if (ca_verify_cert(cmp_replay_link(), sk_X509_value(certs, i),
		    certs, NULL) != CA_OK)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmp_replay r;
	int rc, enroll;

	rc = cmp_replay_run(data, size, &r);
	if (rc == CMP_REPLAY_SHORT)
		return 0;
	if (strcmp(ca_errname(rc), "CA_ERR_UNKNOWN") == 0)
		__builtin_trap();
	enroll = r.op == CMP_SEED_IR || r.op == CMP_SEED_P10CR ||
	    r.op == CMP_SEED_KUR;
	if ((r.res.cert != NULL) != (enroll && rc == CA_OK))
		__builtin_trap();
	if (r.res.cert != NULL)
		check_issued(&r);
	if (r.op == CMP_SEED_GENM)
		check_cacerts(rc, r.certs);
	cmp_replay_clear(&r);
	return 0;
}
