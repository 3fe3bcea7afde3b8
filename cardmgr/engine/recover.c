/*
 * recover: what makes a torn issuance safe.
 *
 * An issuance that did not finish leaves a card record ISSUING (created with
 * the CHUID step, see issue.c) and its operation FAILED (or RUNNING, if the
 * engine died: marked FAILED at the next start). Such a card is rolled back
 * as soon as it is in a reader - right away when the failure left it there,
 * else when it is inserted again or found at start by the reader watcher:
 *   1 wiped back to stock with its diversified 9B key (or the factory key,
 *     if it tore before the key was set): PIN and PUK blocked, then RESET;
 *   2 in one transaction: every certificate the CA issued for it queued for
 *     revocation (cessationOfOperation) in the outbox, the card RETIRED with
 *     that CA work pending, its operation ROLLED_BACK, history and audit;
 *   3 the outbox drained.
 * Rolling back rather than resuming keeps one path for every tear point and
 * never hands out a card whose every step was not seen to succeed; the
 * officer simply issues the (now blank) card again.
 *
 * The same watcher hands a suspended card with a temporary card out for it
 * to temp.c (eng_temp_presented): proven by its 9E key, it ends its loan.
 */
#include "engine_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/cardops.h"
#include "proc/log.h"

#define ROLLBACK_REASON 5	/* cessationOfOperation, if the lifecycle had none */

#ifdef CARDMGR_TEST_HOOKS
/*
 * Test builds only: CARDMGRD_CRASH_AT=<step:state> kills the engine with
 * SIGKILL right after that journal step is committed (t_daemon_crash).
 * A release build has no such variable.
 */
void
eng_crash_point(const char *step)
{
	const char *at = getenv("CARDMGRD_CRASH_AT");

	if (at != NULL && strcmp(at, step) == 0)
		kill(getpid(), SIGKILL);
}
#endif

/* The lifecycle's rollback reason (its shape is fixed: lifecycle.c). */
static int
rollback_reason(struct engine *e)
{
	const struct lc_transition *tr = lc_find(e->lc, "rollback");

	return tr != NULL ? lc_reason(tr, NULL) : ROLLBACK_REASON;
}

static int
record_rollback(struct engine *e, const uint8_t guid[16], const char *why)
{
	struct inv_txn *t = NULL;
	struct inv_card c;
	struct inv_event ev;
	struct inv_op op;
	char key[48], g[33];
	uint8_t idb[8];
	size_t n = 0;
	uint64_t opid = 0, now = (uint64_t)time(NULL);
	uint16_t queued;
	int rc;

	eng_hex(guid, 16, g);
	snprintf(key, sizeof(key), "issuing:%s", g);
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_card_get(t, guid, &c)) != INV_OK)
		goto fail;
	if (c.state != INV_CARD_ISSUING) {
		rc = INV_ERR_ARG;
		goto fail;
	}
	if ((rc = eng_enroll_orphans(e, t, guid, rollback_reason(e))) != INV_OK ||
	    (rc = eng_queue_revocations(e, t, guid, rollback_reason(e),
	    &queued)) != INV_OK ||
	    (rc = eng_card_pending(t, guid, &c.pending_ca)) != INV_OK)
		goto fail;
	c.state = INV_CARD_RETIRED;
	c.updated = now;
	if ((rc = inv_card_put(t, &c, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	if (inv_meta_get(t, key, idb, sizeof(idb), &n) == INV_OK && n == 8) {
		for (int i = 0; i < 8; i++)
			opid = opid << 8 | idb[i];
		if (inv_op_get(t, opid, &op) == INV_OK) {
			op.state = INV_OP_ROLLED_BACK;
			op.updated = now;
			if ((rc = inv_op_put(t, &op)) != INV_OK)
				goto fail;
		}
		inv_meta_del(t, key);
	}
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, guid, 16);
	ev.time = now;
	eng_copy(ev.name, sizeof(ev.name), "issue_rolled_back");
	eng_copy(ev.actor, sizeof(ev.actor), "engine");
	snprintf(ev.detail, sizeof(ev.detail), "wiped to stock; %u "
	    "certificate(s) to revoke; %.200s", queued, why);
	if ((rc = inv_event_append(t, &ev, &ev.seq)) != INV_OK)
		goto fail;
	/* Wiped: blank again, back in the station's stock. */
	if ((rc = stk_return_in(e, t, &c, "engine", "issuance rolled back")) !=
	    INV_OK)
		goto fail;
	return inv_commit(t);
fail:
	inv_abort(t);
	return rc;
}

/* Wipe the card in reader, which must carry guid: its key, else the factory key. */
static int
wipe_issuing(struct engine *e, const struct inv_card *c, const char *reader,
    char *detail, size_t cap)
{
	static const uint8_t def[] = PIV_DEFAULT_MGMT_KEY;
	const struct prof *p = prof_find(e->profiles, c->profile);
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	struct keyc_card kc;
	int alg = PIV_ALG_AES192, rc;

	if (p != NULL && p->mgmt_alg == PROF_MGMT_AES128)
		alg = PIV_ALG_AES128;
	else if (p != NULL && p->mgmt_alg == PROF_MGMT_AES256)
		alg = PIV_ALG_AES256;
	else if (p != NULL && p->mgmt_alg == PROF_MGMT_3DES)
		alg = PIV_ALG_3DES;
	kc.e = e;
	kc.version = c->mk_version;
	memcpy(kc.guid, c->guid, 16);
	kc.alg = alg;
	memset(&k, 0, sizeof(k));
	if (eng_pcsc_open(e, &pc) != PCSC_OK ||
	    cops_open(pc, reader, &k, detail, cap) != COPS_OK) {
		rc = COPS_ERR_READER;
		goto out;
	}
	if (!k.id.has_chuid || !k.id.chuid.has_guid ||
	    memcmp(k.id.chuid.guid, c->guid, 16) != 0) {
		snprintf(detail, cap, "the card in '%s' is not the one to roll back",
		    reader);
		rc = COPS_ERR_DIFFERENT;
		goto out;
	}
	/* keyd answers the card's 9B challenges: the key stays there. */
	rc = cops_wipe_cb(&k, alg, keyc_mgmt_crypt, &kc, detail, cap);
	if (rc == COPS_ERR_CARD) {
		/* Torn before the diversified key was set. */
		cops_close(&k);
		if (cops_open(pc, reader, &k, detail, cap) == COPS_OK) {
			rc = cops_wipe(&k, PIV_ALG_3DES, def, 24, detail, cap);
			if (rc == COPS_ERR_CARD)
				rc = cops_wipe(&k, PIV_ALG_AES192, def, 24,
				    detail, cap);
		}
	}
out:
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	return rc;
}

int
eng_rollback(struct engine *e, const uint8_t guid[16], const char *reader,
    const char *why)
{
	struct outbox_drain_stats st;
	struct inv_txn *t = NULL;
	struct inv_card c;
	char detail[256] = "", g[33];
	int rc;

	eng_hex(guid, 16, g);
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_card_get(t, guid, &c);
	inv_abort(t);
	if (rc != INV_OK || c.state != INV_CARD_ISSUING)
		return -1;
	if ((rc = wipe_issuing(e, &c, reader, detail, sizeof(detail))) != COPS_OK) {
		log_warnx("card %s (%s): roll back: %s", c.serial, g, detail);
		return -1;
	}
	rc = record_rollback(e, guid, why);
	eng_op_changed(e);
	if (rc != INV_OK) {
		log_warnx("card %s (%s): wiped, but the inventory refused the "
		    "roll back: %s", c.serial, g, inv_strerror(rc));
		return -1;
	}
	log_info("card %s (%s): interrupted issuance rolled back (%s)",
	    c.serial, g, why);
	eng_audit(e, NULL, "issue_rollback", c.serial, "ok", why);
	if (e->cast != NULL)
		eng_ca_drain(e, &st);
	return 0;
}

/* ---- at start: operations a dead engine left RUNNING ------------------- */

struct running {
	uint64_t ids[64];
	size_t n;
};

static int
collect_running(const struct inv_op *op, void *arg)
{
	struct running *r = arg;

	if (r->n < sizeof(r->ids) / sizeof(r->ids[0]))
		r->ids[r->n++] = op->id;
	return 0;
}

int
eng_recover_start(struct engine *e)
{
	struct running r = { .n = 0 };
	struct inv_txn *t = NULL;
	struct inv_op op;
	int rc;

	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_op_running_foreach(t, collect_running, &r)) != INV_OK)
		goto fail;
	for (size_t i = 0; i < r.n; i++) {
		if ((rc = inv_op_get(t, r.ids[i], &op)) != INV_OK)
			goto fail;
		op.state = INV_OP_FAILED;
		op.updated = (uint64_t)time(NULL);
		if ((rc = inv_op_put(t, &op)) != INV_OK)
			goto fail;
		log_warnx("operation %llu (%s) was interrupted by a restart",
		    (unsigned long long)op.id, op.type);
	}
	return inv_commit(t);
fail:
	inv_abort(t);
	return rc;
}

/* ---- the reader watcher: a torn card that comes back is rolled back ---- */

/*
 * Readers whose card could not be looked at when it arrived (an operation
 * held the reader): looked at again on every tick until it is free.
 */
#define PENDING_MAX 16
static char pending[PENDING_MAX][128];

static void
pending_add(const char *reader)
{
	int free_slot = -1;

	for (int i = 0; i < PENDING_MAX; i++) {
		if (strcmp(pending[i], reader) == 0)
			return;
		if (pending[i][0] == '\0' && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
		eng_copy(pending[free_slot], sizeof(pending[0]), reader);
}

/* 0 if the card in reader was looked at, -1 if the reader was busy. */
static int
inserted(struct engine *e, const char *reader)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	struct inv_txn *t = NULL;
	struct inv_card c;
	struct outbox_drain_stats st;
	char detail[256];
	int issuing = 0, known = 0, returned = 0;

	switch (eng_reader_claim(e, reader)) {
	case 0:
		break;
	case ENG_NOT_RESPONDING:
		return 0;	/* nothing to look at until it is pulled */
	default:
		return -1;	/* an operation has it: look again later */
	}
	memset(&k, 0, sizeof(k));
	if (eng_pcsc_open(e, &pc) == PCSC_OK &&
	    cops_open(pc, reader, &k, detail, sizeof(detail)) == COPS_OK &&
	    k.id.has_chuid && k.id.chuid.has_guid &&
	    inv_begin(e->inv, 0, &t) == INV_OK) {
		known = inv_card_get(t, k.id.chuid.guid, &c) == INV_OK;
		issuing = known && c.state == INV_CARD_ISSUING;
		inv_abort(t);
	}
	/* A permanent card on loan, back: it may end its loan (temp.c). */
	if (known && c.state == INV_CARD_SUSPENDED)
		returned = eng_temp_presented(e, &k, &c, reader) == 1;
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	if (issuing)
		eng_rollback(e, c.guid, reader, "interrupted issuance");
	eng_reader_release(e, reader);
	if (returned && e->cast != NULL)
		eng_ca_drain(e, &st);
	return 0;
}

static void *
watch_loop(void *arg)
{
	struct engine *e = arg;
	struct pcsc_ctx *pc = NULL;
	struct pcsc_event ev;
	int rc;

	for (;;) {
		if (pc == NULL && pcsc_init(&pc) != PCSC_OK) {
			pc = NULL;
			sleep(2);
			continue;
		}
		rc = pcsc_wait_event(pc, 1000, &ev);
		if (rc == PCSC_ERR_TIMEOUT) {
			for (int i = 0; i < PENDING_MAX; i++)
				if (pending[i][0] != '\0' &&
				    inserted(e, pending[i]) == 0)
					pending[i][0] = '\0';
			continue;
		}
		if (rc != PCSC_OK) {
			pcsc_done(pc);
			pc = NULL;
			sleep(1);
			continue;
		}
		if (ev.type == PCSC_EV_CARD_INSERTED && inserted(e, ev.reader) != 0)
			pending_add(ev.reader);
		/* An operator's card pulled: their session ends now. */
		if (ev.type == PCSC_EV_CARD_REMOVED ||
		    ev.type == PCSC_EV_READER_REMOVED)
			eng_sess_reader_gone(e, ev.reader);
	}
	return NULL;
}

int
eng_watch_start(struct engine *e)
{
	pthread_t th;

	if (pthread_create(&th, NULL, watch_loop, e) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}
