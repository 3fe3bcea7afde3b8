/*
 * temp: a temporary card for a holder who forgot theirs.
 *
 * `cardmgr temporary CARD --reader R` (POST /v1/cards/{card}/temporary):
 * the blank card in R is issued under the temporary profile (issue.c's
 * journal, tear handling and roll back) with the holder's current key
 * management key recovered from escrow (keyd), in the temporary profile's
 * escrowed slot or, if it has none, in the permanent profile's. In the
 * write transaction that activates it, the permanent card takes the
 * lifecycle transition `forgotten` (hold: certificateHold at the CA), the
 * new card the state `temporary` with its end (now + the temporary
 * profile's shortest cert_days), and the link "lent:<temporary GUID>" =
 * the permanent card's GUID.
 *
 * The loan ends, in one write transaction each, by:
 *   - `cardmgr return CARD` (either card): the temporary card takes
 *     `return` (revoked), the permanent card `found` (un-hold);
 *   - the scheduler (a thread of the engine, every TMP_TICK_S): a
 *     temporary card past its end takes `temporary_end` (the shipped
 *     lifecycle revokes it: its key management certificate may outlive
 *     the loan; without that transition `expire`), the permanent card
 *     `found`; a temporary card whose permanent card was declared lost,
 *     stolen or damaged takes the lifecycle's `permanent_lost` transition
 *     if the lifecycle has one (the shipped one revokes it), else it runs
 *     until its end.
 * The link goes in the same transaction: each end happens once. The
 * scheduler's clock is eng_now() (test builds: CARDMGRD_CLOCK_OFFSET).
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/issue_job.h"
#include "engine/rep_int.h"
#include "proc/log.h"

#ifdef CARDMGR_TEST_HOOKS
#define TMP_TICK_S 1
#else
#define TMP_TICK_S 30
#endif
#define TMP_BATCH 64

static void
lent_key(const uint8_t tguid[16], char *key, size_t cap)
{
	char g[33];

	eng_hex(tguid, 16, g);
	snprintf(key, cap, "lent:%s", g);
}

/* ---- the loan: in the transaction that activates the temporary card ---- */

int
tmp_finish(struct issue_job *j, struct inv_txn *t)
{
	struct rep *r = j->rep;
	struct inv_card perm, tc;
	char key[48], detail[160];
	int rc;

	if ((rc = inv_card_get(t, r->old.guid, &perm)) != INV_OK)
		return rc;
	if (!lc_from(r->tr, perm.state)) {
		snprintf(j->detail, sizeof(j->detail), "card %s changed state "
		    "meanwhile (now %s)", perm.serial,
		    inv_card_state_name(perm.state));
		return INV_ERR_EXISTS;
	}
	snprintf(detail, sizeof(detail), "temporary card %s (operation %llu)",
	    j->serial, (unsigned long long)j->op_id);
	if ((rc = eng_transition_in(j->e, t, &perm, r->tr, r->crl,
	    j->actor.name, detail)) != INV_OK)
		return rc;
	if ((rc = inv_card_get(t, j->guid, &tc)) != INV_OK)
		return rc;
	tc.state = INV_CARD_TEMPORARY;
	tc.expires = (uint64_t)time(NULL) + (uint64_t)r->temp_days * 86400;
	if ((rc = inv_card_put(t, &tc, INV_PUT_UPDATE)) != INV_OK)
		return rc;
	lent_key(j->guid, key, sizeof(key));
	if ((rc = inv_meta_put(t, key, perm.guid, 16)) != INV_OK)
		return rc;
	snprintf(detail, sizeof(detail), "for card %s, %d day(s); key "
	    "management key recovered", perm.serial, r->temp_days);
	return eng_card_event(t, j->guid, "temporary_for", j->actor.name, detail);
}

/* ---- the end of a loan ---------------------------------------------- */

/*
 * In one write transaction: the temporary card tguid takes transition
 * tname (with its CA effect), the permanent card `found` if unhold and it
 * is still suspended, the link goes. INV_ERR_NOTFOUND: no such loan (ended
 * meanwhile).
 */
static int
loan_end(struct engine *e, const uint8_t tguid[16], const char *tname,
    int unhold, const char *actor, const char *why)
{
	const struct lc_transition *tr = lc_find(e->lc, tname);
	const struct lc_transition *found = lc_find(e->lc, "found");
	struct inv_txn *t = NULL;
	struct inv_card tc, pc;
	const struct prof *p;
	char key[48];
	uint8_t pg[16];
	size_t n = 0;
	int rc;

	if (tr == NULL)
		return INV_ERR_ARG;
	lent_key(tguid, key, sizeof(key));
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_meta_get(t, key, pg, sizeof(pg), &n)) != INV_OK ||
	    (rc = inv_card_get(t, tguid, &tc)) != INV_OK)
		goto out;
	if (n != 16 || !lc_from(tr, tc.state)) {
		rc = INV_ERR_EXISTS;
		goto out;
	}
	p = prof_find(e->profiles, tc.profile);
	if ((rc = eng_transition_in(e, t, &tc, tr, lc_reason(tr, p != NULL ?
	    p->reason : NULL), actor, why)) != INV_OK)
		goto out;
	if (unhold && inv_card_get(t, pg, &pc) == INV_OK &&
	    lc_from(found, pc.state)) {
		p = prof_find(e->profiles, pc.profile);
		if ((rc = eng_transition_in(e, t, &pc, found, lc_reason(found,
		    p != NULL ? p->reason : NULL), actor, why)) != INV_OK)
			goto out;
	}
	if ((rc = inv_meta_del(t, key)) != INV_OK)
		goto out;
	rc = inv_commit(t);
	t = NULL;
out:
	inv_abort(t);
	return rc;
}

/* ---- the scheduler ---------------------------------------------------- */

struct due {
	uint8_t guid[TMP_BATCH][16];
	int lost[TMP_BATCH];	/* the permanent card was declared lost */
	int n;
	uint64_t now;
	struct inv_txn *t;
};

static int
permanent_lost(int state)
{
	return state == INV_CARD_LOST || state == INV_CARD_STOLEN ||
	    state == INV_CARD_DAMAGED;
}

static int
collect_due(const struct inv_card *c, void *arg)
{
	struct due *d = arg;
	struct inv_card pc;
	char key[48];
	uint8_t pg[16];
	size_t n = 0;
	int lost = 0;

	if (d->n == TMP_BATCH)
		return 1;
	lent_key(c->guid, key, sizeof(key));
	if (inv_meta_get(d->t, key, pg, sizeof(pg), &n) != INV_OK || n != 16)
		return 0;	/* not a loan of this station's */
	lost = inv_card_get(d->t, pg, &pc) == INV_OK && permanent_lost(pc.state);
	if (c->expires > d->now && !lost)
		return 0;
	memcpy(d->guid[d->n], c->guid, 16);
	d->lost[d->n++] = lost && c->expires > d->now;
	return 0;
}

/* One pass: every loan that is due ends. [out] *ended. */
int
eng_temp_tick(struct engine *e, unsigned *ended)
{
	struct outbox_drain_stats st;
	struct due *d = calloc(1, sizeof(*d));
	int rc;

	*ended = 0;
	if (d == NULL)
		return INV_ERR_NOMEM;
	d->now = eng_now();
	if ((rc = inv_begin(e->inv, 0, &d->t)) == INV_OK)
		rc = inv_cards_in_state(d->t, INV_CARD_TEMPORARY, collect_due, d);
	inv_abort(d->t);
	for (int i = 0; i < d->n; i++) {
		const char *tname = d->lost[i] ? "permanent_lost" :
		    lc_find(e->lc, "temporary_end") != NULL ? "temporary_end" :
		    "expire";
		char g[33];

		/* Without a permanent_lost transition the loan runs out. */
		if (d->lost[i] && lc_find(e->lc, tname) == NULL)
			continue;
		eng_hex(d->guid[i], 16, g);
		rc = loan_end(e, d->guid[i], tname, !d->lost[i], "scheduler",
		    d->lost[i] ? "the permanent card was declared lost" :
		    "the temporary card reached its end");
		if (rc == INV_OK) {
			(*ended)++;
			log_info("temporary card %s: %s", g, tname);
			eng_audit(e, NULL, "temporary_end", g, "ok", tname);
		} else if (rc != INV_ERR_EXISTS && rc != INV_ERR_NOTFOUND) {
			log_warnx("temporary card %s: %s: %s", g, tname,
			    inv_strerror(rc));
		}
	}
	free(d);
	if (*ended > 0 && e->cast != NULL)
		eng_ca_drain(e, &st);
	return INV_OK;
}

static void *
tick_loop(void *arg)
{
	struct engine *e = arg;
	unsigned ended;

	for (;;) {
		sleep(TMP_TICK_S);
		(void)eng_temp_tick(e, &ended);
		/* Approval requests past their time (approve.c). */
		(void)eng_apr_tick(e, &ended);
	}
	return NULL;
}

int
eng_temp_start(struct engine *e)
{
	pthread_t th;

	if (pthread_create(&th, NULL, tick_loop, e) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}

/* ---- POST /v1/cards/{card}/return ------------------------------------ */

struct find_loan {
	uint8_t pguid[16];
	uint8_t tguid[16];
	int found;
	struct inv_txn *t;
};

static int
find_by_permanent(const struct inv_card *c, void *arg)
{
	struct find_loan *f = arg;
	char key[48];
	uint8_t pg[16];
	size_t n = 0;

	lent_key(c->guid, key, sizeof(key));
	if (inv_meta_get(f->t, key, pg, sizeof(pg), &n) == INV_OK && n == 16 &&
	    memcmp(pg, f->pguid, 16) == 0) {
		memcpy(f->tguid, c->guid, 16);
		f->found = 1;
		return 1;
	}
	return 0;
}

/* ---- the permanent card presented at a reader (recover.c's watcher) --- */

/* What the card signs to end its loan (cops_prove adds 32 random bytes). */
static const char presented_ctx[] = "cardmgr loan end: permanent card presented v1\n";

struct cardauth {
	X509 *cert;		/* the newest 9E certificate not revoked */
	uint64_t not_before;
};

static int
find_cardauth(const struct inv_cert *c, void *arg)
{
	struct cardauth *a = arg;
	const unsigned char *p = c->der;
	X509 *x;

	if (c->slot != PIV_SLOT_CARDAUTH || c->status == INV_CERT_REVOKED ||
	    c->status == INV_CERT_PENDING_REVOKE ||
	    (a->cert != NULL && c->not_before <= a->not_before))
		return 0;
	if ((x = d2i_X509(NULL, &p, (long)c->der_len)) == NULL)
		return 0;
	X509_free(a->cert);
	a->cert = x;
	a->not_before = c->not_before;
	return 0;
}

int
eng_temp_presented(struct engine *e, struct cops_card *k,
    const struct inv_card *c, const char *reader)
{
	struct find_loan f;
	struct cardauth ca = { NULL, 0 };
	struct inv_card tc;
	char why[256], detail[200];
	int rc, out = -1;

	memset(&f, 0, sizeof(f));
	memcpy(f.pguid, c->guid, 16);
	if ((rc = inv_begin(e->inv, 0, &f.t)) != INV_OK)
		return -1;
	/* (the walk stops at the loan found: its own rc says so) */
	rc = inv_cards_in_state(f.t, INV_CARD_TEMPORARY, find_by_permanent, &f);
	if (f.found && (rc = inv_card_get(f.t, f.tguid, &tc)) == INV_OK)
		rc = inv_certs_of_card(f.t, c->guid, find_cardauth, &ca);
	inv_abort(f.t);
	if (rc != INV_OK || !f.found) {
		X509_free(ca.cert);
		return rc == INV_OK ? 0 : -1;
	}
	if (ca.cert == NULL)
		snprintf(detail, sizeof(detail), "no card authentication (9E) "
		    "certificate on record");
	else if (cops_prove(k, PIV_SLOT_CARDAUTH, X509_get0_pubkey(ca.cert),
	    presented_ctx, detail, sizeof(detail)) == COPS_OK)
		out = 0;
	X509_free(ca.cert);
	if (out != 0) {
		log_warnx("card %s presented at '%s': its loan (temporary card "
		    "%s) goes on: %s", c->serial, reader, tc.serial, detail);
		eng_audit(e, NULL, "return", c->serial, "refused", detail);
		return -1;
	}
	snprintf(why, sizeof(why), "permanent card %.64s presented at '%.120s'",
	    c->serial, reader);
	if ((rc = loan_end(e, tc.guid, "return", 1, "engine", why)) != INV_OK) {
		log_warnx("card %s presented at '%s': the loan could not end: "
		    "%s", c->serial, reader, inv_strerror(rc));
		eng_audit(e, NULL, "return", tc.serial, "failed",
		    inv_strerror(rc));
		return -1;
	}
	log_info("temporary card %s returned: %s", tc.serial, why);
	eng_audit(e, NULL, "return", tc.serial, "ok", why);
	return 1;
}

int
op_temp_return(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct outbox_drain_stats st;
	struct find_loan f;
	struct eng_refusal ref;
	struct inv_card c, tc;
	const struct prof *p;
	char key[80] = "", reason[201] = "", detail[260];
	const char *why = NULL, *code = "not_found";
	int rc, status = 404;

	memset(&f, 0, sizeof(f));
	eng_arg(r, "card", key, sizeof(key));
	eng_arg(r, "reason", reason, sizeof(reason));
	if ((rc = inv_begin(e->inv, 0, &f.t)) == INV_OK &&
	    (rc = eng_find_card(f.t, key, &c)) == INV_OK) {
		if (c.state == INV_CARD_TEMPORARY) {
			memcpy(f.tguid, c.guid, 16);
			f.found = 1;
		} else {
			memcpy(f.pguid, c.guid, 16);
			rc = inv_cards_in_state(f.t, INV_CARD_TEMPORARY,
			    find_by_permanent, &f);
		}
		if (f.found)
			rc = inv_card_get(f.t, f.tguid, &tc);
	}
	inv_abort(f.t);
	if (rc != INV_OK || !f.found) {
		why = rc == INV_OK ? "no temporary card is out for this card" :
		    "the station does not know this card";
		goto refuse;
	}
	p = prof_find(e->profiles, tc.profile);
	if (eng_transition_allowed(e, &tc, "return", p, PROF_OP_RETIRE, a,
	    &ref) == NULL) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	snprintf(detail, sizeof(detail), "returned%s%.200s", reason[0] ?
	    ": " : "", reason);
	if ((rc = loan_end(e, tc.guid, "return", 1, a->name, detail)) != INV_OK) {
		why = rc == INV_ERR_EXISTS || rc == INV_ERR_NOTFOUND ?
		    "the loan ended meanwhile" : inv_strerror(rc);
		status = rc == INV_ERR_EXISTS || rc == INV_ERR_NOTFOUND ? 409 :
		    rc == INV_ERR_FULL ? 507 : 500;
		code = status == 409 ? "card_state" : "inventory";
		goto refuse;
	}
	eng_ca_drain(e, &st);
	f.t = NULL;
	if (inv_begin(e->inv, 0, &f.t) == INV_OK)
		(void)inv_card_get(f.t, tc.guid, &tc);
	inv_abort(f.t);
	eng_audit(e, a, "return", tc.serial, tc.pending_ca ? "pending" : "ok",
	    key);
	return eng_reply(e, id, tc.pending_ca ? 202 : 200,
	    json_pack("{s:s, s:s, s:i}", "temporary", tc.serial, "state",
	    inv_card_state_name(tc.state), "pending_ca", (int)tc.pending_ca));
refuse:
	eng_audit(e, a, "return", key[0] ? key : "-", "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

/* ---- POST /v1/cards/{card}/temporary ---------------------------------- */

int
op_temporary(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct issue_job *j = issue_job_new(e, a);
	struct eng_refusal ref;
	struct inv_txn *t = NULL;
	const struct prof *pp = NULL, *tp;
	const struct prof_slot *km = NULL;
	char key[80] = "", buf[80];
	const char *why = NULL, *code = "bad_request";
	int rc, status = 400;

	if (j == NULL || (j->rep = calloc(1, sizeof(*j->rep))) == NULL) {
		issue_job_free(j);
		return eng_error(e, id, 500, "nomem", "out of memory");
	}
	j->op_type = "temporary";
	j->rep->mode = REP_TEMPORARY;
	eng_copy(j->rep->reason, sizeof(j->rep->reason), "forgotten");
	eng_arg(r, "card", key, sizeof(key));
	eng_arg(r, "reader", j->reader, sizeof(j->reader));
	if ((tp = prof_find(e->profiles, eng_arg(r, "profile", buf,
	    sizeof(buf)) != NULL ? buf : "temporary")) == NULL) {
		why = "no such temporary profile";
		status = 404;
		code = "no_profile";
		goto refuse;
	}
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
	pp = prof_find(e->profiles, j->rep->old.profile);
	if ((j->rep->tr = eng_transition_allowed(e, &j->rep->old, "forgotten",
	    pp, PROF_OP_TEMPORARY, a, &ref)) == NULL) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	if (!prof_allows(tp, PROF_OP_ISSUE, a->roles)) {
		why = "the temporary profile does not let your roles issue";
		status = 403;
		code = "forbidden";
		goto refuse;
	}
	if (e->cast == NULL) {
		why = "no CA link is configured: the permanent card cannot be held";
		status = 503;
		code = "no_ca";
		goto refuse;
	}
	j->prof = tp;
	j->rep->crl = lc_reason(j->rep->tr, pp->reason);
	j->rep->temp_days = 0;
	for (size_t i = 0; i < tp->nslots; i++) {
		if (j->rep->temp_days == 0 ||
		    tp->slots[i].cert_days < j->rep->temp_days)
			j->rep->temp_days = tp->slots[i].cert_days;
		if (tp->slots[i].escrow && km == NULL)
			km = &tp->slots[i];
	}
	for (size_t i = 0; km == NULL && i < pp->nslots; i++)
		if (pp->slots[i].escrow) {
			km = &pp->slots[i];
			j->rep->km = km;	/* added to the temporary plan */
		}
	if (km != NULL) {
		j->rep->km_slot = km->slot;
		j->rep->pin_policy = km->pin_policy;
		j->rep->touch_policy = km->touch_policy;
	}
	/* The current key only: a temporary card is for today's mail. */
	return rep_start(e, id, r, a, j, pp, km != NULL, 1, "temporary",
	    "permanent");
refuse:
	eng_audit(e, a, "temporary", key[0] ? key : "-", "refused", why);
	issue_job_free(j);
	return eng_error(e, id, status, code, "%s", why);
}
