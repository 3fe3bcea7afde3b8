/*
 * prof_check_config: everything `cardmgr check-config` verifies, in one
 * pass that reports every error rather than stopping at the first.
 */
#include "profile.h"

#include <stdio.h>
#include <string.h>

#include "lifecycle.h"
#include "operators.h"
#include "pcfg.h"
#include "pin.h"
#include "prof_int.h"

/* Each blocklist once, however many profiles name it. */
static int
check_blocklists(const char *dir, const struct prof_set *set,
    struct pcfg_diag *d)
{
	char path[4096], errs[2048];
	const struct prof *p, *q;
	struct pin_blocklist *bl;
	size_t i, j;
	int rc = PROF_OK, brc;

	for (i = 0; (p = prof_set_get(set, i)) != NULL; i++) {
		if (p->pin.blocklist[0] == '\0')
			continue;
		for (j = 0; j < i; j++)
			if (strcmp((q = prof_set_get(set, j))->pin.blocklist,
			    p->pin.blocklist) == 0)
				break;
		if (j < i)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, p->pin.blocklist);
		if ((brc = pin_blocklist_load(path, &bl, errs, sizeof(errs))) ==
		    PIN_OK) {
			pin_blocklist_free(bl);
			continue;
		}
		pcfg_diag_merge(d, errs);
		if (rc == PROF_OK)
			rc = brc == PIN_ERR_PERM ? PROF_ERR_PERM :
			    brc == PIN_ERR_IO ? PROF_ERR_IO : PROF_ERR_CONFIG;
	}
	return rc;
}

int
prof_check_config(const char *profiles_dir, const char *operators_file,
    char *errbuf, size_t cap, unsigned *nerrors)
{
	char errs[8192];
	struct prof_set *set = NULL;
	struct opr_map *map = NULL;
	struct pcfg_diag d;
	int rc, brc, orc;

	pcfg_diag_init(&d, errbuf, cap);
	if (nerrors != NULL)
		*nerrors = 0;
	if (profiles_dir == NULL)
		return PROF_ERR_ARG;
	rc = prof_load_dir_diag(profiles_dir, &set, &d);
	brc = check_blocklists(profiles_dir, set, &d);
	if (rc == PROF_OK)
		rc = brc;
	if (operators_file != NULL) {
		orc = opr_load(operators_file, &map, errs, sizeof(errs));
		if (orc != OPR_OK) {
			pcfg_diag_merge(&d, errs);
			if (rc == PROF_OK)
				rc = orc == OPR_ERR_PERM ? PROF_ERR_PERM :
				    orc == OPR_ERR_IO ? PROF_ERR_IO :
				    PROF_ERR_CONFIG;
		}
		opr_free(map);
	}
	prof_set_free(set);
	if (nerrors != NULL)
		*nerrors = d.count;
	if (rc == PROF_OK && d.count > 0)
		rc = PROF_ERR_CONFIG;
	return rc;
}

/* "a, b" for role bits, or "none". */
static void
role_names(uint32_t roles, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t b = 1; b != 0 && n + 1 < cap; b <<= 1)
		if ((roles & b) != 0 && opr_role_name(b) != NULL)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s",
			    n ? ", " : "", opr_role_name(b));
	if (buf[0] == '\0')
		snprintf(buf, cap, "none");
}

unsigned
prof_check_roles(const struct prof_set *set, const struct lc *lc,
    const char *profiles_dir, char *errbuf, size_t cap)
{
	static const struct { enum prof_op op; const char *tr; } pairs[] = {
		{ PROF_OP_ISSUE, "issue" }, { PROF_OP_RETIRE, "retire" },
		{ PROF_OP_SUSPEND, "suspend" }, { PROF_OP_REPLACE, "replace" },
		{ PROF_OP_TEMPORARY, "forgotten" },
	};
	const struct prof *tp = prof_find(set, "temporary");
	struct pcfg_diag d;
	char file[512], a[160], b[160], c[160];
	unsigned found = 0;
	size_t len = errbuf != NULL ? strlen(errbuf) : 0;

	if (set == NULL || lc == NULL || errbuf == NULL || len >= cap)
		return 0;
	pcfg_diag_init(&d, errbuf + len, cap - len);
	for (size_t i = 0; i < prof_set_count(set); i++) {
		const struct prof *p = prof_set_get(set, i);

		for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
			const struct lc_transition *t = lc_find(lc, pairs[k].tr);
			uint32_t want = p->roles[pairs[k].op], may;
			int temp = pairs[k].op == PROF_OP_TEMPORARY &&
			    tp != NULL && tp != p;

			if (want == 0 || t == NULL)
				continue;	/* not granted, or lc_check's */
			may = want & t->roles &
			    (temp ? tp->roles[PROF_OP_ISSUE] : ~0u);
			if (may != 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s.conf",
			    profiles_dir, p->name);
			role_names(want, a, sizeof(a));
			role_names(t->roles, b, sizeof(b));
			role_names(temp ? tp->roles[PROF_OP_ISSUE] : 0, c,
			    sizeof(c));
			pcfg_diag_add(&d, file, 0, "roles.%s = [%s]: no role "
			    "may run it: the lifecycle's '%s' allows [%s]%s%s%s",
			    prof_op_name(pairs[k].op), a, t->name, b,
			    temp ? " and the temporary profile's issue [" : "",
			    temp ? c : "", temp ? "]" : "");
			found++;
		}
	}
	return found;
}
