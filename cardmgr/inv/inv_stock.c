/*
 * inv_stock: blank cards in stock (schema 6). One database, inv_stock,
 * serial -> stock record; a card is in stock exactly while it has an entry.
 * The entry names the card record (GUID) that carries the card's history,
 * so receipt, moves, issuance and disposal are the card's ordinary history
 * lines (inv_events).
 *
 *   stock  v1  1 'B' serial guid[16] model location batch by
 *              received:u64 updated:u64
 *
 * Levels per model and location are counted by one walk of the database: a
 * station holds hundreds or thousands of blank cards, not millions.
 */
#include "inv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define V_STOCK 1
#define STOCK_CAP (sizeof(struct inv_stock) + 64)

static int
stock_fields_ok(const struct inv_stock *s)
{
	size_t n = strnlen(s->serial, INV_SERIAL_MAX + 1);

	return n > 0 && n <= INV_SERIAL_MAX && s->model[0] != '\0';
}

int
inv_stock_encode(const struct inv_stock *s, uint8_t **out, size_t *len)
{
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (s == NULL || !stock_fields_ok(s))
		return INV_ERR_ARG;
	if ((mem = malloc(STOCK_CAP)) == NULL)
		return INV_ERR_NOMEM;
	buf_writer_init(&w, mem, STOCK_CAP);
	buf_put_u8(&w, V_STOCK);
	buf_put_u8(&w, 'B');
	if (rec_put_text(&w, s->serial, INV_SERIAL_MAX) != INV_OK)
		goto reject;
	buf_put_bytes(&w, s->guid, INV_GUID_LEN);
	if (rec_put_text(&w, s->model, INV_NAME_MAX) != INV_OK ||
	    rec_put_text(&w, s->location, INV_ID_MAX) != INV_OK ||
	    rec_put_text(&w, s->batch, INV_ID_MAX) != INV_OK ||
	    rec_put_text(&w, s->by, INV_ID_MAX) != INV_OK)
		goto reject;
	rec_put_u64(&w, s->received);
	rec_put_u64(&w, s->updated);
	return rec_finish(&w, mem, STOCK_CAP, out, len);
reject:
	OPENSSL_cleanse(mem, STOCK_CAP);
	free(mem);
	return INV_ERR_ARG;
}

int
inv_stock_decode(const uint8_t *rec, size_t len, struct inv_stock *s)
{
	struct buf_reader r;
	int rc;

	memset(s, 0, sizeof(*s));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'B', V_STOCK)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_text(&r, s->serial, INV_SERIAL_MAX) != INV_OK ||
	    buf_get_bytes(&r, s->guid, INV_GUID_LEN) != BUF_OK ||
	    rec_get_text(&r, s->model, INV_NAME_MAX) != INV_OK ||
	    rec_get_text(&r, s->location, INV_ID_MAX) != INV_OK ||
	    rec_get_text(&r, s->batch, INV_ID_MAX) != INV_OK ||
	    rec_get_text(&r, s->by, INV_ID_MAX) != INV_OK ||
	    rec_get_u64(&r, &s->received) != INV_OK ||
	    rec_get_u64(&r, &s->updated) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK || !stock_fields_ok(s))
		goto out;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(s, 0, sizeof(*s));
	return rc;
}

int
inv_stock_put(struct inv_txn *t, const struct inv_stock *s, int flags)
{
	MDB_val k, v;
	uint8_t *rec = NULL;
	size_t len;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (s == NULL || !stock_fields_ok(s))
		return INV_ERR_ARG;
	k.mv_size = strlen(s->serial);
	k.mv_data = (void *)s->serial;
	rc = inv_get(t, DB_STOCK, &k, &v);
	if (rc == INV_OK && (flags & INV_PUT_NEW))
		return INV_ERR_EXISTS;
	if (rc == INV_ERR_NOTFOUND && (flags & INV_PUT_UPDATE))
		return INV_ERR_NOTFOUND;
	if (rc != INV_OK && rc != INV_ERR_NOTFOUND)
		return inv_fail(t, rc);
	/* Its history lives on a card record: that must exist. */
	k.mv_size = INV_GUID_LEN;
	k.mv_data = (void *)s->guid;
	if ((rc = inv_get(t, DB_CARDS, &k, &v)) != INV_OK)
		return rc == INV_ERR_NOTFOUND ? rc : inv_fail(t, rc);
	if ((rc = inv_stock_encode(s, &rec, &len)) != INV_OK)
		return rc;
	k.mv_size = strlen(s->serial);
	k.mv_data = (void *)s->serial;
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_STOCK, &k, &v, 0);
	free(rec);
	return rc;
}

int
inv_stock_get(struct inv_txn *t, const char *serial, struct inv_stock *s)
{
	MDB_val k, v;
	size_t n;
	int rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (serial == NULL || s == NULL || (n = strnlen(serial,
	    INV_SERIAL_MAX + 1)) == 0 || n > INV_SERIAL_MAX)
		return INV_ERR_ARG;
	k.mv_size = n;
	k.mv_data = (void *)serial;
	if ((rc = inv_get(t, DB_STOCK, &k, &v)) != INV_OK)
		return rc;
	if ((rc = inv_stock_decode(v.mv_data, v.mv_size, s)) != INV_OK)
		return rc;
	return strcmp(s->serial, serial) == 0 ? INV_OK : INV_ERR_FORMAT;
}

int
inv_stock_del(struct inv_txn *t, const char *serial)
{
	MDB_val k, v;
	size_t n;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (serial == NULL || (n = strnlen(serial, INV_SERIAL_MAX + 1)) == 0 ||
	    n > INV_SERIAL_MAX)
		return INV_ERR_ARG;
	k.mv_size = n;
	k.mv_data = (void *)serial;
	if ((rc = inv_get(t, DB_STOCK, &k, &v)) != INV_OK)
		return rc;
	return inv_del(t, DB_STOCK, &k, NULL);
}

int
inv_stock_foreach(struct inv_txn *t, inv_stock_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_stock *s;
	MDB_val k, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((s = malloc(sizeof(*s))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_STOCK], &cur)) != 0) {
		free(s);
		return inv_mdb_err(mrc);
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_stock_decode(v.mv_data, v.mv_size, s)) != INV_OK)
			break;
		if (k.mv_size != strlen(s->serial) ||
		    memcmp(k.mv_data, s->serial, k.mv_size) != 0) {
			rc = INV_ERR_FORMAT;	/* record under another key */
			break;
		}
		if ((rc = fn(s, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	free(s);
	return rc;
}

/* Schema 5 to 6: a blank card is in stock, where is not known. */
int
inv_stock_migrate_card(struct inv_txn *t, const struct inv_card *c)
{
	struct inv_stock s;

	if (c->state != INV_CARD_BLANK)
		return INV_OK;
	memset(&s, 0, sizeof(s));
	memcpy(s.serial, c->serial, sizeof(s.serial));
	memcpy(s.guid, c->guid, INV_GUID_LEN);
	snprintf(s.model, sizeof(s.model), "%s", c->model[0] ? c->model :
	    "unknown");
	snprintf(s.batch, sizeof(s.batch), "migrated");
	s.received = s.updated = c->created;
	return inv_stock_put(t, &s, INV_PUT_NEW);
}
