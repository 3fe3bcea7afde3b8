/* stock_parse: a receipt's serial list. See stock.h. */
#include "engine/stock.h"

#include <stdio.h>
#include <string.h>

const char *
stk_strerror(int err)
{
	switch (err) {
	case STK_OK:		return "success";
	case STK_ERR_SYNTAX:	return "serials: a comma-separated list of "
				    "serials or ranges A-B, no blanks";
	case STK_ERR_RANGE:	return "serials: a range A-B needs A <= B, "
				    "numbers at most 4294967295";
	case STK_ERR_COUNT:	return "serials: at most 1000 cards in one "
				    "receipt";
	case STK_ERR_STOP:	return "stopped";
	default:		return "unknown stock error";
	}
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Decimal [p, end): 1..10 digits, no leading zero, <= UINT32_MAX. */
static int
number(const char *p, const char *end, uint64_t *v)
{
	size_t n = (size_t)(end - p);

	*v = 0;
	if (n == 0 || n > 10 || (p[0] == '0' && n > 1))
		return STK_ERR_SYNTAX;
	for (; p < end; p++) {
		if (!is_digit(*p))
			return STK_ERR_SYNTAX;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return *v > UINT32_MAX ? STK_ERR_RANGE : STK_OK;
}

/*
 * One item [p, end): [out] *lo, *hi for a number or range, or *lit for a
 * literal serial (then *lo = *hi = 0 and the count is 1).
 */
static int
item(const char *p, const char *end, uint64_t *lo, uint64_t *hi, int *lit)
{
	const char *dash;
	size_t n = (size_t)(end - p);
	int rc;

	*lo = *hi = 0;
	*lit = 0;
	if (n == 0)
		return STK_ERR_SYNTAX;
	if (is_alpha(p[0])) {
		if (n > STK_SERIAL_MAX)
			return STK_ERR_SYNTAX;
		for (size_t i = 0; i < n; i++)
			if (!is_alpha(p[i]) && !is_digit(p[i]) && p[i] != '_' &&
			    p[i] != '.' && p[i] != '-')
				return STK_ERR_SYNTAX;
		*lit = 1;
		return STK_OK;
	}
	if ((dash = memchr(p, '-', n)) == NULL) {
		if ((rc = number(p, end, lo)) != STK_OK)
			return rc;
		*hi = *lo;
		return STK_OK;
	}
	if ((rc = number(p, dash, lo)) != STK_OK ||
	    (rc = number(dash + 1, end, hi)) != STK_OK)
		return rc;
	return *lo <= *hi ? STK_OK : STK_ERR_RANGE;
}

/* Walk the items; fn NULL: only count (and check). */
static int
walk(const char *s, size_t len, stk_serial_fn fn, void *arg, size_t *count)
{
	const char *p = s, *end = s + len, *comma;
	char buf[STK_SERIAL_MAX + 1];
	uint64_t lo, hi, v;
	size_t total = 0;
	int lit, rc;

	if (len == 0)
		return STK_ERR_SYNTAX;
	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if ((rc = item(p, comma != NULL ? comma : end, &lo, &hi,
		    &lit)) != STK_OK)
			return rc;
		if (lit) {
			if (++total > STK_MAX_CARDS)
				return STK_ERR_COUNT;
			if (fn != NULL) {
				size_t n = (size_t)((comma != NULL ? comma :
				    end) - p);

				memcpy(buf, p, n);
				buf[n] = '\0';
				if (fn(buf, arg) != 0)
					return STK_ERR_STOP;
			}
		} else {
			if (hi - lo >= STK_MAX_CARDS ||
			    (total += (size_t)(hi - lo + 1)) > STK_MAX_CARDS)
				return STK_ERR_COUNT;
			for (v = lo; fn != NULL && v <= hi; v++) {
				snprintf(buf, sizeof(buf), "%llu",
				    (unsigned long long)v);
				if (fn(buf, arg) != 0)
					return STK_ERR_STOP;
			}
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*count = total;
	return STK_OK;
}

int
stk_serials_parse(const char *s, size_t len, stk_serial_fn fn, void *arg,
    size_t *count)
{
	size_t n = 0;
	int rc;

	if (count != NULL)
		*count = 0;
	if (s == NULL)
		return STK_ERR_SYNTAX;
	/* The whole list is checked and counted before fn sees any of it. */
	if ((rc = walk(s, len, NULL, NULL, &n)) != STK_OK)
		return rc;
	if (fn != NULL && (rc = walk(s, len, fn, arg, &n)) != STK_OK)
		return rc;
	if (count != NULL)
		*count = n;
	return STK_OK;
}
