/* cakey: the station key in its PKCS#11 token, via libp11. See cakey.h. */
#include "cakey.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proc/sighold.h"

struct cakey {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot;	/* the station token's, logged in */
	EVP_PKEY *pkey;
	int created;
};

const char *
cakey_strerror(int err)
{
	switch (err) {
	case CAKEY_OK:		return "success";
	case CAKEY_ERR_ARG:	return "bad argument";
	case CAKEY_ERR_MODULE:	return "cannot load the PKCS#11 module";
	case CAKEY_ERR_TOKEN:	return "station token damaged or missing";
	case CAKEY_ERR_LOGIN:	return "token login failed";
	case CAKEY_ERR_NOKEY:	return "station key not found in the token";
	case CAKEY_ERR_KEYGEN:	return "key generation in the token failed";
	case CAKEY_ERR_NOMEM:	return "out of memory";
	default:		return "unknown cakey error";
	}
}

const char *
cakey_errname(int err)
{
	switch (err) {
	case CAKEY_OK:	return "CAKEY_OK";
	case CAKEY_ERR_ARG:	return "CAKEY_ERR_ARG";
	case CAKEY_ERR_MODULE:	return "CAKEY_ERR_MODULE";
	case CAKEY_ERR_TOKEN:	return "CAKEY_ERR_TOKEN";
	case CAKEY_ERR_LOGIN:	return "CAKEY_ERR_LOGIN";
	case CAKEY_ERR_NOKEY:	return "CAKEY_ERR_NOKEY";
	case CAKEY_ERR_KEYGEN:	return "CAKEY_ERR_KEYGEN";
	case CAKEY_ERR_NOMEM:	return "CAKEY_ERR_NOMEM";
	default:		return "CAKEY_ERR_UNKNOWN";
	}
}

static PKCS11_SLOT *
find_slot(struct cakey *k, const char *token)
{
	unsigned int i;

	for (i = 0; i < k->nslots; i++) {
		PKCS11_SLOT *s = &k->slots[i];

		if (s->token != NULL && s->token->initialized &&
		    strcmp(s->token->label, token) == 0)
			return s;
	}
	return NULL;
}

/* The key object labelled label: the private one, or any of the pair. */
static PKCS11_KEY *
find_labelled(PKCS11_TOKEN *tok, const char *label, int private_only)
{
	PKCS11_KEY *keys = NULL;
	unsigned int i, n = 0;

	if (PKCS11_enumerate_keys(tok, &keys, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++)
		if ((keys[i].isPrivate || !private_only) &&
		    keys[i].label != NULL && strcmp(keys[i].label, label) == 0)
			return &keys[i];
	return NULL;
}

static int
has_public(PKCS11_TOKEN *tok, const char *label)
{
	PKCS11_KEY *keys = NULL;
	unsigned int i, n = 0;

	if (PKCS11_enumerate_public_keys(tok, &keys, &n) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (keys[i].label != NULL && strcmp(keys[i].label, label) == 0)
			return 1;
	return 0;
}

static PKCS11_KEY *
find_key(PKCS11_TOKEN *tok, const char *label)
{
	return find_labelled(tok, label, 1);
}

/* A fresh random CKA_ID ties the generated private and public halves. */
static int
generate(PKCS11_TOKEN *tok, const char *label)
{
	unsigned char id[16];
	char *l = strdup(label);
	int rc;

	if (l == NULL)
		return CAKEY_ERR_NOMEM;
	rc = RAND_bytes(id, sizeof(id)) == 1 &&
	    PKCS11_generate_key(tok, EVP_PKEY_RSA, 2048, l, id, sizeof(id)) == 0
	    ? CAKEY_OK : CAKEY_ERR_KEYGEN;
	free(l);
	return rc;
}

static int
find_token(struct cakey *k, const struct cakey_cfg *cfg, PKCS11_SLOT **slotp)
{
	*slotp = NULL;
	if (PKCS11_CTX_load(k->ctx, cfg->module) != 0)
		return CAKEY_ERR_MODULE;
	if (PKCS11_enumerate_slots(k->ctx, &k->slots, &k->nslots) != 0)
		return CAKEY_ERR_MODULE;
	/* SoftHSM2 skips a token whose token.object is empty or corrupt. */
	if ((*slotp = find_slot(k, cfg->token)) == NULL)
		return CAKEY_ERR_TOKEN;
	return CAKEY_OK;
}

/*
 * SoftHSM2's file store rewrites token.object in place at every C_Login
 * (ftruncate, then write): a process that dies between the two leaves an
 * empty file and the token is gone. The catchable signals that end a
 * process (an operator's kill, Ctrl-C, a closed terminal, systemd's stop)
 * wait until the login is over; SIGKILL and a power cut cannot be held off
 * (docs/keystore.md, "A kill during login").
 */
static int
login(PKCS11_SLOT *slot, const char *pin)
{
	sigset_t old;
	int rc;

	sighold_begin(&old);
	rc = PKCS11_login(slot, 0, pin);
	sighold_end(&old);
	return rc == 0 ? CAKEY_OK : CAKEY_ERR_LOGIN;
}

static int
load_key(struct cakey *k, const struct cakey_cfg *cfg, int create)
{
	PKCS11_SLOT *slot = NULL;
	PKCS11_KEY *key;
	int rc;

	if ((rc = find_token(k, cfg, &slot)) != CAKEY_OK)
		return rc;
	if (PKCS11_open_session(slot, 1) != 0)
		return CAKEY_ERR_LOGIN;
	if ((rc = login(slot, cfg->pin)) != CAKEY_OK)
		return rc;
	k->slot = slot;
	if ((key = find_key(slot->token, cfg->label)) == NULL) {
		if (!create)
			return CAKEY_ERR_NOKEY;
		if ((rc = generate(slot->token, cfg->label)) != CAKEY_OK)
			return rc;
		k->created = 1;
		if ((key = find_key(slot->token, cfg->label)) == NULL)
			return CAKEY_ERR_NOKEY;
	}
	if ((k->pkey = PKCS11_get_private_key(key)) == NULL)
		return CAKEY_ERR_NOKEY;
	return CAKEY_OK;
}

int
cakey_open(const struct cakey_cfg *cfg, int create, struct cakey **out)
{
	struct cakey *k = NULL;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->module == NULL || cfg->token == NULL ||
	    cfg->pin == NULL || cfg->label == NULL)
		return CAKEY_ERR_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->ctx = PKCS11_CTX_new()) == NULL) {
		rc = CAKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = load_key(k, cfg, create)) != CAKEY_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	cakey_close(k);
	return rc;
}

int
cakey_check(const struct cakey_cfg *cfg)
{
	struct cakey *k = NULL;
	PKCS11_SLOT *slot;
	int rc;

	if (cfg == NULL || cfg->module == NULL || cfg->token == NULL ||
	    cfg->label == NULL)
		return CAKEY_ERR_ARG;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->ctx = PKCS11_CTX_new()) == NULL) {
		rc = CAKEY_ERR_NOMEM;
		goto out;
	}
	if ((rc = find_token(k, cfg, &slot)) != CAKEY_OK)
		goto out;
	/* The public half is a public object: seen without a login. */
	if (!has_public(slot->token, cfg->label))
		rc = CAKEY_ERR_NOKEY;
out:
	cakey_close(k);
	return rc;
}

EVP_PKEY *
cakey_pkey(const struct cakey *k)
{
	return k->pkey;
}

int
cakey_created(const struct cakey *k)
{
	return k->created;
}

int
cakey_other(struct cakey *k, const char *label, int create, EVP_PKEY **pkey)
{
	PKCS11_KEY *key;
	int rc;

	*pkey = NULL;
	if (k == NULL || k->slot == NULL || label == NULL)
		return CAKEY_ERR_ARG;
	if ((key = find_key(k->slot->token, label)) == NULL) {
		if (!create)
			return CAKEY_ERR_NOKEY;
		if ((rc = generate(k->slot->token, label)) != CAKEY_OK)
			return rc;
		if ((key = find_key(k->slot->token, label)) == NULL)
			return CAKEY_ERR_NOKEY;
	}
	return (*pkey = PKCS11_get_private_key(key)) != NULL ? CAKEY_OK :
	    CAKEY_ERR_NOKEY;
}

int
cakey_remove(struct cakey *k, const char *label)
{
	PKCS11_KEY *key;
	int n;

	if (k == NULL || k->slot == NULL || label == NULL)
		return CAKEY_ERR_ARG;
	/* Each removal may change the enumeration: look again every time. */
	for (n = 0; n < 4 &&
	    (key = find_labelled(k->slot->token, label, 0)) != NULL; n++)
		if (PKCS11_remove_key(key) != 0)
			return CAKEY_ERR_KEYGEN;
	return CAKEY_OK;
}

void
cakey_close(struct cakey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->slots != NULL)
		PKCS11_release_all_slots(k->ctx, k->slots, k->nslots);
	if (k->ctx != NULL) {
		PKCS11_CTX_unload(k->ctx);
		PKCS11_CTX_free(k->ctx);
	}
	free(k);
}
