/*
 * renew_req: a card's renewal requirements (policy/renew.h) as the station
 * sees them: its inventory record and certificates, its profile, the
 * engine's clock. Shown when a card is presented (GET /v1/readers, the
 * kiosk's poll) and on request (GET /v1/cards/{card}/requirements,
 * `cardmgr card requirements`). Only an active card has requirements: a
 * suspended, blocked or temporary one goes through its own lifecycle.
 *
 * The CRL state is the inventory's: the CRL check (central.c) gives every
 * certificate the CA revoked the CRL's status. XXX a certificate revoked at
 * the CA since the last CRL check is not seen until the next one.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/renew_inv.h"
#include "policy/renew.h"

int
eng_renew_list(struct engine *e, struct inv_txn *t, const struct inv_card *c,
    struct rnw_list *out)
{
	/* A profile no longer loaded: nothing to decide with (INV_ERR_ARG). */
	return rnw_inv_list(t, c, prof_find(e->profiles, c->profile), eng_now(),
	    out);
}

json_t *
eng_renew_json(const struct rnw_list *l)
{
	json_t *list = json_array(), *reasons, *rev;
	char slot[3];
	uint32_t b;
	size_t i, k;

	for (i = 0; i < l->n; i++) {
		const struct rnw_item *it = &l->items[i];

		reasons = json_array();
		for (b = 1; b != 0; b <<= 1)
			if ((it->reasons & b) && rnw_reason_name(b) != NULL)
				json_array_append_new(reasons,
				    json_string(rnw_reason_name(b)));
		rev = json_array();
		for (k = 0; k < it->nrevoke; k++)
			json_array_append_new(rev, json_string(it->revoke[k]));
		snprintf(slot, sizeof(slot), "%02x", it->slot);
		json_array_append_new(list, json_pack("{s:s, s:o, s:s, s:s?, "
		    "s:I, s:o}", "slot", slot, "reasons", reasons, "key",
		    it->new_key ? "new" : "reuse", "old_serial",
		    it->old_serial[0] ? it->old_serial : NULL, "old_not_after",
		    (json_int_t)it->old_not_after, "revoke", rev));
	}
	return list;
}

int
q_card_requirements(struct engine *e, const struct ops_req *r, uint64_t id)
{
	struct rnw_list *l = NULL;
	struct inv_card c;
	struct inv_txn *t = NULL;
	char key[80];
	int rc;

	eng_arg(r, "card", key, sizeof(key));
	if ((l = malloc(sizeof(*l))) == NULL)
		return eng_error(e, id, 500, "nomem", "out of memory");
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK &&
	    (rc = eng_find_card(t, key, &c)) == INV_OK)
		rc = eng_renew_list(e, t, &c, l);
	inv_abort(t);
	if (rc != INV_OK) {
		free(l);
		return eng_error(e, id, rc == INV_ERR_NOTFOUND ? 404 : 500,
		    rc == INV_ERR_NOTFOUND ? "not_found" : "inventory",
		    "card %s: %s", key, inv_strerror(rc));
	}
	rc = eng_reply(e, id, 200, json_pack("{s:s, s:s, s:i, s:I, s:o}",
	    "card", key, "state", inv_card_state_name(c.state),
	    "profile_version", (int)c.profile_version, "now",
	    (json_int_t)eng_now(), "requirements", eng_renew_json(l)));
	free(l);
	return rc;
}
