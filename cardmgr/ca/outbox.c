/*
 * outbox: LMDB storage and the in-order drain. See outbox.h.
 *
 * Databases: "ops" maps an 8-byte big-endian id to a record (outbox_rec.c);
 * "pending" holds the ids still to send, so a drain never walks the history;
 * "meta" holds the next id; "quarantine" holds records that did not parse,
 * under their original key, so one bad record cannot block every later
 * drain; "ca_state" holds the station's own CA-link state (outbox_state_*).
 * Every change is one write transaction, which LMDB makes durable at commit.
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
	int own_env;		/* opened by outbox_open: closed with the outbox */
	MDB_dbi ops, pending, meta, quarantine, state;
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

/* Open (create) our databases in env, in one write transaction. */
static int
open_dbs(struct outbox *ob)
{
	MDB_txn *txn = NULL;

	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	if (mdb_dbi_open(txn, "ops", MDB_CREATE, &ob->ops) != 0 ||
	    mdb_dbi_open(txn, "pending", MDB_CREATE, &ob->pending) != 0 ||
	    mdb_dbi_open(txn, "meta", MDB_CREATE, &ob->meta) != 0 ||
	    mdb_dbi_open(txn, "quarantine", MDB_CREATE, &ob->quarantine) != 0 ||
	    mdb_dbi_open(txn, "ca_state", MDB_CREATE, &ob->state) != 0) {
		mdb_txn_abort(txn);
		return OUTBOX_ERR_DB;
	}
	return mdb_txn_commit(txn) == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
}

int
outbox_open_env(MDB_env *env, struct outbox **out)
{
	struct outbox *ob;
	int rc;

	*out = NULL;
	if (env == NULL)
		return OUTBOX_ERR_ARG;
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return OUTBOX_ERR_NOMEM;
	ob->env = env;
	if ((rc = open_dbs(ob)) != OUTBOX_OK) {
		free(ob);
		return rc;
	}
	*out = ob;
	return OUTBOX_OK;
}

int
outbox_open(const char *dir, struct outbox **out)
{
	struct outbox *ob;
	int rc = OUTBOX_ERR_DB;

	*out = NULL;
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return OUTBOX_ERR_NOMEM;
	ob->own_env = 1;
	(void)mkdir(dir, 0700);
	if (mdb_env_create(&ob->env) != 0) {
		ob->env = NULL;
		goto out;
	}
	if (mdb_env_set_maxdbs(ob->env, OUTBOX_MAXDBS) != 0 ||
	    mdb_env_set_mapsize(ob->env, MAP_SIZE) != 0 ||
	    mdb_env_open(ob->env, dir, 0, 0600) != 0 ||
	    (rc = open_dbs(ob)) != OUTBOX_OK)
		goto out;
	*out = ob;
	ob = NULL;
	rc = OUTBOX_OK;
out:
	outbox_close(ob);
	return rc == OUTBOX_OK ? rc : OUTBOX_ERR_DB;
}

void
outbox_close(struct outbox *ob)
{
	if (ob == NULL)
		return;
	if (ob->own_env && ob->env != NULL)
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
outbox_add_txn(struct outbox *ob, MDB_txn *txn, enum outbox_type type,
    const char *profile, int reason, const uint8_t *payload, size_t len,
    uint64_t now, uint64_t *id)
{
	struct outbox_op op;
	int rc;

	*id = 0;
	memset(&op, 0, sizeof(op));
	if (ob == NULL || txn == NULL || len == 0 || len > OUTBOX_PAYLOAD_MAX ||
	    reason < 0 || reason > 10 ||
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
	if ((rc = next_id(ob, txn, &op.id)) == OUTBOX_OK &&
	    (rc = put_op(ob, txn, &op)) == OUTBOX_OK)
		*id = op.id;
	return rc;
}

int
outbox_add(struct outbox *ob, enum outbox_type type, const char *profile,
    int reason, const uint8_t *payload, size_t len, uint64_t now,
    uint64_t *id)
{
	MDB_txn *txn;
	uint64_t got = 0;
	int rc;

	*id = 0;
	if (ob == NULL)
		return OUTBOX_ERR_ARG;
	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	rc = outbox_add_txn(ob, txn, type, profile, reason, payload, len, now,
	    &got);
	if ((rc = commit(txn, rc)) == OUTBOX_OK)
		*id = got;
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

static int
walk(struct outbox *ob, int pending_only, uint64_t from,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	struct outbox_op op;
	uint8_t kb[8];
	int rc = OUTBOX_OK, mrc;

	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return OUTBOX_ERR_DB;
	if (mdb_cursor_open(txn, pending_only ? ob->pending : ob->ops, &c) != 0) {
		rc = OUTBOX_ERR_DB;
		goto out;
	}
	id_key(from, kb);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	for (mrc = mdb_cursor_get(c, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST);
	    mrc == 0 && rc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		/*
		 * A record that does not parse is skipped here (a listing must
		 * still work); the next drain moves it to the quarantine.
		 */
		rc = get_in(ob, txn, key_id(&k), &op);
		if (rc == OUTBOX_OK)
			rc = fn(&op, arg);
		else if (rc == OUTBOX_ERR_FORMAT || rc == OUTBOX_ERR_VERSION)
			rc = OUTBOX_OK;
		outbox_op_clear(&op);
	}
out:
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc;
}

int
outbox_foreach(struct outbox *ob, int pending_only,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg)
{
	return walk(ob, pending_only, 0, fn, arg);
}

int
outbox_foreach_from(struct outbox *ob, uint64_t from,
    int (*fn)(const struct outbox_op *op, void *arg), void *arg)
{
	return walk(ob, 0, from, fn, arg);
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

static int
entries(struct outbox *ob, MDB_dbi dbi, uint64_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = OUTBOX_ERR_DB;

	*n = 0;
	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return rc;
	if (mdb_stat(txn, dbi, &st) == 0) {
		*n = st.ms_entries;
		rc = OUTBOX_OK;
	}
	mdb_txn_abort(txn);
	return rc;
}

int
outbox_count(struct outbox *ob, struct outbox_counts *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = outbox_foreach(ob, 0, count_one, c)) != OUTBOX_OK)
		return rc;
	return entries(ob, ob->quarantine, &c->quarantined);
}

/*
 * Move the record under id, which does not parse, with its key to the
 * quarantine, and drop it from the pending index, in one transaction: it is
 * kept for the operator, and later operations are no longer blocked by it.
 */
static int
quarantine(struct outbox *ob, uint64_t id)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	MDB_txn *txn;
	int rc = OUTBOX_ERR_DB, mrc;

	id_key(id, kb);
	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return rc;
	if ((mrc = mdb_get(txn, ob->ops, &k, &v)) == 0)
		mrc = mdb_put(txn, ob->quarantine, &k, &v, 0);
	if (mrc == 0)
		mrc = mdb_del(txn, ob->ops, &k, NULL);
	if (mrc == 0 || mrc == MDB_NOTFOUND)
		mrc = mdb_del(txn, ob->pending, &k, NULL);
	if (mrc == 0 || mrc == MDB_NOTFOUND)
		rc = OUTBOX_OK;
	return commit(txn, rc);
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
	rc = outbox_get(ob, id, &op);
	if (rc == OUTBOX_ERR_FORMAT || rc == OUTBOX_ERR_VERSION) {
		outbox_op_clear(&op);
		if ((rc = quarantine(ob, id)) == OUTBOX_OK)
			st->quarantined++;
		return rc;
	}
	if (rc != OUTBOX_OK)
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

int
outbox_exec_one(struct outbox *ob, uint64_t id, uint64_t now,
    outbox_exec_fn exec, void *arg, struct outbox_drain_stats *st)
{
	struct outbox_op op;
	int rc, pending;

	memset(st, 0, sizeof(*st));
	if (ob == NULL || exec == NULL)
		return OUTBOX_ERR_ARG;
	if ((rc = outbox_get(ob, id, &op)) != OUTBOX_OK)
		return rc;
	pending = op.state == OUTBOX_PENDING;
	outbox_op_clear(&op);
	if (!pending)
		return OUTBOX_OK;
	rc = drain_one(ob, id, now, 1, exec, arg, st);
	return rc == 1 ? OUTBOX_OK : rc;
}

/* ---- the station's own CA-link state ---- */

static int
state_key(const char *name, MDB_val *k)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return OUTBOX_ERR_ARG;
	k->mv_size = n;
	k->mv_data = (void *)name;
	return OUTBOX_OK;
}

int
outbox_state_get(struct outbox *ob, const char *name, uint8_t *buf,
    size_t cap, size_t *len)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc, mrc;

	*len = 0;
	if (ob == NULL || (rc = state_key(name, &k)) != OUTBOX_OK)
		return OUTBOX_ERR_ARG;
	if (mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn) != 0)
		return OUTBOX_ERR_DB;
	mrc = mdb_get(txn, ob->state, &k, &v);
	if (mrc == MDB_NOTFOUND)
		rc = OUTBOX_ERR_NOTFOUND;
	else if (mrc != 0)
		rc = OUTBOX_ERR_DB;
	else if (v.mv_size > cap)
		rc = OUTBOX_ERR_FORMAT;
	else {
		memcpy(buf, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	return rc;
}

int
outbox_state_put(struct outbox *ob, const char *name, const void *val,
    size_t len)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	if (ob == NULL || val == NULL || len > OUTBOX_STATE_MAX ||
	    state_key(name, &k) != OUTBOX_OK)
		return OUTBOX_ERR_ARG;
	v.mv_size = len;
	v.mv_data = (void *)val;
	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	rc = mdb_put(txn, ob->state, &k, &v, 0) == 0 ? OUTBOX_OK : OUTBOX_ERR_DB;
	return commit(txn, rc);
}

int
outbox_state_del(struct outbox *ob, const char *name)
{
	MDB_txn *txn;
	MDB_val k;
	int rc, mrc;

	if (ob == NULL || state_key(name, &k) != OUTBOX_OK)
		return OUTBOX_ERR_ARG;
	if (mdb_txn_begin(ob->env, NULL, 0, &txn) != 0)
		return OUTBOX_ERR_DB;
	mrc = mdb_del(txn, ob->state, &k, NULL);
	rc = mrc == 0 || mrc == MDB_NOTFOUND ? OUTBOX_OK : OUTBOX_ERR_DB;
	return commit(txn, rc);
}
