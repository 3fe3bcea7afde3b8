/*
 * certrevoke: a security officer retires or suspends a card by one of its
 * certificates, including a card another station issued:
 * POST /v1/certificates/{serial}/revoke and /hold (cardmgr cert revoke,
 * cert hold). The certificate comes from the inventory by serial, or from
 * the request (base64 DER, `--cert FILE`), which must carry that serial.
 *
 * The revocation goes through the CA link like the station's own: in one
 * LMDB write transaction the certificate takes PENDING_REVOKE (or
 * PENDING_HOLD) with one outbox request, the journal drains, and the fold
 * (transition.c) records what the CA confirmed. A certificate the inventory
 * has no record of gets one, under a card record of its own ("foreign":
 * no profile, no holder; its serial "x-" and the certificate's), in the
 * state the request leaves it in (retired, suspended), so the inventory and
 * the reports show it and the CRL check follows it afterwards.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#define R_HOLD 6
#define FOREIGN_MODEL "issued elsewhere"

/* Reason names a revocation by certificate may give (not hold/remove). */
static int
revoke_reason(const char *name)
{
	static const int ok[] = { 0, 1, 3, 4, 5, 9 };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(prof_reason_name(ok[i]), name) == 0)
			return ok[i];
	return -1;
}

static const char *
status_name(int st)
{
	static const char *const names[INV_CERT_NSTATUS] = { "valid",
		"revoked", "hold", "pending_revoke", "pending_hold",
		"pending_unhold" };

	return st >= 0 && st < INV_CERT_NSTATUS ? names[st] : "unknown";
}

/* The path's serial, normalized: hex digits, lower case, no leading zeros. */
static int
norm_serial(const char *in, char out[INV_CERT_SERIAL_MAX + 1])
{
	size_t n = 0;

	while (*in == '0' && in[1] != '\0')
		in++;
	for (; *in != '\0'; in++) {
		if (n == INV_CERT_SERIAL_MAX ||
		    !((*in >= '0' && *in <= '9') || (*in >= 'a' && *in <= 'f') ||
		    (*in >= 'A' && *in <= 'F')))
			return -1;
		out[n++] = (char)(*in >= 'A' && *in <= 'F' ? *in - 'A' + 'a' :
		    *in);
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/*
 * The certificate record for the request: the inventory's, else one made
 * from the request's DER (b64) naming serial. [out] *fresh: not in the
 * inventory yet. why: for the 4xx.
 */
static int
cert_for(struct inv_txn *t, const char *serial, const char *b64,
    struct inv_cert *c, int *fresh, const char **why)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t dlen = 0;
	char sn[INV_CERT_SERIAL_MAX + 1];
	X509 *x = NULL;
	int rc;

	*fresh = 0;
	if ((rc = inv_cert_get(t, serial, c)) != INV_ERR_NOTFOUND)
		return rc;
	if (b64 == NULL) {
		*why = "the station has no record of this certificate: give the "
		    "certificate itself (cert, base64 DER; cardmgr --cert FILE)";
		return INV_ERR_NOTFOUND;
	}
	rc = INV_ERR_ARG;
	*why = "cert is not a base64 DER X.509 certificate";
	if ((der = malloc(INV_DER_MAX)) == NULL)
		return INV_ERR_NOMEM;
	if (sodium_base642bin(der, INV_DER_MAX, b64, strlen(b64), " \n\r",
	    &dlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || dlen == 0)
		goto out;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)dlen)) == NULL || p != der + dlen)
		goto out;
	if (eng_serial_hex(X509_get0_serialNumber(x), sn) != 0 || strcmp(sn, serial) != 0) {
		*why = "the certificate does not carry the serial in the path";
		goto out;
	}
	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	X509_NAME_oneline(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	X509_NAME_oneline(X509_get_subject_name(x), c->subject,
	    sizeof(c->subject));
	{
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm))
			c->not_before = (uint64_t)timegm(&tm);
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			c->not_after = (uint64_t)timegm(&tm);
	}
	c->status = INV_CERT_VALID;
	c->der_len = (uint32_t)dlen;
	memcpy(c->der, der, dlen);
	*fresh = 1;
	rc = INV_OK;
out:
	X509_free(x);
	free(der);
	return rc;
}

/* A card record for a certificate issued elsewhere (guid: its hash). */
static int
foreign_card(struct engine *e, struct inv_txn *t, struct inv_cert *c,
    int state, struct inv_card *card)
{
	uint8_t h[32];
	unsigned hl = 0;
	int rc;

	(void)e;
	if (!EVP_Digest(c->der, c->der_len, h, &hl, EVP_sha256(), NULL))
		return INV_ERR_NOMEM;
	memcpy(c->guid, h, 16);
	if ((rc = inv_card_get(t, c->guid, card)) != INV_ERR_NOTFOUND)
		return rc;
	memset(card, 0, sizeof(*card));
	memcpy(card->guid, c->guid, 16);
	snprintf(card->serial, sizeof(card->serial), "x-%.61s", c->serial);
	snprintf(card->model, sizeof(card->model), FOREIGN_MODEL);
	card->state = (uint8_t)state;
	card->created = card->updated = (uint64_t)time(NULL);
	card->expires = c->not_after;
	return inv_card_put(t, card, 0);
}

struct req {
	char serial[INV_CERT_SERIAL_MAX + 1];
	int hold, reason;
	char note[256];
	char *b64;
};

/*
 * The record: certificate pending with its outbox request, the card (a
 * foreign one created), history. [out] *status, code, why on refusal.
 */
static int
record(struct engine *e, const struct req *q, const struct actor *a,
    struct inv_cert *c, struct inv_card *card, int *status,
    const char **code, const char **why)
{
	struct inv_txn *t = NULL;
	uint64_t obid;
	char d[400];
	int rc, fresh;

	*status = 500;
	*code = "inventory";
	if ((rc = inv_begin(e->inv, 1, &t)) != INV_OK)
		goto fail;
	if ((rc = cert_for(t, q->serial, q->b64, c, &fresh, why)) != INV_OK) {
		*status = rc == INV_ERR_NOTFOUND ? 404 : rc == INV_ERR_ARG ?
		    400 : 500;
		*code = rc == INV_ERR_NOTFOUND ? "not_found" : "bad_cert";
		goto fail;
	}
	if (c->status != INV_CERT_VALID && !(q->hold == 0 &&
	    c->status == INV_CERT_HOLD)) {
		*status = 409;
		*code = "cert_state";
		*why = eng_cert_pending(c->status) ? "a request about this "
		    "certificate is already with the CA" : c->status ==
		    INV_CERT_REVOKED ? "the certificate is already revoked" :
		    "the certificate is already on hold";
		rc = INV_ERR_EXISTS;
		goto fail;
	}
	if (fresh && (rc = foreign_card(e, t, c, q->hold ? INV_CARD_SUSPENDED :
	    INV_CARD_RETIRED, card)) != INV_OK)
		goto fail;
	if (!fresh && (rc = inv_card_get(t, c->guid, card)) != INV_OK)
		goto fail;
	/* A card of this station follows its lifecycle, not this. */
	if (card->profile[0] != '\0') {
		*status = 409;
		*code = "own_card";
		*why = "a card this station issued: retire or suspend the card "
		    "(cardmgr retire, suspend)";
		rc = INV_ERR_EXISTS;
		goto fail;
	}
	card->state = (uint8_t)(q->hold ? INV_CARD_SUSPENDED :
	    INV_CARD_RETIRED);
	if (outbox_add_txn(cast_outbox(e->cast), inv_txn_mdb(t), OUTBOX_REVOKE,
	    NULL, q->reason, c->der, c->der_len, (uint64_t)time(NULL), &obid) !=
	    OUTBOX_OK) {
		rc = INV_ERR_DB;
		goto fail;
	}
	c->status = q->hold ? INV_CERT_PENDING_HOLD : INV_CERT_PENDING_REVOKE;
	c->reason = (uint8_t)q->reason;
	if ((rc = inv_cert_put(t, c, fresh ? 0 : INV_PUT_UPDATE)) != INV_OK ||
	    (rc = eng_card_pending(t, card->guid, &card->pending_ca)) != INV_OK)
		goto fail;
	card->updated = (uint64_t)time(NULL);
	if ((rc = inv_card_put(t, card, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	snprintf(d, sizeof(d), "certificate %s %s through the CA (%s)%s%.200s%s",
	    c->serial, q->hold ? "held" : "revoked",
	    prof_reason_name(q->reason), q->note[0] ? "; reason: " : "",
	    q->note, fresh ? "; a certificate issued elsewhere" : "");
	if ((rc = eng_card_event(t, card->guid, q->hold ? "cert_hold" :
	    "cert_revoke", a->name, d)) != INV_OK)
		goto fail;
	return inv_commit(t);
fail:
	inv_abort(t);
	if (*status == 500 && rc == INV_ERR_FULL)
		*status = 507;
	if (*status == 500)
		*why = inv_strerror(rc);
	return rc != INV_OK ? rc : INV_ERR_DB;
}

static int
run(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a, int hold)
{
	struct outbox_drain_stats st;
	struct inv_cert *c = NULL;
	struct inv_card card;
	struct inv_txn *t = NULL;
	struct req q;
	const struct ops_value *v;
	char raw[INV_CERT_SERIAL_MAX + 8] = "", reason[40] = "";
	const char *why = "", *code = "bad_request", *ev = hold ? "cert_hold" :
	    "cert_revoke";
	int status = 400, rc;

	memset(&q, 0, sizeof(q));
	q.hold = hold;
	eng_arg(r, "serial", raw, sizeof(raw));
	eng_arg(r, "reason", reason, sizeof(reason));
	eng_arg(r, "note", q.note, sizeof(q.note));
	if (norm_serial(raw, q.serial) != 0) {
		why = "the serial is not hexadecimal";
		goto refuse;
	}
	q.reason = hold ? R_HOLD : revoke_reason(reason[0] ? reason :
	    "unspecified");
	if (e->cast == NULL) {
		status = 503;
		code = "no_ca";
		why = "no CA link is configured";
		goto refuse;
	}
	if ((v = ops_req_get(r, "cert", 0, NULL)) != NULL &&
	    (q.b64 = strndup((const char *)v->p, v->len)) == NULL) {
		status = 500;
		why = "out of memory";
		goto refuse;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		status = 500;
		why = "out of memory";
		goto refuse;
	}
	if (record(e, &q, a, c, &card, &status, &code, &why) != INV_OK)
		goto refuse;
	eng_ca_drain(e, &st);
	if (inv_begin(e->inv, 0, &t) == INV_OK) {
		uint8_t guid[16];

		memcpy(guid, card.guid, 16);
		inv_cert_get(t, q.serial, c);
		inv_card_get(t, guid, &card);
		inv_abort(t);
	}
	eng_audit(e, a, ev, q.serial, eng_cert_pending(c->status) ? "pending" :
	    "ok", card.serial);
	rc = eng_reply(e, id, eng_cert_pending(c->status) ? 202 : 200,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "serial", q.serial,
	    "status_name", status_name(c->status), "crl_reason",
	    prof_reason_name(q.reason), "card", card.serial, "card_state",
	    inv_card_state_name(card.state), "pending_ca",
	    (int)card.pending_ca));
	free(c);
	free(q.b64);
	return rc;
refuse:
	free(c);
	free(q.b64);
	eng_audit(e, a, ev, q.serial[0] ? q.serial : "-", "refused", why);
	return eng_error(e, id, status, code, "%s", why);
}

int
op_cert_revoke(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	return run(e, r, id, a, 0);
}

int
op_cert_hold(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	return run(e, r, id, a, 1);
}
