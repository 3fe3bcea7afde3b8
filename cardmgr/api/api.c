/*
 * api: the HTTP side (libmicrohttpd) and the link to the engine.
 *
 * One MHD daemon per listening socket, a thread per connection (bounded by
 * cfg->max_conns): a request thread validates its request (api_req.c), sends
 * one MSG_REQ with a fresh id and sleeps on its own slot until the engine's
 * MSG_RESP with that id arrives or the deadline passes (504). The thread that
 * called api_main reads the engine socket and hands each answer to its slot;
 * it also takes SIGTERM/SIGINT through a signalfd. When the engine socket
 * closes, every waiting request gets 503 and api_main returns 1: without the
 * engine the api must not pretend to serve.
 */
#include "api.h"
#include "api_static.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

/* One request waiting for the engine. */
struct slot {
	uint64_t id;
	pthread_cond_t cv;
	int done;		/* resp set, or the engine is gone (resp NULL) */
	uint8_t *resp;		/* the MSG_RESP datagram, owned */
	size_t resp_len;
	struct slot *next;
};

struct api {
	const struct api_cfg *cfg;
	int efd;
	unsigned timeout_s;
	pthread_mutex_t mu;
	struct slot *slots;	/* waiting requests */
	uint64_t next_id;
	int gone;		/* engine closed or shutting down */
	unsigned inflight;	/* requests between first call and completion */
	pthread_cond_t idle;	/* inflight reached 0 */
	int uifd;		/* cfg->ui_dir, or -1 (api_static.c) */
};

struct listener {
	struct api *a;
	int is_unix;
};

/* Per connection: the raw request-target, before MHD %-decodes it. */
struct conn_ctx {
	char uri[API_URI_MAX + 1];
	int uri_bad;		/* over API_URI_MAX */
};

/* Per request: the body as it arrives. */
struct req_ctx {
	uint8_t *body;
	size_t len;
	int too_big;
	int started;
};

static void
logf_(const struct api *a, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
logf_(const struct api *a, int prio, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (a->cfg->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a->cfg->log(a->cfg->log_arg, prio, buf);
}

/* ---- responses */

static enum MHD_Result
send_body_cookie(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *body, size_t len, const char *allow, const char *cookie)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	/* Every answer is data for a script, never a page to render or cache. */
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Content-Security-Policy",
	    "default-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (allow != NULL)
		MHD_add_response_header(r, "Allow", allow);
	if (cookie != NULL)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_body(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *body, size_t len, const char *allow)
{
	return send_body_cookie(c, status, ctype, body, len, allow, NULL);
}

static enum MHD_Result
send_error(struct MHD_Connection *c, const struct api_error *e,
    const char *allow)
{
	json_t *j;
	char *s;
	enum MHD_Result ret;

	j = json_pack("{s:s, s:s}", "error", e->code, "message", e->message);
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL)
		return send_body(c, 500, "application/json",
		    "{\"error\":\"internal\",\"message\":\"out of memory\"}", 48,
		    NULL);
	ret = send_body(c, (unsigned)e->status, "application/json", s, strlen(s),
	    allow);
	free(s);
	return ret;
}

static enum MHD_Result
refuse(struct MHD_Connection *c, int status, const char *code, const char *msg)
{
	struct api_error e;

	api_refuse(&e, status, code, "%s", msg);
	return send_error(c, &e, NULL);
}

/* ---- the engine link */

static void
slot_free(struct slot *s)
{
	if (s == NULL)
		return;
	if (s->resp != NULL) {
		OPENSSL_cleanse(s->resp, s->resp_len);
		free(s->resp);
	}
	pthread_cond_destroy(&s->cv);
	free(s);
}

static void
slot_unlink(struct api *a, struct slot *s)
{
	struct slot **pp;

	for (pp = &a->slots; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

/* Called with a->mu held: wake every waiter, the engine will not answer. */
static void
fail_all(struct api *a)
{
	struct slot *s;

	a->gone = 1;
	for (s = a->slots; s != NULL; s = s->next) {
		s->done = 1;
		pthread_cond_signal(&s->cv);
	}
}

/*
 * Send b as a MSG_REQ and wait for its answer. [out] *s the slot holding the
 * MSG_RESP (slot_free it), or NULL with *status 503/504/500.
 */
static struct slot *
roundtrip(struct api *a, struct msg_builder *b, int *status)
{
	pthread_condattr_t ca;
	struct timespec dl;
	struct slot *s;
	int rc, timed_out = 0;

	*status = 500;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&a->mu);
	if (a->gone) {
		pthread_mutex_unlock(&a->mu);
		*status = 503;
		slot_free(s);
		return NULL;
	}
	s->id = ++a->next_id;
	s->next = a->slots;
	a->slots = s;
	/*
	 * Registered before sending, so the answer finds its slot; sent without
	 * the lock, so a full socket cannot stop the reader from draining it.
	 */
	pthread_mutex_unlock(&a->mu);
	rc = msg_send(a->efd, MSG_REQ, s->id, b);
	pthread_mutex_lock(&a->mu);
	if (rc != MSG_OK) {
		logf_(a, LOG_ERR, "send to engine: %s", msg_strerror(rc));
		if (rc == MSG_ERR_CLOSED)
			fail_all(a);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += a->timeout_s;
		while (!s->done && !timed_out)
			timed_out = pthread_cond_timedwait(&s->cv, &a->mu, &dl) ==
			    ETIMEDOUT;
	}
	slot_unlink(a, s);
	if (s->resp == NULL)
		*status = rc != MSG_OK ? (rc == MSG_ERR_ARG ? 500 : 503) :
		    a->gone && !timed_out ? 503 : 504;
	pthread_mutex_unlock(&a->mu);
	if (s->resp == NULL) {
		slot_free(s);
		return NULL;
	}
	return s;
}

/* The engine's answer is 401 no_session. */
static int
no_session(const struct msg_field *st, const struct msg_field *body)
{
	json_t *j;
	const char *err;
	int yes;

	if (st->num != 401 || (j = json_loadb((const char *)body->p, body->len,
	    0, NULL)) == NULL)
		return 0;
	err = json_string_value(json_object_get(j, "error"));
	yes = err != NULL && strcmp(err, "no_session") == 0;
	json_decref(j);
	return yes;
}

/*
 * Relay a MSG_RESP to the client. A kiosk login's answer carries the new
 * session's token: it becomes the cm_session cookie (never in the body);
 * a kiosk logout clears the cookie whatever the engine said, and so does
 * a 401 no_session to a request that sent one (the page cannot: HttpOnly).
 */
static enum MHD_Result
relay(struct MHD_Connection *c, const struct slot *s, const struct ops_op *op,
    int is_unix, int sent_cookie)
{
	const struct msg_field *st, *body, *ct, *ck;
	struct msg *m;
	enum MHD_Result ret;
	char ctype[128], cookie[160], tok[API_TOKEN_MAX + 1];
	const char *set = NULL;

	if ((m = malloc(sizeof(*m))) == NULL)
		return refuse(c, 500, "internal", "out of memory");
	/* The reader thread decoded it already; decoding again is cheap. */
	if (msg_decode(s->resp, s->resp_len, m) != MSG_OK ||
	    (st = msg_get(m, MSG_RESP_STATUS))->num < 200 || st->num > 599) {
		free(m);
		return refuse(c, 502, "engine_error", "bad answer from the engine");
	}
	body = msg_get(m, MSG_RESP_BODY);
	snprintf(ctype, sizeof(ctype), "application/json");
	if ((ct = msg_get(m, MSG_RESP_CTYPE)) != NULL) {
		/* A header value: printable ASCII only, no CR/LF to split on. */
		for (size_t i = 0; i < ct->len; i++)
			if (ct->p[i] < 0x20 || ct->p[i] > 0x7e) {
				free(m);
				return refuse(c, 502, "engine_error",
				    "bad answer from the engine");
			}
		snprintf(ctype, sizeof(ctype), "%.*s", (int)ct->len,
		    (const char *)ct->p);
	}
	if (!is_unix && op->code == OPS_LOGIN && st->num == 200 &&
	    (ck = msg_get(m, MSG_RESP_COOKIE)) != NULL &&
	    ck->len <= API_TOKEN_MAX) {
		memcpy(tok, ck->p, ck->len);
		tok[ck->len] = '\0';
		if (api_set_cookie(tok, cookie, sizeof(cookie)) == API_OK)
			set = cookie;
		OPENSSL_cleanse(tok, sizeof(tok));
	} else if (!is_unix && (op->code == OPS_LOGOUT ||
	    (sent_cookie && no_session(st, body))) &&
	    api_set_cookie(NULL, cookie, sizeof(cookie)) == API_OK)
		set = cookie;
	ret = send_body_cookie(c, (unsigned)st->num, ctype,
	    (const char *)body->p, body->len, NULL, set);
	OPENSSL_cleanse(cookie, sizeof(cookie));
	free(m);
	return ret;
}

/* ---- HTTP */

/*
 * The kiosk listener answers only to the loopback names: a DNS rebinding
 * page that resolves its own name to 127.0.0.1 sends its own Host.
 */
static int
host_ok(const char *host)
{
	const char *names[] = { "127.0.0.1", "localhost", NULL };
	size_t i, n;

	if (host == NULL)
		return 0;
	for (i = 0; names[i] != NULL; i++) {
		n = strlen(names[i]);
		if (strncasecmp(host, names[i], n) == 0 &&
		    (host[n] == '\0' || host[n] == ':'))
			return 1;
	}
	return 0;
}

static int
actor_of(struct MHD_Connection *c, int is_unix, struct api_actor *ac,
    char *tok, char *csrf, struct api_error *e)
{
	const union MHD_ConnectionInfo *ci;
	const char *auth, *cookie;
	struct ucred uc;
	socklen_t ul = sizeof(uc);

	memset(ac, 0, sizeof(*ac));
	if (is_unix) {
		/* The kernel's word for who is on the other end of the socket. */
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL || getsockopt(ci->connect_fd, SOL_SOCKET,
		    SO_PEERCRED, &uc, &ul) != 0 || ul != sizeof(uc))
			return api_refuse(e, 500, "internal", "no peer credentials");
		ac->kind = MSG_ACTOR_UID;
		ac->uid = (uint32_t)uc.uid;
		return API_OK;
	}
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_COOKIE);
	if (api_cookie(cookie, tok) != API_OK)
		return api_refuse(e, 401, "bad_token", "the cm_session cookie is "
		    "malformed or given twice");
	if (auth != NULL && tok[0] != '\0')
		return api_refuse(e, 401, "bad_token", "a session cookie and an "
		    "Authorization header: send one");
	if (auth != NULL && api_bearer(auth, tok) != API_OK)
		return api_refuse(e, 401, "bad_token",
		    "Authorization must be Bearer <token of at most %d characters>",
		    API_TOKEN_MAX);
	if (tok[0] == '\0') {
		ac->kind = MSG_ACTOR_NONE;
		return API_OK;
	}
	if (api_csrf(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-CSRF-Token"), csrf) != API_OK)
		return api_refuse(e, 403, "csrf", "X-CSRF-Token must be the "
		    "token the login gave");
	ac->kind = MSG_ACTOR_SESSION;
	ac->token = tok;
	ac->csrf = csrf[0] != '\0' ? csrf : NULL;
	return API_OK;
}

/* The Allow header of a 405: the table's methods that serve this path. */
static const char *
allowed_methods(const char *target)
{
	const struct ops_op *op;
	struct ops_path pp;
	char path[OPS_PATH_MAX + 1];
	size_t n = strcspn(target, "?");
	int get, post;

	if (n > OPS_PATH_MAX)
		return NULL;
	memcpy(path, target, n);
	path[n] = '\0';
	get = ops_match("GET", path, &op, &pp) == OPS_OK;
	post = ops_match("POST", path, &op, &pp) == OPS_OK;
	return get && post ? "GET, POST" : get ? "GET" : post ? "POST" : NULL;
}

static enum MHD_Result
handle(struct listener *l, struct MHD_Connection *c, const char *method,
    struct req_ctx *rq)
{
	const union MHD_ConnectionInfo *ci;
	const struct conn_ctx *cx;
	struct msg_builder b;
	struct api_actor ac;
	struct api_error e;
	const struct ops_op *op;
	struct slot *s = NULL;
	char tok[API_TOKEN_MAX + 1], csrf[API_TOKEN_MAX + 1];
	enum MHD_Result ret;
	int status;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cx = ci != NULL ? ci->socket_context : NULL;
	if (cx == NULL)
		return refuse(c, 500, "internal", "out of memory");
	if (cx->uri_bad)
		return refuse(c, 414, "bad_path", "request target too long");
	if (!l->is_unix && !host_ok(MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
		return refuse(c, 421, "bad_host", "Host must be 127.0.0.1 or localhost");
	if (rq->too_big)
		return refuse(c, 413, "payload_too_large", "body over 65536 bytes");
	/* The kiosk's own pages: GET / and /ui/<path> (api_static.c). */
	if (!l->is_unix && ast_serve(c, l->a->uifd, method, cx->uri, &status))
		return (enum MHD_Result)status;
	/* A page from another site may make the browser post here. */
	if (!l->is_unix && api_state_changing(method) &&
	    !api_origin_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Origin"), l->a->cfg->port, l->a->cfg->origin))
		return refuse(c, 403, "origin", "a state-changing request from "
		    "another origin: nothing was changed");
	tok[0] = csrf[0] = '\0';
	if (actor_of(c, l->is_unix, &ac, tok, csrf, &e) != API_OK) {
		OPENSSL_cleanse(tok, sizeof(tok));
		return send_error(c, &e, NULL);
	}
	if (msg_builder_init(&b) != MSG_OK)
		return refuse(c, 500, "internal", "out of memory");
	if (api_req_build(method, cx->uri, MHD_lookup_connection_value(c,
	    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), rq->body, rq->len,
	    &ac, &b, &op, &e) != API_OK) {
		if (e.status == 0)
			api_refuse(&e, 500, "internal", "request not built");
		ret = send_error(c, &e, e.status == 405 ?
		    allowed_methods(cx->uri) : NULL);
		goto out;
	}
	if ((s = roundtrip(l->a, &b, &status)) == NULL) {
		logf_(l->a, LOG_WARNING, "%s: engine gave no answer (%d)",
		    op->name, status);
		ret = status == 504 ?
		    refuse(c, 504, "engine_timeout", "the engine did not answer in time") :
		    status == 503 ?
		    refuse(c, 503, "engine_unavailable", "the engine is not running") :
		    refuse(c, 500, "internal", "could not forward the request");
		goto out;
	}
	ret = relay(c, s, op, l->is_unix, !l->is_unix &&
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_COOKIE) != NULL && ac.kind == MSG_ACTOR_SESSION);
out:
	slot_free(s);
	msg_builder_clear(&b);
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(csrf, sizeof(csrf));
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req_cls)
{
	struct listener *l = cls;
	struct req_ctx *rq = *req_cls;
	const char *cl;

	(void)url;
	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*req_cls = rq;
		pthread_mutex_lock(&l->a->mu);
		l->a->inflight++;
		pthread_mutex_unlock(&l->a->mu);
		/* Refuse a declared oversize body before reading any of it. */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (strlen(cl) > 9 || strtoul(cl, NULL, 10) >
		    API_BODY_MAX)) {
			rq->too_big = 1;
			rq->started = 1;	/* answered: no second response */
			return refuse(c, 413, "payload_too_large",
			    "body over 65536 bytes");
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* Beyond the cap the rest is dropped unread into memory. */
		if (!rq->too_big && rq->len + *upload_size <= API_BODY_MAX) {
			if (rq->body == NULL &&
			    (rq->body = malloc(API_BODY_MAX)) == NULL)
				return MHD_NO;
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
		} else
			rq->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->started)
		return rq->too_big ? MHD_YES : MHD_NO;
	rq->started = 1;
	return handle(l, c, method, rq);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rq = *req_cls;
	struct api *a = cls;

	(void)c;
	(void)toe;
	if (rq == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	if (--a->inflight == 0)
		pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->mu);
	if (rq->body != NULL) {
		OPENSSL_cleanse(rq->body, rq->len);
		free(rq->body);
	}
	free(rq);
	*req_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_ctx = calloc(1, sizeof(struct conn_ctx));
	else {
		free(*socket_ctx);
		*socket_ctx = NULL;
	}
}

/* Keep the raw target: MHD %-decodes its own copy in place afterwards. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_ctx *cx;
	size_t n = strlen(uri);

	(void)cls;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (cx = ci->socket_context) == NULL)
		return NULL;
	cx->uri_bad = n > API_URI_MAX;
	if (!cx->uri_bad)
		memcpy(cx->uri, uri, n + 1);
	else
		cx->uri[0] = '\0';
	return NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *a = cls;
	char buf[256];

	if (a->cfg->log == NULL)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	a->cfg->log(a->cfg->log_arg, LOG_INFO, buf);
}

static struct MHD_Daemon *
start_daemon(struct api *a, struct listener *l, int fd)
{
	unsigned limit = a->cfg->max_conns ? a->cfg->max_conns : 32;

	return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, l,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
	    MHD_OPTION_END);
}

/* ---- the engine reader (api_main's thread) */

/* One datagram from the engine: MSG_OK, or an error that ends api_main. */
static int
engine_read(struct api *a, uint8_t *buf)
{
	struct msg_hdr h;
	struct msg *m = NULL;
	struct slot *s;
	size_t len;
	int rc;

	if ((rc = msg_recv(a->efd, buf, MSG_MAX, &h, &len)) != MSG_OK)
		return rc;
	if ((m = malloc(sizeof(*m))) == NULL)
		return MSG_ERR_NOMEM;
	rc = msg_decode(buf, len, m);
	free(m);
	if (rc != MSG_OK)
		return rc;
	if (h.type == MSG_PROGRESS)
		return MSG_OK;	/* XXX no client subscribes to progress yet */
	if (h.type != MSG_RESP)
		return MSG_ERR_TYPE;
	pthread_mutex_lock(&a->mu);
	for (s = a->slots; s != NULL && s->id != h.id; s = s->next)
		;
	if (s != NULL && !s->done && (s->resp = malloc(len)) != NULL) {
		memcpy(s->resp, buf, len);
		s->resp_len = len;
		s->done = 1;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&a->mu);
	if (s == NULL)
		logf_(a, LOG_INFO, "late engine answer to request %llu dropped",
		    (unsigned long long)h.id);
	return MSG_OK;
}

/* Serve until a signal (0) or the engine link fails (1). */
static int
serve(struct api *a, int sfd)
{
	struct pollfd pf[2] = { { a->efd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
	struct signalfd_siginfo si;
	uint8_t *buf;
	int rc;

	if ((buf = malloc(MSG_MAX)) == NULL)
		return 1;
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = 1;
			break;
		}
		if (pf[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				logf_(a, LOG_INFO, "signal %u: stopping", si.ssi_signo);
			rc = 0;
			break;
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((rc = engine_read(a, buf)) != MSG_OK) {
				logf_(a, LOG_ERR, "engine link: %s", msg_strerror(rc));
				rc = 1;
				break;
			}
		}
	}
	free(buf);
	return rc;
}

/*
 * The sockets handed in are what api_main assumes, or it refuses to serve:
 * a kiosk listener bound beyond loopback would put the API on the network.
 */
static int
sockets_ok(struct api *a, int efd, int tfd, int ufd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int type = 0;
	socklen_t tl = sizeof(type);

	if (getsockopt(efd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
	    type != SOCK_SEQPACKET) {
		logf_(a, LOG_ERR, "engine socket is not SOCK_SEQPACKET");
		return 0;
	}
	if (tfd >= 0) {
		if (getsockname(tfd, (struct sockaddr *)&ss, &sl) != 0 ||
		    !((ss.ss_family == AF_INET &&
		    ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) ==
		    INADDR_LOOPBACK) || (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr)))) {
			logf_(a, LOG_ERR, "TCP listener is not on 127.0.0.1 or ::1");
			return 0;
		}
	}
	sl = sizeof(ss);
	if (ufd >= 0 && (getsockname(ufd, (struct sockaddr *)&ss, &sl) != 0 ||
	    ss.ss_family != AF_UNIX)) {
		logf_(a, LOG_ERR, "UNIX listener is not an AF_UNIX socket");
		return 0;
	}
	return 1;
}

/*
 * Stopping: wake every waiter (they answer 503) and give the requests in
 * flight up to DRAIN_S to reach their clients before MHD closes the sockets.
 */
#define DRAIN_S 2
static void
drain(struct api *a)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += DRAIN_S;
	pthread_mutex_lock(&a->mu);
	fail_all(a);
	while (a->inflight > 0)
		if (pthread_cond_timedwait(&a->idle, &a->mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&a->mu);
}

/* MHD closes the listening sockets it served; close the others. */
static void
close_unserved(struct MHD_Daemon *dt, int tfd, struct MHD_Daemon *du, int ufd)
{
	if (dt == NULL && tfd >= 0)
		close(tfd);
	if (du == NULL && ufd >= 0)
		close(ufd);
}

int
api_main(const struct api_cfg *cfg, int engine_fd, int tcp_listen_fd,
    int unix_listen_fd)
{
	struct api a;
	struct listener ltcp, lunix;
	struct MHD_Daemon *dtcp = NULL, *dunix = NULL;
	struct timeval tv = { 0, 0 };
	sigset_t set, old;
	int sfd = -1, rc = 1;

	if (cfg == NULL || engine_fd < 0 || (tcp_listen_fd < 0 &&
	    unix_listen_fd < 0) || getuid() == 0 || geteuid() == 0) {
		close_unserved(NULL, tcp_listen_fd, NULL, unix_listen_fd);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.efd = engine_fd;
	a.timeout_s = cfg->timeout_s ? cfg->timeout_s : 60;
	a.uifd = -1;
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.idle, NULL);
	ltcp = (struct listener){ &a, 0 };
	lunix = (struct listener){ &a, 1 };
	/* Blocked before MHD starts its threads, so they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	sigdelset(&set, SIGPIPE);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 ||
	    !sockets_ok(&a, engine_fd, tcp_listen_fd, unix_listen_fd))
		goto out;
	if ((tcp_listen_fd >= 0 &&
	    (dtcp = start_daemon(&a, &ltcp, tcp_listen_fd)) == NULL) ||
	    (unix_listen_fd >= 0 &&
	    (dunix = start_daemon(&a, &lunix, unix_listen_fd)) == NULL)) {
		logf_(&a, LOG_ERR, "cannot start the HTTP server");
		goto out;
	}
	/* A stuck engine must not hold request threads in send() forever. */
	tv.tv_sec = a.timeout_s;
	if (setsockopt(engine_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		goto out;
	if (tcp_listen_fd >= 0 && cfg->ui_dir != NULL && cfg->ui_dir[0] != '\0' &&
	    (a.uifd = open(cfg->ui_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		logf_(&a, LOG_WARNING, "kiosk UI %s: %s (its pages answer 404)",
		    cfg->ui_dir, strerror(errno));
	logf_(&a, LOG_INFO, "serving (engine timeout %us)", a.timeout_s);
	rc = serve(&a, sfd);
out:
	drain(&a);
	if (dtcp != NULL)
		MHD_stop_daemon(dtcp);
	if (dunix != NULL)
		MHD_stop_daemon(dunix);
	close_unserved(dtcp, tcp_listen_fd, dunix, unix_listen_fd);
	if (a.uifd >= 0)
		close(a.uifd);
	if (sfd >= 0)
		close(sfd);
	/* A SIGPIPE left pending here would kill the caller once unblocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &(struct timespec){ 0, 0 }) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_cond_destroy(&a.idle);
	pthread_mutex_destroy(&a.mu);
	return rc;
}
