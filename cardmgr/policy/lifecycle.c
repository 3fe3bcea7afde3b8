/* lc: the card lifecycle as configuration. See lifecycle.h. */
#include "lifecycle.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "operators.h"
#include "pcfg.h"
#include "profile.h"

/* The inventory's states, in its order (enum inv_card_state). */
static const char *const state_names[LC_NSTATES + 1] = { "blank", "issuing",
	"active", "suspended", "blocked", "retiring", "retired", "lost",
	"damaged", "stolen", "temporary", "returned", "expired", "disposed",
	NULL };
#define S_BLANK 0
#define S_ISSUING 1
#define S_ACTIVE 2
#define S_RETIRED 6

static const char *const effect_names[] = { "none", "revoke", "hold",
	"unhold", NULL };

#define R_HOLD 6
#define R_REMOVE 8
#define R_NONE (-2)

/*
 * Transitions the issuance journal and its roll back perform themselves
 * (engine/issue.c, engine/recover.c): their shape is not configurable,
 * only their presence makes the states they join reachable.
 */
static const struct {
	const char *name;
	int from, to;
	enum lc_effect effect;
} fixed[] = {
	{ "issue", S_BLANK, S_ISSUING, LC_EFFECT_NONE },
	{ "activate", S_ISSUING, S_ACTIVE, LC_EFFECT_NONE },
	{ "rollback", S_ISSUING, S_RETIRED, LC_EFFECT_REVOKE },
};

const char *
lc_strerror(int err)
{
	switch (err) {
	case LC_OK:		return "success";
	case LC_ERR_ARG:	return "invalid argument";
	case LC_ERR_IO:		return "cannot read the lifecycle file";
	case LC_ERR_PERM:	return "lifecycle file refused (symlink, owner or mode)";
	case LC_ERR_CONFIG:	return "invalid lifecycle";
	case LC_ERR_NOMEM:	return "out of memory";
	default:		return "unknown lifecycle error";
	}
}

const char *
lc_errname(int err)
{
	switch (err) {
	case LC_OK:		return "LC_OK";
	case LC_ERR_ARG:	return "LC_ERR_ARG";
	case LC_ERR_IO:		return "LC_ERR_IO";
	case LC_ERR_PERM:	return "LC_ERR_PERM";
	case LC_ERR_CONFIG:	return "LC_ERR_CONFIG";
	case LC_ERR_NOMEM:	return "LC_ERR_NOMEM";
	default:		return "LC_ERR_UNKNOWN";
	}
}

const char *
lc_state_name(int state)
{
	return state >= 0 && state < LC_NSTATES ? state_names[state] : NULL;
}

int
lc_state_from_name(const char *name)
{
	for (int i = 0; name != NULL && i < LC_NSTATES; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

const char *
lc_effect_name(enum lc_effect e)
{
	return (unsigned)e <= LC_EFFECT_UNHOLD ? effect_names[e] : NULL;
}

static int
reason_from_name(const char *name)
{
	const char *n;

	for (int i = 0; i <= 10; i++)
		if ((n = prof_reason_name(i)) != NULL && strcmp(n, name) == 0)
			return i;
	return -1;
}

static int
event_from_name(const char *name)
{
	const char *n;

	for (int i = 0; i < PROF_EV_COUNT; i++)
		if ((n = prof_event_name(i)) != NULL && strcmp(n, name) == 0)
			return i;
	return -1;
}

void
lc_free(struct lc *lc)
{
	free(lc);
}

const struct lc_transition *
lc_find(const struct lc *lc, const char *name)
{
	for (size_t i = 0; lc != NULL && name != NULL && i < lc->n; i++)
		if (strcmp(lc->t[i].name, name) == 0)
			return &lc->t[i];
	return NULL;
}

int
lc_from(const struct lc_transition *t, int state)
{
	return t != NULL && state >= 0 && state < LC_NSTATES &&
	    (t->from & (1u << state)) != 0;
}

int
lc_allows(const struct lc_transition *t, uint32_t roles)
{
	return t != NULL && (t->roles & roles) != 0;
}

int
lc_reason(const struct lc_transition *t, const int *preason)
{
	if (t == NULL || t->effect == LC_EFFECT_NONE)
		return -1;
	if (t->reason != LC_REASON_PROFILE)
		return t->reason;
	if (preason == NULL || t->prof_event < 0)
		return 0;	/* unspecified; the parser refuses this case */
	return preason[t->prof_event];
}

/* ---- parsing ---- */

static int
is_tname(const char *s)
{
	size_t i;

	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_'))
			return 0;
	return i <= LC_NAME_MAX;
}

/* A state the file lists, by the string in setting s; -1 after an error. */
static int
state_of(struct pcfg_ctx *c, const config_setting_t *s, const struct lc *lc,
    const char *what)
{
	const char *v = config_setting_get_string(s);
	int st;

	if (v == NULL) {
		pcfg_err(c, s, "%s: a state name must be a string", what);
		return -1;
	}
	if ((st = lc_state_from_name(v)) < 0) {
		pcfg_err(c, s, "%s: unknown state \"%.32s\"", what,
		    pcfg_plain_name(v, 33) ? v : "?");
		return -1;
	}
	if ((lc->states & (1u << st)) == 0) {
		pcfg_err(c, s, "%s: state \"%s\" is not in states", what, v);
		return -1;
	}
	return st;
}

static void
parse_states(struct pcfg_ctx *c, const config_setting_t *root, struct lc *lc)
{
	const config_setting_t *l, *e, *m;
	const char *v;
	int st;

	if ((l = pcfg_member(c, root, "states", 1, CONFIG_TYPE_LIST)) != NULL)
		for (unsigned i = 0; (e = config_setting_get_elem(l, i)) != NULL;
		    i++) {
			v = config_setting_get_string(e);
			if (v == NULL || (st = lc_state_from_name(v)) < 0) {
				pcfg_err(c, e, "states: unknown state \"%.32s\" "
				    "(the inventory's: blank, issuing, active, "
				    "suspended, blocked, retiring, retired, lost, "
				    "damaged, stolen, temporary, returned, "
				    "expired)", v && pcfg_plain_name(v, 33) ?
				    v : "?");
				continue;
			}
			if (lc->states & (1u << st))
				pcfg_err(c, e, "states: \"%s\" listed twice", v);
			lc->states |= 1u << st;
		}
	lc->initial = -1;
	if ((m = pcfg_member(c, root, "initial", 1, CONFIG_TYPE_STRING)) != NULL)
		lc->initial = state_of(c, m, lc, "initial");
}

static uint32_t
parse_roles(struct pcfg_ctx *c, const config_setting_t *g, const char *name)
{
	const config_setting_t *l, *e;
	const char *v;
	uint32_t bit, roles = 0;

	if ((l = pcfg_member(c, g, "roles", 1, CONFIG_TYPE_LIST)) == NULL)
		return 0;
	for (unsigned i = 0; (e = config_setting_get_elem(l, i)) != NULL; i++) {
		v = config_setting_get_string(e);
		if (v == NULL || (bit = opr_role_from_name(v)) == 0) {
			pcfg_err(c, e, "transition %s: unknown role \"%.32s\" "
			    "(badge_officer, helpdesk, security_officer, "
			    "auditor, administrator)", name,
			    v && pcfg_plain_name(v, 33) ? v : "?");
			continue;
		}
		/* A holder acts on their own card's PIN only (profiles). */
		if (bit == OPR_ROLE_HOLDER)
			pcfg_err(c, e, "transition %s: holder may not change a "
			    "card's state", name);
		roles |= bit;
	}
	return roles;
}

static void
parse_from(struct pcfg_ctx *c, const config_setting_t *g,
    struct lc_transition *t, const struct lc *lc)
{
	const config_setting_t *l, *e;
	int st;

	if ((l = pcfg_member(c, g, "from", 1, CONFIG_TYPE_LIST)) == NULL)
		return;
	if (config_setting_length(l) == 0)
		pcfg_err(c, l, "transition %s: from must name a state", t->name);
	for (unsigned i = 0; (e = config_setting_get_elem(l, i)) != NULL; i++)
		if ((st = state_of(c, e, lc, t->name)) >= 0)
			t->from |= 1u << st;
}

/* effect and reason: every transition says what it does at the CA. */
static void
parse_effect(struct pcfg_ctx *c, const config_setting_t *g,
    struct lc_transition *t)
{
	const config_setting_t *m, *r;
	const char *v;
	int e;

	t->reason = R_NONE;
	if ((m = config_setting_get_member(g, "effect")) == NULL) {
		pcfg_err(c, g, "transition %s: no effect: say what it does to "
		    "the card's certificates (none, revoke, hold, unhold)",
		    t->name);
		return;
	}
	if (!pcfg_enum(c, g, "effect", 1, 0, effect_names, &e))
		return;
	t->effect = (enum lc_effect)e;
	r = config_setting_get_member(g, "reason");
	if (r != NULL && config_setting_type(r) != CONFIG_TYPE_STRING) {
		pcfg_err(c, r, "transition %s: reason must be a string", t->name);
		return;
	}
	v = r != NULL ? config_setting_get_string(r) : NULL;
	if (v != NULL && reason_from_name(v) < 0) {
		pcfg_err(c, r, "transition %s: unknown reason \"%.32s\" (RFC 5280 "
		    "CRLReason names)", t->name, pcfg_plain_name(v, 33) ? v :
		    "?");
		return;
	}
	switch (t->effect) {
	case LC_EFFECT_NONE:
		if (r != NULL)
			pcfg_err(c, r, "transition %s: effect none sends no "
			    "reason", t->name);
		return;
	case LC_EFFECT_HOLD:
	case LC_EFFECT_UNHOLD:
		t->reason = t->effect == LC_EFFECT_HOLD ? R_HOLD : R_REMOVE;
		if (r != NULL && reason_from_name(v) != t->reason)
			pcfg_err(c, r, "transition %s: effect %s always sends "
			    "%s", t->name, effect_names[t->effect],
			    prof_reason_name(t->reason));
		return;
	case LC_EFFECT_REVOKE:
		break;
	}
	if (r == NULL) {
		if (t->prof_event < 0)
			pcfg_err(c, m, "transition %s: revoke needs a reason (only "
			    "retire, lost, stolen, damaged and replace may take "
			    "the profile's)", t->name);
		t->reason = LC_REASON_PROFILE;
		return;
	}
	t->reason = reason_from_name(v);
	/* A hold can be released and removeFromCRL is no revocation; no card
	 * event compromises a CA. */
	if (t->reason == R_HOLD || t->reason == R_REMOVE ||
	    t->reason == 2 || t->reason == 10)
		pcfg_err(c, r, "transition %s: %s is not a reason a revocation "
		    "of a card may give%s", t->name, v, t->reason == R_HOLD ?
		    " (use effect hold)" : "");
}

static const char *const transition_keys[] = { "name", "from", "to",
	"effect", "reason", "roles", NULL };

static void
parse_transition(struct pcfg_ctx *c, const config_setting_t *g, struct lc *lc)
{
	struct lc_transition *t = &lc->t[lc->n];
	const config_setting_t *m;

	memset(t, 0, sizeof(*t));
	t->to = -1;
	t->line = pcfg_line(g);
	pcfg_only(c, g, transition_keys);
	if (!pcfg_str(c, g, "name", 1, NULL, t->name, sizeof(t->name)))
		snprintf(t->name, sizeof(t->name), "?");
	else if (!is_tname(t->name))
		pcfg_err(c, config_setting_get_member(g, "name"), "transition "
		    "names are lower-case letters, digits and '_', starting "
		    "with a letter");
	else if (lc_find(lc, t->name) != NULL)
		pcfg_err(c, config_setting_get_member(g, "name"), "transition "
		    "%s defined twice (line %u)", t->name,
		    lc_find(lc, t->name)->line);
	t->prof_event = event_from_name(t->name);
	parse_from(c, g, t, lc);
	if ((m = pcfg_member(c, g, "to", 1, CONFIG_TYPE_STRING)) != NULL &&
	    (t->to = state_of(c, m, lc, t->name)) >= 0 && lc_from(t, t->to))
		pcfg_err(c, m, "transition %s: goes from %s to itself", t->name,
		    state_names[t->to]);
	parse_effect(c, g, t);
	t->roles = parse_roles(c, g, t->name);
	lc->n++;
}

/* An error at a transition's line (its setting is gone by now). */
static void
err_at(struct pcfg_ctx *c, const struct lc_transition *t, const char *msg)
{
	pcfg_diag_add(c->d, c->file, t->line, "transition %s: %s", t->name, msg);
	c->bad = 1;
}

/* The transitions the issuance journal performs, as it performs them. */
static void
check_fixed(struct pcfg_ctx *c, const config_setting_t *list,
    const struct lc *lc)
{
	const struct lc_transition *t;
	char msg[160];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((t = lc_find(lc, fixed[i].name)) == NULL) {
			pcfg_err(c, list, "no transition %s (%s to %s): the "
			    "issuance journal performs it", fixed[i].name,
			    state_names[fixed[i].from], state_names[fixed[i].to]);
			continue;
		}
		if (t->from == (1u << fixed[i].from) && t->to == fixed[i].to &&
		    t->effect == fixed[i].effect)
			continue;
		snprintf(msg, sizeof(msg), "must go from %s to %s with effect "
		    "%s: the issuance journal performs it so",
		    state_names[fixed[i].from], state_names[fixed[i].to],
		    effect_names[fixed[i].effect]);
		err_at(c, t, msg);
	}
}

/*
 * Every listed state reachable from the initial one; an un-hold only from
 * a state a hold leads to (otherwise nothing is held to release).
 */
static void
check_graph(struct pcfg_ctx *c, const config_setting_t *root,
    const struct lc *lc)
{
	const config_setting_t *sl = config_setting_get_member(root, "states");
	uint32_t seen, held = 0, prev;
	size_t i;

	if (lc->initial < 0)
		return;
	seen = 1u << lc->initial;
	do {
		prev = seen;
		for (i = 0; i < lc->n; i++)
			if ((lc->t[i].from & seen) && lc->t[i].to >= 0)
				seen |= 1u << lc->t[i].to;
	} while (seen != prev);
	for (int s = 0; s < LC_NSTATES; s++)
		if ((lc->states & (1u << s)) && !(seen & (1u << s)))
			pcfg_err(c, sl, "state %s is unreachable: no transition "
			    "leads to it from %s", state_names[s],
			    state_names[lc->initial]);
	for (i = 0; i < lc->n; i++)
		if (lc->t[i].effect == LC_EFFECT_HOLD && lc->t[i].to >= 0)
			held |= 1u << lc->t[i].to;
	for (i = 0; i < lc->n; i++)
		if (lc->t[i].effect == LC_EFFECT_UNHOLD &&
		    (lc->t[i].from & ~held) != 0)
			err_at(c, &lc->t[i], "unhold from a state no hold "
			    "leads to (nothing there is held)");
}

const struct lc_transition *
lc_crl_transition(const struct lc *lc, int reason)
{
	if (reason < 0)
		reason = 0;
	if (lc == NULL || reason >= LC_CRL_REASONS || lc->crl[reason] == 0)
		return NULL;
	return &lc->t[lc->crl[reason] - 1];
}

static const char *const crl_keys[] = { "reason", "transition", NULL };

/*
 * One crl_reasons entry: { reason = "keyCompromise"; transition = "x"; }.
 * The transition must exist and have effect none or revoke: the CA already
 * revoked, held or released the certificate and the card follows; with
 * revoke, the card's other certificates go too (a lost or retired card
 * keeps none valid). A hold or release would echo the CA's own.
 */
static void
parse_crl_entry(struct pcfg_ctx *c, const config_setting_t *g, struct lc *lc)
{
	char rname[40], tname[LC_NAME_MAX + 1];
	const struct lc_transition *t;
	int r;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		pcfg_err(c, g, "each crl_reasons entry must be a group { ... }");
		return;
	}
	pcfg_only(c, g, crl_keys);
	if (!pcfg_str(c, g, "reason", 1, NULL, rname, sizeof(rname)) ||
	    !pcfg_str(c, g, "transition", 1, NULL, tname, sizeof(tname)))
		return;
	if ((r = reason_from_name(rname)) < 0) {
		pcfg_err(c, g, "crl_reasons: unknown reason \"%.32s\" (RFC 5280 "
		    "CRLReason names)", rname);
		return;
	}
	if (lc->crl[r] != 0) {
		pcfg_err(c, g, "crl_reasons: %s named twice", rname);
		return;
	}
	if ((t = lc_find(lc, tname)) == NULL) {
		pcfg_err(c, g, "crl_reasons: %s names no transition \"%s\"",
		    rname, tname);
		return;
	}
	if (t->effect != LC_EFFECT_NONE && t->effect != LC_EFFECT_REVOKE) {
		pcfg_err(c, g, "crl_reasons: transition %s has effect %s: a "
		    "card following the CA's CRL revokes its other certificates "
		    "(effect revoke) or sends nothing (effect none)",
		    tname, effect_names[t->effect]);
		return;
	}
	lc->crl[r] = (uint8_t)(t - lc->t + 1);
}

static void
parse_crl_reasons(struct pcfg_ctx *c, const config_setting_t *root,
    struct lc *lc)
{
	const config_setting_t *l;

	if ((l = pcfg_member(c, root, "crl_reasons", 0, CONFIG_TYPE_LIST)) ==
	    NULL)
		return;
	for (unsigned i = 0; i < (unsigned)config_setting_length(l); i++)
		parse_crl_entry(c, config_setting_get_elem(l, i), lc);
}

static void
parse_lc(struct pcfg_ctx *c, const config_setting_t *root, struct lc *lc)
{
	static const char *const top[] = { "initial", "states", "transitions",
		"crl_reasons", NULL };
	const config_setting_t *l, *g;
	unsigned n;

	pcfg_only(c, root, top);
	parse_states(c, root, lc);
	if ((l = pcfg_member(c, root, "transitions", 1, CONFIG_TYPE_LIST)) ==
	    NULL)
		return;
	if ((n = (unsigned)config_setting_length(l)) > LC_TRANSITIONS_MAX) {
		pcfg_err(c, l, "more than %d transitions", LC_TRANSITIONS_MAX);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		g = config_setting_get_elem(l, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			pcfg_err(c, g, "each transition must be a group { ... }");
			continue;
		}
		parse_transition(c, g, lc);
	}
	check_fixed(c, l, lc);
	check_graph(c, root, lc);
	parse_crl_reasons(c, root, lc);
}

static int
load(const char *file, const char *text, size_t len, struct pcfg_diag *d,
    struct lc **out)
{
	struct pcfg_ctx c = { file, d, 0 };
	struct lc *lc;
	config_t cfg;
	int rc = LC_ERR_CONFIG;

	*out = NULL;
	if ((lc = calloc(1, sizeof(*lc))) == NULL)
		return LC_ERR_NOMEM;
	config_init(&cfg);
	if (pcfg_parse(&cfg, text, len, file, d) != PCFG_OK)
		goto out;
	parse_lc(&c, config_root_setting(&cfg), lc);
	if (c.bad)
		goto out;
	*out = lc;
	lc = NULL;
	rc = LC_OK;
out:
	lc_free(lc);
	config_destroy(&cfg);
	return rc;
}

int
lc_load_string(const char *file, const char *text, size_t len,
    struct lc **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (file == NULL || (text == NULL && len > 0))
		return LC_ERR_ARG;
	return load(file, text ? text : "", len, &d, out);
}

static int
load_path(const char *path, struct lc **out, struct pcfg_diag *d)
{
	const char *why;
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	if (path == NULL)
		return LC_ERR_ARG;
	if ((rc = pcfg_read_at(AT_FDCWD, path, PCFG_MAX_FILE, &text, &len,
	    &why)) != PCFG_OK) {
		pcfg_diag_add(d, path, 0, "%s", why);
		return rc == PCFG_ERR_PERM ? LC_ERR_PERM :
		    rc == PCFG_ERR_NOMEM ? LC_ERR_NOMEM :
		    rc == PCFG_ERR_TOOBIG ? LC_ERR_CONFIG : LC_ERR_IO;
	}
	rc = load(path, text, len, d, out);
	free(text);
	return rc;
}

int
lc_load(const char *path, struct lc **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;

	pcfg_diag_init(&d, errbuf, cap);
	return load_path(path, out, &d);
}

int
lc_check_config(const char *path, char *errbuf, size_t cap,
    unsigned *nerrors)
{
	struct pcfg_diag d;
	struct lc *lc = NULL;
	int rc;

	pcfg_diag_init(&d, errbuf, cap);
	rc = load_path(path, &lc, &d);
	lc_free(lc);
	if (nerrors != NULL)
		*nerrors = d.count > 0 ? d.count : rc != LC_OK;
	return rc;
}
