/*
 * lc: the card lifecycle as configuration (provisioning/lifecycle.conf).
 * Which card states a station uses, which transitions between them are
 * allowed, who may run each, and what each does to the card's certificates
 * at the CA: revoke (with which RFC 5280 reason), hold (certificateHold),
 * un-hold (removeFromCRL) or none. Dogtag TPS keeps the same table in its
 * configuration (docs/lifecycle.md has the sources).
 *
 *   initial = "blank";
 *   states = [ "blank", "issuing", "active", "suspended", "retired" ];
 *   transitions = (
 *     { name = "suspend"; from = [ "active" ]; to = "suspended";
 *       effect = "hold"; roles = [ "helpdesk", "security_officer" ]; },
 *     ...
 *   );
 *
 * Parsed strictly like the profiles (pcfg): unknown settings, unknown
 * states, reasons and roles, a transition without its CA effect, a revoke
 * without a reason it can find, a state no transition reaches from the
 * initial one are errors, each "file:line: message"; a file others may
 * write is refused.
 *
 * State numbers are the inventory's (enum inv_card_state in inv/inv.h):
 * lc_state_name(i) must equal inv_card_state_name(i), which the engine
 * checks when it starts. The configuration chooses among the states the
 * inventory can store; it cannot invent one the engine would not know.
 */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

enum lc_err {
	LC_OK = 0,
	LC_ERR_ARG = -1,
	LC_ERR_IO = -2,		/* cannot read the file */
	LC_ERR_PERM = -3,	/* symlink, foreign owner, writable by others */
	LC_ERR_CONFIG = -4,	/* syntax or semantic errors (see errbuf) */
	LC_ERR_NOMEM = -5,
};

const char *lc_strerror(int err);
const char *lc_errname(int err);

/* What a transition does to the card's certificates at the CA. */
enum lc_effect {
	LC_EFFECT_NONE = 0,	/* "none" */
	LC_EFFECT_REVOKE,	/* "revoke": final, with a reason */
	LC_EFFECT_HOLD,		/* "hold": revoked with certificateHold */
	LC_EFFECT_UNHOLD,	/* "unhold": removeFromCRL */
};

#define LC_NSTATES 14		/* INV_CARD_NSTATES */
#define LC_TRANSITIONS_MAX 64
#define LC_NAME_MAX 31
#define LC_REASON_PROFILE (-1)	/* revoke: the profile's revocation reason */

struct lc_transition {
	char name[LC_NAME_MAX + 1];	/* [a-z][a-z0-9_]*, unique */
	uint32_t from;			/* bit per state it may start from */
	int to;				/* state */
	enum lc_effect effect;
	/*
	 * CRLReason code. revoke: the configured reason, or LC_REASON_PROFILE
	 * when the transition names a profile event (retire, lost, stolen,
	 * damaged, replace) and gives none: the card's profile decides, as
	 * before the lifecycle was configurable. hold: 6; unhold: 8; none: -2.
	 */
	int reason;
	int prof_event;			/* enum prof_event, or -1 */
	uint32_t roles;			/* enum opr_role bits; 0: the engine only */
	unsigned line;
};

#define LC_CRL_REASONS 11		/* CRLReason 0..10 */

struct lc {
	int initial;			/* state new cards start in */
	uint32_t states;		/* bit per state the station uses */
	size_t n;
	struct lc_transition t[LC_TRANSITIONS_MAX];
	/*
	 * crl_reasons: what a card does when the CA's CRL shows one of its
	 * certificates revoked (or held, or released) without this station
	 * asking: crl[reason] is 1 + the index in t[] of the transition it
	 * runs, 0 for none (the certificate's status follows, the card's
	 * state stays). "removeFromCRL" is the release of a hold.
	 */
	uint8_t crl[LC_CRL_REASONS];
};

/* [out] *out: lc_free. errbuf: one "file:line: message" line per error. */
int lc_load(const char *path, struct lc **out, char *errbuf, size_t cap);
/* The same from memory; file names the text in messages. */
int lc_load_string(const char *file, const char *text, size_t len,
    struct lc **out, char *errbuf, size_t cap);
void lc_free(struct lc *lc);

/* The transition called name, or NULL. */
const struct lc_transition *lc_find(const struct lc *lc, const char *name);
/* 1 if t may start from state. */
int lc_from(const struct lc_transition *t, int state);
/* 1 if any of the roles bits may run t (never for engine-only ones). */
int lc_allows(const struct lc_transition *t, uint32_t roles);
/*
 * The CRL reason t sends for a card of profile reasons preason[] (struct
 * prof's reason[], may be NULL): its own, else the profile's for its event;
 * -1 when t has no CA effect.
 */
int lc_reason(const struct lc_transition *t, const int *preason);

/*
 * The transition a card runs when the CRL shows one of its certificates
 * with reason (-1, no reason given: unspecified), or NULL when the
 * lifecycle names none. Such transitions have effect none: the CA did it.
 */
const struct lc_transition *lc_crl_transition(const struct lc *lc,
    int reason);

/* Names as written in the file; NULL when out of range. */
const char *lc_state_name(int state);
int lc_state_from_name(const char *name);	/* -1 if unknown */
const char *lc_effect_name(enum lc_effect e);

/*
 * What `cardmgr check-config` runs for the lifecycle: load path and report
 * every error. [out] *nerrors if not NULL.
 */
int lc_check_config(const char *path, char *errbuf, size_t cap,
    unsigned *nerrors);

#endif /* LIFECYCLE_H */
