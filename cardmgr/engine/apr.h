/*
 * apr: an approval request as the engine keeps it (inventory meta
 * "approval:<id>", engine/approve.c), and its record codec. LMDB records
 * are untrusted after a crash or tampering: the decoder is bounded, rejects
 * trailing bytes and anything out of range (tests/fuzz/fuzz_apr_rec.c).
 * Pure functions; nothing here logs.
 */
#ifndef APR_H
#define APR_H

#include <stddef.h>
#include <stdint.h>

enum apr_err {
	APR_OK = 0,
	APR_ERR_ARG = -1,	/* a field out of its bounds (encode) */
	APR_ERR_FORMAT = -2,	/* the record does not decode */
	APR_ERR_VERSION = -3,	/* a newer record version */
	APR_ERR_NOMEM = -4,
};

const char *apr_strerror(int err);

/* The request's life: pending until m approvals (approved) or a denial,
 * expired past its time, carried_out once by the requester. */
enum apr_state {
	APR_PENDING = 0, APR_APPROVED, APR_DENIED, APR_EXPIRED, APR_DONE,
	APR_NSTATES
};
const char *apr_state_name(int state);
/* -1 if name is no state. */
int apr_state_from_name(const char *name);

#define APR_NAME_MAX 63		/* operator, profile, holder, card serial */
#define APR_ORG_MAX 127
#define APR_OP_MAX 15		/* "replace", "temporary" */
#define APR_NOTE_MAX 200
#define APR_VOTES_MAX 9		/* profiles ask for at most 9 */

struct apr_vote {
	char name[APR_NAME_MAX + 1];
	uint64_t at;
};

struct apr {
	uint64_t id;
	uint8_t state;		/* enum apr_state */
	uint8_t required;	/* m: 1..APR_VOTES_MAX */
	uint8_t nvotes;
	char op[APR_OP_MAX + 1];		/* what it lets happen */
	char reason[APR_OP_MAX + 1];		/* replace's reason, or "" */
	char requester[APR_NAME_MAX + 1];
	char profile[APR_NAME_MAX + 1];		/* of the card */
	char holder[APR_NAME_MAX + 1];
	char org[APR_ORG_MAX + 1];		/* the holder's, or "" */
	char card[APR_NAME_MAX + 1];		/* the card's serial */
	uint8_t guid[16];			/* the card's */
	uint64_t created, expires, updated;	/* unix seconds */
	uint64_t op_id;		/* carried_out: the operation that did it */
	char decided_by[APR_NAME_MAX + 1];	/* denied, expired: who */
	char note[APR_NOTE_MAX + 1];		/* a denial's reason */
	struct apr_vote votes[APR_VOTES_MAX];
};

/* [out] *out (free), *len. APR_ERR_ARG if a field is out of bounds. */
int apr_encode(const struct apr *a, uint8_t **out, size_t *len);
/* The whole of rec into *a, or APR_ERR_FORMAT / _VERSION (*a zeroed). */
int apr_decode(const uint8_t *rec, size_t len, struct apr *a);

#endif /* APR_H */
