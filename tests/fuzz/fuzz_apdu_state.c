/*
 * libFuzzer harness: the virtual card's state file parser (vc_store.c).
 * Whatever loads must serialize, reload and serialize again to the same
 * bytes: a state file the card accepts is one it can keep writing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vcard/vc_card.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vc_card *c = NULL, *d = NULL;
	uint8_t *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (vc_card_load_mem(data, size, &c) != VC_OK)
		return 0;
	if (vc_card_serialize(c, &b1, &l1) != VC_OK ||
	    vc_card_load_mem(b1, l1, &d) != VC_OK ||
	    vc_card_serialize(d, &b2, &l2) != VC_OK ||
	    l1 != l2 || memcmp(b1, b2, l1) != 0)
		abort();
	vc_card_free_bytes(b1, l1);
	vc_card_free_bytes(b2, l2);
	vc_card_free(c);
	vc_card_free(d);
	return 0;
}
