/*
 * api_static: the kiosk UI's static files, served by the api process on the
 * kiosk listener (GET / and GET /ui/<path>) from one directory (cardmgrd.conf
 * ui_dir).
 *
 * ast_path is pure: it maps a raw request-target to a path relative to the
 * UI root, or refuses it. Only [A-Za-z0-9_.-] segments, none empty or
 * starting with '.' (so no "..", no dotfile, no %-escape at all), at most
 * AST_DEPTH segments and AST_PATH_MAX bytes, and an extension the table
 * knows. ast_open then opens that path under the root's descriptor one
 * component at a time with O_NOFOLLOW, so no symlink is followed, whether it
 * would stay inside the root or not; only a regular file is served.
 *
 * Nothing here prints or logs.
 */
#ifndef API_STATIC_H
#define API_STATIC_H

#include <stddef.h>

struct MHD_Connection;

enum ast_err {
	AST_OK = 0,
	AST_ERR_ARG = -1,	/* caller bug */
	AST_ERR_NOT_MINE = -2,	/* not a static path: the API routes it */
	AST_ERR_BAD = -3,	/* refused path (400) */
	AST_ERR_TOOLONG = -4,	/* path too long or too deep (414) */
	AST_ERR_TYPE = -5,	/* an extension we do not serve (404) */
	AST_ERR_NOTFOUND = -6,	/* no such regular file (404) */
	AST_ERR_TOOBIG = -7,	/* file over AST_FILE_MAX (404: not served) */
	AST_ERR_SYS = -8,	/* read error, out of memory (500) */
};

const char *ast_strerror(int err);
const char *ast_name(int err);

#define AST_PATH_MAX	200	/* bytes of the relative path */
#define AST_DEPTH	8	/* segments */
#define AST_SEG_MAX	80	/* bytes of one segment */
#define AST_FILE_MAX	(4 << 20)	/* bytes of one file */

/*
 * Map target (raw, not %-decoded; a "?query" is ignored) to a path under the
 * UI root: "/" is "index.html", "/ui/<p>" is p. [out] rel (cap bytes,
 * at least AST_PATH_MAX + 1), [out] *ctype a static Content-Type.
 * AST_ERR_NOT_MINE for every target outside "/" and "/ui/...".
 */
int ast_path(const char *target, char *rel, size_t cap, const char **ctype);

/*
 * Read rel (from ast_path) under the directory rootfd without following any
 * symlink. [out] *buf (malloc'd, caller frees), *len.
 */
int ast_read(int rootfd, const char *rel, char **buf, size_t *len);

/*
 * Answer one request on the kiosk listener if it is a static path: returns
 * 1 with *ret set when it answered (the file, or a 4xx/5xx JSON error), 0
 * when the target is not static (the API routes it). rootfd < 0: the UI
 * directory is missing, static paths answer 404.
 */
int ast_serve(struct MHD_Connection *c, int rootfd, const char *method,
    const char *target, int *ret);

#endif /* API_STATIC_H */
