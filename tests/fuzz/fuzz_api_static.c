/*
 * libFuzzer harness: the kiosk UI's static path mapping (api/api_static.c).
 * Input: a raw request-target. Whatever ast_path accepts must be a relative
 * path of [A-Za-z0-9_.-] segments, none empty or starting with '.', within
 * the bounds, with a content type; then ast_read opens it under a small
 * tree made at start (a file, a dotfile, a symlink out of the tree, a FIFO):
 * it must never return the outside file or the dotfile, nor hang.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int rootfd = -1;
static char top[] = "/tmp/fuzz_api_static.XXXXXX";

/* The tree goes when the fuzzer exits (libFuzzer ends with exit()). */
static void
cleanup(void)
{
	static const char *const names[] = { "ui/index.html", "ui/js/app.js",
	    "ui/.secret.js", "ui/out.js", "ui/up", "ui/fifo.js", "ui/js", "ui",
	    "outside.js", NULL };
	char p[256];

	for (size_t i = 0; names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", top, names[i]);
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(top);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[256];

	(void)argc;
	(void)argv;
	if (mkdtemp(top) == NULL)
		abort();
	atexit(cleanup);
	snprintf(p, sizeof(p), "%s/ui", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/ui/js", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/ui/index.html", top);
	put(p, "inside");
	snprintf(p, sizeof(p), "%s/ui/js/app.js", top);
	put(p, "inside");
	snprintf(p, sizeof(p), "%s/ui/.secret.js", top);
	put(p, "SECRET");
	snprintf(p, sizeof(p), "%s/outside.js", top);
	put(p, "SECRET");
	snprintf(p, sizeof(p), "%s/ui/out.js", top);
	symlink("../outside.js", p);
	snprintf(p, sizeof(p), "%s/ui/up", top);
	symlink("..", p);
	snprintf(p, sizeof(p), "%s/ui/fifo.js", top);
	mkfifo(p, 0600);
	snprintf(p, sizeof(p), "%s/ui", top);
	if ((rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	return 0;
}

static void
check_rel(const char *rel)
{
	const char *s = rel;
	size_t n = strlen(rel), depth = 0;

	if (n == 0 || n > AST_PATH_MAX)
		abort();
	for (;;) {
		size_t k = strcspn(s, "/");

		if (k == 0 || s[0] == '.' || k > AST_SEG_MAX || ++depth > AST_DEPTH)
			abort();
		for (size_t i = 0; i < k; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_.-", s[i]))
				abort();
		if (s[k] == '\0')
			break;
		s += k + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char target[4096], rel[AST_PATH_MAX + 1], *buf = NULL;
	const char *ctype;
	size_t len;
	int rc;

	if (size >= sizeof(target) || memchr(data, 0, size) != NULL)
		return 0;
	memcpy(target, data, size);
	target[size] = '\0';
	rc = ast_path(target, rel, sizeof(rel), &ctype);
	if (rc != AST_OK)
		return 0;
	if (ctype == NULL)
		abort();
	check_rel(rel);
	rc = ast_read(rootfd, rel, &buf, &len);
	if (rc == AST_OK) {
		if (len == 6 && memcmp(buf, "SECRET", 6) == 0)
			abort();
		free(buf);
	} else if (buf != NULL)
		abort();
	return 0;
}
