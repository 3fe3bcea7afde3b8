/*
 * inv_escrow: a card's further escrowed key management keys (schema 7). A
 * card's first escrowed key (generation 0, from its issuance) stays in its
 * record (inv_card.escrow); each renewal that gives the escrowed slot a new
 * key adds generation 1, 2, ... here. One database, inv_escrow,
 * GUID || generation (u32 big-endian) -> record, so a card's blobs are
 * adjacent and in generation order:
 *
 *   escrow  v1  1 'W' guid[16] gen:u32 slot:u8 created:u64 blob:blob32
 *
 * A blob is opaque here (keyd's); the key it wraps may never have reached
 * the card (a renewal torn between escrow and import): harmless, the key has
 * no certificate.
 */
#include "inv_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define V_ESCROW 1
#define ESCROW_CAP (sizeof(struct inv_escrow) + 64)

static int
escrow_fields_ok(const struct inv_escrow *e)
{
	return e->gen >= 1 && e->len >= 1 && e->len <= INV_ESCROW_MAX;
}

static size_t
escrow_key(const uint8_t guid[INV_GUID_LEN], uint32_t gen,
    uint8_t out[INV_GUID_LEN + 4])
{
	memcpy(out, guid, INV_GUID_LEN);
	inv_be32(gen, out + INV_GUID_LEN);
	return INV_GUID_LEN + 4;
}

int
inv_escrow_encode(const struct inv_escrow *e, uint8_t **out, size_t *len)
{
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (e == NULL || !escrow_fields_ok(e))
		return INV_ERR_ARG;
	if ((mem = malloc(ESCROW_CAP)) == NULL)
		return INV_ERR_NOMEM;
	buf_writer_init(&w, mem, ESCROW_CAP);
	buf_put_u8(&w, V_ESCROW);
	buf_put_u8(&w, 'W');
	buf_put_bytes(&w, e->guid, INV_GUID_LEN);
	buf_put_u32be(&w, e->gen);
	buf_put_u8(&w, e->slot);
	rec_put_u64(&w, e->created);
	rec_put_blob(&w, e->blob, e->len);
	return rec_finish(&w, mem, ESCROW_CAP, out, len);
}

int
inv_escrow_decode(const uint8_t *rec, size_t len, struct inv_escrow *e)
{
	struct buf_reader r;
	size_t n = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'W', V_ESCROW)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (buf_get_bytes(&r, e->guid, INV_GUID_LEN) != BUF_OK ||
	    buf_get_u32be(&r, &e->gen) != BUF_OK ||
	    buf_get_u8(&r, &e->slot) != BUF_OK ||
	    rec_get_u64(&r, &e->created) != INV_OK ||
	    rec_get_blob(&r, e->blob, INV_ESCROW_MAX, &n) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	e->len = (uint16_t)n;
	if (escrow_fields_ok(e))
		rc = INV_OK;
out:
	if (rc != INV_OK)
		OPENSSL_cleanse(e, sizeof(*e));
	return rc;
}

int
inv_escrow_put(struct inv_txn *t, const struct inv_escrow *e, int flags)
{
	uint8_t kb[INV_GUID_LEN + 4], *rec = NULL;
	MDB_val k, v;
	size_t len;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (e == NULL || !escrow_fields_ok(e))
		return INV_ERR_ARG;
	/* The card must exist: its GUID is half the blob's aad. */
	k.mv_size = INV_GUID_LEN;
	k.mv_data = (void *)e->guid;
	if ((rc = inv_get(t, DB_CARDS, &k, &v)) != INV_OK)
		return rc == INV_ERR_NOTFOUND ? rc : inv_fail(t, rc);
	k.mv_size = escrow_key(e->guid, e->gen, kb);
	k.mv_data = kb;
	rc = inv_get(t, DB_ESCROW, &k, &v);
	if (rc == INV_OK && (flags & INV_PUT_NEW))
		return INV_ERR_EXISTS;
	if (rc == INV_ERR_NOTFOUND && (flags & INV_PUT_UPDATE))
		return INV_ERR_NOTFOUND;
	if (rc != INV_OK && rc != INV_ERR_NOTFOUND)
		return inv_fail(t, rc);
	if ((rc = inv_escrow_encode(e, &rec, &len)) != INV_OK)
		return rc;
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_ESCROW, &k, &v, 0);
	free(rec);
	return rc;
}

int
inv_escrows_of_card(struct inv_txn *t, const uint8_t guid[INV_GUID_LEN],
    inv_escrow_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_escrow *e;
	uint8_t kb[INV_GUID_LEN + 4];
	MDB_val k, v;
	int mrc, rc = INV_OK;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (guid == NULL || fn == NULL)
		return INV_ERR_ARG;
	if ((e = malloc(sizeof(*e))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_ESCROW], &cur)) !=
	    0) {
		free(e);
		return inv_mdb_err(mrc);
	}
	k.mv_size = escrow_key(guid, 0, kb);
	k.mv_data = kb;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 &&
	    k.mv_size == INV_GUID_LEN + 4 && memcmp(k.mv_data, guid,
	    INV_GUID_LEN) == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_escrow_decode(v.mv_data, v.mv_size, e)) != INV_OK)
			break;
		/* A record under another key is not this card's. */
		if (memcmp(e->guid, guid, INV_GUID_LEN) != 0 || e->gen !=
		    inv_get_be32((const uint8_t *)k.mv_data + INV_GUID_LEN)) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = fn(e, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
	return rc;
}
