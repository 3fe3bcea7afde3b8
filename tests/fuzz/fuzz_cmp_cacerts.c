/* libFuzzer harness: the station's parser of a genp caCerts value
 * (ca_parse_cacerts: bounded SEQUENCE OF Certificate). */
#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	if (sk == NULL)
		return 0;
	(void)ca_parse_cacerts(data, size, sk);
	if (sk_X509_num(sk) > 8)
		__builtin_trap();
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return 0;
}
