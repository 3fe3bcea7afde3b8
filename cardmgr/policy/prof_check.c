/*
 * prof_check_config: everything `cardmgr check-config` verifies, in one
 * pass that reports every error rather than stopping at the first.
 */
#include "profile.h"

#include <stdio.h>
#include <string.h>

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
