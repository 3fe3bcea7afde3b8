/* caconf: strict parser of ca.conf. See caconf.h. */
#include "caconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE 1024

enum kind { K_STR, K_INT, K_LONG, K_BOOL, K_SERVERS };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	int required;
	long min, max;		/* numeric keys: the accepted range */
};

/*
 * Numeric ranges: ports are ports; a timeout of 0 would mean "wait forever"
 * to OpenSSL, and more than 5 minutes per round trip only hides a dead CA;
 * renew_before at most 10 years keeps now + renew_before far inside time_t.
 */
#define RENEW_BEFORE_MAX (10L * 366 * 86400)
#define TIMEOUT_MAX 300
#define KEEP_ALIVE_MAX 60	/* below common servers' idle close (nginx: 75 s) */
#define S(n, r) { #n, K_STR, offsetof(struct caconf, n), r, 0, 0 }
#define N(n, k, r, lo, hi) { #n, k, offsetof(struct caconf, n), r, lo, hi }
static const struct key keys[] = {
	{ "server", K_SERVERS, offsetof(struct caconf, server), 1, 0, 0 },
	N(port, K_INT, 0, 1, 65535),
	N(enroll_port, K_INT, 0, 1, 65535),
	S(path, 1), N(plain_http, K_BOOL, 0, 0, 1),
	S(tls_trust, 0), S(cmp_trust, 1), S(untrusted, 0), S(cmp_sender, 0),
	N(timeout, K_INT, 0, 1, TIMEOUT_MAX),
	N(keep_alive, K_INT, 0, 0, KEEP_ALIVE_MAX), N(tls_resume, K_BOOL, 0, 0, 1),
	N(implicit_confirm, K_BOOL, 0, 0, 1),
	S(state_dir, 1), S(pkcs11_module, 1), S(token, 1), S(pin_file, 1),
	S(key_label, 1), S(subject, 0), S(crl_url, 0),
	N(renew_before, K_LONG, 0, 0, RENEW_BEFORE_MAX),
	S(idm_url, 0), S(idm_trust, 0),
};
#undef S
#undef N
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const char *
caconf_strerror(int err)
{
	switch (err) {
	case CACONF_OK:		return "success";
	case CACONF_ERR_IO:	return "cannot read configuration";
	case CACONF_ERR_SYNTAX:	return "configuration syntax error";
	case CACONF_ERR_MISSING: return "configuration incomplete";
	case CACONF_ERR_PERM:	return "configuration writable by others";
	default:		return "unknown caconf error";
	}
}

const char *
caconf_errname(int err)
{
	switch (err) {
	case CACONF_OK:	return "CACONF_OK";
	case CACONF_ERR_IO:	return "CACONF_ERR_IO";
	case CACONF_ERR_SYNTAX:	return "CACONF_ERR_SYNTAX";
	case CACONF_ERR_MISSING:	return "CACONF_ERR_MISSING";
	case CACONF_ERR_PERM:	return "CACONF_ERR_PERM";
	default:		return "CACONF_ERR_UNKNOWN";
	}
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A host name as TLS checks it: letters, digits, '-' and '.', no "..". */
static int
host_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n >= CACONF_HOST || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)h[i]) || h[i] == '-' ||
		    (h[i] == '.' && i + 1 < n && h[i + 1] != '.')))
			return 0;
	return 1;
}

/*
 * One entry of the server list, [s, e): HOST or HOST:PORT, optionally in
 * double quotes. Port 0: the `port` key's.
 */
static int
add_server(struct caconf *c, const char *s, const char *e, const char **why)
{
	const char *colon;
	char num[8];
	size_t hn;
	long n = 0;
	char *end;
	int i;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (e - s >= 2 && *s == '"' && e[-1] == '"') {
		s++;
		e--;
	}
	*why = "bad value: server: expected HOST or HOST:PORT entries, "
	    "comma-separated";
	if ((colon = memchr(s, ':', (size_t)(e - s))) == NULL)
		colon = e;
	hn = (size_t)(colon - s);
	if (!host_ok(s, hn))
		return 0;
	if (colon < e) {
		if ((size_t)(e - colon - 1) >= sizeof(num) || e - colon - 1 == 0)
			return 0;
		memcpy(num, colon + 1, (size_t)(e - colon - 1));
		num[e - colon - 1] = '\0';
		errno = 0;
		n = strtol(num, &end, 10);
		if (*end != '\0' || !isdigit((unsigned char)num[0]) ||
		    n < 1 || n > 65535) {
			*why = "bad value: server: a port must be an integer "
			    "from 1 to 65535";
			return 0;
		}
	}
	if (c->nservers == CACONF_MAX_SERVERS) {
		*why = "bad value: server: more than 8 CA endpoints";
		return 0;
	}
	memcpy(c->servers[c->nservers], s, hn);
	c->servers[c->nservers][hn] = '\0';
	c->server_ports[c->nservers] = (int)n;
	for (i = 0; i < c->nservers; i++)
		if (strcmp(c->servers[i], c->servers[c->nservers]) == 0 &&
		    c->server_ports[i] == (int)n) {
			*why = "bad value: server: the same CA endpoint twice";
			return 0;
		}
	c->nservers++;
	*why = NULL;
	return 1;
}

static int
set_servers(struct caconf *c, const char *v, const char **why)
{
	const char *comma;

	if (*v == '\0')
		return 0;
	for (;;) {
		comma = strchr(v, ',');
		if (!add_server(c, v, comma ? comma : v + strlen(v), why))
			return 0;
		if (comma == NULL)
			break;
		v = comma + 1;
	}
	memcpy(c->server, c->servers[0], sizeof(c->servers[0]));
	return 1;
}

static int
set_value(struct caconf *c, const struct key *k, const char *v,
    const char **why)
{
	static char range[96];
	char *end;
	long n;

	if (k->kind == K_SERVERS)
		return set_servers(c, v, why);
	if (k->kind == K_STR) {
		if (strlen(v) >= CACONF_VAL || *v == '\0')
			return 0;
		strcpy((char *)c + k->off, v);
		return 1;
	}
	if (k->kind == K_BOOL) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return 0;
		*(int *)((char *)c + k->off) = strcmp(v, "yes") == 0;
		return 1;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno == ERANGE || n < k->min ||
	    n > k->max) {
		snprintf(range, sizeof(range), "bad value: %s must be an integer "
		    "from %ld to %ld", k->name, k->min, k->max);
		*why = range;
		return 0;
	}
	if (k->kind == K_INT)
		*(int *)((char *)c + k->off) = (int)n;
	else
		*(long *)((char *)c + k->off) = n;
	return 1;
}

static int
parse_line(struct caconf *c, char *line, unsigned *seen, const char **why)
{
	char *eq, *name, *val;
	size_t i;

	if ((eq = strchr(line, '#')) != NULL)
		*eq = '\0';
	line = trim(line);
	if (*line == '\0')
		return 1;
	if ((eq = strchr(line, '=')) == NULL) {
		*why = "expected key = value";
		return 0;
	}
	*eq = '\0';
	name = trim(line);
	val = trim(eq + 1);
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (*seen & (1u << i)) {
			*why = "duplicate key";
			return 0;
		}
		*seen |= 1u << i;
		if (!set_value(c, &keys[i], val, why) && *why == NULL)
			*why = "bad value";
		return *why == NULL;
	}
	*why = "unknown key";
	return 0;
}

static int
check_required(unsigned seen, const struct caconf *c, const char **missing)
{
	size_t i;

	int j;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].required && !(seen & (1u << i))) {
			*missing = keys[i].name;
			return 0;
		}
		/* `port` serves the server entries that name none. */
		if (keys[i].kind != K_SERVERS)
			continue;
		for (j = 0; j < c->nservers; j++)
			if (c->server_ports[j] == 0 && c->port == 0) {
				*missing = "port";
				return 0;
			}
	}
	if (!c->plain_http && c->tls_trust[0] == '\0') {
		*missing = "tls_trust";
		return 0;
	}
	return 1;
}

int
caconf_load(const char *file, struct caconf *c, char *err, size_t errlen)
{
	char line[MAX_LINE];
	const char *why = NULL;
	unsigned seen = 0, lineno = 0;
	struct stat st;
	int i;
	FILE *f;
	int rc = CACONF_OK;

	memset(c, 0, sizeof(*c));
	c->timeout = 10;
	c->keep_alive = 15;
	c->tls_resume = 1;
	c->implicit_confirm = 1;
	c->renew_before = 30L * 86400;
	snprintf(err, errlen, "%s: cannot open", file);
	if ((f = fopen(file, "r")) == NULL)
		return CACONF_ERR_IO;
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 022)) {
		snprintf(err, errlen, "%s: writable by group or others", file);
		rc = CACONF_ERR_PERM;
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
			why = "line too long";
		if (why != NULL || !parse_line(c, line, &seen, &why)) {
			snprintf(err, errlen, "%s:%u: %s", file, lineno, why);
			rc = CACONF_ERR_SYNTAX;
			goto out;
		}
	}
	if (!check_required(seen, c, &why)) {
		snprintf(err, errlen, "%s: missing key %s", file, why);
		rc = CACONF_ERR_MISSING;
		goto out;
	}
	for (i = 0; i < c->nservers; i++)
		if (c->server_ports[i] == 0)
			c->server_ports[i] = c->port;
	c->port = c->server_ports[0];
	if (c->enroll_port == 0)
		c->enroll_port = c->port;
	err[0] = '\0';
out:
	fclose(f);
	return rc;
}
