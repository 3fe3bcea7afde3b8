/*
 * stock: blank cards in stock (docs/lifecycle.md, "Blank stock").
 *
 * A received card gets a card record in state blank (its own GUID: the
 * history's key until issuance) and an inv_stock entry naming the batch,
 * model and location. Receipt, moves and disposal are history lines of
 * that record; issuance (issue.c, stk_take) moves the lines to the issued
 * card's record in the transaction that journals the new CHUID, so one
 * card's history reads receipt -> moves -> issuing -> active. A card a
 * retirement wipes for reuse (retire.c, stk_return) goes back in stock
 * under its retired record.
 *
 * Levels per model and location come from one walk of inv_stock, against
 * the thresholds of cardmgrd.conf's stock group.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "engine/cardops.h"
#include "engine/stock.h"
#include "parent/dconf.h"
#include "proc/log.h"

#define STK_LEVELS_MAX 512	/* model x location pairs in one report */

static const struct dconf_stock *
cfg(const struct engine *e)
{
	static const struct dconf_stock none = { "", 0, 0, { { "", "", 0 } } };

	return e->cfg->stock != NULL ? e->cfg->stock : &none;
}

/* ---- receipt ------------------------------------------------------------ */

struct receipt {
	struct engine *e;
	struct inv_txn *t;
	const struct actor *a;
	char model[INV_NAME_MAX + 1];
	char location[INV_ID_MAX + 1];
	char batch[INV_ID_MAX + 1];
	uint64_t now;
	size_t n;
	int rc;			/* INV_* of the first failure */
	char why[400];		/* a refusal, for the operator */
	const char *code;
};

/* States in which a card's life at this station has ended (issue.c's
 * check_reuse: the ones a profile may allow to be issued again). */
static int
ended(int state)
{
	return state == INV_CARD_RETIRED || state == INV_CARD_LOST ||
	    state == INV_CARD_STOLEN || state == INV_CARD_DAMAGED ||
	    state == INV_CARD_RETURNED;
}

static void
stock_of(struct receipt *x, const struct inv_card *c, struct inv_stock *s)
{
	memset(s, 0, sizeof(*s));
	eng_copy(s->serial, sizeof(s->serial), c->serial);
	memcpy(s->guid, c->guid, sizeof(s->guid));
	eng_copy(s->model, sizeof(s->model), x->model);
	eng_copy(s->location, sizeof(s->location), x->location);
	eng_copy(s->batch, sizeof(s->batch), x->batch);
	eng_copy(s->by, sizeof(s->by), x->a->name);
	s->received = s->updated = x->now;
}

static int
receive_known(struct receipt *x, const struct inv_card *c)
{
	struct inv_stock s;
	char d[400];

	stock_of(x, c, &s);
	snprintf(d, sizeof(d), "batch %s, model %s, location %s (was %s)",
	    x->batch, x->model, x->location, inv_card_state_name(c->state));
	if ((x->rc = inv_stock_put(x->t, &s, INV_PUT_NEW)) != INV_OK ||
	    (x->rc = eng_card_event(x->t, c->guid, "received", x->a->name,
	    d)) != INV_OK)
		return 1;
	x->n++;
	return 0;
}

/* One serial into stock: a blank card record, its receipt line, the entry. */
static int
receive_one(const char *serial, void *arg)
{
	struct receipt *x = arg;
	struct inv_card c;
	struct inv_stock s;
	char d[400];

	if (inv_stock_get(x->t, serial, &s) == INV_OK) {
		snprintf(x->why, sizeof(x->why), "card %s is already in stock "
		    "(batch %s, %s)", serial, s.batch, s.location);
		x->code = "in_stock";
		x->rc = INV_ERR_EXISTS;
		return 1;
	}
	if ((x->rc = inv_card_by_serial(x->t, serial, &c)) == INV_OK &&
	    !ended(c.state)) {
		snprintf(x->why, sizeof(x->why), "the inventory knows card %s "
		    "(%s): not a blank card", serial,
		    inv_card_state_name(c.state));
		x->code = "known_card";
		x->rc = INV_ERR_EXISTS;
		return 1;
	}
	if (x->rc != INV_OK && x->rc != INV_ERR_NOTFOUND)
		return 1;
	/* A card whose life here ended, wiped elsewhere: back in stock under
	 * its old record (issuance still asks its profile about reuse). */
	if (x->rc == INV_OK)
		return receive_known(x, &c);
	memset(&c, 0, sizeof(c));
	if (RAND_bytes(c.guid, sizeof(c.guid)) != 1) {
		x->rc = INV_ERR_NOMEM;
		return 1;
	}
	eng_copy(c.serial, sizeof(c.serial), serial);
	eng_copy(c.model, sizeof(c.model), x->model);
	c.state = INV_CARD_STOCK;
	c.created = c.updated = x->now;
	stock_of(x, &c, &s);
	snprintf(d, sizeof(d), "batch %s, model %s, location %s", x->batch,
	    x->model, x->location);
	if ((x->rc = inv_card_put(x->t, &c, INV_PUT_NEW)) != INV_OK ||
	    (x->rc = inv_stock_put(x->t, &s, INV_PUT_NEW)) != INV_OK ||
	    (x->rc = eng_card_event(x->t, c.guid, "received", x->a->name,
	    d)) != INV_OK)
		return 1;
	x->n++;
	return 0;
}

/* The card in reader: its serial as issuance will see it. */
static int
scan_reader(struct engine *e, const char *reader, char *serial, size_t cap,
    char *why, size_t wcap, const char **code)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	int rc;

	memset(&k, 0, sizeof(k));
	if ((rc = eng_reader_claim(e, reader)) != 0) {
		snprintf(why, wcap, "%s", eng_claim_why(rc, code));
		return 409;
	}
	rc = eng_pcsc_open(e, &pc);
	if (rc == PCSC_OK)
		rc = cops_open(pc, reader, &k, why, wcap);
	if (rc == COPS_OK)
		eng_card_serial(&k, serial, cap);
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	eng_reader_release(e, reader);
	if (rc != COPS_OK) {
		if (why[0] == '\0')
			snprintf(why, wcap, "no card answers in %s", reader);
		*code = "card";
		return 409;
	}
	return 0;
}

int
op_stock_receive(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct receipt x;
	const struct ops_value *sv = ops_req_get(r, "serials", 0, NULL);
	char reader[128] = "", serial[INV_SERIAL_MAX + 1] = "", ref[80];
	size_t count = 0;
	int status = 400, prc, irc;

	memset(&x, 0, sizeof(x));
	x.e = e;
	x.a = a;
	x.code = "bad_request";
	x.now = eng_now();
	eng_arg(r, "model", x.model, sizeof(x.model));
	eng_arg(r, "location", x.location, sizeof(x.location));
	if (eng_arg(r, "batch", x.batch, sizeof(x.batch)) == NULL)
		snprintf(x.batch, sizeof(x.batch), "R%llu",
		    (unsigned long long)x.now);
	snprintf(ref, sizeof(ref), "%s", x.batch);
	eng_arg(r, "reader", reader, sizeof(reader));
	if ((sv == NULL) == (reader[0] == '\0')) {
		snprintf(x.why, sizeof(x.why), "give serials or a reader "
		    "(the card in it), one of the two");
		goto refuse;
	}
	if (sv != NULL && (prc = stk_serials_parse((const char *)sv->p,
	    sv->len, NULL, NULL, &count)) != STK_OK) {
		snprintf(x.why, sizeof(x.why), "%s", stk_strerror(prc));
		x.code = "bad_serials";
		goto refuse;
	}
	if (sv == NULL && (status = scan_reader(e, reader, serial,
	    sizeof(serial), x.why, sizeof(x.why), &x.code)) != 0)
		goto refuse;
	if ((irc = inv_begin(e->inv, 1, &x.t)) != INV_OK) {
		snprintf(x.why, sizeof(x.why), "%s", inv_strerror(irc));
		status = 500;
		x.code = "inventory";
		goto refuse;
	}
	/* All of the batch or none of it. */
	if (sv != NULL)
		prc = stk_serials_parse((const char *)sv->p, sv->len,
		    receive_one, &x, NULL);
	else
		prc = receive_one(serial, &x) == 0 ? STK_OK : STK_ERR_STOP;
	if (prc != STK_OK || (x.rc = inv_commit(x.t)) != INV_OK) {
		if (prc != STK_OK)
			inv_abort(x.t);
		status = x.rc == INV_ERR_EXISTS ? 409 : x.rc == INV_ERR_FULL ?
		    507 : 500;
		if (x.why[0] == '\0') {
			snprintf(x.why, sizeof(x.why), "%s",
			    inv_strerror(x.rc));
			x.code = "inventory";
		}
		goto refuse;
	}
	snprintf(x.why, sizeof(x.why), "%zu cards, model %s, location %s",
	    x.n, x.model, x.location);
	eng_audit(e, a, "stock_receive", ref, "ok", x.why);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s, s:s, s:I}",
	    "batch", x.batch, "model", x.model, "location", x.location,
	    "received", (json_int_t)x.n));
refuse:
	eng_audit(e, a, "stock_receive", ref, "refused", x.why);
	return eng_error(e, id, status, x.code, "%s", x.why);
}

/* ---- move, dispose ------------------------------------------------------ */

/* The stock entry of the path's serial, in write txn t: 0 or an HTTP status
 * with *why and *code. */
static int
stock_entry(struct inv_txn *t, const char *serial, struct inv_stock *s,
    char *why, size_t cap, const char **code)
{
	int rc = inv_stock_get(t, serial, s);

	if (rc == INV_OK)
		return 0;
	snprintf(why, cap, "%s", rc == INV_ERR_NOTFOUND ? "no such card in "
	    "stock" : inv_strerror(rc));
	*code = rc == INV_ERR_NOTFOUND ? "not_in_stock" : "inventory";
	return rc == INV_ERR_NOTFOUND ? 404 : 500;
}

static int
commit_status(int rc)
{
	return rc == INV_OK ? 0 : rc == INV_ERR_FULL ? 507 : 500;
}

int
op_stock_move(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_txn *t = NULL;
	struct inv_stock s;
	char serial[INV_SERIAL_MAX + 1] = "", to[INV_ID_MAX + 1] = "";
	char note[256] = "", d[600], why[200] = "";
	const char *code = "inventory";
	int status = 500, rc;

	eng_arg(r, "serial", serial, sizeof(serial));
	eng_arg(r, "location", to, sizeof(to));
	eng_arg(r, "note", note, sizeof(note));
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK) {
		snprintf(why, sizeof(why), "%s", inv_strerror(rc));
		goto refuse;
	}
	if ((status = stock_entry(t, serial, &s, why, sizeof(why), &code)) != 0)
		goto abort;
	if (strcmp(s.location, to) == 0) {
		snprintf(why, sizeof(why), "card %s is already at %s", serial, to);
		code = "same_location";
		status = 409;
		goto abort;
	}
	snprintf(d, sizeof(d), "from %s to %s%s%s", s.location[0] ? s.location :
	    "(unknown)", to, note[0] ? ": " : "", note);
	eng_copy(s.location, sizeof(s.location), to);
	s.updated = eng_now();
	if ((rc = inv_stock_put(t, &s, INV_PUT_UPDATE)) != INV_OK ||
	    (rc = eng_card_event(t, s.guid, "moved", a->name, d)) != INV_OK) {
		inv_abort(t);
	} else {
		rc = inv_commit(t);
	}
	if (rc != INV_OK) {
		snprintf(why, sizeof(why), "%s", inv_strerror(rc));
		status = commit_status(rc);
		goto refuse;
	}
	eng_audit(e, a, "stock_move", serial, "ok", d);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s}", "serial", serial,
	    "location", to));
abort:
	inv_abort(t);
refuse:
	eng_audit(e, a, "stock_move", serial, "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

/*
 * Out of stock for good (destroyed, faulty, lost in the store): the entry
 * goes; a blank record becomes retired with the reason in its history (a
 * wiped card's retired record only gets the line).
 */
int
op_stock_dispose(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_txn *t = NULL;
	struct inv_stock s;
	struct inv_card c;
	char serial[INV_SERIAL_MAX + 1] = "", reason[256] = "", why[200] = "";
	const char *code = "inventory";
	const struct lc_transition *tr = lc_find(e->lc, "dispose");
	int status = 500, rc, to = INV_CARD_RETIRED;

	eng_arg(r, "serial", serial, sizeof(serial));
	eng_arg(r, "reason", reason, sizeof(reason));
	/* The lifecycle's dispose (blank -> disposed in the shipped file);
	 * without it, retired, as before that state existed. */
	if (tr != NULL && lc_from(tr, INV_CARD_STOCK)) {
		if (!lc_allows(tr, a->roles)) {
			status = 403;
			code = "forbidden";
			snprintf(why, sizeof(why), "the lifecycle does not let "
			    "your roles run dispose");
			goto refuse;
		}
		to = tr->to;
	}
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK) {
		snprintf(why, sizeof(why), "%s", inv_strerror(rc));
		goto refuse;
	}
	if ((status = stock_entry(t, serial, &s, why, sizeof(why), &code)) != 0) {
		inv_abort(t);
		goto refuse;
	}
	if ((rc = inv_card_get(t, s.guid, &c)) == INV_OK &&
	    c.state == INV_CARD_STOCK) {
		c.state = to;
		c.updated = eng_now();
		rc = inv_card_put(t, &c, INV_PUT_UPDATE);
	}
	if (rc != INV_OK || (rc = inv_stock_del(t, serial)) != INV_OK ||
	    (rc = eng_card_event(t, s.guid, "disposed", a->name, reason)) !=
	    INV_OK)
		inv_abort(t);
	else
		rc = inv_commit(t);
	if (rc != INV_OK) {
		snprintf(why, sizeof(why), "%s", inv_strerror(rc));
		status = commit_status(rc);
		goto refuse;
	}
	eng_audit(e, a, "stock_dispose", serial, "ok", reason);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s}", "serial", serial,
	    "state", inv_card_state_name(to)));
refuse:
	eng_audit(e, a, "stock_dispose", serial, "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

/* ---- list, levels ------------------------------------------------------- */

struct listing {
	char model[INV_NAME_MAX + 1], location[INV_ID_MAX + 1];
	json_t *rows;
};

static int
list_row(const struct inv_stock *s, void *arg)
{
	struct listing *l = arg;
	char ts[32];
	time_t tt = (time_t)s->received;
	struct tm tm;

	if ((l->model[0] && strcmp(l->model, s->model) != 0) ||
	    (l->location[0] && strcmp(l->location, s->location) != 0))
		return 0;
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(ts, sizeof(ts), "%llu", (unsigned long long)s->received);
	json_array_append_new(l->rows, json_pack("[s, s, s, s, s, s]",
	    s->serial, s->model, s->location, s->batch, ts, s->by));
	return 0;
}

int
q_stock_list(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "serial", "model", "location",
	    "batch", "received", "by", NULL };
	struct inv_txn *t = NULL;
	struct listing l;
	json_t *rep = eng_report_new("stock_cards", cols);
	int rc;

	memset(&l, 0, sizeof(l));
	l.rows = json_object_get(rep, "rows");
	eng_arg(r, "model", l.model, sizeof(l.model));
	eng_arg(r, "location", l.location, sizeof(l.location));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_stock_foreach(t, list_row, &l);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(rep);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_report_answer(e, r, id, rep);
}

struct level {
	char model[INV_NAME_MAX + 1], location[INV_ID_MAX + 1];
	uint64_t n;
};

struct levels {
	struct level *v;
	size_t n;
};

static struct level *
level_of(struct levels *lv, const char *model, const char *location)
{
	for (size_t i = 0; i < lv->n; i++)
		if (strcmp(lv->v[i].model, model) == 0 &&
		    strcmp(lv->v[i].location, location) == 0)
			return &lv->v[i];
	if (lv->n >= STK_LEVELS_MAX)
		return NULL;
	eng_copy(lv->v[lv->n].model, sizeof(lv->v[0].model), model);
	eng_copy(lv->v[lv->n].location, sizeof(lv->v[0].location), location);
	lv->v[lv->n].n = 0;
	return &lv->v[lv->n++];
}

static int
count_level(const struct inv_stock *s, void *arg)
{
	struct level *l = level_of(arg, s->model, s->location);

	if (l == NULL)
		return INV_ERR_FULL;	/* more pairs than a report shows */
	l->n++;
	return 0;
}

static int
level_cmp(const void *a, const void *b)
{
	const struct level *x = a, *y = b;
	int c = strcmp(x->model, y->model);

	return c != 0 ? c : strcmp(x->location, y->location);
}

/*
 * [out] *rows: [model, location, cards, threshold, status] per pair in
 * stock or with a threshold (a threshold with no card is a level of 0);
 * status "low" below the threshold, "ok" at or above it, "" without one.
 * *low: pairs below. INV_OK or an inventory error.
 */
int
stk_levels(struct engine *e, json_t **rows, uint64_t *total, size_t *low)
{
	const struct dconf_stock *st = cfg(e);
	struct inv_txn *t = NULL;
	struct levels lv = { NULL, 0 };
	int rc;

	*rows = NULL;
	*total = 0;
	*low = 0;
	if ((lv.v = calloc(STK_LEVELS_MAX, sizeof(*lv.v))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_stock_foreach(t, count_level, &lv);
	inv_abort(t);
	for (size_t i = 0; rc == INV_OK && i < st->nmin; i++)
		if (level_of(&lv, st->min[i].model, st->min[i].location) == NULL)
			rc = INV_ERR_FULL;
	if (rc != INV_OK) {
		free(lv.v);
		return rc;
	}
	qsort(lv.v, lv.n, sizeof(*lv.v), level_cmp);
	*rows = json_array();
	for (size_t i = 0; i < lv.n; i++) {
		const struct dconf_stock_min *m = dconf_stock_min(st,
		    lv.v[i].model, lv.v[i].location);
		const char *status = m == NULL ? "" : lv.v[i].n < m->min ?
		    "low" : "ok";

		if (m != NULL && lv.v[i].n < m->min)
			(*low)++;
		*total += lv.v[i].n;
		json_array_append_new(*rows, m != NULL ?
		    json_pack("[s, s, I, I, s]", lv.v[i].model,
		    lv.v[i].location, (json_int_t)lv.v[i].n, (json_int_t)m->min,
		    status) : json_pack("[s, s, I, n, s]", lv.v[i].model,
		    lv.v[i].location, (json_int_t)lv.v[i].n, status));
	}
	free(lv.v);
	return INV_OK;
}

int
q_report_stock(struct engine *e, const struct ops_req *r, uint64_t id)
{
	static const char *const cols[] = { "model", "location", "cards",
	    "threshold", "status", NULL };
	json_t *rep = eng_report_new("stock", cols), *rows = NULL;
	uint64_t total;
	size_t low;
	int rc;

	if ((rc = stk_levels(e, &rows, &total, &low)) != INV_OK) {
		json_decref(rep);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	json_object_set_new(rep, "rows", rows);
	json_object_set_new(rep, "cards", json_integer((json_int_t)total));
	json_object_set_new(rep, "low", json_integer((json_int_t)low));
	json_object_set_new(rep, "station_location",
	    json_string(cfg(e)->location));
	return eng_report_answer(e, r, id, rep);
}

/* ---- issuance and reuse ------------------------------------------------- */

int
stk_check_issue(struct engine *e, const char *serial, char *why, size_t cap)
{
	const struct dconf_stock *st = cfg(e);
	struct inv_txn *t = NULL;
	struct inv_stock s;
	int rc;

	if (!st->require)
		return 0;
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_stock_get(t, serial, &s);
	inv_abort(t);
	if (rc == INV_ERR_NOTFOUND) {
		snprintf(why, cap, "not_in_stock: card %s is not in the "
		    "station's stock (receive it first: cardmgr stock receive)",
		    serial);
		return -1;
	}
	if (rc != INV_OK) {
		snprintf(why, cap, "inventory error: %s", inv_strerror(rc));
		return -1;
	}
	if (st->location[0] != '\0' && strcmp(st->location, s.location) != 0) {
		snprintf(why, cap, "not_in_stock: card %s is in stock at %s, "
		    "not at this station's %s (move it first)", serial,
		    s.location[0] ? s.location : "an unknown location",
		    st->location);
		return -1;
	}
	return 0;
}

/* History lines of a stock record, kept to be written again. */
struct stk_lines {
	struct inv_event *v;
	size_t n, cap;
};

static int
keep_line(const struct inv_event *ev, void *arg)
{
	struct stk_lines *l = arg;
	struct inv_event *nv;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;

		if (cap > 4096 || (nv = realloc(l->v, cap * sizeof(*nv))) == NULL)
			return INV_ERR_NOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *ev;
	return 0;
}

void
stk_lines_free(struct stk_lines *l)
{
	if (l == NULL)
		return;
	free(l->v);
	free(l);
}

int
stk_take_record(struct inv_txn *t, const struct inv_card *old,
    struct stk_lines **out)
{
	struct stk_lines *l;
	int rc;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_event_foreach(t, old->guid, keep_line, l)) != INV_OK ||
	    (rc = inv_card_del(t, old->guid)) != INV_OK) {
		stk_lines_free(l);
		return rc;
	}
	*out = l;
	return INV_OK;
}

int
stk_take(struct inv_txn *t, const char *serial, const uint8_t guid[16],
    const char *actor, struct stk_lines *lines)
{
	struct inv_stock s;
	struct inv_event ev;
	char d[400];
	int rc = INV_OK;

	/* The stock record's lines, times and actors as they were. */
	for (size_t i = 0; lines != NULL && i < lines->n && rc == INV_OK; i++) {
		ev = lines->v[i];
		memcpy(ev.guid, guid, sizeof(ev.guid));
		rc = inv_event_append(t, &ev, NULL);
	}
	if (rc != INV_OK)
		return rc;
	if ((rc = inv_stock_get(t, serial, &s)) == INV_ERR_NOTFOUND)
		return INV_OK;		/* not from stock (require off) */
	if (rc != INV_OK || (rc = inv_stock_del(t, serial)) != INV_OK)
		return rc;
	snprintf(d, sizeof(d), "batch %s, location %s", s.batch,
	    s.location[0] ? s.location : "(unknown)");
	return eng_card_event(t, guid, "from_stock", actor, d);
}

int
stk_return_in(struct engine *e, struct inv_txn *t, const struct inv_card *c,
    const char *actor, const char *why)
{
	struct inv_stock s;
	char d[400];
	int rc;

	memset(&s, 0, sizeof(s));
	eng_copy(s.serial, sizeof(s.serial), c->serial);
	memcpy(s.guid, c->guid, sizeof(s.guid));
	eng_copy(s.model, sizeof(s.model), c->model[0] ? c->model : "unknown");
	eng_copy(s.location, sizeof(s.location), cfg(e)->location);
	eng_copy(s.batch, sizeof(s.batch), "returned");
	eng_copy(s.by, sizeof(s.by), actor);
	s.received = s.updated = eng_now();
	snprintf(d, sizeof(d), "%s, location %s", why,
	    s.location[0] ? s.location : "(unknown)");
	/* 0, not NEW: a card seen in stock already stays there, once. */
	if ((rc = inv_stock_put(t, &s, 0)) != INV_OK)
		return rc;
	return eng_card_event(t, c->guid, "to_stock", actor, d);
}

int
stk_return(struct engine *e, const struct inv_card *c, const char *actor)
{
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = stk_return_in(e, t, c, actor, "wiped for reuse")) !=
	    INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}
