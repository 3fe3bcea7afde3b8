/*
 * rkey: OpenSSL signs with a key in the token through a callback. The callback
 * calls ks_sign on SoftHSM2 in this process (in the station it would send a
 * message to keyd). The relying parties are plain OpenSSL: a TLS server over a
 * BIO pair that requires a client certificate, and X509_verify with the public
 * key pkcs11-tool reads from the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "keyd/kstoken.h"
#include "keyd/ks.h"
#include "keyd/rkey.h"

#define PIN "pin-0815"
#define TOKEN "station"

static struct kstoken tok;
static struct ks *ks;

/* The engine side of the seam, short-circuited to ks_sign. */
struct signer {
	const char *label;
	int calls[5];		/* by enum rkey_kind */
	int fail;		/* keyd says no */
};

static int
sign_fn(void *arg, int kind, const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	struct signer *s = arg;

	if (kind >= 1 && kind <= 4)
		s->calls[kind]++;
	if (s->fail)
		return -1;
	/* enum rkey_kind and enum ks_sign_mech share their values */
	return ks_sign(ks, s->label, kind, tbs, tbslen, sig, siglen) == KS_OK ? 0 : -1;
}

static int
setup(void **state)
{
	struct ks_cfg cfg = { KSTOKEN_MODULE, TOKEN, (const uint8_t *)PIN, strlen(PIN) };

	(void)state;
	if (kstoken_init(&tok, TOKEN, PIN) != 0 || ks_open(&cfg, &ks) != KS_OK ||
	    ks_keypair_create(ks, "station-rsa", KS_KEY_RSA2048) != KS_OK ||
	    ks_keypair_create(ks, "station-ec", KS_KEY_P256) != KS_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ks_close(ks);
	kstoken_cleanup(&tok);
	return 0;
}

static X509 *
make_cert(EVP_PKEY *pub, EVP_PKEY *signer, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* Step both ends until both finish or one fails. 1 if the handshake completed. */
static int
handshake(SSL *c, SSL *s)
{
	int i, rc = -1, rs = -1;

	for (i = 0; i < 50; i++) {
		if (rc != 1) {
			rc = SSL_do_handshake(c);
			if (rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
		if (rs != 1) {
			rs = SSL_do_handshake(s);
			if (rs != 1 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(s, rs) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
		if (rc == 1 && rs == 1)
			return 1;
	}
	return 0;
}

struct tls_case {
	int version;		/* TLS1_3_VERSION or TLS1_2_VERSION */
	const char *sigalgs;	/* client signature algorithms, NULL: default */
};

/*
 * One handshake: the server (plain OpenSSL key) requires a client certificate
 * and trusts exactly ccert; the client presents ccert with the rkey ckey.
 * Returns 1 if both ends completed and the server saw ccert.
 */
static int
tls_run(const struct tls_case *tc, X509 *ccert, EVP_PKEY *ckey)
{
	EVP_PKEY *skey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *scert = make_cert(skey, skey, "server");
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *s, *c;
	BIO *bc = NULL, *bs = NULL;
	int ok;

	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(sctx, tc->version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(sctx, tc->version), 1);
	assert_int_equal(SSL_CTX_set_min_proto_version(cctx, tc->version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, tc->version), 1);
	assert_int_equal(SSL_CTX_use_certificate(sctx, scert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, skey), 1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(sctx), ccert), 1);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), scert), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	/* The rkey must be accepted as the private half of ccert. */
	assert_int_equal(SSL_CTX_use_certificate(cctx, ccert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(cctx, ckey), 1);
	if (tc->sigalgs != NULL)
		assert_int_equal(SSL_CTX_set1_client_sigalgs_list(cctx, tc->sigalgs), 1);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	ok = handshake(c, s);
	if (ok) {
		X509 *peer = SSL_get1_peer_certificate(s);

		ok = peer != NULL && X509_cmp(peer, ccert) == 0 &&
		    SSL_get_verify_result(s) == X509_V_OK && SSL_version(s) == tc->version;
		X509_free(peer);
	} else {
		ERR_print_errors_fp(stderr);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(scert);
	EVP_PKEY_free(skey);
	return ok;
}

/* The rkey for label, its self-signed certificate, both checked independently. */
static void
client_key(const char *label, struct signer *sg, EVP_PKEY **rk, X509 **cert)
{
	EVP_PKEY *pub = NULL, *indep = NULL;

	assert_int_equal(ks_pubkey(ks, label, &pub), KS_OK);
	assert_int_equal(rkey_new(pub, sign_fn, sg, rk), RKEY_OK);
	/* X509_sign through the rkey: the token signed, OpenSSL verifies */
	*cert = make_cert(pub, *rk, label);
	assert_int_equal(kstoken_read_pubkey(&tok, label, &indep), 0);
	assert_int_equal(X509_verify(*cert, indep), 1);
	assert_int_equal(EVP_PKEY_eq(*rk, indep), 1);
	EVP_PKEY_free(indep);
	EVP_PKEY_free(pub);
}

static void
test_tls13_ec(void **state)
{
	struct signer sg = { "station-ec", { 0 }, 0 };
	struct tls_case tc = { TLS1_3_VERSION, NULL };
	EVP_PKEY *rk = NULL;
	X509 *cert = NULL;

	(void)state;
	client_key("station-ec", &sg, &rk, &cert);
	assert_int_equal(sg.calls[RKEY_ECDSA], 1);	/* the certificate */
	assert_true(tls_run(&tc, cert, rk));
	assert_int_equal(sg.calls[RKEY_ECDSA], 2);	/* + CertificateVerify */
	/* keyd refusing: no handshake */
	sg.fail = 1;
	assert_false(tls_run(&tc, cert, rk));
	assert_int_equal(sg.calls[RKEY_ECDSA], 3);
	X509_free(cert);
	EVP_PKEY_free(rk);
}

static void
test_tls13_rsa_pss(void **state)
{
	struct signer sg = { "station-rsa", { 0 }, 0 };
	struct tls_case tc = { TLS1_3_VERSION, NULL };
	EVP_PKEY *rk = NULL;
	X509 *cert = NULL;

	(void)state;
	client_key("station-rsa", &sg, &rk, &cert);
	/* X509_sign with SHA-256 and no PSS: PKCS#1 v1.5, the DigestInfo reaches fn */
	assert_int_equal(sg.calls[RKEY_RSA_PKCS1], 1);
	/* TLS 1.3 signs with RSA-PSS only: it arrives PSS-encoded, as a raw block */
	assert_true(tls_run(&tc, cert, rk));
	assert_int_equal(sg.calls[RKEY_RSA_RAW], 1);
	assert_int_equal(sg.calls[RKEY_RSA_PKCS1], 1);
	sg.fail = 1;
	assert_false(tls_run(&tc, cert, rk));
	X509_free(cert);
	EVP_PKEY_free(rk);
}

static void
test_tls12_rsa(void **state)
{
	struct signer sg = { "station-rsa", { 0 }, 0 };
	struct tls_case pkcs1 = { TLS1_2_VERSION, "RSA+SHA256" };
	struct tls_case pss = { TLS1_2_VERSION, "rsa_pss_rsae_sha256" };
	EVP_PKEY *rk = NULL;
	X509 *cert = NULL;

	(void)state;
	client_key("station-rsa", &sg, &rk, &cert);
	assert_true(tls_run(&pkcs1, cert, rk));
	assert_int_equal(sg.calls[RKEY_RSA_PKCS1], 2);
	assert_int_equal(sg.calls[RKEY_RSA_RAW], 0);
	assert_true(tls_run(&pss, cert, rk));
	assert_int_equal(sg.calls[RKEY_RSA_RAW], 1);
	X509_free(cert);
	EVP_PKEY_free(rk);
}

static void
test_refusals(void **state)
{
	struct signer sg = { "station-rsa", { 0 }, 0 };
	EVP_PKEY *pub = NULL, *rk = NULL, *ed = NULL;
	EVP_PKEY_CTX *ctx;
	uint8_t in[32] = { 1 }, ct[256], out[256];
	size_t ctlen = sizeof(ct), outlen = sizeof(out);

	(void)state;
	assert_int_equal(rkey_new(NULL, sign_fn, &sg, &rk), RKEY_ERR_ARG);
	assert_null(rk);
	assert_int_equal(ks_pubkey(ks, "station-rsa", &pub), KS_OK);
	assert_int_equal(rkey_new(pub, NULL, &sg, &rk), RKEY_ERR_ARG);
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	assert_int_equal(rkey_new(ed, sign_fn, &sg, &rk), RKEY_ERR_ARG);
	assert_string_equal(rkey_name(RKEY_ERR_ARG), "RKEY_ERR_ARG");
	/* the station key never decrypts, even for a ciphertext made for it */
	assert_int_equal(rkey_new(pub, sign_fn, &sg, &rk), RKEY_OK);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctlen, in, sizeof(in)), 1);
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new(rk, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_true(EVP_PKEY_decrypt(ctx, out, &outlen, ct, ctlen) <= 0);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	assert_int_equal(sg.calls[1] + sg.calls[2] + sg.calls[3] + sg.calls[4], 0);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls13_ec),
		cmocka_unit_test(test_tls13_rsa_pss),
		cmocka_unit_test(test_tls12_rsa),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
