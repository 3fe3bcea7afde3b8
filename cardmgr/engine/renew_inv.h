/*
 * renew_inv: a card's renewal requirements from the inventory alone (its
 * record and certificates, in one read transaction) and a profile: the
 * path the engine takes when a card is presented (renew_req.c), kept free
 * of the engine so that make bench times exactly it (tests/bench/bench_inv.c).
 */
#ifndef RENEW_INV_H
#define RENEW_INV_H

#include <stdint.h>

#include "inv/inv.h"
#include "policy/profile.h"
#include "policy/renew.h"

/*
 * The requirements of card c (profile p) at now, read in t. An inactive
 * card has none. INV_OK, an inventory error, or INV_ERR_ARG for a card
 * with more than RNW_CERTS_MAX certificates. [out] *out.
 */
int rnw_inv_list(struct inv_txn *t, const struct inv_card *c,
    const struct prof *p, uint64_t now, struct rnw_list *out);

#endif /* RENEW_INV_H */
