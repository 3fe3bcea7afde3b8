/* query: the engine's answers that read (or add to) the inventory. */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cardops.h"
#include "policy/renew.h"
#include "pcsc.h"
#include "proc/log.h"

json_t *
q_card_json(const struct inv_card *c)
{
	char guid[33];

	eng_hex(c->guid, 16, guid);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:I, s:I, s:I, "
	    "s:i}", "guid", guid, "serial", c->serial, "model", c->model,
	    "profile", c->profile, "profile_version", (int)c->profile_version,
	    "state", inv_card_state_name(c->state), "holder", c->holder,
	    "pending_ca", (int)c->pending_ca, "created", (json_int_t)c->created,
	    "updated", (json_int_t)c->updated, "expires", (json_int_t)c->expires,
	    "master_key_version", (int)c->mk_version);
}

static int
count_states(struct engine *e, json_t *counts)
{
	struct inv_txn *t = NULL;
	uint64_t n[INV_CARD_NSTATES];
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
		return rc;
	rc = inv_card_count_by_state(t, n);
	inv_abort(t);
	if (rc != INV_OK)
		return rc;
	for (int s = 0; s < INV_CARD_NSTATES; s++)
		json_object_set_new(counts, inv_card_state_name(s),
		    json_integer((json_int_t)n[s]));
	return INV_OK;
}

/*
 * Held is set once, after its reason (eng_ca_drain), and never cleared: read
 * without ca_mu, which a drain holds across CA requests. GET /v1/status
 * must not wait for the CA (it did: p99 137 ms while 8 readers issued).
 */
static int
ca_held(struct engine *e)
{
	return __atomic_load_n(&e->ca_held, __ATOMIC_ACQUIRE);
}

/* keyd's token: "ok", or "damaged" with what to do (set once at start). */
static json_t *
token_json(struct engine *e)
{
	if (!e->token_bad)
		return json_pack("{s:s}", "state", "ok");
	return json_pack("{s:s, s:s}", "state", "damaged", "detail",
	    "station token damaged or missing: restore it from its backup "
	    "(docs/keystore.md); card operations that need its keys are "
	    "refused and the CA journal is held until then");
}

/* The first pending operation: how often it was tried, and why it failed. */
static int
head_one(const struct outbox_op *op, void *arg)
{
	json_t **head = arg;

	*head = json_pack("{s:I, s:i, s:s}", "id", (json_int_t)op->id,
	    "attempts", (int)op->attempts, "last_error", op->detail);
	return 1;	/* stop: only the head */
}

/* The CA journal: configured, pending work and its head, held and why. */
static json_t *
ca_json(struct engine *e)
{
	struct outbox_counts c;
	json_t *j, *head = NULL;
	int held;

	if (e->cast == NULL)
		return json_pack("{s:b}", "configured", 0);
	memset(&c, 0, sizeof(c));
	/* LMDB reads: safe beside the drain and the senders, no ca_mu. */
	held = ca_held(e);
	(void)outbox_count(cast_outbox(e->cast), &c);
	j = json_pack("{s:b, s:I, s:I, s:b}", "configured", 1, "pending",
	    (json_int_t)c.pending, "failed", (json_int_t)c.failed, "held",
	    held);
	if (j != NULL && held)
		json_object_set_new(j, "held_why", json_string(e->ca_held_why));
	if (j != NULL && c.pending > 0 &&
	    outbox_foreach(cast_outbox(e->cast), 1, head_one, &head) == 1 &&
	    head != NULL)
		json_object_set_new(j, "head", head);
	return j;
}

int
q_status(struct engine *e, const struct ops_req *r, uint64_t id)
{
	json_t *counts = json_object();
	int rc;

	(void)r;
	if ((rc = count_states(e, counts)) != INV_OK) {
		json_decref(counts);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:s, s:I, s:i, s:i, s:o, s:o, "
	    "s:o}", "status", e->token_bad || ca_held(e) ? "degraded" : "ready",
	    "uptime", (json_int_t)(time(NULL) - e->started),
	    "master_key_version", (int)e->master_version,
	    "profiles", (int)prof_set_count(e->profiles), "cards", counts,
	    "station_token", token_json(e), "ca", ca_json(e)));
}

/*
 * Renewal on presentation: what the card in the reader needs, slots and
 * reasons only (anyone at the kiosk sees this; serials are for operators,
 * GET /v1/cards/{card}/requirements).
 */
static void
reader_requirements(struct engine *e, struct inv_txn *t,
    const struct inv_card *c, json_t *j)
{
	struct rnw_list *l = malloc(sizeof(*l));
	json_t *list, *it;
	size_t i;

	if (l == NULL || eng_renew_list(e, t, c, l) != INV_OK) {
		free(l);
		return;
	}
	list = eng_renew_json(l);
	json_array_foreach(list, i, it) {
		json_object_del(it, "old_serial");
		json_object_del(it, "revoke");
	}
	json_object_set_new(j, "requirements", list);
	free(l);
}

/*
 * One reader and the card in it: present or not, and if it is a PIV card,
 * its serial, GUID and what the inventory says of it. A reader an operation
 * holds is reported busy, not touched.
 */
static json_t *
reader_json(struct engine *e, const char *name)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	struct inv_txn *t = NULL;
	struct inv_card c;
	char detail[128], guid[33], serial[24];
	json_t *j = json_pack("{s:s}", "name", name);
	int rc;

	switch (eng_reader_claim(e, name)) {
	case 0:
		break;
	case ENG_NOT_RESPONDING:
		json_object_set_new(j, "state", json_string("card not responding"));
		return j;
	default:
		json_object_set_new(j, "state", json_string("busy"));
		return j;
	}
	memset(&k, 0, sizeof(k));
	/* A context per reader: one that stops answering spends only its own. */
	if ((rc = eng_pcsc_open(e, &pc)) != PCSC_OK ||
	    (rc = cops_open(pc, name, &k, detail, sizeof(detail))) != COPS_OK) {
		json_object_set_new(j, "state", json_string(
		    rc == COPS_ERR_NOT_RESPONDING ? "card not responding" :
		    k.pc == NULL && k.atr_len == 0 ? "empty" : "unknown card"));
		goto out;
	}
	json_object_set_new(j, "state", json_string("card"));
	if (k.id.has_serial) {
		snprintf(serial, sizeof(serial), "%u", k.id.serial);
		json_object_set_new(j, "serial", json_string(serial));
	}
	if (k.id.has_chuid && k.id.chuid.has_guid) {
		eng_hex(k.id.chuid.guid, 16, guid);
		json_object_set_new(j, "guid", json_string(guid));
		if (inv_begin(e->inv, 0, &t) == INV_OK) {
			if (inv_card_get(t, k.id.chuid.guid, &c) == INV_OK) {
				json_object_set_new(j, "inventory",
				    json_string(inv_card_state_name(c.state)));
				/* The kiosk shows its PIN rules before the
				 * holder types (GET /v1/profiles). */
				json_object_set_new(j, "profile",
				    json_string(c.profile));
				reader_requirements(e, t, &c, j);
			}
			inv_abort(t);
		}
	}
	if (!json_object_get(j, "inventory"))
		json_object_set_new(j, "inventory", json_string("unknown"));
out:
	cops_close(&k);
	eng_pcsc_close(e, pc, name);
	eng_reader_release(e, name);
	return j;
}

int
q_readers(struct engine *e, const struct ops_req *r, uint64_t id)
{
	struct pcsc_ctx *pc = NULL;
	char **names = NULL;
	size_t n = 0;
	json_t *list;
	int rc;

	(void)r;
	if ((rc = pcsc_init(&pc)) != PCSC_OK)
		return eng_error(e, id, 503, "pcsc", "%s", pcsc_strerror(rc));
	rc = pcsc_list_readers(pc, &names, &n);
	list = json_array();
	for (size_t i = 0; rc == PCSC_OK && i < n; i++)
		json_array_append_new(list, reader_json(e, names[i]));
	pcsc_free_list(names);
	pcsc_done(pc);
	if (rc != PCSC_OK && rc != PCSC_ERR_NO_READERS) {
		json_decref(list);
		return eng_error(e, id, 503, "pcsc", "%s", pcsc_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:o}", "readers", list));
}

int
q_profiles(struct engine *e, const struct ops_req *r, uint64_t id)
{
	json_t *list = json_array();

	(void)r;
	for (size_t i = 0; i < prof_set_count(e->profiles); i++) {
		const struct prof *p = prof_set_get(e->profiles, i);
		json_t *qs = json_array();

		for (size_t k = 0; p->challenge.enabled &&
		    k < p->challenge.nquestions; k++)
			json_array_append_new(qs, json_pack("{s:i, s:s}", "id",
			    p->challenge.questions[k].id, "text",
			    p->challenge.questions[k].text));
		/* The rules are public: the kiosk shows them before typing. */
		json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:i, s:i, "
		    "s:o, s:{s:i, s:i, s:b, s:i, s:i, s:b, s:b}, s:i}",
		    "name", p->name, "version", p->version, "description",
		    p->description, "validity_days", p->validity_days,
		    "answers_enrolled", p->challenge.enabled ?
		    p->challenge.enrolled : 0, "questions", qs, "pin",
		    "min_length", p->pin.min_len, "max_length", p->pin.max_len,
		    "digits_only", p->pin.digits_only, "repeat_run",
		    p->pin.repeat_run, "sequence_run", p->pin.sequence_run,
		    "not_previous", p->pin.not_previous, "blocklist",
		    p->pin.blocklist[0] != '\0', "pin_retries", p->pin_retries));
	}
	return eng_reply(e, id, 200, json_pack("{s:o}", "profiles", list));
}

int
q_holder_add(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_holder h;
	struct inv_txn *t = NULL;
	const struct ops_value *v;
	char buf[256];
	int rc;

	memset(&h, 0, sizeof(h));
	if (eng_copy(h.id, sizeof(h.id), eng_arg(r, "id", buf, sizeof(buf))) ||
	    eng_copy(h.name, sizeof(h.name), eng_arg(r, "name", buf,
	    sizeof(buf))) ||
	    (eng_arg(r, "email", buf, sizeof(buf)) != NULL &&
	    eng_copy(h.email, sizeof(h.email), buf)) ||
	    (eng_arg(r, "org", buf, sizeof(buf)) != NULL &&
	    eng_copy(h.org, sizeof(h.org), buf)) ||
	    (eng_arg(r, "manager_email", buf, sizeof(buf)) != NULL &&
	    eng_copy(h.manager_email, sizeof(h.manager_email), buf)))
		return eng_error(e, id, 400, "too_long",
		    "a holder field is longer than the inventory keeps");
	for (size_t i = 0; i < ops_req_count(r, "attributes") &&
	    h.nattrs < INV_ATTRS_MAX; i++) {
		char *eq;

		v = ops_req_get(r, "attributes", i, NULL);
		if (v == NULL || v->len >= sizeof(buf))
			continue;
		memcpy(buf, v->p, v->len);
		buf[v->len] = '\0';
		if ((eq = strchr(buf, '=')) == NULL || eq == buf ||
		    (size_t)(eq - buf) > INV_ATTR_KEY_MAX ||
		    strlen(eq + 1) > INV_ATTR_VALUE_MAX)
			return eng_error(e, id, 400, "bad_attribute",
			    "attributes are key=value (key <= %d chars)",
			    INV_ATTR_KEY_MAX);
		*eq = '\0';
		eng_copy(h.attrs[h.nattrs].key, sizeof(h.attrs[0].key), buf);
		eng_copy(h.attrs[h.nattrs].value, sizeof(h.attrs[0].value), eq + 1);
		h.nattrs++;
	}
	h.created = h.updated = (uint64_t)time(NULL);
	if ((rc = inv_begin(e->inv, 1, &t)) == INV_OK &&
	    (rc = inv_holder_put(t, &h, INV_PUT_NEW)) == INV_OK)
		rc = inv_commit(t);
	else
		inv_abort(t);
	if (rc == INV_ERR_EXISTS)
		return eng_error(e, id, 409, "exists", "holder %s exists", h.id);
	if (rc != INV_OK)
		return eng_error(e, id, rc == INV_ERR_FULL ? 507 : 500,
		    "inventory", "%s", inv_strerror(rc));
	eng_audit(e, a, "holder_add", h.id, "ok", "");
	return eng_reply(e, id, 201, json_pack("{s:s}", "id", h.id));
}

static int
add_card(const struct inv_card *c, void *arg)
{
	json_array_append_new(arg, q_card_json(c));
	return 0;
}

int
q_holder_get(struct engine *e, const struct ops_req *r, uint64_t id)
{
	struct inv_holder h;
	struct inv_txn *t = NULL;
	char key[80];
	json_t *cards = json_array(), *attrs = json_object();
	int rc;

	eng_arg(r, "holder", key, sizeof(key));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK &&
	    (rc = inv_holder_get(t, key, &h)) == INV_OK)
		rc = inv_cards_of_holder(t, key, add_card, cards);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(cards);
		json_decref(attrs);
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 : 500,
		    rc == INV_ERR_NOTFOUND ? "not_found" : "inventory",
		    "holder %s: %s", key, inv_strerror(rc));
	}
	for (int i = 0; i < h.nattrs; i++)
		json_object_set_new(attrs, h.attrs[i].key,
		    json_string(h.attrs[i].value));
	/* The answers' hashes never leave the engine; only how many exist. */
	return eng_reply(e, id, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, "
	    "s:i, s:I, s:o}", "id", h.id, "name", h.name, "email", h.email, "org",
	    h.org, "manager_email", h.manager_email, "attributes", attrs, "answers_enrolled", (int)h.nanswers,
	    "unblock_locked_until", (json_int_t)h.unblock_locked_until,
	    "cards", cards));
}

static int
state_of(const char *s)
{
	for (int i = 0; i < INV_CARD_NSTATES; i++)
		if (strcmp(inv_card_state_name(i), s) == 0)
			return i;
	return -1;
}

/*
 * A page of cards: a station has thousands, one answer holds at most 64 KB.
 * Order: by state, then GUID; the cursor "STATE.GUID" names the last card of
 * the page before (a card that changes state between pages may be listed
 * twice or not at all).
 */
#define CARD_PAGE_MAX 100	/* ~300 bytes of JSON each, under MSG_PAYLOAD_MAX */
#define PAGE_FULL 1		/* add_page: stop, there is more */

struct card_page {
	json_t *list;
	size_t n, limit;
	int after_state;	/* -1: from the start */
	uint8_t after[16];
	int state;		/* the state being walked */
	char next[48];
};

static int
add_page(const struct inv_card *c, void *arg)
{
	struct card_page *x = arg;
	char g[33];

	if (x->state == x->after_state && memcmp(c->guid, x->after, 16) <= 0)
		return 0;
	if (x->n == x->limit)
		return PAGE_FULL;
	json_array_append_new(x->list, q_card_json(c));
	x->n++;
	eng_hex(c->guid, 16, g);
	snprintf(x->next, sizeof(x->next), "%d.%s", x->state, g);
	return 0;
}

/* "STATE.GUIDHEX" -> x->after_state, x->after; -1 if malformed. */
static int
parse_cursor(const char *s, struct card_page *x)
{
	char *end;
	long st = strtol(s, &end, 10);

	if (end == s || *end != '.' || st < 0 || st >= INV_CARD_NSTATES ||
	    strlen(end + 1) != 32 || sodium_hex2bin(x->after, 16, end + 1, 32,
	    NULL, NULL, NULL) != 0)
		return -1;
	x->after_state = (int)st;
	return 0;
}

int
q_card_list(struct engine *e, const struct ops_req *r, uint64_t id)
{
	const struct ops_value *lv = ops_req_get(r, "limit", 0, NULL);
	struct card_page x;
	struct inv_txn *t = NULL;
	char buf[80];
	int rc, st = -1;
	json_t *j;

	memset(&x, 0, sizeof(x));
	x.list = json_array();
	x.after_state = -1;
	x.limit = lv != NULL && (size_t)lv->i < CARD_PAGE_MAX ? (size_t)lv->i :
	    CARD_PAGE_MAX;
	if (eng_arg(r, "after", buf, sizeof(buf)) != NULL &&
	    parse_cursor(buf, &x) != 0) {
		json_decref(x.list);
		return eng_error(e, id, 400, "bad_cursor", "after: not a cursor "
		    "from a previous page (STATE.GUID)");
	}
	if (eng_arg(r, "state", buf, sizeof(buf)) != NULL &&
	    (st = state_of(buf)) < 0) {
		json_decref(x.list);
		return eng_error(e, id, 400, "bad_state", "no card state '%s'",
		    buf);
	}
	if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
		goto out;
	if (eng_arg(r, "holder", buf, sizeof(buf)) != NULL) {
		/* One walk in GUID order: the cursor's state is only a tag. */
		x.state = x.after_state >= 0 ? x.after_state : 0;
		rc = inv_cards_of_holder(t, buf, add_page, &x);
	} else {
		for (x.state = st >= 0 ? st : x.after_state > 0 ? x.after_state : 0;
		    rc == INV_OK && x.state < INV_CARD_NSTATES &&
		    (st < 0 || x.state == st); x.state++)
			rc = inv_cards_in_state(t, x.state, add_page, &x);
	}
	inv_abort(t);
out:
	if (rc != INV_OK && rc != PAGE_FULL) {
		json_decref(x.list);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	j = json_pack("{s:o}", "cards", x.list);
	if (j != NULL && rc == PAGE_FULL)
		json_object_set_new(j, "next", json_string(x.next));
	return eng_reply(e, id, 200, j);
}

static int
add_cert(const struct inv_cert *c, void *arg)
{
	static const char *const names[INV_CERT_NSTATUS] = { "valid",
		"revoked", "hold", "pending_revoke", "pending_hold",
		"pending_unhold" };

	json_array_append_new(arg, json_pack("{s:s, s:i, s:s, s:I, s:I, s:i, "
	    "s:s, s:i}", "serial", c->serial, "slot", c->slot, "subject",
	    c->subject, "not_before", (json_int_t)c->not_before, "not_after",
	    (json_int_t)c->not_after, "status", c->status, "status_name",
	    c->status < INV_CERT_NSTATUS ? names[c->status] : "unknown",
	    "reason", c->reason));
	return 0;
}

static int
add_event(const struct inv_event *ev, void *arg)
{
	json_array_append_new(arg, json_pack("{s:i, s:I, s:s, s:s, s:s}", "seq",
	    (int)ev->seq, "time", (json_int_t)ev->time, "event", ev->name,
	    "actor", ev->actor, "detail", ev->detail));
	return 0;
}

int
q_card_get(struct engine *e, const struct ops_req *r, uint64_t id)
{
	struct inv_card c;
	struct inv_txn *t = NULL;
	char key[80];
	json_t *certs = json_array(), *hist = json_array(), *j;
	int rc;

	eng_arg(r, "card", key, sizeof(key));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK &&
	    (rc = eng_find_card(t, key, &c)) == INV_OK &&
	    (rc = inv_certs_of_card(t, c.guid, add_cert, certs)) == INV_OK)
		rc = inv_event_foreach(t, c.guid, add_event, hist);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(certs);
		json_decref(hist);
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 : 500,
		    rc == INV_ERR_NOTFOUND ? "not_found" : "inventory",
		    "card %s: %s", key, inv_strerror(rc));
	}
	j = q_card_json(&c);
	json_object_set_new(j, "certificates", certs);
	json_object_set_new(j, "history", hist);
	return eng_reply(e, id, 200, j);
}

struct steps {
	json_t *list;
	char error[INV_DETAIL_MAX + 1];
};

static int
add_step(const struct inv_step *s, void *arg)
{
	struct steps *x = arg;

	if (strcmp(s->name, "error") == 0) {
		size_t n = s->data_len < sizeof(x->error) - 1 ? s->data_len :
		    sizeof(x->error) - 1;

		memcpy(x->error, s->data, n);
		x->error[n] = '\0';
		return 0;
	}
	json_array_append_new(x->list, json_pack("{s:i, s:s, s:i}", "no",
	    (int)s->no, "name", s->name, "state", s->state));
	return 0;
}

/* Operation n as JSON (NULL and *rc on error); [out] *running, *nsteps. */
static json_t *
op_json(struct engine *e, unsigned long long n, int *rc, int *running,
    size_t *nsteps)
{
	struct inv_op op;
	struct inv_txn *t = NULL;
	struct steps x = { json_array(), "" };
	char guid[33];
	json_t *j;

	if ((*rc = inv_begin(e->inv, 0, &t)) == INV_OK &&
	    (*rc = inv_op_get(t, n, &op)) == INV_OK)
		*rc = inv_op_steps_foreach(t, n, add_step, &x);
	inv_abort(t);
	if (*rc != INV_OK) {
		json_decref(x.list);
		return NULL;
	}
	*running = op.state == INV_OP_RUNNING;
	*nsteps = json_array_size(x.list);
	eng_hex(op.guid, 16, guid);
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "id",
	    (json_int_t)op.id, "type", op.type, "state", op_state_name(op.state),
	    "card", guid, "holder", op.holder, "operator", op.oper, "created",
	    (json_int_t)op.created, "updated", (json_int_t)op.updated, "steps",
	    x.list);
	if (j != NULL && x.error[0] != '\0')
		json_object_set_new(j, "error", json_string(x.error));
	if (j == NULL)
		*rc = INV_ERR_NOMEM;
	return j;
}

/*
 * GET /v1/operations/{op}[?wait=S[&steps=N]]: with wait, the answer comes
 * when the operation has more than N journal steps or has ended, or after S
 * seconds (as it stands then): the CLI and the kiosk follow an issuance
 * step by step without polling. At most ENG_OP_WAITERS wait at once; past
 * that the answer comes at once.
 */
int
q_op_get(struct engine *e, const struct ops_req *r, uint64_t id)
{
	const struct ops_value *w = ops_req_get(r, "wait", 0, NULL);
	const struct ops_value *sv = ops_req_get(r, "steps", 0, NULL);
	size_t want = sv != NULL ? (size_t)sv->i : 0, nsteps = 0;
	struct timespec until;
	char key[80], *end;
	unsigned long long n;
	int rc = INV_OK, running = 0, waiting = 0;
	uint64_t seq;
	json_t *j;

	eng_arg(r, "op", key, sizeof(key));
	n = strtoull(key, &end, 10);
	if (*end != '\0' || n == 0)
		return eng_error(e, id, 400, "bad_op", "operation ids are numbers");
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += w != NULL ? (time_t)w->i : 0;
	pthread_mutex_lock(&e->op_mu);
	if (w != NULL && w->i > 0 && e->op_waiters < ENG_OP_WAITERS) {
		e->op_waiters++;
		waiting = 1;
	}
	pthread_mutex_unlock(&e->op_mu);
	for (;;) {
		pthread_mutex_lock(&e->op_mu);
		seq = e->op_seq;
		pthread_mutex_unlock(&e->op_mu);
		j = op_json(e, n, &rc, &running, &nsteps);
		if (j == NULL || !waiting || !running || nsteps > want)
			break;
		/* Nothing new yet: sleep until the journal moves or time is up. */
		pthread_mutex_lock(&e->op_mu);
		while (e->op_seq == seq && rc == INV_OK)
			if (pthread_cond_timedwait(&e->op_cv, &e->op_mu,
			    &until) == ETIMEDOUT)
				rc = -1;
		pthread_mutex_unlock(&e->op_mu);
		if (rc != INV_OK) {
			rc = INV_OK;
			break;		/* time is up: as it stands */
		}
		json_decref(j);
	}
	if (waiting) {
		pthread_mutex_lock(&e->op_mu);
		e->op_waiters--;
		pthread_mutex_unlock(&e->op_mu);
	}
	if (j == NULL)
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 : 500,
		    rc == INV_ERR_NOTFOUND ? "not_found" : "inventory",
		    "operation %s: %s", key, inv_strerror(rc));
	return eng_reply(e, id, 200, j);
}

int
q_cert_list(struct engine *e, const struct ops_req *r, uint64_t id)
{
	const struct ops_value *v = ops_req_get(r, "expiring_days", 0, NULL);
	uint64_t now = (uint64_t)time(NULL), days = v != NULL ? (uint64_t)v->i : 30;
	struct inv_txn *t = NULL;
	json_t *list = json_array();
	int rc;

	/* From the expiry index: a range scan, never a full scan. */
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_certs_expiring(t, now, now + days * 86400, add_cert, list);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(list);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:I, s:o}", "days",
	    (json_int_t)days, "certificates", list));
}

struct hl {
	json_t *list;
	const char *q;		/* substring of id or name, or NULL */
};

static int
add_holder(const struct inv_holder *h, void *arg)
{
	struct hl *x = arg;

	if (x->q != NULL && strcasestr(h->id, x->q) == NULL &&
	    strcasestr(h->name, x->q) == NULL)
		return 0;
	json_array_append_new(x->list, json_pack("{s:s, s:s, s:s, s:s}", "id",
	    h->id, "name", h->name, "email", h->email, "org", h->org));
	return 0;
}

int
q_holder_list(struct engine *e, const struct ops_req *r, uint64_t id)
{
	const struct ops_value *v = ops_req_get(r, "limit", 0, NULL);
	char after[80], q[80];
	struct hl x = { json_array(), eng_arg(r, "q", q, sizeof(q)) };
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_holders_foreach(t, eng_arg(r, "after", after,
		    sizeof(after)), x.q != NULL ? 0 : v != NULL ? (size_t)v->i :
		    100, add_holder, &x);
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(x.list);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:o}", "holders", x.list));
}
