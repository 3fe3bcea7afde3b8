/*
 * Unit tests: renewal requirements (cardmgr/policy/renew.c) over a profile
 * parsed by the real parser: each reason alone, the renewal window's edge,
 * a profile version bump, supersede rules in both directions, the key
 * policy, and the profile settings' own refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy/profile.h"
#include "policy/renew.h"

#define DAY 86400ULL
#define NOW (1800000000ULL)

/* 9a (window 30 days, default), 9c (window 10, key reuse, since v2) and
 * 9d superseding retired slot 82; the profile is at version 2. */
static const char *text =
    "name = \"t\"; version = 2; validity_days = 1000;\n"
    "slots = (\n"
    "  { slot = \"9a\"; algorithm = \"eccp256\"; cert_profile = \"a\";\n"
    "    cert_days = 365; subject = \"/CN=%{name}\"; },\n"
    "  { slot = \"9c\"; algorithm = \"eccp256\"; cert_profile = \"s\";\n"
    "    cert_days = 365; subject = \"/CN=%{name}\"; renew_days = 10;\n"
    "    renew_key = \"reuse\"; since_version = 2; },\n"
    "  { slot = \"9d\"; algorithm = \"rsa2048\"; cert_profile = \"k\";\n"
    "    cert_days = 365; subject = \"/CN=%{name}\";\n"
    "    supersedes = [ \"82\" ]; }\n"
    ");\n"
    "roles = { issue = []; pin_change = []; unblock = []; retire = [];\n"
    "  suspend = []; replace = []; temporary = []; audit = [];\n"
    "  inventory = []; };\n";

static char errbuf[4096];

static int
setup(void **state)
{
	struct prof *p = NULL;

	if (prof_load_string("t.conf", text, strlen(text), NULL, &p, errbuf,
	    sizeof(errbuf)) != PROF_OK) {
		fprintf(stderr, "%s", errbuf);
		return -1;
	}
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	prof_free(*state);
	return 0;
}

static struct rnw_cert
cert(const char *serial, uint8_t slot, uint64_t not_after,
    enum rnw_status st)
{
	struct rnw_cert c;

	memset(&c, 0, sizeof(c));
	snprintf(c.serial, sizeof(c.serial), "%s", serial);
	c.slot = slot;
	c.not_after = not_after;
	c.status = st;
	return c;
}

/* A sound card: every slot far from its window, current version. */
static size_t
sound(struct rnw_cert *v)
{
	v[0] = cert("a1", 0x9a, NOW + 200 * DAY, RNW_CERT_VALID);
	v[1] = cert("c1", 0x9c, NOW + 200 * DAY, RNW_CERT_VALID);
	v[2] = cert("d1", 0x9d, NOW + 200 * DAY, RNW_CERT_VALID);
	return 3;
}

static const struct rnw_item *
item(const struct rnw_list *l, uint8_t slot)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->items[i].slot == slot)
			return &l->items[i];
	return NULL;
}

static void
settings_parsed(void **state)
{
	const struct prof *p = *state;

	assert_int_equal(p->slots[0].renew_days, PROF_RENEW_DAYS_DEFAULT);
	assert_int_equal(p->slots[0].since_version, 1);
	assert_int_equal(p->slots[0].renew_reuse_key, 0);
	assert_int_equal(p->slots[1].renew_days, 10);
	assert_int_equal(p->slots[1].renew_reuse_key, 1);
	assert_int_equal(p->slots[1].since_version, 2);
	assert_int_equal(p->slots[2].nsupersedes, 1);
	assert_int_equal(p->slots[2].supersedes[0], 0x82);
}

static void
sound_card_needs_nothing(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 0);
}

static void
missing(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	v[0].slot = 0x9e;	/* not a profile slot: 9a is missing */
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9a);
	assert_int_equal(l.items[0].reasons, RNW_MISSING);
	assert_int_equal(l.items[0].new_key, 1);
	assert_string_equal(l.items[0].old_serial, "");
	assert_int_equal(l.items[0].nrevoke, 0);
	/* An empty card needs every slot. */
	assert_int_equal(rnw_requirements(*state, 2, NULL, 0, NOW, &l),
	    RNW_OK);
	assert_int_equal(l.n, 3);
}

static void
window_edges(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);
	const struct rnw_item *it;

	/* One second outside the 30-day window: nothing. */
	v[0].not_after = NOW + 30 * DAY + 1;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 0);
	/* On its edge: renew, with a new key (9a does not reuse), and the
	 * old certificate revoked once the new one is on the card. */
	v[0].not_after = NOW + 30 * DAY;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	it = item(&l, 0x9a);
	assert_non_null(it);
	assert_int_equal(it->reasons, RNW_EXPIRING);
	assert_int_equal(it->new_key, 1);
	assert_string_equal(it->old_serial, "a1");
	assert_int_equal(it->nrevoke, 1);
	assert_string_equal(it->revoke[0], "a1");
	/* 9c's own, shorter window: 11 days out is outside it. */
	v[0].not_after = NOW + 200 * DAY;
	v[1].not_after = NOW + 11 * DAY;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 0);
	v[1].not_after = NOW + 10 * DAY;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9c);
	assert_int_equal(l.items[0].reasons, RNW_EXPIRING);
	/* The profile lets 9c keep its key when it only ages. */
	assert_int_equal(l.items[0].new_key, 0);
}

static void
expired(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	v[2].not_after = NOW;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9d);
	assert_int_equal(l.items[0].reasons, RNW_EXPIRED);
	assert_int_equal(l.items[0].nrevoke, 1);
}

static void
revoked_and_on_crl(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	v[1].status = RNW_CERT_REVOKED;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9c);
	assert_int_equal(l.items[0].reasons, RNW_REVOKED);
	/* A revoked key is never certified again, whatever the profile. */
	assert_int_equal(l.items[0].new_key, 0 + 1);
	/* Already revoked: nothing left to revoke. */
	assert_int_equal(l.items[0].nrevoke, 0);
	assert_string_equal(l.items[0].old_serial, "c1");
	v[1].status = RNW_CERT_VALID;
	v[1].on_crl = 1;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].reasons, RNW_ON_CRL);
	assert_int_equal(l.items[0].new_key, 1);
	/* A valid one beside the revoked one counts, not the revoked one. */
	v[1].on_crl = 0;
	v[3] = cert("c0", 0x9c, NOW + 300 * DAY, RNW_CERT_REVOKED);
	assert_int_equal(rnw_requirements(*state, 2, v, n + 1, NOW, &l),
	    RNW_OK);
	assert_int_equal(l.n, 0);
}

static void
held_is_left_alone(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	v[0].status = RNW_CERT_HOLD;
	v[0].not_after = NOW - DAY;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 0);
}

static void
profile_version(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	/* Issued under version 1: only 9c changed in version 2. */
	assert_int_equal(rnw_requirements(*state, 1, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9c);
	assert_int_equal(l.items[0].reasons, RNW_VERSION);
	/* A new definition gets a new key even where reuse is allowed. */
	assert_int_equal(l.items[0].new_key, 1);
	assert_string_equal(l.items[0].revoke[0], "c1");
	/* Reasons add up. */
	v[1].not_after = NOW + DAY;
	assert_int_equal(rnw_requirements(*state, 1, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.items[0].reasons, RNW_VERSION | RNW_EXPIRING);
}

static void
supersede_only_old_needs_new(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	/* Holding only Y (82): X (9d) is needed and Y goes once X is on. */
	v[2] = cert("y1", 0x82, NOW + 200 * DAY, RNW_CERT_VALID);
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].slot, 0x9d);
	assert_int_equal(l.items[0].reasons, RNW_SUPERSEDES);
	assert_int_equal(l.items[0].new_key, 1);
	assert_int_equal(l.items[0].nrevoke, 1);
	assert_string_equal(l.items[0].revoke[0], "y1");
	assert_int_equal(l.items[0].revoke_slot[0], 0x82);
	/* A revoked Y is no claim to X: X is merely missing. */
	v[2].status = RNW_CERT_REVOKED;
	assert_int_equal(rnw_requirements(*state, 2, v, n, NOW, &l), RNW_OK);
	assert_int_equal(l.items[0].reasons, RNW_MISSING);
	assert_int_equal(l.items[0].nrevoke, 0);
}

static void
supersede_new_covers_old(void **state)
{
	struct rnw_cert v[8];
	struct rnw_list l;
	size_t n = sound(v);

	/* Holding X: Y needs nothing, even expired. */
	v[3] = cert("y1", 0x82, NOW - DAY, RNW_CERT_VALID);
	assert_int_equal(rnw_requirements(*state, 2, v, n + 1, NOW, &l),
	    RNW_OK);
	assert_int_equal(l.n, 0);
	/* X renewed: the valid Y goes with the old X. */
	v[3].not_after = NOW + DAY;
	v[2].not_after = NOW + DAY;
	assert_int_equal(rnw_requirements(*state, 2, v, n + 1, NOW, &l),
	    RNW_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.items[0].nrevoke, 2);
	assert_string_equal(l.items[0].revoke[0], "d1");
	assert_string_equal(l.items[0].revoke[1], "y1");
}

static void
bounds_and_names(void **state)
{
	static struct rnw_cert many[RNW_CERTS_MAX + 1];
	struct rnw_list l;
	uint32_t b;
	int k = 0;

	assert_int_equal(rnw_requirements(*state, 2, many, RNW_CERTS_MAX + 1,
	    NOW, &l), RNW_ERR_TOOMANY);
	assert_int_equal(rnw_requirements(NULL, 2, NULL, 0, NOW, &l),
	    RNW_ERR_ARG);
	assert_int_equal(rnw_requirements(*state, 2, NULL, 1, NOW, &l),
	    RNW_ERR_ARG);
	for (b = 1; b != 0; b <<= 1)
		k += rnw_reason_name(b) != NULL;
	assert_int_equal(k, RNW_NREASONS);
	assert_string_equal(rnw_errname(RNW_ERR_TOOMANY), "RNW_ERR_TOOMANY");
}

/* The profile refuses renewal settings that cannot mean anything. */
static void
refused(const char *from, const char *to, const char *msg)
{
	char t[4096];
	const char *at = strstr(text, from);
	struct prof *p = NULL;

	assert_non_null(at);
	snprintf(t, sizeof(t), "%.*s%s%s", (int)(at - text), text, to,
	    at + strlen(from));
	assert_int_equal(prof_load_string("t.conf", t, strlen(t), NULL, &p,
	    errbuf, sizeof(errbuf)), PROF_ERR_CONFIG);
	assert_null(p);
	if (strstr(errbuf, msg) == NULL)
		fail_msg("want \"%s\", got: %s", msg, errbuf);
}

static void
settings_refused(void **state)
{
	(void)state;
	refused("renew_days = 10;", "renew_days = 365;",
	    "t.conf:6: renew_days 365 must be below cert_days 365");
	refused("renew_days = 10;", "renew_days = -1;", "out of range");
	refused("since_version = 2;", "since_version = 3;",
	    "t.conf:7: since_version 3 is above the profile's version 2");
	refused("renew_key = \"reuse\";", "renew_key = \"old\";",
	    "t.conf:7: ");
	refused("[ \"82\" ]", "[ \"9a\" ]",
	    "slot 9d supersedes 9a, which is still one of the profile's slots");
	refused("[ \"82\" ]", "[ \"9d\" ]", "slot 9d cannot supersede itself");
	refused("[ \"82\" ]", "[ \"7f\" ]", "supersedes: \"7f\" is not");
	refused("[ \"82\" ]", "[ \"82\", \"82\" ]", "slot 82 is superseded twice");
	refused("[ \"82\" ]", "[ ]", "supersedes must list 1 to 4 slots");
	refused("renew_key = \"reuse\";",
	    "renew_key = \"reuse\"; supersedes = [ \"82\" ];",
	    "slot 82 is superseded twice");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(settings_parsed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(sound_card_needs_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(missing, setup, teardown),
		cmocka_unit_test_setup_teardown(window_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(expired, setup, teardown),
		cmocka_unit_test_setup_teardown(revoked_and_on_crl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(held_is_left_alone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(profile_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(supersede_only_old_needs_new,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(supersede_new_covers_old,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(bounds_and_names, setup,
		    teardown),
		cmocka_unit_test(settings_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
