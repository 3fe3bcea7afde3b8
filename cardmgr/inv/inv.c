/*
 * inv: the environment, transactions, schema check and meta state. See inv.h
 * and docs/inventory.md for the database layout.
 */
#include "inv_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAP (1024UL * 1024 * 1024)
/* inv uses DB_COUNT; the rest is for modules sharing the environment. */
#define MAX_DBS 64
#define META_KEY_MAX 63

static const struct {
	const char *name;
	unsigned flags;
	uint32_t since;		/* first schema version that has it */
} dbs[DB_COUNT] = {
	[DB_META] = { "inv_meta", 0, 1 },
	[DB_HOLDERS] = { "inv_holders", 0, 1 },
	[DB_CARDS] = { "inv_cards", 0, 1 },
	[DB_CARD_SERIAL] = { "inv_card_serial", 0, 1 },
	[DB_CARD_HOLDER] = { "inv_card_holder5", 0, 5 },
	[DB_CARD_STATE] = { "inv_card_state", MDB_DUPSORT | MDB_DUPFIXED, 1 },
	[DB_EVENTS] = { "inv_events", 0, 1 },
	[DB_CERTS] = { "inv_certs", 0, 1 },
	[DB_CERT_CARD] = { "inv_cert_card", MDB_DUPSORT, 1 },
	[DB_CERT_EXPIRY] = { "inv_cert_expiry", 0, 2 },
	[DB_OPS] = { "inv_ops", 0, 1 },
	[DB_OP_RUNNING] = { "inv_op_running", 0, 1 },
	[DB_OP_STEPS] = { "inv_op_steps", 0, 1 },
	[DB_AUDIT] = { "inv_audit", 0, 1 },
	[DB_AUDIT_CKPT] = { "inv_audit_ckpt", 0, 1 },
	[DB_CARD_PROFILE] = { "inv_card_profile", MDB_DUPSORT | MDB_DUPFIXED, 3 },
	[DB_CARD_EXPIRY] = { "inv_card_expiry", 0, 3 },
	[DB_STOCK] = { "inv_stock", 0, 6 },
	[DB_ESCROW] = { "inv_escrow", 0, 7 },
};

const char *
inv_strerror(int err)
{
	switch (err) {
	case INV_OK:		return "success";
	case INV_ERR_ARG:	return "bad argument";
	case INV_ERR_DB:	return "inventory database error";
	case INV_ERR_FORMAT:	return "inventory record malformed";
	case INV_ERR_NOTFOUND:	return "not found in the inventory";
	case INV_ERR_NOMEM:	return "out of memory";
	case INV_ERR_VERSION:	return "inventory record from a newer version";
	case INV_ERR_EXISTS:	return "already in the inventory";
	case INV_ERR_FULL:	return "inventory full (map or disk)";
	case INV_ERR_SCHEMA:	return "inventory schema unknown or newer";
	case INV_ERR_READONLY:	return "write in a read transaction";
	case INV_ERR_SIGN:	return "audit checkpoint signer failed";
	case INV_ERR_TAMPERED:	return "audit chain broken";
	default:		return "unknown inventory error";
	}
}

const char *
inv_errname(int err)
{
	switch (err) {
	case INV_OK:		return "INV_OK";
	case INV_ERR_ARG:	return "INV_ERR_ARG";
	case INV_ERR_DB:	return "INV_ERR_DB";
	case INV_ERR_FORMAT:	return "INV_ERR_FORMAT";
	case INV_ERR_NOTFOUND:	return "INV_ERR_NOTFOUND";
	case INV_ERR_NOMEM:	return "INV_ERR_NOMEM";
	case INV_ERR_VERSION:	return "INV_ERR_VERSION";
	case INV_ERR_EXISTS:	return "INV_ERR_EXISTS";
	case INV_ERR_FULL:	return "INV_ERR_FULL";
	case INV_ERR_SCHEMA:	return "INV_ERR_SCHEMA";
	case INV_ERR_READONLY:	return "INV_ERR_READONLY";
	case INV_ERR_SIGN:	return "INV_ERR_SIGN";
	case INV_ERR_TAMPERED:	return "INV_ERR_TAMPERED";
	default:		return "INV_ERR_UNKNOWN";
	}
}

const char *
inv_card_state_name(int state)
{
	static const char *const names[INV_CARD_NSTATES] = {
		"blank", "issuing", "active", "suspended", "blocked",
		"retiring", "retired", "lost", "damaged", "stolen",
		"temporary", "returned", "expired", "disposed",
	};

	return state >= 0 && state < INV_CARD_NSTATES ? names[state] : "unknown";
}

/* ---- shared helpers ---- */

void
inv_be64(uint64_t v, uint8_t out[8])
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

void
inv_be32(uint32_t v, uint8_t out[4])
{
	int i;

	for (i = 3; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

uint64_t
inv_get_be64(const uint8_t *p)
{
	return (uint64_t)inv_get_be32(p) << 32 | inv_get_be32(p + 4);
}

uint32_t
inv_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

int
inv_mdb_err(int mrc)
{
	switch (mrc) {
	case 0:			return INV_OK;
	case MDB_MAP_FULL:
	case ENOSPC:		return INV_ERR_FULL;
	case MDB_NOTFOUND:	return INV_ERR_NOTFOUND;
	case MDB_KEYEXIST:	return INV_ERR_EXISTS;
	case ENOMEM:		return INV_ERR_NOMEM;
	default:		return INV_ERR_DB;
	}
}

int
inv_fail(struct inv_txn *t, int rc)
{
	if (rc != INV_OK && t->write && t->err == INV_OK)
		t->err = rc;
	return rc;
}

int
inv_txn_check(struct inv_txn *t, int need_write)
{
	if (t == NULL)
		return INV_ERR_ARG;
	if (t->err != INV_OK)
		return t->err;
	if (need_write && !t->write)
		return INV_ERR_READONLY;
	return INV_OK;
}

#ifdef INV_TEST_HOOKS
unsigned long inv_test_fail_at;
#endif

int
inv_hook(void)
{
#ifdef INV_TEST_HOOKS
	if (inv_test_fail_at > 0 && --inv_test_fail_at == 0)
		return INV_ERR_FULL;
#endif
	return INV_OK;
}

int
inv_put(struct inv_txn *t, int db, MDB_val *k, MDB_val *v, unsigned fl)
{
	if (t->err != INV_OK)
		return t->err;
	if (inv_hook() != INV_OK)
		return inv_fail(t, INV_ERR_FULL);
	return inv_fail(t, inv_mdb_err(mdb_put(t->txn, t->inv->dbi[db], k, v,
	    fl)));
}

int
inv_del(struct inv_txn *t, int db, MDB_val *k, MDB_val *v)
{
	int mrc;

	if (t->err != INV_OK)
		return t->err;
	if (inv_hook() != INV_OK)
		return inv_fail(t, INV_ERR_FULL);
	mrc = mdb_del(t->txn, t->inv->dbi[db], k, v);
	return mrc == MDB_NOTFOUND ? INV_OK : inv_fail(t, inv_mdb_err(mrc));
}

int
inv_get(struct inv_txn *t, int db, MDB_val *k, MDB_val *v)
{
	return inv_mdb_err(mdb_get(t->txn, t->inv->dbi[db], k, v));
}

/* ---- environment ---- */

static int
read_schema(MDB_txn *txn, MDB_dbi meta, uint32_t *version)
{
	MDB_val k = { sizeof(META_SCHEMA) - 1, (void *)META_SCHEMA }, v;
	int mrc;

	*version = 0;
	if ((mrc = mdb_get(txn, meta, &k, &v)) != 0)
		return mrc == MDB_NOTFOUND ? INV_ERR_SCHEMA : inv_mdb_err(mrc);
	if (v.mv_size != 4)
		return INV_ERR_SCHEMA;
	*version = inv_get_be32(v.mv_data);
	return INV_OK;
}

static int
write_schema(struct inv_txn *t, uint32_t version)
{
	MDB_val k = { sizeof(META_SCHEMA) - 1, (void *)META_SCHEMA }, v;
	uint8_t b[4];

	inv_be32(version, b);
	v.mv_size = 4;
	v.mv_data = b;
	return inv_put(t, DB_META, &k, &v, 0);
}

/*
 * Find the schema, refuse a newer one before creating anything, open (create)
 * every database, migrate. Runs in the write txn t; the caller commits.
 */
static int
setup_schema(struct inv_txn *t)
{
	uint32_t version = 0;
	MDB_dbi meta;
	int mrc, rc, i;

	mrc = mdb_dbi_open(t->txn, dbs[DB_META].name, 0, &meta);
	if (mrc == 0) {
		if ((rc = read_schema(t->txn, meta, &version)) != INV_OK)
			return rc;
		if (version < 1 || version > INV_SCHEMA_VERSION)
			return INV_ERR_SCHEMA;
	} else if (mrc != MDB_NOTFOUND)
		return inv_mdb_err(mrc);
	for (i = 0; i < DB_COUNT; i++) {
		/* A database the stored schema should have must be there. */
		unsigned create = version != 0 && dbs[i].since <= version ?
		    0 : MDB_CREATE;

		if ((mrc = mdb_dbi_open(t->txn, dbs[i].name,
		    dbs[i].flags | create, &t->inv->dbi[i])) != 0)
			return mrc == MDB_NOTFOUND ? INV_ERR_SCHEMA :
			    inv_mdb_err(mrc);
	}
	if (version == INV_SCHEMA_VERSION)
		return INV_OK;
	if (version == 1 && (rc = inv_migrate_v1(t)) != INV_OK)
		return rc;
	if (version >= 1 && version <= 2 && (rc = inv_migrate_v2(t)) != INV_OK)
		return rc;
	/* 3 to 4: new card states and certificate statuses only; no record
	 * changes, but an older engine must not meet values it refuses. */
	if (version <= 4 && (rc = inv_migrate_v4(t)) != INV_OK)
		return rc;
	if (version <= 5 && (rc = inv_migrate_v5(t)) != INV_OK)
		return rc;
	/* 6 to 7: the new inv_escrow database (created above), empty: a
	 * card's first escrowed key stays in its record. */
	return write_schema(t, INV_SCHEMA_VERSION);
}

int
inv_open(const char *dir, size_t map_size, struct inv **out)
{
	struct inv *inv = NULL;
	struct inv_txn *t = NULL;
	int rc = INV_ERR_DB;

	*out = NULL;
	if (dir == NULL)
		return INV_ERR_ARG;
	if ((inv = calloc(1, sizeof(*inv))) == NULL)
		return INV_ERR_NOMEM;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if (mdb_env_create(&inv->env) != 0) {
		inv->env = NULL;
		goto out;
	}
	if (mdb_env_set_maxdbs(inv->env, MAX_DBS) != 0 ||
	    mdb_env_set_mapsize(inv->env, map_size ? map_size : DEFAULT_MAP) != 0 ||
	    mdb_env_open(inv->env, dir, MDB_NOTLS, 0600) != 0)
		goto out;
	if ((rc = inv_begin(inv, 1, &t)) != INV_OK)
		goto out;
	rc = setup_schema(t);
	(void)inv_fail(t, rc);
	rc = inv_commit(t);
	t = NULL;
	if (rc != INV_OK)
		goto out;
	*out = inv;
	inv = NULL;
out:
	inv_close(inv);
	return rc;
}

void
inv_close(struct inv *inv)
{
	if (inv == NULL)
		return;
	if (inv->env != NULL)
		mdb_env_close(inv->env);
	free(inv);
}

MDB_env *
inv_env(struct inv *inv)
{
	return inv == NULL ? NULL : inv->env;
}

/* ---- transactions ---- */

int
inv_begin(struct inv *inv, int write, struct inv_txn **out)
{
	struct inv_txn *t;
	int mrc;

	*out = NULL;
	if (inv == NULL)
		return INV_ERR_ARG;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_txn_begin(inv->env, NULL, write ? 0 : MDB_RDONLY,
	    &t->txn)) != 0) {
		free(t);
		return inv_mdb_err(mrc);
	}
	t->inv = inv;
	t->write = write != 0;
	*out = t;
	return INV_OK;
}

int
inv_commit(struct inv_txn *t)
{
	int rc;

	if (t == NULL)
		return INV_ERR_ARG;
	if ((rc = t->err) != INV_OK)
		mdb_txn_abort(t->txn);
	else
		rc = inv_mdb_err(mdb_txn_commit(t->txn));
	free(t);
	return rc;
}

void
inv_abort(struct inv_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

MDB_txn *
inv_txn_mdb(struct inv_txn *t)
{
	return t == NULL ? NULL : t->txn;
}

int
inv_txn_error(const struct inv_txn *t)
{
	return t == NULL ? INV_ERR_ARG : t->err;
}

/* ---- meta ---- */

static int
meta_key_ok(const char *key, MDB_val *k)
{
	size_t n, i;

	if (key == NULL || (n = strnlen(key, META_KEY_MAX + 1)) == 0 ||
	    n > META_KEY_MAX || strncmp(key, "inv.", 4) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (key[i] <= ' ' || key[i] > '~')
			return 0;
	k->mv_size = n;
	k->mv_data = (void *)key;
	return 1;
}

int
inv_meta_put(struct inv_txn *t, const char *key, const void *val, size_t len)
{
	MDB_val k, v = { len, (void *)val };
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (!meta_key_ok(key, &k) || len > INV_META_VALUE_MAX ||
	    (val == NULL && len != 0))
		return INV_ERR_ARG;
	if (len == 0)
		v.mv_data = (void *)"";
	return inv_put(t, DB_META, &k, &v, 0);
}

int
inv_meta_get(struct inv_txn *t, const char *key, void *buf, size_t cap,
    size_t *len)
{
	MDB_val k, v;
	int rc;

	*len = 0;
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (!meta_key_ok(key, &k))
		return INV_ERR_ARG;
	if ((rc = inv_get(t, DB_META, &k, &v)) != INV_OK)
		return rc;
	*len = v.mv_size;
	if (v.mv_size > cap)
		return INV_ERR_ARG;
	if (v.mv_size > 0)
		memcpy(buf, v.mv_data, v.mv_size);
	return INV_OK;
}

int
inv_meta_del(struct inv_txn *t, const char *key)
{
	MDB_val k, v;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (!meta_key_ok(key, &k))
		return INV_ERR_ARG;
	if ((rc = inv_get(t, DB_META, &k, &v)) != INV_OK)
		return rc;
	return inv_del(t, DB_META, &k, NULL);
}

int
inv_meta_foreach(struct inv_txn *t, const char *prefix, inv_meta_fn fn,
    void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char key[META_KEY_MAX + 1];
	size_t n;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (!meta_key_ok(prefix, &k) || fn == NULL)
		return INV_ERR_ARG;
	n = k.mv_size;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_META], &cur)) != 0)
		return inv_mdb_err(mrc);
	rc = INV_OK;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < n || k.mv_size > META_KEY_MAX ||
		    memcmp(k.mv_data, prefix, n) != 0)
			break;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (fn(key, v.mv_data, v.mv_size, arg) != 0)
			break;
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int
inv_schema_version(struct inv_txn *t, uint32_t *version)
{
	int rc;

	*version = 0;
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	return read_schema(t->txn, t->inv->dbi[DB_META], version);
}
