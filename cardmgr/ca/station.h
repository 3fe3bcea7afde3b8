/*
 * station: the station's side of the CA link as one library the daemon and
 * the cardmgr-ca CLI both call. It journals every CA-bound operation in the
 * outbox and drains it through the CMP client (ca.h), keeps the station's
 * own certificate (enrollment with a one-time secret, renewal with re-keying
 * that survives a crash at any step, the revoked marker), fetches and caches
 * the CRL, and reports status as data.
 *
 * It never prints and never exits: failures come back as enum cast_err with
 * a one-line text from cast_detail(), progress notes through the optional
 * note callback. It never touches a private key itself: the caller hands the
 * station's keys in as EVP_PKEYs through struct cast_keyops (the CLI from
 * its PKCS#11 token through cakey.h, the daemon as keys whose signing is
 * forwarded to the key-holding process).
 *
 * State: the outbox (LMDB) holds the journal and, in its "ca_state"
 * database, the transactionIDs of the station's own ir/kur, the label of
 * the current and of the next station key, and the revoked marker. Loose
 * files under state_dir from earlier versions (station.txid, renew.txid,
 * renew.label, station.key, station.revoked) are imported once by cast_open
 * and removed. Certificates and the CRL stay files in state_dir
 * (station.crt, cacerts.pem, crl.der): they are public and other tools read
 * them.
 */
#ifndef CAST_H
#define CAST_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "caconf.h"
#include "outbox.h"

enum cast_err {
	CAST_OK = 0,
	CAST_ERR_ARG = -1,	/* bad argument or usage */
	CAST_ERR_NOMEM = -2,
	CAST_ERR_STATE = -3,	/* outbox, state database or state_dir */
	CAST_ERR_NOT_ENROLLED = -4,	/* no station certificate yet */
	CAST_ERR_REVOKED = -5,	/* station certificate revoked */
	CAST_ERR_EXPIRED = -6,	/* station certificate expired */
	CAST_ERR_KEY = -7,	/* station key unavailable or not certified */
	CAST_ERR_QUEUED = -8,	/* journaled, not accepted yet: will be retried */
	CAST_ERR_REFUSED = -9,	/* the CA refused for good */
	CAST_ERR_BUSY = -10,	/* another drain is running */
	CAST_ERR_CRL = -11,	/* CRL unavailable, untrusted or older */
	CAST_ERR_LINK = -12,	/* cannot set up the link (trust, config) */
	CAST_ERR_SECRET = -13,	/* secret file refused (owner, mode, type) */
	/*
	 * The station token is missing or damaged (SoftHSM2 skips a token
	 * whose token.object a kill during a login left empty), or it lacks
	 * the key the station certificate certifies. Nothing is retried: the
	 * journal stays as it is until the token is restored from its backup
	 * or the station re-enrolled (docs/keystore.md, "Backup").
	 */
	CAST_ERR_TOKEN = -14,
};

const char *cast_strerror(int err);
/* The enum constant's name ("CAST_ERR_ARG"), for logs and records. */
const char *cast_errname(int err);

/* What keys.get and keys.check return. */
enum cast_keys_rc {
	CAST_KEYS_OK = 0,
	CAST_KEYS_FAIL = -1,	/* any other failure (login refused, ...) */
	CAST_KEYS_TOKEN = -2,	/* the token is missing or damaged */
	CAST_KEYS_NOKEY = -3,	/* the token is whole; no key with that label */
};

/*
 * The caller's station keys. get: [out] *key, the private key labelled
 * label (generated if absent and create is set); the library frees it with
 * EVP_PKEY_free; returns enum cast_keys_rc (any other non-zero value counts
 * as CAST_KEYS_FAIL). remove: delete the retired key labelled label; 0 on
 * success. check (optional, NULL: not known): whether the token is there
 * and holds the key labelled label, without using it (no login: a login
 * rewrites SoftHSM2's token file); enum cast_keys_rc.
 */
struct cast_keyops {
	int (*get)(void *arg, const char *label, int create, EVP_PKEY **key);
	int (*remove)(void *arg, const char *label);
	void *arg;
	int (*check)(void *arg, const char *label);
};

struct cast_cfg {
	const struct caconf *conf;	/* kept by reference: outlives the cast */
	struct cast_keyops keys;
	/* Optional: progress worth telling the operator (never a secret). */
	void (*note)(void *arg, const char *msg);
	void *note_arg;
	/*
	 * Optional: an LMDB environment the caller opened (and keeps owning,
	 * with OUTBOX_MAXDBS more databases room) for the outbox and the
	 * station state; NULL: state_dir/outbox in an environment of its own.
	 */
	MDB_env *env;
};

struct cast;
struct ca_link;

/* Open the station state, importing old loose state files. [out] *out. */
int cast_open(const struct cast_cfg *cfg, struct cast **out);
void cast_close(struct cast *st);
/* One line saying why the last call failed ("" if it did not). */
const char *cast_detail(const struct cast *st);
/* The journal, for listing and reading operations back. Owned by st. */
struct outbox *cast_outbox(struct cast *st);
/*
 * Whether the station may act: CAST_OK, CAST_ERR_NOT_ENROLLED, or
 * CAST_ERR_REVOKED / CAST_ERR_EXPIRED (it issues nothing until re-enrolled
 * or renewed), without contacting the CA.
 */
int cast_station_usable(struct cast *st);
/* The label of the current station key. [out] out[cap] */
void cast_key_label(struct cast *st, char *out, size_t cap);

#define CAST_SERIAL_LEN 80

/*
 * Enroll the station (ir, MAC from the one-time secret secret of reference
 * ref). A re-enrollment gets a new key under a journaled label. secret is
 * not kept. [out] serial: the new certificate's serial (hex).
 * CAST_ERR_REFUSED: the CA refused the secret for good.
 */
int cast_enroll_station(struct cast *st, const char *ref,
    const uint8_t *secret, size_t secret_len, const char *subject,
    char serial[CAST_SERIAL_LEN]);

/*
 * Renew the station certificate (kur) if within renew_before of expiry or
 * force, with a new key unless same_key. [out] *renewed: 0 if not due.
 */
int cast_renew_station(struct cast *st, int force, int same_key,
    int *renewed, char serial[CAST_SERIAL_LEN]);

/*
 * Journal an operation and, unless queue_only, drain up to it. [out] *id.
 * CAST_OK only if it is done; CAST_ERR_QUEUED if it stays journaled,
 * CAST_ERR_REFUSED if the CA refused it, CAST_ERR_REVOKED / EXPIRED if the
 * station may not send it (it stays journaled).
 */
int cast_submit(struct cast *st, enum outbox_type type, const char *profile,
    int reason, const uint8_t *payload, size_t len, int queue_only,
    uint64_t *id);

/*
 * A CA link of the caller's own, with the station identity, for cast_send:
 * several threads may each hold one (its TLS session resumes on the next
 * operation). cast_link_ready (with the caller's lock on st, like every
 * other call) loads the station's key and certificate: CAST_OK, or why the
 * station cannot talk to the CA now (detail). cast_link_make then builds a
 * link and needs no lock (it reads only what ready loaded, which stays):
 * trust anchors, TLS context. [out] *out: free with ca_link_free.
 */
int cast_link_ready(struct cast *st);
int cast_link_make(const struct cast *st, struct ca_link **out);

/*
 * Send operation id, journaled by cast_submit(..., queue_only, ...), now and
 * over link, beside other cast_send calls in this or another thread: they
 * share the station's drain lock (waiting for a drain to end), a drain
 * holds it alone, so no operation is ever sent by two at once. For an
 * operation nothing queued before it depends on (a new card's enrollment).
 * Touches neither the link nor the detail of st: the outcome's text goes to
 * detail[cap]. CAST_OK when the CA did it; CAST_ERR_REFUSED; CAST_ERR_QUEUED
 * if it stays journaled (the drain retries it).
 */
int cast_send(struct cast *st, struct ca_link *link, uint64_t id,
    char *detail, size_t cap);

/*
 * Renewal of a card certificate: check that csr has the subject of old
 * (DER); if profile is "" on entry, find the profile this station issued old
 * under. [in, out] profile[OUTBOX_PROFILE_MAX + 1].
 */
int cast_renew_profile(struct cast *st, const uint8_t *old, size_t olen,
    const uint8_t *csr, size_t clen, char *profile);

/*
 * Drain the journal now (force: skip the head's backoff). [out] *stats.
 * CAST_OK when the drain ran, whatever it left pending (see stats).
 */
int cast_drain(struct cast *st, int force, unsigned max,
    struct outbox_drain_stats *stats);

/*
 * The same, with the pending enrollments due now sent first over the
 * caller's links (links[0..nlinks-1], nlinks <= CAST_WIDE_MAX, one thread
 * each; cast_link_make): they depend on nothing queued before them. Each
 * operation still goes out once (the drain's exclusive lock; workers take
 * ids from one list). Revocations, holds and releases keep their order in
 * the serial pass that follows, over st's own link. A transient failure
 * ends the wide pass (the CA is away: no retry storm); the serial pass
 * still tries its head once.
 */
#define CAST_WIDE_MAX 8
int cast_drain_wide(struct cast *st, struct ca_link *const *links,
    int nlinks, int force, unsigned max, struct outbox_drain_stats *stats);

/*
 * genm caCerts, each verified, saved as state_dir/cacerts.pem.
 * [out] *certs: sk_X509_pop_free(.., X509_free).
 */
int cast_cacerts(struct cast *st, STACK_OF(X509) **certs);

/*
 * Fetch the CRL (crl_url or the station certificate's CDP), verify, cache
 * it, and check the station's own certificate against it.
 * [out] *crl: the new CRL, X509_CRL_free (also set with CAST_ERR_REVOKED,
 * which says the station's own certificate is on it).
 */
int cast_crl_update(struct cast *st, X509_CRL **crl);

enum cast_cert_state {
	CAST_CERT_UNKNOWN = 0,	/* no CRL cached */
	CAST_CERT_GOOD = 1,
	CAST_CERT_HOLD = 2,
	CAST_CERT_REVOKED = 3,
};

struct cast_cert_status {
	char serial[CAST_SERIAL_LEN];
	char subject[256];
	char profile[OUTBOX_PROFILE_MAX + 1];
	int state;		/* enum cast_cert_state */
	int reason;		/* CRL reason, -1 if none */
};

enum cast_token_state {
	CAST_TOKEN_UNKNOWN = 0,	/* no keys.check */
	CAST_TOKEN_OK = 1,
	CAST_TOKEN_DAMAGED = 2,	/* missing or damaged (CAST_ERR_TOKEN) */
	CAST_TOKEN_NOKEY = 3,	/* whole, without the enrolled station's key */
};

struct cast_status {
	int token;		/* enum cast_token_state */
	char token_why[256];	/* what to do, when not OK */
	int enrolled;
	char serial[CAST_SERIAL_LEN];
	time_t not_after;
	int expired, renewal_due;
	int revoked_marker;	/* the station stopped: revoked */
	char revoked_why[128];
	int state, reason;	/* the station's own cert in the CRL */
	int have_crl;
	int crl_entries, crl_stale;
	time_t crl_last, crl_next;	/* crl_next 0: none */
	struct outbox_counts counts;
	char endpoint[262];	/* CA endpoint that answered last ("" none);
				 * CA_HOSTPORT bytes */
	struct cast_cert_status *certs;	/* every certificate we issued */
	size_t ncerts;
};

/* [out] *s: cleared first; release with cast_status_clear. */
int cast_status(struct cast *st, struct cast_status *s);
void cast_status_clear(struct cast_status *s);

#endif /* CAST_H */
