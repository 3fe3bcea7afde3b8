/*
 * opr: the operator map. Which unix account (by user name or uid) is which
 * operator, and which roles that operator holds. The daemon learns the
 * peer's uid from its socket (SO_PEERCRED) and asks opr_lookup_uid; a
 * profile then says which roles may run each operation (profile.h).
 *
 * The file is libconfig (provisioning/operators.conf.example):
 *
 *   operators = (
 *     { user = "alice"; name = "Alice Example"; roles = [ "badge_officer" ]; },
 *     { uid = 1002;     name = "Bob Example";   roles = [ "helpdesk" ]; },
 *     { card_sha256 = "3f1a...64 hex digits";  name = "Carol Example";
 *       roles = [ "administrator" ]; approves = [ "employee", "org:Example" ]; }
 *   );
 *
 * approves (optional) makes the operator an approver (engine/approve.c):
 * of requests on cards of the profiles it names, and of requests for
 * holders of the organisations it names as "org:NAME".
 *
 * A card_sha256 entry is an operator who logs in at the kiosk with their own
 * PIV card (POST /v1/login): the SHA-256 of the DER certificate in the card's
 * PIV authentication slot (9A). `cardmgr operator add --cert FILE` writes one.
 *
 * Strict like the profiles: unknown settings, unknown roles, a user, uid or
 * card named twice, an entry with not exactly one of user, uid and
 * card_sha256, root (uid 0
 * or "root") and the "holder" role (a card holder is not an operator) are
 * errors reported as file:line: message; a file that is a symlink or that
 * group or others may write is refused.
 */
#ifndef OPERATORS_H
#define OPERATORS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum opr_err {
	OPR_OK = 0,
	OPR_ERR_ARG = -1,
	OPR_ERR_IO = -2,	/* cannot read the file */
	OPR_ERR_PERM = -3,	/* symlink, foreign owner, writable by others */
	OPR_ERR_CONFIG = -4,	/* syntax or semantic error (see errbuf) */
	OPR_ERR_NOMEM = -5,
	OPR_ERR_NOTFOUND = -6,	/* uid is no operator */
	OPR_ERR_AMBIGUOUS = -7,	/* uid matches two entries (by uid and name) */
};

const char *opr_strerror(int err);
const char *opr_errname(int err);

/* Roles, as bits of a mask. The names are the configuration spelling. */
enum opr_role {
	OPR_ROLE_BADGE_OFFICER = 1u << 0,	/* "badge_officer" */
	OPR_ROLE_HELPDESK = 1u << 1,		/* "helpdesk" */
	OPR_ROLE_SECURITY_OFFICER = 1u << 2,	/* "security_officer" */
	OPR_ROLE_AUDITOR = 1u << 3,		/* "auditor" */
	OPR_ROLE_ADMINISTRATOR = 1u << 4,	/* "administrator" */
	OPR_ROLE_HOLDER = 1u << 5,		/* "holder": the card's own holder */
};
#define OPR_ROLE_ALL 0x3fu

/* The role bit for a name, or 0 if the name is no role. */
uint32_t opr_role_from_name(const char *name);
/* The name of one role bit, or NULL. */
const char *opr_role_name(uint32_t role);

#define OPR_NAME_MAX 63
#define OPR_USER_MAX 32
#define OPR_APPROVES_MAX 8	/* approves entries per operator */
#define OPR_APPROVE_LEN 131	/* "org:" and an organisation (INV_NAME_MAX) */

struct opr_operator {
	char name[OPR_NAME_MAX + 1];	/* display name, for the journal */
	char user[OPR_USER_MAX + 1];	/* unix user name, or "" */
	long uid;			/* unix uid, or -1 */
	uint8_t card_sha256[32];	/* the 9A certificate's digest */
	int has_card;			/* card_sha256 is set */
	uint32_t roles;			/* enum opr_role bits */
	/* approves: profile names, or "org:" and a holder organisation. */
	char approves[OPR_APPROVES_MAX][OPR_APPROVE_LEN + 1];
	unsigned napproves;
	unsigned line;			/* where it is defined */
};

struct opr_map;

/*
 * Load path. [out] *out: opr_free. On error errbuf holds one
 * "file:line: message" line per error found.
 */
int opr_load(const char *path, struct opr_map **out, char *errbuf,
    size_t cap);
/* The same from memory; file names the text in messages. */
int opr_load_string(const char *file, const char *text, size_t len,
    struct opr_map **out, char *errbuf, size_t cap);
void opr_free(struct opr_map *map);

size_t opr_count(const struct opr_map *map);
const struct opr_operator *opr_get(const struct opr_map *map, size_t i);

/*
 * The operator for uid: an entry naming the uid, or one naming the user the
 * system resolves uid to (getpwuid_r). [out] *op points into map.
 */
int opr_lookup_uid(const struct opr_map *map, uid_t uid,
    const struct opr_operator **op);

/*
 * The operator whose card certificate (DER) has SHA-256 digest sha256.
 * [out] *op points into map. OPR_ERR_NOTFOUND if none.
 */
int opr_lookup_card(const struct opr_map *map, const uint8_t sha256[32],
    const struct opr_operator **op);

/* Parse 64 hex digits (either case) into out. 0, or -1. */
int opr_parse_sha256(const char *hex, uint8_t out[32]);

/* 1 if op holds every bit of role (a nonzero enum opr_role mask). */
int opr_has_role(const struct opr_operator *op, uint32_t role);

/*
 * Approvers (engine/approve.c). An operator is a person by name: the
 * entries of one name (a unix account and a card, say) approve together.
 * opr_may_approve: 1 if an entry named name approves requests on cards of
 * profile or for holders of organisation org (either may be NULL).
 * opr_approvers: how many people do, but except (the requester).
 */
int opr_may_approve(const struct opr_map *map, const char *name,
    const char *profile, const char *org);
size_t opr_approvers(const struct opr_map *map, const char *profile,
    const char *org, const char *except);

#endif /* OPERATORS_H */
