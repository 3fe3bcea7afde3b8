/*
 * libFuzzer harness: the lifecycle configuration parser from memory
 * (lc_load_string). Beyond not crashing: every refusal says where (each
 * line "fuzz.conf:N: message", N >= 1); an accepted lifecycle keeps the
 * rules check-config promises: every state it names is listed and reachable
 * from the initial one, every transition has its CA effect with a reason
 * that fits it, the issuance journal's transitions have their fixed shape,
 * no holder may run a transition.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/lifecycle.h"
#include "policy/operators.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libconfig 1.5 leaks a token on some syntax errors (see fuzz_prof.c). */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

/* Only whole lines: pcfg_diag cuts the last one short when the buffer fills. */
static void
every_line_has_a_place(const char *err)
{
	const char *p = err, *q, *nl;

	if (*p == '\0')
		abort();
	while ((nl = strchr(p, '\n')) != NULL) {
		if (strncmp(p, "fuzz.conf:", 10) != 0)
			abort();
		q = p + 10;
		if (*q < '1' || *q > '9')
			abort();
		while (*q >= '0' && *q <= '9')
			q++;
		if (q[0] != ':' || q[1] != ' ' || q > nl)
			abort();
		p = nl + 1;
	}
}

static void
shape(const struct lc *lc, const char *name, int from, int to,
    enum lc_effect effect)
{
	const struct lc_transition *t = lc_find(lc, name);

	if (t == NULL || t->from != (1u << from) || t->to != to ||
	    t->effect != effect)
		abort();
}

static void
accepted(const struct lc *lc)
{
	uint32_t seen, prev;
	size_t i;

	if (lc->initial < 0 || !(lc->states & (1u << lc->initial)) ||
	    lc->n > LC_TRANSITIONS_MAX || (lc->states >> LC_NSTATES) != 0)
		abort();
	for (i = 0; i < lc->n; i++) {
		const struct lc_transition *t = &lc->t[i];

		if (t->from == 0 || (t->from & ~lc->states) || t->to < 0 ||
		    !(lc->states & (1u << t->to)) || (t->from & (1u << t->to)) ||
		    (t->roles & OPR_ROLE_HOLDER) || lc_find(lc, t->name) != t)
			abort();
		switch (t->effect) {
		case LC_EFFECT_NONE:
			if (lc_reason(t, NULL) != -1)
				abort();
			break;
		case LC_EFFECT_HOLD:
			if (t->reason != 6)
				abort();
			break;
		case LC_EFFECT_UNHOLD:
			if (t->reason != 8)
				abort();
			break;
		case LC_EFFECT_REVOKE:
			if (t->reason == 6 || t->reason == 8 || t->reason == 7 ||
			    t->reason > 10 || (t->reason == LC_REASON_PROFILE &&
			    t->prof_event < 0) || t->reason < LC_REASON_PROFILE)
				abort();
			break;
		default:
			abort();
		}
	}
	shape(lc, "issue", 0, 1, LC_EFFECT_NONE);
	shape(lc, "activate", 1, 2, LC_EFFECT_NONE);
	shape(lc, "rollback", 1, 6, LC_EFFECT_REVOKE);
	seen = 1u << lc->initial;
	do {
		prev = seen;
		for (i = 0; i < lc->n; i++)
			if (lc->t[i].from & seen)
				seen |= 1u << lc->t[i].to;
	} while (seen != prev);
	if ((lc->states & ~seen) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[16384];
	struct lc *lc = NULL;

	if (lc_load_string("fuzz.conf", (const char *)data, size, &lc, err,
	    sizeof(err)) == LC_OK)
		accepted(lc);
	else
		every_line_has_a_place(err);
	lc_free(lc);
	return 0;
}
