/*
 * vcard: a virtual PIV card on vsmartcard's vpcd.
 *
 * vpcd (the reader driver inside pcscd) listens on a TCP port per slot; the
 * card connects to it as a client. Frames are a 2-byte big-endian length and
 * a payload: one byte is a control code (00 power off, 01 power on, 02 reset,
 * 04 send ATR), more is a command APDU answered with one response frame.
 * Closing the socket is pulling the card. See tests/vcard/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/crypto.h>

#include "vc_card.h"
#include "vc_crypto.h"
#include "vc_trace.h"

#define DEFAULT_PORT	35963
#define MAX_INJECT	16
#define POLL_MS		200
#define FRAME_MAX	(VC_RESPONSE_MAX + 16)

#define log_err(...) do { fprintf(stderr, "vcard: " __VA_ARGS__); \
	fputc('\n', stderr); } while (0)

struct inject {
	uint8_t ins;
	uint16_t sw;
	long count;		/* < 0: every time */
};

struct opts {
	const char *state, *host, *trace, *attest_ca, *init_ca;
	int port, create, create_only, reconnect, have_serial;
	uint32_t serial;
	long latency_ms, keygen_ms, tear_after;
	long stall_after;	/* --stall-after: the Nth command APDU */
	int stall_ins;		/* --stall-on: that INS (-1: none)... */
	long stall_nth;		/* ...the Nth time it comes */
	struct inject inj[MAX_INJECT];
	size_t ninj;
};

enum end { END_READER, END_TEAR, END_STOP, END_ERROR, END_STALE, END_STALL };

static volatile sig_atomic_t stop_flag, totals_flag;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		totals_flag = 1;
	else
		stop_flag = 1;
}

static void
usage(void)
{
	fputs("usage: vcard --state FILE [--port N] [--host ADDR] [--create]\n"
	    "             [--serial N] [--attest-ca KEY.pem:CERT.pem]\n"
	    "             [--latency-ms N] [--keygen-ms N] [--tear-after N]\n"
	    "             [--stall-after N] [--stall-on INS[:N]]\n"
	    "             [--inject-sw INS=SW[:COUNT],...] [--trace FILE] [--reconnect]\n"
	    "       vcard --state FILE --create-only [--serial N] [--attest-ca ...]\n"
	    "       vcard --init-ca DIR\n", stderr);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* INS=SW[:COUNT], comma separated; hex INS and SW. */
static int
parse_inject(struct opts *o, const char *spec)
{
	unsigned ins, sw;
	long count;
	int n, used;

	while (*spec != '\0') {
		if (o->ninj == MAX_INJECT)
			return -1;
		count = -1;
		used = 0;
		n = sscanf(spec, "%2x=%4x%n:%ld%n", &ins, &sw, &used, &count, &used);
		if (n < 2 || used == 0 || count == 0 || count < -1)
			return -1;
		o->inj[o->ninj++] = (struct inject){ (uint8_t)ins, (uint16_t)sw, count };
		spec += used;
		if (*spec == ',')
			spec++;
		else if (*spec != '\0')
			return -1;
	}
	return 0;
}

/* INS[:N], hex INS, decimal N >= 1 (default 1). */
static int
parse_stall_on(struct opts *o, const char *spec)
{
	unsigned ins;
	long nth = 1;
	int used = 0;

	if (sscanf(spec, "%2x%n:%ld%n", &ins, &used, &nth, &used) < 1 ||
	    used == 0 || spec[used] != '\0' || nth < 1)
		return -1;
	o->stall_ins = (int)ins;
	o->stall_nth = nth;
	return 0;
}

static int
parse_opt(struct opts *o, int c, const char *arg)
{
	long v;

	switch (c) {
	case 's': o->state = arg; return 0;
	case 'p': if (parse_long(arg, 1, 65535, &v)) return -1; o->port = (int)v; return 0;
	case 'H': o->host = arg; return 0;
	case 'c': o->create = 1; return 0;
	case 'S': if (parse_long(arg, 1, 0xFFFFFFFFL, &v)) return -1;
		o->serial = (uint32_t)v; o->have_serial = 1; return 0;
	case 'a': o->attest_ca = arg; return 0;
	case 'l': return parse_long(arg, 0, 600000, &o->latency_ms);
	case 'k': return parse_long(arg, 0, 600000, &o->keygen_ms);
	case 't': return parse_long(arg, 1, 0x7FFFFFFFL, &o->tear_after);
	case 'A': return parse_long(arg, 1, 0x7FFFFFFFL, &o->stall_after);
	case 'O': return parse_stall_on(o, arg);
	case 'i': return parse_inject(o, arg);
	case 'T': o->trace = arg; return 0;
	case 'r': o->reconnect = 1; return 0;
	case 'I': o->init_ca = arg; return 0;
	case 'C': o->create = o->create_only = 1; return 0;
	default:  return -1;
	}
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "create", no_argument, NULL, 'c' },
		{ "serial", required_argument, NULL, 'S' },
		{ "attest-ca", required_argument, NULL, 'a' },
		{ "latency-ms", required_argument, NULL, 'l' },
		{ "keygen-ms", required_argument, NULL, 'k' },
		{ "tear-after", required_argument, NULL, 't' },
		{ "stall-after", required_argument, NULL, 'A' },
		{ "stall-on", required_argument, NULL, 'O' },
		{ "inject-sw", required_argument, NULL, 'i' },
		{ "trace", required_argument, NULL, 'T' },
		{ "reconnect", no_argument, NULL, 'r' },
		{ "init-ca", required_argument, NULL, 'I' },
		{ "create-only", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->port = DEFAULT_PORT;
	o->host = "127.0.0.1";
	o->stall_ins = -1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (parse_opt(o, c, optarg) != 0) {
			if (c != '?')
				log_err("bad value for option: %s", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc || (o->state == NULL && o->init_ca == NULL))
		return -1;
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_flag)
		;
}

static int
load_ca(const char *spec, EVP_PKEY **key, X509 **cert)
{
	char *copy = strdup(spec), *colon;
	int rc = -1;

	if (copy == NULL)
		return -1;
	if ((colon = strchr(copy, ':')) != NULL) {
		*colon = '\0';
		rc = vc_crypto_load_ca(copy, colon + 1, key, cert) == VC_CRYPTO_OK ? 0 : -1;
	}
	free(copy);
	return rc;
}

/* Load the card, or make a blank one with --create if the file is absent. */
static struct vc_card *
open_card(const struct opts *o)
{
	struct vc_card_opts co = { o->serial, o->have_serial, NULL, NULL };
	struct vc_card *c = NULL;
	int rc;

	if (access(o->state, F_OK) == 0 || !o->create) {
		if ((rc = vc_card_load(o->state, &c)) != VC_OK)
			log_err("%s: %s", o->state, vc_strerror(rc));
		return c;
	}
	if (o->attest_ca != NULL && load_ca(o->attest_ca, &co.ca_key, &co.ca_cert)) {
		log_err("%s: cannot load attestation CA key:cert", o->attest_ca);
		return NULL;
	}
	if ((rc = vc_card_create(&co, &c)) == VC_OK &&
	    (rc = vc_card_save(c, o->state)) != VC_OK) {
		vc_card_free(c);
		c = NULL;
	}
	if (rc != VC_OK)
		log_err("%s: cannot create card: %s", o->state, vc_strerror(rc));
	EVP_PKEY_free(co.ca_key);
	X509_free(co.ca_cert);
	return c;
}

/*
 * One card, one reader: hold an exclusive lock on FILE.lock while the card
 * is in use, so the same state file cannot be inserted twice and fork into
 * two histories. The lock goes with the process. Returns the fd or -1.
 */
static int
lock_card(const char *state)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s.lock", state) >= sizeof(path))
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		log_err("%s: card already in use by another vcard", state);
		close(fd);
		return -1;
	}
	return fd;
}

static int
connect_once(const char *host, int port)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char portstr[8];
	int fd = -1, one = 1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(host, portstr, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Like a card waiting in a reader: retry every 100 ms until vpcd listens or
 * we are stopped, at most `tries` times (< 0: no limit).
 */
static int
connect_retry(const struct opts *o, struct vc_trace *tr, int tries)
{
	int fd, said = 0;

	while (!stop_flag && tries-- != 0) {
		if ((fd = connect_once(o->host, o->port)) >= 0)
			return fd;
		if (!said++)
			log_err("waiting for vpcd at %s:%d", o->host, o->port);
		if (totals_flag) {
			totals_flag = 0;
			vc_trace_totals(tr, stderr);
		}
		sleep_ms(100);
	}
	return -1;
}

/* Read exactly n bytes, waking up for signals. 1 ok, 0 closed, -1 stop/error. */
static int
read_full(int fd, uint8_t *p, size_t n, struct vc_trace *tr)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t r;
	int one = 1;

	while (n > 0) {
		if (stop_flag)
			return -1;
		if (totals_flag) {
			totals_flag = 0;
			vc_trace_totals(tr, stderr);
		}
		if (poll(&pfd, 1, POLL_MS) <= 0)
			continue;
		if ((r = read(fd, p, n)) == 0)
			return 0;
		/*
		 * vpcd writes the length and the APDU separately; without an
		 * immediate ACK, Nagle on its side holds the APDU for our 40 ms
		 * delayed ACK. The flag is not sticky, so set it on every read.
		 */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? 0 : -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

static int
send_frame(int fd, const uint8_t *data, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)data, len } };
	struct msghdr mh = { 0 };
	ssize_t n;

	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	/* Responses are small: one sendmsg is all or an error. */
	n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	return n == (ssize_t)(len + 2) ? 0 : -1;
}

static int
control(int fd, struct vc_card *card, uint8_t code, struct vc_trace *tr)
{
	const uint8_t *atr;
	size_t len;

	switch (code) {
	case 0x00: vc_trace_event(tr, "power off"); vc_card_power(card); return 0;
	case 0x01: vc_trace_event(tr, "power on"); vc_card_power(card); return 0;
	case 0x02: vc_trace_event(tr, "reset"); vc_card_power(card); return 0;
	case 0x04:
		atr = vc_card_atr(&len);
		return send_frame(fd, atr, len);
	default:
		log_err("unknown vpcd control byte %02x", code);
		return 0;
	}
}

/* --inject-sw: the SW to answer instead of running the command, or 0. */
static uint16_t
injected(struct opts *o, uint8_t ins)
{
	size_t i;

	for (i = 0; i < o->ninj; i++) {
		if (o->inj[i].ins != ins || o->inj[i].count == 0)
			continue;
		if (o->inj[i].count > 0)
			o->inj[i].count--;
		return o->inj[i].sw;
	}
	return 0;
}

/* --stall-after / --stall-on: does this command (the count-th) stall the card? */
static int
stalls(struct opts *o, const uint8_t *apdu, size_t len, long count)
{
	if (o->stall_after > 0 && count == o->stall_after)
		return 1;
	if (o->stall_ins >= 0 && len >= 2 && apdu[1] == o->stall_ins &&
	    o->stall_nth > 0 && --o->stall_nth == 0)
		return 1;
	return 0;
}

/* One command APDU: returns END_* to stop serving, -1 to go on. */
static int
command(int fd, struct opts *o, struct vc_card *card, const uint8_t *apdu,
    size_t len, uint8_t *rsp, struct vc_trace *tr, long *count)
{
	size_t rlen = 0;
	uint16_t sw = len >= 2 ? injected(o, apdu[1]) : 0;
	const char *note = NULL;

	vc_trace_command(tr, apdu, len);
	if (sw != 0) {
		rsp[0] = (uint8_t)(sw >> 8), rsp[1] = (uint8_t)sw, rlen = 2;
		note = "(injected)";
	} else if (vc_card_process(card, apdu, len, rsp, FRAME_MAX, &rlen) ==
	    VC_ERR_INVALID) {
		rsp[0] = 0x67, rsp[1] = 0x00, rlen = 2;
	}
	if (o->keygen_ms > 0 && len >= 2 && apdu[1] == 0x47)
		sleep_ms(o->keygen_ms);
	if (o->latency_ms > 0)
		sleep_ms(o->latency_ms);
	++*count;
	if (o->tear_after > 0 && *count >= o->tear_after) {
		vc_trace_event(tr, "tear: connection closed before the response");
		return END_TEAR;
	}
	if (stalls(o, apdu, len, *count)) {
		vc_trace_event(tr, "stall: no response, the card is mute from now on");
		return END_STALL;
	}
	vc_trace_response(tr, rsp, rlen, note);
	return send_frame(fd, rsp, rlen) == 0 ? -1 : END_READER;
}

/*
 * A stalled card: still in the reader, never answers again (not even a power
 * on or an ATR request), until it is pulled (SIGTERM) or vpcd hangs up.
 */
static enum end
mute(int fd, struct vc_trace *tr, uint8_t *buf)
{
	uint8_t hdr[2];
	size_t len;
	int r;

	for (;;) {
		if ((r = read_full(fd, hdr, 2, tr)) <= 0)
			break;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len > 0 && (r = read_full(fd, buf, len, tr)) <= 0)
			break;
		OPENSSL_cleanse(buf, len);
		vc_trace_event(tr, "stalled: frame ignored");
	}
	return r == 0 ? END_READER : stop_flag ? END_STOP : END_ERROR;
}

static enum end
serve(int fd, struct opts *o, struct vc_card *card, struct vc_trace *tr,
    uint8_t *buf, uint8_t *rsp, long *count)
{
	uint8_t hdr[2];
	size_t len;
	int r, unpowered = 1;

	for (;;) {
		if ((r = read_full(fd, hdr, 2, tr)) <= 0)
			return r == 0 ? END_READER : stop_flag ? END_STOP : END_ERROR;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0)
			continue;
		if ((r = read_full(fd, buf, len, tr)) <= 0)
			return r == 0 ? END_READER : stop_flag ? END_STOP : END_ERROR;
		/*
		 * A power off before any power on is pcscd finishing the removal
		 * of the card that was here before (after a torn APDU), relayed
		 * by vpcd to us; pcscd would then never power us on and the
		 * reader would look empty for good. Reinsert ourselves.
		 */
		if (unpowered && len == 1 && buf[0] == 0x00) {
			vc_trace_event(tr, "stale power off: reinserting");
			return END_STALE;
		}
		if (len > 1 || buf[0] == 0x01)
			unpowered = 0;
		if (len == 1) {
			if (control(fd, card, buf[0], tr) != 0)
				return END_READER;
			continue;
		}
		r = command(fd, o, card, buf, len, rsp, tr, count);
		/* The frames may hold a PIN, a key or a decrypted secret. */
		OPENSSL_cleanse(buf, len);
		OPENSSL_cleanse(rsp, FRAME_MAX);
		if (r == END_STALL)
			return mute(fd, tr, buf);
		if (r >= 0)
			return (enum end)r;
	}
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int
run(struct opts *o, struct vc_card *card, struct vc_trace *tr)
{
	uint8_t *buf = malloc(FRAME_MAX), *rsp = malloc(FRAME_MAX);
	enum end e = END_ERROR;
	long count = 0;
	int fd;

	if (buf == NULL || rsp == NULL)
		goto out;
	/* After a stale power off vpcd is there: 2 s to get back in, else give up. */
	while ((fd = connect_retry(o, tr, e == END_STALE && !o->reconnect ?
	    20 : -1)) >= 0) {
		vc_card_power(card);
		vc_trace_event(tr, "inserted");
		e = serve(fd, o, card, tr, buf, rsp, &count);
		close(fd);
		vc_card_power(card);
		vc_trace_event(tr, "removed");
		if (e == END_STALE) {
			sleep_ms(100);
			continue;
		}
		if (e != END_READER || !o->reconnect)
			break;
	}
	if (stop_flag)
		e = END_STOP;
out:
	free(buf);
	free(rsp);
	return e == END_ERROR ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct vc_trace tr;
	struct vc_card *card;
	int rc, lockfd;

	if (parse_args(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	umask(077);
	if (o.init_ca != NULL) {
		rc = vc_crypto_init_ca(o.init_ca);
		if (rc != VC_CRYPTO_OK)
			log_err("%s: %s", o.init_ca, vc_crypto_strerror(rc));
		return rc == VC_CRYPTO_OK ? 0 : 1;
	}
	install_signals();
	if ((lockfd = lock_card(o.state)) < 0 || (card = open_card(&o)) == NULL)
		return 1;
	if (o.create_only) {
		vc_card_free(card);
		return 0;
	}
	if (vc_card_bind(card, o.state) != VC_OK ||
	    vc_trace_open(&tr, o.trace) != 0) {
		log_err("cannot open trace %s: %s", o.trace, strerror(errno));
		vc_card_free(card);
		return 1;
	}
	rc = run(&o, card, &tr);
	vc_trace_totals(&tr, NULL);
	vc_trace_close(&tr);
	vc_card_free(card);
	close(lockfd);
	return rc;
}
