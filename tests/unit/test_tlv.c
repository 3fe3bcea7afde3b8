/* Unit tests for drivers/buf.c and drivers/tlv.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "tlv.h"

static void
test_reader_bounds(void **state)
{
	const uint8_t d[] = { 0x01, 0x02, 0x03 };
	struct buf_reader r;
	uint16_t v16;
	uint32_t v32;
	uint8_t v8;

	(void)state;
	buf_reader_init(&r, d, sizeof(d));
	assert_int_equal(buf_get_u16be(&r, &v16), BUF_OK);
	assert_int_equal(v16, 0x0102);
	assert_int_equal(buf_get_u32be(&r, &v32), BUF_ERR_SHORT);
	assert_int_equal(buf_left(&r), 1);
	assert_int_equal(buf_expect_end(&r), BUF_ERR_TRAILING);
	assert_int_equal(buf_get_u8(&r, &v8), BUF_OK);
	assert_int_equal(v8, 3);
	assert_int_equal(buf_get_u8(&r, &v8), BUF_ERR_SHORT);
	assert_int_equal(buf_expect_end(&r), BUF_OK);
}

/* u64: big-endian both ways; a short read leaves the value alone. */
static void
test_u64(void **state)
{
	uint8_t mem[12];
	struct buf_writer w;
	struct buf_reader r;
	uint64_t v = 7;

	(void)state;
	buf_writer_init(&w, mem, sizeof(mem));
	buf_put_u64be(&w, 0x0102030405060708ULL);
	assert_int_equal(buf_writer_error(&w), BUF_OK);
	assert_int_equal(mem[0], 0x01);
	assert_int_equal(mem[7], 0x08);
	buf_put_u64be(&w, 1);
	assert_int_equal(buf_writer_error(&w), BUF_ERR_NOSPACE);
	buf_reader_init(&r, mem, 12);
	assert_int_equal(buf_get_u64be(&r, &v), BUF_OK);
	assert_true(v == 0x0102030405060708ULL);
	v = 7;
	assert_int_equal(buf_get_u64be(&r, &v), BUF_ERR_SHORT);
	assert_true(v == 7);
}

static void
test_reader_null_empty(void **state)
{
	struct buf_reader r;
	const uint8_t *p;
	uint8_t v;

	(void)state;
	buf_reader_init(&r, NULL, 0);
	assert_int_equal(buf_left(&r), 0);
	assert_int_equal(buf_get_ptr(&r, 0, &p), BUF_OK);
	assert_int_equal(buf_get_u8(&r, &v), BUF_ERR_SHORT);
	assert_int_equal(buf_expect_end(&r), BUF_OK);
	/* A NULL buffer with a length is still empty, never dereferenced. */
	buf_reader_init(&r, NULL, 5);
	assert_int_equal(buf_left(&r), 0);
}

static void
test_writer_sticky(void **state)
{
	uint8_t mem[3];
	struct buf_writer w;

	(void)state;
	buf_writer_init(&w, mem, sizeof(mem));
	buf_put_u16be(&w, 0xA1B2);
	assert_int_equal(buf_writer_error(&w), BUF_OK);
	buf_put_u16be(&w, 0xC3D4);
	assert_int_equal(buf_writer_error(&w), BUF_ERR_NOSPACE);
	buf_put_u8(&w, 0xEE);	/* would fit, but the error is sticky */
	assert_int_equal(w.len, 2);
	assert_int_equal(buf_writer_error(&w), BUF_ERR_NOSPACE);
}

static void
test_tlv_lengths_roundtrip(void **state)
{
	static uint8_t val[70000];
	static uint8_t out[70010];
	const size_t lens[] = { 0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000 };
	const uint32_t tags[] = { 0x53, 0x7F49, 0x5FC105 };
	struct buf_writer w;
	struct buf_reader r;
	struct tlv t;
	size_t i, j;

	(void)state;
	memset(val, 0x5A, sizeof(val));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < 3; j++) {
			buf_writer_init(&w, out, sizeof(out));
			tlv_put(&w, tags[j], val, lens[i]);
			assert_int_equal(buf_writer_error(&w), BUF_OK);
			assert_int_equal(w.len, tlv_size(tags[j], lens[i]));
			buf_reader_init(&r, out, w.len);
			assert_int_equal(tlv_next(&r, &t), TLV_OK);
			assert_int_equal(t.tag, tags[j]);
			assert_int_equal(t.len, lens[i]);
			assert_int_equal(buf_left(&r), 0);
		}
	}
}

static void
test_tlv_known_encodings(void **state)
{
	uint8_t out[300];
	struct buf_writer w;
	const uint8_t want81[] = { 0x53, 0x81, 0x80 };
	const uint8_t want82[] = { 0x7F, 0x49, 0x82, 0x01, 0x09 };

	(void)state;
	buf_writer_init(&w, out, sizeof(out));
	tlv_put_header(&w, 0x53, 0x80);
	assert_memory_equal(out, want81, sizeof(want81));
	buf_writer_init(&w, out, sizeof(out));
	tlv_put_header(&w, 0x7F49, 0x109);
	assert_memory_equal(out, want82, sizeof(want82));
}

static void
test_tlv_rejects_malformed(void **state)
{
	const uint8_t trunc_val[] = { 0x53, 0x05, 0x01, 0x02 };
	const uint8_t trunc_len[] = { 0x53, 0x82, 0x01 };
	const uint8_t indefinite[] = { 0x53, 0x80, 0x00, 0x00 };
	const uint8_t long_len[] = { 0x53, 0x84, 0, 0, 0, 1, 0 };
	const uint8_t long_tag[] = { 0x5F, 0xC1, 0x85, 0x01, 0x00 };
	const uint8_t trailing[] = { 0x70, 0x01, 0xAA, 0x00 };
	struct tlv t;

	(void)state;
	assert_int_equal(tlv_unwrap(trunc_val, sizeof(trunc_val), 0x53, &t), TLV_ERR_SHORT);
	assert_int_equal(tlv_unwrap(trunc_len, sizeof(trunc_len), 0x53, &t), TLV_ERR_SHORT);
	assert_int_equal(tlv_unwrap(indefinite, sizeof(indefinite), 0x53, &t), TLV_ERR_LENGTH);
	assert_int_equal(tlv_unwrap(long_len, sizeof(long_len), 0x53, &t), TLV_ERR_LENGTH);
	assert_int_equal(tlv_unwrap(long_tag, sizeof(long_tag), 0x5FC185, &t), TLV_ERR_TAG);
	assert_int_equal(tlv_unwrap(trailing, sizeof(trailing), 0x70, &t), TLV_ERR_TRAILING);
	assert_int_equal(tlv_unwrap(trailing, 3, 0x71, &t), TLV_ERR_TAG);
}

static void
test_tlv_find(void **state)
{
	/* A certificate object body: 70 {..} 71 01 00 FE 00 */
	const uint8_t obj[] = { 0x70, 0x02, 0x30, 0x00, 0x71, 0x01, 0x01, 0xFE, 0x00 };
	const uint8_t bad[] = { 0x70, 0x02, 0x30, 0x00, 0x71, 0x05, 0x01 };
	struct tlv t;

	(void)state;
	assert_int_equal(tlv_find(obj, sizeof(obj), 0x71, &t), TLV_OK);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.val[0], 0x01);
	assert_int_equal(tlv_find(obj, sizeof(obj), 0xFE, &t), TLV_OK);
	assert_int_equal(t.len, 0);
	assert_int_equal(tlv_find(obj, sizeof(obj), 0x72, &t), TLV_ERR_NOTFOUND);
	/* The wanted tag comes first, but what follows is malformed. */
	assert_int_equal(tlv_find(bad, sizeof(bad), 0x70, &t), TLV_ERR_SHORT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_bounds),
		cmocka_unit_test(test_reader_null_empty),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_writer_sticky),
		cmocka_unit_test(test_tlv_lengths_roundtrip),
		cmocka_unit_test(test_tlv_known_encodings),
		cmocka_unit_test(test_tlv_rejects_malformed),
		cmocka_unit_test(test_tlv_find),
	};

	return cmocka_run_group_tests_name("tlv", tests, NULL, NULL);
}
