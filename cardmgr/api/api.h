/*
 * api: the station's HTTP/JSON API process.
 *
 * It speaks HTTP to the kiosk browser (127.0.0.1) and to the CLI (a UNIX
 * socket), validates every request against the operation table (proc/ops.h),
 * and forwards it to the engine as one MSG_REQ; it relays the engine's
 * MSG_RESP. It holds no key, no PIN and no database handle: secrets reach it
 * sealed to the engine's key (crypto_box_seal) and leave it as they came.
 * See docs/api.md.
 *
 * Nothing here prints: messages go to cfg->log when set.
 */
#ifndef API_H
#define API_H

#include <stddef.h>
#include <stdint.h>

#include "proc/msg.h"
#include "proc/ops.h"

enum api_err {
	API_OK = 0,
	API_ERR_ARG = -1,	/* bad argument (caller bug) */
	API_ERR_REFUSED = -2,	/* the request is refused: see struct api_error */
	API_ERR_NOMEM = -3,
	API_ERR_ENGINE = -4,	/* the engine closed or sent garbage */
	API_ERR_SYS = -5,	/* a system call or libmicrohttpd failed */
};

const char *api_strerror(int err);
const char *api_name(int err);

#define API_BODY_MAX	65536	/* request bodies, refused beyond */
#define API_URI_MAX	2048
#define API_TOKEN_MAX	64	/* Bearer tokens are opaque, at most this long */
#define API_JSON_DEPTH	4	/* object > list > object is all the table needs */

struct api_cfg {
	unsigned timeout_s;	/* engine answer deadline (504 after); 0: 60 */
	unsigned max_conns;	/* per listener; 0: 32 */
	/* prio: syslog priorities. msg never holds a secret. */
	void (*log)(void *arg, int prio, const char *msg);
	void *log_arg;
	int port;		/* the TCP listener's port (own Origin names) */
	const char *origin;	/* one more allowed Origin, or NULL */
	/* The kiosk UI's directory, served on the TCP listener (GET / and
	 * /ui/<path>, api_static.h); NULL or "": none. */
	const char *ui_dir;
};

/*
 * Serve HTTP on the given listening sockets (either may be -1, not both; the
 * TCP one must be bound to loopback, the engine one SOCK_SEQPACKET) until
 * SIGTERM/SIGINT (returns 0) or until the engine socket closes or sends
 * something malformed (returns 1: fail closed). It owns the listening
 * sockets (closed on return); engine_fd is left to the caller. Blocks SIGTERM, SIGINT
 * and SIGPIPE in the calling thread while it runs. Never call it as root
 * (returns 1).
 */
int api_main(const struct api_cfg *cfg, int engine_fd, int tcp_listen_fd,
    int unix_listen_fd);

/* Who is asking, as forwarded to the engine. */
struct api_actor {
	uint32_t kind;		/* enum msg_actor */
	uint32_t uid;
	const char *token;	/* NUL-terminated; NULL if none */
	const char *csrf;	/* X-CSRF-Token (session only); NULL if none */
};

/* Why a request was refused: the HTTP status and the JSON error body's fields. */
struct api_error {
	int status;
	const char *code;	/* "bad_json", "unknown_field", ... (static) */
	char message[160];	/* never quotes a value the client sent */
};

/*
 * Validate one request and append its MSG_REQ fields to b: target is the raw
 * request-target ("/v1/cards?state=active", not %-decoded), ctype the
 * Content-Type header (NULL if absent), body what was received. On
 * API_ERR_REFUSED, *e says why. [out] *op the matched operation.
 */
int api_req_build(const char *method, const char *target, const char *ctype,
    const uint8_t *body, size_t blen, const struct api_actor *actor,
    struct msg_builder *b, const struct ops_op **op, struct api_error *e);

/*
 * Parse an Authorization header value: "Bearer <token>", token 1..64 of the
 * RFC 6750 b64token charset. [out] tok (API_TOKEN_MAX + 1 bytes).
 */
int api_bearer(const char *header, char *tok);

/* api_session.c: operator sessions on the HTTP side. */
#define API_COOKIE_NAME	"cm_session"
#define API_COOKIE_MAX	4096	/* a longer Cookie header is refused */
/*
 * The cm_session token of a Cookie header value (NULL: none). API_OK with
 * tok "" if absent; API_ERR_REFUSED if it is there twice, empty, over
 * API_TOKEN_MAX or outside the b64token set, or the header is over
 * API_COOKIE_MAX. Other cookies are ignored. [out] tok (API_TOKEN_MAX + 1).
 */
int api_cookie(const char *header, char *tok);
/* An X-CSRF-Token value (NULL: none, out ""): 1..64 b64token characters,
 * else API_ERR_REFUSED. [out] out (API_TOKEN_MAX + 1). */
int api_csrf(const char *header, char *out);
/* 1 unless method is GET, HEAD or OPTIONS. */
int api_state_changing(const char *method);
/* 1 if origin (NULL: no header) is http://127.0.0.1:port,
 * http://localhost:port or extra (may be NULL). */
int api_origin_ok(const char *origin, int port, const char *extra);
/* The Set-Cookie value for the session token tok, or (tok NULL) the one
 * that clears it. API_ERR_ARG if tok is no token or cap too small. */
int api_set_cookie(const char *tok, char *out, size_t cap);

/* Fill e and return API_ERR_REFUSED (a helper for the HTTP side too). */
int api_refuse(struct api_error *e, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* API_H */
