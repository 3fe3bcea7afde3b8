/* libFuzzer harness: drivers/tlv.c over arbitrary bytes, recursively. */
#include <stddef.h>
#include <stdint.h>

#include "tlv.h"

static void
walk(const uint8_t *data, size_t len, int depth)
{
	struct buf_reader r;
	struct tlv t;

	buf_reader_init(&r, data, len);
	while (buf_left(&r) > 0 && tlv_next(&r, &t) == TLV_OK) {
		/* Constructed tags (bit 6 of the first byte) hold more TLVs. */
		if (depth < 8 && t.len > 0)
			walk(t.val, t.len, depth + 1);
	}
	(void)tlv_find(data, len, 0x53, &t);
	(void)tlv_unwrap(data, len, 0x7F49, &t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size, 0);
	return 0;
}
