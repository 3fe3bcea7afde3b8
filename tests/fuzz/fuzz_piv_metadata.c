/* libFuzzer harness: piv_metadata_parse (F7 GET METADATA response). */
#include <stdint.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct piv_metadata m;

	if (piv_metadata_parse(data, size, &m) == PIV_OK)
		piv_metadata_clear(&m);
	return 0;
}
