/*
 * rnw: renewal on presentation. What a card needs, worked out from its
 * profile and its certificates alone (no I/O: the engine reads the
 * inventory and the CRL state, this module decides), in the way Windows
 * autoenrollment does when a user logs on.
 *
 * For each slot of the profile, the card's current certificate in that
 * slot (a valid one before a revoked one, the latest not-after first) is
 * required again when it is:
 *   missing                      RNW_MISSING
 *   revoked (or being revoked)   RNW_REVOKED
 *   on the CA's CRL              RNW_ON_CRL
 *   past its not-after           RNW_EXPIRED
 *   inside its renewal window    RNW_EXPIRING  (renew_days before not-after)
 *   of an older profile version  RNW_VERSION   (card's version < since_version)
 * Supersede rules (slot X "supersedes" older slot Y): a card holding only
 * a certificate in Y needs X (RNW_SUPERSEDES), and Y's certificate is
 * revoked as superseded once the card holds X; a card holding X needs
 * nothing for Y. A held certificate (suspended card, or a hold in flight)
 * is left alone: a suspension is undone by reinstating, not by renewing.
 *
 * Each item says whether the card generates a new key (always, but where
 * the profile says renew_key = "reuse" and the old key is sound: a
 * certificate expiring or in its window) and lists the certificates to
 * revoke with reason superseded once the new one is on the card.
 */
#ifndef RENEW_H
#define RENEW_H

#include <stddef.h>
#include <stdint.h>

#include "policy/profile.h"

enum rnw_err {
	RNW_OK = 0,
	RNW_ERR_ARG = -1,
	RNW_ERR_TOOMANY = -2,	/* more certificates than RNW_CERTS_MAX */
};

const char *rnw_strerror(int err);
const char *rnw_errname(int err);

/* Reasons, as bits of rnw_item.reasons (several may hold at once). */
enum rnw_reason {
	RNW_MISSING = 1 << 0,
	RNW_REVOKED = 1 << 1,
	RNW_ON_CRL = 1 << 2,
	RNW_EXPIRED = 1 << 3,
	RNW_EXPIRING = 1 << 4,
	RNW_VERSION = 1 << 5,
	RNW_SUPERSEDES = 1 << 6,
};
#define RNW_NREASONS 7
/* "missing", "revoked", ... for bit (one bit), or NULL. */
const char *rnw_reason_name(uint32_t bit);

#define RNW_SERIAL_MAX 64	/* hex digits, as INV_CERT_SERIAL_MAX */
#define RNW_CERTS_MAX 256	/* certificates of one card looked at */
#define RNW_REVOKE_MAX 8	/* certificates one item revokes */

/* The status of a certificate, as the inventory keeps it. */
enum rnw_status {
	RNW_CERT_VALID = 0,
	RNW_CERT_REVOKED,	/* revoked, or its revocation journaled */
	RNW_CERT_HOLD,		/* on hold, or a hold or release in flight */
};

struct rnw_cert {
	char serial[RNW_SERIAL_MAX + 1];
	uint8_t slot;
	uint64_t not_after;	/* unix seconds */
	enum rnw_status status;
	int on_crl;		/* the CA's CRL lists it (inventory not yet told) */
};

struct rnw_item {
	uint8_t slot;			/* the profile slot to (re)issue */
	uint32_t reasons;		/* enum rnw_reason bits */
	int new_key;			/* 0: certify the card's key again */
	char old_serial[RNW_SERIAL_MAX + 1];	/* current one, "" if none */
	uint64_t old_not_after;
	/* Revoke with reason superseded once the new one is on the card:
	 * the old one if still valid, and every valid one of the slots this
	 * slot supersedes. */
	char revoke[RNW_REVOKE_MAX][RNW_SERIAL_MAX + 1];
	uint8_t revoke_slot[RNW_REVOKE_MAX];
	size_t nrevoke;
};

struct rnw_list {
	struct rnw_item items[PROF_SLOTS_MAX];
	size_t n;
};

/*
 * The requirements of a card of profile p issued under profile version
 * card_version, holding the n certificates certs, at time now.
 * [out] *out (caller's storage; emptied first). RNW_ERR_TOOMANY when n is
 * over RNW_CERTS_MAX or a slot has more than RNW_REVOKE_MAX to revoke.
 */
int rnw_requirements(const struct prof *p, uint32_t card_version,
    const struct rnw_cert *certs, size_t n, uint64_t now,
    struct rnw_list *out);

#endif /* RENEW_H */
