/*
 * rnw: a card's renewal requirements from its profile and certificates.
 * See renew.h for the rules; docs/lifecycle.md "Renewal on presentation".
 */
#include "renew.h"

#include <string.h>

#define DAY 86400ULL

const char *
rnw_strerror(int err)
{
	switch (err) {
	case RNW_OK:		return "success";
	case RNW_ERR_ARG:	return "bad argument";
	case RNW_ERR_TOOMANY:	return "too many certificates on the card";
	default:		return "unknown rnw error";
	}
}

const char *
rnw_errname(int err)
{
	switch (err) {
	case RNW_OK:		return "RNW_OK";
	case RNW_ERR_ARG:	return "RNW_ERR_ARG";
	case RNW_ERR_TOOMANY:	return "RNW_ERR_TOOMANY";
	default:		return "RNW_ERR_UNKNOWN";
	}
}

const char *
rnw_reason_name(uint32_t bit)
{
	switch (bit) {
	case RNW_MISSING:	return "missing";
	case RNW_REVOKED:	return "revoked";
	case RNW_ON_CRL:	return "on_crl";
	case RNW_EXPIRED:	return "expired";
	case RNW_EXPIRING:	return "expiring";
	case RNW_VERSION:	return "profile_version";
	case RNW_SUPERSEDES:	return "supersedes";
	default:		return NULL;
	}
}

/* Of two certificates of one slot, the one that counts: a valid one (not
 * on the CRL) before a revoked one, then the later not-after. */
static int
better(const struct rnw_cert *a, const struct rnw_cert *b)
{
	int ga = a->status == RNW_CERT_VALID && !a->on_crl;
	int gb = b->status == RNW_CERT_VALID && !b->on_crl;

	if (ga != gb)
		return ga > gb;
	return a->not_after > b->not_after;
}

static const struct rnw_cert *
current(const struct rnw_cert *certs, size_t n, uint8_t slot)
{
	const struct rnw_cert *best = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (certs[i].slot == slot && (best == NULL ||
		    better(&certs[i], best)))
			best = &certs[i];
	return best;
}

static int
live(const struct rnw_cert *c)
{
	return c->status == RNW_CERT_VALID && !c->on_crl;
}

static int
add_revoke(struct rnw_item *it, const struct rnw_cert *c)
{
	if (it->nrevoke >= RNW_REVOKE_MAX)
		return RNW_ERR_TOOMANY;
	memcpy(it->revoke[it->nrevoke], c->serial, sizeof(c->serial));
	it->revoke_slot[it->nrevoke++] = c->slot;
	return RNW_OK;
}

/* What a current certificate cur of slot s lacks (0: nothing). */
static uint32_t
reasons_of(const struct prof_slot *s, uint32_t card_version,
    const struct rnw_cert *cur, uint64_t now)
{
	uint32_t r = 0;

	if (cur->status == RNW_CERT_REVOKED)
		r |= RNW_REVOKED;
	else if (cur->on_crl)
		r |= RNW_ON_CRL;
	if (cur->not_after <= now)
		r |= RNW_EXPIRED;
	else if (s->renew_days > 0 &&
	    cur->not_after <= now + (uint64_t)s->renew_days * DAY)
		r |= RNW_EXPIRING;
	if (card_version < (uint32_t)s->since_version)
		r |= RNW_VERSION;
	return r;
}

/* Slot s's item, if it needs one (it->reasons 0 otherwise). */
static int
slot_item(const struct prof_slot *s, uint32_t card_version,
    const struct rnw_cert *certs, size_t n, uint64_t now,
    struct rnw_item *it)
{
	const struct rnw_cert *cur = current(certs, n, s->slot);
	size_t i, k;
	int rc, held_old = 0;

	memset(it, 0, sizeof(*it));
	it->slot = s->slot;
	if (cur != NULL && cur->status == RNW_CERT_HOLD)
		return RNW_OK;
	for (k = 0; k < s->nsupersedes; k++)
		for (i = 0; i < n; i++)
			if (certs[i].slot == s->supersedes[k])
				held_old |= live(&certs[i]);
	if (cur == NULL)
		it->reasons = held_old ? RNW_SUPERSEDES : RNW_MISSING;
	else
		it->reasons = reasons_of(s, card_version, cur, now);
	/* Holding X (soundly or not): nothing more is asked for Y. */
	if (it->reasons == 0)
		return RNW_OK;
	/* A key is reused only when there is a sound one to reuse. */
	it->new_key = !(s->renew_reuse_key && cur != NULL &&
	    (it->reasons & ~(RNW_EXPIRING | RNW_EXPIRED)) == 0);
	if (cur != NULL) {
		memcpy(it->old_serial, cur->serial, sizeof(cur->serial));
		it->old_not_after = cur->not_after;
		if (cur->status == RNW_CERT_VALID && (rc = add_revoke(it,
		    cur)) != RNW_OK)
			return rc;
	}
	for (k = 0; k < s->nsupersedes; k++)
		for (i = 0; i < n; i++)
			if (certs[i].slot == s->supersedes[k] &&
			    certs[i].status == RNW_CERT_VALID &&
			    (rc = add_revoke(it, &certs[i])) != RNW_OK)
				return rc;
	return RNW_OK;
}

int
rnw_requirements(const struct prof *p, uint32_t card_version,
    const struct rnw_cert *certs, size_t n, uint64_t now,
    struct rnw_list *out)
{
	size_t i;
	int rc;

	if (out != NULL)
		out->n = 0;
	if (p == NULL || out == NULL || (certs == NULL && n > 0))
		return RNW_ERR_ARG;
	if (n > RNW_CERTS_MAX)
		return RNW_ERR_TOOMANY;
	for (i = 0; i < p->nslots; i++) {
		if ((rc = slot_item(&p->slots[i], card_version, certs, n, now,
		    &out->items[out->n])) != RNW_OK) {
			out->n = 0;
			return rc;
		}
		if (out->items[out->n].reasons != 0)
			out->n++;
	}
	return RNW_OK;
}
