/*
 * Unit tests: the operator map (cardmgr/policy/operators.c): parsing,
 * strictness with file:line errors, secrecy checks, lookup by uid and by
 * the user name the system resolves a uid to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/operators.h"

static char errbuf[4096];

static int
load(const char *text, struct opr_map **m)
{
	return opr_load_string("ops.conf", text, strlen(text), m, errbuf,
	    sizeof(errbuf));
}

static void
refused(const char *text, const char *want)
{
	struct opr_map *m = (struct opr_map *)1;

	assert_int_equal(load(text, &m), OPR_ERR_CONFIG);
	assert_null(m);
	if (strstr(errbuf, want) == NULL)
		fail_msg("want \"%s\", got: %s", want, errbuf);
}

/* A real account other than root: the lookup by name needs one. */
static const struct passwd *
someone(void)
{
	const struct passwd *pw = getpwnam("nobody");

	if (pw == NULL)
		pw = getpwnam("daemon");
	assert_non_null(pw);
	assert_int_not_equal(pw->pw_uid, 0);
	return pw;
}

static void
parses_and_looks_up(void **state)
{
	const struct passwd *pw = someone();
	const struct opr_operator *op = NULL;
	struct opr_map *m = NULL;
	char text[512];

	(void)state;
	snprintf(text, sizeof(text),
	    "operators = (\n"
	    "  { user = \"%s\"; name = \"Ann\"; roles = [ \"helpdesk\" ]; },\n"
	    "  { uid = 4242; name = \"Ben\";\n"
	    "    roles = [ \"security_officer\", \"auditor\" ]; }\n"
	    ");\n", pw->pw_name);
	assert_int_equal(load(text, &m), OPR_OK);
	assert_int_equal(opr_count(m), 2);
	assert_int_equal(opr_get(m, 1)->line, 3);

	/* By name: the uid the system gives that name finds the entry. */
	assert_int_equal(opr_lookup_uid(m, pw->pw_uid, &op), OPR_OK);
	assert_string_equal(op->name, "Ann");
	assert_true(opr_has_role(op, OPR_ROLE_HELPDESK));
	assert_false(opr_has_role(op, OPR_ROLE_AUDITOR));

	/* By uid. */
	assert_int_equal(opr_lookup_uid(m, 4242, &op), OPR_OK);
	assert_string_equal(op->name, "Ben");
	assert_int_equal(op->uid, 4242);
	assert_true(opr_has_role(op, OPR_ROLE_SECURITY_OFFICER));
	assert_true(opr_has_role(op, OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_AUDITOR));
	assert_false(opr_has_role(op, OPR_ROLE_AUDITOR | OPR_ROLE_HELPDESK));
	assert_false(opr_has_role(op, 0));
	assert_false(opr_has_role(op, 1u << 20));

	assert_int_equal(opr_lookup_uid(m, 4243, &op), OPR_ERR_NOTFOUND);
	assert_null(op);
	assert_int_equal(opr_lookup_uid(m, 0, &op), OPR_ERR_NOTFOUND);
	opr_free(m);
}

static void
ambiguous_lookup(void **state)
{
	const struct passwd *pw = someone();
	const struct opr_operator *op = NULL;
	struct opr_map *m = NULL;
	char text[512];

	(void)state;
	snprintf(text, sizeof(text),
	    "operators = (\n"
	    "  { user = \"%s\"; name = \"A\"; roles = [ \"helpdesk\" ]; },\n"
	    "  { uid = %u; name = \"B\"; roles = [ \"administrator\" ]; }\n"
	    ");\n", pw->pw_name, (unsigned)pw->pw_uid);
	assert_int_equal(load(text, &m), OPR_OK);
	assert_int_equal(opr_lookup_uid(m, pw->pw_uid, &op), OPR_ERR_AMBIGUOUS);
	assert_null(op);
	opr_free(m);
}

static void
strict_errors(void **state)
{
	(void)state;
	refused("operators = (\n { user = \"ann\"; name = \"A\";\n"
	    "   roles = [ \"helpdesk\", \"wizard\" ]; } );\n",
	    "ops.conf:3: unknown role \"wizard\"");
	refused("operators = (\n { user = \"ann\"; name = \"A\";\n"
	    "   roles = [ \"holder\" ]; } );\n",
	    "ops.conf:3: holder is the card holder's own role");
	refused("operators = (\n { user = \"root\"; name = \"R\"; "
	    "roles = [ \"administrator\" ]; } );\n",
	    "ops.conf:2: root may not be an operator");
	refused("operators = (\n { uid = 0; name = \"R\"; "
	    "roles = [ \"administrator\" ]; } );\n",
	    "ops.conf:2: uid 0 (root) may not be an operator");
	refused("operators = (\n { uid = 5; user = \"x\"; name = \"R\"; "
	    "roles = [ \"auditor\" ]; } );\n",
	    "ops.conf:2: operator needs exactly one of user, uid and card_sha256");
	refused("operators = (\n { name = \"R\"; roles = [ \"auditor\" ]; } );\n",
	    "ops.conf:2: operator needs exactly one of user, uid and card_sha256");
	refused("operators = (\n { user = \"a\"; name = \"A\"; roles = "
	    "[ \"auditor\" ]; },\n { user = \"a\"; name = \"B\"; roles = "
	    "[ \"auditor\" ]; } );\n",
	    "ops.conf:3: user \"a\" already mapped at line 2");
	refused("operators = (\n { uid = 7; name = \"A\"; roles = "
	    "[ \"auditor\" ]; },\n { uid = 7; name = \"B\"; roles = "
	    "[ \"auditor\" ]; } );\n",
	    "ops.conf:3: uid 7 already mapped at line 2");
	refused("operators = (\n { user = \"a\"; name = \"A\"; role = "
	    "[ \"auditor\" ]; } );\n",
	    "ops.conf:2: unknown setting 'role' in operators[0]");
	refused("operators = (\n { user = \"a b\"; name = \"A\"; roles = "
	    "[ \"auditor\" ]; } );\n", "ops.conf:2: user \"a b\" is not");
	refused("operators = (\n { user = \"a\"; name = \"A\"; roles = [ ]; }"
	    " );\n", "ops.conf:2: operator has no role");
	refused("operators = (\n { uid = 99999999999; name = \"A\"; roles = "
	    "[ \"auditor\" ]; } );\n", "ops.conf:2: number too large");
	refused("operators = (\n { uid = -3; name = \"A\"; roles = "
	    "[ \"auditor\" ]; } );\n", "ops.conf:2: operators[0].uid = -3 is "
	    "out of range");
	refused("operator = ( );\n", "ops.conf:1: unknown setting 'operator'");
	refused("operators = (\n { user == \"a\"; name = \"A\"; } );\n",
	    "ops.conf:2: syntax error");
}

static void
example_file_and_secrecy(void **state)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char dir[] = "/tmp/test_policy_opr.XXXXXX", path[96], link[96],
	    cmd[512];
	const struct opr_operator *op;
	struct opr_map *m = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/operators.conf", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s'/provisioning/operators.conf.example"
	    " '%s' && chmod 0644 '%s'", top, path, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(opr_load(path, &m, errbuf, sizeof(errbuf)), OPR_OK);
	assert_int_equal(opr_count(m), 4);
	op = opr_get(m, 2);
	assert_string_equal(op->user, "carol");
	assert_true(opr_has_role(op, OPR_ROLE_SECURITY_OFFICER |
	    OPR_ROLE_AUDITOR));
	assert_false(opr_has_role(op, OPR_ROLE_BADGE_OFFICER));
	assert_int_equal(opr_lookup_uid(m, 1105, &op), OPR_OK);
	assert_true(opr_has_role(op, OPR_ROLE_ADMINISTRATOR));
	opr_free(m);

	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(opr_load(path, &m, errbuf, sizeof(errbuf)),
	    OPR_ERR_PERM);
	assert_null(m);
	assert_non_null(strstr(errbuf, "operators.conf: writable by group or "
	    "others"));
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(link, sizeof(link), "%s/link.conf", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(opr_load(link, &m, errbuf, sizeof(errbuf)),
	    OPR_ERR_PERM);
	assert_non_null(strstr(errbuf, "link.conf: is a symbolic link"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
role_names(void **state)
{
	uint32_t bit;

	(void)state;
	for (bit = 1; bit & OPR_ROLE_ALL; bit <<= 1)
		assert_int_equal(opr_role_from_name(opr_role_name(bit)), bit);
	assert_int_equal(opr_role_from_name("Helpdesk"), 0);
	assert_int_equal(opr_role_from_name(""), 0);
	assert_null(opr_role_name(OPR_ROLE_HELPDESK | OPR_ROLE_AUDITOR));
	assert_string_equal(opr_errname(OPR_ERR_AMBIGUOUS), "OPR_ERR_AMBIGUOUS");
	assert_string_equal(opr_strerror(OPR_ERR_NOTFOUND), "not an operator");
}

/* Card operators: by the SHA-256 of their 9A certificate. */
static void
card_entries(void **state)
{
	static const char hex[] =
	    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
	const struct opr_operator *op = NULL;
	struct opr_map *m = NULL;
	uint8_t d[32];
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "operators = (\n"
	    "  { uid = 4242; name = \"Ben\"; roles = [ \"auditor\" ]; },\n"
	    "  { card_sha256 = \"%s\"; name = \"Cat\";\n"
	    "    roles = [ \"administrator\" ]; }\n);\n", hex);
	assert_int_equal(load(text, &m), OPR_OK);
	assert_int_equal(opr_parse_sha256(hex, d), 0);
	assert_int_equal(d[31], 0xff);
	assert_int_equal(opr_lookup_card(m, d, &op), OPR_OK);
	assert_string_equal(op->name, "Cat");
	assert_int_equal(op->roles, OPR_ROLE_ADMINISTRATOR);
	d[0] ^= 1;
	assert_int_equal(opr_lookup_card(m, d, &op), OPR_ERR_NOTFOUND);
	assert_null(op);
	/* A card entry is nobody's uid. */
	assert_int_equal(opr_lookup_uid(m, 4242, &op), OPR_OK);
	assert_string_equal(op->name, "Ben");
	opr_free(m);
	refused("operators = ( { card_sha256 = \"00ff\"; name = \"X\"; "
	    "roles = [ \"auditor\" ]; } );", "ops.conf:1: card_sha256 must be 64");
	refused("operators = ( { uid = 7; card_sha256 = \"00\"; name = \"X\"; "
	    "roles = [ \"auditor\" ]; } );", "exactly one of user, uid and card");
	snprintf(text, sizeof(text), "operators = (\n"
	    "  { card_sha256 = \"%s\"; name = \"A\"; roles = [ \"auditor\" ]; },\n"
	    "  { card_sha256 = \"%s\"; name = \"B\"; roles = [ \"auditor\" ]; }\n"
	    ");\n", hex, hex);
	refused(text, "ops.conf:3: card already mapped at line 2");
}

/* approves: profiles and "org:" organisations; one person by name. */
static void
approvers(void **state)
{
	struct opr_map *m = NULL;

	(void)state;
	assert_int_equal(load(
	    "operators = (\n"
	    "{ uid = 1001; name = \"Ann\"; roles = [ \"helpdesk\" ];\n"
	    "  approves = [ \"employee\" ]; },\n"
	    "{ uid = 1002; name = \"Ben\"; roles = [ \"helpdesk\" ];\n"
	    "  approves = [ \"org:Example Ltd\" ]; },\n"
	    "{ uid = 1003; name = \"Ann\"; roles = [ \"auditor\" ];\n"
	    "  approves = [ \"employee\", \"contractor\" ]; },\n"
	    "{ uid = 1004; name = \"Cy\"; roles = [ \"helpdesk\" ]; }\n"
	    ");\n", &m), OPR_OK);
	assert_true(opr_may_approve(m, "Ann", "employee", ""));
	assert_true(opr_may_approve(m, "Ann", "contractor", NULL));
	assert_false(opr_may_approve(m, "Ben", "employee", "Other"));
	assert_true(opr_may_approve(m, "Ben", "employee", "Example Ltd"));
	assert_false(opr_may_approve(m, "Ben", "employee", "Example"));
	assert_false(opr_may_approve(m, "Cy", "employee", "Example Ltd"));
	assert_false(opr_may_approve(m, "Nobody", "employee", NULL));
	/* Ann twice is one person; the requester does not count. */
	assert_int_equal(opr_approvers(m, "employee", "Example Ltd", NULL), 2);
	assert_int_equal(opr_approvers(m, "employee", "Example Ltd", "Ann"), 1);
	assert_int_equal(opr_approvers(m, "contractor", "", NULL), 1);
	assert_int_equal(opr_approvers(m, "temporary", "", NULL), 0);
	opr_free(m);
	refused("operators = ( { uid = 1001; name = \"A\"; roles = "
	    "[ \"helpdesk\" ]; approves = [ \"\" ]; } );\n", "approves:");
	refused("operators = ( { uid = 1001; name = \"A\"; roles = "
	    "[ \"helpdesk\" ]; approves = [ \"org:\" ]; } );\n", "approves:");
	refused("operators = ( { uid = 1001; name = \"A\"; roles = "
	    "[ \"helpdesk\" ]; approves = [ 1 ]; } );\n", "ops.conf:1:");
	refused("operators = ( { uid = 1001; name = \"A\"; roles = "
	    "[ \"helpdesk\" ]; approves = [ \"a\", \"b\", \"c\", \"d\", "
	    "\"e\", \"f\", \"g\", \"h\", \"i\" ]; } );\n",
	    "more than 8 approves");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_looks_up),
		cmocka_unit_test(ambiguous_lookup),
		cmocka_unit_test(strict_errors),
		cmocka_unit_test(example_file_and_secrecy),
		cmocka_unit_test(role_names),
		cmocka_unit_test(card_entries),
		cmocka_unit_test(approvers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
