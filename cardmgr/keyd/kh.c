/* kh: keyd's side of the PKCS#11 helper. See kh.h. */
#include "keyd/kh.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keyd/keyd_msg.h"
#include "keyd/ks.h"
#include "proc/log.h"

/* A helper that dies within this long of its start counts as a repeat. */
#define KH_STABLE_MS	60000
#define KH_BACKOFF_MAX_MS	60000

struct kh {
	struct kh_cfg cfg;
	pid_t pid;		/* 0: down */
	int fd;
	int64_t started, next_try;	/* CLOCK_MONOTONIC, ms */
	unsigned fails;		/* deaths in a row, each within KH_STABLE_MS */
	uint32_t master, krk;
	char detail[128];
};

static int64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
kh_detail(const struct kh *h)
{
	return h != NULL ? h->detail : "";
}

int
kh_pid(const struct kh *h)
{
	return h != NULL ? (int)h->pid : 0;
}

void
kh_versions(const struct kh *h, uint32_t *master, uint32_t *krk)
{
	*master = h->master;
	*krk = h->krk;
}

/* In the child: keep only the socket (as fd 3) and stderr, then serve. */
static void __attribute__((noreturn))
child(struct kh *h, int sock)
{
	struct sigaction sa;
	sigset_t none;

	/*
	 * No handler of keyd's (or a test runner's, or a sanitizer's) may run
	 * when the module crashes: the helper just dies, and keyd sees the
	 * signal. SIGPIPE stays ignored, as in every process of the station.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sig != SIGPIPE)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
		_exit(70);
	(void)prctl(PR_SET_NAME, "p11h");
	if (sock != 3 && dup2(sock, 3) != 3)
		_exit(71);
	if (close_range(4, ~0U, 0) != 0)
		_exit(72);
	/* keyd's sealed PIN: the helper gets its own copy in the message */
	sodium_free(h->cfg.pin);
	h->cfg.pin = NULL;
	_exit(p11h_main(3, h->cfg.sbx_mode));
}

/* Reap the helper (killing it first if kill_it) and say how it ended. */
static void
reap(struct kh *h, int kill_it, const char *why)
{
	int st = 0, i;
	pid_t r = 0;

	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid <= 0)
		return;
	/*
	 * SIGTERM first: a helper inside C_Login holds it off until SoftHSM2
	 * has rewritten token.object (proc/sighold.h), SIGKILL would not.
	 */
	if (kill_it)
		kill(h->pid, SIGTERM);
	/* A crashed helper is gone already; one that closed its end is going. */
	for (i = 0; i < 200 && (r = waitpid(h->pid, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r == 0) {
		kill(h->pid, SIGKILL);
		r = waitpid(h->pid, &st, 0);
	}
	if (why != NULL && why != h->detail)
		snprintf(h->detail, sizeof(h->detail), "%s", why);
	else if (why != NULL)
		;	/* already there */
	else if (r > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		snprintf(h->detail, sizeof(h->detail),
		    "module helper killed by its sandbox (SIGSYS)");
	else if (r > 0 && WIFSIGNALED(st))
		snprintf(h->detail, sizeof(h->detail),
		    "module crashed (signal %d)", WTERMSIG(st));
	else if (r > 0 && WIFEXITED(st))
		snprintf(h->detail, sizeof(h->detail),
		    "module helper exited (status %d)", WEXITSTATUS(st));
	else
		snprintf(h->detail, sizeof(h->detail), "module helper lost");
	h->pid = 0;
	/* at once, then 1, 2, 4 .. 60 s while it keeps dying young */
	h->fails = mono() - h->started < KH_STABLE_MS ? h->fails + 1 : 1;
	h->next_try = mono() + (h->fails <= 1 ? 0 :
	    1000 * ((int64_t)1 << (h->fails - 2 > 6 ? 6 : h->fails - 2)));
	if (h->next_try - mono() > KH_BACKOFF_MAX_MS)
		h->next_try = mono() + KH_BACKOFF_MAX_MS;
}

/* Wait for one datagram within ms. 0, or -1 with h->detail set. */
static int
recv_timed(struct kh *h, uint8_t *buf, size_t cap, int ms, size_t *len)
{
	struct pollfd pfd = { h->fd, POLLIN, 0 };
	struct msg_hdr hdr;
	int rc;

	do
		rc = poll(&pfd, 1, ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		snprintf(h->detail, sizeof(h->detail),
		    "module did not answer within %d s (killed)", ms / 1000);
		reap(h, 1, h->detail);
		return -1;
	}
	rc = rc < 0 ? MSG_ERR_IO : msg_recv(h->fd, buf, cap, &hdr, len);
	if (rc == MSG_ERR_CLOSED) {
		reap(h, 0, NULL);	/* the status says why */
		return -1;
	}
	if (rc != MSG_OK) {
		reap(h, 1, "malformed answer from the module helper (killed)");
		return -1;
	}
	return 0;
}

static int
send_open(struct kh *h)
{
	struct msg_builder b;
	int rc;

	if (msg_builder_init(&b) != MSG_OK)
		return MSG_ERR_NOMEM;
	msg_put_str(&b, KS_F_MODULE, h->cfg.module);
	msg_put_str(&b, KS_F_TOKEN, h->cfg.token);
	msg_put_str(&b, KS_F_STATION, h->cfg.station_label);
	msg_put_str(&b, KS_F_AUDIT, h->cfg.audit_label);
	if (sodium_mprotect_readonly(h->cfg.pin) != 0) {
		msg_builder_clear(&b);
		return MSG_ERR_ARG;
	}
	msg_put_bytes(&b, KS_F_PIN, h->cfg.pin, h->cfg.pinlen);
	(void)sodium_mprotect_noaccess(h->cfg.pin);
	rc = msg_send(h->fd, MSG_KS_P11H_OPEN, 1, &b);
	msg_builder_clear(&b);	/* wipes the PIN's copy */
	return rc;
}

/*
 * Fork a helper and open the token in it. 0 with *ksrc the open's answer
 * (the helper stays only if KS_OK), -1 if it failed to come up.
 */
static int
start(struct kh *h, int *ksrc)
{
	struct msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int sv[2], rc = -1;
	const struct msg_field *f;

	*ksrc = KS_ERR_HELPER;
	h->started = mono();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(h->detail, sizeof(h->detail), "socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if ((h->pid = fork()) < 0) {
		snprintf(h->detail, sizeof(h->detail), "fork: %s", strerror(errno));
		h->pid = 0;
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (h->pid == 0) {
		close(sv[0]);
		child(h, sv[1]);
	}
	close(sv[1]);
	h->fd = sv[0];
	if ((buf = sodium_malloc(MSG_MAX)) == NULL ||
	    (m = malloc(sizeof(*m))) == NULL) {
		reap(h, 1, "out of memory");
		goto out;
	}
	if (send_open(h) != MSG_OK) {
		reap(h, 1, NULL);	/* it died first: its status says why */
		goto out;
	}
	if (recv_timed(h, buf, MSG_MAX, h->cfg.open_timeout_ms, &len) != 0)
		goto out;
	if (kh_reply_check(buf, len, MSG_KS_P11H_OPEN, 1, 0, m) != 0) {
		reap(h, 1, "malformed answer from the module helper (killed)");
		goto out;
	}
	*ksrc = (int)(int32_t)msg_get(m, KS_R_RC)->num;
	if (*ksrc == KS_OK) {
		h->master = (f = msg_get(m, KS_R_NUM)) != NULL ? (uint32_t)f->num : 0;
		h->krk = (f = msg_get(m, KS_R_NUM2)) != NULL ? (uint32_t)f->num : 0;
		log_info("PKCS#11 helper %d: token open", (int)h->pid);
	} else {
		snprintf(h->detail, sizeof(h->detail), "%s", ks_strerror(*ksrc));
		reap(h, 0, h->detail);
	}
	rc = 0;
out:
	free(m);
	if (buf != NULL)
		sodium_free(buf);
	return rc;
}

int
kh_open(const struct kh_cfg *cfg, struct kh **out, int *ksrc,
    uint32_t *master, uint32_t *krk)
{
	struct kh *h;
	int rc;

	*out = NULL;
	*ksrc = KS_ERR_HELPER;
	*master = *krk = 0;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->cfg = *cfg;
	h->fd = -1;
	if (h->cfg.timeout_ms <= 0)
		h->cfg.timeout_ms = KH_TIMEOUT_MS;
	if (h->cfg.open_timeout_ms <= 0)
		h->cfg.open_timeout_ms = KH_OPEN_TIMEOUT_MS;
	/* sealed between uses: only send_open opens it, read-only */
	if (sodium_mprotect_noaccess(h->cfg.pin) != 0) {
		free(h);
		return -1;
	}
	rc = start(h, ksrc);
	*master = h->master;
	*krk = h->krk;
	*out = h;
	return rc;
}

/* Bring a helper back if it is down and its backoff is over. */
static int
revive(struct kh *h)
{
	char why[sizeof(h->detail)];
	int ksrc;

	if (h->pid > 0)
		return 0;
	if (mono() < h->next_try) {
		snprintf(why, sizeof(why), "%s", h->detail);
		snprintf(h->detail, sizeof(h->detail), "%.90s; restart in %d s",
		    why, (int)((h->next_try - mono() + 999) / 1000));
		return -1;
	}
	/* a failed start was reaped, and its backoff counted, in there */
	if (start(h, &ksrc) != 0 || ksrc != KS_OK) {
		log_warnx("PKCS#11 helper restart failed: %s", h->detail);
		return -1;
	}
	log_info("PKCS#11 helper restarted (pid %d, restart %u in a row)",
	    (int)h->pid, h->fails);
	return 0;
}

int
kh_call(struct kh *h, const uint8_t *req, size_t reqlen, uint8_t *rbuf,
    size_t cap, size_t expect, struct msg *m)
{
	struct msg_hdr hdr;
	size_t len;
	ssize_t n;

	if (msg_hdr_parse(req, reqlen, &hdr) != MSG_OK)
		return KS_ERR_ARG;
	if (revive(h) != 0)
		return KS_ERR_HELPER;
	do
		n = send(h->fd, req, reqlen, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)reqlen) {
		reap(h, 1, NULL);
		goto dead;
	}
	if (recv_timed(h, rbuf, cap, h->cfg.timeout_ms, &len) != 0)
		goto dead;
	if (kh_reply_check(rbuf, len, hdr.type, hdr.id, expect, m) != 0) {
		reap(h, 1, "malformed answer from the module helper (killed)");
		goto dead;
	}
	return KS_OK;
dead:
	log_warnx("PKCS#11 helper: %s", h->detail);
	/*
	 * The request fails now; the restart (a login, maybe a slow one) comes
	 * after the answer: keyd's loop calls kh_tick once kh_wait_ms says so
	 * (at once the first time), or the next request brings it back.
	 */
	return KS_ERR_HELPER;
}

int
kh_wait_ms(const struct kh *h)
{
	int64_t now = mono();

	if (h == NULL || h->pid > 0)
		return -1;
	return h->next_try <= now ? 0 : (int)(h->next_try - now);
}

void
kh_tick(struct kh *h)
{
	if (h != NULL && h->pid == 0 && h->next_try <= mono())
		(void)revive(h);
}

void
kh_close(struct kh *h)
{
	if (h == NULL)
		return;
	reap(h, 0, "closed");
	free(h);
}
