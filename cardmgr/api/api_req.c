/*
 * api_req: one HTTP request (method, raw target, body) -> MSG_REQ fields.
 *
 * Everything the client sent is checked here against the operation table
 * before the engine sees it: path syntax and parameters, query arguments
 * (strict %-decoding), the JSON body (strict: duplicates, unknown members,
 * wrong types, depth). The engine checks the same table again on its side.
 * Pure: no I/O, so the fuzzer drives it directly.
 */
#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

const char *
api_strerror(int err)
{
	switch (err) {
	case API_OK:		return "success";
	case API_ERR_ARG:	return "invalid argument";
	case API_ERR_REFUSED:	return "request refused";
	case API_ERR_NOMEM:	return "out of memory";
	case API_ERR_ENGINE:	return "engine link lost";
	case API_ERR_SYS:	return "system error";
	default:		return "unknown api error";
	}
}

const char *
api_name(int err)
{
	switch (err) {
	case API_OK:		return "API_OK";
	case API_ERR_ARG:	return "API_ERR_ARG";
	case API_ERR_REFUSED:	return "API_ERR_REFUSED";
	case API_ERR_NOMEM:	return "API_ERR_NOMEM";
	case API_ERR_ENGINE:	return "API_ERR_ENGINE";
	case API_ERR_SYS:	return "API_ERR_SYS";
	default:		return "API_ERR_UNKNOWN";
	}
}

int
api_refuse(struct api_error *e, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return API_ERR_REFUSED;
}

static int
b64token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/' || c == '=';
}

int
api_bearer(const char *header, char *tok)
{
	size_t i, n;

	tok[0] = '\0';
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return API_ERR_REFUSED;
	header += 7;
	n = strlen(header);
	if (n == 0 || n > API_TOKEN_MAX)
		return API_ERR_REFUSED;
	for (i = 0; i < n; i++)
		if (!b64token_char((unsigned char)header[i]))
			return API_ERR_REFUSED;
	memcpy(tok, header, n + 1);
	return API_OK;
}

/* ---- query string */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decode [s, s+n) into out (n + 1 bytes); '+' is a space. -1 if bad. */
static int
pct_decode(const char *s, size_t n, char *out, size_t *olen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			out[o] = (char)(hi << 4 | lo);
			if (out[o] == '\0')
				return -1;
			o++;
			i += 2;
		} else
			out[o++] = s[i] == '+' ? ' ' : s[i];
	}
	out[o] = '\0';
	*olen = o;
	return 0;
}

/* Strict decimal int64: optional '-', digits, no blanks, no overflow. */
static int
parse_i64(const char *s, int64_t *v)
{
	int neg = 0;
	uint64_t u = 0, lim;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0' || strlen(s) > 19)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (u > (lim - (uint64_t)(*s - '0')) / 10)
			return -1;
		u = u * 10 + (uint64_t)(*s - '0');
	}
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* One decoded scalar from a query string into b. */
static int
put_query_value(const struct ops_arg *a, size_t idx, const char *v, size_t vlen,
    struct msg_builder *b, struct api_error *e)
{
	int64_t i;

	switch (a->kind) {
	case OPS_K_STR:
		if (ops_check_str(a, v, vlen) != OPS_OK)
			break;
		ops_put_str(b, idx, 0, 0, v, vlen);
		return API_OK;
	case OPS_K_ENUM:
		if (ops_check_enum(a, v, vlen) != OPS_OK)
			break;
		ops_put_str(b, idx, 0, 0, v, vlen);
		return API_OK;
	case OPS_K_INT:
		if (parse_i64(v, &i) != 0)
			return api_refuse(e, 400, "wrong_type",
			    "query argument %s must be an integer", a->name);
		if (ops_check_int(a, i) != OPS_OK)
			break;
		ops_put_int(b, idx, 0, 0, i);
		return API_OK;
	case OPS_K_BOOL:
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
			return api_refuse(e, 400, "wrong_type",
			    "query argument %s must be true or false", a->name);
		ops_put_bool(b, idx, 0, 0, v[0] == 't');
		return API_OK;
	default:
		return api_refuse(e, 400, "unknown_field",
		    "%s cannot be given in the query", a->name);
	}
	return api_refuse(e, 400, "bad_value",
	    "query argument %s is out of bounds", a->name);
}

static int
put_query(const struct ops_op *op, const char *q, struct msg_builder *b,
    struct api_error *e)
{
	uint32_t seen = 0;
	char key[33], val[API_URI_MAX + 1];
	const char *amp, *eq;
	size_t klen, vlen, idx;
	const struct ops_arg *a;
	int rc;

	while (q != NULL && *q != '\0') {
		if ((amp = strchr(q, '&')) == NULL)
			amp = q + strlen(q);
		if ((eq = memchr(q, '=', (size_t)(amp - q))) == NULL ||
		    (size_t)(eq - q) >= sizeof(key) ||
		    pct_decode(q, (size_t)(eq - q), key, &klen) != 0 ||
		    (size_t)(amp - eq - 1) > API_URI_MAX ||
		    pct_decode(eq + 1, (size_t)(amp - eq - 1), val, &vlen) != 0)
			return api_refuse(e, 400, "bad_query",
			    "query string does not parse");
		a = ops_arg_find(op->args, op->nargs, key, &idx);
		if (a == NULL || a->where != OPS_IN_QUERY)
			return api_refuse(e, 400, "unknown_field",
			    "unknown query argument");
		if (seen & (1u << idx))
			return api_refuse(e, 400, "duplicate_field",
			    "query argument %s given twice", a->name);
		seen |= 1u << idx;
		if ((rc = put_query_value(a, idx, val, vlen, b, e)) != API_OK)
			return rc;
		q = *amp == '&' ? amp + 1 : amp;
	}
	for (idx = 0; idx < op->nargs; idx++)
		if (op->args[idx].where == OPS_IN_QUERY && op->args[idx].required &&
		    !(seen & (1u << idx)))
			return api_refuse(e, 400, "missing_field",
			    "query argument %s is required", op->args[idx].name);
	return API_OK;
}

/* ---- JSON body */

/*
 * Nesting depth of a JSON text, outside strings, before jansson sees it:
 * jansson's own limit (2048) is far beyond anything the table allows.
 */
static int
json_depth_ok(const uint8_t *p, size_t n, int max)
{
	int depth = 0, in_str = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_str = 0;
			continue;
		}
		if (p[i] == '"')
			in_str = 1;
		else if (p[i] == '{' || p[i] == '[') {
			if (++depth > max)
				return 0;
		} else if (p[i] == '}' || p[i] == ']')
			depth--;
	}
	return 1;
}

static int
put_sealed(const struct ops_arg *a, size_t idx, size_t sub, size_t item,
    json_t *j, struct msg_builder *b, struct api_error *e)
{
	uint8_t bin[OPS_SEAL_OVERHEAD + 1024];
	const char *s = json_string_value(j);
	size_t n = json_string_length(j), blen;

	/* Bound the decoded size by the base64 length before decoding. */
	if (a->max > 1024 || n > (sizeof(bin) + 2) / 3 * 4 ||
	    sodium_base642bin(bin, sizeof(bin), s, n, NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return api_refuse(e, 400, "bad_value",
		    "%s must be a base64 sealed box", a->name);
	if (ops_check_sealed(a, blen) != OPS_OK)
		return api_refuse(e, 400, "bad_value",
		    "%s: sealed box of a wrong size", a->name);
	ops_put_bytes(b, idx, sub, item, bin, blen);
	return API_OK;
}

/* One JSON scalar of spec a (a member's spec for objects) into b. */
static int
put_json_scalar(const struct ops_arg *a, size_t idx, size_t sub, size_t item,
    json_t *j, struct msg_builder *b, struct api_error *e)
{
	const char *s = json_string_value(j);
	size_t n = json_string_length(j);

	switch (a->kind) {
	case OPS_K_STR:
	case OPS_K_STRLIST:
	case OPS_K_ENUM:
	case OPS_K_SEALED:
		if (!json_is_string(j))
			goto wrong;
		if (a->kind == OPS_K_SEALED)
			return put_sealed(a, idx, sub, item, j, b, e);
		if (a->kind == OPS_K_ENUM ? ops_check_enum(a, s, n) != OPS_OK :
		    ops_check_str(a, s, n) != OPS_OK)
			return api_refuse(e, 400, "bad_value",
			    "%s is out of bounds", a->name);
		ops_put_str(b, idx, sub, item, s, n);
		return API_OK;
	case OPS_K_INT:
		if (!json_is_integer(j))
			goto wrong;
		if (ops_check_int(a, json_integer_value(j)) != OPS_OK)
			return api_refuse(e, 400, "bad_value",
			    "%s is out of range", a->name);
		ops_put_int(b, idx, sub, item, json_integer_value(j));
		return API_OK;
	case OPS_K_BOOL:
		if (!json_is_boolean(j))
			goto wrong;
		ops_put_bool(b, idx, sub, item, json_is_true(j));
		return API_OK;
	default:
		break;
	}
wrong:
	return api_refuse(e, 400, "wrong_type", "%s has the wrong type", a->name);
}

static int
put_json_object_item(const struct ops_arg *a, size_t idx, size_t item,
    json_t *o, struct msg_builder *b, struct api_error *e)
{
	const char *key;
	json_t *v;
	size_t s;
	int rc;

	if (!json_is_object(o))
		return api_refuse(e, 400, "wrong_type",
		    "%s must be a list of objects", a->name);
	json_object_foreach(o, key, v) {
		if (ops_arg_find(a->sub, a->nsub, key, &s) == NULL)
			return api_refuse(e, 400, "unknown_field",
			    "unknown member in %s", a->name);
		if ((rc = put_json_scalar(&a->sub[s], idx, s, item, v, b, e)) !=
		    API_OK)
			return rc;
	}
	for (s = 0; s < a->nsub; s++)
		if (a->sub[s].required && json_object_get(o, a->sub[s].name) == NULL)
			return api_refuse(e, 400, "missing_field",
			    "%s.%s is required", a->name, a->sub[s].name);
	return API_OK;
}

static int
put_json_value(const struct ops_arg *a, size_t idx, json_t *v,
    struct msg_builder *b, struct api_error *e)
{
	size_t i;
	json_t *it;
	int rc;

	if (a->kind != OPS_K_STRLIST && a->kind != OPS_K_OBJLIST)
		return put_json_scalar(a, idx, 0, 0, v, b, e);
	if (!json_is_array(v))
		return api_refuse(e, 400, "wrong_type", "%s must be a list",
		    a->name);
	if (ops_check_count(a, json_array_size(v)) != OPS_OK)
		return api_refuse(e, 400, "bad_value",
		    "%s: %s items", a->name, json_array_size(v) == 0 ? "too few" :
		    "too many");
	json_array_foreach(v, i, it) {
		rc = a->kind == OPS_K_STRLIST ?
		    put_json_scalar(a, idx, 0, i, it, b, e) :
		    put_json_object_item(a, idx, i, it, b, e);
		if (rc != API_OK)
			return rc;
	}
	return API_OK;
}

static int
ctype_is_json(const char *ctype)
{
	size_t n = strlen("application/json");

	if (ctype == NULL || strncasecmp(ctype, "application/json", n) != 0)
		return 0;
	ctype += n;
	while (*ctype == ' ')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

static int
put_body(const struct ops_op *op, const char *ctype, const uint8_t *body,
    size_t blen, struct msg_builder *b, struct api_error *e)
{
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	size_t idx;
	int rc = API_OK;

	if (strcmp(op->method, "POST") != 0) {
		if (blen > 0)
			return api_refuse(e, 400, "bad_request",
			    "%s takes no body", op->method);
		return API_OK;
	}
	/* A JSON type only: an HTML form cannot post it cross-site unasked. */
	if (!ctype_is_json(ctype))
		return api_refuse(e, 415, "unsupported_media_type",
		    "the body must be application/json");
	if (blen > API_BODY_MAX)
		return api_refuse(e, 413, "payload_too_large",
		    "body over %d bytes", API_BODY_MAX);
	if (!json_depth_ok(body, blen, API_JSON_DEPTH))
		return api_refuse(e, 400, "bad_json", "JSON nested too deep");
	root = json_loadb((const char *)body, blen, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL && strstr(jerr.text, "duplicate") != NULL) {
		rc = api_refuse(e, 400, "duplicate_field",
		    "a member appears twice in the body");
		goto out;
	}
	if (root == NULL || !json_is_object(root)) {
		rc = api_refuse(e, 400, "bad_json", "%s", root == NULL ?
		    "body is not valid JSON" : "body must be a JSON object");
		goto out;
	}
	json_object_foreach(root, key, v) {
		const struct ops_arg *a = ops_arg_find(op->args, op->nargs, key,
		    &idx);

		if (a == NULL || a->where != OPS_IN_BODY) {
			rc = api_refuse(e, 400, "unknown_field",
			    "unknown field in the body");
			goto out;
		}
		if ((rc = put_json_value(a, idx, v, b, e)) != API_OK)
			goto out;
	}
	for (idx = 0; idx < op->nargs; idx++)
		if (op->args[idx].where == OPS_IN_BODY && op->args[idx].required &&
		    json_object_get(root, op->args[idx].name) == NULL) {
			rc = api_refuse(e, 400, "missing_field", "%s is required",
			    op->args[idx].name);
			goto out;
		}
out:
	json_decref(root);
	return rc;
}

static int
put_actor(const struct api_actor *actor, struct msg_builder *b)
{
	msg_put_u32(b, MSG_REQ_ACTOR, actor->kind);
	if (actor->kind == MSG_ACTOR_UID)
		msg_put_u32(b, MSG_REQ_UID, actor->uid);
	else if (actor->kind == MSG_ACTOR_SESSION && actor->token != NULL) {
		msg_put_str(b, MSG_REQ_TOKEN, actor->token);
		if (actor->csrf != NULL && actor->csrf[0] != '\0')
			msg_put_str(b, MSG_REQ_CSRF, actor->csrf);
	} else if (actor->kind != MSG_ACTOR_NONE)
		return API_ERR_ARG;
	return API_OK;
}

static int
route(const char *method, const char *target, const struct ops_op **op,
    struct ops_path *pp, const char **query, struct api_error *e)
{
	char path[OPS_PATH_MAX + 1];
	const char *qm = strchr(target, '?');
	size_t plen = qm != NULL ? (size_t)(qm - target) : strlen(target);

	*query = qm != NULL ? qm + 1 : NULL;
	if (plen > OPS_PATH_MAX)
		return api_refuse(e, 414, "bad_path", "path too long");
	memcpy(path, target, plen);
	path[plen] = '\0';
	switch (ops_match(method, path, op, pp)) {
	case OPS_OK:
		/* pp points into path: re-point it into target. */
		for (size_t i = 0; i < pp->n; i++)
			pp->v[i].p = target + (pp->v[i].p - path);
		return API_OK;
	case OPS_ERR_NOTFOUND:
		return api_refuse(e, 404, "not_found", "no such resource");
	case OPS_ERR_METHOD:
		return api_refuse(e, 405, "method_not_allowed",
		    "method not allowed here");
	case OPS_ERR_VALUE:
		return api_refuse(e, 400, "bad_path", "bad path parameter");
	default:
		return api_refuse(e, 400, "bad_path", "path refused");
	}
}

int
api_req_build(const char *method, const char *target, const char *ctype,
    const uint8_t *body, size_t blen, const struct api_actor *actor,
    struct msg_builder *b, const struct ops_op **op, struct api_error *e)
{
	struct ops_path pp;
	const char *query;
	size_t i;
	int rc;

	*op = NULL;
	memset(e, 0, sizeof(*e));
	if (method == NULL || target == NULL || actor == NULL || b == NULL ||
	    (body == NULL && blen > 0))
		return API_ERR_ARG;
	if (strlen(target) > API_URI_MAX)
		return api_refuse(e, 414, "bad_path", "request target too long");
	if ((rc = route(method, target, op, &pp, &query, e)) != API_OK)
		goto out;
	msg_put_u32(b, MSG_REQ_OP, (*op)->code);
	if ((rc = put_actor(actor, b)) != API_OK)
		goto out;
	for (i = 0; i < pp.n; i++)
		ops_put_str(b, pp.v[i].arg, 0, 0, pp.v[i].p, pp.v[i].len);
	if ((rc = put_query(*op, query, b, e)) != API_OK ||
	    (rc = put_body(*op, ctype, body, blen, b, e)) != API_OK)
		goto out;
	if (msg_builder_error(b) != MSG_OK)
		rc = api_refuse(e, 413, "payload_too_large",
		    "request does not fit a message");
out:
	if (rc != API_OK)
		*op = NULL;
	return rc;
}
