/* api_static: see api_static.h. */
#include "api_static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

static const struct {
	int code;
	const char *name, *text;
} errs[] = {
	{ AST_OK, "AST_OK", "ok" },
	{ AST_ERR_ARG, "AST_ERR_ARG", "bad argument" },
	{ AST_ERR_NOT_MINE, "AST_ERR_NOT_MINE", "not a static path" },
	{ AST_ERR_BAD, "AST_ERR_BAD", "refused path" },
	{ AST_ERR_TOOLONG, "AST_ERR_TOOLONG", "path too long or too deep" },
	{ AST_ERR_TYPE, "AST_ERR_TYPE", "file type not served" },
	{ AST_ERR_NOTFOUND, "AST_ERR_NOTFOUND", "no such file" },
	{ AST_ERR_TOOBIG, "AST_ERR_TOOBIG", "file too large to serve" },
	{ AST_ERR_SYS, "AST_ERR_SYS", "system error" },
};

const char *
ast_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].code == err)
			return errs[i].text;
	return "unknown error";
}

const char *
ast_name(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].code == err)
			return errs[i].name;
	return "AST_ERR_?";
}

/* What the kiosk needs, nothing a browser might run in another way. */
static const struct {
	const char *ext, *ctype;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "json", "application/json" },
	{ "woff2", "font/woff2" },
};

static const char *
type_of(const char *seg, size_t n)
{
	const char *dot = NULL;

	for (size_t i = 0; i < n; i++)
		if (seg[i] == '.')
			dot = seg + i;
	if (dot == NULL)
		return NULL;
	dot++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].ext) == (size_t)(seg + n - dot) &&
		    memcmp(types[i].ext, dot, (size_t)(seg + n - dot)) == 0)
			return types[i].ctype;
	return NULL;
}

static int
seg_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
}

int
ast_path(const char *target, char *rel, size_t cap, const char **ctype)
{
	const char *p, *end, *seg;
	size_t n, depth = 0;

	if (target == NULL || rel == NULL || ctype == NULL ||
	    cap < AST_PATH_MAX + 1)
		return AST_ERR_ARG;
	rel[0] = '\0';
	*ctype = NULL;
	end = target + strcspn(target, "?");
	n = (size_t)(end - target);
	if ((n == 1 && target[0] == '/') || (n == 4 &&
	    memcmp(target, "/ui/", 4) == 0)) {
		snprintf(rel, cap, "index.html");
		*ctype = types[0].ctype;
		return AST_OK;
	}
	if (n == 3 && memcmp(target, "/ui", 3) == 0)
		return AST_ERR_NOTFOUND;
	if (n < 4 || memcmp(target, "/ui/", 4) != 0)
		return AST_ERR_NOT_MINE;
	p = target + 4;
	if ((size_t)(end - p) > AST_PATH_MAX)
		return AST_ERR_TOOLONG;
	for (seg = p; seg <= end; seg = p + 1) {
		for (p = seg; p < end && *p != '/'; p++)
			if (!seg_char(*p))
				return AST_ERR_BAD;	/* '%', '\\', ... */
		/* empty, ".", "..", ".hidden": one rule covers them */
		if (p == seg || *seg == '.')
			return AST_ERR_BAD;
		if ((size_t)(p - seg) > AST_SEG_MAX || ++depth > AST_DEPTH)
			return AST_ERR_TOOLONG;
		if (p == end)
			break;
	}
	/* The last segment names the file: its type decides. */
	if ((*ctype = type_of(seg, (size_t)(end - seg))) == NULL)
		return AST_ERR_TYPE;
	memcpy(rel, target + 4, (size_t)(end - target - 4));
	rel[end - target - 4] = '\0';
	return AST_OK;
}

/* errno of an open under the root -> our code: absent, symlink, not a dir. */
static int
open_err(int e)
{
	return e == ENOENT || e == ELOOP || e == ENOTDIR || e == EACCES ||
	    e == ENXIO || e == EISDIR ? AST_ERR_NOTFOUND : AST_ERR_SYS;
}

/* Open rel under rootfd one component at a time, never through a symlink. */
static int
open_beneath(int rootfd, const char *rel, int *out)
{
	char comp[AST_SEG_MAX + 1];
	const char *p = rel, *q;
	int dfd = rootfd, fd = -1, rc = AST_OK;

	*out = -1;
	for (;;) {
		q = p + strcspn(p, "/");
		if ((size_t)(q - p) > AST_SEG_MAX || q == p) {
			rc = AST_ERR_BAD;
			break;
		}
		memcpy(comp, p, (size_t)(q - p));
		comp[q - p] = '\0';
		fd = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    (*q == '/' ? O_DIRECTORY : O_NONBLOCK | O_NOCTTY));
		if (fd < 0)
			rc = open_err(errno);
		if (dfd != rootfd)
			close(dfd);
		dfd = fd;
		if (fd < 0 || *q == '\0')
			break;
		p = q + 1;
	}
	if (rc == AST_OK)
		*out = fd;
	else if (fd >= 0 && fd != rootfd)
		close(fd);
	return rc;
}

int
ast_read(int rootfd, const char *rel, char **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t got = 0;
	ssize_t n;
	int fd = -1, rc;

	if (buf == NULL || len == NULL)
		return AST_ERR_ARG;
	*buf = NULL;
	*len = 0;
	if (rootfd < 0 || rel == NULL)
		return AST_ERR_ARG;
	if ((rc = open_beneath(rootfd, rel, &fd)) != AST_OK)
		goto out;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = AST_ERR_NOTFOUND;	/* a FIFO, a device, a directory */
		goto out;
	}
	if (st.st_size > AST_FILE_MAX) {
		rc = AST_ERR_TOOBIG;
		goto out;
	}
	/* One byte more than fstat said, to see a file that grew meanwhile. */
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = AST_ERR_SYS;
		goto out;
	}
	while (got <= (size_t)st.st_size) {
		n = read(fd, b + got, (size_t)st.st_size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = AST_ERR_SYS;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > (size_t)st.st_size) {
		rc = AST_ERR_SYS;	/* changed under us: try again later */
		goto out;
	}
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- HTTP */

/*
 * The page's own code only: no inline script or style, no eval, no frame,
 * nothing from anywhere else. 'wasm-unsafe-eval' lets the page compile
 * WebAssembly (libsodium.js is WebAssembly, and has no other build) and
 * nothing more: JavaScript eval and new Function stay refused.
 */
#define AST_CSP "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " \
	"style-src 'self'; " \
	"img-src 'self'; connect-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void
headers(struct MHD_Response *r, const char *ctype)
{
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Content-Security-Policy", AST_CSP);
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	/* The kiosk always asks again: an update shows at the next load. */
	MHD_add_response_header(r, "Cache-Control", "no-cache");
}

static int
answer(struct MHD_Connection *c, unsigned status, const char *ctype,
    char *body, size_t len, int owned, const char *allow)
{
	struct MHD_Response *r;
	int ret;

	r = MHD_create_response_from_buffer(len, body, owned ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	headers(r, ctype);
	if (allow != NULL)
		MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The API's error shape; the message never quotes the path. */
static int
error(struct MHD_Connection *c, unsigned status, const char *code,
    const char *msg, const char *allow)
{
	char *s;
	int n;

	n = asprintf(&s, "{\"error\":\"%s\",\"message\":\"%s\"}", code, msg);
	if (n < 0)
		return MHD_NO;
	return answer(c, status, "application/json", s, (size_t)n, 1, allow);
}

int
ast_serve(struct MHD_Connection *c, int rootfd, const char *method,
    const char *target, int *ret)
{
	char rel[AST_PATH_MAX + 1], *buf = NULL;
	const char *ctype;
	size_t len;
	int rc;

	rc = ast_path(target, rel, sizeof(rel), &ctype);
	if (rc == AST_ERR_NOT_MINE || rc == AST_ERR_ARG)
		return 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		*ret = error(c, 405, "method_not_allowed",
		    "static files answer GET and HEAD only", "GET, HEAD");
		return 1;
	}
	if (rc == AST_OK) {
		rc = rootfd < 0 ? AST_ERR_NOTFOUND :
		    ast_read(rootfd, rel, &buf, &len);
	}
	switch (rc) {
	case AST_OK:
		*ret = answer(c, 200, ctype, buf, len, 1, NULL);
		break;
	case AST_ERR_BAD:
		*ret = error(c, 400, "bad_path", "a static path is segments "
		    "of [A-Za-z0-9_.-], none empty or starting with '.'", NULL);
		break;
	case AST_ERR_TOOLONG:
		*ret = error(c, 414, "bad_path", "static path too long or too deep",
		    NULL);
		break;
	case AST_ERR_TYPE:
	case AST_ERR_NOTFOUND:
	case AST_ERR_TOOBIG:
		*ret = error(c, 404, "not_found", "no such file", NULL);
		break;
	default:
		*ret = error(c, 500, "internal", "could not read the file", NULL);
		break;
	}
	return 1;
}
