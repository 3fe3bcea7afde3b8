/* Unit tests for drivers/apdu.c over a scripted fake transport. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apdu.h"
#include "drivers/fake_transport.h"

/* Hex of n copies of byte b followed by tail; strings are kept for the test. */
static char *
rep(unsigned b, size_t n, const char *head, const char *tail)
{
	size_t hl = strlen(head), tl = strlen(tail), i;
	char *s = malloc(hl + 2 * n + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	for (i = 0; i < n; i++)
		snprintf(s + hl + 2 * i, 3, "%02X", b & 0xFF);
	memcpy(s + hl + 2 * n, tail, tl + 1);
	return s;
}

struct run {
	struct fake f;
	struct apdu_ctx *ctx;
	uint8_t *rsp;
	size_t len;
	uint16_t sw;
};

static int
run_steps(struct run *r, const struct fake_step *steps, size_t n,
    const struct apdu_cmd *cmd)
{
	struct apdu_transport t;

	memset(&r->f, 0, sizeof(r->f));
	r->f.steps = steps;
	r->f.n = n;
	fake_transport(&r->f, &t);
	if (r->ctx == NULL)
		assert_int_equal(apdu_init(&r->ctx, &t), APDU_OK);
	return apdu_transceive(r->ctx, cmd, &r->rsp, &r->len, &r->sw);
}

static void
run_done(struct run *r)
{
	assert_int_equal(r->f.mismatch, 0);
	assert_int_equal(r->f.pos, r->f.n);
	apdu_free(r->rsp, r->len);
	apdu_done(r->ctx);
}

static void
test_empty_verify_wrong_pin(void **state)
{
	static const struct fake_step s[] = { { "00 20 00 80", "63 C2" } };
	struct apdu_cmd c = { 0x00, 0x20, 0x00, 0x80, NULL, 0, 0 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 1, &c), APDU_ERR_WRONG_PIN);
	assert_int_equal(r.sw, 0x63C2);
	assert_null(r.rsp);
	run_done(&r);
}

static void
test_get_data_short_le(void **state)
{
	static const struct fake_step s[] = {
		{ "00 CB 3F FF 05 5C 03 5F C1 02 00", "53 02 AA BB 90 00" } };
	static const uint8_t d[] = { 0x5C, 0x03, 0x5F, 0xC1, 0x02 };
	struct apdu_cmd c = { 0x00, 0xCB, 0x3F, 0xFF, d, sizeof(d), 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 1, &c), APDU_OK);
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.rsp, "\x53\x02\xAA\xBB", 4);
	run_done(&r);
}

static void
test_chaining_600_bytes(void **state)
{
	uint8_t d[600];
	char *b1 = rep(0x11, 255, "10 DB 3F FF FF", "");
	char *b2 = rep(0x11, 255, "10 DB 3F FF FF", "");
	char *b3 = rep(0x11, 90, "00 DB 3F FF 5A", "");
	const struct fake_step s[] = { { b1, "90 00" }, { b2, "90 00" }, { b3, "90 00" } };
	struct apdu_cmd c = { 0x00, 0xDB, 0x3F, 0xFF, d, sizeof(d), 0 };
	struct apdu_stats st;
	struct run r = { 0 };

	(void)state;
	memset(d, 0x11, sizeof(d));
	assert_int_equal(run_steps(&r, s, 3, &c), APDU_OK);
	apdu_get_stats(r.ctx, &st);
	assert_int_equal(st.commands, 3);
	assert_int_equal(st.bytes_sent, 600 + 3 * 5);
	assert_int_equal(st.bytes_received, 6);
	run_done(&r);
	free(b1); free(b2); free(b3);
}

static void
test_chaining_error_stops(void **state)
{
	uint8_t d[300];
	char *b1 = rep(0x22, 255, "10 DB 3F FF FF", "");
	const struct fake_step s[] = { { b1, "6A 80" } };
	struct apdu_cmd c = { 0x00, 0xDB, 0x3F, 0xFF, d, sizeof(d), 0 };
	struct run r = { 0 };

	(void)state;
	memset(d, 0x22, sizeof(d));
	assert_int_equal(run_steps(&r, s, 1, &c), APDU_ERR_WRONG_DATA);
	run_done(&r);
	free(b1);
}

static void
test_get_response_loop(void **state)
{
	char *r1 = rep(0xAA, 256, "", "61 00");
	char *r2 = rep(0xBB, 256, "", "61 10");
	char *r3 = rep(0xCC, 16, "", "90 00");
	const struct fake_step s[] = {
		{ "00 F9 9A 00 00", r1 },
		{ "00 C0 00 00 00", r2 },
		{ "00 C0 00 00 10", r3 } };
	struct apdu_cmd c = { 0x00, 0xF9, 0x9A, 0x00, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 3, &c), APDU_OK);
	assert_int_equal(r.len, 528);
	assert_int_equal(r.rsp[0], 0xAA);
	assert_int_equal(r.rsp[256], 0xBB);
	assert_int_equal(r.rsp[527], 0xCC);
	run_done(&r);
	free(r1); free(r2); free(r3);
}

static void
test_6cxx_resend(void **state)
{
	static const struct fake_step s[] = {
		{ "00 FD 00 00 00", "6C 03" },
		{ "00 FD 00 00 03", "05 04 03 90 00" } };
	struct apdu_cmd c = { 0x00, 0xFD, 0x00, 0x00, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 2, &c), APDU_OK);
	assert_int_equal(r.len, 3);
	run_done(&r);
}

static void
test_6cxx_twice_is_protocol_error(void **state)
{
	static const struct fake_step s[] = {
		{ "00 FD 00 00 00", "6C 03" },
		{ "00 FD 00 00 03", "6C 04" } };
	struct apdu_cmd c = { 0x00, 0xFD, 0x00, 0x00, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 2, &c), APDU_ERR_PROTOCOL);
	assert_null(r.rsp);
	run_done(&r);
}

static void
test_response_cap(void **state)
{
	char *r1 = rep(0xAA, 256, "", "61 00");
	char *r2 = rep(0xBB, 256, "", "61 00");
	const struct fake_step s[] = {
		{ "00 CB 3F FF 00", r1 }, { "00 C0 00 00 00", r2 } };
	struct apdu_cmd c = { 0x00, 0xCB, 0x3F, 0xFF, NULL, 0, 1 };
	struct apdu_transport t;
	struct run r = { 0 };

	(void)state;
	r.f.steps = s;
	fake_transport(&r.f, &t);
	assert_int_equal(apdu_init(&r.ctx, &t), APDU_OK);
	apdu_set_max_response(r.ctx, 300);
	assert_int_equal(run_steps(&r, s, 2, &c), APDU_ERR_TOOBIG);
	assert_null(r.rsp);
	run_done(&r);
	free(r1); free(r2);
}

static void
test_endless_empty_61(void **state)
{
	static const struct fake_step s[] = {
		{ "00 CB 3F FF 00", "61 00" },
		{ "00 C0 00 00 00", "61 00" },
		{ "00 C0 00 00 00", "61 00" } };
	struct apdu_cmd c = { 0x00, 0xCB, 0x3F, 0xFF, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 3, &c), APDU_ERR_PROTOCOL);
	run_done(&r);
}

static void
test_removed_mid_chain(void **state)
{
	uint8_t d[600];
	char *b1 = rep(0x33, 255, "10 DB 3F FF FF", "");
	const struct fake_step s[] = { { b1, "90 00" }, { "*", "!REMOVED" } };
	struct apdu_cmd c = { 0x00, 0xDB, 0x3F, 0xFF, d, sizeof(d), 1 };
	struct run r = { 0 };

	(void)state;
	memset(d, 0x33, sizeof(d));
	assert_int_equal(run_steps(&r, s, 2, &c), APDU_ERR_REMOVED);
	assert_null(r.rsp);
	assert_int_equal(r.len, 0);
	run_done(&r);
	free(b1);
}

static void
test_removed_mid_get_response(void **state)
{
	char *r1 = rep(0xAA, 256, "", "61 00");
	const struct fake_step s[] = {
		{ "00 CB 3F FF 00", r1 }, { "00 C0 00 00 00", "!REMOVED" } };
	struct apdu_cmd c = { 0x00, 0xCB, 0x3F, 0xFF, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 2, &c), APDU_ERR_REMOVED);
	assert_null(r.rsp);
	run_done(&r);
	free(r1);
}

static void
test_malformed_short_response(void **state)
{
	static const struct fake_step s[] = { { "00 FD 00 00 00", "90" } };
	struct apdu_cmd c = { 0x00, 0xFD, 0x00, 0x00, NULL, 0, 1 };
	struct run r = { 0 };

	(void)state;
	assert_int_equal(run_steps(&r, s, 1, &c), APDU_ERR_MALFORMED);
	run_done(&r);
}

static void
test_extended_encoding(void **state)
{
	uint8_t d[300];
	char *b = rep(0x44, 300, "00 DB 3F FF 00 01 2C", "00 00");
	const struct fake_step s[] = {
		{ b, "01 02 90 00" }, { "00 CB 3F FF 00 00 00", "90 00" } };
	struct apdu_cmd c = { 0x00, 0xDB, 0x3F, 0xFF, d, sizeof(d), 1 };
	struct apdu_cmd c2 = { 0x00, 0xCB, 0x3F, 0xFF, NULL, 0, 1 };
	struct apdu_transport t;
	struct run r = { 0 };

	(void)state;
	memset(d, 0x44, sizeof(d));
	r.f.steps = s;
	r.f.n = 2;
	fake_transport(&r.f, &t);
	assert_int_equal(apdu_init(&r.ctx, &t), APDU_OK);
	apdu_set_extended(r.ctx, 1);
	assert_int_equal(apdu_transceive(r.ctx, &c, &r.rsp, &r.len, &r.sw), APDU_OK);
	assert_int_equal(r.len, 2);
	apdu_free(r.rsp, r.len);
	assert_int_equal(apdu_transceive(r.ctx, &c2, &r.rsp, &r.len, &r.sw), APDU_OK);
	assert_int_equal(r.len, 0);
	assert_int_equal(r.f.mismatch, 0);
	apdu_done(r.ctx);
	free(b);
}

static void
test_sw_mapping(void **state)
{
	static const struct { uint16_t sw; int err; } m[] = {
		{ 0x9000, APDU_OK }, { 0x63C0, APDU_ERR_WRONG_PIN },
		{ 0x63CF, APDU_ERR_WRONG_PIN }, { 0x6983, APDU_ERR_BLOCKED },
		{ 0x6982, APDU_ERR_SECURITY }, { 0x6985, APDU_ERR_CONDITIONS },
		{ 0x6A82, APDU_ERR_NOT_FOUND }, { 0x6A80, APDU_ERR_WRONG_DATA },
		{ 0x6A86, APDU_ERR_P1P2 }, { 0x6B00, APDU_ERR_P1P2 },
		{ 0x6700, APDU_ERR_WRONG_LENGTH }, { 0x6A84, APDU_ERR_NO_SPACE },
		{ 0x6D00, APDU_ERR_INS }, { 0x6E00, APDU_ERR_CLA },
		{ 0x6581, APDU_ERR_MEMORY }, { 0x6F00, APDU_ERR_SW },
		{ 0x6300, APDU_ERR_SW }, { 0x6A88, APDU_ERR_REF_NOT_FOUND } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		assert_int_equal(apdu_sw_to_err(m[i].sw), m[i].err);
		assert_string_not_equal(apdu_name(m[i].err), "?");
		assert_string_not_equal(apdu_strerror(m[i].err), "unknown apdu error");
	}
	assert_string_equal(apdu_name(APDU_ERR_REMOVED), "APDU_ERR_REMOVED");
	assert_string_equal(apdu_name(12345), "?");
}

static void
test_bad_args(void **state)
{
	struct apdu_transport t = { 0 };
	struct apdu_ctx *ctx = (void *)1;

	(void)state;
	assert_int_equal(apdu_init(&ctx, &t), APDU_ERR_INVALID);
	assert_null(ctx);
	assert_int_equal(apdu_init(NULL, &t), APDU_ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_verify_wrong_pin),
		cmocka_unit_test(test_get_data_short_le),
		cmocka_unit_test(test_chaining_600_bytes),
		cmocka_unit_test(test_chaining_error_stops),
		cmocka_unit_test(test_get_response_loop),
		cmocka_unit_test(test_6cxx_resend),
		cmocka_unit_test(test_6cxx_twice_is_protocol_error),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_endless_empty_61),
		cmocka_unit_test(test_removed_mid_chain),
		cmocka_unit_test(test_removed_mid_get_response),
		cmocka_unit_test(test_malformed_short_response),
		cmocka_unit_test(test_extended_encoding),
		cmocka_unit_test(test_sw_mapping),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
