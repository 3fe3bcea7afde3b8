/*
 * rep_int: what a replacement (replace.c) and a temporary card (temp.c)
 * share: the old or permanent card, the transition it takes, the
 * recovered key management keys. Engine internal.
 */
#ifndef REP_INT_H
#define REP_INT_H

#include "engine/issue_job.h"

struct rep_key {
	uint8_t guid[16];	/* the card whose escrow blob it was */
	char serial[INV_SERIAL_MAX + 1];
	uint64_t created;
	EVP_PKEY *priv;
	X509 *cert;		/* that card's certificate for it */
};

enum rep_mode {
	REP_REPLACE = 0,	/* the old card retires, the new one is active */
	REP_TEMPORARY,		/* the permanent card on hold, the new one temporary */
};

struct rep {
	enum rep_mode mode;
	struct inv_card old;	/* the replaced or the permanent card */
	const struct lc_transition *tr;	/* NULL: already in its final state */
	int crl;			/* the transition's CRL reason */
	char reason[16];		/* lost, stolen, damaged, expired; forgotten */
	struct rep_key keys[1 + COPS_MAX_RETIRED];	/* [0]: into 9D */
	int nkeys;
	int km_slot;			/* the profile's escrowed slot; 0: none */
	int pin_policy, touch_policy;	/* of that slot, for the retired ones */
	/* Temporary: the permanent profile's escrowed slot, added to the
	 * temporary profile's plan when that has none. */
	const struct prof_slot *km;
	int temp_days;			/* the temporary card's lifetime */
	/* The approved request this key recovery carries out (approve.c),
	 * marked carried out by rep_finish; 0: none needed. */
	uint64_t approval;
};

/*
 * The holder's escrowed key management keys, newest first, opened by
 * keyd into r->keys (at most max), each with its own certificate: a card's
 * issuance blob (generation 0, its record) and its renewals' (1, 2, ...,
 * inv_escrow). 0, or -1 with *why.
 */
int rep_recover_keys(struct engine *e, struct rep *r, const char *holder,
    int max, const char **why);

/*
 * The common end of POST /v1/cards/{card}/replace and /temporary, once the
 * request is checked: approvals (without "approval", a profile that asks
 * for them gets an approval request, approve.c, and the answer says so;
 * with it, the request must be approved for this card), the PIN, the escrowed keys (nkeys
 * at most, when recover), the issuance thread; the 202 names the old card
 * under old_key ("replaces", "permanent"), the audit says event. Frees j
 * on refusal (j is the thread's once started).
 */
int rep_start(struct engine *e, uint64_t id, const struct ops_req *r,
    const struct actor *a, struct issue_job *j, const struct prof *ap,
    int recover, int nkeys, const char *event, const char *old_key);

/*
 * An escrow blob's aad: the card's GUID || slot (the issuance's, generation
 * 0), || generation u32 big-endian for a renewal's, so a blob opens only
 * for the generation it was made for. Returns its length.
 */
#define REP_AAD_MAX 21
size_t rep_escrow_aad(const uint8_t guid[16], int slot, uint32_t gen,
    uint8_t aad[REP_AAD_MAX]);

/*
 * The holder's escrowed key for cert (a renewal retiring it: the card's
 * key cannot be read back), the newest blobs tried first. 0 and *priv
 * (EVP_PKEY_free), or -1 with *why.
 */
int rep_find_key(struct engine *e, const char *holder, int slot, X509 *cert,
    EVP_PKEY **priv, const char **why);

/*
 * The card's newest certificate of slot (any status) whose key is key, or
 * of any key when key is NULL: f->found and f->best. An INV_* code.
 */
struct rep_certfind {
	int slot;
	EVP_PKEY *key;
	struct inv_cert best;
	int found;
};
int rep_card_cert(struct inv_txn *t, const uint8_t guid[16], int slot,
    EVP_PKEY *key, struct rep_certfind *f);

/* temp.c: the temporary card's part of rep_finish (same transaction). */
int tmp_finish(struct issue_job *j, struct inv_txn *t);

#endif /* REP_INT_H */
