/* cmp_replay: see cmp_replay.h. */
#include "fuzz/cmp_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz/cmp_seed.h"
#include "fuzz/fuzz_cmp_response_pki.h"

struct feed {
	const uint8_t *p;
	size_t left;
};

static struct feed feed;
static struct ca_link *link_;
static EVP_PKEY *station_key, *kur_key;

/*
 * OpenSSL's client sleeps between polls (checkAfter of a pollRep); a replay
 * must not. libcrypto calls sleep() through the PLT, so this one wins.
 */
unsigned int
sleep(unsigned int s)
{
	(void)s;
	return 0;
}

/* The next response of the seed, or NULL (a transport failure). */
static OSSL_CMP_MSG *
feed_cb(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	struct feed *f = OSSL_CMP_CTX_get_transfer_cb_arg(ctx);
	const unsigned char *p;
	size_t n;

	(void)req;
	if (f->left < 2)
		return NULL;
	n = (size_t)f->p[0] << 8 | f->p[1];
	if (n > f->left - 2)
		n = f->left - 2;
	p = f->p + 2;
	f->p += 2 + n;
	f->left -= 2 + n;
	return d2i_OSSL_CMP_MSG(NULL, &p, (long)n);
}

static void
fail(const char *what)
{
	fprintf(stderr, "cmp_replay: %s\n", what);
	ERR_print_errors_fp(stderr);
	abort();
}

/* A PEM string as a file, for ca_link_new's file arguments. */
static char *
pem_file(const char *pem)
{
	char *p = strdup("/tmp/cmp_replay.XXXXXX");
	int fd = p ? mkstemp(p) : -1;
	size_t n = strlen(pem);

	if (fd < 0 || write(fd, pem, n) != (ssize_t)n || close(fd) != 0)
		fail("temporary PEM file");
	return p;
}

static EVP_PKEY *
pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL)
		fail("key");
	return k;
}

static X509 *
pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (x == NULL)
		fail("certificate");
	return x;
}

struct ca_link *
cmp_replay_link(void)
{
	struct ca_cfg cfg;
	char *trust, *unt;
	X509 *cert;

	if (link_ != NULL)
		return link_;
	trust = pem_file(pki_root_pem);
	unt = pem_file(pki_ca_pem);
	cert = pem_cert(pki_station_crt_pem);
	station_key = pem_key(pki_station_key_pem);
	kur_key = pem_key(pki_kur_key_pem);
	memset(&cfg, 0, sizeof(cfg));
	cfg.server = "ca.test";
	cfg.port = 8080;
	cfg.path = "cmp";
	cfg.plain_http = 1;
	cfg.cmp_trust = trust;
	cfg.untrusted = unt;
	cfg.sender = "/O=Test/CN=Test Issuing CA";
	cfg.timeout = 1;
	cfg.transfer = feed_cb;
	cfg.transfer_arg = &feed;
	if (cmp_seed_fixed_rand() != 1 ||
	    ca_link_new(&cfg, station_key, cert, &link_) != CA_OK)
		fail("ca_link_new");
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(ca_trust_store(link_)),
	    (time_t)pki_time);
	unlink(trust);
	unlink(unt);
	free(trust);
	free(unt);
	X509_free(cert);
	return link_;
}

int
cmp_replay_run(const uint8_t *data, size_t size, struct cmp_replay *out)
{
	struct ca_link *l = cmp_replay_link();
	const uint8_t *txid = data + 2;

	memset(out, 0, sizeof(*out));
	out->res.status = -1;
	if (size < CMP_SEED_HDR)
		return CMP_REPLAY_SHORT;
	out->op = data[0] % CMP_SEED_NOPS;
	out->arg = data[1];
	feed.p = data + CMP_SEED_HDR;
	feed.left = size - CMP_SEED_HDR;
	switch (out->op) {
	case CMP_SEED_IR:
		return ca_enroll_station(l, CMP_SEED_REF,
		    (const uint8_t *)CMP_SEED_SECRET, strlen(CMP_SEED_SECRET),
		    station_key, CMP_SEED_SUBJECT, txid, &out->res);
	case CMP_SEED_P10CR:
		out->csr = (out->arg & 1) ? pki_other_csr : pki_card_csr;
		out->csr_len = (out->arg & 1) ? sizeof(pki_other_csr) :
		    sizeof(pki_card_csr);
		return ca_enroll_p10(l, out->csr, out->csr_len,
		    CMP_SEED_PROFILE, txid, &out->res);
	case CMP_SEED_KUR:
		return ca_renew_station(l, kur_key, txid, &out->res);
	case CMP_SEED_RR:
		return ca_revoke(l, pki_card_crt, sizeof(pki_card_crt),
		    out->arg % 11, txid, &out->res);
	default:
		return ca_get_cacerts(l, &out->certs, &out->res);
	}
}

void
cmp_replay_clear(struct cmp_replay *out)
{
	ca_result_clear(&out->res);
	sk_X509_pop_free(out->certs, X509_free);
	out->certs = NULL;
	ERR_clear_error();
}
