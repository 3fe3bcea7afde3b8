/* opr: the operator map. See operators.h. */
#include "operators.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "pcfg.h"

#define MAX_OPERATORS 4096

struct opr_map {
	struct opr_operator *v;
	size_t n;
};

const char *
opr_strerror(int err)
{
	switch (err) {
	case OPR_OK:		return "success";
	case OPR_ERR_ARG:	return "bad argument";
	case OPR_ERR_IO:	return "cannot read operator map";
	case OPR_ERR_PERM:	return "operator map refused (symlink, owner or mode)";
	case OPR_ERR_CONFIG:	return "operator map configuration error";
	case OPR_ERR_NOMEM:	return "out of memory";
	case OPR_ERR_NOTFOUND:	return "not an operator";
	case OPR_ERR_AMBIGUOUS:	return "account matches two operators";
	default:		return "unknown opr error";
	}
}

const char *
opr_errname(int err)
{
	switch (err) {
	case OPR_OK:		return "OPR_OK";
	case OPR_ERR_ARG:	return "OPR_ERR_ARG";
	case OPR_ERR_IO:	return "OPR_ERR_IO";
	case OPR_ERR_PERM:	return "OPR_ERR_PERM";
	case OPR_ERR_CONFIG:	return "OPR_ERR_CONFIG";
	case OPR_ERR_NOMEM:	return "OPR_ERR_NOMEM";
	case OPR_ERR_NOTFOUND:	return "OPR_ERR_NOTFOUND";
	case OPR_ERR_AMBIGUOUS:	return "OPR_ERR_AMBIGUOUS";
	default:		return "OPR_ERR_UNKNOWN";
	}
}

static const struct {
	const char *name;
	uint32_t bit;
} roles[] = {
	{ "badge_officer", OPR_ROLE_BADGE_OFFICER },
	{ "helpdesk", OPR_ROLE_HELPDESK },
	{ "security_officer", OPR_ROLE_SECURITY_OFFICER },
	{ "auditor", OPR_ROLE_AUDITOR },
	{ "administrator", OPR_ROLE_ADMINISTRATOR },
	{ "holder", OPR_ROLE_HOLDER },
};
#define NROLES (sizeof(roles) / sizeof(roles[0]))

uint32_t
opr_role_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NROLES; i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].bit;
	return 0;
}

const char *
opr_role_name(uint32_t role)
{
	size_t i;

	for (i = 0; i < NROLES; i++)
		if (roles[i].bit == role)
			return roles[i].name;
	return NULL;
}

void
opr_free(struct opr_map *map)
{
	if (map == NULL)
		return;
	free(map->v);
	free(map);
}

size_t
opr_count(const struct opr_map *map)
{
	return map ? map->n : 0;
}

const struct opr_operator *
opr_get(const struct opr_map *map, size_t i)
{
	return map && i < map->n ? &map->v[i] : NULL;
}

int
opr_has_role(const struct opr_operator *op, uint32_t role)
{
	return op != NULL && role != 0 && (role & ~OPR_ROLE_ALL) == 0 &&
	    (op->roles & role) == role;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* POSIX portable user names, the shape useradd accepts. */
static int
is_user_name(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '-' || strlen(s) > OPR_USER_MAX)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			return 0;
	return 1;
}

static void
parse_roles(struct pcfg_ctx *c, const config_setting_t *g,
    struct opr_operator *op)
{
	const config_setting_t *l, *e;
	const char *v;
	uint32_t bit;
	unsigned i;

	if ((l = pcfg_member(c, g, "roles", 1, CONFIG_TYPE_LIST)) == NULL)
		return;
	if (config_setting_length(l) == 0)
		pcfg_err(c, l, "operator has no role");
	for (i = 0; (e = config_setting_get_elem(l, i)) != NULL; i++) {
		v = config_setting_get_string(e);
		if (v == NULL || (bit = opr_role_from_name(v)) == 0)
			pcfg_err(c, e, "unknown role \"%.32s\"",
			    v && pcfg_plain_name(v, 33) ? v : "?");
		else if (bit == OPR_ROLE_HOLDER)
			pcfg_err(c, e, "holder is the card holder's own role, "
			    "not an operator's");
		else
			op->roles |= bit;
	}
}

int
opr_parse_sha256(const char *hex, uint8_t out[32])
{
	size_t i;
	int hi, lo;

	if (hex == NULL || strlen(hex) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void
parse_card(struct pcfg_ctx *c, const config_setting_t *g,
    const config_setting_t *k, struct opr_operator *op)
{
	char hex[65];

	if (!pcfg_str(c, g, "card_sha256", 1, NULL, hex, sizeof(hex)))
		return;
	if (opr_parse_sha256(hex, op->card_sha256) != 0)
		pcfg_err(c, k, "card_sha256 must be 64 hex digits (the SHA-256 "
		    "of the card's 9A certificate)");
	else
		op->has_card = 1;
}

static void
parse_identity(struct pcfg_ctx *c, const config_setting_t *g,
    struct opr_operator *op)
{
	const config_setting_t *u = config_setting_get_member(g, "user");
	const config_setting_t *id = config_setting_get_member(g, "uid");
	const config_setting_t *k = config_setting_get_member(g, "card_sha256");
	int uid;

	op->uid = -1;
	if ((u != NULL) + (id != NULL) + (k != NULL) != 1) {
		pcfg_err(c, g, "operator needs exactly one of user, uid and "
		    "card_sha256");
		return;
	}
	if (k != NULL) {
		parse_card(c, g, k, op);
		return;
	}
	if (u != NULL && pcfg_str(c, g, "user", 1, NULL, op->user,
	    sizeof(op->user))) {
		if (!is_user_name(op->user))
			pcfg_err(c, u, "user \"%s\" is not a user name", op->user);
		else if (strcmp(op->user, "root") == 0)
			pcfg_err(c, u, "root may not be an operator");
	}
	/* Linux uids are 32 bits but (uid_t)-1 is "none"; cap at INT_MAX. */
	if (id != NULL && pcfg_int(c, g, "uid", 1, 0, 0, 0x7fffffff, &uid)) {
		if (uid == 0)
			pcfg_err(c, id, "uid 0 (root) may not be an operator");
		op->uid = uid;
	}
}

static void
check_unique(struct pcfg_ctx *c, const config_setting_t *g,
    const struct opr_map *m, const struct opr_operator *op)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (op->user[0] != '\0' && strcmp(m->v[i].user, op->user) == 0)
			pcfg_err(c, g, "user \"%s\" already mapped at line %u",
			    op->user, m->v[i].line);
		if (op->uid >= 0 && m->v[i].uid == op->uid)
			pcfg_err(c, g, "uid %ld already mapped at line %u",
			    op->uid, m->v[i].line);
		if (op->has_card && m->v[i].has_card &&
		    memcmp(m->v[i].card_sha256, op->card_sha256, 32) == 0)
			pcfg_err(c, g, "card already mapped at line %u",
			    m->v[i].line);
	}
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			return 0;
	return 1;
}

/*
 * approves = [ "employee", "org:Example Ltd" ]: the requests this operator
 * may approve: those on cards of a profile named here, and those for
 * holders whose organisation is named after "org:".
 */
static void
parse_approves(struct pcfg_ctx *c, const config_setting_t *g,
    struct opr_operator *op)
{
	const config_setting_t *l, *e;
	const char *v;
	unsigned i;

	if ((l = pcfg_member(c, g, "approves", 0, CONFIG_TYPE_ARRAY)) == NULL &&
	    (l = pcfg_member(c, g, "approves", 0, CONFIG_TYPE_LIST)) == NULL)
		return;
	if (config_setting_length(l) > OPR_APPROVES_MAX) {
		pcfg_err(c, l, "more than %d approves entries", OPR_APPROVES_MAX);
		return;
	}
	for (i = 0; (e = config_setting_get_elem(l, i)) != NULL; i++) {
		v = config_setting_get_string(e);
		if (v == NULL || v[0] == '\0' ||
		    strlen(v) > OPR_APPROVE_LEN ||
		    strcmp(v, "org:") == 0 || !printable(v)) {
			pcfg_err(c, e, "approves: a profile name or \"org:\" and "
			    "an organisation, 1..%d printable characters",
			    OPR_APPROVE_LEN);
			continue;
		}
		snprintf(op->approves[op->napproves++], OPR_APPROVE_LEN + 1,
		    "%s", v);
	}
}

static const char *const entry_keys[] = { "user", "uid", "card_sha256",
	"name", "roles", "approves", NULL };

static void
parse_map(struct pcfg_ctx *c, const config_setting_t *root,
    struct opr_map *m)
{
	static const char *const top[] = { "operators", NULL };
	const config_setting_t *l, *g;
	struct opr_operator *op;
	unsigned i, n;

	pcfg_only(c, root, top);
	if ((l = pcfg_member(c, root, "operators", 1, CONFIG_TYPE_LIST)) ==
	    NULL)
		return;
	n = (unsigned)config_setting_length(l);
	if (n > MAX_OPERATORS) {
		pcfg_err(c, l, "more than %d operators", MAX_OPERATORS);
		return;
	}
	if (n > 0 && (m->v = calloc(n, sizeof(*m->v))) == NULL) {
		pcfg_err(c, l, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(l, i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			pcfg_err(c, g, "each operator must be a group { ... }");
			continue;
		}
		op = &m->v[m->n];
		op->line = pcfg_line(g);
		pcfg_only(c, g, entry_keys);
		parse_identity(c, g, op);
		pcfg_str(c, g, "name", 1, NULL, op->name, sizeof(op->name));
		parse_roles(c, g, op);
		parse_approves(c, g, op);
		check_unique(c, g, m, op);
		m->n++;
	}
}

static int
load(const char *file, const char *text, size_t len, struct pcfg_diag *d,
    struct opr_map **out)
{
	struct pcfg_ctx c = { file, d, 0 };
	struct opr_map *m;
	config_t cfg;
	int rc = OPR_ERR_CONFIG;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return OPR_ERR_NOMEM;
	config_init(&cfg);
	if (pcfg_parse(&cfg, text, len, file, d) != PCFG_OK)
		goto out;
	parse_map(&c, config_root_setting(&cfg), m);
	if (c.bad)
		goto out;
	*out = m;
	m = NULL;
	rc = OPR_OK;
out:
	opr_free(m);
	config_destroy(&cfg);
	return rc;
}

int
opr_load_string(const char *file, const char *text, size_t len,
    struct opr_map **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (file == NULL || (text == NULL && len > 0))
		return OPR_ERR_ARG;
	return load(file, text ? text : "", len, &d, out);
}

int
opr_load(const char *path, struct opr_map **out, char *errbuf, size_t cap)
{
	struct pcfg_diag d;
	const char *why;
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (path == NULL)
		return OPR_ERR_ARG;
	if ((rc = pcfg_read_at(AT_FDCWD, path, PCFG_MAX_FILE, &text, &len,
	    &why)) != PCFG_OK) {
		pcfg_diag_add(&d, path, 0, "%s", why);
		return rc == PCFG_ERR_PERM ? OPR_ERR_PERM :
		    rc == PCFG_ERR_NOMEM ? OPR_ERR_NOMEM :
		    rc == PCFG_ERR_TOOBIG ? OPR_ERR_CONFIG : OPR_ERR_IO;
	}
	rc = load(path, text, len, &d, out);
	free(text);
	return rc;
}

int
opr_lookup_uid(const struct opr_map *map, uid_t uid,
    const struct opr_operator **op)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	const struct opr_operator *hit = NULL;
	size_t i;

	*op = NULL;
	if (map == NULL)
		return OPR_ERR_ARG;
	/*
	 * An unknown uid or a lookup failure leaves only uid entries. A map
	 * of uid entries alone needs no lookup: getpwuid_r goes through NSS
	 * (systemd-userdb's socket, /etc/passwd), a third of a CLI request's
	 * cost under load.
	 */
	for (i = 0; i < map->n && map->v[i].user[0] == '\0'; i++)
		;
	if (i == map->n || getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0)
		res = NULL;
	for (i = 0; i < map->n; i++) {
		if (!(map->v[i].uid >= 0 && (uid_t)map->v[i].uid == uid) &&
		    !(res != NULL && map->v[i].user[0] != '\0' &&
		    strcmp(map->v[i].user, res->pw_name) == 0))
			continue;
		if (hit != NULL)
			return OPR_ERR_AMBIGUOUS;
		hit = &map->v[i];
	}
	if (hit == NULL)
		return OPR_ERR_NOTFOUND;
	*op = hit;
	return OPR_OK;
}

int
opr_lookup_card(const struct opr_map *map, const uint8_t sha256[32],
    const struct opr_operator **op)
{
	size_t i;

	*op = NULL;
	if (map == NULL || sha256 == NULL)
		return OPR_ERR_ARG;
	for (i = 0; i < map->n; i++)
		if (map->v[i].has_card &&
		    memcmp(map->v[i].card_sha256, sha256, 32) == 0) {
			*op = &map->v[i];
			return OPR_OK;
		}
	return OPR_ERR_NOTFOUND;
}

static int
approves(const struct opr_operator *op, const char *profile, const char *org)
{
	for (unsigned i = 0; i < op->napproves; i++) {
		const char *v = op->approves[i];

		if (strncmp(v, "org:", 4) == 0 ? org != NULL && org[0] != '\0' &&
		    strcmp(v + 4, org) == 0 : profile != NULL &&
		    strcmp(v, profile) == 0)
			return 1;
	}
	return 0;
}

int
opr_may_approve(const struct opr_map *map, const char *name,
    const char *profile, const char *org)
{
	if (map == NULL || name == NULL)
		return 0;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->v[i].name, name) == 0 &&
		    approves(&map->v[i], profile, org))
			return 1;
	return 0;
}

size_t
opr_approvers(const struct opr_map *map, const char *profile, const char *org,
    const char *except)
{
	size_t n = 0;

	if (map == NULL)
		return 0;
	for (size_t i = 0; i < map->n; i++) {
		size_t j;

		if (!approves(&map->v[i], profile, org) ||
		    (except != NULL && strcmp(map->v[i].name, except) == 0))
			continue;
		/* One person under two entries (a uid and a card) is one. */
		for (j = 0; j < i; j++)
			if (strcmp(map->v[j].name, map->v[i].name) == 0 &&
			    approves(&map->v[j], profile, org))
				break;
		if (j == i)
			n++;
	}
	return n;
}
