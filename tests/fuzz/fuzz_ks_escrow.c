/*
 * libFuzzer harness: the escrow blob decoder (blobs come back from the
 * inventory, maybe from another station, and are untrusted). A blob that
 * parses must be exactly covered by its fields, every pointer inside the input,
 * and the authenticated header a prefix of it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyd/ks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
	if (p < data || n > size || (size_t)(p - data) > size - n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ks_escrow e;

	if (ks_escrow_parse(data, size, &e) != KS_OK) {
		/* a refusal leaves nothing half-filled behind */
		if (e.ct != NULL || e.wrapped != NULL || e.krk_version != 0)
			abort();
		return 0;
	}
	if (e.format != KS_ESCROW_FORMAT || memcmp(data, KS_ESCROW_MAGIC, 4) != 0 ||
	    e.krk_version == 0 || e.wrapped_len == 0 ||
	    e.wrapped_len > KS_ESCROW_WRAPPED_MAX || e.ct_len == 0 ||
	    e.ct_len > KS_ESCROW_CT_MAX || e.header != data ||
	    e.header_len != 12 + e.wrapped_len ||
	    e.header_len + KS_ESCROW_NONCE + 4 + e.ct_len + KS_ESCROW_TAG != size)
		abort();
	inside(data, size, e.header, e.header_len);
	inside(data, size, e.wrapped, e.wrapped_len);
	inside(data, size, e.nonce, KS_ESCROW_NONCE);
	inside(data, size, e.ct, e.ct_len);
	inside(data, size, e.tag, KS_ESCROW_TAG);
	if (e.wrapped != data + 12 || e.nonce != data + e.header_len ||
	    e.ct != e.nonce + KS_ESCROW_NONCE + 4 || e.tag != e.ct + e.ct_len)
		abort();
	return 0;
}
