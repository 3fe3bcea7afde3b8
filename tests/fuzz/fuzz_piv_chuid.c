/* libFuzzer harness: piv_chuid_parse (CHUID content) and the FASC-N decoder; a
 * parsed CHUID with all fields must survive build -> parse unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct piv_chuid c, d;
	uint8_t *obj = NULL;
	size_t len = 0;
	char digits[33];

	if (piv_chuid_parse(data, size, &c) != PIV_OK)
		return 0;
	if (c.has_fascn)
		(void)piv_fascn_decode(c.fascn, digits);
	if (c.has_fascn && c.has_guid && c.has_expiry &&
	    piv_chuid_build(&c, &obj, &len) == PIV_OK) {
		if (piv_chuid_parse(obj, len, &d) != PIV_OK ||
		    memcmp(c.fascn, d.fascn, 25) != 0 || memcmp(c.guid, d.guid, 16) != 0 ||
		    strcmp(c.expiry, d.expiry) != 0)
			abort();
		free(obj);
	}
	return 0;
}
