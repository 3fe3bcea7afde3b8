/*
 * Unit tests: the api's session headers (cardmgr/api/api_session.c): the
 * cm_session cookie among others, refusals (twice, empty, too long, bad
 * characters), X-CSRF-Token, the Origin of a state-changing request and
 * the Set-Cookie values of login and logout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"

static void
cookies(void **state)
{
	char tok[API_TOKEN_MAX + 1], big[200];

	(void)state;
	assert_int_equal(api_cookie(NULL, tok), API_OK);
	assert_string_equal(tok, "");
	assert_int_equal(api_cookie("theme=dark", tok), API_OK);
	assert_string_equal(tok, "");
	assert_int_equal(api_cookie("a=b; cm_session=Ab-_9; c=d", tok), API_OK);
	assert_string_equal(tok, "Ab-_9");
	assert_int_equal(api_cookie("cm_session=xyz  ;x", tok), API_OK);
	assert_string_equal(tok, "xyz");
	/* Another cookie whose name merely contains ours. */
	assert_int_equal(api_cookie("xcm_session=1; cm_sessionx=2", tok), API_OK);
	assert_string_equal(tok, "");
	assert_int_equal(api_cookie("cm_session=a; cm_session=b", tok),
	    API_ERR_REFUSED);
	assert_string_equal(tok, "");
	assert_int_equal(api_cookie("cm_session=", tok), API_ERR_REFUSED);
	assert_int_equal(api_cookie("cm_session=a b", tok), API_ERR_REFUSED);
	assert_int_equal(api_cookie("cm_session=\"ab\"", tok), API_ERR_REFUSED);
	memset(big, 'A', sizeof(big));
	memcpy(big, "cm_session=", 11);
	big[11 + API_TOKEN_MAX] = '\0';
	assert_int_equal(api_cookie(big, tok), API_OK);
	big[11 + API_TOKEN_MAX] = 'A';
	big[12 + API_TOKEN_MAX] = '\0';
	assert_int_equal(api_cookie(big, tok), API_ERR_REFUSED);
}

static void
csrf_origin_setcookie(void **state)
{
	char out[API_TOKEN_MAX + 1], set[160];

	(void)state;
	assert_int_equal(api_csrf(NULL, out), API_OK);
	assert_string_equal(out, "");
	assert_int_equal(api_csrf("abc_DEF-1", out), API_OK);
	assert_string_equal(out, "abc_DEF-1");
	assert_int_equal(api_csrf("", out), API_ERR_REFUSED);
	assert_int_equal(api_csrf("a\r\nb", out), API_ERR_REFUSED);
	assert_true(api_origin_ok(NULL, 8410, NULL));
	assert_true(api_origin_ok("http://127.0.0.1:8410", 8410, NULL));
	assert_true(api_origin_ok("http://localhost:8410", 8410, NULL));
	assert_false(api_origin_ok("http://localhost:8411", 8410, NULL));
	assert_false(api_origin_ok("http://127.0.0.1:8410.evil.test", 8410, NULL));
	assert_false(api_origin_ok("null", 8410, NULL));
	assert_false(api_origin_ok("https://127.0.0.1:8410", 8410, NULL));
	assert_true(api_origin_ok("http://kiosk.test", 8410, "http://kiosk.test"));
	assert_false(api_origin_ok("http://127.0.0.1:8410", 0, NULL));
	assert_true(api_state_changing("POST"));
	assert_false(api_state_changing("GET"));
	assert_int_equal(api_set_cookie("tok", set, sizeof(set)), API_OK);
	assert_string_equal(set, "cm_session=tok; HttpOnly; SameSite=Strict; Path=/");
	assert_int_equal(api_set_cookie(NULL, set, sizeof(set)), API_OK);
	assert_string_equal(set,
	    "cm_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
	assert_int_equal(api_set_cookie("a;b", set, sizeof(set)), API_ERR_ARG);
	assert_int_equal(api_set_cookie("tok", set, 10), API_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cookies),
		cmocka_unit_test(csrf_origin_setcookie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
