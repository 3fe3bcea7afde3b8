/*
 * retire: a security officer retires a card. With the card in the reader it
 * is proven to be ours (its 9B key is the one derived for its GUID),
 * revoked with the profile's reason and, if the profile allows reuse, wiped
 * back to stock; without it (lost, stolen) it is revoked with the profile's
 * reason for that event (keyCompromise by default).
 *
 * A state change and its CA effect never drift apart: the card becomes
 * RETIRED (or LOST, DAMAGED) with pending_ca = the number of revocations
 * still owed, its certificates PENDING_REVOKE, and one outbox revocation per
 * certificate is journaled, all in one LMDB write transaction. Then the
 * outbox drains; each revocation the CA confirms turns its certificate
 * REVOKED and lowers pending_ca (eng_ca_reconcile). If the CA is down the
 * card shows its CA work as pending, and the background drain finishes it.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cardops.h"
#include "proc/log.h"

struct revoke_ctx {
	struct inv_txn *t;
	struct outbox *ob;
	int reason;
	uint16_t queued;
	uint64_t now;
	int rc;
};

static int
queue_revoke(const struct inv_cert *c, void *arg)
{
	struct revoke_ctx *x = arg;
	struct inv_cert u;
	uint64_t obid;

	if (c->status == INV_CERT_REVOKED)
		return 0;
	if (x->ob == NULL || outbox_add_txn(x->ob, inv_txn_mdb(x->t),
	    OUTBOX_REVOKE, NULL, x->reason, c->der, c->der_len, x->now,
	    &obid) != OUTBOX_OK) {
		x->rc = INV_ERR_DB;
		return -1;
	}
	u = *c;
	u.status = INV_CERT_PENDING_REVOKE;
	u.reason = (uint8_t)x->reason;
	if ((x->rc = inv_cert_put(x->t, &u, INV_PUT_UPDATE)) != INV_OK)
		return -1;
	x->queued++;
	return 0;
}

int
eng_queue_revocations(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], int reason, uint16_t *queued)
{
	struct revoke_ctx x = { t, e->cast != NULL ? cast_outbox(e->cast) :
	    NULL, reason, 0, (uint64_t)time(NULL), INV_OK };
	int rc;

	*queued = 0;
	rc = inv_certs_of_card(t, guid, queue_revoke, &x);
	*queued = x.queued;
	return rc != INV_OK ? rc : x.rc;
}

/* Card into state, its certificates queued for revocation: one txn. */
static int
retire_record(struct engine *e, struct inv_card *c, int reason, int state,
    const char *event, const char *actor, const char *detail)
{
	struct inv_txn *t = NULL;
	struct inv_event ev;
	uint64_t now = (uint64_t)time(NULL);
	uint16_t queued;
	int rc;

	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = eng_queue_revocations(e, t, c->guid, reason, &queued)) != INV_OK)
		goto fail;
	c->state = (uint8_t)state;
	c->pending_ca = queued;
	c->updated = now;
	if ((rc = inv_card_put(t, c, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, c->guid, 16);
	ev.time = now;
	eng_copy(ev.name, sizeof(ev.name), event);
	eng_copy(ev.actor, sizeof(ev.actor), actor);
	snprintf(ev.detail, sizeof(ev.detail), "%s; %u revocation(s) queued",
	    detail, queued);
	if ((rc = inv_event_append(t, &ev, &ev.seq)) != INV_OK)
		goto fail;
	return inv_commit(t);
fail:
	inv_abort(t);
	return rc;
}

/* ---- reconcile: what the CA confirmed, into the inventory ---------------- */

struct done_rev {
	uint8_t **der;
	size_t *len;
	size_t n, cap;
};

static int
collect_done(const struct outbox_op *op, void *arg)
{
	struct done_rev *d = arg;

	if (op->type != OUTBOX_REVOKE || op->state != OUTBOX_DONE)
		return 0;
	if (d->n == d->cap) {
		size_t nc = d->cap ? 2 * d->cap : 64;
		uint8_t **nd = realloc(d->der, nc * sizeof(*nd));
		size_t *nl;

		if (nd == NULL)
			return -1;
		d->der = nd;
		if ((nl = realloc(d->len, nc * sizeof(*nl))) == NULL)
			return -1;
		d->len = nl;
		d->cap = nc;
	}
	if ((d->der[d->n] = malloc(op->payload_len)) == NULL)
		return -1;
	memcpy(d->der[d->n], op->payload, op->payload_len);
	d->len[d->n++] = op->payload_len;
	return 0;
}

struct rec_ctx {
	struct inv_txn *t;
	const struct done_rev *d;
	int left, changed, rc;
};

static int
mark_cert(const struct inv_cert *c, void *arg)
{
	struct rec_ctx *x = arg;
	struct inv_cert u;

	if (c->status != INV_CERT_PENDING_REVOKE)
		return 0;
	for (size_t i = 0; i < x->d->n; i++)
		if (x->d->len[i] == c->der_len &&
		    memcmp(x->d->der[i], c->der, c->der_len) == 0) {
			u = *c;
			u.status = INV_CERT_REVOKED;
			if ((x->rc = inv_cert_put(x->t, &u, INV_PUT_UPDATE)) != INV_OK)
				return -1;
			x->changed++;
			return 0;
		}
	x->left++;
	return 0;
}

static int
card_reconcile(const struct inv_card *c, void *arg)
{
	struct rec_ctx *x = arg;
	struct inv_card u;

	if (c->pending_ca == 0)
		return 0;
	x->left = 0;
	x->changed = 0;
	if (inv_certs_of_card(x->t, c->guid, mark_cert, x) != INV_OK ||
	    x->rc != INV_OK)
		return -1;
	if (!x->changed)
		return 0;
	u = *c;
	u.pending_ca = (uint16_t)x->left;
	u.updated = (uint64_t)time(NULL);
	x->rc = inv_card_put(x->t, &u, INV_PUT_UPDATE);
	return x->rc == INV_OK ? 0 : -1;
}

int
eng_ca_reconcile(struct engine *e)
{
	static const int owing[] = { INV_CARD_RETIRED, INV_CARD_LOST,
	    INV_CARD_DAMAGED };
	struct done_rev d = { NULL, NULL, 0, 0 };
	struct rec_ctx x = { NULL, &d, 0, 0, INV_OK };
	int rc;

	if (e->cast == NULL)
		return 0;
	pthread_mutex_lock(&e->ca_mu);
	rc = outbox_foreach(cast_outbox(e->cast), 0, collect_done, &d);
	pthread_mutex_unlock(&e->ca_mu);
	if (rc != OUTBOX_OK) {
		rc = -1;
		goto out;
	}
	if ((rc = inv_begin(e->inv, 1, &x.t)) != INV_OK)
		goto out;
	for (size_t i = 0; i < sizeof(owing) / sizeof(owing[0]); i++)
		if ((rc = inv_cards_in_state(x.t, owing[i], card_reconcile,
		    &x)) != INV_OK || x.rc != INV_OK) {
			inv_abort(x.t);
			rc = rc != INV_OK ? rc : x.rc;
			goto out;
		}
	rc = inv_commit(x.t);
out:
	for (size_t i = 0; i < d.n; i++)
		free(d.der[i]);
	free(d.der);
	free(d.len);
	return rc;
}

/* Drain the CA journal, then fold what it confirmed into the inventory. */
int
eng_ca_drain(struct engine *e, struct outbox_drain_stats *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	if (e->cast == NULL)
		return -1;
	pthread_mutex_lock(&e->ca_mu);
	rc = cast_drain(e->cast, 1, 0, st);
	pthread_mutex_unlock(&e->ca_mu);
	if (eng_ca_reconcile(e) != 0)
		log_warnx("cannot fold CA results into the inventory");
	return rc == CAST_OK ? 0 : -1;
}

/* ---- the request -------------------------------------------------------- */

static int
event_of(const char *reason, int *ev, const char **name)
{
	static const struct { const char *s; int ev; const char *name; } m[] = {
		{ "retire", PROF_EV_RETIRE, "retired" },
		{ "lost", PROF_EV_LOST, "lost" },
		{ "stolen", PROF_EV_STOLEN, "stolen" },
		{ "damaged", PROF_EV_DAMAGED, "damaged" },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(m[i].s, reason) == 0) {
			*ev = m[i].ev;
			*name = m[i].name;
			return 0;
		}
	return -1;
}

static int
final_state(int ev)
{
	return ev == PROF_EV_LOST || ev == PROF_EV_STOLEN ? INV_CARD_LOST :
	    ev == PROF_EV_DAMAGED ? INV_CARD_DAMAGED : INV_CARD_RETIRED;
}

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
	struct inv_card c;
	struct inv_txn *t = NULL;
	const struct prof *p;
	char key[80], reader[128] = "", reason[32], detail[256] = "";
	const char *evname = NULL, *why = NULL, *code = "bad_request";
	int ev, rc, status = 400, present, wiped = 0;
	uint8_t guid[16];

	eng_arg(r, "card", key, sizeof(key));
	present = eng_arg(r, "reader", reader, sizeof(reader)) != NULL;
	eng_arg(r, "reason", reason, sizeof(reason));
	if (event_of(reason, &ev, &evname) != 0) {
		why = "unknown reason";
		goto refuse;
	}
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = eng_find_card(t, key, &c);
	inv_abort(t);
	if (rc != INV_OK) {
		why = "the station does not know this card";
		status = 404;
		code = "not_found";
		goto refuse;
	}
	if (c.state == INV_CARD_RETIRED || c.state == INV_CARD_LOST ||
	    c.state == INV_CARD_DAMAGED || c.state == INV_CARD_RETIRING) {
		why = "the card is already retired";
		status = 409;
		code = "card_state";
		goto refuse;
	}
	if ((p = prof_find(e->profiles, c.profile)) == NULL ||
	    (p->roles[PROF_OP_RETIRE] & a->roles) == 0) {
		why = p == NULL ? "the card's profile is no longer configured" :
		    "the profile does not let your roles retire cards";
		status = p == NULL ? 409 : 403;
		code = p == NULL ? "no_profile" : "forbidden";
		goto refuse;
	}
	if (e->cast == NULL) {
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
	rc = retire_record(e, &c, p->reason[ev], final_state(ev), evname, a->name,
	    present ? "card present" : "card absent");
	if (rc != INV_OK) {
		if (present)
			eng_reader_release(e, reader);
		why = inv_strerror(rc);
		status = rc == INV_ERR_FULL ? 507 : 500;
		code = "inventory";
		goto refuse;
	}
	eng_ca_drain(e, &st);
	if (present && p->reuse_retired) {
		wiped = with_card(e, &c, p, reader, 1, detail, sizeof(detail)) ==
		    COPS_OK;
		if (!wiped)
			log_warnx("retire: wipe failed: %s", detail);
	}
	if (present)
		eng_reader_release(e, reader);
	/* Read back what the journal made of it (the key must not alias c). */
	memcpy(guid, c.guid, sizeof(guid));
	if (inv_begin(e->inv, 0, &t) == INV_OK) {
		inv_card_get(t, guid, &c);
		inv_abort(t);
	}
	eng_audit(e, a, "retire", c.serial, c.pending_ca ? "pending" : "ok",
	    evname);
	return eng_reply(e, id, c.pending_ca ? 202 : 200,
	    json_pack("{s:s, s:i, s:b, s:i}", "state",
	    inv_card_state_name(c.state), "pending_ca", (int)c.pending_ca,
	    "wiped", wiped, "reason", p->reason[ev]));
refuse:
	eng_audit(e, a, "retire", key, "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}
