/*
 * central: cards whose certificates the CA revoked, held or released
 * without this station asking (the CA operator, another station). The
 * CA's CRL is fetched and verified against the CA trust (cast_crl_update,
 * ca/cacrl.c); every inventory certificate it shows in another status than
 * the inventory does takes the CRL's status and reason, and its card runs
 * the transition lifecycle.conf names for that reason (crl_reasons), in one
 * LMDB write transaction per run; a transition that revokes (ca_compromised,
 * ca_revoked) journals the card's other certificates, drained at once. Each change is in the card's history and
 * the audit log. A certificate with a request of our own in flight
 * (PENDING_*) is left to the journal's fold (transition.c).
 *
 * Runs on demand (POST /v1/crl/check) and every crl_check_seconds.
 * Idempotent: a second run over the same CRL finds nothing to change.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/cacrl.h"
#include "proc/log.h"

#define R_HOLD 6
#define R_REMOVE 8

struct chg {
	uint8_t guid[16];
	char serial[INV_CERT_SERIAL_MAX + 1];
	uint8_t from, to;
	int reason;		/* CRL reason; -1 none given */
};

struct run {
	struct engine *e;
	struct inv_txn *t;
	X509_CRL *crl;
	struct chg *v;
	size_t n, cap;
	uint64_t crl_time;	/* the CRL's thisUpdate */
	char (*held)[INV_CERT_SERIAL_MAX + 1];	/* HOLD in the inventory */
	size_t nheld, capheld;
	int oom;
};

/* 1 if the certificate's issuer is the CRL's (a CRL speaks for its CA). */
static int
same_issuer(X509_CRL *crl, const struct inv_cert *c)
{
	const unsigned char *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);
	int ok = x != NULL && X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_CRL_get_issuer(crl)) == 0;

	X509_free(x);
	return ok;
}

/*
 * A CRL made before this station last changed the card may not show that
 * change yet (a real CA publishes on its schedule, not per request): our own
 * hold, confirmed after it, would look released. Such a card waits for a
 * newer CRL.
 */
static int
crl_predates(struct run *r, const uint8_t guid[16])
{
	struct inv_card k;

	return inv_card_get(r->t, guid, &k) == INV_OK && k.updated > r->crl_time;
}

static int
add_chg(struct run *r, const struct inv_cert *c, int to, int reason)
{
	struct chg *g;

	if (crl_predates(r, c->guid))
		return INV_OK;
	if (r->n == r->cap) {
		size_t nc = r->cap ? 2 * r->cap : 16;
		struct chg *nv = realloc(r->v, nc * sizeof(*nv));

		if (nv == NULL)
			return INV_ERR_NOMEM;
		r->v = nv;
		r->cap = nc;
	}
	g = &r->v[r->n++];
	memcpy(g->guid, c->guid, 16);
	snprintf(g->serial, sizeof(g->serial), "%s", c->serial);
	g->from = c->status;
	g->to = (uint8_t)to;
	g->reason = reason;
	return INV_OK;
}

/* The status the CRL gives an entry: HOLD, REVOKED, or VALID (removeFromCRL). */
static int
entry_status(int reason)
{
	return reason == R_HOLD ? INV_CERT_HOLD : reason == R_REMOVE ?
	    INV_CERT_VALID : INV_CERT_REVOKED;
}

/* One CRL entry against the inventory. */
static int
check_entry(struct run *r, X509_REVOKED *rv, struct inv_cert *c)
{
	char serial[INV_CERT_SERIAL_MAX + 1];
	ASN1_ENUMERATED *en;
	int reason = -1, to, rc;

	if (eng_serial_hex(X509_REVOKED_get0_serialNumber(rv), serial) != 0)
		return INV_OK;
	if ((rc = inv_cert_get(r->t, serial, c)) != INV_OK)
		return rc == INV_ERR_NOTFOUND ? INV_OK : rc;
	if (!same_issuer(r->crl, c))
		return INV_OK;
	if ((en = X509_REVOKED_get_ext_d2i(rv, NID_crl_reason, NULL,
	    NULL)) != NULL)
		reason = (int)ASN1_ENUMERATED_get(en);
	ASN1_ENUMERATED_free(en);
	to = entry_status(reason);
	/* Ours in flight: the journal's fold decides. Revoked is final. */
	if (eng_cert_pending(c->status) || c->status == INV_CERT_REVOKED ||
	    c->status == to || (to == INV_CERT_VALID && c->status !=
	    INV_CERT_HOLD))
		return INV_OK;
	return add_chg(r, c, to, reason);
}

static int
note_held(const struct inv_cert *c, void *arg)
{
	struct run *r = arg;

	if (c->status != INV_CERT_HOLD)
		return 0;
	if (r->nheld == r->capheld) {
		size_t nc = r->capheld ? 2 * r->capheld : 16;
		char (*nv)[INV_CERT_SERIAL_MAX + 1] = realloc(r->held,
		    nc * sizeof(*nv));

		if (nv == NULL) {
			r->oom = 1;
			return -1;
		}
		r->held = nv;
		r->capheld = nc;
	}
	snprintf(r->held[r->nheld++], INV_CERT_SERIAL_MAX + 1, "%s",
	    c->serial);
	return 0;
}

/* Held in the inventory, absent from the CRL: the CA released the hold. */
static int
check_releases(struct run *r, struct inv_cert *c)
{
	X509_REVOKED *rv;
	ASN1_INTEGER *sn;
	BIGNUM *bn;
	int rc, listed;

	if ((rc = inv_certs_expiring(r->t, 0, UINT64_MAX, note_held, r)) !=
	    INV_OK || r->oom)
		return r->oom ? INV_ERR_NOMEM : rc;
	for (size_t i = 0; i < r->nheld; i++) {
		if ((rc = inv_cert_get(r->t, r->held[i], c)) != INV_OK)
			return rc;
		if (!same_issuer(r->crl, c))
			continue;
		bn = NULL;
		if (BN_hex2bn(&bn, c->serial) == 0 ||
		    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
			BN_free(bn);
			return INV_ERR_NOMEM;
		}
		rv = NULL;
		listed = X509_CRL_get0_by_serial(r->crl, &rv, sn) == 1;
		ASN1_INTEGER_free(sn);
		BN_free(bn);
		if (!listed && (rc = add_chg(r, c, INV_CERT_VALID, R_REMOVE)) !=
		    INV_OK)
			return rc;
	}
	return INV_OK;
}

static const char *
status_word(int st)
{
	return st == INV_CERT_REVOKED ? "revoked" : st == INV_CERT_HOLD ?
	    "held" : "released";
}

/* Write one certificate's new status, with a line in its card's history. */
static int
apply_cert(struct run *r, const struct chg *g, struct inv_cert *c)
{
	char d[300];
	int rc;

	if ((rc = inv_cert_get(r->t, g->serial, c)) != INV_OK)
		return rc;
	c->status = g->to;
	c->reason = (uint8_t)(g->to == INV_CERT_VALID || g->reason < 0 ? 0 :
	    g->reason);
	if ((rc = inv_cert_put(r->t, c, INV_PUT_UPDATE)) != INV_OK)
		return rc;
	snprintf(d, sizeof(d), "certificate %s %s at the CA (CRL reason %s)",
	    g->serial, status_word(g->to), g->reason >= 0 ?
	    prof_reason_name(g->reason) : "none given");
	return eng_card_event(r->t, g->guid, "ca_crl", "ca", d);
}

static int
count_held(const struct inv_cert *c, void *arg)
{
	if (c->status == INV_CERT_HOLD || c->status == INV_CERT_PENDING_HOLD)
		(*(unsigned *)arg)++;
	return 0;
}

/*
 * The reason that moves the card: a revocation before a hold before a
 * release; a release only once none of its certificates is held.
 */
static int
card_reason(struct run *r, size_t first, int *reason)
{
	int rev = -2, hold = 0, rel = 0;
	unsigned held = 0;

	for (size_t i = first; i < r->n; i++) {
		if (memcmp(r->v[i].guid, r->v[first].guid, 16) != 0)
			continue;
		if (r->v[i].to == INV_CERT_REVOKED && rev == -2)
			rev = r->v[i].reason;
		hold |= r->v[i].to == INV_CERT_HOLD;
		rel |= r->v[i].to == INV_CERT_VALID;
	}
	*reason = rev != -2 ? rev : hold ? R_HOLD : R_REMOVE;
	if (rev != -2 || hold)
		return 1;
	if (!rel || inv_certs_of_card(r->t, r->v[first].guid, count_held,
	    &held) != INV_OK)
		return 0;
	return held == 0;
}

static int
seen_before(const struct run *r, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (memcmp(r->v[j].guid, r->v[i].guid, 16) == 0)
			return 1;
	return 0;
}

/* The card of change i follows (once per card). [out] one report item. */
static int
apply_card(struct run *r, size_t i, json_t *cards)
{
	const struct lc_transition *tr = NULL;
	struct inv_card c;
	char detail[300], certs[200] = "";
	const char *was;
	int rc, reason;
	size_t k;

	if ((rc = inv_card_get(r->t, r->v[i].guid, &c)) != INV_OK)
		return rc == INV_ERR_NOTFOUND ? INV_OK : rc;
	was = inv_card_state_name(c.state);
	for (k = i; k < r->n; k++)
		if (memcmp(r->v[k].guid, r->v[i].guid, 16) == 0)
			snprintf(certs + strlen(certs), sizeof(certs) -
			    strlen(certs), "%s%s", certs[0] ? "," : "",
			    r->v[k].serial);
	if (card_reason(r, i, &reason))
		tr = lc_crl_transition(r->e->lc, reason);
	snprintf(detail, sizeof(detail), "certificate(s) %s %s at the CA "
	    "(CRL reason %s)", certs, status_word(r->v[i].to), reason >= 0 ?
	    prof_reason_name(reason) : "none given");
	if (tr != NULL && !lc_from(tr, c.state))
		tr = NULL;	/* its state does not allow it: certificates only */
	/* A revoke sends the card's other certificates with the CA's reason. */
	if (tr != NULL && (rc = eng_transition_in(r->e, r->t, &c, tr,
	    tr->effect == LC_EFFECT_REVOKE && reason >= 0 ? reason : -1, "ca",
	    detail)) != INV_OK)
		return rc;
	json_array_append_new(cards, json_pack("{s:s, s:s, s:s, s:s?, s:s}",
	    "card", c.serial, "was", was, "state", inv_card_state_name(c.state),
	    "transition", tr != NULL ? tr->name : NULL, "detail", detail));
	return INV_OK;
}

static int
apply_all(struct run *r, json_t *cards)
{
	struct inv_cert *c = malloc(sizeof(*c));
	int rc = c == NULL ? INV_ERR_NOMEM : INV_OK;

	for (size_t i = 0; rc == INV_OK && i < r->n; i++)
		rc = apply_cert(r, &r->v[i], c);
	for (size_t i = 0; rc == INV_OK && i < r->n; i++)
		if (!seen_before(r, i))
			rc = apply_card(r, i, cards);
	free(c);
	return rc;
}

/* Compare the CRL with the inventory and write what differs, in txn t. */
static int
fold_crl(struct run *r, json_t *cards)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(r->crl);
	struct inv_cert *c = malloc(sizeof(*c));
	int rc = c == NULL ? INV_ERR_NOMEM : INV_OK;

	for (int i = 0; rc == INV_OK && i < sk_X509_REVOKED_num(revs); i++)
		rc = check_entry(r, sk_X509_REVOKED_value(revs, i), c);
	if (rc == INV_OK)
		rc = check_releases(r, c);
	free(c);
	return rc == INV_OK ? apply_all(r, cards) : rc;
}

int
eng_crl_check(struct engine *e, const struct actor *a, json_t **report,
    char *why, size_t cap)
{
	struct run r;
	X509_CRL *crl = NULL;
	json_t *cards = NULL;
	int rc, crc;

	*report = NULL;
	why[0] = '\0';
	memset(&r, 0, sizeof(r));
	if (e->cast == NULL) {
		snprintf(why, cap, "no CA link is configured");
		return -1;
	}
	pthread_mutex_lock(&e->ca_mu);
	crc = cast_crl_update(e->cast, &crl);
	if (crl == NULL)
		snprintf(why, cap, "%s", cast_detail(e->cast));
	pthread_mutex_unlock(&e->ca_mu);
	if (crl == NULL) {
		log_warnx("CRL check: %s", why);
		return -1;
	}
	if (crc == CAST_ERR_REVOKED)
		log_warnx("CRL check: the station's own certificate is on the "
		    "CA's CRL");
	r.e = e;
	r.crl = crl;
	{
		struct tm tm;

		if (!ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl), &tm)) {
			snprintf(why, cap, "CRL without a readable thisUpdate");
			goto fail;
		}
		r.crl_time = (uint64_t)timegm(&tm);
	}
	if ((cards = json_array()) == NULL ||
	    (rc = inv_begin(e->inv, 1, &r.t)) != INV_OK) {
		snprintf(why, cap, "inventory: cannot begin");
		goto fail;
	}
	if ((rc = fold_crl(&r, cards)) != INV_OK) {
		inv_abort(r.t);
		snprintf(why, cap, "inventory: %s", inv_strerror(rc));
		goto fail;
	}
	if (r.n == 0)
		inv_abort(r.t);
	else if ((rc = inv_commit(r.t)) != INV_OK) {
		snprintf(why, cap, "inventory: %s", inv_strerror(rc));
		goto fail;
	}
	/* Audited once written: the audit log says what the inventory has. */
	for (size_t i = 0; i < json_array_size(cards); i++) {
		json_t *it = json_array_get(cards, i);

		eng_audit(e, a, "crl_check", json_string_value(json_object_get(
		    it, "card")), "ok", json_string_value(json_object_get(it,
		    "detail")));
	}
	*report = json_pack("{s:i, s:i, s:o, s:b}", "crl_entries",
	    sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)),
	    "certificates_changed", (int)r.n, "cards", cards,
	    "station_revoked", crc == CAST_ERR_REVOKED);
	cards = NULL;
	if (r.n) {
		struct outbox_drain_stats st;

		log_info("CRL check: %zu certificate(s) changed at the CA", r.n);
		/* A card lost or retired this way revokes its others now. */
		eng_ca_drain(e, &st);
	}
	rc = *report != NULL ? 0 : -1;
	goto out;
fail:
	rc = -1;
out:
	json_decref(cards);
	free(r.v);
	free(r.held);
	X509_CRL_free(crl);
	return rc;
}

int
op_crl_check(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	json_t *rep;
	char why[300];

	(void)r;
	if (e->cast == NULL)
		return eng_error(e, id, 503, "no_ca", "no CA link is "
		    "configured");
	if (eng_crl_check(e, a, &rep, why, sizeof(why)) != 0) {
		eng_audit(e, a, "crl_check", "-", "refused", why);
		return eng_error(e, id, 502, "crl", "%s", why);
	}
	return eng_reply(e, id, 200, rep);
}

static void *
crl_loop(void *arg)
{
	struct engine *e = arg;
	struct actor a;
	json_t *rep;
	char why[300];

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "crl-check");
	for (;;) {
		sleep(e->cfg->crl_check_s);
		if (eng_crl_check(e, &a, &rep, why, sizeof(why)) == 0)
			json_decref(rep);
	}
	return NULL;
}

int
eng_central_start(struct engine *e)
{
	pthread_t th;

	if (e->cast == NULL || e->cfg->crl_check_s == 0)
		return 0;
	if (pthread_create(&th, NULL, crl_loop, e) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}
