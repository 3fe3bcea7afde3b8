/*
 * Unit tests: PIN and PUK rules, the PIN blocklist, the confirmation
 * compare (cardmgr/policy/pin.c). Every rule is shown refusing a PIN that
 * breaks only it, and accepting once the rule is off or the PIN fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/pin.h"

static struct prof_pin_policy pol;
static char errbuf[2048];

static int
reset(void **state)
{
	(void)state;
	pol = (struct prof_pin_policy){ 6, 8, 1, 3, 4, 1, "" };
	return 0;
}

/* pin_check with the result's sentence checked: set, and free of the PIN. */
static int
check(const char *pin, const char *old, const struct pin_blocklist *bl)
{
	const char *why = NULL;
	int rc = pin_check(&pol, pin, old, bl, &why);

	assert_non_null(why);
	assert_true(strlen(why) > 5);
	if (strlen(pin) >= 3)
		assert_null(strstr(why, pin));
	return rc;
}

static void
length_rule(void **state)
{
	(void)state;
	assert_int_equal(check("27182", NULL, NULL), PIN_ERR_LENGTH);
	assert_int_equal(check("", NULL, NULL), PIN_ERR_LENGTH);
	assert_int_equal(check("271828", NULL, NULL), PIN_OK);
	assert_int_equal(check("27182818", NULL, NULL), PIN_OK);
	assert_int_equal(check("271828182", NULL, NULL), PIN_ERR_LENGTH);
	pol.max_len = 7;
	assert_int_equal(check("27182818", NULL, NULL), PIN_ERR_LENGTH);
	pol.min_len = 7;
	assert_int_equal(check("271828", NULL, NULL), PIN_ERR_LENGTH);
	assert_int_equal(check("2718281", NULL, NULL), PIN_OK);
	/* Never more than 8, whatever a policy says. */
	pol.max_len = 12;
	assert_int_equal(check("271828182", NULL, NULL), PIN_ERR_LENGTH);
}

static void
digits_and_charset_rules(void **state)
{
	(void)state;
	assert_int_equal(check("27a828", NULL, NULL), PIN_ERR_DIGITS);
	assert_int_equal(check("2718-8", NULL, NULL), PIN_ERR_DIGITS);
	pol.digits_only = 0;
	assert_int_equal(check("27a828", NULL, NULL), PIN_OK);
	assert_int_equal(check("2718-8", NULL, NULL), PIN_OK);
	assert_int_equal(check("27 828", NULL, NULL), PIN_ERR_CHARSET);
	assert_int_equal(check("27\t828", NULL, NULL), PIN_ERR_CHARSET);
	assert_int_equal(check("27\x7f" "828", NULL, NULL), PIN_ERR_CHARSET);
	assert_int_equal(check("27\xc3\xa9" "28", NULL, NULL), PIN_ERR_CHARSET);
}

static void
repeat_rule(void **state)
{
	(void)state;
	assert_int_equal(check("271112", NULL, NULL), PIN_ERR_REPEAT);
	assert_int_equal(check("999999", NULL, NULL), PIN_ERR_REPEAT);
	assert_int_equal(check("271128", NULL, NULL), PIN_OK);	/* run of 2 */
	pol.repeat_run = 4;
	assert_int_equal(check("271112", NULL, NULL), PIN_OK);
	assert_int_equal(check("271111", NULL, NULL), PIN_ERR_REPEAT);
	pol.repeat_run = 0;
	assert_int_equal(check("271111", NULL, NULL), PIN_OK);
	pol.repeat_run = 2;
	assert_int_equal(check("271128", NULL, NULL), PIN_ERR_REPEAT);
}

static void
sequence_rule(void **state)
{
	(void)state;
	assert_int_equal(check("912345", NULL, NULL), PIN_ERR_SEQUENCE);
	assert_int_equal(check("976543", NULL, NULL), PIN_ERR_SEQUENCE);
	assert_int_equal(check("270123", NULL, NULL), PIN_ERR_SEQUENCE);
	assert_int_equal(check("271238", NULL, NULL), PIN_OK);	/* 123: 3 < 4 */
	assert_int_equal(check("135790", NULL, NULL), PIN_OK);
	/* No wrap-around: 8 9 0 1 is not a run. */
	assert_int_equal(check("789017", NULL, NULL), PIN_OK);
	/* Up then down is two runs, not one: 1 2 3 2 1. */
	assert_int_equal(check("812321", NULL, NULL), PIN_OK);
	pol.sequence_run = 3;
	assert_int_equal(check("271238", NULL, NULL), PIN_ERR_SEQUENCE);
	pol.sequence_run = 0;
	assert_int_equal(check("912345", NULL, NULL), PIN_OK);
	/* Letters run too, but not across classes ('9' ':' ';' '<'). */
	pol.sequence_run = 4;
	pol.digits_only = 0;
	assert_int_equal(check("xabcdx", NULL, NULL), PIN_ERR_SEQUENCE);
	assert_int_equal(check("xDCBAx", NULL, NULL), PIN_ERR_SEQUENCE);
	assert_int_equal(check("x89:;<", NULL, NULL), PIN_OK);
}

static void
reuse_rule(void **state)
{
	(void)state;
	assert_int_equal(check("271828", "271828", NULL), PIN_ERR_REUSED);
	assert_int_equal(check("271828", "271829", NULL), PIN_OK);
	assert_int_equal(check("271828", "2718281", NULL), PIN_OK);
	assert_int_equal(check("271828", NULL, NULL), PIN_OK);
	pol.not_previous = 0;
	assert_int_equal(check("271828", "271828", NULL), PIN_OK);
}

static const char *list_text =
    "# common PINs\n"
    "159753\n"
    "  246810  \n"
    "\n"
    "13572468 # trailing comment\r\n"
    "159753\n";

static void
blocklist_rule(void **state)
{
	struct pin_blocklist *bl = NULL;

	(void)state;
	assert_int_equal(pin_blocklist_parse("bl.txt", list_text,
	    strlen(list_text), &bl, errbuf, sizeof(errbuf)), PIN_OK);
	assert_int_equal(pin_blocklist_count(bl), 4);
	assert_true(pin_blocklist_has(bl, "246810"));
	assert_true(pin_blocklist_has(bl, "13572468"));
	assert_false(pin_blocklist_has(bl, "24681"));
	assert_int_equal(check("159753", NULL, bl), PIN_ERR_BLOCKLISTED);
	assert_int_equal(check("246810", NULL, bl), PIN_ERR_BLOCKLISTED);
	assert_int_equal(check("159753", NULL, NULL), PIN_OK);
	assert_int_equal(check("159754", NULL, bl), PIN_OK);
	pin_blocklist_free(bl);
}

static void
blocklist_format_errors(void **state)
{
	struct pin_blocklist *bl = (struct pin_blocklist *)1;
	char longline[128];

	(void)state;
	assert_int_equal(pin_blocklist_parse("bl.txt", "123456\n\n12 34\n", 14,
	    &bl, errbuf, sizeof(errbuf)), PIN_ERR_FORMAT);
	assert_null(bl);
	assert_string_equal(errbuf, "bl.txt:3: entry has a blank, control or "
	    "non-ASCII byte\n");
	memset(longline, '7', sizeof(longline));
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(pin_blocklist_parse("bl.txt", longline,
	    strlen(longline), &bl, errbuf, sizeof(errbuf)), PIN_ERR_FORMAT);
	assert_non_null(strstr(errbuf, "bl.txt:1: entry too long"));
	assert_int_equal(pin_blocklist_parse("bl.txt", "1\n2\0003\n", 6, &bl,
	    errbuf, sizeof(errbuf)), PIN_ERR_FORMAT);
	assert_non_null(strstr(errbuf, "bl.txt:2: NUL byte"));
	/* Empty is fine: a list with nothing in it. */
	assert_int_equal(pin_blocklist_parse("bl.txt", "", 0, &bl, errbuf,
	    sizeof(errbuf)), PIN_OK);
	assert_int_equal(pin_blocklist_count(bl), 0);
	pin_blocklist_free(bl);
}

static void
blocklist_file_secrecy(void **state)
{
	struct pin_blocklist *bl = NULL;
	char dir[] = "/tmp/test_policy_pin.XXXXXX", path[64], link[64],
	    cmd[96];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bl.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(list_text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pin_blocklist_load(path, &bl, errbuf, sizeof(errbuf)),
	    PIN_OK);
	assert_int_equal(pin_blocklist_count(bl), 4);
	pin_blocklist_free(bl);
	assert_int_equal(chmod(path, 0646), 0);
	assert_int_equal(pin_blocklist_load(path, &bl, errbuf, sizeof(errbuf)),
	    PIN_ERR_PERM);
	assert_null(bl);
	assert_non_null(strstr(errbuf, "writable by group or others"));
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(link, sizeof(link), "%s/link.txt", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(pin_blocklist_load(link, &bl, errbuf, sizeof(errbuf)),
	    PIN_ERR_PERM);
	assert_non_null(strstr(errbuf, "symbolic link"));
	snprintf(path, sizeof(path), "%s/none.txt", dir);
	assert_int_equal(pin_blocklist_load(path, &bl, errbuf, sizeof(errbuf)),
	    PIN_ERR_IO);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
puk_rules(void **state)
{
	struct prof_puk_policy puk = { 8, 1 };
	const char *why;

	(void)state;
	assert_int_equal(pin_check_puk(&puk, "31415926", &why), PIN_OK);
	assert_int_equal(pin_check_puk(&puk, "3141592", &why), PIN_ERR_LENGTH);
	assert_null(strstr(why, "3141592"));
	assert_int_equal(pin_check_puk(&puk, "314159265", &why),
	    PIN_ERR_LENGTH);
	assert_int_equal(pin_check_puk(&puk, "3141592a", &why), PIN_ERR_DIGITS);
	assert_non_null(strstr(why, "PUK"));
	puk.digits_only = 0;
	assert_int_equal(pin_check_puk(&puk, "3141592a", &why), PIN_OK);
	assert_int_equal(pin_check_puk(&puk, "3141592 ", &why),
	    PIN_ERR_CHARSET);
}

static void
confirmation(void **state)
{
	char big[40];

	(void)state;
	assert_int_equal(pin_confirm("271828", "271828"), PIN_OK);
	assert_int_equal(pin_confirm("271828", "271829"), PIN_ERR_MISMATCH);
	assert_int_equal(pin_confirm("371828", "271828"), PIN_ERR_MISMATCH);
	assert_int_equal(pin_confirm("271828", "2718281"), PIN_ERR_MISMATCH);
	assert_int_equal(pin_confirm("", ""), PIN_OK);
	assert_int_equal(pin_confirm("", "1"), PIN_ERR_MISMATCH);
	memset(big, '1', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pin_confirm(big, big), PIN_ERR_LENGTH);
	assert_int_equal(pin_confirm(NULL, "1"), PIN_ERR_ARG);
}

static void
names(void **state)
{
	int e;

	(void)state;
	for (e = PIN_OK; e >= PIN_ERR_NOMEM; e--) {
		assert_null(strstr(pin_errname(e), "UNKNOWN"));
		assert_null(strstr(pin_strerror(e), "unknown"));
	}
	assert_string_equal(pin_errname(PIN_ERR_SEQUENCE), "PIN_ERR_SEQUENCE");
	assert_string_equal(pin_errname(-99), "PIN_ERR_UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(length_rule, reset),
		cmocka_unit_test_setup(digits_and_charset_rules, reset),
		cmocka_unit_test_setup(repeat_rule, reset),
		cmocka_unit_test_setup(sequence_rule, reset),
		cmocka_unit_test_setup(reuse_rule, reset),
		cmocka_unit_test_setup(blocklist_rule, reset),
		cmocka_unit_test(blocklist_format_errors),
		cmocka_unit_test(blocklist_file_secrecy),
		cmocka_unit_test(puk_rules),
		cmocka_unit_test(confirmation),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
