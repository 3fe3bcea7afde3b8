/*
 * Unit tests: the lifecycle configuration (cardmgr/policy/lifecycle.c): the
 * shipped file, each refusal with its file:line, the reason a transition
 * sends (its own or the profile's), secrecy checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/lifecycle.h"
#include "policy/operators.h"
#include "policy/profile.h"

static char errbuf[8192];

/* The smallest valid lifecycle, then extra transitions (line 6 on). */
#define HEAD \
	"initial = \"blank\";\n" \
	"states = [ \"blank\", \"issuing\", \"active\", \"suspended\", \"retired\" ];\n" \
	"transitions = (\n" \
	"  { name = \"issue\"; from = [ \"blank\" ]; to = \"issuing\"; effect = \"none\"; roles = [ \"badge_officer\" ]; },\n" \
	"  { name = \"activate\"; from = [ \"issuing\" ]; to = \"active\"; effect = \"none\"; roles = [ ]; },\n" \
	"  { name = \"rollback\"; from = [ \"issuing\" ]; to = \"retired\"; effect = \"revoke\"; reason = \"cessationOfOperation\"; roles = [ ]; }"
#define SUSPEND \
	",\n  { name = \"suspend\"; from = [ \"active\" ]; to = \"suspended\"; effect = \"hold\"; roles = [ \"helpdesk\" ]; }"
#define TAIL "\n);\n"

static int
load(const char *text, struct lc **lc)
{
	return lc_load_string("lc.conf", text, strlen(text), lc, errbuf,
	    sizeof(errbuf));
}

static void
refused(const char *text, const char *want)
{
	struct lc *lc = (struct lc *)1;

	assert_int_equal(load(text, &lc), LC_ERR_CONFIG);
	assert_null(lc);
	if (strstr(errbuf, want) == NULL)
		fail_msg("want \"%s\", got: %s", want, errbuf);
}

static void
minimal_and_reasons(void **state)
{
	const struct lc_transition *t;
	struct lc *lc = NULL;
	int preason[PROF_EV_COUNT] = { 5, 9, 1, 5, 6, 4 };

	(void)state;
	assert_int_equal(load(HEAD SUSPEND
	    ",\n  { name = \"reinstate\"; from = [ \"suspended\" ]; to = \"active\"; effect = \"unhold\"; roles = [ \"helpdesk\", \"security_officer\" ]; }"
	    ",\n  { name = \"lost\"; from = [ \"active\", \"suspended\" ]; to = \"retired\"; effect = \"revoke\"; roles = [ \"security_officer\" ]; }"
	    TAIL, &lc), LC_OK);
	assert_int_equal(lc->initial, lc_state_from_name("blank"));
	assert_int_equal(lc->n, 6);
	t = lc_find(lc, "suspend");
	assert_non_null(t);
	assert_int_equal(t->line, 7);
	assert_int_equal(t->effect, LC_EFFECT_HOLD);
	assert_int_equal(lc_reason(t, preason), 6);
	assert_true(lc_from(t, lc_state_from_name("active")));
	assert_false(lc_from(t, lc_state_from_name("suspended")));
	assert_true(lc_allows(t, OPR_ROLE_HELPDESK | OPR_ROLE_AUDITOR));
	assert_false(lc_allows(t, OPR_ROLE_SECURITY_OFFICER));
	assert_int_equal(lc_reason(lc_find(lc, "reinstate"), NULL), 8);
	/* No reason of its own: the profile's for "lost" (here 9). */
	t = lc_find(lc, "lost");
	assert_int_equal(t->reason, LC_REASON_PROFILE);
	assert_int_equal(lc_reason(t, preason), 9);
	assert_int_equal(lc_reason(lc_find(lc, "rollback"), preason), 5);
	assert_int_equal(lc_reason(lc_find(lc, "issue"), preason), -1);
	/* Engine-only transitions: nobody may ask for them. */
	assert_false(lc_allows(lc_find(lc, "activate"), 0x3f));
	assert_null(lc_find(lc, "stolen"));
	lc_free(lc);
}

static void
strict_errors(void **state)
{
	(void)state;
	refused(HEAD ",\n  { name = \"suspend\"; from = [ \"active\" ]; to = \"suspended\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition suspend: no effect");
	refused(HEAD ",\n  { name = \"suspend\"; from = [ \"active\" ]; to = \"frozen\"; effect = \"hold\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: suspend: unknown state \"frozen\"");
	refused(HEAD ",\n  { name = \"suspend\"; from = [ \"active\" ]; to = \"lost\"; effect = \"hold\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: suspend: state \"lost\" is not in states");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"revoke\"; reason = \"keyCompromised\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: unknown reason \"keyCompromised\"");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"revoke\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: revoke needs a reason");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"revoke\"; reason = \"certificateHold\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: certificateHold is not a reason");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"hold\"; reason = \"keyCompromise\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: effect hold always sends certificateHold");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; reason = \"superseded\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: effect none sends no reason");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"burn\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transitions[3].effect: unknown value \"burn\"");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; roles = [ \"holder\" ]; }" TAIL,
	    "lc.conf:7: transition x: holder may not change");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; roles = [ \"janitor\" ]; }" TAIL,
	    "lc.conf:7: transition x: unknown role \"janitor\"");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"active\"; effect = \"none\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition x: goes from active to itself");
	refused(HEAD ",\n  { name = \"x\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; roles = [ ]; colour = 1; }" TAIL,
	    "lc.conf:7: unknown setting 'colour'");
	refused(HEAD ",\n  { name = \"issue\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition issue defined twice (line 4)");
	refused(HEAD ",\n  { name = \"Bad-Name\"; from = [ \"active\" ]; to = \"retired\"; effect = \"none\"; roles = [ ]; }" TAIL,
	    "lc.conf:7: transition names are lower-case");
	/* Unreachable: suspended is listed, nothing leads there. */
	refused(HEAD TAIL, "lc.conf:2: state suspended is unreachable");
	/* The issuance journal's transitions are not configurable. */
	refused("initial = \"blank\";\n"
	    "states = [ \"blank\", \"issuing\", \"active\", \"retired\" ];\n"
	    "transitions = (\n"
	    "  { name = \"issue\"; from = [ \"blank\" ]; to = \"issuing\"; effect = \"none\"; roles = [ ]; },\n"
	    "  { name = \"activate\"; from = [ \"issuing\" ]; to = \"active\"; effect = \"none\"; roles = [ ]; },\n"
	    "  { name = \"rollback\"; from = [ \"issuing\" ]; to = \"retired\"; effect = \"none\"; roles = [ ]; }\n);\n",
	    "lc.conf:6: transition rollback: must go from issuing to retired with effect revoke");
	refused("initial = \"blank\";\n"
	    "states = [ \"blank\", \"issuing\" ];\n"
	    "transitions = (\n"
	    "  { name = \"issue\"; from = [ \"blank\" ]; to = \"issuing\"; effect = \"none\"; roles = [ ]; }\n);\n",
	    "lc.conf:3: no transition activate");
	/* An un-hold from a state nothing holds. */
	refused(HEAD SUSPEND ",\n  { name = \"x\"; from = [ \"retired\" ]; to = \"active\"; effect = \"unhold\"; roles = [ ]; }" TAIL,
	    "lc.conf:8: transition x: unhold from a state no hold leads to");
	refused("initial = \"nowhere\";\n" "states = [ \"blank\" ];\n"
	    "transitions = ( );\n", "lc.conf:1: initial: unknown state");
	refused("initial = \"blank\";\n" "states = [ \"blank\", \"limbo\" ];\n"
	    "transitions = ( );\n", "lc.conf:2: states: unknown state \"limbo\"");
	refused("initial = \"blank\";\n" "states = [ \"blank\", \"blank\" ];\n"
	    "transitions = ( );\n", "lc.conf:2: states: \"blank\" listed twice");
	refused("initial = \"blank\"\nstates = [ \"blank\" \n", "lc.conf:3: syntax error");
	refused("states = [ \"blank\" ];\ntransitions = ( );\n",
	    "missing setting 'initial'");
}

/* Several mistakes in one file: every one reported. */
static void
every_error(void **state)
{
	struct lc *lc = NULL;
	unsigned n = 0;

	(void)state;
	assert_int_equal(load(HEAD
	    ",\n  { name = \"a\"; from = [ \"active\" ]; to = \"suspended\"; roles = [ ]; }"
	    ",\n  { name = \"b\"; from = [ \"active\" ]; to = \"retired\"; effect = \"revoke\"; reason = \"nope\"; roles = [ ]; }"
	    TAIL, &lc), LC_ERR_CONFIG);
	for (const char *p = errbuf; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, 2);
	assert_non_null(strstr(errbuf, "lc.conf:7: transition a: no effect"));
	assert_non_null(strstr(errbuf, "lc.conf:8: transition b: unknown reason"));
}

static void
shipped_file_and_secrecy(void **state)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char dir[] = "/tmp/test_policy_lc.XXXXXX", path[96], link[96], cmd[512];
	const struct lc_transition *t;
	struct lc *lc = NULL;
	unsigned n = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lifecycle.conf", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s'/provisioning/lifecycle.conf '%s' && "
	    "chmod 0644 '%s'", top, path, path);
	assert_int_equal(system(cmd), 0);
	if (lc_load(path, &lc, errbuf, sizeof(errbuf)) != LC_OK)
		fail_msg("shipped lifecycle refused: %s", errbuf);
	/* Today's behaviour: retire, lost, stolen, damaged take the profile's
	 * reason; suspend holds; reinstate un-holds. */
	for (int ev = PROF_EV_RETIRE; ev <= PROF_EV_DAMAGED; ev++) {
		t = lc_find(lc, prof_event_name(ev));
		assert_non_null(t);
		assert_int_equal(t->effect, LC_EFFECT_REVOKE);
		assert_int_equal(t->reason, LC_REASON_PROFILE);
		assert_true(lc_from(t, lc_state_from_name("active")));
		assert_false(lc_from(t, lc_state_from_name("retired")));
	}
	assert_int_equal(lc_find(lc, "stolen")->to, lc_state_from_name("stolen"));
	assert_int_equal(lc_find(lc, "suspend")->effect, LC_EFFECT_HOLD);
	assert_int_equal(lc_find(lc, "reinstate")->effect, LC_EFFECT_UNHOLD);
	assert_string_equal(lc_crl_transition(lc, 1)->name, "ca_compromised");
	assert_string_equal(lc_crl_transition(lc, 8)->name, "ca_release");
	assert_null(lc_crl_transition(lc, 4));	/* superseded: the card stays */
	assert_true(lc_allows(lc_find(lc, "suspend"), OPR_ROLE_SECURITY_OFFICER));
	assert_false(lc_allows(lc_find(lc, "suspend"), OPR_ROLE_BADGE_OFFICER));
	for (const char *s = "blank issuing active suspended retired lost stolen "
	    "damaged temporary returned expired"; *s != '\0';) {
		char name[32];
		size_t k = strcspn(s, " ");

		snprintf(name, sizeof(name), "%.*s", (int)k, s);
		assert_true(lc->states & (1u << lc_state_from_name(name)));
		s += k + (s[k] == ' ');
	}
	lc_free(lc);
	assert_int_equal(lc_check_config(path, errbuf, sizeof(errbuf), &n), LC_OK);
	assert_int_equal(n, 0);

	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(lc_check_config(path, errbuf, sizeof(errbuf), &n),
	    LC_ERR_PERM);
	assert_int_equal(n, 1);
	assert_non_null(strstr(errbuf, "lifecycle.conf: writable by group or "
	    "others"));
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(lc_load(link, &lc, errbuf, sizeof(errbuf)), LC_ERR_PERM);
	assert_null(lc);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(lc_load("/nonexistent/lc.conf", &lc, errbuf,
	    sizeof(errbuf)), LC_ERR_IO);
}

/* crl_reasons: CRL reason -> a transition with effect none or revoke. */
static void
crl_reasons(void **state)
{
	struct lc *lc = NULL;
#define CAHOLD ",\n  { name = \"ca_hold\"; from = [ \"active\" ]; to = \"suspended\"; effect = \"none\"; roles = [ ]; }"

	(void)state;
	assert_int_equal(load(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"certificateHold\"; transition = \"ca_hold\"; } );\n",
	    &lc), LC_OK);
	assert_string_equal(lc_crl_transition(lc, 6)->name, "ca_hold");
	assert_null(lc_crl_transition(lc, 1));
	assert_null(lc_crl_transition(lc, -1));
	assert_null(lc_crl_transition(lc, 99));
	lc_free(lc);
	/* A card lost through the CRL revokes its other certificates. */
	assert_int_equal(load(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"keyCompromise\"; transition = \"rollback\"; } );\n",
	    &lc), LC_OK);
	assert_int_equal(lc_crl_transition(lc, 1)->effect, LC_EFFECT_REVOKE);
	lc_free(lc);
	refused(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"certificateHold\"; transition = \"suspend\"; } );\n",
	    "lc.conf:10: crl_reasons: transition suspend has effect hold: a card "
	    "following the CA's CRL revokes its other certificates (effect "
	    "revoke) or sends nothing (effect none)");
	refused(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"keyCompromised\"; transition = \"ca_hold\"; } );\n",
	    "lc.conf:10: crl_reasons: unknown reason \"keyCompromised\"");
	refused(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"keyCompromise\"; transition = \"ca_gone\"; } );\n",
	    "crl_reasons: keyCompromise names no transition \"ca_gone\"");
	refused(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"certificateHold\"; transition = \"ca_hold\"; },\n"
	    "  { reason = \"certificateHold\"; transition = \"ca_hold\"; } );\n",
	    "lc.conf:11: crl_reasons: certificateHold named twice");
	refused(HEAD SUSPEND CAHOLD TAIL
	    "crl_reasons = ( { reason = \"certificateHold\"; to = \"ca_hold\"; } );\n",
	    "to");
}

static void
names(void **state)
{
	(void)state;
	for (int s = 0; s < LC_NSTATES; s++)
		assert_int_equal(lc_state_from_name(lc_state_name(s)), s);
	assert_null(lc_state_name(LC_NSTATES));
	assert_int_equal(lc_state_from_name("Active"), -1);
	assert_string_equal(lc_effect_name(LC_EFFECT_UNHOLD), "unhold");
	assert_string_equal(lc_errname(LC_ERR_PERM), "LC_ERR_PERM");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_and_reasons),
		cmocka_unit_test(strict_errors),
		cmocka_unit_test(every_error),
		cmocka_unit_test(shipped_file_and_secrecy),
		cmocka_unit_test(crl_reasons),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
