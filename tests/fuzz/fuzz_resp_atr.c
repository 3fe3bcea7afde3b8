/* libFuzzer harness: pcsc_atr_parse (ATR bytes from the reader). */
#include <stdint.h>
#include <stdlib.h>

#include "pcsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcsc_atr a;

	if (pcsc_atr_parse(data, size, &a) == PCSC_OK &&
	    (a.hist_len > 15 || a.protocols == 0))
		abort();
	return 0;
}
