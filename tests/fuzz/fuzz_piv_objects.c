/* libFuzzer harness: the small PIV object parsers. The first byte picks one:
 * 0 discovery (7E content), 1 key history, 2 CCC, 3 printed information. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
keyhist(const uint8_t *d, size_t n)
{
	struct piv_keyhist k, r;
	uint8_t *obj = NULL;
	size_t len = 0;

	if (piv_keyhist_parse(d, n, &k) != PIV_OK)
		return;
	if (piv_keyhist_build(&k, &obj, &len) != PIV_OK ||
	    piv_keyhist_parse(obj, len, &r) != PIV_OK || memcmp(&k, &r, sizeof(k)) != 0)
		abort();
	free(obj);
}

static void
printed(const uint8_t *d, size_t n)
{
	struct piv_printed p, q;
	uint8_t *obj = NULL;
	size_t len = 0;

	if (piv_printed_parse(d, n, &p) != PIV_OK)
		return;
	if (piv_printed_build(&p, &obj, &len) != PIV_OK ||
	    piv_printed_parse(obj, len, &q) != PIV_OK || memcmp(&p, &q, sizeof(p)) != 0)
		abort();
	free(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct piv_discovery disc;
	struct piv_ccc ccc;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0: (void)piv_discovery_parse(data + 1, size - 1, &disc); break;
	case 1: keyhist(data + 1, size - 1); break;
	case 2: (void)piv_ccc_parse(data + 1, size - 1, &ccc); break;
	case 3: printed(data + 1, size - 1); break;
	}
	return 0;
}
