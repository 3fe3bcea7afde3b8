/* Unit tests for drivers/pcsc.c without a reader: ATR parsing, error tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/fake_transport.h"
#include "pcsc.h"

static int
atr(const char *hex, struct pcsc_atr *a)
{
	uint8_t b[64];
	long n = fake_unhex(hex, b, sizeof(b));

	assert_true(n >= 0);
	return pcsc_atr_parse(b, (size_t)n, a);
}

static void
test_atr_t1_with_history(void **state)
{
	struct pcsc_atr a;

	(void)state;
	/* The virtual card: TD1 = 81 (T=1), TD2 = 31 (T=1), TA3/TB3, 12 history bytes. */
	assert_int_equal(atr("3B8C8131FE458073C021C05669727450495623", &a), PCSC_OK);
	assert_int_equal(a.protocols, 2);
	assert_int_equal(a.hist_len, 12);
	assert_memory_equal(a.hist, "\x80\x73\xC0\x21\xC0\x56", 6);
	assert_true(a.has_tck);
	/* YubiKey 5 NFC */
	assert_int_equal(atr("3BFD1300008131FE158073C021C057597562694B657940", &a), PCSC_OK);
	assert_int_equal(a.protocols, 2);
	assert_int_equal(a.hist_len, 13);
}

static void
test_atr_t0_only(void **state)
{
	struct pcsc_atr a;

	(void)state;
	/* No TD1: T=0 only, no TCK. */
	assert_int_equal(atr("3B6800000073C84013009000", &a), PCSC_OK);
	assert_int_equal(a.protocols, 1);
	assert_false(a.has_tck);
	assert_int_equal(a.hist_len, 8);
}

static void
test_atr_malformed(void **state)
{
	struct pcsc_atr a;

	(void)state;
	assert_int_equal(atr("3B8C8131FE458073C021C05669727450495624", &a), PCSC_ERR_ATR); /* TCK */
	assert_int_equal(atr("3B8C8131FE458073C021C056697274504956", &a), PCSC_ERR_ATR); /* short */
	assert_int_equal(atr("3B8C8131FE458073C021C0566972745049562300", &a), PCSC_ERR_ATR);
	assert_int_equal(atr("3A6800000073C84013009000", &a), PCSC_ERR_ATR);	/* TS */
	assert_int_equal(atr("3B", &a), PCSC_ERR_ATR);
	assert_int_equal(atr("3BF0", &a), PCSC_ERR_ATR);	/* TA1..TD1 announced, absent */
	assert_int_equal(a.hist_len, 0);
	assert_int_equal(pcsc_atr_parse(NULL, 3, &a), PCSC_ERR_INVALID);
}

static void
test_error_names(void **state)
{
	int e;

	(void)state;
	for (e = PCSC_OK; e >= PCSC_ERR_SCARD; e--) {
		assert_string_not_equal(pcsc_name(e), "?");
		assert_string_not_equal(pcsc_strerror(e), "unknown pcsc error");
	}
	assert_string_equal(pcsc_name(PCSC_ERR_REMOVED), "PCSC_ERR_REMOVED");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atr_t1_with_history),
		cmocka_unit_test(test_atr_t0_only),
		cmocka_unit_test(test_atr_malformed),
		cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
