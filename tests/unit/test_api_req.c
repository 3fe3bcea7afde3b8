/*
 * Unit tests: api_req, HTTP request -> MSG_REQ. Every refusal the HTTP side
 * owes (JSON strictness, types, bounds, query, content type, sizes) by status
 * and error code; every accepted request is decoded again the engine's way
 * (msg_decode + ops_req_decode) and its values compared with what was sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "api/api.h"

static struct msg_builder B;
static struct msg M;
static struct ops_req R;
static struct api_error E;
static const struct api_actor UID = { MSG_ACTOR_UID, 1000, NULL, NULL };
static const char *JSON = "application/json";

/* Build; on success decode it as the engine would. Returns the status. */
static int
req(const char *method, const char *target, const char *ctype,
    const char *body)
{
	const struct ops_op *op;
	const uint8_t *p;
	size_t len;
	int rc;

	msg_builder_clear(&B);
	assert_int_equal(msg_builder_init(&B), MSG_OK);
	rc = api_req_build(method, target, ctype, (const uint8_t *)body,
	    body != NULL ? strlen(body) : 0, &UID, &B, &op, &E);
	if (rc != API_OK) {
		assert_int_equal(rc, API_ERR_REFUSED);
		assert_null(op);
		assert_non_null(E.code);
		return E.status;
	}
	assert_int_equal(msg_finish(&B, MSG_REQ, 1, &p, &len), MSG_OK);
	assert_int_equal(msg_decode(p, len, &M), MSG_OK);
	assert_int_equal(ops_req_decode(&M, &R), OPS_OK);
	assert_ptr_equal(R.op, op);
	return 200;
}

static void
refused(int status, const char *code, const char *method, const char *target,
    const char *ctype, const char *body)
{
	int got = req(method, target, ctype, body);

	if (got != status || strcmp(E.code, code) != 0)
		fail_msg("%s %s %s: want %d %s, got %d %s (%s)", method, target,
		    body != NULL ? body : "", status, code, got,
		    got == 200 ? "" : E.code, got == 200 ? "" : E.message);
}

static void
str_is(const char *name, size_t item, const char *sub, const char *want)
{
	const struct ops_value *v = ops_req_get(&R, name, item, sub);

	assert_non_null(v);
	assert_int_equal(v->len, strlen(want));
	assert_memory_equal(v->p, want, v->len);
}

static char *
b64(const uint8_t *p, size_t n)
{
	static char s[512];

	sodium_bin2base64(s, sizeof(s), p, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static void
good_requests(void **state)
{
	const struct ops_value *v;
	uint8_t box[OPS_SEAL_OVERHEAD + 6], ans[OPS_SEAL_OVERHEAD + 12];
	char body[2048];

	(void)state;
	assert_int_equal(req("POST", "/v1/holders", JSON,
	    "{\"id\":\"h1\",\"name\":\"J\\u00e4rvi\",\"email\":\"a@b.c\","
	    "\"attributes\":[\"dept=x\",\"role=y\"]}"), 200);
	assert_int_equal(R.op->code, OPS_HOLDER_ADD);
	assert_int_equal(R.actor, MSG_ACTOR_UID);
	assert_int_equal(R.uid, 1000);
	str_is("id", 0, NULL, "h1");
	str_is("name", 0, NULL, "J\xc3\xa4rvi");
	str_is("attributes", 1, NULL, "role=y");
	assert_int_equal(ops_req_count(&R, "attributes"), 2);
	assert_null(ops_req_get(&R, "org", 0, NULL));
	/* Sealed secrets arrive as exactly the decoded ciphertext. */
	randombytes_buf(box, sizeof(box));
	randombytes_buf(ans, sizeof(ans));
	snprintf(body, sizeof(body), "{\"reader\":\"R 1\",\"holder\":\"h1\","
	    "\"profile\":\"piv\",\"pin\":\"%s\",", b64(box, sizeof(box)));
	snprintf(body + strlen(body), sizeof(body) - strlen(body),
	    "\"answers\":[{\"question\":3,\"answer\":\"%s\"}]}",
	    b64(ans, sizeof(ans)));
	assert_int_equal(req("POST", "/v1/issue", "application/json; charset=utf-8",
	    body), 200);
	assert_non_null(v = ops_req_get(&R, "pin", 0, NULL));
	assert_int_equal(v->len, sizeof(box));
	assert_memory_equal(v->p, box, sizeof(box));
	assert_non_null(v = ops_req_get(&R, "answers", 0, "answer"));
	assert_memory_equal(v->p, ans, sizeof(ans));
	assert_int_equal(ops_req_get(&R, "answers", 0, "question")->i, 3);
	/* Path and query. */
	assert_int_equal(req("GET", "/v1/cards?state=lost&holder=h%2d1&limit=20",
	    NULL, NULL), 200);
	str_is("state", 0, NULL, "lost");
	str_is("holder", 0, NULL, "h-1");
	assert_int_equal(ops_req_get(&R, "limit", 0, NULL)->i, 20);
	assert_int_equal(req("GET", "/v1/holders?q=a+b%26c", NULL, NULL), 200);
	str_is("q", 0, NULL, "a b&c");
	assert_int_equal(req("POST", "/v1/cards/c-9/retire", JSON,
	    "{\"reason\":\"stolen\"}"), 200);
	str_is("card", 0, NULL, "c-9");
	assert_int_equal(req("POST", "/v1/audit/verify", JSON, "{}"), 200);
	assert_int_equal(req("GET", "/v1/audit?from=0", NULL, NULL), 200);
	assert_int_equal(req("GET", "/v1/status", NULL, ""), 200);
}

static void
json_refusals(void **state)
{
	(void)state;
	refused(400, "duplicate_field", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\",\"name\":\"n\",\"id\":\"b\"}");
	refused(400, "unknown_field", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\",\"name\":\"n\",\"admin\":true}");
	refused(400, "unknown_field", "POST", "/v1/cards/c/retire", JSON,
	    "{\"reason\":\"lost\",\"card\":\"other\"}");
	refused(400, "bad_json", "POST", "/v1/holders", JSON, "{\"id\":\"a\",");
	refused(400, "bad_json", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\",\"name\":\"n\"} x");
	refused(400, "bad_json", "POST", "/v1/holders", JSON, "[]");
	refused(400, "bad_json", "POST", "/v1/holders", JSON, "\"s\"");
	refused(400, "bad_json", "POST", "/v1/holders", JSON, "");
	refused(400, "bad_json", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\xff\",\"name\":\"n\"}");
	refused(400, "bad_json", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\\u0000b\",\"name\":\"n\"}");
	refused(400, "bad_json", "POST", "/v1/holders", JSON,
	    "{\"a\":[[[[[]]]]]}");
	/* Brackets inside strings do not count as depth. */
	refused(400, "bad_value", "POST", "/v1/holders", JSON,
	    "{\"id\":\"[[[[[[\",\"name\":\"n\"}");
	refused(400, "missing_field", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\"}");
	refused(415, "unsupported_media_type", "POST", "/v1/holders", NULL, "{}");
	refused(415, "unsupported_media_type", "POST", "/v1/holders",
	    "text/plain", "{\"id\":\"a\",\"name\":\"n\"}");
	refused(415, "unsupported_media_type", "POST", "/v1/holders",
	    "application/jsonx", "{}");
	refused(400, "bad_request", "GET", "/v1/status", NULL, "{}");
}

static void
type_refusals(void **state)
{
	(void)state;
	refused(400, "wrong_type", "POST", "/v1/holders", JSON,
	    "{\"id\":1,\"name\":\"n\"}");
	refused(400, "wrong_type", "POST", "/v1/holders", JSON,
	    "{\"id\":null,\"name\":\"n\"}");
	refused(400, "wrong_type", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\",\"name\":\"n\",\"attributes\":\"x=y\"}");
	refused(400, "wrong_type", "POST", "/v1/holders", JSON,
	    "{\"id\":\"a\",\"name\":\"n\",\"attributes\":[1]}");
	refused(400, "wrong_type", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[\"x\"]}");
	refused(400, "wrong_type", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[{\"question\":1.5,\"answer\":\"x\"}]}");
	refused(400, "wrong_type", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[{\"question\":\"1\",\"answer\":\"x\"}]}");
	refused(400, "unknown_field", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[{\"question\":1,\"extra\":1}]}");
	refused(400, "missing_field", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[{\"question\":1}]}");
	refused(400, "bad_value", "POST", "/v1/cards/c/unblock", JSON,
	    "{\"reader\":\"R\",\"challenge\":\"c\","
	    "\"answers\":[]}");
	refused(400, "bad_value", "POST", "/v1/cards/c/retire", JSON,
	    "{\"reason\":\"bored\"}");
	refused(400, "wrong_type", "POST", "/v1/cards/c/retire", JSON,
	    "{\"reason\":[\"lost\"]}");
}

static void
sealed_refusals(void **state)
{
	uint8_t box[OPS_SEAL_OVERHEAD + 9];
	char body[2048];

	(void)state;
	memset(box, 7, sizeof(box));
	/* Not base64; URL-safe alphabet; too short; too long (PIN of 9). */
	refused(400, "bad_value", "POST", "/v1/cards/c/retire", JSON,
	    "{\"reason\":\"lost\",\"reader\":\"R\\n\"}");
	snprintf(body, sizeof(body), "{\"reader\":\"R\",\"holder\":\"h\","
	    "\"profile\":\"p\",\"pin\":\"%s\"}", "not base64!");
	refused(400, "bad_value", "POST", "/v1/issue", JSON, body);
	snprintf(body, sizeof(body), "{\"reader\":\"R\",\"holder\":\"h\","
	    "\"profile\":\"p\",\"pin\":\"%s\"}", b64(box, 20));
	refused(400, "bad_value", "POST", "/v1/issue", JSON, body);
	snprintf(body, sizeof(body), "{\"reader\":\"R\",\"holder\":\"h\","
	    "\"profile\":\"p\",\"pin\":\"%s\"}", b64(box, sizeof(box)));
	refused(400, "bad_value", "POST", "/v1/issue", JSON, body);
	snprintf(body, sizeof(body), "{\"reader\":\"R\",\"holder\":\"h\","
	    "\"profile\":\"p\",\"pin\":\"%s\"}", b64(box, sizeof(box) - 1));
	assert_int_equal(req("POST", "/v1/issue", JSON, body), 200);
	body[strlen(body) - 3] = '_';	/* URL-safe alphabet */
	refused(400, "bad_value", "POST", "/v1/issue", JSON, body);
}

static void
query_and_path_refusals(void **state)
{
	(void)state;
	refused(400, "unknown_field", "GET", "/v1/cards?color=red", NULL, NULL);
	refused(400, "unknown_field", "GET", "/v1/status?x=1", NULL, NULL);
	refused(400, "unknown_field", "POST", "/v1/audit/verify?limit=1", JSON, "{}");
	refused(400, "duplicate_field", "GET", "/v1/cards?limit=1&limit=2", NULL,
	    NULL);
	refused(400, "bad_query", "GET", "/v1/cards?limit", NULL, NULL);
	refused(400, "bad_query", "GET", "/v1/cards?holder=%zz", NULL, NULL);
	refused(400, "bad_query", "GET", "/v1/cards?holder=a%2", NULL, NULL);
	refused(400, "bad_query", "GET", "/v1/cards?holder=a%00", NULL, NULL);
	refused(400, "bad_value", "GET", "/v1/cards?holder=..%2fx", NULL, NULL);
	refused(400, "wrong_type", "GET", "/v1/cards?limit=12x", NULL, NULL);
	refused(400, "wrong_type", "GET", "/v1/cards?limit=%2b5", NULL, NULL);
	refused(400, "wrong_type", "GET", "/v1/cards?limit=99999999999999999999",
	    NULL, NULL);
	refused(400, "bad_value", "GET", "/v1/cards?limit=0", NULL, NULL);
	refused(400, "bad_value", "GET", "/v1/cards?state=gone", NULL, NULL);
	refused(404, "not_found", "GET", "/v1/nothing", NULL, NULL);
	refused(404, "not_found", "GET", "/", NULL, NULL);
	refused(405, "method_not_allowed", "PUT", "/v1/cards", NULL, NULL);
	refused(405, "method_not_allowed", "GET", "/v1/issue", NULL, NULL);
	refused(400, "bad_path", "GET", "/v1/cards/..", NULL, NULL);
	refused(400, "bad_path", "GET", "/v1/cards/%2e%2e", NULL, NULL);
	refused(400, "bad_path", "GET", "/v1/cards/a%2Fb", NULL, NULL);
	refused(400, "bad_path", "GET", "/v1/cards/a..b", NULL, NULL);
	refused(400, "bad_path", "POST", "/v1/cards/../pin", JSON, "{}");
}

static void
sizes(void **state)
{
	static char big[API_BODY_MAX + 2];
	static char target[API_URI_MAX + 2];

	(void)state;
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	refused(413, "payload_too_large", "POST", "/v1/audit/verify", JSON, big);
	/* Exactly API_BODY_MAX bytes is fine. */
	big[API_BODY_MAX - 1] = '}';
	big[API_BODY_MAX] = '\0';
	assert_int_equal(req("POST", "/v1/audit/verify", JSON, big), 200);
	memset(target, 'a', sizeof(target) - 1);
	target[0] = '/';
	refused(414, "bad_path", "GET", target, NULL, NULL);
}

static void
bearer(void **state)
{
	char tok[API_TOKEN_MAX + 1];
	char h[100];

	(void)state;
	assert_int_equal(api_bearer("Bearer abc-DEF_1.2~3+4/5=", tok), API_OK);
	assert_string_equal(tok, "abc-DEF_1.2~3+4/5=");
	assert_int_equal(api_bearer("bearer x", tok), API_OK);
	assert_int_equal(api_bearer("Basic abc", tok), API_ERR_REFUSED);
	assert_int_equal(api_bearer("Bearer ", tok), API_ERR_REFUSED);
	assert_int_equal(api_bearer("Bearer a b", tok), API_ERR_REFUSED);
	assert_int_equal(api_bearer("Bearer a\"", tok), API_ERR_REFUSED);
	snprintf(h, sizeof(h), "Bearer %0*d", API_TOKEN_MAX, 0);
	assert_int_equal(api_bearer(h, tok), API_OK);
	snprintf(h, sizeof(h), "Bearer %0*d", API_TOKEN_MAX + 1, 0);
	assert_int_equal(api_bearer(h, tok), API_ERR_REFUSED);
	assert_string_equal(tok, "");
}

static int
teardown(void **state)
{
	(void)state;
	msg_builder_clear(&B);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_requests),
		cmocka_unit_test(json_refusals),
		cmocka_unit_test(type_refusals),
		cmocka_unit_test(sealed_refusals),
		cmocka_unit_test(query_and_path_refusals),
		cmocka_unit_test(sizes),
		cmocka_unit_test(bearer),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
