/* csv: see csv.h. */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

const char *
csv_strerror(int err)
{
	switch (err) {
	case CSV_OK:		return "success";
	case CSV_ERR_ARG:	return "not a table of text and numbers";
	case CSV_ERR_NOMEM:	return "out of memory";
	default:		return "unknown csv error";
	}
}

static void
put(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 1024;
		while (b->len + n + 1 > ncap)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = CSV_ERR_NOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

int
csv_needs_guard(const char *s)
{
	return s != NULL && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

static void
put_text(struct sbuf *b, const char *s)
{
	const char *q;

	put(b, "\"", 1);
	if (csv_needs_guard(s))
		put(b, "'", 1);
	while ((q = strchr(s, '"')) != NULL) {
		put(b, s, (size_t)(q - s) + 1);
		put(b, "\"", 1);
		s = q + 1;
	}
	put(b, s, strlen(s));
	put(b, "\"", 1);
}

static int
put_row(struct sbuf *b, const json_t *row)
{
	char num[32];
	size_t i;
	json_t *c;

	if (!json_is_array(row))
		return CSV_ERR_ARG;
	json_array_foreach(row, i, c) {
		if (i > 0)
			put(b, ",", 1);
		if (json_is_string(c))
			put_text(b, json_string_value(c));
		else if (json_is_integer(c)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(c));
			put_text(b, num);
		} else if (json_is_boolean(c))
			put_text(b, json_is_true(c) ? "true" : "false");
		else if (json_is_null(c))
			put(b, "\"\"", 2);
		else
			return CSV_ERR_ARG;
	}
	put(b, "\r\n", 2);
	return CSV_OK;
}

int
csv_write(const json_t *header, const json_t *rows, char **out, size_t *len)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	size_t i;
	json_t *r;
	int rc = CSV_OK;

	*out = NULL;
	*len = 0;
	if (!json_is_array(rows) || (header != NULL && !json_is_array(header)))
		return CSV_ERR_ARG;
	put(&b, "", 0);		/* an empty table is "", not NULL */
	if (header != NULL)
		rc = put_row(&b, header);
	json_array_foreach(rows, i, r) {
		if (rc != CSV_OK)
			break;
		rc = put_row(&b, r);
	}
	if (rc == CSV_OK && b.err)
		rc = b.err;
	if (rc != CSV_OK) {
		free(b.p);
		return rc;
	}
	*out = b.p;
	*len = b.len;
	return CSV_OK;
}
