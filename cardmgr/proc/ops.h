/*
 * ops: the one table of the station's API operations.
 *
 * The api process validates an HTTP request against this table (method, path
 * pattern, each argument's kind and bounds) and forwards it as a MSG_REQ; the
 * engine decodes that MSG_REQ with ops_req_decode, which re-applies the same
 * checks, so a compromised api process can send the engine nothing the table
 * does not allow. docs/api.yaml documents the same table for clients.
 *
 * Argument value encoding inside MSG_REQ_ARG (after arg, sub, item):
 *   string, enum    the UTF-8 bytes (an enum travels as its string)
 *   integer         8 bytes, big-endian two's complement
 *   bool            1 byte, 0 or 1
 *   sealed          the crypto_box_seal ciphertext, base64-decoded
 * Lists: one field per item, items numbered from 0 without gaps. A list of
 * objects: one field per member of each item, sub indexing ops_arg.sub.
 *
 * Pure functions over tables; nothing here logs or allocates.
 */
#ifndef OPS_H
#define OPS_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

enum ops_err {
	OPS_OK = 0,
	OPS_ERR_ARG = -1,	/* caller bug */
	OPS_ERR_NOTFOUND = -2,	/* no operation has this path */
	OPS_ERR_METHOD = -3,	/* the path exists, not with this method */
	OPS_ERR_PATH = -4,	/* path syntax refused (traversal, charset) */
	OPS_ERR_VALUE = -5,	/* an argument value out of its bounds */
	OPS_ERR_UNKNOWN = -6,	/* an argument the operation does not take */
	OPS_ERR_MISSING = -7,	/* a required argument is absent */
	OPS_ERR_DUP = -8,	/* an argument given twice */
	OPS_ERR_FORMAT = -9,	/* MSG_REQ does not decode */
};

const char *ops_strerror(int err);
const char *ops_name(int err);

enum ops_code {
	OPS_STATUS = 1,
	OPS_READERS,
	OPS_SESSION_KEY,
	OPS_PROFILES,
	OPS_HOLDER_ADD,
	OPS_HOLDER_GET,
	OPS_HOLDER_LIST,
	OPS_CARD_LIST,
	OPS_CARD_GET,
	OPS_ISSUE,
	OPS_PIN_CHANGE,
	OPS_UNBLOCK_QUESTIONS,
	OPS_UNBLOCK,
	OPS_RETIRE,
	OPS_OP_GET,
	OPS_CERT_LIST,
	OPS_AUDIT_LIST,
	OPS_AUDIT_VERIFY,
	OPS_CONFIG_CHECK,
	OPS_REPORT_INVENTORY,
	OPS_REPORT_OPERATIONS,
	OPS_REPORT_PENDING,
	OPS_REPORT_EXPIRING,
	OPS_NOTICES_RUN,
	OPS_HOLDER_UNLOCK,
	OPS_MASTER_NEW,
	OPS_SUSPEND,
	OPS_REINSTATE,
	OPS_BACKUP,
	OPS_LOGIN,
	OPS_SESSION,
	OPS_LOGOUT,
	OPS_REPLACE,
	OPS_TEMPORARY,
	OPS_TEMP_RETURN,
	OPS_CRL_CHECK,
	OPS_CERT_REVOKE,
	OPS_CERT_HOLD,
	OPS_APPROVAL_LIST,
	OPS_APPROVAL_GET,
	OPS_APPROVAL_APPROVE,
	OPS_APPROVAL_DENY,
	OPS_STOCK_RECEIVE,
	OPS_STOCK_LIST,
	OPS_STOCK_MOVE,
	OPS_STOCK_DISPOSE,
	OPS_REPORT_STOCK,
	OPS_CARD_REQUIREMENTS,
	OPS_CARD_RENEW,
	OPS_CODE_END
};

enum ops_kind {
	OPS_K_STR = 1,		/* charset + length */
	OPS_K_INT = 2,		/* int64 in [imin, imax] */
	OPS_K_BOOL = 3,
	OPS_K_ENUM = 4,		/* one of enums[] */
	OPS_K_SEALED = 5,	/* crypto_box_seal ciphertext; plaintext [min, max] */
	OPS_K_STRLIST = 6,	/* up to max_items strings (charset + length) */
	OPS_K_OBJLIST = 7,	/* up to max_items objects of sub[] members */
};

enum ops_where {
	OPS_IN_PATH = 1,
	OPS_IN_QUERY = 2,
	OPS_IN_BODY = 3,
};

enum ops_charset {
	OPS_CS_NONE = 0,
	OPS_CS_ID = 1,		/* [A-Za-z0-9_-] and '.', not first: ids, path params */
	OPS_CS_TEXT = 2,	/* UTF-8 without control characters: names */
	OPS_CS_EMAIL = 3,	/* printable ASCII, no space, one '@' inside */
	OPS_CS_READER = 4,	/* printable ASCII: PC/SC reader names */
};

/* crypto_box_SEALBYTES: a sealed secret's overhead over its plaintext. */
#define OPS_SEAL_OVERHEAD 48
#define OPS_MAX_ARGS 16		/* per operation, and per object */
#define OPS_MAX_VALUES 128	/* argument values in one request */

struct ops_arg {
	const char *name;
	uint8_t kind;		/* enum ops_kind */
	uint8_t where;		/* enum ops_where */
	uint8_t required;
	uint8_t charset;	/* enum ops_charset (STR, STRLIST) */
	uint32_t min, max;	/* bytes of a string / plaintext of a sealed */
	int64_t imin, imax;	/* INT */
	const char *const *enums;	/* ENUM: NULL-terminated */
	const struct ops_arg *sub;	/* OBJLIST members */
	size_t nsub;
	uint32_t max_items;	/* STRLIST, OBJLIST */
};

struct ops_op {
	uint16_t code;		/* enum ops_code */
	const char *name;	/* machine name: "card_get" */
	const char *method;	/* "GET" or "POST" */
	const char *path;	/* pattern: "/v1/cards/{card}" */
	const struct ops_arg *args;
	size_t nargs;
};

/* [out] *n: the whole table, in ops_code order. */
const struct ops_op *ops_table(size_t *n);
const struct ops_op *ops_by_code(unsigned code);
/* The argument named name of op (or of an object list's members), or NULL. */
const struct ops_arg *ops_arg_find(const struct ops_arg *args, size_t n,
    const char *name, size_t *idx);

#define OPS_PATH_MAX 512
#define OPS_PARAMS_MAX 4

/* The {param} values of a matched path; they point into the path given. */
struct ops_path {
	size_t n;
	struct {
		size_t arg;	/* index in op->args */
		const char *p;
		size_t len;
	} v[OPS_PARAMS_MAX];
};

/*
 * Route method + path (no query string). OPS_ERR_PATH for a path outside
 * the URL charset [A-Za-z0-9._~-/], with an empty, "." or ".." segment, or
 * longer than OPS_PATH_MAX; OPS_ERR_NOTFOUND, or OPS_ERR_METHOD when another
 * method has it. Path parameters are checked against their argument's
 * bounds (OPS_ERR_VALUE). [out] *op, *params.
 */
int ops_match(const char *method, const char *path, const struct ops_op **op,
    struct ops_path *params);

/* Value checks, one per kind: OPS_OK or OPS_ERR_VALUE. */
int ops_check_str(const struct ops_arg *a, const char *s, size_t len);
int ops_check_int(const struct ops_arg *a, int64_t v);
int ops_check_enum(const struct ops_arg *a, const char *s, size_t len);
/* len: the ciphertext length (decoded, not base64). */
int ops_check_sealed(const struct ops_arg *a, size_t len);
int ops_check_count(const struct ops_arg *a, size_t items);

/* Encoders of MSG_REQ_ARG fields (the builder's sticky error applies). */
void ops_put_str(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    const char *s, size_t len);
void ops_put_int(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    int64_t v);
void ops_put_bool(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    int v);
void ops_put_bytes(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    const uint8_t *p, size_t len);

/* One argument value of a decoded request; p points into the message. */
struct ops_value {
	uint8_t arg, sub, item;
	const struct ops_arg *spec;	/* of the member for objects */
	const uint8_t *p;		/* STR/ENUM/SEALED bytes (no NUL) */
	size_t len;
	int64_t i;			/* INT, BOOL */
};

struct ops_req {
	const struct ops_op *op;
	uint32_t actor;			/* enum msg_actor */
	uint32_t uid;			/* MSG_ACTOR_UID only */
	const char *token;		/* not NUL-terminated; token_len */
	size_t token_len;
	const char *csrf;		/* X-CSRF-Token, or NULL; csrf_len */
	size_t csrf_len;
	size_t nvals;
	struct ops_value vals[OPS_MAX_VALUES];
};

/*
 * Decode and re-validate a decoded MSG_REQ (msg_decode first): the op code
 * exists, the actor is consistent (uid iff MSG_ACTOR_UID, token iff
 * MSG_ACTOR_SESSION, a CSRF token only with a session), every argument is the op's, of the right kind and in
 * bounds, none twice, list items numbered without gaps, required ones
 * present (members of every object too). [out] *r points into m.
 */
int ops_req_decode(const struct msg *m, struct ops_req *r);

/*
 * The value of argument name (item: position in a list, else 0; sub_name: the
 * member of an object list, else NULL), or NULL if absent. ops_req_count: a
 * list's number of items (1 for a present scalar, 0 if absent).
 */
const struct ops_value *ops_req_get(const struct ops_req *r, const char *name,
    size_t item, const char *sub_name);
size_t ops_req_count(const struct ops_req *r, const char *name);

#endif /* OPS_H */
