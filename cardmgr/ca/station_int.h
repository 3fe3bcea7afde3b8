/*
 * station_int: what station.c (state, keys, link, the station's own
 * certificate) and station_ops.c (journal, executor, CRL, status) share.
 * Not a public interface: see station.h.
 */
#ifndef CAST_INT_H
#define CAST_INT_H

#include "ca.h"
#include "station.h"

#define CAST_PATH 1100
#define CAST_DETAIL 256

struct cast {
	const struct caconf *conf;
	struct cast_keyops keys;
	void (*note)(void *, const char *);
	void *note_arg;
	struct outbox *ob;
	EVP_PKEY *key;		/* the current station key, from keys.get */
	X509 *station;		/* state_dir/station.crt */
	struct ca_link *link;	/* with the station identity */
	int link_err;		/* why link is NULL (enum cast_err) */
	char detail[CAST_DETAIL];
};

/* State names in the "ca_state" database (also the old loose file names). */
#define CAST_ST_IR_TXID "station.txid"
#define CAST_ST_KUR_TXID "renew.txid"
#define CAST_ST_NEXT_LABEL "renew.label"
#define CAST_ST_LABEL "station.key"
#define CAST_ST_REVOKED "station.revoked"
#define CAST_ST_ENDPOINT "ca.endpoint"	/* host:port that answered last */

/* Record why a call fails; returns rc. */
int cast_fail(struct cast *st, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cast_note(struct cast *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* out[CAST_PATH] = state_dir/name */
void cast_path(const struct cast *st, const char *name, char *out);
void cast_serial_of(X509 *x, char *out, size_t cap);
/* NULL unless der is exactly one certificate. */
X509 *cast_der_to_x509(const uint8_t *der, size_t len);

/* A text value of the state database (label, marker); 0 if set, -1 if not. */
int cast_state_text(struct cast *st, const char *name, char *out, size_t cap);
int cast_station_marked(struct cast *st);
void cast_mark_revoked(struct cast *st, const char *why);
/* A keys.get / keys.check result for label as an error (CAST_ERR_TOKEN...). */
int cast_key_fail(struct cast *st, int krc, const char *label);
/* The link with the station identity (opened once); CAST_OK or why not. */
int cast_open_link(struct cast *st);
/* A link with the anchors only, to the enrollment port (ir, CRL checks). */
int cast_trust_only_link(struct cast *st, struct ca_link **l);

#ifdef CARDMGR_CA_TEST_HOOKS
/*
 * Test builds only: CARDMGR_CA_CRASH_AT=<point or N> dies there (_exit 99);
 * CARDMGR_CA_FAIL_AT=<point> makes cast_fail_point(point) return 1 once per
 * process, standing in for an allocation that fails there.
 */
void cast_crash_point(const char *point);
int cast_fail_point(const char *point);
/*
 * CARDMGR_CA_PAUSE_AT=N: the process stops itself (SIGSTOP) before it sends
 * the N-th operation of its drains, for a test to change the world (stop a
 * CA front) at a known point and SIGCONT it.
 */
void cast_pause_point(void);
/* CARDMGR_CA_KEEP_ORDER set: the CA endpoints in ca.conf's order, unshuffled. */
int cast_keep_order_point(void);
#else
/* Release builds: no environment variable can stop or steer the station. */
static inline void cast_crash_point(const char *point) { (void)point; }
static inline int cast_fail_point(const char *point) { (void)point; return 0; }
static inline void cast_pause_point(void) { }
static inline int cast_keep_order_point(void) { return 0; }
#endif

#endif /* CAST_INT_H */
