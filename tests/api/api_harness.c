/*
 * api_harness: api_main in a test program, with a fake engine behind it.
 *
 *   api_harness serve DIR [TIMEOUT_S [any]]
 *	Binds 127.0.0.1:0 (port written to DIR/port) and DIR/api.sock, forks
 *	the fake engine (pid in DIR/engine.pid), drops to nobody when run as
 *	root, and runs api_main; exits with its status. "any" binds 0.0.0.0
 *	instead, which api_main must refuse.
 *   api_harness ops
 *	Prints the operation table, "name METHOD path" a line.
 *   api_harness seal KEY_B64 < secret
 *	Prints the base64 crypto_box_seal of stdin (trailing newline cut) to
 *	KEY_B64, as a client would send it.
 *
 * The fake engine decodes every MSG_REQ with ops_req_decode and answers with
 * a JSON echo of what it understood: the op name, the actor, every argument;
 * a sealed argument shows its ciphertext in base64 and the SHA-256 of what
 * it opened to with the engine's secret key, so a test can check both that
 * the api relayed the exact ciphertext and that it decrypts right. Special
 * holder ids make it misbehave: "pending" answers 202, "refused" 403,
 * "status99" an impossible status, "pem" another content type, "crlf" a
 * content type with a header injection, "slow" never answers, "late"
 * answers after the api's deadline, "garbage" sends a malformed message.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "api/api.h"
#include "proc/msg.h"
#include "proc/ops.h"

static uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];

static void
die(const char *what)
{
	fprintf(stderr, "api_harness: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char *
b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);

	if (s == NULL)
		die("malloc");
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static json_t *
sealed_json(const struct ops_value *v)
{
	uint8_t pt[1024], h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof(h) + 1], *c = b64(v->p, v->len);
	json_t *j;

	j = json_pack("{s:s}", "sealed", c);
	free(c);
	if (v->len >= crypto_box_SEALBYTES &&
	    v->len - crypto_box_SEALBYTES <= sizeof(pt) &&
	    crypto_box_seal_open(pt, v->p, v->len, pk, sk) == 0) {
		crypto_hash_sha256(h, pt, v->len - crypto_box_SEALBYTES);
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		json_object_set_new(j, "sha256", json_string(hex));
	} else
		json_object_set_new(j, "sha256", json_null());
	sodium_memzero(pt, sizeof(pt));
	return j;
}

static json_t *
value_json(const struct ops_value *v)
{
	switch (v->spec->kind) {
	case OPS_K_INT:
		return json_integer(v->i);
	case OPS_K_BOOL:
		return json_boolean(v->i);
	case OPS_K_SEALED:
		return sealed_json(v);
	default:
		return json_stringn((const char *)v->p, v->len);
	}
}

static json_t *
args_json(const struct ops_req *r)
{
	json_t *args = json_object(), *slot, *obj;
	size_t i;

	for (i = 0; i < r->nvals; i++) {
		const struct ops_value *v = &r->vals[i];
		const struct ops_arg *a = &r->op->args[v->arg];

		if (a->kind == OPS_K_STRLIST || a->kind == OPS_K_OBJLIST) {
			if ((slot = json_object_get(args, a->name)) == NULL) {
				slot = json_array();
				json_object_set_new(args, a->name, slot);
			}
			while (json_array_size(slot) <= v->item)
				json_array_append_new(slot, a->kind == OPS_K_OBJLIST ?
				    json_object() : json_null());
			if (a->kind == OPS_K_STRLIST) {
				json_array_set_new(slot, v->item, value_json(v));
				continue;
			}
			obj = json_array_get(slot, v->item);
			json_object_set_new(obj, a->sub[v->sub].name, value_json(v));
		} else
			json_object_set_new(args, a->name, value_json(v));
	}
	return args;
}

static json_t *
actor_json(const struct ops_req *r)
{
	switch (r->actor) {
	case MSG_ACTOR_UID:
		return json_pack("{s:s, s:I}", "kind", "uid", "uid",
		    (json_int_t)r->uid);
	case MSG_ACTOR_SESSION:
		return json_pack("{s:s, s:s%}", "kind", "session", "token",
		    r->token, r->token_len);
	default:
		return json_pack("{s:s}", "kind", "none");
	}
}

static int
reply(int fd, uint64_t id, unsigned status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	json_decref(body);
	if (s == NULL)
		return MSG_ERR_NOMEM;
	rc = msg_send_resp(fd, id, status, s, NULL);
	free(s);
	return rc;
}

static unsigned api_timeout;

/* A MSG_RESP with a content type of the test's choosing. */
static void
reply_ctype(int fd, uint64_t id, unsigned status, const char *ctype)
{
	if (msg_send_resp(fd, id, status, "-----BEGIN CERTIFICATE-----\n",
	    ctype) != MSG_OK)
		die("send");
}

/* 0: answered normally; 1: do not answer; -1: the message was sent already. */
static int
special(int fd, uint64_t id, const struct ops_req *r, unsigned *status)
{
	const struct ops_value *h = ops_req_get(r, "id", 0, NULL);
	static const uint8_t junk[20] = { 0, 0, 0, 2, 0, 0, 0, 9 };

	if (r->op->code != OPS_HOLDER_ADD || h == NULL)
		return 0;
#define IS(s) (h->len == strlen(s) && memcmp(h->p, s, h->len) == 0)
	if (IS("pending")) {
		/* Progress first: the api must take it and still relay the answer. */
		if (msg_send_progress(fd, id, "op-1", 1, "queued", "CA request queued",
		    0) != MSG_OK)
			die("send");
		*status = 202;
	}
	else if (IS("refused"))
		*status = 403;
	else if (IS("status99"))
		*status = 99;
	else if (IS("slow"))
		return 1;
	else if (IS("late")) {
		/* Answer after the api gave up: it must drop this, not misdeliver. */
		sleep(api_timeout + 1);
		return 0;
	} else if (IS("pem")) {
		reply_ctype(fd, id, 200, "application/pem-certificate-chain");
		return -1;
	} else if (IS("crlf")) {
		reply_ctype(fd, id, 200, "text/plain\r\nSet-Cookie: x=1");
		return -1;
	} else if (IS("garbage")) {
		if (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) < 0)
			die("send");
		return -1;
	}
#undef IS
	return 0;
}

static json_t *
answer(const struct ops_req *r)
{
	char *k;
	json_t *j;

	switch (r->op->code) {
	case OPS_SESSION_KEY:
		k = b64(pk, sizeof(pk));
		j = json_pack("{s:s, s:s}", "key", k, "alg", "x25519-sealedbox");
		free(k);
		return j;
	case OPS_UNBLOCK_QUESTIONS:
		return json_pack("{s:s, s:[{s:i, s:s}, {s:i, s:s}]}",
		    "challenge", "ch-1", "questions", "id", 3, "text",
		    "First pet?", "id", 7, "text", "Birth city?");
	default:
		return json_pack("{s:s, s:o, s:o}", "op", r->op->name,
		    "actor", actor_json(r), "args", args_json(r));
	}
}

static void
engine(int fd)
{
	uint8_t *buf = malloc(MSG_MAX);
	struct msg *m = malloc(sizeof(*m));
	struct ops_req *r = malloc(sizeof(*r));
	struct msg_hdr h;
	unsigned status;
	size_t len;
	int rc, sp;

	if (buf == NULL || m == NULL || r == NULL)
		die("malloc");
	for (;;) {
		if ((rc = msg_recv(fd, buf, MSG_MAX, &h, &len)) != MSG_OK) {
			fprintf(stderr, "engine: recv: %s\n", msg_name(rc));
			if (rc == MSG_ERR_CLOSED)
				_exit(0);
			continue;
		}
		if ((rc = msg_decode(buf, len, m)) != MSG_OK ||
		    (rc = ops_req_decode(m, r)) != OPS_OK) {
			fprintf(stderr, "engine: refused request %llu: %d\n",
			    (unsigned long long)h.id, rc);
			reply(fd, h.id, 400, json_pack("{s:s, s:s}", "error",
			    "engine_refused", "message", "request does not decode"));
			continue;
		}
		status = 200;
		if ((sp = special(fd, h.id, r, &status)) != 0)
			continue;
		if (status == 403) {
			reply(fd, h.id, 403, json_pack("{s:s, s:s}", "error",
			    "forbidden", "message", "policy refuses this"));
			continue;
		}
		if ((rc = reply(fd, h.id, status, answer(r))) != MSG_OK)
			fprintf(stderr, "engine: reply: %s\n", msg_name(rc));
	}
}

static void
logto_stderr(void *arg, int prio, const char *msg)
{
	(void)arg;
	fprintf(stderr, "api[%d]: %s\n", prio, msg);
}

static void
write_file(const char *dir, const char *name, long v)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		die(path);
	fprintf(f, "%ld\n", v);
	fclose(f);
}

static int
listen_tcp(const char *dir, int any)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sa.sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 64) != 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		die("tcp listen");
	write_file(dir, "port", ntohs(sa.sin_port));
	return fd;
}

static int
listen_unix(const char *dir)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(su.sun_path, sizeof(su.sun_path), "%s/api.sock",
	    dir) >= sizeof(su.sun_path))
		die("socket path too long");
	unlink(su.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof(su)) != 0 ||
	    chmod(su.sun_path, 0666) != 0 || listen(fd, 64) != 0)
		die("unix listen");
	return fd;
}

static int
serve(const char *dir, unsigned timeout, int any)
{
	struct api_cfg cfg = { .timeout_s = timeout, .max_conns = 16,
	    .log = logto_stderr };
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int sp[2], tfd, ufd;
	pid_t pid;

	cfg.ui_dir = getenv("API_HARNESS_UI_DIR");	/* t_api_static */
	api_timeout = timeout;
	tfd = listen_tcp(dir, any);
	/* Its own Origin names (http://127.0.0.1:PORT) are the port's. */
	if (getsockname(tfd, (struct sockaddr *)&sin, &sl) == 0 &&
	    sin.sin_family == AF_INET)
		cfg.port = ntohs(sin.sin_port);
	ufd = listen_unix(dir);
	crypto_box_keypair(pk, sk);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		die("socketpair");
	if ((pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		close(sp[0]);
		close(tfd);
		close(ufd);
		engine(sp[1]);
	}
	close(sp[1]);
	sodium_memzero(sk, sizeof(sk));
	write_file(dir, "engine.pid", pid);
	write_file(dir, "ready", getpid());
	/* api_main refuses root, as cardmgrd's api child would have dropped it. */
	if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
	    setuid(65534) != 0))
		die("drop privileges");
	return api_main(&cfg, sp[0], tfd, ufd);
}

static int
seal(const char *key)
{
	uint8_t k[crypto_box_PUBLICKEYBYTES], in[1025], out[sizeof(in) + 48];
	size_t kl, n;
	char *s;

	if (sodium_base642bin(k, sizeof(k), key, strlen(key), NULL, &kl, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || kl != sizeof(k))
		return 2;
	n = fread(in, 1, sizeof(in) - 1, stdin);
	if (n > 0 && in[n - 1] == '\n')
		n--;
	crypto_box_seal(out, in, n, k);
	s = b64(out, n + crypto_box_SEALBYTES);
	printf("%s\n", s);
	free(s);
	return 0;
}

/* The operation table, "name METHOD path" a line (docs/api.yaml must agree). */
static int
print_ops(void)
{
	const struct ops_op *t;
	size_t i, n;

	t = ops_table(&n);
	for (i = 0; i < n; i++)
		printf("%s %s %s\n", t[i].name, t[i].method, t[i].path);
	return 0;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 2;
	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argc > 3 ? (unsigned)atoi(argv[3]) : 5,
		    argc > 4 && strcmp(argv[4], "any") == 0);
	if (argc == 3 && strcmp(argv[1], "seal") == 0)
		return seal(argv[2]);
	if (argc == 2 && strcmp(argv[1], "ops") == 0)
		return print_ops();
	fprintf(stderr, "usage: api_harness serve DIR [TIMEOUT_S [any]] | seal KEY_B64 | ops\n");
	return 2;
}
