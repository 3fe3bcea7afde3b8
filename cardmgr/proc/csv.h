/*
 * csv: a report's rows as RFC 4180 CSV that a spreadsheet opens as data
 * (prefix csv_). Shared by the engine (GET /v1/reports/...?format=csv) and
 * the cardmgr CLI (--format csv), so both write the same bytes.
 *
 * Every cell is quoted, quotes doubled, lines end in CRLF. A text cell that
 * starts with '=', '+', '-', '@', TAB or CR is prefixed with a single quote
 * (OWASP "CSV injection"), so a holder named "=cmd()" stays text instead of
 * becoming a formula. Integers are written as numbers (never negative here).
 *
 * Pure functions: nothing here logs or touches a file.
 */
#ifndef CSV_H
#define CSV_H

#include <stddef.h>

#include <jansson.h>

enum csv_err {
	CSV_OK = 0,
	CSV_ERR_ARG = -1,	/* not an array of arrays of strings/integers */
	CSV_ERR_NOMEM = -2,
};

const char *csv_strerror(int err);

/* Would a spreadsheet read text s as a formula? 1 if so. */
int csv_needs_guard(const char *s);

/*
 * header (array of strings, may be NULL: no header line) and rows (array of
 * arrays of strings, integers, booleans or null) as CSV.
 * [out] *out malloc'd, NUL-terminated; *len its length.
 */
int csv_write(const json_t *header, const json_t *rows, char **out,
    size_t *len);

#endif /* CSV_H */
