/* testca: revocation, hold and un-hold (rr), and the CRL. */
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


/* ---- revocation and CRL ---- */

int
tca_publish_crl(struct srv *s)
{
	X509_CRL *crl = tca_make_crl(s);
	unsigned char *der = NULL;
	char p[MAX_PATH];
	int n, rc = -1;

	if (crl != NULL && (n = i2d_X509_CRL(crl, &der)) > 0) {
		tca_path(p, s, "crl.der", NULL);
		rc = tca_write_file(p, der, (size_t)n);
	}
	OPENSSL_free(der);
	X509_CRL_free(crl);
	return rc;
}

static int
add_revoked(X509_CRL *crl, const char *sn, const char *state)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
	ASN1_TIME *t = ASN1_TIME_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	long reason = 0, when = 0;
	int ok;

	(void)sscanf(state, "%ld %ld", &reason, &when);
	ok = r && e && t && BN_hex2bn(&bn, sn) &&
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_REVOKED_set_serialNumber(r, ai) &&
	    ASN1_TIME_set(t, (time_t)when) &&
	    X509_REVOKED_set_revocationDate(r, t) &&
	    ASN1_ENUMERATED_set(e, reason) &&
	    X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0) &&
	    X509_CRL_add0_revoked(crl, r);
	if (!ok)
		X509_REVOKED_free(r);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(e);
	return ok;
}

static int
add_all_revoked(struct srv *s, X509_CRL *crl)
{
	char p[MAX_PATH], f[MAX_PATH + 300];
	uint8_t st[64];
	struct dirent *d;
	DIR *dir;
	long n;
	int ok = 1;

	tca_path(p, s, "revoked", NULL);
	if ((dir = opendir(p)) == NULL)
		return 0;
	while (ok && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, d->d_name);
		if ((n = tca_read_file(f, st, sizeof(st) - 1)) <= 0)
			continue;
		st[n] = '\0';
		ok = add_revoked(crl, d->d_name, (char *)st);
	}
	closedir(dir);
	return ok;
}

X509_CRL *
tca_make_crl(struct srv *s)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_new(), *next = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509V3_CTX v3;
	X509_EXTENSION *aki;
	int ok;

	X509V3_set_ctx(&v3, s->ca, NULL, NULL, crl, 0);
	ok = crl && last && next && num && X509_CRL_set_version(crl, 1) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(s->ca)) &&
	    X509_gmtime_adj(last, 0) && X509_CRL_set1_lastUpdate(crl, last) &&
	    X509_gmtime_adj(next, s->crl_seconds) &&
	    X509_CRL_set1_nextUpdate(crl, next) && add_all_revoked(s, crl) &&
	    ASN1_INTEGER_set(num, (long)time(NULL)) &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	if (ok) {
		aki = X509V3_EXT_conf_nid(NULL, &v3, NID_authority_key_identifier,
		    "keyid:always");
		ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1);
		X509_EXTENSION_free(aki);
	}
	ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, s->key, EVP_sha256());
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	if (!ok) {
		X509_CRL_free(crl);
		crl = NULL;
	}
	return crl;
}

static int
is_issued(struct srv *s, const char *sn)
{
	char p[MAX_PATH], name[100];

	snprintf(name, sizeof(name), "%s.der", sn);
	tca_path(p, s, "issued", name);
	return access(p, F_OK) == 0;
}

/* Current revocation reason of serial sn, or -1 if not revoked. */
long
tca_revoked_reason(struct srv *s, const char *sn)
{
	char p[MAX_PATH];
	uint8_t st[64];
	long n;

	tca_path(p, s, "revoked", sn);
	if ((n = tca_read_file(p, st, sizeof(st) - 1)) <= 0)
		return -1;
	st[n] = '\0';
	return strtol((char *)st, NULL, 10);
}

static OSSL_CMP_PKISI *
do_unhold(struct srv *s, const char *sn)
{
	char p[MAX_PATH];
	long cur = tca_revoked_reason(s, sn);

	if (cur >= 0 && cur != CRL_REASON_CERTIFICATE_HOLD)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_certRevoked,
		    "certificate is revoked, not on hold");
	tca_path(p, s, "revoked", sn);
	if (cur >= 0 && unlink(p) != 0)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "unlink");
	tca_logx("unhold serial=%s%s", sn, cur < 0 ? " (was not held)" : "");
	return NULL;
}

static OSSL_CMP_PKISI *
do_revoke(struct srv *s, const char *sn, int reason)
{
	char p[MAX_PATH], st[64];
	long cur = tca_revoked_reason(s, sn);

	/* Revoking a revoked certificate again succeeds (idempotent retries);
	 * only a hold may be turned into a final revocation. */
	if (cur >= 0 && cur != CRL_REASON_CERTIFICATE_HOLD) {
		tca_logx("revoke serial=%s: already revoked (reason %ld)", sn, cur);
		return NULL;
	}
	if (cur == reason) {
		tca_logx("revoke serial=%s: already on hold", sn);
		return NULL;
	}
	snprintf(st, sizeof(st), "%d %ld\n", reason, (long)time(NULL));
	tca_path(p, s, "revoked", sn);
	if (tca_write_file(p, st, strlen(st)) != 0)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "write");
	tca_logx("revoked serial=%s reason=%d txid=%s", sn, reason, s->txid);
	return NULL;
}

OSSL_CMP_PKISI *
tca_cb_rr(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, const X509_NAME *issuer,
    const ASN1_INTEGER *serial)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	OSSL_CMP_PKISI *si;
	char sn[80];
	int reason;

	(void)req;
	if (s->sender_revoked)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_signerNotTrusted,
		    "sender certificate is revoked");
	tca_serial_hex(serial, sn, sizeof(sn));
	if (X509_NAME_cmp(issuer, X509_get_subject_name(s->ca)) != 0 ||
	    !is_issued(s, sn))
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_badCertId,
		    "certificate not issued by this CA");
	if (cader_rr_reason(s->req_der, s->req_len, &reason) != CADER_OK)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_badDataFormat,
		    "malformed rr");
	if (reason < 0)
		reason = CRL_REASON_UNSPECIFIED;
	if (reason == CRL_REASON_REMOVE_FROM_CRL)
		si = do_unhold(s, sn);
	else
		si = do_revoke(s, sn, reason);
	if (si != NULL)
		return si;
	if (tca_publish_crl(s) != 0)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "crl");
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}
