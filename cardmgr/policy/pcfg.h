/*
 * pcfg: what the policy parsers (profiles, question lists, PIN blocklists,
 * the operator map) share, internal to cardmgr/policy/.
 *
 * - Reading a file the way relayd's check_file_secrecy wants it: opened with
 *   O_NOFOLLOW (a symlink is refused, not followed), checked with fstat on
 *   the open descriptor (no check-then-open race), refused when it is not a
 *   regular file, not owned by root or by us, or writable by group or
 *   others; read whole into memory, bounded.
 * - A pre-scan of libconfig text before libconfig sees it: libconfig 1.5
 *   follows @include even from config_read_string (a way around the secrecy
 *   checks), silently truncates integers wider than 32 bits (99999999999
 *   reads as 1215752191, which a range check would then accept), and frees
 *   nested settings recursively; so directives, over-long numbers, NUL bytes
 *   and more than PCFG_MAX_NEST brackets are refused first.
 * - A diagnostics buffer collecting "file:line: message" lines, so a check
 *   reports every error of every file, not only the first.
 * - Typed, range-checked getters over libconfig settings that put their
 *   refusal in the diagnostics with the setting's line.
 */
#ifndef PCFG_H
#define PCFG_H

#include <stddef.h>

#include <libconfig.h>

enum pcfg_err {
	PCFG_OK = 0,
	PCFG_ERR_IO = -1,	/* cannot open or read */
	PCFG_ERR_PERM = -2,	/* symlink, not regular, foreign owner, writable */
	PCFG_ERR_TOOBIG = -3,	/* larger than the caller's bound */
	PCFG_ERR_NOMEM = -4,
	PCFG_ERR_SYNTAX = -5,	/* pre-scan or libconfig refused the text */
	PCFG_ERR_INVALID = -6,	/* a setting is missing, unknown or out of range */
};

const char *pcfg_strerror(int err);
const char *pcfg_errname(int err);

/* Bounds on what any policy file may hold. */
#define PCFG_MAX_FILE (256 * 1024)
#define PCFG_MAX_NEST 1000	/* '{' '(' '[' in one file */
#define PCFG_MAX_DIGITS 9	/* a decimal literal that still fits an int */

struct pcfg_diag {
	char *buf;		/* caller's; NUL-terminated lines */
	size_t cap;
	size_t len;
	unsigned count;		/* errors added, including those cut off */
};

void pcfg_diag_init(struct pcfg_diag *d, char *buf, size_t cap);
/* Appends "file:line: message\n" (line 0: "file: message\n"). */
void pcfg_diag_add(struct pcfg_diag *d, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append lines another module wrote ("file:line: message\n" each). */
void pcfg_diag_merge(struct pcfg_diag *d, const char *lines);

/*
 * Open directory path (O_NOFOLLOW, O_DIRECTORY) and apply the secrecy
 * checks. [out] *fd (caller closes), -1 on error; *why says what is wrong.
 */
int pcfg_open_dir(const char *path, int *fd, const char **why);

/*
 * Read name relative to dirfd (AT_FDCWD for a path) with the secrecy checks,
 * at most max bytes. [out] *text malloc'd and NUL-terminated (caller frees),
 * *len its length without the NUL.
 */
int pcfg_read_at(int dirfd, const char *name, size_t max, char **text,
    size_t *len, const char **why);

/*
 * Pre-scan, then config_read_string. cfg must be config_init'ed by the caller
 * (and destroyed by it whatever the result). Errors go to d as file:line.
 */
int pcfg_parse(config_t *cfg, const char *text, size_t len, const char *file,
    struct pcfg_diag *d);

/* A file being checked: its name for messages and where errors go. */
struct pcfg_ctx {
	const char *file;
	struct pcfg_diag *d;
	int bad;		/* set by every error added through this ctx */
};

void pcfg_err(struct pcfg_ctx *c, const config_setting_t *s, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* Line of s, or of its nearest ancestor with one, or 1. */
unsigned pcfg_line(const config_setting_t *s);

/* Every member of group must be named in allowed (NULL-terminated). */
void pcfg_only(struct pcfg_ctx *c, const config_setting_t *group,
    const char *const *allowed);

/*
 * Typed getters: if the member is absent, *out = def and, when required, an
 * error naming the group's line. A present member of the wrong type or out of
 * [lo, hi] is an error. Return 1 when *out holds a usable value.
 */
int pcfg_int(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, int def, int lo, int hi, int *out);
int pcfg_bool(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, int def, int *out);
/* Strings: 1..cap-1 bytes of printable ASCII (no controls, no bytes >= 0x7f). */
int pcfg_str(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, const char *def, char *out, size_t cap);
/* Looks name up in a NULL-terminated table; *out is its index. */
int pcfg_enum(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, int def, const char *const *names,
    int *out);
/* Member of group of the given libconfig type (or NULL, error if required). */
config_setting_t *pcfg_member(struct pcfg_ctx *c, const config_setting_t *group,
    const char *name, int required, int type);

/* A bare file name: no '/', not "." or "..", printable, < cap. */
int pcfg_plain_name(const char *s, size_t cap);

#endif /* PCFG_H */
