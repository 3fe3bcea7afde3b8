/* testca: the broken responses the station's failure tests need. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/cader.h"
#include "ca/testca.h"
#include "tlv.h"


/* ---- faults ---- */

/* Flip the last byte of the OCTET STRING in header field [tag] of der. */
static int
flip_header_octets(uint8_t *der, size_t len, uint32_t tag)
{
	struct buf_reader r, h;
	struct tlv t, os;

	if (tlv_unwrap(der, len, 0x30, &t) != TLV_OK)
		return 0;
	buf_reader_init(&r, t.val, t.len);
	if (tlv_expect(&r, 0x30, &t) != TLV_OK)
		return 0;
	buf_reader_init(&h, t.val, t.len);
	while (buf_left(&h) > 0 && tlv_next(&h, &t) == TLV_OK)
		if (t.tag == tag && tlv_unwrap(t.val, t.len, 0x04, &os) == TLV_OK &&
		    os.len > 0) {
			((uint8_t *)os.val)[os.len - 1] ^= 0x01;
			return 1;
		}
	return 0;
}

/* fault badnonce: a correctly signed response whose recipNonce is wrong. */
static OSSL_CMP_MSG *
bad_nonce(struct srv *s, OSSL_CMP_MSG *rsp)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	OSSL_CMP_MSG *m = NULL;
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	int n = i2d_OSSL_CMP_MSG(rsp, &der);

	if (ctx != NULL && n > 0 && flip_header_octets(der, (size_t)n, 0xA6)) {
		p = der;
		m = d2i_OSSL_CMP_MSG(NULL, &p, n);
	}
	/* Re-sign under the same transactionID: only the nonce is wrong. */
	if (m != NULL && (!OSSL_CMP_CTX_set1_cert(ctx, s->ca) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, s->key) ||
	    !OSSL_CMP_CTX_set1_transactionID(ctx,
	    OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(m))) ||
	    !OSSL_CMP_MSG_update_transactionID(ctx, m))) {
		OSSL_CMP_MSG_free(m);
		m = NULL;
	}
	OSSL_CMP_CTX_free(ctx);
	OPENSSL_free(der);
	if (m == NULL)
		return rsp;
	OSSL_CMP_MSG_free(rsp);
	return m;
}

OSSL_CMP_MSG *
tca_refault(struct srv *s, OSSL_CMP_MSG *rsp)
{
	OSSL_CMP_CTX *ctx;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	if (strcmp(s->fault, "badnonce") == 0)
		return bad_nonce(s, rsp);
	if (strcmp(s->fault, "badtxid") != 0 && strcmp(s->fault, "untrusted") != 0)
		return rsp;
	ctx = OSSL_CMP_CTX_new(NULL, NULL);
	if (strcmp(s->fault, "untrusted") == 0) {
		/* Same subject as the CA, but a key nobody trusts. */
		k = EVP_EC_gen("P-256");
		x = X509_new();
		X509_set_version(x, 2);
		X509_set_subject_name(x, X509_get_subject_name(s->ca));
		X509_set_issuer_name(x, X509_get_subject_name(s->ca));
		X509_gmtime_adj(X509_getm_notBefore(x), -60);
		X509_gmtime_adj(X509_getm_notAfter(x), 3600);
		X509_set_pubkey(x, k);
		X509_sign(x, k, EVP_sha256());
		OSSL_CMP_CTX_set1_cert(ctx, x);
		OSSL_CMP_CTX_set1_pkey(ctx, k);
		/* keep the transaction, re-sign with the foreign key */
		OSSL_CMP_CTX_set1_transactionID(ctx,
		    OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(rsp)));
	} else {
		OSSL_CMP_CTX_set1_cert(ctx, s->ca);
		OSSL_CMP_CTX_set1_pkey(ctx, s->key);
	}
	if (!OSSL_CMP_MSG_update_transactionID(ctx, rsp))
		tca_logx("fault %s: could not re-protect", s->fault);
	OSSL_CMP_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(k);
	return rsp;
}

/* fault badsig: flip the last bit of the protection BIT STRING. */
void
tca_flip_protection(uint8_t *der, size_t len)
{
	struct buf_reader r;
	struct tlv t;

	if (tlv_unwrap(der, len, 0x30, &t) != TLV_OK)
		return;
	buf_reader_init(&r, t.val, t.len);
	while (buf_left(&r) > 0 && tlv_next(&r, &t) == TLV_OK)
		if (t.tag == 0xA0 && t.len > 0) {
			((uint8_t *)t.val)[t.len - 1] ^= 0x01;
			return;
		}
}
