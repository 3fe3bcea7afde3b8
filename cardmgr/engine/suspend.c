/*
 * suspend, reinstate: the lifecycle transitions of the same names
 * (lifecycle.conf). Suspending puts the card's certificates on hold at the
 * CA (certificateHold), reinstating releases them (removeFromCRL); the
 * card need not be present. Who may: the lifecycle's roles for the
 * transition and the profile's suspend roles. The reason the operator
 * gives is kept in the card's history and the audit log.
 *
 * State and CA effect are one transaction (transition.c); with the CA down
 * the answer is 202, the card shows its certificates pending, and the
 * background drain finishes the work when the CA answers again.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

static int
run(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a, const char *name)
{
	struct outbox_drain_stats st;
	struct eng_refusal ref;
	struct inv_card c;
	struct inv_txn *t = NULL;
	const struct prof *p;
	const struct lc_transition *tr;
	char key[80], reason[256] = "", detail[300];
	const char *why, *code;
	int rc, status, crl;

	eng_arg(r, "card", key, sizeof(key));
	eng_arg(r, "reason", reason, sizeof(reason));
	if ((tr = eng_transition_for(e, key, name, PROF_OP_SUSPEND, a, &c, &p,
	    &ref)) == NULL) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	if (tr->effect != LC_EFFECT_NONE && e->cast == NULL) {
		why = "no CA link is configured: the CA cannot follow";
		status = 503;
		code = "no_ca";
		goto refuse;
	}
	crl = lc_reason(tr, p->reason);
	snprintf(detail, sizeof(detail), "reason: %s", reason[0] ? reason :
	    "(none given)");
	if ((rc = eng_transition_record(e, &c, tr, crl, a->name, detail)) !=
	    INV_OK) {
		why = rc == INV_ERR_EXISTS ? "the card changed state meanwhile" :
		    inv_strerror(rc);
		status = rc == INV_ERR_EXISTS ? 409 : rc == INV_ERR_FULL ? 507 :
		    500;
		code = rc == INV_ERR_EXISTS ? "card_state" : "inventory";
		goto refuse;
	}
	if (tr->effect != LC_EFFECT_NONE)
		eng_ca_drain(e, &st);
	if (inv_begin(e->inv, 0, &t) == INV_OK) {
		uint8_t guid[16];

		memcpy(guid, c.guid, sizeof(guid));
		inv_card_get(t, guid, &c);
		inv_abort(t);
	}
	eng_audit(e, a, name, c.serial, c.pending_ca ? "pending" : "ok",
	    detail);
	return eng_reply(e, id, c.pending_ca ? 202 : 200,
	    json_pack("{s:s, s:s, s:i, s:s, s:s?}", "state",
	    inv_card_state_name(c.state), "transition", tr->name,
	    "pending_ca", (int)c.pending_ca, "effect", lc_effect_name(tr->effect),
	    "crl_reason", crl >= 0 ? prof_reason_name(crl) : NULL));
refuse:
	eng_audit(e, a, name, key, "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

int
op_suspend(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	return run(e, r, id, a, "suspend");
}

int
op_reinstate(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	return run(e, r, id, a, "reinstate");
}
