/*
 * testca: internals shared by the test CA's files (testca.c: main, state
 * files, HTTP; testca_issue.c: issuance, genm, certConf, per-request set-up;
 * testca_crl.c: revocation and the CRL; testca_fault.c: the response faults
 * of the failure tests). A test peer, not station code.
 */
#ifndef TESTCA_H
#define TESTCA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/x509.h>

#define MAX_HEAD	16384
#define MAX_BODY	(1024 * 1024)
#define MAX_PATH	1024

/* PKIBody choices (RFC 4210 5.1.2); OpenSSL 3.0 keeps these names private. */
enum { BODY_IR = 0, BODY_CR = 2, BODY_P10CR = 4, BODY_KUR = 7, BODY_RR = 11,
    BODY_GENM = 21 };

struct srv {
	const char *dir;
	const char *crl_url;
	const char *fault;
	const char *dump;
	const char *crash_at;	/* --crash-at: where to SIGKILL itself */
	long crl_seconds;
	long validity;
	int delay;
	int port;
	int implicit;		/* grant implicit confirmation when asked */
	X509 *ca;
	X509 *root;
	EVP_PKEY *key;
	X509_STORE *trust;
	/* per request */
	char txid[80];
	char profile[64];
	const uint8_t *req_der;
	size_t req_len;
	int sender_revoked;
	int have_otp;
	int dumped;
};

/* testca.c */
void tca_logx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* out[MAX_PATH] = dir/sub[/name] */
void tca_path(char *out, const struct srv *s, const char *sub,
    const char *name);
int tca_write_file(const char *p, const void *data, size_t len);
long tca_read_file(const char *p, uint8_t *buf, size_t cap);
void tca_hex(char *out, size_t cap, const uint8_t *p, size_t n);
void tca_serial_hex(const ASN1_INTEGER *sn, char *out, size_t cap);
X509 *tca_load_der_cert(const char *p);

/* --crash-at NAME: the CA kills itself (SIGKILL) at that point, once. */
void tca_crash_point(struct srv *s, const char *name);

/* testca_issue.c: OSSL_CMP_SRV_CTX callbacks and per-request set-up */
OSSL_CMP_PKISI *tca_reject(int failbit, const char *text);
OSSL_CMP_PKISI *tca_cb_cert_request(OSSL_CMP_SRV_CTX *sctx,
    const OSSL_CMP_MSG *req, int id, const OSSL_CRMF_MSG *crm,
    const X509_REQ *p10, X509 **out, STACK_OF(X509) **chain,
    STACK_OF(X509) **capubs);
int tca_cb_genm(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const STACK_OF(OSSL_CMP_ITAV) *in, STACK_OF(OSSL_CMP_ITAV) **out);
void tca_cb_error(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const OSSL_CMP_PKISI *si, const ASN1_INTEGER *code,
    const OSSL_CMP_PKIFREETEXT *details);
int tca_cb_certconf(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    const ASN1_OCTET_STRING *hash, const OSSL_CMP_PKISI *si);
int tca_cb_poll(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    OSSL_CMP_MSG **creq, int64_t *after);
/* Start-up: issued/ indexes every txid/ record; stale temp files go. */
void tca_repair_index(struct srv *s);
/* Transaction, profile, one-time secret and sender of the request. */
void tca_begin_request(struct srv *s, const OSSL_CMP_MSG *req,
    OSSL_CMP_CTX *ctx);

/* testca_crl.c */
OSSL_CMP_PKISI *tca_cb_rr(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const X509_NAME *issuer, const ASN1_INTEGER *serial);
X509_CRL *tca_make_crl(struct srv *s);
int tca_publish_crl(struct srv *s);
/* Current revocation reason of serial sn, or -1 if not revoked. */
long tca_revoked_reason(struct srv *s, const char *sn);

/* testca_fault.c */
OSSL_CMP_MSG *tca_refault(struct srv *s, OSSL_CMP_MSG *rsp);
void tca_flip_protection(uint8_t *der, size_t len);

#endif /* TESTCA_H */
