/*
 * cardmgr report: fetch every JSON page of a report (the station answers in
 * pages of at most 64 KiB), join the rows, and print them as a table, as one
 * JSON document or as CSV (proc/csv.c: the bytes the API's CSV has).
 */
#include "cardmgr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/csv.h"

#define MAX_PAGES 10000
#define CELL_MAX 48	/* table cells wider than this are cut */

/* A JSON error answer to stderr; the exit status for status. */
static int
http_error(long status, const char *resp)
{
	json_t *j = json_loads(resp, 0, NULL);
	json_t *msg = json_object_get(j, "message");

	fprintf(stderr, "cardmgr: %s (HTTP %ld)\n", json_is_string(msg) ?
	    json_string_value(msg) : "the station refused", status);
	json_decref(j);
	return status == 401 || status == 403 ? CM_EXIT_REFUSED : CM_EXIT_ERROR;
}

/* [out] *all: the first page with every later page's rows appended. */
static int
fetch(struct cm *cm, const char *base, json_t **all)
{
	char path[1024], *resp = NULL;
	json_t *j, *next, *rows;
	long status;
	long long off = 0;
	int page, rc;

	*all = NULL;
	for (page = 0; page < MAX_PAGES; page++) {
		snprintf(path, sizeof(path), "%s%cformat=json&offset=%lld",
		    base, strchr(base, '?') != NULL ? '&' : '?', off);
		if ((rc = cm_http(cm, "GET", path, NULL, &status, &resp)) != CM_OK) {
			fprintf(stderr, "cardmgr: %s\n", cm_strerror(rc));
			goto fail;
		}
		if (status != 200) {
			rc = http_error(status, resp);
			free(resp);
			json_decref(*all);
			*all = NULL;
			return rc;
		}
		j = json_loads(resp, 0, NULL);
		free(resp);
		resp = NULL;
		if (!json_is_array(json_object_get(j, "rows")) ||
		    !json_is_array(json_object_get(j, "columns"))) {
			json_decref(j);
			fprintf(stderr, "cardmgr: %s\n", cm_strerror(CM_ERR_PROTO));
			goto fail;
		}
		next = json_object_get(j, "next_offset");
		off = json_is_integer(next) ? json_integer_value(next) : -1;
		if (*all == NULL) {
			*all = j;
		} else {
			rows = json_object_get(*all, "rows");
			json_array_extend(rows, json_object_get(j, "rows"));
			json_decref(j);
		}
		if (off < 0)
			break;
	}
	if (off >= 0) {
		fprintf(stderr, "cardmgr: the report does not end\n");
		goto fail;
	}
	json_object_del(*all, "offset");
	json_object_del(*all, "next_offset");
	return CM_EXIT_OK;
fail:
	json_decref(*all);
	*all = NULL;
	return CM_EXIT_ERROR;
}

/* A cell as terminal-safe text: controls become '?', cut at CELL_MAX. */
static void
cell_text(const json_t *c, char *out, size_t cap)
{
	size_t i;

	if (json_is_string(c))
		snprintf(out, cap, "%s", json_string_value(c));
	else if (json_is_integer(c))
		snprintf(out, cap, "%lld", (long long)json_integer_value(c));
	else
		snprintf(out, cap, "%s", json_is_true(c) ? "true" :
		    json_is_false(c) ? "false" : "");
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

static void
print_table(const json_t *rep)
{
	const json_t *cols = json_object_get(rep, "columns");
	const json_t *rows = json_object_get(rep, "rows"), *row;
	size_t nc = json_array_size(cols), i, k, *w;
	char cell[CELL_MAX + 1];

	if ((w = calloc(nc ? nc : 1, sizeof(*w))) == NULL)
		return;
	for (k = 0; k < nc; k++) {
		cell_text(json_array_get(cols, k), cell, sizeof(cell));
		w[k] = strlen(cell);
	}
	json_array_foreach(rows, i, row)
		for (k = 0; k < nc; k++) {
			cell_text(json_array_get(row, k), cell, sizeof(cell));
			if (strlen(cell) > w[k])
				w[k] = strlen(cell);
		}
	for (k = 0; k < nc; k++) {
		cell_text(json_array_get(cols, k), cell, sizeof(cell));
		printf("%-*s%s", (int)w[k], cell, k + 1 < nc ? "  " : "\n");
	}
	json_array_foreach(rows, i, row)
		for (k = 0; k < nc; k++) {
			cell_text(json_array_get(row, k), cell, sizeof(cell));
			printf("%-*s%s", (int)w[k], cell, k + 1 < nc ? "  " : "\n");
		}
	printf("(%zu row%s)\n", json_array_size(rows),
	    json_array_size(rows) == 1 ? "" : "s");
	free(w);
}

int
cm_report(struct cm *cm, const char *name, const char *days,
    const char *format)
{
	char base[256];

	snprintf(base, sizeof(base), "/v1/reports/%s%s%s", name,
	    days != NULL ? "?days=" : "", days != NULL ? days : "");
	return cm_table(cm, base, format);
}

int
cm_table(struct cm *cm, const char *base, const char *format)
{
	json_t *rep;
	char *out = NULL;
	size_t len;
	int rc;

	if ((rc = fetch(cm, base, &rep)) != CM_EXIT_OK)
		return rc;
	if (strcmp(format, "json") == 0) {
		if ((out = json_dumps(rep, JSON_INDENT(2))) != NULL)
			printf("%s\n", out);
	} else if (strcmp(format, "csv") == 0) {
		if (csv_write(json_object_get(rep, "columns"),
		    json_object_get(rep, "rows"), &out, &len) == CSV_OK)
			fwrite(out, 1, len, stdout);
		else
			rc = CM_EXIT_ERROR;
	} else {
		print_table(rep);
	}
	free(out);
	json_decref(rep);
	if (fflush(stdout) != 0)
		rc = CM_EXIT_ERROR;
	return rc;
}
