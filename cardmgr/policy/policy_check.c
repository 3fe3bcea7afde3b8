/*
 * cardmgr-policy-check: check a profile directory (and an operator map)
 * the way `cardmgr check-config` will, until the lead wires that command.
 *
 *   cardmgr-policy-check PROFILES_DIR [OPERATORS_FILE [LIFECYCLE_FILE]]
 *
 * Prints every error as file:line: message on stderr; exits 0 when all is
 * well, 1 on any error (also when "configuration OK" cannot be written:
 * SIGPIPE is ignored), 2 on bad usage.
 */
#include <signal.h>
#include <stdio.h>

#include "lifecycle.h"
#include "profile.h"

int
main(int argc, char **argv)
{
	static char errs[65536];
	static char lerrs[16384];
	unsigned n = 0, ln = 0;
	int rc, lrc = LC_OK, roles = 0;

	/* A reader of our output gone is an error (exit 1), not SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s PROFILES_DIR [OPERATORS_FILE "
		    "[LIFECYCLE_FILE]]\n", argv[0]);
		return 2;
	}
	rc = prof_check_config(argv[1], argc > 2 && argv[2][0] ? argv[2] : NULL,
	    errs, sizeof(errs), &n);
	if (argc > 3)
		lrc = lc_check_config(argv[3], lerrs, sizeof(lerrs), &ln);
	if (argc > 3 && rc == PROF_OK && lrc == LC_OK) {
		struct prof_set *ps = NULL;
		struct lc *lc = NULL;

		if (prof_load_dir(argv[1], &ps, errs, sizeof(errs)) == 0 &&
		    lc_load(argv[3], &lc, lerrs, sizeof(lerrs)) == LC_OK &&
		    (ln = prof_check_roles(ps, lc, argv[1], lerrs,
		    sizeof(lerrs))) > 0) {
			lrc = LC_ERR_CONFIG;
			roles = 1;
		}
		lc_free(lc);
		prof_set_free(ps);
	}
	if (rc != PROF_OK || lrc != LC_OK) {
		fputs(errs, stderr);
		fputs(lerrs, stderr);
		n += ln;
		fprintf(stderr, "%u error%s (%s)\n", n, n == 1 ? "" : "s",
		    rc != PROF_OK ? prof_strerror(rc) : roles ?
		    "profiles and lifecycle disagree" : lc_strerror(lrc));
		return 1;
	}
	printf("configuration OK\n");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: output lost: cannot write to standard "
		    "output\n", argv[0]);
		return 1;
	}
	return 0;
}
