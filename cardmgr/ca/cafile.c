/* cafile: atomic file replace and PEM certificate loading. See cafile.h. */
#include "cafile.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/pem.h>

int
cafile_write_atomic(const char *path, const void *data, size_t len, int sync)
{
	char tmp[PATH_MAX];
	FILE *f;
	int n, ok;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok &= fflush(f) == 0 && (!sync || fsync(fileno(f)) == 0);
	ok &= fclose(f) == 0;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

X509 *
cafile_load_pem_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}
