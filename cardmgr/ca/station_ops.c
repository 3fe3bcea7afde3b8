/*
 * station_ops: the journaled CA operations (enroll, revoke, un-hold, push),
 * the outbox executor that sends them one CMP transaction each, the CA
 * certificates, the CRL and the status report. See station.h.
 */
#include "station_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cacrl.h"
#include "cafile.h"
#include "caidm.h"

/* ---- the outbox executor: one journaled operation, one CA transaction ---- */

static enum outbox_verdict
verdict(struct cast *st, int rc, const struct ca_result *res,
    struct outbox_exec_out *out)
{
	out->err = rc;
	snprintf(out->detail, sizeof(out->detail), "%.60s%s%.190s",
	    ca_strerror(rc), res->detail[0] ? ": " : "", res->detail);
	if (rc == CA_OK)
		return OUTBOX_EXEC_DONE;
	if (rc == CA_ERR_STATION_REVOKED)
		cast_mark_revoked(st, "the CA refused our certificate");
	return ca_err_retryable(rc) ? OUTBOX_EXEC_RETRY : OUTBOX_EXEC_FAIL;
}

static void
queue_push(struct cast *st, const uint8_t *cert, size_t len)
{
	uint64_t id;

	if (st->conf->idm_url[0] != '\0' && outbox_add(st->ob, OUTBOX_PUSH, NULL,
	    0, cert, len, (uint64_t)time(NULL), &id) != OUTBOX_OK)
		cast_note(st, "could not queue the identity manager push");
}

static enum outbox_verdict
exec_push(struct cast *st, const struct outbox_op *op,
    struct outbox_exec_out *out)
{
	struct caidm_cfg ic;
	int rc;

	memset(&ic, 0, sizeof(ic));
	ic.url = st->conf->idm_url;
	ic.trust = st->conf->idm_trust[0] ? st->conf->idm_trust :
	    st->conf->tls_trust;
	ic.timeout = st->conf->timeout;
	rc = caidm_push(&ic, st->key, st->station, op->payload, op->payload_len,
	    out->detail, sizeof(out->detail));
	out->err = rc;
	if (rc == CAIDM_OK)
		return OUTBOX_EXEC_DONE;
	return rc == CAIDM_ERR_REFUSED ? OUTBOX_EXEC_FAIL : OUTBOX_EXEC_RETRY;
}

/*
 * The issued certificate goes into the operation's record, committed by the
 * drain right after this returns. If it cannot be kept (no memory), the
 * operation stays pending: the CA answers the resend under the same
 * transactionID with the same certificate, so it is delayed, never lost.
 * XXX the identity manager push is journaled here, in its own transaction,
 * just before that commit: a crash in between queues a second push of the
 * same certificate on the replay (harmless, not yet deduplicated).
 */
static enum outbox_verdict
keep_cert(struct cast *st, struct ca_result *res, struct outbox_exec_out *out)
{
	if (res->cert == NULL)
		return OUTBOX_EXEC_DONE;
	if (cast_fail_point("store") ||
	    (out->result = malloc(res->cert_len)) == NULL) {
		out->err = CA_ERR_NOMEM;
		snprintf(out->detail, sizeof(out->detail), "out of memory keeping "
		    "the issued certificate; the CA will send it again");
		return OUTBOX_EXEC_RETRY;
	}
	memcpy(out->result, res->cert, res->cert_len);
	out->result_len = res->cert_len;
	queue_push(st, res->cert, res->cert_len);
	return OUTBOX_EXEC_DONE;
}

/*
 * A certificate the CA issued under implicit confirmation and the link
 * refused (its chain or key, ca_result.refused): the CA holds it as
 * accepted and no certConf told it otherwise, so its revocation is
 * journaled (cessationOfOperation) before the enrollment is recorded as
 * failed. A crash in between resends the enrollment, and a certificate
 * refused again is revoked again: none stays valid unseen.
 */
static void
queue_refused(struct cast *st, const struct outbox_op *op,
    const struct ca_result *res)
{
	uint64_t id;

	if (res->refused == NULL)
		return;
	if (outbox_add(st->ob, OUTBOX_REVOKE, NULL,
	    CRL_REASON_CESSATION_OF_OPERATION, res->refused, res->refused_len,
	    (uint64_t)time(NULL), &id) != OUTBOX_OK)
		cast_note(st, "op %llu: cannot journal the revocation of the "
		    "certificate refused under implicit confirmation",
		    (unsigned long long)op->id);
	else
		cast_note(st, "op %llu: the refused certificate is revoked "
		    "(op %llu): the CA took it as accepted",
		    (unsigned long long)op->id, (unsigned long long)id);
}

/*
 * The endpoint that answered last is remembered in the journal, so every
 * link (the drain's, the engine's pool) and the next process start there
 * instead of rediscovering a dead front through its timeout. was[] gets
 * the remembered one ("" if none).
 */
static void
endpoint_recall(struct cast *st, struct ca_link *link, char *was, size_t cap)
{
	if (ca_link_endpoints(link) < 2 ||
	    cast_state_text(st, CAST_ST_ENDPOINT, was, cap) != 0)
		was[0] = '\0';
	else
		(void)ca_link_prefer(link, was);
}

/* Remember res's endpoint when the CA answered there and it is news. */
static void
endpoint_keep(struct cast *st, struct ca_link *link, int rc,
    const struct ca_result *res, const char *was)
{
	if (ca_link_endpoints(link) < 2 || !ca_answered(rc) ||
	    res->endpoint[0] == '\0' || strcmp(res->endpoint, was) == 0)
		return;
	if (outbox_state_put(st->ob, CAST_ST_ENDPOINT, res->endpoint,
	    strlen(res->endpoint)) != OUTBOX_OK)
		cast_note(st, "cannot remember CA endpoint %s", res->endpoint);
}

/* One operation over link (NULL: none, for the reason link_err). */
static enum outbox_verdict
exec_with(struct cast *st, struct ca_link *link, int link_err,
    const struct outbox_op *op, struct outbox_exec_out *out)
{
	char was[CA_HOSTPORT];
	struct ca_result res;
	enum outbox_verdict v;
	int rc;

	if (link == NULL) {
		out->err = link_err == CAST_ERR_REVOKED ||
		    link_err == CAST_ERR_EXPIRED ? CA_ERR_STATION_REVOKED :
		    CA_ERR_ARG;
		snprintf(out->detail, sizeof(out->detail), "not sent: %s",
		    out->err == CA_ERR_STATION_REVOKED ? "station certificate "
		    "revoked or expired" : "no CA link (configuration, station "
		    "key or certificate)");
		return OUTBOX_EXEC_RETRY;
	}
	cast_crash_point("send");	/* journaled, nothing sent */
	cast_pause_point();
	if (op->type == OUTBOX_PUSH)
		return exec_push(st, op, out);
	endpoint_recall(st, link, was, sizeof(was));
	if (op->type == OUTBOX_ENROLL)
		rc = ca_enroll_p10(link, op->payload, op->payload_len,
		    op->profile, op->txid, &res);
	else
		rc = ca_revoke(link, op->payload, op->payload_len, op->reason,
		    op->txid, &res);
	cast_crash_point("answered");	/* the CA acted, nothing recorded */
	endpoint_keep(st, link, rc, &res, was);
	if (res.failovers > 0)
		cast_note(st, "op %llu: failed over to CA endpoint %s (%s)",
		    (unsigned long long)op->id, res.endpoint, res.failed);
	queue_refused(st, op, &res);
	v = verdict(st, rc, &res, out);
	if (v == OUTBOX_EXEC_DONE)
		v = keep_cert(st, &res, out);
	ca_result_clear(&res);
	return v;
}

/* The drain's executor: the station's own link. */
static enum outbox_verdict
exec_op(void *arg, const struct outbox_op *op, struct outbox_exec_out *out)
{
	struct cast *st = arg;

	return exec_with(st, st->link, st->link_err, op, out);
}

struct send_arg {
	struct cast *st;
	struct ca_link *link;
};

/* cast_send's executor: the caller's link. */
static enum outbox_verdict
exec_sent(void *arg, const struct outbox_op *op, struct outbox_exec_out *out)
{
	struct send_arg *a = arg;

	return exec_with(a->st, a->link, CAST_OK, op, out);
}

/* ---- the wide pass: enrollments over several links at once ---- */

#define WIDE_ROUND 65536	/* ids collected per round (512 KiB) */

struct wide {
	struct cast *st;
	uint64_t now;
	uint64_t *ids;		/* pending enrollments due now, id order */
	size_t n, next, cap;
	int stop;		/* a transient failure: the CA is away */
	pthread_mutex_t mu;
	struct outbox_drain_stats sum;
};

struct wide_worker {
	struct wide *w;
	struct ca_link *link;
	pthread_t th;
};

static int
wide_collect(const struct outbox_op *op, void *arg)
{
	struct wide *w = arg;

	if (op->type != OUTBOX_ENROLL || op->next_try > w->now)
		return 0;
	if (w->n == w->cap)
		return 1;
	w->ids[w->n++] = op->id;
	return 0;
}

static void *
wide_run(void *arg)
{
	struct wide_worker *k = arg;
	struct wide *w = k->w;
	struct send_arg a = { w->st, k->link };
	struct outbox_drain_stats ds;
	uint64_t id;
	int rc;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		if (w->stop || w->next == w->n) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		id = w->ids[w->next++];
		pthread_mutex_unlock(&w->mu);
		rc = outbox_exec_one(w->st->ob, id, w->now, exec_sent, &a, &ds);
		pthread_mutex_lock(&w->mu);
		w->sum.done += ds.done;
		w->sum.failed += ds.failed;
		w->sum.retried += ds.retried;
		w->sum.quarantined += ds.quarantined;
		if (ds.retried > 0 || rc != OUTBOX_OK)
			w->stop = 1;
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/*
 * Rounds of: collect the pending enrollments due now (at most max in all),
 * hand them to one thread per link. Under the drain's exclusive lock, each
 * id is taken from the list once, so no operation goes out twice. 0, or an
 * OUTBOX_ERR_* of the journal.
 */
static int
wide_pass(struct cast *st, struct ca_link *const *links, int nlinks,
    unsigned max, struct outbox_drain_stats *stats)
{
	struct wide_worker k[CAST_WIDE_MAX];
	struct wide w;
	int i, started, rc = OUTBOX_OK;

	memset(&w, 0, sizeof(w));
	w.st = st;
	w.now = (uint64_t)time(NULL);
	w.cap = max > 0 && max < WIDE_ROUND ? max : WIDE_ROUND;
	if ((w.ids = calloc(w.cap, sizeof(*w.ids))) == NULL)
		return OUTBOX_ERR_NOMEM;
	pthread_mutex_init(&w.mu, NULL);
	while (!w.stop) {
		w.n = w.next = 0;
		rc = outbox_foreach(st->ob, 1, wide_collect, &w);
		if (rc == 1)
			rc = OUTBOX_OK;	/* the round is full */
		if (rc != OUTBOX_OK || w.n == 0)
			break;
		for (i = started = 0; i < nlinks; i++) {
			k[i].w = &w;
			k[i].link = links[i];
			if (pthread_create(&k[i].th, NULL, wide_run, &k[i]) != 0)
				break;
			started++;
		}
		if (started == 0)
			(void)wide_run(&k[0]);	/* no thread: this one */
		for (i = 0; i < started; i++)
			pthread_join(k[i].th, NULL);
		if (max > 0 && w.sum.done + w.sum.failed + w.sum.retried >= max)
			break;
	}
	stats->done += w.sum.done;
	stats->failed += w.sum.failed;
	stats->retried += w.sum.retried;
	stats->quarantined += w.sum.quarantined;
	pthread_mutex_destroy(&w.mu);
	free(w.ids);
	return rc;
}

int
cast_drain(struct cast *st, int force, unsigned max,
    struct outbox_drain_stats *stats)
{
	return cast_drain_wide(st, NULL, 0, force, max, stats);
}

int
cast_drain_wide(struct cast *st, struct ca_link *const *links, int nlinks,
    int force, unsigned max, struct outbox_drain_stats *stats)
{
	struct outbox_drain_stats wide;
	struct outbox_counts c;
	char p[CAST_PATH];
	unsigned sent;
	int rc, fd;

	/*
	 * One drain at a time: two would send the same operation twice (the
	 * CA sees a replay, harmless, but the order would be lost). The lock
	 * dies with the process, kill -9 included.
	 */
	memset(stats, 0, sizeof(*stats));
	memset(&wide, 0, sizeof(wide));
	st->detail[0] = '\0';
	if (nlinks < 0 || nlinks > CAST_WIDE_MAX || (nlinks > 0 && links == NULL))
		return cast_fail(st, CAST_ERR_ARG, "drain: bad links");
	cast_path(st, "drain.lock", p);
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return cast_fail(st, CAST_ERR_STATE, "cannot open %s", p);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return cast_fail(st, CAST_ERR_BUSY, "another drain is running; "
		    "the work stays journaled");
	}
	/*
	 * The link (and with it the token login) only when there is work: a
	 * login rewrites SoftHSM2's token file, so an idle drain must not. A
	 * damaged token stops the drain before it touches the journal: every
	 * operation stays as it was, nothing is counted as an attempt.
	 */
	if ((rc = outbox_count(st->ob, &c)) != OUTBOX_OK) {
		close(fd);
		return cast_fail(st, CAST_ERR_STATE, "drain: %s",
		    outbox_strerror(rc));
	}
	st->link_err = c.pending > 0 ? cast_open_link(st) : CAST_ERR_LINK;
	if (st->link_err == CAST_ERR_TOKEN) {
		close(fd);
		stats->remaining = c.pending;
		return CAST_ERR_TOKEN;	/* detail from cast_open_link */
	}
	/*
	 * Enrollments depend on nothing queued before them: with the caller's
	 * links they go out side by side first. Revocations, holds and
	 * releases of one certificate must reach the CA in their order: the
	 * serial pass below sends them, oldest first.
	 */
	rc = OUTBOX_OK;
	if (nlinks > 0 && st->link != NULL && c.pending > 1)
		rc = wide_pass(st, links, nlinks, max, &wide);
	/*
	 * The serial pass runs even after a transient failure in the wide
	 * one (an enrollment the CA's front keeps failing must not starve a
	 * revocation); it stops at its own first failure.
	 */
	sent = wide.done + wide.failed + wide.retried;
	if (rc == OUTBOX_OK && (max == 0 || sent < max))
		rc = outbox_drain(st->ob, (uint64_t)time(NULL), force,
		    max ? max - sent : 0, exec_op, st, stats);
	else if (outbox_count(st->ob, &c) == OUTBOX_OK)
		stats->remaining = c.pending;
	close(fd);
	stats->done += wide.done;
	stats->failed += wide.failed;
	stats->retried += wide.retried;
	stats->quarantined += wide.quarantined;
	if (rc != OUTBOX_OK)
		return cast_fail(st, CAST_ERR_STATE, "drain: %s",
		    outbox_strerror(rc));
	if (stats->quarantined > 0)
		cast_note(st, "%u unreadable outbox record(s) moved to the "
		    "quarantine", stats->quarantined);
	return CAST_OK;
}

/* The outcome of operation id as an error code, its text in detail. */
static int
op_outcome(struct cast *st, uint64_t id)
{
	struct outbox_op op;
	int rc;

	if (outbox_get(st->ob, id, &op) != OUTBOX_OK)
		return cast_fail(st, CAST_ERR_STATE, "op %llu unreadable",
		    (unsigned long long)id);
	if (op.state == OUTBOX_DONE)
		rc = CAST_OK;
	else if (op.state == OUTBOX_FAILED)
		rc = cast_fail(st, CAST_ERR_REFUSED, "%s", op.detail);
	else if (st->link_err == CAST_ERR_REVOKED || cast_station_marked(st))
		rc = cast_fail(st, CAST_ERR_REVOKED, "%s", op.detail[0] ?
		    op.detail : "STATION CERTIFICATE REVOKED");
	else if (st->link_err == CAST_ERR_EXPIRED)
		rc = CAST_ERR_EXPIRED;	/* detail from open_link */
	else
		rc = cast_fail(st, CAST_ERR_QUEUED, "%s", op.detail[0] ?
		    op.detail : "not sent yet");
	outbox_op_clear(&op);
	return rc;
}

int
cast_submit(struct cast *st, enum outbox_type type, const char *profile,
    int reason, const uint8_t *payload, size_t len, int queue_only,
    uint64_t *id)
{
	struct outbox_drain_stats ds;
	int rc;

	st->detail[0] = '\0';
	rc = outbox_add(st->ob, type, profile, reason, payload, len,
	    (uint64_t)time(NULL), id);
	if (rc != OUTBOX_OK)
		return cast_fail(st, rc == OUTBOX_ERR_ARG ? CAST_ERR_ARG :
		    CAST_ERR_STATE, "journal: %s", outbox_strerror(rc));
	if (queue_only)
		return CAST_ERR_QUEUED;
	rc = cast_drain(st, 1, 0, &ds);
	if (rc != CAST_OK && rc != CAST_ERR_BUSY)
		return rc;
	return op_outcome(st, *id);	/* busy: still journaled, pending */
}

int
cast_send(struct cast *st, struct ca_link *link, uint64_t id, char *detail,
    size_t cap)
{
	struct outbox_drain_stats ds;
	struct send_arg a = { st, link };
	struct outbox_op op;
	char p[CAST_PATH];
	int rc, fd;

	snprintf(detail, cap, "not sent yet");
	if (link == NULL)
		return CAST_ERR_ARG;
	cast_path(st, "drain.lock", p);
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(detail, cap, "cannot open %s", p);
		return CAST_ERR_STATE;
	}
	/* Shared with other senders; a drain (exclusive) ends first. */
	while ((rc = flock(fd, LOCK_SH)) != 0 && errno == EINTR)
		;
	if (rc == 0)
		rc = outbox_exec_one(st->ob, id, (uint64_t)time(NULL), exec_sent,
		    &a, &ds);
	else
		rc = OUTBOX_ERR_DB;
	close(fd);
	if (rc != OUTBOX_OK) {
		snprintf(detail, cap, "journal: %s", outbox_strerror(rc));
		return CAST_ERR_STATE;
	}
	if (outbox_get(st->ob, id, &op) != OUTBOX_OK) {
		snprintf(detail, cap, "op %llu unreadable",
		    (unsigned long long)id);
		return CAST_ERR_STATE;
	}
	if (op.state == OUTBOX_DONE)
		rc = CAST_OK;
	else
		rc = op.state == OUTBOX_FAILED ? CAST_ERR_REFUSED :
		    CAST_ERR_QUEUED;
	if (rc != CAST_OK)
		snprintf(detail, cap, "%s", op.detail[0] ? op.detail :
		    "not sent yet");
	outbox_op_clear(&op);
	return rc;
}

/* ---- renewal of a card certificate: a new p10cr under the same profile ---- */

struct issued_by_us {
	const uint8_t *der;
	size_t len;
	char *profile;
};

static int
match_issued(const struct outbox_op *op, void *arg)
{
	struct issued_by_us *w = arg;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    op->result_len != w->len || memcmp(op->result, w->der, w->len) != 0)
		return 0;
	snprintf(w->profile, OUTBOX_PROFILE_MAX + 1, "%s", op->profile);
	return 1;	/* found: stop */
}

static int
same_subject(const uint8_t *csr, size_t clen, const uint8_t *cert, size_t len)
{
	const unsigned char *p = csr;
	X509_REQ *r = clen > 0 && clen < 65536 ?
	    d2i_X509_REQ(NULL, &p, (long)clen) : NULL;
	X509 *x = cast_der_to_x509(cert, len);
	int ok = r != NULL && x != NULL && X509_NAME_cmp(
	    X509_REQ_get_subject_name(r), X509_get_subject_name(x)) == 0;

	X509_REQ_free(r);
	X509_free(x);
	return ok;
}

int
cast_renew_profile(struct cast *st, const uint8_t *old, size_t olen,
    const uint8_t *csr, size_t clen, char *profile)
{
	struct issued_by_us w;

	st->detail[0] = '\0';
	if (!same_subject(csr, clen, old, olen))
		return cast_fail(st, CAST_ERR_ARG, "the CSR's subject differs "
		    "from the certificate it renews");
	if (profile[0] != '\0')
		return CAST_OK;		/* the caller chose it */
	w.der = old;
	w.len = olen;
	w.profile = profile;
	if (outbox_foreach(st->ob, 0, match_issued, &w) != 1)
		return cast_fail(st, CAST_ERR_ARG, "the certificate was not "
		    "issued by this station: give the profile");
	return CAST_OK;
}

/* ---- CA certificates ---- */

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
		rc = cafile_write_atomic(path, data, (size_t)n, 1);
	BIO_free(b);
	return rc;
}

int
cast_cacerts(struct cast *st, STACK_OF(X509) **certs)
{
	struct ca_result res;
	char p[CAST_PATH];
	int rc;

	*certs = NULL;
	st->detail[0] = '\0';
	if ((rc = cast_open_link(st)) != CAST_OK)
		return rc;
	if ((rc = ca_get_cacerts(st->link, certs, &res)) != CA_OK) {
		rc = cast_fail(st, ca_err_retryable(rc) ? CAST_ERR_QUEUED :
		    CAST_ERR_REFUSED, "genm caCerts: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		ca_result_clear(&res);
		return rc;
	}
	ca_result_clear(&res);
	cast_path(st, "cacerts.pem", p);
	if (write_certs_pem(p, *certs) != 0)
		return cast_fail(st, CAST_ERR_STATE, "cannot save %s", p);
	return CAST_OK;
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
	ERR_clear_error();
	return found ? 0 : -1;
}

/* Candidates for the CRL signer: the configured and the genm'd CA certs. */
static STACK_OF(X509) *
ca_candidates(struct cast *st)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char p[CAST_PATH];
	const char *files[2];
	X509 *x;
	BIO *b;
	int i;

	cast_path(st, "cacerts.pem", p);
	files[0] = st->conf->untrusted[0] ? st->conf->untrusted : NULL;
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
crl_url(struct cast *st, char *url, size_t cap)
{
	char p[CAST_PATH];
	X509 *x;

	snprintf(url, cap, "%s", st->conf->crl_url);
	cast_path(st, "station.crt", p);
	if (url[0] == '\0' && (x = cafile_load_pem_cert(p)) != NULL) {
		(void)cdp_url(x, url, cap);
		X509_free(x);
	}
	if (url[0] == '\0')
		return cast_fail(st, CAST_ERR_CRL, "no crl_url configured and no "
		    "CDP in the station certificate");
	return CAST_OK;
}

static int
fetch_verified(struct cast *st, X509_CRL **crl)
{
	char url[CACONF_VAL], why[256], p[CAST_PATH];
	STACK_OF(X509) *cands = NULL;
	struct ca_link *l = NULL;
	X509 *x;
	int rc;

	if ((rc = crl_url(st, url, sizeof(url))) != CAST_OK ||
	    (rc = cast_trust_only_link(st, &l)) != CAST_OK)
		goto out;
	if ((rc = cacrl_fetch(url, st->conf->timeout, crl)) != CACRL_OK) {
		rc = cast_fail(st, CAST_ERR_CRL, "CRL %s: %s", url,
		    cacrl_strerror(rc));
		goto out;
	}
	cands = ca_candidates(st);
	cast_path(st, "station.crt", p);
	x = cafile_load_pem_cert(p);
	rc = cacrl_verify(*crl, x, cands, ca_trust_store(l), time(NULL), why,
	    sizeof(why));
	X509_free(x);
	if (rc != CACRL_OK) {
		rc = cast_fail(st, CAST_ERR_CRL, "CRL %s REJECTED: %s: %s", url,
		    cacrl_strerror(rc), why);
		X509_CRL_free(*crl);
		*crl = NULL;
	}
out:
	ca_link_free(l);
	sk_X509_pop_free(cands, X509_free);
	return rc;
}

static const char *
reason_name(int r)
{
	switch (r) {
	case CRL_REASON_UNSPECIFIED:		return "unspecified";
	case CRL_REASON_KEY_COMPROMISE:		return "keyCompromise";
	case CRL_REASON_CA_COMPROMISE:		return "cACompromise";
	case CRL_REASON_AFFILIATION_CHANGED:	return "affiliationChanged";
	case CRL_REASON_SUPERSEDED:		return "superseded";
	case CRL_REASON_CESSATION_OF_OPERATION:	return "cessationOfOperation";
	case CRL_REASON_CERTIFICATE_HOLD:	return "certificateHold";
	case CRL_REASON_REMOVE_FROM_CRL:	return "removeFromCRL";
	default:				return "unknown";
	}
}

static int
check_own_cert(struct cast *st, X509_CRL *crl)
{
	char p[CAST_PATH], why[128];
	X509 *x;
	int reason, rc = CAST_OK;

	cast_path(st, "station.crt", p);
	if ((x = cafile_load_pem_cert(p)) == NULL)
		return CAST_OK;
	if (cacrl_lookup(crl, x, &reason)) {
		snprintf(why, sizeof(why), "on the CA's CRL, reason %s",
		    reason_name(reason));
		cast_mark_revoked(st, why);
		rc = cast_fail(st, CAST_ERR_REVOKED, "STATION CERTIFICATE REVOKED "
		    "(%s)", why);
	}
	X509_free(x);
	return rc;
}

int
cast_crl_update(struct cast *st, X509_CRL **crl)
{
	char p[CAST_PATH];
	int rc;

	*crl = NULL;
	st->detail[0] = '\0';
	if ((rc = fetch_verified(st, crl)) != CAST_OK)
		return rc;
	cast_path(st, "crl.der", p);
	if ((rc = cacrl_store(p, *crl)) != CACRL_OK) {
		X509_CRL_free(*crl);
		*crl = NULL;
		return cast_fail(st, CAST_ERR_CRL, "CRL cache: %s",
		    cacrl_strerror(rc));
	}
	return check_own_cert(st, *crl);
}

/* ---- status ---- */

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

static void
cert_state(X509_CRL *crl, X509 *x, int *state, int *reason)
{
	*reason = -1;
	if (crl == NULL)
		*state = CAST_CERT_UNKNOWN;
	else if (!cacrl_lookup(crl, x, reason))
		*state = CAST_CERT_GOOD;
	else
		*state = *reason == CRL_REASON_CERTIFICATE_HOLD ? CAST_CERT_HOLD :
		    CAST_CERT_REVOKED;
}

struct status_walk {
	struct cast_status *s;
	X509_CRL *crl;
	size_t cap;
};

static int
status_one(const struct outbox_op *op, void *arg)
{
	struct status_walk *w = arg;
	struct cast_cert_status *c, *n;
	X509 *x;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    (x = cast_der_to_x509(op->result, op->result_len)) == NULL)
		return 0;
	if (w->s->ncerts == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 16;
		if ((n = reallocarray(w->s->certs, w->cap, sizeof(*n))) == NULL) {
			X509_free(x);
			return OUTBOX_ERR_NOMEM;
		}
		w->s->certs = n;
	}
	c = &w->s->certs[w->s->ncerts++];
	memset(c, 0, sizeof(*c));
	cast_serial_of(x, c->serial, sizeof(c->serial));
	X509_NAME_oneline(X509_get_subject_name(x), c->subject,
	    sizeof(c->subject));
	snprintf(c->profile, sizeof(c->profile), "%s", op->profile);
	cert_state(w->crl, x, &c->state, &c->reason);
	X509_free(x);
	return 0;
}

static void
status_station(struct cast *st, struct cast_status *s, X509_CRL *crl)
{
	char p[CAST_PATH];
	time_t due = time(NULL) + st->conf->renew_before;
	X509 *x;

	cast_path(st, "station.crt", p);
	s->revoked_marker = cast_state_text(st, CAST_ST_REVOKED, s->revoked_why,
	    sizeof(s->revoked_why)) == 0;
	if ((x = cafile_load_pem_cert(p)) == NULL)
		return;
	s->enrolled = 1;
	cast_serial_of(x, s->serial, sizeof(s->serial));
	s->not_after = asn1_time(X509_get0_notAfter(x));
	s->expired = X509_cmp_current_time(X509_get0_notAfter(x)) < 0;
	s->renewal_due = X509_cmp_time(X509_get0_notAfter(x), &due) < 0;
	cert_state(crl, x, &s->state, &s->reason);
	X509_free(x);
}

/* The token, looked at without a login; what to do if it is not whole. */
static void
status_token(struct cast *st, struct cast_status *s)
{
	char label[CACONF_VAL];
	int krc;

	if (st->keys.check == NULL)
		return;
	cast_key_label(st, label, sizeof(label));
	krc = st->keys.check(st->keys.arg, label);
	if (krc == CAST_KEYS_OK || (krc == CAST_KEYS_NOKEY && !s->enrolled)) {
		s->token = CAST_TOKEN_OK;
		return;
	}
	if (krc != CAST_KEYS_TOKEN && krc != CAST_KEYS_NOKEY)
		return;		/* unknown: the module would not even load */
	s->token = krc == CAST_KEYS_TOKEN ? CAST_TOKEN_DAMAGED :
	    CAST_TOKEN_NOKEY;
	(void)cast_key_fail(st, krc, label);
	snprintf(s->token_why, sizeof(s->token_why), "%s", st->detail);
	st->detail[0] = '\0';
}

int
cast_status(struct cast *st, struct cast_status *s)
{
	struct status_walk w;
	X509_CRL *crl = NULL;
	char p[CAST_PATH];
	int rc;

	memset(s, 0, sizeof(*s));
	st->detail[0] = '\0';
	cast_path(st, "crl.der", p);
	(void)cacrl_load(p, &crl);
	status_station(st, s, crl);
	status_token(st, s);
	if (cast_state_text(st, CAST_ST_ENDPOINT, s->endpoint,
	    sizeof(s->endpoint)) != 0)
		s->endpoint[0] = '\0';
	if (crl != NULL) {
		s->have_crl = 1;
		s->crl_entries = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		if (s->crl_entries < 0)
			s->crl_entries = 0;
		s->crl_last = asn1_time(X509_CRL_get0_lastUpdate(crl));
		s->crl_next = asn1_time(X509_CRL_get0_nextUpdate(crl));
		s->crl_stale = cacrl_stale(crl, time(NULL));
	}
	w.s = s;
	w.crl = crl;
	w.cap = 0;
	rc = outbox_count(st->ob, &s->counts);
	if (rc == OUTBOX_OK)
		rc = outbox_foreach(st->ob, 0, status_one, &w);
	X509_CRL_free(crl);
	if (rc != OUTBOX_OK) {
		cast_status_clear(s);
		return cast_fail(st, rc == OUTBOX_ERR_NOMEM ? CAST_ERR_NOMEM :
		    CAST_ERR_STATE, "outbox: %s", outbox_strerror(rc));
	}
	return CAST_OK;
}

void
cast_status_clear(struct cast_status *s)
{
	if (s == NULL)
		return;
	free(s->certs);
	memset(s, 0, sizeof(*s));
}
