/*
 * cardmgr approvals: approval requests for key recovery (engine/approve.c).
 *
 *   cardmgr approvals list [--state S]      mine, those I may decide (all:
 *                                           auditor, administrator)
 *   cardmgr approvals show ID
 *   cardmgr approvals approve ID
 *   cardmgr approvals deny ID [--reason TEXT]
 *
 * A request is made by `cardmgr replace` (or `temporary`) on a card whose
 * profile asks for approvals, and carried out by the same command with
 * --approval ID once approved.
 */
#include "cardmgr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ID: digits only, 1..20 of them (the engine checks it again). */
static int
id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 20 && strspn(s, "0123456789") == n && s[0] != '0';
}

int
cm_approval(struct cm *cm, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *reason = NULL, *sub;
	char path[128];
	json_t *b;
	int c;

	if (argc < 2)
		return CM_EXIT_USAGE;
	sub = argv[1];
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		if (c == 's' && strcmp(sub, "list") == 0)
			state = optarg;
		else if (c == 'r' && strcmp(sub, "deny") == 0)
			reason = optarg;
		else if (c == 'j')
			cm->json = 1;
		else
			return CM_EXIT_USAGE;
	}
	optind++;	/* past argv[0] */
	if (strcmp(sub, "list") == 0) {
		if (optind != argc)
			return CM_EXIT_USAGE;
		if (state != NULL) {
			char *e = cm_escape(state);

			if (e == NULL)
				return CM_EXIT_ERROR;
			snprintf(path, sizeof(path), "/v1/approvals?state=%.64s", e);
			free(e);
		} else {
			snprintf(path, sizeof(path), "/v1/approvals");
		}
		return cm_call(cm, "GET", path, NULL);
	}
	if (optind != argc - 1 || !id_ok(argv[optind]))
		return CM_EXIT_USAGE;
	if (strcmp(sub, "show") == 0) {
		snprintf(path, sizeof(path), "/v1/approvals/%s", argv[optind]);
		return cm_call(cm, "GET", path, NULL);
	}
	if (strcmp(sub, "approve") != 0 && strcmp(sub, "deny") != 0)
		return CM_EXIT_USAGE;
	snprintf(path, sizeof(path), "/v1/approvals/%s/%s", argv[optind], sub);
	b = json_object();
	if (reason != NULL)
		json_object_set_new(b, "reason", json_string(reason));
	return cm_call(cm, "POST", path, b);
}
