/*
 * cardmgr-policy-check: check a profile directory (and an operator map)
 * the way `cardmgr check-config` will, until the lead wires that command.
 *
 *   cardmgr-policy-check PROFILES_DIR [OPERATORS_FILE]
 *
 * Prints every error as file:line: message on stderr; exits 0 when all is
 * well, 1 on any error, 2 on bad usage.
 */
#include <stdio.h>

#include "profile.h"

int
main(int argc, char **argv)
{
	static char errs[65536];
	unsigned n = 0;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s PROFILES_DIR [OPERATORS_FILE]\n",
		    argv[0]);
		return 2;
	}
	rc = prof_check_config(argv[1], argc > 2 ? argv[2] : NULL, errs,
	    sizeof(errs), &n);
	if (rc != PROF_OK) {
		fputs(errs, stderr);
		fprintf(stderr, "%u error%s (%s)\n", n, n == 1 ? "" : "s",
		    prof_strerror(rc));
		return 1;
	}
	printf("configuration OK\n");
	return 0;
}
