/*
 * kh: keyd's side of the PKCS#11 helper (p11h.c), the process that runs the
 * station token's vendor module so that a crash in it cannot take keyd,
 * and with it the station, down (OpenSSH's ssh-pkcs11-helper).
 *
 * keyd forks the helper over a SOCK_SEQPACKET socketpair, sends it
 * MSG_KS_P11H_OPEN (module, token, labels and the PIN from keyd's sealed
 * copy: never argv or environment) and then forwards the engine's requests
 * that need the token, after its own checks. Every answer is decoded and
 * checked (kh_reply_check) before it goes on to the engine. If the helper
 * dies (a signal, an exit), does not answer within the timeout, or answers
 * something malformed, the request fails with KS_ERR_HELPER and kh_detail()
 * says why ("module crashed (signal 11)"); the helper is killed if need be,
 * reaped, and started again once the answer is out (kh_tick, from keyd's
 * loop): at once the first time, then after a backoff (1, 2, 4 .. 60 s)
 * while it keeps dying within a minute of its start.
 * Nothing here dlopens a module.
 */
#ifndef KH_H
#define KH_H

#include <stddef.h>
#include <stdint.h>

#include "proc/msg.h"

struct kh_cfg {
	const char *module;	/* absolute path of the PKCS#11 module */
	const char *token;	/* token label */
	const char *station_label, *audit_label;
	/* keyd's sealed PIN copy (sodium_malloc'd, kept PROT_NONE between
	 * uses by kh): opened read-only only while the OPEN message is built */
	uint8_t *pin;
	size_t pinlen;
	int sbx_mode;		/* enum sbx_mode for the helper's filter */
	int timeout_ms;		/* an answer (0: KH_TIMEOUT_MS) */
	int open_timeout_ms;	/* the OPEN answer: login, provisioning */
};

#define KH_TIMEOUT_MS		20000
#define KH_OPEN_TIMEOUT_MS	120000

struct kh;

/*
 * Start the helper and open the token. [out] *out (kh_close), and the token's
 * answer to the open: *ksrc (KS_OK, KS_ERR_NOTOKEN, ...), *master, *krk.
 * Returns 0 when the helper answered (whatever *ksrc), -1 if it could not
 * be started or did not answer (kh_detail says why; *out is still set).
 */
int kh_open(const struct kh_cfg *cfg, struct kh **out, int *ksrc,
    uint32_t *master, uint32_t *krk);

/*
 * Forward one request (a whole message as received: header + payload, its
 * id kept) and wait for the answer into rbuf (cap >= MSG_MAX), decoded into
 * *m. expect: the exact data length the answer must carry on success (0:
 * any). KS_OK: *m holds a checked MSG_KS_RESP with the request's id;
 * KS_ERR_HELPER: the helper failed (kh_detail), it has been restarted or
 * will be after its backoff.
 */
int kh_call(struct kh *h, const uint8_t *req, size_t reqlen, uint8_t *rbuf,
    size_t cap, size_t expect, struct msg *m);

/* Why the last kh_call/kh_open failed: "module crashed (signal 11)". */
const char *kh_detail(const struct kh *h);
/* The helper's pid (0 while it is down): tests and logs. */
int kh_pid(const struct kh *h);
/* Versions the last successful open reported. */
void kh_versions(const struct kh *h, uint32_t *master, uint32_t *krk);

/*
 * While the helper is down: ms until its backoff is over (0: now), -1 while
 * it runs. keyd polls its engine socket that long, then calls kh_tick,
 * which restarts a helper that is down and due.
 */
int kh_wait_ms(const struct kh *h);
void kh_tick(struct kh *h);

/* Stop the helper (close, SIGKILL if it lingers, reap) and free h. */
void kh_close(struct kh *h);

/*
 * The one decoder of the helper's answers (fuzzed: tests/fuzz/fuzz_kh_reply.c).
 * buf/len: one datagram. Accepts only a well-formed MSG_KS_RESP with id,
 * whose rc is KS_OK or a ks_err the helper may give, which carries data only
 * on success, and whose data fits what req_type asks (expect as for
 * kh_call). [out] *m (points into buf). 0 or -1.
 */
int kh_reply_check(const uint8_t *buf, size_t len, uint32_t req_type,
    uint64_t id, size_t expect, struct msg *m);

/* Test builds: the body the child runs (p11h.c). Returns its exit status. */
int p11h_main(int fd, int sbx_mode);

#endif /* KH_H */
