/*
 * outbox: the durable journal of CA-bound operations, in LMDB.
 *
 * An operation is written, with the transactionID it will be sent under,
 * before anything goes on the wire; it stays pending until the CA answered
 * it, and is then marked done (with its result) or failed, in one LMDB
 * transaction. A crash at any point therefore leaves either the pending
 * record, which is resent under the same transactionID (the CA recognises
 * the replay), or the finished one: nothing lost, nothing done twice.
 *
 * Pending operations drain in the order they were added. A retryable failure
 * (CA unreachable, bad response) stops the drain and schedules the head for
 * a retry with exponential backoff; a final failure (the CA refused) marks
 * that operation failed and the drain goes on.
 *
 * The outbox does not talk to the CA itself: outbox_drain() hands each
 * operation to a caller-supplied executor, so the process that owns the LMDB
 * write handle need not be the one that parses network responses.
 *
 * Records are a versioned binary format (see outbox_rec_decode), parsed with
 * drivers/buf.h bounds.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

enum outbox_err {
	OUTBOX_OK = 0,
	OUTBOX_ERR_ARG = -1,
	OUTBOX_ERR_DB = -2,		/* LMDB error */
	OUTBOX_ERR_FORMAT = -3,		/* record does not parse */
	OUTBOX_ERR_NOTFOUND = -4,
	OUTBOX_ERR_NOMEM = -5,
	OUTBOX_ERR_VERSION = -6,	/* record from a newer format */
};

const char *outbox_strerror(int err);
/* The enum constant's name ("OUTBOX_ERR_ARG"), for logs and records. */
const char *outbox_errname(int err);

enum outbox_type {
	OUTBOX_ENROLL = 1,	/* payload: CSR DER; result: certificate DER */
	OUTBOX_REVOKE = 2,	/* payload: certificate DER; reason */
	OUTBOX_PUSH = 3,	/* payload: certificate DER to the identity manager */
};

enum outbox_state {
	OUTBOX_PENDING = 0,
	OUTBOX_DONE = 1,
	OUTBOX_FAILED = 2,
};

#define OUTBOX_TXID_LEN 16
#define OUTBOX_PROFILE_MAX 63
#define OUTBOX_DETAIL_MAX 255
#define OUTBOX_PAYLOAD_MAX 65536

struct outbox_op {
	uint64_t id;		/* order of addition, from 1 */
	uint8_t type;		/* enum outbox_type */
	uint8_t state;		/* enum outbox_state */
	uint8_t reason;		/* CRL reason for OUTBOX_REVOKE */
	uint32_t attempts;
	uint64_t created;	/* unix seconds */
	uint64_t next_try;	/* unix seconds; 0 = now */
	int32_t last_err;	/* executor's error code of the last attempt */
	uint8_t txid[OUTBOX_TXID_LEN];
	char profile[OUTBOX_PROFILE_MAX + 1];
	char detail[OUTBOX_DETAIL_MAX + 1];	/* last error text */
	uint8_t *payload;	/* owned; freed by outbox_op_clear */
	size_t payload_len;
	uint8_t *result;	/* owned; freed by outbox_op_clear */
	size_t result_len;
};

void outbox_op_clear(struct outbox_op *op);

/*
 * Record codec. encode: [out] *out malloc'd, caller frees. decode: op is
 * cleared first; payload and result are copied (caller clears op).
 */
int outbox_rec_encode(const struct outbox_op *op, uint8_t **out, size_t *len);
int outbox_rec_decode(const uint8_t *rec, size_t len, struct outbox_op *op);

struct outbox;

/*
 * The named LMDB databases the outbox uses in its environment: "ops",
 * "pending", "meta", "quarantine", "ca_state". An environment shared with
 * others (outbox_open_env) needs mdb_env_set_maxdbs() room for these five.
 */
#define OUTBOX_MAXDBS 8

/*
 * Open (create) the outbox in its own LMDB environment in directory dir.
 * [out] *out: outbox_close (which closes the environment).
 */
int outbox_open(const char *dir, struct outbox **out);
/*
 * Open (create) the outbox's databases in env, an environment opened by the
 * caller, who keeps owning it: outbox_close leaves env open, and env must
 * outlive the outbox. [out] *out: outbox_close.
 */
int outbox_open_env(MDB_env *env, struct outbox **out);
void outbox_close(struct outbox *ob);

/*
 * Journal a new pending operation with a fresh random transactionID, in a
 * transaction of its own. profile may be NULL. [out] *id: its id.
 */
int outbox_add(struct outbox *ob, enum outbox_type type, const char *profile,
    int reason, const uint8_t *payload, size_t len, uint64_t now,
    uint64_t *id);
/*
 * The same inside the caller's write transaction txn (of the outbox's
 * environment): the operation exists only if the caller commits txn, so a
 * state change and the CA work it queues are durable together or not at
 * all. [out] *id: its id (valid once txn is committed).
 */
int outbox_add_txn(struct outbox *ob, MDB_txn *txn, enum outbox_type type,
    const char *profile, int reason, const uint8_t *payload, size_t len,
    uint64_t now, uint64_t *id);

/* [out] *op: the operation id (caller clears). */
int outbox_get(struct outbox *ob, uint64_t id, struct outbox_op *op);

/*
 * Call fn for every operation in id order (pending_only: only pending);
 * records that do not parse are skipped (the next drain quarantines them).
 */
int outbox_foreach(struct outbox *ob, int pending_only,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg);

/*
 * The same over every operation whose id is from or more, in id order: a
 * reader that remembers how far it got need not walk the whole journal.
 */
int outbox_foreach_from(struct outbox *ob, uint64_t from,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg);

struct outbox_counts {
	uint64_t pending, done, failed;
	uint64_t quarantined;	/* records set aside because they do not parse */
};
int outbox_count(struct outbox *ob, struct outbox_counts *c);

/* What an executor made of one operation. */
enum outbox_verdict {
	OUTBOX_EXEC_DONE = 0,	/* result (may be empty) is final */
	OUTBOX_EXEC_RETRY = 1,	/* transient: keep pending, back off */
	OUTBOX_EXEC_FAIL = 2,	/* final refusal: mark failed */
};

struct outbox_exec_out {
	uint8_t *result;	/* malloc'd by the executor, taken over */
	size_t result_len;
	int32_t err;		/* executor's error code, for the record */
	char detail[OUTBOX_DETAIL_MAX + 1];
};

typedef enum outbox_verdict (*outbox_exec_fn)(void *arg,
    const struct outbox_op *op, struct outbox_exec_out *out);

struct outbox_drain_stats {
	unsigned done, failed, retried;
	unsigned quarantined;	/* unparsable records moved aside, see below */
	uint64_t remaining;
	uint64_t next_try;	/* when the head may be retried, if retried */
};

/* Backoff before attempt n+1 after n failed attempts: 1, 2, 4 .. 300 s. */
uint64_t outbox_backoff(uint32_t attempts);

/*
 * Run pending operations in order through exec until one must be retried
 * (or, unless force, the head's backoff has not expired), at most max (0:
 * all). Each outcome is committed before the next operation starts. A
 * pending record that does not parse (corrupt, or from a newer version) is
 * moved with its key to the "quarantine" database and the drain goes on.
 */
int outbox_drain(struct outbox *ob, uint64_t now, int force, unsigned max,
    outbox_exec_fn exec, void *arg, struct outbox_drain_stats *st);

/*
 * Run operation id through exec now, backoff or not, if it is still pending
 * (else nothing: a drain finished it). Out of order: only for an operation
 * nothing else depends on, by a caller that keeps drains away meanwhile
 * (the station's drain lock, shared, see cast_send).
 */
int outbox_exec_one(struct outbox *ob, uint64_t id, uint64_t now,
    outbox_exec_fn exec, void *arg, struct outbox_drain_stats *st);

/*
 * The station's own CA-link state (transactionIDs of its ir/kur, the label
 * of its next and current key, the revoked marker): small named values in
 * the "ca_state" database, each write one durable transaction.
 */
#define OUTBOX_STATE_MAX 512
/* [out] buf[cap], *len. OUTBOX_ERR_NOTFOUND if name is not set. */
int outbox_state_get(struct outbox *ob, const char *name, uint8_t *buf,
    size_t cap, size_t *len);
int outbox_state_put(struct outbox *ob, const char *name, const void *val,
    size_t len);
/* Removing a name that is not set is success. */
int outbox_state_del(struct outbox *ob, const char *name);

#endif /* OUTBOX_H */
