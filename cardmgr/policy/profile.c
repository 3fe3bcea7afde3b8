/*
 * prof: the strict profile parser. See profile.h for the model and
 * docs/profiles.md for every setting, its default, range and source.
 *
 * Parsing goes on after a semantic error so that one run of check-config
 * lists every mistake in a file; a profile with any error is not returned.
 */
#include "profile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "operators.h"
#include "pcfg.h"
#include "prof_int.h"

#define MAX_PROFILES 256

struct prof_set {
	struct prof **v;
	size_t n;
};

const char *
prof_strerror(int err)
{
	switch (err) {
	case PROF_OK:		return "success";
	case PROF_ERR_ARG:	return "bad argument";
	case PROF_ERR_IO:	return "cannot read profile";
	case PROF_ERR_PERM:	return "profile file or directory refused";
	case PROF_ERR_CONFIG:	return "profile configuration error";
	case PROF_ERR_NOMEM:	return "out of memory";
	case PROF_ERR_DUPLICATE: return "duplicate profile name";
	default:		return "unknown prof error";
	}
}

const char *
prof_errname(int err)
{
	switch (err) {
	case PROF_OK:		return "PROF_OK";
	case PROF_ERR_ARG:	return "PROF_ERR_ARG";
	case PROF_ERR_IO:	return "PROF_ERR_IO";
	case PROF_ERR_PERM:	return "PROF_ERR_PERM";
	case PROF_ERR_CONFIG:	return "PROF_ERR_CONFIG";
	case PROF_ERR_NOMEM:	return "PROF_ERR_NOMEM";
	case PROF_ERR_DUPLICATE: return "PROF_ERR_DUPLICATE";
	default:		return "PROF_ERR_UNKNOWN";
	}
}

static const char *const alg_names[] = { "rsa2048", "rsa3072", "eccp256",
	"eccp384", NULL };
static const char *const pinuse_names[] = { "default", "never", "once",
	"always", NULL };
static const char *const touch_names[] = { "default", "never", "always",
	"cached", NULL };
static const char *const mgmt_names[] = { "aes192", "aes128", "aes256",
	"3des", NULL };
static const char *const op_names[] = { "issue", "pin_change", "unblock",
	"retire", "suspend", "replace", "temporary", "audit", "inventory",
	NULL };
static const char *const event_names[] = { "retire", "lost", "stolen",
	"damaged", "suspend", "replace", NULL };

/* RFC 5280 5.3.1 CRLReason; 7 is unassigned. */
static const char *const reason_names[] = { "unspecified", "keyCompromise",
	"cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", "", "removeFromCRL",
	"privilegeWithdrawn", "aACompromise", NULL };
#define R_KEY_COMPROMISE 1
#define R_CA_COMPROMISE 2
#define R_SUPERSEDED 4
#define R_CESSATION 5
#define R_HOLD 6
#define R_REMOVE 8
#define R_AA_COMPROMISE 10

/* Dogtag TPS's effects (CMS-NOTES): lost and stolen keys are compromised,
 * a suspended card is on hold, damaged ("destroyed") and retired cards have
 * ceased operation, a replacement supersedes. */
static const int default_reason[PROF_EV_COUNT] = { R_CESSATION,
	R_KEY_COMPROMISE, R_KEY_COMPROMISE, R_CESSATION, R_HOLD, R_SUPERSEDED };

const char *
prof_alg_name(enum prof_alg a)
{
	return (unsigned)a < 4 ? alg_names[a] : NULL;
}

const char *
prof_op_name(enum prof_op op)
{
	return (unsigned)op < PROF_OP_COUNT ? op_names[op] : NULL;
}

const char *
prof_event_name(enum prof_event ev)
{
	return (unsigned)ev < PROF_EV_COUNT ? event_names[ev] : NULL;
}

const char *
prof_reason_name(int reason)
{
	if (reason < 0 || reason > R_AA_COMPROMISE || reason == 7)
		return NULL;
	return reason_names[reason];
}

void
prof_free(struct prof *p)
{
	if (p == NULL)
		return;
	free(p->challenge.questions);
	free(p);
}

/* ---- small validators ---- */

static int
is_name(const char *s, int allow_upper_dot)
{
	const char *p;

	if (!((*s >= 'a' && *s <= 'z') || (allow_upper_dot && *s >= 'A' &&
	    *s <= 'Z')))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || (allow_upper_dot &&
		    ((*p >= 'A' && *p <= 'Z') || *p == '.'))))
			return 0;
	return 1;
}

/* "9a" "9c" "9d" "9e" or a retired slot "82".."95", either case. */
static int
parse_slot_id(const char *s, uint8_t *out)
{
	char *end;
	long v;

	if (strlen(s) != 2)
		return 0;
	v = strtol(s, &end, 16);
	if (*end != '\0' || !((v >= 0x82 && v <= 0x95) || v == 0x9a ||
	    v == 0x9c || v == 0x9d || v == 0x9e))
		return 0;
	*out = (uint8_t)v;
	return 1;
}

static int
is_retired(uint8_t slot)
{
	return slot >= 0x82 && slot <= 0x95;
}

static const char *const placeholders[] = { "name", "id", "email", "serial",
	NULL };

/* "/K=V/K=V..." with only the placeholders above inside %{...}. */
static const char *
check_subject(const char *s)
{
	const char *p, *e;
	size_t i, n;

	if (*s != '/')
		return "must start with '/' (like /O=Example/CN=%{name})";
	for (p = s; *p != '\0'; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '\0' || p[1] == '='))
			return "has an empty attribute";
		if (*p == '/' && ((e = strchr(p + 1, '=')) == NULL ||
		    (strchr(p + 1, '/') != NULL && strchr(p + 1, '/') < e)))
			return "has an attribute without '='";
		if (*p != '%')
			continue;
		if (p[1] != '{' || (e = strchr(p, '}')) == NULL)
			return "has a '%' that is not %{placeholder}";
		n = (size_t)(e - p - 2);
		for (i = 0; placeholders[i] != NULL; i++)
			if (strlen(placeholders[i]) == n &&
			    strncmp(p + 2, placeholders[i], n) == 0)
				break;
		if (placeholders[i] == NULL)
			return "has an unknown placeholder (known: %{name} "
			    "%{id} %{email} %{serial})";
		p = e;
	}
	return NULL;
}

/* ---- sections ---- */

/* Only decryption keys are recovered onto a replacement card. */
static void
check_escrow(struct pcfg_ctx *c, const config_setting_t *g,
    const struct prof_slot *s)
{
	if (!s->escrow || s->slot == 0 || s->slot == 0x9d || is_retired(s->slot))
		return;
	pcfg_err(c, config_setting_get_member(g, "escrow"), "escrow refused "
	    "for slot %02x: only key management keys (9d, retired 82..95) may "
	    "be escrowed; a copy of %s would let someone else %s as the holder",
	    s->slot, s->slot == 0x9c ? "a signing key" :
	    "an authentication key", s->slot == 0x9c ? "sign" : "log in");
}

static const char *const slot_keys[] = { "slot", "algorithm", "pin_policy",
	"touch_policy", "cert_profile", "cert_days", "escrow", "subject",
	"renew_days", "since_version", "renew_key", "supersedes", NULL };
static const char *const renew_key_names[] = { "new", "reuse", NULL };

/* supersedes = [ "82", ... ]: slots an older version of the profile used. */
static void
parse_supersedes(struct pcfg_ctx *c, const config_setting_t *g,
    struct prof_slot *s)
{
	const config_setting_t *l, *e;
	const char *v;
	unsigned i, n;
	uint8_t id;

	if ((l = pcfg_member(c, g, "supersedes", 0, CONFIG_TYPE_LIST)) == NULL)
		return;
	n = (unsigned)config_setting_length(l);
	if (n == 0 || n > PROF_SUPERSEDES_MAX) {
		pcfg_err(c, l, "supersedes must list 1 to %d slots",
		    PROF_SUPERSEDES_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(l, i);
		v = config_setting_get_string(e);
		if (v == NULL || !parse_slot_id(v, &id)) {
			pcfg_err(c, e, "supersedes: \"%.8s\" is not 9a, 9c, 9d, "
			    "9e or a retired slot 82..95", v && pcfg_plain_name(v,
			    9) ? v : "?");
			continue;
		}
		if (id == s->slot) {
			pcfg_err(c, e, "slot %02x cannot supersede itself", id);
			continue;
		}
		s->supersedes[s->nsupersedes++] = id;
	}
}

/* Renewal settings of one slot (after slot, cert_days and the version). */
static void
parse_slot_renewal(struct pcfg_ctx *c, const config_setting_t *g,
    const struct prof *p, struct prof_slot *s)
{
	int def, v;

	/* A window as long as the certificate would renew it at once. */
	def = s->cert_days > PROF_RENEW_DAYS_DEFAULT ?
	    PROF_RENEW_DAYS_DEFAULT : 0;
	if (pcfg_int(c, g, "renew_days", 0, def, 0, 2190, &s->renew_days) &&
	    s->cert_days > 0 && s->renew_days >= s->cert_days)
		pcfg_err(c, config_setting_get_member(g, "renew_days"),
		    "renew_days %d must be below cert_days %d", s->renew_days,
		    s->cert_days);
	if (pcfg_int(c, g, "since_version", 0, 1, 1, 1000000,
	    &s->since_version) && p->version > 0 &&
	    s->since_version > p->version)
		pcfg_err(c, config_setting_get_member(g, "since_version"),
		    "since_version %d is above the profile's version %d",
		    s->since_version, p->version);
	if (pcfg_enum(c, g, "renew_key", 0, 0, renew_key_names, &v))
		s->renew_reuse_key = v;
	parse_supersedes(c, g, s);
}

/*
 * Across slots: a superseded slot belongs to an older version of the
 * profile, so it is not one of its slots (and so supersedes nothing: no
 * chains), and is superseded by one slot only.
 */
static void
check_supersedes(struct pcfg_ctx *c, const config_setting_t *l,
    const struct prof *p)
{
	size_t i, j, k, m;
	uint8_t y;

	for (i = 0; i < p->nslots; i++)
		for (k = 0; k < p->slots[i].nsupersedes; k++) {
			y = p->slots[i].supersedes[k];
			if (prof_slot(p, y) != NULL)
				pcfg_err(c, config_setting_get_elem(l,
				    (unsigned)i), "slot %02x supersedes %02x, "
				    "which is still one of the profile's "
				    "slots", p->slots[i].slot, y);
			for (j = 0; j <= i; j++)
				for (m = 0; m < p->slots[j].nsupersedes &&
				    (j < i || m < k); m++)
					if (p->slots[j].supersedes[m] == y)
						pcfg_err(c,
						    config_setting_get_elem(l,
						    (unsigned)i), "slot %02x is "
						    "superseded twice", y);
		}
}

static void
parse_slot(struct pcfg_ctx *c, const config_setting_t *g, struct prof *p)
{
	struct prof_slot *s = &p->slots[p->nslots];
	char id[8];
	const char *why;
	int v;
	size_t i;

	pcfg_only(c, g, slot_keys);
	if (pcfg_str(c, g, "slot", 1, NULL, id, sizeof(id)) &&
	    !parse_slot_id(id, &s->slot))
		pcfg_err(c, config_setting_get_member(g, "slot"),
		    "slot \"%s\" is not 9a, 9c, 9d, 9e or a retired slot "
		    "82..95", id);
	for (i = 0; s->slot != 0 && i < p->nslots; i++)
		if (p->slots[i].slot == s->slot)
			pcfg_err(c, g, "slot %02x is listed twice", s->slot);
	if (pcfg_enum(c, g, "algorithm", 1, 0, alg_names, &v))
		s->alg = (enum prof_alg)v;
	if (pcfg_enum(c, g, "pin_policy", 0, 0, pinuse_names, &v))
		s->pin_policy = (enum prof_pin_use)v;
	if (pcfg_enum(c, g, "touch_policy", 0, 0, touch_names, &v))
		s->touch_policy = (enum prof_touch)v;
	if (pcfg_str(c, g, "cert_profile", 1, NULL, s->cert_profile,
	    sizeof(s->cert_profile)) && !is_name(s->cert_profile, 1))
		pcfg_err(c, config_setting_get_member(g, "cert_profile"),
		    "cert_profile must be letters, digits, '.', '-', '_'");
	pcfg_int(c, g, "cert_days", 1, 0, 1, 2191, &s->cert_days);
	if (s->cert_days > p->validity_days && p->validity_days > 0)
		pcfg_err(c, config_setting_get_member(g, "cert_days"),
		    "cert_days %d outlives the card (validity_days %d)",
		    s->cert_days, p->validity_days);
	pcfg_bool(c, g, "escrow", 0, 0, &s->escrow);
	check_escrow(c, g, s);
	if (pcfg_str(c, g, "subject", 1, NULL, s->subject,
	    sizeof(s->subject)) && (why = check_subject(s->subject)) != NULL)
		pcfg_err(c, config_setting_get_member(g, "subject"),
		    "subject %s", why);
	parse_slot_renewal(c, g, p, s);
	p->nslots++;
}

static void
parse_slots(struct pcfg_ctx *c, const config_setting_t *root, struct prof *p)
{
	const config_setting_t *l, *g;
	unsigned i, n;

	if ((l = pcfg_member(c, root, "slots", 1, CONFIG_TYPE_LIST)) == NULL)
		return;
	n = (unsigned)config_setting_length(l);
	if (n == 0 || n > PROF_SLOTS_MAX) {
		pcfg_err(c, l, "slots must list 1 to %d key slots",
		    PROF_SLOTS_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(l, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			pcfg_err(c, g, "each slot must be a group { ... }");
		else
			parse_slot(c, g, p);
	}
	check_supersedes(c, l, p);
}

static const char *const pin_keys[] = { "min_length", "max_length",
	"digits_only", "repeat_run", "sequence_run", "not_previous",
	"blocklist", NULL };

static void
parse_pin(struct pcfg_ctx *c, const config_setting_t *root, struct prof *p)
{
	struct prof_pin_policy *q = &p->pin;
	const config_setting_t *g;

	/* FIPS 201-3: 6 to 8 digits. */
	*q = (struct prof_pin_policy){ 6, 8, 1, 3, 4, 1, "" };
	if ((g = pcfg_member(c, root, "pin", 0, CONFIG_TYPE_GROUP)) == NULL)
		return;
	pcfg_only(c, g, pin_keys);
	pcfg_int(c, g, "min_length", 0, 6, 6, 8, &q->min_len);
	if (pcfg_int(c, g, "max_length", 0, 8, 6, 8, &q->max_len) &&
	    q->max_len < q->min_len)
		pcfg_err(c, g, "pin max_length %d is below min_length %d",
		    q->max_len, q->min_len);
	pcfg_bool(c, g, "digits_only", 0, 1, &q->digits_only);
	if (pcfg_int(c, g, "repeat_run", 0, 3, 0, 8, &q->repeat_run) &&
	    q->repeat_run == 1)
		pcfg_err(c, config_setting_get_member(g, "repeat_run"),
		    "repeat_run must be 0 (off) or 2..8");
	if (pcfg_int(c, g, "sequence_run", 0, 4, 0, 8, &q->sequence_run) &&
	    q->sequence_run > 0 && q->sequence_run < 3)
		pcfg_err(c, config_setting_get_member(g, "sequence_run"),
		    "sequence_run must be 0 (off) or 3..8");
	pcfg_bool(c, g, "not_previous", 0, 1, &q->not_previous);
	if (pcfg_str(c, g, "blocklist", 0, "", q->blocklist,
	    sizeof(q->blocklist)) && q->blocklist[0] != '\0' &&
	    !pcfg_plain_name(q->blocklist, sizeof(q->blocklist)))
		pcfg_err(c, config_setting_get_member(g, "blocklist"),
		    "blocklist must be a file name in the profile directory");
}

static void
parse_puk(struct pcfg_ctx *c, const config_setting_t *root, struct prof *p)
{
	static const char *const keys[] = { "length", "digits_only", NULL };
	const config_setting_t *g;

	p->puk.length = 8;
	p->puk.digits_only = 1;
	if ((g = pcfg_member(c, root, "puk", 0, CONFIG_TYPE_GROUP)) == NULL)
		return;
	pcfg_only(c, g, keys);
	/* SP 800-73-4: the PUK is 8 bytes; the setting exists to say so. */
	pcfg_int(c, g, "length", 0, 8, 8, 8, &p->puk.length);
	pcfg_bool(c, g, "digits_only", 0, 1, &p->puk.digits_only);
}

static const char *const question_keys[] = { "id", "text", NULL };

/* A list of { id; text; } groups into *out (malloc'd). */
static void
parse_questions(struct pcfg_ctx *c, const config_setting_t *l,
    struct prof_question **out, size_t *n)
{
	const config_setting_t *g;
	struct prof_question *q;
	unsigned i, j, len = (unsigned)config_setting_length(l);

	*out = NULL;
	*n = 0;
	if (len == 0 || len > PROF_QUESTIONS_MAX) {
		pcfg_err(c, l, "questions must list 1 to %d questions",
		    PROF_QUESTIONS_MAX);
		return;
	}
	if ((q = calloc(len, sizeof(*q))) == NULL) {
		pcfg_err(c, l, "out of memory");
		return;
	}
	for (i = 0; i < len; i++) {
		g = config_setting_get_elem(l, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			pcfg_err(c, g, "each question must be { id = N; "
			    "text = \"...\"; }");
			continue;
		}
		pcfg_only(c, g, question_keys);
		pcfg_int(c, g, "id", 1, 0, 1, 65535, &q[i].id);
		pcfg_str(c, g, "text", 1, NULL, q[i].text, sizeof(q[i].text));
		for (j = 0; q[i].id != 0 && j < i; j++)
			if (q[j].id == q[i].id)
				pcfg_err(c, g, "question id %d is used twice",
				    q[i].id);
	}
	*out = q;
	*n = len;
}

/* A questions file: nothing but "questions = ( ... );". */
static void
questions_file(struct pcfg_ctx *c, const config_setting_t *root,
    struct prof_question **out, size_t *n)
{
	static const char *const keys[] = { "questions", NULL };
	const config_setting_t *l;

	*out = NULL;
	*n = 0;
	pcfg_only(c, root, keys);
	if ((l = pcfg_member(c, root, "questions", 1, CONFIG_TYPE_LIST)) !=
	    NULL)
		parse_questions(c, l, out, n);
}

/* Read and check a questions file next to the profile (dirfd). */
static void
load_questions_at(struct pcfg_ctx *c, const config_setting_t *ref, int dirfd,
    const char *name, struct prof_challenge *ch)
{
	struct pcfg_ctx qc = { name, c->d, 0 };
	const char *why, *slash = strrchr(c->file, '/');
	char path[4096];
	config_t cfg;
	size_t len;
	char *text;

	/* Name it in messages as the profile is named: with its directory. */
	if (slash != NULL) {
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - c->file),
		    c->file, name);
		qc.file = path;
	}
	if (pcfg_read_at(dirfd, name, PCFG_MAX_FILE, &text, &len, &why) !=
	    PCFG_OK) {
		pcfg_err(c, ref, "questions_file %s: %s", name, why);
		return;
	}
	config_init(&cfg);
	if (pcfg_parse(&cfg, text, len, qc.file, c->d) != PCFG_OK)
		c->bad = 1;
	else
		questions_file(&qc, config_root_setting(&cfg), &ch->questions,
		    &ch->nquestions);
	if (qc.bad)
		c->bad = 1;
	config_destroy(&cfg);
	free(text);
}

static const char *const challenge_keys[] = { "questions",
	"questions_file", "enrolled", "asked", "min_answer_length",
	"max_failures", "lock_seconds", "hash_ops", "hash_mem_kib", NULL };

static void
challenge_sources(struct pcfg_ctx *c, const config_setting_t *g, int dirfd,
    struct prof_challenge *ch)
{
	const config_setting_t *l, *f;

	l = config_setting_get_member(g, "questions");
	f = config_setting_get_member(g, "questions_file");
	if (l != NULL && f != NULL) {
		pcfg_err(c, f, "challenge has both questions and "
		    "questions_file");
		return;
	}
	if (l == NULL && f == NULL) {
		pcfg_err(c, g, "challenge needs questions or questions_file");
		return;
	}
	if (l != NULL) {
		if ((l = pcfg_member(c, g, "questions", 1, CONFIG_TYPE_LIST)) !=
		    NULL)
			parse_questions(c, l, &ch->questions, &ch->nquestions);
		return;
	}
	if (!pcfg_str(c, g, "questions_file", 1, NULL,
	    ch->questions_file, sizeof(ch->questions_file)))
		return;
	if (!pcfg_plain_name(ch->questions_file, sizeof(ch->questions_file)))
		pcfg_err(c, f, "questions_file must be a file name in the "
		    "profile directory");
	else if (dirfd < 0)
		pcfg_err(c, f, "questions_file needs a profile directory");
	else
		load_questions_at(c, f, dirfd, ch->questions_file, ch);
}

static void
parse_challenge(struct pcfg_ctx *c, const config_setting_t *root, int dirfd,
    struct prof *p)
{
	struct prof_challenge *ch = &p->challenge;
	const config_setting_t *g;
	int ops, mem_kib;

	if ((g = pcfg_member(c, root, "challenge", 0, CONFIG_TYPE_GROUP)) ==
	    NULL)
		return;
	ch->enabled = 1;
	pcfg_only(c, g, challenge_keys);
	challenge_sources(c, g, dirfd, ch);
	/* MyID: 2 phrases asked by default, up to 6. */
	pcfg_int(c, g, "enrolled", 0, 5, 1, PROF_QUESTIONS_MAX, &ch->enrolled);
	if (ch->nquestions > 0 && (size_t)ch->enrolled > ch->nquestions)
		pcfg_err(c, config_setting_get_member(g, "enrolled") ?
		    config_setting_get_member(g, "enrolled") : g,
		    "enrolled %d is more than the %zu questions available",
		    ch->enrolled, ch->nquestions);
	if (pcfg_int(c, g, "asked", 0, 2, 1, PROF_QUESTIONS_MAX, &ch->asked) &&
	    ch->asked > ch->enrolled)
		pcfg_err(c, config_setting_get_member(g, "asked") ?
		    config_setting_get_member(g, "asked") : g,
		    "asked %d is more than enrolled %d", ch->asked,
		    ch->enrolled);
	pcfg_int(c, g, "min_answer_length", 0, 3, 1, 64, &ch->min_answer_len);
	pcfg_int(c, g, "max_failures", 0, 3, 1, 10, &ch->max_failures);
	pcfg_int(c, g, "lock_seconds", 0, 0, 0, 30 * 86400, &ch->lock_seconds);
	/* libsodium's crypto_pwhash_*_INTERACTIVE for Argon2id: 2, 64 MiB. */
	pcfg_int(c, g, "hash_ops", 0, 2, 1, 16, &ops);
	pcfg_int(c, g, "hash_mem_kib", 0, 65536, 8, 1048576, &mem_kib);
	ch->hash_ops = (unsigned long long)ops;
	ch->hash_mem = (size_t)mem_kib * 1024;
}

/* No default roles: every operation must be listed, so a forgotten line
 * cannot widen who may act. */
static void
parse_roles(struct pcfg_ctx *c, const config_setting_t *root, struct prof *p)
{
	const config_setting_t *g, *l, *e;
	const char *v;
	uint32_t bit;
	unsigned i, k;

	if ((g = pcfg_member(c, root, "roles", 1, CONFIG_TYPE_GROUP)) == NULL)
		return;
	pcfg_only(c, g, op_names);
	for (k = 0; k < PROF_OP_COUNT; k++) {
		if ((l = pcfg_member(c, g, op_names[k], 1, CONFIG_TYPE_LIST)) ==
		    NULL)
			continue;
		for (i = 0; (e = config_setting_get_elem(l, i)) != NULL; i++) {
			v = config_setting_get_string(e);
			if (v == NULL || (bit = opr_role_from_name(v)) == 0) {
				pcfg_err(c, e, "roles.%s: unknown role \"%.32s\" "
				    "(badge_officer, helpdesk, security_officer, "
				    "auditor, administrator, holder)",
				    op_names[k], v && pcfg_plain_name(v, 33) ?
				    v : "?");
				continue;
			}
			/* The holder acts on their own card at the kiosk. */
			if (bit == OPR_ROLE_HOLDER && k != PROF_OP_PIN_CHANGE &&
			    k != PROF_OP_UNBLOCK)
				pcfg_err(c, e, "roles.%s: holder may only be given "
				    "pin_change and unblock", op_names[k]);
			p->roles[k] |= bit;
		}
	}
}

static void
parse_revocation(struct pcfg_ctx *c, const config_setting_t *root,
    struct prof *p)
{
	const config_setting_t *g, *m;
	unsigned k;
	int v;

	memcpy(p->reason, default_reason, sizeof(p->reason));
	if ((g = pcfg_member(c, root, "revocation", 0, CONFIG_TYPE_GROUP)) ==
	    NULL)
		return;
	pcfg_only(c, g, event_names);
	for (k = 0; k < PROF_EV_COUNT; k++) {
		if (!pcfg_enum(c, g, event_names[k], 0, default_reason[k],
		    reason_names, &v) || (m = config_setting_get_member(g,
		    event_names[k])) == NULL)
			continue;
		if (v == R_CA_COMPROMISE || v == R_AA_COMPROMISE ||
		    v == R_REMOVE || v == 7)
			pcfg_err(c, m, "revocation.%s: %s is not a reason a "
			    "card event may give", event_names[k],
			    reason_names[v]);
		else if (k == PROF_EV_SUSPEND && v != R_HOLD)
			pcfg_err(c, m, "revocation.suspend must be "
			    "certificateHold (a suspension is undone)");
		else if (k != PROF_EV_SUSPEND && v == R_HOLD)
			pcfg_err(c, m, "revocation.%s: certificateHold is only "
			    "for suspend (a hold can be released)",
			    event_names[k]);
		p->reason[k] = v;
	}
}

static const char *const top_keys[] = { "name", "version", "description",
	"validity_days", "management_key", "slots", "pin", "puk",
	"pin_retries", "puk_retries", "challenge", "roles", "revocation",
	"reuse_retired_cards", "self_test", "key_recovery_approvals",
	"approvals", NULL };

/*
 * approvals = { key_recovery = 2; }: m approvals per operation, keyed by
 * the operation's name (key recovery only, so far). key_recovery_approvals
 * is the older spelling of the same; one of the two.
 */
static void
parse_approvals(struct pcfg_ctx *c, const config_setting_t *root,
    struct prof *p)
{
	static const char *const ops[] = { "key_recovery", NULL };
	const config_setting_t *g;

	if ((g = pcfg_member(c, root, "approvals", 0, CONFIG_TYPE_GROUP)) ==
	    NULL)
		return;
	pcfg_only(c, g, ops);
	if (config_setting_get_member(g, "key_recovery") != NULL &&
	    config_setting_get_member(root, "key_recovery_approvals") != NULL) {
		pcfg_err(c, g, "approvals.key_recovery and "
		    "key_recovery_approvals say the same: give one");
		return;
	}
	pcfg_int(c, g, "key_recovery", 0, p->key_recovery_approvals, 0, 9,
	    &p->key_recovery_approvals);
}

static void
parse_profile(struct pcfg_ctx *c, const config_setting_t *root, int dirfd,
    struct prof *p)
{
	int v;

	pcfg_only(c, root, top_keys);
	p->line = pcfg_line(config_setting_get_member(root, "name"));
	if (pcfg_str(c, root, "name", 1, NULL, p->name, sizeof(p->name)) &&
	    !is_name(p->name, 0))
		pcfg_err(c, config_setting_get_member(root, "name"),
		    "name must be lower-case letters, digits, '-', '_', "
		    "starting with a letter");
	pcfg_int(c, root, "version", 1, 0, 1, 1000000, &p->version);
	pcfg_str(c, root, "description", 0, "", p->description,
	    sizeof(p->description));
	/* FIPS 201-3: a PIV card is valid for at most six years. */
	pcfg_int(c, root, "validity_days", 1, 0, 1, 2191, &p->validity_days);
	if (pcfg_enum(c, root, "management_key", 0, PROF_MGMT_AES192,
	    mgmt_names, &v))
		p->mgmt_alg = (enum prof_mgmt_alg)v;
	parse_slots(c, root, p);
	parse_pin(c, root, p);
	parse_puk(c, root, p);
	/* FIPS 201-3: blocked after at most 10 consecutive failures. */
	pcfg_int(c, root, "pin_retries", 0, 3, 1, 10, &p->pin_retries);
	pcfg_int(c, root, "puk_retries", 0, 3, 1, 15, &p->puk_retries);
	parse_challenge(c, root, dirfd, p);
	parse_roles(c, root, p);
	parse_revocation(c, root, p);
	pcfg_bool(c, root, "reuse_retired_cards", 0, 0, &p->reuse_retired);
	pcfg_bool(c, root, "self_test", 0, 1, &p->self_test);
	/* Approvals key recovery needs (replace, temporary card); 0: none. */
	pcfg_int(c, root, "key_recovery_approvals", 0, 0, 0, 9,
	    &p->key_recovery_approvals);
	parse_approvals(c, root, p);
}

/* A parsed file is a question list when "questions" is its only setting. */
static int
is_questions_file(const config_setting_t *root)
{
	return config_setting_length(root) == 1 &&
	    config_setting_get_member(root, "questions") != NULL;
}

/*
 * Parse text as a profile (or, when questions_ok, maybe a question list:
 * then *out stays NULL and 0 errors means it was a good one).
 */
static int
load_text(const char *file, const char *text, size_t len, int dirfd,
    int questions_ok, struct pcfg_diag *d, struct prof **out)
{
	struct pcfg_ctx c = { file, d, 0 };
	struct prof_question *q = NULL;
	struct prof *p = NULL;
	config_t cfg;
	size_t nq;
	int rc = PROF_ERR_CONFIG;

	*out = NULL;
	config_init(&cfg);
	if (pcfg_parse(&cfg, text, len, file, d) != PCFG_OK)
		goto out;
	if (questions_ok && is_questions_file(config_root_setting(&cfg))) {
		questions_file(&c, config_root_setting(&cfg), &q, &nq);
		rc = c.bad ? PROF_ERR_CONFIG : PROF_OK;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		rc = PROF_ERR_NOMEM;
		pcfg_diag_add(d, file, 0, "out of memory");
		goto out;
	}
	snprintf(p->file, sizeof(p->file), "%s", file);
	parse_profile(&c, config_root_setting(&cfg), dirfd, p);
	if (c.bad)
		goto out;
	*out = p;
	p = NULL;
	rc = PROF_OK;
out:
	free(q);
	prof_free(p);
	config_destroy(&cfg);
	return rc;
}

int
prof_load_string(const char *file, const char *text, size_t len,
    const char *dir, struct prof **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;
	const char *why;
	int dirfd = -1, rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (file == NULL || (text == NULL && len > 0))
		return PROF_ERR_ARG;
	if (dir != NULL && (rc = pcfg_open_dir(dir, &dirfd, &why)) != PCFG_OK) {
		pcfg_diag_add(&d, dir, 0, "%s", why);
		return rc == PCFG_ERR_PERM ? PROF_ERR_PERM : PROF_ERR_IO;
	}
	rc = load_text(file, text ? text : "", len, dirfd, 0, &d, out);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

static int
map_pcfg(int rc)
{
	switch (rc) {
	case PCFG_OK:		return PROF_OK;
	case PCFG_ERR_PERM:	return PROF_ERR_PERM;
	case PCFG_ERR_NOMEM:	return PROF_ERR_NOMEM;
	case PCFG_ERR_TOOBIG:	return PROF_ERR_CONFIG;
	default:		return PROF_ERR_IO;
	}
}

/* Read name in dirfd with the secrecy checks and parse it; path for messages. */
static int
load_at(int dirfd, const char *name, const char *path, int questions_ok,
    struct pcfg_diag *d, struct prof **out)
{
	const char *why;
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	if ((rc = pcfg_read_at(dirfd, name, PCFG_MAX_FILE, &text, &len,
	    &why)) != PCFG_OK) {
		pcfg_diag_add(d, path, 0, "%s", why);
		return map_pcfg(rc);
	}
	rc = load_text(path, text, len, dirfd, questions_ok, d, out);
	free(text);
	return rc;
}

/* Split path into its directory (opened, checked) and its last component. */
static int
open_parent(const char *path, int *dirfd, const char **base,
    struct pcfg_diag *d)
{
	char dir[4096];
	const char *slash = strrchr(path, '/'), *why;
	int rc;

	*base = slash ? slash + 1 : path;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else {
		pcfg_diag_add(d, path, 0, "path too long");
		return PROF_ERR_ARG;
	}
	if ((rc = pcfg_open_dir(dir, dirfd, &why)) != PCFG_OK) {
		pcfg_diag_add(d, dir, 0, "%s", why);
		return map_pcfg(rc);
	}
	return PROF_OK;
}

int
prof_load_file(const char *path, struct prof **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;
	const char *base;
	int dirfd, rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (path == NULL || *path == '\0')
		return PROF_ERR_ARG;
	if ((rc = open_parent(path, &dirfd, &base, &d)) != PROF_OK)
		return rc;
	rc = load_at(dirfd, base, path, 0, &d, out);
	close(dirfd);
	return rc;
}

/* ---- directories ---- */

void
prof_set_free(struct prof_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		prof_free(set->v[i]);
	free(set->v);
	free(set);
}

size_t
prof_set_count(const struct prof_set *set)
{
	return set ? set->n : 0;
}

const struct prof *
prof_set_get(const struct prof_set *set, size_t i)
{
	return set && i < set->n ? set->v[i] : NULL;
}

const struct prof *
prof_find(const struct prof_set *set, const char *name)
{
	size_t i;

	for (i = 0; set != NULL && name != NULL && i < set->n; i++)
		if (strcmp(set->v[i]->name, name) == 0)
			return set->v[i];
	return NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_conf_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

/* The *.conf names in dirfd, sorted so errors come in a stable order. */
static int
list_conf(int dirfd, char ***names, size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv;
	DIR *dp;
	int fd, rc = PROF_OK;

	*names = NULL;
	*n = 0;
	if ((fd = dup(dirfd)) < 0 || (dp = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return PROF_ERR_IO;
	}
	while ((de = readdir(dp)) != NULL) {
		if (!is_conf_name(de->d_name))
			continue;
		if (*n >= MAX_PROFILES) {
			rc = PROF_ERR_CONFIG;
			break;
		}
		if ((nv = realloc(v, (*n + 1) * sizeof(*v))) == NULL) {
			rc = PROF_ERR_NOMEM;
			break;
		}
		v = nv;
		if ((v[*n] = strdup(de->d_name)) == NULL) {
			rc = PROF_ERR_NOMEM;
			break;
		}
		(*n)++;
	}
	closedir(dp);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_str);
	*names = v;
	return rc;
}

static void
free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
add_profile(struct prof_set *set, struct prof *p, struct pcfg_diag *d)
{
	const struct prof *other = prof_find(set, p->name);
	struct prof **nv;

	if (other != NULL) {
		pcfg_diag_add(d, p->file, p->line, "profile name \"%s\" already "
		    "used by %s", p->name, other->file);
		prof_free(p);
		return PROF_ERR_DUPLICATE;
	}
	if ((nv = realloc(set->v, (set->n + 1) * sizeof(*nv))) == NULL) {
		prof_free(p);
		return PROF_ERR_NOMEM;
	}
	set->v = nv;
	set->v[set->n++] = p;
	return PROF_OK;
}

/*
 * Load every *.conf in dir, errors to d. [out] *out: every good profile even
 * when others failed (check-config then checks their blocklists too).
 */
int
prof_load_dir_diag(const char *dir, struct prof_set **out,
    struct pcfg_diag *d)
{
	struct prof_set *set;
	struct prof *p;
	char **names = NULL, path[4096];
	const char *why;
	size_t n = 0, i;
	int dirfd = -1, rc, frc;

	*out = NULL;
	if (dir == NULL)
		return PROF_ERR_ARG;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return PROF_ERR_NOMEM;
	*out = set;
	if ((rc = pcfg_open_dir(dir, &dirfd, &why)) != PCFG_OK) {
		pcfg_diag_add(d, dir, 0, "%s", why);
		return map_pcfg(rc);
	}
	if ((rc = list_conf(dirfd, &names, &n)) != PROF_OK) {
		pcfg_diag_add(d, dir, 0, "cannot list the directory (or more "
		    "than %d files)", MAX_PROFILES);
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		frc = load_at(dirfd, names[i], path, 1, d, &p);
		if (frc == PROF_OK && p != NULL)
			frc = add_profile(set, p, d);
		/* Keep going: check-config wants every file's errors. */
		if (frc != PROF_OK && rc == PROF_OK)
			rc = frc;
	}
	if (rc == PROF_OK && set->n == 0) {
		pcfg_diag_add(d, dir, 0, "no profile (*.conf) in directory");
		rc = PROF_ERR_CONFIG;
	}
out:
	free_names(names, n);
	close(dirfd);
	return rc;
}

int
prof_load_dir(const char *dir, struct prof_set **out, char *errbuf,
    size_t cap)
{
	struct prof_set *set;
	struct pcfg_diag d;
	int rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if ((rc = prof_load_dir_diag(dir, &set, &d)) != PROF_OK) {
		prof_set_free(set);
		return rc;
	}
	*out = set;
	return PROF_OK;
}

const struct prof_slot *
prof_slot(const struct prof *p, uint8_t slot)
{
	size_t i;

	for (i = 0; p != NULL && i < p->nslots; i++)
		if (p->slots[i].slot == slot)
			return &p->slots[i];
	return NULL;
}

int
prof_allows(const struct prof *p, enum prof_op op, uint32_t roles)
{
	if (p == NULL || (unsigned)op >= PROF_OP_COUNT)
		return 0;
	return (p->roles[op] & roles) != 0;
}
