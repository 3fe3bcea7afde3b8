/*
 * libFuzzer harness: the notice journal's record decoder (notify/notify.c;
 * LMDB records are untrusted after a crash or tampering). A record that
 * decodes must re-encode to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ntf_notice *n = malloc(sizeof(*n));
	uint8_t *again = NULL;
	size_t len = 0;

	if (n == NULL)
		return 0;
	if (ntf_rec_decode(data, size, n) == NTF_OK) {
		if (ntf_rec_encode(n, &again, &len) != NTF_OK || len != size ||
		    memcmp(again, data, size) != 0)
			abort();
		free(again);
	}
	free(n);
	return 0;
}
