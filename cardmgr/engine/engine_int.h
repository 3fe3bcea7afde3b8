/* engine internals shared by its files; not an interface. */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "engine/engine.h"
#include "engine/seal.h"
#include "ca/ca.h"
#include "ca/station.h"
#include "inv/inv.h"
#include "policy/lifecycle.h"
#include "policy/operators.h"
#include "policy/profile.h"
#include "proc/msg.h"
#include "proc/ops.h"

#define ENG_MAX_READERS 16
#define ENG_CA_LINKS 8		/* CA links kept open for issuances */
#define ENG_DRAIN_ROUND 256	/* CA operations per hold of ca_mu */
#define ENG_OP_WAITERS 8	/* operation long-polls waiting at once */
#define ENG_MAX_WORKERS 32	/* slow operations at once (engine.c) */
#define ENG_WORKER_IDLE_S 10	/* an idle pool thread ends after this */

struct work;

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
	/* The worker pool (busy_mu): jobs waiting, threads alive, idle. */
	struct work *wq_head, *wq_tail;
	unsigned queued, threads, idle;
	pthread_cond_t wq_cv;
	/* Readers whose card stopped answering, and pcscd's card-event count
	 * then: left alone until that count moves (the card was pulled). */
	struct {
		char name[128];
		unsigned events;
	} stuck[ENG_MAX_READERS];
	uint64_t keyd_seq;
	uint32_t master_version;
	struct cast *cast;		/* the CA link; NULL: none configured */
	pthread_mutex_t ca_mu;		/* the journal's link, state, detail */
	/*
	 * Issuances send their own enrollments beside each other, each over
	 * a link of the pool (ca_mu): readers of ca_lane; a drain is its
	 * writer (cast_send's drain lock, shared, keeps other processes'
	 * drains away the same way).
	 */
	pthread_rwlock_t ca_lane;
	struct ca_link *ca_pool[ENG_CA_LINKS];
	unsigned ca_pool_n;
	/* The last good TLS sessions (ca_mu): a new link resumes them. */
	SSL_SESSION *ca_sess[CA_MAX_ENDPOINTS];
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
	/*
	 * Operations' journal moved (a step, an outcome): op_seq counts, op_cv
	 * wakes GET /v1/operations/{op}?wait= (op_waiters of them at most
	 * ENG_OP_WAITERS, each in a worker).
	 */
	pthread_mutex_t op_mu;
	pthread_cond_t op_cv;
	uint64_t op_seq;
	unsigned op_waiters;
	struct eng_sessions *sess;	/* operator sessions, attempts */
	struct ntf *ntf;		/* expiry notices; NULL: off */
	pthread_mutex_t ntf_mu;		/* one scan or drain at a time */
};

struct ntf;

/* sessions.c: an operator's card session, as the api sees it. */
#define ENG_SESS_RAW 32			/* random bytes in a token */
#define ENG_SESS_TOKEN_LEN 43		/* base64url of them, no padding */
#define ENG_SESS_IDLE_DEFAULT 300	/* seconds */
#define ENG_ATT_LIMIT_DEFAULT 10	/* failures per card or holder ... */
#define ENG_ATT_WINDOW_DEFAULT 300	/* ... in this many seconds */
struct eng_sess_info {
	char name[64];			/* the operator's name */
	uint32_t roles;			/* from the operator record */
	char reader[128];		/* the card's reader */
	char card[160];			/* eng_card_key of the card */
	char csrf[ENG_SESS_TOKEN_LEN + 1];
	unsigned idle_s;
	uint8_t hash[32];		/* of the token: the session's name */
};

/* Who asks: resolved once per request from the actor the api saw. */
struct actor {
	char name[64];		/* operator name, "kiosk" or "anonymous" */
	uint32_t roles;		/* enum opr_role bits */
	int has_sess;		/* a card session: sess */
	struct eng_sess_info sess;
};

int eng_sess_init(struct engine *e);
void eng_sess_free(struct engine *e);
/* A new session for info (csrf and idle_s filled in). [out] token. */
int eng_sess_new(struct engine *e, struct eng_sess_info *info,
    unsigned events, char token[ENG_SESS_TOKEN_LEN + 1]);
/* 0 and *out if tok names a live session (its idle clock restarts), or -1
 * (none, idle too long, or its card left the reader: then it is ended). */
int eng_sess_find(struct engine *e, const char *tok, size_t len,
    struct eng_sess_info *out);
void eng_sess_end(struct engine *e, const char *tok, size_t len);
/* A request of session s finished: its idle clock restarts from now. */
void eng_sess_touch(struct engine *e, const struct eng_sess_info *s);
/* The reader watcher: reader's card is gone; its sessions end. */
void eng_sess_reader_gone(struct engine *e, const char *reader);
/* 0 if key ("card:<guid>", "holder:<id>") may try again; -1 and
 * *retry_after seconds if it failed attempt_limit times in the window. */
int eng_attempt_check(struct engine *e, const char *key,
    unsigned *retry_after);
void eng_attempt_failed(struct engine *e, const char *key);
/* The same for an inventory card and its holder, both at once. */
int eng_attempt_check_card(struct engine *e, const uint8_t guid[16],
    const char *holder, unsigned *retry_after);
void eng_attempt_failed_card(struct engine *e, const uint8_t guid[16],
    const char *holder);
/* The 429 rate_limited answer with retry_after. */
int eng_rate_limited(struct engine *e, uint64_t id, unsigned retry_after);

/* login.c */
struct cops_card;
/* "card:<guid hex>" (or by serial, or by reader) for card k. */
void eng_card_key(const struct cops_card *k, char *out, size_t cap);
int op_login(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_session(struct engine *e, uint64_t id, const struct actor *a);
int op_logout(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
json_t *eng_sess_json(const struct eng_sess_info *s);

/* engine.c */
int eng_reply(struct engine *e, uint64_t id, int status, json_t *body);
/* The same with a session token for the api to set as the cookie (login). */
int eng_reply_cookie(struct engine *e, uint64_t id, int status, json_t *body,
    const char *token);
int eng_error(struct engine *e, uint64_t id, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Copy src into dst[cap]; -1 (dst "") if it does not fit. */
int eng_copy(char *dst, size_t cap, const char *src);
const char *op_state_name(int s);
/* An operation's journal moved: wake who waits on it (op_cv). */
void eng_op_changed(struct engine *e);
/*
 * Journal step no of operation op_id in write txn t: "name:state" (state
 * "done" or "started"), data d (kept if it fits), and the operation's step
 * and time moved on; guid (may be NULL) becomes the operation's card.
 */
int eng_step_put(struct inv_txn *t, uint64_t op_id, uint32_t no,
    const char *name, const char *state, const uint8_t *d, size_t len,
    const uint8_t *guid);
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
/* pcscd's card-event count of reader: 0, or -1 if no card or no answer. */
int eng_reader_events(const char *reader, unsigned *events);
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
/* A new escrowed key for a slot of PIV algorithm piv_alg (PIV_ALG_*). */
int keyc_escrow(struct engine *e, int piv_alg, const uint8_t *aad,
    size_t aadlen, uint8_t **blob, size_t *bloblen, EVP_PKEY **priv);
/*
 * Open an escrow blob (aad as at escrow: rep_escrow_aad): 0 and *priv
 * (EVP_PKEY_free), keyd's refusal (KS_ERR_*), or -1.
 */
int keyc_recover(struct engine *e, const uint8_t *blob, size_t bloblen,
    const uint8_t *aad, size_t aadlen, EVP_PKEY **priv);

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
void eng_ca_close(struct engine *e);
/*
 * Journal one enrollment (csr, profile) and send it at once beside other
 * issuances' (a pooled link of its own, cast_send). [out] *obid: the
 * journal's operation (its result is the certificate when CAST_OK); why
 * in detail[cap] if not.
 */
int eng_ca_enroll(struct engine *e, const uint8_t guid[16], int slot,
    const char *profile, const uint8_t *csr, size_t len, uint64_t *obid,
    char *detail, size_t cap);
/*
 * The enrollments journaled for a card whose certificate the inventory does
 * not hold yet (meta "enrolls:<guid>": obid u64, slot u8 each), so a card
 * rolled back after a crash loses none of what the CA issued for it:
 * - eng_enroll_unlink: the certificate of obid is in the inventory now;
 * - eng_enroll_orphans (roll back, in its transaction, before the card's
 *   revocations are queued): a finished one's certificate goes into the
 *   inventory (so it is revoked with the rest); one still in the journal is
 *   marked "enroll_revoke:<obid>", and eng_enroll_late revokes its
 *   certificate when the journal finishes it (the fold).
 */
int eng_enroll_unlink(struct inv_txn *t, const uint8_t guid[16], uint64_t obid);
int eng_enroll_orphans(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], int reason);
int eng_enroll_late(struct engine *e, struct inv_txn *t, uint64_t obid);
/* issue.c: a certificate serial as the inventory keys it (lower-case hex, no
 * leading zeros); -1 if it is longer than INV_CERT_SERIAL_MAX. */
int eng_serial_hex(const ASN1_INTEGER *a, char out[INV_CERT_SERIAL_MAX + 1]);
/* issue.c: the inventory record of certificate der for card guid's slot. */
int eng_cert_record(const uint8_t *der, size_t len, const uint8_t guid[16],
    int slot, struct inv_cert *c);
/* transition.c: queue the revocation of one certificate and record it
 * pending (put, or added if the inventory does not have it). */
int eng_queue_cert_revoke(struct engine *e, struct inv_txn *t,
    const struct inv_cert *c, int reason);

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
/* A line of the card's history (inventory events) in t. */
int eng_card_event(struct inv_txn *t, const uint8_t guid[16], const char *name,
    const char *actor, const char *detail);
int eng_card_pending(struct inv_txn *t, const uint8_t guid[16], uint16_t *n);
int eng_cert_pending(int status);
int eng_ca_reconcile(struct engine *e);
int eng_ca_drain(struct engine *e, struct outbox_drain_stats *st);
/* Up to max links from the pool (or new): how many; back with _put. */
int eng_ca_links_get(struct engine *e, struct ca_link **links, int max);
void eng_ca_links_put(struct engine *e, struct ca_link **links, int n);

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
/*
 * Card c (known to the inventory, open in k) was presented at reader: if a
 * temporary card is out for it and it proves itself with its card
 * authentication key (9E, no PIN), the loan ends as by `cardmgr return`.
 * 1: the loan ended (its CA work journaled: the caller drains once the
 * reader is free); 0: no loan; -1: not proven or not recorded (logged and
 * audited).
 */
int eng_temp_presented(struct engine *e, struct cops_card *k,
    const struct inv_card *c, const char *reader);

/* backup_op.c: POST /v1/backup (worker thread). */
int op_backup(struct engine *e, uint64_t id, const struct actor *a);

/* suspend.c */
/*
 * central.c: the CA's CRL against the inventory; certificates revoked, held
 * or released at the CA take that status and their cards the lifecycle's
 * crl_reasons transition, in one transaction. [out] *report (json_decref)
 * on 0; -1 with why (CRL refused, inventory).
 */
int eng_crl_check(struct engine *e, const struct actor *a, json_t **report,
    char *why, size_t cap);
int op_crl_check(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
/* certrevoke.c: revoke / hold by certificate, a foreign card's too. */
int op_cert_revoke(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_cert_hold(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
/* The periodic check every crl_check_seconds (none when 0). */
int eng_central_start(struct engine *e);
int op_suspend(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_reinstate(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);

/* approve.c: approval requests (m of n) for key recovery. */
struct apr;
int op_approval_list(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_approval_get(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_approval_decide(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a, int approve);
/* One pass of the scheduler: requests past their time expire. [out] *n. */
int eng_apr_tick(struct engine *e, unsigned *n);
/* The rows of GET /v1/reports/pending for requests still open (pending or
 * approved, not carried out), in the report's columns; [out] counts. */
int eng_apr_report(struct engine *e, json_t *rows, unsigned *pending,
    unsigned *approved);
/* For replace.c and temp.c (rep_start, rep_finish), see approve.c. */
struct inv_card;
int eng_apr_request(struct engine *e, uint64_t id, const struct actor *a,
    const char *op, const char *reason, const struct inv_card *c,
    const struct inv_holder *h, int required);
/* 0 if request apr_id is approved for a to run op (reason) on card c now;
 * -1 and ref otherwise. */
int eng_apr_usable(struct engine *e, uint64_t apr_id, const struct actor *a,
    const char *op, const char *reason, const struct inv_card *c,
    struct eng_refusal *ref);
/* The same in write txn t, and the request is marked carried out by op_id:
 * INV_OK, or INV_ERR_EXISTS with detail (nothing written). */
int eng_apr_consume(struct inv_txn *t, uint64_t apr_id, const char *actor,
    const char *op, const char *reason, const uint8_t guid[16],
    uint64_t op_id, char *detail, size_t cap);
/* stock.c: blank cards in stock (docs/lifecycle.md, "Blank stock"). */
struct stk_lines;
int op_stock_receive(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_stock_move(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int op_stock_dispose(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int q_stock_list(struct engine *e, const struct ops_req *r, uint64_t id);
int q_report_stock(struct engine *e, const struct ops_req *r, uint64_t id);
/* [out] *rows (caller's), *total cards in stock, *low pairs below their
 * threshold. INV_OK or an inventory error. */
int stk_levels(struct engine *e, json_t **rows, uint64_t *total, size_t *low);
/* May serial be issued here (stock required: in stock, at this station's
 * location)? 0, or -1 with why ("not_in_stock: ..."). */
int stk_check_issue(struct engine *e, const char *serial, char *why,
    size_t cap);
/* In issuance's write txn: a blank stock record old is deleted, [out]
 * *lines its history lines (stk_take writes them on the new record). */
int stk_take_record(struct inv_txn *t, const struct inv_card *old,
    struct stk_lines **lines);
/* In the same txn, once the card guid exists: lines (may be NULL) replayed,
 * the serial's stock entry (if any) removed with a from_stock line. */
int stk_take(struct inv_txn *t, const char *serial, const uint8_t guid[16],
    const char *actor, struct stk_lines *lines);
void stk_lines_free(struct stk_lines *l);
/* A card wiped for reuse goes back in stock at this station's location. */
int stk_return(struct engine *e, const struct inv_card *c, const char *actor);
/* The same in the caller's write txn t (a rolled back issuance). */
int stk_return_in(struct engine *e, struct inv_txn *t, const struct inv_card *c,
    const char *actor, const char *why);
/* report.c's report envelope and answer (format, offset), for stock.c. */
json_t *eng_report_new(const char *name, const char *const *cols);
int eng_report_answer(struct engine *e, const struct ops_req *r, uint64_t id,
    json_t *rep);
/* issue.c: the card's serial as the inventory keys it. */
struct cops_card;
void eng_card_serial(const struct cops_card *card, char *out, size_t cap);
/* renew_req.c: renewal on presentation (policy/renew.h). */
struct rnw_list;
/* Card c's requirements in t, at eng_now(); an inactive card has none.
 * INV_OK, an inventory error, or INV_ERR_ARG (profile gone, too many
 * certificates). [out] *out. */
int eng_renew_list(struct engine *e, struct inv_txn *t,
    const struct inv_card *c, struct rnw_list *out);
/* The list as JSON: slot, reasons, key, old_serial, old_not_after, revoke. */
json_t *eng_renew_json(const struct rnw_list *l);
int q_card_requirements(struct engine *e, const struct ops_req *r,
    uint64_t id);
/* renew.c: POST /v1/cards/{card}/renew; at start, settle interrupted ones. */
int op_card_renew(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a);
int eng_renew_recover(struct engine *e);

#endif /* ENGINE_INT_H */
