/*
 * approve: approval requests, m of n, for key recovery (docs/lifecycle.md,
 * "Approvals").
 *
 * A replacement or temporary card that recovers escrowed keys on a card
 * whose profile asks for approvals (approvals.key_recovery = m) is not
 * carried out at once: the first request records an approval request and
 * answers 202 with its id. Operators whose operator-map entry approves the
 * card's profile, or the holder's organisation ("org:NAME"), approve or deny
 * it (POST /v1/approvals/{id}/approve, /deny); the requester never does, an
 * approver counts once. With m approvals in, the request is approved; the
 * requester then repeats the replacement citing it ("approval": id), and the
 * write transaction that activates the new card marks it carried out
 * (rep_finish): once, never if the new card does not make it (a torn
 * replacement leaves the request approved). A request not carried out
 * within approval_expiry_days (cardmgrd.conf, default 60) expires: the
 * scheduler's pass (temp.c, eng_now: test builds travel in time).
 *
 * Requests are inventory meta records "approval:<id, 20 digits>" (apr.h's
 * codec), the next id "approval.next"; each change is one write
 * transaction, audited after it commits.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/apr.h"
#include "proc/log.h"

#define APR_PREFIX "approval:"
#define APR_NEXT "approval.next"
#define APR_DEFAULT_DAYS 60
#define APR_LIST_MAX 500	/* requests in one answer */
#define APR_BATCH 64		/* expired by one scheduler pass */

static void
apr_key(uint64_t id, char *key, size_t cap)
{
	snprintf(key, cap, APR_PREFIX "%020llu", (unsigned long long)id);
}

static void
apr_ref(uint64_t id, char *ref, size_t cap)
{
	snprintf(ref, cap, "approval:%llu", (unsigned long long)id);
}

static int
apr_load(struct inv_txn *t, uint64_t id, struct apr *a)
{
	uint8_t *buf = malloc(INV_META_VALUE_MAX);
	char key[48];
	size_t n = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	if (buf == NULL)
		return INV_ERR_NOMEM;
	apr_key(id, key, sizeof(key));
	if ((rc = inv_meta_get(t, key, buf, INV_META_VALUE_MAX, &n)) == INV_OK &&
	    (apr_decode(buf, n, a) != APR_OK || a->id != id)) {
		log_warnx("approval request %llu: the record does not decode",
		    (unsigned long long)id);
		rc = INV_ERR_FORMAT;
	}
	free(buf);
	return rc;
}

static int
apr_store(struct inv_txn *t, const struct apr *a)
{
	uint8_t *rec = NULL;
	char key[48];
	size_t n = 0;
	int rc;

	if ((rc = apr_encode(a, &rec, &n)) != APR_OK)
		return rc == APR_ERR_NOMEM ? INV_ERR_NOMEM : INV_ERR_ARG;
	apr_key(a->id, key, sizeof(key));
	rc = inv_meta_put(t, key, rec, n);
	free(rec);
	return rc;
}

/* The approval id a request names in its path, or 0. */
static uint64_t
path_id(const struct ops_req *r)
{
	char buf[32], *end;
	unsigned long long n;

	if (eng_arg(r, "approval", buf, sizeof(buf)) == NULL || buf[0] < '1' ||
	    buf[0] > '9')
		return 0;
	n = strtoull(buf, &end, 10);
	return *end == '\0' ? (uint64_t)n : 0;
}

static unsigned
expiry_days(const struct engine *e)
{
	return e->cfg->approval_expiry_days ? e->cfg->approval_expiry_days :
	    APR_DEFAULT_DAYS;
}

/* ---- who sees and decides what ---------------------------------------- */

/* The auditor and the administrator see every request. */
static int
oversight(const struct actor *a)
{
	return (a->roles & (OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR)) != 0;
}

static int
approver_of(const struct engine *e, const struct actor *a, const struct apr *r)
{
	return opr_may_approve(e->operators, a->name, r->profile, r->org);
}

static int
voted(const struct apr *r, const char *name)
{
	for (unsigned i = 0; i < r->nvotes; i++)
		if (strcmp(r->votes[i].name, name) == 0)
			return 1;
	return 0;
}

static int
visible(const struct engine *e, const struct actor *a, const struct apr *r)
{
	return oversight(a) || strcmp(a->name, r->requester) == 0 ||
	    approver_of(e, a, r);
}

/* Waiting for a's decision: pending, in a's scope, not a's own, not voted. */
static int
waiting(const struct engine *e, const struct actor *a, const struct apr *r,
    uint64_t now)
{
	return r->state == APR_PENDING && r->expires > now &&
	    strcmp(a->name, r->requester) != 0 && approver_of(e, a, r) &&
	    !voted(r, a->name);
}

static json_t *
apr_json(const struct engine *e, const struct actor *a, const struct apr *r,
    uint64_t now)
{
	json_t *v = json_array();

	for (unsigned i = 0; i < r->nvotes; i++)
		json_array_append_new(v, json_pack("{s:s, s:I}", "operator",
		    r->votes[i].name, "at", (json_int_t)r->votes[i].at));
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
	    "s:I, s:I, s:i, s:i, s:o, s:s, s:s, s:I, s:b}",
	    "id", (json_int_t)r->id, "state", apr_state_name(r->state),
	    "operation", r->op, "reason", r->reason, "requester", r->requester,
	    "profile", r->profile, "holder", r->holder, "organisation", r->org,
	    "card", r->card, "created", (json_int_t)r->created,
	    "expires", (json_int_t)r->expires, "updated", (json_int_t)r->updated,
	    "required", (int)r->required, "approvers",
	    (int)opr_approvers(e->operators, r->profile, r->org, r->requester),
	    "approvals", v, "decided_by", r->decided_by, "note", r->note,
	    "operation_id", (json_int_t)r->op_id,
	    "waiting", waiting(e, a, r, now));
}

/* ---- every request, in id order --------------------------------------- */

struct each {
	int (*fn)(struct apr *r, void *arg);
	void *arg;
	struct apr r;
	int bad;
};

static int
each_rec(const char *key, const void *val, size_t len, void *arg)
{
	struct each *x = arg;

	(void)key;
	if (apr_decode(val, len, &x->r) != APR_OK) {
		x->bad++;	/* logged once per pass by the caller */
		return 0;
	}
	return x->fn(&x->r, x->arg);
}

static int
apr_foreach(struct inv_txn *t, int (*fn)(struct apr *r, void *arg), void *arg)
{
	struct each *x = calloc(1, sizeof(*x));
	int rc;

	if (x == NULL)
		return INV_ERR_NOMEM;
	x->fn = fn;
	x->arg = arg;
	rc = inv_meta_foreach(t, APR_PREFIX, each_rec, x);
	if (x->bad > 0)
		log_warnx("approval requests: %d record(s) do not decode",
		    x->bad);
	free(x);
	return rc;
}

/* ---- a new request (rep_start) ---------------------------------------- */

struct open_req {
	const char *op;
	const uint8_t *guid;
	uint64_t now;
	struct apr found;
	int have;
};

static int
find_open(struct apr *r, void *arg)
{
	struct open_req *o = arg;

	if ((r->state == APR_PENDING || r->state == APR_APPROVED) &&
	    r->expires > o->now && strcmp(r->op, o->op) == 0 &&
	    memcmp(r->guid, o->guid, 16) == 0) {
		o->found = *r;
		o->have = 1;
		return 1;
	}
	return 0;
}

static int
next_id(struct inv_txn *t, uint64_t *id)
{
	uint8_t b[8];
	size_t n = 0;
	uint64_t v = 0;
	int rc;

	if ((rc = inv_meta_get(t, APR_NEXT, b, sizeof(b), &n)) == INV_OK) {
		if (n != 8)
			return INV_ERR_FORMAT;
		for (int i = 0; i < 8; i++)
			v = v << 8 | b[i];
	} else if (rc != INV_ERR_NOTFOUND) {
		return rc;
	}
	*id = v == 0 ? 1 : v;
	v = *id + 1;
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	return inv_meta_put(t, APR_NEXT, b, 8);
}

/*
 * Record request r (filled but id, times) unless an open one for the same
 * card and operation exists: then *r is that one and *existed 1.
 */
static int
apr_create(struct engine *e, struct apr *r, int *existed)
{
	struct open_req *o = calloc(1, sizeof(*o));
	struct inv_txn *t = NULL;
	int rc;

	*existed = 0;
	if (o == NULL)
		return INV_ERR_NOMEM;
	o->op = r->op;
	o->guid = r->guid;
	o->now = eng_now();
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK ||
	    (rc = apr_foreach(t, find_open, o)) != INV_OK)
		goto out;
	if (o->have) {
		*r = o->found;
		*existed = 1;
		goto out;	/* nothing to write */
	}
	if ((rc = next_id(t, &r->id)) != INV_OK)
		goto out;
	r->created = r->updated = o->now;
	r->expires = o->now + (uint64_t)expiry_days(e) * 86400;
	r->state = APR_PENDING;
	if ((rc = apr_store(t, r)) != INV_OK)
		goto out;
	rc = inv_commit(t);
	t = NULL;
out:
	inv_abort(t);
	free(o);
	return rc;
}

int
eng_apr_request(struct engine *e, uint64_t id, const struct actor *a,
    const char *op, const char *reason, const struct inv_card *c,
    const struct inv_holder *h, int required)
{
	struct apr *r = calloc(1, sizeof(*r));
	char ref[48], text[320];
	size_t n;
	int rc, existed = 0, status;

	if (r == NULL)
		return eng_error(e, id, 500, "nomem", "out of memory");
	n = opr_approvers(e->operators, c->profile, h->org, a->name);
	if (n < (size_t)required) {
		snprintf(text, sizeof(text), "profile %.64s requires %d "
		    "approval(s) for key recovery and only %zu operator(s) "
		    "other than you may approve (operators.conf, approves): "
		    "nothing was changed", c->profile, required, n);
		eng_audit(e, a, op, c->serial, "refused", text);
		free(r);
		return eng_error(e, id, 403, "approvers_missing", "%s", text);
	}
	eng_copy(r->op, sizeof(r->op), op);
	eng_copy(r->reason, sizeof(r->reason), reason);
	eng_copy(r->requester, sizeof(r->requester), a->name);
	eng_copy(r->profile, sizeof(r->profile), c->profile);
	eng_copy(r->holder, sizeof(r->holder), h->id);
	eng_copy(r->org, sizeof(r->org), h->org);
	eng_copy(r->card, sizeof(r->card), c->serial);
	memcpy(r->guid, c->guid, 16);
	r->required = (uint8_t)required;
	if ((rc = apr_create(e, r, &existed)) != INV_OK) {
		eng_audit(e, a, op, c->serial, "refused", inv_strerror(rc));
		free(r);
		return eng_error(e, id, rc == INV_ERR_FULL ? 507 : 500,
		    "inventory", "%s", inv_strerror(rc));
	}
	apr_ref(r->id, ref, sizeof(ref));
	if (existed)
		snprintf(text, sizeof(text), "approval request %llu for this "
		    "card is %s (%u of %u approvals, requested by %s)%s",
		    (unsigned long long)r->id, apr_state_name(r->state),
		    r->nvotes, r->required, r->requester,
		    r->state == APR_APPROVED ? ": carry it out citing it" : "");
	else
		snprintf(text, sizeof(text), "approval request %llu created, "
		    "needs %d of %zu", (unsigned long long)r->id, required, n);
	if (!existed) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s of card %s (holder %s, "
		    "profile %s): needs %d of %zu", op, c->serial, h->id,
		    c->profile, required, n);
		eng_audit(e, a, "approval_request", ref, "ok", detail);
	}
	status = 202;
	rc = eng_reply(e, id, status, json_pack("{s:I, s:s, s:i, s:i, s:i, "
	    "s:s, s:s, s:s}", "approval", (json_int_t)r->id, "state",
	    apr_state_name(r->state), "required", (int)r->required,
	    "approvers", (int)n, "approvals", (int)r->nvotes, "requester",
	    r->requester, "card", r->card, "message", text));
	free(r);
	return rc;
}

/* ---- carrying it out (rep_start, rep_finish) --------------------------- */

/* 0 if r lets actor run op on card guid now, else a refusal in ref. */
static int
apr_fits(const struct apr *r, const char *actor, const char *op,
    const char *reason, const uint8_t guid[16], uint64_t now,
    struct eng_refusal *ref)
{
	ref->status = 409;
	if (strcmp(r->requester, actor) != 0) {
		ref->status = 403;
		ref->code = "approval_not_yours";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu "
		    "was made by %.60s: only they carry it out",
		    (unsigned long long)r->id, r->requester);
	} else if (strcmp(r->op, op) != 0 || strcmp(r->reason, reason) != 0 ||
	    memcmp(r->guid, guid, 16) != 0) {
		ref->code = "approval_mismatch";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu "
		    "is for %s (%s) of card %.64s", (unsigned long long)r->id,
		    r->op, r->reason, r->card);
	} else if (r->state == APR_DONE) {
		ref->code = "approval_used";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu "
		    "was carried out already (operation %llu)",
		    (unsigned long long)r->id, (unsigned long long)r->op_id);
	} else if (r->state == APR_PENDING) {
		ref->code = "approval_pending";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu "
		    "has %u of %u approvals", (unsigned long long)r->id,
		    r->nvotes, r->required);
	} else if (r->state != APR_APPROVED || r->expires <= now) {
		ref->code = "approval_closed";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu "
		    "is %s", (unsigned long long)r->id, r->state ==
		    APR_APPROVED ? "expired" : apr_state_name(r->state));
	} else {
		return 0;
	}
	return -1;
}

int
eng_apr_usable(struct engine *e, uint64_t apr_id, const struct actor *a,
    const char *op, const char *reason, const struct inv_card *c,
    struct eng_refusal *ref)
{
	struct apr *r = calloc(1, sizeof(*r));
	struct inv_txn *t = NULL;
	int rc;

	if (r == NULL) {
		ref->status = 500;
		ref->code = "nomem";
		snprintf(ref->why, sizeof(ref->why), "out of memory");
		return -1;
	}
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = apr_load(t, apr_id, r);
	inv_abort(t);
	if (rc != INV_OK) {
		ref->status = rc == INV_ERR_NOTFOUND ? 404 : 500;
		ref->code = rc == INV_ERR_NOTFOUND ? "no_approval" : "inventory";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu: "
		    "%s", (unsigned long long)apr_id, rc == INV_ERR_NOTFOUND ?
		    "no such request" : inv_strerror(rc));
		rc = -1;
	} else {
		rc = apr_fits(r, a->name, op, reason, c->guid, eng_now(), ref);
	}
	free(r);
	return rc;
}

int
eng_apr_consume(struct inv_txn *t, uint64_t apr_id, const char *actor,
    const char *op, const char *reason, const uint8_t guid[16],
    uint64_t op_id, char *detail, size_t cap)
{
	struct apr *r = calloc(1, sizeof(*r));
	struct eng_refusal ref;
	int rc;

	if (r == NULL)
		return INV_ERR_NOMEM;
	if ((rc = apr_load(t, apr_id, r)) != INV_OK)
		goto out;
	if (apr_fits(r, actor, op, reason, guid, eng_now(), &ref) != 0) {
		snprintf(detail, cap, "%s", ref.why);
		rc = INV_ERR_EXISTS;
		goto out;
	}
	r->state = APR_DONE;
	r->op_id = op_id;
	r->updated = eng_now();
	rc = apr_store(t, r);
out:
	free(r);
	return rc;
}

/* ---- GET /v1/approvals, GET /v1/approvals/{approval} ------------------- */

struct list {
	struct engine *e;
	const struct actor *a;
	int state;		/* -1: every state */
	uint64_t now;
	json_t *arr;
	size_t n;
};

static int
list_one(struct apr *r, void *arg)
{
	struct list *l = arg;

	if ((l->state >= 0 && r->state != l->state) ||
	    !visible(l->e, l->a, r))
		return 0;
	if (l->n++ == APR_LIST_MAX)
		return 1;
	json_array_append_new(l->arr, apr_json(l->e, l->a, r, l->now));
	return 0;
}

int
op_approval_list(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct list l = { e, a, -1, eng_now(), json_array(), 0 };
	struct inv_txn *t = NULL;
	char st[32];
	int rc;

	if (eng_arg(r, "state", st, sizeof(st)) != NULL)
		l.state = apr_state_from_name(st);
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = apr_foreach(t, list_one, &l);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(l.arr);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:o, s:b}", "approvals", l.arr,
	    "truncated", l.n > APR_LIST_MAX));
}

int
op_approval_get(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct apr *ar = calloc(1, sizeof(*ar));
	struct inv_txn *t = NULL;
	uint64_t n = path_id(r);
	int rc = INV_ERR_NOTFOUND;

	if (ar == NULL)
		return eng_error(e, id, 500, "nomem", "out of memory");
	if (n != 0 && (rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = apr_load(t, n, ar);
	inv_abort(t);
	/* A request out of one's sight is no request (no probing). */
	if (rc == INV_OK && !visible(e, a, ar))
		rc = INV_ERR_NOTFOUND;
	if (rc != INV_OK) {
		free(ar);
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 : 500,
		    rc == INV_ERR_NOTFOUND ? "not_found" : "inventory",
		    "%s", rc == INV_ERR_NOTFOUND ? "no such approval request" :
		    inv_strerror(rc));
	}
	rc = eng_reply(e, id, 200, apr_json(e, a, ar, eng_now()));
	free(ar);
	return rc;
}

/* ---- POST /v1/approvals/{approval}/approve, /deny ---------------------- */

/*
 * In write txn t: a's decision on request *r (loaded). 0 with *r as
 * stored, or -1 with ref (nothing written but an expiry found on the way:
 * *expired is then 1 and t holds it).
 */
static int
decide(struct engine *e, struct inv_txn *t, struct apr *r,
    const struct actor *a, int approve, const char *note, int *expired,
    struct eng_refusal *ref)
{
	uint64_t now = eng_now();

	ref->status = 409;
	if (strcmp(a->name, r->requester) == 0) {
		ref->status = 403;
		ref->code = "own_request";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu is "
		    "yours: a requester never decides their own request",
		    (unsigned long long)r->id);
		return -1;
	}
	if (!approver_of(e, a, r)) {
		ref->status = 403;
		ref->code = "not_approver";
		snprintf(ref->why, sizeof(ref->why), "you do not approve "
		    "requests for profile %.32s or organisation %.32s "
		    "(operators.conf, approves)", r->profile,
		    r->org[0] ? r->org : "-");
		return -1;
	}
	if (r->state == APR_PENDING && r->expires <= now) {
		/* Past its time, the scheduler's pass not there yet. */
		r->state = APR_EXPIRED;
		r->updated = now;
		eng_copy(r->decided_by, sizeof(r->decided_by), "scheduler");
		*expired = apr_store(t, r) == INV_OK;
	}
	if (r->state != APR_PENDING) {
		ref->code = "approval_state";
		snprintf(ref->why, sizeof(ref->why), "approval request %llu is "
		    "%s", (unsigned long long)r->id, apr_state_name(r->state));
		return -1;
	}
	if (approve && voted(r, a->name)) {
		ref->code = "already_approved";
		snprintf(ref->why, sizeof(ref->why), "you approved request %llu "
		    "already: an approver counts once", (unsigned long long)r->id);
		return -1;
	}
	if (approve) {
		eng_copy(r->votes[r->nvotes].name, sizeof(r->votes[0].name),
		    a->name);
		r->votes[r->nvotes++].at = now;
		if (r->nvotes >= r->required)
			r->state = APR_APPROVED;
	} else {
		r->state = APR_DENIED;
		eng_copy(r->decided_by, sizeof(r->decided_by), a->name);
		eng_copy(r->note, sizeof(r->note), note);
	}
	r->updated = now;
	if (apr_store(t, r) != INV_OK) {
		ref->status = 500;
		ref->code = "inventory";
		snprintf(ref->why, sizeof(ref->why), "inventory error");
		return -1;
	}
	return 0;
}

int
op_approval_decide(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a, int approve)
{
	struct apr *ar = calloc(1, sizeof(*ar));
	struct eng_refusal ref;
	struct inv_txn *t = NULL;
	const char *event = approve ? "approval_approve" : "approval_deny";
	char note[201] = "", ref_s[48], detail[300];
	uint64_t n = path_id(r);
	int rc, expired = 0, out;

	if (ar == NULL)
		return eng_error(e, id, 500, "nomem", "out of memory");
	eng_arg(r, "reason", note, sizeof(note));
	apr_ref(n, ref_s, sizeof(ref_s));
	/* Ids are sequential: that one exists is no secret, so a request
	 * out of one's scope is refused as such (not_approver). */
	if (n == 0 || (rc = inv_begin(e->inv, 1, &t)) != INV_OK ||
	    (rc = apr_load(t, n, ar)) != INV_OK) {
		inv_abort(t);
		free(ar);
		eng_audit(e, a, event, ref_s, "refused", "no such request");
		return eng_error(e, id, 404, "not_found",
		    "no such approval request");
	}
	if (decide(e, t, ar, a, approve, note, &expired, &ref) != 0) {
		if (expired && inv_commit(t) == INV_OK)
			eng_audit(e, NULL, "approval_expire", ref_s, "ok",
			    "past its time");
		else
			inv_abort(t);
		eng_audit(e, a, event, ref_s, "refused", ref.why);
		free(ar);
		return eng_error(e, id, ref.status, ref.code, "%s", ref.why);
	}
	if ((rc = inv_commit(t)) != INV_OK) {
		free(ar);
		eng_audit(e, a, event, ref_s, "refused", inv_strerror(rc));
		return eng_error(e, id, rc == INV_ERR_FULL ? 507 : 500,
		    "inventory", "%s", inv_strerror(rc));
	}
	if (approve)
		snprintf(detail, sizeof(detail), "%u of %u%s", ar->nvotes,
		    ar->required, ar->state == APR_APPROVED ? ": approved" : "");
	else
		snprintf(detail, sizeof(detail), "denied%s%s", note[0] ? ": " :
		    "", note);
	eng_audit(e, a, event, ref_s, "ok", detail);
	out = eng_reply(e, id, 200, apr_json(e, a, ar, eng_now()));
	free(ar);
	return out;
}

/* ---- the scheduler: expiry -------------------------------------------- */

struct due {
	uint64_t now;
	uint64_t id[APR_BATCH];
	int n;
};

static int
collect_due(struct apr *r, void *arg)
{
	struct due *d = arg;

	/* An approval not carried out goes stale as well: consent given
	 * months ago is not consent for today. */
	if ((r->state != APR_PENDING && r->state != APR_APPROVED) ||
	    r->expires > d->now)
		return 0;
	d->id[d->n++] = r->id;
	return d->n == APR_BATCH;
}

int
eng_apr_tick(struct engine *e, unsigned *n)
{
	struct due d = { eng_now(), { 0 }, 0 };
	struct apr *r = calloc(1, sizeof(*r));
	struct inv_txn *t = NULL;
	char ref[48];
	int rc;

	*n = 0;
	if (r == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = apr_foreach(t, collect_due, &d);
	inv_abort(t);
	for (int i = 0; rc == INV_OK && i < d.n; i++) {
		/* One transaction each: a decision racing this one wins or
		 * loses whole. */
		t = NULL;
		if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
			break;
		if ((rc = apr_load(t, d.id[i], r)) != INV_OK ||
		    (r->state != APR_PENDING && r->state != APR_APPROVED) ||
		    r->expires > d.now) {
			inv_abort(t);
			rc = INV_OK;
			continue;
		}
		r->state = APR_EXPIRED;
		r->updated = d.now;
		eng_copy(r->decided_by, sizeof(r->decided_by), "scheduler");
		if ((rc = apr_store(t, r)) != INV_OK || (rc = inv_commit(t)) !=
		    INV_OK) {
			inv_abort(rc == INV_OK ? NULL : t);
			log_warnx("approval request %llu: expiry not recorded: "
			    "%s", (unsigned long long)d.id[i], inv_strerror(rc));
			break;
		}
		apr_ref(d.id[i], ref, sizeof(ref));
		log_info("approval request %llu expired",
		    (unsigned long long)d.id[i]);
		eng_audit(e, NULL, "approval_expire", ref, "ok", r->card);
		(*n)++;
	}
	free(r);
	return rc;
}

/* ---- GET /v1/reports/pending: the open requests ----------------------- */

struct rep_rows {
	json_t *rows;
	unsigned pending, approved;
};

static int
report_row(struct apr *r, void *arg)
{
	struct rep_rows *x = arg;
	char ref[48], exp[32], op[48], detail[512];
	time_t tt = (time_t)r->expires;
	struct tm tm;

	if (r->state != APR_PENDING && r->state != APR_APPROVED)
		return 0;
	if (r->state == APR_PENDING)
		x->pending++;
	else
		x->approved++;
	apr_ref(r->id, ref, sizeof(ref));
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(exp, sizeof(exp), "%llu", (unsigned long long)r->expires);
	snprintf(op, sizeof(op), "key_recovery_%s", r->op);
	snprintf(detail, sizeof(detail), "card %s, holder %s, profile %s, "
	    "requested by %s: %u of %u approvals", r->card, r->holder,
	    r->profile, r->requester, r->nvotes, r->required);
	/* kind, ref, operation, state, attempts (approvals), next_try
	 * (expires), detail. */
	json_array_append_new(x->rows, json_pack("[s, s, s, s, I, s, s]",
	    "approval", ref, op, apr_state_name(r->state),
	    (json_int_t)r->nvotes, exp, detail));
	return 0;
}

int
eng_apr_report(struct engine *e, json_t *rows, unsigned *pending,
    unsigned *approved)
{
	struct rep_rows x = { rows, 0, 0 };
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = apr_foreach(t, report_row, &x);
	inv_abort(t);
	*pending = x.pending;
	*approved = x.approved;
	return rc;
}
