/*
 * Unit tests: challenge answers (cardmgr/policy/answer.c): normalisation,
 * Argon2id hashing and verification (with the cheap test cost), and the
 * random choice of questions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "policy/answer.h"

static const char *
norm(const char *in)
{
	static char out[ANS_MAX + 1];
	size_t len = 99;

	assert_int_equal(ans_normalise(in, 0, out, sizeof(out), &len), ANS_OK);
	assert_int_equal(len, strlen(out));
	return out;
}

static void
normalises_equal(void **state)
{
	(void)state;
	assert_string_equal(norm("  Saint  John's "), "saint johns");
	assert_string_equal(norm("saint johns"), "saint johns");
	assert_string_equal(norm("O'Brien-Smith."), "obriensmith");
	assert_string_equal(norm("ROSE  \xc2\xa0 Street"), "rose street");
	/* U+2019, the apostrophe phones type. */
	assert_string_equal(norm("John\xe2\x80\x99s"), "johns");
	/* Punctuation between words leaves one space, not two or none. */
	assert_string_equal(norm("a - b"), "a b");
	assert_string_equal(norm("!!!"), "");
	/* Non-ASCII is kept as is; only ASCII letters are folded. */
	assert_string_equal(norm("Z\xc3\xbcrich"), "z\xc3\xbcrich");
	assert_string_equal(norm("\xc3\x9c"), "\xc3\x9c");
}

static void
normalises_unequal(void **state)
{
	char a[ANS_MAX + 1];

	(void)state;
	snprintf(a, sizeof(a), "%s", norm("John"));
	assert_string_not_equal(a, norm("Joan"));
	snprintf(a, sizeof(a), "%s", norm("new york"));
	assert_string_not_equal(a, norm("newyork"));
	snprintf(a, sizeof(a), "%s", norm("12"));
	assert_string_not_equal(a, norm("1 2"));
}

static void
refuses_bad_input(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} bad[] = {
		{ "ab\xc3", ANS_ERR_ENCODING },		/* truncated */
		{ "\xc0\xaf", ANS_ERR_ENCODING },	/* overlong '/' */
		{ "\xe0\x80\xaf", ANS_ERR_ENCODING },	/* overlong */
		{ "\xed\xa0\x80", ANS_ERR_ENCODING },	/* surrogate */
		{ "\xf4\x90\x80\x80", ANS_ERR_ENCODING },	/* > U+10FFFF */
		{ "\xff", ANS_ERR_ENCODING },
		{ "a\x80", ANS_ERR_ENCODING },		/* lone continuation */
		{ "tab\there", ANS_ERR_CONTROL },
		{ "line\n", ANS_ERR_CONTROL },
		{ "del\x7f", ANS_ERR_CONTROL },
		{ "nel\xc2\x85", ANS_ERR_CONTROL },	/* C1 */
		{ "rlo\xe2\x80\xae", ANS_ERR_CONTROL },	/* bidi override */
		{ "zw\xe2\x80\x8bsp", ANS_ERR_CONTROL },	/* zero width */
		{ "\xef\xbb\xbf" "bom", ANS_ERR_CONTROL },
	};
	char out[ANS_MAX + 1];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		if (ans_normalise(bad[i].in, 0, out, sizeof(out), &len) !=
		    bad[i].rc)
			fail_msg("case %zu: want %s", i, ans_errname(bad[i].rc));
		/* Nothing of a refused answer is left behind. */
		assert_int_equal(out[0], 0);
		assert_int_equal(out[5], 0);
		assert_int_equal(len, 0);
	}
}

static void
length_limits(void **state)
{
	char out[ANS_MAX + 1], big[ANS_MAX + 2];
	size_t len;

	(void)state;
	assert_int_equal(ans_normalise("a.b", 3, out, sizeof(out), &len),
	    ANS_ERR_SHORT);
	/* Spaces do not count toward the minimum. */
	assert_int_equal(ans_normalise("a  b", 3, out, sizeof(out), &len),
	    ANS_ERR_SHORT);
	assert_int_equal(ans_normalise("abc", 3, out, sizeof(out), &len),
	    ANS_OK);
	/* Characters, not bytes: three two-byte letters pass 3. */
	assert_int_equal(ans_normalise("\xc3\xa9\xc3\xa9\xc3\xa9", 3, out,
	    sizeof(out), &len), ANS_OK);
	assert_int_equal(len, 6);
	memset(big, 'a', sizeof(big));
	big[ANS_MAX + 1] = '\0';
	memset(out, 'x', sizeof(out));
	assert_int_equal(ans_normalise(big, 0, out, sizeof(out), &len),
	    ANS_ERR_LONG);
	assert_int_equal(out[0], 0);	/* wiped on this refusal too */
	assert_int_equal(out[10], 0);
	big[ANS_MAX] = '\0';
	assert_int_equal(ans_normalise(big, 0, out, sizeof(out), &len), ANS_OK);
	/* The caller's buffer bounds the output too. */
	assert_int_equal(ans_normalise("abcdef", 0, out, 4, &len), ANS_ERR_LONG);
}

static void
argon2id_good_and_bad(void **state)
{
	char h1[ANS_HASH_LEN], h2[ANS_HASH_LEN];

	(void)state;
	assert_int_equal(ans_hash(&ans_cost_test, "  Saint John's", 3, h1),
	    ANS_OK);
	assert_non_null(strstr(h1, "$argon2id$"));
	assert_int_equal(h1[0], '$');
	/* Independent check: plain libsodium finds the normalised text. */
	assert_int_equal(crypto_pwhash_str_verify(h1, "saint johns", 11), 0);
	assert_int_not_equal(crypto_pwhash_str_verify(h1, "  Saint John's",
	    14), 0);
	/* The cheap setting really is the cheap one: m=8 KiB, t=1. */
	assert_non_null(strstr(h1, "$m=8,t=1,"));
	assert_int_equal(ans_verify(h1, "SAINT JOHNS"), ANS_OK);
	assert_int_equal(ans_verify(h1, "Saint, Johns!"), ANS_OK);
	assert_int_equal(ans_verify(h1, "saint john"), ANS_ERR_MISMATCH);
	assert_int_equal(ans_verify(h1, "st johns"), ANS_ERR_MISMATCH);
	assert_int_equal(ans_verify(h1, ""), ANS_ERR_MISMATCH);
	/* A fresh salt each time. */
	assert_int_equal(ans_hash(&ans_cost_test, "saint johns", 3, h2), ANS_OK);
	assert_string_not_equal(h1, h2);
	assert_int_equal(ans_verify(h2, "Saint John's"), ANS_OK);
	assert_false(ans_needs_rehash(h1, &ans_cost_test));
	assert_true(ans_needs_rehash(h1, &ans_cost_interactive));
	/* Damaged or foreign hash strings never match. */
	h2[strlen(h2) - 3] ^= 1;
	assert_int_equal(ans_verify(h2, "saint johns"), ANS_ERR_MISMATCH);
	assert_int_equal(ans_verify("not a hash", "saint johns"),
	    ANS_ERR_MISMATCH);
	assert_int_equal(crypto_pwhash_str_alg(h2, "saint johns", 11,
	    crypto_pwhash_argon2i_OPSLIMIT_MIN + 2,
	    crypto_pwhash_argon2i_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2I13), 0);
	assert_int_equal(crypto_pwhash_str_verify(h2, "saint johns", 11), 0);
	assert_int_equal(ans_verify(h2, "saint johns"), ANS_ERR_MISMATCH);
}

static void
hash_refuses_short(void **state)
{
	char h[ANS_HASH_LEN];

	(void)state;
	memset(h, 'x', sizeof(h));
	assert_int_equal(ans_hash(&ans_cost_test, "ab", 3, h), ANS_ERR_SHORT);
	assert_int_equal(h[0], 0);
	assert_int_equal(ans_hash(&ans_cost_test, "a\tbc", 3, h),
	    ANS_ERR_CONTROL);
}

static void
interactive_cost_is_libsodiums(void **state)
{
	(void)state;
	assert_true(ans_cost_interactive.ops ==
	    crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
	assert_true(ans_cost_interactive.mem ==
	    crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
}

static void
pick_distinct_in_range(void **state)
{
	const int ids[5] = { 11, 22, 33, 44, 55 };
	int picked[5], seen[5] = { 0 };
	size_t i, j, k, round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		assert_int_equal(ans_pick(ids, 5, 3, picked), ANS_OK);
		for (i = 0; i < 3; i++) {
			for (k = 0; k < 5 && ids[k] != picked[i]; k++)
				;
			assert_true(k < 5);	/* one of the enrolled */
			seen[k]++;
			for (j = 0; j < i; j++)
				assert_int_not_equal(picked[i], picked[j]);
		}
	}
	/* 6000 picks over 5 ids, 1200 expected each: a fixed choice or an
	 * off-by-one that never draws the last id fails this. */
	for (k = 0; k < 5; k++)
		assert_true(seen[k] > 1000 && seen[k] < 1400);
	/* k = n is a permutation. */
	assert_int_equal(ans_pick(ids, 5, 5, picked), ANS_OK);
	for (i = 0; i < 5; i++)
		for (j = 0; j < i; j++)
			assert_int_not_equal(picked[i], picked[j]);
	assert_int_equal(ans_pick(ids, 5, 0, picked), ANS_OK);
}

static void
pick_refusals(void **state)
{
	int ids[ANS_PICK_MAX + 1], picked[ANS_PICK_MAX + 1];
	const int dup[3] = { 1, 2, 1 };
	size_t i;

	(void)state;
	for (i = 0; i < ANS_PICK_MAX + 1; i++)
		ids[i] = (int)i;
	assert_int_equal(ans_pick(ids, 3, 4, picked), ANS_ERR_RANGE);
	assert_int_equal(ans_pick(ids, ANS_PICK_MAX + 1, 1, picked),
	    ANS_ERR_RANGE);
	assert_int_equal(ans_pick(ids, ANS_PICK_MAX, ANS_PICK_MAX, picked),
	    ANS_OK);
	assert_int_equal(ans_pick(dup, 3, 2, picked), ANS_ERR_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalises_equal),
		cmocka_unit_test(normalises_unequal),
		cmocka_unit_test(refuses_bad_input),
		cmocka_unit_test(length_limits),
		cmocka_unit_test(argon2id_good_and_bad),
		cmocka_unit_test(hash_refuses_short),
		cmocka_unit_test(interactive_cost_is_libsodiums),
		cmocka_unit_test(pick_distinct_in_range),
		cmocka_unit_test(pick_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
