/* cardmgr-ca: the station's own enrollment (ir + PBM) and renewal (kur). */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cacli.h"
#include "ca/cafile.h"

int
cli_cmd_enroll_station(struct cli *c)
{
	const char *ref = cli_opt(c, "--ref"), *sf = cli_opt(c, "--secret-file");
	char serial[CAST_SERIAL_LEN];
	uint8_t sec[256];
	size_t slen = 0;
	int rc;

	if (ref == NULL || sf == NULL)
		return EXIT_USAGE;
	if ((rc = cafile_read_secret(sf, sec, sizeof(sec), &slen)) != CAFILE_OK) {
		cli_errx("one-time secret %s: %s", sf, cafile_strerror(rc));
		return 1;
	}
	rc = cast_enroll_station(c->st, ref, sec, slen, cli_opt(c, "--subject"),
	    serial);
	OPENSSL_cleanse(sec, sizeof(sec));
	if (rc == CAST_OK)
		printf("station certificate: serial %s\n", serial);
	return cli_exit(c, rc, NULL);
}

int
cli_cmd_renew_station(struct cli *c)
{
	char serial[CAST_SERIAL_LEN];
	int rc, renewed;

	rc = cast_renew_station(c->st, cli_opt(c, "--force") != NULL,
	    cli_opt(c, "--same-key") != NULL, &renewed, serial);
	if (rc == CAST_OK && !renewed)
		printf("renewal not due\n");
	else if (rc == CAST_OK)
		printf("station certificate: serial %s\n", serial);
	return cli_exit(c, rc, NULL);
}
