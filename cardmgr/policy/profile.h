/*
 * prof: card profiles. A profile says what a card of one kind holds (key
 * slots, algorithms, certificate profiles and validities, escrow), how its
 * PIN, PUK and management key are set, how a holder proves ownership at
 * unblock (challenge questions), who may run each operation, and which
 * revocation reason each event carries. docs/profiles.md documents every
 * setting with its default, range and source; provisioning/profiles/ ships
 * employee, contractor and temporary.
 *
 * Profiles are human-edited libconfig files, parsed strictly: an unknown
 * setting, a value out of range or of the wrong type, and a rule broken
 * between settings (escrow of a signing key, more questions asked than
 * enrolled, a certificate outliving the card...) are errors, each reported
 * as "file:line: message". Files and directories that are symlinks or that
 * group or others may write are refused (relayd's check_file_secrecy).
 *
 * A directory is loaded whole: every *.conf in it is a profile, or a
 * question list when its only setting is "questions" (questions.conf,
 * which profiles name with challenge.questions_file). Profile names are
 * unique across the directory.
 */
#ifndef PROFILE_H
#define PROFILE_H

#include <stddef.h>
#include <stdint.h>

enum prof_err {
	PROF_OK = 0,
	PROF_ERR_ARG = -1,
	PROF_ERR_IO = -2,	/* cannot read a file or directory */
	PROF_ERR_PERM = -3,	/* symlink, foreign owner, writable by others */
	PROF_ERR_CONFIG = -4,	/* syntax or semantic errors (see errbuf) */
	PROF_ERR_NOMEM = -5,
	PROF_ERR_DUPLICATE = -6,	/* two profiles of one name */
};

const char *prof_strerror(int err);
const char *prof_errname(int err);

enum prof_alg {
	PROF_ALG_RSA2048 = 0,	/* "rsa2048" */
	PROF_ALG_RSA3072,	/* "rsa3072" */
	PROF_ALG_ECCP256,	/* "eccp256" */
	PROF_ALG_ECCP384,	/* "eccp384" */
};

/* Yubico PIN and touch policies (GENERATE tags AA and AB). */
enum prof_pin_use { PROF_PINUSE_DEFAULT = 0, PROF_PINUSE_NEVER,
	PROF_PINUSE_ONCE, PROF_PINUSE_ALWAYS };
enum prof_touch { PROF_TOUCH_DEFAULT = 0, PROF_TOUCH_NEVER,
	PROF_TOUCH_ALWAYS, PROF_TOUCH_CACHED };

enum prof_mgmt_alg {
	PROF_MGMT_AES192 = 0,	/* "aes192", the default */
	PROF_MGMT_AES128,	/* "aes128" */
	PROF_MGMT_AES256,	/* "aes256" */
	PROF_MGMT_3DES,		/* "3des" */
};

/* Operations whose allowed roles a profile lists. */
enum prof_op {
	PROF_OP_ISSUE = 0, PROF_OP_PIN_CHANGE, PROF_OP_UNBLOCK,
	PROF_OP_RETIRE, PROF_OP_SUSPEND, PROF_OP_REPLACE, PROF_OP_TEMPORARY,
	PROF_OP_AUDIT, PROF_OP_INVENTORY,
	PROF_OP_COUNT
};

/* Events that revoke or hold a card's certificates. */
enum prof_event {
	PROF_EV_RETIRE = 0, PROF_EV_LOST, PROF_EV_STOLEN, PROF_EV_DAMAGED,
	PROF_EV_SUSPEND, PROF_EV_REPLACE,
	PROF_EV_COUNT
};

#define PROF_NAME_MAX 63
#define PROF_TEXT_MAX 255
#define PROF_SLOTS_MAX 24	/* 9A 9C 9D 9E and the 20 retired slots */
#define PROF_QUESTIONS_MAX 64
#define PROF_SUPERSEDES_MAX 4	/* slots one slot's certificate supersedes */
#define PROF_RENEW_DAYS_DEFAULT 30

struct prof_slot {
	uint8_t slot;			/* 0x9a, 0x9c, 0x9d, 0x9e, 0x82..0x95 */
	enum prof_alg alg;
	enum prof_pin_use pin_policy;
	enum prof_touch touch_policy;
	char cert_profile[PROF_NAME_MAX + 1];	/* the CA's profile name */
	int cert_days;
	int escrow;			/* only 9D and retired slots */
	char subject[PROF_TEXT_MAX + 1];	/* with %{name} %{id} ... */
	/* Renewal on presentation (policy/renew.h, docs/profiles.md). */
	int renew_days;		/* window before not_after; 0: none */
	int since_version;	/* profile version that last changed it */
	int renew_reuse_key;	/* renew_key = "reuse": keep the card's key */
	uint8_t supersedes[PROF_SUPERSEDES_MAX];	/* older slots it replaces */
	size_t nsupersedes;
};

struct prof_pin_policy {
	int min_len;		/* 6..8 */
	int max_len;		/* min_len..8 */
	int digits_only;
	int repeat_run;		/* refuse N same characters in a row; 0: off */
	int sequence_run;	/* refuse N-long runs like 1234 / 4321; 0: off */
	int not_previous;	/* refuse the PIN being replaced */
	char blocklist[PROF_NAME_MAX + 1];	/* file in the profile dir, or "" */
};

struct prof_puk_policy {
	int length;		/* 8 */
	int digits_only;
};

struct prof_question {
	int id;			/* 1..65535, unique in the list */
	char text[PROF_TEXT_MAX + 1];
};

struct prof_challenge {
	int enabled;		/* the profile has a challenge group */
	char questions_file[PROF_NAME_MAX + 1];	/* "" when inline */
	struct prof_question *questions;	/* owned */
	size_t nquestions;
	int enrolled;		/* answers the holder gives at issuance */
	int asked;		/* questions asked at unblock, <= enrolled */
	int min_answer_len;	/* characters after normalisation */
	int max_failures;	/* wrong answers before the lock */
	int lock_seconds;	/* 0: locked until an operator unlocks */
	unsigned long long hash_ops;	/* Argon2id opslimit */
	size_t hash_mem;		/* Argon2id memlimit, bytes */
};

struct prof {
	char name[PROF_NAME_MAX + 1];
	int version;
	char description[PROF_TEXT_MAX + 1];
	char file[PROF_TEXT_MAX + 1];	/* where it was loaded from */
	unsigned line;			/* of its name setting */
	int validity_days;		/* the card's */
	enum prof_mgmt_alg mgmt_alg;
	struct prof_slot slots[PROF_SLOTS_MAX];
	size_t nslots;
	struct prof_pin_policy pin;
	struct prof_puk_policy puk;
	int pin_retries;
	int puk_retries;
	struct prof_challenge challenge;
	uint32_t roles[PROF_OP_COUNT];	/* enum opr_role bits per operation */
	int reason[PROF_EV_COUNT];	/* RFC 5280 CRLReason code per event */
	int reuse_retired;
	int self_test;
	/*
	 * Approvals (m of n, by approvers of this profile or of the holder's
	 * organisation, operators.h) a key recovery needs: replace and
	 * temporary card. 0: none. Spelled approvals.key_recovery or
	 * key_recovery_approvals. engine/approve.c carries them out
	 * (docs/lifecycle.md, "Approvals").
	 */
	int key_recovery_approvals;
};

struct prof_set;

/*
 * Load one profile file. A questions_file or blocklist it names is looked
 * up in the file's directory (the questions are loaded into the profile; the
 * blocklist is only named: pin_blocklist_load reads it). [out] *out:
 * prof_free. On error errbuf holds one "file:line: message" line per error.
 */
int prof_load_file(const char *path, struct prof **out, char *errbuf,
    size_t cap);

/*
 * The same from memory; file names the text in messages. dir, if not NULL,
 * is where a named questions file is read; with NULL a questions_file is an
 * error (the fuzzer parses without a directory).
 */
int prof_load_string(const char *file, const char *text, size_t len,
    const char *dir, struct prof **out, char *errbuf, size_t cap);

void prof_free(struct prof *p);

/* Load every profile in dir (see above). [out] *out: prof_set_free. */
int prof_load_dir(const char *dir, struct prof_set **out, char *errbuf,
    size_t cap);
void prof_set_free(struct prof_set *set);
size_t prof_set_count(const struct prof_set *set);
const struct prof *prof_set_get(const struct prof_set *set, size_t i);
/* The profile called name, or NULL. */
const struct prof *prof_find(const struct prof_set *set, const char *name);

/* The slot entry for slot (0x9a...), or NULL. */
const struct prof_slot *prof_slot(const struct prof *p, uint8_t slot);
/* 1 if any of the roles bits may run op under p. */
int prof_allows(const struct prof *p, enum prof_op op, uint32_t roles);

/* Names as written in profiles ("rsa2048", "issue", "keyCompromise"...). */
const char *prof_alg_name(enum prof_alg alg);
const char *prof_op_name(enum prof_op op);
const char *prof_event_name(enum prof_event ev);
/* RFC 5280 CRLReason name for a code, or NULL. */
const char *prof_reason_name(int reason);

/*
 * What `cardmgr check-config` runs: load every profile, question list and
 * PIN blocklist in profiles_dir and the operator map operators_file (NULL:
 * skip), and report every error found as "file:line: message" lines in
 * errbuf. PROF_OK when all is well, PROF_ERR_CONFIG (or the first I/O or
 * permission error) otherwise. [out] *nerrors, if not NULL: errors found.
 */
int prof_check_config(const char *profiles_dir, const char *operators_file,
    char *errbuf, size_t cap, unsigned *nerrors);

struct lc;
/*
 * Profiles against the lifecycle: an operation a profile grants to some
 * roles (issue, retire, suspend, replace, temporary) that no role may run,
 * because the lifecycle's transition for it (issue, retire, suspend,
 * replace, forgotten) shares none of them, or, for temporary, because the
 * "temporary" profile lets none of them issue either. One "DIR/NAME.conf:
 * message" line per such operation in errbuf (appended); returns how many.
 */
unsigned prof_check_roles(const struct prof_set *set, const struct lc *lc,
    const char *profiles_dir, char *errbuf, size_t cap);

#endif /* PROFILE_H */
