/*
 * msg: messages between the station's processes (api, engine, keyd).
 *
 * Transport: a SOCK_SEQPACKET socketpair, one datagram = one message, so a
 * message is never split or merged and its length is known before parsing.
 *
 * Wire format (big-endian):
 *   header  type:u32  payload_len:u32  request_id:u64        (MSG_HDR_LEN bytes)
 *   payload fields, each  tag:u16  len:u32  bytes[len]
 * payload_len must equal the datagram length minus the header, and is at most
 * MSG_PAYLOAD_MAX. Every message type has a spec table (msg.c) listing its
 * allowed tags with their kind, length bounds and flags; the decoder refuses
 * an unknown tag, a repeated non-repeatable tag, a missing required tag, a
 * length out of bounds, a string with a NUL or invalid UTF-8, a bool other
 * than 0/1, and any trailing byte (all MSG_ERR_FORMAT). Nothing is copied
 * before the header length matched the datagram length.
 *
 * Adding a message type (the keyd's MSG_KS_* for instance): a value in
 * enum msg_type, its tags, a field table and one line in msg.c's type table.
 *
 * Nothing in this module logs or allocates outside msg_builder_init.
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum msg_err {
	MSG_OK = 0,
	MSG_ERR_ARG = -1,	/* bad argument (a caller bug) */
	MSG_ERR_FORMAT = -2,	/* malformed message: refuse it */
	MSG_ERR_TOOBIG = -3,	/* over MSG_MAX, or over the caller's buffer */
	MSG_ERR_CLOSED = -4,	/* the peer closed its end */
	MSG_ERR_IO = -5,	/* send/recv failed (errno is kept) */
	MSG_ERR_NOMEM = -6,
	MSG_ERR_TYPE = -7,	/* a message type this build does not know */
	MSG_ERR_NOSPACE = -8,	/* builder overflow (sticky) */
};

const char *msg_strerror(int err);
/* The enum constant's name ("MSG_ERR_FORMAT"), for logs. */
const char *msg_name(int err);

#define MSG_HDR_LEN	16
#define MSG_PAYLOAD_MAX	65536
#define MSG_MAX		(MSG_HDR_LEN + MSG_PAYLOAD_MAX)
#define MSG_FIELD_HDR	6	/* tag:u16 len:u32 */
/* A message with more fields than this is refused (bounds struct msg). */
#define MSG_FIELDS_MAX	512

/*
 * Message types. The range 0x100..0x1ff is the keyd's (MSG_KS_*, added by
 * the keyd with its own spec tables); 0 is never valid.
 */
enum msg_type {
	MSG_REQ = 1,		/* api -> engine: one validated API request */
	MSG_RESP = 2,		/* engine -> api: the answer to a MSG_REQ (same id) */
	MSG_PROGRESS = 3,	/* engine -> api: a step of a long operation */
};

/* MSG_REQ tags. */
enum {
	MSG_REQ_OP = 1,		/* u32: enum ops_code */
	MSG_REQ_ACTOR = 2,	/* u32: enum msg_actor */
	MSG_REQ_UID = 3,	/* u32: peer uid (MSG_ACTOR_UID only) */
	MSG_REQ_TOKEN = 4,	/* string <= 64: the Bearer token, opaque here */
	/*
	 * bytes, repeatable: one argument value:
	 *   arg:u8 sub:u8 item:u8 value
	 * arg indexes the op's argument table (ops.h), sub the item table of a
	 * list of objects (0 otherwise), item the position in a list (0 for a
	 * scalar). ops_req_decode gives them meaning.
	 */
	MSG_REQ_ARG = 5,
	/* string <= 64: the X-CSRF-Token header (session actor only) */
	MSG_REQ_CSRF = 6,
};

enum msg_actor {
	MSG_ACTOR_NONE = 0,	/* TCP request without a token */
	MSG_ACTOR_UID = 1,	/* UNIX socket: uid from SO_PEERCRED */
	MSG_ACTOR_SESSION = 2,	/* TCP request with a session cookie or Bearer token */
};

/* MSG_RESP tags. */
enum {
	MSG_RESP_STATUS = 1,	/* u32: HTTP status 200..599 */
	MSG_RESP_BODY = 2,	/* string: the response body */
	MSG_RESP_CTYPE = 3,	/* string, optional: default application/json */
	/* string, optional, login only: the new session's token (the api
	 * sets it as the cm_session cookie) */
	MSG_RESP_COOKIE = 4,
};

/* MSG_PROGRESS tags. */
enum {
	MSG_PROG_OP = 1,	/* string: operation id */
	MSG_PROG_STEP = 2,	/* u32: step number from 1 */
	MSG_PROG_NAME = 3,	/* string: step name (machine readable) */
	MSG_PROG_TEXT = 4,	/* string, optional: human text */
	MSG_PROG_DONE = 5,	/* bool, optional: this was the last step */
};

enum msg_kind {
	MSG_K_BYTES = 0,
	MSG_K_STRING = 1,	/* no NUL, valid UTF-8 */
	MSG_K_U32 = 2,		/* 4 bytes */
	MSG_K_U64 = 3,		/* 8 bytes */
	MSG_K_BOOL = 4,		/* 1 byte, 0 or 1 */
};

#define MSG_F_REQUIRED	0x01
#define MSG_F_REPEAT	0x02

struct msg_field_spec {
	uint16_t tag;
	uint8_t kind;		/* enum msg_kind */
	uint8_t flags;		/* MSG_F_* */
	uint32_t min, max;	/* length bounds (bytes/string) */
	const char *name;
};

/* At most 32 fields per type (the decoder tracks them in a 32-bit mask). */
struct msg_type_spec {
	uint32_t type;
	const char *name;
	const struct msg_field_spec *fields;
	size_t nfields;
};

/* The spec of a type, or NULL if this build does not know it. */
const struct msg_type_spec *msg_spec(uint32_t type);

struct msg_hdr {
	uint32_t type;
	uint32_t len;		/* payload length */
	uint64_t id;
};

/* A decoded field: p points into the decoded buffer (not copied). */
struct msg_field {
	uint16_t tag;
	uint32_t len;
	const uint8_t *p;
	uint64_t num;		/* U32/U64/BOOL value */
};

struct msg {
	struct msg_hdr hdr;
	size_t nfields;
	struct msg_field f[MSG_FIELDS_MAX];
};

/*
 * Parse and check a header: datagram length len must be the header plus its
 * payload length. [out] *h.
 */
int msg_hdr_parse(const uint8_t *buf, size_t len, struct msg_hdr *h);

/*
 * Decode a whole message (header + payload) against its type's spec.
 * [out] *m; its fields point into buf, valid while buf is.
 */
int msg_decode(const uint8_t *buf, size_t len, struct msg *m);

/* First field with tag, or NULL. Repeated fields: msg_next. */
const struct msg_field *msg_get(const struct msg *m, uint16_t tag);
/* The field with tag after prev (NULL: the first), or NULL. */
const struct msg_field *msg_next(const struct msg *m, uint16_t tag,
    const struct msg_field *prev);
/* The first field with tag as a number (0 if absent), or as bytes (NULL
 * and *len 0 if absent; pointing into the message). */
uint32_t msg_num(const struct msg *m, uint16_t tag);
const uint8_t *msg_bytes(const struct msg *m, uint16_t tag, size_t *len);

/* 1 if [p, p+n) is valid UTF-8 without NUL (shortest forms, no surrogates). */
int msg_utf8_ok(const uint8_t *p, size_t n);

/*
 * Builder with a sticky error: put as many fields as needed, check once.
 * init allocates the MSG_MAX buffer; clear wipes and frees it.
 */
struct msg_builder {
	uint8_t *mem;		/* MSG_MAX bytes; the payload starts at MSG_HDR_LEN */
	struct buf_writer w;	/* over the payload part */
	int err;
};

int msg_builder_init(struct msg_builder *b);
void msg_builder_clear(struct msg_builder *b);
void msg_put_bytes(struct msg_builder *b, uint16_t tag, const void *p, size_t n);
void msg_put_str(struct msg_builder *b, uint16_t tag, const char *s);
/* A string with a length (need not be NUL-terminated). */
void msg_put_strn(struct msg_builder *b, uint16_t tag, const char *s, size_t n);
void msg_put_u32(struct msg_builder *b, uint16_t tag, uint32_t v);
void msg_put_u64(struct msg_builder *b, uint16_t tag, uint64_t v);
void msg_put_bool(struct msg_builder *b, uint16_t tag, int v);
/* MSG_OK or the first error (MSG_ERR_NOSPACE, MSG_ERR_NOMEM, MSG_ERR_ARG). */
int msg_builder_error(const struct msg_builder *b);

/*
 * Write the header in front of the payload and check the result against the
 * type's spec, so a sender cannot emit what the receiver would refuse.
 * [out] *out points into b (valid until the next put or clear), *len.
 */
int msg_finish(struct msg_builder *b, uint32_t type, uint64_t id,
    const uint8_t **out, size_t *len);

/* msg_finish, then send it as one datagram (EINTR retried, no SIGPIPE). */
int msg_send(int fd, uint32_t type, uint64_t id, struct msg_builder *b);

/*
 * The engine's two answers in one call each: a MSG_RESP (ctype NULL:
 * application/json) and a MSG_PROGRESS (text may be NULL).
 */
int msg_send_resp(int fd, uint64_t id, uint32_t status, const char *body,
    const char *ctype);
int msg_send_progress(int fd, uint64_t id, const char *op, uint32_t step,
    const char *name, const char *text, int done);

/*
 * Receive one datagram into buf (cap >= MSG_MAX recommended) and check its
 * header. A datagram larger than cap or MSG_MAX is consumed and refused with
 * MSG_ERR_TOOBIG; a bad header is MSG_ERR_FORMAT; end of stream is
 * MSG_ERR_CLOSED; EINTR is retried. [out] *h, *len (datagram length).
 * Decode the payload with msg_decode(buf, *len, ...).
 */
int msg_recv(int fd, uint8_t *buf, size_t cap, struct msg_hdr *h, size_t *len);

#endif /* MSG_H */
