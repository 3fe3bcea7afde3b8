/*
 * libFuzzer harness: a stock receipt's serial list (stk_serials_parse,
 * engine/stock_parse.c). What it accepts, it accepts whole: the count it
 * returns is the number of serials the callback saw, each at most
 * STK_SERIAL_MAX bytes and non-empty, never more than STK_MAX_CARDS; a
 * refusal calls the callback never (the list is checked before any card
 * is received).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/stock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t n;
};

static int
see(const char *serial, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(serial);

	if (n == 0 || n > STK_SERIAL_MAX)
		abort();
	s->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0 };
	size_t count = 99, count2 = 99;
	int rc, rc2;

	rc = stk_serials_parse((const char *)data, size, see, &s, &count);
	rc2 = stk_serials_parse((const char *)data, size, NULL, NULL, &count2);
	if (rc != rc2 || count != count2)
		abort();
	if (rc == STK_OK && (count != s.n || count == 0 ||
	    count > STK_MAX_CARDS))
		abort();
	if (rc != STK_OK && (s.n != 0 || count != 0))
		abort();
	if (stk_strerror(rc) == NULL)
		abort();
	return 0;
}
