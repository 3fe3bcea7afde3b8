/*
 * Unit tests: proc/csv.c. The bytes are checked against hand-written CSV;
 * tests/daemon/t_daemon_report.sh reads real reports with python's csv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proc/csv.h"

static void
check(const char *hdr, const char *rows, const char *want)
{
	json_t *h = hdr != NULL ? json_loads(hdr, 0, NULL) : NULL;
	json_t *r = json_loads(rows, 0, NULL);
	char *out;
	size_t len;

	assert_non_null(r);
	assert_int_equal(csv_write(h, r, &out, &len), CSV_OK);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
	json_decref(h);
	json_decref(r);
}

static void
quoting(void **state)
{
	(void)state;
	check("[\"a\",\"b\"]", "[[\"x\",1],[\"say \\\"hi\\\"\",22]]",
	    "\"a\",\"b\"\r\n\"x\",\"1\"\r\n\"say \"\"hi\"\"\",\"22\"\r\n");
	/* separators and line breaks stay inside the quoted cell */
	check(NULL, "[[\"a,b\",\"c\\nd\"]]", "\"a,b\",\"c\nd\"\r\n");
	check("[\"only\"]", "[]", "\"only\"\r\n");
	check(NULL, "[]", "");
	check(NULL, "[[null,true,false]]", "\"\",\"true\",\"false\"\r\n");
}

static void
formulas(void **state)
{
	(void)state;
	/* every formula trigger is neutralised with a leading quote */
	check(NULL, "[[\"=cmd()\",\"+1\",\"-2\",\"@SUM(A1)\",\"\\tx\",\"\\rx\"]]",
	    "\"'=cmd()\",\"'+1\",\"'-2\",\"'@SUM(A1)\",\"'\tx\",\"'\rx\"\r\n");
	/* only at the start; quotes inside still doubled */
	check(NULL, "[[\"a=b\",\"=\\\"x\\\"\"]]", "\"a=b\",\"'=\"\"x\"\"\"\r\n");
	assert_true(csv_needs_guard("=1"));
	assert_false(csv_needs_guard("1="));
	assert_false(csv_needs_guard(""));
}

static void
refusals(void **state)
{
	json_t *bad = json_loads("[[{\"o\":1}]]", 0, NULL);
	json_t *flat = json_loads("[\"x\"]", 0, NULL);
	char *out = (char *)1;
	size_t len = 1;

	(void)state;
	assert_int_equal(csv_write(NULL, bad, &out, &len), CSV_ERR_ARG);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(csv_write(NULL, flat, &out, &len), CSV_ERR_ARG);
	assert_int_equal(csv_write(flat, NULL, &out, &len), CSV_ERR_ARG);
	json_decref(bad);
	json_decref(flat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quoting),
		cmocka_unit_test(formulas),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
