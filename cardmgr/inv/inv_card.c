/*
 * inv_card: holders, cards, card history and certificates, with their
 * secondary indexes. Every put reads the old record first, checks what may
 * refuse the change (unique serial, referenced holder or card) before the
 * first write, then writes the record and moves only the index entries whose
 * key changed. A write that fails after that poisons the txn (inv_put), so a
 * half-moved index is never committed.
 *
 * Callbacks of the foreach functions must not write in the transaction they
 * are given records from: the walk's cursor would be invalidated.
 */
#include "inv_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define EVENT_KEY_LEN (INV_GUID_LEN + 4)

static MDB_val
str_val(const char *s)
{
	MDB_val v = { strlen(s), (void *)s };

	return v;
}

static int
text_key_ok(const char *s, size_t max)
{
	size_t n;

	return s != NULL && (n = strnlen(s, max + 1)) > 0 && n <= max;
}

/* ---- holders ---- */

int
inv_holder_get(struct inv_txn *t, const char *id, struct inv_holder *h)
{
	MDB_val k, v;
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (!text_key_ok(id, INV_ID_MAX))
		return INV_ERR_ARG;
	k = str_val(id);
	if ((rc = inv_get(t, DB_HOLDERS, &k, &v)) != INV_OK ||
	    (rc = inv_holder_decode(v.mv_data, v.mv_size, h)) != INV_OK)
		return rc;
	if (strcmp(h->id, id) != 0) {
		inv_holder_clear(h);
		return INV_ERR_FORMAT;
	}
	return INV_OK;
}

static int
exists(struct inv_txn *t, int db, MDB_val *k)
{
	MDB_val v;

	return inv_get(t, db, k, &v);
}

/*
 * The holder index key (schema 5): holder NUL GUID, its value the card's
 * record, so a holder's cards are one range of one database.
 * [out] out[INV_ID_MAX + 1 + INV_GUID_LEN].
 */
size_t
inv_holder_key(const char *holder, const uint8_t guid[INV_GUID_LEN],
    uint8_t *out)
{
	size_t n = strnlen(holder, INV_ID_MAX);

	memcpy(out, holder, n);
	out[n] = 0;
	memcpy(out + n + 1, guid, INV_GUID_LEN);
	return n + 1 + INV_GUID_LEN;
}

/* INV_OK if a card of holder is indexed, INV_ERR_NOTFOUND if none. */
static int
holder_has_cards(struct inv_txn *t, const char *holder)
{
	uint8_t pk[INV_ID_MAX + 1];
	size_t n = strnlen(holder, INV_ID_MAX);
	MDB_cursor *cur = NULL;
	MDB_val k = { n + 1, pk }, v;
	int mrc;

	memcpy(pk, holder, n);
	pk[n] = 0;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARD_HOLDER], &cur)) != 0)
		return inv_mdb_err(mrc);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0)
		mrc = k.mv_size == n + 1 + INV_GUID_LEN &&
		    memcmp(k.mv_data, pk, n + 1) == 0 ? 0 : MDB_NOTFOUND;
	mdb_cursor_close(cur);
	return inv_mdb_err(mrc);
}

int
inv_holder_put(struct inv_txn *t, const struct inv_holder *h, int flags)
{
	uint8_t *rec = NULL;
	size_t len = 0;
	MDB_val k, v;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (h == NULL)
		return INV_ERR_ARG;
	if ((rc = inv_holder_encode(h, &rec, &len)) != INV_OK)
		return rc;
	k = str_val(h->id);
	rc = exists(t, DB_HOLDERS, &k);
	if (rc != INV_OK && rc != INV_ERR_NOTFOUND)
		goto out;
	if ((flags & INV_PUT_NEW) && rc == INV_OK) {
		rc = INV_ERR_EXISTS;
		goto out;
	}
	if ((flags & INV_PUT_UPDATE) && rc == INV_ERR_NOTFOUND)
		goto out;
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_HOLDERS, &k, &v, 0);
out:
	OPENSSL_cleanse(rec, len);
	free(rec);
	return rc;
}

int
inv_holder_del(struct inv_txn *t, const char *id)
{
	MDB_val k;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (!text_key_ok(id, INV_ID_MAX))
		return INV_ERR_ARG;
	k = str_val(id);
	if ((rc = exists(t, DB_HOLDERS, &k)) != INV_OK)
		return rc;
	if ((rc = holder_has_cards(t, id)) == INV_OK)
		return INV_ERR_EXISTS;
	if (rc != INV_ERR_NOTFOUND)
		return rc;
	return inv_del(t, DB_HOLDERS, &k, NULL);
}

/* ---- cards ---- */

int
inv_card_get(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN],
    struct inv_card *c)
{
	MDB_val k = { INV_GUID_LEN, (void *)guid }, v;
	int rc;

	/* No memset up front: the decoder zeroes c, and c is big. */
	if ((rc = inv_txn_check(t, 0)) == INV_OK && guid == NULL)
		rc = INV_ERR_ARG;
	if (rc == INV_OK && (rc = inv_get(t, DB_CARDS, &k, &v)) == INV_OK &&
	    (rc = inv_card_decode(v.mv_data, v.mv_size, c)) == INV_OK &&
	    memcmp(c->guid, guid, INV_GUID_LEN) != 0)
		rc = INV_ERR_FORMAT;
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* The serial index holds each card's record (schema 5): one get. */
int
inv_card_by_serial(struct inv_txn *t, const char *serial, struct inv_card *c)
{
	MDB_val k, v;
	int rc;

	if ((rc = inv_txn_check(t, 0)) == INV_OK &&
	    !text_key_ok(serial, INV_SERIAL_MAX))
		rc = INV_ERR_ARG;
	if (rc == INV_OK) {
		k = str_val(serial);
		rc = inv_get(t, DB_CARD_SERIAL, &k, &v);
	}
	if (rc == INV_OK &&
	    (rc = inv_card_decode(v.mv_data, v.mv_size, c)) == INV_OK &&
	    strcmp(c->serial, serial) != 0)
		rc = INV_ERR_FORMAT;	/* the index entry is another card's */
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* What may refuse a card put, checked before anything is written. */
static int
card_put_check(struct inv_txn *t, const struct inv_card *c,
    const struct inv_card *old, int have_old, int flags)
{
	MDB_val k, v;
	int rc;

	if ((flags & INV_PUT_NEW) && have_old)
		return INV_ERR_EXISTS;
	if ((flags & INV_PUT_UPDATE) && !have_old)
		return INV_ERR_NOTFOUND;
	if (c->holder[0] != '\0') {
		k = str_val(c->holder);
		if ((rc = exists(t, DB_HOLDERS, &k)) != INV_OK)
			return rc;
	}
	/* The serial is taken unless it is this card's own already. */
	k = str_val(c->serial);
	rc = inv_get(t, DB_CARD_SERIAL, &k, &v);
	if (rc == INV_OK && !(have_old && strcmp(old->serial, c->serial) == 0))
		return INV_ERR_EXISTS;
	return rc == INV_ERR_NOTFOUND ? INV_OK : rc;
}

size_t
inv_profile_key(const char *profile, uint8_t state,
    uint8_t out[INV_PROFILE_KEY_MAX])
{
	size_t n = strnlen(profile, INV_NAME_MAX);

	memcpy(out, profile, n);
	out[n] = 0;
	out[n + 1] = state;
	return n + 2;
}

size_t
inv_card_expiry_key(uint64_t expires, const uint8_t guid[INV_GUID_LEN],
    uint8_t out[8 + INV_GUID_LEN])
{
	inv_be64(expires, out);
	memcpy(out + 8, guid, INV_GUID_LEN);
	return 8 + INV_GUID_LEN;
}

/*
 * The schema-3 indexes: profile NUL state -> GUID (cards per profile and
 * state without reading a card), expires GUID -> empty (cards expiring,
 * only when expires is known). prof, exp: which of the two to put.
 */
int
inv_card_index3(struct inv_txn *t, const struct inv_card *c, int prof,
    int exp)
{
	uint8_t pk[INV_PROFILE_KEY_MAX], ek[8 + INV_GUID_LEN];
	MDB_val g = { INV_GUID_LEN, (void *)c->guid }, k;
	MDB_val empty = { 0, (void *)"" };
	int rc;

	k.mv_size = inv_profile_key(c->profile, c->state, pk);
	k.mv_data = pk;
	if (prof && (rc = inv_put(t, DB_CARD_PROFILE, &k, &g, 0)) != INV_OK)
		return rc;
	if (!exp || c->expires == 0)
		return INV_OK;
	k.mv_size = inv_card_expiry_key(c->expires, c->guid, ek);
	k.mv_data = ek;
	return inv_put(t, DB_CARD_EXPIRY, &k, &empty, 0);
}

/* Remove old's profile (prof) and expiry (exp) index entries. */
static int
card_unindex3(struct inv_txn *t, const struct inv_card *old, int prof,
    int exp)
{
	uint8_t pk[INV_PROFILE_KEY_MAX], ek[8 + INV_GUID_LEN];
	MDB_val g = { INV_GUID_LEN, (void *)old->guid }, k;
	int rc = INV_OK;

	if (prof) {
		k.mv_size = inv_profile_key(old->profile, old->state, pk);
		k.mv_data = pk;
		rc = inv_del(t, DB_CARD_PROFILE, &k, &g);
	}
	if (rc == INV_OK && exp && old->expires != 0) {
		k.mv_size = inv_card_expiry_key(old->expires, old->guid, ek);
		k.mv_data = ek;
		rc = inv_del(t, DB_CARD_EXPIRY, &k, NULL);
	}
	return rc;
}

/*
 * The serial and holder indexes carry the card's record (rec), so they are
 * written on every put; the other entries move when their key differs
 * between old (may be NULL) and c.
 */
static int
card_reindex(struct inv_txn *t, const struct inv_card *old,
    const struct inv_card *c, MDB_val *rec)
{
	MDB_val g = { INV_GUID_LEN, (void *)c->guid }, k;
	uint8_t sk[1], hk[INV_ID_MAX + 1 + INV_GUID_LEN];
	int rc = INV_OK, prof, exp;

	if (old != NULL && strcmp(old->serial, c->serial) != 0) {
		k = str_val(old->serial);
		rc = inv_del(t, DB_CARD_SERIAL, &k, NULL);
	}
	k = str_val(c->serial);
	if (rc == INV_OK)
		rc = inv_put(t, DB_CARD_SERIAL, &k, rec, 0);
	if (rc == INV_OK && old != NULL && old->holder[0] != '\0' &&
	    strcmp(old->holder, c->holder) != 0) {
		k.mv_size = inv_holder_key(old->holder, old->guid, hk);
		k.mv_data = hk;
		rc = inv_del(t, DB_CARD_HOLDER, &k, NULL);
	}
	if (rc == INV_OK && c->holder[0] != '\0') {
		k.mv_size = inv_holder_key(c->holder, c->guid, hk);
		k.mv_data = hk;
		rc = inv_put(t, DB_CARD_HOLDER, &k, rec, 0);
	}
	if (rc == INV_OK && (old == NULL || old->state != c->state)) {
		k.mv_size = 1;
		k.mv_data = sk;
		if (old != NULL) {
			sk[0] = old->state;
			rc = inv_del(t, DB_CARD_STATE, &k, &g);
		}
		sk[0] = c->state;
		if (rc == INV_OK)
			rc = inv_put(t, DB_CARD_STATE, &k, &g, 0);
	}
	prof = old == NULL || old->state != c->state ||
	    strcmp(old->profile, c->profile) != 0;
	exp = old == NULL || old->expires != c->expires;
	if (rc == INV_OK && old != NULL && (prof || exp))
		rc = card_unindex3(t, old, prof, exp);
	if (rc == INV_OK && (prof || exp))
		rc = inv_card_index3(t, c, prof, exp);
	return rc;
}

int
inv_card_put(struct inv_txn *t, const struct inv_card *c, int flags)
{
	struct inv_card *old = NULL;
	uint8_t *rec = NULL;
	size_t len;
	MDB_val k, v;
	int rc, have_old;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (c == NULL)
		return INV_ERR_ARG;
	if ((rc = inv_card_encode(c, &rec, &len)) != INV_OK)
		return rc;
	if ((old = malloc(sizeof(*old))) == NULL) {
		rc = INV_ERR_NOMEM;
		goto out;
	}
	rc = inv_card_get(t, c->guid, old);
	if (rc != INV_OK && rc != INV_ERR_NOTFOUND)
		goto out;
	have_old = rc == INV_OK;
	if ((rc = card_put_check(t, c, old, have_old, flags)) != INV_OK)
		goto out;
	k.mv_size = INV_GUID_LEN;
	k.mv_data = (void *)c->guid;
	v.mv_size = len;
	v.mv_data = rec;
	if ((rc = inv_put(t, DB_CARDS, &k, &v, 0)) == INV_OK)
		rc = card_reindex(t, have_old ? old : NULL, c, &v);
out:
	free(old);
	free(rec);
	return rc;
}

int
inv_del_prefix(struct inv_txn *t, int db, const uint8_t *prefix, size_t plen)
{
	MDB_cursor *cur = NULL;
	MDB_val k = { plen, (void *)prefix }, v;
	int mrc, rc = INV_OK;

	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[db], &cur)) != 0)
		return inv_fail(t, inv_mdb_err(mrc));
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_hook()) != INV_OK ||
		    (mrc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	if (rc != INV_OK)
		rc = inv_fail(t, rc);
	else if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_fail(t, inv_mdb_err(mrc));
	mdb_cursor_close(cur);
	return rc;
}

int
inv_card_del(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN])
{
	struct inv_card *c;
	MDB_val g = { INV_GUID_LEN, (void *)guid }, k;
	uint8_t sk[1], hk[INV_ID_MAX + 1 + INV_GUID_LEN];
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_card_get(t, guid, c)) != INV_OK)
		goto out;
	if ((rc = exists(t, DB_CERT_CARD, &g)) != INV_ERR_NOTFOUND) {
		if (rc == INV_OK)
			rc = INV_ERR_EXISTS;
		goto out;
	}
	rc = inv_del(t, DB_CARDS, &g, NULL);
	k = str_val(c->serial);
	if (rc == INV_OK)
		rc = inv_del(t, DB_CARD_SERIAL, &k, NULL);
	if (rc == INV_OK && c->holder[0] != '\0') {
		k.mv_size = inv_holder_key(c->holder, c->guid, hk);
		k.mv_data = hk;
		rc = inv_del(t, DB_CARD_HOLDER, &k, NULL);
	}
	sk[0] = c->state;
	k.mv_size = 1;
	k.mv_data = sk;
	if (rc == INV_OK)
		rc = inv_del(t, DB_CARD_STATE, &k, &g);
	if (rc == INV_OK)
		rc = card_unindex3(t, c, 1, 1);
	if (rc == INV_OK)
		rc = inv_del_prefix(t, DB_EVENTS, guid, INV_GUID_LEN);
	/* Its further escrowed keys (schema 7) go with it. */
	if (rc == INV_OK)
		rc = inv_del_prefix(t, DB_ESCROW, guid, INV_GUID_LEN);
out:
	free(c);
	return rc;
}

/* Walk the GUIDs stored as duplicates of key in db; fn on each card. */
static int
cards_of_key(struct inv_txn *t, int db, MDB_val *key, inv_card_fn fn,
    void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_card *c;
	MDB_val k = *key, v;
	uint8_t guid[INV_GUID_LEN];
	int mrc, rc = INV_OK;

	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[db], &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		if (v.mv_size != INV_GUID_LEN) {
			rc = INV_ERR_FORMAT;
			break;
		}
		memcpy(guid, v.mv_data, INV_GUID_LEN);
		if ((rc = inv_card_get(t, guid, c)) != INV_OK) {
			if (rc == INV_ERR_NOTFOUND)
				rc = INV_ERR_FORMAT;	/* dangling index entry */
			break;
		}
		if ((rc = fn(c, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}

/*
 * The cards of holder (n bytes): the range "holder NUL" of the holder index,
 * whose values are the cards' records (schema 5): no second lookup.
 */
static int
cards_in_range(struct inv_txn *t, const char *holder, size_t n,
    inv_card_fn fn, void *arg)
{
	uint8_t pk[INV_ID_MAX + 1];
	MDB_cursor *cur = NULL;
	struct inv_card c;	/* 4.5 KB: the stack, not an allocation per call */
	MDB_val k = { n + 1, pk }, v;
	int mrc, rc = INV_OK;

	memcpy(pk, holder, n);
	pk[n] = 0;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARD_HOLDER], &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == 0 && k.mv_size > n && memcmp(k.mv_data, pk, n + 1) == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != n + 1 + INV_GUID_LEN ||
		    (rc = inv_card_decode(v.mv_data, v.mv_size, &c)) != INV_OK ||
		    memcmp(c.guid, (const uint8_t *)k.mv_data + n + 1,
		    INV_GUID_LEN) != 0 || strcmp(c.holder, holder) != 0) {
			rc = INV_ERR_FORMAT;	/* not the card its key names */
			break;
		}
		if ((rc = fn(&c, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int
inv_cards_of_holder(struct inv_txn *t, const char *holder, inv_card_fn fn,
    void *arg)
{
	MDB_val k;
	int rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (!text_key_ok(holder, INV_ID_MAX) || fn == NULL)
		return INV_ERR_ARG;
	k = str_val(holder);
	return cards_in_range(t, holder, k.mv_size, fn, arg);
}

int
inv_cards_in_state(struct inv_txn *t, int state, inv_card_fn fn, void *arg)
{
	uint8_t sk[1];
	MDB_val k = { 1, sk };
	int rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (state < 0 || state >= INV_CARD_NSTATES || fn == NULL)
		return INV_ERR_ARG;
	sk[0] = (uint8_t)state;
	return cards_of_key(t, DB_CARD_STATE, &k, fn, arg);
}

int
inv_card_count_by_state(struct inv_txn *t, uint64_t counts[INV_CARD_NSTATES])
{
	MDB_cursor *cur = NULL;
	uint8_t sk[1];
	MDB_val k = { 1, sk }, v;
	size_t n;
	int i, mrc, rc;

	memset(counts, 0, INV_CARD_NSTATES * sizeof(counts[0]));
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARD_STATE],
	    &cur)) != 0)
		return inv_mdb_err(mrc);
	for (i = 0; i < INV_CARD_NSTATES && rc == INV_OK; i++) {
		sk[0] = (uint8_t)i;
		k.mv_size = 1;
		k.mv_data = sk;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
		if (mrc == 0 && (mrc = mdb_cursor_count(cur, &n)) == 0)
			counts[i] = n;
		if (mrc != 0 && mrc != MDB_NOTFOUND)
			rc = inv_mdb_err(mrc);
	}
	mdb_cursor_close(cur);
	return rc;
}

int
inv_card_count_by_profile(struct inv_txn *t, inv_profile_count_fn fn,
    void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char profile[INV_NAME_MAX + 1];
	const uint8_t *p;
	size_t n;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARD_PROFILE],
	    &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		p = k.mv_data;
		/* profile (no NUL), NUL, state: anything else is not ours. */
		if (k.mv_size < 2 || k.mv_size > INV_PROFILE_KEY_MAX ||
		    p[k.mv_size - 2] != 0 ||
		    memchr(p, 0, k.mv_size - 2) != NULL ||
		    p[k.mv_size - 1] >= INV_CARD_NSTATES) {
			rc = INV_ERR_FORMAT;
			break;
		}
		memcpy(profile, p, k.mv_size - 2);
		profile[k.mv_size - 2] = '\0';
		if ((mrc = mdb_cursor_count(cur, &n)) != 0)
			break;
		if ((rc = fn(profile, p[k.mv_size - 1], n, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int
inv_cards_expiring(struct inv_txn *t, uint64_t from, uint64_t until,
    inv_card_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_card *c;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	uint64_t ex;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	inv_be64(from, kb);
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CARD_EXPIRY],
	    &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 + INV_GUID_LEN) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((ex = inv_get_be64(k.mv_data)) >= until)
			break;
		rc = inv_card_get(t, (const uint8_t *)k.mv_data + 8, c);
		if (rc == INV_OK && c->expires != ex)
			rc = INV_ERR_FORMAT;	/* stale index entry */
		if (rc == INV_ERR_NOTFOUND)
			rc = INV_ERR_FORMAT;	/* dangling index entry */
		if (rc != INV_OK || (rc = fn(c, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}

int
inv_holders_foreach(struct inv_txn *t, const char *after, size_t max,
    inv_holder_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct inv_holder *h;
	size_t n = 0;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL || (after != NULL && !text_key_ok(after, INV_ID_MAX)))
		return INV_ERR_ARG;
	if ((h = malloc(sizeof(*h))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_HOLDERS], &cur)) != 0) {
		free(h);
		return inv_mdb_err(mrc);
	}
	if (after != NULL) {
		k = str_val(after);
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		/* Strictly after: skip the key itself. */
		if (mrc == 0 && k.mv_size == strlen(after) &&
		    memcmp(k.mv_data, after, k.mv_size) == 0)
			mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	} else {
		mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (; mrc == 0 && (max == 0 || n < max);
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_holder_decode(v.mv_data, v.mv_size, h)) != INV_OK)
			break;
		n++;
		if (fn(h, arg) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	inv_holder_clear(h);
	free(h);
	return rc;
}

/* ---- card history ---- */

static void
event_key(const uint8_t guid[INV_GUID_LEN], uint32_t seq,
    uint8_t out[EVENT_KEY_LEN])
{
	memcpy(out, guid, INV_GUID_LEN);
	inv_be32(seq, out + INV_GUID_LEN);
}

/* [out] *last: the highest seq stored for guid, 0 if none. */
static int
event_last(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN], uint32_t *last)
{
	MDB_cursor *cur = NULL;
	uint8_t kb[EVENT_KEY_LEN];
	MDB_val k = { EVENT_KEY_LEN, kb }, v;
	int mrc;

	*last = 0;
	event_key(guid, UINT32_MAX, kb);
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_EVENTS], &cur)) != 0)
		return inv_mdb_err(mrc);
	mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && k.mv_size == EVENT_KEY_LEN &&
	    memcmp(k.mv_data, kb, EVENT_KEY_LEN) == 0)
		*last = UINT32_MAX;
	else if (mrc == 0)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (mrc == 0 && *last == 0 && k.mv_size == EVENT_KEY_LEN &&
	    memcmp(k.mv_data, guid, INV_GUID_LEN) == 0)
		*last = inv_get_be32((const uint8_t *)k.mv_data + INV_GUID_LEN);
	mdb_cursor_close(cur);
	return mrc == 0 || mrc == MDB_NOTFOUND ? INV_OK : inv_mdb_err(mrc);
}

int
inv_event_append(struct inv_txn *t, const struct inv_event *e, uint32_t *seq)
{
	struct inv_event *ev = NULL;
	uint8_t kb[EVENT_KEY_LEN], *rec = NULL;
	MDB_val k = { INV_GUID_LEN, NULL }, v;
	size_t len;
	uint32_t last;
	int rc;
	uint32_t seq_unused;

	if (seq == NULL)
		seq = &seq_unused;	/* the caller does not want it */
	*seq = 0;
	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (e == NULL)
		return INV_ERR_ARG;
	k.mv_data = (void *)e->guid;
	if ((rc = exists(t, DB_CARDS, &k)) != INV_OK ||
	    (rc = event_last(t, e->guid, &last)) != INV_OK)
		return rc;
	if (last == UINT32_MAX)
		return INV_ERR_FULL;	/* the card's seq space, not the map */
	if ((ev = malloc(sizeof(*ev))) == NULL)
		return INV_ERR_NOMEM;
	*ev = *e;
	ev->seq = last + 1;
	if ((rc = inv_event_encode(ev, &rec, &len)) != INV_OK)
		goto out;
	event_key(e->guid, ev->seq, kb);
	k.mv_size = EVENT_KEY_LEN;
	k.mv_data = kb;
	v.mv_size = len;
	v.mv_data = rec;
	if ((rc = inv_put(t, DB_EVENTS, &k, &v, 0)) == INV_OK)
		*seq = ev->seq;
out:
	free(rec);
	free(ev);
	return rc;
}

int
inv_event_foreach(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN],
    inv_event_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_event *e;
	uint8_t kb[EVENT_KEY_LEN];
	MDB_val k = { EVENT_KEY_LEN, kb }, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (guid == NULL || fn == NULL)
		return INV_ERR_ARG;
	if ((e = malloc(sizeof(*e))) == NULL)
		return INV_ERR_NOMEM;
	event_key(guid, 0, kb);
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_EVENTS], &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == 0 && k.mv_size == EVENT_KEY_LEN &&
	    memcmp(k.mv_data, guid, INV_GUID_LEN) == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_event_decode(v.mv_data, v.mv_size, e)) != INV_OK)
			break;
		event_key(e->guid, e->seq, kb);
		if (memcmp(kb, k.mv_data, EVENT_KEY_LEN) != 0) {
			rc = INV_ERR_FORMAT;	/* record under another key */
			break;
		}
		if ((rc = fn(e, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(e);
	return rc;
}

/* ---- certificates ---- */

size_t
inv_expiry_key(uint64_t not_after, const char *serial,
    uint8_t out[8 + INV_CERT_SERIAL_MAX])
{
	size_t n = strnlen(serial, INV_CERT_SERIAL_MAX);

	inv_be64(not_after, out);
	memcpy(out + 8, serial, n);
	return 8 + n;
}

int
inv_cert_get(struct inv_txn *t, const char *serial, struct inv_cert *c)
{
	MDB_val k, v;
	int rc;

	/* No memset up front: the decoder zeroes c, and c is 18 KiB. */
	if ((rc = inv_txn_check(t, 0)) == INV_OK &&
	    (serial == NULL || !inv_cert_serial_ok(serial)))
		rc = INV_ERR_ARG;
	if (rc == INV_OK) {
		k = str_val(serial);
		if ((rc = inv_get(t, DB_CERTS, &k, &v)) == INV_OK &&
		    (rc = inv_cert_decode(v.mv_data, v.mv_size, c)) == INV_OK &&
		    strcmp(c->serial, serial) != 0)
			rc = INV_ERR_FORMAT;
	}
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* Remove old's index entries that c (NULL: deleted) no longer has. */
static int
cert_unindex(struct inv_txn *t, const struct inv_cert *old,
    const struct inv_cert *c)
{
	uint8_t eb[8 + INV_CERT_SERIAL_MAX];
	MDB_val k, s = str_val(old->serial);
	int rc = INV_OK;

	if (c == NULL || memcmp(old->guid, c->guid, INV_GUID_LEN) != 0) {
		k.mv_size = INV_GUID_LEN;
		k.mv_data = (void *)old->guid;
		rc = inv_del(t, DB_CERT_CARD, &k, &s);
	}
	if (rc == INV_OK && (c == NULL || old->not_after != c->not_after)) {
		k.mv_size = inv_expiry_key(old->not_after, old->serial, eb);
		k.mv_data = eb;
		rc = inv_del(t, DB_CERT_EXPIRY, &k, NULL);
	}
	return rc;
}

static int
cert_index(struct inv_txn *t, const struct inv_cert *c)
{
	uint8_t eb[8 + INV_CERT_SERIAL_MAX], *sum = NULL;
	MDB_val k = { INV_GUID_LEN, (void *)c->guid }, s = str_val(c->serial);
	MDB_val v;
	size_t len;
	int rc;

	if ((rc = inv_put(t, DB_CERT_CARD, &k, &s, 0)) != INV_OK)
		return rc;
	/* Rewritten on every put: the summary follows the status. */
	if ((rc = inv_certsum_encode(c, &sum, &len)) != INV_OK)
		return rc;
	k.mv_size = inv_expiry_key(c->not_after, c->serial, eb);
	k.mv_data = eb;
	v.mv_size = len;
	v.mv_data = sum;
	rc = inv_put(t, DB_CERT_EXPIRY, &k, &v, 0);
	free(sum);
	return rc;
}

int
inv_cert_put(struct inv_txn *t, const struct inv_cert *c, int flags)
{
	struct inv_cert *old = NULL;
	uint8_t *rec = NULL;
	size_t len;
	MDB_val k = { INV_GUID_LEN, NULL }, v;
	int rc, have_old;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (c == NULL)
		return INV_ERR_ARG;
	k.mv_data = (void *)c->guid;
	if ((rc = inv_cert_encode(c, &rec, &len)) != INV_OK)
		return rc;
	if ((rc = exists(t, DB_CARDS, &k)) != INV_OK)
		goto out;
	if ((old = malloc(sizeof(*old))) == NULL) {
		rc = INV_ERR_NOMEM;
		goto out;
	}
	rc = inv_cert_get(t, c->serial, old);
	if (rc != INV_OK && rc != INV_ERR_NOTFOUND)
		goto out;
	have_old = rc == INV_OK;
	rc = INV_OK;
	if ((flags & INV_PUT_NEW) && have_old)
		rc = INV_ERR_EXISTS;
	else if ((flags & INV_PUT_UPDATE) && !have_old)
		rc = INV_ERR_NOTFOUND;
	if (rc != INV_OK)
		goto out;
	k = str_val(c->serial);
	v.mv_size = len;
	v.mv_data = rec;
	if ((rc = inv_put(t, DB_CERTS, &k, &v, 0)) == INV_OK &&
	    (!have_old || (rc = cert_unindex(t, old, c)) == INV_OK))
		rc = cert_index(t, c);
out:
	free(old);
	free(rec);
	return rc;
}

int
inv_cert_del(struct inv_txn *t, const char *serial)
{
	struct inv_cert *c;
	MDB_val k;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((rc = inv_cert_get(t, serial, c)) == INV_OK) {
		k = str_val(c->serial);
		if ((rc = inv_del(t, DB_CERTS, &k, NULL)) == INV_OK)
			rc = cert_unindex(t, c, NULL);
	}
	free(c);
	return rc;
}

/*
 * Load the certificate named by an index entry and hand it to fn; na (may be
 * NULL) is the not_after the expiry index claims for it.
 */
static int
cert_visit(struct inv_txn *t, const void *serial, size_t n,
    const uint64_t *na, struct inv_cert *c, inv_cert_fn fn, void *arg)
{
	char s[INV_CERT_SERIAL_MAX + 1];
	int rc;

	if (n == 0 || n > INV_CERT_SERIAL_MAX)
		return INV_ERR_FORMAT;
	memcpy(s, serial, n);
	s[n] = '\0';
	if ((rc = inv_cert_get(t, s, c)) != INV_OK)
		return rc == INV_ERR_NOTFOUND || rc == INV_ERR_ARG ?
		    INV_ERR_FORMAT : rc;
	if (na != NULL && c->not_after != *na)
		return INV_ERR_FORMAT;	/* stale index entry */
	return fn(c, arg);
}

int
inv_certs_of_card(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN],
    inv_cert_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_cert *c;
	MDB_val k = { INV_GUID_LEN, (void *)guid }, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (guid == NULL || fn == NULL)
		return INV_ERR_ARG;
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CERT_CARD],
	    &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP))
		if ((rc = cert_visit(t, v.mv_data, v.mv_size, NULL, c, fn,
		    arg)) != 0)
			break;
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}

int
inv_certs_expiring(struct inv_txn *t, uint64_t from, uint64_t until,
    inv_cert_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_cert *c;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	uint64_t na;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((c = malloc(sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	inv_be64(from, kb);
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_CERT_EXPIRY],
	    &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= 8) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((na = inv_get_be64(k.mv_data)) >= until)
			break;
		if (v.mv_size == 0) {	/* before summaries: the record */
			if ((rc = cert_visit(t, (const uint8_t *)k.mv_data + 8,
			    k.mv_size - 8, &na, c, fn, arg)) != 0)
				break;
			continue;
		}
		if (k.mv_size - 8 > INV_CERT_SERIAL_MAX ||
		    inv_certsum_decode(v.mv_data, v.mv_size, c) != INV_OK) {
			rc = INV_ERR_FORMAT;
			break;
		}
		memcpy(c->serial, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		c->serial[k.mv_size - 8] = '\0';
		c->not_after = na;
		if ((rc = fn(c, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(c);
	return rc;
}
