/*
 * report: the station's reports (GET /v1/reports/...), read from the
 * inventory's indexes wherever one exists:
 *
 *   inventory   cards per profile and state (inv_card_profile: no card
 *               record is read), per state (inv_card_state)
 *   operations  operations per UTC day, operator and type, newest first
 *               from inv_ops, stopping once past the window
 *   pending     CA journal work not yet confirmed (the outbox's pending
 *               list), notices pending or failed (ntf_state)
 *   expiring    cards (inv_card_expiry) and certificates (inv_cert_expiry)
 *               expiring within N days: range scans, only the records in
 *               the window are read
 *
 * Every report is {"report", "generated", "columns", "rows", ...}: rows are
 * arrays of strings and integers in column order, so the CLI draws any of
 * them as a table and csv_write makes CSV of any. A MSG_RESP carries at most
 * 64 KiB, so JSON answers are pages (offset, next_offset); a CSV answer must
 * fit in one (413 otherwise: the CLI pages JSON and writes the CSV itself).
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/outbox.h"
#include "notify/notify.h"
#include "proc/csv.h"
#include "proc/log.h"

#define DAY 86400ULL
/* Rows of one JSON page: well under MSG_PAYLOAD_MAX with the envelope. */
#define PAGE_BYTES 48000

static void
iso_time(uint64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%llu", (unsigned long long)t);
}

static json_t *
columns(const char *const *names)
{
	json_t *a = json_array();

	for (; *names != NULL; names++)
		json_array_append_new(a, json_string(*names));
	return a;
}

/*
 * Answer report r (columns, rows and extra members already in it) in the
 * format asked: JSON as the page from offset, CSV whole or 413.
 */
static int
answer(struct engine *e, const struct ops_req *req, uint64_t id, json_t *r)
{
	const struct ops_value *f = ops_req_get(req, "format", 0, NULL);
	const struct ops_value *o = ops_req_get(req, "offset", 0, NULL);
	json_t *rows = json_object_get(r, "rows"), *page;
	size_t off = o != NULL ? (size_t)o->i : 0, i, used = 0, n;
	char *csv = NULL;
	size_t len;
	int rc;

	n = json_array_size(rows);
	json_object_set_new(r, "total", json_integer((json_int_t)n));
	if (f != NULL && f->len == 3 && memcmp(f->p, "csv", 3) == 0) {
		if ((rc = csv_write(json_object_get(r, "columns"), rows, &csv,
		    &len)) != CSV_OK) {
			json_decref(r);
			return eng_error(e, id, 500, "report", "%s",
			    csv_strerror(rc));
		}
		json_decref(r);
		if (len > PAGE_BYTES + 8192) {
			free(csv);
			return eng_error(e, id, 413, "report_too_large",
			    "the report does not fit one answer: ask for JSON "
			    "pages (offset) or a shorter window");
		}
		pthread_mutex_lock(&e->api_mu);
		rc = msg_send_resp(e->api_fd, id, 200, csv,
		    "text/csv; charset=utf-8");
		pthread_mutex_unlock(&e->api_mu);
		free(csv);
		return rc == MSG_OK ? 0 : -1;
	}
	page = json_array();
	for (i = off; i < n; i++) {
		char *s = json_dumps(json_array_get(rows, i), JSON_COMPACT);

		used += s != NULL ? strlen(s) + 1 : 0;
		free(s);
		if (used > PAGE_BYTES && i > off)
			break;
		json_array_append(page, json_array_get(rows, i));
	}
	json_object_set_new(r, "rows", page);
	json_object_set_new(r, "offset", json_integer((json_int_t)off));
	if (i < n)
		json_object_set_new(r, "next_offset", json_integer((json_int_t)i));
	return eng_reply(e, id, 200, r);
}

static json_t *
report_new(const char *name, uint64_t now, const char *const *cols)
{
	char ts[32];

	iso_time(now, ts, sizeof(ts));
	return json_pack("{s:s, s:s, s:o, s:o}", "report", name, "generated", ts,
	    "columns", columns(cols), "rows", json_array());
}

static int
rep_inv_error(struct engine *e, uint64_t id, json_t *r, int rc)
{
	json_decref(r);
	return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
}

/* ---- inventory */

static int
profile_row(const char *profile, int state, uint64_t count, void *arg)
{
	json_array_append_new(arg, json_pack("[s, s, I]", profile,
	    inv_card_state_name(state), (json_int_t)count));
	return 0;
}

int
q_report_inventory(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "profile", "state", "cards", NULL };
	uint64_t n[INV_CARD_NSTATES], total = 0;
	struct inv_txn *t = NULL;
	json_t *rep = report_new("inventory", eng_now(), cols), *by = json_object();
	int rc;

	json_object_set_new(rep, "by_state", by);
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK &&
	    (rc = inv_card_count_by_state(t, n)) == INV_OK)
		rc = inv_card_count_by_profile(t, profile_row,
		    json_object_get(rep, "rows"));
	inv_abort(t);
	if (rc != INV_OK)
		return rep_inv_error(e, id, rep, rc);
	for (int s = 0; s < INV_CARD_NSTATES; s++) {
		json_object_set_new(by, inv_card_state_name(s),
		    json_integer((json_int_t)n[s]));
		total += n[s];
	}
	json_object_set_new(rep, "cards", json_integer((json_int_t)total));
	/* Stock levels per model and location (stock.c, inv_stock). */
	{
		json_t *levels = NULL;
		uint64_t in_stock;
		size_t low;

		if ((rc = stk_levels(e, &levels, &in_stock, &low)) != INV_OK)
			return rep_inv_error(e, id, rep, rc);
		json_object_set_new(rep, "stock", json_pack("{s:o, s:I, s:I}",
		    "levels", levels, "cards", (json_int_t)in_stock, "low",
		    (json_int_t)low));
	}
	return answer(e, r, id, rep);
}

/* ---- operations */

struct opsum {
	uint64_t since;
	json_t *groups;		/* "day\037operator\037type" -> row */
	json_t *rows;
};

static int
op_count(const struct inv_op *op, void *arg)
{
	struct opsum *x = arg;
	char day[16], key[256];
	time_t tt;
	struct tm tm;
	json_t *row;
	int col;

	/*
	 * Ids grow with time; created can go back a little (operations that
	 * started together commit in either order). An hour past the start
	 * of the window, nothing older can follow.
	 */
	if (op->created + 3600 < x->since)
		return 1;
	if (op->created < x->since)
		return 0;
	tt = (time_t)op->created;
	if (gmtime_r(&tt, &tm) == NULL)
		return 0;
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(key, sizeof(key), "%s\037%s\037%s", day, op->oper, op->type);
	if ((row = json_object_get(x->groups, key)) == NULL) {
		row = json_pack("[s, s, s, i, i, i, i, i]", day, op->oper,
		    op->type, 0, 0, 0, 0, 0);
		json_object_set_new(x->groups, key, row);
		json_array_append(x->rows, row);
	}
	/* total, then done, failed, rolled_back, running */
	col = op->state == INV_OP_DONE ? 4 : op->state == INV_OP_FAILED ? 5 :
	    op->state == INV_OP_ROLLED_BACK ? 6 : 7;
	json_array_set_new(row, 3, json_integer(json_integer_value(
	    json_array_get(row, 3)) + 1));
	json_array_set_new(row, (size_t)col, json_integer(json_integer_value(
	    json_array_get(row, (size_t)col)) + 1));
	return 0;
}

int
q_report_operations(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "day", "operator", "type", "total",
	    "done", "failed", "rolled_back", "running", NULL };
	const struct ops_value *v = ops_req_get(r, "days", 0, NULL);
	uint64_t now = eng_now(), days = v != NULL ? (uint64_t)v->i : 30;
	json_t *rep = report_new("operations", now, cols);
	struct opsum x;
	struct inv_txn *t = NULL;
	int rc;

	/* Whole UTC days: today and the days-1 before it. */
	x.since = now / DAY * DAY - (days - 1) * DAY;
	x.groups = json_object();
	x.rows = json_object_get(rep, "rows");
	json_object_set_new(rep, "days", json_integer((json_int_t)days));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK) {
		rc = inv_ops_foreach_desc(t, op_count, &x);
		if (rc == 1)
			rc = INV_OK;
	}
	inv_abort(t);
	json_decref(x.groups);
	if (rc != INV_OK)
		return rep_inv_error(e, id, rep, rc);
	return answer(e, r, id, rep);
}

/* ---- pending */

static const char *
outbox_type_name(int type)
{
	return type == OUTBOX_ENROLL ? "ca_enroll" : type == OUTBOX_REVOKE ?
	    "ca_revoke" : type == OUTBOX_PUSH ? "ca_push" : "ca_other";
}

static int
ca_row(const struct outbox_op *op, void *arg)
{
	char ref[32], next[32];

	snprintf(ref, sizeof(ref), "outbox:%llu", (unsigned long long)op->id);
	iso_time(op->next_try, next, sizeof(next));
	json_array_append_new(arg, json_pack("[s, s, s, s, I, s, s]", "ca",
	    ref, outbox_type_name(op->type), "pending", (json_int_t)op->attempts,
	    next, op->detail));
	return 0;
}

static int
notice_row(const struct ntf_notice *n, void *arg)
{
	char next[32];

	iso_time(n->next_try, next, sizeof(next));
	json_array_append_new(arg, json_pack("[s, s, s, s, I, s, s]", "notice",
	    n->key, n->kind == NTF_KIND_CARD ? "mail_card_expiry" :
	    "mail_cert_expiry", ntf_state_name(n->state),
	    (json_int_t)n->attempts, n->state == NTF_PENDING ? next : "",
	    n->error));
	return 0;
}

int
q_report_pending(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "kind", "ref", "operation", "state",
	    "attempts", "next_try", "detail", NULL };
	json_t *rep = report_new("pending", eng_now(), cols);
	json_t *rows = json_object_get(rep, "rows");
	struct outbox_counts oc;
	uint64_t nc[NTF_NSTATES];
	struct inv_txn *t = NULL;
	int rc;

	if (e->cast != NULL) {
		struct outbox *ob = cast_outbox(e->cast);

		if (outbox_count(ob, &oc) != OUTBOX_OK ||
		    outbox_foreach(ob, 1, ca_row, rows) != OUTBOX_OK) {
			json_decref(rep);
			return eng_error(e, id, 500, "ca_journal",
			    "cannot read the CA journal");
		}
		json_object_set_new(rep, "ca", json_pack("{s:I, s:I, s:I}",
		    "pending", (json_int_t)oc.pending, "failed",
		    (json_int_t)oc.failed, "quarantined",
		    (json_int_t)oc.quarantined));
	}
	if (e->ntf != NULL) {
		if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
			return rep_inv_error(e, id, rep, rc);
		if ((rc = ntf_count(e->ntf, inv_txn_mdb(t), nc)) == NTF_OK &&
		    (rc = ntf_foreach(e->ntf, inv_txn_mdb(t), NTF_PENDING,
		    notice_row, rows)) == NTF_OK)
			rc = ntf_foreach(e->ntf, inv_txn_mdb(t), NTF_FAILED,
			    notice_row, rows);
		inv_abort(t);
		if (rc != NTF_OK) {
			json_decref(rep);
			return eng_error(e, id, 500, "notices", "%s",
			    ntf_strerror(rc));
		}
		json_object_set_new(rep, "notices", json_pack("{s:I, s:I, s:I}",
		    "pending", (json_int_t)nc[NTF_PENDING], "sent",
		    (json_int_t)nc[NTF_SENT], "failed",
		    (json_int_t)nc[NTF_FAILED]));
	}
	/* Approval requests still open (approve.c): pending, or approved
	 * and not carried out yet. */
	{
		unsigned ap = 0, aa = 0;

		if ((rc = eng_apr_report(e, rows, &ap, &aa)) != INV_OK)
			return rep_inv_error(e, id, rep, rc);
		json_object_set_new(rep, "approvals", json_pack("{s:I, s:I}",
		    "pending", (json_int_t)ap, "approved", (json_int_t)aa));
	}
	return answer(e, r, id, rep);
}

/* ---- expiring */

int
eng_card_live(int state)
{
	return state == INV_CARD_ACTIVE || state == INV_CARD_SUSPENDED ||
	    state == INV_CARD_BLOCKED;
}

struct exp {
	struct inv_txn *t;
	uint64_t now;
	json_t *rows;
	struct inv_holder h;	/* the last holder looked up */
	struct inv_card c;
};

static const char *
holder_name(struct exp *x, const char *holder)
{
	if (holder[0] == '\0')
		return "";
	if (strcmp(x->h.id, holder) != 0 &&
	    inv_holder_get(x->t, holder, &x->h) != INV_OK)
		return "";
	return x->h.name;
}

static void
exp_row(struct exp *x, const char *kind, uint64_t expires,
    const struct inv_card *c, const char *cert, int slot)
{
	char ts[32], sl[12] = "";

	iso_time(expires, ts, sizeof(ts));
	if (slot >= 0)
		snprintf(sl, sizeof(sl), "%02x", slot);
	json_array_append_new(x->rows, json_pack("[s, s, I, s, s, s, s, s, s, s]",
	    kind, ts, (json_int_t)((expires - x->now) / DAY), c->serial, cert,
	    sl, c->holder, holder_name(x, c->holder), c->profile,
	    inv_card_state_name(c->state)));
}

static int
exp_card(const struct inv_card *c, void *arg)
{
	if (eng_card_live(c->state))
		exp_row(arg, "card", c->expires, c, "", -1);
	return 0;
}

static int
exp_cert(const struct inv_cert *ct, void *arg)
{
	struct exp *x = arg;

	if ((ct->status != INV_CERT_VALID && ct->status != INV_CERT_HOLD) ||
	    inv_card_get(x->t, ct->guid, &x->c) != INV_OK ||
	    !eng_card_live(x->c.state))
		return 0;
	exp_row(x, "certificate", ct->not_after, &x->c, ct->serial, ct->slot);
	return 0;
}

int
q_report_expiring(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "kind", "expires", "days_left",
	    "card", "certificate", "slot", "holder", "holder_name", "profile",
	    "state", NULL };
	const struct ops_value *v = ops_req_get(r, "days", 0, NULL);
	uint64_t days = v != NULL ? (uint64_t)v->i : 30;
	struct exp *x = calloc(1, sizeof(*x));
	json_t *rep;
	int rc;

	if (x == NULL)
		return eng_error(e, id, 500, "internal", "out of memory");
	x->now = eng_now();
	rep = report_new("expiring", x->now, cols);
	x->rows = json_object_get(rep, "rows");
	json_object_set_new(rep, "days", json_integer((json_int_t)days));
	if ((rc = inv_begin(e->inv, 0, &x->t)) == INV_OK &&
	    (rc = inv_cards_expiring(x->t, x->now, x->now + days * DAY, exp_card,
	    x)) == INV_OK)
		rc = inv_certs_expiring(x->t, x->now, x->now + days * DAY,
		    exp_cert, x);
	inv_abort(x->t);
	inv_holder_clear(&x->h);
	free(x);
	if (rc != INV_OK)
		return rep_inv_error(e, id, rep, rc);
	return answer(e, r, id, rep);
}

/* For stock.c: the same envelope and answer. */
json_t *
eng_report_new(const char *name, const char *const *cols)
{
	return report_new(name, eng_now(), cols);
}

int
eng_report_answer(struct engine *e, const struct ops_req *r, uint64_t id,
    json_t *rep)
{
	return answer(e, r, id, rep);
}
