/*
 * dconf_stock: the "stock" group of cardmgrd.conf (docs/lifecycle.md,
 * "Blank stock"):
 *
 *   stock = {
 *     location = "hq-desk";    # this station's stock; "" or absent: any
 *     require = true;          # issuance takes a blank card only from stock
 *     thresholds = ( { model = "piv-yubico"; location = "hq-desk"; min = 5; } );
 *   };
 *
 * Strict like the rest of the file: unknown members, wrong types, an empty
 * or over-long name, a duplicate (model, location) pair are file:line errors.
 */
#include "dconf.h"

#include <stdio.h>
#include <string.h>

#include <libconfig.h>

static int
sfail(char *err, size_t cap, const char *file, const config_setting_t *s,
    const char *msg)
{
	snprintf(err, cap, "%s:%d: stock: %s", file,
	    (int)config_setting_source_line(s), msg);
	return -1;
}

/* A stock name: 1..cap-1 bytes of [A-Za-z0-9_.-] (the API's id charset). */
int
dconf_stock_name_ok(const char *v, size_t cap)
{
	size_t n;

	if (v == NULL || (n = strlen(v)) == 0 || n >= cap || v[0] == '.')
		return 0;
	return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-") == n;
}

static int
threshold(const config_setting_t *g, struct dconf_stock *st, const char *file,
    char *err, size_t cap)
{
	struct dconf_stock_min *m;
	const char *model = NULL, *loc = NULL;
	int min = -1, n = config_setting_length(g);

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return sfail(err, cap, file, g, "a threshold is a group");
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);

		if (strcmp(name, "model") == 0)
			model = config_setting_get_string(s);
		else if (strcmp(name, "location") == 0)
			loc = config_setting_get_string(s);
		else if (strcmp(name, "min") == 0 &&
		    config_setting_type(s) == CONFIG_TYPE_INT)
			min = config_setting_get_int(s);
		else
			return sfail(err, cap, file, s, "unknown threshold "
			    "setting (model, location, min)");
	}
	if (!dconf_stock_name_ok(model, sizeof(m->model)) ||
	    !dconf_stock_name_ok(loc, sizeof(m->location)))
		return sfail(err, cap, file, g, "a threshold needs model and "
		    "location, each 1..63 of [A-Za-z0-9_.-]");
	if (min < 0 || min > 100000)
		return sfail(err, cap, file, g, "min must be 0..100000");
	for (size_t i = 0; i < st->nmin; i++)
		if (strcmp(st->min[i].model, model) == 0 &&
		    strcmp(st->min[i].location, loc) == 0)
			return sfail(err, cap, file, g, "two thresholds for "
			    "one model and location");
	if (st->nmin >= DCONF_STOCK_MIN_MAX)
		return sfail(err, cap, file, g, "at most 64 thresholds");
	m = &st->min[st->nmin++];
	snprintf(m->model, sizeof(m->model), "%s", model);
	snprintf(m->location, sizeof(m->location), "%s", loc);
	m->min = (unsigned)min;
	return 0;
}

int
dconf_stock(const config_setting_t *grp, struct dconf_stock *st,
    const char *file, char *err, size_t cap)
{
	int n;

	if (config_setting_type(grp) != CONFIG_TYPE_GROUP)
		return sfail(err, cap, file, grp, "must be a group { ... }");
	n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s), *v;

		if (strcmp(name, "location") == 0) {
			v = config_setting_get_string(s);
			if (v == NULL || (v[0] != '\0' &&
			    !dconf_stock_name_ok(v, sizeof(st->location))))
				return sfail(err, cap, file, s, "location: 0..63 "
				    "of [A-Za-z0-9_.-]");
			snprintf(st->location, sizeof(st->location), "%s", v);
		} else if (strcmp(name, "require") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				return sfail(err, cap, file, s, "require must be "
				    "true or false");
			st->require = config_setting_get_bool(s);
		} else if (strcmp(name, "thresholds") == 0) {
			int k = config_setting_length(s);

			if (config_setting_type(s) != CONFIG_TYPE_LIST)
				return sfail(err, cap, file, s, "thresholds is a "
				    "list ( { ... }, ... )");
			for (int j = 0; j < k; j++)
				if (threshold(config_setting_get_elem(s,
				    (unsigned)j), st, file, err, cap) != 0)
					return -1;
		} else {
			return sfail(err, cap, file, s, "unknown setting "
			    "(location, require, thresholds)");
		}
	}
	return 0;
}

const struct dconf_stock_min *
dconf_stock_min(const struct dconf_stock *st, const char *model,
    const char *location)
{
	for (size_t i = 0; i < st->nmin; i++)
		if (strcmp(st->min[i].model, model) == 0 &&
		    strcmp(st->min[i].location, location) == 0)
			return &st->min[i];
	return NULL;
}
