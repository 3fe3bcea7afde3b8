/*
 * station: the station's state, keys and link, and its own certificate
 * (enrollment, renewal with re-keying). See station.h.
 */
#include "station_int.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cafile.h"

const char *
cast_strerror(int err)
{
	switch (err) {
	case CAST_OK:		return "success";
	case CAST_ERR_ARG:	return "bad argument";
	case CAST_ERR_NOMEM:	return "out of memory";
	case CAST_ERR_STATE:	return "station state unavailable";
	case CAST_ERR_NOT_ENROLLED: return "station not enrolled";
	case CAST_ERR_REVOKED:	return "STATION CERTIFICATE REVOKED";
	case CAST_ERR_EXPIRED:	return "STATION CERTIFICATE EXPIRED";
	case CAST_ERR_KEY:	return "station key unavailable";
	case CAST_ERR_QUEUED:	return "journaled, not accepted yet; it will be retried";
	case CAST_ERR_REFUSED:	return "refused by the CA";
	case CAST_ERR_BUSY:	return "another drain is running; the work stays journaled";
	case CAST_ERR_CRL:	return "CRL unavailable or refused";
	case CAST_ERR_LINK:	return "cannot set up the CA link";
	case CAST_ERR_SECRET:	return "secret file refused";
	case CAST_ERR_TOKEN:	return "station token damaged or missing";
	default:		return "unknown station error";
	}
}

const char *
cast_errname(int err)
{
	switch (err) {
	case CAST_OK:		return "CAST_OK";
	case CAST_ERR_ARG:	return "CAST_ERR_ARG";
	case CAST_ERR_NOMEM:	return "CAST_ERR_NOMEM";
	case CAST_ERR_STATE:	return "CAST_ERR_STATE";
	case CAST_ERR_NOT_ENROLLED: return "CAST_ERR_NOT_ENROLLED";
	case CAST_ERR_REVOKED:	return "CAST_ERR_REVOKED";
	case CAST_ERR_EXPIRED:	return "CAST_ERR_EXPIRED";
	case CAST_ERR_KEY:	return "CAST_ERR_KEY";
	case CAST_ERR_QUEUED:	return "CAST_ERR_QUEUED";
	case CAST_ERR_REFUSED:	return "CAST_ERR_REFUSED";
	case CAST_ERR_BUSY:	return "CAST_ERR_BUSY";
	case CAST_ERR_CRL:	return "CAST_ERR_CRL";
	case CAST_ERR_LINK:	return "CAST_ERR_LINK";
	case CAST_ERR_SECRET:	return "CAST_ERR_SECRET";
	case CAST_ERR_TOKEN:	return "CAST_ERR_TOKEN";
	default:		return "CAST_ERR_UNKNOWN";
	}
}

int
cast_fail(struct cast *st, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->detail, sizeof(st->detail), fmt, ap);
	va_end(ap);
	return rc;
}

void
cast_note(struct cast *st, const char *fmt, ...)
{
	char msg[CAST_DETAIL];
	va_list ap;

	if (st->note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->note(st->note_arg, msg);
}

#ifdef CARDMGR_CA_TEST_HOOKS
void
cast_crash_point(const char *point)
{
	const char *at = getenv("CARDMGR_CA_CRASH_AT");
	static long hits;

	if (at == NULL)
		return;
	/* "N": die at the N-th crash point reached, whichever it is. */
	if (strcmp(at, point) == 0 || atol(at) == ++hits)
		_exit(99);
}

int
cast_keep_order_point(void)
{
	return getenv("CARDMGR_CA_KEEP_ORDER") != NULL;
}

void
cast_pause_point(void)
{
	const char *at = getenv("CARDMGR_CA_PAUSE_AT");
	static long hits;

	if (at != NULL && atol(at) == ++hits)
		(void)raise(SIGSTOP);
}

int
cast_fail_point(const char *point)
{
	const char *at = getenv("CARDMGR_CA_FAIL_AT");
	static int fired;

	if (at == NULL || fired || strcmp(at, point) != 0)
		return 0;
	fired = 1;
	return 1;
}
#endif

void
cast_path(const struct cast *st, const char *name, char *out)
{
	snprintf(out, CAST_PATH, "%s/%s", st->conf->state_dir, name);
}

void
cast_serial_of(X509 *x, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", h ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
}

X509 *
cast_der_to_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > 65536)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

const char *
cast_detail(const struct cast *st)
{
	return st != NULL ? st->detail : "";
}

struct outbox *
cast_outbox(struct cast *st)
{
	return st->ob;
}

/* ---- state in LMDB ---- */

int
cast_state_text(struct cast *st, const char *name, char *out, size_t cap)
{
	uint8_t buf[OUTBOX_STATE_MAX];
	size_t n;

	if (outbox_state_get(st->ob, name, buf, sizeof(buf), &n) != OUTBOX_OK ||
	    n >= cap || memchr(buf, 0, n) != NULL)
		return -1;
	memcpy(out, buf, n);
	out[n] = '\0';
	return 0;
}

static int
state_set_text(struct cast *st, const char *name, const char *val)
{
	return outbox_state_put(st->ob, name, val, strlen(val)) == OUTBOX_OK ?
	    CAST_OK : cast_fail(st, CAST_ERR_STATE, "cannot record %s", name);
}

/*
 * Import the loose state files of earlier versions, once: a value already
 * in LMDB wins (a crash after the import but before the unlink), then the
 * file goes.
 */
static int
migrate(struct cast *st)
{
	static const char *names[] = { CAST_ST_IR_TXID, CAST_ST_KUR_TXID,
	    CAST_ST_NEXT_LABEL, CAST_ST_LABEL, CAST_ST_REVOKED };
	uint8_t buf[OUTBOX_STATE_MAX + 1];
	char p[CAST_PATH];
	size_t i, n, have;
	FILE *f;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cast_path(st, names[i], p);
		if ((f = fopen(p, "rb")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n > OUTBOX_STATE_MAX)
			return cast_fail(st, CAST_ERR_STATE, "%s: too large to import",
			    p);
		/* A zero-sized buffer: only "is it set?" is asked. */
		if (outbox_state_get(st->ob, names[i], buf + n, 0, &have) ==
		    OUTBOX_ERR_NOTFOUND &&
		    outbox_state_put(st->ob, names[i], buf, n) != OUTBOX_OK)
			return cast_fail(st, CAST_ERR_STATE, "%s: import failed", p);
		if (unlink(p) != 0)
			return cast_fail(st, CAST_ERR_STATE, "%s: %s", p,
			    strerror(errno));
		cast_note(st, "imported %s into the station database", names[i]);
	}
	return CAST_OK;
}

int
cast_open(const struct cast_cfg *cfg, struct cast **out)
{
	struct cast *st;
	char p[CAST_PATH];
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->conf == NULL || cfg->keys.get == NULL ||
	    cfg->keys.remove == NULL)
		return CAST_ERR_ARG;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return CAST_ERR_NOMEM;
	st->conf = cfg->conf;
	st->keys = cfg->keys;
	st->note = cfg->note;
	st->note_arg = cfg->note_arg;
	st->link_err = CAST_ERR_LINK;
	cast_path(st, "outbox", p);
	rc = cfg->env != NULL ? outbox_open_env(cfg->env, &st->ob) :
	    outbox_open(p, &st->ob);
	if (rc != OUTBOX_OK) {
		free(st);
		return CAST_ERR_STATE;
	}
	if ((rc = migrate(st)) != CAST_OK) {
		cast_close(st);
		return rc;
	}
	*out = st;
	return CAST_OK;
}

void
cast_close(struct cast *st)
{
	if (st == NULL)
		return;
	ca_link_free(st->link);
	X509_free(st->station);
	EVP_PKEY_free(st->key);
	outbox_close(st->ob);
	free(st);
}

/* ---- the station key ---- */

void
cast_key_label(struct cast *st, char *out, size_t cap)
{
	if (cast_state_text(st, CAST_ST_LABEL, out, cap) != 0)
		snprintf(out, cap, "%s", st->conf->key_label);
}

/* A keys.get or keys.check failure for label as a station error. */
int
cast_key_fail(struct cast *st, int krc, const char *label)
{
	if (krc == CAST_KEYS_TOKEN)
		return cast_fail(st, CAST_ERR_TOKEN, "station token '%s' damaged "
		    "or missing: restore it from its backup or re-enroll the "
		    "station (the journal is kept)", st->conf->token);
	if (krc == CAST_KEYS_NOKEY)
		return cast_fail(st, CAST_ERR_TOKEN, "station key '%s' is not in "
		    "token '%s': restore the token from its backup or re-enroll "
		    "the station (the journal is kept)", label, st->conf->token);
	return cast_fail(st, CAST_ERR_KEY, "station key %s unavailable", label);
}

static int
station_key(struct cast *st, int create)
{
	char label[CACONF_VAL];
	int krc;

	if (st->key != NULL)
		return CAST_OK;
	cast_key_label(st, label, sizeof(label));
	krc = st->keys.get(st->keys.arg, label, create, &st->key);
	if (krc != CAST_KEYS_OK || st->key == NULL) {
		EVP_PKEY_free(st->key);
		st->key = NULL;
		return cast_key_fail(st, krc == CAST_KEYS_OK ? CAST_KEYS_FAIL :
		    krc, label);
	}
	return CAST_OK;
}

/* The label of the next station key, journaled before the key exists. */
static int
next_label(struct cast *st, char *out, size_t cap)
{
	uint8_t rnd[8];
	char suffix[17];
	size_t i;

	if (cast_state_text(st, CAST_ST_NEXT_LABEL, out, cap) == 0)
		return CAST_OK;
	/* Random, so two renewals within one second get two keys. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return cast_fail(st, CAST_ERR_NOMEM, "no random label");
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(suffix + 2 * i, 3, "%02x", rnd[i]);
	snprintf(out, cap, "%.80s.%s", st->conf->key_label, suffix);
	return state_set_text(st, CAST_ST_NEXT_LABEL, out);
}

/* Make label the station's key and retire the old one. */
static int
finish_rekey(struct cast *st, const char *label)
{
	char old[CACONF_VAL];
	int rc;

	cast_key_label(st, old, sizeof(old));
	if ((rc = state_set_text(st, CAST_ST_LABEL, label)) != CAST_OK)
		return rc;
	(void)outbox_state_del(st->ob, CAST_ST_NEXT_LABEL);
	if (strcmp(old, label) != 0 && st->keys.remove(st->keys.arg, old) != 0)
		cast_note(st, "old station key %s not removed from the token", old);
	EVP_PKEY_free(st->key);
	st->key = NULL;
	return CAST_OK;
}

/*
 * The station certificate must certify the current key. After a crash in
 * the middle of a re-keying renewal it certifies the new key already: finish
 * the switch-over that the crash interrupted.
 */
static int
key_matches_cert(struct cast *st)
{
	char label[CACONF_VAL];
	EVP_PKEY *next = NULL;
	int ok, rc;

	if (X509_check_private_key(st->station, st->key) == 1)
		return CAST_OK;
	ERR_clear_error();
	ok = cast_state_text(st, CAST_ST_NEXT_LABEL, label, sizeof(label)) == 0 &&
	    st->keys.get(st->keys.arg, label, 0, &next) == 0 && next != NULL &&
	    X509_check_private_key(st->station, next) == 1;
	EVP_PKEY_free(next);
	ERR_clear_error();
	if (!ok)
		return cast_fail(st, CAST_ERR_KEY,
		    "the station certificate does not certify the station key");
	cast_note(st, "completing an interrupted re-keying renewal (key %s)",
	    label);
	if ((rc = finish_rekey(st, label)) != CAST_OK)
		return rc;
	return station_key(st, 0);
}

/* ---- the link ---- */

/*
 * The link's configuration; eps[] receives the CA endpoints, each on its own
 * port from ca.conf, or all on `port` when it is nonzero (enroll_port: the
 * fronts' enrollment endpoints share one port number).
 */
static void
link_cfg(struct cast *st, struct ca_cfg *cfg, char *untrusted,
    struct ca_endpoint eps[CA_MAX_ENDPOINTS], int port)
{
	const struct caconf *c = st->conf;
	int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->server = c->server;
	cfg->port = port ? port : c->port;
	for (i = 0; i < c->nservers && i < CA_MAX_ENDPOINTS; i++) {
		eps[i].host = c->servers[i];
		eps[i].port = port ? port : c->server_ports[i];
	}
	cfg->endpoints = eps;
	cfg->n_endpoints = i;
	cfg->keep_order = cast_keep_order_point();
	cfg->path = c->path;
	cfg->plain_http = c->plain_http;
	cfg->tls_trust = c->tls_trust[0] ? c->tls_trust : NULL;
	cfg->cmp_trust = c->cmp_trust;
	cfg->timeout = c->timeout;
	cfg->keep_alive = c->keep_alive;
	cfg->tls_fresh = !c->tls_resume;
	cfg->implicit_confirm = c->implicit_confirm;
	cfg->sender = c->cmp_sender[0] ? c->cmp_sender : NULL;
	cast_path(st, "cacerts.pem", untrusted);
	if (c->untrusted[0] != '\0')
		cfg->untrusted = c->untrusted;
	else if (access(untrusted, R_OK) == 0)
		cfg->untrusted = untrusted;
}

int
cast_station_marked(struct cast *st)
{
	char why[128];

	return cast_state_text(st, CAST_ST_REVOKED, why, sizeof(why)) == 0;
}

void
cast_mark_revoked(struct cast *st, const char *why)
{
	(void)state_set_text(st, CAST_ST_REVOKED, why);
	cast_note(st, "STATION CERTIFICATE REVOKED (%s): this station stops "
	    "issuing", why);
}

/* Refuse to act for a station whose certificate is revoked or expired. */
static int
station_usable(struct cast *st)
{
	if (cast_station_marked(st))
		return cast_fail(st, CAST_ERR_REVOKED, "STATION CERTIFICATE REVOKED: "
		    "this station no longer issues or revokes certificates; "
		    "re-enroll it with a new one-time secret");
	if (X509_cmp_current_time(X509_get0_notAfter(st->station)) < 0)
		return cast_fail(st, CAST_ERR_EXPIRED, "STATION CERTIFICATE EXPIRED: "
		    "renew it before it expires or re-enroll the station");
	return CAST_OK;
}

static int
load_station(struct cast *st)
{
	char p[CAST_PATH];

	cast_path(st, "station.crt", p);
	if (st->station == NULL &&
	    (st->station = cafile_load_pem_cert(p)) == NULL)
		return cast_fail(st, CAST_ERR_NOT_ENROLLED,
		    "no station certificate (%s): run enroll-station first", p);
	return CAST_OK;
}

int
cast_station_usable(struct cast *st)
{
	int rc;

	if ((rc = load_station(st)) != CAST_OK)
		return rc;
	return station_usable(st);
}

int
cast_open_link(struct cast *st)
{
	struct ca_endpoint eps[CA_MAX_ENDPOINTS];
	char unt[CAST_PATH], was[CA_HOSTPORT];
	struct ca_cfg cfg;
	int rc;

	if (st->link != NULL)
		return CAST_OK;
	if ((rc = load_station(st)) != CAST_OK ||
	    (rc = station_usable(st)) != CAST_OK ||
	    (rc = station_key(st, 0)) != CAST_OK ||
	    (rc = key_matches_cert(st)) != CAST_OK)
		return rc;
	link_cfg(st, &cfg, unt, eps, 0);
	if ((rc = ca_link_new(&cfg, st->key, st->station, &st->link)) != CA_OK)
		return cast_fail(st, CAST_ERR_LINK, "CA link: %s", ca_strerror(rc));
	if (ca_link_endpoints(st->link) > 1 &&
	    cast_state_text(st, CAST_ST_ENDPOINT, was, sizeof(was)) == 0)
		(void)ca_link_prefer(st->link, was);	/* see station_ops.c */
	return CAST_OK;
}

int
cast_link_ready(struct cast *st)
{
	return cast_open_link(st);	/* key, certificate */
}

int
cast_link_make(const struct cast *st, struct ca_link **out)
{
	struct ca_endpoint eps[CA_MAX_ENDPOINTS];
	char unt[CAST_PATH];
	struct ca_cfg cfg;

	*out = NULL;
	if (st->link == NULL || st->key == NULL || st->station == NULL)
		return CAST_ERR_LINK;
	link_cfg((struct cast *)st, &cfg, unt, eps, 0);
	return ca_link_new(&cfg, st->key, st->station, out) == CA_OK ?
	    CAST_OK : CAST_ERR_LINK;
}

int
cast_trust_only_link(struct cast *st, struct ca_link **l)
{
	struct ca_endpoint eps[CA_MAX_ENDPOINTS];
	char unt[CAST_PATH];
	struct ca_cfg cfg;

	link_cfg(st, &cfg, unt, eps, st->conf->enroll_port);
	if (ca_link_new(&cfg, NULL, NULL, l) != CA_OK)
		return cast_fail(st, CAST_ERR_LINK, "cannot load the trust anchors");
	return CAST_OK;
}

/* ---- the station's own certificate ---- */

/* The transactionID of a station operation, journaled before it is sent. */
static int
station_txid(struct cast *st, const char *name, uint8_t txid[CA_TXID_LEN])
{
	size_t n;

	if (outbox_state_get(st->ob, name, txid, CA_TXID_LEN, &n) ==
	    OUTBOX_OK && n == CA_TXID_LEN)
		return CAST_OK;
	if (RAND_bytes(txid, CA_TXID_LEN) != 1)
		return cast_fail(st, CAST_ERR_NOMEM, "no random transactionID");
	if (outbox_state_put(st->ob, name, txid, CA_TXID_LEN) != OUTBOX_OK)
		return cast_fail(st, CAST_ERR_STATE, "cannot journal %s", name);
	return CAST_OK;
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
		rc = cafile_write_atomic(path, data, (size_t)n, 1);
	BIO_free(b);
	return rc;
}

static int
install_station_cert(struct cast *st, const struct ca_result *res,
    const char *txname, char serial[CAST_SERIAL_LEN])
{
	char p[CAST_PATH];
	X509 *x = cast_der_to_x509(res->cert, res->cert_len);

	cast_path(st, "station.crt", p);
	if (x == NULL || write_cert_pem(p, x) != 0) {
		X509_free(x);
		return cast_fail(st, CAST_ERR_STATE, "cannot store %s", p);
	}
	(void)outbox_state_del(st->ob, txname);
	(void)outbox_state_del(st->ob, CAST_ST_REVOKED);
	cast_serial_of(x, serial, CAST_SERIAL_LEN);
	X509_free(st->station);
	st->station = x;
	ca_link_free(st->link);
	st->link = NULL;
	return CAST_OK;
}

/*
 * Re-enrollment (after a revocation, say for keyCompromise) never reuses the
 * old key: a new one is made under a journaled label, as for a renewal.
 */
static int
enroll_key(struct cast *st, EVP_PKEY **key, char *label, size_t cap)
{
	char p[CAST_PATH];
	int rc;

	*key = NULL;
	label[0] = '\0';
	cast_path(st, "station.crt", p);
	if (access(p, F_OK) != 0) {
		if ((rc = station_key(st, 1)) != CAST_OK)
			return rc;
		if (!EVP_PKEY_up_ref(st->key))
			return cast_fail(st, CAST_ERR_NOMEM, "key reference");
		*key = st->key;
		return CAST_OK;
	}
	if ((rc = next_label(st, label, cap)) != CAST_OK)
		return rc;
	if ((rc = st->keys.get(st->keys.arg, label, 1, key)) != CAST_KEYS_OK ||
	    *key == NULL) {
		EVP_PKEY_free(*key);
		*key = NULL;
		if (rc == CAST_KEYS_TOKEN)
			return cast_key_fail(st, rc, label);
		return cast_fail(st, CAST_ERR_KEY,
		    "new station key for re-enrollment failed");
	}
	cast_note(st, "re-enrollment: new station key %s", label);
	return CAST_OK;
}

/* A CA error as the station's verdict: retry later, or refused for good. */
static int
ca_verdict(struct cast *st, const char *what, int rc,
    const struct ca_result *res)
{
	(void)cast_fail(st, 0, "%s: %s%s%s", what, ca_strerror(rc),
	    res->detail[0] ? ": " : "", res->detail);
	if (rc == CA_ERR_STATION_REVOKED)
		return CAST_ERR_REVOKED;
	return ca_err_retryable(rc) ? CAST_ERR_QUEUED : CAST_ERR_REFUSED;
}

int
cast_enroll_station(struct cast *st, const char *ref, const uint8_t *secret,
    size_t secret_len, const char *subject, char serial[CAST_SERIAL_LEN])
{
	uint8_t txid[CA_TXID_LEN];
	char label[CACONF_VAL];
	struct ca_link *l = NULL;
	struct ca_result res;
	EVP_PKEY *key = NULL;
	int rc;

	memset(&res, 0, sizeof(res));
	serial[0] = '\0';
	st->detail[0] = '\0';
	if (subject == NULL || subject[0] == '\0')
		subject = st->conf->subject;
	if (ref == NULL || secret == NULL || secret_len == 0 ||
	    subject[0] == '\0')
		return cast_fail(st, CAST_ERR_ARG,
		    "enroll-station needs a reference, a secret and a subject");
	if ((rc = enroll_key(st, &key, label, sizeof(label))) != CAST_OK ||
	    (rc = station_txid(st, CAST_ST_IR_TXID, txid)) != CAST_OK ||
	    (rc = cast_trust_only_link(st, &l)) != CAST_OK)
		goto out;
	rc = ca_enroll_station(l, ref, secret, secret_len, key, subject, txid,
	    &res);
	if (rc != CA_OK) {
		rc = ca_verdict(st, "station enrollment", rc, &res);
		/* A refused ir is over: the next attempt is a new transaction. */
		if (rc == CAST_ERR_REFUSED)
			(void)outbox_state_del(st->ob, CAST_ST_IR_TXID);
		goto out;
	}
	rc = install_station_cert(st, &res, CAST_ST_IR_TXID, serial);
	if (rc == CAST_OK && label[0] != '\0')
		rc = finish_rekey(st, label);
out:
	EVP_PKEY_free(key);
	ca_result_clear(&res);
	ca_link_free(l);
	return rc;
}

static int
renewal_due(struct cast *st)
{
	time_t at = time(NULL) + st->conf->renew_before;

	return X509_cmp_time(X509_get0_notAfter(st->station), &at) < 0;
}

static int
renew_with(struct cast *st, EVP_PKEY *newkey, const char *label,
    char serial[CAST_SERIAL_LEN])
{
	uint8_t txid[CA_TXID_LEN];
	struct ca_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	if ((rc = station_txid(st, CAST_ST_KUR_TXID, txid)) != CAST_OK)
		return rc;
	rc = ca_renew_station(st->link, newkey, txid, &res);
	if (rc != CA_OK) {
		rc = ca_verdict(st, "station renewal", rc, &res);
		ca_result_clear(&res);
		return rc;
	}
	/* Certificate first: a crash after it is completed by open_link. */
	rc = install_station_cert(st, &res, CAST_ST_KUR_TXID, serial);
	ca_result_clear(&res);
	cast_crash_point("renew-cert");
	if (rc == CAST_OK && label != NULL)
		rc = finish_rekey(st, label);
	return rc;
}

int
cast_renew_station(struct cast *st, int force, int same_key, int *renewed,
    char serial[CAST_SERIAL_LEN])
{
	EVP_PKEY *newkey = NULL;
	char label[CACONF_VAL];
	int rc;

	*renewed = 0;
	serial[0] = '\0';
	st->detail[0] = '\0';
	if ((rc = cast_open_link(st)) != CAST_OK)
		return rc;
	if (!renewal_due(st) && !force)
		return CAST_OK;
	*renewed = 1;
	if (same_key)
		return renew_with(st, st->key, NULL, serial);
	if ((rc = next_label(st, label, sizeof(label))) != CAST_OK)
		return rc;
	if (st->keys.get(st->keys.arg, label, 1, &newkey) != 0 ||
	    newkey == NULL)
		return cast_fail(st, CAST_ERR_KEY, "new station key %s failed",
		    label);
	cast_note(st, "new station key %s in token '%s'", label,
	    st->conf->token);
	cast_crash_point("renew-key");
	rc = renew_with(st, newkey, label, serial);
	EVP_PKEY_free(newkey);
	return rc;
}
