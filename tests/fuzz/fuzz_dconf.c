/*
 * libFuzzer harness: cardmgrd's configuration parser (parent/dconf.c) from
 * memory. Every refusal must say where (a "fuzz.conf:" prefix); whatever is
 * accepted must be in range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parent/dconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* XXX libconfig 1.5 leaks the token it holds when its grammar refuses one
 * (see fuzz_prof.c); leaks anywhere else are still reported. */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dconf c;
	char err[2048];

	if (dconf_parse("fuzz.conf", (const char *)data, size, &c, err,
	    sizeof(err)) != 0) {
		if (strncmp(err, "fuzz.conf", 9) != 0)
			abort();
		return 0;
	}
	if (c.api_port < 0 || c.api_port > 65535 || c.ca_retry_s < 1 ||
	    c.ca_retry_s > 3600 || c.map_size < ((size_t)1 << 20) ||
	    strlen(c.fascn) != 32 || c.state_dir[0] == '\0')
		abort();
	return 0;
}
