/*
 * inv: the station's inventory of holders, cards, certificates and
 * operations, in one LMDB environment.
 *
 * The engine process is the only writer. Every read and write takes a
 * transaction (struct inv_txn); secondary indexes (cards by holder, by state,
 * by serial; certificates by card, by expiry; running operations) are kept
 * in the same write transaction as the record they index, so a reader never
 * sees a record without its index entries or the reverse.
 *
 * A write transaction is poisoned by the first error that may have left it
 * half-applied (an LMDB failure, a full map): every later call on it returns
 * that error and inv_commit() aborts it and returns the error. A full map
 * (MDB_MAP_FULL, ENOSPC) is INV_ERR_FULL and changes nothing on disk.
 * Refusals found before anything is written (INV_ERR_EXISTS, _NOTFOUND, _ARG,
 * _READONLY) leave the transaction usable: the caller decides, and aborts if
 * the rest of its change must not commit without this part.
 *
 * Other modules (the CA outbox) open their own named databases in the same
 * environment through inv_env()/inv_txn_mdb(), so a card's state change and
 * the CA work it queues commit together. inv's databases are all named
 * "inv_*"; see docs/inventory.md for names, key formats and record versions.
 *
 * Threads: the environment is opened with MDB_NOTLS, so a read transaction
 * belongs to its struct inv_txn, not to the thread that began it: a thread
 * may hold several, and a pool may hand one to another thread (never used by
 * two threads at once). LMDB serialises write transactions.
 *
 * Records are versioned binary (version byte first) and decoded with
 * drivers/buf.h bounds: over-long fields, bad enums, embedded NULs and
 * trailing bytes are refused, never repaired.
 */
#ifndef INV_H
#define INV_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

/*
 * One error enum for inv_* and audit_* (one library, one transaction
 * model: an audit append fails the same way a card update does).
 */
enum inv_err {
	INV_OK = 0,
	INV_ERR_ARG = -1,	/* bad argument or field out of range */
	INV_ERR_DB = -2,	/* LMDB error */
	INV_ERR_FORMAT = -3,	/* stored record does not parse */
	INV_ERR_NOTFOUND = -4,
	INV_ERR_NOMEM = -5,
	INV_ERR_VERSION = -6,	/* record from a newer format */
	INV_ERR_EXISTS = -7,	/* key (or unique index key) already used */
	INV_ERR_FULL = -8,	/* map full or disk full: nothing written */
	INV_ERR_SCHEMA = -9,	/* environment from a newer (or no) schema */
	INV_ERR_READONLY = -10,	/* write through a read transaction */
	INV_ERR_SIGN = -11,	/* audit checkpoint signer failed */
	INV_ERR_TAMPERED = -12,	/* audit chain broken; see the report */
};

const char *inv_strerror(int err);
/* The enum constant's name ("INV_ERR_FULL"), for logs and records. */
const char *inv_errname(int err);

#define INV_SCHEMA_VERSION 7

#define INV_GUID_LEN 16
#define INV_ID_MAX 63		/* holder id, actor, operator */
#define INV_NAME_MAX 127	/* display name, organisation, model, profile */
#define INV_EMAIL_MAX 254
#define INV_ATTRS_MAX 8
#define INV_ATTR_KEY_MAX 31
#define INV_ATTR_VALUE_MAX 127
#define INV_ANSWERS_MAX 10
#define INV_ANSWER_HASH_MAX 127	/* crypto_pwhash_STRBYTES - 1 */
#define INV_SERIAL_MAX 63	/* card serial */
#define INV_ATR_MAX 33
#define INV_ESCROW_MAX 4096
#define INV_EVENT_MAX 63	/* event name, step name, op type */
#define INV_DETAIL_MAX 1023
#define INV_CERT_SERIAL_MAX 64	/* lower-case hex */
#define INV_DN_MAX 1023
#define INV_DER_MAX 16384
#define INV_STEP_DATA_MAX 8192

struct inv_attr {
	char key[INV_ATTR_KEY_MAX + 1];		/* non-empty */
	char value[INV_ATTR_VALUE_MAX + 1];
};

/* A challenge answer: only its Argon2id hash (crypto_pwhash_str) is kept. */
struct inv_answer {
	uint8_t question;
	char hash[INV_ANSWER_HASH_MAX + 1];
};

struct inv_holder {
	char id[INV_ID_MAX + 1];		/* key, non-empty */
	char name[INV_NAME_MAX + 1];
	char email[INV_EMAIL_MAX + 1];
	char org[INV_NAME_MAX + 1];
	char manager_email[INV_EMAIL_MAX + 1];	/* "" = none (schema 3) */
	uint8_t nattrs;
	struct inv_attr attrs[INV_ATTRS_MAX];
	uint8_t nanswers;
	struct inv_answer answers[INV_ANSWERS_MAX];
	uint32_t unblock_failures;
	uint64_t unblock_locked_until;		/* unix s; 0 = not locked */
	uint64_t created, updated;
};

enum inv_card_state {
	INV_CARD_BLANK = 0,	/* in stock, never issued */
	INV_CARD_ISSUING = 1,
	INV_CARD_ACTIVE = 2,
	INV_CARD_SUSPENDED = 3,
	INV_CARD_BLOCKED = 4,
	INV_CARD_RETIRING = 5,
	INV_CARD_RETIRED = 6,
	INV_CARD_LOST = 7,
	INV_CARD_DAMAGED = 8,
	/* Schema 3 (the lifecycle as configuration, docs/lifecycle.md): */
	INV_CARD_STOLEN = 9,
	INV_CARD_TEMPORARY = 10,	/* a temporary card in use */
	INV_CARD_RETURNED = 11,
	INV_CARD_EXPIRED = 12,
	/* Schema 6: a blank card taken out of stock for good (stock.c). */
	INV_CARD_DISPOSED = 13,
};
#define INV_CARD_STOCK INV_CARD_BLANK
#define INV_CARD_NSTATES 14

const char *inv_card_state_name(int state);

struct inv_card {
	uint8_t guid[INV_GUID_LEN];		/* key */
	char serial[INV_SERIAL_MAX + 1];	/* unique, non-empty */
	uint8_t atr[INV_ATR_MAX];
	uint8_t atr_len;
	char model[INV_NAME_MAX + 1];
	char profile[INV_NAME_MAX + 1];
	uint32_t profile_version;
	uint8_t state;				/* enum inv_card_state */
	uint16_t pending_ca;			/* CA operations queued */
	char holder[INV_ID_MAX + 1];		/* "" = none; must exist */
	uint32_t mk_version;			/* master key diversifying its keys */
	uint16_t escrow_len;
	uint8_t escrow[INV_ESCROW_MAX];		/* opaque reference, may be empty */
	uint64_t created, updated;
	uint64_t expires;			/* 0 = unknown (schema 2) */
};

struct inv_event {
	uint8_t guid[INV_GUID_LEN];
	uint32_t seq;				/* from 1 per card, assigned */
	uint64_t time;
	char name[INV_EVENT_MAX + 1];		/* non-empty */
	char actor[INV_ID_MAX + 1];
	char detail[INV_DETAIL_MAX + 1];
};

enum inv_cert_status {
	INV_CERT_VALID = 0,
	INV_CERT_REVOKED = 1,
	INV_CERT_HOLD = 2,
	INV_CERT_PENDING_REVOKE = 3,
	/* Schema 3: a hold or its release journaled, the CA not yet heard. */
	INV_CERT_PENDING_HOLD = 4,
	INV_CERT_PENDING_UNHOLD = 5,
};
#define INV_CERT_NSTATUS 6

struct inv_cert {
	char serial[INV_CERT_SERIAL_MAX + 1];	/* key: [0-9a-f]+ */
	char issuer[INV_DN_MAX + 1];
	char subject[INV_DN_MAX + 1];
	uint8_t guid[INV_GUID_LEN];		/* its card; must exist */
	uint8_t slot;
	uint64_t not_before, not_after;		/* unix s */
	uint8_t status;				/* enum inv_cert_status */
	uint8_t reason;				/* CRL reason code, 0..10 */
	uint32_t der_len;
	uint8_t der[INV_DER_MAX];
};

enum inv_op_state {
	INV_OP_RUNNING = 0,
	INV_OP_DONE = 1,
	INV_OP_FAILED = 2,
	INV_OP_ROLLED_BACK = 3,
};

struct inv_op {
	uint64_t id;				/* key, assigned from 1 */
	char type[INV_EVENT_MAX + 1];		/* "issue", "renew", ... */
	uint8_t state;				/* enum inv_op_state */
	uint8_t guid[INV_GUID_LEN];		/* all zero = no card yet */
	char holder[INV_ID_MAX + 1];
	char oper[INV_ID_MAX + 1];		/* operator */
	uint32_t step;				/* current step number */
	uint64_t created, updated;
};

enum inv_step_state {
	INV_STEP_STARTED = 0,
	INV_STEP_DONE = 1,
	INV_STEP_FAILED = 2,
	INV_STEP_UNDONE = 3,		/* rolled back */
};

/* A journal step. data must hold no secret (it is kept on disk as is). */
struct inv_step {
	uint64_t op_id;				/* key part 1 */
	uint32_t no;				/* key part 2 */
	char name[INV_EVENT_MAX + 1];
	uint8_t state;				/* enum inv_step_state */
	uint32_t data_len;
	uint8_t data[INV_STEP_DATA_MAX];
};

/*
 * Record codecs. encode: validates the struct (INV_ERR_ARG), [out] *out is
 * malloc'd (caller frees) and *len its length. decode: the struct is zeroed
 * first and zeroed again on failure; INV_ERR_FORMAT for anything malformed,
 * INV_ERR_VERSION for a record from a newer format.
 * inv_holder_clear wipes a holder (it carries answer hashes).
 */
int inv_holder_encode(const struct inv_holder *h, uint8_t **out, size_t *len);
int inv_holder_decode(const uint8_t *rec, size_t len, struct inv_holder *h);
void inv_holder_clear(struct inv_holder *h);
int inv_card_encode(const struct inv_card *c, uint8_t **out, size_t *len);
int inv_card_decode(const uint8_t *rec, size_t len, struct inv_card *c);
int inv_event_encode(const struct inv_event *e, uint8_t **out, size_t *len);
int inv_event_decode(const uint8_t *rec, size_t len, struct inv_event *e);
int inv_cert_encode(const struct inv_cert *c, uint8_t **out, size_t *len);
int inv_cert_decode(const uint8_t *rec, size_t len, struct inv_cert *c);
/* The expiry index's summary of a certificate: subject, card, slot,
 * not_before, status, reason (decode zeroes c up to der; der_len 0). */
int inv_certsum_encode(const struct inv_cert *c, uint8_t **out, size_t *len);
int inv_certsum_decode(const uint8_t *rec, size_t len, struct inv_cert *c);
int inv_op_encode(const struct inv_op *op, uint8_t **out, size_t *len);
int inv_op_decode(const uint8_t *rec, size_t len, struct inv_op *op);
int inv_step_encode(const struct inv_step *s, uint8_t **out, size_t *len);
int inv_step_decode(const uint8_t *rec, size_t len, struct inv_step *s);
/* A schema-1 card record (no expires field), read only by the migration. */
int inv_card_decode_v1(const uint8_t *rec, size_t len, struct inv_card *c);
/* A schema-1/2 holder record (no manager_email), read only by the migration. */
int inv_holder_decode_v1(const uint8_t *rec, size_t len, struct inv_holder *h);

struct inv;
struct inv_txn;

/*
 * Open (create) the inventory in directory dir (created 0700 if missing)
 * with a map of map_size bytes (0: 1 GiB). An empty environment gets schema
 * INV_SCHEMA_VERSION; an older one (1, 2, 3) is migrated in one write transaction;
 * a newer one is refused with INV_ERR_SCHEMA and left untouched.
 * [out] *out: inv_close.
 */
int inv_open(const char *dir, size_t map_size, struct inv **out);
void inv_close(struct inv *inv);
/* The LMDB environment, for modules that keep their own named databases. */
MDB_env *inv_env(struct inv *inv);

/* [out] *out: end with exactly one of inv_commit / inv_abort. */
int inv_begin(struct inv *inv, int write, struct inv_txn **out);
/* Commits (a poisoned txn is aborted and its error returned); frees txn. */
int inv_commit(struct inv_txn *txn);
void inv_abort(struct inv_txn *txn);
/* The LMDB transaction, for the caller's own databases. */
MDB_txn *inv_txn_mdb(struct inv_txn *txn);
/* The error that poisoned txn, INV_OK if none. */
int inv_txn_error(const struct inv_txn *txn);

/* put flags */
#define INV_PUT_NEW 1		/* INV_ERR_EXISTS if the key exists */
#define INV_PUT_UPDATE 2	/* INV_ERR_NOTFOUND if it does not */

/*
 * Iteration callbacks return 0 to go on; any other value stops the walk and
 * is returned by the foreach function. Records are valid during the call.
 */
typedef int (*inv_card_fn)(const struct inv_card *c, void *arg);
typedef int (*inv_holder_fn)(const struct inv_holder *h, void *arg);
typedef int (*inv_cert_fn)(const struct inv_cert *c, void *arg);
typedef int (*inv_event_fn)(const struct inv_event *e, void *arg);
typedef int (*inv_op_fn)(const struct inv_op *op, void *arg);
typedef int (*inv_step_fn)(const struct inv_step *s, void *arg);

/* Holders. del: INV_ERR_EXISTS while a card refers to the holder. */
int inv_holder_put(struct inv_txn *txn, const struct inv_holder *h, int flags);
int inv_holder_get(struct inv_txn *txn, const char *id, struct inv_holder *h);
int inv_holder_del(struct inv_txn *txn, const char *id);
/*
 * Holders in id order, strictly after `after` (NULL: from the first), at
 * most max (0: all); fn returning non-zero stops the walk.
 */
int inv_holders_foreach(struct inv_txn *txn, const char *after, size_t max,
    inv_holder_fn fn, void *arg);

/*
 * Cards. put moves the serial, holder and state index entries when they
 * change; INV_ERR_EXISTS if another card has the serial, INV_ERR_NOTFOUND if
 * the holder does not exist. del removes the card, its index entries and
 * history; INV_ERR_EXISTS while certificates refer to it.
 */
int inv_card_put(struct inv_txn *txn, const struct inv_card *c, int flags);
int inv_card_get(struct inv_txn *txn, const uint8_t guid[INV_GUID_LEN],
    struct inv_card *c);
int inv_card_by_serial(struct inv_txn *txn, const char *serial,
    struct inv_card *c);
int inv_card_del(struct inv_txn *txn, const uint8_t guid[INV_GUID_LEN]);
int inv_cards_of_holder(struct inv_txn *txn, const char *holder,
    inv_card_fn fn, void *arg);
int inv_cards_in_state(struct inv_txn *txn, int state, inv_card_fn fn,
    void *arg);
/* [out] counts[state] for every state, from the state index. */
int inv_card_count_by_state(struct inv_txn *txn,
    uint64_t counts[INV_CARD_NSTATES]);
/*
 * Cards per profile and state, from the profile index (no card record is
 * read): fn(profile, state, count, arg) for each pair with count > 0, in
 * profile then state order; non-zero from fn stops the walk.
 */
typedef int (*inv_profile_count_fn)(const char *profile, int state,
    uint64_t count, void *arg);
int inv_card_count_by_profile(struct inv_txn *txn, inv_profile_count_fn fn,
    void *arg);
/* Cards with from <= expires < until, soonest first (index scan; cards
 * whose expires is 0, unknown, are not in the index). */
int inv_cards_expiring(struct inv_txn *txn, uint64_t from, uint64_t until,
    inv_card_fn fn, void *arg);

/* Card history: append assigns e->seq's next value (the card must exist);
 * [out] *seq: that value (seq may be NULL). */
int inv_event_append(struct inv_txn *txn, const struct inv_event *e,
    uint32_t *seq);
int inv_event_foreach(struct inv_txn *txn, const uint8_t guid[INV_GUID_LEN],
    inv_event_fn fn, void *arg);

/* Certificates. put: the card must exist; moves card/expiry index entries. */
int inv_cert_put(struct inv_txn *txn, const struct inv_cert *c, int flags);
int inv_cert_get(struct inv_txn *txn, const char *serial, struct inv_cert *c);
int inv_cert_del(struct inv_txn *txn, const char *serial);
int inv_certs_of_card(struct inv_txn *txn, const uint8_t guid[INV_GUID_LEN],
    inv_cert_fn fn, void *arg);
/*
 * Certificates with from <= not_after < until, soonest first, from the
 * expiry index alone (its entries carry a summary): fn gets no issuer and no
 * DER (der_len 0). An entry written before summaries existed is resolved
 * through the record.
 */
int inv_certs_expiring(struct inv_txn *txn, uint64_t from, uint64_t until,
    inv_cert_fn fn, void *arg);

/*
 * Operations and their journal. add assigns the next id to op->id's
 * [out] *id; put updates an existing one. The running index follows state.
 * step_put: the operation must exist; an existing step number is replaced.
 */
int inv_op_add(struct inv_txn *txn, const struct inv_op *op, uint64_t *id);
int inv_op_put(struct inv_txn *txn, const struct inv_op *op);
int inv_op_get(struct inv_txn *txn, uint64_t id, struct inv_op *op);
int inv_op_running_foreach(struct inv_txn *txn, inv_op_fn fn, void *arg);
/* Every operation, newest (highest id) first; fn non-zero stops the walk. */
int inv_ops_foreach_desc(struct inv_txn *txn, inv_op_fn fn, void *arg);
int inv_op_step_put(struct inv_txn *txn, const struct inv_step *s);
int inv_op_step_get(struct inv_txn *txn, uint64_t op_id, uint32_t no,
    struct inv_step *s);
/* Steps of one operation in step order. */
int inv_op_steps_foreach(struct inv_txn *txn, uint64_t op_id, inv_step_fn fn,
    void *arg);

/*
 * Free key/value state (CA link txid, re-key label, revoked marker...).
 * key: 1..63 printable bytes not starting with "inv." (reserved); value
 * <= 4096 bytes. get: [out] *len the stored length, INV_ERR_ARG (with *len
 * set) if it exceeds cap.
 */
#define INV_META_VALUE_MAX 4096
int inv_meta_put(struct inv_txn *txn, const char *key, const void *val,
    size_t len);
int inv_meta_get(struct inv_txn *txn, const char *key, void *buf, size_t cap,
    size_t *len);
int inv_meta_del(struct inv_txn *txn, const char *key);
/* Every meta key starting with prefix, in key order, until fn returns
 * nonzero. The value is valid during the call only. */
typedef int (*inv_meta_fn)(const char *key, const void *val, size_t len,
    void *arg);
int inv_meta_foreach(struct inv_txn *txn, const char *prefix, inv_meta_fn fn,
    void *arg);
/*
 * Blank stock (schema 6, inv_stock.c): a card is in stock while its serial
 * has an entry; guid names the card record (state blank, or the retired
 * record of a card wiped for reuse) whose history tells receipt, moves,
 * issuance and disposal. put: the card record must exist (NOTFOUND).
 */
struct inv_stock {
	char serial[INV_SERIAL_MAX + 1];	/* key, non-empty */
	uint8_t guid[INV_GUID_LEN];		/* its card record */
	char model[INV_NAME_MAX + 1];		/* non-empty */
	char location[INV_ID_MAX + 1];		/* "" = unknown (migrated) */
	char batch[INV_ID_MAX + 1];		/* receipt batch id */
	char by[INV_ID_MAX + 1];		/* who received it */
	uint64_t received, updated;
};
typedef int (*inv_stock_fn)(const struct inv_stock *s, void *arg);
int inv_stock_encode(const struct inv_stock *s, uint8_t **out, size_t *len);
int inv_stock_decode(const uint8_t *rec, size_t len, struct inv_stock *s);
int inv_stock_put(struct inv_txn *txn, const struct inv_stock *s, int flags);
int inv_stock_get(struct inv_txn *txn, const char *serial, struct inv_stock *s);
int inv_stock_del(struct inv_txn *txn, const char *serial);
/* Every stock entry in serial order; fn non-zero stops the walk. */
int inv_stock_foreach(struct inv_txn *txn, inv_stock_fn fn, void *arg);

/*
 * A card's further escrowed key management keys (schema 7, inv_escrow.c):
 * generation 0 is the card record's escrow (its issuance); a renewal that
 * gives the escrowed slot a new key adds generation 1, 2, ... put: the card
 * must exist (NOTFOUND); gen >= 1, len >= 1. Walk: one card's, in
 * generation order. inv_card_del removes them with the card.
 */
struct inv_escrow {
	uint8_t guid[INV_GUID_LEN];		/* key part 1: its card */
	uint32_t gen;				/* key part 2, >= 1 */
	uint8_t slot;				/* the slot it was made for */
	uint64_t created;			/* unix s */
	uint16_t len;
	uint8_t blob[INV_ESCROW_MAX];		/* keyd's, opaque */
};
typedef int (*inv_escrow_fn)(const struct inv_escrow *e, void *arg);
int inv_escrow_encode(const struct inv_escrow *e, uint8_t **out, size_t *len);
int inv_escrow_decode(const uint8_t *rec, size_t len, struct inv_escrow *e);
int inv_escrow_put(struct inv_txn *txn, const struct inv_escrow *e,
    int flags);
int inv_escrows_of_card(struct inv_txn *txn, const uint8_t guid[INV_GUID_LEN],
    inv_escrow_fn fn, void *arg);

/* [out] *version: the schema version stored in the environment. */
int inv_schema_version(struct inv_txn *txn, uint32_t *version);

#endif /* INV_H */
