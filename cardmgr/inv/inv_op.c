/*
 * inv_op: operations and their step journal. A restarted engine walks
 * inv_op_running (ids of operations still RUNNING, kept in step with the
 * record's state) and each one's steps to decide what to resume or undo.
 */
#include "inv_int.h"

#include <stdlib.h>
#include <string.h>

#define STEP_KEY_LEN 12

static int
op_load(struct inv_txn *t, uint64_t id, struct inv_op *op)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	inv_be64(id, kb);
	if ((rc = inv_get(t, DB_OPS, &k, &v)) != INV_OK ||
	    (rc = inv_op_decode(v.mv_data, v.mv_size, op)) != INV_OK)
		return rc;
	if (op->id != id) {
		memset(op, 0, sizeof(*op));
		return INV_ERR_FORMAT;
	}
	return INV_OK;
}

/* Write op and move its running-index entry if its state says so. */
static int
op_store(struct inv_txn *t, const struct inv_op *op)
{
	uint8_t kb[8], *rec = NULL;
	MDB_val k = { 8, kb }, v, empty = { 0, (void *)"" };
	size_t len;
	int rc;

	if ((rc = inv_op_encode(op, &rec, &len)) != INV_OK)
		return rc;
	inv_be64(op->id, kb);
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_OPS, &k, &v, 0);
	free(rec);
	if (rc != INV_OK)
		return rc;
	if (op->state == INV_OP_RUNNING)
		return inv_put(t, DB_OP_RUNNING, &k, &empty, 0);
	return inv_del(t, DB_OP_RUNNING, &k, NULL);
}

int
inv_op_add(struct inv_txn *t, const struct inv_op *op, uint64_t *id)
{
	MDB_val k = { sizeof(META_NEXT_OP) - 1, (void *)META_NEXT_OP }, v;
	struct inv_op o;
	uint8_t nb[8];
	uint64_t next = 1;
	int rc;

	*id = 0;
	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (op == NULL)
		return INV_ERR_ARG;
	rc = inv_get(t, DB_META, &k, &v);
	if (rc == INV_OK && v.mv_size != 8)
		return INV_ERR_FORMAT;
	if (rc == INV_OK)
		next = inv_get_be64(v.mv_data);
	else if (rc != INV_ERR_NOTFOUND)
		return rc;
	if (next == 0 || next == UINT64_MAX)
		return INV_ERR_FORMAT;
	o = *op;
	o.id = next;
	inv_be64(next + 1, nb);
	v.mv_size = 8;
	v.mv_data = nb;
	/* Validate before the counter moves: encode refuses a bad op. */
	if ((rc = op_store(t, &o)) == INV_OK &&
	    (rc = inv_put(t, DB_META, &k, &v, 0)) == INV_OK)
		*id = next;
	return rc;
}

int
inv_op_put(struct inv_txn *t, const struct inv_op *op)
{
	struct inv_op old;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (op == NULL)
		return INV_ERR_ARG;
	if ((rc = op_load(t, op->id, &old)) != INV_OK)
		return rc;
	return op_store(t, op);
}

int
inv_op_get(struct inv_txn *t, uint64_t id, struct inv_op *op)
{
	int rc;

	memset(op, 0, sizeof(*op));
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	return op_load(t, id, op);
}

int
inv_op_running_foreach(struct inv_txn *t, inv_op_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_op op;
	MDB_val k, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_OP_RUNNING],
	    &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = op_load(t, inv_get_be64(k.mv_data), &op)) != INV_OK) {
			if (rc == INV_ERR_NOTFOUND)
				rc = INV_ERR_FORMAT;	/* dangling entry */
			break;
		}
		if (op.state != INV_OP_RUNNING) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = fn(&op, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int
inv_ops_foreach_desc(struct inv_txn *t, inv_op_fn fn, void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_op op;
	MDB_val k, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_OPS], &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (k.mv_size != 8) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = inv_op_decode(v.mv_data, v.mv_size, &op)) != INV_OK)
			break;
		if (op.id != inv_get_be64(k.mv_data)) {
			rc = INV_ERR_FORMAT;	/* record under another key */
			break;
		}
		if ((rc = fn(&op, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

static void
step_key(uint64_t op_id, uint32_t no, uint8_t out[STEP_KEY_LEN])
{
	inv_be64(op_id, out);
	inv_be32(no, out + 8);
}

int
inv_op_step_put(struct inv_txn *t, const struct inv_step *s)
{
	struct inv_op op;
	uint8_t kb[STEP_KEY_LEN], *rec = NULL;
	MDB_val k = { STEP_KEY_LEN, kb }, v;
	size_t len;
	int rc;

	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (s == NULL)
		return INV_ERR_ARG;
	if ((rc = op_load(t, s->op_id, &op)) != INV_OK)
		return rc;
	if ((rc = inv_step_encode(s, &rec, &len)) != INV_OK)
		return rc;
	step_key(s->op_id, s->no, kb);
	v.mv_size = len;
	v.mv_data = rec;
	rc = inv_put(t, DB_OP_STEPS, &k, &v, 0);
	free(rec);
	return rc;
}

int
inv_op_step_get(struct inv_txn *t, uint64_t op_id, uint32_t no,
    struct inv_step *s)
{
	uint8_t kb[STEP_KEY_LEN];
	MDB_val k = { STEP_KEY_LEN, kb }, v;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	step_key(op_id, no, kb);
	if ((rc = inv_get(t, DB_OP_STEPS, &k, &v)) != INV_OK ||
	    (rc = inv_step_decode(v.mv_data, v.mv_size, s)) != INV_OK)
		return rc;
	if (s->op_id != op_id || s->no != no) {
		memset(s, 0, sizeof(*s));
		return INV_ERR_FORMAT;
	}
	return INV_OK;
}

int
inv_op_steps_foreach(struct inv_txn *t, uint64_t op_id, inv_step_fn fn,
    void *arg)
{
	MDB_cursor *cur = NULL;
	struct inv_step *s;
	uint8_t kb[STEP_KEY_LEN];
	MDB_val k = { STEP_KEY_LEN, kb }, v;
	int mrc, rc;

	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	if (fn == NULL)
		return INV_ERR_ARG;
	if ((s = malloc(sizeof(*s))) == NULL)
		return INV_ERR_NOMEM;
	step_key(op_id, 0, kb);
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_OP_STEPS],
	    &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    mrc == 0 && k.mv_size == STEP_KEY_LEN &&
	    inv_get_be64(k.mv_data) == op_id;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = inv_step_decode(v.mv_data, v.mv_size, s)) != INV_OK)
			break;
		if (s->op_id != op_id ||
		    s->no != inv_get_be32((const uint8_t *)k.mv_data + 8)) {
			rc = INV_ERR_FORMAT;
			break;
		}
		if ((rc = fn(s, arg)) != 0)
			break;
	}
	if (rc == INV_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(s);
	return rc;
}
