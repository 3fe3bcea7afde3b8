/* engine: the process loop, authorization and dispatch. See engine.h. */
#include "engine_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "ca/caconf.h"

#include "inv/backup.h"
#include "keyd/ks.h"
#include "notify/notify.h"
#include "pcsc.h"
#include "proc/log.h"

/*
 * Who may run what. Operations on a card also check the card's profile
 * (prof->roles) once the card is known; this table is the floor that
 * applies before anything is read.
 */
static const struct {
	uint16_t code;
	uint32_t roles;		/* any of these; 0: anyone, even anonymous */
} floor_roles[] = {
	{ OPS_STATUS, 0 },
	{ OPS_READERS, 0 },
	{ OPS_SESSION_KEY, 0 },
	{ OPS_PROFILES, 0 },
	{ OPS_HOLDER_ADD, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_ADMINISTRATOR },
	{ OPS_HOLDER_GET, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_HOLDER_LIST, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_CARD_LIST, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_CARD_GET, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	/* The card's profile narrows these per operation (prof->roles). */
	{ OPS_ISSUE, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_HELPDESK },
	/* The holder proves ownership with the old PIN, on the card. */
	{ OPS_PIN_CHANGE, OPR_ROLE_HOLDER },
	/*
	 * Never the holder alone at an unattended kiosk: FIPS 201-3 wants a
	 * biometric match there, which this station does not do (a profile
	 * naming "holder" for unblock is narrowed to its operator roles).
	 */
	{ OPS_UNBLOCK_QUESTIONS, OPR_ROLE_HELPDESK | OPR_ROLE_SECURITY_OFFICER },
	{ OPS_UNBLOCK, OPR_ROLE_HELPDESK | OPR_ROLE_SECURITY_OFFICER },
	/*
	 * Too many wrong answers lock a holder's unblock: a fraud signal. The
	 * help desk that was answering may not lift it; a security officer
	 * can, with a reason (audited).
	 */
	{ OPS_HOLDER_UNLOCK, OPR_ROLE_SECURITY_OFFICER },
	/* Key custody: the administrator alone. */
	{ OPS_MASTER_NEW, OPR_ROLE_ADMINISTRATOR },
	/* A copy of every holder and card leaves the station, encrypted to a
	 * key it does not hold: custody again, plus the security officer. */
	{ OPS_BACKUP, OPR_ROLE_ADMINISTRATOR | OPR_ROLE_SECURITY_OFFICER },
	{ OPS_RETIRE, OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_BADGE_OFFICER |
	    OPR_ROLE_HELPDESK },
	/* The lifecycle's roles for the transition, then the profile's
	 * suspend roles, narrow these. */
	{ OPS_SUSPEND, OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_BADGE_OFFICER |
	    OPR_ROLE_HELPDESK | OPR_ROLE_ADMINISTRATOR },
	{ OPS_REINSTATE, OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_BADGE_OFFICER |
	    OPR_ROLE_HELPDESK | OPR_ROLE_ADMINISTRATOR },
	/* The lifecycle's roles for the old card's transition, then the
	 * profile's replace roles, narrow these; key recovery may need
	 * approvals (replace.c). */
	{ OPS_REPLACE, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_HELPDESK },
	/* Temporary card and its return: the lifecycle's roles for
	 * forgotten and return, then the profiles', narrow these. */
	{ OPS_TEMPORARY, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_HELPDESK },
	{ OPS_TEMP_RETURN, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_HELPDESK },
	{ OPS_CERT_LIST, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_AUDIT_LIST, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_AUDIT_VERIFY, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_CONFIG_CHECK, OPR_ROLE_ADMINISTRATOR | OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_AUDITOR },
	{ OPS_OP_GET, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	/* Reports name holders and operators: the oversight roles only. */
	{ OPS_REPORT_INVENTORY, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR |
	    OPR_ROLE_SECURITY_OFFICER },
	{ OPS_REPORT_OPERATIONS, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR |
	    OPR_ROLE_SECURITY_OFFICER },
	{ OPS_REPORT_PENDING, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR |
	    OPR_ROLE_SECURITY_OFFICER },
	{ OPS_REPORT_EXPIRING, OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR |
	    OPR_ROLE_SECURITY_OFFICER },
	/* Sends mail now: not the read-only auditor. */
	{ OPS_NOTICES_RUN, OPR_ROLE_ADMINISTRATOR | OPR_ROLE_SECURITY_OFFICER },
	/* The card proves who the operator is (login.c). */
	{ OPS_CRL_CHECK, OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR },
	{ OPS_CERT_REVOKE, OPR_ROLE_SECURITY_OFFICER },
	{ OPS_CERT_HOLD, OPR_ROLE_SECURITY_OFFICER },
	{ OPS_LOGIN, 0 },
	{ OPS_SESSION, 0 },
	{ OPS_LOGOUT, 0 },
	/* Approval requests: who sees and decides which is approve.c's
	 * (the operator map's approves, never one's own request). */
	{ OPS_APPROVAL_LIST, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_APPROVAL_GET, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_APPROVAL_APPROVE, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_ADMINISTRATOR },
	{ OPS_APPROVAL_DENY, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_ADMINISTRATOR },
	/* Blank stock: the badge officer handles the cards (receives, moves
	 * them between stores); disposing of one is the security officer's
	 * (a card leaves the station's control); the administrator keeps the
	 * store either way. Lists and levels: every operator role. */
	{ OPS_STOCK_RECEIVE, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_ADMINISTRATOR },
	{ OPS_STOCK_MOVE, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_ADMINISTRATOR },
	{ OPS_STOCK_DISPOSE, OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_ADMINISTRATOR },
	{ OPS_STOCK_LIST, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_REPORT_STOCK, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	{ OPS_CARD_REQUIREMENTS, OPR_ROLE_BADGE_OFFICER | OPR_ROLE_HELPDESK |
	    OPR_ROLE_SECURITY_OFFICER | OPR_ROLE_AUDITOR | OPR_ROLE_ADMINISTRATOR },
	/* Renewal on presentation: the holder's PIN on the card is the proof,
	 * at the kiosk or beside an officer (renew.c). */
	{ OPS_CARD_RENEW, OPR_ROLE_HOLDER | OPR_ROLE_BADGE_OFFICER |
	    OPR_ROLE_HELPDESK },
};

static int
floor_allows(uint16_t code, uint32_t roles, int *known)
{
	for (size_t i = 0; i < sizeof(floor_roles) / sizeof(floor_roles[0]); i++)
		if (floor_roles[i].code == code) {
			*known = 1;
			return floor_roles[i].roles == 0 ||
			    (floor_roles[i].roles & roles) != 0;
		}
	*known = 0;
	return 0;
}

/*
 * The actor's roles. An operator on the UNIX socket is who the operator map
 * says their uid is; a kiosk request with a live card session (login.c) is
 * that session's operator; everyone else is a holder at best. -1: the
 * request names a session that is not live (401), except for login and
 * logout, which then proceed as the kiosk.
 */
static int
resolve_actor(struct engine *e, const struct ops_req *r, struct actor *a)
{
	const struct opr_operator *op = NULL;

	memset(a, 0, sizeof(*a));
	a->roles = OPR_ROLE_HOLDER;
	snprintf(a->name, sizeof(a->name), "kiosk");
	if (r->actor == MSG_ACTOR_SESSION) {
		if (eng_sess_find(e, r->token, r->token_len, &a->sess) != 0)
			return r->op->code == OPS_LOGIN ||
			    r->op->code == OPS_LOGOUT ? 0 : -1;
		a->has_sess = 1;
		eng_copy(a->name, sizeof(a->name), a->sess.name);
		a->roles = a->sess.roles | OPR_ROLE_HOLDER;
		return 0;
	}
	if (r->actor != MSG_ACTOR_UID)
		return 0;
	if (e->operators != NULL &&
	    opr_lookup_uid(e->operators, (uid_t)r->uid, &op) == 0 && op != NULL) {
		snprintf(a->name, sizeof(a->name), "%s", op->name);
		a->roles = op->roles | OPR_ROLE_HOLDER;
	} else {
		snprintf(a->name, sizeof(a->name), "uid:%u", r->uid);
	}
	return 0;
}

/*
 * A state-changing request made with a session carries the session's CSRF
 * token (X-CSRF-Token): a page from elsewhere that gets the browser to send
 * the cookie cannot read the token. 1 if r may go on.
 */
static int
csrf_ok(const struct ops_req *r, const struct actor *a)
{
	size_t n = strlen(a->sess.csrf);

	if (!a->has_sess || strcmp(r->op->method, "GET") == 0)
		return 1;
	return r->csrf != NULL && r->csrf_len == n &&
	    sodium_memcmp(r->csrf, a->sess.csrf, n) == 0;
}

void
eng_hex(const uint8_t *p, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
eng_unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int
eng_reply(struct engine *e, uint64_t id, int status, json_t *body)
{
	return eng_reply_cookie(e, id, status, body, NULL);
}

int
eng_reply_cookie(struct engine *e, uint64_t id, int status, json_t *body,
    const char *token)
{
	struct msg_builder b;
	char *text = NULL;
	int rc = -1;

	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL)
		goto out;
	if (msg_builder_init(&b) != MSG_OK)
		goto out;
	msg_put_u32(&b, MSG_RESP_STATUS, (uint32_t)status);
	msg_put_str(&b, MSG_RESP_BODY, text);
	if (token != NULL)
		msg_put_str(&b, MSG_RESP_COOKIE, token);
	pthread_mutex_lock(&e->api_mu);
	rc = msg_send(e->api_fd, MSG_RESP, id, &b) == MSG_OK ? 0 : -1;
	pthread_mutex_unlock(&e->api_mu);
	msg_builder_clear(&b);
out:
	free(text);
	json_decref(body);
	return rc;
}

int
eng_error(struct engine *e, uint64_t id, int status, const char *code,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return eng_reply(e, id, status, json_pack("{s:s, s:s}", "error", code,
	    "message", msg));
}

int
eng_find_card(struct inv_txn *t, const char *key, struct inv_card *c)
{
	uint8_t guid[16];

	if (eng_unhex(key, guid, 16) == 0 && inv_card_get(t, guid, c) == INV_OK)
		return INV_OK;
	return inv_card_by_serial(t, key, c);
}

#ifdef CARDMGR_TEST_HOOKS
static int64_t clock_offset;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

static void
clock_init(void)
{
	const char *s = getenv("CARDMGRD_CLOCK_OFFSET");
	char *end;
	long long v;

	if (s == NULL)
		return;
	v = strtoll(s, &end, 10);
	/* Within 20 years either way, or it is ignored (and said so). */
	if (*s == '\0' || *end != '\0' || v < -631152000LL || v > 631152000LL) {
		log_warnx("CARDMGRD_CLOCK_OFFSET ignored: not seconds in range");
		return;
	}
	clock_offset = v;
	log_warnx("test build: clock offset %lld s", v);
}
#endif

uint64_t
eng_now(void)
{
	uint64_t now = (uint64_t)time(NULL);

#ifdef CARDMGR_TEST_HOOKS
	pthread_once(&clock_once, clock_init);
	now = (uint64_t)((int64_t)now + clock_offset);
#endif
	return now;
}

int
eng_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (cap == 0)
		return -1;
	if (n >= cap) {
		dst[0] = '\0';
		return -1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

const char *
op_state_name(int s)
{
	return s == INV_OP_DONE ? "done" : s == INV_OP_FAILED ? "failed" :
	    s == INV_OP_RUNNING ? "running" : "rolled_back";
}

const char *
eng_arg(const struct ops_req *r, const char *name, char *buf, size_t cap)
{
	const struct ops_value *v = ops_req_get(r, name, 0, NULL);

	if (v == NULL || v->p == NULL || v->len >= cap)
		return NULL;
	memcpy(buf, v->p, v->len);
	buf[v->len] = '\0';
	return buf;
}

int
eng_pcsc_open(struct engine *e, struct pcsc_ctx **pc)
{
	long ms = PCSC_TIMEOUT_DEFAULT_MS, slow = PCSC_SLOW_TIMEOUT_DEFAULT_MS;
	int rc = pcsc_init(pc);

	if (rc != PCSC_OK)
		return rc;
	if (e->cfg->card_timeout_s > 0)
		ms = (long)e->cfg->card_timeout_s * 1000;
	if (e->cfg->card_keygen_timeout_s > 0)
		slow = (long)e->cfg->card_keygen_timeout_s * 1000;
	pcsc_set_timeouts(*pc, ms, slow);
	return PCSC_OK;
}

/* pcscd's card-event count of reader; -1 if it cannot say or has no card. */
int
eng_reader_events(const char *reader, unsigned *events)
{
	struct pcsc_ctx *pc = NULL;
	int present = 0, rc;

	if (pcsc_init(&pc) != PCSC_OK)
		return -1;
	rc = pcsc_reader_state(pc, reader, events, &present);
	pcsc_done(pc);
	return rc == PCSC_OK && present ? 0 : -1;
}

void
eng_pcsc_close(struct engine *e, struct pcsc_ctx *pc, const char *reader)
{
	unsigned ev = 0;
	int i, slot = -1;

	if (pc != NULL && reader != NULL && pcsc_stalled(pc) &&
	    eng_reader_events(reader, &ev) == 0) {
		pthread_mutex_lock(&e->busy_mu);
		for (i = 0; i < ENG_MAX_READERS; i++) {
			if (strcmp(e->stuck[i].name, reader) == 0 ||
			    (slot < 0 && e->stuck[i].name[0] == '\0'))
				slot = i;
			if (strcmp(e->stuck[i].name, reader) == 0)
				break;
		}
		if (slot >= 0) {
			eng_copy(e->stuck[slot].name, sizeof(e->stuck[slot].name),
			    reader);
			e->stuck[slot].events = ev;
		}
		pthread_mutex_unlock(&e->busy_mu);
		log_warnx("reader '%s': card not responding; left alone until "
		    "the card is pulled", reader);
	}
	pcsc_done(pc);
}

/* Under busy_mu: is reader's card the one that stopped answering? */
static int
still_stuck(struct engine *e, const char *reader)
{
	unsigned ev = 0;
	int i;

	for (i = 0; i < ENG_MAX_READERS; i++)
		if (strcmp(e->stuck[i].name, reader) == 0)
			break;
	if (i == ENG_MAX_READERS)
		return 0;
	if (eng_reader_events(reader, &ev) == 0 && ev == e->stuck[i].events)
		return 1;
	e->stuck[i].name[0] = '\0';
	log_info("reader '%s': the card that did not respond is gone", reader);
	return 0;
}

const char *
eng_claim_why(int claim_rc, const char **code)
{
	if (claim_rc == ENG_NOT_RESPONDING) {
		*code = "card_not_responding";
		return "card not responding: pull it out";
	}
	*code = "reader_busy";
	return "another operation is using this reader";
}

int
eng_reader_claim(struct engine *e, const char *reader)
{
	int i, free_slot = -1, rc = -1;

	pthread_mutex_lock(&e->busy_mu);
	for (i = 0; i < ENG_MAX_READERS; i++) {
		if (strcmp(e->busy[i], reader) == 0)
			goto out;
		if (e->busy[i][0] == '\0' && free_slot < 0)
			free_slot = i;
	}
	if (still_stuck(e, reader)) {
		rc = ENG_NOT_RESPONDING;
		goto out;
	}
	if (free_slot >= 0) {
		snprintf(e->busy[free_slot], sizeof(e->busy[free_slot]), "%s",
		    reader);
		rc = 0;
	}
out:
	pthread_mutex_unlock(&e->busy_mu);
	return rc;
}

void
eng_reader_release(struct engine *e, const char *reader)
{
	pthread_mutex_lock(&e->busy_mu);
	for (int i = 0; i < ENG_MAX_READERS; i++)
		if (strcmp(e->busy[i], reader) == 0)
			e->busy[i][0] = '\0';
	pthread_mutex_unlock(&e->busy_mu);
}

static int
session_key(struct engine *e, uint64_t id)
{
	char b64[sodium_base64_ENCODED_LEN(SEAL_PK_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), seal_pk(e->seal), SEAL_PK_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s}", "algorithm",
	    "x25519-crypto_box_seal", "key", b64));
}

static void
add_lines(json_t *lines, char *err)
{
	char *save = NULL, *l;

	for (l = strtok_r(err, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(l));
}

/* prof_check_roles on the files as they are on disk now (both valid). */
static unsigned
roles_check(const char *profiles_dir, const char *lifecycle, char *err,
    size_t cap)
{
	struct prof_set *ps = NULL;
	struct lc *lc = NULL;
	unsigned n = 0;

	if (prof_load_dir(profiles_dir, &ps, err, cap) == 0 &&
	    lc_load(lifecycle, &lc, err, cap) == LC_OK) {
		err[0] = '\0';
		n = prof_check_roles(ps, lc, profiles_dir, err, cap);
	}
	lc_free(lc);
	prof_set_free(ps);
	return n;
}

/*
 * The profiles, operator map and lifecycle as they are on disk now (an
 * administrator edited them and wants to know before restarting): every
 * error as file:line. The running engine keeps what it loaded at start.
 */
static int
config_check(struct engine *e, uint64_t id)
{
	char err[8192] = "";
	unsigned nerr = 0, lerr = 0;
	json_t *lines = json_array();
	int rc;

	rc = prof_check_config(e->cfg->profiles_dir, e->cfg->operators, err,
	    sizeof(err), &nerr);
	if (rc != 0 && nerr == 0)
		nerr = 1;	/* an I/O or permission error: in err too */
	add_lines(lines, err);
	err[0] = '\0';
	if (e->cfg->lifecycle != NULL)
		(void)lc_check_config(e->cfg->lifecycle, err, sizeof(err), &lerr);
	add_lines(lines, err);
	nerr += lerr;
	if (nerr == 0 && e->cfg->lifecycle != NULL) {
		err[0] = '\0';
		nerr += roles_check(e->cfg->profiles_dir, e->cfg->lifecycle, err,
		    sizeof(err));
		add_lines(lines, err);
	}
	return eng_reply(e, id, 200, json_pack("{s:b, s:I, s:o, s:s, s:s, s:s}",
	    "valid", nerr == 0, "errors", (json_int_t)nerr, "messages", lines,
	    "profiles_dir", e->cfg->profiles_dir, "operators",
	    e->cfg->operators != NULL ? e->cfg->operators : "", "lifecycle",
	    e->cfg->lifecycle != NULL ? e->cfg->lifecycle : ""));
}

/*
 * The operations that ask keyd for a card's keys (9B, PUK, escrow). A
 * retirement without the card only journals revocations: it is taken, and
 * they go out once the token is back.
 */
static int
needs_token(const struct ops_req *r)
{
	char reader[128];

	switch (r->op->code) {
	case OPS_ISSUE:
	case OPS_UNBLOCK:
		return 1;
	case OPS_RETIRE:
		return eng_arg(r, "reader", reader, sizeof(reader)) != NULL;
	default:
		return 0;
	}
}

/*
 * Master key rotation: keyd makes version N+1 and new cards use it; a card
 * keeps the version its record names (docs/keystore.md). Re-keying old cards
 * as they come by is not done yet.
 */
static int
master_new(struct engine *e, uint64_t id, const struct actor *a)
{
	uint32_t was = __atomic_load_n(&e->master_version, __ATOMIC_SEQ_CST), v;
	char detail[64];
	int ksrc;

	if (keyc_master_new(e, &v, &ksrc) != 0) {
		eng_audit(e, a, "master_new", "-", "refused", ks_strerror(ksrc));
		return eng_error(e, id, ksrc == KS_ERR_EXISTS ? 429 : 502,
		    ksrc == KS_ERR_EXISTS ? "too_soon" : "keyd", "%s",
		    ksrc == KS_ERR_EXISTS ? "one new master key an hour" :
		    ks_strerror(ksrc));
	}
	__atomic_store_n(&e->master_version, v, __ATOMIC_SEQ_CST);
	snprintf(detail, sizeof(detail), "v%u -> v%u", was, v);
	eng_audit(e, a, "master_new", "-", "ok", detail);
	return eng_reply(e, id, 200, json_pack("{s:i, s:i}", "master_key_version",
	    (int)v, "previous", (int)was));
}

/* What the floor allowed, run: in the engine's loop or a worker thread. */
static int
run_op(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a_)
{
	struct actor a = *a_;

	switch (r->op->code) {
	case OPS_STATUS:
		return q_status(e, r, id);
	case OPS_READERS:
		return q_readers(e, r, id);
	case OPS_SESSION_KEY:
		return session_key(e, id);
	case OPS_PROFILES:
		return q_profiles(e, r, id);
	case OPS_HOLDER_ADD:
		return q_holder_add(e, r, id, &a);
	case OPS_HOLDER_GET:
		return q_holder_get(e, r, id);
	case OPS_HOLDER_LIST:
		return q_holder_list(e, r, id);
	case OPS_CARD_LIST:
		return q_card_list(e, r, id);
	case OPS_CARD_GET:
		return q_card_get(e, r, id);
	case OPS_OP_GET:
		return q_op_get(e, r, id);
	case OPS_ISSUE:
		return op_issue(e, r, id, &a);
	case OPS_PIN_CHANGE:
		return op_pin_change(e, r, id, &a);
	case OPS_UNBLOCK_QUESTIONS:
		return op_unblock_questions(e, r, id, &a);
	case OPS_UNBLOCK:
		return op_unblock(e, r, id, &a);
	case OPS_HOLDER_UNLOCK:
		return op_holder_unlock(e, r, id, &a);
	case OPS_MASTER_NEW:
		return master_new(e, id, &a);
	case OPS_RETIRE:
		return op_retire(e, r, id, &a);
	case OPS_SUSPEND:
		return op_suspend(e, r, id, &a);
	case OPS_REINSTATE:
		return op_reinstate(e, r, id, &a);
	case OPS_REPLACE:
		return op_replace(e, r, id, &a);
	case OPS_TEMPORARY:
		return op_temporary(e, r, id, &a);
	case OPS_TEMP_RETURN:
		return op_temp_return(e, r, id, &a);
	case OPS_CERT_LIST:
		return q_cert_list(e, r, id);
	case OPS_AUDIT_LIST:
		return q_audit_list(e, r, id);
	case OPS_AUDIT_VERIFY:
		return q_audit_verify(e, r, id);
	case OPS_CONFIG_CHECK:
		return config_check(e, id);
	case OPS_REPORT_INVENTORY:
		return q_report_inventory(e, r, id);
	case OPS_REPORT_OPERATIONS:
		return q_report_operations(e, r, id);
	case OPS_REPORT_PENDING:
		return q_report_pending(e, r, id);
	case OPS_REPORT_EXPIRING:
		return q_report_expiring(e, r, id);
	case OPS_NOTICES_RUN:
		return q_notices_run(e, r, id, &a);
	case OPS_BACKUP:
		return op_backup(e, id, &a);
	case OPS_LOGIN:
		return op_login(e, r, id, &a);
	case OPS_SESSION:
		return op_session(e, id, &a);
	case OPS_LOGOUT:
		return op_logout(e, r, id, &a);
	case OPS_CRL_CHECK:
		return op_crl_check(e, r, id, &a);
	case OPS_CERT_REVOKE:
		return op_cert_revoke(e, r, id, &a);
	case OPS_CERT_HOLD:
		return op_cert_hold(e, r, id, &a);
	case OPS_APPROVAL_LIST:
		return op_approval_list(e, r, id, &a);
	case OPS_APPROVAL_GET:
		return op_approval_get(e, r, id, &a);
	case OPS_APPROVAL_APPROVE:
		return op_approval_decide(e, r, id, &a, 1);
	case OPS_APPROVAL_DENY:
		return op_approval_decide(e, r, id, &a, 0);
	case OPS_STOCK_RECEIVE:
		return op_stock_receive(e, r, id, &a);
	case OPS_STOCK_LIST:
		return q_stock_list(e, r, id);
	case OPS_STOCK_MOVE:
		return op_stock_move(e, r, id, &a);
	case OPS_STOCK_DISPOSE:
		return op_stock_dispose(e, r, id, &a);
	case OPS_REPORT_STOCK:
		return q_report_stock(e, r, id);
	case OPS_CARD_REQUIREMENTS:
		return q_card_requirements(e, r, id);
	case OPS_CARD_RENEW:
		return op_card_renew(e, r, id, &a);
	default:
		return eng_error(e, id, 501, "not_implemented",
		    "%s is not implemented yet", r->op->name);
	}
}

/*
 * Operations that wait on a card (tens of APDUs, 30 ms each on real cards),
 * the CA or Argon2id run in a thread of their own, so one reader's PIN
 * change never holds up another reader, a status query or the kiosk. They
 * answer by request id; the api matches answers to requests in any order.
 */
static int
slow_op(int code)
{
	switch (code) {
	case OPS_READERS:
	case OPS_LOGIN:
	case OPS_PIN_CHANGE:
	case OPS_UNBLOCK_QUESTIONS:
	case OPS_UNBLOCK:
	case OPS_RETIRE:
	case OPS_SUSPEND:
	case OPS_REINSTATE:
	case OPS_REPLACE:		/* keyd opens escrow blobs */
	case OPS_TEMPORARY:
	case OPS_TEMP_RETURN:
	case OPS_AUDIT_VERIFY:
	case OPS_NOTICES_RUN:		/* SMTP round trips */
	case OPS_CRL_CHECK:		/* fetches the CRL */
	case OPS_CERT_REVOKE:		/* CA round trips */
	case OPS_CERT_HOLD:
	case OPS_BACKUP:		/* the whole inventory, copied */
	/* Inventory reads: a read transaction each (MDB_NOTLS), on every
	 * core at once instead of one after another in the loop. */
	case OPS_CARD_LIST:
	case OPS_HOLDER_LIST:
	case OPS_CERT_LIST:
	case OPS_AUDIT_LIST:
	case OPS_REPORT_INVENTORY:
	case OPS_REPORT_OPERATIONS:
	case OPS_REPORT_PENDING:
	case OPS_REPORT_EXPIRING:
	case OPS_STOCK_RECEIVE:		/* up to 1000 cards, or a card read */
	case OPS_STOCK_LIST:
	case OPS_REPORT_STOCK:
	case OPS_CARD_REQUIREMENTS:
	case OPS_CARD_RENEW:		/* the card and the CA */
		return 1;
	default:
		return 0;
	}
}

int
eng_step_put(struct inv_txn *t, uint64_t op_id, uint32_t no,
    const char *name, const char *state, const uint8_t *d, size_t len,
    const uint8_t *guid)
{
	struct inv_step s;
	struct inv_op op;
	int rc;

	memset(&s, 0, sizeof(s));
	s.op_id = op_id;
	s.no = no;
	snprintf(s.name, sizeof(s.name), "%s:%s", name, state);
	s.state = strcmp(state, "done") == 0 ? INV_STEP_DONE : INV_STEP_STARTED;
	if (d != NULL && len <= sizeof(s.data)) {
		memcpy(s.data, d, len);
		s.data_len = (uint32_t)len;
	}
	if ((rc = inv_op_step_put(t, &s)) != INV_OK ||
	    (rc = inv_op_get(t, op_id, &op)) != INV_OK)
		return rc;
	op.step = s.no;
	op.updated = (uint64_t)time(NULL);
	if (guid != NULL)
		memcpy(op.guid, guid, 16);
	return inv_op_put(t, &op);
}

void
eng_op_changed(struct engine *e)
{
	pthread_mutex_lock(&e->op_mu);
	e->op_seq++;
	pthread_cond_broadcast(&e->op_cv);
	pthread_mutex_unlock(&e->op_mu);
}

/* GET /v1/operations/{op}?wait=S waits, so in a worker (see q_op_get). */
static int
op_waits(const struct ops_req *r)
{
	const struct ops_value *v = ops_req_get(r, "wait", 0, NULL);

	return r->op->code == OPS_OP_GET && v != NULL && v->i > 0;
}

struct work {
	struct engine *e;
	struct work *next;	/* the pool's queue (busy_mu) */
	uint64_t id;
	struct actor a;
	size_t len;
	uint8_t buf[];		/* the request datagram, decoded again here */
};

static void
work_run(struct work *w)
{
	struct engine *e = w->e;
	struct msg *m = malloc(sizeof(*m));
	struct ops_req *r = malloc(sizeof(*r));

	if (m == NULL || r == NULL || msg_decode(w->buf, w->len, m) != MSG_OK ||
	    ops_req_decode(m, r) != OPS_OK)
		(void)eng_error(e, w->id, 500, "internal", "out of memory");
	else if (run_op(e, r, w->id, &w->a) != 0)
		log_warnx("cannot answer the api (request %llu)",
		    (unsigned long long)w->id);
	if (w->a.has_sess)
		eng_sess_touch(e, &w->a.sess);
	sodium_memzero(w->buf, w->len);
	free(r);
	free(m);
	free(w);
}

/*
 * A pool thread: runs queued jobs; idle for ENG_WORKER_IDLE_S, it ends. A
 * thread per request cost the inventory queries a clone and a stack each
 * (a tenth of the engine's time under wrk).
 */
static void *
work_thread(void *arg)
{
	struct engine *e = arg;
	struct timespec until;
	struct work *w;
	int rc = 0;

	pthread_mutex_lock(&e->busy_mu);
	for (;;) {
		while (e->wq_head == NULL && rc != ETIMEDOUT) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += ENG_WORKER_IDLE_S;
			e->idle++;
			rc = pthread_cond_timedwait(&e->wq_cv, &e->busy_mu, &until);
			e->idle--;
		}
		if ((w = e->wq_head) == NULL)
			break;	/* idle too long */
		rc = 0;
		e->queued--;
		if ((e->wq_head = w->next) == NULL)
			e->wq_tail = NULL;
		pthread_mutex_unlock(&e->busy_mu);
		work_run(w);
		pthread_mutex_lock(&e->busy_mu);
		e->workers--;
	}
	e->threads--;
	pthread_mutex_unlock(&e->busy_mu);
	return NULL;
}

static int
run_in_worker(struct engine *e, const uint8_t *buf, size_t len, uint64_t id,
    const struct actor *a)
{
	struct work *w;
	pthread_attr_t at;
	pthread_t th;
	int rc = 0;

	if ((w = malloc(sizeof(*w) + len)) == NULL)
		return eng_error(e, id, 503, "busy", "cannot start the operation");
	w->e = e;
	w->next = NULL;
	w->id = id;
	w->a = *a;
	w->len = len;
	memcpy(w->buf, buf, len);
	pthread_mutex_lock(&e->busy_mu);
	if (e->workers >= ENG_MAX_WORKERS) {
		pthread_mutex_unlock(&e->busy_mu);
		sodium_memzero(w->buf, len);
		free(w);
		return eng_error(e, id, 503, "busy", "too many operations at once");
	}
	/*
	 * A new thread when the jobs waiting outnumber the idle threads (an
	 * idle one may not have woken for the previous job yet): a job never
	 * waits behind another, and there are never more threads than jobs.
	 */
	if (e->queued + 1 > e->idle && e->threads < ENG_MAX_WORKERS) {
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&th, &at, work_thread, e);
		pthread_attr_destroy(&at);
		if (rc == 0)
			e->threads++;
	}
	if (rc != 0 && e->threads == 0) {
		pthread_mutex_unlock(&e->busy_mu);
		sodium_memzero(w->buf, len);
		free(w);
		return eng_error(e, id, 503, "busy", "cannot start the operation");
	}
	e->workers++;
	e->queued++;
	if (e->wq_tail != NULL)
		e->wq_tail->next = w;
	else
		e->wq_head = w;
	e->wq_tail = w;
	pthread_cond_signal(&e->wq_cv);
	pthread_mutex_unlock(&e->busy_mu);
	return 0;
}

static int
dispatch(struct engine *e, const struct ops_req *r, uint64_t id,
    const uint8_t *buf, size_t len)
{
	struct actor a;
	int known;

	if (resolve_actor(e, r, &a) != 0)
		return eng_error(e, id, 401, "no_session", "the session has ended "
		    "(logout, idle timeout, or the card left its reader): log in "
		    "again");
	if (!csrf_ok(r, &a)) {
		eng_audit(e, &a, "denied", r->op->name, "refused", "csrf");
		return eng_error(e, id, 403, "csrf", "X-CSRF-Token missing or "
		    "not this session's: nothing was changed");
	}
	if (!floor_allows(r->op->code, a.roles, &known)) {
		if (!known)
			return eng_error(e, id, 501, "not_implemented",
			    "%s is not implemented yet", r->op->name);
		eng_audit(e, &a, "denied", r->op->name, "refused",
		    "role not allowed");
		return eng_error(e, id, 403, "forbidden",
		    "%s may not run %s", a.name, r->op->name);
	}
	if (e->token_bad && needs_token(r))
		return eng_error(e, id, 503, "token_damaged", "station token "
		    "damaged or missing: %s is refused until it is restored from "
		    "its backup", r->op->name);
	if (slow_op(r->op->code) || op_waits(r))
		return run_in_worker(e, buf, len, id, &a);
	return run_op(e, r, id, &a);
}

/* PEM certificates of file into the store. -1 on error or none. */
static int
store_add_pem(X509_STORE *st, const char *file, int anchors,
    STACK_OF(X509) *chain)
{
	BIO *b = BIO_new_file(file, "r");
	X509 *x;
	int n = 0;

	if (b == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (anchors ? X509_STORE_add_cert(st, x) != 1 :
		    !sk_X509_push(chain, x)) {
			X509_free(x);
			n = -1;
			break;
		}
		if (anchors)
			X509_free(x);
		n++;
	}
	ERR_clear_error();
	BIO_free(b);
	return n > 0 ? 0 : -1;
}

/*
 * The operator cards' trust: anchors from operator_trust (default: the CA
 * link's cmp_trust, the anchors its issued chains verify against), plus
 * intermediates from operator_chain (default: the CA link's untrusted),
 * which help build a chain but never end one. No anchors: no card login.
 */
static int
load_op_trust(struct engine_cfg *cfg)
{
	const char *anchors = cfg->operator_trust, *chain = cfg->operator_chain;
	STACK_OF(X509) *mid = NULL;
	X509_STORE *st = NULL;
	int rc = -1;

	if (anchors == NULL && cfg->ca != NULL && cfg->ca->cmp_trust[0])
		anchors = cfg->ca->cmp_trust;
	if (chain == NULL && cfg->ca != NULL && cfg->ca->untrusted[0])
		chain = cfg->ca->untrusted;
	if (anchors == NULL) {
		log_info("no operator trust anchors: card login is off");
		return 0;
	}
	if ((st = X509_STORE_new()) == NULL || (mid = sk_X509_new_null()) == NULL)
		goto out;
	if (store_add_pem(st, anchors, 1, NULL) != 0) {
		log_warnx("operator_trust %s: no PEM certificate", anchors);
		goto out;
	}
	if (chain != NULL && store_add_pem(st, chain, 0, mid) != 0) {
		log_warnx("operator_chain %s: no PEM certificate", chain);
		goto out;
	}
	cfg->op_chain = mid;
	mid = NULL;
	cfg->op_trust = st;
	st = NULL;
	rc = 0;
out:
	sk_X509_pop_free(mid, X509_free);
	X509_STORE_free(st);
	return rc;
}

int
engine_setup(struct engine_cfg *cfg)
{
	static struct caconf ca;
	char err[8192] = "";
	int rc;

	if (prof_load_dir(cfg->profiles_dir, &cfg->profiles, err,
	    sizeof(err)) != 0) {
		log_warnx("profiles in %s refused:\n%s", cfg->profiles_dir, err);
		return -1;
	}
	if (cfg->operators != NULL && opr_load(cfg->operators,
	    &cfg->operator_map, err, sizeof(err)) != 0) {
		log_warnx("operator map %s refused:\n%s", cfg->operators, err);
		return -1;
	}
	if (cfg->lifecycle == NULL || lc_load(cfg->lifecycle, &cfg->lc, err,
	    sizeof(err)) != LC_OK) {
		log_warnx("lifecycle %s refused:\n%s", cfg->lifecycle ?
		    cfg->lifecycle : "(none configured)", err);
		return -1;
	}
	if (prof_check_roles(cfg->profiles, cfg->lc, cfg->profiles_dir, err,
	    sizeof(err)) > 0) {
		log_warnx("profiles and lifecycle disagree:\n%s", err);
		return -1;
	}
	/* The lifecycle names the inventory's states by their numbers. */
	for (int s = 0; s < INV_CARD_NSTATES || s < LC_NSTATES; s++)
		if (s >= INV_CARD_NSTATES || lc_state_name(s) == NULL ||
		    strcmp(lc_state_name(s), inv_card_state_name(s)) != 0) {
			log_warnx("lifecycle state %d is not the inventory's", s);
			return -1;
		}
	if (cfg->ca_conf != NULL) {
		if (caconf_load(cfg->ca_conf, &ca, err, sizeof(err)) != 0) {
			log_warnx("%s", err);
			return -1;
		}
		cfg->ca = &ca;
	}
	if (load_op_trust(cfg) != 0)
		return -1;
	/* The backup public key, read while root (the file stays root's). */
	if (cfg->backup_dir != NULL && (rc = bkp_key_load(cfg->backup_key, 0,
	    cfg->backup_pk)) != BKP_OK) {
		log_warnx("backup_public_key %s: %s", cfg->backup_key,
		    bkp_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * The CA journal drains in the background: work queued while the CA was
 * unreachable (revocations above all) goes out as soon as it answers again,
 * and what it confirmed is folded into the inventory. Also runs once at
 * start, so a restart resumes what a crash interrupted.
 */
static void *
drain_loop(void *arg)
{
	struct engine *e = arg;
	struct outbox_drain_stats st;
	struct outbox_counts c;

	for (;;) {
		int rc, held;

		pthread_mutex_lock(&e->ca_mu);
		rc = outbox_count(cast_outbox(e->cast), &c);
		held = e->ca_held;
		pthread_mutex_unlock(&e->ca_mu);
		if (rc == OUTBOX_OK && c.pending > 0 && !held) {
			eng_ca_drain(e, &st);
			if (st.done || st.failed || st.retried)
				log_info("CA journal: %u done, %u refused, %u to "
				    "retry, %llu left", st.done, st.failed,
				    st.retried, (unsigned long long)st.remaining);
		} else {
			eng_ca_reconcile(e);
		}
		sleep(e->cfg->ca_retry_s ? e->cfg->ca_retry_s : 30);
	}
	return NULL;
}

int
engine_main(const struct engine_cfg *cfg, int api_fd, int keyd_fd)
{
	struct engine e;
	struct msg_hdr h;
	struct msg *m = NULL;
	struct ops_req *r = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, status = 1;

	log_setproc("engine");
	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.api_fd = api_fd;
	e.keyd_fd = keyd_fd;
	e.started = time(NULL);
	pthread_mutex_init(&e.api_mu, NULL);
	pthread_mutex_init(&e.keyd_mu, NULL);
	pthread_mutex_init(&e.busy_mu, NULL);
	pthread_cond_init(&e.wq_cv, NULL);
	{
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		sem_init(&e.hash_slots, 0, ncpu < 1 ? 1 : ncpu > 16 ? 16 :
		    (unsigned)ncpu);
	}
	e.profiles = cfg->profiles;
	e.operators = cfg->operator_map;
	e.lc = cfg->lc;
	if ((rc = inv_open(cfg->state_dir, cfg->map_size, &e.inv)) != INV_OK) {
		log_warnx("inventory %s: %s", cfg->state_dir, inv_strerror(rc));
		goto out;
	}
	if (seal_new(&e.seal) != SEAL_OK || eng_sess_init(&e) != 0)
		goto out;
	if ((rc = keyc_info(&e, &e.master_version)) == KS_ERR_NOTOKEN) {
		e.token_bad = 1;
		log_warnx("station token damaged or missing: issuance, unblock "
		    "and retire are refused and the CA journal is held until "
		    "it is restored (GET /v1/status)");
	} else if (rc != 0) {
		log_warnx("keyd did not answer");
		goto out;
	}
	pthread_mutex_init(&e.ca_mu, NULL);
	pthread_mutex_init(&e.op_mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&e.op_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	{
		pthread_rwlockattr_t ra;

		/* A drain waiting for the lane goes before new senders. */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra,
		    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&e.ca_lane, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	/* libcurl's global state, before any thread (SMTP for notices). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		goto out;
	if (eng_ca_open(&e) != 0)
		goto out;
	if ((buf = malloc(MSG_MAX)) == NULL || (m = malloc(sizeof(*m))) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		goto out;
	/* Before eng_recover_start marks what was RUNNING as failed. */
	if (eng_renew_recover(&e) != INV_OK)
		log_warnx("renewals interrupted by a restart: cannot settle");
	if (eng_recover_start(&e) != INV_OK || eng_watch_start(&e) != 0)
		goto out;
	if (eng_temp_start(&e) != 0)
		log_warnx("temporary card scheduler: cannot start");
	if (eng_notices_start(&e) != 0)
		goto out;
	if (eng_central_start(&e) != 0)
		log_warnx("CRL check: cannot start its thread");
	if (e.cast != NULL) {
		pthread_t th;

		if (pthread_create(&th, NULL, drain_loop, &e) != 0)
			goto out;
		pthread_detach(th);
	}
	log_info("ready: inventory %s, master key v%u", cfg->state_dir,
	    e.master_version);
	for (;;) {
		rc = msg_recv(api_fd, buf, MSG_MAX, &h, &len);
		if (rc == MSG_ERR_CLOSED) {
			status = 0;
			break;
		}
		if (rc != MSG_OK || h.type != MSG_REQ ||
		    msg_decode(buf, len, m) != MSG_OK ||
		    (rc = ops_req_decode(m, r)) != OPS_OK) {
			/* The api validated it: a bad one means the api is
			 * not what we started. Fail closed. */
			log_warnx("malformed request from the api: %s",
			    rc != MSG_OK ? msg_strerror(rc) : ops_strerror(rc));
			break;
		}
		if (dispatch(&e, r, h.id, buf, len) != 0) {
			log_warnx("cannot answer the api");
			break;
		}
		sodium_memzero(buf, len);
	}
out:
	free(r);
	free(m);
	free(buf);
	seal_free(e.seal);
	eng_sess_free(&e);
	eng_ca_close(&e);
	ntf_close(e.ntf);
	inv_close(e.inv);
	prof_set_free(e.profiles);
	opr_free(e.operators);
	lc_free(e.lc);
	return status;
}
