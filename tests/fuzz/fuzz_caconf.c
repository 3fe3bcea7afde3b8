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

/*
 * A parsed server list: 1..CACONF_MAX_SERVERS endpoints, each a terminated
 * non-empty host name with a port in range, no endpoint twice, and the
 * first one also in server / port.
 */
static void
check_servers(const struct caconf *c)
{
	int i, j;

	if (c->nservers < 1 || c->nservers > CACONF_MAX_SERVERS ||
	    strcmp(c->server, c->servers[0]) != 0 ||
	    c->port != c->server_ports[0])
		abort();
	for (i = 0; i < c->nservers; i++) {
		if (memchr(c->servers[i], '\0', CACONF_HOST) == NULL ||
		    c->servers[i][0] == '\0' || c->server_ports[i] < 1 ||
		    c->server_ports[i] > 65535)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(c->servers[i], c->servers[j]) == 0 &&
			    c->server_ports[i] == c->server_ports[j])
				abort();
	}
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
	if (rc == CACONF_OK)
		check_servers(&c);
	return 0;
}
