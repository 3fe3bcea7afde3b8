/*
 * cardops: what the engine does to a PIV card, step by step, with everything
 * that is not the card (derived keys, escrow, the CA, the journal) reached
 * through hooks. Keeping the card sequence here, free of LMDB, IPC and the
 * CA, makes it testable against the virtual card alone and keeps the order
 * of steps - which the tear and crash tests depend on - in one file.
 *
 * Issuance order, and why (see docs/daemon.md, "Issuance"):
 *   1 authenticate with the factory 9B key (or the journaled diversified key
 *     when resuming)
 *   2 CHUID with a fresh GUID: the GUID names the card from now on
 *   3 the diversified 9B key (derived from the GUID) replaces the factory key
 *   4 retry counters (YubiKey FA resets PIN and PUK, so it comes before them)
 *   5 per slot: key generated on the card, or the escrowed key imported;
 *     CSR signed by the card; certificate from the CA (in a thread, while
 *     the card makes the next slot's key); certificate written
 *   6 retired key management keys with their certificates, then the key
 *     history object (replacement only: recovered keys)
 *   7 CCC
 *   8 PUK (diversified) and the holder's PIN
 * Every step calls hooks->step before it touches the card and after it
 * succeeded, so the journal knows where a torn issuance stopped.
 */
#ifndef CARDOPS_H
#define CARDOPS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pcsc.h"
#include "piv.h"

enum cops_err {
	COPS_OK = 0,
	COPS_ERR_ARG = -1,
	COPS_ERR_CARD = -2,	/* card refused or failed; see detail */
	COPS_ERR_REMOVED = -3,	/* card pulled or reset mid-operation */
	COPS_ERR_NOT_BLANK = -4,	/* issue: the card is not factory-fresh */
	COPS_ERR_HOOK = -5,	/* a hook (keys, CA, journal) failed */
	COPS_ERR_WRONG_PIN = -6,	/* see tries */
	COPS_ERR_BLOCKED = -7,	/* PIN (or PUK) blocked */
	COPS_ERR_SELFTEST = -8,	/* PKCS#11 self-test failed */
	COPS_ERR_READER = -9,	/* no such reader / no card in it */
	COPS_ERR_NOMEM = -10,
	COPS_ERR_DIFFERENT = -11,	/* not the card the caller expected */
	COPS_ERR_NOT_RESPONDING = -12,	/* the card stopped answering (time bound) */
};

const char *cops_strerror(int err);
const char *cops_name(int err);

/* A card in a reader, identified, inside the drivers' session. */
struct cops_card {
	struct pcsc_card *pc;
	struct piv_card *piv;
	struct piv_ident id;
	char reader[128];
	uint8_t atr[33];
	size_t atr_len;
};

/* Connect to reader and identify the card. [out] c: cops_close(). */
int cops_open(struct pcsc_ctx *ctx, const char *reader, struct cops_card *c,
    char *detail, size_t cap);
/* Disconnect, resetting the card if anyone authenticated to it. */
void cops_close(struct cops_card *c);

#define COPS_MAX_SLOTS 8

struct cops_slot {
	int slot;		/* PIV_SLOT_* */
	int alg;		/* PIV_ALG_* */
	int pin_policy, touch_policy;
	int escrow;		/* key comes from the escrow hook, is imported */
	char ca_profile[64];	/* the CA's certificate profile */
	char subject[256];	/* "/O=../CN=.." */
	/* Renewal with the card's own key (cops_renew): the key in the slot,
	 * certified again; not freed by cardops. NULL: a new key. */
	EVP_PKEY *reuse;
};

struct cops_plan {
	struct cops_slot slots[COPS_MAX_SLOTS];
	int nslots;
	int mgmt_alg;		/* PIV_ALG_AES192 etc. */
	int pin_tries, puk_tries;
	char fascn[33];		/* 32 digits */
	char expiry[9];		/* YYYYMMDD */
	/*
	 * Earlier key management keys for the retired slots 82.. (key
	 * recovery on a replacement): keys and certificates come from the
	 * retired hook, the key history object says how many are on the card.
	 */
	int nretired;		/* 0..COPS_MAX_RETIRED */
	int retired_pin_policy, retired_touch_policy;
};

#define COPS_MAX_RETIRED 20	/* 82..95 */

struct cops_hooks {
	void *arg;
	/*
	 * Journal step `name` (state "begin" or "done") with optional data. A
	 * non-zero return aborts the operation where it stands (that is how
	 * the crash tests stop it between steps).
	 */
	int (*step)(void *arg, const char *name, const char *state,
	    const uint8_t *data, size_t len);
	/* The diversified 9B key of the card with guid. */
	int (*mgmt_key)(void *arg, const uint8_t guid[16], int alg,
	    uint8_t *key, size_t keylen);
	/* The diversified PUK (8 digits + NUL). */
	int (*puk)(void *arg, const uint8_t guid[16], char puk[9]);
	/* A fresh escrowed key for slot (the hook keeps the escrow blob). */
	int (*escrow)(void *arg, const uint8_t guid[16], int slot, int alg,
	    EVP_PKEY **priv);
	/* Certificate for the CSR (DER). [out] *cert: X509_free(). */
	int (*enroll)(void *arg, int slot, const char *ca_profile,
	    const uint8_t *csr, size_t csr_len, X509 **cert);
	/*
	 * The i-th earlier key management key (newest first) and its
	 * certificate, for retired slot 0x82 + i. [out] EVP_PKEY_free(),
	 * X509_free(). NULL when the plan has no retired keys.
	 */
	int (*retired)(void *arg, int i, EVP_PKEY **priv, X509 **cert);
};

#define COPS_DEFAULT_PIN "123456"
#define COPS_DEFAULT_PUK "12345678"

/*
 * Issue the blank card c under plan with the holder's new_pin.
 * [out] guid: the card's new GUID (valid once step "chuid" is done).
 */
int cops_issue(struct cops_card *c, const struct cops_plan *plan,
    const char *new_pin, const struct cops_hooks *h, uint8_t guid[16],
    char *detail, size_t cap);

/* 1 if the card still answers to the factory 9B key (3DES or AES-192). */
int cops_is_blank(struct cops_card *c);
/*
 * Is this the card holding pub's private key in slot? The card signs
 * context (a NUL-terminated label binding the purpose) followed by 32 fresh
 * random bytes; the signature is checked here against pub. COPS_OK, or
 * COPS_ERR_DIFFERENT (a signature, but not by that key) or COPS_ERR_CARD
 * (the card would not sign; why in detail). PIN-less slots only (9E), unless
 * the caller verified the PIN.
 */
int cops_prove(struct cops_card *c, int slot, EVP_PKEY *pub,
    const char *context, char *detail, size_t cap);

/* PIN change. [out] *tries: left after a wrong old PIN (-1 unknown). */
int cops_pin_change(struct cops_card *c, const char *old_pin,
    const char *new_pin, int *tries);
/* PIN tries left without spending one (empty VERIFY). 0 means blocked. */
int cops_pin_tries(struct cops_card *c, int *tries);
/* Unblock with the PUK, setting new_pin. [out] *tries: PUK tries left. */
int cops_unblock(struct cops_card *c, const char *puk, const char *new_pin,
    int *tries);

/*
 * Back to stock: authenticate with the card's 9B key, block PIN and PUK,
 * RESET (FB). Afterwards the card has factory PIN, PUK, 9B key and no keys.
 */
int cops_wipe(struct cops_card *c, int mgmt_alg, const uint8_t *key,
    size_t keylen, char *detail, size_t cap);

/*
 * The same with the 9B blocks computed by crypt (keyd answers the card's
 * challenges; the caller never holds the key). cops_auth_cb only
 * authenticates: proof that the card is ours.
 */
int cops_auth_cb(struct cops_card *c, int mgmt_alg, piv_mgmt_crypt_fn crypt,
    void *arg, char *detail, size_t cap);
int cops_wipe_cb(struct cops_card *c, int mgmt_alg, piv_mgmt_crypt_fn crypt,
    void *arg, char *detail, size_t cap);

/*
 * Renewal on presentation: authenticate with the card's 9B key (crypt:
 * keyd answers the challenges), verify the holder's pin, then every slot
 * of plan as an issuance does (step 5: new key, or the slot's reuse key;
 * CSR signed by the card; certificate from the CA; written). Journal steps
 * "auth" and "slot_XX" (begin/done). [out] *tries after a wrong PIN.
 * plan->nretired 1 (0 otherwise): the escrowed slot gets a new key (its
 * escrow hook), and first its current key and certificate (retired hook,
 * i = 0) go to the first free retired slot, the key history counting one
 * more (step "retired_XX"); keys retired before stay. Skipped when the
 * last retired slot holds that key already (a torn renewal's).
 */
int cops_renew(struct cops_card *c, const struct cops_plan *plan,
    const char *pin, piv_mgmt_crypt_fn crypt, void *crypt_arg,
    const struct cops_hooks *h, int *tries, char *detail, size_t cap);

/* PKCS#11 self-test through OpenSC on this card's reader with pin. */
int cops_self_test(const char *module, const char *reader, const char *pin,
    char *detail, size_t cap);

/*
 * Why the next hook failure happened, when the hook knows better than "x
 * failed" (keyc: "station token unavailable: module crashed (signal 11)"):
 * thread-local, used once by the next failing hook's detail; NULL clears.
 */
void cops_hook_why(const char *why, size_t len);

#endif /* CARDOPS_H */
