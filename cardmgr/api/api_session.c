/*
 * api_session: the HTTP side of operator sessions (docs/api.md, "Operator
 * sessions"). Pure functions over header values, so the fuzzer drives them
 * directly: the Cookie header (the cm_session token), the X-CSRF-Token
 * header, the Origin header of a state-changing request, and the
 * Set-Cookie values the login and logout answers carry.
 *
 * The api only carries the token and the CSRF token to the engine, which
 * alone knows the sessions: whether a token is live and whether a CSRF
 * token is that session's are the engine's decisions.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 6750 b64token: what a session token or a CSRF token may hold. */
static int
tokchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/' || c == '=';
}

/* [p, p+n) is 1..API_TOKEN_MAX token characters. */
static int
token_ok(const char *p, size_t n)
{
	if (n == 0 || n > API_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!tokchar((unsigned char)p[i]))
			return 0;
	return 1;
}

int
api_cookie(const char *header, char *tok)
{
	const char *p, *end, *semi, *eq;
	int found = 0;

	tok[0] = '\0';
	if (header == NULL)
		return API_OK;
	end = header + strlen(header);
	if ((size_t)(end - header) > API_COOKIE_MAX)
		return API_ERR_REFUSED;
	for (p = header; p < end; p = semi + 1) {
		size_t nlen, vlen;
		const char *v;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		if (semi == p)
			continue;	/* "a=b;;c=d" or a trailing ";" */
		if ((eq = memchr(p, '=', (size_t)(semi - p))) == NULL)
			continue;	/* not a pair: not ours either */
		nlen = (size_t)(eq - p);
		if (nlen != strlen(API_COOKIE_NAME) ||
		    memcmp(p, API_COOKIE_NAME, nlen) != 0)
			continue;
		v = eq + 1;
		vlen = (size_t)(semi - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		/* Twice is ambiguous (a cookie planted for another path). */
		if (found || !token_ok(v, vlen)) {
			tok[0] = '\0';
			return API_ERR_REFUSED;
		}
		memcpy(tok, v, vlen);
		tok[vlen] = '\0';
		found = 1;
		if (semi == end)
			break;
	}
	return API_OK;
}

int
api_csrf(const char *header, char *out)
{
	size_t n;

	out[0] = '\0';
	if (header == NULL)
		return API_OK;
	n = strlen(header);
	if (!token_ok(header, n))
		return API_ERR_REFUSED;
	memcpy(out, header, n + 1);
	return API_OK;
}

int
api_state_changing(const char *method)
{
	return method == NULL || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0 && strcmp(method, "OPTIONS") != 0);
}

int
api_origin_ok(const char *origin, int port, const char *extra)
{
	char own[64];

	if (origin == NULL)
		return 1;	/* not a browser's cross-site request */
	if (extra != NULL && extra[0] != '\0' && strcmp(origin, extra) == 0)
		return 1;
	if (port <= 0 || port > 65535)
		return 0;
	snprintf(own, sizeof(own), "http://127.0.0.1:%d", port);
	if (strcmp(origin, own) == 0)
		return 1;
	snprintf(own, sizeof(own), "http://localhost:%d", port);
	return strcmp(origin, own) == 0;
}

int
api_set_cookie(const char *tok, char *out, size_t cap)
{
	int n;

	if (tok == NULL)	/* logout: the browser drops it */
		n = snprintf(out, cap, "%s=; HttpOnly; SameSite=Strict; "
		    "Path=/; Max-Age=0", API_COOKIE_NAME);
	else if (!token_ok(tok, strlen(tok)))
		return API_ERR_ARG;
	else
		n = snprintf(out, cap, "%s=%s; HttpOnly; SameSite=Strict; "
		    "Path=/", API_COOKIE_NAME, tok);
	return n > 0 && (size_t)n < cap ? API_OK : API_ERR_ARG;
}
