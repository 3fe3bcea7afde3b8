/* pcfg: secrecy-checked reads, libconfig pre-scan, diagnostics. See pcfg.h. */
#include "pcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

const char *
pcfg_strerror(int err)
{
	switch (err) {
	case PCFG_OK:		return "success";
	case PCFG_ERR_IO:	return "cannot read file";
	case PCFG_ERR_PERM:	return "file refused (symlink, owner or mode)";
	case PCFG_ERR_TOOBIG:	return "file too large";
	case PCFG_ERR_NOMEM:	return "out of memory";
	case PCFG_ERR_SYNTAX:	return "syntax error";
	case PCFG_ERR_INVALID:	return "invalid setting";
	default:		return "unknown pcfg error";
	}
}

const char *
pcfg_errname(int err)
{
	switch (err) {
	case PCFG_OK:		return "PCFG_OK";
	case PCFG_ERR_IO:	return "PCFG_ERR_IO";
	case PCFG_ERR_PERM:	return "PCFG_ERR_PERM";
	case PCFG_ERR_TOOBIG:	return "PCFG_ERR_TOOBIG";
	case PCFG_ERR_NOMEM:	return "PCFG_ERR_NOMEM";
	case PCFG_ERR_SYNTAX:	return "PCFG_ERR_SYNTAX";
	case PCFG_ERR_INVALID:	return "PCFG_ERR_INVALID";
	default:		return "PCFG_ERR_UNKNOWN";
	}
}

void
pcfg_diag_init(struct pcfg_diag *d, char *buf, size_t cap)
{
	d->buf = buf;
	d->cap = cap;
	d->len = 0;
	d->count = 0;
	if (cap > 0)
		buf[0] = '\0';
}

void
pcfg_diag_add(struct pcfg_diag *d, const char *file, unsigned line,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	d->count++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->cap == 0 || d->len + 1 >= d->cap)
		return;
	if (line > 0)
		n = snprintf(d->buf + d->len, d->cap - d->len, "%s:%u: %s\n",
		    file, line, msg);
	else
		n = snprintf(d->buf + d->len, d->cap - d->len, "%s: %s\n", file,
		    msg);
	/* A line cut short still ends the buffer with its NUL; stop there. */
	if (n < 0 || (size_t)n >= d->cap - d->len)
		d->len = d->cap - 1;
	else
		d->len += (size_t)n;
}

void
pcfg_diag_merge(struct pcfg_diag *d, const char *lines)
{
	const char *p, *nl;

	for (p = lines; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		d->count++;
		if (d->cap == 0 || d->len + 1 >= d->cap)
			continue;
		if ((size_t)(nl - p + 1) >= d->cap - d->len) {
			d->len = d->cap - 1;
			d->buf[d->len] = '\0';
			continue;
		}
		memcpy(d->buf + d->len, p, (size_t)(nl - p + 1));
		d->len += (size_t)(nl - p + 1);
		if (*nl != '\n')
			d->buf[d->len++] = '\n';
		d->buf[d->len] = '\0';
	}
}

/* relayd check_file_secrecy, on the descriptor we will read from. */
static int
check_fd(int fd, int want_dir, const char **why)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		*why = "cannot stat";
		return PCFG_ERR_IO;
	}
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		*why = want_dir ? "not a directory" : "not a regular file";
		return PCFG_ERR_PERM;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		*why = "owner is neither root nor the current user";
		return PCFG_ERR_PERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "writable by group or others";
		return PCFG_ERR_PERM;
	}
	return PCFG_OK;
}

static int
open_err(const char **why)
{
	/* O_NOFOLLOW makes a symlink fail with ELOOP (ENOTDIR for O_DIRECTORY). */
	if (errno == ELOOP || errno == EMLINK) {
		*why = "is a symbolic link (refused)";
		return PCFG_ERR_PERM;
	}
	*why = strerror(errno);
	return PCFG_ERR_IO;
}

int
pcfg_open_dir(const char *path, int *fd, const char **why)
{
	struct stat st;
	int rc;

	*fd = -1;
	*why = NULL;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		*why = "is a symbolic link (refused)";
		return PCFG_ERR_PERM;
	}
	if ((*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return open_err(why);
	if ((rc = check_fd(*fd, 1, why)) != PCFG_OK) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int
pcfg_read_at(int dirfd, const char *name, size_t max, char **text,
    size_t *len, const char **why)
{
	char *mem = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	*text = NULL;
	*len = 0;
	*why = NULL;
	/* O_NONBLOCK: a FIFO planted in place of a file must not hang us. */
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK)) < 0)
		return open_err(why);
	if ((rc = check_fd(fd, 0, why)) != PCFG_OK)
		goto out;
	rc = PCFG_ERR_NOMEM;
	*why = "out of memory";
	if ((mem = malloc(max + 1)) == NULL)
		goto out;
	/* Read one byte past the bound so an over-long file is noticed. */
	while ((n = read(fd, mem + got, max + 1 - got)) > 0 && got <= max)
		if ((got += (size_t)n) > max)
			break;
	if (n < 0) {
		rc = PCFG_ERR_IO;
		*why = strerror(errno);
		goto out;
	}
	if (got > max) {
		rc = PCFG_ERR_TOOBIG;
		*why = "file too large";
		goto out;
	}
	mem[got] = '\0';
	*text = mem;
	*len = got;
	mem = NULL;
	*why = NULL;
	rc = PCFG_OK;
out:
	free(mem);
	close(fd);
	return rc;
}

/* State of the pre-scan's small lexer: enough of libconfig's to know what is
 * code and what is string or comment. */
enum lex { L_CODE, L_STRING, L_LINE_COMMENT, L_BLOCK_COMMENT };

struct scan {
	enum lex st;
	unsigned line, nest, digits;
	int escaped, in_ident, hex, fresh;
	unsigned string_line;
	uint8_t prev;
};

static int
is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == '*';
}

static int
is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Digit runs are counted outside names (slot9) and hex runs after 0x. */
static const char *
scan_code(struct scan *s, uint8_t c, uint8_t next)
{
	if (s->hex) {
		if (is_hex(c)) {
			if (++s->digits > PCFG_MAX_DIGITS - 1)
				return "number too large (libconfig would truncate it)";
			return NULL;
		}
		s->hex = 0;
		s->digits = 0;
	}
	if (s->in_ident) {
		if (is_alpha(c) || (c >= '0' && c <= '9') || c == '-')
			return NULL;
		s->in_ident = 0;
	}
	if (c >= '0' && c <= '9') {
		if (++s->digits > PCFG_MAX_DIGITS)
			return "number too large (libconfig would truncate it)";
		return NULL;
	}
	if ((c == 'x' || c == 'X') && s->digits == 1 && s->prev == '0') {
		s->hex = 1;
		s->digits = 0;
		return NULL;
	}
	s->digits = 0;
	if (is_alpha(c)) {
		s->in_ident = 1;
		return NULL;
	}
	if (c == '@')
		return "directives (@include) are not allowed";
	if ((c == '{' || c == '(' || c == '[') && ++s->nest > PCFG_MAX_NEST)
		return "too many groups and lists";
	if (c == '"') {
		s->st = L_STRING;
		s->string_line = s->line;
	} else if (c == '#' || (c == '/' && next == '/'))
		s->st = L_LINE_COMMENT;
	else if (c == '/' && next == '*') {
		s->st = L_BLOCK_COMMENT;
		s->fresh = 1;	/* its '*' opens, it cannot also close */
	}
	return NULL;
}

static const char *
scan_byte(struct scan *s, uint8_t c, uint8_t next)
{
	const char *why = NULL;

	if (c == '\0')
		return "NUL byte in text";
	switch (s->st) {
	case L_CODE:
		why = scan_code(s, c, next);
		break;
	case L_STRING:
		if (s->escaped)
			s->escaped = 0;
		else if (c == '\\')
			s->escaped = 1;
		else if (c == '"')
			s->st = L_CODE;
		break;
	case L_LINE_COMMENT:
		if (c == '\n')
			s->st = L_CODE;
		break;
	case L_BLOCK_COMMENT:
		if (s->fresh)
			s->fresh = 0;
		else if (s->prev == '*' && c == '/') {
			s->st = L_CODE;
			c = 0;	/* "*" "/" "*" must not reopen */
		}
		break;
	}
	if (c == '\n')
		s->line++;
	s->prev = c;
	return why;
}

static int
prescan(const char *text, size_t len, const char *file, struct pcfg_diag *d)
{
	struct scan s = { .st = L_CODE, .line = 1 };
	struct buf_reader r;
	const char *why;
	uint8_t c, next;

	buf_reader_init(&r, text, len);
	while (buf_get_u8(&r, &c) == BUF_OK) {
		next = buf_left(&r) > 0 ? r.p[0] : 0;
		if ((why = scan_byte(&s, c, next)) != NULL) {
			pcfg_diag_add(d, file, s.line, "%s", why);
			return PCFG_ERR_SYNTAX;
		}
	}
	/* libconfig 1.5 leaks its string buffer on this one: refuse it first. */
	if (s.st == L_STRING) {
		pcfg_diag_add(d, file, s.string_line, "unterminated string");
		return PCFG_ERR_SYNTAX;
	}
	return PCFG_OK;
}

int
pcfg_parse(config_t *cfg, const char *text, size_t len, const char *file,
    struct pcfg_diag *d)
{
	char *copy;
	int rc;

	if (len > PCFG_MAX_FILE) {
		pcfg_diag_add(d, file, 1, "text too large (over %d bytes)",
		    PCFG_MAX_FILE);
		return PCFG_ERR_TOOBIG;
	}
	if ((rc = prescan(text, len, file, d)) != PCFG_OK)
		return rc;
	/* config_read_string wants a NUL; callers give (text, len). */
	if ((copy = malloc(len + 1)) == NULL) {
		pcfg_diag_add(d, file, 1, "out of memory");
		return PCFG_ERR_NOMEM;
	}
	if (len > 0)
		memcpy(copy, text, len);
	copy[len] = '\0';
	/* Belt and braces: should a directive slip past, it finds nothing. */
	config_set_include_dir(cfg, "/nonexistent");
	rc = PCFG_OK;
	if (config_read_string(cfg, copy) != CONFIG_TRUE) {
		pcfg_diag_add(d, file, config_error_line(cfg) > 0 ?
		    (unsigned)config_error_line(cfg) : 1, "%s",
		    config_error_text(cfg) ? config_error_text(cfg) :
		    "syntax error");
		rc = PCFG_ERR_SYNTAX;
	}
	free(copy);
	return rc;
}

unsigned
pcfg_line(const config_setting_t *s)
{
	for (; s != NULL; s = config_setting_parent(s))
		if (config_setting_source_line(s) > 0)
			return config_setting_source_line(s);
	return 1;
}

void
pcfg_err(struct pcfg_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[480];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->bad = 1;
	pcfg_diag_add(c->d, c->file, pcfg_line(s), "%s", msg);
}

/* "top level", "pin", "slots[2]", "slots[2].escrow": where s sits. */
static const char *
path_of(const config_setting_t *s, char *buf, size_t cap)
{
	const config_setting_t *parent;
	char up[128];
	const char *name;

	if (s == NULL || (parent = config_setting_parent(s)) == NULL)
		return "top level";
	name = config_setting_name(s);
	if (config_setting_parent(parent) == NULL)
		snprintf(buf, cap, "%s", name ? name : "?");
	else if (name != NULL)
		snprintf(buf, cap, "%s.%s", path_of(parent, up, sizeof(up)),
		    name);
	else
		snprintf(buf, cap, "%s[%d]", path_of(parent, up, sizeof(up)),
		    config_setting_index(s));
	return buf;
}

void
pcfg_only(struct pcfg_ctx *c, const config_setting_t *group,
    const char *const *allowed)
{
	const config_setting_t *m;
	const char *name;
	char at[160];
	size_t i;
	int k;

	for (k = 0; (m = config_setting_get_elem(group, (unsigned)k)) != NULL;
	    k++) {
		name = config_setting_name(m);
		for (i = 0; allowed[i] != NULL; i++)
			if (name != NULL && strcmp(allowed[i], name) == 0)
				break;
		if (allowed[i] == NULL)
			pcfg_err(c, m, "unknown setting '%s' in %s",
			    name ? name : "?", path_of(group, at, sizeof(at)));
	}
}

config_setting_t *
pcfg_member(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, int type)
{
	config_setting_t *m = config_setting_get_member(group, name);
	char at[160];
	int t;

	if (m == NULL) {
		if (required)
			pcfg_err(c, group, "missing setting '%s' in %s", name,
			    path_of(group, at, sizeof(at)));
		return NULL;
	}
	t = config_setting_type(m);
	if (t == type || (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY))
		return m;
	pcfg_err(c, m, "%s must be %s", path_of(m, at, sizeof(at)),
	    type == CONFIG_TYPE_GROUP ? "a group { ... }" :
	    type == CONFIG_TYPE_LIST ? "a list" :
	    type == CONFIG_TYPE_STRING ? "a string" :
	    type == CONFIG_TYPE_BOOL ? "true or false" : "an integer");
	return NULL;
}

int
pcfg_int(struct pcfg_ctx *c, const config_setting_t *group, const char *name,
    int required, int def, int lo, int hi, int *out)
{
	const config_setting_t *m;
	char at[160];
	long long v;

	*out = def;
	m = config_setting_get_member(group, name);
	if (m != NULL && config_setting_type(m) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(m);
	else if ((m = pcfg_member(c, group, name, required,
	    CONFIG_TYPE_INT)) != NULL)
		v = config_setting_get_int(m);
	else
		return !required && config_setting_get_member(group, name) == NULL;
	if (v < lo || v > hi) {
		pcfg_err(c, m, "%s = %lld is out of range %d..%d",
		    path_of(m, at, sizeof(at)), v, lo, hi);
		return 0;
	}
	*out = (int)v;
	return 1;
}

int
pcfg_bool(struct pcfg_ctx *c, const config_setting_t *group, const char *name,
    int required, int def, int *out)
{
	const config_setting_t *m;

	*out = def;
	if ((m = pcfg_member(c, group, name, required, CONFIG_TYPE_BOOL)) ==
	    NULL)
		return !required && config_setting_get_member(group, name) == NULL;
	*out = config_setting_get_bool(m) ? 1 : 0;
	return 1;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
pcfg_str(struct pcfg_ctx *c, const config_setting_t *group, const char *name,
    int required, const char *def, char *out, size_t cap)
{
	const config_setting_t *m;
	const char *v;
	char at[160];

	snprintf(out, cap, "%s", def ? def : "");
	if ((m = pcfg_member(c, group, name, required, CONFIG_TYPE_STRING)) ==
	    NULL)
		return !required && config_setting_get_member(group, name) == NULL;
	v = config_setting_get_string(m);
	if (v == NULL || *v == '\0' || strlen(v) >= cap) {
		pcfg_err(c, m, "%s must be 1 to %zu characters",
		    path_of(m, at, sizeof(at)), cap - 1);
		return 0;
	}
	if (!printable(v)) {
		pcfg_err(c, m, "%s must be printable ASCII",
		    path_of(m, at, sizeof(at)));
		return 0;
	}
	memcpy(out, v, strlen(v) + 1);
	return 1;
}

int
pcfg_enum(struct pcfg_ctx *c, const config_setting_t *group, const char *name,
    int required, int def, const char *const *names, int *out)
{
	const config_setting_t *m;
	const char *v;
	char at[160];
	int i;

	*out = def;
	if ((m = pcfg_member(c, group, name, required, CONFIG_TYPE_STRING)) ==
	    NULL)
		return !required && config_setting_get_member(group, name) == NULL;
	v = config_setting_get_string(m);
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], v) == 0) {
			*out = i;
			return 1;
		}
	pcfg_err(c, m, "%s: unknown value \"%.64s\"", path_of(m, at,
	    sizeof(at)), printable(v) ? v : "(unprintable)");
	return 0;
}

int
pcfg_plain_name(const char *s, size_t cap)
{
	size_t n = strlen(s);

	return n > 0 && n < cap && strchr(s, '/') == NULL &&
	    strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && printable(s);
}
