/*
 * cardmgr stock: blank cards in stock (docs/lifecycle.md, "Blank stock").
 *
 *   stock receive --model M --location L (--serials LIST | --reader R)
 *                 [--batch B]
 *   stock list [--model M] [--location L] [--format table|json|csv]
 *   stock levels [--format table|json|csv]     (= report stock)
 *   stock move SERIAL --location L [--note TEXT]
 *   stock dispose SERIAL --reason TEXT
 *
 * The serial list ("6101-6150,6200") is parsed by the station, not here:
 * one parser (engine/stock_parse.c) for the CLI, the kiosk and the API.
 */
#include "cardmgr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sopts {
	const char *model, *location, *serials, *reader, *batch, *note;
	const char *reason, *format;
};

/* Options of argv (argv[0] the subcommand); allowed: their short letters. */
static int
sparse(struct cm *cm, int argc, char **argv, const char *allowed,
    struct sopts *o, int *first)
{
	static const struct option lo[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "location", required_argument, NULL, 'l' },
		{ "serials", required_argument, NULL, 's' },
		{ "reader", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "note", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'e' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'j') {
			cm->json = 1;
			continue;
		}
		if (c == '?' || strchr(allowed, c) == NULL) {
			fprintf(stderr, "cardmgr: stock %s: option not taken "
			    "here\n", argv[0]);
			return -1;
		}
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'l': o->location = optarg; break;
		case 's': o->serials = optarg; break;
		case 'r': o->reader = optarg; break;
		case 'b': o->batch = optarg; break;
		case 'n': o->note = optarg; break;
		case 'e': o->reason = optarg; break;
		case 'f': o->format = optarg; break;
		}
	}
	*first = optind;
	return 0;
}

static const char *
fmt(struct cm *cm, const char *f)
{
	if (f == NULL)
		return cm->json ? "json" : "table";
	if (strcmp(f, "table") != 0 && strcmp(f, "json") != 0 &&
	    strcmp(f, "csv") != 0)
		return NULL;
	return f;
}

static int
receive(struct cm *cm, const struct sopts *o)
{
	json_t *b;

	if (o->model == NULL || o->location == NULL ||
	    (o->serials == NULL) == (o->reader == NULL))
		return CM_EXIT_USAGE;
	b = json_pack("{s:s, s:s}", "model", o->model, "location", o->location);
	if (o->serials != NULL)
		json_object_set_new(b, "serials", json_string(o->serials));
	if (o->reader != NULL)
		json_object_set_new(b, "reader", json_string(o->reader));
	if (o->batch != NULL)
		json_object_set_new(b, "batch", json_string(o->batch));
	return cm_call(cm, "POST", "/v1/stock/receive", b);
}

static int
list(struct cm *cm, const struct sopts *o)
{
	char base[512];
	char *m = NULL, *l = NULL;
	const char *f = fmt(cm, o->format);
	int rc;

	if (f == NULL)
		return CM_EXIT_USAGE;
	if ((o->model != NULL && (m = cm_escape(o->model)) == NULL) ||
	    (o->location != NULL && (l = cm_escape(o->location)) == NULL)) {
		free(m);
		return CM_EXIT_ERROR;
	}
	snprintf(base, sizeof(base), "/v1/stock?%s%s%s%s%s", m ? "model=" : "",
	    m ? m : "", m && l ? "&" : "", l ? "location=" : "", l ? l : "");
	if (m == NULL && l == NULL)
		base[strlen(base) - 1] = '\0';	/* no query */
	rc = cm_table(cm, base, f);
	free(m);
	free(l);
	return rc;
}

/* move and dispose: POST /v1/stock/{serial}/what */
static int
one(struct cm *cm, const char *serial, const char *what, json_t *b)
{
	char path[512], *esc = cm_escape(serial);

	if (esc == NULL) {
		json_decref(b);
		return CM_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "/v1/stock/%s/%s", esc, what);
	free(esc);
	return cm_call(cm, "POST", path, b);
}

int
cm_stock(struct cm *cm, int argc, char **argv)
{
	struct sopts o;
	const char *f;
	json_t *b;
	int first;

	if (argc < 2)
		return CM_EXIT_USAGE;
	argc--;
	argv++;
	if (strcmp(argv[0], "receive") == 0) {
		if (sparse(cm, argc, argv, "mlsrb", &o, &first) != 0 ||
		    first != argc)
			return CM_EXIT_USAGE;
		return receive(cm, &o);
	}
	if (strcmp(argv[0], "list") == 0) {
		if (sparse(cm, argc, argv, "mlf", &o, &first) != 0 ||
		    first != argc)
			return CM_EXIT_USAGE;
		return list(cm, &o);
	}
	if (strcmp(argv[0], "levels") == 0) {
		if (sparse(cm, argc, argv, "f", &o, &first) != 0 ||
		    first != argc || (f = fmt(cm, o.format)) == NULL)
			return CM_EXIT_USAGE;
		return cm_report(cm, "stock", NULL, f);
	}
	if (strcmp(argv[0], "move") == 0) {
		if (sparse(cm, argc, argv, "ln", &o, &first) != 0 ||
		    first != argc - 1 || o.location == NULL)
			return CM_EXIT_USAGE;
		b = json_pack("{s:s}", "location", o.location);
		if (o.note != NULL)
			json_object_set_new(b, "note", json_string(o.note));
		return one(cm, argv[first], "move", b);
	}
	if (strcmp(argv[0], "dispose") == 0) {
		if (sparse(cm, argc, argv, "e", &o, &first) != 0 ||
		    first != argc - 1 || o.reason == NULL)
			return CM_EXIT_USAGE;
		return one(cm, argv[first], "dispose", json_pack("{s:s}",
		    "reason", o.reason));
	}
	return CM_EXIT_USAGE;
}
