/*
 * Unit tests: proc/ops, the API operation table: argument checks per kind,
 * routing, and the engine-side re-validation of MSG_REQ (ops_req_decode).
 * Requests for the decoder are made with the msg builder's raw fields, not
 * with the api's encoder, so the engine's checks are tested on their own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proc/msg.h"
#include "proc/ops.h"

static const struct ops_arg *
arg(unsigned code, const char *name)
{
	const struct ops_op *op = ops_by_code(code);

	assert_non_null(op);
	return ops_arg_find(op->args, op->nargs, name, NULL);
}

static void
table_consistent(void **state)
{
	const struct ops_op *t;
	size_t n, i, k;

	(void)state;
	t = ops_table(&n);
	assert_int_equal(n, OPS_CODE_END - 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(t[i].code, i + 1);
		assert_ptr_equal(ops_by_code(t[i].code), &t[i]);
		assert_true(t[i].nargs <= OPS_MAX_ARGS);
		for (k = 0; k < t[i].nargs; k++)
			/* A path argument must be a charset-checked string. */
			if (t[i].args[k].where == OPS_IN_PATH)
				assert_int_equal(t[i].args[k].charset, OPS_CS_ID);
	}
	assert_null(ops_by_code(0));
	assert_null(ops_by_code(OPS_CODE_END));
}

static void
check_str(void **state)
{
	const struct ops_arg *id = arg(OPS_HOLDER_ADD, "id");
	const struct ops_arg *name = arg(OPS_HOLDER_ADD, "name");
	const struct ops_arg *email = arg(OPS_HOLDER_ADD, "email");
	const struct ops_arg *reader = arg(OPS_ISSUE, "reader");
	char long65[65];

	(void)state;
	assert_int_equal(ops_check_str(id, "h-1_x.y", 7), OPS_OK);
	assert_int_equal(ops_check_str(id, "", 0), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "a/b", 3), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "..", 2), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "a..b", 4), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, ".a", 2), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "a%2f", 4), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "a b", 3), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(id, "a\0b", 3), OPS_ERR_VALUE);
	memset(long65, 'a', sizeof(long65));
	assert_int_equal(ops_check_str(id, long65, 64), OPS_OK);
	assert_int_equal(ops_check_str(id, long65, 65), OPS_ERR_VALUE);
	/* Text: UTF-8 without C0/C1 controls. */
	assert_int_equal(ops_check_str(name, "J\xc3\xa4rvi", 6), OPS_OK);
	assert_int_equal(ops_check_str(name, "a\nb", 3), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(name, "a\xc2\x85", 3), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(name, "a\xc3", 2), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(name, "a\x7f", 2), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(email, "a@b.c", 5), OPS_OK);
	assert_int_equal(ops_check_str(email, "a@@b", 4), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(email, "@b", 2), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(email, "a b@c", 5), OPS_ERR_VALUE);
	assert_int_equal(ops_check_str(reader, "Yubico YubiKey CCID 00 00", 25),
	    OPS_OK);
	assert_int_equal(ops_check_str(reader, "r\xc3\xa4", 3), OPS_ERR_VALUE);
	/* Both length bounds, on a spec of its own (the table's mins are 1). */
	{
		static const struct ops_arg x = { "x", OPS_K_STR, OPS_IN_BODY, 1,
		    OPS_CS_ID, 3, 5, 0, 0, NULL, NULL, 0, 0 };

		assert_int_equal(ops_check_str(&x, "ab", 2), OPS_ERR_VALUE);
		assert_int_equal(ops_check_str(&x, "abc", 3), OPS_OK);
		assert_int_equal(ops_check_str(&x, "abcde", 5), OPS_OK);
		assert_int_equal(ops_check_str(&x, "abcdef", 6), OPS_ERR_VALUE);
	}
	/* Wrong kind for the check: a caller bug. */
	assert_int_equal(ops_check_str(arg(OPS_ISSUE, "pin"), "x", 1), OPS_ERR_ARG);
}

static void
check_int_enum_sealed_count(void **state)
{
	const struct ops_arg *limit = arg(OPS_CARD_LIST, "limit");
	const struct ops_arg *st = arg(OPS_CARD_LIST, "state");
	const struct ops_arg *reason = arg(OPS_RETIRE, "reason");
	const struct ops_arg *pin = arg(OPS_ISSUE, "pin");
	const struct ops_arg *ans = arg(OPS_UNBLOCK, "answers");
	const struct ops_arg *opt_ans = arg(OPS_ISSUE, "answers");
	const struct ops_arg *attrs = arg(OPS_HOLDER_ADD, "attributes");

	(void)state;
	assert_int_equal(ops_check_int(limit, 1), OPS_OK);
	assert_int_equal(ops_check_int(limit, 1000), OPS_OK);
	assert_int_equal(ops_check_int(limit, 0), OPS_ERR_VALUE);
	assert_int_equal(ops_check_int(limit, 1001), OPS_ERR_VALUE);
	assert_int_equal(ops_check_int(limit, INT64_MIN), OPS_ERR_VALUE);
	assert_int_equal(ops_check_enum(st, "active", 6), OPS_OK);
	assert_int_equal(ops_check_enum(st, "activ", 5), OPS_ERR_VALUE);
	assert_int_equal(ops_check_enum(st, "actives", 7), OPS_ERR_VALUE);
	assert_int_equal(ops_check_enum(reason, "stolen", 6), OPS_OK);
	assert_int_equal(ops_check_enum(reason, "active", 6), OPS_ERR_VALUE);
	/* A PIN of 6..8 bytes sealed: 54..56 bytes of ciphertext. */
	assert_int_equal(ops_check_sealed(pin, OPS_SEAL_OVERHEAD + 6), OPS_OK);
	assert_int_equal(ops_check_sealed(pin, OPS_SEAL_OVERHEAD + 8), OPS_OK);
	assert_int_equal(ops_check_sealed(pin, OPS_SEAL_OVERHEAD + 5), OPS_ERR_VALUE);
	assert_int_equal(ops_check_sealed(pin, OPS_SEAL_OVERHEAD + 9), OPS_ERR_VALUE);
	assert_int_equal(ops_check_sealed(pin, 0), OPS_ERR_VALUE);
	assert_int_equal(ops_check_count(ans, 0), OPS_ERR_VALUE);	/* required */
	assert_int_equal(ops_check_count(opt_ans, 0), OPS_OK);
	assert_int_equal(ops_check_count(ans, 8), OPS_OK);
	assert_int_equal(ops_check_count(ans, 9), OPS_ERR_VALUE);
	assert_int_equal(ops_check_count(attrs, 16), OPS_OK);
	assert_int_equal(ops_check_count(attrs, 17), OPS_ERR_VALUE);
}

static void
routing(void **state)
{
	const struct ops_op *op;
	struct ops_path pp;

	(void)state;
	assert_int_equal(ops_match("GET", "/v1/cards/c-1", &op, &pp), OPS_OK);
	assert_int_equal(op->code, OPS_CARD_GET);
	assert_int_equal(pp.n, 1);
	assert_int_equal(pp.v[0].len, 3);
	assert_memory_equal(pp.v[0].p, "c-1", 3);
	assert_int_equal(ops_match("POST", "/v1/cards/c-1/unblock/questions",
	    &op, &pp), OPS_OK);
	assert_int_equal(op->code, OPS_UNBLOCK_QUESTIONS);
	assert_int_equal(ops_match("GET", "/v1/cards", &op, &pp), OPS_OK);
	assert_int_equal(op->code, OPS_CARD_LIST);
	assert_int_equal(ops_match("POST", "/v1/holders", &op, &pp), OPS_OK);
	assert_int_equal(op->code, OPS_HOLDER_ADD);
	/* Unknown path, wrong method. */
	assert_int_equal(ops_match("GET", "/v1/nothing", &op, &pp), OPS_ERR_NOTFOUND);
	assert_null(op);
	assert_int_equal(ops_match("GET", "/v1/cards/c/pin/x", &op, &pp),
	    OPS_ERR_NOTFOUND);
	assert_int_equal(ops_match("DELETE", "/v1/cards/c", &op, &pp),
	    OPS_ERR_METHOD);
	assert_int_equal(ops_match("GET", "/v1/issue", &op, &pp), OPS_ERR_METHOD);
	/* Traversal and path syntax. */
	assert_int_equal(ops_match("GET", "/v1/cards/..", &op, &pp), OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1/cards/.", &op, &pp), OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1/cards/../holders", &op, &pp),
	    OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1/cards/%2e%2e", &op, &pp),
	    OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1/cards/a%2fb", &op, &pp),
	    OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1//cards", &op, &pp), OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "/v1/cards/", &op, &pp), OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "v1/cards", &op, &pp), OPS_ERR_PATH);
	assert_int_equal(ops_match("GET", "", &op, &pp), OPS_ERR_PATH);
	/* Syntax fine, parameter refused by its charset. */
	assert_int_equal(ops_match("GET", "/v1/cards/a..b", &op, &pp),
	    OPS_ERR_VALUE);
	assert_int_equal(ops_match("GET", "/v1/cards/.hidden", &op, &pp),
	    OPS_ERR_VALUE);
	assert_int_equal(ops_match("GET", "/v1/cards/a~b", &op, &pp),
	    OPS_ERR_VALUE);
}

/* ---- ops_req_decode on hand-made MSG_REQ */

struct req {
	struct msg_builder b;
	struct msg m;
	struct ops_req r;
};

static struct req R;

static void
req_start(unsigned op, uint32_t actor)
{
	msg_builder_clear(&R.b);
	assert_int_equal(msg_builder_init(&R.b), MSG_OK);
	msg_put_u32(&R.b, MSG_REQ_OP, op);
	msg_put_u32(&R.b, MSG_REQ_ACTOR, actor);
	if (actor == MSG_ACTOR_UID)
		msg_put_u32(&R.b, MSG_REQ_UID, 1000);
	if (actor == MSG_ACTOR_SESSION)
		msg_put_str(&R.b, MSG_REQ_TOKEN, "tok-1");
}

static void
req_arg(uint8_t a, uint8_t sub, uint8_t item, const void *v, size_t n)
{
	uint8_t f[512];

	assert_true(n + 3 <= sizeof(f));
	f[0] = a;
	f[1] = sub;
	f[2] = item;
	memcpy(f + 3, v, n);
	msg_put_bytes(&R.b, MSG_REQ_ARG, f, n + 3);
}

static void
req_int(uint8_t a, uint8_t sub, uint8_t item, int64_t v)
{
	uint8_t x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	req_arg(a, sub, item, x, 8);
}

static int
req_decode(void)
{
	const uint8_t *p;
	size_t len;
	int rc;

	if ((rc = msg_finish(&R.b, MSG_REQ, 9, &p, &len)) != MSG_OK)
		return rc;
	assert_int_equal(msg_decode(p, len, &R.m), MSG_OK);
	return ops_req_decode(&R.m, &R.r);
}

static uint8_t sealed6[OPS_SEAL_OVERHEAD + 6];

/* A complete unblock request: card, reader, challenge, answers, new_pin. */
static void
unblock_base(int answers)
{
	int i;

	req_start(OPS_UNBLOCK, MSG_ACTOR_UID);
	req_arg(0, 0, 0, "c1", 2);
	req_arg(1, 0, 0, "R", 1);
	req_arg(2, 0, 0, "ch-1", 4);
	for (i = 0; i < answers; i++) {
		req_int(3, 0, (uint8_t)i, 3 + i);
		req_arg(3, 1, (uint8_t)i, sealed6, sizeof(sealed6));
	}
	req_arg(4, 0, 0, sealed6, sizeof(sealed6));
}

static void
req_good(void **state)
{
	const struct ops_value *v;

	(void)state;
	unblock_base(2);
	assert_int_equal(req_decode(), OPS_OK);
	assert_int_equal(R.r.op->code, OPS_UNBLOCK);
	assert_int_equal(R.r.actor, MSG_ACTOR_UID);
	assert_int_equal(R.r.uid, 1000);
	assert_int_equal(ops_req_count(&R.r, "answers"), 2);
	assert_non_null(v = ops_req_get(&R.r, "answers", 1, "question"));
	assert_int_equal(v->i, 4);
	assert_non_null(v = ops_req_get(&R.r, "answers", 1, "answer"));
	assert_int_equal(v->len, sizeof(sealed6));
	assert_non_null(v = ops_req_get(&R.r, "card", 0, NULL));
	assert_memory_equal(v->p, "c1", 2);
	assert_null(ops_req_get(&R.r, "answers", 2, "answer"));
	/* A session actor carries its token. */
	req_start(OPS_STATUS, MSG_ACTOR_SESSION);
	assert_int_equal(req_decode(), OPS_OK);
	assert_int_equal(R.r.token_len, 5);
	assert_memory_equal(R.r.token, "tok-1", 5);
}

static void
req_refusals(void **state)
{
	(void)state;
	/* Unknown op code. */
	req_start(OPS_CODE_END, MSG_ACTOR_NONE);
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	req_start(0, MSG_ACTOR_NONE);
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	/* Argument index beyond the op's table. */
	unblock_base(1);
	req_arg(5, 0, 0, "x", 1);
	assert_int_equal(req_decode(), OPS_ERR_UNKNOWN);
	/* Member index beyond the object's members. */
	unblock_base(1);
	req_arg(3, 2, 0, "x", 1);
	assert_int_equal(req_decode(), OPS_ERR_UNKNOWN);
	/* A scalar with a sub index or an item number. */
	unblock_base(1);
	req_arg(1, 1, 0, "R", 1);
	assert_int_equal(req_decode(), OPS_ERR_UNKNOWN);
	unblock_base(1);
	req_arg(1, 0, 1, "R", 1);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	/* Duplicate scalar, duplicate list member. */
	unblock_base(1);
	req_arg(2, 0, 0, "ch-2", 4);
	assert_int_equal(req_decode(), OPS_ERR_DUP);
	unblock_base(1);
	req_int(3, 0, 0, 9);
	assert_int_equal(req_decode(), OPS_ERR_DUP);
	/* Missing required scalar; required list empty. */
	req_start(OPS_UNBLOCK, MSG_ACTOR_UID);
	req_arg(0, 0, 0, "c1", 2);
	req_arg(1, 0, 0, "R", 1);
	req_int(3, 0, 0, 3);
	req_arg(3, 1, 0, sealed6, sizeof(sealed6));
	req_arg(4, 0, 0, sealed6, sizeof(sealed6));
	assert_int_equal(req_decode(), OPS_ERR_MISSING);
	unblock_base(0);
	assert_int_equal(req_decode(), OPS_ERR_MISSING);
	/* A gap in a list (item 1 without item 0's answer), an incomplete object. */
	unblock_base(1);
	req_int(3, 0, 2, 5);
	req_arg(3, 1, 2, sealed6, sizeof(sealed6));
	assert_int_equal(req_decode(), OPS_ERR_MISSING);
	unblock_base(1);
	req_int(3, 0, 1, 5);
	assert_int_equal(req_decode(), OPS_ERR_MISSING);
	/* Too many items. */
	unblock_base(9);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	/* Values out of bounds: bad id charset, int range, sealed size, int size. */
	req_start(OPS_CARD_GET, MSG_ACTOR_NONE);
	req_arg(0, 0, 0, "../x", 4);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	req_start(OPS_CARD_LIST, MSG_ACTOR_NONE);
	req_int(2, 0, 0, 1001);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	req_start(OPS_CARD_LIST, MSG_ACTOR_NONE);
	req_arg(2, 0, 0, "\0\0\0\x05", 4);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	req_start(OPS_CARD_LIST, MSG_ACTOR_NONE);
	req_arg(0, 0, 0, "bogus", 5);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
	req_start(OPS_ISSUE, MSG_ACTOR_UID);
	req_arg(0, 0, 0, "R", 1);
	req_arg(1, 0, 0, "h", 1);
	req_arg(2, 0, 0, "p", 1);
	req_arg(3, 0, 0, sealed6, 10);
	assert_int_equal(req_decode(), OPS_ERR_VALUE);
}

static void
req_actor_consistency(void **state)
{
	(void)state;
	/* uid without the uid actor, token without the session actor, etc. */
	req_start(OPS_STATUS, MSG_ACTOR_NONE);
	msg_put_u32(&R.b, MSG_REQ_UID, 0);
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	req_start(OPS_STATUS, MSG_ACTOR_NONE);
	msg_put_str(&R.b, MSG_REQ_TOKEN, "t");
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	req_start(OPS_STATUS, MSG_ACTOR_UID);
	msg_put_str(&R.b, MSG_REQ_TOKEN, "t");
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	req_start(OPS_STATUS, MSG_ACTOR_SESSION);
	msg_put_u32(&R.b, MSG_REQ_UID, 0);
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	req_start(OPS_STATUS, 7);
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	/* A token with a space or a control character. */
	msg_builder_clear(&R.b);
	assert_int_equal(msg_builder_init(&R.b), MSG_OK);
	msg_put_u32(&R.b, MSG_REQ_OP, OPS_STATUS);
	msg_put_u32(&R.b, MSG_REQ_ACTOR, MSG_ACTOR_SESSION);
	msg_put_str(&R.b, MSG_REQ_TOKEN, "a b");
	assert_int_equal(req_decode(), OPS_ERR_FORMAT);
	msg_builder_clear(&R.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_consistent),
		cmocka_unit_test(check_str),
		cmocka_unit_test(check_int_enum_sealed_count),
		cmocka_unit_test(routing),
		cmocka_unit_test(req_good),
		cmocka_unit_test(req_refusals),
		cmocka_unit_test(req_actor_consistency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
