/*
 * inv_int: what the inv_* and audit_* files share and nobody else sees: the
 * handle layouts, key builders, the LMDB error mapping and the field codecs
 * every record uses.
 */
#ifndef INV_INT_H
#define INV_INT_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "buf.h"
#include "inv.h"

/* Database handles, in the order of inv_db_names (inv.c). */
enum inv_db {
	DB_META, DB_HOLDERS, DB_CARDS, DB_CARD_SERIAL, DB_CARD_HOLDER,
	DB_CARD_STATE, DB_EVENTS, DB_CERTS, DB_CERT_CARD, DB_CERT_EXPIRY,
	DB_OPS, DB_OP_RUNNING, DB_OP_STEPS, DB_AUDIT, DB_AUDIT_CKPT,
	DB_CARD_PROFILE, DB_CARD_EXPIRY, DB_STOCK, DB_ESCROW,
	DB_COUNT
};

struct inv {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
};

struct inv_txn {
	struct inv *inv;
	MDB_txn *txn;
	int write;
	int err;	/* sticky: first error that may have half-applied */
};

/* Reserved meta keys. */
#define META_SCHEMA "inv.schema"
#define META_NEXT_OP "inv.next_op"
#define META_AUDIT_HEAD "inv.audit_head"

/* Map an LMDB return code: MAP_FULL/ENOSPC -> FULL, NOTFOUND, else DB. */
int inv_mdb_err(int mrc);
/* Poison a write txn with rc (if an error) and return rc. */
int inv_fail(struct inv_txn *t, int rc);
/* INV_ERR_ARG on NULL, the sticky error if poisoned, else INV_OK. */
int inv_txn_check(struct inv_txn *t, int need_write);
/* mdb_put / mdb_del that poison the txn on failure (del: NOTFOUND is ok). */
int inv_put(struct inv_txn *t, int db, MDB_val *k, MDB_val *v, unsigned fl);
int inv_del(struct inv_txn *t, int db, MDB_val *k, MDB_val *v);
/* Delete every key of db that starts with prefix (plen bytes). */
int inv_del_prefix(struct inv_txn *t, int db, const uint8_t *prefix,
    size_t plen);
/* mdb_get mapped: INV_OK, INV_ERR_NOTFOUND or another error. */
int inv_get(struct inv_txn *t, int db, MDB_val *k, MDB_val *v);

void inv_be64(uint64_t v, uint8_t out[8]);
void inv_be32(uint32_t v, uint8_t out[4]);
uint64_t inv_get_be64(const uint8_t *p);
uint32_t inv_get_be32(const uint8_t *p);

/* Field codecs shared by the records (inv_rec.c). */
void rec_put_u64(struct buf_writer *w, uint64_t v);
int rec_get_u64(struct buf_reader *r, uint64_t *v);
/* Text: u16 length, bytes, no NUL. put checks strnlen(s, max+1) <= max. */
int rec_put_text(struct buf_writer *w, const char *s, size_t max);
int rec_get_text(struct buf_reader *r, char *dst, size_t max);
/* Blob: u32 length, bytes; len <= max. */
void rec_put_blob(struct buf_writer *w, const void *p, size_t len);
int rec_get_blob(struct buf_reader *r, uint8_t *dst, size_t max, size_t *len);
/* Header: magic byte, version. get: VERSION if newer, FORMAT if other. */
int rec_get_header(struct buf_reader *r, uint8_t magic, uint8_t version);
/* Finish an encode: error check, hand *out over or wipe and free mem. */
int rec_finish(struct buf_writer *w, uint8_t *mem, size_t cap, uint8_t **out,
    size_t *len);
/* Non-empty, only [0-9a-f], at most INV_CERT_SERIAL_MAX. */
int inv_cert_serial_ok(const char *s);
/* Key for the certs-by-expiry index; returns its length. */
size_t inv_expiry_key(uint64_t not_after, const char *serial,
    uint8_t out[8 + INV_CERT_SERIAL_MAX]);

#ifdef INV_TEST_HOOKS
/*
 * Fault injection (test builds only): when non-zero, counts LMDB writes down
 * and fails the one that reaches zero as a full map, without writing.
 */
extern unsigned long inv_test_fail_at;
#endif
/* INV_ERR_FULL if the fault hook fires for this write, else INV_OK. */
int inv_hook(void);

/* Schema-1 to 2 and 2 to 3 migrations inside an open write txn
 * (inv_migrate.c). */
int inv_migrate_v1(struct inv_txn *t);
int inv_migrate_v2(struct inv_txn *t);
/*
 * Schemas up to 4 to 5: the serial index's values become the cards'
 * records (were GUIDs) and the holder index "holder NUL GUID" -> record
 * replaces inv_card_holder (holder -> GUID duplicates), which is dropped.
 */
int inv_migrate_v4(struct inv_txn *t);

/* Schema 5 to 6: every blank card gets a stock entry (location unknown). */
int inv_migrate_v5(struct inv_txn *t);
/* The stock entry of one migrated card (inv_stock.c); others: nothing. */
int inv_stock_migrate_card(struct inv_txn *t, const struct inv_card *c);

/* The holder index key (schema 5): holder NUL GUID; returns its length.
 * [out] out[INV_ID_MAX + 1 + INV_GUID_LEN]. */
size_t inv_holder_key(const char *holder, const uint8_t guid[INV_GUID_LEN],
    uint8_t *out);

/* Keys of the schema-3 card indexes (inv_card.c); return their length. */
#define INV_PROFILE_KEY_MAX (INV_NAME_MAX + 2)
size_t inv_profile_key(const char *profile, uint8_t state,
    uint8_t out[INV_PROFILE_KEY_MAX]);
size_t inv_card_expiry_key(uint64_t expires, const uint8_t guid[INV_GUID_LEN],
    uint8_t out[8 + INV_GUID_LEN]);
/* Put c's profile (prof) and expiry (exp) index entries (card put and the
 * migration). */
int inv_card_index3(struct inv_txn *t, const struct inv_card *c, int prof,
    int exp);

#endif /* INV_INT_H */
