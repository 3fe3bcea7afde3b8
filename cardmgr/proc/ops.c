/* ops: the API operation table and its checks. See ops.h. */
#include "ops.h"

#include <string.h>

#include "buf.h"

/* Argument building blocks; every bound here is documented in docs/api.yaml. */
#define ID(n, w, req)  { n, OPS_K_STR, w, req, OPS_CS_ID, 1, 64, 0, 0, NULL, NULL, 0, 0 }
#define TEXT(n, req, lo, hi) { n, OPS_K_STR, OPS_IN_BODY, req, OPS_CS_TEXT, lo, hi, 0, 0, NULL, NULL, 0, 0 }
#define INT(n, w, req, lo, hi) { n, OPS_K_INT, w, req, 0, 0, 0, lo, hi, NULL, NULL, 0, 0 }
#define ENUM(n, w, req, e) { n, OPS_K_ENUM, w, req, 0, 1, 32, 0, 0, e, NULL, 0, 0 }
#define SEALED(n, req, lo, hi) { n, OPS_K_SEALED, OPS_IN_BODY, req, 0, lo, hi, 0, 0, NULL, NULL, 0, 0 }
#define READER(req)    { "reader", OPS_K_STR, OPS_IN_BODY, req, OPS_CS_READER, 1, 127, 0, 0, NULL, NULL, 0, 0 }
/* PIV PINs are 6 to 8 characters (SP 800-73-4 part 2, 2.4.3). */
#define PIN(n)         SEALED(n, 1, 6, 8)
#define LIMIT          INT("limit", OPS_IN_QUERY, 0, 1, 1000)
#define ANSWERS(req)   { "answers", OPS_K_OBJLIST, OPS_IN_BODY, req, 0, 0, 0, 0, 0, NULL, answer_members, 2, 8 }
#define N(a)           a, sizeof(a) / sizeof((a)[0])

static const struct ops_arg answer_members[] = {
	INT("question", OPS_IN_BODY, 1, 1, 1000),
	SEALED("answer", 1, 1, 256),
};

/* The inventory's state names (inv_card_state_name; docs/lifecycle.md). */
static const char *const card_states[] = {
	"blank", "issuing", "active", "suspended", "blocked", "retiring",
	"retired", "lost", "damaged", "stolen", "temporary", "returned",
	"expired", "disposed", NULL
};
static const char *const retire_reasons[] = {
	"retire", "lost", "stolen", "damaged", NULL
};

static const struct ops_arg holder_add[] = {
	ID("id", OPS_IN_BODY, 1),
	TEXT("name", 1, 1, 128),
	{ "email", OPS_K_STR, OPS_IN_BODY, 0, OPS_CS_EMAIL, 3, 254, 0, 0, NULL, NULL, 0, 0 },
	TEXT("org", 0, 1, 128),
	/* "key=value" pairs the profiles may put into certificates. */
	{ "attributes", OPS_K_STRLIST, OPS_IN_BODY, 0, OPS_CS_TEXT, 1, 128, 0, 0, NULL, NULL, 0, 16 },
	/* Copied on the holder's expiry notices (notice_manager). */
	{ "manager_email", OPS_K_STR, OPS_IN_BODY, 0, OPS_CS_EMAIL, 3, 254, 0, 0, NULL, NULL, 0, 0 },
};
static const struct ops_arg holder_get[] = { ID("holder", OPS_IN_PATH, 1) };
static const struct ops_arg holder_unlock[] = {
	ID("holder", OPS_IN_PATH, 1),
	TEXT("reason", 1, 3, 200),
};
static const struct ops_arg holder_list[] = {
	{ "q", OPS_K_STR, OPS_IN_QUERY, 0, OPS_CS_TEXT, 1, 64, 0, 0, NULL, NULL, 0, 0 },
	LIMIT,
	ID("after", OPS_IN_QUERY, 0),
};
static const struct ops_arg card_list[] = {
	ENUM("state", OPS_IN_QUERY, 0, card_states),
	ID("holder", OPS_IN_QUERY, 0),
	LIMIT,
	ID("after", OPS_IN_QUERY, 0),
};
static const struct ops_arg card_get[] = { ID("card", OPS_IN_PATH, 1) };
static const struct ops_arg issue[] = {
	READER(1),
	ID("holder", OPS_IN_BODY, 1),
	ID("profile", OPS_IN_BODY, 1),
	PIN("pin"),
	ANSWERS(0),
};
static const struct ops_arg pin_change[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
	PIN("old_pin"),
	PIN("new_pin"),
	PIN("new_pin_again"),
};
static const struct ops_arg unblock_questions[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
};
static const struct ops_arg unblock[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
	ID("challenge", OPS_IN_BODY, 1),
	ANSWERS(1),
	PIN("new_pin"),
};
static const struct ops_arg retire[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(0),
	ENUM("reason", OPS_IN_BODY, 1, retire_reasons),
};
/* Suspend: why, for the card's history and the audit (not a secret). */
static const struct ops_arg suspend[] = {
	ID("card", OPS_IN_PATH, 1),
	TEXT("reason", 1, 1, 200),
};
static const struct ops_arg reinstate[] = {
	ID("card", OPS_IN_PATH, 1),
	TEXT("reason", 0, 1, 200),
};
/* Replace: the old card in the path, the blank one in the reader. */
/* By certificate (engine/certrevoke.c): a card issued elsewhere too. The
 * certificate as base64 DER when the station has no record of it. */
static const char *const cert_reasons[] = {
	"unspecified", "keyCompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "privilegeWithdrawn", NULL
};
#define CERT_B64 { "cert", OPS_K_STR, OPS_IN_BODY, 0, OPS_CS_TEXT, 1, 8192, 0, 0, NULL, NULL, 0, 0 }
static const struct ops_arg cert_revoke[] = {
	ID("serial", OPS_IN_PATH, 1),
	ENUM("reason", OPS_IN_BODY, 1, cert_reasons),
	CERT_B64,
	TEXT("note", 0, 1, 200),
};
static const struct ops_arg cert_hold[] = {
	ID("serial", OPS_IN_PATH, 1),
	CERT_B64,
	TEXT("note", 0, 1, 200),
};
static const char *const replace_reasons[] = {
	"lost", "stolen", "damaged", "expired", NULL
};
static const struct ops_arg replace[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
	ENUM("reason", OPS_IN_BODY, 1, replace_reasons),
	PIN("pin"),
	/* The approved request (engine/approve.c) key recovery carries out. */
	INT("approval", OPS_IN_BODY, 0, 1, INT64_MAX),
};
/* Temporary card: the permanent card in the path, the blank one in the reader. */
static const struct ops_arg temporary[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
	ID("profile", OPS_IN_BODY, 0),
	PIN("pin"),
	INT("approval", OPS_IN_BODY, 0, 1, INT64_MAX),
};
static const struct ops_arg temp_return[] = {
	ID("card", OPS_IN_PATH, 1),
	TEXT("reason", 0, 1, 200),
};
static const struct ops_arg op_get[] = {
	ID("op", OPS_IN_PATH, 1),
	INT("wait", OPS_IN_QUERY, 0, 0, 30),
	INT("steps", OPS_IN_QUERY, 0, 0, 1000),
};
static const struct ops_arg cert_list[] = {
	INT("expiring_days", OPS_IN_QUERY, 0, 0, 3650),
};
static const char *const report_formats[] = { "json", "csv", NULL };
#define FORMAT ENUM("format", OPS_IN_QUERY, 0, report_formats)
#define OFFSET INT("offset", OPS_IN_QUERY, 0, 0, 10000000)
static const struct ops_arg report_plain[] = { FORMAT, OFFSET };
static const struct ops_arg report_days[] = {
	INT("days", OPS_IN_QUERY, 0, 1, 3650), FORMAT, OFFSET,
};
static const struct ops_arg audit_list[] = {
	INT("from", OPS_IN_QUERY, 0, 0, INT64_MAX),
	LIMIT,
};

/* Approval requests (engine/approve.c). */
static const char *const approval_states[] = {
	"pending", "approved", "denied", "expired", "carried_out", NULL
};
static const struct ops_arg approval_list[] = {
	ENUM("state", OPS_IN_QUERY, 0, approval_states),
};
static const struct ops_arg approval_get[] = { ID("approval", OPS_IN_PATH, 1) };
static const struct ops_arg approval_deny[] = {
	ID("approval", OPS_IN_PATH, 1),
	TEXT("reason", 0, 1, 200),
};

/* Blank stock (engine/stock.c): the serial list is parsed by the engine
 * (stk_serials_parse: items "N" or "A-B", at most 1000 cards). */
static const struct ops_arg stock_receive[] = {
	ID("model", OPS_IN_BODY, 1),
	ID("location", OPS_IN_BODY, 1),
	ID("batch", OPS_IN_BODY, 0),
	{ "serials", OPS_K_STR, OPS_IN_BODY, 0, OPS_CS_TEXT, 1, 2000, 0, 0, NULL, NULL, 0, 0 },
	READER(0),
};
static const struct ops_arg stock_list[] = {
	ID("model", OPS_IN_QUERY, 0),
	ID("location", OPS_IN_QUERY, 0),
	FORMAT, OFFSET,
};
static const struct ops_arg stock_move[] = {
	ID("serial", OPS_IN_PATH, 1),
	ID("location", OPS_IN_BODY, 1),
	TEXT("note", 0, 1, 200),
};
static const struct ops_arg stock_dispose[] = {
	ID("serial", OPS_IN_PATH, 1),
	TEXT("reason", 1, 3, 200),
};

/* Renewal on presentation: what a card needs (engine/renew_req.c). */
static const struct ops_arg card_requirements[] = { ID("card", OPS_IN_PATH, 1) };
static const struct ops_arg card_renew[] = {
	ID("card", OPS_IN_PATH, 1),
	READER(1),
	PIN("pin"),
};

/* Operator login with a card: the reader it is in and its PIN, sealed. */
static const struct ops_arg login[] = { READER(1), PIN("pin") };

static const struct ops_op table[] = {
	{ OPS_STATUS, "status", "GET", "/v1/status", NULL, 0 },
	{ OPS_READERS, "readers", "GET", "/v1/readers", NULL, 0 },
	{ OPS_SESSION_KEY, "session_key", "GET", "/v1/session-key", NULL, 0 },
	{ OPS_PROFILES, "profiles", "GET", "/v1/profiles", NULL, 0 },
	{ OPS_HOLDER_ADD, "holder_add", "POST", "/v1/holders", N(holder_add) },
	{ OPS_HOLDER_GET, "holder_get", "GET", "/v1/holders/{holder}", N(holder_get) },
	{ OPS_HOLDER_LIST, "holder_list", "GET", "/v1/holders", N(holder_list) },
	{ OPS_CARD_LIST, "card_list", "GET", "/v1/cards", N(card_list) },
	{ OPS_CARD_GET, "card_get", "GET", "/v1/cards/{card}", N(card_get) },
	{ OPS_ISSUE, "issue", "POST", "/v1/issue", N(issue) },
	{ OPS_PIN_CHANGE, "pin_change", "POST", "/v1/cards/{card}/pin", N(pin_change) },
	{ OPS_UNBLOCK_QUESTIONS, "unblock_questions", "POST",
	  "/v1/cards/{card}/unblock/questions", N(unblock_questions) },
	{ OPS_UNBLOCK, "unblock", "POST", "/v1/cards/{card}/unblock", N(unblock) },
	{ OPS_RETIRE, "retire", "POST", "/v1/cards/{card}/retire", N(retire) },
	{ OPS_OP_GET, "op_get", "GET", "/v1/operations/{op}", N(op_get) },
	{ OPS_CERT_LIST, "cert_list", "GET", "/v1/certificates", N(cert_list) },
	{ OPS_AUDIT_LIST, "audit_list", "GET", "/v1/audit", N(audit_list) },
	{ OPS_AUDIT_VERIFY, "audit_verify", "POST", "/v1/audit/verify", NULL, 0 },
	{ OPS_CONFIG_CHECK, "config_check", "POST", "/v1/config/check", NULL, 0 },
	{ OPS_REPORT_INVENTORY, "report_inventory", "GET", "/v1/reports/inventory",
	  N(report_plain) },
	{ OPS_REPORT_OPERATIONS, "report_operations", "GET",
	  "/v1/reports/operations", N(report_days) },
	{ OPS_REPORT_PENDING, "report_pending", "GET", "/v1/reports/pending",
	  N(report_plain) },
	{ OPS_REPORT_EXPIRING, "report_expiring", "GET", "/v1/reports/expiring",
	  N(report_days) },
	{ OPS_NOTICES_RUN, "notices_run", "POST", "/v1/notices/run", NULL, 0 },
	{ OPS_HOLDER_UNLOCK, "holder_unlock", "POST",
	  "/v1/holders/{holder}/unlock", N(holder_unlock) },
	{ OPS_MASTER_NEW, "master_new", "POST", "/v1/keys/master", NULL, 0 },
	{ OPS_SUSPEND, "suspend", "POST", "/v1/cards/{card}/suspend", N(suspend) },
	{ OPS_REINSTATE, "reinstate", "POST", "/v1/cards/{card}/reinstate", N(reinstate) },
	{ OPS_BACKUP, "backup", "POST", "/v1/backup", NULL, 0 },
	{ OPS_LOGIN, "login", "POST", "/v1/login", N(login) },
	{ OPS_SESSION, "session", "GET", "/v1/session", NULL, 0 },
	{ OPS_LOGOUT, "logout", "POST", "/v1/logout", NULL, 0 },
	{ OPS_REPLACE, "replace", "POST", "/v1/cards/{card}/replace", N(replace) },
	{ OPS_TEMPORARY, "temporary", "POST", "/v1/cards/{card}/temporary", N(temporary) },
	{ OPS_TEMP_RETURN, "temp_return", "POST", "/v1/cards/{card}/return", N(temp_return) },
	{ OPS_CRL_CHECK, "crl_check", "POST", "/v1/crl/check", NULL, 0 },
	{ OPS_CERT_REVOKE, "cert_revoke", "POST",
	  "/v1/certificates/{serial}/revoke", N(cert_revoke) },
	{ OPS_CERT_HOLD, "cert_hold", "POST", "/v1/certificates/{serial}/hold",
	  N(cert_hold) },
	{ OPS_APPROVAL_LIST, "approval_list", "GET", "/v1/approvals",
	  N(approval_list) },
	{ OPS_APPROVAL_GET, "approval_get", "GET", "/v1/approvals/{approval}",
	  N(approval_get) },
	{ OPS_APPROVAL_APPROVE, "approval_approve", "POST",
	  "/v1/approvals/{approval}/approve", N(approval_get) },
	{ OPS_APPROVAL_DENY, "approval_deny", "POST",
	  "/v1/approvals/{approval}/deny", N(approval_deny) },
	{ OPS_STOCK_RECEIVE, "stock_receive", "POST", "/v1/stock/receive",
	  N(stock_receive) },
	{ OPS_STOCK_LIST, "stock_list", "GET", "/v1/stock", N(stock_list) },
	{ OPS_STOCK_MOVE, "stock_move", "POST", "/v1/stock/{serial}/move",
	  N(stock_move) },
	{ OPS_STOCK_DISPOSE, "stock_dispose", "POST",
	  "/v1/stock/{serial}/dispose", N(stock_dispose) },
	{ OPS_REPORT_STOCK, "report_stock", "GET", "/v1/reports/stock",
	  N(report_plain) },
	{ OPS_CARD_REQUIREMENTS, "card_requirements", "GET",
	  "/v1/cards/{card}/requirements", N(card_requirements) },
	{ OPS_CARD_RENEW, "card_renew", "POST", "/v1/cards/{card}/renew",
	  N(card_renew) },
};

const char *
ops_strerror(int err)
{
	switch (err) {
	case OPS_OK:		return "success";
	case OPS_ERR_ARG:	return "invalid argument";
	case OPS_ERR_NOTFOUND:	return "no such operation";
	case OPS_ERR_METHOD:	return "method not allowed on this path";
	case OPS_ERR_PATH:	return "path refused";
	case OPS_ERR_VALUE:	return "argument value out of bounds";
	case OPS_ERR_UNKNOWN:	return "unknown argument";
	case OPS_ERR_MISSING:	return "required argument missing";
	case OPS_ERR_DUP:	return "argument given twice";
	case OPS_ERR_FORMAT:	return "malformed request message";
	default:		return "unknown ops error";
	}
}

const char *
ops_name(int err)
{
	switch (err) {
	case OPS_OK:		return "OPS_OK";
	case OPS_ERR_ARG:	return "OPS_ERR_ARG";
	case OPS_ERR_NOTFOUND:	return "OPS_ERR_NOTFOUND";
	case OPS_ERR_METHOD:	return "OPS_ERR_METHOD";
	case OPS_ERR_PATH:	return "OPS_ERR_PATH";
	case OPS_ERR_VALUE:	return "OPS_ERR_VALUE";
	case OPS_ERR_UNKNOWN:	return "OPS_ERR_UNKNOWN";
	case OPS_ERR_MISSING:	return "OPS_ERR_MISSING";
	case OPS_ERR_DUP:	return "OPS_ERR_DUP";
	case OPS_ERR_FORMAT:	return "OPS_ERR_FORMAT";
	default:		return "OPS_ERR_UNKNOWN_CODE";
	}
}

const struct ops_op *
ops_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct ops_op *
ops_by_code(unsigned code)
{
	if (code < OPS_STATUS || code >= OPS_CODE_END)
		return NULL;
	return &table[code - OPS_STATUS];
}

const struct ops_arg *
ops_arg_find(const struct ops_arg *args, size_t n, const char *name,
    size_t *idx)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(args[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &args[i];
		}
	return NULL;
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
charset_ok(int cs, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, at = 0, nat = 0;

	switch (cs) {
	case OPS_CS_ID:
		if (u[0] == '.')
			return 0;
		for (i = 0; i < len; i++)
			if (!is_alnum(u[i]) && u[i] != '_' && u[i] != '-' &&
			    u[i] != '.')
				return 0;
		/* ".." anywhere would read as a path step to a careless joiner. */
		return memmem(s, len, "..", 2) == NULL;
	case OPS_CS_TEXT:
		if (!msg_utf8_ok(u, len))
			return 0;
		for (i = 0; i < len; i++)
			if (u[i] < 0x20 || u[i] == 0x7f)
				return 0;
		/* C1 controls (U+0080..U+009F) are C2 80..C2 9F in UTF-8. */
		for (i = 0; i + 1 < len; i++)
			if (u[i] == 0xC2 && u[i + 1] < 0xA0)
				return 0;
		return 1;
	case OPS_CS_EMAIL:
		for (i = 0; i < len; i++) {
			if (u[i] <= 0x20 || u[i] >= 0x7f)
				return 0;
			if (u[i] == '@') {
				at = i;
				nat++;
			}
		}
		return nat == 1 && at > 0 && at + 1 < len;
	case OPS_CS_READER:
		for (i = 0; i < len; i++)
			if (u[i] < 0x20 || u[i] >= 0x7f)
				return 0;
		return 1;
	default:
		return 0;
	}
}

int
ops_check_str(const struct ops_arg *a, const char *s, size_t len)
{
	if (a == NULL || (a->kind != OPS_K_STR && a->kind != OPS_K_STRLIST) ||
	    (s == NULL && len > 0))
		return OPS_ERR_ARG;
	if (len < a->min || len > a->max || len == 0 ||
	    !charset_ok(a->charset, s, len))
		return OPS_ERR_VALUE;
	return OPS_OK;
}

int
ops_check_int(const struct ops_arg *a, int64_t v)
{
	if (a == NULL || a->kind != OPS_K_INT)
		return OPS_ERR_ARG;
	return v < a->imin || v > a->imax ? OPS_ERR_VALUE : OPS_OK;
}

int
ops_check_enum(const struct ops_arg *a, const char *s, size_t len)
{
	size_t i;

	if (a == NULL || a->kind != OPS_K_ENUM || a->enums == NULL ||
	    (s == NULL && len > 0))
		return OPS_ERR_ARG;
	for (i = 0; a->enums[i] != NULL; i++)
		if (strlen(a->enums[i]) == len && memcmp(a->enums[i], s, len) == 0)
			return OPS_OK;
	return OPS_ERR_VALUE;
}

int
ops_check_sealed(const struct ops_arg *a, size_t len)
{
	if (a == NULL || a->kind != OPS_K_SEALED)
		return OPS_ERR_ARG;
	if (len < OPS_SEAL_OVERHEAD + (size_t)a->min ||
	    len > OPS_SEAL_OVERHEAD + (size_t)a->max)
		return OPS_ERR_VALUE;
	return OPS_OK;
}

int
ops_check_count(const struct ops_arg *a, size_t items)
{
	if (a == NULL || (a->kind != OPS_K_STRLIST && a->kind != OPS_K_OBJLIST))
		return OPS_ERR_ARG;
	if (items > a->max_items || (a->required && items == 0))
		return OPS_ERR_VALUE;
	return OPS_OK;
}

/* ---- routing */

/* Segment [s, s+n) of a concrete path against one pattern segment. */
static int
seg_match(const char *pat, size_t plen, const char *s, size_t n)
{
	if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}')
		return 1;
	return plen == n && memcmp(pat, s, n) == 0;
}

static int
path_syntax_ok(const char *path, size_t len)
{
	size_t i, seg = 0;

	if (len == 0 || len > OPS_PATH_MAX || path[0] != '/')
		return 0;
	if (len == 1)
		return 1;	/* "/": no operation, but not an attack either */
	for (i = 1; i <= len; i++) {
		if (i == len || path[i] == '/') {
			size_t n = i - seg - 1;
			const char *s = path + seg + 1;

			/* Empty (//, trailing /), "." and ".." steps. */
			if (n == 0 || (n == 1 && s[0] == '.') ||
			    (n == 2 && s[0] == '.' && s[1] == '.'))
				return 0;
			seg = i;
			continue;
		}
		if (!is_alnum((unsigned char)path[i]) && path[i] != '-' &&
		    path[i] != '.' && path[i] != '_' && path[i] != '~')
			return 0;
	}
	return 1;
}

/* Match path against op's pattern; fill params on success. */
static int
pattern_match(const struct ops_op *op, const char *path, struct ops_path *pp)
{
	const char *pat = op->path, *p = path;
	const char *pe, *se;
	size_t idx;

	pp->n = 0;
	while (*pat == '/' && *p == '/') {
		pat++;
		p++;
		pe = strchr(pat, '/');
		se = strchr(p, '/');
		if (pe == NULL)
			pe = pat + strlen(pat);
		if (se == NULL)
			se = p + strlen(p);
		if (!seg_match(pat, (size_t)(pe - pat), p, (size_t)(se - p)))
			return 0;
		if (*pat == '{') {
			char name[32];
			size_t nl = (size_t)(pe - pat) - 2;

			if (nl >= sizeof(name) || pp->n == OPS_PARAMS_MAX)
				return 0;
			memcpy(name, pat + 1, nl);
			name[nl] = '\0';
			if (ops_arg_find(op->args, op->nargs, name, &idx) == NULL)
				return 0;
			pp->v[pp->n].arg = idx;
			pp->v[pp->n].p = p;
			pp->v[pp->n].len = (size_t)(se - p);
			pp->n++;
		}
		pat = pe;
		p = se;
	}
	return *pat == '\0' && *p == '\0';
}

int
ops_match(const char *method, const char *path, const struct ops_op **op,
    struct ops_path *params)
{
	size_t i, k, n = sizeof(table) / sizeof(table[0]);
	struct ops_path pp;
	int rc = OPS_ERR_NOTFOUND;

	*op = NULL;
	memset(params, 0, sizeof(*params));
	if (method == NULL || path == NULL)
		return OPS_ERR_ARG;
	if (!path_syntax_ok(path, strlen(path)))
		return OPS_ERR_PATH;
	for (i = 0; i < n; i++) {
		if (!pattern_match(&table[i], path, &pp))
			continue;
		if (strcmp(table[i].method, method) != 0) {
			rc = OPS_ERR_METHOD;
			continue;
		}
		for (k = 0; k < pp.n; k++)
			if (ops_check_str(&table[i].args[pp.v[k].arg], pp.v[k].p,
			    pp.v[k].len) != OPS_OK)
				return OPS_ERR_VALUE;
		*op = &table[i];
		*params = pp;
		return OPS_OK;
	}
	return rc;
}

/* ---- MSG_REQ_ARG fields */

static void
put_arg(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    const uint8_t *p, size_t len)
{
	uint8_t *f;

	if (b->err != MSG_OK)
		return;
	if (arg > 255 || sub > 255 || item > 255 || len > MSG_PAYLOAD_MAX - 3) {
		b->err = MSG_ERR_ARG;
		return;
	}
	/* Field header, then arg/sub/item and the value, written in place. */
	buf_put_u16be(&b->w, MSG_REQ_ARG);
	buf_put_u32be(&b->w, (uint32_t)(3 + len));
	if ((f = buf_reserve(&b->w, 3 + len)) == NULL) {
		b->err = MSG_ERR_NOSPACE;
		return;
	}
	f[0] = (uint8_t)arg;
	f[1] = (uint8_t)sub;
	f[2] = (uint8_t)item;
	if (len > 0)
		memcpy(f + 3, p, len);
}

void
ops_put_str(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    const char *s, size_t len)
{
	put_arg(b, arg, sub, item, (const uint8_t *)s, len);
}

void
ops_put_bytes(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    const uint8_t *p, size_t len)
{
	put_arg(b, arg, sub, item, p, len);
}

void
ops_put_int(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t x[8];
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		x[i] = (uint8_t)u;
	put_arg(b, arg, sub, item, x, sizeof(x));
}

void
ops_put_bool(struct msg_builder *b, size_t arg, size_t sub, size_t item,
    int v)
{
	uint8_t x = v ? 1 : 0;

	put_arg(b, arg, sub, item, &x, 1);
}

/* ---- MSG_REQ decoding (the engine's re-validation) */

static int
check_scalar(const struct ops_arg *a, struct ops_value *v)
{
	uint64_t u = 0;
	size_t i;

	switch (a->kind) {
	case OPS_K_STR:
	case OPS_K_STRLIST:
		return ops_check_str(a, (const char *)v->p, v->len);
	case OPS_K_ENUM:
		return ops_check_enum(a, (const char *)v->p, v->len);
	case OPS_K_SEALED:
		return ops_check_sealed(a, v->len);
	case OPS_K_BOOL:
		if (v->len != 1 || v->p[0] > 1)
			return OPS_ERR_VALUE;
		v->i = v->p[0];
		return OPS_OK;
	case OPS_K_INT:
		if (v->len != 8)
			return OPS_ERR_VALUE;
		for (i = 0; i < 8; i++)
			u = u << 8 | v->p[i];
		v->i = (int64_t)u;
		return ops_check_int(a, v->i);
	default:
		return OPS_ERR_VALUE;
	}
}

/* Parse one MSG_REQ_ARG field against op; v->spec is the scalar's spec. */
static int
parse_arg(const struct ops_op *op, const struct msg_field *f,
    struct ops_value *v)
{
	const struct ops_arg *a;

	memset(v, 0, sizeof(*v));
	if (f->len < 3)
		return OPS_ERR_FORMAT;
	v->arg = f->p[0];
	v->sub = f->p[1];
	v->item = f->p[2];
	v->p = f->p + 3;
	v->len = f->len - 3;
	if (v->arg >= op->nargs)
		return OPS_ERR_UNKNOWN;
	a = &op->args[v->arg];
	if (a->kind == OPS_K_OBJLIST) {
		if (v->sub >= a->nsub)
			return OPS_ERR_UNKNOWN;
		a = &a->sub[v->sub];
	} else if (v->sub != 0)
		return OPS_ERR_UNKNOWN;
	if (v->item != 0 && op->args[v->arg].kind != OPS_K_STRLIST &&
	    op->args[v->arg].kind != OPS_K_OBJLIST)
		return OPS_ERR_VALUE;
	v->spec = a;
	return check_scalar(a, v);
}

/* Same (arg, sub, item) given twice? */
static int
is_dup(const struct ops_req *r, const struct ops_value *v)
{
	size_t i;

	for (i = 0; i < r->nvals; i++)
		if (r->vals[i].arg == v->arg && r->vals[i].sub == v->sub &&
		    r->vals[i].item == v->item)
			return 1;
	return 0;
}

/* Lists: items 0..n-1 without gaps, count in bounds, every object whole. */
static int
check_completeness(const struct ops_req *r)
{
	const struct ops_op *op = r->op;
	size_t a, i, s, items;
	uint8_t maxitem;
	int have;

	for (a = 0; a < op->nargs; a++) {
		const struct ops_arg *spec = &op->args[a];

		have = 0;
		maxitem = 0;
		for (i = 0; i < r->nvals; i++)
			if (r->vals[i].arg == a) {
				have++;
				if (r->vals[i].item > maxitem)
					maxitem = r->vals[i].item;
			}
		if (spec->kind != OPS_K_STRLIST && spec->kind != OPS_K_OBJLIST) {
			if (spec->required && !have)
				return OPS_ERR_MISSING;
			continue;
		}
		items = have ? (size_t)maxitem + 1 : 0;
		if (ops_check_count(spec, items) != OPS_OK)
			return items == 0 ? OPS_ERR_MISSING : OPS_ERR_VALUE;
		/* Every item present; in objects every required member. */
		for (i = 0; i < items; i++)
			for (s = 0; s < (spec->kind == OPS_K_OBJLIST ? spec->nsub : 1);
			    s++) {
				struct ops_value probe = { (uint8_t)a, (uint8_t)s,
				    (uint8_t)i, NULL, NULL, 0, 0 };

				if (spec->kind == OPS_K_OBJLIST &&
				    !spec->sub[s].required)
					continue;
				if (!is_dup(r, &probe))
					return OPS_ERR_MISSING;
			}
	}
	return OPS_OK;
}

static int
decode_actor(const struct msg *m, struct ops_req *r)
{
	const struct msg_field *actor = msg_get(m, MSG_REQ_ACTOR);
	const struct msg_field *uid = msg_get(m, MSG_REQ_UID);
	const struct msg_field *tok = msg_get(m, MSG_REQ_TOKEN);
	const struct msg_field *csrf = msg_get(m, MSG_REQ_CSRF);

	r->actor = (uint32_t)actor->num;
	switch (r->actor) {
	case MSG_ACTOR_NONE:
		if (uid != NULL || tok != NULL)
			return OPS_ERR_FORMAT;
		break;
	case MSG_ACTOR_UID:
		if (uid == NULL || tok != NULL)
			return OPS_ERR_FORMAT;
		r->uid = (uint32_t)uid->num;
		break;
	case MSG_ACTOR_SESSION:
		if (uid != NULL || tok == NULL)
			return OPS_ERR_FORMAT;
		break;
	default:
		return OPS_ERR_FORMAT;
	}
	if (csrf != NULL) {
		size_t i;

		if (r->actor != MSG_ACTOR_SESSION)
			return OPS_ERR_FORMAT;
		for (i = 0; i < csrf->len; i++)
			if (csrf->p[i] <= 0x20 || csrf->p[i] >= 0x7f)
				return OPS_ERR_FORMAT;
		r->csrf = (const char *)csrf->p;
		r->csrf_len = csrf->len;
	}
	if (tok != NULL) {
		/* The Bearer token charset (RFC 6750 b64token). */
		static const struct ops_arg tokspec = { "token", OPS_K_STR, 0, 1,
		    OPS_CS_READER, 1, 64, 0, 0, NULL, NULL, 0, 0 };
		size_t i;

		if (ops_check_str(&tokspec, (const char *)tok->p, tok->len) != OPS_OK)
			return OPS_ERR_FORMAT;
		for (i = 0; i < tok->len; i++)
			if (tok->p[i] == ' ')
				return OPS_ERR_FORMAT;
		r->token = (const char *)tok->p;
		r->token_len = tok->len;
	}
	return OPS_OK;
}

int
ops_req_decode(const struct msg *m, struct ops_req *r)
{
	const struct msg_field *f = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	if (m == NULL || m->hdr.type != MSG_REQ)
		return OPS_ERR_ARG;
	if ((r->op = ops_by_code((unsigned)msg_get(m, MSG_REQ_OP)->num)) == NULL) {
		rc = OPS_ERR_FORMAT;
		goto out;
	}
	if ((rc = decode_actor(m, r)) != OPS_OK)
		goto out;
	while ((f = msg_next(m, MSG_REQ_ARG, f)) != NULL) {
		struct ops_value v;

		if (r->nvals == OPS_MAX_VALUES) {
			rc = OPS_ERR_VALUE;
			goto out;
		}
		if ((rc = parse_arg(r->op, f, &v)) != OPS_OK)
			goto out;
		if (is_dup(r, &v)) {
			rc = OPS_ERR_DUP;
			goto out;
		}
		r->vals[r->nvals++] = v;
	}
	rc = check_completeness(r);
out:
	if (rc != OPS_OK)
		memset(r, 0, sizeof(*r));
	return rc;
}

const struct ops_value *
ops_req_get(const struct ops_req *r, const char *name, size_t item,
    const char *sub_name)
{
	const struct ops_arg *a;
	size_t ai, si = 0, i;

	if (r->op == NULL ||
	    (a = ops_arg_find(r->op->args, r->op->nargs, name, &ai)) == NULL)
		return NULL;
	if (sub_name != NULL && (a->kind != OPS_K_OBJLIST ||
	    ops_arg_find(a->sub, a->nsub, sub_name, &si) == NULL))
		return NULL;
	for (i = 0; i < r->nvals; i++)
		if (r->vals[i].arg == ai && r->vals[i].sub == si &&
		    r->vals[i].item == item)
			return &r->vals[i];
	return NULL;
}

size_t
ops_req_count(const struct ops_req *r, const char *name)
{
	const struct ops_arg *a;
	size_t ai, i, n = 0;

	if (r->op == NULL ||
	    (a = ops_arg_find(r->op->args, r->op->nargs, name, &ai)) == NULL)
		return 0;
	for (i = 0; i < r->nvals; i++)
		if (r->vals[i].arg == ai && (size_t)r->vals[i].item + 1 > n)
			n = (size_t)r->vals[i].item + 1;
	return n;
}
