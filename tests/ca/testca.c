/*
 * testca: the central CA the tests talk to. A CMP server on OpenSSL's
 * OSSL_CMP_SRV_CTX that really issues certificates (p10cr, ir with PBM from a
 * one-time secret, cr, kur), revokes, holds and un-holds (rr), answers genm
 * caCerts, and publishes its CRL over HTTP. Plain HTTP on loopback; nginx
 * terminates mutual TLS in front of it.
 *
 *   testca --state DIR --port N [--crl-url URL] [--crl-seconds N]
 *          [--validity SECONDS] [--fault MODE] [--delay SECONDS] [--dump DIR]
 *   (--no-fsync, first, for benchmarks: state writes are not synced)
 *
 * DIR holds ca.crt, ca.key (issuing CA), root.crt and the CA's state, which
 * survives restarts: txid/TXID (the record of one issuance: the DER
 * certificate issued for that transaction, written whole or not at all; a
 * replayed transaction gets it back, never a second one), issued/SERIAL.der
 * (the index by serial, rebuilt from txid/ at start-up), revoked/SERIAL
 * (reason), confirmed/SERIAL (certConf seen),
 * otp/REF (one-time secrets; moved to otp-used/ once confirmed), idm/ (pushed
 * certificates), crl.der. Faults for the failure tests: unprotected, badsig,
 * untrusted, othersigner, badtxid, badnonce, garbage, http500, crl-forged,
 * crl-garbage.
 * --crash-at issue (the kill -9 tests): SIGKILL itself between an issuance's
 * record and its index.
 * --implicit-confirm yes|no: grant implicit confirmation to a request that
 * asks for it (default yes, as a CA's "allow implicit confirm"); a granted
 * issuance is confirmed/SERIAL at once, no certConf follows.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <openssl/bn.h>
#include <openssl/cmp.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/cader.h"
#include "ca/testca.h"
#include "ca/cafile.h"
#include "tlv.h"


void
tca_logx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "testca: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void
fatalx(const char *what)
{
	tca_logx("fatal: %s", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

void
tca_path(char *out, const struct srv *s, const char *sub, const char *name)
{
	snprintf(out, MAX_PATH, "%s/%s%s%s", s->dir, sub, name ? "/" : "",
	    name ? name : "");
}

/* --no-fsync (benchmarks): the CA's own durability is not what is measured. */
static int no_fsync;

int
tca_write_file(const char *p, const void *data, size_t len)
{
	return cafile_write_atomic(p, data, len, !no_fsync);
}

/* Reads a small state file; returns its length or -1. */
long
tca_read_file(const char *p, uint8_t *buf, size_t cap)
{
	FILE *f;
	size_t n;

	if ((f = fopen(p, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n == cap ? -1 : (long)n;
}

void
tca_hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < n && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

void
tca_serial_hex(const ASN1_INTEGER *sn, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", h ? h : "0");
	OPENSSL_free(h);
	BN_free(bn);
}

X509 *
tca_load_der_cert(const char *p)
{
	uint8_t buf[16384];
	const unsigned char *q = buf;
	long n = tca_read_file(p, buf, sizeof(buf));

	return n < 0 ? NULL : d2i_X509(NULL, &q, n);
}

/*
 * The kill -9 tests' crash point: a SIGKILL, as from outside, between two
 * steps of the CA's own work (no cleanup, no buffered output flushed).
 */
void
tca_crash_point(struct srv *s, const char *name)
{
	if (s->crash_at == NULL || strcmp(s->crash_at, name) != 0)
		return;
	tca_logx("crash point %s: SIGKILL", name);
	raise(SIGKILL);
}

/* ---- HTTP ---- */

static void
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0 && (w = write(fd, c, n)) > 0) {
		c += w;
		n -= (size_t)w;
	}
}

/* One write for head and body: two small writes meet Nagle and the
 * peer's delayed ACK and cost 40 ms each. */
static void
reply(int fd, int code, const char *type, const void *body, size_t n)
{
	static char out[MAX_HEAD + MAX_BODY];
	int h;

	h = snprintf(out, MAX_HEAD, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code,
	    code == 200 ? "OK" : "Error", type, n);
	if (h < 0 || h >= MAX_HEAD || n > MAX_BODY)
		return;
	memcpy(out + h, body, n);
	send_all(fd, out, (size_t)h + n);
}

/* --dump DIR keeps every CMP message (fuzzing seeds). */
static void
dump_msg(struct srv *s, const char *what, const uint8_t *der, size_t n)
{
	char p[MAX_PATH];

	if (s->dump == NULL)
		return;
	snprintf(p, sizeof(p), "%s/%s-%ld-%d.der", s->dump, what, (long)getpid(),
	    s->dumped++);
	(void)tca_write_file(p, der, n);
}

static OSSL_CMP_SRV_CTX *make_srv(struct srv *s);

/*
 * Transactions side by side, as a real CA keeps them: OpenSSL's server
 * context holds one transaction (its ID, nonces, the certReqId a certConf
 * must answer), so each transaction gets a context of its own, found again
 * by the transactionID of its next message. A message that starts a
 * transaction takes the least recently used slot; a certConf or pollReq of
 * an unknown transaction gets a fresh context, which refuses it.
 */
#define TX_SLOTS 32
/* PKIBody choices (RFC 4210 5.1.2; OpenSSL 3.0 keeps its names private). */
#define BODY_CERTCONF 24
#define BODY_POLLREQ 25
static struct tx {
	unsigned char id[64];
	int len;
	OSSL_CMP_SRV_CTX *sctx;
	unsigned long used;
} txs[TX_SLOTS];
static unsigned long tx_clock;

static OSSL_CMP_SRV_CTX *
srv_for(struct srv *s, const OSSL_CMP_MSG *req)
{
	const ASN1_OCTET_STRING *id =
	    OSSL_CMP_HDR_get0_transactionID(OSSL_CMP_MSG_get0_header(req));
	int type = OSSL_CMP_MSG_get_bodytype(req), i, lru = 0;
	int len = id != NULL ? ASN1_STRING_length(id) : 0;
	const unsigned char *p = id != NULL ? ASN1_STRING_get0_data(id) : NULL;
	int starts = type != BODY_CERTCONF && type != BODY_POLLREQ;

	for (i = 0; i < TX_SLOTS; i++) {
		if (txs[i].sctx != NULL && len > 0 && txs[i].len == len &&
		    memcmp(txs[i].id, p, (size_t)len) == 0) {
			txs[i].used = ++tx_clock;
			return txs[i].sctx;	/* the same transaction, or its resend */
		}
		if (txs[i].used < txs[lru].used)
			lru = i;
	}
	OSSL_CMP_SRV_CTX_free(txs[lru].sctx);
	txs[lru].sctx = make_srv(s);
	txs[lru].used = ++tx_clock;
	txs[lru].len = starts && len > 0 && len <= (int)sizeof(txs[lru].id) ?
	    len : 0;
	if (txs[lru].len > 0)
		memcpy(txs[lru].id, p, (size_t)len);
	return txs[lru].sctx;
}

static void
serve_cmp(struct srv *s, int fd, const uint8_t *body, size_t n,
    int enroll_only)
{
	OSSL_CMP_SRV_CTX *sctx;
	const unsigned char *p = body;
	unsigned char *der = NULL;
	OSSL_CMP_MSG *req, *rsp = NULL;
	int len = 0;

	if (s->delay > 0)
		sleep((unsigned)s->delay);
	if (strcmp(s->fault, "http500") == 0)
		return reply(fd, 500, "text/plain", "fault\n", 6);
	if (strcmp(s->fault, "garbage") == 0)
		return reply(fd, 200, "application/pkixcmp", "\x30\x03\x02\x01\x09", 5);
	req = d2i_OSSL_CMP_MSG(NULL, &p, (long)n);
	if (req == NULL || p != body + n) {
		OSSL_CMP_MSG_free(req);
		return reply(fd, 400, "text/plain", "bad request\n", 12);
	}
	s->req_der = body;
	s->req_len = n;
	sctx = srv_for(s, req);
	dump_msg(s, "req", body, n);
	tca_begin_request(s, req, OSSL_CMP_SRV_CTX_get0_cmp_ctx(sctx));
	/* The enrollment endpoint has no TLS client authentication: only
	 * requests MAC-protected with a live one-time secret get through. */
	if (enroll_only && !s->have_otp) {
		tca_logx("enroll endpoint: no valid one-time secret reference");
		OSSL_CMP_MSG_free(req);
		return reply(fd, 403, "text/plain", "forbidden\n", 10);
	}
	rsp = OSSL_CMP_SRV_process_request(sctx, req);
	if (rsp != NULL)
		rsp = tca_refault(s, rsp);
	if (rsp != NULL && (len = i2d_OSSL_CMP_MSG(rsp, &der)) > 0) {
		if (strcmp(s->fault, "badsig") == 0)
			tca_flip_protection(der, (size_t)len);
		dump_msg(s, "rsp", der, (size_t)len);
		reply(fd, 200, "application/pkixcmp", der, (size_t)len);
	} else {
		ERR_print_errors_fp(stderr);
		reply(fd, 500, "text/plain", "no response\n", 12);
	}
	OPENSSL_free(der);
	OSSL_CMP_MSG_free(rsp);
	OSSL_CMP_MSG_free(req);
}

/* fault crl-forged: the same CRL content, signed by a key nobody trusts. */
static void
serve_forged_crl(struct srv *s, int fd)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_CRL *crl = tca_make_crl(s);
	unsigned char *der = NULL;
	int n;

	if (k != NULL && crl != NULL && X509_CRL_sign(crl, k, EVP_sha256()) &&
	    (n = i2d_X509_CRL(crl, &der)) > 0)
		reply(fd, 200, "application/pkix-crl", der, (size_t)n);
	else
		reply(fd, 500, "text/plain", "forge\n", 6);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	EVP_PKEY_free(k);
}

static void
serve_crl(struct srv *s, int fd)
{
	char p[MAX_PATH];
	static uint8_t buf[MAX_BODY];
	long n;

	if (strcmp(s->fault, "crl-forged") == 0)
		return serve_forged_crl(s, fd);
	/* fault crl-garbage: well-formed DER (SEQUENCE { INTEGER 5 }), no CRL. */
	if (strcmp(s->fault, "crl-garbage") == 0)
		return reply(fd, 200, "application/pkix-crl",
		    "\x30\x03\x02\x01\x05", 5);
	/* Regenerate on each fetch: fresh lastUpdate, and a short-lived
	 * --crl-seconds behaves like a real CA's schedule. */
	(void)tca_publish_crl(s);
	tca_path(p, s, "crl.der", NULL);
	if ((n = tca_read_file(p, buf, sizeof(buf))) < 0)
		return reply(fd, 404, "text/plain", "no crl\n", 7);
	reply(fd, 200, "application/pkix-crl", buf, (size_t)n);
}

/* The identity manager stand-in: keeps each pushed certificate. */
static void
serve_idm(struct srv *s, int fd, const uint8_t *body, size_t n,
    const char *ctype)
{
	char p[MAX_PATH], name[64];
	static int seq;

	if (strcasecmp(ctype, "application/pkix-cert") != 0)
		return reply(fd, 415, "text/plain", "content type\n", 13);
	snprintf(name, sizeof(name), "%ld-%d.b64", (long)time(NULL), seq++);
	tca_path(p, s, "idm", name);
	if (tca_write_file(p, body, n) != 0)
		return reply(fd, 500, "text/plain", "store\n", 6);
	tca_logx("idm push stored %s (%zu bytes)", name, n);
	reply(fd, 200, "text/plain", "stored\n", 7);
}

/* Bounded header parse: request line, Content-Length, Content-Type. */
static int
parse_head(char *head, char **method, char **target, size_t *clen,
    char *ctype, size_t ctcap)
{
	char *save = NULL, *line, *v;
	long l;

	*clen = 0;
	ctype[0] = '\0';
	if ((line = strtok_r(head, "\r\n", &save)) == NULL)
		return -1;
	*method = strtok_r(line, " ", &v);
	*target = strtok_r(NULL, " ", &v);
	if (*method == NULL || *target == NULL)
		return -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		if ((v = strchr(line, ':')) == NULL)
			return -1;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (strcasecmp(line, "Content-Length") == 0) {
			l = strtol(v, NULL, 10);
			if (l < 0 || l > MAX_BODY)
				return -1;
			*clen = (size_t)l;
		} else if (strcasecmp(line, "Content-Type") == 0)
			snprintf(ctype, ctcap, "%s", v);
	}
	return 0;
}

static int
read_request(int fd, char *head, uint8_t *body, size_t *blen, char **method,
    char **target, char *ctype, size_t ctcap)
{
	static char raw[MAX_HEAD + MAX_BODY];
	size_t have = 0, hl, clen;
	char *end = NULL;
	ssize_t r;

	while (end == NULL && have < MAX_HEAD) {
		if ((r = read(fd, raw + have, MAX_HEAD - have)) <= 0)
			return -1;
		have += (size_t)r;
		raw[have] = '\0';
		end = strstr(raw, "\r\n\r\n");
	}
	if (end == NULL)
		return -1;
	hl = (size_t)(end - raw) + 4;
	memcpy(head, raw, hl - 4);
	head[hl - 4] = '\0';
	if (parse_head(head, method, target, &clen, ctype, ctcap) != 0)
		return -1;
	while (have - hl < clen) {
		if ((r = read(fd, raw + have, hl + clen - have)) <= 0)
			return -1;
		have += (size_t)r;
	}
	memcpy(body, raw + hl, clen);
	*blen = clen;
	return 0;
}

static void
serve_one(struct srv *s, int fd)
{
	static char head[MAX_HEAD + 1];
	static uint8_t body[MAX_BODY];
	char *method, *target, ctype[128];
	size_t n;

	if (read_request(fd, head, body, &n, &method, &target, ctype,
	    sizeof(ctype)) != 0)
		return;
	if (strcmp(method, "POST") == 0 && strcmp(target, "/cmp") == 0)
		serve_cmp(s, fd, body, n, 0);
	else if (strcmp(method, "POST") == 0 && strcmp(target, "/enroll") == 0)
		serve_cmp(s, fd, body, n, 1);
	else if (strcmp(method, "GET") == 0 && strcmp(target, "/crl") == 0)
		serve_crl(s, fd);
	else if (strcmp(method, "POST") == 0 && strcmp(target, "/idm") == 0)
		serve_idm(s, fd, body, n, ctype);
	else if (strcmp(method, "GET") == 0 && strcmp(target, "/health") == 0)
		reply(fd, 200, "text/plain", "ok\n", 3);
	else
		reply(fd, 404, "text/plain", "not found\n", 10);
	ERR_clear_error();
}

/* ---- setup ---- */

static void
load_state(struct srv *s)
{
	char p[MAX_PATH];
	const char *subs[] = { "issued", "revoked", "txid", "confirmed", "otp",
	    "otp-used", "idm" };
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		tca_path(p, s, subs[i], NULL);
		(void)mkdir(p, 0700);
	}
	tca_path(p, s, "ca.crt", NULL);
	s->ca = cafile_load_pem_cert(p);
	tca_path(p, s, "root.crt", NULL);
	s->root = cafile_load_pem_cert(p);
	tca_path(p, s, "ca.key", NULL);
	if ((f = fopen(p, "r")) != NULL) {
		s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (s->ca == NULL || s->root == NULL || s->key == NULL)
		fatalx("cannot load ca.crt, ca.key, root.crt");
	s->trust = X509_STORE_new();
	X509_STORE_add_cert(s->trust, s->root);
	X509_STORE_add_cert(s->trust, s->ca);
	tca_repair_index(s);
}

/*
 * fault othersigner: every response comes from the CA operator's
 * certificate (sender name and signature), which chains to the same root
 * but is not the CA: only a client that pins the expected sender refuses it.
 */
static void
sign_as_operator(struct srv *s, OSSL_CMP_CTX *ctx)
{
	char p[MAX_PATH];
	EVP_PKEY *k = NULL;
	X509 *x;
	FILE *f;

	tca_path(p, s, "admin.crt", NULL);
	x = cafile_load_pem_cert(p);
	tca_path(p, s, "admin.key", NULL);
	if ((f = fopen(p, "r")) != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL || k == NULL || !OSSL_CMP_CTX_set1_cert(ctx, x) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, k))
		fatalx("fault othersigner needs admin.crt and admin.key");
	X509_free(x);
	EVP_PKEY_free(k);
}

static OSSL_CMP_SRV_CTX *
make_srv(struct srv *s)
{
	OSSL_CMP_SRV_CTX *sctx = OSSL_CMP_SRV_CTX_new(NULL, NULL);
	OSSL_CMP_CTX *ctx;

	if (sctx == NULL || !OSSL_CMP_SRV_CTX_init(sctx, s, tca_cb_cert_request,
	    tca_cb_rr, tca_cb_genm, tca_cb_error, tca_cb_certconf, tca_cb_poll) ||
	    !OSSL_CMP_SRV_CTX_set_grant_implicit_confirm(sctx, s->implicit))
		fatalx("OSSL_CMP_SRV_CTX");
	ctx = OSSL_CMP_SRV_CTX_get0_cmp_ctx(sctx);
	if (strcmp(s->fault, "othersigner") == 0)
		sign_as_operator(s, ctx);
	else if (!OSSL_CMP_CTX_set1_cert(ctx, s->ca) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, s->key))
		fatalx("server CMP context");
	if (!X509_STORE_up_ref(s->trust) ||
	    !OSSL_CMP_CTX_set0_trustedStore(ctx, s->trust))
		fatalx("server CMP context");
	if (strcmp(s->fault, "unprotected") == 0)
		OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_UNPROTECTED_SEND, 1);
	OSSL_CMP_CTX_set_log_verbosity(ctx, OSSL_CMP_LOG_WARNING);
	return sctx;
}

static int
listen_on(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64))
		fatalx(strerror(errno));
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: testca --state DIR --port N [--crl-url URL] "
	    "[--crl-seconds N] [--validity SECONDS] [--fault MODE] "
	    "[--delay SECONDS] [--dump DIR] [--crash-at issue] "
	    "[--implicit-confirm yes|no]\n");
	exit(2);
}

static void
parse_args(struct srv *s, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--no-fsync") == 0; i++)
		no_fsync = 1;
	for (; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];

		if (strcmp(o, "--state") == 0) s->dir = v;
		else if (strcmp(o, "--port") == 0) s->port = atoi(v);
		else if (strcmp(o, "--crl-url") == 0) s->crl_url = v;
		else if (strcmp(o, "--crl-seconds") == 0) s->crl_seconds = atol(v);
		else if (strcmp(o, "--validity") == 0) s->validity = atol(v);
		else if (strcmp(o, "--fault") == 0) s->fault = v;
		else if (strcmp(o, "--delay") == 0) s->delay = atoi(v);
		else if (strcmp(o, "--dump") == 0) s->dump = v;
		else if (strcmp(o, "--crash-at") == 0) s->crash_at = v;
		else if (strcmp(o, "--implicit-confirm") == 0 &&
		    (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0))
			s->implicit = strcmp(v, "yes") == 0;
		else usage();
	}
	if (i != argc || s->dir == NULL || s->port <= 0)
		usage();
}

int
main(int argc, char **argv)
{
	struct srv s = { .fault = "none", .crl_seconds = 3600,
	    .validity = 365L * 86400, .implicit = 1 };
	int lfd, fd;

	parse_args(&s, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	load_state(&s);
	OSSL_CMP_SRV_CTX_free(make_srv(&s));	/* fails early if it cannot */
	if (tca_publish_crl(&s) != 0)
		fatalx("cannot write the CRL");
	lfd = listen_on(s.port);
	tca_logx("listening on 127.0.0.1:%d fault=%s implicit_confirm=%s", s.port,
	    s.fault, s.implicit ? "yes" : "no");
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		serve_one(&s, fd);
		close(fd);
	}
}
