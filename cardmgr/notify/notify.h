/*
 * notify: expiry notices to card holders by e-mail (prefix ntf_).
 *
 * A notice is one event: "card C expires in D days" or "certificate S
 * expires in D days", D one of the configured thresholds. Its key names the
 * event (ntf_key_card / ntf_key_cert), and a notice is added to the journal
 * at most once per key (ntf_add refuses an existing key), so the same event
 * is never mailed twice, whatever restarts or reruns happen. The journal is
 * two LMDB databases in the inventory's environment:
 *
 *   ntf_notices   key -> notice record (version 1, type 'N')
 *   ntf_state     state u8 -> key (DUPSORT): pending, sent, failed
 *
 * so the pending and failed notices are found (and counted) without reading
 * the sent ones. A pending notice is sent by ntf_send (libcurl SMTP); a
 * transient failure (no connection, 4xx) leaves it pending with a later
 * next_try, a permanent one (5xx) makes it failed, never tried again.
 *
 * Library code: nothing here logs, exits or holds a secret (the SMTP relay
 * is reached without credentials; smtp_url may not carry any).
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

enum ntf_err {
	NTF_OK = 0,
	NTF_ERR_ARG = -1,	/* bad argument or field out of range */
	NTF_ERR_NOMEM = -2,
	NTF_ERR_DB = -3,	/* LMDB error */
	NTF_ERR_FORMAT = -4,	/* stored record does not parse */
	NTF_ERR_EXISTS = -5,	/* a notice for this event exists */
	NTF_ERR_NOTFOUND = -6,
	NTF_ERR_VERSION = -7,	/* record from a newer format */
	NTF_ERR_FULL = -8,	/* map or disk full: nothing written */
	NTF_ERR_TRANSIENT = -9,	/* SMTP: try again later (4xx, network) */
	NTF_ERR_PERMANENT = -10,	/* SMTP: refused for good (5xx) */
};

const char *ntf_strerror(int err);
const char *ntf_errname(int err);

#define NTF_DAYS_MAX 8
#define NTF_URL_MAX 255
#define NTF_ADDR_MAX 254
#define NTF_KEY_MAX 127
#define NTF_TEXT_MAX 127
#define NTF_ERROR_MAX 255

/* cardmgrd.conf's notice settings (parent/dconf.c parses and range-checks). */
struct ntf_cfg {
	char smtp_url[NTF_URL_MAX + 1];	/* "" = no notices */
	char from[NTF_ADDR_MAX + 1];
	unsigned days[NTF_DAYS_MAX];	/* thresholds, strictly decreasing */
	unsigned ndays;
	int manager;			/* copy the holder's manager */
	int starttls;			/* smtp://: require STARTTLS */
	unsigned retry_s;		/* transient failure: next try after */
	unsigned timeout_s;		/* one SMTP exchange, at most */
};

/* Defaults: no URL, days 30,7,1, no manager, retry 300 s, timeout 30 s. */
void ntf_cfg_defaults(struct ntf_cfg *c);
/* An address the station will put in a header: ASCII, no space, no
 * <>()[],;:"\ , one '@' with something on both sides. 1 if fine. */
int ntf_addr_ok(const char *a);
/* smtp:// or smtps://, a host, no user or password, no CR/LF/space. */
int ntf_url_ok(const char *url);

enum ntf_state {
	NTF_PENDING = 0,
	NTF_SENT = 1,
	NTF_FAILED = 2,
};
#define NTF_NSTATES 3
const char *ntf_state_name(int state);

enum ntf_kind {
	NTF_KIND_CARD = 1,
	NTF_KIND_CERT = 2,
};

struct ntf_notice {
	char key[NTF_KEY_MAX + 1];		/* the event; non-empty */
	uint8_t kind;				/* enum ntf_kind */
	uint8_t state;				/* enum ntf_state */
	uint16_t days;				/* the threshold crossed */
	uint32_t attempts;
	uint32_t smtp_code;			/* last server reply, 0 = none */
	uint64_t expires;			/* of the card or certificate */
	uint64_t created, updated, next_try;	/* unix s */
	char card_serial[NTF_TEXT_MAX + 1];
	char cert_serial[NTF_TEXT_MAX + 1];	/* "" for a card notice */
	char holder[NTF_TEXT_MAX + 1];		/* holder id */
	char holder_name[NTF_TEXT_MAX + 1];
	char to[NTF_ADDR_MAX + 1];
	char cc[NTF_ADDR_MAX + 1];		/* "" = none */
	char error[NTF_ERROR_MAX + 1];		/* last failure, "" = none */
};

/* Record codec: encode [out] *out malloc'd; decode zeroes n first. */
int ntf_rec_encode(const struct ntf_notice *n, uint8_t **out, size_t *len);
int ntf_rec_decode(const uint8_t *rec, size_t len, struct ntf_notice *n);

/* Event keys. [out] key (NTF_KEY_MAX + 1 bytes). */
void ntf_key_card(char *key, const char *guid_hex, uint64_t expires,
    unsigned days);
void ntf_key_cert(char *key, const char *cert_serial, unsigned days);

/*
 * The threshold an expiry `left` seconds away falls under: the smallest of
 * cfg->days with left <= days * 86400; 0 if none (or already expired).
 */
unsigned ntf_threshold(const struct ntf_cfg *cfg, uint64_t now,
    uint64_t expires);

struct ntf;

/* Open (create) the journal's databases in env. [out] *out: ntf_close. */
int ntf_open(MDB_env *env, struct ntf **out);
void ntf_close(struct ntf *ntf);

/* In the caller's write txn: a new notice; NTF_ERR_EXISTS if its key is. */
int ntf_add(struct ntf *ntf, MDB_txn *txn, const struct ntf_notice *n);
/* In the caller's write txn: replace an existing notice (state index too). */
int ntf_put(struct ntf *ntf, MDB_txn *txn, const struct ntf_notice *n);
int ntf_get(struct ntf *ntf, MDB_txn *txn, const char *key,
    struct ntf_notice *n);
/* Notices in state, in key order; fn non-zero stops (and is returned). */
int ntf_foreach(struct ntf *ntf, MDB_txn *txn, int state,
    int (*fn)(const struct ntf_notice *n, void *arg), void *arg);
/* [out] counts[state], from the state index. */
int ntf_count(struct ntf *ntf, MDB_txn *txn, uint64_t counts[NTF_NSTATES]);

/*
 * The message for n (RFC 5322, CRLF lines, UTF-8 body): headers from the
 * validated addresses and the card serial only; the holder's name only in
 * the body, control characters dropped. [out] *msg malloc'd, *len.
 */
int ntf_message(const struct ntf_cfg *cfg, const struct ntf_notice *n,
    uint64_t now, char **msg, size_t *len);

/*
 * Mail n through cfg->smtp_url. NTF_OK when the server took it (250 after
 * DATA); NTF_ERR_TRANSIENT (connection, timeout, 4xx) or NTF_ERR_PERMANENT
 * (5xx, an address the station will not send to). [out] *code: the last
 * SMTP reply code (0 if none), why: a short reason (never message text).
 */
int ntf_send(const struct ntf_cfg *cfg, const struct ntf_notice *n,
    uint64_t now, unsigned *code, char *why, size_t cap);

#endif /* NOTIFY_H */
