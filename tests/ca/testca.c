/*
 * testca: the central CA the tests talk to. A CMP server on OpenSSL's
 * OSSL_CMP_SRV_CTX that really issues certificates (p10cr, ir with PBM from a
 * one-time secret, cr, kur), revokes, holds and un-holds (rr), answers genm
 * caCerts, and publishes its CRL over HTTP. Plain HTTP on loopback; nginx
 * terminates mutual TLS in front of it.
 *
 *   testca --state DIR --port N [--crl-url URL] [--crl-seconds N]
 *          [--validity SECONDS] [--fault MODE] [--delay SECONDS] [--dump DIR]
 *   (--no-fsync, first, for benchmarks: state writes are not synced)
 *
 * DIR holds ca.crt, ca.key (issuing CA), root.crt and the CA's state, which
 * survives restarts: issued/SERIAL.der, revoked/SERIAL (reason), txid/TXID
 * (serial issued for that transaction: a replayed transaction gets the same
 * certificate, never a second one), confirmed/SERIAL (certConf seen),
 * otp/REF (one-time secrets; moved to otp-used/ once confirmed), idm/ (pushed
 * certificates), crl.der. Faults for the failure tests: unprotected, badsig,
 * untrusted, othersigner, badtxid, badnonce, garbage, http500, crl-forged.
 */
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
#include "tlv.h"

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
	long crl_seconds;
	long validity;
	int delay;
	int port;
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

static void
logx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "testca: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
fatalx(const char *what)
{
	logx("fatal: %s", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
path(char *out, const struct srv *s, const char *sub, const char *name)
{
	snprintf(out, MAX_PATH, "%s/%s%s%s", s->dir, sub, name ? "/" : "",
	    name ? name : "");
}

/* --no-fsync (benchmarks): the CA's own durability is not what is measured. */
static int no_fsync;

static int
write_file(const char *p, const void *data, size_t len)
{
	char tmp[MAX_PATH + 8];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	if ((f = fopen(tmp, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok &= fflush(f) == 0 && (no_fsync || fsync(fileno(f)) == 0);
	ok &= fclose(f) == 0;
	return ok && rename(tmp, p) == 0 ? 0 : -1;
}

/* Reads a small state file; returns its length or -1. */
static long
read_file(const char *p, uint8_t *buf, size_t cap)
{
	FILE *f;
	size_t n;

	if ((f = fopen(p, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n == cap ? -1 : (long)n;
}

static void
hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < n && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void
serial_hex(const ASN1_INTEGER *sn, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", h ? h : "0");
	OPENSSL_free(h);
	BN_free(bn);
}

static X509 *
load_cert(const char *p)
{
	FILE *f = fopen(p, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static X509 *
load_der_cert(const char *p)
{
	uint8_t buf[16384];
	const unsigned char *q = buf;
	long n = read_file(p, buf, sizeof(buf));

	return n < 0 ? NULL : d2i_X509(NULL, &q, n);
}

/* ---- certificate issuance ---- */

struct profile {
	const char *name;
	const char *ku;
	const char *eku;
};

static const struct profile profiles[] = {
	{ "station", "critical,digitalSignature", "clientAuth" },
	{ "piv-auth", "critical,digitalSignature", "clientAuth,1.3.6.1.4.1.311.20.2.2" },
	{ "piv-sign", "critical,digitalSignature,nonRepudiation", "emailProtection" },
	{ "piv-keymgmt", "critical,keyEncipherment,keyAgreement", "emailProtection" },
	{ "card-auth", "critical,digitalSignature", "2.16.840.1.101.3.6.8" },
};

static const struct profile *
find_profile(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

static int
add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *val)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, val);
	int ok = e != NULL && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok;
}

static int
next_serial(struct srv *s, ASN1_INTEGER *sn)
{
	char p[MAX_PATH], txt[32];
	uint8_t buf[32];
	long n, v = 0x1000;

	path(p, s, "serial", NULL);
	if ((n = read_file(p, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		v = strtol((char *)buf, NULL, 10);
	}
	snprintf(txt, sizeof(txt), "%ld\n", v + 1);
	if (write_file(p, txt, strlen(txt)) != 0)
		return 0;
	return ASN1_INTEGER_set(sn, v);
}

static int
add_profile_exts(struct srv *s, X509 *x, const struct profile *pr)
{
	X509V3_CTX v3;
	char cdp[512];

	X509V3_set_ctx(&v3, s->ca, x, NULL, NULL, 0);
	if (!add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &v3, NID_key_usage, pr->ku) ||
	    !add_ext(x, &v3, NID_ext_key_usage, pr->eku) ||
	    !add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &v3, NID_authority_key_identifier, "keyid:always"))
		return 0;
	if (s->crl_url == NULL)
		return 1;
	snprintf(cdp, sizeof(cdp), "URI:%s", s->crl_url);
	return add_ext(x, &v3, NID_crl_distribution_points, cdp);
}

static X509 *
issue(struct srv *s, const X509_NAME *subj, EVP_PKEY *pub,
    const struct profile *pr)
{
	X509 *x = X509_new();
	long from = s->validity < 0 ? s->validity - 3600 : -60;

	if (x == NULL || !X509_set_version(x, 2) ||
	    !next_serial(s, X509_get_serialNumber(x)) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(s->ca)) ||
	    !X509_set_subject_name(x, subj) || !X509_set_pubkey(x, pub) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), from) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), s->validity) ||
	    !add_profile_exts(s, x, pr) || !X509_sign(x, s->key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
store_issued(struct srv *s, X509 *x)
{
	char p[MAX_PATH], sn[80], name[100];
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), rc;

	serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	snprintf(name, sizeof(name), "%s.der", sn);
	path(p, s, "issued", name);
	rc = n > 0 ? write_file(p, der, (size_t)n) : -1;
	OPENSSL_free(der);
	if (rc == 0 && s->txid[0] != '\0') {
		path(p, s, "txid", s->txid);
		rc = write_file(p, sn, strlen(sn));
	}
	return rc;
}

/* A replayed transaction gets the certificate it was first given. */
static X509 *
replayed(struct srv *s)
{
	char p[MAX_PATH], name[100];
	uint8_t sn[80];
	long n;

	path(p, s, "txid", s->txid);
	if (s->txid[0] == '\0' || (n = read_file(p, sn, sizeof(sn) - 1)) <= 0)
		return NULL;
	sn[n] = '\0';
	snprintf(name, sizeof(name), "%s.der", (char *)sn);
	path(p, s, "issued", name);
	logx("replay txid=%s -> serial %s (not issued again)", s->txid, sn);
	return load_der_cert(p);
}

static OSSL_CMP_PKISI *
reject(int failbit, const char *text)
{
	logx("reject: %s", text);
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection,
	    1 << failbit, text);
}

static EVP_PKEY *
request_pubkey(const OSSL_CRMF_MSG *crm, const X509_REQ *p10,
    const X509_NAME **subj)
{
	OSSL_CRMF_CERTTEMPLATE *t;
	unsigned char *der = NULL;
	EVP_PKEY *pk = NULL;
	int n;

	if (p10 != NULL) {
		*subj = X509_REQ_get_subject_name(p10);
		pk = X509_REQ_get_pubkey((X509_REQ *)p10);
		return pk;
	}
	t = OSSL_CRMF_MSG_get0_tmpl(crm);
	*subj = OSSL_CRMF_CERTTEMPLATE_get0_subject(t);
	if ((n = i2d_OSSL_CRMF_CERTTEMPLATE(t, &der)) > 0)
		(void)cader_tmpl_pubkey(der, (size_t)n, &pk);
	OPENSSL_free(der);
	return pk;
}

static OSSL_CMP_PKISI *
cb_cert_request(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    const OSSL_CRMF_MSG *crm, const X509_REQ *p10, X509 **out,
    STACK_OF(X509) **chain, STACK_OF(X509) **capubs)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	int type = OSSL_CMP_MSG_get_bodytype(req);
	const struct profile *pr;
	const X509_NAME *subj = NULL;
	EVP_PKEY *pub;
	char sn[80];
	X509 *x;

	(void)id;
	if (s->sender_revoked)
		return reject(OSSL_CMP_PKIFAILUREINFO_signerNotTrusted,
		    "sender certificate is revoked");
	if (s->profile[0] == '\0')
		snprintf(s->profile, sizeof(s->profile), "%s",
		    type == OSSL_CMP_P10CR ? "piv-auth" : "station");
	if ((pr = find_profile(s->profile)) == NULL)
		return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
		    "unknown certificate profile");
	if ((x = replayed(s)) == NULL) {
		if ((pub = request_pubkey(crm, p10, &subj)) == NULL || subj == NULL)
			return reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
			    "request without subject or public key");
		x = issue(s, subj, pub, pr);
		EVP_PKEY_free(pub);
		if (x == NULL || store_issued(s, x) != 0) {
			X509_free(x);
			return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure,
			    "cannot issue");
		}
		serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
		logx("issued serial=%s txid=%s profile=%s body=%d", sn, s->txid,
		    pr->name, type);
	}
	*out = x;
	*chain = sk_X509_new_null();
	sk_X509_push(*chain, X509_dup(s->ca));
	if (type == OSSL_CMP_IR) {
		*capubs = sk_X509_new_null();
		sk_X509_push(*capubs, X509_dup(s->root));
	}
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

/* ---- revocation and CRL ---- */

static X509_CRL *
make_crl(struct srv *s);

static int
publish_crl(struct srv *s)
{
	X509_CRL *crl = make_crl(s);
	unsigned char *der = NULL;
	char p[MAX_PATH];
	int n, rc = -1;

	if (crl != NULL && (n = i2d_X509_CRL(crl, &der)) > 0) {
		path(p, s, "crl.der", NULL);
		rc = write_file(p, der, (size_t)n);
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

	path(p, s, "revoked", NULL);
	if ((dir = opendir(p)) == NULL)
		return 0;
	while (ok && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, d->d_name);
		if ((n = read_file(f, st, sizeof(st) - 1)) <= 0)
			continue;
		st[n] = '\0';
		ok = add_revoked(crl, d->d_name, (char *)st);
	}
	closedir(dir);
	return ok;
}

static X509_CRL *
make_crl(struct srv *s)
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
	path(p, s, "issued", name);
	return access(p, F_OK) == 0;
}

/* Current revocation reason of serial sn, or -1 if not revoked. */
static long
revoked_reason(struct srv *s, const char *sn)
{
	char p[MAX_PATH];
	uint8_t st[64];
	long n;

	path(p, s, "revoked", sn);
	if ((n = read_file(p, st, sizeof(st) - 1)) <= 0)
		return -1;
	st[n] = '\0';
	return strtol((char *)st, NULL, 10);
}

static OSSL_CMP_PKISI *
do_unhold(struct srv *s, const char *sn)
{
	char p[MAX_PATH];
	long cur = revoked_reason(s, sn);

	if (cur >= 0 && cur != CRL_REASON_CERTIFICATE_HOLD)
		return reject(OSSL_CMP_PKIFAILUREINFO_certRevoked,
		    "certificate is revoked, not on hold");
	path(p, s, "revoked", sn);
	if (cur >= 0 && unlink(p) != 0)
		return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "unlink");
	logx("unhold serial=%s%s", sn, cur < 0 ? " (was not held)" : "");
	return NULL;
}

static OSSL_CMP_PKISI *
do_revoke(struct srv *s, const char *sn, int reason)
{
	char p[MAX_PATH], st[64];
	long cur = revoked_reason(s, sn);

	/* Revoking a revoked certificate again succeeds (idempotent retries);
	 * only a hold may be turned into a final revocation. */
	if (cur >= 0 && cur != CRL_REASON_CERTIFICATE_HOLD) {
		logx("revoke serial=%s: already revoked (reason %ld)", sn, cur);
		return NULL;
	}
	if (cur == reason) {
		logx("revoke serial=%s: already on hold", sn);
		return NULL;
	}
	snprintf(st, sizeof(st), "%d %ld\n", reason, (long)time(NULL));
	path(p, s, "revoked", sn);
	if (write_file(p, st, strlen(st)) != 0)
		return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "write");
	logx("revoked serial=%s reason=%d txid=%s", sn, reason, s->txid);
	return NULL;
}

static OSSL_CMP_PKISI *
cb_rr(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, const X509_NAME *issuer,
    const ASN1_INTEGER *serial)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	OSSL_CMP_PKISI *si;
	char sn[80];
	int reason;

	(void)req;
	if (s->sender_revoked)
		return reject(OSSL_CMP_PKIFAILUREINFO_signerNotTrusted,
		    "sender certificate is revoked");
	serial_hex(serial, sn, sizeof(sn));
	if (X509_NAME_cmp(issuer, X509_get_subject_name(s->ca)) != 0 ||
	    !is_issued(s, sn))
		return reject(OSSL_CMP_PKIFAILUREINFO_badCertId,
		    "certificate not issued by this CA");
	if (cader_rr_reason(s->req_der, s->req_len, &reason) != CADER_OK)
		return reject(OSSL_CMP_PKIFAILUREINFO_badDataFormat,
		    "malformed rr");
	if (reason < 0)
		reason = CRL_REASON_UNSPECIFIED;
	if (reason == CRL_REASON_REMOVE_FROM_CRL)
		si = do_unhold(s, sn);
	else
		si = do_revoke(s, sn, reason);
	if (si != NULL)
		return si;
	if (publish_crl(s) != 0)
		return reject(OSSL_CMP_PKIFAILUREINFO_systemFailure, "crl");
	return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, NULL);
}

/* ---- genm, certConf, errors ---- */

/* caCerts (id-it-caCerts, RFC 9483 4.3.1): SEQUENCE OF Certificate. */
static ASN1_STRING *
cert_seq(X509 *a, X509 *b)
{
	static uint8_t buf[32768];
	unsigned char *da = NULL, *db = NULL;
	int na = i2d_X509(a, &da), nb = i2d_X509(b, &db);
	struct buf_writer w;
	ASN1_STRING *seq = NULL;

	buf_writer_init(&w, buf, sizeof(buf));
	if (na > 0 && nb > 0) {
		tlv_put_header(&w, 0x30, (size_t)na + (size_t)nb);
		buf_put_bytes(&w, da, (size_t)na);
		buf_put_bytes(&w, db, (size_t)nb);
	}
	if (na > 0 && nb > 0 && buf_writer_error(&w) == BUF_OK &&
	    (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) != NULL)
		ASN1_STRING_set(seq, buf, (int)w.len);
	OPENSSL_free(da);
	OPENSSL_free(db);
	return seq;
}

static OSSL_CMP_ITAV *
cacerts_itav(struct srv *s)
{
	ASN1_STRING *seq = cert_seq(s->ca, s->root);
	ASN1_TYPE *val = ASN1_TYPE_new();
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.4.17", 1);
	OSSL_CMP_ITAV *itav = NULL;

	if (seq && val && oid) {
		ASN1_TYPE_set(val, V_ASN1_SEQUENCE, seq);
		seq = NULL;
		itav = OSSL_CMP_ITAV_create(oid, val);
	}
	if (itav == NULL) {
		ASN1_TYPE_free(val);
		ASN1_OBJECT_free(oid);
	}
	ASN1_STRING_free(seq);
	return itav;
}

static int
cb_genm(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const STACK_OF(OSSL_CMP_ITAV) *in, STACK_OF(OSSL_CMP_ITAV) **out)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	OSSL_CMP_ITAV *itav;

	(void)req;
	(void)in;
	if (s->sender_revoked)
		return 0;
	if ((*out = sk_OSSL_CMP_ITAV_new_null()) == NULL ||
	    (itav = cacerts_itav(s)) == NULL)
		return 0;
	sk_OSSL_CMP_ITAV_push(*out, itav);
	logx("genm caCerts");
	return 1;
}

static void
cb_error(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const OSSL_CMP_PKISI *si, const ASN1_INTEGER *code,
    const OSSL_CMP_PKIFREETEXT *details)
{
	(void)sctx; (void)req; (void)si; (void)code; (void)details;
	logx("client sent an error message");
}

static void
otp_used(struct srv *s)
{
	const uint8_t *kid;
	size_t n;
	char ref[256], from[MAX_PATH], to[MAX_PATH];

	if (cader_sender_kid(s->req_der, s->req_len, &kid, &n) != CADER_OK ||
	    n == 0 || n >= sizeof(ref) || memchr(kid, '/', n) || kid[0] == '.')
		return;
	memcpy(ref, kid, n);
	ref[n] = '\0';
	path(from, s, "otp", ref);
	path(to, s, "otp-used", ref);
	if (rename(from, to) == 0)
		logx("one-time secret %s used", ref);
}

static int
cb_certconf(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    const ASN1_OCTET_STRING *hash, const OSSL_CMP_PKISI *si)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	char p[MAX_PATH], st[256];
	uint8_t sn[80];
	long n;

	(void)req; (void)id; (void)hash;
	path(p, s, "txid", s->txid);
	if ((n = read_file(p, sn, sizeof(sn) - 1)) <= 0)
		return 0;
	sn[n] = '\0';
	if (si != NULL && OSSL_CMP_snprint_PKIStatusInfo(si, st, sizeof(st)) &&
	    strstr(st, "rejection") != NULL) {
		logx("certConf rejected serial=%s", sn);
		return 1;
	}
	path(p, s, "confirmed", (char *)sn);
	(void)write_file(p, s->txid, strlen(s->txid));
	otp_used(s);
	logx("certConf serial=%s txid=%s", sn, s->txid);
	return 1;
}

static int
cb_poll(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    OSSL_CMP_MSG **creq, int64_t *after)
{
	(void)sctx; (void)req; (void)id; (void)creq; (void)after;
	return 0;
}

/* ---- per-request setup: transaction, profile, one-time secret, sender ---- */

static void
set_otp(struct srv *s, OSSL_CMP_CTX *ctx)
{
	const uint8_t *kid;
	uint8_t secret[256];
	char ref[256], p[MAX_PATH];
	size_t n;
	long sl;

	(void)OSSL_CMP_CTX_set1_secretValue(ctx, NULL, 0);
	s->have_otp = 0;
	if (cader_sender_kid(s->req_der, s->req_len, &kid, &n) != CADER_OK ||
	    n == 0 || n >= sizeof(ref) || memchr(kid, '/', n) || kid[0] == '.')
		return;
	memcpy(ref, kid, n);
	ref[n] = '\0';
	path(p, s, "otp", ref);
	if ((sl = read_file(p, secret, sizeof(secret))) > 0) {
		while (sl > 0 && (secret[sl - 1] == '\n'))
			sl--;
		s->have_otp = OSSL_CMP_CTX_set1_secretValue(ctx, secret, (int)sl);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void
check_sender(struct srv *s)
{
	const uint8_t *der;
	const unsigned char *p;
	size_t n;
	X509 *x;
	char sn[80];

	s->sender_revoked = 0;
	if (cader_extracert0(s->req_der, s->req_len, &der, &n) != CADER_OK)
		return;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)n)) == NULL)
		return;
	serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	if (X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(s->ca)) == 0 && revoked_reason(s, sn) >= 0) {
		logx("request from revoked station certificate serial=%s", sn);
		s->sender_revoked = 1;
	}
	X509_free(x);
}

static void
begin_request(struct srv *s, const OSSL_CMP_MSG *req, OSSL_CMP_CTX *ctx)
{
	ASN1_OCTET_STRING *tid;

	tid = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
	s->txid[0] = '\0';
	if (tid != NULL)
		hex(s->txid, sizeof(s->txid), ASN1_STRING_get0_data(tid),
		    (size_t)ASN1_STRING_length(tid));
	(void)cader_profile(s->req_der, s->req_len, s->profile,
	    sizeof(s->profile));
	set_otp(s, ctx);
	check_sender(s);
	/* A request that opens a transaction starts afresh, even under a
	 * transactionID we saw before: that is how a station retries after a
	 * crash, and replayed() then answers it with the first result. */
	switch (OSSL_CMP_MSG_get_bodytype(req)) {
	case BODY_IR: case BODY_CR: case BODY_P10CR: case BODY_KUR:
	case BODY_RR: case BODY_GENM:
		(void)OSSL_CMP_CTX_reinit(ctx);
		break;
	default:
		break;
	}
}

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

static OSSL_CMP_MSG *
refault(struct srv *s, OSSL_CMP_MSG *rsp)
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
		logx("fault %s: could not re-protect", s->fault);
	OSSL_CMP_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(k);
	return rsp;
}

/* ---- HTTP ---- */

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0 && (w = write(fd, c, n)) > 0) {
		c += w;
		n -= (size_t)w;
	}
}

/* One write for head and body: two small writes meet Nagle and the
 * peer's delayed ACK and cost 40 ms each. */
static void
reply(int fd, int code, const char *type, const void *body, size_t n)
{
	static char out[MAX_HEAD + MAX_BODY];
	int h;

	h = snprintf(out, MAX_HEAD, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code,
	    code == 200 ? "OK" : "Error", type, n);
	if (h < 0 || h >= MAX_HEAD || n > MAX_BODY)
		return;
	memcpy(out + h, body, n);
	send_all(fd, out, (size_t)h + n);
}

/* --dump DIR keeps every CMP message (fuzzing seeds). */
static void
dump_msg(struct srv *s, const char *what, const uint8_t *der, size_t n)
{
	char p[MAX_PATH];

	if (s->dump == NULL)
		return;
	snprintf(p, sizeof(p), "%s/%s-%ld-%d.der", s->dump, what, (long)getpid(),
	    s->dumped++);
	(void)write_file(p, der, n);
}

/* fault badsig: flip the last bit of the protection BIT STRING. */
static void
flip_protection(uint8_t *der, size_t len)
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

static void
serve_cmp(struct srv *s, OSSL_CMP_SRV_CTX *sctx, int fd, const uint8_t *body,
    size_t n, int enroll_only)
{
	const unsigned char *p = body;
	unsigned char *der = NULL;
	OSSL_CMP_MSG *req, *rsp = NULL;
	int len = 0;

	if (s->delay > 0)
		sleep((unsigned)s->delay);
	if (strcmp(s->fault, "http500") == 0)
		return reply(fd, 500, "text/plain", "fault\n", 6);
	if (strcmp(s->fault, "garbage") == 0)
		return reply(fd, 200, "application/pkixcmp", "\x30\x03\x02\x01\x09", 5);
	req = d2i_OSSL_CMP_MSG(NULL, &p, (long)n);
	if (req == NULL || p != body + n) {
		OSSL_CMP_MSG_free(req);
		return reply(fd, 400, "text/plain", "bad request\n", 12);
	}
	s->req_der = body;
	s->req_len = n;
	dump_msg(s, "req", body, n);
	begin_request(s, req, OSSL_CMP_SRV_CTX_get0_cmp_ctx(sctx));
	/* The enrollment endpoint has no TLS client authentication: only
	 * requests MAC-protected with a live one-time secret get through. */
	if (enroll_only && !s->have_otp) {
		logx("enroll endpoint: no valid one-time secret reference");
		OSSL_CMP_MSG_free(req);
		return reply(fd, 403, "text/plain", "forbidden\n", 10);
	}
	rsp = OSSL_CMP_SRV_process_request(sctx, req);
	if (rsp != NULL)
		rsp = refault(s, rsp);
	if (rsp != NULL && (len = i2d_OSSL_CMP_MSG(rsp, &der)) > 0) {
		if (strcmp(s->fault, "badsig") == 0)
			flip_protection(der, (size_t)len);
		dump_msg(s, "rsp", der, (size_t)len);
		reply(fd, 200, "application/pkixcmp", der, (size_t)len);
	} else {
		ERR_print_errors_fp(stderr);
		reply(fd, 500, "text/plain", "no response\n", 12);
	}
	OPENSSL_free(der);
	OSSL_CMP_MSG_free(rsp);
	OSSL_CMP_MSG_free(req);
}

/* fault crl-forged: the same CRL content, signed by a key nobody trusts. */
static void
serve_forged_crl(struct srv *s, int fd)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_CRL *crl = make_crl(s);
	unsigned char *der = NULL;
	int n;

	if (k != NULL && crl != NULL && X509_CRL_sign(crl, k, EVP_sha256()) &&
	    (n = i2d_X509_CRL(crl, &der)) > 0)
		reply(fd, 200, "application/pkix-crl", der, (size_t)n);
	else
		reply(fd, 500, "text/plain", "forge\n", 6);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	EVP_PKEY_free(k);
}

static void
serve_crl(struct srv *s, int fd)
{
	char p[MAX_PATH];
	static uint8_t buf[MAX_BODY];
	long n;

	if (strcmp(s->fault, "crl-forged") == 0)
		return serve_forged_crl(s, fd);
	/* Regenerate on each fetch: fresh lastUpdate, and a short-lived
	 * --crl-seconds behaves like a real CA's schedule. */
	(void)publish_crl(s);
	path(p, s, "crl.der", NULL);
	if ((n = read_file(p, buf, sizeof(buf))) < 0)
		return reply(fd, 404, "text/plain", "no crl\n", 7);
	reply(fd, 200, "application/pkix-crl", buf, (size_t)n);
}

/* The identity manager stand-in: keeps each pushed certificate. */
static void
serve_idm(struct srv *s, int fd, const uint8_t *body, size_t n,
    const char *ctype)
{
	char p[MAX_PATH], name[64];
	static int seq;

	if (strcasecmp(ctype, "application/pkix-cert") != 0)
		return reply(fd, 415, "text/plain", "content type\n", 13);
	snprintf(name, sizeof(name), "%ld-%d.b64", (long)time(NULL), seq++);
	path(p, s, "idm", name);
	if (write_file(p, body, n) != 0)
		return reply(fd, 500, "text/plain", "store\n", 6);
	logx("idm push stored %s (%zu bytes)", name, n);
	reply(fd, 200, "text/plain", "stored\n", 7);
}

/* Bounded header parse: request line, Content-Length, Content-Type. */
static int
parse_head(char *head, char **method, char **target, size_t *clen,
    char *ctype, size_t ctcap)
{
	char *save = NULL, *line, *v;
	long l;

	*clen = 0;
	ctype[0] = '\0';
	if ((line = strtok_r(head, "\r\n", &save)) == NULL)
		return -1;
	*method = strtok_r(line, " ", &v);
	*target = strtok_r(NULL, " ", &v);
	if (*method == NULL || *target == NULL)
		return -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if ((v = strchr(line, ':')) == NULL)
			return -1;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			l = strtol(v, NULL, 10);
			if (l < 0 || l > MAX_BODY)
				return -1;
			*clen = (size_t)l;
		} else if (strcasecmp(line, "Content-Type") == 0)
			snprintf(ctype, ctcap, "%s", v);
	}
	return 0;
}

static int
read_request(int fd, char *head, uint8_t *body, size_t *blen, char **method,
    char **target, char *ctype, size_t ctcap)
{
	static char raw[MAX_HEAD + MAX_BODY];
	size_t have = 0, hl, clen;
	char *end = NULL;
	ssize_t r;

	while (end == NULL && have < MAX_HEAD) {
		if ((r = read(fd, raw + have, MAX_HEAD - have)) <= 0)
			return -1;
		have += (size_t)r;
		raw[have] = '\0';
		end = strstr(raw, "\r\n\r\n");
	}
	if (end == NULL)
		return -1;
	hl = (size_t)(end - raw) + 4;
	memcpy(head, raw, hl - 4);
	head[hl - 4] = '\0';
	if (parse_head(head, method, target, &clen, ctype, ctcap) != 0)
		return -1;
	while (have - hl < clen) {
		if ((r = read(fd, raw + have, hl + clen - have)) <= 0)
			return -1;
		have += (size_t)r;
	}
	memcpy(body, raw + hl, clen);
	*blen = clen;
	return 0;
}

static void
serve_one(struct srv *s, OSSL_CMP_SRV_CTX *sctx, int fd)
{
	static char head[MAX_HEAD + 1];
	static uint8_t body[MAX_BODY];
	char *method, *target, ctype[128];
	size_t n;

	if (read_request(fd, head, body, &n, &method, &target, ctype,
	    sizeof(ctype)) != 0)
		return;
	if (strcmp(method, "POST") == 0 && strcmp(target, "/cmp") == 0)
		serve_cmp(s, sctx, fd, body, n, 0);
	else if (strcmp(method, "POST") == 0 && strcmp(target, "/enroll") == 0)
		serve_cmp(s, sctx, fd, body, n, 1);
	else if (strcmp(method, "GET") == 0 && strcmp(target, "/crl") == 0)
		serve_crl(s, fd);
	else if (strcmp(method, "POST") == 0 && strcmp(target, "/idm") == 0)
		serve_idm(s, fd, body, n, ctype);
	else if (strcmp(method, "GET") == 0 && strcmp(target, "/health") == 0)
		reply(fd, 200, "text/plain", "ok\n", 3);
	else
		reply(fd, 404, "text/plain", "not found\n", 10);
	ERR_clear_error();
}

/* ---- setup ---- */

static void
load_state(struct srv *s)
{
	char p[MAX_PATH];
	const char *subs[] = { "issued", "revoked", "txid", "confirmed", "otp",
	    "otp-used", "idm" };
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		path(p, s, subs[i], NULL);
		(void)mkdir(p, 0700);
	}
	path(p, s, "ca.crt", NULL);
	s->ca = load_cert(p);
	path(p, s, "root.crt", NULL);
	s->root = load_cert(p);
	path(p, s, "ca.key", NULL);
	if ((f = fopen(p, "r")) != NULL) {
		s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (s->ca == NULL || s->root == NULL || s->key == NULL)
		fatalx("cannot load ca.crt, ca.key, root.crt");
	s->trust = X509_STORE_new();
	X509_STORE_add_cert(s->trust, s->root);
	X509_STORE_add_cert(s->trust, s->ca);
}

/*
 * fault othersigner: every response comes from the CA operator's
 * certificate (sender name and signature), which chains to the same root
 * but is not the CA: only a client that pins the expected sender refuses it.
 */
static void
sign_as_operator(struct srv *s, OSSL_CMP_CTX *ctx)
{
	char p[MAX_PATH];
	EVP_PKEY *k = NULL;
	X509 *x;
	FILE *f;

	path(p, s, "admin.crt", NULL);
	x = load_cert(p);
	path(p, s, "admin.key", NULL);
	if ((f = fopen(p, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL || k == NULL || !OSSL_CMP_CTX_set1_cert(ctx, x) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, k))
		fatalx("fault othersigner needs admin.crt and admin.key");
	X509_free(x);
	EVP_PKEY_free(k);
}

static OSSL_CMP_SRV_CTX *
make_srv(struct srv *s)
{
	OSSL_CMP_SRV_CTX *sctx = OSSL_CMP_SRV_CTX_new(NULL, NULL);
	OSSL_CMP_CTX *ctx;

	if (sctx == NULL || !OSSL_CMP_SRV_CTX_init(sctx, s, cb_cert_request,
	    cb_rr, cb_genm, cb_error, cb_certconf, cb_poll))
		fatalx("OSSL_CMP_SRV_CTX");
	ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(sctx);
	if (strcmp(s->fault, "othersigner") == 0)
		sign_as_operator(s, ctx);
	else if (!OSSL_CMP_CTX_set1_cert(ctx, s->ca) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, s->key))
		fatalx("server CMP context");
	if (!X509_STORE_up_ref(s->trust) ||
	    !OSSL_CMP_CTX_set0_trustedStore(ctx, s->trust))
		fatalx("server CMP context");
	if (strcmp(s->fault, "unprotected") == 0)
		OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1);
	OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_WARNING);
	return sctx;
}

static int
listen_on(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64))
		fatalx(strerror(errno));
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: testca --state DIR --port N [--crl-url URL] "
	    "[--crl-seconds N] [--validity SECONDS] [--fault MODE] "
	    "[--delay SECONDS] [--dump DIR]\n");
	exit(2);
}

static void
parse_args(struct srv *s, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--no-fsync") == 0; i++)
		no_fsync = 1;
	for (; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (strcmp(o, "--state") == 0) s->dir = v;
		else if (strcmp(o, "--port") == 0) s->port = atoi(v);
		else if (strcmp(o, "--crl-url") == 0) s->crl_url = v;
		else if (strcmp(o, "--crl-seconds") == 0) s->crl_seconds = atol(v);
		else if (strcmp(o, "--validity") == 0) s->validity = atol(v);
		else if (strcmp(o, "--fault") == 0) s->fault = v;
		else if (strcmp(o, "--delay") == 0) s->delay = atoi(v);
		else if (strcmp(o, "--dump") == 0) s->dump = v;
		else usage();
	}
	if (i != argc || s->dir == NULL || s->port <= 0)
		usage();
}

int
main(int argc, char **argv)
{
	struct srv s = { .fault = "none", .crl_seconds = 3600,
	    .validity = 365L * 86400 };
	OSSL_CMP_SRV_CTX *sctx;
	int lfd, fd;

	parse_args(&s, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	load_state(&s);
	sctx = make_srv(&s);
	if (publish_crl(&s) != 0)
		fatalx("cannot write the CRL");
	lfd = listen_on(s.port);
	logx("listening on 127.0.0.1:%d fault=%s", s.port, s.fault);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		serve_one(&s, sctx, fd);
		close(fd);
	}
}
