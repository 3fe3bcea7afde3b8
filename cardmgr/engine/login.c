/*
 * login: an operator logs in at the kiosk with their own PIV card.
 *
 * POST /v1/login {reader, pin (sealed)}, in this order, each step refusing
 * before the next touches anything:
 *   1 the card in the reader: its identity (GUID or serial) keys the
 *     attempt limiter, checked before the card is asked anything;
 *   2 the certificate in its PIV authentication slot (9A) chains to the
 *     configured operator trust anchors (X509_verify_cert, at the engine's
 *     clock) - before the PIN, so an untrusted card spends no PIN try;
 *   3 the operator map has an entry for that certificate (card_sha256);
 *   4 the card verifies the PIN (wrong: tries left, as the card counts);
 *   5 the card signs a fresh 32-byte random challenge with the 9A key, and
 *     the signature verifies with the certificate's public key: the card
 *     holds the certificate's key, now, which a copied certificate cannot;
 *   6 a session (sessions.c) bound to that reader and pcscd's card-event
 *     count: the token goes back once, as the cm_session cookie.
 * Every failure at 2..5 counts against the card in the attempt limiter.
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sodium.h>

#include "engine/cardops.h"
#include "proc/log.h"

/* What the card signs: a fixed context, then the random challenge. */
static const char login_ctx[] = "cardmgr operator login v1\n";

struct login {
	char reader[128];
	char *pin;			/* secure memory */
	char card[160];			/* "card:<guid>", "card:serial:<n>" */
	X509 *cert;
	const struct opr_operator *op;
	int status, tries;
	const char *code;
	char why[200];
};

static int
refuse(struct login *l, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(struct login *l, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	l->status = status;
	l->code = code;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* The card's name for the attempt limiter and its session. */
void
eng_card_key(const struct cops_card *k, char *out, size_t cap)
{
	char hex[33];

	if (k->id.has_chuid && k->id.chuid.has_guid) {
		eng_hex(k->id.chuid.guid, 16, hex);
		snprintf(out, cap, "card:%s", hex);
	} else if (k->id.has_serial)
		snprintf(out, cap, "card:serial:%u", k->id.serial);
	else
		snprintf(out, cap, "card:reader:%s", k->reader);
}

/* Step 2: the 9A certificate chains to an operator trust anchor. */
static int
check_chain(struct engine *e, struct login *l)
{
	X509_STORE_CTX *ctx = NULL;
	int ok = 0, err = X509_V_ERR_UNSPECIFIED;

	if (e->cfg->op_trust == NULL)
		return refuse(l, 403, "untrusted_card", "no operator trust "
		    "anchors are configured (operator_trust)");
	if ((ctx = X509_STORE_CTX_new()) != NULL &&
	    X509_STORE_CTX_init(ctx, e->cfg->op_trust, l->cert,
	    e->cfg->op_chain) == 1) {
		X509_STORE_CTX_set_time(ctx, 0, (time_t)eng_now());
		ok = X509_verify_cert(ctx) == 1;
		err = X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	if (!ok)
		return refuse(l, 403, "untrusted_card", "the card's certificate "
		    "does not chain to the operator trust anchors: %s",
		    X509_verify_cert_error_string(err));
	return 0;
}

/* Step 3: the operator record naming this certificate. */
static int
find_operator(struct engine *e, struct login *l)
{
	uint8_t *der = NULL, d[32];
	int n = i2d_X509(l->cert, &der);

	if (n <= 0)
		return refuse(l, 403, "untrusted_card", "unreadable certificate");
	crypto_hash_sha256(d, der, (unsigned long long)n);
	OPENSSL_free(der);
	if (e->operators == NULL ||
	    opr_lookup_card(e->operators, d, &l->op) != OPR_OK)
		return refuse(l, 403, "not_an_operator", "this card's "
		    "certificate is in no operator record");
	return 0;
}

/* Step 5: the card signs a fresh challenge; we check it ourselves. */
static int
challenge(struct cops_card *k, struct login *l)
{
	EVP_PKEY *pub = X509_get0_pubkey(l->cert);
	char why[160];

	if (pub == NULL)
		return refuse(l, 403, "untrusted_card", "certificate without "
		    "a usable public key");
	if (cops_prove(k, PIV_SLOT_AUTH, pub, login_ctx, why, sizeof(why)) !=
	    COPS_OK)
		return refuse(l, 403, "untrusted_card", "the card did not sign "
		    "the challenge with its certificate's key (%s)", why);
	return 0;
}

/* Steps 2..5 on the open card. */
static int
card_steps(struct engine *e, struct cops_card *k, struct login *l)
{
	int rc;

	rc = piv_read_cert(k->piv, PIV_SLOT_AUTH, &l->cert);
	if (rc == PIV_ERR_NOT_FOUND)
		return refuse(l, 403, "untrusted_card", "the card has no PIV "
		    "authentication certificate");
	if (rc != PIV_OK)
		return refuse(l, 502, "card", "reading the card: %s",
		    piv_strerror(rc));
	if (check_chain(e, l) != 0 || find_operator(e, l) != 0)
		return -1;
	rc = piv_verify(k->piv, l->pin, &l->tries);
	if (rc == PIV_ERR_WRONG_PIN) {
		if (l->tries == 0)
			return refuse(l, 423, "pin_blocked", "the PIN is blocked");
		return refuse(l, 401, "pin_wrong", "wrong PIN: %d %s left",
		    l->tries, l->tries == 1 ? "try" : "tries");
	}
	if (rc == PIV_ERR_BLOCKED) {
		l->tries = 0;
		return refuse(l, 423, "pin_blocked", "the PIN is blocked");
	}
	if (rc != PIV_OK)
		return refuse(l, 502, "card", "PIN verification: %s",
		    piv_strerror(rc));
	l->tries = -1;
	return challenge(k, l);
}

static json_t *
roles_json(uint32_t roles)
{
	json_t *a = json_array();

	for (uint32_t b = 1; b <= OPR_ROLE_ADMINISTRATOR; b <<= 1)
		if ((roles & b) != 0 && opr_role_name(b) != NULL)
			json_array_append_new(a, json_string(opr_role_name(b)));
	return a;
}

json_t *
eng_sess_json(const struct eng_sess_info *s)
{
	return json_pack("{s:s, s:o, s:s, s:i, s:s}", "operator", s->name,
	    "roles", roles_json(s->roles), "csrf", s->csrf, "idle_timeout",
	    (int)s->idle_s, "reader", s->reader);
}

static int
open_pin(struct engine *e, const struct ops_req *r, struct login *l)
{
	const struct ops_value *v = ops_req_get(r, "pin", 0, NULL);

	if (v == NULL || seal_open_text(e->seal, v->p, v->len, 8,
	    &l->pin) != SEAL_OK)
		return refuse(l, 400, "bad_request", "the PIN is not sealed to "
		    "this station's session key");
	return 0;
}

int
op_login(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct login l;
	struct cops_card k;
	struct pcsc_ctx *pc = NULL;
	struct eng_sess_info s;
	char detail[256], token[ENG_SESS_TOKEN_LEN + 1] = "";
	unsigned retry = 0, events = 0;
	int rc, claimed = 0;

	memset(&l, 0, sizeof(l));
	memset(&k, 0, sizeof(k));
	memset(&s, 0, sizeof(s));
	l.tries = -1;
	eng_arg(r, "reader", l.reader, sizeof(l.reader));
	/* The session lives in a cookie of the kiosk listener. */
	if (r->actor == MSG_ACTOR_UID) {
		refuse(&l, 400, "kiosk_only", "log in at the kiosk: the UNIX "
		    "socket's caller is its uid");
		goto out;
	}
	if (open_pin(e, r, &l) != 0)
		goto out;
	if ((rc = eng_reader_claim(e, l.reader)) != 0) {
		const char *code;
		const char *why = eng_claim_why(rc, &code);

		refuse(&l, 409, code, "%s", why);
		goto out;
	}
	claimed = 1;
	if (eng_pcsc_open(e, &pc) != PCSC_OK ||
	    cops_open(pc, l.reader, &k, detail, sizeof(detail)) != COPS_OK) {
		refuse(&l, 404, "no_card", "no card in this reader");
		goto out;
	}
	eng_card_key(&k, l.card, sizeof(l.card));
	if (eng_attempt_check(e, l.card, &retry) != 0) {
		refuse(&l, 429, "rate_limited", "too many failed logins with "
		    "this card: try again in %u s", retry);
		goto out;
	}
	if (card_steps(e, &k, &l) != 0) {
		if (l.status != 502)
			eng_attempt_failed(e, l.card);
		goto out;
	}
	cops_close(&k);
	/* After the close (and its reset): the count the session keeps. */
	if (eng_reader_events(l.reader, &events) != 0) {
		refuse(&l, 404, "no_card", "the card left the reader");
		goto out;
	}
	eng_copy(s.name, sizeof(s.name), l.op->name);
	eng_copy(s.reader, sizeof(s.reader), l.reader);
	eng_copy(s.card, sizeof(s.card), l.card);
	s.roles = l.op->roles;
	eng_sess_new(e, &s, events, token);
out:
	cops_close(&k);
	if (pc != NULL)
		eng_pcsc_close(e, pc, l.reader);
	if (claimed)
		eng_reader_release(e, l.reader);
	seal_text_free(l.pin);
	X509_free(l.cert);
	{
		struct actor who = *a;

		if (l.op != NULL)
			eng_copy(who.name, sizeof(who.name), l.op->name);
		eng_audit(e, &who, "login", l.reader, l.code == NULL ? "ok" :
		    "refused", l.code == NULL ? l.card : l.why);
	}
	if (l.code == NULL) {
		rc = eng_reply_cookie(e, id, 200, eng_sess_json(&s), token);
		sodium_memzero(token, sizeof(token));
		sodium_memzero(&s, sizeof(s));
		return rc;
	}
	if (l.status == 429)
		return eng_reply(e, id, 429, json_pack("{s:s, s:s, s:i}", "error",
		    l.code, "message", l.why, "retry_after", (int)retry));
	if (l.tries >= 0)
		return eng_reply(e, id, l.status, json_pack("{s:s, s:s, s:i}",
		    "error", l.code, "message", l.why, "tries_left", l.tries));
	return eng_error(e, id, l.status, l.code, "%s", l.why);
}

int
op_session(struct engine *e, uint64_t id, const struct actor *a)
{
	if (!a->has_sess)
		return eng_error(e, id, 401, "no_session", "no operator session: "
		    "log in with your card");
	return eng_reply(e, id, 200, eng_sess_json(&a->sess));
}

int
op_logout(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	if (a->has_sess && r->token != NULL) {
		eng_sess_end(e, r->token, r->token_len);
		eng_audit(e, a, "logout", a->sess.reader, "ok", "");
	}
	return eng_reply(e, id, 200, json_object());
}
