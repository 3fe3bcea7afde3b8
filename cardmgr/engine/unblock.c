/*
 * unblock: the help desk unblocks a holder's PIN after challenge questions.
 *
 * 1 POST .../unblock/questions: the card in the reader must be the
 *   inventory's card (GUID) and ACTIVE, its holder not locked out; the
 *   engine picks `asked` of the holder's enrolled questions at random and
 *   remembers the challenge (one use, ten minutes, this operator and card).
 * 2 POST .../unblock: the answers are checked against the Argon2id hashes;
 *   all right: the PIN is reset with the card's diversified PUK (from keyd)
 *   and the new PIN (policy checked first). Any wrong: one failure counted
 *   for the holder; at max_failures unblock is locked for lock_seconds
 *   (0: until an operator clears it). Either way the challenge is spent.
 * Every outcome is audited; no answer or PIN is ever recorded.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "engine/cardops.h"
#include "policy/answer.h"
#include "policy/pin.h"
#include "proc/log.h"

#define CHALLENGES 16
#define CHALLENGE_TTL 600
#define ASK_MAX 8

struct challenge {
	char id[33];		/* "" = free */
	uint8_t guid[16];
	char oper[64];
	int qids[ASK_MAX];
	int n;
	time_t expires;
};

static struct challenge challenges[CHALLENGES];
static pthread_mutex_t ch_mu = PTHREAD_MUTEX_INITIALIZER;

static int
lookup(struct engine *e, const char *key, struct inv_card *c,
    struct inv_holder *h)
{
	struct inv_txn *t = NULL;
	int rc;

	if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
		return rc;
	if ((rc = eng_find_card(t, key, c)) == INV_OK)
		rc = inv_holder_get(t, c->holder, h);
	inv_abort(t);
	return rc;
}

/* The card in reader is c. COPS_OK, or why not in detail. */
static int
check_present(struct engine *e, const char *reader, const struct inv_card *c,
    struct cops_card *k, struct pcsc_ctx **pc, char *detail, size_t cap)
{
	int rc = COPS_ERR_READER;

	if (eng_pcsc_open(e, pc) != PCSC_OK ||
	    (rc = cops_open(*pc, reader, k, detail, cap)) != COPS_OK) {
		if (rc == COPS_ERR_NOT_RESPONDING) {
			snprintf(detail, cap, "card not responding in reader '%s'",
			    reader);
			return rc;
		}
		snprintf(detail, cap, "no card in reader '%s'", reader);
		return COPS_ERR_READER;
	}
	if (!k->id.has_chuid || !k->id.chuid.has_guid ||
	    memcmp(k->id.chuid.guid, c->guid, 16) != 0) {
		snprintf(detail, cap, "the card in the reader is not this card");
		return COPS_ERR_DIFFERENT;
	}
	return COPS_OK;
}

static const char *
question_text(const struct prof *p, int id)
{
	for (size_t i = 0; i < p->challenge.nquestions; i++)
		if (p->challenge.questions[i].id == id)
			return p->challenge.questions[i].text;
	return "";
}

/* Common checks for both steps. 0, or status/code/why set. */
static int
precheck(struct engine *e, const struct ops_req *r, const struct actor *a,
    struct inv_card *c, struct inv_holder *h, const struct prof **p,
    int *status, const char **code, const char **why)
{
	char key[80];

	eng_arg(r, "card", key, sizeof(key));
	if (lookup(e, key, c, h) != INV_OK) {
		*status = 404; *code = "not_found";
		*why = "the station does not know this card or its holder";
		return -1;
	}
	if (c->state != INV_CARD_ACTIVE) {
		*status = 409; *code = "card_state"; *why = "the card is not active";
		return -1;
	}
	if ((*p = prof_find(e->profiles, c->profile)) == NULL ||
	    ((*p)->roles[PROF_OP_UNBLOCK] & a->roles) == 0) {
		*status = *p == NULL ? 409 : 403;
		*code = *p == NULL ? "no_profile" : "forbidden";
		*why = *p == NULL ? "the card's profile is no longer configured" :
		    "the profile does not let your roles unblock";
		return -1;
	}
	if (!(*p)->challenge.enabled || h->nanswers == 0) {
		*status = 409; *code = "no_answers";
		*why = "the holder has no challenge answers enrolled";
		return -1;
	}
	if (h->unblock_locked_until != 0 &&
	    (h->unblock_locked_until == UINT64_MAX ||
	    (uint64_t)time(NULL) < h->unblock_locked_until)) {
		*status = 423; *code = "locked";
		*why = "unblock is locked for this holder after too many wrong answers";
		return -1;
	}
	return 0;
}

int
op_unblock_questions(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_card c;
	struct inv_holder h;
	const struct prof *p = NULL;
	struct cops_card k;
	struct pcsc_ctx *pc = NULL;
	struct challenge *ch = NULL;
	char reader[128], detail[256] = "";
	const char *why = NULL, *code = "bad_request";
	int status = 400, ids[INV_ANSWERS_MAX], picked[ASK_MAX], n;
	uint8_t rnd[16];
	json_t *qs;

	memset(&k, 0, sizeof(k));
	eng_arg(r, "reader", reader, sizeof(reader));
	if (precheck(e, r, a, &c, &h, &p, &status, &code, &why) != 0)
		goto refuse;
	if (check_present(e, reader, &c, &k, &pc, detail, sizeof(detail)) != COPS_OK) {
		cops_close(&k);
		eng_pcsc_close(e, pc, reader);
		status = 409; code = "card"; why = detail;
		goto refuse;
	}
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	for (n = 0; n < h.nanswers; n++)
		ids[n] = h.answers[n].question;
	n = p->challenge.asked < n ? p->challenge.asked : n;
	if (n > ASK_MAX || ans_pick(ids, h.nanswers, (size_t)n, picked) != 0) {
		status = 500; code = "internal"; why = "cannot pick questions";
		goto refuse;
	}
	pthread_mutex_lock(&ch_mu);
	for (int i = 0; i < CHALLENGES; i++)
		if (challenges[i].id[0] == '\0' ||
		    challenges[i].expires < time(NULL)) {
			ch = &challenges[i];
			break;
		}
	if (ch != NULL) {
		randombytes_buf(rnd, sizeof(rnd));
		eng_hex(rnd, sizeof(rnd), ch->id);
		memcpy(ch->guid, c.guid, 16);
		snprintf(ch->oper, sizeof(ch->oper), "%s", a->name);
		memcpy(ch->qids, picked, sizeof(int) * (size_t)n);
		ch->n = n;
		ch->expires = time(NULL) + CHALLENGE_TTL;
	}
	pthread_mutex_unlock(&ch_mu);
	if (ch == NULL) {
		status = 503; code = "busy"; why = "too many open challenges";
		goto refuse;
	}
	qs = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(qs, json_pack("{s:i, s:s}", "id", picked[i],
		    "text", question_text(p, picked[i])));
	eng_audit(e, a, "unblock_questions", c.serial, "ok", "");
	return eng_reply(e, id, 200, json_pack("{s:s, s:o, s:i}", "challenge",
	    ch->id, "questions", qs, "expires_in", CHALLENGE_TTL));
refuse:
	eng_audit(e, a, "unblock_questions", c.serial[0] ? c.serial : "-",
	    "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

/* Take the challenge named id for card guid and operator (one use). */
static int
take_challenge(const char *id, const uint8_t guid[16], const char *oper,
    struct challenge *out)
{
	int rc = -1;

	pthread_mutex_lock(&ch_mu);
	for (int i = 0; i < CHALLENGES; i++) {
		struct challenge *ch = &challenges[i];

		if (ch->id[0] == '\0' || strcmp(ch->id, id) != 0)
			continue;
		if (ch->expires >= time(NULL) && memcmp(ch->guid, guid, 16) == 0 &&
		    strcmp(ch->oper, oper) == 0) {
			*out = *ch;
			rc = 0;
		}
		memset(ch, 0, sizeof(*ch));	/* spent, right or wrong */
	}
	pthread_mutex_unlock(&ch_mu);
	return rc;
}

/* 1 if every asked question is answered right, exactly once. */
static int
answers_right(struct engine *e, const struct ops_req *r,
    const struct challenge *ch, const struct inv_holder *h)
{
	size_t n = ops_req_count(r, "answers");
	int right = (int)n == ch->n;

	for (size_t i = 0; i < n; i++) {
		const struct ops_value *q = ops_req_get(r, "answers", i, "question");
		const struct ops_value *v = ops_req_get(r, "answers", i, "answer");
		const char *hash = NULL;
		char *text = NULL;
		int asked = 0;

		for (int k = 0; k < ch->n; k++)
			asked |= q != NULL && ch->qids[k] == q->i;
		for (int k = 0; q != NULL && k < h->nanswers; k++)
			if (h->answers[k].question == q->i)
				hash = h->answers[k].hash;
		for (size_t k = 0; k < i; k++) {
			const struct ops_value *o = ops_req_get(r, "answers", k,
			    "question");
			if (o != NULL && q != NULL && o->i == q->i)
				asked = 0;	/* answered twice */
		}
		/* Verify every answer even after a miss: same time either way. */
		if (v == NULL || seal_open_text(e->seal, v->p, v->len, 256,
		    &text) != SEAL_OK) {
			right = 0;
			continue;
		}
		if (!asked || hash == NULL || ans_verify(hash, text) != ANS_OK)
			right = 0;
		seal_text_free(text);
	}
	return right;
}

static int
count_failure(struct engine *e, const struct inv_holder *h, const struct prof *p,
    int *locked)
{
	struct inv_txn *t = NULL;
	struct inv_holder u;
	int rc;

	*locked = 0;
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_holder_get(t, h->id, &u)) == INV_OK) {
		u.unblock_failures++;
		if (u.unblock_failures >= (uint32_t)p->challenge.max_failures) {
			u.unblock_locked_until = p->challenge.lock_seconds == 0 ?
			    UINT64_MAX : (uint64_t)time(NULL) +
			    (uint64_t)p->challenge.lock_seconds;
			u.unblock_failures = 0;
			*locked = 1;
		}
		u.updated = (uint64_t)time(NULL);
		rc = inv_holder_put(t, &u, INV_PUT_UPDATE);
	}
	if (rc != INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}

static void
clear_failures(struct engine *e, const struct inv_holder *h,
    const struct inv_card *c, const char *actor)
{
	struct inv_txn *t = NULL;
	struct inv_holder u;
	struct inv_event ev;

	if (inv_begin(e->inv, 1, &t) != INV_OK)
		return;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, c->guid, 16);
	ev.time = (uint64_t)time(NULL);
	snprintf(ev.name, sizeof(ev.name), "pin_unblocked");
	snprintf(ev.actor, sizeof(ev.actor), "%s", actor);
	if (inv_holder_get(t, h->id, &u) == INV_OK) {
		u.unblock_failures = 0;
		u.updated = ev.time;
		inv_holder_put(t, &u, INV_PUT_UPDATE);
	}
	if (inv_event_append(t, &ev, &ev.seq) == INV_OK)
		inv_commit(t);
	else
		inv_abort(t);
}

/*
 * Lift a holder's unblock lockout (the one too many wrong answers set, for
 * lock_seconds or for good): failures back to 0, audited with the reason.
 */
int
op_holder_unlock(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_txn *t = NULL;
	struct inv_holder u;
	char hid[80], reason[256];
	uint64_t was = 0;
	int rc;

	eng_arg(r, "holder", hid, sizeof(hid));
	eng_arg(r, "reason", reason, sizeof(reason));
	if ((rc = inv_begin(e->inv, 1, &t)) == INV_OK &&
	    (rc = inv_holder_get(t, hid, &u)) == INV_OK) {
		was = u.unblock_locked_until;
		u.unblock_failures = 0;
		u.unblock_locked_until = 0;
		u.updated = (uint64_t)time(NULL);
		if ((rc = inv_holder_put(t, &u, INV_PUT_UPDATE)) == INV_OK)
			rc = inv_commit(t);
		else
			inv_abort(t);
	} else {
		inv_abort(t);
	}
	inv_holder_clear(&u);
	if (rc != INV_OK) {
		eng_audit(e, a, "holder_unlock", hid, "refused", inv_strerror(rc));
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 :
		    rc == INV_ERR_FULL ? 507 : 500, rc == INV_ERR_NOTFOUND ?
		    "no_holder" : "inventory", "holder %s: %s", hid,
		    inv_strerror(rc));
	}
	eng_audit(e, a, "holder_unlock", hid, "ok", reason);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s, s:b}", "holder", hid,
	    "result", "unblock lockout lifted", "was_locked", was != 0));
}

int
op_unblock(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct inv_card c;
	struct inv_holder h;
	const struct prof *p = NULL;
	struct challenge ch;
	struct cops_card k;
	struct pcsc_ctx *pc = NULL;
	struct pin_blocklist *bl = NULL;
	const struct ops_value *pv;
	char reader[128], cid[80], detail[256] = "", puk[9], path[1024];
	char *pin = NULL;
	const char *why = NULL, *code = "bad_request";
	int status = 400, locked, tries = -1, rc, done = 0;
	unsigned retry = 0;

	memset(&k, 0, sizeof(k));
	memset(&c, 0, sizeof(c));
	eng_arg(r, "reader", reader, sizeof(reader));
	eng_arg(r, "challenge", cid, sizeof(cid));
	if (precheck(e, r, a, &c, &h, &p, &status, &code, &why) != 0)
		goto out;
	/* Before the challenge is spent: a limited try costs nothing. */
	if (eng_attempt_check_card(e, c.guid, h.id, &retry) != 0) {
		eng_audit(e, a, "unblock", c.serial, "refused", "rate limited");
		return eng_rate_limited(e, id, retry);
	}
	if (take_challenge(cid, c.guid, a->name, &ch) != 0) {
		status = 409; code = "challenge";
		why = "no such challenge for this card and operator (expired or spent)";
		goto out;
	}
	if (!answers_right(e, r, &ch, &h)) {
		count_failure(e, &h, p, &locked);
		eng_attempt_failed_card(e, c.guid, h.id);
		status = 403; code = locked ? "locked" : "wrong_answers";
		why = locked ? "wrong answers: unblock is now locked for this holder" :
		    "wrong answers";
		goto out;
	}
	pv = ops_req_get(r, "new_pin", 0, NULL);
	if (pv == NULL || seal_open_text(e->seal, pv->p, pv->len, 8, &pin) !=
	    SEAL_OK) {
		why = "the new PIN is not sealed to this station's session key";
		goto out;
	}
	if (p->pin.blocklist[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s", e->cfg->profiles_dir,
		    p->pin.blocklist);
		if (pin_blocklist_load(path, &bl, NULL, 0) != 0)
			bl = NULL;
	}
	rc = pin_check(&p->pin, pin, NULL, bl, &why);
	pin_blocklist_free(bl);
	if (rc != PIN_OK) {
		status = 422;
		code = "pin_policy";
		goto out;
	}
	if ((rc = eng_reader_claim(e, reader)) != 0) {
		status = 409;
		why = eng_claim_why(rc, &code);
		goto out;
	}
	if (check_present(e, reader, &c, &k, &pc, detail, sizeof(detail)) != COPS_OK) {
		status = 409; code = "card"; why = detail;
	} else if (keyc_puk(e, c.mk_version, c.guid, puk) != 0) {
		status = 500; code = "keyd"; why = "keyd cannot derive the PUK";
	} else if ((rc = cops_unblock(&k, puk, pin, &tries)) != COPS_OK) {
		status = 502; code = "card";
		why = rc == COPS_ERR_BLOCKED ? "the PUK is blocked: the card must be replaced" :
		    "the card refused the station's PUK";
	} else {
		done = 1;
	}
	sodium_memzero(puk, sizeof(puk));
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	eng_reader_release(e, reader);
	if (done)
		clear_failures(e, &h, &c, a->name);
out:
	seal_text_free(pin);
	eng_audit(e, a, "unblock", c.serial[0] ? c.serial : "-",
	    done ? "ok" : "refused", done ? "" : why);
	if (done)
		return eng_reply(e, id, 200, json_pack("{s:s}", "result",
		    "PIN unblocked and set"));
	return eng_error(e, id, status, code, "%s", why);
}
