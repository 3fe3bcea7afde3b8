/* pin: PIN/PUK rules and the PIN blocklist. See pin.h. */
#include "pin.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "pcfg.h"

#define CONFIRM_MAX 32
#define BLOCKLIST_FILE_MAX (2 * 1024 * 1024)

struct pin_blocklist {
	char **v;		/* sorted, for bsearch */
	size_t n;
};

const char *
pin_strerror(int err)
{
	switch (err) {
	case PIN_OK:		return "PIN accepted";
	case PIN_ERR_ARG:	return "bad argument";
	case PIN_ERR_LENGTH:	return "PIN length not allowed";
	case PIN_ERR_DIGITS:	return "PIN must be digits only";
	case PIN_ERR_CHARSET:	return "PIN has characters not allowed";
	case PIN_ERR_REPEAT:	return "PIN repeats a character too often";
	case PIN_ERR_SEQUENCE:	return "PIN has a run like 1234 or 4321";
	case PIN_ERR_REUSED:	return "PIN equals the previous one";
	case PIN_ERR_BLOCKLISTED: return "PIN is too common";
	case PIN_ERR_MISMATCH:	return "the two PINs differ";
	case PIN_ERR_IO:	return "cannot read PIN blocklist";
	case PIN_ERR_PERM:	return "PIN blocklist refused (symlink, owner or mode)";
	case PIN_ERR_FORMAT:	return "PIN blocklist malformed";
	case PIN_ERR_NOMEM:	return "out of memory";
	default:		return "unknown pin error";
	}
}

const char *
pin_errname(int err)
{
	switch (err) {
	case PIN_OK:		return "PIN_OK";
	case PIN_ERR_ARG:	return "PIN_ERR_ARG";
	case PIN_ERR_LENGTH:	return "PIN_ERR_LENGTH";
	case PIN_ERR_DIGITS:	return "PIN_ERR_DIGITS";
	case PIN_ERR_CHARSET:	return "PIN_ERR_CHARSET";
	case PIN_ERR_REPEAT:	return "PIN_ERR_REPEAT";
	case PIN_ERR_SEQUENCE:	return "PIN_ERR_SEQUENCE";
	case PIN_ERR_REUSED:	return "PIN_ERR_REUSED";
	case PIN_ERR_BLOCKLISTED: return "PIN_ERR_BLOCKLISTED";
	case PIN_ERR_MISMATCH:	return "PIN_ERR_MISMATCH";
	case PIN_ERR_IO:	return "PIN_ERR_IO";
	case PIN_ERR_PERM:	return "PIN_ERR_PERM";
	case PIN_ERR_FORMAT:	return "PIN_ERR_FORMAT";
	case PIN_ERR_NOMEM:	return "PIN_ERR_NOMEM";
	default:		return "PIN_ERR_UNKNOWN";
	}
}

/* ---- blocklist ---- */

void
pin_blocklist_free(struct pin_blocklist *bl)
{
	size_t i;

	if (bl == NULL)
		return;
	for (i = 0; i < bl->n; i++)
		free(bl->v[i]);
	free(bl->v);
	free(bl);
}

size_t
pin_blocklist_count(const struct pin_blocklist *bl)
{
	return bl ? bl->n : 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
pin_blocklist_has(const struct pin_blocklist *bl, const char *pin)
{
	if (bl == NULL || pin == NULL || bl->n == 0)
		return 0;
	return bsearch(&pin, bl->v, bl->n, sizeof(*bl->v), cmp_entry) != NULL;
}

/* One line without its '\n': blanks trimmed, '#' comment dropped. */
static const char *
take_line(const uint8_t *p, size_t n, char *out)
{
	size_t i, s = 0, e;

	for (e = 0; e < n && p[e] != '#'; e++)
		;
	while (s < e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
	    p[e - 1] == '\r'))
		e--;
	if (e - s > PIN_BLOCKLIST_LINE)
		return "entry too long";
	for (i = s; i < e; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return "entry has a blank, control or non-ASCII byte";
	memcpy(out, p + s, e - s);
	out[e - s] = '\0';
	return NULL;
}

static int
add_entry(struct pin_blocklist *bl, const char *s, size_t *cap)
{
	char **nv;

	if (bl->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((nv = realloc(bl->v, *cap * sizeof(*nv))) == NULL)
			return PIN_ERR_NOMEM;
		bl->v = nv;
	}
	if ((bl->v[bl->n] = strdup(s)) == NULL)
		return PIN_ERR_NOMEM;
	bl->n++;
	return PIN_OK;
}

static int
parse_lines(struct pin_blocklist *bl, const char *file, const char *text,
    size_t len, struct pcfg_diag *d)
{
	char entry[PIN_BLOCKLIST_LINE + 1];
	const uint8_t *line, *nl;
	struct buf_reader r;
	const char *why;
	size_t cap = 0, n;
	unsigned lineno = 0;
	int rc;

	buf_reader_init(&r, text, len);
	while (buf_left(&r) > 0) {
		lineno++;
		line = r.p;
		nl = memchr(line, '\n', buf_left(&r));
		n = nl ? (size_t)(nl - line) : buf_left(&r);
		(void)buf_skip(&r, nl ? n + 1 : n);
		if (memchr(line, '\0', n) != NULL)
			why = "NUL byte";
		else
			why = take_line(line, n, entry);
		if (why == NULL && entry[0] == '\0')
			continue;
		if (why == NULL && bl->n >= PIN_BLOCKLIST_MAX)
			why = "too many entries";
		if (why != NULL) {
			pcfg_diag_add(d, file, lineno, "%s", why);
			return PIN_ERR_FORMAT;
		}
		if ((rc = add_entry(bl, entry, &cap)) != PIN_OK) {
			pcfg_diag_add(d, file, lineno, "out of memory");
			return rc;
		}
	}
	return PIN_OK;
}

int
pin_blocklist_parse(const char *file, const char *text, size_t len,
    struct pin_blocklist **out, char *errbuf, size_t cap)
{
	struct pin_blocklist *bl;
	struct pcfg_diag d;
	int rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (file == NULL || (text == NULL && len > 0))
		return PIN_ERR_ARG;
	if ((bl = calloc(1, sizeof(*bl))) == NULL)
		return PIN_ERR_NOMEM;
	if ((rc = parse_lines(bl, file, text, len, &d)) != PIN_OK) {
		pin_blocklist_free(bl);
		return rc;
	}
	if (bl->n > 1)
		qsort(bl->v, bl->n, sizeof(*bl->v), cmp_entry);
	*out = bl;
	return PIN_OK;
}

int
pin_blocklist_load(const char *path, struct pin_blocklist **out,
    char *errbuf, size_t cap)
{
	struct pcfg_diag d;
	const char *why;
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	pcfg_diag_init(&d, errbuf, cap);
	if (path == NULL)
		return PIN_ERR_ARG;
	rc = pcfg_read_at(AT_FDCWD, path, BLOCKLIST_FILE_MAX, &text, &len,
	    &why);
	if (rc != PCFG_OK) {
		pcfg_diag_add(&d, path, 0, "%s", why);
		return rc == PCFG_ERR_PERM ? PIN_ERR_PERM :
		    rc == PCFG_ERR_NOMEM ? PIN_ERR_NOMEM :
		    rc == PCFG_ERR_TOOBIG ? PIN_ERR_FORMAT : PIN_ERR_IO;
	}
	rc = pin_blocklist_parse(path, text, len, out, errbuf, cap);
	free(text);
	return rc;
}

/* ---- rules ---- */

static int
longest_repeat(const char *s)
{
	int best = 1, run = 1;

	for (; s[0] != '\0' && s[1] != '\0'; s++) {
		run = s[1] == s[0] ? run + 1 : 1;
		if (run > best)
			best = run;
	}
	return best;
}

static int
same_class(char a, char b)
{
	return (a >= '0' && a <= '9' && b >= '0' && b <= '9') ||
	    (a >= 'a' && a <= 'z' && b >= 'a' && b <= 'z') ||
	    (a >= 'A' && a <= 'Z' && b >= 'A' && b <= 'Z');
}

/* Longest run stepping by +1 or by -1 (1234, 8765, abcd), no wrap-around. */
static int
longest_sequence(const char *s)
{
	int best = 1, run = 1, dir = 0, step;

	for (; s[0] != '\0' && s[1] != '\0'; s++) {
		step = s[1] - s[0];
		if ((step == 1 || step == -1) && same_class(s[0], s[1])) {
			run = step == dir ? run + 1 : 2;
			dir = step;
		} else {
			run = 1;
			dir = 0;
		}
		if (run > best)
			best = run;
	}
	return best;
}

static int
charset(const char *pin, int digits_only, const char **why)
{
	const char *p;

	for (p = pin; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "The PIN may only hold visible ASCII characters.";
			return PIN_ERR_CHARSET;
		}
		if (digits_only && (*p < '0' || *p > '9')) {
			*why = "The PIN must be made of digits only.";
			return PIN_ERR_DIGITS;
		}
	}
	return PIN_OK;
}

int
pin_check(const struct prof_pin_policy *pol, const char *new_pin,
    const char *old_pin, const struct pin_blocklist *bl, const char **why)
{
	size_t len;
	int rc;

	*why = "Invalid request.";
	if (pol == NULL || new_pin == NULL)
		return PIN_ERR_ARG;
	len = strnlen(new_pin, PIN_MAX_LEN + 1);
	if (len < (size_t)pol->min_len || len > (size_t)pol->max_len ||
	    len > PIN_MAX_LEN) {
		*why = "The PIN is too short or too long for this card.";
		return PIN_ERR_LENGTH;
	}
	if ((rc = charset(new_pin, pol->digits_only, why)) != PIN_OK)
		return rc;
	if (pol->repeat_run > 0 && longest_repeat(new_pin) >= pol->repeat_run) {
		*why = "The PIN repeats the same character too many times in "
		    "a row.";
		return PIN_ERR_REPEAT;
	}
	if (pol->sequence_run > 0 &&
	    longest_sequence(new_pin) >= pol->sequence_run) {
		*why = "The PIN has a run of consecutive characters (like 1234 "
		    "or 4321).";
		return PIN_ERR_SEQUENCE;
	}
	if (pol->not_previous && old_pin != NULL &&
	    pin_confirm(new_pin, old_pin) == PIN_OK) {
		*why = "The new PIN must differ from the current one.";
		return PIN_ERR_REUSED;
	}
	if (pin_blocklist_has(bl, new_pin)) {
		*why = "The PIN is too common; choose another.";
		return PIN_ERR_BLOCKLISTED;
	}
	*why = "PIN accepted.";
	return PIN_OK;
}

int
pin_check_puk(const struct prof_puk_policy *pol, const char *puk,
    const char **why)
{
	int rc;

	*why = "Invalid request.";
	if (pol == NULL || puk == NULL)
		return PIN_ERR_ARG;
	if (strnlen(puk, (size_t)pol->length + 1) != (size_t)pol->length) {
		*why = "The PUK does not have the required length.";
		return PIN_ERR_LENGTH;
	}
	if ((rc = charset(puk, pol->digits_only, why)) != PIN_OK) {
		if (rc == PIN_ERR_DIGITS)
			*why = "The PUK must be made of digits only.";
		else
			*why = "The PUK may only hold visible ASCII characters.";
		return rc;
	}
	*why = "PUK accepted.";
	return PIN_OK;
}

int
pin_confirm(const char *a, const char *b)
{
	unsigned char pa[CONFIRM_MAX + 1] = { 0 }, pb[CONFIRM_MAX + 1] = { 0 };
	size_t la, lb;
	int rc;

	if (a == NULL || b == NULL)
		return PIN_ERR_ARG;
	la = strnlen(a, CONFIRM_MAX + 1);
	lb = strnlen(b, CONFIRM_MAX + 1);
	if (la > CONFIRM_MAX || lb > CONFIRM_MAX)
		return PIN_ERR_LENGTH;
	/* Zero padding keeps lengths in the comparison: no NUL inside. */
	memcpy(pa, a, la);
	memcpy(pb, b, lb);
	rc = sodium_memcmp(pa, pb, sizeof(pa)) == 0 ? PIN_OK :
	    PIN_ERR_MISMATCH;
	sodium_memzero(pa, sizeof(pa));
	sodium_memzero(pb, sizeof(pb));
	return rc;
}
