/* Unit tests: the outbox record codec, LMDB persistence and the drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lmdb.h>

#include "ca/outbox.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_outbox.XXXXXX");
	return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void
sample(struct outbox_op *op, uint8_t *payload, size_t n)
{
	size_t i;

	memset(op, 0, sizeof(*op));
	op->id = 7;
	op->type = OUTBOX_REVOKE;
	op->reason = 6;
	op->attempts = 3;
	op->created = 0x123456789ULL;
	op->next_try = 0xABCDEF01234ULL;
	op->last_err = -5;
	for (i = 0; i < OUTBOX_TXID_LEN; i++)
		op->txid[i] = (uint8_t)i;
	strcpy(op->profile, "piv-auth");
	strcpy(op->detail, "CA unreachable");
	for (i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7);
	op->payload = payload;
	op->payload_len = n;
}

static void
rec_roundtrip(void **state)
{
	struct outbox_op op, back;
	uint8_t payload[300], *rec;
	size_t len;

	(void)state;
	sample(&op, payload, sizeof(payload));
	assert_int_equal(outbox_rec_encode(&op, &rec, &len), OUTBOX_OK);
	back.id = 7;
	assert_int_equal(outbox_rec_decode(rec, len, &back), OUTBOX_OK);
	assert_int_equal(back.type, OUTBOX_REVOKE);
	assert_int_equal(back.reason, 6);
	assert_int_equal(back.attempts, 3);
	assert_true(back.created == op.created && back.next_try == op.next_try);
	assert_int_equal(back.last_err, -5);
	assert_memory_equal(back.txid, op.txid, OUTBOX_TXID_LEN);
	assert_string_equal(back.profile, "piv-auth");
	assert_string_equal(back.detail, "CA unreachable");
	assert_int_equal(back.payload_len, sizeof(payload));
	assert_memory_equal(back.payload, payload, sizeof(payload));
	assert_null(back.result);
	outbox_op_clear(&back);
	free(rec);
}

/* Every truncation and any trailing byte is refused, never half-parsed. */
static void
rec_bounds(void **state)
{
	struct outbox_op op, back;
	uint8_t payload[40], *rec, *big;
	size_t len, cut;

	(void)state;
	sample(&op, payload, sizeof(payload));
	assert_int_equal(outbox_rec_encode(&op, &rec, &len), OUTBOX_OK);
	for (cut = 0; cut < len; cut++) {
		assert_int_equal(outbox_rec_decode(rec, cut, &back),
		    OUTBOX_ERR_FORMAT);
		assert_null(back.payload);
	}
	big = malloc(len + 1);
	memcpy(big, rec, len);
	big[len] = 0;
	assert_int_equal(outbox_rec_decode(big, len + 1, &back), OUTBOX_ERR_FORMAT);
	big[2] = 2;	/* a newer format version */
	assert_int_equal(outbox_rec_decode(big, len, &back), OUTBOX_ERR_VERSION);
	big[2] = 1;
	big[3] = 9;	/* unknown type */
	assert_int_equal(outbox_rec_decode(big, len, &back), OUTBOX_ERR_FORMAT);
	free(big);
	free(rec);
}

static void
rec_limits(void **state)
{
	struct outbox_op op;
	uint8_t payload[4], *rec;
	size_t len;

	(void)state;
	sample(&op, payload, sizeof(payload));
	op.payload_len = OUTBOX_PAYLOAD_MAX + 1;
	assert_int_equal(outbox_rec_encode(&op, &rec, &len), OUTBOX_ERR_ARG);
	assert_null(rec);
}

static void
error_names(void **state)
{
	(void)state;
	assert_string_equal(outbox_errname(OUTBOX_ERR_VERSION),
	    "OUTBOX_ERR_VERSION");
	assert_string_equal(outbox_errname(1), "OUTBOX_ERR_UNKNOWN");
	assert_string_equal(outbox_strerror(OUTBOX_ERR_FORMAT),
	    "outbox record malformed");
}

static void
backoff(void **state)
{
	(void)state;
	assert_int_equal(outbox_backoff(0), 0);
	assert_int_equal(outbox_backoff(1), 1);
	assert_int_equal(outbox_backoff(2), 2);
	assert_int_equal(outbox_backoff(5), 16);
	assert_int_equal(outbox_backoff(9), 256);
	assert_int_equal(outbox_backoff(10), 300);
	assert_int_equal(outbox_backoff(4000000000u), 300);
}

/* ---- a scripted executor ---- */

struct script {
	enum outbox_verdict verdict[16];
	uint64_t seen[16];
	int n;
	struct outbox *ob;	/* to add an operation from inside a drain */
};

static enum outbox_verdict
run(void *arg, const struct outbox_op *op, struct outbox_exec_out *out)
{
	struct script *s = arg;
	uint64_t id;
	enum outbox_verdict v = s->verdict[s->n];

	s->seen[s->n++] = op->id;
	out->err = v == OUTBOX_EXEC_DONE ? 0 : -3;
	snprintf(out->detail, sizeof(out->detail), "verdict %d", v);
	if (v == OUTBOX_EXEC_DONE) {
		out->result = malloc(3);
		memcpy(out->result, "abc", 3);
		out->result_len = 3;
		if (s->ob != NULL && op->type == OUTBOX_ENROLL)
			assert_int_equal(outbox_add(s->ob, OUTBOX_PUSH, NULL, 0,
			    (const uint8_t *)"c", 1, 1, &id), OUTBOX_OK);
	}
	return v;
}

static void
add(struct outbox *ob, uint64_t want)
{
	uint64_t id;

	assert_int_equal(outbox_add(ob, OUTBOX_ENROLL, "piv-auth", 0,
	    (const uint8_t *)"csr", 3, 100, &id), OUTBOX_OK);
	assert_int_equal(id, want);
}

static void
persist_and_order(void **state)
{
	struct outbox *ob;
	struct outbox_op a, b;
	struct outbox_counts n;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	add(ob, 1);
	add(ob, 2);
	add(ob, 3);
	assert_int_equal(outbox_get(ob, 1, &a), OUTBOX_OK);
	outbox_close(ob);
	/* What LMDB holds after a restart. */
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	assert_int_equal(outbox_get(ob, 1, &b), OUTBOX_OK);
	assert_memory_equal(a.txid, b.txid, OUTBOX_TXID_LEN);
	assert_int_equal(b.state, OUTBOX_PENDING);
	assert_int_equal(outbox_count(ob, &n), OUTBOX_OK);
	assert_true(n.pending == 3 && n.done == 0);
	add(ob, 4);	/* ids keep counting after a restart */
	outbox_op_clear(&a);
	outbox_op_clear(&b);
	assert_int_equal(outbox_get(ob, 9, &b), OUTBOX_ERR_NOTFOUND);
	outbox_close(ob);
}

/* One operation out of order: sent once, never again once it is done. */
static void
exec_one_out_of_order(void **state)
{
	struct script s = { { OUTBOX_EXEC_RETRY, OUTBOX_EXEC_DONE,
	    OUTBOX_EXEC_DONE }, { 0 }, 0, NULL };
	struct outbox_drain_stats st;
	struct outbox_op op;
	struct outbox *ob;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	add(ob, 1);
	add(ob, 2);
	/* 2 goes before 1; a retry keeps it pending with its backoff. */
	assert_int_equal(outbox_exec_one(ob, 2, 1000, run, &s, &st), OUTBOX_OK);
	assert_true(s.n == 1 && s.seen[0] == 2 && st.retried == 1);
	assert_int_equal(outbox_get(ob, 2, &op), OUTBOX_OK);
	assert_true(op.state == OUTBOX_PENDING && op.next_try == 1001);
	outbox_op_clear(&op);
	/* Sent again at once, backoff or not: done. */
	assert_int_equal(outbox_exec_one(ob, 2, 1000, run, &s, &st), OUTBOX_OK);
	assert_true(s.n == 2 && s.seen[1] == 2 && st.done == 1);
	/* Done: never sent again, by itself or by a drain, which sends 1. */
	assert_int_equal(outbox_exec_one(ob, 2, 1000, run, &s, &st), OUTBOX_OK);
	assert_true(s.n == 2 && st.done == 0);
	assert_int_equal(outbox_drain(ob, 1000, 0, 0, run, &s, &st), OUTBOX_OK);
	assert_true(s.n == 3 && s.seen[2] == 1 && st.remaining == 0);
	assert_int_equal(outbox_exec_one(ob, 9, 1000, run, &s, &st),
	    OUTBOX_ERR_NOTFOUND);
	assert_int_equal(s.n, 3);
	outbox_close(ob);
}

static void
drain_in_order_with_backoff(void **state)
{
	struct script s = { { OUTBOX_EXEC_DONE, OUTBOX_EXEC_FAIL, OUTBOX_EXEC_RETRY,
	    OUTBOX_EXEC_DONE, OUTBOX_EXEC_DONE, OUTBOX_EXEC_DONE }, { 0 }, 0,
	    NULL };
	struct outbox_drain_stats st;
	struct outbox_counts n;
	struct outbox_op op;
	struct outbox *ob;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	add(ob, 1);
	add(ob, 2);
	add(ob, 3);
	add(ob, 4);
	assert_int_equal(outbox_drain(ob, 1000, 0, 0, run, &s, &st), OUTBOX_OK);
	/* done, failed, then the retry stops the drain: 4 waits behind 3. */
	assert_int_equal(s.n, 3);
	assert_true(s.seen[0] == 1 && s.seen[1] == 2 && s.seen[2] == 3);
	assert_true(st.done == 1 && st.failed == 1 && st.retried == 1);
	assert_int_equal(st.remaining, 2);
	assert_int_equal(outbox_get(ob, 3, &op), OUTBOX_OK);
	assert_int_equal(op.attempts, 1);
	assert_int_equal(op.next_try, 1001);
	assert_string_equal(op.detail, "verdict 1");
	outbox_op_clear(&op);
	/* Before the backoff expires nothing is sent... */
	assert_int_equal(outbox_drain(ob, 1000, 0, 0, run, &s, &st), OUTBOX_OK);
	assert_int_equal(s.n, 3);
	assert_int_equal(st.next_try, 1001);
	/* ... after it, the rest goes in order. */
	assert_int_equal(outbox_drain(ob, 1001, 0, 0, run, &s, &st), OUTBOX_OK);
	assert_int_equal(s.n, 5);
	assert_true(s.seen[3] == 3 && s.seen[4] == 4);
	assert_int_equal(outbox_get(ob, 1, &op), OUTBOX_OK);
	assert_int_equal(op.state, OUTBOX_DONE);
	assert_int_equal(op.result_len, 3);
	assert_memory_equal(op.result, "abc", 3);
	outbox_op_clear(&op);
	assert_int_equal(outbox_count(ob, &n), OUTBOX_OK);
	assert_true(n.pending == 0 && n.done == 3 && n.failed == 1);
	outbox_close(ob);
}

static void
drain_max_and_force(void **state)
{
	struct script s = { { OUTBOX_EXEC_RETRY, OUTBOX_EXEC_DONE,
	    OUTBOX_EXEC_DONE, OUTBOX_EXEC_DONE }, { 0 }, 0, NULL };
	struct outbox_drain_stats st;
	struct outbox *ob;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	add(ob, 1);
	add(ob, 2);
	assert_int_equal(outbox_drain(ob, 50, 0, 0, run, &s, &st), OUTBOX_OK);
	assert_int_equal(s.n, 1);
	/* force: the operator asked, the head's backoff is skipped. */
	assert_int_equal(outbox_drain(ob, 50, 1, 1, run, &s, &st), OUTBOX_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(st.remaining, 1);
	outbox_close(ob);
}

static void
add_during_drain(void **state)
{
	struct script s = { { OUTBOX_EXEC_DONE, OUTBOX_EXEC_DONE }, { 0 }, 0,
	    NULL };
	struct outbox_drain_stats st;
	struct outbox_op op;
	struct outbox *ob;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	s.ob = ob;
	add(ob, 1);
	assert_int_equal(outbox_drain(ob, 5, 0, 0, run, &s, &st), OUTBOX_OK);
	/* the push queued by the enrollment drained right behind it */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seen[1], 2);
	assert_int_equal(outbox_get(ob, 2, &op), OUTBOX_OK);
	assert_int_equal(op.type, OUTBOX_PUSH);
	assert_int_equal(op.state, OUTBOX_DONE);
	outbox_op_clear(&op);
	outbox_close(ob);
}

static void
add_rejects_bad_input(void **state)
{
	struct outbox *ob;
	uint64_t id;
	char prof[80];

	(void)state;
	memset(prof, 'p', sizeof(prof) - 1);
	prof[sizeof(prof) - 1] = '\0';
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	assert_int_equal(outbox_add(ob, OUTBOX_ENROLL, prof, 0,
	    (const uint8_t *)"x", 1, 1, &id), OUTBOX_ERR_ARG);
	assert_int_equal(outbox_add(ob, OUTBOX_REVOKE, NULL, 11,
	    (const uint8_t *)"x", 1, 1, &id), OUTBOX_ERR_ARG);
	assert_int_equal(outbox_add(ob, OUTBOX_REVOKE, NULL, 1, NULL, 0, 1, &id),
	    OUTBOX_ERR_ARG);
	assert_int_equal(id, 0);
	outbox_close(ob);
}

/* An environment opened by "the daemon", with a database of its own. */
static MDB_env *
caller_env(MDB_dbi *mine)
{
	MDB_env *env;
	MDB_txn *txn;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, OUTBOX_MAXDBS + 2), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "cards", MDB_CREATE, mine), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	return env;
}

static void
put_card(MDB_txn *txn, MDB_dbi dbi, const char *k, const char *v)
{
	MDB_val kv = { strlen(k), (void *)k }, vv = { strlen(v), (void *)v };

	assert_int_equal(mdb_put(txn, dbi, &kv, &vv, 0), 0);
}

static int
has_card(MDB_env *env, MDB_dbi dbi, const char *k)
{
	MDB_val kv = { strlen(k), (void *)k }, vv;
	MDB_txn *txn;
	int rc;

	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	rc = mdb_get(txn, dbi, &kv, &vv) == 0;
	mdb_txn_abort(txn);
	return rc;
}

/*
 * A shared environment: a card state change and its queued CA work are
 * committed together or not at all; the outbox leaves the caller's
 * environment open; the journal is the same one outbox_open(dir) sees.
 */
static void
shared_env_and_add_txn(void **state)
{
	struct outbox_counts n;
	struct outbox_op op;
	struct outbox *ob;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi cards;
	uint64_t id;

	(void)state;
	env = caller_env(&cards);
	assert_int_equal(outbox_open_env(env, &ob), OUTBOX_OK);
	/* aborted: neither the card change nor the operation exists */
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	put_card(txn, cards, "card-1", "issued");
	assert_int_equal(outbox_add_txn(ob, txn, OUTBOX_REVOKE, NULL, 1,
	    (const uint8_t *)"cert", 4, 7, &id), OUTBOX_OK);
	assert_int_equal(id, 1);
	mdb_txn_abort(txn);
	assert_false(has_card(env, cards, "card-1"));
	assert_int_equal(outbox_count(ob, &n), OUTBOX_OK);
	assert_true(n.pending == 0 && n.done == 0);
	/* committed: both, and the id counter was not consumed by the abort */
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	put_card(txn, cards, "card-2", "revoking");
	assert_int_equal(outbox_add_txn(ob, txn, OUTBOX_REVOKE, NULL, 1,
	    (const uint8_t *)"cert", 4, 7, &id), OUTBOX_OK);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(id, 1);
	assert_true(has_card(env, cards, "card-2"));
	outbox_close(ob);
	/* the caller's environment is still open and usable */
	assert_true(has_card(env, cards, "card-2"));
	mdb_env_close(env);
	/* read back through a separate open of the directory */
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	assert_int_equal(outbox_get(ob, 1, &op), OUTBOX_OK);
	assert_int_equal(op.type, OUTBOX_REVOKE);
	assert_int_equal(op.state, OUTBOX_PENDING);
	assert_memory_equal(op.payload, "cert", 4);
	outbox_op_clear(&op);
	assert_int_equal(outbox_add_txn(ob, NULL, OUTBOX_REVOKE, NULL, 1,
	    (const uint8_t *)"cert", 4, 7, &id), OUTBOX_ERR_ARG);
	outbox_close(ob);
	assert_int_equal(outbox_open_env(NULL, &ob), OUTBOX_ERR_ARG);
	assert_null(ob);
}

/* Overwrite the record of id with raw bytes, as a disk error would. */
static void
corrupt(uint64_t id, const void *bytes, size_t len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { len, (void *)bytes };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int i;

	for (i = 7; i >= 0; i--, id >>= 8)
		kb[i] = (uint8_t)id;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, OUTBOX_MAXDBS), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ops", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The raw record under id in the database name, read without the outbox. */
static int
raw_get(const char *name, uint64_t id, void *out, size_t cap, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int i, rc;

	for (i = 7; i >= 0; i--, id >>= 8)
		kb[i] = (uint8_t)id;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, OUTBOX_MAXDBS), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi) == 0 &&
	    mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size <= cap;
	if (rc) {
		memcpy(out, v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

/*
 * A record that does not parse is set aside with its key, counted, and the
 * operations behind it drain; before the fix it stopped every drain.
 */
static void
corrupt_record_quarantined(void **state)
{
	struct script s = { { OUTBOX_EXEC_DONE, OUTBOX_EXEC_DONE,
	    OUTBOX_EXEC_DONE }, { 0 }, 0, NULL };
	static const uint8_t junk[] = { 'O', 'B', 1, 9, 9, 9, 0xde, 0xad };
	uint8_t back[64];
	size_t len = 0;
	struct outbox_drain_stats st;
	struct outbox_counts n;
	struct outbox *ob;

	(void)state;
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	add(ob, 1);
	add(ob, 2);
	add(ob, 3);
	outbox_close(ob);
	corrupt(2, junk, sizeof(junk));
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	/* listing still works: the bad record is skipped, not fatal */
	assert_int_equal(outbox_count(ob, &n), OUTBOX_OK);
	assert_true(n.pending == 2 && n.quarantined == 0);
	assert_int_equal(outbox_drain(ob, 10, 0, 0, run, &s, &st), OUTBOX_OK);
	assert_int_equal(s.n, 2);
	assert_true(s.seen[0] == 1 && s.seen[1] == 3);
	assert_true(st.done == 2 && st.quarantined == 1 && st.remaining == 0);
	assert_int_equal(outbox_count(ob, &n), OUTBOX_OK);
	assert_true(n.pending == 0 && n.done == 2 && n.quarantined == 1);
	outbox_close(ob);
	/* kept byte for byte under its key, gone from the journal */
	assert_true(raw_get("quarantine", 2, back, sizeof(back), &len));
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(back, junk, sizeof(junk));
	assert_false(raw_get("ops", 2, back, sizeof(back), &len));
	assert_false(raw_get("pending", 2, back, sizeof(back), &len));
}

/* The station's own state values: set, read back after a reopen, removed. */
static void
station_state(void **state)
{
	uint8_t big[OUTBOX_STATE_MAX + 1], buf[OUTBOX_STATE_MAX];
	struct outbox *ob;
	size_t n;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	assert_int_equal(outbox_state_get(ob, "renew.label", buf, sizeof(buf),
	    &n), OUTBOX_ERR_NOTFOUND);
	assert_int_equal(outbox_state_put(ob, "renew.label", "key.1", 5),
	    OUTBOX_OK);
	assert_int_equal(outbox_state_put(ob, "x", big, sizeof(big)),
	    OUTBOX_ERR_ARG);
	assert_int_equal(outbox_state_put(ob, "", "v", 1), OUTBOX_ERR_ARG);
	outbox_close(ob);
	assert_int_equal(outbox_open(dir, &ob), OUTBOX_OK);
	assert_int_equal(outbox_state_get(ob, "renew.label", buf, sizeof(buf),
	    &n), OUTBOX_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "key.1", 5);
	assert_int_equal(outbox_state_get(ob, "renew.label", buf, 4, &n),
	    OUTBOX_ERR_FORMAT);
	assert_int_equal(outbox_state_del(ob, "renew.label"), OUTBOX_OK);
	assert_int_equal(outbox_state_del(ob, "renew.label"), OUTBOX_OK);
	assert_int_equal(outbox_state_get(ob, "renew.label", buf, sizeof(buf),
	    &n), OUTBOX_ERR_NOTFOUND);
	outbox_close(ob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rec_roundtrip),
		cmocka_unit_test(rec_bounds),
		cmocka_unit_test(rec_limits),
		cmocka_unit_test(backoff),
		cmocka_unit_test(error_names),
		cmocka_unit_test_setup_teardown(persist_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(drain_in_order_with_backoff, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(drain_max_and_force, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_one_out_of_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(add_during_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_env_and_add_txn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(corrupt_record_quarantined, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(station_state, setup, teardown),
		cmocka_unit_test_setup_teardown(add_rejects_bad_input, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
