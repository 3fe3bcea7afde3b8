/*
 * libFuzzer harness: cardmgr/ca/caconf.c, the strict parser of the CA link's
 * configuration file. caconf_load reads a path (it checks the file's mode),
 * so each input is written to one private 0600 scratch file.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/caconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/fuzz_caconf.XXXXXX";
static int fd = -1;

static void
cleanup(void)
{
	if (fd >= 0)
		unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct caconf c;
	char err[256];
	int rc;

	if (fd < 0) {
		if ((fd = mkstemp(path)) < 0)
			abort();
		atexit(cleanup);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	rc = caconf_load(path, &c, err, sizeof(err));
	/* Every refusal says where and why; success fills what is required. */
	if (rc != CACONF_OK && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL))
		abort();
	if (rc == CACONF_OK && memchr(c.server, '\0', sizeof(c.server)) == NULL)
		abort();
	return 0;
}
