/*
 * libFuzzer harness: the station's CMP response path. The input is what the
 * "CA" answers; OpenSSL's client (configured as cardmgr/ca/ca.c configures it:
 * trusted store, signature-protected requests, fixed transactionID) decodes it
 * with d2i_OSSL_CMP_MSG and runs its response checks (protection, sender,
 * transactionID, nonces, body type, status, certificate extraction) for a
 * p10cr, an rr or a genm, chosen by the first input byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static EVP_PKEY *key;
static X509 *cert;
static X509_REQ *csr;
static const uint8_t *in;
static size_t in_len;

static X509 *
self_signed(EVP_PKEY *k, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	    -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_sign(x, k, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static void
init(void)
{
	X509_NAME *n = X509_NAME_new();

	key = EVP_EC_gen("P-256");
	cert = self_signed(key, "station");
	csr = X509_REQ_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"card", -1, -1, 0);
	X509_REQ_set_subject_name(csr, n);
	X509_REQ_set_pubkey(csr, key);
	X509_REQ_sign(csr, key, EVP_sha256());
	X509_NAME_free(n);
}

static OSSL_CMP_MSG *
transfer(OSSL_CMP_CTX *ctx, const OSSL_CMP_MSG *req)
{
	const unsigned char *p = in;

	(void)ctx;
	(void)req;
	return d2i_OSSL_CMP_MSG(NULL, &p, (long)in_len);
}

static OSSL_CMP_CTX *
client(void)
{
	static const uint8_t tid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	    13, 14, 15, 16 };
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_STORE *ts = X509_STORE_new();

	ASN1_OCTET_STRING_set(os, tid, sizeof(tid));
	X509_STORE_add_cert(ts, cert);
	OSSL_CMP_CTX_set_log_verbosity(ctx, -1);
	OSSL_CMP_CTX_set_transfer_cb(ctx, transfer);
	OSSL_CMP_CTX_set0_trustedStore(ctx, ts);
	OSSL_CMP_CTX_set1_cert(ctx, cert);
	OSSL_CMP_CTX_set1_pkey(ctx, key);
	OSSL_CMP_CTX_set1_transactionID(ctx, os);
	ASN1_OCTET_STRING_free(os);
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OSSL_CMP_CTX *ctx;
	STACK_OF(OSSL_CMP_ITAV) *itavs;
	X509 *x;

	if (key == NULL)
		init();
	if (size < 1)
		return 0;
	in = data + 1;
	in_len = size - 1;
	ctx = client();
	switch (data[0] % 3) {
	case 0:
		OSSL_CMP_CTX_set1_p10CSR(ctx, csr);
		x = OSSL_CMP_exec_P10CR_ses(ctx);
		(void)x;	/* owned by ctx */
		break;
	case 1:
		OSSL_CMP_CTX_set1_oldCert(ctx, cert);
		OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_REVOCATION_REASON, 6);
		(void)OSSL_CMP_exec_RR_ses(ctx);
		break;
	default:
		itavs = OSSL_CMP_exec_GENM_ses(ctx);
		sk_OSSL_CMP_ITAV_pop_free(itavs, OSSL_CMP_ITAV_free);
		break;
	}
	OSSL_CMP_CTX_free(ctx);
	ERR_clear_error();
	return 0;
}
