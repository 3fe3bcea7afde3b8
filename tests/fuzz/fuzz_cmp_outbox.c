/* libFuzzer harness: the outbox record decoder (LMDB records are untrusted
 * input after a crash or tampering); a record that decodes must re-encode to
 * the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbox_op op;
	uint8_t *again = NULL;
	size_t len;

	op.id = 1;
	if (outbox_rec_decode(data, size, &op) != OUTBOX_OK)
		return 0;
	if (outbox_rec_encode(&op, &again, &len) != OUTBOX_OK || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	outbox_op_clear(&op);
	return 0;
}
