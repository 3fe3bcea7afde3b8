/* Unit tests: the strict ca.conf parser (errors as file:line: message). */
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

#include "ca/caconf.h"

static const char *good =
    "# station CA link\n"
    "server = ca.test\n"
    "port = 8443\n"
    "path = cmp   # trailing comment\n"
    "tls_trust = /etc/station/root.pem\n"
    "cmp_trust = /etc/station/root.pem\n"
    "state_dir = /var/lib/station\n"
    "pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\n"
    "token = station\n"
    "pin_file = /etc/station/pin\n"
    "key_label = station-key\n";

static char path[64];

static void
write_conf(const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_caconf.XXXXXX");
	assert_true(mkstemp(path) >= 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
load(const char *text, mode_t mode, struct caconf *c, char *err, size_t n)
{
	int rc;

	write_conf(text, mode);
	rc = caconf_load(path, c, err, n);
	unlink(path);
	return rc;
}

static void
parses_and_defaults(void **state)
{
	struct caconf c;
	char err[256];

	(void)state;
	assert_int_equal(load(good, 0600, &c, err, sizeof(err)), CACONF_OK);
	assert_string_equal(c.server, "ca.test");
	assert_int_equal(c.port, 8443);
	assert_int_equal(c.enroll_port, 8443);	/* defaults to port */
	assert_string_equal(c.path, "cmp");
	assert_int_equal(c.timeout, 10);
	assert_int_equal(c.plain_http, 0);
	assert_true(c.renew_before == 30L * 86400);
	assert_int_equal(c.keep_alive, 15);
	assert_int_equal(c.tls_resume, 1);
	assert_int_equal(c.implicit_confirm, 1);
	assert_string_equal(err, "");
}

static void
error_names_the_line(void **state)
{
	struct caconf c;
	char err[256], text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%sbogus = 1\n", good);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_ERR_SYNTAX);
	assert_non_null(strstr(err, ":12: unknown key"));
	snprintf(text, sizeof(text), "%sport = 1\n", good);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_ERR_SYNTAX);
	assert_non_null(strstr(err, ":12: duplicate key"));
	snprintf(text, sizeof(text), "no equals sign\n%s", good);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_ERR_SYNTAX);
	assert_non_null(strstr(err, ":1: expected key = value"));
}

static void
bad_values(void **state)
{
	struct caconf c;
	char err[256], text[2048];
	const char *bad[] = { "timeout = -1\n", "timeout = 10s\n",
	    "timeout = 70000\n", "plain_http = maybe\n", "subject =\n",
	    /* 0 would be "wait forever" to OpenSSL */
	    "timeout = 0\n", "timeout = 301\n",
	    "enroll_port = 65536\n", "enroll_port = 0\n",
	    /* now + renew_before must not overflow time_t */
	    "renew_before = 9223372036854775807\n",
	    "renew_before = 99999999999999999999999\n",
	    "renew_before = 316224001\n", "renew_before = -1\n",
	    /* below nginx's 75 s idle close */
	    "keep_alive = 61\n", "keep_alive = -1\n", "tls_resume = 2\n",
	    "implicit_confirm = maybe\n" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", good, bad[i]);
		assert_int_equal(load(text, 0600, &c, err, sizeof(err)),
		    CACONF_ERR_SYNTAX);
		assert_non_null(strstr(err, "bad value"));
		assert_non_null(strstr(err, ":12: "));	/* file:line */
	}
	snprintf(text, sizeof(text), "%srenew_before = 316224000\ntimeout = 300\n"
	    "keep_alive = 0\ntls_resume = no\nimplicit_confirm = no\n", good);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_OK);
	assert_true(c.renew_before == 316224000L && c.timeout == 300);
	assert_true(c.keep_alive == 0 && c.tls_resume == 0 &&
	    c.implicit_confirm == 0);
	snprintf(text, sizeof(text), "%srenew_before = 1e9\n", good);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)),
	    CACONF_ERR_SYNTAX);
	assert_non_null(strstr(err, ":12: bad value: renew_before must be an "
	    "integer from 0 to 316224000"));
}

static void
missing_keys(void **state)
{
	struct caconf c;
	char err[256];
	const char *no_trust = "server = a\nport = 1\npath = p\ncmp_trust = t\n"
	    "state_dir = s\npkcs11_module = m\ntoken = t\npin_file = p\n"
	    "key_label = k\n";

	(void)state;
	assert_int_equal(load("server = a\n", 0600, &c, err, sizeof(err)),
	    CACONF_ERR_MISSING);
	assert_non_null(strstr(err, "missing key port"));
	/* TLS needs its anchors unless plain_http (the mock server tests). */
	assert_int_equal(load(no_trust, 0600, &c, err, sizeof(err)),
	    CACONF_ERR_MISSING);
	assert_non_null(strstr(err, "missing key tls_trust"));
}

/* The body of a configuration without its server and port lines. */
static const char *rest =
    "path = cmp\n"
    "tls_trust = /etc/station/root.pem\n"
    "cmp_trust = /etc/station/root.pem\n"
    "state_dir = /var/lib/station\n"
    "pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\n"
    "token = station\n"
    "pin_file = /etc/station/pin\n"
    "key_label = key\n";

static void
server_list(void **state)
{
	struct caconf c;
	char err[256], text[2048];
	const char *bad[] = { "server = a,\n", "server = ,a\n",
	    "server = a,,b\n", "server = a b\n", "server = a:0\n",
	    "server = a:65536\n", "server = a:\n", "server = a:x\n",
	    "server = a:+1\n", "server = a:1:2\n", "server = \"a\n",
	    "server = a..b\n", "server = .a\n", "server = -a\n",
	    "server = a_b\n", "server = a, a\n", "server = a:1, \"a:1\"\n",
	    "server = a,b,c,d,e,f,g,h,i\n", "server = \"\"\n" };
	size_t i;

	(void)state;
	snprintf(text, sizeof(text), "server = \"ca1.test:8443\", "
	    "\"ca2.test:9443\"\n%s", rest);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_OK);
	assert_int_equal(c.nservers, 2);
	assert_string_equal(c.servers[0], "ca1.test");
	assert_string_equal(c.servers[1], "ca2.test");
	assert_int_equal(c.server_ports[0], 8443);
	assert_int_equal(c.server_ports[1], 9443);
	assert_string_equal(c.server, "ca1.test");	/* the first */
	assert_int_equal(c.port, 8443);
	assert_int_equal(c.enroll_port, 8443);
	/* `port` for entries without their own; the same host twice on two
	 * ports is two endpoints. */
	snprintf(text, sizeof(text), "server = a, b:7, a:7\nport = 5\n%s", rest);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_OK);
	assert_int_equal(c.nservers, 3);
	assert_int_equal(c.server_ports[0], 5);
	assert_int_equal(c.server_ports[1], 7);
	assert_int_equal(c.server_ports[2], 7);
	/* An entry without a port and no `port`: missing. */
	snprintf(text, sizeof(text), "server = a:1, b\n%s", rest);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)),
	    CACONF_ERR_MISSING);
	assert_non_null(strstr(err, "missing key port"));
	snprintf(text, sizeof(text), "server = a,b,c,d,e,f,g,h\nport = 1\n%s",
	    rest);
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_OK);
	assert_int_equal(c.nservers, CACONF_MAX_SERVERS);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "port = 1\n%s%s", bad[i], rest);
		assert_int_equal(load(text, 0600, &c, err, sizeof(err)),
		    CACONF_ERR_SYNTAX);
		assert_non_null(strstr(err, ":2: bad value"));
	}
}

static void
refuses_writable_file(void **state)
{
	struct caconf c;
	char err[256];

	(void)state;
	assert_int_equal(load(good, 0620, &c, err, sizeof(err)), CACONF_ERR_PERM);
	assert_int_equal(load(good, 0602, &c, err, sizeof(err)), CACONF_ERR_PERM);
	assert_int_equal(load(good, 0644, &c, err, sizeof(err)), CACONF_OK);
}

static void
long_line(void **state)
{
	struct caconf c;
	char err[256], *text = malloc(4096);

	(void)state;
	memset(text, 'x', 3000);
	memcpy(text, "server = ", 9);
	strcpy(text + 3000, "\n");
	assert_int_equal(load(text, 0600, &c, err, sizeof(err)), CACONF_ERR_SYNTAX);
	assert_non_null(strstr(err, ":1: line too long"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_defaults),
		cmocka_unit_test(error_names_the_line),
		cmocka_unit_test(bad_values),
		cmocka_unit_test(missing_keys),
		cmocka_unit_test(server_list),
		cmocka_unit_test(refuses_writable_file),
		cmocka_unit_test(long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
