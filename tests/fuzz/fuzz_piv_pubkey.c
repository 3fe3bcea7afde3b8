/* libFuzzer harness: piv_pubkey_parse (GENERATE response 7F49 {81,82 | 86}).
 * The first byte picks the algorithm the host asked for. */
#include <stdint.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int algs[] = { PIV_ALG_RSA2048, PIV_ALG_RSA3072, PIV_ALG_ECCP256,
		PIV_ALG_ECCP384, PIV_ALG_RSA1024, PIV_ALG_3DES };
	EVP_PKEY *k = NULL;

	if (size < 1)
		return 0;
	if (piv_pubkey_parse(algs[data[0] % 6], data + 1, size - 1, &k) == PIV_OK &&
	    k == NULL)
		__builtin_trap();
	EVP_PKEY_free(k);
	return 0;
}
