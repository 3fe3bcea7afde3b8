/*
 * libFuzzer harness: the policy file parsers from memory. Each input is
 * read as a profile (prof_load_string, as the shipped profiles and the
 * directory loader use it), as an operator map and as a PIN blocklist.
 * Beyond not crashing, every refusal must say where: each line of the
 * error text is "fuzz.conf:N: message" with N >= 1. Success must give
 * values inside the documented ranges.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/operators.h"
#include "policy/pin.h"
#include "policy/profile.h"
#include "policy/renew.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/*
 * XXX: libconfig 1.5 (Debian 12) does not free the token it was holding
 * when the grammar refuses it (a string or name where '=' was expected):
 * a few bytes per malformed file, inside libconfig. Not ours to fix; the
 * pre-scan already refuses the one case it can see (an unterminated string).
 * Leaks anywhere else, ours included, are still reported.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

static void
every_line_has_a_place(const char *err)
{
	const char *p = err, *q;

	if (*p == '\0')
		abort();
	while (*p != '\0') {
		if (strncmp(p, "fuzz.conf:", 10) != 0)
			abort();
		q = p + 10;
		if (*q < '1' || *q > '9')
			abort();
		while (*q >= '0' && *q <= '9')
			q++;
		if (q[0] != ':' || q[1] != ' ')
			abort();
		if ((q = strchr(q, '\n')) == NULL)
			break;	/* the last line may be cut by the buffer */
		p = q + 1;
	}
}

/* Renewal settings obey their rules, and an empty card of an accepted
 * profile needs every slot, as missing (policy/renew.c). */
static void
renewal_in_range(const struct prof *p)
{
	static struct rnw_list l;
	const struct prof_slot *s;
	size_t i, k;

	for (i = 0; i < p->nslots; i++) {
		s = &p->slots[i];
		if (s->renew_days < 0 || s->renew_days >= s->cert_days ||
		    s->since_version < 1 || s->since_version > p->version ||
		    s->nsupersedes > PROF_SUPERSEDES_MAX)
			abort();
		for (k = 0; k < s->nsupersedes; k++)
			if (prof_slot(p, s->supersedes[k]) != NULL)
				abort();
	}
	if (rnw_requirements(p, (uint32_t)p->version, NULL, 0, 0, &l) !=
	    RNW_OK || l.n != p->nslots)
		abort();
	for (i = 0; i < l.n; i++)
		if (l.items[i].reasons != RNW_MISSING || !l.items[i].new_key)
			abort();
}

static void
profile_in_range(const struct prof *p)
{
	size_t i;

	if (p->validity_days < 1 || p->validity_days > 2191 ||
	    p->nslots < 1 || p->nslots > PROF_SLOTS_MAX ||
	    p->pin.min_len < 6 || p->pin.max_len > 8 ||
	    p->pin.min_len > p->pin.max_len || p->puk.length != 8 ||
	    p->pin_retries < 1 || p->pin_retries > 10 ||
	    p->key_recovery_approvals < 0 || p->key_recovery_approvals > 9)
		abort();
	for (i = 0; i < p->nslots; i++)
		if (p->slots[i].cert_days > p->validity_days ||
		    (p->slots[i].escrow && p->slots[i].slot != 0x9d &&
		    (p->slots[i].slot < 0x82 || p->slots[i].slot > 0x95)))
			abort();
	if (p->challenge.enabled && (p->challenge.asked >
	    p->challenge.enrolled || (size_t)p->challenge.enrolled >
	    p->challenge.nquestions))
		abort();
	if (p->reason[PROF_EV_SUSPEND] != 6)
		abort();
	renewal_in_range(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[4096];
	struct pin_blocklist *bl;
	struct opr_map *map;
	struct prof *p;
	size_t i;

	if (prof_load_string("fuzz.conf", (const char *)data, size, NULL, &p,
	    err, sizeof(err)) == PROF_OK)
		profile_in_range(p);
	else
		every_line_has_a_place(err);
	prof_free(p);

	if (opr_load_string("fuzz.conf", (const char *)data, size, &map, err,
	    sizeof(err)) == OPR_OK) {
		for (i = 0; i < opr_count(map); i++)
			if (opr_get(map, i)->roles == 0 ||
			    (opr_get(map, i)->roles & OPR_ROLE_HOLDER))
				abort();
	} else {
		every_line_has_a_place(err);
	}
	opr_free(map);

	if (pin_blocklist_parse("fuzz.conf", (const char *)data, size, &bl,
	    err, sizeof(err)) != PIN_OK)
		every_line_has_a_place(err);
	pin_blocklist_free(bl);
	return 0;
}
