/* testca: issuance (p10cr, ir, cr, kur), genm caCerts, certConf, and the
 * per-request set-up (transaction, profile, one-time secret, sender). */
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


/* ---- certificate issuance ---- */

struct profile {
	const char *name;
	const char *ku;
	const char *eku;
};

static const struct profile profiles[] = {
	{ "station", "critical,digitalSignature", "clientAuth" },
	{ "piv-auth", "critical,digitalSignature", "clientAuth,1.3.6.1.4.1.311.20.2.2" },
	{ "piv-auth-temp", "critical,digitalSignature", "clientAuth,1.3.6.1.4.1.311.20.2.2" },
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

	tca_path(p, s, "serial", NULL);
	if ((n = tca_read_file(p, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		v = strtol((char *)buf, NULL, 10);
	}
	snprintf(txt, sizeof(txt), "%ld\n", v + 1);
	if (tca_write_file(p, txt, strlen(txt)) != 0)
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

/* issued/SERIAL.der, the CA's index by serial (revocation looks there). */
static int
index_issued(struct srv *s, X509 *x, const uint8_t *der, size_t n)
{
	char p[MAX_PATH], sn[80], name[100];

	tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	snprintf(name, sizeof(name), "%s.der", sn);
	tca_path(p, s, "issued", name);
	return tca_write_file(p, der, n);
}

/*
 * One issuance is one record: txid/TXID holds the certificate itself,
 * written to a temporary file, synced and renamed into place, so a kill at
 * any instant leaves either no record (nothing was issued: the retry issues
 * once) or the whole record (the retry gets this certificate back). It is
 * written first; issued/ is an index derived from it, rebuilt at start-up
 * if a kill came between the two (tca_repair_index). A request without a
 * transactionID (none of the station's) can only be indexed.
 */
static int
store_issued(struct srv *s, X509 *x)
{
	char p[MAX_PATH];
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), rc = -1;

	if (n <= 0)
		goto out;
	if (s->txid[0] != '\0') {
		tca_path(p, s, "txid", s->txid);
		if (tca_write_file(p, der, (size_t)n) != 0)
			goto out;
		tca_crash_point(s, "issue");
	}
	rc = index_issued(s, x, der, (size_t)n);
out:
	OPENSSL_free(der);
	return rc;
}

/* The certificate the CA's record holds for this transaction, or NULL. */
static X509 *
recorded(struct srv *s)
{
	char p[MAX_PATH];

	if (s->txid[0] == '\0')
		return NULL;
	tca_path(p, s, "txid", s->txid);
	return tca_load_der_cert(p);
}

/* A replayed transaction gets the certificate it was first given. */
static X509 *
replayed(struct srv *s)
{
	X509 *x = recorded(s);
	char sn[80];

	if (x == NULL)
		return NULL;
	tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	tca_logx("replay txid=%s -> serial %s (not issued again)", s->txid, sn);
	return x;
}

static int
is_tmp(const char *name)
{
	size_t l = strlen(name);

	return l > 4 && strcmp(name + l - 4, ".tmp") == 0;
}

/* Index one record's certificate (file p) in issued/. */
static void
reindex(struct srv *s, const char *p, const char *name)
{
	unsigned char *der = NULL;
	X509 *x = tca_load_der_cert(p);
	int n;

	if (x == NULL || (n = i2d_X509(x, &der)) <= 0 ||
	    index_issued(s, x, der, (size_t)n) != 0)
		tca_logx("txid record %s: cannot index it", name);
	OPENSSL_free(der);
	X509_free(x);
}

/*
 * At start-up: every record's certificate is in issued/ (a kill between
 * the record and its index leaves it out), and no temporary file of a
 * killed write is left in txid/ or issued/ to be mistaken for state.
 */
void
tca_repair_index(struct srv *s)
{
	static const char *const subs[] = { "issued", "txid" };
	char dir[MAX_PATH], p[MAX_PATH * 2];
	struct dirent *e;
	size_t i;
	DIR *d;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		tca_path(dir, s, subs[i], NULL);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			if (is_tmp(e->d_name))
				(void)unlink(p);
			else if (i == 1)
				reindex(s, p, e->d_name);
		}
		closedir(d);
	}
}

OSSL_CMP_PKISI *
tca_reject(int failbit, const char *text)
{
	tca_logx("reject: %s", text);
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

/*
 * Does the request's header ask for implicit confirmation (generalInfo
 * implicitConfirm, id-it 13: 1.3.6.1.5.5.7.4.13)? OpenSSL 3.0 has no
 * getter for generalInfo: look for the OID's encoding in the header's DER
 * (the header carries names, nonces and ITAVs, no key material).
 */
static int
asks_implicit(const OSSL_CMP_MSG *req)
{
	static const uint8_t oid[] = { 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05,
	    0x07, 0x04, 0x0d };
	unsigned char *der = NULL;
	int n = i2d_OSSL_CMP_PKIHEADER(OSSL_CMP_MSG_get0_header(req), &der);
	int found = n > 0 && memmem(der, (size_t)n, oid, sizeof(oid)) != NULL;

	OPENSSL_free(der);
	return found;
}

OSSL_CMP_PKISI *
tca_cb_cert_request(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    const OSSL_CRMF_MSG *crm, const X509_REQ *p10, X509 **out,
    STACK_OF(X509) **chain, STACK_OF(X509) **capubs)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	int type = OSSL_CMP_MSG_get_bodytype(req);
	const struct profile *pr;
	const X509_NAME *subj = NULL;
	EVP_PKEY *pub;
	char sn[80], p[MAX_PATH];
	X509 *x;

	(void)id;
	if (s->sender_revoked)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_signerNotTrusted,
		    "sender certificate is revoked");
	if (s->profile[0] == '\0')
		snprintf(s->profile, sizeof(s->profile), "%s",
		    type == OSSL_CMP_P10CR ? "piv-auth" : "station");
	if ((pr = find_profile(s->profile)) == NULL)
		return tca_reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
		    "unknown certificate profile");
	if ((x = replayed(s)) == NULL) {
		if ((pub = request_pubkey(crm, p10, &subj)) == NULL || subj == NULL)
			return tca_reject(OSSL_CMP_PKIFAILUREINFO_badCertTemplate,
			    "request without subject or public key");
		x = issue(s, subj, pub, pr);
		EVP_PKEY_free(pub);
		if (x == NULL || store_issued(s, x) != 0) {
			X509_free(x);
			return tca_reject(OSSL_CMP_PKIFAILUREINFO_systemFailure,
			    "cannot issue");
		}
		tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
		tca_logx("issued serial=%s txid=%s profile=%s body=%d", sn, s->txid,
		    pr->name, type);
	}
	if (s->implicit && asks_implicit(req)) {
		/* OpenSSL grants it in the answer: no certConf will come. */
		tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
		tca_path(p, s, "confirmed", sn);
		(void)tca_write_file(p, s->txid, strlen(s->txid));
		tca_logx("implicitConfirm serial=%s txid=%s", sn, s->txid);
	}
	*out = x;
	/* References, not copies: a copy decodes the key again (OpenSSL 3.0's
	 * decoders cost some 0.1 ms each, twice per response). */
	*chain = sk_X509_new_null();
	if (*chain != NULL && X509_up_ref(s->ca) && !sk_X509_push(*chain, s->ca))
		X509_free(s->ca);
	if (type == OSSL_CMP_IR && (*capubs = sk_X509_new_null()) != NULL &&
	    X509_up_ref(s->root) && !sk_X509_push(*capubs, s->root))
		X509_free(s->root);
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

int
tca_cb_genm(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
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
	tca_logx("genm caCerts");
	return 1;
}

void
tca_cb_error(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req,
    const OSSL_CMP_PKISI *si, const ASN1_INTEGER *code,
    const OSSL_CMP_PKIFREETEXT *details)
{
	(void)sctx; (void)req; (void)si; (void)code; (void)details;
	tca_logx("client sent an error message");
}

#define OTP_REF_MAX 256

/*
 * The request's senderKID as the name of its one-time secret under otp/:
 * 0, or -1 when there is none or the name could leave that folder.
 */
static int
otp_ref(const struct srv *s, char ref[OTP_REF_MAX])
{
	const uint8_t *kid;
	size_t n;

	if (cader_sender_kid(s->req_der, s->req_len, &kid, &n) != CADER_OK ||
	    n == 0 || n >= OTP_REF_MAX || memchr(kid, '/', n) || kid[0] == '.')
		return -1;
	memcpy(ref, kid, n);
	ref[n] = '\0';
	return 0;
}

static void
otp_used(struct srv *s)
{
	char ref[OTP_REF_MAX], from[MAX_PATH], to[MAX_PATH];

	if (otp_ref(s, ref) != 0)
		return;
	tca_path(from, s, "otp", ref);
	tca_path(to, s, "otp-used", ref);
	if (rename(from, to) == 0)
		tca_logx("one-time secret %s used", ref);
}

int
tca_cb_certconf(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    const ASN1_OCTET_STRING *hash, const OSSL_CMP_PKISI *si)
{
	struct srv *s = OSSL_CMP_SRV_CTX_get0_custom_ctx(sctx);
	char p[MAX_PATH], st[256], sn[80];
	X509 *x;

	(void)req; (void)id; (void)hash;
	if ((x = recorded(s)) == NULL)
		return 0;
	tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	X509_free(x);
	if (si != NULL && OSSL_CMP_snprint_PKIStatusInfo(si, st, sizeof(st)) &&
	    strstr(st, "rejection") != NULL) {
		tca_logx("certConf rejected serial=%s", sn);
		return 1;
	}
	tca_path(p, s, "confirmed", sn);
	(void)tca_write_file(p, s->txid, strlen(s->txid));
	otp_used(s);
	tca_logx("certConf serial=%s txid=%s", sn, s->txid);
	return 1;
}

int
tca_cb_poll(OSSL_CMP_SRV_CTX *sctx, const OSSL_CMP_MSG *req, int id,
    OSSL_CMP_MSG **creq, int64_t *after)
{
	(void)sctx; (void)req; (void)id; (void)creq; (void)after;
	return 0;
}

/* ---- per-request setup: transaction, profile, one-time secret, sender ---- */

static void
set_otp(struct srv *s, OSSL_CMP_CTX *ctx)
{
	uint8_t secret[256];
	char ref[OTP_REF_MAX], p[MAX_PATH];
	long sl;

	(void)OSSL_CMP_CTX_set1_secretValue(ctx, NULL, 0);
	s->have_otp = 0;
	if (otp_ref(s, ref) != 0)
		return;
	tca_path(p, s, "otp", ref);
	if ((sl = tca_read_file(p, secret, sizeof(secret))) > 0) {
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
	tca_serial_hex(X509_get0_serialNumber(x), sn, sizeof(sn));
	if (X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(s->ca)) == 0 && tca_revoked_reason(s, sn) >= 0) {
		tca_logx("request from revoked station certificate serial=%s", sn);
		s->sender_revoked = 1;
	}
	X509_free(x);
}

void
tca_begin_request(struct srv *s, const OSSL_CMP_MSG *req, OSSL_CMP_CTX *ctx)
{
	ASN1_OCTET_STRING *tid;

	tid = OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
	s->txid[0] = '\0';
	if (tid != NULL)
		tca_hex(s->txid, sizeof(s->txid), ASN1_STRING_get0_data(tid),
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
