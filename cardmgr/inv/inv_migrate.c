/*
 * inv_migrate: schema 1 to 2 and 2 to 3, run by inv_open in the write txn
 * that then records the new version, so a crash leaves either the old
 * schema untouched or schema 3 complete.
 *
 * Schema 1 had card records without an expiry (card v1) and no certificates-
 * by-expiry index. The migration rewrites every card as v2 with expires set
 * to the latest not_after of its certificates (0 if it has none: unknown),
 * and builds inv_cert_expiry from every certificate.
 *
 * Schema 2 had holder records without a manager's address (holder v1) and no
 * cards-by-profile-and-state or cards-by-expiry index. The migration
 * rewrites every holder as v2 (no manager) and builds both indexes from
 * every card.
 */
#include "inv_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static int
latest_expiry(const struct inv_cert *c, void *arg)
{
	uint64_t *latest = arg;

	if (c->not_after > *latest)
		*latest = c->not_after;
	return 0;
}

/* Rewrite the card stored under guid as v2. */
static int
migrate_card(struct inv_txn *t, const uint8_t *guid, struct inv_card *c)
{
	MDB_val k = { INV_GUID_LEN, (void *)guid }, v;
	uint8_t *rec = NULL;
	size_t len;
	int rc;

	if ((rc = inv_get(t, DB_CARDS, &k, &v)) != INV_OK ||
	    (rc = inv_card_decode_v1(v.mv_data, v.mv_size, c)) != INV_OK)
		return rc;
	if (memcmp(guid, c->guid, INV_GUID_LEN) != 0)
		return INV_ERR_FORMAT;
	if ((rc = inv_certs_of_card(t, c->guid, latest_expiry,
	    &c->expires)) != INV_OK ||
	    (rc = inv_card_encode(c, &rec, &len)) != INV_OK)
		return rc;
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_CARDS, &k, &v, 0);
	free(rec);
	return rc;
}

/*
 * [out] *keys: every card's GUID, INV_GUID_LEN bytes each, *n of them. Taken
 * first because rewriting a record to a new size under an open cursor is
 * not something LMDB promises to keep the cursor's place through.
 */
static int
card_keys(struct inv_txn *t, uint8_t **keys, size_t *n)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t cap = 0;
	uint8_t *p;
	int mrc, rc = INV_OK;

	*keys = NULL;
	*n = 0;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARDS], &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != INV_GUID_LEN) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((p = reallocarray(*keys, cap, INV_GUID_LEN)) == NULL) {
				rc = INV_ERR_NOMEM;
				break;
			}
			*keys = p;
		}
		memcpy(*keys + *n * INV_GUID_LEN, k.mv_data, INV_GUID_LEN);
		(*n)++;
	}
	if (rc == INV_OK && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

static int
migrate_cards(struct inv_txn *t)
{
	struct inv_card *c;
	uint8_t *keys = NULL;
	size_t n = 0, i;
	int rc;

	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = card_keys(t, &keys, &n)) == INV_OK)
		for (i = 0; i < n && rc == INV_OK; i++)
			rc = migrate_card(t, keys + i * INV_GUID_LEN, c);
	free(keys);
	free(c);
	return rc;
}

static int
build_expiry(struct inv_txn *t)
{
	MDB_cursor *cur = NULL;
	struct inv_cert *c;
	uint8_t eb[8 + INV_CERT_SERIAL_MAX];
	MDB_val k, v, ek, empty = { 0, (void *)"" };
	int mrc, rc = INV_OK;

	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CERTS], &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_cert_decode(v.mv_data, v.mv_size, c)) != INV_OK)
			break;
		ek.mv_size = inv_expiry_key(c->not_after, c->serial, eb);
		ek.mv_data = eb;
		if ((rc = inv_put(t, DB_CERT_EXPIRY, &ek, &empty, 0)) != INV_OK)
			break;
	}
	if (rc == INV_OK && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}

int
inv_migrate_v1(struct inv_txn *t)
{
	int rc;

	if ((rc = migrate_cards(t)) != INV_OK)
		return rc;
	return build_expiry(t);
}

/*
 * [out] *keys: every key of db, each in a slot of klen bytes (key length in
 * the first byte, so keys up to klen - 1 bytes), *n of them; taken before
 * any rewrite for the reason card_keys gives.
 */
static int
all_keys(struct inv_txn *t, int db, size_t klen, uint8_t **keys, size_t *n)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	size_t cap = 0;
	uint8_t *p;
	int mrc, rc = INV_OK;

	*keys = NULL;
	*n = 0;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[db], &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size >= klen) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((p = reallocarray(*keys, cap, klen)) == NULL) {
				rc = INV_ERR_NOMEM;
				break;
			}
			*keys = p;
		}
		p = *keys + *n * klen;
		p[0] = (uint8_t)k.mv_size;
		memcpy(p + 1, k.mv_data, k.mv_size);
		(*n)++;
	}
	if (rc == INV_OK && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

/* Rewrite the holder stored under key (len bytes) as v2. */
static int
migrate_holder(struct inv_txn *t, const uint8_t *key, size_t len,
    struct inv_holder *h)
{
	MDB_val k = { len, (void *)key }, v;
	uint8_t *rec = NULL;
	size_t rlen = 0;
	int rc;

	if ((rc = inv_get(t, DB_HOLDERS, &k, &v)) != INV_OK ||
	    (rc = inv_holder_decode_v1(v.mv_data, v.mv_size, h)) != INV_OK)
		return rc;
	if (strlen(h->id) != len || memcmp(h->id, key, len) != 0)
		rc = INV_ERR_FORMAT;
	else if ((rc = inv_holder_encode(h, &rec, &rlen)) == INV_OK) {
		v.mv_size = rlen;
		v.mv_data = rec;
		rc = inv_put(t, DB_HOLDERS, &k, &v, 0);
	}
	OPENSSL_cleanse(rec, rlen);
	free(rec);
	inv_holder_clear(h);
	return rc;
}

static int
migrate_holders(struct inv_txn *t)
{
	struct inv_holder *h;
	uint8_t *keys = NULL;
	size_t n = 0, i, kl = INV_ID_MAX + 2;
	int rc;

	if ((h = malloc(sizeof(*h))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = all_keys(t, DB_HOLDERS, kl, &keys, &n)) == INV_OK)
		for (i = 0; i < n && rc == INV_OK; i++)
			rc = migrate_holder(t, keys + i * kl + 1, keys[i * kl], h);
	free(keys);
	free(h);
	return rc;
}

/* fn on every card with its stored record, in GUID order (fn may write other
 * databases of t, not inv_cards). */
static int
walk_cards(struct inv_txn *t, int (*fn)(struct inv_txn *,
    const struct inv_card *, MDB_val *))
{
	MDB_cursor *cur = NULL;
	struct inv_card *c;
	MDB_val k, v;
	int mrc, rc = INV_OK;

	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARDS], &cur)) != 0) {
		free(c);
		return inv_mdb_err(mrc);
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_card_decode(v.mv_data, v.mv_size, c)) != INV_OK)
			break;
		if (k.mv_size != INV_GUID_LEN ||
		    memcmp(k.mv_data, c->guid, INV_GUID_LEN) != 0) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = fn(t, c, &v)) != INV_OK)
			break;
	}
	if (rc == INV_OK && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	free(c);
	return rc;
}

/* The schema-3 profile and expiry index entries of one card. */
static int
index3_card(struct inv_txn *t, const struct inv_card *c, MDB_val *rec)
{
	(void)rec;
	return inv_card_index3(t, c, 1, 1);
}

int
inv_migrate_v2(struct inv_txn *t)
{
	int rc;

	if ((rc = migrate_holders(t)) != INV_OK)
		return rc;
	return walk_cards(t, index3_card);
}

/* The schema-5 serial and holder entries of one card: its record. */
static int
index5_card(struct inv_txn *t, const struct inv_card *c, MDB_val *rec)
{
	uint8_t hk[INV_ID_MAX + 1 + INV_GUID_LEN];
	MDB_val k = { strlen(c->serial), (void *)c->serial };
	int rc;

	if ((rc = inv_put(t, DB_CARD_SERIAL, &k, rec, 0)) != INV_OK ||
	    c->holder[0] == '\0')
		return rc;
	k.mv_size = inv_holder_key(c->holder, c->guid, hk);
	k.mv_data = hk;
	return inv_put(t, DB_CARD_HOLDER, &k, rec, 0);
}

int
inv_migrate_v4(struct inv_txn *t)
{
	MDB_dbi old;
	int mrc, rc;

	if ((rc = walk_cards(t, index5_card)) != INV_OK)
		return rc;
	/* The old holder index, if this environment has one, goes. */
	mrc = mdb_dbi_open(t->txn, "inv_card_holder", MDB_DUPSORT | MDB_DUPFIXED,
	    &old);
	if (mrc == 0)
		mrc = mdb_drop(t->txn, old, 1);
	return mrc == 0 || mrc == MDB_NOTFOUND ? INV_OK : inv_mdb_err(mrc);
}

/* The schema-6 stock entry of one card (blank cards only). */
static int
stock6_card(struct inv_txn *t, const struct inv_card *c, MDB_val *rec)
{
	(void)rec;
	return inv_stock_migrate_card(t, c);
}

int
inv_migrate_v5(struct inv_txn *t)
{
	return walk_cards(t, stock6_card);
}
