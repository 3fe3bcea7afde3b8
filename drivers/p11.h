/*
 * p11: PKCS#11 tokens through libp11: load a module, list tokens, log in,
 * sign/verify, the post-issuance self-test, PIN change/unblock and token
 * initialisation (for non-PIV tokens; SoftHSM2 stands in for them in tests).
 *
 * Tokens are named by serial number, label or slot description (for OpenSC:
 * the reader name); first match; NULL = the first token present. PINs are passed through to the module and not kept here.
 * PIN prompts from libp11 (context-specific login of CKA_ALWAYS_AUTHENTICATE
 * keys such as PIV 9C) are answered from the PIN of the current call, never
 * interactively. XXX libp11 may keep a copy of a login PIN until p11_done();
 * it frees it without wiping.
 */
#ifndef P11_H
#define P11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

enum p11_err {
	P11_OK = 0,
	P11_ERR_INVALID = -1,
	P11_ERR_NOMEM = -2,
	P11_ERR_LOAD = -3,		/* module did not load / initialise */
	P11_ERR_NO_TOKEN = -4,		/* no (matching) token */
	P11_ERR_PIN_INCORRECT = -5,
	P11_ERR_PIN_LOCKED = -6,
	P11_ERR_PIN_INVALID = -7,	/* new PIN rejected (length, charset) */
	P11_ERR_LOGIN = -8,		/* other login failure */
	P11_ERR_NOT_FOUND = -9,		/* key or certificate not found */
	P11_ERR_SIGN = -10,		/* signing failed */
	P11_ERR_SELFTEST = -11,		/* a key failed the self-test */
	P11_ERR_NO_KEYS = -12,		/* self-test found no key with a certificate */
	P11_ERR_TOKEN = -13,		/* any other module error */
	P11_ERR_REMOVED = -14,		/* token removed */
};

const char *p11_strerror(int err);
const char *p11_name(int err);

#define P11_DEFAULT_MODULE "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

struct p11_ctx;

/* Load module (NULL: P11_DEFAULT_MODULE). [out] *ctx: p11_done(). */
int p11_init(struct p11_ctx **ctx, const char *module);
void p11_done(struct p11_ctx *ctx);

enum p11_kind {
	P11_KIND_PKCS11 = 1,	/* a generic token */
	P11_KIND_PIV = 2,	/* a PIV card seen through OpenSC */
};

struct p11_token_info {
	unsigned long slot_id;
	char label[33], manufacturer[33], model[17], serial[17];
	char slot[65];		/* slot description (OpenSC: the reader name) */
	int kind;		/* enum p11_kind */
	int initialized, login_required, user_pin_set;
	int user_pin_locked, user_pin_final_try, so_pin_locked;
};

/* [out] *list: array of *n entries, free(). Slots without a token are skipped. */
int p11_list_tokens(struct p11_ctx *ctx, struct p11_token_info **list, size_t *n);

/* User login (so = 0) or SO login (so = 1) on the token. */
int p11_login(struct p11_ctx *ctx, const char *token, int so, const char *pin);
int p11_logout(struct p11_ctx *ctx, const char *token);

/*
 * Log in with pin (if not yet) and sign msg with the private key whose CKA_ID is
 * id; pin also answers a context-specific login (CKA_ALWAYS_AUTHENTICATE). md as
 * for EVP_DigestSign (RSA: PKCS#1 v1.5). [out] *sig: free().
 */
int p11_sign(struct p11_ctx *ctx, const char *token, const char *pin, const uint8_t *id,
    size_t id_len, const EVP_MD *md, const uint8_t *msg, size_t msglen, uint8_t **sig,
    size_t *siglen);

struct p11_selftest {
	unsigned checked;	/* keys with a certificate that were tried */
	unsigned failed;
	char first_failed[64];	/* label of the first failing key, "" if none */
};

/*
 * Post-issuance self-test: log in with pin, then for each certificate with a
 * matching private key sign a fresh random challenge and verify it with the
 * certificate's public key. P11_OK only if at least one key was checked and
 * none failed (P11_ERR_NO_KEYS / P11_ERR_SELFTEST otherwise).
 */
int p11_self_test(struct p11_ctx *ctx, const char *token, const char *pin,
    struct p11_selftest *res);

/* C_SetPIN as user (logs in with old_pin first). */
int p11_change_pin(struct p11_ctx *ctx, const char *token, const char *old_pin,
    const char *new_pin);
/* Unblock: SO login with so_pin, then C_InitPIN(new_pin). */
int p11_unblock(struct p11_ctx *ctx, const char *token, const char *so_pin,
    const char *new_pin);
/*
 * C_InitToken on the token in the slot with id slot_id (erases it), then sets
 * the user PIN. Not for PIV cards (they are managed through piv_*).
 */
int p11_init_token(struct p11_ctx *ctx, unsigned long slot_id, const char *so_pin,
    const char *label, const char *user_pin);

#endif /* P11_H */
