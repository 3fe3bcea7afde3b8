/*
 * audit: the hash-chained audit log. See audit.h for the chain and what it
 * detects. Records (big-endian, text = u16 length + bytes):
 *
 *   entry v1       1 'A' seq:u64 time:u64 actor event ref result:u32 detail
 *                  prev_hash[32] hash[32]
 *   checkpoint v1  1 'K' seq:u64 time:u64 hash[32] sig_len:u16 sig
 *
 * An entry's hash is SHA-256 of its record minus the final 32 bytes, so the
 * canonical encoding is the stored one and cannot drift from it.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "inv_int.h"

#define V_ENTRY 1
#define V_CKPT 1
#define HEAD_LEN (8 + AUDIT_HASH_LEN)
#define SLACK 64

/* ---- records ---- */

int
audit_entry_encode(const struct audit_entry *e, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*e) + SLACK;
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (e->event[0] == '\0')
		return INV_ERR_ARG;
	if ((mem = malloc(cap)) == NULL)
		return INV_ERR_NOMEM;
	buf_writer_init(&w, mem, cap);
	buf_put_u8(&w, V_ENTRY);
	buf_put_u8(&w, 'A');
	rec_put_u64(&w, e->seq);
	rec_put_u64(&w, e->time);
	if (rec_put_text(&w, e->actor, AUDIT_TEXT_MAX) != INV_OK ||
	    rec_put_text(&w, e->event, AUDIT_TEXT_MAX) != INV_OK ||
	    rec_put_text(&w, e->ref, AUDIT_TEXT_MAX) != INV_OK) {
		free(mem);
		return INV_ERR_ARG;
	}
	buf_put_u32be(&w, (uint32_t)e->result);
	if (rec_put_text(&w, e->detail, AUDIT_DETAIL_MAX) != INV_OK) {
		free(mem);
		return INV_ERR_ARG;
	}
	buf_put_bytes(&w, e->prev_hash, AUDIT_HASH_LEN);
	buf_put_bytes(&w, e->hash, AUDIT_HASH_LEN);
	return rec_finish(&w, mem, cap, out, len);
}

int
audit_entry_decode(const uint8_t *rec, size_t len, struct audit_entry *e)
{
	struct buf_reader r;
	uint32_t result;
	int rc;

	memset(e, 0, sizeof(*e));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'A', V_ENTRY)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_u64(&r, &e->seq) != INV_OK ||
	    rec_get_u64(&r, &e->time) != INV_OK ||
	    rec_get_text(&r, e->actor, AUDIT_TEXT_MAX) != INV_OK ||
	    rec_get_text(&r, e->event, AUDIT_TEXT_MAX) != INV_OK ||
	    e->event[0] == '\0' ||
	    rec_get_text(&r, e->ref, AUDIT_TEXT_MAX) != INV_OK ||
	    buf_get_u32be(&r, &result) != BUF_OK ||
	    rec_get_text(&r, e->detail, AUDIT_DETAIL_MAX) != INV_OK ||
	    buf_get_bytes(&r, e->prev_hash, AUDIT_HASH_LEN) != BUF_OK ||
	    buf_get_bytes(&r, e->hash, AUDIT_HASH_LEN) != BUF_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	e->result = (int32_t)result;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(e, 0, sizeof(*e));
	return rc;
}

int
audit_ckpt_encode(const struct audit_ckpt *c, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*c) + SLACK;
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (c->sig_len == 0 || c->sig_len > AUDIT_SIG_MAX)
		return INV_ERR_ARG;
	if ((mem = malloc(cap)) == NULL)
		return INV_ERR_NOMEM;
	buf_writer_init(&w, mem, cap);
	buf_put_u8(&w, V_CKPT);
	buf_put_u8(&w, 'K');
	rec_put_u64(&w, c->seq);
	rec_put_u64(&w, c->time);
	buf_put_bytes(&w, c->hash, AUDIT_HASH_LEN);
	buf_put_u16be(&w, c->sig_len);
	buf_put_bytes(&w, c->sig, c->sig_len);
	return rec_finish(&w, mem, cap, out, len);
}

int
audit_ckpt_decode(const uint8_t *rec, size_t len, struct audit_ckpt *c)
{
	struct buf_reader r;
	int rc;

	memset(c, 0, sizeof(*c));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'K', V_CKPT)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_u64(&r, &c->seq) != INV_OK ||
	    rec_get_u64(&r, &c->time) != INV_OK ||
	    buf_get_bytes(&r, c->hash, AUDIT_HASH_LEN) != BUF_OK ||
	    buf_get_u16be(&r, &c->sig_len) != BUF_OK ||
	    c->sig_len == 0 || c->sig_len > AUDIT_SIG_MAX ||
	    buf_get_bytes(&r, c->sig, c->sig_len) != BUF_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* SHA-256 of an encoded entry without its trailing hash. */
static int
entry_hash(const uint8_t *rec, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
	unsigned int n = 0;

	if (len < AUDIT_HASH_LEN ||
	    EVP_Digest(rec, len - AUDIT_HASH_LEN, out, &n, EVP_sha256(),
	    NULL) != 1 || n != AUDIT_HASH_LEN)
		return INV_ERR_NOMEM;	/* XXX: only an allocation fails here */
	return INV_OK;
}

/* ---- the log ---- */

/* [out] *seq, hash: the head; seq 0 and zeros for an empty log. */
static int
head_get(struct inv_txn *t, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
	MDB_val k = { sizeof(META_AUDIT_HEAD) - 1, (void *)META_AUDIT_HEAD }, v;
	int rc;

	*seq = 0;
	memset(hash, 0, AUDIT_HASH_LEN);
	if ((rc = inv_get(t, DB_META, &k, &v)) == INV_ERR_NOTFOUND)
		return INV_OK;
	if (rc != INV_OK)
		return rc;
	if (v.mv_size != HEAD_LEN)
		return INV_ERR_FORMAT;
	*seq = inv_get_be64(v.mv_data);
	memcpy(hash, (const uint8_t *)v.mv_data + 8, AUDIT_HASH_LEN);
	return INV_OK;
}

int
audit_append(struct inv_txn *t, uint64_t time, const char *actor,
    const char *event, const char *ref, int32_t result, const char *detail,
    uint64_t *seq)
{
	struct audit_entry *e = NULL;
	uint8_t kb[8], head[HEAD_LEN], *rec = NULL;
	MDB_val k = { 8, kb }, v;
	size_t len = 0;
	int rc;
	uint64_t seq_unused;

	if (seq == NULL)
		seq = &seq_unused;	/* the caller does not want it */
	*seq = 0;
	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (event == NULL)
		return INV_ERR_ARG;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return INV_ERR_NOMEM;
	rc = INV_ERR_ARG;
	if ((actor != NULL && strlen(actor) > AUDIT_TEXT_MAX) ||
	    strlen(event) > AUDIT_TEXT_MAX ||
	    (ref != NULL && strlen(ref) > AUDIT_TEXT_MAX) ||
	    (detail != NULL && strlen(detail) > AUDIT_DETAIL_MAX))
		goto out;
	strcpy(e->event, event);
	if (actor != NULL)
		strcpy(e->actor, actor);
	if (ref != NULL)
		strcpy(e->ref, ref);
	if (detail != NULL)
		strcpy(e->detail, detail);
	e->time = time;
	e->result = result;
	if ((rc = head_get(t, &e->seq, e->prev_hash)) != INV_OK)
		goto out;
	e->seq++;
	if ((rc = audit_entry_encode(e, &rec, &len)) != INV_OK ||
	    (rc = entry_hash(rec, len, rec + len - AUDIT_HASH_LEN)) != INV_OK)
		goto out;
	inv_be64(e->seq, kb);
	v.mv_size = len;
	v.mv_data = rec;
	if ((rc = inv_put(t, DB_AUDIT, &k, &v, MDB_NOOVERWRITE)) != INV_OK)
		goto out;
	memcpy(head, kb, 8);
	memcpy(head + 8, rec + len - AUDIT_HASH_LEN, AUDIT_HASH_LEN);
	k.mv_size = sizeof(META_AUDIT_HEAD) - 1;
	k.mv_data = (void *)META_AUDIT_HEAD;
	v.mv_size = HEAD_LEN;
	v.mv_data = head;
	if ((rc = inv_put(t, DB_META, &k, &v, 0)) == INV_OK)
		*seq = e->seq;
out:
	free(rec);
	free(e);
	return rc;
}

int
audit_get(struct inv_txn *t, uint64_t seq, struct audit_entry *e)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	int rc;

	memset(e, 0, sizeof(*e));
	if ((rc = inv_txn_check(t, 0)) != INV_OK)
		return rc;
	inv_be64(seq, kb);
	if ((rc = inv_get(t, DB_AUDIT, &k, &v)) != INV_OK ||
	    (rc = audit_entry_decode(v.mv_data, v.mv_size, e)) != INV_OK)
		return rc;
	if (e->seq != seq) {
		memset(e, 0, sizeof(*e));
		return INV_ERR_FORMAT;
	}
	return INV_OK;
}

static void
ckpt_msg(uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
    uint8_t msg[AUDIT_CKPT_MSG_LEN])
{
	memcpy(msg, AUDIT_CKPT_LABEL, sizeof(AUDIT_CKPT_LABEL));
	inv_be64(seq, msg + sizeof(AUDIT_CKPT_LABEL));
	memcpy(msg + sizeof(AUDIT_CKPT_LABEL) + 8, hash, AUDIT_HASH_LEN);
}

int
audit_checkpoint(struct inv_txn *t, uint64_t time, audit_sign_fn sign,
    void *arg, uint64_t *seq)
{
	struct audit_ckpt c;
	uint8_t msg[AUDIT_CKPT_MSG_LEN], kb[8], *rec = NULL;
	MDB_val k = { 8, kb }, v;
	size_t sl = AUDIT_SIG_MAX, len;
	int rc;
	uint64_t seq_unused;

	if (seq == NULL)
		seq = &seq_unused;	/* the caller does not want it */
	*seq = 0;
	if ((rc = inv_txn_check(t, 1)) != INV_OK)
		return rc;
	if (sign == NULL)
		return INV_ERR_ARG;
	memset(&c, 0, sizeof(c));
	if ((rc = head_get(t, &c.seq, c.hash)) != INV_OK)
		return rc;
	if (c.seq == 0)
		return INV_ERR_NOTFOUND;
	c.time = time;
	ckpt_msg(c.seq, c.hash, msg);
	if (sign(arg, msg, sizeof(msg), c.sig, &sl) != 0 || sl == 0 ||
	    sl > AUDIT_SIG_MAX)
		return INV_ERR_SIGN;
	c.sig_len = (uint16_t)sl;
	if ((rc = audit_ckpt_encode(&c, &rec, &len)) != INV_OK)
		return rc;
	inv_be64(c.seq, kb);
	v.mv_size = len;
	v.mv_data = rec;
	if ((rc = inv_put(t, DB_AUDIT_CKPT, &k, &v, 0)) == INV_OK)
		*seq = c.seq;
	free(rec);
	return rc;
}

/* ---- verification ---- */

const char *
audit_fault_name(int fault)
{
	switch (fault) {
	case AUDIT_FAULT_NONE:		return "none";
	case AUDIT_FAULT_FORMAT:	return "malformed record";
	case AUDIT_FAULT_MISSING:	return "entry missing";
	case AUDIT_FAULT_SEQ:		return "entry out of order";
	case AUDIT_FAULT_HASH:		return "entry edited";
	case AUDIT_FAULT_CHAIN:		return "entry out of chain";
	case AUDIT_FAULT_HEAD:		return "log end differs from head";
	case AUDIT_FAULT_CKPT_HASH:	return "checkpoint does not match entry";
	case AUDIT_FAULT_CKPT_SIG:	return "checkpoint signature invalid";
	default:			return "unknown";
	}
}

static int
fault(struct audit_report *rep, int f, uint64_t seq, const char *why)
{
	rep->fault = f;
	rep->bad_seq = seq;
	snprintf(rep->what, sizeof(rep->what), "seq %llu: %s: %s",
	    (unsigned long long)seq, audit_fault_name(f), why);
	return INV_ERR_TAMPERED;
}

/* Check one stored entry (key kseq) against the chain so far. */
static int
check_entry(const MDB_val *k, const MDB_val *v, uint64_t expect,
    uint8_t prev[AUDIT_HASH_LEN], struct audit_entry *e,
    struct audit_report *rep)
{
	uint8_t h[AUDIT_HASH_LEN];
	uint64_t kseq;
	int rc;

	if (k->mv_size != 8)
		return fault(rep, AUDIT_FAULT_FORMAT, expect, "bad key");
	kseq = inv_get_be64(k->mv_data);
	if (kseq != expect)
		return fault(rep, AUDIT_FAULT_MISSING, expect,
		    "next stored entry has a later seq");
	if (audit_entry_decode(v->mv_data, v->mv_size, e) != INV_OK)
		return fault(rep, AUDIT_FAULT_FORMAT, kseq, "does not parse");
	if (e->seq != kseq)
		return fault(rep, AUDIT_FAULT_SEQ, kseq,
		    "record carries another seq");
	if ((rc = entry_hash(v->mv_data, v->mv_size, h)) != INV_OK)
		return rc;
	if (memcmp(h, e->hash, AUDIT_HASH_LEN) != 0)
		return fault(rep, AUDIT_FAULT_HASH, kseq,
		    "content does not match its hash");
	if (memcmp(e->prev_hash, prev, AUDIT_HASH_LEN) != 0)
		return fault(rep, AUDIT_FAULT_CHAIN, kseq,
		    "prev_hash is not the previous entry's hash");
	memcpy(prev, e->hash, AUDIT_HASH_LEN);
	return INV_OK;
}

static int
verify_entries(struct inv_txn *t, struct audit_report *rep,
    uint8_t last[AUDIT_HASH_LEN])
{
	MDB_cursor *cur = NULL;
	struct audit_entry *e;
	MDB_val k, v;
	uint64_t hseq;
	uint8_t hhash[AUDIT_HASH_LEN];
	int mrc, rc = INV_OK;

	memset(last, 0, AUDIT_HASH_LEN);
	if ((e = malloc(sizeof(*e))) == NULL)
		return INV_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_AUDIT], &cur)) != 0) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = check_entry(&k, &v, rep->last_seq + 1, last, e,
		    rep)) != INV_OK)
			goto out;
		rep->last_seq++;
		rep->entries++;
	}
	if (mrc != MDB_NOTFOUND) {
		rc = inv_mdb_err(mrc);
		goto out;
	}
	if ((rc = head_get(t, &hseq, hhash)) == INV_ERR_FORMAT)
		rc = fault(rep, AUDIT_FAULT_FORMAT, rep->last_seq, "bad head");
	else if (rc == INV_OK && hseq > rep->last_seq)
		rc = fault(rep, AUDIT_FAULT_MISSING, rep->last_seq + 1,
		    "log ends before its recorded head");
	else if (rc == INV_OK && (hseq != rep->last_seq ||
	    memcmp(hhash, last, AUDIT_HASH_LEN) != 0))
		rc = fault(rep, AUDIT_FAULT_HEAD, hseq + 1,
		    "entries past (or unlike) the recorded head");
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(e);
	return rc;
}

static int
check_ckpt(struct inv_txn *t, const MDB_val *k, const MDB_val *v,
    audit_verify_fn verify, void *arg, struct audit_report *rep)
{
	struct audit_ckpt c;
	uint8_t kb[8], msg[AUDIT_CKPT_MSG_LEN];
	MDB_val ek = { 8, kb }, ev;
	uint64_t kseq = k->mv_size == 8 ? inv_get_be64(k->mv_data) : 0;
	int rc;

	if (kseq == 0 || audit_ckpt_decode(v->mv_data, v->mv_size, &c) != INV_OK ||
	    c.seq != kseq)
		return fault(rep, AUDIT_FAULT_FORMAT, kseq, "checkpoint malformed");
	inv_be64(c.seq, kb);
	if ((rc = inv_get(t, DB_AUDIT, &ek, &ev)) == INV_ERR_NOTFOUND)
		return fault(rep, AUDIT_FAULT_MISSING, c.seq,
		    "checkpointed entry is gone");
	if (rc != INV_OK)
		return rc;
	/* The walk has checked every entry's hash; compare the stored one. */
	if (ev.mv_size < AUDIT_HASH_LEN)
		return fault(rep, AUDIT_FAULT_FORMAT, c.seq, "entry too short");
	if (memcmp((const uint8_t *)ev.mv_data + ev.mv_size - AUDIT_HASH_LEN,
	    c.hash, AUDIT_HASH_LEN) != 0)
		return fault(rep, AUDIT_FAULT_CKPT_HASH, c.seq,
		    "checkpoint signs another hash");
	ckpt_msg(c.seq, c.hash, msg);
	if (verify(arg, msg, sizeof(msg), c.sig, c.sig_len) != 0)
		return fault(rep, AUDIT_FAULT_CKPT_SIG, c.seq,
		    "signature does not verify");
	rep->checkpoints++;
	return INV_OK;
}

static int
verify_ckpts(struct inv_txn *t, audit_verify_fn verify, void *arg,
    struct audit_report *rep)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int mrc, rc = INV_OK;

	if ((mrc = mdb_cursor_open(t->txn, t->inv->dbi[DB_AUDIT_CKPT],
	    &cur)) != 0)
		return inv_mdb_err(mrc);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if ((rc = check_ckpt(t, &k, &v, verify, arg, rep)) != INV_OK)
			break;
	if (rc == INV_OK && mrc != MDB_NOTFOUND)
		rc = inv_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int
audit_verify(struct inv *inv, audit_verify_fn verify, void *arg,
    struct audit_report *rep)
{
	struct inv_txn *t = NULL;
	uint8_t last[AUDIT_HASH_LEN];
	int rc;

	if (rep == NULL)
		return INV_ERR_ARG;
	memset(rep, 0, sizeof(*rep));
	if (inv == NULL || verify == NULL)
		return INV_ERR_ARG;
	if ((rc = inv_begin(inv, 0, &t)) != INV_OK)
		return rc;
	if ((rc = verify_entries(t, rep, last)) == INV_OK)
		rc = verify_ckpts(t, verify, arg, rep);
	if (rc == INV_OK)
		snprintf(rep->what, sizeof(rep->what),
		    "%llu entries, %llu checkpoints verified",
		    (unsigned long long)rep->entries,
		    (unsigned long long)rep->checkpoints);
	inv_abort(t);
	return rc;
}
