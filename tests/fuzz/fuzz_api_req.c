/*
 * libFuzzer harness: the api's request validation (api_req_build), input
 * "METHOD\nTARGET\nCONTENT-TYPE\nBODY". What the api accepts must decode on
 * the engine's side (msg_decode + ops_req_decode): the two checks of the one
 * operation table must agree, or the engine would refuse what the api let
 * through (or worse, the api would be the only check). A refusal must be a
 * 4xx status with an error code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct msg m;
static struct ops_req r;

/* Next '\n'-terminated line of [*p, end) into out (NUL-terminated). */
static int
line(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	if (nl == NULL || (n = (size_t)(nl - *p)) >= cap || memchr(*p, 0, n))
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = nl + 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_actor actors[] = {
		{ MSG_ACTOR_UID, 1000, NULL, NULL },
		{ MSG_ACTOR_NONE, 0, NULL, NULL },
		{ MSG_ACTOR_SESSION, 0, "tok", "csrf-tok" },
	};
	char method[16], target[API_URI_MAX + 2], ctype[128];
	const uint8_t *p = data, *end = data + size;
	const struct ops_op *op;
	struct msg_builder b;
	struct api_error e;
	const uint8_t *out;
	size_t len;
	int rc;

	if (size == 0 || line(&p, end, method, sizeof(method)) != 0 ||
	    line(&p, end, target, sizeof(target)) != 0 ||
	    line(&p, end, ctype, sizeof(ctype)) != 0)
		return 0;
	if (msg_builder_init(&b) != MSG_OK)
		abort();
	rc = api_req_build(method, target, ctype[0] != '\0' ? ctype : NULL, p,
	    (size_t)(end - p), &actors[size % 3], &b, &op, &e);
	if (rc == API_OK) {
		if (op == NULL ||
		    msg_finish(&b, MSG_REQ, 1, &out, &len) != MSG_OK ||
		    msg_decode(out, len, &m) != MSG_OK ||
		    ops_req_decode(&m, &r) != OPS_OK || r.op != op)
			abort();
	} else if (rc != API_ERR_REFUSED || op != NULL || e.code == NULL ||
	    e.status < 400 || e.status > 499)
		abort();
	msg_builder_clear(&b);
	return 0;
}
