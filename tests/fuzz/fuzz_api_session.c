/*
 * libFuzzer harness: the api's session header parsers (api_session.c). The
 * input is a Cookie header value, then an X-CSRF-Token value and an Origin
 * value (the same bytes, each parser its own way). A cm_session token the
 * parser accepts is 1..API_TOKEN_MAX token characters and round-trips
 * through the Set-Cookie the login answer would carry; a refusal leaves the
 * token empty; nothing reads past the header.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h, tok[API_TOKEN_MAX + 1], again[API_TOKEN_MAX + 1];
	char csrf[API_TOKEN_MAX + 1], set[256], hdr[300];
	size_t n;

	if (size > API_COOKIE_MAX + 16 || (h = malloc(size + 1)) == NULL)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';	/* a header value ends at the first NUL anyway */
	if (api_cookie(h, tok) == API_OK) {
		n = strlen(tok);
		if (n > API_TOKEN_MAX)
			abort();
		if (n > 0) {
			/* What the login would set, read back as the browser
			 * sends it, is the same token. */
			if (api_set_cookie(tok, set, sizeof(set)) != API_OK)
				abort();
			memcpy(hdr, set, strcspn(set, ";"));
			hdr[strcspn(set, ";")] = '\0';
			if (api_cookie(hdr, again) != API_OK ||
			    strcmp(tok, again) != 0)
				abort();
		}
	} else if (tok[0] != '\0')
		abort();
	if (api_csrf(h, csrf) == API_OK) {
		if (strlen(csrf) > API_TOKEN_MAX ||
		    (csrf[0] != '\0' && strcmp(csrf, h) != 0))
			abort();
	} else if (csrf[0] != '\0')
		abort();
	/* Only the station's own names pass, byte for byte. */
	if (api_origin_ok(h, 8410, NULL) &&
	    strcmp(h, "http://127.0.0.1:8410") != 0 &&
	    strcmp(h, "http://localhost:8410") != 0)
		abort();
	(void)api_state_changing(h);
	free(h);
	return 0;
}
