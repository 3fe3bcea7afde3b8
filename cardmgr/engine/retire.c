/*
 * retire: a security officer retires a card: the lifecycle transition
 * retire, lost, stolen or damaged (lifecycle.conf). With the card in the
 * reader it is proven to be ours (its 9B key is the one derived for its
 * GUID), revoked with the transition's reason and, if the profile allows
 * reuse, wiped back to stock; without it (lost, stolen) it is revoked all
 * the same. The reason is the lifecycle's, or where it gives none the
 * profile's for that event (keyCompromise for lost and stolen by default).
 *
 * State and CA effect are one transaction (transition.c): the card takes
 * the transition's state with its certificates PENDING_REVOKE and one
 * outbox revocation each; if the CA is down the card shows its CA work as
 * pending, and the background drain finishes it.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cardops.h"
#include "proc/log.h"

/* ---- the request -------------------------------------------------------- */

/* Prove the card in reader is c (GUID and 9B key) and, if wipe, wipe it. */
static int
with_card(struct engine *e, const struct inv_card *c, const struct prof *p,
    const char *reader, int wipe, char *detail, size_t cap)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	struct keyc_card kc;
	int alg, rc = COPS_ERR_READER;

	memset(&k, 0, sizeof(k));
	alg = p->mgmt_alg == PROF_MGMT_AES128 ? PIV_ALG_AES128 :
	    p->mgmt_alg == PROF_MGMT_AES256 ? PIV_ALG_AES256 :
	    p->mgmt_alg == PROF_MGMT_3DES ? PIV_ALG_3DES : PIV_ALG_AES192;
	kc.e = e;
	kc.version = c->mk_version;
	memcpy(kc.guid, c->guid, 16);
	kc.alg = alg;
	if (eng_pcsc_open(e, &pc) != PCSC_OK ||
	    (rc = cops_open(pc, reader, &k, detail, cap)) != COPS_OK) {
		if (rc != COPS_ERR_NOT_RESPONDING)
			rc = COPS_ERR_READER;
		goto out;
	}
	if (!k.id.has_chuid || !k.id.chuid.has_guid ||
	    memcmp(k.id.chuid.guid, c->guid, 16) != 0) {
		snprintf(detail, cap, "the card in the reader is not this card");
		rc = COPS_ERR_DIFFERENT;
		goto out;
	}
	/* keyd answers the card's 9B challenges: the key stays there. */
	if (wipe)
		rc = cops_wipe_cb(&k, alg, keyc_mgmt_crypt, &kc, detail, cap);
	else
		rc = cops_auth_cb(&k, alg, keyc_mgmt_crypt, &kc, detail, cap);
out:
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	return rc;
}

int
op_retire(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct outbox_drain_stats st;
	struct eng_refusal ref;
	struct inv_card c;
	struct inv_txn *t = NULL;
	const struct prof *p;
	const struct lc_transition *tr;
	char key[80], reader[128] = "", reason[32], detail[256] = "";
	const char *why = NULL, *code = "bad_request";
	int rc, status = 400, present, wiped = 0, crl;
	uint8_t guid[16];

	eng_arg(r, "card", key, sizeof(key));
	present = eng_arg(r, "reader", reader, sizeof(reader)) != NULL;
	eng_arg(r, "reason", reason, sizeof(reason));
	/* The reason is the lifecycle transition: retire, lost, stolen... */
	if ((tr = eng_transition_for(e, key, reason, PROF_OP_RETIRE, a, &c, &p,
	    &ref)) == NULL) {
		why = ref.why;
		status = ref.status;
		code = ref.code;
		goto refuse;
	}
	crl = lc_reason(tr, p->reason);
	if (tr->effect != LC_EFFECT_NONE && e->cast == NULL) {
		why = "no CA link is configured: revocation impossible";
		status = 503;
		code = "no_ca";
		goto refuse;
	}
	if (present && (rc = eng_reader_claim(e, reader)) != 0) {
		why = eng_claim_why(rc, &code);
		status = 409;
		goto refuse;
	}
	/* With the card: prove it is ours before anything changes. */
	if (present && (rc = with_card(e, &c, p, reader, 0, detail,
	    sizeof(detail))) != COPS_OK) {
		eng_reader_release(e, reader);
		why = detail[0] ? detail : cops_strerror(rc);
		status = 409;
		code = "card";
		goto refuse;
	}
	rc = eng_transition_record(e, &c, tr, crl, a->name, present ?
	    "card present" : "card absent");
	if (rc != INV_OK) {
		if (present)
			eng_reader_release(e, reader);
		why = rc == INV_ERR_EXISTS ? "the card changed state meanwhile" :
		    inv_strerror(rc);
		status = rc == INV_ERR_EXISTS ? 409 : rc == INV_ERR_FULL ? 507 :
		    500;
		code = rc == INV_ERR_EXISTS ? "card_state" : "inventory";
		goto refuse;
	}
	eng_ca_drain(e, &st);
	if (present && p->reuse_retired) {
		wiped = with_card(e, &c, p, reader, 1, detail, sizeof(detail)) ==
		    COPS_OK;
		if (!wiped)
			log_warnx("retire: wipe failed: %s", detail);
	}
	/* Wiped for reuse: back in stock (its retired record keeps the
	 * history; the next issuance starts a new record). */
	if (wiped && (rc = stk_return(e, &c, a->name)) != INV_OK)
		log_warnx("retire: card %s wiped but not put back in stock: %s",
		    c.serial, inv_strerror(rc));
	if (present)
		eng_reader_release(e, reader);
	/* Read back what the journal made of it (the key must not alias c). */
	memcpy(guid, c.guid, sizeof(guid));
	if (inv_begin(e->inv, 0, &t) == INV_OK) {
		inv_card_get(t, guid, &c);
		inv_abort(t);
	}
	eng_audit(e, a, "retire", c.serial, c.pending_ca ? "pending" : "ok",
	    tr->name);
	return eng_reply(e, id, c.pending_ca ? 202 : 200,
	    json_pack("{s:s, s:i, s:b, s:i}", "state",
	    inv_card_state_name(c.state), "pending_ca", (int)c.pending_ca,
	    "wiped", wiped, "reason", crl));
refuse:
	eng_audit(e, a, "retire", key, "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}
