/*
 * transition: a card moves from one lifecycle state to another
 * (lifecycle.conf, policy/lifecycle.h) and its certificates follow at the
 * CA: revoked, held (certificateHold) or released (removeFromCRL).
 *
 * A state change and its CA effect never drift apart. In one LMDB write
 * transaction the card takes its new state, every certificate concerned
 * a pending status (PENDING_REVOKE, _HOLD, _UNHOLD) with one outbox
 * request each, and pending_ca counts the card's certificates still
 * pending. The outbox drains in order; eng_ca_reconcile folds what the CA
 * confirmed back into the inventory, so a card shows its CA work pending
 * until the CA has answered, across restarts.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "proc/log.h"

#define CRL_HOLD 6
#define CRL_REMOVE 8
/* How far eng_ca_reconcile has folded the outbox (op id, be64). */
#define FOLD_KEY "eng.ca_folded"

int
eng_cert_pending(int status)
{
	return status == INV_CERT_PENDING_REVOKE ||
	    status == INV_CERT_PENDING_HOLD || status == INV_CERT_PENDING_UNHOLD;
}

/* ---- who may: the lifecycle, then the profile ---------------------------- */

const struct lc_transition *
eng_transition_for(struct engine *e, const char *key, const char *name,
    enum prof_op pop, const struct actor *a, struct inv_card *c,
    const struct prof **p, struct eng_refusal *r)
{
	struct inv_txn *t = NULL;
	int rc;

	*p = NULL;
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = eng_find_card(t, key, c);
	inv_abort(t);
	if (rc != INV_OK) {
		r->status = 404;
		r->code = "not_found";
		snprintf(r->why, sizeof(r->why), "the station does not know "
		    "this card");
		return NULL;
	}
	*p = prof_find(e->profiles, c->profile);
	return eng_transition_allowed(e, c, name, *p, pop, a, r);
}

const struct lc_transition *
eng_transition_allowed(struct engine *e, const struct inv_card *c,
    const char *name, const struct prof *p, enum prof_op pop,
    const struct actor *a, struct eng_refusal *r)
{
	const struct lc_transition *t = lc_find(e->lc, name);

	r->status = 409;
	r->code = "card_state";
	if (t == NULL || t->roles == 0) {
		r->code = "no_transition";
		snprintf(r->why, sizeof(r->why), "the lifecycle has no "
		    "transition %s an operator may ask for", name);
		return NULL;
	}
	if (!lc_from(t, c->state)) {
		snprintf(r->why, sizeof(r->why), "the lifecycle does not allow "
		    "%s from state %s", name, inv_card_state_name(c->state));
		return NULL;
	}
	if (p == NULL) {
		r->code = "no_profile";
		snprintf(r->why, sizeof(r->why), "the card's profile is no "
		    "longer configured");
		return NULL;
	}
	if (!lc_allows(t, a->roles) || !prof_allows(p, pop, a->roles)) {
		r->status = 403;
		r->code = "forbidden";
		snprintf(r->why, sizeof(r->why), "%s does not let your roles "
		    "run %s", !lc_allows(t, a->roles) ? "the lifecycle" :
		    "the card's profile", name);
		return NULL;
	}
	return t;
}

/* ---- the record: state, CA work, history in one transaction -------------- */

struct effect_ctx {
	struct inv_txn *t;
	struct outbox *ob;
	enum lc_effect effect;
	int reason;
	uint16_t queued;
	uint64_t now;
	int rc;
};

/* The pending status a certificate takes, or -1 if the effect skips it. */
static int
pending_for(enum lc_effect effect, int status)
{
	switch (effect) {
	case LC_EFFECT_REVOKE:
		return status == INV_CERT_REVOKED ? -1 : INV_CERT_PENDING_REVOKE;
	case LC_EFFECT_HOLD:
		/* Never a revoked one; a hold already asked for stands. */
		return status == INV_CERT_VALID ||
		    status == INV_CERT_PENDING_UNHOLD ? INV_CERT_PENDING_HOLD : -1;
	case LC_EFFECT_UNHOLD:
		return status == INV_CERT_HOLD ||
		    status == INV_CERT_PENDING_HOLD ? INV_CERT_PENDING_UNHOLD : -1;
	default:
		return -1;
	}
}

static int
queue_one(const struct inv_cert *c, void *arg)
{
	struct effect_ctx *x = arg;
	struct inv_cert u;
	uint64_t obid;
	int st = pending_for(x->effect, c->status);

	if (st < 0)
		return 0;
	if (x->ob == NULL || outbox_add_txn(x->ob, inv_txn_mdb(x->t),
	    OUTBOX_REVOKE, NULL, x->reason, c->der, c->der_len, x->now,
	    &obid) != OUTBOX_OK) {
		x->rc = INV_ERR_DB;
		return -1;
	}
	u = *c;
	u.status = (uint8_t)st;
	u.reason = (uint8_t)x->reason;
	if ((x->rc = inv_cert_put(x->t, &u, INV_PUT_UPDATE)) != INV_OK)
		return -1;
	x->queued++;
	return 0;
}

int
eng_queue_cert_revoke(struct engine *e, struct inv_txn *t,
    const struct inv_cert *c, int reason)
{
	struct inv_cert u;
	uint64_t obid;

	if (e->cast == NULL || outbox_add_txn(cast_outbox(e->cast),
	    inv_txn_mdb(t), OUTBOX_REVOKE, NULL, reason, c->der, c->der_len,
	    (uint64_t)time(NULL), &obid) != OUTBOX_OK)
		return INV_ERR_DB;
	u = *c;
	u.status = INV_CERT_PENDING_REVOKE;
	u.reason = (uint8_t)reason;
	return inv_cert_put(t, &u, 0);
}

int
eng_queue_effect(struct engine *e, struct inv_txn *t, const uint8_t guid[16],
    enum lc_effect effect, int reason, uint16_t *queued)
{
	struct effect_ctx x = { t, e->cast != NULL ? cast_outbox(e->cast) :
	    NULL, effect, reason, 0, (uint64_t)time(NULL), INV_OK };
	int rc;

	*queued = 0;
	if (effect == LC_EFFECT_NONE)
		return INV_OK;
	rc = inv_certs_of_card(t, guid, queue_one, &x);
	*queued = x.queued;
	return rc != INV_OK ? rc : x.rc;
}

int
eng_queue_revocations(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], int reason, uint16_t *queued)
{
	return eng_queue_effect(e, t, guid, LC_EFFECT_REVOKE, reason, queued);
}

static int
count_pending(const struct inv_cert *c, void *arg)
{
	if (eng_cert_pending(c->status))
		(*(unsigned *)arg)++;
	return 0;
}

int
eng_card_pending(struct inv_txn *t, const uint8_t guid[16], uint16_t *n)
{
	unsigned k = 0;
	int rc = inv_certs_of_card(t, guid, count_pending, &k);

	*n = (uint16_t)(k > UINT16_MAX ? UINT16_MAX : k);
	return rc;
}

int
eng_transition_in(struct engine *e, struct inv_txn *t, struct inv_card *c,
    const struct lc_transition *tr, int reason, const char *actor,
    const char *detail)
{
	struct inv_event ev;
	struct inv_card now_c;
	uint64_t now = (uint64_t)time(NULL);
	uint16_t queued;
	int rc;

	/* Checked again under the write lock: another operation may have
	 * moved the card since the caller read it. */
	if ((rc = inv_card_get(t, c->guid, &now_c)) != INV_OK)
		goto fail;
	if (!lc_from(tr, now_c.state)) {
		rc = INV_ERR_EXISTS;
		*c = now_c;
		goto fail;
	}
	*c = now_c;
	if ((rc = eng_queue_effect(e, t, c->guid, tr->effect, reason,
	    &queued)) != INV_OK ||
	    (rc = eng_card_pending(t, c->guid, &c->pending_ca)) != INV_OK)
		goto fail;
	c->state = (uint8_t)tr->to;
	c->updated = now;
	if ((rc = inv_card_put(t, c, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, c->guid, 16);
	ev.time = now;
	eng_copy(ev.name, sizeof(ev.name), tr->name);
	eng_copy(ev.actor, sizeof(ev.actor), actor);
	snprintf(ev.detail, sizeof(ev.detail), "%.700s; %s -> %s; %u CA "
	    "request(s) queued (%s%s%s)", detail,
	    inv_card_state_name(now_c.state), inv_card_state_name(tr->to),
	    queued, lc_effect_name(tr->effect), reason >= 0 ? " " : "",
	    reason >= 0 ? prof_reason_name(reason) : "");
	rc = inv_event_append(t, &ev, &ev.seq);
fail:
	return rc;
}

int
eng_transition_record(struct engine *e, struct inv_card *c,
    const struct lc_transition *tr, int reason, const char *actor,
    const char *detail)
{
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = eng_transition_in(e, t, c, tr, reason, actor, detail)) !=
	    INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}

/* ---- reconcile: what the CA confirmed, into the inventory ---------------- */

/*
 * One request since the last fold, as small as the fold needs (a backlog
 * of millions after a long CA outage is read at once): a digest of the
 * certificate to find the last request about it, its serial once finished
 * (pending ones are not folded), and the CA's text only for a refusal.
 */
struct seen_op {
	uint64_t id;
	uint8_t type, state, reason;
	uint8_t later;		/* a later request about the same certificate */
	uint8_t h[SHA256_DIGEST_LENGTH];	/* revocations: SHA-256 of the DER */
	char serial[INV_CERT_SERIAL_MAX + 1];	/* finished revocations; "" no */
	char *detail;		/* OUTBOX_FAILED only */
};

struct seen {
	struct seen_op *v;
	size_t n, cap;
	int oom;
};

/* The inventory's key of a certificate: its serial in lower-case hex. */
static int
der_serial(const uint8_t *der, size_t len, char out[INV_CERT_SERIAL_MAX + 1])
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	int rc = x != NULL && p == der + len ?
	    eng_serial_hex(X509_get0_serialNumber(x), out) : -1;

	X509_free(x);
	return rc;
}

static int
collect_op(const struct outbox_op *op, void *arg)
{
	struct seen *s = arg;
	struct seen_op *o;

	if (s->n == 0 && op->state == OUTBOX_PENDING)
		return 1;	/* nothing finished since the last fold */
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		struct seen_op *nv = realloc(s->v, nc * sizeof(*nv));

		if (nv == NULL)
			goto oom;
		s->v = nv;
		s->cap = nc;
	}
	o = &s->v[s->n];
	memset(o, 0, sizeof(*o));
	o->id = op->id;
	o->type = op->type;
	o->state = op->state;
	o->reason = op->reason;
	if (op->state == OUTBOX_FAILED && (o->detail = strdup(op->detail)) ==
	    NULL)
		goto oom;
	s->n++;
	if (op->type != OUTBOX_REVOKE)
		return 0;
	SHA256(op->payload, op->payload_len, o->h);
	if (op->state != OUTBOX_PENDING &&
	    der_serial(op->payload, op->payload_len, o->serial) != 0)
		o->serial[0] = '\0';	/* not a certificate we could have sent */
	return 0;
oom:
	s->oom = 1;
	return -1;
}

static void
seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].detail);
	free(s->v);
}

static int
by_cert_then_id(const void *a, const void *b)
{
	const struct seen_op *x = *(const struct seen_op *const *)a;
	const struct seen_op *y = *(const struct seen_op *const *)b;
	int c = memcmp(x->h, y->h, sizeof(x->h));

	return c != 0 ? c : x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Only the last request about a certificate decides its status: mark the
 * others (later = 1), sorted by certificate then id, O(n log n).
 */
static int
mark_later(struct seen *s)
{
	struct seen_op **r;
	size_t n = 0;

	if (s->n == 0)
		return INV_OK;
	if ((r = malloc(s->n * sizeof(*r))) == NULL)
		return INV_ERR_NOMEM;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].type == OUTBOX_REVOKE)
			r[n++] = &s->v[i];
	qsort(r, n, sizeof(*r), by_cert_then_id);
	for (size_t i = 0; i + 1 < n; i++)
		if (memcmp(r[i]->h, r[i + 1]->h, sizeof(r[i]->h)) == 0)
			r[i]->later = 1;
	free(r);
	return INV_OK;
}

struct fold_ctx {
	struct inv_txn *t;
	uint8_t (*cards)[16];	/* cards whose certificates changed */
	size_t ncards, cap;
};

static int
touch_card(struct fold_ctx *f, const uint8_t guid[16])
{
	for (size_t i = 0; i < f->ncards; i++)
		if (memcmp(f->cards[i], guid, 16) == 0)
			return 0;
	if (f->ncards == f->cap) {
		size_t nc = f->cap ? 2 * f->cap : 16;
		uint8_t (*nv)[16] = realloc(f->cards, nc * sizeof(*nv));

		if (nv == NULL)
			return INV_ERR_NOMEM;
		f->cards = nv;
		f->cap = nc;
	}
	memcpy(f->cards[f->ncards++], guid, 16);
	return 0;
}

int
eng_card_event(struct inv_txn *t, const uint8_t guid[16], const char *name,
    const char *actor, const char *detail)
{
	struct inv_event ev;

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, guid, 16);
	ev.time = (uint64_t)time(NULL);
	eng_copy(ev.name, sizeof(ev.name), name);
	eng_copy(ev.actor, sizeof(ev.actor), actor);
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	return inv_event_append(t, &ev, &ev.seq);
}

/* One finished CA request, the last about its certificate. */
static int
fold_one(struct fold_ctx *f, const struct seen_op *o)
{
	struct inv_cert *c;
	const char *serial = o->serial;
	char d[400];
	int rc = INV_OK, want, final;

	if (serial[0] == '\0')
		return INV_OK;		/* not a certificate we could have sent */
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_cert_get(f->t, serial, c)) != INV_OK) {
		rc = rc == INV_ERR_NOTFOUND ? INV_OK : rc;	/* not a card's */
		goto out;
	}
	want = o->reason == CRL_HOLD ? INV_CERT_PENDING_HOLD :
	    o->reason == CRL_REMOVE ? INV_CERT_PENDING_UNHOLD :
	    INV_CERT_PENDING_REVOKE;
	final = o->reason == CRL_HOLD ? INV_CERT_HOLD :
	    o->reason == CRL_REMOVE ? INV_CERT_VALID : INV_CERT_REVOKED;
	if (c->status != want)
		goto out;
	if (o->state == OUTBOX_FAILED) {
		/*
		 * The CA refused for good (never retried): it answered, so the
		 * certificate is no longer pending but back where the CA left
		 * it (released: still held; held or revoked: still valid), the
		 * card's history and the log say why, and the next CRL check
		 * brings what the CA did meanwhile (another station's
		 * revocation) into the inventory.
		 */
		snprintf(d, sizeof(d), "certificate %s: %.300s", serial,
		    o->detail != NULL ? o->detail : "");
		log_warnx("CA refused request %llu: %s",
		    (unsigned long long)o->id, d);
		if ((rc = eng_card_event(f->t, c->guid, "ca_refused", "ca",
		    d)) != INV_OK)
			goto out;
		final = want == INV_CERT_PENDING_UNHOLD ? INV_CERT_HOLD :
		    INV_CERT_VALID;
		c->reason = final == INV_CERT_HOLD ? CRL_HOLD : 0;
	}
	c->status = (uint8_t)final;
	if (final == INV_CERT_VALID)
		c->reason = 0;
	if ((rc = inv_cert_put(f->t, c, INV_PUT_UPDATE)) == INV_OK)
		rc = touch_card(f, c->guid);
out:
	free(c);
	return rc;
}

/* pending_ca of each card whose certificates moved, and a note at zero. */
static int
settle_cards(struct fold_ctx *f)
{
	struct inv_card c;
	uint16_t n;
	int rc;

	for (size_t i = 0; i < f->ncards; i++) {
		if ((rc = inv_card_get(f->t, f->cards[i], &c)) != INV_OK ||
		    (rc = eng_card_pending(f->t, c.guid, &n)) != INV_OK)
			return rc == INV_ERR_NOTFOUND ? INV_OK : rc;
		if (n == c.pending_ca)
			continue;
		c.pending_ca = n;
		c.updated = (uint64_t)time(NULL);
		if ((rc = inv_card_put(f->t, &c, INV_PUT_UPDATE)) != INV_OK)
			return rc;
		if (n == 0 && (rc = eng_card_event(f->t, c.guid, "ca_confirmed", "ca",
		    "the CA confirmed every request of the last state "
		    "change")) != INV_OK)
			return rc;
	}
	return INV_OK;
}

static uint64_t
be64_get(const uint8_t b[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/*
 * Fold every CA request finished since the last fold. Runs inside one
 * write transaction and reads the outbox in a snapshot taken under it, so
 * no request is queued between what it sees and what it writes. Requests
 * finish in order (the drain stops at the first one to retry), so the
 * folded ones are a prefix of the journal, and how far it got is one
 * number. Only the last request about a certificate decides its status:
 * hold, un-hold, hold again while the CA was down ends held.
 */
int
eng_ca_reconcile(struct engine *e)
{
	struct seen s = { NULL, 0, 0, 0 };
	struct fold_ctx f = { NULL, NULL, 0, 0 };
	uint8_t b[8];
	size_t n = 0, i;
	uint64_t from = 0, last;
	int rc;

	if (e->cast == NULL)
		return 0;
	if ((rc = inv_begin(e->inv, 1, &f.t)) != INV_OK)
		return rc;
	if (inv_meta_get(f.t, FOLD_KEY, b, sizeof(b), &n) == INV_OK && n == 8)
		from = be64_get(b);
	last = from;
	rc = outbox_foreach_from(cast_outbox(e->cast), from + 1, collect_op, &s);
	if (rc == 1 && s.n == 0) {	/* the head is pending: nothing to fold */
		inv_abort(f.t);
		return INV_OK;
	}
	if (rc != OUTBOX_OK || s.oom) {
		rc = s.oom ? INV_ERR_NOMEM : INV_ERR_DB;
		goto fail;
	}
	/* A later request, even one still pending, decides instead. */
	if ((rc = mark_later(&s)) != INV_OK)
		goto fail;
	for (i = 0; i < s.n && s.v[i].state != OUTBOX_PENDING; i++) {
		if (s.v[i].type == OUTBOX_REVOKE && !s.v[i].later &&
		    (rc = fold_one(&f, &s.v[i])) != INV_OK)
			goto fail;
		/* Issued for a card rolled back while it was in flight. */
		if (s.v[i].type == OUTBOX_ENROLL &&
		    (rc = eng_enroll_late(e, f.t, s.v[i].id)) != INV_OK)
			goto fail;
		last = s.v[i].id;
	}
	if (last == from) {
		inv_abort(f.t);
		rc = INV_OK;
		goto out;
	}
	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)(last >> (56 - 8 * k));
	if ((rc = settle_cards(&f)) != INV_OK ||
	    (rc = inv_meta_put(f.t, FOLD_KEY, b, 8)) != INV_OK)
		goto fail;
	rc = inv_commit(f.t);
	goto out;
fail:
	inv_abort(f.t);
out:
	seen_free(&s);
	free(f.cards);
	return rc;
}

/*
 * Drain the CA journal, then fold what it confirmed into the inventory.
 * Enrollments go out over up to ENG_CA_LINKS links side by side
 * (cast_drain_wide); the drain works in rounds of ENG_DRAIN_ROUND
 * operations and lets go of ca_mu and the CA lane between them, so a large
 * backlog never holds GET /v1/status or an issuance for its whole length.
 */
int
eng_ca_drain(struct engine *e, struct outbox_drain_stats *st)
{
	struct ca_link *links[ENG_CA_LINKS];
	struct outbox_drain_stats r;
	struct outbox_counts c;
	int rc, n = 0, force = 1;

	memset(st, 0, sizeof(*st));
	if (e->cast == NULL)
		return -1;
	/* Links of the pool only for a backlog: one op goes over st's own. */
	pthread_mutex_lock(&e->ca_mu);
	if (outbox_count(cast_outbox(e->cast), &c) == OUTBOX_OK && c.pending > 1)
		n = c.pending - 1 < ENG_CA_LINKS ? (int)c.pending - 1 :
		    ENG_CA_LINKS;
	pthread_mutex_unlock(&e->ca_mu);
	if (n > 0)
		n = eng_ca_links_get(e, links, n);
	do {
		memset(&r, 0, sizeof(r));
		pthread_rwlock_wrlock(&e->ca_lane);	/* issuances' sends end first */
		pthread_mutex_lock(&e->ca_mu);
		/*
		 * A damaged or missing token holds the journal: no retry loop,
		 * one line in the log, the reason in GET /v1/status. It does
		 * not come back by itself (keyd logged in once, at start).
		 */
		rc = e->ca_held ? CAST_ERR_TOKEN : cast_drain_wide(e->cast, links,
		    n, force, ENG_DRAIN_ROUND, &r);
		if (rc == CAST_ERR_TOKEN && !e->ca_held) {
			/* The reason first: status reads held without ca_mu. */
			snprintf(e->ca_held_why, sizeof(e->ca_held_why), "%s",
			    cast_detail(e->cast));
			__atomic_store_n(&e->ca_held, 1, __ATOMIC_RELEASE);
			log_warnx("CA journal held: %s", e->ca_held_why);
		}
		pthread_mutex_unlock(&e->ca_mu);
		pthread_rwlock_unlock(&e->ca_lane);
		force = 0;
		st->done += r.done;
		st->failed += r.failed;
		st->retried += r.retried;
		st->quarantined += r.quarantined;
		st->remaining = r.remaining;
		st->next_try = r.next_try;
	} while (rc == CAST_OK && r.retried == 0 && r.remaining > 0 &&
	    r.done + r.failed > 0);
	eng_ca_links_put(e, links, n);
	if (eng_ca_reconcile(e) != 0)
		log_warnx("cannot fold CA results into the inventory");
	return rc == CAST_OK ? 0 : -1;
}
