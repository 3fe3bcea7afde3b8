/* libFuzzer harness: piv_certobj_parse (53 content: 70 cert, 71 gzip flag, FE),
 * including the bounded gunzip. A parsed certificate must rebuild and reparse. */
#include <stdint.h>
#include <stdlib.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509 *x = NULL, *y = NULL;
	uint8_t *obj = NULL;
	size_t len = 0;

	if (piv_certobj_parse(data, size, &x) != PIV_OK)
		return 0;
	if (piv_certobj_build(x, size & 1, &obj, &len) == PIV_OK) {
		if (piv_certobj_parse(obj, len, &y) != PIV_OK || X509_cmp(x, y) != 0)
			abort();
		X509_free(y);
		free(obj);
	}
	X509_free(x);
	return 0;
}
