/*
 * pinops: the holder changes their own PIN at the station. No operator: the
 * old PIN, checked by the card, is the proof. Policy is enforced before
 * anything reaches the card, the card must be the one the inventory knows
 * (CHUID GUID) and ACTIVE, and a blocked PIN is routed to the help desk's
 * unblock.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/cardops.h"
#include "policy/pin.h"
#include "proc/log.h"

struct pin_req {
	char *old_pin, *new_pin, *again;	/* secure memory */
	char card[80], reader[128];
};

static void
pin_req_clear(struct pin_req *p)
{
	seal_text_free(p->old_pin);
	seal_text_free(p->new_pin);
	seal_text_free(p->again);
	memset(p, 0, sizeof(*p));
}

static int
open_sealed(struct engine *e, const struct ops_req *r, const char *name,
    char **out)
{
	const struct ops_value *v = ops_req_get(r, name, 0, NULL);

	return v == NULL ? -1 : seal_open_text(e->seal, v->p, v->len, 8, out);
}

static int
lookup(struct engine *e, const char *key, struct inv_card *c)
{
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
		return rc;
	rc = eng_find_card(t, key, c);
	inv_abort(t);
	return rc;
}

static int
record(struct engine *e, const struct inv_card *c, const char *event,
    const char *actor, const char *detail)
{
	struct inv_txn *t = NULL;
	struct inv_event ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, c->guid, 16);
	ev.time = (uint64_t)time(NULL);
	snprintf(ev.name, sizeof(ev.name), "%s", event);
	snprintf(ev.actor, sizeof(ev.actor), "%s", actor);
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_event_append(t, &ev, &ev.seq)) != INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}

/* The card in the reader is the inventory's card c: its GUID. */
static int
same_card(const struct cops_card *k, const struct inv_card *c)
{
	return k->id.has_chuid && k->id.chuid.has_guid &&
	    memcmp(k->id.chuid.guid, c->guid, 16) == 0;
}

int
op_pin_change(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct pin_req p;
	struct inv_card c;
	struct cops_card k;
	struct pcsc_ctx *pc = NULL;
	struct pin_blocklist *bl = NULL;
	const struct prof *prof;
	const char *why = NULL, *code = "bad_request";
	char path[1024], detail[256] = "", msg[64];
	int rc, status = 400, tries = -1;
	unsigned retry = 0;
	json_t *ok = NULL;

	memset(&p, 0, sizeof(p));
	memset(&k, 0, sizeof(k));
	eng_arg(r, "card", p.card, sizeof(p.card));
	eng_arg(r, "reader", p.reader, sizeof(p.reader));
	if (open_sealed(e, r, "old_pin", &p.old_pin) != SEAL_OK ||
	    open_sealed(e, r, "new_pin", &p.new_pin) != SEAL_OK ||
	    open_sealed(e, r, "new_pin_again", &p.again) != SEAL_OK) {
		why = "a PIN is not sealed to this station's session key";
		goto out;
	}
	if (pin_confirm(p.new_pin, p.again) != PIN_OK) {
		why = "the two new PINs differ";
		status = 422;
		code = "pin_mismatch";
		goto out;
	}
	if (lookup(e, p.card, &c) != INV_OK) {
		why = "the station does not know this card";
		status = 404;
		code = "not_found";
		goto out;
	}
	if (c.state != INV_CARD_ACTIVE) {
		why = "the card is not active";
		status = 409;
		code = "card_state";
		goto out;
	}
	if ((prof = prof_find(e->profiles, c.profile)) == NULL) {
		why = "the card's profile is no longer configured";
		status = 409;
		code = "no_profile";
		goto out;
	}
	if ((prof->roles[PROF_OP_PIN_CHANGE] & a->roles) == 0) {
		why = "the profile does not allow PIN changes at this station";
		status = 403;
		code = "forbidden";
		goto out;
	}
	if (prof->pin.blocklist[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s", e->cfg->profiles_dir,
		    prof->pin.blocklist);
		if (pin_blocklist_load(path, &bl, NULL, 0) != 0)
			bl = NULL;
	}
	rc = pin_check(&prof->pin, p.new_pin, p.old_pin, bl, &why);
	pin_blocklist_free(bl);
	if (rc != PIN_OK) {
		status = 422;
		code = "pin_policy";
		goto out;
	}
	if ((rc = eng_reader_claim(e, p.reader)) != 0) {
		why = eng_claim_why(rc, &code);
		status = 409;
		goto out;
	}
	if (eng_pcsc_open(e, &pc) != PCSC_OK ||
	    cops_open(pc, p.reader, &k, detail, sizeof(detail)) != COPS_OK) {
		why = "no card in this reader";
		status = 409;
		code = "no_card";
		goto release;
	}
	if (!same_card(&k, &c)) {
		why = "the card in the reader is not this card";
		status = 409;
		code = "different_card";
		goto release;
	}
	if (eng_attempt_check_card(e, c.guid, c.holder, &retry) != 0) {
		why = "too many failed attempts with this card or holder";
		status = 429;
		code = "rate_limited";
		goto release;
	}
	rc = cops_pin_change(&k, p.old_pin, p.new_pin, &tries);
	if (rc == COPS_ERR_WRONG_PIN)
		eng_attempt_failed_card(e, c.guid, c.holder);
	if (rc == COPS_OK) {
		record(e, &c, "pin_changed", a->name, "");
		ok = json_pack("{s:s}", "result", "PIN changed");
	} else if (rc == COPS_ERR_WRONG_PIN) {
		snprintf(msg, sizeof(msg), "wrong PIN: %d %s left", tries,
		    tries == 1 ? "try" : "tries");
		why = msg;
		status = 403;
		code = "wrong_pin";
	} else if (rc == COPS_ERR_BLOCKED) {
		why = "the PIN is blocked: the help desk can unblock it";
		status = 423;
		code = "pin_blocked";
		tries = 0;
	} else {
		why = cops_strerror(rc);
		status = 502;
		code = "card";
	}
release:
	cops_close(&k);
	eng_pcsc_close(e, pc, p.reader);
	eng_reader_release(e, p.reader);
out:
	eng_audit(e, a, "pin_change", p.card, ok != NULL ? "ok" : "refused",
	    ok != NULL ? "" : why);
	pin_req_clear(&p);
	if (ok != NULL)
		return eng_reply(e, id, 200, ok);
	if (status == 429)
		return eng_rate_limited(e, id, retry);
	if (tries >= 0)
		return eng_reply(e, id, status, json_pack("{s:s, s:s, s:i, s:s}",
		    "error", code, "message", why, "tries_left", tries, "next",
		    tries == 0 ? "unblock" : "retry"));
	return eng_error(e, id, status, code, "%s", why);
}
