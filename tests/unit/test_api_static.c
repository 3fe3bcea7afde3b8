/*
 * Unit tests: api_static, the kiosk UI's static files. ast_path on every
 * kind of target it maps or refuses (by code, and the path and type it
 * gives); ast_read on a scratch tree: a file, a file in a folder, and the
 * traps (symlink out, symlink in, symlinked folder, FIFO, folder, oversize)
 * refused without following or blocking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_static.h"

static char rel[AST_PATH_MAX + 1];
static const char *ctype;

static int
map(const char *target)
{
	return ast_path(target, rel, sizeof(rel), &ctype);
}

static void
mapped(void **state)
{
	(void)state;
	assert_int_equal(map("/"), AST_OK);
	assert_string_equal(rel, "index.html");
	assert_string_equal(ctype, "text/html; charset=utf-8");
	assert_int_equal(map("/ui/"), AST_OK);
	assert_string_equal(rel, "index.html");
	assert_int_equal(map("/ui/js/app.js"), AST_OK);
	assert_string_equal(rel, "js/app.js");
	assert_string_equal(ctype, "text/javascript; charset=utf-8");
	assert_int_equal(map("/ui/css/kiosk.css?v=3"), AST_OK);
	assert_string_equal(rel, "css/kiosk.css");
	assert_string_equal(ctype, "text/css; charset=utf-8");
	assert_int_equal(map("/ui/img/a-b_c.1.svg"), AST_OK);
	assert_string_equal(ctype, "image/svg+xml");
	assert_int_equal(map("/ui/node_modules/libsodium/dist/modules/libsodium.js"), AST_OK);
	assert_int_equal(map("/ui/a/b/c/d/e/f/g/h.js"), AST_OK);	/* 8 deep */
}

static void
not_mine(void **state)
{
	(void)state;
	assert_int_equal(map("/v1/status"), AST_ERR_NOT_MINE);
	assert_int_equal(map("/uix/a.js"), AST_ERR_NOT_MINE);
	assert_int_equal(map("/UI/a.js"), AST_ERR_NOT_MINE);
	assert_int_equal(map(""), AST_ERR_NOT_MINE);
	assert_int_equal(map("//ui/a.js"), AST_ERR_NOT_MINE);
	assert_int_equal(map("/ui"), AST_ERR_NOTFOUND);
}

static void
refused(void **state)
{
	static const char *const bad[] = {
		"/ui/../etc/passwd", "/ui/js/../../x.js", "/ui/./index.html",
		"/ui/%2e%2e/x.js", "/ui/js%2fapp.js", "/ui/a%00.js",
		"/ui/.env.js", "/ui/js/.hidden.js", "/ui//a.js", "/ui/a/",
		"/ui/a\\b.js", "/ui/a b.js", "/ui/a+b.js", "/ui/\xc3\xa9.js",
		"/ui/a:b.js", "/ui/~user.js", NULL,
	};

	(void)state;
	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(map(bad[i]), AST_ERR_BAD);
		assert_string_equal(rel, "");
		assert_null(ctype);
	}
}

static void
bounds_and_types(void **state)
{
	char t[512];

	(void)state;
	assert_int_equal(map("/ui/a/b/c/d/e/f/g/h/i.js"), AST_ERR_TOOLONG);
	memset(t, 'a', sizeof(t));
	memcpy(t, "/ui/", 4);
	memcpy(t + 4 + 81, ".js", 4);	/* one segment of 84 bytes */
	assert_int_equal(map(t), AST_ERR_TOOLONG);
	memset(t + 4, 'a', sizeof(t) - 4);
	for (size_t i = 24; i < 4 + 201; i += 20)
		t[i] = '/';
	memcpy(t + 4 + 201, ".js", 4);	/* 204 bytes, short segments */
	assert_int_equal(map(t), AST_ERR_TOOLONG);
	assert_int_equal(map("/ui/README.md"), AST_ERR_TYPE);
	assert_int_equal(map("/ui/js/app"), AST_ERR_TYPE);
	assert_int_equal(map("/ui/app.JS"), AST_ERR_TYPE);
	assert_int_equal(map("/ui/app.js.map"), AST_ERR_TYPE);
	assert_int_equal(map("/ui/node_modules/x/package.json"), AST_OK);
	assert_int_equal(ast_path("/", rel, AST_PATH_MAX, &ctype), AST_ERR_ARG);
}

/* ---- ast_read on a scratch tree */

static char top[] = "/tmp/test_api_static.XXXXXX";
static int rootfd = -1;

static void
put(const char *name, const char *text, size_t n)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", top, name);
	assert_non_null(f = fopen(p, "w"));
	if (text != NULL)
		fputs(text, f);
	for (size_t i = 0; i < n; i++)
		fputc('x', f);
	fclose(f);
}

static void
at(const char *name, char *p, size_t cap)
{
	snprintf(p, cap, "%s/%s", top, name);
}

static int
setup(void **state)
{
	char p[256], q[256];

	(void)state;
	if (mkdtemp(top) == NULL)
		return -1;
	at("ui", p, sizeof(p));
	mkdir(p, 0755);
	at("ui/js", p, sizeof(p));
	mkdir(p, 0755);
	at("out", p, sizeof(p));
	mkdir(p, 0755);
	put("ui/index.html", "<!doctype html>", 0);
	put("ui/js/app.js", "export {};", 0);
	put("ui/empty.js", NULL, 0);
	put("ui/big.js", NULL, AST_FILE_MAX + 1);
	put("out/secret.js", "SECRET", 0);
	at("ui/link.js", p, sizeof(p));
	if (symlink("../out/secret.js", p) != 0)
		return -1;
	at("ui/js/same.js", p, sizeof(p));
	if (symlink("app.js", p) != 0)
		return -1;
	at("ui/out", p, sizeof(p));
	if (symlink("../out", p) != 0)
		return -1;
	at("ui/fifo.js", p, sizeof(p));
	if (mkfifo(p, 0600) != 0)
		return -1;
	at("ui/dir.js", q, sizeof(q));
	mkdir(q, 0755);
	at("ui", p, sizeof(p));
	rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	static const char *const names[] = { "ui/index.html", "ui/js/app.js",
	    "ui/empty.js", "ui/big.js", "out/secret.js", "ui/link.js",
	    "ui/js/same.js", "ui/out", "ui/fifo.js", "ui/dir.js", "ui/js",
	    "ui", "out", NULL };
	char p[256];

	(void)state;
	close(rootfd);
	for (size_t i = 0; names[i] != NULL; i++) {
		at(names[i], p, sizeof(p));
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(top);
	return 0;
}

static int
rd(const char *name, char **buf, size_t *len)
{
	return ast_read(rootfd, name, buf, len);
}

static void
reads(void **state)
{
	char *b;
	size_t n;

	(void)state;
	assert_int_equal(rd("index.html", &b, &n), AST_OK);
	assert_int_equal(n, 15);
	assert_memory_equal(b, "<!doctype html>", 15);
	free(b);
	assert_int_equal(rd("js/app.js", &b, &n), AST_OK);
	assert_int_equal(n, 10);
	free(b);
	assert_int_equal(rd("empty.js", &b, &n), AST_OK);
	assert_int_equal(n, 0);
	assert_non_null(b);
	free(b);
}

static void
traps(void **state)
{
	static const struct { const char *name; int rc; } t[] = {
		{ "link.js", AST_ERR_NOTFOUND },	/* symlink out */
		{ "js/same.js", AST_ERR_NOTFOUND },	/* symlink in: none followed */
		{ "out/secret.js", AST_ERR_NOTFOUND },	/* through a symlinked folder */
		{ "fifo.js", AST_ERR_NOTFOUND },	/* opened O_NONBLOCK, not regular */
		{ "dir.js", AST_ERR_NOTFOUND },
		{ "js", AST_ERR_NOTFOUND },
		{ "nope.js", AST_ERR_NOTFOUND },
		{ "index.html/x.js", AST_ERR_NOTFOUND },	/* a file as folder */
		{ "big.js", AST_ERR_TOOBIG },
		{ NULL, 0 },
	};
	char *b = (char *)1;
	size_t n = 99;

	(void)state;
	for (size_t i = 0; t[i].name != NULL; i++) {
		assert_int_equal(rd(t[i].name, &b, &n), t[i].rc);
		assert_null(b);
		assert_int_equal(n, 0);
	}
	assert_int_equal(ast_read(-1, "index.html", &b, &n), AST_ERR_ARG);
	assert_string_equal(ast_name(AST_ERR_TOOBIG), "AST_ERR_TOOBIG");
	assert_string_equal(ast_strerror(AST_ERR_NOTFOUND), "no such file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mapped),
		cmocka_unit_test(not_mine),
		cmocka_unit_test(refused),
		cmocka_unit_test(bounds_and_types),
		cmocka_unit_test(reads),
		cmocka_unit_test(traps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
