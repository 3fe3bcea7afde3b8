/* engine internals shared by its files; not an interface. */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "engine/engine.h"
#include "engine/seal.h"
#include "ca/station.h"
#include "inv/inv.h"
#include "policy/lifecycle.h"
#include "policy/operators.h"
#include "policy/profile.h"
#include "proc/msg.h"
#include "proc/ops.h"

#define ENG_MAX_READERS 16
#define ENG_MAX_WORKERS 32	/* slow operations at once (engine.c) */

struct engine {
	const struct engine_cfg *cfg;
	struct inv *inv;
	struct seal *seal;
	struct prof_set *profiles;
	struct opr_map *operators;
	struct lc *lc;			/* card states and transitions */
	int api_fd, keyd_fd;
	pthread_mutex_t api_mu;		/* one sender at a time on api_fd */
	pthread_mutex_t keyd_mu;	/* one request in flight to keyd */
	pthread_mutex_t busy_mu;
	char busy[ENG_MAX_READERS][128];	/* readers with an operation */
	unsigned workers;		/* slow operations in threads (busy_mu) */
	/* Readers whose card stopped answering, and pcscd's card-event count
	 * then: left alone until that count moves (the card was pulled). */
	struct {
		char name[128];
		unsigned events;
	} stuck[ENG_MAX_READERS];
	uint64_t keyd_seq;
	uint32_t master_version;
	struct cast *cast;		/* the CA link; NULL: none configured */
	pthread_mutex_t ca_mu;		/* the CA link is one session */
	sem_t hash_slots;		/* Argon2id at once: one per CPU (memory) */
	/*
	 * keyd has no token (missing, or damaged by a kill inside SoftHSM2's
	 * rewrite of token.object): card operations that need a key are
	 * refused and the CA journal is held, until a restart with the token
	 * restored. Set once at start.
	 */
	int token_bad;
	/* The CA journal is held (ca_mu): CAST_ERR_TOKEN, and why. */
	int ca_held;
	char ca_held_why[256];
	time_t started;
	struct ntf *ntf;		/* expiry notices; NULL: off */
	pthread_mutex_t ntf_mu;		/* one scan or drain at a time */
};

struct ntf;

/* Who asks: resolved once per request from the actor the api saw. */
struct actor {
	char name[64];		/* operator name, "kiosk" or "anonymous" */
	uint32_t roles;		/* enum opr_role bits */
};

/* engine.c */
int eng_reply(struct engine *e, uint64_t id, int status, json_t *body);
int eng_error(struct engine *e, uint64_t id, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Copy src into dst[cap]; -1 (dst "") if it does not fit. */
int eng_copy(char *dst, size_t cap, const char *src);
const char *op_state_name(int s);
/* An argument as a NUL-terminated copy in buf, or NULL if absent. */
const char *eng_arg(const struct ops_req *r, const char *name, char *buf,
    size_t cap);
/* 0, -1 (another operation has it) or ENG_NOT_RESPONDING. */
#define ENG_NOT_RESPONDING (-2)
int eng_reader_claim(struct engine *e, const char *reader);
void eng_reader_release(struct engine *e, const char *reader);
/* The refusal for a failed claim: *code for the API, returns the text. */
const char *eng_claim_why(int claim_rc, const char **code);
/* A PC/SC context with the configured time bounds on card exchanges. */
struct pcsc_ctx;
int eng_pcsc_open(struct engine *e, struct pcsc_ctx **pc);
/* pcsc_done, after noting reader as not responding if a call on pc timed out. */
void eng_pcsc_close(struct engine *e, struct pcsc_ctx *pc, const char *reader);
void eng_audit(struct engine *e, const struct actor *a, const char *event,
    const char *ref, const char *result, const char *detail);
void eng_hex(const uint8_t *p, size_t n, char *out);
int eng_unhex(const char *s, uint8_t *out, size_t n);
/* A card by GUID (32 hex digits) or by serial, in txn t. */
int eng_find_card(struct inv_txn *t, const char *key, struct inv_card *c);
/*
 * The engine's clock for reports and notices: time(NULL), plus in test
 * builds CARDMGRD_CLOCK_OFFSET seconds (read once; tests travel in time
 * instead of sleeping). Release builds have no such variable.
 */
uint64_t eng_now(void);

/* report.c: GET /v1/reports/... */
int q_report_inventory(struct engine *e, const struct ops_req *r, uint64_t id);
int q_report_operations(struct engine *e, const struct ops_req *r,
    uint64_t id);
int q_report_pending(struct engine *e, const struct ops_req *r, uint64_t id);
int q_report_expiring(struct engine *e, const struct ops_req *r, uint64_t id);
/* A card whose expiry still matters: active, suspended or blocked. */
int eng_card_live(int state);

/* notices.c: the daily expiry-notice job. */
struct eng_notice_stats {
	unsigned queued, sent, retry, failed;
	int scanned;
};
/* Start the job's thread if cfg->notify names an SMTP URL (0, or -1). */
int eng_notices_start(struct engine *e);
/* Scan (once a day, or now if force) and mail what is due. */
int eng_notices_run(struct engine *e, int force, struct eng_notice_stats *st);
int q_notices_run(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);

/*
 * keyc.c: requests to keyd. keyc_info and keyc_pubkey return 0, keyd's
 * refusal (KS_ERR_NOTOKEN: keyd has no token; KS_ERR_NOKEY), or -1.
 */
int keyc_info(struct engine *e, uint32_t *master);
/* A new master key version in the token: 0 and *master, or -1 and keyd's
 * refusal in *ksrc (KS_ERR_EXISTS: one an hour). */
int keyc_master_new(struct engine *e, uint32_t *master, int *ksrc);
int keyc_mgmt_key(struct engine *e, uint32_t version, const uint8_t guid[16],
    int alg, uint8_t *key, size_t keylen);
int keyc_puk(struct engine *e, uint32_t version, const uint8_t guid[16],
    char puk[9]);
int keyc_escrow(struct engine *e, int alg, const uint8_t *aad, size_t aadlen,
    uint8_t **blob, size_t *bloblen, EVP_PKEY **priv);
/*
 * Open an escrow blob (aad: the card's GUID || slot, as at escrow): 0 and
 * *priv (EVP_PKEY_free), keyd's refusal (KS_ERR_*), or -1.
 */
int keyc_recover(struct engine *e, const uint8_t *blob, size_t bloblen,
    const uint8_t aad[17], EVP_PKEY **priv);

/* A card's 9B challenges answered by keyd: piv_mgmt_crypt_fn's arg. */
struct keyc_card {
	struct engine *e;
	uint32_t version;
	uint8_t guid[16];
	int alg;
};
int keyc_mgmt_crypt(void *arg, int encrypt, const uint8_t *in, uint8_t *out,
    size_t blocklen);
int keyc_sign(struct engine *e, int which, int mech, const uint8_t *tbs,
    size_t tbslen, uint8_t *sig, size_t *siglen);
int keyc_pubkey(struct engine *e, int which, EVP_PKEY **pub);

/* audit_log.c */
int q_audit_list(struct engine *e, const struct ops_req *r, uint64_t id);
int q_audit_verify(struct engine *e, const struct ops_req *r, uint64_t id);

/* query.c: what reads the inventory. */
int q_status(struct engine *e, const struct ops_req *r, uint64_t id);
int q_readers(struct engine *e, const struct ops_req *r, uint64_t id);
int q_holder_add(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int q_holder_get(struct engine *e, const struct ops_req *r, uint64_t id);
int q_holder_list(struct engine *e, const struct ops_req *r, uint64_t id);
int q_card_list(struct engine *e, const struct ops_req *r, uint64_t id);
int q_card_get(struct engine *e, const struct ops_req *r, uint64_t id);
int q_op_get(struct engine *e, const struct ops_req *r, uint64_t id);
int q_profiles(struct engine *e, const struct ops_req *r, uint64_t id);
json_t *q_card_json(const struct inv_card *c);

/* issue.c, pinops.c */
int op_issue(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_pin_change(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_unblock_questions(struct engine *e, const struct ops_req *r,
    uint64_t id, const struct actor *a);
int op_holder_unlock(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_unblock(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_retire(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int q_cert_list(struct engine *e, const struct ops_req *r, uint64_t id);

/* recover.c: torn issuance, restarts, the reader watcher. */
int eng_rollback(struct engine *e, const uint8_t guid[16], const char *reader,
    const char *why);
int eng_recover_start(struct engine *e);
int eng_watch_start(struct engine *e);
#ifdef CARDMGR_TEST_HOOKS
void eng_crash_point(const char *step);
#else
/* Release builds: nothing can stop the engine half-way on purpose. */
static inline void eng_crash_point(const char *step) { (void)step; }
#endif

/* calink.c */
int eng_ca_open(struct engine *e);

/* transition.c: lifecycle transitions, the CA journal and what it confirmed. */
/* Why a transition is refused: HTTP status, error code, sentence. */
struct eng_refusal {
	int status;
	const char *code;
	char why[160];
};
/*
 * The lifecycle transition name for card c of profile p (may be NULL),
 * if the actor may run it from the card's state: the lifecycle's roles
 * and the profile's roles for pop. NULL and *r filled otherwise.
 */
const struct lc_transition *eng_transition_allowed(struct engine *e,
    const struct inv_card *c, const char *name, const struct prof *p,
    enum prof_op pop, const struct actor *a, struct eng_refusal *r);
/*
 * In one write transaction: card c (re-read; INV_ERR_EXISTS if it no longer
 * is in a state tr starts from) takes tr's state, its certificates tr's CA
 * effect with CRL reason (PENDING_* and one outbox request each), pending_ca
 * their count, and its history an event. [out] *c: the card as written.
 */
/*
 * The card named by key (GUID or serial) into *c, its profile into *p, and
 * the transition name if the actor may run it now; NULL and *r filled
 * otherwise (404 for a card the station does not know).
 */
const struct lc_transition *eng_transition_for(struct engine *e,
    const char *key, const char *name, enum prof_op pop,
    const struct actor *a, struct inv_card *c, const struct prof **p,
    struct eng_refusal *r);
int eng_transition_record(struct engine *e, struct inv_card *c,
    const struct lc_transition *tr, int reason, const char *actor,
    const char *detail);
/* The same in the caller's write txn t (nothing committed or aborted). */
int eng_transition_in(struct engine *e, struct inv_txn *t, struct inv_card *c,
    const struct lc_transition *tr, int reason, const char *actor,
    const char *detail);
/*
 * In the caller's write txn t: the certificates of card guid that effect
 * concerns take its pending status, one outbox request each. [out] *queued.
 */
int eng_queue_effect(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], enum lc_effect effect, int reason,
    uint16_t *queued);
int eng_queue_revocations(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], int reason, uint16_t *queued);
/* [out] *n: the card's certificates with CA work pending. */
int eng_card_pending(struct inv_txn *t, const uint8_t guid[16], uint16_t *n);
int eng_cert_pending(int status);
int eng_ca_reconcile(struct engine *e);
int eng_ca_drain(struct engine *e, struct outbox_drain_stats *st);

/* replace.c: POST /v1/cards/{card}/replace. */
int op_replace(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);

/* temp.c: temporary cards, their return and the scheduler that ends loans. */
int op_temporary(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_temp_return(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int eng_temp_start(struct engine *e);
int eng_temp_tick(struct engine *e, unsigned *ended);

/* backup_op.c: POST /v1/backup (worker thread). */
int op_backup(struct engine *e, uint64_t id, const struct actor *a);

/* suspend.c */
int op_suspend(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_reinstate(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);

#endif /* ENGINE_INT_H */
