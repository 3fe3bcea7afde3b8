/*
 * audit: the station's append-only, hash-chained audit log, kept in the
 * inventory's environment so an entry commits with the change it records.
 *
 * Entry n carries prev_hash = hash of entry n-1 (zeros for entry 1) and
 * hash = SHA-256 of its own record encoding up to and including prev_hash
 * (version, seq, time, actor, event, ref, result, detail, prev_hash; see
 * docs/inventory.md). The last seq and hash are also kept as the log's head
 * in inv_meta. A checkpoint signs
 *
 *     "inv-audit-checkpoint-v1" 0x00 || seq (u64 big-endian) || hash[32]
 *
 * through a caller's callback (the signing key lives in another process) and
 * stores the signature; audit_verify() walks the log and names the first
 * entry that was edited, removed, reordered or appended out of chain, and any
 * checkpoint whose entry or signature does not match.
 *
 * What it cannot see: whoever can write the LMDB file may cut the tail after
 * the last checkpoint and rewrite the head to match. Checkpoint often; an
 * external copy of the latest signed checkpoint closes that gap.
 *
 * NEVER pass a secret (PIN, PUK, key, challenge answer, management key) in any
 * field: entries are kept in clear, forever.
 *
 * Errors are enum inv_err (inv.h); INV_ERR_TAMPERED from audit_verify means
 * the report says what is wrong.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "inv.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_TEXT_MAX 63	/* actor, event, reference */
#define AUDIT_DETAIL_MAX 1023
#define AUDIT_SIG_MAX 512
#define AUDIT_CKPT_LABEL "inv-audit-checkpoint-v1"
/* Length of the signed checkpoint message. */
#define AUDIT_CKPT_MSG_LEN (sizeof(AUDIT_CKPT_LABEL) + 8 + AUDIT_HASH_LEN)

struct audit_entry {
	uint64_t seq;				/* from 1, assigned */
	uint64_t time;				/* unix s */
	char actor[AUDIT_TEXT_MAX + 1];		/* operator, "engine", ... */
	char event[AUDIT_TEXT_MAX + 1];		/* non-empty: "card.issue" */
	char ref[AUDIT_TEXT_MAX + 1];		/* card GUID hex, holder id */
	int32_t result;				/* 0 = success, else an error */
	char detail[AUDIT_DETAIL_MAX + 1];
	uint8_t prev_hash[AUDIT_HASH_LEN];
	uint8_t hash[AUDIT_HASH_LEN];
};

struct audit_ckpt {
	uint64_t seq;				/* entry signed */
	uint64_t time;
	uint8_t hash[AUDIT_HASH_LEN];		/* that entry's hash */
	uint16_t sig_len;
	uint8_t sig[AUDIT_SIG_MAX];
};

/* Record codecs, as inv_*_encode/decode (decode does not check the hash). */
int audit_entry_encode(const struct audit_entry *e, uint8_t **out,
    size_t *len);
int audit_entry_decode(const uint8_t *rec, size_t len, struct audit_entry *e);
int audit_ckpt_encode(const struct audit_ckpt *c, uint8_t **out, size_t *len);
int audit_ckpt_decode(const uint8_t *rec, size_t len, struct audit_ckpt *c);

/*
 * Append an entry in the caller's write txn. actor, ref and detail may be
 * NULL (empty). [out] *seq: its sequence number (seq may be NULL).
 */
int audit_append(struct inv_txn *txn, uint64_t time, const char *actor,
    const char *event, const char *ref, int32_t result, const char *detail,
    uint64_t *seq);

/* [out] *e: entry seq. */
int audit_get(struct inv_txn *txn, uint64_t seq, struct audit_entry *e);

/*
 * Sign msg (AUDIT_CKPT_MSG_LEN bytes) into sig; *sig_len is the capacity
 * (AUDIT_SIG_MAX) on entry and the signature's length on return. 0 = signed.
 */
typedef int (*audit_sign_fn)(void *arg, const uint8_t *msg, size_t msg_len,
    uint8_t *sig, size_t *sig_len);
/* 0 if sig is a valid signature of msg, anything else if not. */
typedef int (*audit_verify_fn)(void *arg, const uint8_t *msg, size_t msg_len,
    const uint8_t *sig, size_t sig_len);

/*
 * Sign the log's head through sign and store the checkpoint in the caller's
 * write txn. INV_ERR_NOTFOUND on an empty log, INV_ERR_SIGN if sign fails
 * (nothing written). [out] *seq: the entry signed (seq may be NULL).
 */
int audit_checkpoint(struct inv_txn *txn, uint64_t time, audit_sign_fn sign,
    void *arg, uint64_t *seq);

enum audit_fault {
	AUDIT_FAULT_NONE = 0,
	AUDIT_FAULT_FORMAT,	/* a record does not parse */
	AUDIT_FAULT_MISSING,	/* a seq is absent: entry removed */
	AUDIT_FAULT_SEQ,	/* entry under another seq's key: reordered */
	AUDIT_FAULT_HASH,	/* hash does not match the entry: edited */
	AUDIT_FAULT_CHAIN,	/* prev_hash is not its predecessor's hash */
	AUDIT_FAULT_HEAD,	/* log end differs from the recorded head */
	AUDIT_FAULT_CKPT_HASH,	/* checkpoint's hash is not its entry's */
	AUDIT_FAULT_CKPT_SIG,	/* checkpoint signature does not verify */
};

const char *audit_fault_name(int fault);

struct audit_report {
	uint64_t entries;		/* entries checked */
	uint64_t checkpoints;		/* checkpoints whose signature verified */
	uint64_t last_seq;		/* last entry in the log */
	int fault;			/* enum audit_fault: the first found */
	uint64_t bad_seq;		/* where (for a checkpoint: its seq) */
	char what[160];			/* one line for the operator */
};

/*
 * Walk the whole log and every checkpoint in a read txn of its own. INV_OK:
 * intact; INV_ERR_TAMPERED: rep->fault, bad_seq and what say where and how;
 * other codes: could not read.
 */
int audit_verify(struct inv *inv, audit_verify_fn verify, void *arg,
    struct audit_report *rep);

#endif /* AUDIT_H */
