/*
 * Unit tests: proc/msg, the inter-process message format. Messages are built
 * by hand here (not with the builder) so a builder bug cannot hide a decoder
 * bug; every refusal the decoder owes is checked, then send/recv over a real
 * SOCK_SEQPACKET socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/msg.h"

/* A hand-made message: header then raw fields. */
struct raw {
	uint8_t b[MSG_MAX + 64];
	size_t len;
};

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
raw_init(struct raw *r, uint32_t type, uint64_t id)
{
	memset(r, 0, sizeof(*r));
	put32(r->b, type);
	put32(r->b + 8, (uint32_t)(id >> 32));
	put32(r->b + 12, (uint32_t)id);
	r->len = MSG_HDR_LEN;
}

static void
raw_field(struct raw *r, uint16_t tag, const void *p, uint32_t n)
{
	r->b[r->len] = (uint8_t)(tag >> 8);
	r->b[r->len + 1] = (uint8_t)tag;
	put32(r->b + r->len + 2, n);
	memcpy(r->b + r->len + 6, p, n);
	r->len += 6 + n;
	put32(r->b + 4, (uint32_t)(r->len - MSG_HDR_LEN));
}

static void
raw_u32(struct raw *r, uint16_t tag, uint32_t v)
{
	uint8_t x[4];

	put32(x, v);
	raw_field(r, tag, x, 4);
}

/* A valid MSG_RESP: status 200, body "{}". */
static void
good_resp(struct raw *r)
{
	raw_init(r, MSG_RESP, 7);
	raw_u32(r, MSG_RESP_STATUS, 200);
	raw_field(r, MSG_RESP_BODY, "{}", 2);
}

static int
decode(const struct raw *r)
{
	static struct msg m;

	return msg_decode(r->b, r->len, &m);
}

static void
decodes_good(void **state)
{
	static struct raw r;
	static struct msg m;
	const struct msg_field *f;

	(void)state;
	good_resp(&r);
	raw_field(&r, MSG_RESP_CTYPE, "text/plain", 10);
	assert_int_equal(msg_decode(r.b, r.len, &m), MSG_OK);
	assert_int_equal(m.hdr.type, MSG_RESP);
	assert_int_equal(m.hdr.id, 7);
	assert_int_equal(m.nfields, 3);
	assert_non_null(f = msg_get(&m, MSG_RESP_STATUS));
	assert_int_equal(f->num, 200);
	assert_non_null(f = msg_get(&m, MSG_RESP_CTYPE));
	assert_memory_equal(f->p, "text/plain", 10);
	assert_null(msg_next(&m, MSG_RESP_CTYPE, f));
}

static void
refuses_truncated_header(void **state)
{
	static struct raw r;
	size_t n;

	(void)state;
	good_resp(&r);
	for (n = 0; n < MSG_HDR_LEN; n++) {
		static struct msg m;

		assert_int_equal(msg_decode(r.b, n, &m), MSG_ERR_FORMAT);
	}
}

static void
refuses_length_mismatch(void **state)
{
	static struct raw r;

	(void)state;
	good_resp(&r);
	r.len--;		/* datagram shorter than the header says */
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	r.len += 2;		/* longer */
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* A field running past the payload. */
	good_resp(&r);
	put32(r.b + MSG_HDR_LEN + 2, 5);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* Half a field header at the end. */
	good_resp(&r);
	r.b[r.len++] = 0;
	r.b[r.len++] = 1;
	put32(r.b + 4, (uint32_t)(r.len - MSG_HDR_LEN));
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

static void
refuses_unknown_tag(void **state)
{
	static struct raw r;

	(void)state;
	good_resp(&r);
	raw_field(&r, 99, "x", 1);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* A tag of another type (MSG_REQ_ARG = 5) in a MSG_RESP. */
	good_resp(&r);
	raw_field(&r, MSG_REQ_ARG, "abcd", 4);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

static void
refuses_duplicate(void **state)
{
	static struct raw r;

	(void)state;
	good_resp(&r);
	raw_u32(&r, MSG_RESP_STATUS, 201);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* MSG_REQ_ARG is repeatable. */
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 0);
	raw_field(&r, MSG_REQ_ARG, "\0\0\0a", 4);
	raw_field(&r, MSG_REQ_ARG, "\0\0\0a", 4);
	assert_int_equal(decode(&r), MSG_OK);
}

static void
refuses_missing_required(void **state)
{
	static struct raw r;

	(void)state;
	raw_init(&r, MSG_RESP, 1);
	raw_u32(&r, MSG_RESP_STATUS, 200);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	raw_init(&r, MSG_RESP, 1);
	raw_field(&r, MSG_RESP_BODY, "{}", 2);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	raw_init(&r, MSG_RESP, 1);	/* empty payload */
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

static void
refuses_wrong_length(void **state)
{
	static struct raw r;
	char tok[66];

	(void)state;
	/* A u32 of 3 bytes, of 5 bytes. */
	raw_init(&r, MSG_RESP, 1);
	raw_field(&r, MSG_RESP_STATUS, "\0\0\xc8", 3);
	raw_field(&r, MSG_RESP_BODY, "{}", 2);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	raw_init(&r, MSG_RESP, 1);
	raw_field(&r, MSG_RESP_STATUS, "\0\0\0\xc8\0", 5);
	raw_field(&r, MSG_RESP_BODY, "{}", 2);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* A token of 65 bytes (max 64), and of 64 (fine), and empty (min 1). */
	memset(tok, 'a', sizeof(tok));
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 2);
	raw_field(&r, MSG_REQ_TOKEN, tok, 65);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 2);
	raw_field(&r, MSG_REQ_TOKEN, tok, 64);
	assert_int_equal(decode(&r), MSG_OK);
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 2);
	raw_field(&r, MSG_REQ_TOKEN, tok, 0);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	/* An argument shorter than its 3-byte prefix. */
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 0);
	raw_field(&r, MSG_REQ_ARG, "\0\0", 2);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

static void
refuses_oversize(void **state)
{
	static struct raw r;
	static uint8_t big[MSG_PAYLOAD_MAX];

	(void)state;
	/* Header claims more than MSG_PAYLOAD_MAX. */
	good_resp(&r);
	put32(r.b + 4, MSG_PAYLOAD_MAX + 1);
	assert_int_equal(decode(&r), MSG_ERR_TOOBIG);
	/* A real body that makes the payload MSG_PAYLOAD_MAX + 1. */
	raw_init(&r, MSG_RESP, 1);
	raw_u32(&r, MSG_RESP_STATUS, 200);
	memset(big, 'a', sizeof(big));
	raw_field(&r, MSG_RESP_BODY, big, MSG_PAYLOAD_MAX - 10 - 6 + 1);
	assert_int_equal(r.len, MSG_MAX + 1);
	assert_int_equal(decode(&r), MSG_ERR_TOOBIG);
	r.len--;
	put32(r.b + MSG_HDR_LEN + 10 + 2, MSG_PAYLOAD_MAX - 10 - 6);
	put32(r.b + 4, MSG_PAYLOAD_MAX);
	assert_int_equal(decode(&r), MSG_OK);
}

/*
 * msg_utf8_ok's eight-bytes-at-a-time ASCII path: a NUL, a high byte or a
 * valid two-byte sequence at every offset of a 24-byte ASCII text, so each
 * falls inside a word, at its edges and in the tail.
 */
static void
utf8_every_offset(void **state)
{
	uint8_t t[25];
	size_t at, n;

	(void)state;
	memset(t, 'a', sizeof(t));
	assert_true(msg_utf8_ok(t, 24));
	for (n = 0; n <= 24; n++)
		assert_true(msg_utf8_ok(t, n));
	for (at = 0; at < 24; at++) {
		memset(t, 'a', sizeof(t));
		t[at] = 0;
		assert_false(msg_utf8_ok(t, 24));
		t[at] = 0x80;
		assert_false(msg_utf8_ok(t, 24));
		t[at] = 0xff;
		assert_false(msg_utf8_ok(t, 24));
		t[at] = 0x7f;
		assert_true(msg_utf8_ok(t, 24));
		t[at] = 0x01;
		assert_true(msg_utf8_ok(t, 24));
		if (at + 1 < 24) {
			t[at] = 0xc3;
			t[at + 1] = 0xa9;	/* U+00E9 */
			assert_true(msg_utf8_ok(t, 24));
			t[at + 1] = 'a';	/* truncated */
			assert_false(msg_utf8_ok(t, 24));
		}
	}
}

static void
refuses_bad_utf8(void **state)
{
	static const char *bad[] = {
		"a\0b",			/* NUL inside */
		"\xc3",			/* truncated sequence */
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong, 3 bytes */
		"\xed\xa0\x80",		/* UTF-16 surrogate */
		"\xf4\x90\x80\x80",	/* beyond U+10FFFF */
		"\xff",
		"\x80",			/* lone continuation */
	};
	static const size_t blen[] = { 3, 1, 2, 3, 3, 4, 1, 1 };
	static struct raw r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_init(&r, MSG_RESP, 1);
		raw_u32(&r, MSG_RESP_STATUS, 200);
		raw_field(&r, MSG_RESP_BODY, bad[i], (uint32_t)blen[i]);
		assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	}
	/* Valid multi-byte text passes. */
	raw_init(&r, MSG_RESP, 1);
	raw_u32(&r, MSG_RESP_STATUS, 200);
	raw_field(&r, MSG_RESP_BODY, "J\xc3\xa4rvi \xe2\x82\xac \xf0\x9f\x94\x91", 15);
	assert_int_equal(decode(&r), MSG_OK);
}

static void
refuses_unknown_type_bad_bool(void **state)
{
	static struct raw r;

	(void)state;
	good_resp(&r);
	put32(r.b, 0);
	assert_int_equal(decode(&r), MSG_ERR_TYPE);
	put32(r.b, 0x150);	/* the keyd's range, unknown to this build */
	assert_int_equal(decode(&r), MSG_ERR_TYPE);
	assert_null(msg_spec(0));
	assert_non_null(msg_spec(MSG_PROGRESS));
	/* A bool is one byte, 0 or 1. */
	raw_init(&r, MSG_PROGRESS, 1);
	raw_field(&r, MSG_PROG_OP, "op-1", 4);
	raw_u32(&r, MSG_PROG_STEP, 1);
	raw_field(&r, MSG_PROG_NAME, "x", 1);
	raw_field(&r, MSG_PROG_DONE, "\x01", 1);
	assert_int_equal(decode(&r), MSG_OK);
	r.b[r.len - 1] = 2;
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
	raw_init(&r, MSG_PROGRESS, 1);
	raw_field(&r, MSG_PROG_OP, "op-1", 4);
	raw_u32(&r, MSG_PROG_STEP, 1);
	raw_field(&r, MSG_PROG_NAME, "x", 1);
	raw_field(&r, MSG_PROG_DONE, "\0\0", 2);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

static void
refuses_too_many_fields(void **state)
{
	static struct raw r;
	size_t i;

	(void)state;
	raw_init(&r, MSG_REQ, 1);
	raw_u32(&r, MSG_REQ_OP, 1);
	raw_u32(&r, MSG_REQ_ACTOR, 0);
	for (i = 2; i < MSG_FIELDS_MAX; i++)
		raw_field(&r, MSG_REQ_ARG, "\0\0\0", 3);
	assert_int_equal(decode(&r), MSG_OK);
	raw_field(&r, MSG_REQ_ARG, "\0\0\0", 3);
	assert_int_equal(decode(&r), MSG_ERR_FORMAT);
}

/* The builder's bytes equal the hand-made ones. */
static void
builder_matches_hand(void **state)
{
	static struct raw r;
	struct msg_builder b;
	const uint8_t *out;
	size_t len;

	(void)state;
	raw_init(&r, MSG_PROGRESS, 0x0102030405060708ULL);
	raw_field(&r, MSG_PROG_OP, "op-1", 4);
	raw_u32(&r, MSG_PROG_STEP, 3);
	raw_field(&r, MSG_PROG_NAME, "keygen", 6);
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_str(&b, MSG_PROG_OP, "op-1");
	msg_put_u32(&b, MSG_PROG_STEP, 3);
	msg_put_strn(&b, MSG_PROG_NAME, "keygenXX", 6);
	assert_int_equal(msg_finish(&b, MSG_PROGRESS, 0x0102030405060708ULL,
	    &out, &len), MSG_OK);
	assert_int_equal(len, r.len);
	assert_memory_equal(out, r.b, len);
	msg_builder_clear(&b);
	assert_null(b.mem);
}

static void
builder_sticky_and_self_check(void **state)
{
	static uint8_t big[MSG_PAYLOAD_MAX];
	struct msg_builder b;
	const uint8_t *out;
	size_t len;

	(void)state;
	/* Overflow: sticky, later puts ignored, finish refuses. */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, MSG_RESP_STATUS, 200);
	msg_put_bytes(&b, MSG_RESP_BODY, big, sizeof(big));
	assert_int_equal(msg_builder_error(&b), MSG_ERR_NOSPACE);
	msg_put_str(&b, MSG_RESP_CTYPE, "x");
	assert_int_equal(msg_builder_error(&b), MSG_ERR_NOSPACE);
	assert_int_equal(msg_finish(&b, MSG_RESP, 1, &out, &len), MSG_ERR_NOSPACE);
	assert_null(out);
	msg_builder_clear(&b);
	/* A message its own spec refuses is not sent: missing body. */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, MSG_RESP_STATUS, 200);
	assert_int_equal(msg_finish(&b, MSG_RESP, 1, &out, &len), MSG_ERR_ARG);
	msg_builder_clear(&b);
}

static void
send_recv(void **state)
{
	static uint8_t buf[MSG_MAX], big[MSG_MAX + 100];
	struct msg_builder b;
	struct msg_hdr h;
	size_t len;
	int sv[2];
	static struct msg m;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, MSG_RESP_STATUS, 404);
	msg_put_str(&b, MSG_RESP_BODY, "{\"error\":\"not_found\"}");
	assert_int_equal(msg_send(sv[0], MSG_RESP, 42, &b), MSG_OK);
	msg_builder_clear(&b);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len), MSG_OK);
	assert_int_equal(h.type, MSG_RESP);
	assert_int_equal(h.id, 42);
	assert_int_equal(msg_decode(buf, len, &m), MSG_OK);
	assert_int_equal(msg_get(&m, MSG_RESP_STATUS)->num, 404);
	/* A datagram over MSG_MAX is consumed and refused, not truncated. */
	memset(big, 0, sizeof(big));
	put32(big, MSG_RESP);
	put32(big + 4, MSG_PAYLOAD_MAX);
	assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len),
	    MSG_ERR_TOOBIG);
	/* A consistent message larger than the caller's buffer: refused too. */
	put32(big + 4, 200);
	assert_int_equal(send(sv[0], big, MSG_HDR_LEN + 200, 0), MSG_HDR_LEN + 200);
	assert_int_equal(msg_recv(sv[1], buf, 100, &h, &len), MSG_ERR_TOOBIG);
	/* A header whose length disagrees with the datagram. */
	put32(big + 4, 10);
	assert_int_equal(send(sv[0], big, MSG_HDR_LEN + 4, 0), MSG_HDR_LEN + 4);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len),
	    MSG_ERR_FORMAT);
	/* The next message still arrives whole. */
	assert_int_equal(send(sv[0], big, MSG_HDR_LEN + 10, 0), MSG_HDR_LEN + 10);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len), MSG_OK);
	assert_int_equal(len, MSG_HDR_LEN + 10);
	/* Peer closed. */
	close(sv[0]);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len),
	    MSG_ERR_CLOSED);
	close(sv[1]);
}

static void
send_helpers(void **state)
{
	static uint8_t buf[MSG_MAX];
	static struct msg m;
	const struct msg_field *f;
	struct msg_hdr h;
	size_t len;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(msg_send_resp(sv[0], 5, 202, "{\"op\":\"o-1\"}", NULL),
	    MSG_OK);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len), MSG_OK);
	assert_int_equal(msg_decode(buf, len, &m), MSG_OK);
	assert_int_equal(m.hdr.id, 5);
	assert_int_equal(msg_get(&m, MSG_RESP_STATUS)->num, 202);
	assert_null(msg_get(&m, MSG_RESP_CTYPE));
	assert_int_equal(msg_send_progress(sv[0], 6, "o-1", 2, "keygen", NULL, 1),
	    MSG_OK);
	assert_int_equal(msg_recv(sv[1], buf, sizeof(buf), &h, &len), MSG_OK);
	assert_int_equal(msg_decode(buf, len, &m), MSG_OK);
	assert_int_equal(m.hdr.type, MSG_PROGRESS);
	assert_non_null(f = msg_get(&m, MSG_PROG_DONE));
	assert_int_equal(f->num, 1);
	assert_null(msg_get(&m, MSG_PROG_TEXT));
	/* The helpers obey the spec too: a NUL-free body, a non-empty op. */
	assert_int_equal(msg_send_progress(sv[0], 7, "", 1, "x", NULL, 0),
	    MSG_ERR_ARG);
	close(sv[0]);
	close(sv[1]);
}

static void
send_to_closed_peer(void **state)
{
	struct msg_builder b;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, MSG_RESP_STATUS, 200);
	msg_put_str(&b, MSG_RESP_BODY, "{}");
	/* No SIGPIPE (it would kill this test), a classified error instead. */
	assert_int_equal(msg_send(sv[0], MSG_RESP, 1, &b), MSG_ERR_CLOSED);
	msg_builder_clear(&b);
	close(sv[0]);
}

static void
names(void **state)
{
	(void)state;
	assert_string_equal(msg_name(MSG_ERR_FORMAT), "MSG_ERR_FORMAT");
	assert_string_equal(msg_strerror(MSG_ERR_CLOSED),
	    "peer closed the connection");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_good),
		cmocka_unit_test(refuses_truncated_header),
		cmocka_unit_test(refuses_length_mismatch),
		cmocka_unit_test(refuses_unknown_tag),
		cmocka_unit_test(refuses_duplicate),
		cmocka_unit_test(refuses_missing_required),
		cmocka_unit_test(refuses_wrong_length),
		cmocka_unit_test(refuses_oversize),
		cmocka_unit_test(refuses_bad_utf8),
		cmocka_unit_test(utf8_every_offset),
		cmocka_unit_test(refuses_unknown_type_bad_bool),
		cmocka_unit_test(refuses_too_many_fields),
		cmocka_unit_test(builder_matches_hand),
		cmocka_unit_test(builder_sticky_and_self_check),
		cmocka_unit_test(send_recv),
		cmocka_unit_test(send_helpers),
		cmocka_unit_test(send_to_closed_peer),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
