/*
 * cardmgr-ca: drives the CA link until the cardmgr daemon does.
 *
 *   cardmgr-ca -c ca.conf enroll-station --ref REF --secret-file FILE
 *   cardmgr-ca -c ca.conf renew-station [--force] [--same-key]
 *   cardmgr-ca -c ca.conf enroll --csr FILE --profile NAME [--out FILE] [--queue]
 *   cardmgr-ca -c ca.conf renew --cert OLD --csr FILE [--profile NAME] [--out FILE]
 *   cardmgr-ca -c ca.conf revoke --cert FILE --reason NAME [--queue]
 *   cardmgr-ca -c ca.conf unhold --cert FILE [--queue]
 *   cardmgr-ca -c ca.conf push --cert FILE [--queue]
 *   cardmgr-ca -c ca.conf cacerts [--out FILE]
 *   cardmgr-ca -c ca.conf crl-update
 *   cardmgr-ca -c ca.conf status
 *   cardmgr-ca -c ca.conf outbox list|drain [--max N]
 *
 * Exit status: 0 done, 1 error, 2 usage, 3 journaled but not yet accepted by
 * the CA (it will be retried; nothing is lost), 4 this station's certificate
 * is revoked or expired (it issues nothing until re-enrolled).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "caconf.h"
#include "cacrl.h"
#include "caidm.h"
#include "cakey.h"
#include "outbox.h"

#define EXIT_USAGE 2
#define EXIT_QUEUED 3
#define EXIT_STATION 4
#define MAX_FILE (256 * 1024)
#define PATH_LEN 1100

struct cli {
	struct caconf conf;
	struct cakey *key;
	X509 *station;
	struct ca_link *link;
	int link_err;
	struct outbox *ob;
	const char *argv_opt[8][2];
	int nopt;
};

static const struct {
	const char *name;
	int reason;
} reasons[] = {
	{ "unspecified", CRL_REASON_UNSPECIFIED },
	{ "keyCompromise", CRL_REASON_KEY_COMPROMISE },
	{ "affiliationChanged", CRL_REASON_AFFILIATION_CHANGED },
	{ "superseded", CRL_REASON_SUPERSEDED },
	{ "cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION },
	{ "certificateHold", CRL_REASON_CERTIFICATE_HOLD },
	{ "removeFromCRL", CRL_REASON_REMOVE_FROM_CRL },
};

static void
errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cardmgr-ca: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * Test hook: CARDMGR_CA_CRASH_AT=<point> makes the process die there as if
 * killed, so the tests can stop a multi-step operation at a chosen step;
 * CARDMGR_CA_CRASH_AT=<N> dies at the N-th point reached (N = 1, 2, ... until
 * a run completes walks every step of a drain).
 */
static void
crash_point(const char *point)
{
	const char *at = getenv("CARDMGR_CA_CRASH_AT");
	static long hits;

	if (at == NULL)
		return;
	/* "N": die at the N-th crash point reached, whichever it is. */
	if (strcmp(at, point) == 0 || atol(at) == ++hits)
		_exit(99);
}

static const char *
reason_name(int r)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == r)
			return reasons[i].name;
	return "unknown";
}

static int
reason_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].name, s) == 0)
			return reasons[i].reason;
	return -1;
}

static const char *
opt(struct cli *c, const char *name)
{
	int i;

	for (i = 0; i < c->nopt; i++)
		if (strcmp(c->argv_opt[i][0], name) == 0)
			return c->argv_opt[i][1];
	return NULL;
}

static void
state_path(const struct cli *c, const char *name, char *out)
{
	snprintf(out, PATH_LEN, "%s/%s", c->conf.state_dir, name);
}

/* ---- files ---- */

static int
read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;

	*out = NULL;
	*len = 0;
	if (f == NULL || (buf = malloc(MAX_FILE)) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	n = fread(buf, 1, MAX_FILE, f);
	fclose(f);
	if (n == 0 || n == MAX_FILE) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int
write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_LEN + 8];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static int
write_cert_pem(const char *path, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -1;

	if (b != NULL && PEM_write_bio_X509(b, x) &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		rc = write_atomic(path, data, (size_t)n);
	BIO_free(b);
	return rc;
}

static X509 *
der_to_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* A file holding a secret (PIN, one-time secret) must be private. */
static int
secret_file_ok(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		errx("%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		errx("%s: readable or writable by group or others; chmod 600 it",
		    path);
		return -1;
	}
	return 0;
}

/* A certificate or CSR file, PEM or DER, as DER. */
static int
load_der(const char *path, int csr, uint8_t **der, size_t *len)
{
	uint8_t *raw;
	size_t n;
	BIO *b;
	X509 *x = NULL;
	X509_REQ *r = NULL;
	int l = -1;

	*der = NULL;
	if (read_all(path, &raw, &n) != 0)
		return -1;
	if (n > 10 && memcmp(raw, "-----", 5) != 0) {
		*der = raw;
		*len = n;
		return 0;
	}
	if ((b = BIO_new_mem_buf(raw, (int)n)) != NULL) {
		if (csr && (r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)))
			l = i2d_X509_REQ(r, der);
		else if (!csr && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			l = i2d_X509(x, der);
	}
	BIO_free(b);
	X509_free(x);
	X509_REQ_free(r);
	free(raw);
	*len = l > 0 ? (size_t)l : 0;
	return l > 0 ? 0 : -1;
}

static X509 *
load_pem_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static void
serial_of(X509 *x, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", h ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
}

/* ---- station key and link ---- */

/*
 * The label of the station's current key: state_dir/station.key once a
 * renewal re-keyed the station, else key_label from the configuration.
 */
static void
current_label(const struct cli *c, char *out, size_t cap)
{
	char p[PATH_LEN];
	uint8_t *raw;
	size_t n;

	snprintf(out, cap, "%s", c->conf.key_label);
	state_path(c, "station.key", p);
	if (read_all(p, &raw, &n) != 0)
		return;
	if (n < cap && memchr(raw, 0, n) == NULL && memchr(raw, '\n', n) == NULL) {
		memcpy(out, raw, n);
		out[n] = '\0';
	}
	free(raw);
}

static int
open_key(struct cli *c, int create)
{
	struct cakey_cfg kc;
	char pin[256], label[CACONF_VAL];
	uint8_t *raw = NULL;
	size_t n = 0;
	int rc;

	if (c->key != NULL)
		return 0;
	if (secret_file_ok(c->conf.pin_file) != 0)
		return -1;
	if (read_all(c->conf.pin_file, &raw, &n) != 0 || n >= sizeof(pin)) {
		errx("cannot read the token PIN from %s", c->conf.pin_file);
		free(raw);
		return -1;
	}
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	memcpy(pin, raw, n);
	pin[n] = '\0';
	OPENSSL_cleanse(raw, n);
	free(raw);
	kc.module = c->conf.pkcs11_module;
	kc.token = c->conf.token;
	kc.pin = pin;
	current_label(c, label, sizeof(label));
	kc.label = label;
	rc = cakey_open(&kc, create, &c->key);
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != CAKEY_OK) {
		errx("station key: %s", cakey_strerror(rc));
		return -1;
	}
	return 0;
}

static void
link_cfg(struct cli *c, struct ca_cfg *cfg, char *untrusted)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->server = c->conf.server;
	cfg->port = c->conf.port;
	cfg->path = c->conf.path;
	cfg->plain_http = c->conf.plain_http;
	cfg->tls_trust = c->conf.tls_trust[0] ? c->conf.tls_trust : NULL;
	cfg->cmp_trust = c->conf.cmp_trust;
	cfg->timeout = c->conf.timeout;
	cfg->sender = c->conf.cmp_sender[0] ? c->conf.cmp_sender : NULL;
	state_path(c, "cacerts.pem", untrusted);
	if (c->conf.untrusted[0] != '\0')
		cfg->untrusted = c->conf.untrusted;
	else if (access(untrusted, R_OK) == 0)
		cfg->untrusted = untrusted;
}

/* Refuse to act for a station whose certificate is revoked or expired. */
static int
station_usable(struct cli *c)
{
	char p[PATH_LEN];

	state_path(c, "station.revoked", p);
	if (access(p, F_OK) == 0) {
		errx("STATION CERTIFICATE REVOKED: this station no longer issues "
		    "or revokes certificates; re-enroll it with a new one-time "
		    "secret");
		return EXIT_STATION;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(c->station)) < 0) {
		errx("STATION CERTIFICATE EXPIRED: renew it before it expires or "
		    "re-enroll the station");
		return EXIT_STATION;
	}
	return 0;
}

static int finish_rekey(struct cli *c, const char *label);

/*
 * The station certificate must certify the current key. After a crash in
 * the middle of a re-keying renewal it certifies the new key already: finish
 * the switch-over that the crash interrupted.
 */
static int
key_matches_cert(struct cli *c)
{
	char p[PATH_LEN], label[CACONF_VAL];
	EVP_PKEY *next = NULL;
	uint8_t *raw;
	size_t n;
	int ok;

	if (X509_check_private_key(c->station, cakey_pkey(c->key)) == 1)
		return 0;
	ERR_clear_error();
	state_path(c, "renew.label", p);
	ok = read_all(p, &raw, &n) == 0 && n < sizeof(label);
	if (ok) {
		memcpy(label, raw, n);
		label[n] = '\0';
		free(raw);
		ok = cakey_other(c->key, label, 0, &next) == CAKEY_OK &&
		    X509_check_private_key(c->station, next) == 1;
	}
	EVP_PKEY_free(next);
	ERR_clear_error();
	if (!ok) {
		errx("the station certificate does not certify the station key");
		return -1;
	}
	errx("completing an interrupted re-keying renewal (key %s)", label);
	if (finish_rekey(c, label) != 0)
		return -1;
	cakey_close(c->key);
	c->key = NULL;
	return open_key(c, 0);
}

static int
station_marked(const struct cli *c)
{
	char p[PATH_LEN];

	state_path(c, "station.revoked", p);
	return access(p, F_OK) == 0;
}

static int
open_link(struct cli *c)
{
	char p[PATH_LEN], unt[PATH_LEN];
	struct ca_cfg cfg;
	int rc;

	if (c->link != NULL)
		return 0;
	state_path(c, "station.crt", p);
	if (c->station == NULL && (c->station = load_pem_cert(p)) == NULL) {
		errx("no station certificate (%s): run enroll-station first", p);
		return 1;
	}
	if ((rc = station_usable(c)) != 0)
		return rc;
	if (open_key(c, 0) != 0 || key_matches_cert(c) != 0)
		return 1;
	link_cfg(c, &cfg, unt);
	if ((rc = ca_link_new(&cfg, cakey_pkey(c->key), c->station,
	    &c->link)) != CA_OK) {
		errx("CA link: %s", ca_strerror(rc));
		return 1;
	}
	return 0;
}

static int
open_outbox(struct cli *c)
{
	char p[PATH_LEN];
	int rc;

	if (c->ob != NULL)
		return 0;
	state_path(c, "outbox", p);
	if ((rc = outbox_open(p, &c->ob)) != OUTBOX_OK) {
		errx("outbox %s: %s", p, outbox_strerror(rc));
		return 1;
	}
	return 0;
}

static void
mark_station_revoked(struct cli *c, const char *why)
{
	char p[PATH_LEN];

	state_path(c, "station.revoked", p);
	(void)write_atomic(p, why, strlen(why));
	errx("STATION CERTIFICATE REVOKED (%s): this station stops issuing", why);
}

/* ---- the outbox executor: one journaled operation, one CA transaction ---- */

static enum outbox_verdict
verdict(struct cli *c, int rc, const struct ca_result *res,
    struct outbox_exec_out *out)
{
	out->err = rc;
	snprintf(out->detail, sizeof(out->detail), "%.60s%s%.190s",
	    ca_strerror(rc), res->detail[0] ? ": " : "", res->detail);
	if (rc == CA_OK)
		return OUTBOX_EXEC_DONE;
	if (rc == CA_ERR_STATION_REVOKED)
		mark_station_revoked(c, "the CA refused our certificate");
	return ca_err_retryable(rc) ? OUTBOX_EXEC_RETRY : OUTBOX_EXEC_FAIL;
}

static void
queue_push(struct cli *c, const uint8_t *cert, size_t len)
{
	uint64_t id;

	if (c->conf.idm_url[0] != '\0' && outbox_add(c->ob, OUTBOX_PUSH, NULL, 0,
	    cert, len, (uint64_t)time(NULL), &id) != OUTBOX_OK)
		errx("could not queue the identity manager push");
}

static enum outbox_verdict
exec_push(struct cli *c, const struct outbox_op *op,
    struct outbox_exec_out *out)
{
	struct caidm_cfg ic;
	char unt[PATH_LEN];
	int rc;

	memset(&ic, 0, sizeof(ic));
	ic.url = c->conf.idm_url;
	ic.trust = c->conf.idm_trust[0] ? c->conf.idm_trust : c->conf.tls_trust;
	ic.timeout = c->conf.timeout;
	(void)unt;
	rc = caidm_push(&ic, cakey_pkey(c->key), c->station, op->payload,
	    op->payload_len, out->detail, sizeof(out->detail));
	out->err = rc;
	if (rc == CAIDM_OK)
		return OUTBOX_EXEC_DONE;
	return rc == CAIDM_ERR_REFUSED ? OUTBOX_EXEC_FAIL : OUTBOX_EXEC_RETRY;
}

static enum outbox_verdict
exec_op(void *arg, const struct outbox_op *op, struct outbox_exec_out *out)
{
	struct cli *c = arg;
	struct ca_result res;
	enum outbox_verdict v;
	int rc;

	if (c->link == NULL) {
		out->err = c->link_err;
		snprintf(out->detail, sizeof(out->detail), "%s",
		    c->link_err == EXIT_STATION ? "not sent: station certificate "
		    "revoked or expired" : "not sent: no CA link (configuration, "
		    "station key or certificate)");
		return OUTBOX_EXEC_RETRY;
	}
	crash_point("send");	/* journaled, nothing sent */
	if (op->type == OUTBOX_PUSH)
		return exec_push(c, op, out);
	if (op->type == OUTBOX_ENROLL)
		rc = ca_enroll_p10(c->link, op->payload, op->payload_len,
		    op->profile, op->txid, &res);
	else
		rc = ca_revoke(c->link, op->payload, op->payload_len, op->reason,
		    op->txid, &res);
	crash_point("answered");	/* the CA acted, nothing recorded */
	v = verdict(c, rc, &res, out);
	if (v == OUTBOX_EXEC_DONE && res.cert != NULL) {
		if ((out->result = malloc(res.cert_len)) != NULL) {
			memcpy(out->result, res.cert, res.cert_len);
			out->result_len = res.cert_len;
			queue_push(c, res.cert, res.cert_len);
		}
	}
	ca_result_clear(&res);
	return v;
}

static int
drain(struct cli *c, int force, unsigned max, struct outbox_drain_stats *st)
{
	int rc;

	c->link_err = open_link(c);
	rc = outbox_drain(c->ob, (uint64_t)time(NULL), force, max, exec_op, c, st);
	if (rc != OUTBOX_OK) {
		errx("drain: %s", outbox_strerror(rc));
		return 1;
	}
	return 0;
}

/* ---- commands ---- */

static int
report_op(struct cli *c, uint64_t id)
{
	struct outbox_op op;
	X509 *x = NULL;
	char sn[80] = "", tx[40];
	const char *out = opt(c, "--out");
	int rc;

	if (outbox_get(c->ob, id, &op) != OUTBOX_OK)
		return 1;
	hex(op.txid, sizeof(op.txid), tx);
	if (op.state == OUTBOX_PENDING) {
		printf("queued: op %llu txid %s (%s); it will be retried\n",
		    (unsigned long long)id, tx, op.detail[0] ? op.detail :
		    "not sent yet");
		rc = c->link_err == EXIT_STATION || station_marked(c) ?
		    EXIT_STATION : EXIT_QUEUED;
	} else if (op.state == OUTBOX_FAILED) {
		printf("failed: op %llu: %s\n", (unsigned long long)id, op.detail);
		rc = 1;
	} else {
		if (op.result_len > 0 &&
		    (x = der_to_x509(op.result, op.result_len)) != NULL) {
			serial_of(x, sn, sizeof(sn));
			if (out != NULL && write_cert_pem(out, x) != 0)
				errx("cannot write %s", out);
		}
		printf("done: op %llu%s%s\n", (unsigned long long)id,
		    sn[0] ? " serial " : "", sn);
		rc = 0;
	}
	X509_free(x);
	outbox_op_clear(&op);
	return rc;
}

static int
submit(struct cli *c, enum outbox_type type, const char *profile, int reason,
    const uint8_t *payload, size_t len)
{
	struct outbox_drain_stats st;
	uint64_t id;
	int rc;

	if (open_outbox(c) != 0)
		return 1;
	rc = outbox_add(c->ob, type, profile, reason, payload, len,
	    (uint64_t)time(NULL), &id);
	if (rc != OUTBOX_OK) {
		errx("journal: %s", outbox_strerror(rc));
		return 1;
	}
	if (opt(c, "--queue") != NULL) {
		printf("queued: op %llu\n", (unsigned long long)id);
		return EXIT_QUEUED;
	}
	if (drain(c, 1, 0, &st) != 0)
		return 1;
	return report_op(c, id);
}

/* Benchmarks: journal n enrollments of one CSR (each its own transaction). */
static int
queue_repeat(struct cli *c, const char *profile, const uint8_t *der,
    size_t len, long n)
{
	uint64_t id = 0;
	long i;

	if (n <= 0 || n > 1000000 || opt(c, "--queue") == NULL) {
		errx("--repeat N (1..1000000) needs --queue");
		return EXIT_USAGE;
	}
	if (open_outbox(c) != 0)
		return 1;
	for (i = 0; i < n; i++)
		if (outbox_add(c->ob, OUTBOX_ENROLL, profile, 0, der, len,
		    (uint64_t)time(NULL), &id) != OUTBOX_OK) {
			errx("journal failed after %ld operations", i);
			return 1;
		}
	printf("queued: %ld operations, last op %llu\n", n,
	    (unsigned long long)id);
	return EXIT_QUEUED;
}

static int
cmd_enroll(struct cli *c)
{
	const char *csr = opt(c, "--csr"), *profile = opt(c, "--profile");
	uint8_t *der;
	size_t len;
	int rc;

	if (csr == NULL || profile == NULL)
		return EXIT_USAGE;
	if (load_der(csr, 1, &der, &len) != 0) {
		errx("cannot read CSR %s", csr);
		return 1;
	}
	if (opt(c, "--repeat") != NULL)
		rc = queue_repeat(c, profile, der, len, atol(opt(c, "--repeat")));
	else
		rc = submit(c, OUTBOX_ENROLL, profile, 0, der, len);
	OPENSSL_free(der);
	return rc;
}

/* ---- renewal of a card certificate: a new p10cr under the same profile ---- */

struct issued_by_us {
	const uint8_t *der;
	size_t len;
	char profile[OUTBOX_PROFILE_MAX + 1];
};

static int
match_issued(const struct outbox_op *op, void *arg)
{
	struct issued_by_us *w = arg;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    op->result_len != w->len || memcmp(op->result, w->der, w->len) != 0)
		return 0;
	snprintf(w->profile, sizeof(w->profile), "%s", op->profile);
	return 1;	/* found: stop */
}

static int
same_subject(const uint8_t *csr, size_t clen, const uint8_t *cert, size_t len)
{
	const unsigned char *p = csr;
	X509_REQ *r = d2i_X509_REQ(NULL, &p, (long)clen);
	X509 *x = der_to_x509(cert, len);
	int ok = r != NULL && x != NULL && X509_NAME_cmp(
	    X509_REQ_get_subject_name(r), X509_get_subject_name(x)) == 0;

	X509_REQ_free(r);
	X509_free(x);
	return ok;
}

static int
cmd_renew(struct cli *c)
{
	const char *cert = opt(c, "--cert"), *csr = opt(c, "--csr");
	struct issued_by_us w;
	uint8_t *old = NULL, *req = NULL;
	size_t olen, rlen;
	int rc = 1;

	if (cert == NULL || csr == NULL)
		return EXIT_USAGE;
	if (load_der(cert, 0, &old, &olen) != 0 || load_der(csr, 1, &req,
	    &rlen) != 0 || open_outbox(c) != 0) {
		errx("cannot read %s or %s", cert, csr);
		goto out;
	}
	if (!same_subject(req, rlen, old, olen)) {
		errx("the CSR's subject differs from the certificate it renews");
		goto out;
	}
	memset(&w, 0, sizeof(w));
	w.der = old;
	w.len = olen;
	if (opt(c, "--profile") != NULL)
		snprintf(w.profile, sizeof(w.profile), "%s", opt(c, "--profile"));
	else if (outbox_foreach(c->ob, 0, match_issued, &w) != 1) {
		errx("%s was not issued by this station: give --profile", cert);
		goto out;
	}
	rc = submit(c, OUTBOX_ENROLL, w.profile, 0, req, rlen);
	if (rc == 0)
		printf("renewed under profile %s; revoke the old certificate "
		    "(--reason superseded) once the card holds the new one\n",
		    w.profile);
out:
	OPENSSL_free(old);
	OPENSSL_free(req);
	return rc;
}

static int
cmd_revoke(struct cli *c, int reason)
{
	const char *cert = opt(c, "--cert"), *rn = opt(c, "--reason");
	uint8_t *der;
	size_t len;
	int rc;

	if (reason < 0 && rn != NULL)
		reason = reason_parse(rn);
	if (cert == NULL || reason < 0 ||
	    (reason == CRL_REASON_REMOVE_FROM_CRL && rn != NULL)) {
		errx("revoke needs --cert and --reason keyCompromise, "
		    "cessationOfOperation, superseded, affiliationChanged, "
		    "certificateHold or unspecified");
		return EXIT_USAGE;
	}
	if (load_der(cert, 0, &der, &len) != 0) {
		errx("cannot read certificate %s", cert);
		return 1;
	}
	rc = submit(c, OUTBOX_REVOKE, NULL, reason, der, len);
	OPENSSL_free(der);
	return rc;
}

static int
cmd_push(struct cli *c)
{
	const char *cert = opt(c, "--cert");
	uint8_t *der;
	size_t len;
	int rc;

	if (cert == NULL || c->conf.idm_url[0] == '\0') {
		errx("push needs --cert and idm_url in the configuration");
		return EXIT_USAGE;
	}
	if (load_der(cert, 0, &der, &len) != 0)
		return 1;
	rc = submit(c, OUTBOX_PUSH, NULL, 0, der, len);
	OPENSSL_free(der);
	return rc;
}

static int
write_certs_pem(const char *path, STACK_OF(X509) *certs)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int i, rc = -1, ok = b != NULL;

	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(certs, i));
	if (ok && (n = BIO_get_mem_data(b, &data)) > 0)
		rc = write_atomic(path, data, (size_t)n);
	BIO_free(b);
	return rc;
}

static int
cmd_cacerts(struct cli *c)
{
	STACK_OF(X509) *certs = NULL;
	struct ca_result res;
	char p[PATH_LEN];
	int rc;

	if ((rc = open_link(c)) != 0)
		return rc;
	if ((rc = ca_get_cacerts(c->link, &certs, &res)) != CA_OK) {
		errx("genm caCerts: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		ca_result_clear(&res);
		return 1;
	}
	state_path(c, "cacerts.pem", p);
	rc = write_certs_pem(opt(c, "--out") ? opt(c, "--out") : p, certs);
	if (rc == 0 && opt(c, "--out") != NULL)
		rc = write_certs_pem(p, certs);
	printf("cacerts: %d CA certificates, verified%s\n", sk_X509_num(certs),
	    rc == 0 ? "" : " (NOT saved)");
	sk_X509_pop_free(certs, X509_free);
	ca_result_clear(&res);
	return rc == 0 ? 0 : 1;
}

/* ---- CRL ---- */

static int
cdp_url(X509 *x, char *out, size_t cap)
{
	STACK_OF(DIST_POINT) *dps;
	int i, j, found = 0;

	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; !found && j < sk_GENERAL_NAME_num(
		    dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(
			    dp->distpoint->name.fullname, j);

			if (gn->type == GEN_URI) {
				snprintf(out, cap, "%.*s",
				    ASN1_STRING_length(gn->d.uniformResourceIdentifier),
				    (const char *)ASN1_STRING_get0_data(
				    gn->d.uniformResourceIdentifier));
				found = 1;
			}
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return found ? 0 : -1;
}

/* Candidates for the CRL signer: the configured and the genm'd CA certs. */
static STACK_OF(X509) *
ca_candidates(struct cli *c)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char p[PATH_LEN];
	const char *files[2];
	X509 *x;
	BIO *b;
	int i;

	state_path(c, "cacerts.pem", p);
	files[0] = c->conf.untrusted[0] ? c->conf.untrusted : NULL;
	files[1] = p;
	for (i = 0; sk != NULL && i < 2; i++) {
		if (files[i] == NULL || (b = BIO_new_file(files[i], "r")) == NULL)
			continue;
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (!sk_X509_push(sk, x))
				X509_free(x);
		BIO_free(b);
	}
	ERR_clear_error();
	return sk;
}

static int
trust_only_link(struct cli *c, struct ca_link **l)
{
	char unt[PATH_LEN];
	struct ca_cfg cfg;

	link_cfg(c, &cfg, unt);
	cfg.port = c->conf.enroll_port;
	return ca_link_new(&cfg, NULL, NULL, l) == CA_OK ? 0 : -1;
}

static void
print_crl(const char *what, X509_CRL *crl)
{
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);

	int n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));

	BIO_printf(b, "%s: %d entries, last update ", what, n < 0 ? 0 : n);
	ASN1_TIME_print(b, X509_CRL_get0_lastUpdate(crl));
	BIO_printf(b, ", next update ");
	if (X509_CRL_get0_nextUpdate(crl) != NULL)
		ASN1_TIME_print(b, X509_CRL_get0_nextUpdate(crl));
	BIO_printf(b, "%s\n", cacrl_stale(crl, time(NULL)) ? " (STALE)" : "");
	BIO_free(b);
}

static int
check_own_cert(struct cli *c, X509_CRL *crl)
{
	char p[PATH_LEN];
	X509 *st;
	int reason, rc = 0;

	state_path(c, "station.crt", p);
	if ((st = load_pem_cert(p)) == NULL)
		return 0;
	if (cacrl_lookup(crl, st, &reason)) {
		snprintf(p, sizeof(p), "on the CA's CRL, reason %s",
		    reason_name(reason));
		mark_station_revoked(c, p);
		rc = EXIT_STATION;
	}
	X509_free(st);
	return rc;
}

static int
fetch_verified(struct cli *c, X509_CRL **crl)
{
	char url[CACONF_VAL], p[PATH_LEN], why[256];
	STACK_OF(X509) *cands = ca_candidates(c);
	struct ca_link *l = NULL;
	X509 *st;
	int rc;

	state_path(c, "station.crt", p);
	snprintf(url, sizeof(url), "%s", c->conf.crl_url);
	if (url[0] == '\0' && (st = load_pem_cert(p)) != NULL) {
		(void)cdp_url(st, url, sizeof(url));
		X509_free(st);
	}
	if (url[0] == '\0') {
		errx("no crl_url configured and no CDP in the station certificate");
		rc = 1;
		goto out;
	}
	rc = CACRL_ERR_ARG;
	if (trust_only_link(c, &l) != 0 ||
	    (rc = cacrl_fetch(url, c->conf.timeout, crl)) != CACRL_OK) {
		errx("CRL %s: %s", url, l ? cacrl_strerror(rc) : "no trust");
		rc = 1;
		goto out;
	}
	rc = cacrl_verify(*crl, cands, ca_trust_store(l), time(NULL), why,
	    sizeof(why));
	if (rc != CACRL_OK) {
		errx("CRL %s REJECTED: %s: %s", url, cacrl_strerror(rc), why);
		X509_CRL_free(*crl);
		*crl = NULL;
		rc = 1;
	}
out:
	ca_link_free(l);
	sk_X509_pop_free(cands, X509_free);
	return rc;
}

static int
cmd_crl_update(struct cli *c)
{
	X509_CRL *crl = NULL;
	char p[PATH_LEN];
	int rc;

	if ((rc = fetch_verified(c, &crl)) != 0)
		return rc;
	state_path(c, "crl.der", p);
	if ((rc = cacrl_store(p, crl)) != CACRL_OK) {
		errx("CRL cache: %s", cacrl_strerror(rc));
		X509_CRL_free(crl);
		return 1;
	}
	print_crl("crl updated", crl);
	rc = check_own_cert(c, crl);
	X509_CRL_free(crl);
	return rc;
}

static const char *
cert_status(X509_CRL *crl, X509 *x, char *buf, size_t cap)
{
	int reason;

	if (crl == NULL)
		return "unknown (no CRL)";
	if (!cacrl_lookup(crl, x, &reason))
		return "good";
	snprintf(buf, cap, "%s (%s)", reason == CRL_REASON_CERTIFICATE_HOLD ?
	    "on hold" : "revoked", reason_name(reason));
	return buf;
}

struct status_ctx {
	X509_CRL *crl;
};

static int
status_one(const struct outbox_op *op, void *arg)
{
	struct status_ctx *s = arg;
	char sn[80], name[256], buf[64];
	X509 *x;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    (x = der_to_x509(op->result, op->result_len)) == NULL)
		return 0;
	serial_of(x, sn, sizeof(sn));
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	printf("cert %s %s profile=%s status=%s\n", sn, name, op->profile,
	    cert_status(s->crl, x, buf, sizeof(buf)));
	X509_free(x);
	return 0;
}

static void
status_station(struct cli *c, X509_CRL *crl)
{
	char p[PATH_LEN], sn[80], buf[64];
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
	X509 *st;

	state_path(c, "station.crt", p);
	if ((st = load_pem_cert(p)) == NULL) {
		printf("station: NOT ENROLLED\n");
		BIO_free(b);
		return;
	}
	serial_of(st, sn, sizeof(sn));
	BIO_printf(b, "station: serial %s expires ", sn);
	ASN1_TIME_print(b, X509_get0_notAfter(st));
	BIO_printf(b, " status %s%s\n", station_marked(c) ? "REVOKED" :
	    cert_status(crl, st, buf, sizeof(buf)),
	    X509_cmp_current_time(X509_get0_notAfter(st)) < 0 ? " EXPIRED" : "");
	X509_free(st);
	BIO_free(b);
}

static int
cmd_status(struct cli *c)
{
	struct outbox_counts n;
	struct status_ctx s = { NULL };
	char p[PATH_LEN];

	state_path(c, "crl.der", p);
	(void)cacrl_load(p, &s.crl);
	status_station(c, s.crl);
	if (s.crl != NULL)
		print_crl("crl", s.crl);
	else
		printf("crl: none cached\n");
	if (open_outbox(c) != 0 || outbox_count(c->ob, &n) != OUTBOX_OK) {
		X509_CRL_free(s.crl);
		return 1;
	}
	printf("outbox: %llu pending, %llu done, %llu failed\n",
	    (unsigned long long)n.pending, (unsigned long long)n.done,
	    (unsigned long long)n.failed);
	(void)outbox_foreach(c->ob, 0, status_one, &s);
	X509_CRL_free(s.crl);
	return 0;
}

static const char *
type_name(int t)
{
	return t == OUTBOX_ENROLL ? "enroll" : t == OUTBOX_REVOKE ? "revoke" :
	    "push";
}

static int
list_one(const struct outbox_op *op, void *arg)
{
	static const char *states[] = { "pending", "done", "failed" };
	char tx[40];

	(void)arg;
	hex(op->txid, sizeof(op->txid), tx);
	printf("%llu %s %s attempts=%u next_try=%llu txid=%s", (unsigned long long)
	    op->id, type_name(op->type), states[op->state], op->attempts,
	    (unsigned long long)op->next_try, tx);
	if (op->type == OUTBOX_ENROLL)
		printf(" profile=%s", op->profile);
	if (op->type == OUTBOX_REVOKE)
		printf(" reason=%s", reason_name(op->reason));
	printf("%s%s\n", op->detail[0] ? " last_error=" : "", op->detail);
	return 0;
}

static int
cmd_outbox(struct cli *c, const char *sub)
{
	struct outbox_drain_stats st;
	const char *m = opt(c, "--max");
	int rc;

	if (sub == NULL || open_outbox(c) != 0)
		return sub == NULL ? EXIT_USAGE : 1;
	if (strcmp(sub, "list") == 0)
		return outbox_foreach(c->ob, opt(c, "--pending") != NULL, list_one,
		    NULL) == OUTBOX_OK ? 0 : 1;
	if (strcmp(sub, "drain") != 0)
		return EXIT_USAGE;
	if ((rc = drain(c, 1, m ? (unsigned)atoi(m) : 0, &st)) != 0)
		return rc;
	printf("drained: %u done, %u failed, %u to retry, %llu remaining\n",
	    st.done, st.failed, st.retried, (unsigned long long)st.remaining);
	if (st.remaining == 0)
		return 0;
	return c->link_err == EXIT_STATION || station_marked(c) ? EXIT_STATION :
	    EXIT_QUEUED;
}

/* ---- station enrollment and renewal ---- */

/* The transactionID of a station operation, journaled before it is sent. */
static int
station_txid(struct cli *c, const char *name, uint8_t txid[CA_TXID_LEN])
{
	char p[PATH_LEN];
	uint8_t *raw;
	size_t n;

	state_path(c, name, p);
	if (read_all(p, &raw, &n) == 0) {
		if (n == CA_TXID_LEN)
			memcpy(txid, raw, n);
		free(raw);
		if (n == CA_TXID_LEN)
			return 0;
	}
	if (RAND_bytes(txid, CA_TXID_LEN) != 1)
		return -1;
	return write_atomic(p, txid, CA_TXID_LEN);
}

static int
read_secret(const char *path, uint8_t **sec, size_t *len)
{
	if (read_all(path, sec, len) != 0)
		return -1;
	while (*len > 0 && ((*sec)[*len - 1] == '\n' || (*sec)[*len - 1] == '\r'))
		(*sec)[--*len] = 0;
	return *len > 0 ? 0 : -1;
}

static int
install_station_cert(struct cli *c, const struct ca_result *res,
    const char *txname)
{
	char p[PATH_LEN], sn[80];
	X509 *x = der_to_x509(res->cert, res->cert_len);

	state_path(c, "station.crt", p);
	if (x == NULL || write_cert_pem(p, x) != 0) {
		X509_free(x);
		errx("cannot store %s", p);
		return 1;
	}
	state_path(c, txname, p);
	(void)unlink(p);
	state_path(c, "station.revoked", p);
	(void)unlink(p);
	serial_of(x, sn, sizeof(sn));
	printf("station certificate: serial %s\n", sn);
	X509_free(x);
	return 0;
}

static int
cmd_enroll_station(struct cli *c)
{
	const char *ref = opt(c, "--ref"), *sf = opt(c, "--secret-file");
	const char *subject = opt(c, "--subject");
	uint8_t txid[CA_TXID_LEN], *sec = NULL;
	struct ca_link *l = NULL;
	struct ca_result res;
	size_t slen = 0;
	int rc = 1;

	memset(&res, 0, sizeof(res));
	if (subject == NULL)
		subject = c->conf.subject;
	if (ref == NULL || sf == NULL || subject[0] == '\0')
		return EXIT_USAGE;
	if (secret_file_ok(sf) != 0 || read_secret(sf, &sec, &slen) != 0) {
		errx("cannot read the one-time secret from %s", sf);
		goto out;
	}
	if (open_key(c, 1) != 0 || station_txid(c, "station.txid", txid) != 0 ||
	    trust_only_link(c, &l) != 0)
		goto out;
	if (cakey_created(c->key))
		printf("station key generated in token '%s'\n", c->conf.token);
	rc = ca_enroll_station(l, ref, sec, slen, cakey_pkey(c->key), subject,
	    txid, &res);
	if (rc != CA_OK) {
		errx("station enrollment: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		rc = ca_err_retryable(rc) ? EXIT_QUEUED : 1;
		goto out;
	}
	rc = install_station_cert(c, &res, "station.txid");
out:
	if (sec != NULL)
		OPENSSL_cleanse(sec, slen);
	free(sec);
	ca_result_clear(&res);
	ca_link_free(l);
	return rc;
}

static int
renewal_due(struct cli *c)
{
	time_t at = time(NULL) + c->conf.renew_before;

	return X509_cmp_time(X509_get0_notAfter(c->station), &at) < 0;
}

/* Make label the station's key and retire the old one. */
static int
finish_rekey(struct cli *c, const char *label)
{
	char p[PATH_LEN], old[CACONF_VAL];

	current_label(c, old, sizeof(old));
	state_path(c, "station.key", p);
	if (write_atomic(p, label, strlen(label)) != 0) {
		errx("cannot record the new station key label in %s", p);
		return -1;
	}
	state_path(c, "renew.label", p);
	(void)unlink(p);
	if (strcmp(old, label) != 0 && cakey_remove(c->key, old) != CAKEY_OK)
		errx("old station key %s not removed from the token", old);
	return 0;
}

/* The label of the next station key, journaled before the key exists. */
static int
next_label(struct cli *c, char *out, size_t cap)
{
	char p[PATH_LEN], suffix[17];
	uint8_t *raw, rnd[8];
	size_t n;

	state_path(c, "renew.label", p);
	if (read_all(p, &raw, &n) == 0) {
		if (n < cap) {
			memcpy(out, raw, n);
			out[n] = '\0';
		}
		free(raw);
		return n < cap ? 0 : -1;
	}
	/* Random, so two renewals within one second get two keys. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	hex(rnd, sizeof(rnd), suffix);
	snprintf(out, cap, "%.80s.%s", c->conf.key_label, suffix);
	return write_atomic(p, out, strlen(out));
}

static int
renew_with(struct cli *c, EVP_PKEY *newkey, const char *label)
{
	uint8_t txid[CA_TXID_LEN];
	struct ca_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	if (station_txid(c, "renew.txid", txid) != 0)
		return 1;
	rc = ca_renew_station(c->link, newkey, txid, &res);
	if (rc != CA_OK) {
		errx("station renewal: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		ca_result_clear(&res);
		return ca_err_retryable(rc) ? EXIT_QUEUED : 1;
	}
	/* Certificate first: a crash after it is completed by open_link. */
	rc = install_station_cert(c, &res, "renew.txid");
	ca_result_clear(&res);
	crash_point("renew-cert");
	if (rc == 0 && label != NULL && finish_rekey(c, label) != 0)
		rc = 1;
	return rc;
}

static int
cmd_renew_station(struct cli *c)
{
	EVP_PKEY *newkey = NULL;
	char label[CACONF_VAL];
	int rc;

	if ((rc = open_link(c)) != 0)
		return rc;
	if (!renewal_due(c) && opt(c, "--force") == NULL) {
		printf("renewal not due\n");
		return 0;
	}
	if (opt(c, "--same-key") != NULL)
		return renew_with(c, cakey_pkey(c->key), NULL);
	rc = CAKEY_ERR_ARG;
	if (next_label(c, label, sizeof(label)) != 0 ||
	    (rc = cakey_other(c->key, label, 1, &newkey)) != CAKEY_OK) {
		errx("new station key: %s", cakey_strerror(rc));
		return 1;
	}
	printf("new station key %s in token '%s'\n", label, c->conf.token);
	crash_point("renew-key");
	rc = renew_with(c, newkey, label);
	EVP_PKEY_free(newkey);
	return rc;
}

/* ---- main ---- */

static int
usage(void)
{
	fprintf(stderr, "usage: cardmgr-ca -c CONF COMMAND [options]\n"
	    "  enroll-station --ref REF --secret-file FILE [--subject /CN=..]\n"
	    "  renew-station [--force] [--same-key]\n"
	    "  enroll --csr FILE --profile NAME [--out FILE] [--queue [--repeat N]]\n"
	    "  renew --cert OLD --csr FILE [--profile NAME] [--out FILE] [--queue]\n"
	    "  revoke --cert FILE --reason NAME [--queue]\n"
	    "  unhold --cert FILE [--queue]\n"
	    "  push --cert FILE [--queue]\n"
	    "  cacerts [--out FILE]\n"
	    "  crl-update\n"
	    "  status\n"
	    "  outbox list [--pending] | outbox drain [--max N]\n");
	return EXIT_USAGE;
}

static int
parse_opts(struct cli *c, int argc, char **argv, int i)
{
	for (; i < argc; i++) {
		int flag = strcmp(argv[i], "--queue") == 0 ||
		    strcmp(argv[i], "--force") == 0 ||
		    strcmp(argv[i], "--same-key") == 0 ||
		    strcmp(argv[i], "--pending") == 0;

		if (strncmp(argv[i], "--", 2) != 0 || c->nopt == 8 ||
		    (!flag && i + 1 >= argc))
			return -1;
		c->argv_opt[c->nopt][0] = argv[i];
		c->argv_opt[c->nopt++][1] = flag ? "" : argv[++i];
	}
	return 0;
}

static int
dispatch(struct cli *c, const char *cmd, const char *sub)
{
	if (strcmp(cmd, "enroll-station") == 0) return cmd_enroll_station(c);
	if (strcmp(cmd, "renew-station") == 0) return cmd_renew_station(c);
	if (strcmp(cmd, "enroll") == 0) return cmd_enroll(c);
	if (strcmp(cmd, "renew") == 0) return cmd_renew(c);
	if (strcmp(cmd, "revoke") == 0) return cmd_revoke(c, -1);
	if (strcmp(cmd, "unhold") == 0)
		return cmd_revoke(c, CRL_REASON_REMOVE_FROM_CRL);
	if (strcmp(cmd, "push") == 0) return cmd_push(c);
	if (strcmp(cmd, "cacerts") == 0) return cmd_cacerts(c);
	if (strcmp(cmd, "crl-update") == 0) return cmd_crl_update(c);
	if (strcmp(cmd, "status") == 0) return cmd_status(c);
	if (strcmp(cmd, "outbox") == 0) return cmd_outbox(c, sub);
	return usage();
}

int
main(int argc, char **argv)
{
	struct cli c;
	char err[CACONF_VAL + 64];
	const char *sub = NULL;
	int first, rc;

	memset(&c, 0, sizeof(c));
	if (argc < 4 || strcmp(argv[1], "-c") != 0)
		return usage();
	if (caconf_load(argv[2], &c.conf, err, sizeof(err)) != CACONF_OK) {
		errx("%s", err);
		return 1;
	}
	first = 4;
	if (strcmp(argv[3], "outbox") == 0 && argc > 4)
		sub = argv[first++];
	if (parse_opts(&c, argc, argv, first) != 0)
		return usage();
	rc = dispatch(&c, argv[3], sub);
	if (rc == EXIT_USAGE)
		(void)usage();
	ca_link_free(c.link);
	X509_free(c.station);
	cakey_close(c.key);
	outbox_close(c.ob);
	return rc;
}
