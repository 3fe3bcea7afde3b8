/* p11: PKCS#11 tokens through libp11. See p11.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/rand.h>
#include <openssl/ui.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include "p11.h"

/* PKCS#11 return values we tell apart (PKCS#11 v2.40 section 11.1). */
#define CKR_DEVICE_REMOVED_	0x32UL
#define CKR_PIN_INCORRECT_	0xA0UL
#define CKR_PIN_INVALID_	0xA1UL
#define CKR_PIN_LEN_RANGE_	0xA2UL
#define CKR_PIN_LOCKED_		0xA4UL
#define CKR_TOKEN_NOT_PRESENT_	0xE0UL

struct p11_ctx {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	UI_METHOD *ui;		/* answers libp11's PIN prompts; never interactive */
};

static const struct {
	int err;
	const char *name, *msg;
} errs[] = {
	{ P11_OK, "P11_OK", "success" },
	{ P11_ERR_INVALID, "P11_ERR_INVALID", "invalid argument" },
	{ P11_ERR_NOMEM, "P11_ERR_NOMEM", "out of memory" },
	{ P11_ERR_LOAD, "P11_ERR_LOAD", "PKCS#11 module failed to load" },
	{ P11_ERR_NO_TOKEN, "P11_ERR_NO_TOKEN", "no matching token" },
	{ P11_ERR_PIN_INCORRECT, "P11_ERR_PIN_INCORRECT", "PIN incorrect" },
	{ P11_ERR_PIN_LOCKED, "P11_ERR_PIN_LOCKED", "PIN locked" },
	{ P11_ERR_PIN_INVALID, "P11_ERR_PIN_INVALID", "new PIN rejected by the token" },
	{ P11_ERR_LOGIN, "P11_ERR_LOGIN", "login failed" },
	{ P11_ERR_NOT_FOUND, "P11_ERR_NOT_FOUND", "key or certificate not found" },
	{ P11_ERR_SIGN, "P11_ERR_SIGN", "signing failed" },
	{ P11_ERR_SELFTEST, "P11_ERR_SELFTEST", "a key failed the signature self-test" },
	{ P11_ERR_NO_KEYS, "P11_ERR_NO_KEYS", "no key with a certificate to test" },
	{ P11_ERR_TOKEN, "P11_ERR_TOKEN", "PKCS#11 module error" },
	{ P11_ERR_REMOVED, "P11_ERR_REMOVED", "token removed" },
};

const char *
p11_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].msg;
	return "unknown p11 error";
}

const char *
p11_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "?";
}

/* The PKCS#11 code libp11 left on the OpenSSL error queue (0 if none). */
static unsigned long
last_ckr(void)
{
	unsigned long e, ckr = 0;
	int lib = ERR_get_CKR_code();

	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_LIB(e) == lib)
			ckr = ERR_GET_REASON(e);
	return ckr;
}

static int
map_ckr(int fallback)
{
	switch (last_ckr()) {
	case CKR_PIN_INCORRECT_: return P11_ERR_PIN_INCORRECT;
	case CKR_PIN_LOCKED_: return P11_ERR_PIN_LOCKED;
	case CKR_PIN_INVALID_:
	case CKR_PIN_LEN_RANGE_: return P11_ERR_PIN_INVALID;
	case CKR_DEVICE_REMOVED_:
	case CKR_TOKEN_NOT_PRESENT_: return P11_ERR_REMOVED;
	default: return fallback;
	}
}

/*
 * CKA_ALWAYS_AUTHENTICATE keys (PIV 9C) need a context-specific login per
 * signature; libp11 asks its UI for that PIN. Ours answers with the PIN the
 * current call was given (user data), or fails: a daemon never prompts.
 */
static int
ui_read(UI *ui, UI_STRING *uis)
{
	const char *pin = UI_get0_user_data(ui);

	if (pin == NULL || (UI_get_string_type(uis) != UIT_PROMPT &&
	    UI_get_string_type(uis) != UIT_VERIFY))
		return 0;
	return UI_set_result(ui, uis, pin) == 0 ? 1 : 0;
}

static int
ui_write(UI *ui, UI_STRING *uis)
{
	(void)ui;
	(void)uis;
	return 1;	/* prompts go nowhere */
}

/* Let libp11 answer PIN prompts with pin (NULL: refuse) until the next call. */
static void
ui_pin(struct p11_ctx *c, const char *pin)
{
	PKCS11_set_ui_method(c->ctx, c->ui, (void *)(uintptr_t)pin);
}

int
p11_init(struct p11_ctx **ctx, const char *module)
{
	struct p11_ctx *c;
	int rc = P11_ERR_NOMEM;

	if (ctx == NULL)
		return P11_ERR_INVALID;
	*ctx = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->ctx = PKCS11_CTX_new()) == NULL ||
	    (c->ui = UI_create_method("p11")) == NULL ||
	    UI_method_set_reader(c->ui, ui_read) != 0 ||
	    UI_method_set_writer(c->ui, ui_write) != 0)
		goto out;
	rc = P11_ERR_LOAD;
	ui_pin(c, NULL);
	if (PKCS11_CTX_load(c->ctx, module ? module : P11_DEFAULT_MODULE) != 0)
		goto out;
	*ctx = c;
	c = NULL;
	rc = P11_OK;
out:
	ERR_clear_error();
	if (c != NULL) {
		PKCS11_CTX_free(c->ctx);
		UI_destroy_method(c->ui);
		free(c);
	}
	return rc;
}

static void
release_slots(struct p11_ctx *c)
{
	if (c->slots != NULL)
		PKCS11_release_all_slots(c->ctx, c->slots, c->nslots);
	c->slots = NULL;
	c->nslots = 0;
}

void
p11_done(struct p11_ctx *ctx)
{
	if (ctx == NULL)
		return;
	release_slots(ctx);
	PKCS11_CTX_unload(ctx->ctx);
	PKCS11_CTX_free(ctx->ctx);
	UI_destroy_method(ctx->ui);
	free(ctx);
}

/*
 * The slot list, read once: sessions and logins live in it. (libp11 0.4.12's
 * PKCS11_update_slots crashes on a second call, so a changed token set needs
 * reload(), which drops logins.)
 */
static int
refresh(struct p11_ctx *c)
{
	if (c->slots != NULL)
		return P11_OK;
	return PKCS11_enumerate_slots(c->ctx, &c->slots, &c->nslots) == 0 ?
	    P11_OK : map_ckr(P11_ERR_TOKEN);
}

static int
reload(struct p11_ctx *c)
{
	release_slots(c);
	return refresh(c);
}

static PKCS11_SLOT *
find_slot(struct p11_ctx *c, const char *token)
{
	PKCS11_TOKEN *t;
	unsigned i;

	for (i = 0; i < c->nslots; i++) {
		if ((t = c->slots[i].token) == NULL || !t->initialized)
			continue;
		if (token == NULL || strcmp(t->serialnr, token) == 0 ||
		    strcmp(t->label, token) == 0 || (c->slots[i].description != NULL &&
		    strcmp(c->slots[i].description, token) == 0))
			return &c->slots[i];
	}
	return NULL;
}

static int
get_slot(struct p11_ctx *c, const char *token, PKCS11_SLOT **slot)
{
	int rc;

	*slot = NULL;
	if (c == NULL)
		return P11_ERR_INVALID;
	if ((rc = refresh(c)) != P11_OK)
		return rc;
	return (*slot = find_slot(c, token)) != NULL ? P11_OK : P11_ERR_NO_TOKEN;
}

static void
fill_info(PKCS11_SLOT *s, struct p11_token_info *ti)
{
	PKCS11_TOKEN *t = s->token;

	memset(ti, 0, sizeof(*ti));
	ti->slot_id = PKCS11_get_slotid_from_slot(s);
	snprintf(ti->label, sizeof(ti->label), "%s", t->label ? t->label : "");
	snprintf(ti->manufacturer, sizeof(ti->manufacturer), "%s",
	    t->manufacturer ? t->manufacturer : "");
	snprintf(ti->model, sizeof(ti->model), "%s", t->model ? t->model : "");
	snprintf(ti->serial, sizeof(ti->serial), "%s", t->serialnr ? t->serialnr : "");
	snprintf(ti->slot, sizeof(ti->slot), "%s", s->description ? s->description : "");
	/* OpenSC's PIV driver: manufacturer "piv_II"; anything else is generic. */
	ti->kind = strncasecmp(ti->manufacturer, "piv_II", 6) == 0 ?
	    P11_KIND_PIV : P11_KIND_PKCS11;
	ti->initialized = t->initialized;
	ti->login_required = t->loginRequired;
	ti->user_pin_set = t->userPinSet;
	ti->user_pin_locked = t->userPinLocked;
	ti->user_pin_final_try = t->userPinFinalTry;
	ti->so_pin_locked = t->soPinLocked;
}

int
p11_list_tokens(struct p11_ctx *ctx, struct p11_token_info **list, size_t *n)
{
	struct p11_token_info *v;
	unsigned i;
	size_t k = 0;
	int rc;

	if (list == NULL || n == NULL)
		return P11_ERR_INVALID;
	*list = NULL;
	*n = 0;
	if (ctx == NULL)
		return P11_ERR_INVALID;
	if ((rc = reload(ctx)) != P11_OK)
		return rc;
	if ((v = calloc(ctx->nslots + 1, sizeof(*v))) == NULL)
		return P11_ERR_NOMEM;
	for (i = 0; i < ctx->nslots; i++)
		if (ctx->slots[i].token != NULL)
			fill_info(&ctx->slots[i], &v[k++]);
	*list = v;
	*n = k;
	return P11_OK;
}

static int
do_login(PKCS11_SLOT *s, int so, const char *pin)
{
	int in = 0;

	/* Already logged in (libp11 keeps one session per slot): nothing to do. */
	if (PKCS11_is_logged_in(s, so, &in) == 0 && in)
		return P11_OK;
	if (PKCS11_login(s, so, pin) == 0)
		return P11_OK;
	return map_ckr(P11_ERR_LOGIN);
}

int
p11_login(struct p11_ctx *ctx, const char *token, int so, const char *pin)
{
	PKCS11_SLOT *s;
	int rc;

	if (pin == NULL)
		return P11_ERR_INVALID;
	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	return do_login(s, so, pin);
}

int
p11_logout(struct p11_ctx *ctx, const char *token)
{
	PKCS11_SLOT *s;
	int rc;

	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	return PKCS11_logout(s) == 0 ? P11_OK : map_ckr(P11_ERR_TOKEN);
}

static int
evp_sign(EVP_PKEY *k, const EVP_MD *md, const uint8_t *msg, size_t msglen,
    uint8_t **sig, size_t *siglen)
{
	EVP_MD_CTX *mc = NULL;
	size_t len = 0;
	int rc = P11_ERR_SIGN;

	if ((mc = EVP_MD_CTX_new()) == NULL)
		return P11_ERR_NOMEM;
	if (EVP_DigestSignInit(mc, NULL, md, NULL, k) != 1 ||
	    EVP_DigestSign(mc, NULL, &len, msg, msglen) != 1)
		goto out;
	if ((*sig = malloc(len)) == NULL) {
		rc = P11_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestSign(mc, *sig, &len, msg, msglen) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	*siglen = len;
	rc = P11_OK;
out:
	if (rc == P11_ERR_SIGN)
		rc = map_ckr(P11_ERR_SIGN);
	EVP_MD_CTX_free(mc);
	return rc;
}

static PKCS11_KEY *
find_key(PKCS11_TOKEN *t, const uint8_t *id, size_t id_len)
{
	PKCS11_KEY *keys = NULL;
	unsigned n = 0, i;

	if (PKCS11_enumerate_keys(t, &keys, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (keys[i].id_len == id_len && memcmp(keys[i].id, id, id_len) == 0)
			return &keys[i];
	return NULL;
}

int
p11_sign(struct p11_ctx *ctx, const char *token, const char *pin, const uint8_t *id,
    size_t id_len, const EVP_MD *md, const uint8_t *msg, size_t msglen, uint8_t **sig,
    size_t *siglen)
{
	PKCS11_SLOT *s;
	PKCS11_KEY *k;
	EVP_PKEY *pk = NULL;
	int rc;

	if (sig == NULL || siglen == NULL)
		return P11_ERR_INVALID;
	*sig = NULL;
	*siglen = 0;
	if (id == NULL || md == NULL || pin == NULL)
		return P11_ERR_INVALID;
	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	if ((rc = do_login(s, 0, pin)) != P11_OK)
		return rc;
	if ((k = find_key(s->token, id, id_len)) == NULL ||
	    (pk = PKCS11_get_private_key(k)) == NULL)
		return P11_ERR_NOT_FOUND;
	ui_pin(ctx, pin);
	rc = evp_sign(pk, md, msg, msglen, sig, siglen);
	ui_pin(ctx, NULL);
	EVP_PKEY_free(pk);
	return rc;
}

/* Sign a random challenge with priv; verify with the certificate's key. */
static int
test_sign(EVP_PKEY *priv, EVP_PKEY *pub)
{
	uint8_t chal[32], *sig = NULL;
	size_t siglen = 0;
	EVP_MD_CTX *mc = NULL;
	int rc = P11_ERR_SELFTEST;

	if (RAND_bytes(chal, sizeof(chal)) != 1 ||
	    evp_sign(priv, EVP_sha256(), chal, sizeof(chal), &sig, &siglen) != P11_OK)
		goto out;
	if ((mc = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pub) != 1)
		goto out;
	if (EVP_DigestVerify(mc, sig, siglen, chal, sizeof(chal)) == 1)
		rc = P11_OK;
out:
	EVP_MD_CTX_free(mc);
	free(sig);
	return rc;
}

/* Encrypt a random challenge to the certificate; the token must decrypt it. */
static int
test_decrypt(EVP_PKEY *priv, EVP_PKEY *pub)
{
	uint8_t chal[32], ct[1024], pt[1024];
	size_t ctlen = sizeof(ct), ptlen = sizeof(pt);
	EVP_PKEY_CTX *ec = NULL, *dc = NULL;
	int rc = P11_ERR_SELFTEST;

	if (RAND_bytes(chal, sizeof(chal)) != 1 ||
	    (ec = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_encrypt_init(ec) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ec, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_encrypt(ec, ct, &ctlen, chal, sizeof(chal)) != 1)
		goto out;
	if ((dc = EVP_PKEY_CTX_new(priv, NULL)) == NULL || EVP_PKEY_decrypt_init(dc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(dc, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_decrypt(dc, pt, &ptlen, ct, ctlen) != 1)
		goto out;
	if (ptlen == sizeof(chal) && CRYPTO_memcmp(pt, chal, ptlen) == 0)
		rc = P11_OK;
out:
	OPENSSL_cleanse(pt, sizeof(pt));
	EVP_PKEY_CTX_free(ec);
	EVP_PKEY_CTX_free(dc);
	return rc;
}

/* ECDH with an ephemeral key: both sides must derive the same secret. */
static int
test_derive(EVP_PKEY *priv, EVP_PKEY *pub)
{
	uint8_t a[128], b[128];
	size_t al = sizeof(a), bl = sizeof(b);
	EVP_PKEY *eph = NULL;
	EVP_PKEY_CTX *c1 = NULL, *c2 = NULL, *g = NULL;
	int rc = P11_ERR_SELFTEST;

	if ((g = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_keygen_init(g) != 1 ||
	    EVP_PKEY_keygen(g, &eph) != 1)
		goto out;
	if ((c1 = EVP_PKEY_CTX_new(priv, NULL)) == NULL || EVP_PKEY_derive_init(c1) != 1 ||
	    EVP_PKEY_derive_set_peer(c1, eph) != 1 || EVP_PKEY_derive(c1, a, &al) != 1)
		goto out;
	if ((c2 = EVP_PKEY_CTX_new(eph, NULL)) == NULL || EVP_PKEY_derive_init(c2) != 1 ||
	    EVP_PKEY_derive_set_peer(c2, pub) != 1 || EVP_PKEY_derive(c2, b, &bl) != 1)
		goto out;
	if (al == bl && CRYPTO_memcmp(a, b, al) == 0)
		rc = P11_OK;
out:
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	EVP_PKEY_free(eph);
	EVP_PKEY_CTX_free(g);
	EVP_PKEY_CTX_free(c1);
	EVP_PKEY_CTX_free(c2);
	return rc;
}

/*
 * Exercise key with the operation its certificate allows: signature keys sign a
 * random challenge, encryption keys (PIV 9D: keyEncipherment / keyAgreement
 * only) decrypt or derive one. Every result is checked with the certificate.
 */
static int
test_one(PKCS11_KEY *key, X509 *x509)
{
	uint32_t ku = X509_get_key_usage(x509);
	EVP_PKEY *priv = NULL, *pub = X509_get0_pubkey(x509);
	int rc = P11_ERR_SELFTEST;

	if (pub == NULL || (priv = PKCS11_get_private_key(key)) == NULL)
		goto out;
	if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))
		rc = test_sign(priv, pub);
	else if (EVP_PKEY_is_a(pub, "RSA"))
		rc = test_decrypt(priv, pub);
	else
		rc = test_derive(priv, pub);
out:
	ERR_clear_error();
	EVP_PKEY_free(priv);
	return rc;
}

int
p11_self_test(struct p11_ctx *ctx, const char *token, const char *pin,
    struct p11_selftest *res)
{
	PKCS11_CERT *certs = NULL;
	PKCS11_KEY *key;
	PKCS11_SLOT *s;
	unsigned n = 0, i;
	int rc;

	if (res == NULL || pin == NULL)
		return P11_ERR_INVALID;
	memset(res, 0, sizeof(*res));
	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	if ((rc = do_login(s, 0, pin)) != P11_OK)
		return rc;
	if (PKCS11_enumerate_certs(s->token, &certs, &n) != 0)
		return map_ckr(P11_ERR_TOKEN);
	ui_pin(ctx, pin);
	for (i = 0; i < n; i++) {
		if ((key = PKCS11_find_key(&certs[i])) == NULL || certs[i].x509 == NULL)
			continue;
		res->checked++;
		if (test_one(key, certs[i].x509) != P11_OK && res->failed++ == 0)
			snprintf(res->first_failed, sizeof(res->first_failed), "%s",
			    certs[i].label ? certs[i].label : "?");
	}
	ui_pin(ctx, NULL);
	if (res->checked == 0)
		return P11_ERR_NO_KEYS;
	return res->failed == 0 ? P11_OK : P11_ERR_SELFTEST;
}

int
p11_change_pin(struct p11_ctx *ctx, const char *token, const char *old_pin,
    const char *new_pin)
{
	PKCS11_SLOT *s;
	int rc;

	if (old_pin == NULL || new_pin == NULL)
		return P11_ERR_INVALID;
	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	/* C_SetPIN needs a read/write session. */
	if (PKCS11_open_session(s, 1) != 0)
		return map_ckr(P11_ERR_TOKEN);
	if ((rc = do_login(s, 0, old_pin)) != P11_OK)
		return rc;
	return PKCS11_change_pin(s, old_pin, new_pin) == 0 ? P11_OK :
	    map_ckr(P11_ERR_TOKEN);
}

int
p11_unblock(struct p11_ctx *ctx, const char *token, const char *so_pin,
    const char *new_pin)
{
	PKCS11_SLOT *s;
	int rc;

	if (so_pin == NULL || new_pin == NULL)
		return P11_ERR_INVALID;
	if ((rc = get_slot(ctx, token, &s)) != P11_OK)
		return rc;
	PKCS11_logout(s);
	if ((rc = do_login(s, 1, so_pin)) != P11_OK)
		return rc;
	rc = PKCS11_init_pin(s->token, new_pin) == 0 ? P11_OK : map_ckr(P11_ERR_TOKEN);
	PKCS11_logout(s);
	return rc;
}

int
p11_init_token(struct p11_ctx *ctx, unsigned long slot_id, const char *so_pin,
    const char *label, const char *user_pin)
{
	PKCS11_SLOT *s = NULL;
	unsigned i;
	int rc;

	if (ctx == NULL || so_pin == NULL || label == NULL || user_pin == NULL)
		return P11_ERR_INVALID;
	if ((rc = reload(ctx)) != P11_OK)
		return rc;
	for (i = 0; i < ctx->nslots; i++)
		if (PKCS11_get_slotid_from_slot(&ctx->slots[i]) == slot_id)
			s = &ctx->slots[i];
	if (s == NULL || s->token == NULL)
		return P11_ERR_NO_TOKEN;
	if (PKCS11_init_token(s->token, so_pin, label) != 0)
		return map_ckr(P11_ERR_TOKEN);
	/* The token changed under libp11: re-read it before logging in. */
	if ((rc = reload(ctx)) != P11_OK)
		return rc;
	if ((rc = get_slot(ctx, label, &s)) != P11_OK)
		return rc;
	if ((rc = do_login(s, 1, so_pin)) != P11_OK)
		return rc;
	rc = PKCS11_init_pin(s->token, user_pin) == 0 ? P11_OK : map_ckr(P11_ERR_TOKEN);
	PKCS11_logout(s);
	return rc;
}
