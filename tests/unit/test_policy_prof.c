/*
 * Unit tests: card profiles (cardmgr/policy/profile.c), the shipped
 * profiles in provisioning/profiles/, and prof_check_config.
 *
 * Each error case mutates one line of a small valid profile and checks the
 * message names the file and the line where the mistake is.
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

#include <sodium.h>

#include "policy/operators.h"
#include "policy/pin.h"
#include "policy/profile.h"

/* Line numbers below are those of this text. */
static const char *base =
    "name = \"t\";\n"						/* 1 */
    "version = 1;\n"						/* 2 */
    "validity_days = 365;\n"					/* 3 */
    "slots = (\n"						/* 4 */
    "  { slot = \"9a\"; algorithm = \"eccp256\"; cert_profile = \"piv-auth\";\n"
    "    cert_days = 365; subject = \"/CN=%{name}/UID=%{id}\"; },\n"	/* 6 */
    "  { slot = \"9d\"; algorithm = \"rsa2048\"; cert_profile = \"piv-enc\";\n"
    "    cert_days = 365; escrow = true; subject = \"/CN=%{name}\"; }\n"	/* 8 */
    ");\n"							/* 9 */
    "challenge = {\n"						/* 10 */
    "  questions = ( { id = 1; text = \"a?\"; }, { id = 2; text = \"b?\"; },\n"
    "                { id = 3; text = \"c?\"; } );\n"		/* 12 */
    "  enrolled = 3;\n"						/* 13 */
    "  asked = 2;\n"						/* 14 */
    "};\n"							/* 15 */
    "roles = {\n"						/* 16 */
    "  issue = [ \"badge_officer\" ]; pin_change = [ \"holder\" ];\n"
    "  unblock = [ \"helpdesk\" ]; retire = [ \"badge_officer\" ];\n"
    "  suspend = [ \"helpdesk\" ]; replace = [ \"badge_officer\" ];\n"
    "  temporary = [ \"badge_officer\" ]; audit = [ \"auditor\" ];\n"	/* 20 */
    "  inventory = [ \"administrator\" ];\n"			/* 21 */
    "};\n"							/* 22 */
    "revocation = { lost = \"keyCompromise\"; suspend = \"certificateHold\"; };\n";

static char errbuf[8192];

/* base with the first `from` replaced by `to` (from "" appends to). */
static char *
mutate(const char *from, const char *to)
{
	static char text[8192];
	const char *at;

	if (*from == '\0') {
		snprintf(text, sizeof(text), "%s%s", base, to);
		return text;
	}
	at = strstr(base, from);
	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base, to,
	    at + strlen(from));
	return text;
}

static int
load_text(const char *text, struct prof **p)
{
	return prof_load_string("t.conf", text, strlen(text), NULL, p, errbuf,
	    sizeof(errbuf));
}

/* The mutated profile is refused with msg on line. */
static void
refused(const char *from, const char *to, unsigned line, const char *msg)
{
	struct prof *p = (struct prof *)1;
	char want[256];

	assert_int_equal(load_text(mutate(from, to), &p), PROF_ERR_CONFIG);
	assert_null(p);
	snprintf(want, sizeof(want), "t.conf:%u: ", line);
	if (strstr(errbuf, want) == NULL || strstr(errbuf, msg) == NULL)
		fail_msg("want \"%s...%s\", got: %s", want, msg, errbuf);
	/* The message for that line is the one holding msg. */
	assert_true(strstr(strstr(errbuf, want), msg) != NULL);
}

static void
base_loads_with_defaults(void **state)
{
	struct prof *p = NULL;

	(void)state;
	assert_int_equal(load_text(base, &p), PROF_OK);
	assert_string_equal(errbuf, "");
	assert_string_equal(p->name, "t");
	assert_int_equal(p->nslots, 2);
	assert_int_equal(p->slots[0].slot, 0x9a);
	assert_int_equal(p->slots[0].alg, PROF_ALG_ECCP256);
	assert_int_equal(p->slots[0].escrow, 0);
	assert_int_equal(p->slots[1].slot, 0x9d);
	assert_int_equal(p->slots[1].escrow, 1);
	assert_string_equal(p->slots[1].cert_profile, "piv-enc");
	assert_int_equal(p->mgmt_alg, PROF_MGMT_AES192);
	assert_int_equal(p->pin.min_len, 6);
	assert_int_equal(p->pin.max_len, 8);
	assert_int_equal(p->pin.digits_only, 1);
	assert_int_equal(p->pin.repeat_run, 3);
	assert_int_equal(p->pin.sequence_run, 4);
	assert_int_equal(p->pin.not_previous, 1);
	assert_int_equal(p->puk.length, 8);
	assert_int_equal(p->pin_retries, 3);
	assert_int_equal(p->puk_retries, 3);
	assert_int_equal(p->challenge.enabled, 1);
	assert_int_equal(p->challenge.nquestions, 3);
	assert_int_equal(p->challenge.questions[2].id, 3);
	assert_string_equal(p->challenge.questions[2].text, "c?");
	assert_int_equal(p->challenge.min_answer_len, 3);
	/* The default cost is libsodium's own interactive Argon2id one. */
	assert_true(p->challenge.hash_ops ==
	    crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
	assert_true(p->challenge.hash_mem ==
	    crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
	assert_true(prof_allows(p, PROF_OP_ISSUE, OPR_ROLE_BADGE_OFFICER));
	assert_false(prof_allows(p, PROF_OP_ISSUE, OPR_ROLE_HELPDESK));
	assert_true(prof_allows(p, PROF_OP_PIN_CHANGE, OPR_ROLE_HOLDER));
	assert_int_equal(p->reason[PROF_EV_LOST], 1);
	assert_int_equal(p->reason[PROF_EV_SUSPEND], 6);
	assert_int_equal(p->reason[PROF_EV_RETIRE], 5);	/* default */
	assert_int_equal(p->reason[PROF_EV_REPLACE], 4);	/* default */
	assert_string_equal(prof_reason_name(p->reason[PROF_EV_DAMAGED]),
	    "cessationOfOperation");
	assert_int_equal(p->self_test, 1);
	assert_int_equal(p->reuse_retired, 0);
	assert_int_equal(p->key_recovery_approvals, 0);	/* default: none */
	assert_non_null(prof_slot(p, 0x9d));
	assert_null(prof_slot(p, 0x9c));
	prof_free(p);
}

static void
syntax_errors(void **state)
{
	(void)state;
	refused("version = 1;", "version == 1;", 2, "syntax error");
	refused("slots = (", "slots = (,", 4, "syntax error");
	/* Two settings of one name: libconfig's own refusal, with its line. */
	refused("", "version = 2;\n", 24, "duplicate setting name");
	/* libconfig 1.5 would read this as 1215752191. */
	refused("version = 1;", "version = 99999999999;", 2,
	    "number too large");
	refused("version = 1;", "version = 0x1000000000;", 2,
	    "number too large");
	refused("name = \"t\";", "@include \"/etc/passwd\"\nname = \"t\";", 1,
	    "directives (@include) are not allowed");
}

static void
nul_byte_refused(void **state)
{
	struct prof *p = NULL;
	char text[4096];
	size_t n = strlen(base);

	(void)state;
	memcpy(text, base, n);
	text[n] = '\0';
	memcpy(text + n + 1, "x = 1;\n", 8);
	assert_int_equal(prof_load_string("t.conf", text, n + 8, NULL, &p,
	    errbuf, sizeof(errbuf)), PROF_ERR_CONFIG);
	assert_non_null(strstr(errbuf, "t.conf:24: NUL byte"));
}

/* (text, len) is all the caller promises: no NUL after it (fuzz-found). */
static void
text_without_terminator(void **state)
{
	struct prof *p = NULL;
	size_t n = strlen(base);
	char *exact = malloc(n);

	(void)state;
	assert_non_null(exact);
	memcpy(exact, base, n);
	assert_int_equal(prof_load_string("t.conf", exact, n, NULL, &p, errbuf,
	    sizeof(errbuf)), PROF_OK);
	assert_string_equal(p->name, "t");
	prof_free(p);
	/* An unterminated string is refused at the line it starts on. */
	memcpy(exact, base, n);
	exact[strstr(base, "\"certificateHold\"") - base + 16] = ' ';
	assert_int_equal(prof_load_string("t.conf", exact, n, NULL, &p, errbuf,
	    sizeof(errbuf)), PROF_ERR_CONFIG);
	assert_non_null(strstr(errbuf, "t.conf:23: unterminated string"));
	free(exact);
}

static void
unknown_settings(void **state)
{
	(void)state;
	refused("", "colour = \"red\";\n", 24,
	    "unknown setting 'colour' in top level");
	refused("cert_days = 365; escrow", "cert_dayz = 365; escrow", 8,
	    "unknown setting 'cert_dayz' in slots[1]");
	/* ...and the setting it should have been is missing (group's line). */
	refused("cert_days = 365; escrow", "cert_dayz = 365; escrow", 7,
	    "missing setting 'cert_days' in slots[1]");
	refused("asked = 2;", "asked = 2; askd = 3;", 14,
	    "unknown setting 'askd' in challenge");
	refused("", "pin = { min_len = 6; };\n", 24,
	    "unknown setting 'min_len' in pin");
	refused("revocation = { lost", "revocation = { lose = \"superseded\"; lost",
	    23, "unknown setting 'lose' in revocation");
	refused("audit = [", "audits = [", 20,
	    "unknown setting 'audits' in roles");
}

static void
out_of_range_and_types(void **state)
{
	(void)state;
	refused("validity_days = 365;", "validity_days = 3000;", 3,
	    "validity_days = 3000 is out of range 1..2191");
	refused("validity_days = 365;", "validity_days = 0;", 3,
	    "out of range");
	refused("", "pin = { max_length = 9; };\n", 24,
	    "pin.max_length = 9 is out of range 6..8");
	refused("", "pin = { min_length = 5; };\n", 24, "out of range 6..8");
	refused("", "pin = { min_length = 8; max_length = 7; };\n", 24,
	    "max_length 7 is below min_length 8");
	refused("", "pin = { repeat_run = 1; };\n", 24, "repeat_run must be");
	refused("", "pin = { sequence_run = 2; };\n", 24,
	    "sequence_run must be");
	refused("", "pin = { blocklist = \"../etc/x\"; };\n", 24,
	    "blocklist must be a file name");
	refused("", "puk = { length = 6; };\n", 24,
	    "puk.length = 6 is out of range 8..8");
	refused("", "pin_retries = 11;\n", 24, "out of range 1..10");
	refused("", "pin_retries = 0;\n", 24, "out of range 1..10");
	refused("", "puk_retries = 16;\n", 24, "out of range 1..15");
	refused("", "key_recovery_approvals = 10;\n", 24,
	    "key_recovery_approvals = 10 is out of range 0..9");
	refused("", "key_recovery_approvals = -1;\n", 24, "out of range 0..9");
	refused("", "management_key = \"des\";\n", 24,
	    "management_key: unknown value \"des\"");
	refused("version = 1;", "version = \"1\";", 2,
	    "version must be an integer");
	refused("version = 1;", "version = 1.5;", 2,
	    "version must be an integer");
	refused("escrow = true;", "escrow = 1;", 8,
	    "slots[1].escrow must be true or false");
	refused("slots = (", "slots = 3;\nslotz = (", 4, "slots must be a list");
	refused("asked = 2;", "asked = 2; lock_seconds = 2592001;", 14,
	    "out of range 0..2592000");
	refused("asked = 2;", "asked = 2; hash_mem_kib = 4;", 14,
	    "out of range 8..1048576");
}

static void
slot_rules(void **state)
{
	(void)state;
	/* Escrow of the signature key: refused, and said why. */
	refused("slot = \"9d\"", "slot = \"9c\"", 8,
	    "escrow refused for slot 9c: only key management keys");
	refused("slot = \"9d\"", "slot = \"9c\"", 8, "signing key");
	refused("slot = \"9d\"", "slot = \"9a\"", 8, "escrow refused for slot 9a");
	refused("slot = \"9d\"", "slot = \"9a\"", 7, "slot 9a is listed twice");
	refused("slot = \"9a\"", "slot = \"9b\"", 5,
	    "slot \"9b\" is not 9a, 9c, 9d, 9e or a retired slot");
	refused("slot = \"9a\"", "slot = \"96\"", 5, "is not 9a");
	refused("algorithm = \"eccp256\"", "algorithm = \"ed25519\"", 5,
	    "slots[0].algorithm: unknown value");
	refused("cert_days = 365; subject", "cert_days = 366; subject", 6,
	    "cert_days 366 outlives the card (validity_days 365)");
	refused("/CN=%{name}/UID=%{id}", "/CN=%{nam}", 6,
	    "unknown placeholder");
	refused("/CN=%{name}/UID=%{id}", "CN=%{name}", 6,
	    "must start with '/'");
	refused("/CN=%{name}/UID=%{id}", "/CN=%{name}/UID", 6,
	    "attribute without '='");
	refused("cert_profile = \"piv-auth\"", "cert_profile = \"piv auth\"", 5,
	    "cert_profile must be");
	refused("slots = (\n", "slots = (\n  3,\n", 5,
	    "each slot must be a group");
}

static void
retired_slot_may_escrow(void **state)
{
	struct prof *p = NULL;

	(void)state;
	assert_int_equal(load_text(mutate("slot = \"9d\"", "slot = \"8A\""), &p),
	    PROF_OK);
	assert_non_null(prof_slot(p, 0x8a));
	assert_int_equal(prof_slot(p, 0x8a)->escrow, 1);
	prof_free(p);
}

static void
challenge_rules(void **state)
{
	(void)state;
	refused("asked = 2;", "asked = 4;", 14, "asked 4 is more than enrolled 3");
	refused("enrolled = 3;", "enrolled = 4;", 13,
	    "enrolled 4 is more than the 3 questions available");
	refused("{ id = 2;", "{ id = 1;", 11, "question id 1 is used twice");
	refused("{ id = 2;", "{ id = 0;", 11, "out of range 1..65535");
	refused("  questions = (", "  questions_file = \"q.conf\";\n"
	    "  questions = (", 11, "both questions and questions_file");
	refused("  questions = ( { id = 1; text = \"a?\"; }, { id = 2; text = "
	    "\"b?\"; },\n                { id = 3; text = \"c?\"; } );\n",
	    "  questions_file = \"q.conf\";\n", 11,
	    "questions_file needs a profile directory");
	refused("text = \"b?\"", "text = \"\"", 11,
	    "challenge.questions[1].text must be 1 to");
}

static void
role_and_reason_rules(void **state)
{
	(void)state;
	refused("audit = [ \"auditor\" ]", "audit = [ \"auditer\" ]", 20,
	    "roles.audit: unknown role \"auditer\"");
	refused("issue = [ \"badge_officer\" ]", "issue = [ \"holder\" ]", 17,
	    "roles.issue: holder may only be given pin_change and unblock");
	refused("  inventory = [ \"administrator\" ];\n", "", 16,
	    "missing setting 'inventory' in roles");
	refused("lost = \"keyCompromise\"", "lost = \"keycompromise\"", 23,
	    "revocation.lost: unknown value \"keycompromise\"");
	refused("lost = \"keyCompromise\"", "lost = \"cACompromise\"", 23,
	    "not a reason a card event may give");
	refused("lost = \"keyCompromise\"", "lost = \"certificateHold\"", 23,
	    "certificateHold is only for suspend");
	refused("suspend = \"certificateHold\"", "suspend = \"keyCompromise\"",
	    23, "revocation.suspend must be certificateHold");
}

static void
every_error_is_reported(void **state)
{
	struct prof *p = NULL;
	char *text;

	(void)state;
	text = mutate("slot = \"9d\"", "slot = \"9c\"");
	text = strdup(text);
	assert_non_null(text);
	base = text;
	refused("asked = 2;", "asked = 9;", 14, "asked 9 is more than");
	refused("asked = 2;", "asked = 9;", 8, "escrow refused for slot 9c");
	assert_int_equal(load_text(mutate("auditor", "nobody"), &p),
	    PROF_ERR_CONFIG);
	assert_non_null(strstr(errbuf, "t.conf:8: escrow refused"));
	assert_non_null(strstr(errbuf, "t.conf:20: roles.audit: unknown role"));
	free(text);
}

/* ---- files and directories ---- */

static char dir[64];

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_policy_prof.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
file_secrecy(void **state)
{
	struct prof *p = NULL;
	char path[256], link[256];

	(void)state;
	write_file("a.conf", base, 0644);
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	assert_int_equal(prof_load_file(path, &p, errbuf, sizeof(errbuf)),
	    PROF_OK);
	assert_string_equal(p->file, path);
	prof_free(p);

	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(prof_load_file(path, &p, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);
	assert_null(p);
	assert_non_null(strstr(errbuf, "a.conf: writable by group or others"));
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(prof_load_file(path, &p, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);

	assert_int_equal(chmod(path, 0644), 0);
	snprintf(link, sizeof(link), "%s/l.conf", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(prof_load_file(link, &p, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);
	assert_non_null(strstr(errbuf, "l.conf: is a symbolic link"));
	unlink(link);

	/* A directory others may write is refused, for one file or all. */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(prof_load_file(path, &p, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);
	assert_non_null(strstr(errbuf, "writable by group or others"));
	assert_int_equal(chmod(dir, 0700), 0);
}

static void
directory_symlink_refused(void **state)
{
	struct prof_set *set = NULL;
	char link[128];

	(void)state;
	write_file("a.conf", base, 0644);
	snprintf(link, sizeof(link), "%s.lnk", dir);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(prof_load_dir(link, &set, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);
	assert_null(set);
	assert_non_null(strstr(errbuf, "is a symbolic link"));
	unlink(link);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_ERR_PERM);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_OK);
	assert_int_equal(prof_set_count(set), 1);
	prof_set_free(set);
}

static void
directory_duplicates_and_questions(void **state)
{
	struct prof_set *set = NULL;
	const struct prof *p;
	char *two, want[160];

	(void)state;
	write_file("q.conf", "questions = ( { id = 7; text = \"x?\"; },\n"
	    "  { id = 9; text = \"y?\"; }, { id = 11; text = \"z?\"; } );\n",
	    0644);
	two = strdup(mutate("  questions = ( { id = 1; text = \"a?\"; }, "
	    "{ id = 2; text = \"b?\"; },\n                { id = 3; text = "
	    "\"c?\"; } );\n", "  questions_file = \"q.conf\";\n"));
	assert_non_null(two);
	write_file("a.conf", two, 0644);
	write_file("b.conf", mutate("name = \"t\";", "name = \"u\";"), 0644);
	write_file("notes.txt", "not a profile", 0644);
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_OK);
	assert_int_equal(prof_set_count(set), 2);
	p = prof_find(set, "t");
	assert_non_null(p);
	/* The questions came from q.conf, not from the profile text. */
	assert_string_equal(p->challenge.questions_file, "q.conf");
	assert_int_equal(p->challenge.nquestions, 3);
	assert_int_equal(p->challenge.questions[1].id, 9);
	assert_string_equal(p->challenge.questions[1].text, "y?");
	assert_non_null(prof_find(set, "u"));
	assert_null(prof_find(set, "v"));
	prof_set_free(set);

	/* A mistake in the questions file names that file and line. */
	write_file("q.conf", "questions = ( { id = 7; text = \"x?\"; },\n"
	    "  { id = 9; txt = \"y?\"; } );\n", 0644);
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s/q.conf:2: unknown setting 'txt'", dir);
	assert_non_null(strstr(errbuf, want));
	/* Also when reached through a.conf: always with its directory. */
	assert_int_not_equal(strncmp(errbuf, "q.conf", 6), 0);
	assert_null(strstr(errbuf, "\nq.conf"));
	write_file("q.conf", "questions = ( { id = 7; text = \"x?\"; },\n"
	    "  { id = 9; text = \"y?\"; }, { id = 11; text = \"z?\"; } );\n",
	    0644);

	/* Two files, one name. */
	write_file("b.conf", base, 0644);
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_ERR_DUPLICATE);
	assert_null(set);
	assert_non_null(strstr(errbuf, "b.conf:1: profile name \"t\" already "
	    "used by"));
	assert_non_null(strstr(errbuf, "a.conf"));
	free(two);
}

static void
questions_file_symlink_refused(void **state)
{
	struct prof *p = NULL;
	char path[256], target[256];

	(void)state;
	write_file("real.conf", "questions = ( { id = 1; text = \"x?\"; }, "
	    "{ id = 2; text = \"y?\"; }, { id = 3; text = \"z?\"; } );\n", 0644);
	snprintf(target, sizeof(target), "%s/real.conf", dir);
	snprintf(path, sizeof(path), "%s/q.conf", dir);
	assert_int_equal(symlink(target, path), 0);
	write_file("a.conf", mutate("  questions = ( { id = 1; text = \"a?\"; }, "
	    "{ id = 2; text = \"b?\"; },\n                { id = 3; text = "
	    "\"c?\"; } );\n", "  questions_file = \"q.conf\";\n"), 0644);
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	assert_int_equal(prof_load_file(path, &p, errbuf, sizeof(errbuf)),
	    PROF_ERR_CONFIG);
	assert_non_null(strstr(errbuf, "a.conf:11: questions_file q.conf: is "
	    "a symbolic link"));
}

/* ---- shipped files ---- */

/* Copy provisioning/profiles into dir with modes of our choosing, so the
 * test does not depend on the checkout's umask. */
static void
copy_shipped(void)
{
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp '%s'/provisioning/profiles/* '%s'/ && "
	    "cp '%s'/provisioning/operators.conf.example '%s'/ops.example "
	    "&& chmod 0644 '%s'/*", top, dir, top, dir, dir);
	assert_int_equal(system(cmd), 0);
}

static void
shipped_profiles_load(void **state)
{
	struct prof_set *set = NULL;
	const struct prof *e, *c, *t;
	size_t i;

	(void)state;
	copy_shipped();
	assert_int_equal(prof_load_dir(dir, &set, errbuf, sizeof(errbuf)),
	    PROF_OK);
	assert_int_equal(prof_set_count(set), 3);
	e = prof_find(set, "employee");
	c = prof_find(set, "contractor");
	t = prof_find(set, "temporary");
	assert_non_null(e);
	assert_non_null(c);
	assert_non_null(t);
	/* Employee: the four PIV keys, 9d escrowed only, 5 years. */
	assert_int_equal(e->nslots, 4);
	assert_int_equal(e->validity_days, 1826);
	assert_true(prof_slot(e, 0x9d)->escrow);
	assert_false(prof_slot(e, 0x9a)->escrow);
	assert_false(prof_slot(e, 0x9c)->escrow);
	assert_int_equal(prof_slot(e, 0x9c)->pin_policy, PROF_PINUSE_ALWAYS);
	assert_int_equal(e->challenge.nquestions, 10);
	assert_true(e->challenge.asked <= e->challenge.enrolled);
	assert_string_equal(e->pin.blocklist, "pin-blocklist.txt");
	/* Contractor: shorter, nothing escrowed. */
	assert_true(c->validity_days < e->validity_days);
	for (i = 0; i < c->nslots; i++)
		assert_false(c->slots[i].escrow);
	/* Temporary: 9a and 9e, 7-day certificates, no escrow. */
	assert_int_equal(t->nslots, 2);
	assert_non_null(prof_slot(t, 0x9a));
	assert_non_null(prof_slot(t, 0x9e));
	assert_int_equal(prof_slot(t, 0x9a)->cert_days, 7);
	assert_false(t->challenge.enabled);
	assert_false(prof_allows(t, PROF_OP_REPLACE, OPR_ROLE_ALL));
	prof_set_free(set);
}

static void
shipped_blocklist_works(void **state)
{
	struct pin_blocklist *bl = NULL;
	const struct prof_pin_policy pol = { 6, 8, 1, 3, 4, 1, "" };
	char path[256];
	const char *why;

	(void)state;
	copy_shipped();
	snprintf(path, sizeof(path), "%s/pin-blocklist.txt", dir);
	assert_int_equal(pin_blocklist_load(path, &bl, errbuf, sizeof(errbuf)),
	    PIN_OK);
	assert_true(pin_blocklist_count(bl) >= 30);
	/* 159753 breaks no other rule: only the list refuses it. */
	assert_int_equal(pin_check(&pol, "159753", NULL, NULL, &why), PIN_OK);
	assert_int_equal(pin_check(&pol, "159753", NULL, bl, &why),
	    PIN_ERR_BLOCKLISTED);
	assert_int_equal(pin_check(&pol, "12345678", NULL, bl, &why),
	    PIN_ERR_SEQUENCE);
	assert_int_equal(pin_check(&pol, "271828", NULL, bl, &why), PIN_OK);
	pin_blocklist_free(bl);
}

static void
check_config_reports_everything(void **state)
{
	char ops[256];
	unsigned n = 99;

	(void)state;
	copy_shipped();
	snprintf(ops, sizeof(ops), "%s/ops.example", dir);
	assert_int_equal(prof_check_config(dir, ops, errbuf, sizeof(errbuf),
	    &n), PROF_OK);
	assert_int_equal(n, 0);
	assert_string_equal(errbuf, "");

	/* One mistake in each of four files: all four reported. */
	write_file("broken.conf", "name = \"broken\";\nversion == 1;\n", 0644);
	write_file("x.conf", mutate("asked = 2;", "asked = 5;"), 0644);
	write_file("pin-blocklist.txt", "123456\n12 34\n", 0644);
	write_file("ops.example", "operators = ( { user = \"alice\"; "
	    "name = \"A\";\n roles = [ \"wizard\" ]; } );\n", 0644);
	assert_int_equal(prof_check_config(dir, ops, errbuf, sizeof(errbuf),
	    &n), PROF_ERR_CONFIG);
	if (n != 4)
		fail_msg("%u errors: %s", n, errbuf);
	assert_non_null(strstr(errbuf, "/broken.conf:2: syntax error"));
	assert_non_null(strstr(errbuf, "/x.conf:14: asked 5 is more than"));
	assert_non_null(strstr(errbuf, "/pin-blocklist.txt:2: entry has a "
	    "blank"));
	assert_non_null(strstr(errbuf, "/ops.example:2: unknown role "
	    "\"wizard\""));
}

static void
names_and_errors(void **state)
{
	(void)state;
	assert_string_equal(prof_alg_name(PROF_ALG_RSA3072), "rsa3072");
	assert_string_equal(prof_op_name(PROF_OP_PIN_CHANGE), "pin_change");
	assert_string_equal(prof_event_name(PROF_EV_STOLEN), "stolen");
	assert_string_equal(prof_reason_name(6), "certificateHold");
	assert_null(prof_reason_name(7));
	assert_null(prof_reason_name(11));
	assert_string_equal(prof_errname(PROF_ERR_PERM), "PROF_ERR_PERM");
	assert_string_equal(prof_strerror(PROF_ERR_DUPLICATE),
	    "duplicate profile name");
	assert_string_equal(prof_errname(-99), "PROF_ERR_UNKNOWN");
}

/* approvals = { key_recovery = m; }: the table, its bounds, one spelling. */
static void
approvals_table(void **state)
{
	struct prof *p = NULL;

	(void)state;
	assert_int_equal(load_text(mutate("", "approvals = { key_recovery = 3; "
	    "};\n"), &p), PROF_OK);
	assert_int_equal(p->key_recovery_approvals, 3);
	prof_free(p);
	p = NULL;
	assert_int_equal(load_text(mutate("", "approvals = { };\n"), &p),
	    PROF_OK);
	assert_int_equal(p->key_recovery_approvals, 0);
	prof_free(p);
	refused("", "approvals = { key_recovery = 10; };\n", 24,
	    "out of range 0..9");
	refused("", "approvals = { issue = 1; };\n", 24, "issue");
	refused("", "approvals = 2;\n", 24, "approvals");
	refused("", "key_recovery_approvals = 1;\napprovals = { "
	    "key_recovery = 2; };\n", 25, "say the same: give one");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(approvals_table),
		cmocka_unit_test(base_loads_with_defaults),
		cmocka_unit_test(syntax_errors),
		cmocka_unit_test(nul_byte_refused),
		cmocka_unit_test(text_without_terminator),
		cmocka_unit_test(unknown_settings),
		cmocka_unit_test(out_of_range_and_types),
		cmocka_unit_test(slot_rules),
		cmocka_unit_test(retired_slot_may_escrow),
		cmocka_unit_test(challenge_rules),
		cmocka_unit_test(role_and_reason_rules),
		cmocka_unit_test_setup_teardown(file_secrecy, make_dir,
		    remove_dir),
		cmocka_unit_test_setup_teardown(directory_symlink_refused,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
		    directory_duplicates_and_questions, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(questions_file_symlink_refused,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(shipped_profiles_load,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(shipped_blocklist_works,
		    make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(check_config_reports_everything,
		    make_dir, remove_dir),
		cmocka_unit_test(names_and_errors),
		/* Last: it swaps the base text. */
		cmocka_unit_test(every_error_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
