/*
 * cmp_record: record one real CMP transaction with the test CA as a seed of
 * fuzz_cmp_response (tests/fuzz/cmp_response_seeds.sh runs it).
 *
 *   cmp_record DIR OP ARG TXID OUT
 *
 * OP is ir, p10cr, kur, rr or genm; ARG the seed's argument byte (rr
 * reason; p10cr 2: an unknown profile, for a rejection); TXID
 * 32 hex digits. The transaction runs through cardmgr/ca/ca.c exactly as the
 * station runs it, against the test CA on 127.0.0.1:8080 (plain HTTP), with
 * a transfer callback that passes each request on (OSSL_CMP_MSG_http_perform)
 * and keeps each response's DER. OpenSSL's randomness is the fixed pattern
 * of cmp_seed.c, as in the fuzzer. OUT gets the seed (see cmp_seed.h).
 *
 * DIR holds root.crt, ca.crt, station.key, kur.key, card.csr (DER) and the
 * one-time secret in otp; ir writes station.crt there (PEM), the first
 * p10cr card.crt (DER), for the next transactions and the fuzzer's header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/cafile.h"
#include "fuzz/cmp_seed.h"

struct rec {
	uint8_t buf[CMP_SEED_MAX];
	size_t len;
	int nmsg;
};

static char dir[512];

static const char *
path(const char *name)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void
die(const char *what)
{
	fprintf(stderr, "cmp_record: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static EVP_PKEY *
load_key(const char *name)
{
	FILE *f = fopen(path(name), "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (k == NULL)
		die(name);
	return k;
}

static size_t
load_file(const char *name, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path(name), "rb");
	size_t n;

	if (f == NULL)
		die(name);
	n = fread(buf, 1, cap, f);
	fclose(f);
	if (n == 0 || n == cap)
		die(name);
	return n;
}

static void
save_file(const char *name, const void *data, size_t len)
{
	if (cafile_write_atomic(path(name), data, len, 0) != 0)
		die(name);
}

static OSSL_CMP_MSG *
record_cb(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct rec *r = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	OSSL_CMP_MSG *rsp = OSSL_CMP_MSG_http_perform(ctx, req);
	unsigned char *der = NULL;
	int n;

	if (rsp == NULL || (n = i2d_OSSL_CMP_MSG(rsp, &der)) <= 0)
		return rsp;
	if (r->nmsg < CMP_SEED_MAXMSG && r->len + 2 + (size_t)n <= sizeof(r->buf)) {
		r->buf[r->len++] = (uint8_t)(n >> 8);
		r->buf[r->len++] = (uint8_t)n;
		memcpy(r->buf + r->len, der, (size_t)n);
		r->len += (size_t)n;
		r->nmsg++;
	}
	OPENSSL_free(der);
	return rsp;
}

static int
parse_txid(const char *hex, uint8_t txid[CA_TXID_LEN])
{
	unsigned v;
	int i;

	if (strlen(hex) != 2 * CA_TXID_LEN)
		return -1;
	for (i = 0; i < CA_TXID_LEN; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		txid[i] = (uint8_t)v;
	}
	return 0;
}

static int
op_of(const char *s)
{
	static const char *names[CMP_SEED_NOPS] = { "ir", "p10cr", "kur", "rr",
	    "genm" };
	int i;

	for (i = 0; i < CMP_SEED_NOPS; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	die("OP: ir, p10cr, kur, rr or genm");
	return -1;
}

static int
run(struct ca_link *l, int op, int arg, const uint8_t *txid,
    struct ca_result *res)
{
	static uint8_t der[8192];
	uint8_t secret[256];
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *k;
	size_t n;
	int rc;

	switch (op) {
	case CMP_SEED_IR:
		n = load_file("otp", secret, sizeof(secret));
		k = load_key("station.key");
		rc = ca_enroll_station(l, CMP_SEED_REF, secret, n, k,
		    CMP_SEED_SUBJECT, txid, res);
		EVP_PKEY_free(k);
		return rc;
	case CMP_SEED_P10CR:
		n = load_file("card.csr", der, sizeof(der));
		return ca_enroll_p10(l, der, n, (arg & 2) ? "no-such-profile" :
		    CMP_SEED_PROFILE, txid, res);
	case CMP_SEED_KUR:
		k = load_key("kur.key");
		rc = ca_renew_station(l, k, txid, res);
		EVP_PKEY_free(k);
		return rc;
	case CMP_SEED_RR:
		n = load_file("card.crt", der, sizeof(der));
		return ca_revoke(l, der, n, arg, txid, res);
	default:
		rc = ca_get_cacerts(l, &certs, res);
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
}

/* The certificate an ir or p10cr brought, for the next transactions. */
static void
keep_cert(int op, const struct ca_result *res)
{
	const unsigned char *p = res->cert;
	X509 *x;
	BIO *b;
	char *pem;
	long n;

	if (op == CMP_SEED_P10CR && access(path("card.crt"), F_OK) != 0)
		save_file("card.crt", res->cert, res->cert_len);	/* the first */
	if (op != CMP_SEED_IR)
		return;
	if ((x = d2i_X509(NULL, &p, (long)res->cert_len)) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(b, x))
		die("station certificate");
	n = BIO_get_mem_data(b, &pem);
	save_file("station.crt", pem, (size_t)n);
	BIO_free(b);
	X509_free(x);
}

int
main(int argc, char **argv)
{
	struct ca_cfg cfg;
	struct ca_link *l = NULL;
	struct ca_result res;
	static struct rec r;
	uint8_t txid[CA_TXID_LEN];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	FILE *f;
	int op, arg, rc;

	if (argc != 6 || parse_txid(argv[4], txid) != 0)
		die("usage: cmp_record DIR OP ARG TXID(32 hex) OUT");
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	op = op_of(argv[2]);
	arg = atoi(argv[3]);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server = "127.0.0.1";
	cfg.port = 8080;
	cfg.path = "cmp";
	cfg.plain_http = 1;
	cfg.cmp_trust = strdup(path("root.crt"));
	cfg.untrusted = strdup(path("ca.crt"));
	cfg.sender = "/O=Test/CN=Test Issuing CA";
	cfg.timeout = 10;
	cfg.transfer = record_cb;
	cfg.transfer_arg = &r;
	if (op != CMP_SEED_IR) {
		key = load_key("station.key");
		if ((cert = cafile_load_pem_cert(path("station.crt"))) == NULL)
			die("station.crt");
	}
	if (cmp_seed_fixed_rand() != 1 ||
	    ca_link_new(&cfg, key, cert, &l) != CA_OK)
		die("CA link");
	r.buf[0] = (uint8_t)op;
	r.buf[1] = (uint8_t)arg;
	memcpy(r.buf + 2, txid, CA_TXID_LEN);
	r.len = CMP_SEED_HDR;
	rc = run(l, op, arg, txid, &res);
	printf("%s: %s, %d response(s), status %d%s%s\n", argv[2],
	    ca_errname(rc), r.nmsg, res.status, res.detail[0] ? ": " : "",
	    res.detail);
	if (rc == CA_OK && res.cert != NULL)
		keep_cert(op, &res);
	if (r.nmsg == 0 || (f = fopen(argv[5], "wb")) == NULL ||
	    fwrite(r.buf, 1, r.len, f) != r.len || fclose(f) != 0)
		die("no response recorded");
	ca_result_clear(&res);
	ca_link_free(l);
	EVP_PKEY_free(key);
	X509_free(cert);
	free((char *)cfg.cmp_trust);
	free((char *)cfg.untrusted);
	return 0;
}
