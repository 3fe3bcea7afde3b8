/*
 * outbox: LMDB storage and the in-order drain. See outbox.h.
 *
 * Databases: "ops" maps an 8-byte big-endian id to a record (outbox_rec.c);
 * "pending" holds the ids still to send, so a drain never walks the history;
 * "meta" holds the next id. Every change is one write transaction, which
 * LMDB makes durable at commit.
 */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <openssl/rand.h>

#define MAP_SIZE (1024UL * 1024 * 1024)
#define BACKOFF_MAX 300

struct outbox {
	MDB_env *env;
	MDB_dbi ops, pending, meta;
};

const char *
outbox_strerror(int err)
{
	switch (err) {
	case OUTBOX_OK:		return "success";
	case OUTBOX_ERR_ARG:	return "bad argument";
	case OUTBOX_ERR_DB:	return "outbox database error";
	case OUTBOX_ERR_FORMAT:	return "outbox record malformed";
	case OUTBOX_ERR_NOTFOUND: return "no such outbox operation";
	case OUTBOX_ERR_NOMEM:	return "out of memory";
	case OUTBOX_ERR_VERSION: return "outbox record from a newer version";
	default:		return "unknown outbox error";
	}
}

const char *
outbox_errname(int err)
{
	switch (err) {
	case OUTBOX_OK:	return "OUTBOX_OK";
	case OUTBOX_ERR_ARG:	return "OUTBOX_ERR_ARG";
	case OUTBOX_ERR_DB:	return "OUTBOX_ERR_DB";
	case OUTBOX_ERR_FORMAT:	return "OUTBOX_ERR_FORMAT";
	case OUTBOX_ERR_NOTFOUND:	return "OUTBOX_ERR_NOTFOUND";
	case OUTBOX_ERR_NOMEM:	return "OUTBOX_ERR_NOMEM";
	case OUTBOX_ERR_VERSION:	return "OUTBOX_ERR_VERSION";
	default:		return "OUTBOX_ERR_UNKNOWN";
	}
}

uint64_t
outbox_backoff(uint32_t attempts)
{
	if (attempts == 0)
		return 0;
	if (attempts > 9)
		return BACKOFF_MAX;
	return (1u << (attempts - 1)) < BACKOFF_MAX ? 1u << (attempts - 1) :
	    BACKOFF_MAX;
}

static void
id_key(uint64_t id, uint8_t k[8])
{
	int i;

	for (i = 7; i >= 0; i--, id >>= 8)
		k[i] = (uint8_t)id;
}

static uint64_t
key_id(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint64_t id = 0;
	size_t i;

	for (i = 0; i < 8 && i < k->mv_size; i++)
		id = id << 8 | p[i];
	return id;
}

int
outbox_open(const char *dir, struct outbox **out)
{
	struct outbox *ob;
	MDB_txn *txn = NULL;
	int rc = OUTBOX_ERR_DB;

	*out = NULL;
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return OUTBOX_ERR_NOMEM;
	(void)mkdir(dir, 0700);
	if (mdb_env_create(&ob->env) != 0 ||
	    mdb_env_set_maxdbs(ob->env, 4) != 0 ||
	    mdb_env_set_mapsize(ob->env, MAP_SIZE) != 0 ||
	    mdb_env_open(ob->env, dir, 0, 0600) != 0 ||
	    mdb_txn_begin(ob->env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, "ops", MDB_CREATE, &ob->ops) != 0 ||
	    mdb_dbi_open(txn, "pending", MDB_CREATE, &ob->pending) != 0 ||
	    mdb_dbi_open(txn, "meta", MDB_CREATE, &ob->meta) != 0)
		goto out;
	if (mdb_txn_commit(txn) != 0) {
		txn = NULL;
		goto out;
	}
	txn = NULL;
	*out = ob;
	ob = NULL;
	rc = OUTBOX_OK;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	outbox_close(ob);
	return rc;
}

void
outbox_close(struct outbox *ob)
{
	if (ob == NULL)
		return;
	if (ob->env != NULL)
		mdb_env_close(ob->env);
	free(ob);
}

static int
next_id(struct outbox *ob, MDB_txn *txn, uint64_t *id)
{
	MDB_val k = { 7, "next_id" }, v;
	uint8_t buf[8];

	*id = 1;
	if (mdb_get(txn, ob->meta, &k, &v) == 0 && v.mv_size == 8)
		*id = key_id(&v);
	id_key(*id + 1, buf);
	v.mv_size = 8;
	v.mv_data = buf;
	return mdb_put(txn, ob->meta, &k, &v, 0) == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
}

/* Write op under its id; keep the pending index in step with its state. */
static int
put_op(struct outbox *ob, MDB_txn *txn, const struct outbox_op *op)
{
	uint8_t kb[8], *rec = NULL;
	MDB_val k = { 8, kb }, v, empty = { 0, "" };
	size_t len;
	int rc, mrc;

	id_key(op->id, kb);
	if ((rc = outbox_rec_encode(op, &rec, &len)) != OUTBOX_OK)
		return rc;
	v.mv_size = len;
	v.mv_data = rec;
	rc = mdb_put(txn, ob->ops, &k, &v, 0) == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
	free(rec);
	if (rc != OUTBOX_OK)
		return rc;
	if (op->state == OUTBOX_PENDING)
		mrc = mdb_put(txn, ob->pending, &k, &empty, 0);
	else if ((mrc = mdb_del(txn, ob->pending, &k, NULL)) == MDB_NOTFOUND)
		mrc = 0;
	return mrc == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
}

static int
commit(MDB_txn *txn, int rc)
{
	if (rc != OUTBOX_OK) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn) == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
}

int
outbox_add(struct outbox *ob, enum outbox_type type, const char *profile,
    int reason, const uint8_t *payload, size_t len, uint64_t now,
    uint64_t *id)
{
	struct outbox_op op;
	MDB_txn *txn;
	int rc;

	*id = 0;
	memset(&op, 0, sizeof(op));
	if (len == 0 || len > OUTBOX_PAYLOAD_MAX || reason < 0 || reason > 10 ||
	    (profile != NULL && strlen(profile) > OUTBOX_PROFILE_MAX))
		return OUTBOX_ERR_ARG;
	op.type = (uint8_t)type;
	op.reason = (uint8_t)reason;
	op.created = now;
	snprintf(op.profile, sizeof(op.profile), "%s", profile ? profile : "");
	op.payload = (uint8_t *)payload;
	op.payload_len = len;
	if (RAND_bytes(op.txid, sizeof(op.txid)) != 1)
		return OUTBOX_ERR_NOMEM;
	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	rc = next_id(ob, txn, &op.id);
	if (rc == OUTBOX_OK)
		rc = put_op(ob, txn, &op);
	if ((rc = commit(txn, rc)) == OUTBOX_OK)
		*id = op.id;
	return rc;
}

static int
get_in(struct outbox *ob, MDB_txn *txn, uint64_t id, struct outbox_op *op)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;

	id_key(id, kb);
	memset(op, 0, sizeof(*op));
	op->id = id;
	if (mdb_get(txn, ob->ops, &k, &v) != 0)
		return OUTBOX_ERR_NOTFOUND;
	return outbox_rec_decode(v.mv_data, v.mv_size, op);
}

int
outbox_get(struct outbox *ob, uint64_t id, struct outbox_op *op)
{
	MDB_txn *txn;
	int rc;

	memset(op, 0, sizeof(*op));
	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return OUTBOX_ERR_DB;
	rc = get_in(ob, txn, id, op);
	mdb_txn_abort(txn);
	return rc;
}

int
outbox_foreach(struct outbox *ob, int pending_only,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct outbox_op op;
	int rc = OUTBOX_OK, mrc;

	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return OUTBOX_ERR_DB;
	if (mdb_cursor_open(txn, pending_only ? ob->pending : ob->ops, &c) != 0) {
		rc = OUTBOX_ERR_DB;
		goto out;
	}
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if ((rc = get_in(ob, txn, key_id(&k), &op)) == OUTBOX_OK)
			rc = fn(&op, arg);
		outbox_op_clear(&op);
	}
out:
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

static int
count_one(const struct outbox_op *op, void *arg)
{
	struct outbox_counts *c = arg;

	if (op->state == OUTBOX_PENDING)
		c->pending++;
	else if (op->state == OUTBOX_DONE)
		c->done++;
	else
		c->failed++;
	return 0;
}

int
outbox_count(struct outbox *ob, struct outbox_counts *c)
{
	memset(c, 0, sizeof(*c));
	return outbox_foreach(ob, 0, count_one, c);
}

/* The id of the first pending operation, or 0 if there is none. */
static int
head(struct outbox *ob, uint64_t *id, uint64_t *remaining)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	MDB_stat st;
	int rc = OUTBOX_ERR_DB;

	*id = 0;
	*remaining = 0;
	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return rc;
	if (mdb_stat(txn, ob->pending, &st) == 0 &&
	    mdb_cursor_open(txn, ob->pending, &c) == 0) {
		rc = OUTBOX_OK;
		*remaining = st.ms_entries;
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0)
			*id = key_id(&k);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

static void
apply(struct outbox_op *op, enum outbox_verdict verdict,
    struct outbox_exec_out *x, uint64_t now)
{
	op->attempts++;
	op->last_err = x->err;
	snprintf(op->detail, sizeof(op->detail), "%s", x->detail);
	if (verdict == OUTBOX_EXEC_DONE) {
		op->state = OUTBOX_DONE;
		free(op->result);
		op->result = x->result;
		op->result_len = x->result_len;
		x->result = NULL;
	} else if (verdict == OUTBOX_EXEC_FAIL) {
		op->state = OUTBOX_FAILED;
	} else {
		op->next_try = now + outbox_backoff(op->attempts);
	}
}

/* Store the outcome of op, unless it changed underneath us. */
static int
record(struct outbox *ob, struct outbox_op *op)
{
	struct outbox_op cur;
	MDB_txn *txn;
	int rc;

	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	rc = get_in(ob, txn, op->id, &cur);
	if (rc == OUTBOX_OK && cur.state != OUTBOX_PENDING)
		rc = OUTBOX_ERR_NOTFOUND;	/* another drain finished it */
	outbox_op_clear(&cur);
	if (rc == OUTBOX_OK)
		rc = put_op(ob, txn, op);
	return commit(txn, rc);
}

static int
drain_one(struct outbox *ob, uint64_t id, uint64_t now, int force,
    outbox_exec_fn exec, void *arg, struct outbox_drain_stats *st)
{
	struct outbox_exec_out x;
	struct outbox_op op;
	enum outbox_verdict v;
	int rc;

	memset(&x, 0, sizeof(x));
	if ((rc = outbox_get(ob, id, &op)) != OUTBOX_OK)
		return rc;
	if (!force && op.next_try > now) {
		st->next_try = op.next_try;
		outbox_op_clear(&op);
		return 1;
	}
	v = exec(arg, &op, &x);
	apply(&op, v, &x, now);
	free(x.result);
	rc = record(ob, &op);
	if (rc == OUTBOX_OK && v == OUTBOX_EXEC_DONE)
		st->done++;
	else if (rc == OUTBOX_OK && v == OUTBOX_EXEC_FAIL)
		st->failed++;
	else if (rc == OUTBOX_OK) {
		st->retried++;
		st->next_try = op.next_try;
		rc = 1;
	}
	outbox_op_clear(&op);
	return rc;
}

int
outbox_drain(struct outbox *ob, uint64_t now, int force, unsigned max,
    outbox_exec_fn exec, void *arg, struct outbox_drain_stats *st)
{
	uint64_t id, rem;
	unsigned n;
	int rc = OUTBOX_OK;

	memset(st, 0, sizeof(*st));
	for (n = 0; max == 0 || n < max; n++) {
		if ((rc = head(ob, &id, &rem)) != OUTBOX_OK || id == 0)
			break;
		if ((rc = drain_one(ob, id, now, force, exec, arg, st)) != 0)
			break;
		force = 0;	/* only the head may jump its backoff */
	}
	if (rc == 1)
		rc = OUTBOX_OK;
	if (head(ob, &id, &rem) == OUTBOX_OK)
		st->remaining = rem;
	return rc;
}
