/* renew_inv: the inventory's side of the renewal requirements (renew_inv.h). */
#include "engine/renew_inv.h"

#include <stdlib.h>
#include <string.h>

struct certs {
	struct rnw_cert *v;
	size_t n;
	int over;
};

static enum rnw_status
rnw_status_of(uint8_t st)
{
	switch (st) {
	case INV_CERT_VALID:
		return RNW_CERT_VALID;
	case INV_CERT_REVOKED:
	case INV_CERT_PENDING_REVOKE:
		return RNW_CERT_REVOKED;
	default:	/* on hold, or a hold or its release in flight */
		return RNW_CERT_HOLD;
	}
}

static int
add_cert(const struct inv_cert *c, void *arg)
{
	struct certs *x = arg;
	struct rnw_cert *r;

	if (x->n >= RNW_CERTS_MAX) {
		x->over = 1;
		return 1;
	}
	r = &x->v[x->n++];
	memset(r, 0, sizeof(*r));
	/* Both are INV_CERT_SERIAL_MAX (64) hex digits and a NUL. */
	memcpy(r->serial, c->serial, sizeof(r->serial));
	r->serial[sizeof(r->serial) - 1] = '\0';
	r->slot = c->slot;
	r->not_after = c->not_after;
	r->status = rnw_status_of(c->status);
	return 0;
}

int
rnw_inv_list(struct inv_txn *t, const struct inv_card *c,
    const struct prof *p, uint64_t now, struct rnw_list *out)
{
	struct certs x = { NULL, 0, 0 };
	int rc;

	out->n = 0;
	if (c->state != INV_CARD_ACTIVE)
		return INV_OK;
	if (p == NULL)
		return INV_ERR_ARG;
	if ((x.v = malloc(RNW_CERTS_MAX * sizeof(*x.v))) == NULL)
		return INV_ERR_NOMEM;
	rc = inv_certs_of_card(t, c->guid, add_cert, &x);
	/* More certificates than a card can need: refused, not cut short. */
	if (rc == INV_OK && (x.over || rnw_requirements(p, c->profile_version,
	    x.v, x.n, now, out) != RNW_OK))
		rc = INV_ERR_ARG;
	free(x.v);
	return rc;
}
