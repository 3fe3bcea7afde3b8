/*
 * replace: a holder's card is lost, stolen, damaged or expired; a blank card
 * in a reader becomes its replacement.
 *
 * A replacement is an issuance (issue.c: the same journal, hooks and tear
 * handling) with three differences:
 *   - the key management key is not new: the escrowed keys of the holder's
 *     cards are opened by keyd (MSG_KS_RECOVER) at request time, the newest
 *     goes into 9D (with a new certificate for it) and the earlier ones,
 *     newest first, into the retired slots 82.. with their own certificates
 *     and the key history object, so what was encrypted to any of them
 *     still decrypts (OpenSC reads the retired slots through the history);
 *   - the old card is retired by the lifecycle transition the reason names
 *     (lost, stolen, damaged; expired: `replace`), with its CA effect, in
 *     the write transaction that activates the new card, together with the
 *     link "replaced:<old GUID>": exactly once, and never if the new card
 *     does not make it (a torn replacement rolls back the new card as a torn
 *     issuance does, recover.c, and leaves the old card as it was);
 *   - the holder keeps the challenge answers enrolled before.
 * An old card already in the transition's target state (reported lost
 * earlier) is replaced without a second transition.
 *
 * Key recovery needs the approvals the card's profile names
 * (approvals.key_recovery): without an approved request the replacement
 * records one (approve.c) and nothing else changes; with one ("approval"),
 * the request is marked carried out in the transaction that activates the
 * new card, so it is used once and not at all by a torn replacement.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "engine/issue_job.h"
#include "engine/rep_int.h"
#include "keyd/ks.h"
#include "proc/log.h"

void
rep_free(struct rep *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->nkeys; i++) {
		EVP_PKEY_free(r->keys[i].priv);
		X509_free(r->keys[i].cert);
	}
	free(r);
}

/* ---- the card work's hooks (issue.c) ------------------------------------ */

int
rep_escrow_key(struct rep *r, int slot, EVP_PKEY **priv)
{
	*priv = NULL;
	if (r->nkeys < 1 || slot != r->km_slot ||
	    EVP_PKEY_up_ref(r->keys[0].priv) != 1)
		return -1;
	*priv = r->keys[0].priv;
	return 0;
}

void
rep_plan(const struct rep *r, struct cops_plan *plan)
{
	static const int pinpol[] = { PIV_PIN_DEFAULT, PIV_PIN_NEVER,
	    PIV_PIN_ONCE, PIV_PIN_ALWAYS };
	static const int touch[] = { PIV_TOUCH_DEFAULT, PIV_TOUCH_NEVER,
	    PIV_TOUCH_ALWAYS, PIV_TOUCH_CACHED };

	plan->nretired = r->nkeys > 1 ? r->nkeys - 1 : 0;
	plan->retired_pin_policy = pinpol[r->pin_policy & 3];
	plan->retired_touch_policy = touch[r->touch_policy & 3];
}

const struct prof_slot *
rep_extra_slot(const struct rep *r)
{
	return r->km;
}

int
rep_retired_key(struct rep *r, int i, EVP_PKEY **priv, X509 **cert)
{
	struct rep_key *k;

	*priv = NULL;
	*cert = NULL;
	if (i < 0 || i + 1 >= r->nkeys)
		return -1;
	k = &r->keys[i + 1];
	if (EVP_PKEY_up_ref(k->priv) != 1)
		return -1;
	if (X509_up_ref(k->cert) != 1) {
		EVP_PKEY_free(k->priv);
		return -1;
	}
	*priv = k->priv;
	*cert = k->cert;
	return 0;
}

static void
link_key(const uint8_t guid[16], char *key, size_t cap)
{
	char g[33];

	eng_hex(guid, 16, g);
	snprintf(key, cap, "replaced:%s", g);
}

int
rep_finish(struct issue_job *j, struct inv_txn *t)
{
	struct rep *r = j->rep;
	struct inv_card old;
	char key[48], detail[160], text[200];
	uint8_t g[16];
	size_t n = 0;
	int rc;

	if (r->approval != 0 && (rc = eng_apr_consume(t, r->approval,
	    j->actor.name, j->op_type, r->reason, r->old.guid, j->op_id,
	    j->detail, sizeof(j->detail))) != INV_OK)
		return rc;
	if (r->mode == REP_TEMPORARY)
		return tmp_finish(j, t);
	link_key(r->old.guid, key, sizeof(key));
	if ((rc = inv_meta_get(t, key, g, sizeof(g), &n)) == INV_OK) {
		snprintf(j->detail, sizeof(j->detail), "card %s was replaced "
		    "meanwhile", r->old.serial);
		return INV_ERR_EXISTS;
	}
	if (rc != INV_ERR_NOTFOUND)
		return rc;
	if ((rc = inv_card_get(t, r->old.guid, &old)) != INV_OK)
		return rc;
	snprintf(detail, sizeof(detail), "replaced (%s) by card %s, operation "
	    "%llu", r->reason, j->serial, (unsigned long long)j->op_id);
	if (r->tr != NULL && lc_from(r->tr, old.state)) {
		if ((rc = eng_transition_in(j->e, t, &old, r->tr, r->crl,
		    j->actor.name, detail)) != INV_OK)
			return rc;
	} else if (r->tr == NULL || old.state != r->tr->to) {
		snprintf(j->detail, sizeof(j->detail), "card %s changed state "
		    "meanwhile (now %s)", r->old.serial,
		    inv_card_state_name(old.state));
		return INV_ERR_EXISTS;
	}
	if ((rc = inv_meta_put(t, key, j->guid, 16)) != INV_OK)
		return rc;
	if ((rc = eng_card_event(t, r->old.guid, "replaced", j->actor.name,
	    detail)) != INV_OK)
		return rc;
	snprintf(text, sizeof(text), "card %s (%s); key management keys "
	    "recovered: %d (9d%s)", r->old.serial, r->reason, r->nkeys,
	    r->nkeys > 1 ? " and retired slots" : "");
	return eng_card_event(t, j->guid, "replaces", j->actor.name, text);
}

void
rep_done(struct issue_job *j, int ok)
{
	struct outbox_drain_stats st;

	/* Said before the drain, which may wait for the CA. */
	if (ok && j->rep->approval != 0) {
		char ref[48], detail[64];

		snprintf(ref, sizeof(ref), "approval:%llu",
		    (unsigned long long)j->rep->approval);
		snprintf(detail, sizeof(detail), "operation %llu",
		    (unsigned long long)j->op_id);
		eng_audit(j->e, &j->actor, "approval_carried_out", ref, "ok",
		    detail);
	}
	/* Test builds: killed between the activating commit and the drain,
	 * the journaled revocations go out once after the restart. */
	if (ok)
		eng_crash_point("replace:committed");
	/* The old card's revocations go out now; the background drain
	 * retries what the CA does not take. */
	if (ok && j->rep->tr != NULL && j->e->cast != NULL)
		eng_ca_drain(j->e, &st);
	eng_audit(j->e, &j->actor, j->rep->mode == REP_TEMPORARY ?
	    "temporary_permanent" : "replace_old", j->rep->old.serial,
	    ok ? "ok" : "unchanged", ok ? j->rep->reason : j->detail);
}

/* ---- the request: what to recover -------------------------------------- */

size_t
rep_escrow_aad(const uint8_t guid[16], int slot, uint32_t gen,
    uint8_t aad[REP_AAD_MAX])
{
	memcpy(aad, guid, 16);
	aad[16] = (uint8_t)slot;
	if (gen == 0)
		return 17;	/* the issuance's, unchanged */
	aad[17] = (uint8_t)(gen >> 24);
	aad[18] = (uint8_t)(gen >> 16);
	aad[19] = (uint8_t)(gen >> 8);
	aad[20] = (uint8_t)gen;
	return REP_AAD_MAX;
}

/* One escrow blob of the holder's: a card's (gen 0) or a renewal's. */
struct blob {
	uint8_t guid[16];
	uint32_t gen;
	uint64_t created;
	char serial[INV_SERIAL_MAX + 1];
	uint16_t len;
	uint8_t data[INV_ESCROW_MAX];
};

struct collect {
	struct blob cand[64];
	int n;
	const char *holder;
	struct inv_txn *t;
	const struct inv_card *card;	/* the one being walked */
};

static int
newer(const struct blob *x, const struct blob *y)
{
	return x->created != y->created ? x->created > y->created :
	    x->gen > y->gen;
}

static void
add_blob(struct collect *x, const uint8_t guid[16], uint32_t gen,
    uint64_t created, const uint8_t *data, size_t len)
{
	struct blob *b, nb;

	memset(&nb, 0, sizeof(nb));
	memcpy(nb.guid, guid, 16);
	nb.gen = gen;
	nb.created = created;
	eng_copy(nb.serial, sizeof(nb.serial), x->card->serial);
	if (x->n == (int)(sizeof(x->cand) / sizeof(x->cand[0]))) {
		/* Keep the newest: drop the oldest candidate. */
		int o = 0;

		for (int i = 1; i < x->n; i++)
			if (newer(&x->cand[o], &x->cand[i]))
				o = i;
		if (!newer(&nb, &x->cand[o]))
			return;
		x->cand[o] = x->cand[--x->n];
	}
	b = &x->cand[x->n++];
	*b = nb;
	b->len = (uint16_t)len;
	memcpy(b->data, data, len);
}

static int
collect_gen(const struct inv_escrow *es, void *arg)
{
	struct collect *x = arg;

	add_blob(x, es->guid, es->gen, es->created, es->blob, es->len);
	return 0;
}

static int
collect_card(const struct inv_card *c, void *arg)
{
	struct collect *x = arg;

	/* Issuances still running have nothing to give (yet). */
	if (c->state == INV_CARD_ISSUING || strcmp(c->holder, x->holder) != 0)
		return 0;
	x->card = c;
	/* Cards that took a recovered key (replacements) keep no blob of
	 * their own until a renewal gives them one. */
	if (c->escrow_len > 0)
		add_blob(x, c->guid, 0, c->created, c->escrow, c->escrow_len);
	return inv_escrows_of_card(x->t, c->guid, collect_gen, x) == INV_OK ?
	    0 : 1;
}

static int
newest_first(const void *a, const void *b)
{
	return newer(b, a) - newer(a, b);
}

/* The holder's escrow blobs, newest first. [out] x. */
static int
collect_blobs(struct inv_txn *t, const char *holder, struct collect *x)
{
	x->holder = holder;
	x->t = t;
	if (inv_cards_of_holder(t, holder, collect_card, x) != INV_OK)
		return -1;
	qsort(x->cand, (size_t)x->n, sizeof(x->cand[0]), newest_first);
	return 0;
}

static int
open_blob(struct engine *e, const struct blob *b, int slot, EVP_PKEY **priv,
    const char **why)
{
	uint8_t aad[REP_AAD_MAX];
	size_t alen = rep_escrow_aad(b->guid, slot, b->gen, aad);
	int krc;

	if ((krc = keyc_recover(e, b->data, b->len, aad, alen, priv)) == 0)
		return 0;
	log_warnx("escrowed key of card %s (generation %u): %s", b->serial,
	    (unsigned)b->gen, krc < 0 ? "keyd failed" : ks_strerror(krc));
	*why = krc == KS_ERR_NOTOKEN ? "the station's token is missing: no "
	    "key recovery" : "an escrowed key management key could not be "
	    "recovered (see the log)";
	return -1;
}

static int
find_cert(const struct inv_cert *c, void *arg)
{
	struct rep_certfind *f = arg;
	const uint8_t *p = c->der;
	X509 *x;
	int eq = 1;

	if (c->slot != f->slot || (f->found &&
	    c->not_before <= f->best.not_before))
		return 0;
	if (f->key != NULL) {
		x = d2i_X509(NULL, &p, (long)c->der_len);
		eq = x != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), f->key) == 1;
		X509_free(x);
	}
	if (eq) {
		f->best = *c;
		f->found = 1;
	}
	return 0;
}

int
rep_card_cert(struct inv_txn *t, const uint8_t guid[16], int slot,
    EVP_PKEY *key, struct rep_certfind *f)
{
	memset(f, 0, sizeof(*f));
	f->slot = slot;
	f->key = key;
	return inv_certs_of_card(t, guid, find_cert, f);
}

/*
 * The holder's escrowed key management keys, newest first, opened by keyd
 * (at most 1 + COPS_MAX_RETIRED; older ones stay escrowed), each with the
 * certificate of its card for that key: a renewed card has several, one per
 * generation. A blob whose key has no certificate never did anything (torn
 * before it: an issuance's, or a renewal's between escrow and import).
 */
int
rep_recover_keys(struct engine *e, struct rep *r, const char *holder,
    int max, const char **why)
{
	struct collect *x = calloc(1, sizeof(*x));
	struct rep_certfind *f = calloc(1, sizeof(*f));
	struct inv_txn *t = NULL;
	const unsigned char *p;
	EVP_PKEY *priv = NULL;
	int rc = -1;

	if (x == NULL || f == NULL) {
		*why = "out of memory";
		goto out;
	}
	if (inv_begin(e->inv, 0, &t) != INV_OK ||
	    collect_blobs(t, holder, x) != 0) {
		*why = "inventory error";
		goto out;
	}
	if (max > 1 + COPS_MAX_RETIRED)
		max = 1 + COPS_MAX_RETIRED;
	for (int i = 0; i < x->n && r->nkeys < max; i++) {
		struct rep_key *k = &r->keys[r->nkeys];
		const struct blob *b = &x->cand[i];

		if (rep_card_cert(t, b->guid, r->km_slot, NULL, f) != INV_OK) {
			*why = "inventory error";
			goto out;
		}
		if (!f->found)
			continue;	/* torn before its certificate: unused */
		if (open_blob(e, b, r->km_slot, &priv, why) != 0)
			goto out;
		if (rep_card_cert(t, b->guid, r->km_slot, priv, f) != INV_OK) {
			*why = "inventory error";
			goto out;
		}
		if (!f->found && b->gen > 0) {
			/* A renewal torn between escrow and certificate. */
			EVP_PKEY_free(priv);
			priv = NULL;
			continue;
		}
		p = f->best.der;
		if (!f->found || (k->cert = d2i_X509(NULL, &p,
		    (long)f->best.der_len)) == NULL) {
			log_warnx("replace: card %s: its escrowed key is not its "
			    "%02x certificate's", b->serial, r->km_slot);
			*why = "an escrowed key does not match its certificate";
			goto out;
		}
		k->priv = priv;
		priv = NULL;
		memcpy(k->guid, b->guid, 16);
		eng_copy(k->serial, sizeof(k->serial), b->serial);
		k->created = b->created;
		r->nkeys++;
	}
	if (r->nkeys == 0) {
		*why = "the holder has no escrowed key management key to recover";
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(priv);
	inv_abort(t);
	free(x);
	free(f);
	return rc;
}

int
rep_find_key(struct engine *e, const char *holder, int slot, X509 *cert,
    EVP_PKEY **priv, const char **why)
{
	struct collect *x = calloc(1, sizeof(*x));
	struct inv_txn *t = NULL;
	EVP_PKEY *k = NULL;
	int rc = -1;

	*priv = NULL;
	*why = "the slot's key is not escrowed";
	if (x == NULL) {
		*why = "out of memory";
		goto out;
	}
	if (inv_begin(e->inv, 0, &t) != INV_OK ||
	    collect_blobs(t, holder, x) != 0) {
		*why = "inventory error";
		goto out;
	}
	inv_abort(t);
	t = NULL;
	for (int i = 0; i < x->n; i++) {
		if (open_blob(e, &x->cand[i], slot, &k, why) != 0)
			goto out;
		if (EVP_PKEY_eq(X509_get0_pubkey(cert), k) == 1) {
			*priv = k;
			rc = 0;
			goto out;
		}
		EVP_PKEY_free(k);
		k = NULL;
	}
	*why = "the slot's key is not escrowed";
out:
	inv_abort(t);
	free(x);
	return rc;
}

/* The lifecycle transition a replacement reason runs on the old card. */
static const char *
reason_transition(const char *reason)
{
	if (strcmp(reason, "lost") == 0 || strcmp(reason, "stolen") == 0 ||
	    strcmp(reason, "damaged") == 0)
		return reason;
	return strcmp(reason, "expired") == 0 ? "replace" : NULL;
}

/* Who may, what the old card's state allows; 0 or -1 with *ref filled. */
static int
check_old(struct engine *e, struct rep *r, const struct prof *p,
    const struct actor *a, struct eng_refusal *ref)
{
	const struct lc_transition *tr = lc_find(e->lc,
	    reason_transition(r->reason));
	struct inv_txn *t = NULL;
	char key[48];
	uint8_t g[16];
	size_t n = 0;
	int rc;

	link_key(r->old.guid, key, sizeof(key));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_meta_get(t, key, g, sizeof(g), &n);
	inv_abort(t);
	if (rc == INV_OK) {
		ref->status = 409;
		ref->code = "replaced";
		snprintf(ref->why, sizeof(ref->why), "card %s was already "
		    "replaced", r->old.serial);
		return -1;
	}
	/* Reported lost (or stolen, damaged) earlier: retired already. An
	 * expired card is replaced from a live state only (a card retired
	 * for another reason, or rolled back, is no card to replace). */
	if (tr != NULL && tr->roles != 0 && r->old.state == tr->to &&
	    !lc_from(tr, r->old.state) && strcmp(r->reason, "expired") != 0) {
		if (!lc_allows(tr, a->roles) ||
		    !prof_allows(p, PROF_OP_REPLACE, a->roles)) {
			ref->status = 403;
			ref->code = "forbidden";
			snprintf(ref->why, sizeof(ref->why), "%s does not let "
			    "your roles replace this card", !lc_allows(tr,
			    a->roles) ? "the lifecycle" : "the card's profile");
			return -1;
		}
		r->tr = NULL;
		return 0;
	}
	if ((r->tr = eng_transition_allowed(e, &r->old, tr != NULL ? tr->name :
	    reason_transition(r->reason), p, PROF_OP_REPLACE, a, ref)) == NULL)
		return -1;
	r->crl = lc_reason(r->tr, p->reason);
	return 0;
}

int
op_replace(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct issue_job *j = issue_job_new(e, a);
	const struct ops_value *av;
	struct eng_refusal ref;
	struct inv_txn *t = NULL;
	const struct prof *p = NULL;
	char key[80] = "";
	const char *why = NULL, *code = "bad_request";
	int rc, status = 400;

	if (j == NULL || (j->rep = calloc(1, sizeof(*j->rep))) == NULL) {
		issue_job_free(j);
		return eng_error(e, id, 500, "nomem", "out of memory");
	}
	j->op_type = "replace";
	eng_arg(r, "card", key, sizeof(key));
	eng_arg(r, "reader", j->reader, sizeof(j->reader));
	eng_arg(r, "reason", j->rep->reason, sizeof(j->rep->reason));
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = eng_find_card(t, key, &j->rep->old);
	if (rc == INV_OK)
		rc = inv_holder_get(t, j->rep->old.holder, &j->holder);
	inv_abort(t);
	if (rc != INV_OK) {
		why = "the station does not know this card (or its holder)";
		status = 404;
		code = "not_found";
		goto refuse;
	}
	if ((p = prof_find(e->profiles, j->rep->old.profile)) == NULL) {
		why = "the card's profile is no longer configured";
		status = 409;
		code = "no_profile";
		goto refuse;
	}
	j->prof = p;
	/* A request cited that cannot be carried out is said first (used
	 * already, for another card) rather than what follows from it. */
	if ((av = ops_req_get(r, "approval", 0, NULL)) != NULL &&
	    eng_apr_usable(e, (uint64_t)av->i, a, "replace", j->rep->reason,
	    &j->rep->old, &ref) != 0) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	if (check_old(e, j->rep, p, a, &ref) != 0) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	if (j->rep->tr != NULL && j->rep->tr->effect != LC_EFFECT_NONE &&
	    e->cast == NULL) {
		why = "no CA link is configured: the old card cannot be revoked";
		status = 503;
		code = "no_ca";
		goto refuse;
	}
	for (size_t i = 0; i < p->nslots; i++)
		if (p->slots[i].escrow && j->rep->km_slot == 0) {
			j->rep->km_slot = p->slots[i].slot;
			j->rep->pin_policy = p->slots[i].pin_policy;
			j->rep->touch_policy = p->slots[i].touch_policy;
		}
	/* Approvals before anything is opened: refused, not pretended. */
	return rep_start(e, id, r, a, j, p, j->rep->km_slot != 0,
	    1 + COPS_MAX_RETIRED, "replace", "replaces");
refuse:
	eng_audit(e, a, "replace", key[0] ? key : "-", "refused", why);
	issue_job_free(j);
	return eng_error(e, id, status, code, "%s", why);
}

int
rep_start(struct engine *e, uint64_t id, const struct ops_req *r,
    const struct actor *a, struct issue_job *j, const struct prof *ap,
    int recover, int nkeys, const char *event, const char *old_key)
{
	const struct ops_value *av = ops_req_get(r, "approval", 0, NULL);
	struct eng_refusal ref;
	char key[80], reader[128];
	const char *why = NULL, *code = "bad_request";
	uint64_t op_id = 0;
	int status = 400, rc;

	snprintf(key, sizeof(key), "%s", j->rep->old.serial);
	if (recover && ap->key_recovery_approvals > 0 && av == NULL) {
		/* Not yet: a request for the approvers, nothing else. */
		rc = eng_apr_request(e, id, a, event, j->rep->reason,
		    &j->rep->old, &j->holder, ap->key_recovery_approvals);
		issue_job_free(j);
		return rc;
	}
	if (av != NULL && !(recover && ap->key_recovery_approvals > 0)) {
		why = "this key recovery needs no approval: cite none";
		goto refuse;
	}
	if (av != NULL) {
		if (eng_apr_usable(e, (uint64_t)av->i, a, event, j->rep->reason,
		    &j->rep->old, &ref) != 0) {
			why = ref.why;
			status = ref.status;
			code = ref.code;
			goto refuse;
		}
		j->rep->approval = (uint64_t)av->i;
	}
	if (issue_job_pin(j, r, &why, &status, &code) != 0)
		goto refuse;
	if (recover && rep_recover_keys(e, j->rep, j->holder.id, nkeys,
	    &why) != 0) {
		status = 409;
		code = "key_recovery";
		goto refuse;
	}
	snprintf(reader, sizeof(reader), "%s", j->reader);
	if (issue_job_start(j, &op_id, &why, &status, &code) != 0)
		goto refuse;
	/* j is the thread's now. */
	eng_audit(e, a, event, key, "started", reader);
	return eng_reply(e, id, 202, json_pack("{s:I, s:s, s:s, s:s}",
	    "operation", (json_int_t)op_id, "state",
	    op_state_name(INV_OP_RUNNING), "reader", reader, old_key, key));
refuse:
	eng_audit(e, a, event, key, "refused", why);
	issue_job_free(j);
	return eng_error(e, id, status, code, "%s", why);
}
