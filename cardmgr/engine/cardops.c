/* cardops: the card side of the station's operations. See cardops.h. */
#include "cardops.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "p11.h"

#define WIPE_MAX_TRIES 32

static const struct {
	int err;
	const char *name, *text;
} errs[] = {
	{ COPS_OK, "COPS_OK", "success" },
	{ COPS_ERR_ARG, "COPS_ERR_ARG", "bad argument" },
	{ COPS_ERR_CARD, "COPS_ERR_CARD", "the card refused or failed" },
	{ COPS_ERR_REMOVED, "COPS_ERR_REMOVED", "card removed or reset during the operation" },
	{ COPS_ERR_NOT_BLANK, "COPS_ERR_NOT_BLANK", "the card is not blank (factory management key refused)" },
	{ COPS_ERR_HOOK, "COPS_ERR_HOOK", "a station service (keys, CA or journal) failed" },
	{ COPS_ERR_WRONG_PIN, "COPS_ERR_WRONG_PIN", "wrong PIN" },
	{ COPS_ERR_BLOCKED, "COPS_ERR_BLOCKED", "PIN blocked" },
	{ COPS_ERR_SELFTEST, "COPS_ERR_SELFTEST", "PKCS#11 self-test failed" },
	{ COPS_ERR_READER, "COPS_ERR_READER", "no such reader or no card in it" },
	{ COPS_ERR_NOMEM, "COPS_ERR_NOMEM", "out of memory" },
	{ COPS_ERR_DIFFERENT, "COPS_ERR_DIFFERENT", "not the expected card" },
	{ COPS_ERR_NOT_RESPONDING, "COPS_ERR_NOT_RESPONDING", "card not responding" },
};

const char *
cops_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].text;
	return "unknown error";
}

const char *
cops_name(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "COPS_ERR_UNKNOWN";
}

/* Map a drivers error to ours, and say what failed in detail. */
static int
card_fail(int piv_rc, const char *what, char *detail, size_t cap)
{
	if (detail != NULL && cap > 0)
		snprintf(detail, cap, "%s: %s (%s)", what, piv_strerror(piv_rc),
		    piv_name(piv_rc));
	switch (piv_rc) {
	case PIV_ERR_REMOVED:
	case PIV_ERR_RESET:
	case PIV_ERR_TRANSMIT:
		return COPS_ERR_REMOVED;
	case PIV_ERR_DIFFERENT_CARD:
		return COPS_ERR_DIFFERENT;
	case PIV_ERR_NOT_RESPONDING:
		return COPS_ERR_NOT_RESPONDING;
	case PIV_ERR_WRONG_PIN:
		return COPS_ERR_WRONG_PIN;
	case PIV_ERR_BLOCKED:
		return COPS_ERR_BLOCKED;
	case PIV_ERR_NOMEM:
		return COPS_ERR_NOMEM;
	default:
		return COPS_ERR_CARD;
	}
}

static __thread char hook_why[200];

void
cops_hook_why(const char *why, size_t len)
{
	if (why == NULL)
		hook_why[0] = '\0';
	else
		snprintf(hook_why, sizeof(hook_why), "%.*s", (int)len, why);
}

static int
hook_fail(const char *what, char *detail, size_t cap)
{
	if (detail != NULL && cap > 0 && hook_why[0] != '\0')
		snprintf(detail, cap, "%s failed: %s", what, hook_why);
	else if (detail != NULL && cap > 0)
		snprintf(detail, cap, "%s failed", what);
	hook_why[0] = '\0';
	return COPS_ERR_HOOK;
}

int
cops_open(struct pcsc_ctx *ctx, const char *reader, struct cops_card *c,
    char *detail, size_t cap)
{
	struct apdu_transport t;
	int rc;

	memset(c, 0, sizeof(*c));
	if (ctx == NULL || reader == NULL ||
	    strlen(reader) >= sizeof(c->reader))
		return COPS_ERR_ARG;
	snprintf(c->reader, sizeof(c->reader), "%s", reader);
	if ((rc = pcsc_connect(ctx, reader, &c->pc)) != PCSC_OK) {
		snprintf(detail, cap, "cannot connect to a card in reader '%s': %s",
		    reader, pcsc_strerror(rc));
		return rc == PCSC_ERR_NOT_RESPONDING ? COPS_ERR_NOT_RESPONDING :
		    COPS_ERR_READER;
	}
	c->atr_len = sizeof(c->atr);
	if (pcsc_card_atr(c->pc, c->atr, &c->atr_len) != PCSC_OK)
		c->atr_len = 0;
	pcsc_card_transport(c->pc, &t);
	if ((rc = piv_init(&c->piv, &t)) != PIV_OK)
		goto fail;
	rc = piv_identify(c->piv, &c->id);
	/* A card still settling from another client's reset: one re-attach. */
	if (rc == PIV_ERR_TRANSMIT || rc == PIV_ERR_RESET)
		rc = piv_identify(c->piv, &c->id);
	if (rc == PIV_OK)
		return COPS_OK;
fail:
	rc = card_fail(rc, "identify", detail, cap);
	cops_close(c);
	return rc;
}

void
cops_close(struct cops_card *c)
{
	int reset;

	if (c == NULL)
		return;
	reset = c->piv != NULL && piv_has_auth_state(c->piv);
	piv_done(c->piv);
	c->piv = NULL;
	if (c->pc != NULL)
		pcsc_disconnect(c->pc, reset);
	c->pc = NULL;
}

static int
auth_default(struct cops_card *c)
{
	static const uint8_t def[] = PIV_DEFAULT_MGMT_KEY;
	int rc;

	rc = piv_auth_mgmt(c->piv, PIV_ALG_3DES, def, 24);
	/* YubiKey 5.7 ships the same bytes as an AES-192 key. */
	if (rc == PIV_ERR_AUTH_FAILED || rc == PIV_ERR_WRONG_DATA ||
	    rc == PIV_ERR_NOT_SUPPORTED || rc == PIV_ERR_CARD)
		rc = piv_auth_mgmt(c->piv, PIV_ALG_AES192, def, 24);
	return rc;
}

int
cops_is_blank(struct cops_card *c)
{
	return c != NULL && c->piv != NULL && auth_default(c) == PIV_OK;
}

static size_t
mgmt_key_len(int alg)
{
	switch (alg) {
	case PIV_ALG_AES128:
		return 16;
	case PIV_ALG_AES256:
		return 32;
	case PIV_ALG_AES192:
	case PIV_ALG_3DES:
		return 24;
	default:
		return 0;
	}
}

/* "/O=Example/CN=Jane Doe" -> X509_NAME. No escapes: '/' may not appear in values. */
static X509_NAME *
parse_subject(const char *s)
{
	char buf[256], *p, *f, *eq, *save = NULL;
	X509_NAME *n;

	if (s == NULL || *s != '/' || strlen(s) >= sizeof(buf))
		return NULL;
	if ((n = X509_NAME_new()) == NULL)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", s + 1);
	for (p = buf; (f = strtok_r(p, "/", &save)) != NULL; p = NULL) {
		if ((eq = strchr(f, '=')) == NULL || eq == f || eq[1] == '\0')
			goto bad;
		*eq = '\0';
		if (X509_NAME_add_entry_by_txt(n, f, MBSTRING_UTF8,
		    (const unsigned char *)(eq + 1), -1, -1, 0) != 1)
			goto bad;
	}
	if (X509_NAME_entry_count(n) > 0)
		return n;
bad:
	X509_NAME_free(n);
	return NULL;
}

static int
step(const struct cops_hooks *h, const char *name, const char *state,
    const uint8_t *data, size_t len)
{
	return h->step == NULL ? 0 : h->step(h->arg, name, state, data, len);
}

/*
 * One slot's certificate request in flight: the CA round trip (journal,
 * CMP, inventory: the enroll hook) runs in a thread while the card
 * generates the next slot's key, so the station's time hides behind the
 * card's instead of adding to it.
 */
struct enrol {
	const struct cops_hooks *h;
	const struct cops_slot *s;
	EVP_PKEY *pub;		/* the key the certificate must certify */
	uint8_t *der;		/* the CSR */
	int len;
	X509 *cert;
	int rc;			/* the hook's answer */
	pthread_t th;
	int running;
};

static void *
enrol_run(void *arg)
{
	struct enrol *e = arg;

	e->rc = e->h->enroll == NULL ? -1 : e->h->enroll(e->h->arg,
	    e->s->slot, e->s->ca_profile, e->der, (size_t)e->len, &e->cert);
	return NULL;
}

/* Send e's request: in a thread, or here if no thread can be had. */
static void
enrol_start(struct enrol *e)
{
	if (pthread_create(&e->th, NULL, enrol_run, e) == 0)
		e->running = 1;
	else
		enrol_run(e);
}

/* Wait for e's answer (if it is in flight) and free what it holds. */
static void
enrol_end(struct enrol *e, int keep)
{
	if (e->running)
		pthread_join(e->th, NULL);
	e->running = 0;
	if (keep)
		return;
	EVP_PKEY_free(e->pub);
	OPENSSL_free(e->der);
	X509_free(e->cert);
	memset(e, 0, sizeof(*e));
}

/* A slot's first half: key on the card (or escrowed, imported), CSR signed
 * by the card. [out] e->pub, e->der, e->len. */
static int
slot_request(struct cops_card *c, const struct cops_slot *s,
    const struct cops_hooks *h, const uint8_t guid[16], struct enrol *e,
    char *detail, size_t cap)
{
	EVP_PKEY *priv = NULL, *pub = NULL;
	X509_NAME *subj = NULL;
	X509_REQ *req = NULL;
	uint8_t *der = NULL;
	int len, rc = COPS_OK, prc;

	if (s->reuse != NULL) {
		/* Renewal keeping the key: the card's key is certified again. */
		if (EVP_PKEY_up_ref(s->reuse) != 1) {
			rc = COPS_ERR_NOMEM;
			goto out;
		}
		pub = s->reuse;
	} else if (s->escrow) {
		if (h->escrow == NULL ||
		    h->escrow(h->arg, guid, s->slot, s->alg, &priv) != 0) {
			rc = hook_fail("key escrow", detail, cap);
			goto out;
		}
		prc = piv_import_key(c->piv, s->slot, priv, s->pin_policy,
		    s->touch_policy);
		if (prc != PIV_OK) {
			rc = card_fail(prc, "import escrowed key", detail, cap);
			goto out;
		}
		pub = priv;	/* the CSR code only uses the public half */
		priv = NULL;
	} else {
		prc = piv_generate(c->piv, s->slot, s->alg, s->pin_policy,
		    s->touch_policy, &pub);
		if (prc != PIV_OK) {
			rc = card_fail(prc, "generate", detail, cap);
			goto out;
		}
	}
	if ((subj = parse_subject(s->subject)) == NULL) {
		snprintf(detail, cap, "slot %02x: bad subject '%s'", s->slot,
		    s->subject);
		rc = COPS_ERR_ARG;
		goto out;
	}
	prc = piv_make_csr(c->piv, s->slot, pub, subj, EVP_sha256(), &req);
	if (prc != PIV_OK) {
		rc = card_fail(prc, "CSR", detail, cap);
		goto out;
	}
	if ((len = i2d_X509_REQ(req, &der)) <= 0) {
		rc = COPS_ERR_NOMEM;
		goto out;
	}
	memset(e, 0, sizeof(*e));
	e->h = h;
	e->s = s;
	e->pub = pub;
	e->der = der;
	e->len = len;
	pub = NULL;
	der = NULL;
out:
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	OPENSSL_free(der);
	return rc;
}

/* A slot's second half: the CA's certificate, checked, written. */
static int
slot_certificate(struct cops_card *c, struct enrol *e, char *detail,
    size_t cap)
{
	int rc, prc;

	enrol_end(e, 1);
	if (e->rc != 0 || e->cert == NULL)
		rc = hook_fail("certificate enrollment", detail, cap);
	else if (EVP_PKEY_eq(X509_get0_pubkey(e->cert), e->pub) != 1) {
		snprintf(detail, cap, "slot %02x: the CA's certificate is for "
		    "another key", e->s->slot);
		rc = COPS_ERR_HOOK;
	} else {
		prc = piv_write_cert(c->piv, e->s->slot, e->cert, 0);
		rc = prc == PIV_OK ? COPS_OK : card_fail(prc,
		    "write certificate", detail, cap);
	}
	enrol_end(e, 0);
	return rc;
}

/* Slot e's certificate on the card, and its "done" step. */
static int
slot_done(struct cops_card *c, const struct cops_hooks *h, struct enrol *e,
    char *detail, size_t cap)
{
	char name[16];
	int rc;

	snprintf(name, sizeof(name), "slot_%02x", e->s->slot);
	if ((rc = slot_certificate(c, e, detail, cap)) != COPS_OK)
		return rc;
	return step(h, name, "done", NULL, 0) != 0 ?
	    hook_fail("journal", detail, cap) : COPS_OK;
}

/*
 * Step 5, every slot: slot i's request goes to the CA while the card makes
 * slot i+1's key; its certificate is written after that. A slot's "done"
 * step follows its certificate, so the journal may say "slot_9c begin"
 * before "slot_9a done". Whatever fails, no request is left in flight: what
 * the CA issued is in the inventory before this returns (the roll back
 * revokes it).
 */
static int
issue_slots(struct cops_card *c, const struct cops_plan *p,
    const struct cops_hooks *h, const uint8_t guid[16], char *detail,
    size_t cap)
{
	struct enrol en[COPS_MAX_SLOTS];
	char name[16];
	int i, prev = -1, rc = COPS_OK;

	memset(en, 0, sizeof(en));
	for (i = 0; i < p->nslots && rc == COPS_OK; i++) {
		snprintf(name, sizeof(name), "slot_%02x", p->slots[i].slot);
		if (step(h, name, "begin", NULL, 0) != 0) {
			rc = hook_fail("journal", detail, cap);
			break;
		}
		if ((rc = slot_request(c, &p->slots[i], h, guid, &en[i], detail,
		    cap)) != COPS_OK)
			break;
		/* One request in flight at a time: it keeps one CA link. */
		if (prev >= 0 &&
		    (rc = slot_done(c, h, &en[prev], detail, cap)) != COPS_OK)
			break;
		enrol_start(&en[i]);
		prev = i;
	}
	if (rc == COPS_OK && prev >= 0)
		rc = slot_done(c, h, &en[prev], detail, cap);
	for (i = 0; i < p->nslots; i++)
		enrol_end(&en[i], 0);
	return rc;
}

/* Step 6: recovered keys into the retired slots, then the key history. */
static int
issue_retired(struct cops_card *c, const struct cops_plan *p,
    const struct cops_hooks *h, char *detail, size_t cap)
{
	struct piv_keyhist kh;
	EVP_PKEY *priv = NULL;
	X509 *cert = NULL;
	char name[24];
	int i, slot, prc, rc = COPS_OK;

	if (p->nretired < 0 || p->nretired > COPS_MAX_RETIRED)
		return COPS_ERR_ARG;
	for (i = 0; i < p->nretired && rc == COPS_OK; i++) {
		slot = PIV_SLOT_RETIRED1 + i;
		snprintf(name, sizeof(name), "retired_%02x", slot);
		if (step(h, name, "begin", NULL, 0) != 0)
			return hook_fail("journal", detail, cap);
		if (h->retired == NULL || h->retired(h->arg, i, &priv, &cert) != 0 ||
		    priv == NULL || cert == NULL) {
			rc = hook_fail("key recovery", detail, cap);
		} else if (EVP_PKEY_eq(X509_get0_pubkey(cert), priv) != 1) {
			snprintf(detail, cap, "slot %02x: the recovered key is not "
			    "its certificate's", slot);
			rc = COPS_ERR_HOOK;
		} else if ((prc = piv_import_key(c->piv, slot, priv,
		    p->retired_pin_policy, p->retired_touch_policy)) != PIV_OK) {
			rc = card_fail(prc, "import recovered key", detail, cap);
		} else if ((prc = piv_write_cert(c->piv, slot, cert, 0)) != PIV_OK) {
			rc = card_fail(prc, "write certificate", detail, cap);
		} else if (step(h, name, "done", NULL, 0) != 0) {
			rc = hook_fail("journal", detail, cap);
		}
		EVP_PKEY_free(priv);
		X509_free(cert);
		priv = NULL;
		cert = NULL;
	}
	if (rc != COPS_OK || p->nretired == 0)
		return rc;
	/* SP 800-73-4: keysWithOnCardCerts tells clients (OpenSC) to look. */
	memset(&kh, 0, sizeof(kh));
	kh.on_card = (uint8_t)p->nretired;
	if ((prc = piv_write_keyhist(c->piv, &kh)) != PIV_OK)
		return card_fail(prc, "write key history", detail, cap);
	return COPS_OK;
}

/* Steps 2-4: fresh GUID, diversified 9B key, retry counters. */
static int
issue_identity(struct cops_card *c, const struct cops_plan *p,
    const struct cops_hooks *h, uint8_t guid[16], char *detail, size_t cap)
{
	struct piv_chuid chuid;
	uint8_t fascn[25], key[32];
	size_t klen = mgmt_key_len(p->mgmt_alg);
	int prc, rc = COPS_OK;

	if (piv_fascn_encode(p->fascn, fascn) != PIV_OK || klen == 0)
		return COPS_ERR_ARG;
	if (step(h, "chuid", "begin", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	if ((prc = piv_write_chuid(c->piv, fascn, p->expiry, &chuid)) != PIV_OK)
		return card_fail(prc, "write CHUID", detail, cap);
	memcpy(guid, chuid.guid, 16);
	if (step(h, "chuid", "done", guid, 16) != 0)
		return hook_fail("journal", detail, cap);
	if (step(h, "mgmt_key", "begin", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	if (h->mgmt_key == NULL ||
	    h->mgmt_key(h->arg, guid, p->mgmt_alg, key, klen) != 0) {
		rc = hook_fail("management key derivation", detail, cap);
		goto out;
	}
	if ((prc = piv_set_mgmt_key(c->piv, p->mgmt_alg, key, klen, 0)) != PIV_OK ||
	    (prc = piv_auth_mgmt(c->piv, p->mgmt_alg, key, klen)) != PIV_OK) {
		rc = card_fail(prc, "set management key", detail, cap);
		goto out;
	}
	if (step(h, "mgmt_key", "done", NULL, 0) != 0) {
		rc = hook_fail("journal", detail, cap);
		goto out;
	}
	/* FA needs the PIN verified and resets PIN and PUK to their defaults. */
	if ((prc = piv_verify(c->piv, COPS_DEFAULT_PIN, NULL)) != PIV_OK ||
	    (prc = piv_set_retries(c->piv, p->pin_tries, p->puk_tries)) != PIV_OK ||
	    (prc = piv_verify(c->piv, COPS_DEFAULT_PIN, NULL)) != PIV_OK)
		rc = card_fail(prc, "set retry counters", detail, cap);
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

/* Step 7: diversified PUK and the holder's PIN. */
static int
issue_secrets(struct cops_card *c, const char *new_pin,
    const struct cops_hooks *h, const uint8_t guid[16], char *detail,
    size_t cap)
{
	char puk[9];
	int prc, rc = COPS_OK;

	if (step(h, "pin_puk", "begin", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	if (h->puk == NULL || h->puk(h->arg, guid, puk) != 0) {
		rc = hook_fail("PUK derivation", detail, cap);
		goto out;
	}
	if ((prc = piv_change_ref(c->piv, PIV_REF_PUK, COPS_DEFAULT_PUK, puk,
	    NULL)) != PIV_OK ||
	    (prc = piv_change_ref(c->piv, PIV_REF_PIN, COPS_DEFAULT_PIN, new_pin,
	    NULL)) != PIV_OK) {
		rc = card_fail(prc, "set PIN and PUK", detail, cap);
		goto out;
	}
	if (step(h, "pin_puk", "done", NULL, 0) != 0)
		rc = hook_fail("journal", detail, cap);
out:
	OPENSSL_cleanse(puk, sizeof(puk));
	return rc;
}

int
cops_issue(struct cops_card *c, const struct cops_plan *p, const char *new_pin,
    const struct cops_hooks *h, uint8_t guid[16], char *detail, size_t cap)
{
	int prc, rc;

	memset(guid, 0, 16);
	if (c == NULL || c->piv == NULL || p == NULL || h == NULL ||
	    new_pin == NULL || p->nslots < 1 || p->nslots > COPS_MAX_SLOTS)
		return COPS_ERR_ARG;
	if (step(h, "auth", "begin", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	if ((prc = auth_default(c)) != PIV_OK) {
		if (prc == PIV_ERR_AUTH_FAILED) {
			snprintf(detail, cap, "the card refused the factory "
			    "management key: it is not blank");
			return COPS_ERR_NOT_BLANK;
		}
		return card_fail(prc, "authenticate", detail, cap);
	}
	if ((rc = issue_identity(c, p, h, guid, detail, cap)) != COPS_OK)
		return rc;
	if ((rc = issue_slots(c, p, h, guid, detail, cap)) != COPS_OK)
		return rc;
	if ((rc = issue_retired(c, p, h, detail, cap)) != COPS_OK)
		return rc;
	if ((prc = piv_write_ccc(c->piv)) != PIV_OK)
		return card_fail(prc, "write CCC", detail, cap);
	return issue_secrets(c, new_pin, h, guid, detail, cap);
}

int
cops_pin_change(struct cops_card *c, const char *old_pin, const char *new_pin,
    int *tries)
{
	int prc;

	*tries = -1;
	if (c == NULL || c->piv == NULL || old_pin == NULL || new_pin == NULL)
		return COPS_ERR_ARG;
	prc = piv_change_ref(c->piv, PIV_REF_PIN, old_pin, new_pin, tries);
	return prc == PIV_OK ? COPS_OK : card_fail(prc, "change PIN", NULL, 0);
}

int
cops_pin_tries(struct cops_card *c, int *tries)
{
	int prc;

	*tries = -1;
	prc = piv_verify(c->piv, NULL, tries);
	if (prc == PIV_OK || prc == PIV_ERR_WRONG_PIN)
		return COPS_OK;
	if (prc == PIV_ERR_BLOCKED) {
		*tries = 0;
		return COPS_OK;
	}
	return card_fail(prc, "PIN status", NULL, 0);
}

int
cops_unblock(struct cops_card *c, const char *puk, const char *new_pin,
    int *tries)
{
	int prc;

	*tries = -1;
	if (c == NULL || c->piv == NULL || puk == NULL || new_pin == NULL)
		return COPS_ERR_ARG;
	prc = piv_unblock_pin(c->piv, puk, new_pin, tries);
	return prc == PIV_OK ? COPS_OK : card_fail(prc, "unblock PIN", NULL, 0);
}

/* Spend tries of ref (PIN or PUK) with wrong values until it is blocked. */
static int
block_ref(struct cops_card *c, int ref)
{
	char wrong[9];
	uint8_t r[8];
	int prc = PIV_OK;

	for (int n = 0; n < WIPE_MAX_TRIES; n++) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return PIV_ERR_CRYPTO;
		for (int i = 0; i < 8; i++)
			wrong[i] = (char)('0' + r[i] % 10);
		wrong[8] = '\0';
		if (ref == PIV_REF_PIN)
			prc = piv_verify(c->piv, wrong, NULL);
		else
			prc = piv_change_ref(c->piv, PIV_REF_PUK, wrong, wrong,
			    NULL);
		if (prc == PIV_ERR_BLOCKED)
			return PIV_OK;
		if (prc != PIV_OK && prc != PIV_ERR_WRONG_PIN)
			return prc;
	}
	return PIV_ERR_CARD;
}

/* After 9B authentication: PIN and PUK blocked, then RESET. */
static int
wipe_authenticated(struct cops_card *c, char *detail, size_t cap)
{
	int prc;

	if ((prc = block_ref(c, PIV_REF_PIN)) != PIV_OK)
		return card_fail(prc, "block PIN", detail, cap);
	if ((prc = block_ref(c, PIV_REF_PUK)) != PIV_OK)
		return card_fail(prc, "block PUK", detail, cap);
	if ((prc = piv_reset(c->piv)) != PIV_OK)
		return card_fail(prc, "reset", detail, cap);
	return COPS_OK;
}

int
cops_wipe(struct cops_card *c, int mgmt_alg, const uint8_t *key, size_t keylen,
    char *detail, size_t cap)
{
	int prc;

	if (c == NULL || c->piv == NULL || key == NULL)
		return COPS_ERR_ARG;
	/* Only a card whose 9B key we know is ours to wipe. */
	if ((prc = piv_auth_mgmt(c->piv, mgmt_alg, key, keylen)) != PIV_OK)
		return card_fail(prc, "authenticate", detail, cap);
	return wipe_authenticated(c, detail, cap);
}

int
cops_auth_cb(struct cops_card *c, int mgmt_alg, piv_mgmt_crypt_fn crypt,
    void *arg, char *detail, size_t cap)
{
	int prc;

	if (c == NULL || c->piv == NULL || crypt == NULL)
		return COPS_ERR_ARG;
	prc = piv_auth_mgmt_cb(c->piv, mgmt_alg, crypt, arg);
	return prc == PIV_OK ? COPS_OK : card_fail(prc, "authenticate", detail,
	    cap);
}

int
cops_wipe_cb(struct cops_card *c, int mgmt_alg, piv_mgmt_crypt_fn crypt,
    void *arg, char *detail, size_t cap)
{
	int rc = cops_auth_cb(c, mgmt_alg, crypt, arg, detail, cap);

	return rc == COPS_OK ? wipe_authenticated(c, detail, cap) : rc;
}

int
cops_self_test(const char *module, const char *reader, const char *pin,
    char *detail, size_t cap)
{
	struct p11_ctx *ctx = NULL;
	struct p11_selftest st;
	int rc;

	memset(&st, 0, sizeof(st));
	if ((rc = p11_init(&ctx, module)) != P11_OK) {
		snprintf(detail, cap, "PKCS#11 module %s: %s", module,
		    p11_strerror(rc));
		return COPS_ERR_SELFTEST;
	}
	rc = p11_self_test(ctx, reader, pin, &st);
	p11_done(ctx);
	if (rc == P11_OK)
		return COPS_OK;
	snprintf(detail, cap, "self-test: %s (%u keys checked, %u failed%s%s)",
	    p11_strerror(rc), st.checked, st.failed,
	    st.first_failed[0] ? ", first: " : "", st.first_failed);
	return COPS_ERR_SELFTEST;
}

/*
 * Renewal of the escrowed slot with a new key: its current key (retired
 * hook, i = 0; it cannot be read from the card, the hook recovers it from
 * escrow) and certificate go to the first free retired slot, the key
 * history counting one more: the keys already retired stay where they are.
 * A torn renewal that got as far may have put it there already (the last
 * retired slot holds its certificate's key): then nothing is written twice.
 */
static int
renew_retire(struct cops_card *c, const struct cops_plan *p,
    const struct cops_hooks *h, char *detail, size_t cap)
{
	struct piv_keyhist kh;
	EVP_PKEY *priv = NULL;
	X509 *cert = NULL, *last = NULL;
	char name[24];
	int slot, prc, rc = COPS_OK;

	memset(&kh, 0, sizeof(kh));
	if ((prc = piv_read_keyhist(c->piv, &kh)) != PIV_OK &&
	    prc != PIV_ERR_NOT_FOUND)
		return card_fail(prc, "read key history", detail, cap);
	if (prc == PIV_ERR_NOT_FOUND)
		memset(&kh, 0, sizeof(kh));
	if (h->retired == NULL || h->retired(h->arg, 0, &priv, &cert) != 0 ||
	    priv == NULL || cert == NULL) {
		rc = hook_fail("key recovery", detail, cap);
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), priv) != 1) {
		snprintf(detail, cap, "the recovered key is not its "
		    "certificate's");
		rc = COPS_ERR_HOOK;
		goto out;
	}
	if (kh.on_card > 0 && (prc = piv_read_cert(c->piv, PIV_SLOT_RETIRED1 +
	    kh.on_card - 1, &last)) != PIV_OK && prc != PIV_ERR_NOT_FOUND) {
		rc = card_fail(prc, "read retired certificate", detail, cap);
		goto out;
	}
	if (last != NULL && EVP_PKEY_eq(X509_get0_pubkey(last), priv) == 1)
		goto out;	/* retired by a torn renewal already */
	if (kh.on_card >= COPS_MAX_RETIRED) {
		snprintf(detail, cap, "every retired key slot is in use");
		rc = COPS_ERR_CARD;
		goto out;
	}
	slot = PIV_SLOT_RETIRED1 + kh.on_card;
	snprintf(name, sizeof(name), "retired_%02x", slot);
	if (step(h, name, "begin", NULL, 0) != 0) {
		rc = hook_fail("journal", detail, cap);
		goto out;
	}
	if ((prc = piv_import_key(c->piv, slot, priv, p->retired_pin_policy,
	    p->retired_touch_policy)) != PIV_OK)
		rc = card_fail(prc, "import retired key", detail, cap);
	else if ((prc = piv_write_cert(c->piv, slot, cert, 0)) != PIV_OK)
		rc = card_fail(prc, "write certificate", detail, cap);
	else {
		kh.on_card++;
		if ((prc = piv_write_keyhist(c->piv, &kh)) != PIV_OK)
			rc = card_fail(prc, "write key history", detail, cap);
		else if (step(h, name, "done", NULL, 0) != 0)
			rc = hook_fail("journal", detail, cap);
	}
out:
	EVP_PKEY_free(priv);
	X509_free(cert);
	X509_free(last);
	return rc;
}

int
cops_renew(struct cops_card *c, const struct cops_plan *p, const char *pin,
    piv_mgmt_crypt_fn crypt, void *crypt_arg, const struct cops_hooks *h,
    int *tries, char *detail, size_t cap)
{
	int prc, rc;

	*tries = -1;
	if (c == NULL || c->piv == NULL || p == NULL || h == NULL ||
	    pin == NULL || crypt == NULL || p->nslots < 1 ||
	    p->nslots > COPS_MAX_SLOTS || !c->id.has_chuid ||
	    !c->id.chuid.has_guid || p->nretired < 0 || p->nretired > 1)
		return COPS_ERR_ARG;
	if (step(h, "auth", "begin", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	if ((rc = cops_auth_cb(c, p->mgmt_alg, crypt, crypt_arg, detail,
	    cap)) != COPS_OK)
		return rc;
	/* The holder's PIN: once, before the keys that need it. */
	if ((prc = piv_verify(c->piv, pin, tries)) != PIV_OK)
		return card_fail(prc, "verify PIN", detail, cap);
	if (step(h, "auth", "done", NULL, 0) != 0)
		return hook_fail("journal", detail, cap);
	/* The old key retired before the new one replaces it. */
	if (p->nretired == 1 &&
	    (rc = renew_retire(c, p, h, detail, cap)) != COPS_OK)
		return rc;
	return issue_slots(c, p, h, c->id.chuid.guid, detail, cap);
}

int
cops_prove(struct cops_card *c, int slot, EVP_PKEY *pub, const char *context,
    char *detail, size_t cap)
{
	uint8_t msg[128 + 32], *sig = NULL;
	size_t n = strlen(context), siglen = 0;
	EVP_MD_CTX *md = NULL;
	int rc, ok = 0;

	if (c == NULL || c->piv == NULL || pub == NULL || n > 128)
		return COPS_ERR_ARG;
	memcpy(msg, context, n);
	if (RAND_bytes(msg + n, 32) != 1)
		return COPS_ERR_NOMEM;
	rc = piv_sign(c->piv, slot, pub, EVP_sha256(), PIV_PAD_PKCS1, msg,
	    n + 32, &sig, &siglen);
	if (rc == PIV_OK && (md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1)
		ok = EVP_DigestVerify(md, sig, siglen, msg, n + 32) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	if (rc != PIV_OK) {
		snprintf(detail, cap, "the card would not sign a challenge "
		    "with slot %02x: %s", slot, piv_strerror(rc));
		return rc == PIV_ERR_REMOVED ? COPS_ERR_REMOVED : COPS_ERR_CARD;
	}
	if (!ok) {
		snprintf(detail, cap, "the card's slot %02x signature does not "
		    "verify with the registered key", slot);
		return COPS_ERR_DIFFERENT;
	}
	return COPS_OK;
}
