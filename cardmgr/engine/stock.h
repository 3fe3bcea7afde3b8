/*
 * stock: blank cards in stock (docs/lifecycle.md, "Blank stock").
 *
 * stk_serials_parse is the one parser of a receipt's serial list, shared by
 * the engine (POST /v1/stock/receive) and its fuzz harness: pure, bounded,
 * no allocation, no logging.
 */
#ifndef STOCK_H
#define STOCK_H

#include <stddef.h>
#include <stdint.h>

enum stk_err {
	STK_OK = 0,
	STK_ERR_SYNTAX = -1,	/* not "ITEM[,ITEM]..." */
	STK_ERR_RANGE = -2,	/* A-B with B < A, or a number too large */
	STK_ERR_COUNT = -3,	/* more than STK_MAX_CARDS serials */
	STK_ERR_STOP = -4,	/* the callback said stop */
};

#define STK_MAX_CARDS 1000	/* serials in one receipt */
#define STK_SERIAL_MAX 63

const char *stk_strerror(int err);

/* Called once per serial (NUL-terminated, at most STK_SERIAL_MAX bytes);
 * non-zero stops the parse with STK_ERR_STOP. */
typedef int (*stk_serial_fn)(const char *serial, void *arg);

/*
 * The serial list s (len bytes, no NUL needed): items separated by ',',
 * no blanks; an item is a decimal serial (1..10 digits, at most
 * 4294967295, no leading zero), a range A-B of them (A <= B, both
 * included), or a serial that is not a number: a letter, then
 * [A-Za-z0-9_.-], at most 63 bytes ("guid-00ab..."). At most
 * STK_MAX_CARDS serials in all, counted before fn sees the first (a list
 * too long calls fn never). [out] *count (may be NULL): how many.
 */
int stk_serials_parse(const char *s, size_t len, stk_serial_fn fn, void *arg,
    size_t *count);

#endif /* STOCK_H */
