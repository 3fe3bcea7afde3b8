/* cardmgr_http: HTTP over the API's UNIX socket (libcurl), and output. */
#include "cardmgr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

/* The API answers at most one message: 64 KiB of body. */
#define RESP_MAX (1024 * 1024)

const char *
cm_strerror(int err)
{
	switch (err) {
	case CM_OK:		return "success";
	case CM_ERR_ARG:	return "invalid argument";
	case CM_ERR_NOMEM:	return "out of memory";
	case CM_ERR_HTTP:	return "cannot reach the station API";
	case CM_ERR_PROTO:	return "unexpected answer from the API";
	case CM_ERR_SECRET:	return "could not read a secret";
	case CM_ERR_CRYPTO:	return "sealing failed";
	default:		return "unknown error";
	}
}

const char *
cm_name(int err)
{
	switch (err) {
	case CM_OK:		return "CM_OK";
	case CM_ERR_ARG:	return "CM_ERR_ARG";
	case CM_ERR_NOMEM:	return "CM_ERR_NOMEM";
	case CM_ERR_HTTP:	return "CM_ERR_HTTP";
	case CM_ERR_PROTO:	return "CM_ERR_PROTO";
	case CM_ERR_SECRET:	return "CM_ERR_SECRET";
	case CM_ERR_CRYPTO:	return "CM_ERR_CRYPTO";
	default:		return "CM_ERR_UNKNOWN";
	}
}

struct sink {
	char *p;
	size_t len;
	int over;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;
	char *np;

	if (s->len + add > RESP_MAX) {
		s->over = 1;
		return 0;
	}
	if ((np = realloc(s->p, s->len + add + 1)) == NULL)
		return 0;
	s->p = np;
	memcpy(s->p + s->len, p, add);
	s->len += add;
	s->p[s->len] = '\0';
	return add;
}

char *
cm_escape(const char *s)
{
	char *e, *out = NULL;

	/* curl_easy_escape needs no handle since 7.82; pass NULL. */
	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

int
cm_http(const struct cm *cm, const char *method, const char *path,
    const char *body, long *status, char **resp)
{
	struct curl_slist *hdr = NULL;
	struct sink s = { NULL, 0, 0 };
	char url[2048];
	CURL *c;
	CURLcode cc;
	int rc = CM_ERR_HTTP;

	*status = 0;
	*resp = NULL;
	if ((size_t)snprintf(url, sizeof(url), "http://localhost%s", path) >=
	    sizeof(url))
		return CM_ERR_ARG;
	if ((c = curl_easy_init()) == NULL)
		return CM_ERR_NOMEM;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, cm->socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (strcmp(method, "POST") == 0) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		/* No "Expect: 100-continue" round trip for small bodies. */
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "{}");
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		if (!s.over)
			fprintf(stderr, "cardmgr: %s: %s\n", cm->socket,
			    curl_easy_strerror(cc));
		rc = s.over ? CM_ERR_PROTO : CM_ERR_HTTP;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*resp = s.p != NULL ? s.p : strdup("");
	s.p = NULL;
	rc = *resp != NULL ? CM_OK : CM_ERR_NOMEM;
out:
	free(s.p);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc;
}

static void
print_value(json_t *v, int indent);

static void
print_scalar(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		printf("%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		printf("%g", json_real_value(v));
		break;
	case JSON_TRUE:
		printf("yes");
		break;
	case JSON_FALSE:
		printf("no");
		break;
	default:
		printf("-");
		break;
	}
}

static int
is_scalar(json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

static void
print_object(json_t *o, int indent)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		printf("%*s%s:", indent, "", k);
		if (is_scalar(v)) {
			putchar(' ');
			print_scalar(v);
			putchar('\n');
		} else {
			putchar('\n');
			print_value(v, indent + 2);
		}
	}
}

static void
print_value(json_t *v, int indent)
{
	size_t i;
	json_t *it;

	if (json_is_object(v) && json_object_size(v) == 0)
		printf("%*s(none)\n", indent, "");
	else if (json_is_object(v))
		print_object(v, indent);
	else if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			printf("%*s(none)\n", indent, "");
		json_array_foreach(v, i, it) {
			if (i > 0 && !is_scalar(it))
				putchar('\n');
			if (is_scalar(it)) {
				printf("%*s- ", indent, "");
				print_scalar(it);
				putchar('\n');
			} else
				print_value(it, indent);
		}
	} else {
		printf("%*s", indent, "");
		print_scalar(v);
		putchar('\n');
	}
}

void
cm_print(const struct cm *cm, const char *body)
{
	json_error_t jerr;
	json_t *j;

	if (cm->json) {
		printf("%s\n", body);
		return;
	}
	if ((j = json_loads(body, 0, &jerr)) == NULL) {
		printf("%s\n", body);
		return;
	}
	print_value(j, 0);
	json_decref(j);
}
