/*
 * renew: renewal on presentation, carried out. The holder's card in a
 * reader, its PIN (sealed to the station, never logged, wiped): every slot
 * of its requirements list (renew_req.c) gets a new key on the card (or its
 * own key certified again, where the profile says renew_key = "reuse"), a
 * certificate from the CA, written on the card; then the certificates it
 * replaces are revoked with reason superseded.
 *
 * On the issuance journal: an operation "renew" for the card with steps
 * auth, slot_XX begin/done (cardops.c), cert_XX done (the new serial, in
 * the transaction that puts it into the inventory) and the CA's enrollment
 * journal (calink.c). One function settles the operation, at its end and
 * after a crash (eng_renew_recover, at start, for one left RUNNING):
 *   - slot done: the new certificate (cert_XX) is on the card; every other
 *     valid one of the slot and of the slots it supersedes is revoked
 *     (superseded);
 *   - slot begun, not done: the card's key there may be new, its
 *     certificate old or new; every valid one of the slot is revoked, the
 *     CA's answers still in flight included (eng_enroll_orphans), so the
 *     next presentation lists the slot as revoked and renews it;
 *   - slot not begun: untouched.
 * No certificate is lost (each is in the inventory or the CA journal) and
 * none that left the card or never reached it stays unrevoked.
 *
 * The escrowed slot (9d) needing a new key: its current key cannot be read
 * from the card, so keyd opens the holder's escrow blob for it (the newest
 * whose key is the slot's certificate's: rep_find_key) before the card is
 * touched. On the card, after auth: that key and its certificate go to the
 * first free retired slot, the key history counting one more (step
 * retired_XX; keys retired before stay where they are, cops_renew); then
 * keyd makes the new key and its blob, which the inventory keeps (inv_escrow,
 * the card's next generation, aad GUID || slot || generation) in the
 * transaction of step escrow_XX, before the key is imported: a key on the
 * card is always escrowed, a blob whose key never got there is harmless
 * (it has no certificate; a replacement passes it over). The old
 * certificate is revoked as superseded as any other slot's, once the new
 * one is on the card. A torn renewal retries from the card as it is: a key
 * retired already is not retired twice.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "engine/cardops.h"
#include "engine/issue_job.h"
#include "engine/renew_inv.h"
#include "engine/rep_int.h"
#include "policy/renew.h"
#include "proc/log.h"

#define R_SUPERSEDED 4


struct renew {
	struct engine *e;
	const struct prof *p;
	struct inv_card card;
	uint64_t op_id;
	uint32_t step_no;
	char detail[512];
	/* The escrowed slot renewed with a new key (0: none): its current
	 * key and certificate, for the retired slot. */
	int km_slot;
	EVP_PKEY *old_priv;
	X509 *old_cert;
};

/* ---- journal ------------------------------------------------------------ */

static int
step_in(struct renew *w, struct inv_txn *t, const char *name,
    const char *state, const uint8_t *d, size_t len)
{
	return eng_step_put(t, w->op_id, ++w->step_no, name, state, d, len,
	    NULL);
}

static int
h_step(void *arg, const char *name, const char *state, const uint8_t *d,
    size_t len)
{
	struct renew *w = arg;
	struct inv_txn *t = NULL;
	char at[INV_EVENT_MAX + 1];

	if (inv_begin(w->e->inv, 1, &t) != INV_OK)
		return -1;
	if (step_in(w, t, name, state, d, len) != INV_OK) {
		inv_abort(t);
		return -1;
	}
	if (inv_commit(t) != INV_OK)
		return -1;
	eng_op_changed(w->e);
	snprintf(at, sizeof(at), "%s:%s", name, state);
	eng_crash_point(at);
	return 0;
}

/* The CA's certificate into the inventory with its cert_XX step, at once. */
static int
h_enroll(void *arg, int slot, const char *prof, const uint8_t *csr,
    size_t len, X509 **cert)
{
	struct renew *w = arg;
	struct outbox_op op;
	struct inv_cert *c = NULL;
	struct inv_txn *t = NULL;
	const uint8_t *p;
	uint64_t obid = 0;
	char why[200], name[24];
	int rc;

	*cert = NULL;
	memset(&op, 0, sizeof(op));
	if (w->e->cast == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	rc = eng_ca_enroll(w->e, w->card.guid, slot, prof, csr, len, &obid,
	    why, sizeof(why));
	if (rc == CAST_OK && outbox_get(cast_outbox(w->e->cast), obid, &op) !=
	    OUTBOX_OK)
		rc = CAST_ERR_STATE;
	if (rc != CAST_OK) {
		snprintf(w->detail, sizeof(w->detail), "CA: %s: %s",
		    cast_strerror(rc), why);
		goto out;
	}
	eng_crash_point("enroll:answered");
	p = op.result;
	if (eng_cert_record(op.result, op.result_len, w->card.guid, slot,
	    c) != 0 || (*cert = d2i_X509(NULL, &p, (long)op.result_len)) ==
	    NULL) {
		rc = -1;
		goto out;
	}
	snprintf(name, sizeof(name), "cert_%02x", slot);
	if ((rc = inv_begin(w->e->inv, 1, &t)) == INV_OK) {
		if ((rc = inv_cert_put(t, c, 0)) == INV_OK &&
		    (rc = eng_enroll_unlink(t, w->card.guid, obid)) == INV_OK &&
		    (rc = step_in(w, t, name, "done", (const uint8_t *)c->serial,
		    strlen(c->serial))) == INV_OK)
			rc = inv_commit(t);
		else
			inv_abort(t);
	}
	if (rc == INV_OK) {
		snprintf(name, sizeof(name), "cert_%02x:done", slot);
		eng_crash_point(name);
	}
out:
	free(c);
	if (rc != 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	outbox_op_clear(&op);
	return rc == 0 ? 0 : -1;
}

struct maxgen {
	uint32_t gen;
};

static int
max_gen(const struct inv_escrow *es, void *arg)
{
	struct maxgen *m = arg;

	if (es->gen > m->gen)
		m->gen = es->gen;
	return 0;
}

/*
 * A new escrowed key for the slot: keyd's blob kept as the card's next
 * generation, with step escrow_XX, in one transaction before the card sees
 * the key (cardops imports it when this returns).
 */
static int
h_escrow(void *arg, const uint8_t guid[16], int slot, int alg,
    EVP_PKEY **priv)
{
	struct renew *w = arg;
	struct inv_escrow *x = calloc(1, sizeof(*x));
	struct inv_txn *t = NULL;
	struct maxgen m = { 0 };
	uint8_t aad[REP_AAD_MAX], *blob = NULL, g[4];
	size_t blen = 0, alen;
	char name[24];
	int rc = -1;

	*priv = NULL;
	if (x == NULL || slot != w->km_slot)
		goto out;
	if (inv_begin(w->e->inv, 0, &t) != INV_OK)
		goto out;
	rc = inv_escrows_of_card(t, guid, max_gen, &m);
	inv_abort(t);
	t = NULL;
	if (rc != INV_OK || m.gen == UINT32_MAX) {
		rc = -1;
		goto out;
	}
	memcpy(x->guid, guid, 16);
	x->gen = m.gen + 1;
	x->slot = (uint8_t)slot;
	x->created = (uint64_t)time(NULL);
	alen = rep_escrow_aad(guid, slot, x->gen, aad);
	rc = -1;
	if (keyc_escrow(w->e, alg, aad, alen, &blob, &blen, priv) != 0)
		goto out;
	if (blen == 0 || blen > sizeof(x->blob))
		goto out;
	memcpy(x->blob, blob, blen);
	x->len = (uint16_t)blen;
	g[0] = (uint8_t)(x->gen >> 24);
	g[1] = (uint8_t)(x->gen >> 16);
	g[2] = (uint8_t)(x->gen >> 8);
	g[3] = (uint8_t)x->gen;
	snprintf(name, sizeof(name), "escrow_%02x", slot);
	if (inv_begin(w->e->inv, 1, &t) != INV_OK)
		goto out;
	if (inv_escrow_put(t, x, INV_PUT_NEW) != INV_OK ||
	    step_in(w, t, name, "done", g, sizeof(g)) != INV_OK) {
		inv_abort(t);
		goto out;
	}
	if (inv_commit(t) != INV_OK)
		goto out;
	eng_op_changed(w->e);
	snprintf(name, sizeof(name), "escrow_%02x:done", slot);
	eng_crash_point(name);
	rc = 0;
out:
	free(blob);
	free(x);
	if (rc != 0) {
		EVP_PKEY_free(*priv);
		*priv = NULL;
	}
	return rc;
}

/* The escrowed slot's current key and certificate (i = 0 only). */
static int
h_retired(void *arg, int i, EVP_PKEY **priv, X509 **cert)
{
	struct renew *w = arg;

	*priv = NULL;
	*cert = NULL;
	if (i != 0 || w->old_priv == NULL || w->old_cert == NULL ||
	    EVP_PKEY_up_ref(w->old_priv) != 1)
		return -1;
	if (X509_up_ref(w->old_cert) != 1) {
		EVP_PKEY_free(w->old_priv);
		return -1;
	}
	*priv = w->old_priv;
	*cert = w->old_cert;
	return 0;
}

/* ---- settling: the one end of every renewal ----------------------------- */

#define SLOTS 256

struct journal {
	uint8_t begun[SLOTS], done[SLOTS];
	char cert[SLOTS][INV_CERT_SERIAL_MAX + 1];	/* cert_XX's serial */
	int ok;				/* step "end:ok": the card work ended well */
	int all;			/* ... every slot of the list, none skipped */
};

static int
read_step(const struct inv_step *s, void *arg)
{
	struct journal *j = arg;
	unsigned slot;
	char what[8], state[8];

	if (strcmp(s->name, "end:ok") == 0) {
		j->ok = 1;
		j->all = s->data_len == 3 && memcmp(s->data, "all", 3) == 0;
	}
	if (sscanf(s->name, "%4[a-z]_%2x:%5[a-z]", what, &slot, state) != 3 ||
	    slot >= SLOTS)
		return 0;
	if (strcmp(what, "slot") == 0 && strcmp(state, "begin") == 0)
		j->begun[slot] = 1;
	else if (strcmp(what, "slot") == 0 && strcmp(state, "done") == 0)
		j->done[slot] = 1;
	else if (strcmp(what, "cert") == 0 && s->data_len > 0 &&
	    s->data_len <= INV_CERT_SERIAL_MAX) {
		memcpy(j->cert[slot], s->data, s->data_len);
		j->cert[slot][s->data_len] = '\0';
	}
	return 0;
}

struct revoke_ctx {
	struct engine *e;
	struct inv_txn *t;
	const struct prof *p;
	struct journal *j;
	unsigned revoked, kept;
	int rc;
};

/* The profile slot whose renewal revokes certificates of slot, or -1. */
static int
owner_slot(const struct prof *p, const struct journal *j, uint8_t slot)
{
	size_t i, k;

	if (j->begun[slot])
		return slot;
	for (i = 0; p != NULL && i < p->nslots; i++)
		for (k = 0; k < p->slots[i].nsupersedes; k++)
			if (p->slots[i].supersedes[k] == slot &&
			    j->done[p->slots[i].slot])
				return p->slots[i].slot;
	return -1;
}

static int
revoke_one(const struct inv_cert *c, void *arg)
{
	struct revoke_ctx *x = arg;
	int own = owner_slot(x->p, x->j, c->slot);

	if (c->status != INV_CERT_VALID || own < 0)
		return 0;
	/* The certificate now on the card stays. */
	if (x->j->done[own] && own == c->slot &&
	    strcmp(x->j->cert[own], c->serial) == 0) {
		x->kept++;
		return 0;
	}
	if ((x->rc = eng_queue_cert_revoke(x->e, x->t, c, R_SUPERSEDED)) !=
	    INV_OK)
		return 1;
	x->revoked++;
	return 0;
}

/*
 * In one transaction: the revocations the journal calls for, the card's
 * pending count and (all renewed) profile version, the operation's end,
 * the history line. what: "renewed" or why it stopped.
 */
static int
settle(struct engine *e, uint64_t op_id, const char *actor, const char *why,
    char *summary, size_t cap)
{
	struct revoke_ctx x;
	struct journal *j = calloc(1, sizeof(*j));
	struct inv_txn *t = NULL;
	struct inv_card c;
	struct inv_op op;
	const struct prof *p;
	char key[48];
	int rc;

	if (j == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		goto out;
	if ((rc = inv_op_get(t, op_id, &op)) != INV_OK ||
	    (rc = inv_card_get(t, op.guid, &c)) != INV_OK ||
	    (rc = inv_op_steps_foreach(t, op_id, read_step, j)) != INV_OK)
		goto fail;
	p = prof_find(e->profiles, c.profile);
	/* What the CA answered and the inventory does not hold yet is put
	 * there now (and revoked below), or revoked when it lands. */
	if ((rc = eng_enroll_orphans(e, t, c.guid, R_SUPERSEDED)) != INV_OK)
		goto fail;
	memset(&x, 0, sizeof(x));
	x.e = e;
	x.t = t;
	x.p = p;
	x.j = j;
	if ((rc = inv_certs_of_card(t, c.guid, revoke_one, &x)) != INV_OK ||
	    (rc = x.rc) != INV_OK ||
	    (rc = eng_card_pending(t, c.guid, &c.pending_ca)) != INV_OK)
		goto fail;
	/* Every slot renewed: the card is of the profile's version now. */
	if (j->all && p != NULL)
		c.profile_version = (uint32_t)p->version;
	c.updated = (uint64_t)time(NULL);
	if ((rc = inv_card_put(t, &c, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	op.state = j->ok ? INV_OP_DONE : INV_OP_FAILED;
	op.updated = c.updated;
	if ((rc = inv_op_put(t, &op)) != INV_OK)
		goto fail;
	snprintf(summary, cap, "%s; %u new certificate(s) on the card, %u "
	    "revoked as superseded", j->ok ? "renewed" : why, x.kept,
	    x.revoked);
	if ((rc = eng_card_event(t, c.guid, j->ok ? "renewed" :
	    "renew_failed", actor, summary)) != INV_OK)
		goto fail;
	snprintf(key, sizeof(key), "renewing:%016llx",
	    (unsigned long long)op_id);
	inv_meta_del(t, key);
	rc = inv_commit(t);
	t = NULL;
fail:
	if (t != NULL)
		inv_abort(t);
out:
	free(j);
	return rc;
}

/* ---- the operation -------------------------------------------------------- */

/* Record the RUNNING operation "renew" for the card, and its meta key. */
static int
op_start(struct renew *w, const struct actor *a)
{
	struct inv_txn *t = NULL;
	struct inv_op op;
	char key[48];
	uint8_t one = 1;
	int rc;

	memset(&op, 0, sizeof(op));
	eng_copy(op.type, sizeof(op.type), "renew");
	op.state = INV_OP_RUNNING;
	memcpy(op.guid, w->card.guid, 16);
	eng_copy(op.holder, sizeof(op.holder), w->card.holder);
	eng_copy(op.oper, sizeof(op.oper), a->name);
	op.created = op.updated = (uint64_t)time(NULL);
	if ((rc = inv_begin(w->e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_op_add(t, &op, &w->op_id)) == INV_OK) {
		snprintf(key, sizeof(key), "renewing:%016llx",
		    (unsigned long long)w->op_id);
		rc = inv_meta_put(t, key, &one, 1);
	}
	if (rc != INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}

/* The old certificate's public key, for renew_key = "reuse". */
static EVP_PKEY *
old_key(struct engine *e, const char *serial)
{
	struct inv_txn *t = NULL;
	struct inv_cert *c = calloc(1, sizeof(*c));
	EVP_PKEY *k = NULL;
	const uint8_t *p;
	X509 *x = NULL;

	if (c != NULL && inv_begin(e->inv, 0, &t) == INV_OK &&
	    inv_cert_get(t, serial, c) == INV_OK) {
		p = c->der;
		if ((x = d2i_X509(NULL, &p, (long)c->der_len)) != NULL)
			k = X509_get_pubkey(x);
	}
	inv_abort(t);
	X509_free(x);
	free(c);
	return k;
}

/*
 * The escrowed slot's key now on the card: its newest certificate (any
 * status: a revoked one's key is still there) and the key, from escrow.
 * 0, or -1 with *why.
 */
static int
retiring_key(struct renew *w, int slot, const char **why)
{
	struct rep_certfind *f = calloc(1, sizeof(*f));
	struct inv_txn *t = NULL;
	const uint8_t *p;
	int rc = -1;

	*why = "inventory error";
	if (f == NULL || inv_begin(w->e->inv, 0, &t) != INV_OK ||
	    rep_card_cert(t, w->card.guid, slot, NULL, f) != INV_OK)
		goto out;
	inv_abort(t);
	t = NULL;
	*why = "the escrowed slot has no certificate to retire";
	p = f->best.der;
	if (!f->found || (w->old_cert = d2i_X509(NULL, &p,
	    (long)f->best.der_len)) == NULL)
		goto out;
	rc = rep_find_key(w->e, w->card.holder, slot, w->old_cert,
	    &w->old_priv, why);
out:
	inv_abort(t);
	free(f);
	return rc;
}

/* The card plan for the list (skipped[]: none left out, kept for clients). */
static int
make_plan(struct renew *w, const struct inv_holder *h,
    const struct rnw_list *l, struct cops_plan *plan)
{
	const struct prof_slot *ps;
	struct cops_slot *s;
	size_t i;

	memset(plan, 0, sizeof(*plan));
	plan->mgmt_alg = eng_mgmt_alg(w->p);
	for (i = 0; i < l->n; i++) {
		if ((ps = prof_slot(w->p, l->items[i].slot)) == NULL ||
		    plan->nslots >= COPS_MAX_SLOTS)
			return -1;
		s = &plan->slots[plan->nslots];
		if (eng_slot_plan(ps, h, w->card.serial, s) != 0)
			return -1;
		if (!l->items[i].new_key &&
		    (s->reuse = old_key(w->e, l->items[i].old_serial)) == NULL)
			return -1;
		/* A new escrowed key: the old one is retired first. */
		if (ps->escrow && l->items[i].new_key) {
			if (w->km_slot != 0)
				return -1;	/* one escrowed slot per card */
			w->km_slot = ps->slot;
			plan->nretired = 1;
			plan->retired_pin_policy = s->pin_policy;
			plan->retired_touch_policy = s->touch_policy;
		}
		plan->nslots++;
	}
	return 0;
}

static void
plan_free(struct cops_plan *plan)
{
	for (int i = 0; i < plan->nslots; i++)
		EVP_PKEY_free(plan->slots[i].reuse);
}

struct renew_req {
	char card[80], reader[128];
	char *pin;			/* secure memory */
};

/* Look up, check, and list: 0, or an HTTP status with *code and *why. */
static int
prepare(struct renew *w, struct renew_req *q, struct inv_holder *h,
    struct rnw_list *l, const char **code, const char **why)
{
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(w->e->inv, 0, &t)) != INV_OK)
		return *code = "inventory", *why = inv_strerror(rc), 500;
	rc = eng_find_card(t, q->card, &w->card);
	if (rc == INV_OK && (rc = inv_holder_get(t, w->card.holder, h)) ==
	    INV_OK && w->card.state == INV_CARD_ACTIVE)
		rc = eng_renew_list(w->e, t, &w->card, l);
	inv_abort(t);
	if (rc == INV_ERR_NOTFOUND)
		return *code = "not_found", *why = "the station does not "
		    "know this card", 404;
	if (rc != INV_OK)
		return *code = "inventory", *why = inv_strerror(rc), 500;
	if (w->card.state != INV_CARD_ACTIVE)
		return *code = "card_state", *why = "the card is not active",
		    409;
	if ((w->p = prof_find(w->e->profiles, w->card.profile)) == NULL)
		return *code = "no_profile", *why = "the card's profile is no "
		    "longer configured", 409;
	if (l->n == 0)
		return *code = "nothing_to_renew", *why = "the card needs "
		    "nothing", 409;
	return 0;
}

/* The card work; 0, or an HTTP status with *code, *why (w->detail). */
static int
card_work(struct renew *w, struct renew_req *q, const struct cops_plan *plan,
    int all, int *tries, const char **code, const char **why)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	struct keyc_card kc;
	struct cops_hooks h;
	int rc, status = 0;

	memset(&k, 0, sizeof(k));
	memset(&h, 0, sizeof(h));
	h.arg = w;
	h.step = h_step;
	h.enroll = h_enroll;
	h.escrow = h_escrow;
	h.retired = h_retired;
	kc.e = w->e;
	kc.version = w->card.mk_version;
	memcpy(kc.guid, w->card.guid, 16);
	kc.alg = plan->mgmt_alg;
	if (eng_pcsc_open(w->e, &pc) != PCSC_OK ||
	    cops_open(pc, q->reader, &k, w->detail, sizeof(w->detail)) !=
	    COPS_OK) {
		status = 409, *code = "no_card", *why = "no card in this reader";
		goto out;
	}
	if (!k.id.has_chuid || !k.id.chuid.has_guid ||
	    memcmp(k.id.chuid.guid, w->card.guid, 16) != 0) {
		status = 409, *code = "different_card";
		*why = "the card in the reader is not this card";
		goto out;
	}
	rc = cops_renew(&k, plan, q->pin, keyc_mgmt_crypt, &kc, &h, tries,
	    w->detail, sizeof(w->detail));
	if (rc == COPS_ERR_WRONG_PIN) {
		eng_attempt_failed_card(w->e, w->card.guid, w->card.holder);
		status = 403, *code = "wrong_pin", *why = "wrong PIN";
	} else if (rc == COPS_ERR_BLOCKED) {
		status = 423, *code = "pin_blocked";
		*why = "the PIN is blocked: the help desk can unblock it";
		*tries = 0;
	} else if (rc != COPS_OK) {
		status = 502, *code = "card", *why = w->detail;
	} else if (h_step(w, "end", "ok", (const uint8_t *)(all ? "all" :
	    "some"), all ? 3 : 4) != 0) {
		status = 500, *code = "inventory", *why = "journal";
	}
out:
	cops_close(&k);
	eng_pcsc_close(w->e, pc, q->reader);
	return status;
}

int
op_card_renew(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct renew w;
	struct renew_req q;
	struct inv_holder *h = calloc(1, sizeof(*h));
	struct rnw_list *l = calloc(1, sizeof(*l));
	struct cops_plan plan;
	const struct ops_value *v;
	const char *code = "bad_request", *why = "", *claim_code;
	json_t *skipped = json_array();	/* none since escrowed slots renew */
	char summary[INV_DETAIL_MAX / 2] = "";
	unsigned retry = 0;
	int status = 400, tries = -1, rc, claimed = 0, started = 0;

	memset(&w, 0, sizeof(w));
	memset(&q, 0, sizeof(q));
	memset(&plan, 0, sizeof(plan));
	w.e = e;
	eng_arg(r, "card", q.card, sizeof(q.card));
	eng_arg(r, "reader", q.reader, sizeof(q.reader));
	if (h == NULL || l == NULL) {
		status = 500, code = "nomem", why = "out of memory";
		goto out;
	}
	if ((v = ops_req_get(r, "pin", 0, NULL)) == NULL ||
	    seal_open_text(e->seal, v->p, v->len, 8, &q.pin) != SEAL_OK) {
		why = "the PIN is not sealed to this station's session key";
		goto out;
	}
	if ((status = prepare(&w, &q, h, l, &code, &why)) != 0)
		goto out;
	if (make_plan(&w, h, l, &plan) != 0) {
		status = 500, code = "plan", why = "cannot plan the renewal";
		goto out;
	}
	/* Before anything is claimed or journaled: the key to retire. */
	if (w.km_slot != 0 && retiring_key(&w, w.km_slot, &why) != 0) {
		status = 409, code = "key_recovery";
		goto out;
	}
	if ((rc = eng_reader_claim(e, q.reader)) != 0) {
		why = eng_claim_why(rc, &claim_code);
		status = 409, code = claim_code;
		goto out;
	}
	claimed = 1;
	if (eng_attempt_check_card(e, w.card.guid, w.card.holder, &retry) !=
	    0) {
		status = 429, code = "rate_limited";
		why = "too many failed attempts with this card or holder";
		goto out;
	}
	if (op_start(&w, a) != INV_OK) {
		status = 500, code = "inventory", why = "journal";
		goto out;
	}
	started = 1;
	status = card_work(&w, &q, &plan, 1, &tries, &code, &why);
	rc = settle(e, w.op_id, a->name, status == 0 ? "renewed" : why,
	    summary, sizeof(summary));
	eng_op_changed(e);
	if (rc != INV_OK && status == 0) {
		status = 500, code = "inventory", why = inv_strerror(rc);
	}
out:
	plan_free(&plan);
	EVP_PKEY_free(w.old_priv);
	X509_free(w.old_cert);
	if (claimed)
		eng_reader_release(e, q.reader);
	seal_text_free(q.pin);
	inv_holder_clear(h);
	free(h);
	free(l);
	eng_audit(e, a, "card_renew", q.card, status == 0 ? "ok" : "refused",
	    status == 0 ? summary : why);
	if (started && e->cast != NULL) {
		struct outbox_drain_stats st;

		eng_ca_drain(e, &st);
	}
	if (status == 0)
		return eng_reply(e, id, 200, json_pack("{s:s, s:I, s:s, s:o}",
		    "result", "renewed", "operation", (json_int_t)w.op_id,
		    "detail", summary, "skipped", skipped));
	json_decref(skipped);
	if (status == 429)
		return eng_rate_limited(e, id, retry);
	/* Once journaled, the operation is named: `cardmgr op show`. */
	if (started || tries >= 0) {
		json_t *b = json_pack("{s:s, s:s}", "error", code, "message",
		    why);

		if (tries >= 0)
			json_object_set_new(b, "tries_left", json_integer(tries));
		if (started)
			json_object_set_new(b, "operation",
			    json_integer((json_int_t)w.op_id));
		return eng_reply(e, id, status, b);
	}
	return eng_error(e, id, status, code, "%s", why);
}

/* ---- at start: a renewal the engine died in is settled ------------------- */

struct running {
	uint64_t ids[64];
	size_t n;
};

static int
collect(const struct inv_op *op, void *arg)
{
	struct running *r = arg;

	if (strcmp(op->type, "renew") == 0 &&
	    r->n < sizeof(r->ids) / sizeof(r->ids[0]))
		r->ids[r->n++] = op->id;
	return 0;
}

int
eng_renew_recover(struct engine *e)
{
	struct running r = { .n = 0 };
	struct inv_txn *t = NULL;
	char summary[INV_DETAIL_MAX / 2];
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
		return rc;
	rc = inv_op_running_foreach(t, collect, &r);
	inv_abort(t);
	for (size_t i = 0; rc == INV_OK && i < r.n; i++) {
		rc = settle(e, r.ids[i], "engine", "interrupted by a restart",
		    summary, sizeof(summary));
		if (rc == INV_OK)
			log_warnx("renewal %llu settled after a restart: %s",
			    (unsigned long long)r.ids[i], summary);
	}
	return rc;
}
