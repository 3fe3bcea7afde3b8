/* libFuzzer harness: the bounded CMP DER walks of tests/ca/cader.c (what the
 * test CA and the station use where OpenSSL 3.0 has no getter). */
#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "ca/cader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char profile[64];
	const uint8_t *p;
	size_t n;
	int reason;
	EVP_PKEY *pk = NULL;

	(void)cader_profile(data, size, profile, sizeof(profile));
	(void)cader_rr_reason(data, size, &reason);
	(void)cader_sender_kid(data, size, &p, &n);
	(void)cader_extracert0(data, size, &p, &n);
	(void)cader_tmpl_pubkey(data, size, &pk);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return 0;
}
