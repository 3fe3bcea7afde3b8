/*
 * notices: the daily expiry-notice job (the journal and the mail are
 * notify/; this file decides what to mail and when).
 *
 * Once per UTC day (meta "ntf.last_day"), and on POST /v1/notices/run, the
 * scan reads the cards and certificates expiring within the largest
 * threshold from the expiry indexes and journals one notice per event it
 * has not journaled before (ntf_add refuses a key it has: never twice). A
 * card notice covers the card's certificates that expire with it; a
 * certificate gets its own only when it expires more than a day before its
 * card. Then the drain mails every pending notice that is due, outside any
 * LMDB transaction, and records the outcome: sent; pending again after
 * retry_seconds (4xx, no connection); failed (5xx, no address, or the
 * event passed before it could be sent), never tried again and listed by
 * the pending report. One mutex (ntf_mu) serialises the scan and the drain
 * of the thread and of the API, so no notice is in two sends at once.
 *
 * XXX a crash between the server's 250 and the commit of "sent" mails that
 * notice once more at the next start (same Message-ID, so a mail client
 * can tell); marking it "sending" first would trade that for a lost notice.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify/notify.h"
#include "proc/log.h"

#define DAY 86400ULL
#define META_LAST_DAY "ntf.last_day"
#define DRAIN_BATCH 32

struct scan {
	struct engine *e;
	struct inv_txn *t;
	uint64_t now;
	struct ntf_notice *list;	/* candidates to journal */
	size_t n, cap;
	int err;
};

static const struct actor notice_actor = { .name = "cardmgrd-notices" };

/* Fill the holder's part of n; 0 if the holder has an address to mail. */
static int
fill_holder(struct scan *s, const char *holder, struct ntf_notice *n)
{
	struct inv_holder *h = malloc(sizeof(*h));
	int ok = 0;

	if (h == NULL)
		return -1;
	eng_copy(n->holder, sizeof(n->holder), holder);
	if (inv_holder_get(s->t, holder, h) == INV_OK) {
		eng_copy(n->holder_name, sizeof(n->holder_name), h->name);
		if (ntf_addr_ok(h->email)) {
			eng_copy(n->to, sizeof(n->to), h->email);
			ok = 1;
		}
		if (s->e->cfg->notify->manager && ntf_addr_ok(h->manager_email))
			eng_copy(n->cc, sizeof(n->cc), h->manager_email);
	}
	inv_holder_clear(h);
	free(h);
	return ok ? 0 : -1;
}

/* Add a candidate unless its event is journaled already. */
static int
candidate(struct scan *s, struct ntf_notice *n)
{
	struct ntf_notice *old, *p;

	if ((old = malloc(sizeof(*old))) == NULL) {
		s->err = NTF_ERR_NOMEM;
		return 1;
	}
	if (ntf_get(s->e->ntf, inv_txn_mdb(s->t), n->key, old) == NTF_OK) {
		free(old);
		return 0;
	}
	free(old);
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;

		if ((p = reallocarray(s->list, nc, sizeof(*p))) == NULL) {
			s->err = NTF_ERR_NOMEM;
			return 1;
		}
		s->list = p;
		s->cap = nc;
	}
	n->created = n->updated = s->now;
	n->next_try = s->now;
	if (fill_holder(s, n->holder, n) != 0) {
		/* Reported, never retried: there is nobody to mail. */
		n->state = NTF_FAILED;
		eng_copy(n->error, sizeof(n->error),
		    "holder has no valid e-mail address");
	}
	s->list[s->n++] = *n;
	return 0;
}

static int
scan_card(const struct inv_card *c, void *arg)
{
	struct scan *s = arg;
	struct ntf_notice n;
	char guid[33];
	unsigned d;

	if (!eng_card_live(c->state) || c->holder[0] == '\0' ||
	    (d = ntf_threshold(s->e->cfg->notify, s->now, c->expires)) == 0)
		return 0;
	memset(&n, 0, sizeof(n));
	eng_hex(c->guid, 16, guid);
	ntf_key_card(n.key, guid, c->expires, d);
	n.kind = NTF_KIND_CARD;
	n.days = (uint16_t)d;
	n.expires = c->expires;
	eng_copy(n.card_serial, sizeof(n.card_serial), c->serial);
	eng_copy(n.holder, sizeof(n.holder), c->holder);
	return candidate(s, &n);
}

static int
scan_cert(const struct inv_cert *ct, void *arg)
{
	struct scan *s = arg;
	struct ntf_notice n;
	struct inv_card *c;
	unsigned d;
	int rc = 0;

	if (ct->status != INV_CERT_VALID ||
	    (d = ntf_threshold(s->e->cfg->notify, s->now, ct->not_after)) == 0 ||
	    (c = malloc(sizeof(*c))) == NULL)
		return 0;
	/* Expiring with its card: the card's notice says it. */
	if (inv_card_get(s->t, ct->guid, c) == INV_OK &&
	    eng_card_live(c->state) && c->holder[0] != '\0' &&
	    (c->expires == 0 || ct->not_after + DAY < c->expires)) {
		memset(&n, 0, sizeof(n));
		ntf_key_cert(n.key, ct->serial, d);
		n.kind = NTF_KIND_CERT;
		n.days = (uint16_t)d;
		n.expires = ct->not_after;
		eng_copy(n.card_serial, sizeof(n.card_serial), c->serial);
		eng_copy(n.cert_serial, sizeof(n.cert_serial), ct->serial);
		eng_copy(n.holder, sizeof(n.holder), c->holder);
		rc = candidate(s, &n);
	}
	free(c);
	return rc;
}

static unsigned
max_days(const struct ntf_cfg *cfg)
{
	unsigned i, m = 0;

	for (i = 0; i < cfg->ndays; i++)
		if (cfg->days[i] > m)
			m = cfg->days[i];
	return m;
}

/* Read what is due, then journal it and the day in one write txn. */
static int
scan(struct engine *e, uint64_t now, unsigned *queued)
{
	struct scan s = { e, NULL, now, NULL, 0, 0, 0 };
	uint64_t until = now + max_days(e->cfg->notify) * DAY, day = now / DAY;
	uint8_t db[8];
	size_t i;
	int rc;

	*queued = 0;
	if ((rc = inv_begin(e->inv, 0, &s.t)) == INV_OK &&
	    (rc = inv_cards_expiring(s.t, now, until, scan_card, &s)) == INV_OK)
		rc = inv_certs_expiring(s.t, now, until, scan_cert, &s);
	inv_abort(s.t);
	s.t = NULL;
	if (rc == INV_OK && s.err != 0)
		rc = INV_ERR_NOMEM;
	if (rc == INV_OK && (rc = inv_begin(e->inv, 1, &s.t)) == INV_OK) {
		for (i = 0; i < s.n && rc == INV_OK; i++) {
			int nrc = ntf_add(e->ntf, inv_txn_mdb(s.t), &s.list[i]);

			if (nrc == NTF_OK)
				(*queued)++;
			else if (nrc != NTF_ERR_EXISTS)
				rc = nrc == NTF_ERR_FULL ? INV_ERR_FULL : INV_ERR_DB;
		}
		for (i = 0; i < 8; i++)
			db[i] = (uint8_t)(day >> (56 - 8 * i));
		if (rc == INV_OK)
			rc = inv_meta_put(s.t, META_LAST_DAY, db, sizeof(db));
		if (rc == INV_OK)
			rc = inv_commit(s.t);
		else
			inv_abort(s.t);
	}
	for (i = 0; i < s.n; i++)
		if (s.list[i].state == NTF_FAILED)
			log_warnx("notice %s: %s", s.list[i].key, s.list[i].error);
	free(s.list);
	if (rc != INV_OK)
		*queued = 0;
	return rc;
}

struct due {
	uint64_t now;
	struct ntf_notice *list;
	size_t n;
};

static int
collect_due(const struct ntf_notice *n, void *arg)
{
	struct due *d = arg;

	if (n->next_try > d->now)
		return 0;
	d->list[d->n++] = *n;
	return d->n == DRAIN_BATCH;
}

/* Record what became of n (sent, retry later, failed) in its own txn. */
static int
record(struct engine *e, struct ntf_notice *n, int rc, unsigned code,
    const char *why, uint64_t now)
{
	struct inv_txn *t = NULL;
	char detail[NTF_TEXT_MAX + NTF_ERROR_MAX + 32];
	int irc;

	n->attempts++;
	n->smtp_code = code;
	n->updated = now;
	eng_copy(n->error, sizeof(n->error), rc == NTF_OK ? "" : why);
	if (rc == NTF_OK)
		n->state = NTF_SENT;
	else if (rc == NTF_ERR_TRANSIENT)
		n->next_try = now + e->cfg->notify->retry_s;
	else
		n->state = NTF_FAILED;
	if ((irc = inv_begin(e->inv, 1, &t)) != INV_OK)
		return irc;
	if (ntf_put(e->ntf, inv_txn_mdb(t), n) != NTF_OK) {
		inv_abort(t);
		return INV_ERR_DB;
	}
	if ((irc = inv_commit(t)) != INV_OK)
		return irc;
	snprintf(detail, sizeof(detail), "card %s, %u days%s%s",
	    n->card_serial, n->days, rc == NTF_OK ? "" : ": ",
	    rc == NTF_OK ? "" : why);
	if (n->state != NTF_PENDING)
		eng_audit(e, &notice_actor, "notice", n->key,
		    n->state == NTF_SENT ? "ok" : "failed", detail);
	if (rc != NTF_OK)
		log_warnx("notice %s: %s%s", n->key, why,
		    n->state == NTF_FAILED ? " (not retried)" : " (will retry)");
	return INV_OK;
}

static int
drain(struct engine *e, uint64_t now, struct eng_notice_stats *st)
{
	struct due d = { now, NULL, 0 };
	struct inv_txn *t = NULL;
	char why[NTF_ERROR_MAX + 1];
	unsigned code;
	size_t i;
	int rc;

	if ((d.list = calloc(DRAIN_BATCH, sizeof(*d.list))) == NULL)
		return INV_ERR_NOMEM;
	do {
		d.n = 0;
		if ((rc = inv_begin(e->inv, 0, &t)) != INV_OK)
			break;
		rc = ntf_foreach(e->ntf, inv_txn_mdb(t), NTF_PENDING,
		    collect_due, &d);
		inv_abort(t);
		if (rc < 0) {
			rc = INV_ERR_DB;
			break;
		}
		rc = INV_OK;
		for (i = 0; i < d.n && rc == INV_OK; i++) {
			struct ntf_notice *n = &d.list[i];
			int src;

			if (n->expires <= now) {
				src = NTF_ERR_PERMANENT;
				code = 0;
				snprintf(why, sizeof(why),
				    "expired before it could be sent");
			} else
				src = ntf_send(e->cfg->notify, n, now, &code, why,
				    sizeof(why));
			rc = record(e, n, src, code, why, now);
			if (src == NTF_OK)
				st->sent++;
			else if (n->state == NTF_FAILED)
				st->failed++;
			else
				st->retry++;
		}
		/* A full batch: more may be due (retries moved out of it). */
	} while (rc == INV_OK && d.n == DRAIN_BATCH && st->retry == 0);
	free(d.list);
	return rc;
}

int
eng_notices_run(struct engine *e, int force, struct eng_notice_stats *st)
{
	uint64_t now = eng_now(), last = 0;
	struct inv_txn *t = NULL;
	uint8_t db[8];
	size_t len = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if (e->ntf == NULL)
		return INV_ERR_ARG;
	pthread_mutex_lock(&e->ntf_mu);
	if (!force && (rc = inv_begin(e->inv, 0, &t)) == INV_OK) {
		if (inv_meta_get(t, META_LAST_DAY, db, sizeof(db), &len) ==
		    INV_OK && len == 8)
			for (size_t i = 0; i < 8; i++)
				last = last << 8 | db[i];
		inv_abort(t);
	}
	rc = INV_OK;
	if (force || len != 8 || last < now / DAY) {
		rc = scan(e, now, &st->queued);
		st->scanned = 1;
	}
	if (rc == INV_OK)
		rc = drain(e, now, st);
	pthread_mutex_unlock(&e->ntf_mu);
	if (rc != INV_OK)
		log_warnx("notices: %s", inv_strerror(rc));
	else if (st->queued || st->sent || st->retry || st->failed)
		log_info("notices: %u queued, %u sent, %u to retry, %u failed",
		    st->queued, st->sent, st->retry, st->failed);
	return rc;
}

static void *
notice_loop(void *arg)
{
	struct engine *e = arg;
	struct eng_notice_stats st;
	unsigned nap = e->cfg->notify->retry_s;

	/* Wake often enough to see a new day within a minute of it. */
	if (nap == 0 || nap > 60)
		nap = 60;
	for (;;) {
		(void)eng_notices_run(e, 0, &st);
		sleep(nap);
	}
	return NULL;
}

int
eng_notices_start(struct engine *e)
{
	pthread_t th;
	int rc;

	if (e->cfg->notify == NULL || e->cfg->notify->smtp_url[0] == '\0')
		return 0;
	if ((rc = ntf_open(inv_env(e->inv), &e->ntf)) != NTF_OK) {
		log_warnx("notice journal: %s", ntf_strerror(rc));
		return -1;
	}
	pthread_mutex_init(&e->ntf_mu, NULL);
	if (pthread_create(&th, NULL, notice_loop, e) != 0)
		return -1;
	pthread_detach(th);
	log_info("expiry notices through %s", e->cfg->notify->smtp_url);
	return 0;
}

int
q_notices_run(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct eng_notice_stats st;
	char detail[128];
	int rc;

	(void)r;
	if (e->ntf == NULL)
		return eng_error(e, id, 409, "notices_off",
		    "no smtp_url in cardmgrd.conf: notices are off");
	rc = eng_notices_run(e, 1, &st);
	snprintf(detail, sizeof(detail), "%u queued, %u sent, %u retry, %u failed",
	    st.queued, st.sent, st.retry, st.failed);
	eng_audit(e, a, "notices_run", "", rc == INV_OK ? "ok" : "failed",
	    detail);
	if (rc != INV_OK)
		return eng_error(e, id, rc == INV_ERR_FULL ? 507 : 500,
		    "inventory", "%s", inv_strerror(rc));
	return eng_reply(e, id, 200, json_pack("{s:i, s:i, s:i, s:i}", "queued",
	    (int)st.queued, "sent", (int)st.sent, "retry", (int)st.retry,
	    "failed", (int)st.failed));
}
