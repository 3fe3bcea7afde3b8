/*
 * libFuzzer harness: what holders type. The first bytes pick a PIN policy
 * and an answer minimum; the rest is the PIN, the answer, and the PIN it
 * replaces. Checked beyond not crashing:
 *  - ans_normalise's output is normalised: no ASCII upper case, no ASCII
 *    punctuation, no leading, trailing or double space; normalising it
 *    again changes nothing; on refusal the output buffer is wiped;
 *  - pin_check's sentence is one fixed text per outcome (so it cannot hold
 *    the PIN), never a pointer into the input; an accepted PIN obeys the
 *    length and digits rules; a PIN never passes as "not the previous one"
 *    when it is; pin_confirm agrees with strcmp.
 *  - ans_pick returns distinct members of the list it was given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/answer.h"
#include "policy/pin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_normalised(const char *in, size_t min_len)
{
	char out[ANS_MAX + 1], again[ANS_MAX + 1];
	size_t len, len2, i;
	int rc;

	memset(out, 'x', sizeof(out));
	rc = ans_normalise(in, min_len, out, sizeof(out), &len);
	if (rc != ANS_OK) {
		for (i = 0; i < sizeof(out); i++)
			if (out[i] != 0)
				abort();
		return;
	}
	if (len != strlen(out) || (len > 0 && (out[0] == ' ' ||
	    out[len - 1] == ' ')) || strstr(out, "  ") != NULL)
		abort();
	for (i = 0; i < len; i++)
		if ((out[i] >= 'A' && out[i] <= 'Z') || (out[i] != ' ' &&
		    (unsigned char)out[i] < 0x80 && !(out[i] >= 'a' &&
		    out[i] <= 'z') && !(out[i] >= '0' && out[i] <= '9')))
			abort();
	if (ans_normalise(out, 0, again, sizeof(again), &len2) != ANS_OK ||
	    len2 != len || memcmp(out, again, len) != 0)
		abort();
}

static void
check_pin(const struct prof_pin_policy *pol, const char *pin, const char *old)
{
	const char *why = NULL;
	size_t len = strlen(pin), i;
	int rc;

	static const char *sentence[32];

	rc = pin_check(pol, pin, old, NULL, &why);
	/*
	 * The sentence cannot hold the PIN if it does not depend on it: one
	 * fixed text per outcome, never a pointer into what was typed. (A
	 * substring test would flag " is " inside "The PIN is too common".)
	 */
	if (why == NULL || rc > 0 || rc <= -32 || (why >= pin &&
	    why <= pin + len) || (sentence[-rc] != NULL && sentence[-rc] != why))
		abort();
	sentence[-rc] = why;
	if (rc == PIN_OK) {
		if (len < (size_t)pol->min_len || len > (size_t)pol->max_len)
			abort();
		for (i = 0; pol->digits_only && i < len; i++)
			if (pin[i] < '0' || pin[i] > '9')
				abort();
		if (pol->not_previous && strcmp(pin, old) == 0)
			abort();
	}
	if ((pin_confirm(pin, old) == PIN_OK) != (strcmp(pin, old) == 0) &&
	    len <= 32 && strlen(old) <= 32)
		abort();
}

static void
check_pick(const uint8_t *data, size_t size)
{
	int ids[ANS_PICK_MAX], picked[ANS_PICK_MAX];
	size_t n = size % (ANS_PICK_MAX + 1), k, i, j;

	for (i = 0; i < n; i++)
		ids[i] = (int)i * 7 + 3;
	k = n > 0 ? data[0] % (n + 1) : 0;
	if (ans_pick(ids, n, k, picked) != ANS_OK)
		abort();
	for (i = 0; i < k; i++) {
		if (picked[i] < 3 || (picked[i] - 3) % 7 != 0 ||
		    (size_t)(picked[i] - 3) / 7 >= n)
			abort();
		for (j = 0; j < i; j++)
			if (picked[i] == picked[j])
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prof_pin_policy pol;
	char text[1024], *pin, *old;

	if (size < 3 || size >= sizeof(text))
		return 0;
	pol.min_len = 6 + data[0] % 3;
	pol.max_len = pol.min_len + (data[0] >> 2) % (9 - pol.min_len);
	pol.digits_only = data[0] >> 5 & 1;
	pol.not_previous = data[0] >> 6 & 1;
	pol.repeat_run = data[1] % 9 == 1 ? 0 : data[1] % 9;
	pol.sequence_run = data[1] / 9 % 9 < 3 ? 0 : data[1] / 9 % 9;
	pol.blocklist[0] = '\0';
	memcpy(text, data + 3, size - 3);
	text[size - 3] = '\0';
	/* "pin\0old": a missing second part compares against "". */
	pin = text;
	old = memchr(text, '\0', size - 3) != text + size - 3 ?
	    text + strlen(text) + 1 : text + size - 3;
	check_normalised(pin, data[2] % 8);
	check_pin(&pol, pin, old);
	check_pick(data, size);
	return 0;
}
