/*
 * cardmgr: the station's command line client (the HTTP API over the UNIX
 * socket). Internal header of cardmgr*.c; prefix cm_.
 */
#ifndef CARDMGR_H
#define CARDMGR_H

#include <stddef.h>

#include <jansson.h>

/* Exit statuses (cardmgr.1). */
enum cm_exit {
	CM_EXIT_OK = 0,
	CM_EXIT_ERROR = 1,
	CM_EXIT_USAGE = 2,
	CM_EXIT_PENDING = 3,	/* accepted, CA work queued (HTTP 202) */
	CM_EXIT_REFUSED = 4,	/* refused by policy/authorization (401/403) */
};

enum cm_err {
	CM_OK = 0,
	CM_ERR_ARG = -1,
	CM_ERR_NOMEM = -2,
	CM_ERR_HTTP = -3,	/* could not talk to the API */
	CM_ERR_PROTO = -4,	/* the API's answer does not parse */
	CM_ERR_SECRET = -5,	/* no secret could be read */
	CM_ERR_CRYPTO = -6,
};

const char *cm_strerror(int err);
const char *cm_name(int err);

struct cm {
	const char *socket;	/* UNIX socket of the API */
	int json;		/* print raw JSON */
	int wait;		/* issue: follow the operation to its end */
	int secrets_fd;		/* -1: the terminal */
	unsigned char key[32];	/* the engine's session key, once fetched */
	int have_key;
};

/* An HTTP exchange: [out] *status, *body (malloc'd, NUL-terminated). */
int cm_http(const struct cm *cm, const char *method, const char *path,
    const char *body, long *status, char **resp);
/* A path segment, %-escaped. [out] malloc'd. */
char *cm_escape(const char *s);

/*
 * Read one secret: from secrets_fd (one line) or the terminal with echo
 * off (prompt shown). [out] buf (cap bytes, NUL-terminated); wipe it.
 */
int cm_secret_read(const struct cm *cm, const char *prompt, char *buf,
    size_t cap);
/*
 * Read a secret, seal it to the session key and return it as a JSON string
 * of its base64 ciphertext. confirm: on a terminal, ask twice.
 * [out] *out a new JSON string.
 */
/* Seal text (a secret the caller wipes) to the session key. */
int cm_seal_text(struct cm *cm, const char *text, json_t **out);
int cm_secret_sealed(struct cm *cm, const char *prompt, int confirm,
    json_t **out);

/* Print an answer: raw with --json, else readable lines. */
void cm_print(const struct cm *cm, const char *body);

/*
 * report name (days may be NULL) in format "table", "json" or "csv" on
 * stdout: every JSON page of GET /v1/reports/NAME, rows joined (cardmgr_report.c).
 * Returns the exit status.
 */
int cm_report(struct cm *cm, const char *name, const char *days,
    const char *format);

/* The same for any paged report-shaped answer: base is the path with its
 * query (format and offset are added). */
int cm_table(struct cm *cm, const char *base, const char *format);
/* cardmgr_stock.c: stock receive|list|levels|move|dispose (argv[0] "stock"). */
int cm_stock(struct cm *cm, int argc, char **argv);

/* One request and its outcome printed; the exit status. body: stolen. */
int cm_call(struct cm *cm, const char *method, const char *path, json_t *body);
/* cardmgr_cert.c: cert revoke|hold (argv[0] "cert"); the exit status. */
int cm_cert(struct cm *cm, int argc, char **argv);
/* cardmgr_approval.c: approvals list|show|approve|deny. */
int cm_approval(struct cm *cm, int argc, char **argv);

/* cardmgr_backup.c: the offline commands (argv[0] is the command). */
int cm_restore(int argc, char **argv);
int cm_backup_keygen(int argc, char **argv);
/* cardmgr_operator.c: `operator add` (offline; edits the operator map). */
int cm_operator(int argc, char **argv);

#endif /* CARDMGR_H */
