/*
 * Unit tests: the hash-chained audit log. Tampering is done the way an
 * attacker with the file would, with raw mdb_put/mdb_del on the inv_audit,
 * inv_audit_ckpt and inv_meta databases, and checkpoints are signed with a
 * real ECDSA P-256 key whose signatures the test also checks with plain
 * OpenSSL over the message format documented in audit.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "inv/audit.h"
#include "inv/inv.h"

#define NOW 1900000000ULL
#define N_ENTRIES 10

static char dir[64];
static EVP_PKEY *key, *other_key;

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_inv_audit.XXXXXX");
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

/* ---- ECDSA callbacks (in the station they talk to the key process) ---- */

static int
sign_cb(void *arg, const uint8_t *msg, size_t len, uint8_t *sig,
    size_t *sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = md != NULL &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, arg) == 1 &&
	    EVP_DigestSign(md, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int
fail_sign_cb(void *arg, const uint8_t *msg, size_t len, uint8_t *sig,
    size_t *sig_len)
{
	(void)arg, (void)msg, (void)len, (void)sig, (void)sig_len;
	return -1;
}

/* Verifies with a key rebuilt from its public half only. */
static int
verify_cb(void *arg, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t sig_len)
{
	uint8_t der[256], *p = der;
	const uint8_t *q = der;
	EVP_PKEY *pub;
	EVP_MD_CTX *md;
	int n, ok;

	n = i2d_PUBKEY(arg, &p);
	assert_true(n > 0 && n <= (int)sizeof(der));
	pub = d2i_PUBKEY(NULL, &q, n);
	md = EVP_MD_CTX_new();
	ok = pub != NULL && md != NULL &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(md, sig, sig_len, msg, len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	return ok ? 0 : 1;
}

/* ---- raw LMDB access: the attacker's path ---- */

static MDB_txn *
raw_begin(struct inv *inv, const char *db, MDB_dbi *dbi)
{
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, dbi), 0);
	return txn;
}

static void
seq_key(uint64_t seq, uint8_t k[8])
{
	int i;

	for (i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
}

/* [out] a malloc'd copy of the raw record under seq in db. */
static uint8_t *
raw_get(struct inv *inv, const char *db, uint64_t seq, size_t *len)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8], *p;
	MDB_val k = { 8, kb }, v;

	seq_key(seq, kb);
	txn = raw_begin(inv, db, &dbi);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	p = malloc(v.mv_size);
	assert_non_null(p);
	memcpy(p, v.mv_data, v.mv_size);
	*len = v.mv_size;
	mdb_txn_abort(txn);
	return p;
}

static void
raw_set(struct inv *inv, const char *db, uint64_t seq, const uint8_t *rec,
    size_t len)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v = { len, (void *)rec };

	seq_key(seq, kb);
	txn = raw_begin(inv, db, &dbi);
	if (rec == NULL)
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	else
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
raw_head(struct inv *inv, uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN])
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t hb[8 + AUDIT_HASH_LEN];
	MDB_val k = { 14, (void *)"inv.audit_head" }, v = { sizeof(hb), hb };

	seq_key(seq, hb);
	memcpy(hb + 8, hash, AUDIT_HASH_LEN);
	txn = raw_begin(inv, "inv_meta", &dbi);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Hash an encoded entry as audit.h documents it (all but the last 32). */
static void
rehash(uint8_t *rec, size_t len)
{
	unsigned int n;

	assert_int_equal(EVP_Digest(rec, len - AUDIT_HASH_LEN,
	    rec + len - AUDIT_HASH_LEN, &n, EVP_sha256(), NULL), 1);
}

/* ---- the log under test ---- */

/* N_ENTRIES entries over several txns, checkpoints after 5 and 10. */
static struct inv *
build_log(void)
{
	struct inv *inv;
	struct inv_txn *t;
	uint64_t seq, i;
	char detail[64];

	assert_int_equal(inv_open(dir, 0, &inv), INV_OK);
	for (i = 1; i <= N_ENTRIES; i++) {
		assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
		snprintf(detail, sizeof(detail), "card %llu issued",
		    (unsigned long long)i);
		assert_int_equal(audit_append(t, NOW + i, "op-alice", "card.issue",
		    "a0a1a2a3", (int32_t)(i % 3) - 1, detail, &seq), INV_OK);
		assert_int_equal(seq, i);
		if (i == 5 || i == N_ENTRIES) {
			assert_int_equal(audit_checkpoint(t, NOW + i, sign_cb, key,
			    &seq), INV_OK);
			assert_int_equal(seq, i);
		}
		assert_int_equal(inv_commit(t), INV_OK);
	}
	return inv;
}

static void
expect_fault(struct inv *inv, int fault, uint64_t seq)
{
	struct audit_report rep;

	assert_int_equal(audit_verify(inv, verify_cb, key, &rep),
	    INV_ERR_TAMPERED);
	if (rep.fault != fault || rep.bad_seq != seq)
		fail_msg("want %s at %llu, got: %s", audit_fault_name(fault),
		    (unsigned long long)seq, rep.what);
	assert_non_null(strstr(rep.what, audit_fault_name(fault)));
	inv_close(inv);
}

/* ---- tests ---- */

static void
intact(void **state)
{
	struct inv *inv = build_log();
	struct inv_txn *t;
	struct audit_report rep;
	struct audit_entry e1, e2;
	struct audit_ckpt ck;
	uint8_t msg[AUDIT_CKPT_MSG_LEN], *rec, h[AUDIT_HASH_LEN];
	size_t len;
	unsigned int n;

	(void)state;
	assert_int_equal(audit_verify(inv, verify_cb, key, &rep), INV_OK);
	assert_int_equal(rep.entries, N_ENTRIES);
	assert_int_equal(rep.checkpoints, 2);
	assert_int_equal(rep.fault, AUDIT_FAULT_NONE);
	/* the same log checked against another key: the signatures fail */
	assert_int_equal(audit_verify(inv, verify_cb, other_key, &rep),
	    INV_ERR_TAMPERED);
	assert_int_equal(rep.fault, AUDIT_FAULT_CKPT_SIG);
	assert_int_equal(rep.bad_seq, 5);

	/* chain and hash by hand: SHA-256 of the record minus its hash */
	assert_int_equal(inv_begin(inv, 0, &t), INV_OK);
	assert_int_equal(audit_get(t, 1, &e1), INV_OK);
	assert_int_equal(audit_get(t, 2, &e2), INV_OK);
	assert_string_equal(e2.detail, "card 2 issued");
	assert_int_equal(e2.result, 1);
	assert_memory_equal(e2.prev_hash, e1.hash, AUDIT_HASH_LEN);
	memset(h, 0, sizeof(h));
	assert_memory_equal(e1.prev_hash, h, AUDIT_HASH_LEN);
	inv_abort(t);
	rec = raw_get(inv, "inv_audit", 2, &len);
	assert_int_equal(EVP_Digest(rec, len - AUDIT_HASH_LEN, h, &n,
	    EVP_sha256(), NULL), 1);
	assert_memory_equal(h, e2.hash, AUDIT_HASH_LEN);
	free(rec);

	/* the stored checkpoint verifies with plain OpenSSL over the documented
	 * message */
	rec = raw_get(inv, "inv_audit_ckpt", 5, &len);
	assert_int_equal(audit_ckpt_decode(rec, len, &ck), INV_OK);
	free(rec);
	assert_int_equal(ck.seq, 5);
	memcpy(msg, AUDIT_CKPT_LABEL, sizeof(AUDIT_CKPT_LABEL));
	memset(msg + sizeof(AUDIT_CKPT_LABEL), 0, 7);
	msg[sizeof(AUDIT_CKPT_LABEL) + 7] = 5;
	assert_int_equal(inv_begin(inv, 0, &t), INV_OK);
	assert_int_equal(audit_get(t, 5, &e1), INV_OK);
	inv_abort(t);
	memcpy(msg + sizeof(AUDIT_CKPT_LABEL) + 8, e1.hash, AUDIT_HASH_LEN);
	assert_int_equal(verify_cb(key, msg, sizeof(msg), ck.sig, ck.sig_len), 0);
	msg[sizeof(msg) - 1] ^= 1;
	assert_int_equal(verify_cb(key, msg, sizeof(msg), ck.sig, ck.sig_len), 1);
	inv_close(inv);

	/* reopened, still intact */
	assert_int_equal(inv_open(dir, 0, &inv), INV_OK);
	assert_int_equal(audit_verify(inv, verify_cb, key, &rep), INV_OK);
	assert_int_equal(rep.entries, N_ENTRIES);
	inv_close(inv);
}

static void
edited(void **state)
{
	struct inv *inv = build_log();
	size_t len;
	uint8_t *rec = raw_get(inv, "inv_audit", 4, &len);
	char *p;

	(void)state;
	p = memmem(rec, len, "card 4", 6);
	assert_non_null(p);
	p[5] = '9';				/* "card 9 issued" */
	raw_set(inv, "inv_audit", 4, rec, len);
	free(rec);
	expect_fault(inv, AUDIT_FAULT_HASH, 4);
}

static void
edited_rehashed(void **state)
{
	struct inv *inv = build_log();
	size_t len;
	uint8_t *rec = raw_get(inv, "inv_audit", 4, &len);
	char *p;

	(void)state;
	p = memmem(rec, len, "op-alice", 8);
	assert_non_null(p);
	p[3] = 'e';				/* "op-elice", hash redone */
	rehash(rec, len);
	raw_set(inv, "inv_audit", 4, rec, len);
	free(rec);
	expect_fault(inv, AUDIT_FAULT_CHAIN, 5);
}

static void
removed(void **state)
{
	struct inv *inv = build_log();

	(void)state;
	raw_set(inv, "inv_audit", 6, NULL, 0);
	expect_fault(inv, AUDIT_FAULT_MISSING, 6);
}

static void
removed_last(void **state)
{
	struct inv *inv = build_log();

	(void)state;
	raw_set(inv, "inv_audit", N_ENTRIES, NULL, 0);
	expect_fault(inv, AUDIT_FAULT_MISSING, N_ENTRIES);
}

static void
truncated_with_head(void **state)
{
	struct inv *inv = build_log();
	struct audit_entry e;
	size_t len;
	uint8_t *rec;

	(void)state;
	/* cut 9 and 10 and rewrite the head: only the checkpoint at 10 knows */
	raw_set(inv, "inv_audit", 10, NULL, 0);
	raw_set(inv, "inv_audit", 9, NULL, 0);
	rec = raw_get(inv, "inv_audit", 8, &len);
	assert_int_equal(audit_entry_decode(rec, len, &e), INV_OK);
	free(rec);
	raw_head(inv, 8, e.hash);
	expect_fault(inv, AUDIT_FAULT_MISSING, 10);
}

static void
reordered(void **state)
{
	struct inv *inv = build_log();
	size_t l3, l4;
	uint8_t *r3 = raw_get(inv, "inv_audit", 3, &l3);
	uint8_t *r4 = raw_get(inv, "inv_audit", 4, &l4);

	(void)state;
	raw_set(inv, "inv_audit", 3, r4, l4);
	raw_set(inv, "inv_audit", 4, r3, l3);
	free(r3);
	free(r4);
	expect_fault(inv, AUDIT_FAULT_SEQ, 3);
}

/* An entry 11 written past the library, prev_hash chosen by the attacker. */
static void
forge_11(struct inv *inv, int chained, int move_head)
{
	struct audit_entry e;
	uint8_t *rec;
	size_t len;

	rec = raw_get(inv, "inv_audit", N_ENTRIES, &len);
	assert_int_equal(audit_entry_decode(rec, len, &e), INV_OK);
	free(rec);
	e.seq = N_ENTRIES + 1;
	strcpy(e.detail, "forged");
	if (chained)
		memcpy(e.prev_hash, e.hash, AUDIT_HASH_LEN);
	else
		memset(e.prev_hash, 0x5A, AUDIT_HASH_LEN);
	assert_int_equal(audit_entry_encode(&e, &rec, &len), INV_OK);
	rehash(rec, len);
	raw_set(inv, "inv_audit", N_ENTRIES + 1, rec, len);
	if (move_head)
		raw_head(inv, N_ENTRIES + 1, rec + len - AUDIT_HASH_LEN);
	free(rec);
}

static void
appended_out_of_chain(void **state)
{
	struct inv *inv = build_log();

	(void)state;
	forge_11(inv, 0, 1);
	expect_fault(inv, AUDIT_FAULT_CHAIN, N_ENTRIES + 1);
}

static void
appended_past_head(void **state)
{
	struct inv *inv = build_log();

	(void)state;
	forge_11(inv, 1, 0);
	expect_fault(inv, AUDIT_FAULT_HEAD, N_ENTRIES + 1);
}

static void
ckpt_sig_broken(void **state)
{
	struct inv *inv = build_log();
	size_t len;
	uint8_t *rec = raw_get(inv, "inv_audit_ckpt", 10, &len);

	(void)state;
	rec[len - 5] ^= 0x01;			/* inside the signature */
	raw_set(inv, "inv_audit_ckpt", 10, rec, len);
	free(rec);
	expect_fault(inv, AUDIT_FAULT_CKPT_SIG, 10);
}

static void
ckpt_wrong_hash(void **state)
{
	struct inv *inv = build_log();
	struct audit_ckpt ck;
	size_t len;
	uint8_t *rec = raw_get(inv, "inv_audit_ckpt", 5, &len);

	(void)state;
	assert_int_equal(audit_ckpt_decode(rec, len, &ck), INV_OK);
	free(rec);
	ck.hash[0] ^= 1;
	assert_int_equal(audit_ckpt_encode(&ck, &rec, &len), INV_OK);
	raw_set(inv, "inv_audit_ckpt", 5, rec, len);
	free(rec);
	expect_fault(inv, AUDIT_FAULT_CKPT_HASH, 5);
}

static void
sign_fails(void **state)
{
	struct inv *inv = build_log();
	struct inv_txn *t;
	struct audit_report rep;
	uint64_t seq;

	(void)state;
	assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
	assert_int_equal(audit_append(t, NOW, "op", "x", NULL, 0, NULL, &seq),
	    INV_OK);
	assert_int_equal(audit_checkpoint(t, NOW, fail_sign_cb, NULL, &seq),
	    INV_ERR_SIGN);
	assert_int_equal(inv_txn_error(t), INV_OK);	/* nothing half-done */
	assert_int_equal(inv_commit(t), INV_OK);
	assert_int_equal(audit_verify(inv, verify_cb, key, &rep), INV_OK);
	assert_int_equal(rep.entries, N_ENTRIES + 1);
	assert_int_equal(rep.checkpoints, 2);
	/* an aborted append leaves no trace */
	assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
	assert_int_equal(audit_append(t, NOW, "op", "y", NULL, 0, NULL, &seq),
	    INV_OK);
	assert_int_equal(seq, N_ENTRIES + 2);
	inv_abort(t);
	assert_int_equal(audit_verify(inv, verify_cb, key, &rep), INV_OK);
	assert_int_equal(rep.entries, N_ENTRIES + 1);
	/* refusals */
	assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
	assert_int_equal(audit_append(t, NOW, "op", "", NULL, 0, NULL, &seq),
	    INV_ERR_ARG);
	inv_abort(t);
	inv_close(inv);
}

static void
empty_log(void **state)
{
	struct inv *inv;
	struct inv_txn *t;
	struct audit_report rep;
	uint64_t seq;

	(void)state;
	assert_int_equal(inv_open(dir, 0, &inv), INV_OK);
	assert_int_equal(audit_verify(inv, verify_cb, key, &rep), INV_OK);
	assert_int_equal(rep.entries, 0);
	assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
	assert_int_equal(audit_checkpoint(t, NOW, sign_cb, key, &seq),
	    INV_ERR_NOTFOUND);
	inv_abort(t);
	inv_close(inv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(intact, setup, teardown),
		cmocka_unit_test_setup_teardown(edited, setup, teardown),
		cmocka_unit_test_setup_teardown(edited_rehashed, setup, teardown),
		cmocka_unit_test_setup_teardown(removed, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_last, setup, teardown),
		cmocka_unit_test_setup_teardown(truncated_with_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(appended_out_of_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(appended_past_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(ckpt_sig_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(ckpt_wrong_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(sign_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_log, setup, teardown),
	};
	int rc;

	key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	if (key == NULL || other_key == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other_key);
	return rc;
}
