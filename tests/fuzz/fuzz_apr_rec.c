/*
 * libFuzzer harness: the approval request record decoder (engine/apr_rec.c;
 * LMDB records are untrusted after a crash or tampering). A record that
 * decodes must re-encode to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/apr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apr *a = malloc(sizeof(*a));
	uint8_t *again = NULL;
	size_t len = 0;

	if (a == NULL)
		return 0;
	if (apr_decode(data, size, a) == APR_OK) {
		if (apr_encode(a, &again, &len) != APR_OK || len != size ||
		    memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	free(a);
	return 0;
}
