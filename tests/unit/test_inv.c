/*
 * Unit tests: inventory record codecs, LMDB storage and indexes, the full-map
 * guarantee, schema creation, migration and refusal.
 *
 * Effects are checked through a second path where one exists: index databases
 * are read with raw LMDB calls, the environment is reopened, a schema-1
 * environment is written by a v1 encoder that lives only here.
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
#include <sodium.h>

#include "buf.h"
#include "inv/audit.h"
#include "inv/inv.h"
#ifdef INV_TEST_HOOKS
#include "inv/inv_int.h"
#endif

#define DAY 86400ULL
#define NOW 1900000000ULL

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_inv.XXXXXX");
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

/* inv_meta_foreach: each value (one byte) appended to arg. */
static int
meta_cat(const char *key, const void *val, size_t len, void *arg)
{
	char *s = arg;
	size_t n = strlen(s);

	(void)key;
	if (len == 1 && n + 1 < 16) {
		s[n] = *(const char *)val;
		s[n + 1] = '\0';
	}
	return 0;
}

static void
guid_of(unsigned n, uint8_t g[INV_GUID_LEN])
{
	unsigned i;

	for (i = 0; i < INV_GUID_LEN; i++)
		g[i] = (uint8_t)(0xA0 + i);
	g[12] = (uint8_t)(n >> 24);
	g[13] = (uint8_t)(n >> 16);
	g[14] = (uint8_t)(n >> 8);
	g[15] = (uint8_t)n;
}

/* ---- samples ---- */

static void
sample_holder(struct inv_holder *h, const char *id)
{
	unsigned i;

	memset(h, 0, sizeof(*h));
	snprintf(h->id, sizeof(h->id), "%s", id);
	strcpy(h->name, "Ada Lovelace");
	strcpy(h->email, "ada@example.org");
	strcpy(h->org, "Analytical Engines Ltd");
	strcpy(h->manager_email, "charles@example.org");
	h->nattrs = INV_ATTRS_MAX;
	for (i = 0; i < INV_ATTRS_MAX; i++) {
		snprintf(h->attrs[i].key, sizeof(h->attrs[i].key), "k%u", i);
		snprintf(h->attrs[i].value, sizeof(h->attrs[i].value), "v=%u", i);
	}
	h->nanswers = INV_ANSWERS_MAX;
	for (i = 0; i < INV_ANSWERS_MAX; i++) {
		h->answers[i].question = (uint8_t)(i + 1);
		/* A real Argon2id string, cheap limits: the format is what counts. */
		assert_int_equal(crypto_pwhash_str(h->answers[i].hash, "blue", 4,
		    crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN), 0);
	}
	h->unblock_failures = 3;
	h->unblock_locked_until = NOW + 600;
	h->created = NOW - DAY;
	h->updated = NOW;
}

static void
sample_card(struct inv_card *c, unsigned n, const char *holder, int state)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	guid_of(n, c->guid);
	snprintf(c->serial, sizeof(c->serial), "SN%08u", n);
	c->atr_len = INV_ATR_MAX;
	for (i = 0; i < INV_ATR_MAX; i++)
		c->atr[i] = (uint8_t)(0x3B + i);
	strcpy(c->model, "YubiKey 5 NFC");
	strcpy(c->profile, "piv-standard");
	c->profile_version = 4;
	c->state = (uint8_t)state;
	c->pending_ca = 2;
	snprintf(c->holder, sizeof(c->holder), "%s", holder);
	c->mk_version = 7;
	c->escrow_len = 100;
	for (i = 0; i < c->escrow_len; i++)
		c->escrow[i] = (uint8_t)(i * 3);
	c->created = NOW - 2 * DAY;
	c->updated = NOW;
	c->expires = NOW + 365 * DAY;
}

static void
sample_cert(struct inv_cert *c, unsigned n, unsigned card, uint64_t not_after)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%08x%04x", n * 2654435761u, n);
	strcpy(c->issuer, "CN=Station CA,O=Example");
	snprintf(c->subject, sizeof(c->subject), "CN=holder %u,O=Example", n);
	guid_of(card, c->guid);
	c->slot = 0x9a;
	c->not_before = not_after - 365 * DAY;
	c->not_after = not_after;
	c->status = INV_CERT_VALID;
	c->der_len = 600;
	for (i = 0; i < c->der_len; i++)
		c->der[i] = (uint8_t)(i ^ n);
}

static void
sample_op(struct inv_op *op, const char *type, unsigned card)
{
	memset(op, 0, sizeof(*op));
	snprintf(op->type, sizeof(op->type), "%s", type);
	op->state = INV_OP_RUNNING;
	guid_of(card, op->guid);
	strcpy(op->holder, "E1001");
	strcpy(op->oper, "op-alice");
	op->step = 2;
	op->created = NOW;
	op->updated = NOW + 5;
}

static void
sample_escrow(struct inv_escrow *e, unsigned card, uint32_t gen)
{
	memset(e, 0, sizeof(*e));
	guid_of(card, e->guid);
	e->gen = gen;
	e->slot = 0x9d;
	e->created = NOW + gen;
	e->len = (uint16_t)(200 + gen);
	for (unsigned i = 0; i < e->len; i++)
		e->blob[i] = (uint8_t)(i * 7 + gen);
}

static void
sample_step(struct inv_step *s, uint64_t op_id, uint32_t no)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	s->op_id = op_id;
	s->no = no;
	snprintf(s->name, sizeof(s->name), "step-%u", no);
	s->state = INV_STEP_DONE;
	s->data_len = 50 + no;
	for (i = 0; i < s->data_len; i++)
		s->data[i] = (uint8_t)(i + no);
}

/* ---- codec tests ---- */

/* One codec behind void pointers, so every record gets the same checks. */
struct codec {
	int (*enc)(const void *, uint8_t **, size_t *);
	int (*dec)(const uint8_t *, size_t, void *);
	size_t size;
};

#define WRAP(n) \
static int enc_##n(const void *p, uint8_t **o, size_t *l) \
{ return inv_##n##_encode(p, o, l); } \
static int dec_##n(const uint8_t *r, size_t l, void *p) \
{ return inv_##n##_decode(r, l, p); }
WRAP(holder)
WRAP(card)
WRAP(event)
WRAP(cert)
WRAP(op)
WRAP(step)
#define CODEC(n, T) { enc_##n, dec_##n, sizeof(struct T) }

/* Roundtrip, then refuse every truncation, a trailing byte, a newer version. */
static void
codec_check(const struct codec *cd, const void *rec)
{
	uint8_t *enc, *longer;
	void *back = malloc(cd->size);
	size_t len, i;

	assert_non_null(back);
	assert_int_equal(cd->enc(rec, &enc, &len), INV_OK);
	memset(back, 0xEE, cd->size);
	assert_int_equal(cd->dec(enc, len, back), INV_OK);
	assert_memory_equal(back, rec, cd->size);
	for (i = 0; i < len; i++)
		assert_int_equal(cd->dec(enc, i, back), INV_ERR_FORMAT);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, enc, len);
	longer[len] = 0;
	assert_int_equal(cd->dec(longer, len + 1, back), INV_ERR_FORMAT);
	longer[0]++;
	assert_int_equal(cd->dec(longer, len, back), INV_ERR_VERSION);
	longer[0] = 0;
	assert_int_equal(cd->dec(longer, len, back), INV_ERR_FORMAT);
	longer[0] = enc[0];
	longer[1] ^= 0x20;		/* another record type */
	assert_int_equal(cd->dec(longer, len, back), INV_ERR_FORMAT);
	free(longer);
	free(enc);
	free(back);
}

/* Copy of rec with the length field at off (width 2 or 4) one larger and an
 * extra 'x' inserted after the field's bytes. */
static uint8_t *
grow_field(const uint8_t *rec, size_t len, size_t off, int width, size_t *nlen)
{
	uint8_t *out = malloc(len + 1);
	uint32_t n = 0;
	int i;

	assert_non_null(out);
	for (i = 0; i < width; i++)
		n = n << 8 | rec[off + i];
	memcpy(out, rec, off);
	for (i = width - 1; i >= 0; i--)
		out[off + i] = (uint8_t)((n + 1) >> (8 * (width - 1 - i)));
	memcpy(out + off + width, rec + off + width, n);
	out[off + width + n] = 'x';
	memcpy(out + off + width + n + 1, rec + off + width + n,
	    len - off - width - n);
	*nlen = len + 1;
	return out;
}

/* A holder v1 record (schemas 1 and 2), written from docs/inventory.md. */
static size_t
v1_holder(const struct inv_holder *h, uint8_t *out, size_t cap)
{
	struct buf_writer w;
	size_t n;
	unsigned i;

	buf_writer_init(&w, out, cap);
	buf_put_u8(&w, 1);
	buf_put_u8(&w, 'H');
#define TEXT(s) (n = strlen(s), buf_put_u16be(&w, (uint16_t)n), \
	buf_put_bytes(&w, s, n))
	TEXT(h->id);
	TEXT(h->name);
	TEXT(h->email);
	TEXT(h->org);
	buf_put_u8(&w, h->nattrs);
	for (i = 0; i < h->nattrs; i++) {
		TEXT(h->attrs[i].key);
		TEXT(h->attrs[i].value);
	}
	buf_put_u8(&w, h->nanswers);
	for (i = 0; i < h->nanswers; i++) {
		buf_put_u8(&w, h->answers[i].question);
		TEXT(h->answers[i].hash);
	}
#undef TEXT
	buf_put_u32be(&w, h->unblock_failures);
	buf_put_u32be(&w, (uint32_t)(h->unblock_locked_until >> 32));
	buf_put_u32be(&w, (uint32_t)h->unblock_locked_until);
	buf_put_u32be(&w, (uint32_t)(h->created >> 32));
	buf_put_u32be(&w, (uint32_t)h->created);
	buf_put_u32be(&w, (uint32_t)(h->updated >> 32));
	buf_put_u32be(&w, (uint32_t)h->updated);
	assert_int_equal(buf_writer_error(&w), BUF_OK);
	return w.len;
}

static void
rec_holder(void **state)
{
	static const struct codec cd = CODEC(holder, inv_holder);
	struct inv_holder h, back;
	uint8_t *enc, *big;
	size_t len, blen;

	(void)state;
	sample_holder(&h, "E1001");
	codec_check(&cd, &h);
	/* id of exactly INV_ID_MAX, then one byte longer in the record. */
	memset(h.id, 'i', INV_ID_MAX);
	h.id[INV_ID_MAX] = '\0';
	assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_OK);
	big = grow_field(enc, len, 2, 2, &blen);
	assert_int_equal(inv_holder_decode(big, blen, &back), INV_ERR_FORMAT);
	free(big);
	/* embedded NUL in the id */
	enc[2 + 2 + 5] = 0;
	assert_int_equal(inv_holder_decode(enc, len, &back), INV_ERR_FORMAT);
	free(enc);
	/* unterminated, too many answers, a non-Argon2id hash, empty id */
	memset(h.id, 'i', sizeof(h.id));
	assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_ERR_ARG);
	assert_null(enc);
	strcpy(h.id, "E1");
	h.nanswers = INV_ANSWERS_MAX + 1;
	assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_ERR_ARG);
	h.nanswers = 1;
	memcpy(h.answers[0].hash, "$argon2i$", 9);
	assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_ERR_ARG);
	sample_holder(&h, "");
	assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_ERR_ARG);
	/* A v1 record: only the migration reads it; no manager address. */
	{
		uint8_t v1[4096];
		size_t n1;

		sample_holder(&h, "E1001");
		n1 = v1_holder(&h, v1, sizeof(v1));
		assert_int_equal(inv_holder_decode(v1, n1, &back), INV_ERR_FORMAT);
		assert_int_equal(inv_holder_decode_v1(v1, n1, &back), INV_OK);
		assert_string_equal(back.manager_email, "");
		memset(h.manager_email, 0, sizeof(h.manager_email));
		assert_memory_equal(&h, &back, sizeof(h));
		assert_int_equal(inv_holder_decode_v1(v1, n1 - 1, &back),
		    INV_ERR_FORMAT);
		/* a v2 record is not a v1 one */
		assert_int_equal(inv_holder_encode(&h, &enc, &len), INV_OK);
		assert_int_equal(inv_holder_decode_v1(enc, len, &back),
		    INV_ERR_VERSION);
		free(enc);
	}
	inv_holder_clear(&h);
	inv_holder_clear(&back);
}

static void
rec_card(void **state)
{
	static const struct codec cd = CODEC(card, inv_card);
	struct inv_card c, back;
	uint8_t *enc, *big;
	size_t len, blen;

	(void)state;
	sample_card(&c, 1, "E1001", INV_CARD_ACTIVE);
	codec_check(&cd, &c);
	c.escrow_len = INV_ESCROW_MAX;
	codec_check(&cd, &c);
	/* escrow blob (before three u64) one byte over the limit */
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_OK);
	big = grow_field(enc, len, len - 24 - INV_ESCROW_MAX - 4, 4, &blen);
	assert_int_equal(inv_card_decode(big, blen, &back), INV_ERR_FORMAT);
	free(big);
	/* a state past the enum, in the record (after profile_version) */
	enc[2 + 16 + 2 + strlen(c.serial) + 4 + c.atr_len + 2 + strlen(c.model) +
	    2 + strlen(c.profile) + 4] = INV_CARD_NSTATES;
	assert_int_equal(inv_card_decode(enc, len, &back), INV_ERR_FORMAT);
	free(enc);
	c.escrow_len = INV_ESCROW_MAX + 1;
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_ERR_ARG);
	c.escrow_len = 0;
	c.state = INV_CARD_NSTATES;
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_ERR_ARG);
	c.state = INV_CARD_DAMAGED;
	c.atr_len = INV_ATR_MAX + 1;
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_ERR_ARG);
	c.atr_len = 0;
	c.serial[0] = '\0';
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_ERR_ARG);
	/* a v2 card is not a v1 card and the reverse */
	sample_card(&c, 2, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_encode(&c, &enc, &len), INV_OK);
	assert_int_equal(inv_card_decode_v1(enc, len, &back), INV_ERR_VERSION);
	free(enc);
}

static void
rec_others(void **state)
{
	static const struct codec ce = CODEC(event, inv_event);
	static const struct codec cc = CODEC(cert, inv_cert);
	static const struct codec co = CODEC(op, inv_op);
	static const struct codec cs = CODEC(step, inv_step);
	struct inv_event e;
	struct inv_cert *c = malloc(sizeof(*c));
	struct inv_op op;
	struct inv_step *s = malloc(sizeof(*s));
	uint8_t *enc, *big;
	size_t len, blen;

	(void)state;
	assert_non_null(c);
	assert_non_null(s);
	memset(&e, 0, sizeof(e));
	guid_of(3, e.guid);
	e.seq = 9;
	e.time = NOW;
	strcpy(e.name, "state");
	strcpy(e.actor, "op-bob");
	memset(e.detail, 'd', INV_DETAIL_MAX);
	codec_check(&ce, &e);
	sample_cert(c, 1, 1, NOW + 10 * DAY);
	c->der_len = INV_DER_MAX;
	codec_check(&cc, c);
	/* DER one byte over the limit (the blob is the last field) */
	assert_int_equal(inv_cert_encode(c, &enc, &len), INV_OK);
	big = grow_field(enc, len, len - INV_DER_MAX - 4, 4, &blen);
	assert_int_equal(inv_cert_decode(big, blen, c), INV_ERR_FORMAT);
	free(big);
	free(enc);
	sample_cert(c, 1, 1, NOW);
	strcpy(c->serial, "00AB");	/* upper case is not the key format */
	assert_int_equal(inv_cert_encode(c, &enc, &len), INV_ERR_ARG);
	sample_cert(c, 1, 1, NOW);
	c->reason = 11;
	assert_int_equal(inv_cert_encode(c, &enc, &len), INV_ERR_ARG);
	sample_op(&op, "issue", 1);
	op.id = 77;
	codec_check(&co, &op);
	op.state = INV_OP_ROLLED_BACK + 1;
	assert_int_equal(inv_op_encode(&op, &enc, &len), INV_ERR_ARG);
	sample_step(s, 77, 3);
	s->data_len = INV_STEP_DATA_MAX;
	codec_check(&cs, s);
	s->data_len = INV_STEP_DATA_MAX + 1;
	assert_int_equal(inv_step_encode(s, &enc, &len), INV_ERR_ARG);
	free(c);
	free(s);
}

/* ---- storage helpers ---- */

static struct inv *
open_inv(size_t map)
{
	struct inv *inv;

	assert_int_equal(inv_open(dir, map, &inv), INV_OK);
	return inv;
}

static struct inv_txn *
wtxn(struct inv *inv)
{
	struct inv_txn *t;

	assert_int_equal(inv_begin(inv, 1, &t), INV_OK);
	return t;
}

static struct inv_txn *
rtxn(struct inv *inv)
{
	struct inv_txn *t;

	assert_int_equal(inv_begin(inv, 0, &t), INV_OK);
	return t;
}

/* Raw LMDB: number of values stored under key in db (dups included). */
static size_t
raw_count(struct inv *inv, const char *db, const void *key, size_t klen)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k = { klen, (void *)key }, v;
	size_t n = 0;
	int mrc;

	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	if (key == NULL) {
		for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
		    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
			n++;
	} else if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0)
		assert_int_equal(mdb_cursor_count(cur, &n), 0);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* Keys of db that start with prefix (plen bytes), via raw LMDB. */
static size_t
raw_prefix_count(struct inv *inv, const char *db, const void *prefix,
    size_t plen)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k = { plen, (void *)prefix }, v;
	size_t n = 0;
	int mrc;

	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 &&
	    k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* Collects the last byte of each card's GUID (our card numbers are small). */
struct seen {
	unsigned n;
	unsigned ids[64];
};

static int
see_card(const struct inv_card *c, void *arg)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->ids[s->n] = c->guid[15];
	s->n++;
	return 0;
}

static struct seen
of_holder(struct inv *inv, const char *h)
{
	struct inv_txn *t = rtxn(inv);
	struct seen s = { 0, { 0 } };

	assert_int_equal(inv_cards_of_holder(t, h, see_card, &s), INV_OK);
	inv_abort(t);
	return s;
}

static struct seen
in_state(struct inv *inv, int st)
{
	struct inv_txn *t = rtxn(inv);
	struct seen s = { 0, { 0 } };

	assert_int_equal(inv_cards_in_state(t, st, see_card, &s), INV_OK);
	inv_abort(t);
	return s;
}

static void
put_holder(struct inv_txn *t, const char *id)
{
	struct inv_holder h;

	sample_holder(&h, id);
	h.nanswers = 1;		/* crypto_pwhash is slow-ish; one is enough */
	assert_int_equal(inv_holder_put(t, &h, INV_PUT_NEW), INV_OK);
	inv_holder_clear(&h);
}

/* ---- storage tests ---- */

static void
store_indexes(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_card c, back;
	struct inv_holder h;
	uint64_t counts[INV_CARD_NSTATES];
	uint8_t g1[INV_GUID_LEN], st;
	struct seen s;

	(void)state;
	t = wtxn(inv);
	put_holder(t, "A");
	put_holder(t, "B");
	sample_card(&c, 1, "A", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	sample_card(&c, 2, "A", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	sample_card(&c, 3, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	/* refusals that change nothing and leave the txn usable */
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_ERR_EXISTS);
	sample_card(&c, 4, "", INV_CARD_BLANK);
	strcpy(c.serial, "SN00000001");		/* card 1's serial */
	assert_int_equal(inv_card_put(t, &c, 0), INV_ERR_EXISTS);
	sample_card(&c, 4, "nobody", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, 0), INV_ERR_NOTFOUND);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_ERR_NOTFOUND);
	assert_int_equal(inv_txn_error(t), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);

	s = of_holder(inv, "A");
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], 1);
	assert_int_equal(s.ids[1], 2);
	assert_int_equal(of_holder(inv, "B").n, 0);
	assert_int_equal(in_state(inv, INV_CARD_BLANK).n, 2);
	assert_int_equal(raw_count(inv, "inv_cards", NULL, 0), 3);

	/* move card 1 to B and suspend it; rename card 2's serial */
	t = wtxn(inv);
	guid_of(1, g1);
	assert_int_equal(inv_card_get(t, g1, &c), INV_OK);
	strcpy(c.holder, "B");
	c.state = INV_CARD_SUSPENDED;
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	sample_card(&c, 2, "A", INV_CARD_BLANK);
	strcpy(c.serial, "RENAMED");
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	assert_int_equal(inv_holder_del(t, "A"), INV_ERR_EXISTS);
	assert_int_equal(inv_commit(t), INV_OK);

	s = of_holder(inv, "A");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], 2);
	s = of_holder(inv, "B");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], 1);
	assert_int_equal(in_state(inv, INV_CARD_ACTIVE).n, 0);
	assert_int_equal(in_state(inv, INV_CARD_SUSPENDED).n, 1);
	/* independent path: the raw index holds no stale entries */
	assert_int_equal(raw_prefix_count(inv, "inv_card_holder5", "A", 2), 1);
	st = INV_CARD_ACTIVE;
	assert_int_equal(raw_count(inv, "inv_card_state", &st, 1), 0);
	assert_int_equal(raw_count(inv, "inv_card_serial", NULL, 0), 3);

	t = rtxn(inv);
	assert_int_equal(inv_card_by_serial(t, "SN00000002", &back),
	    INV_ERR_NOTFOUND);
	assert_int_equal(inv_card_by_serial(t, "RENAMED", &back), INV_OK);
	assert_int_equal(back.guid[15], 2);
	assert_int_equal(inv_card_by_serial(t, "SN00000001", &back), INV_OK);
	assert_string_equal(back.holder, "B");
	assert_int_equal(inv_card_count_by_state(t, counts), INV_OK);
	assert_true(counts[INV_CARD_BLANK] == 2 && counts[INV_CARD_SUSPENDED] == 1 &&
	    counts[INV_CARD_ACTIVE] == 0);
	inv_abort(t);

	/* delete card 3 (no holder) and card 2, then holder A */
	t = wtxn(inv);
	guid_of(3, g1);
	assert_int_equal(inv_card_del(t, g1), INV_OK);
	guid_of(2, g1);
	assert_int_equal(inv_card_del(t, g1), INV_OK);
	assert_int_equal(inv_card_del(t, g1), INV_ERR_NOTFOUND);
	assert_int_equal(inv_holder_del(t, "A"), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);

	/* reopen: everything above persisted, indexes agree */
	inv = open_inv(0);
	assert_int_equal(raw_count(inv, "inv_cards", NULL, 0), 1);
	assert_int_equal(raw_count(inv, "inv_card_serial", NULL, 0), 1);
	assert_int_equal(raw_count(inv, "inv_card_state", NULL, 0), 1);
	assert_int_equal(raw_count(inv, "inv_card_holder5", NULL, 0), 1);
	assert_int_equal(of_holder(inv, "B").n, 1);
	t = rtxn(inv);
	assert_int_equal(inv_holder_get(t, "A", &h), INV_ERR_NOTFOUND);
	assert_int_equal(inv_holder_get(t, "B", &h), INV_OK);
	assert_int_equal(h.nanswers, 1);
	assert_int_equal(crypto_pwhash_str_verify(h.answers[0].hash, "blue", 4), 0);
	inv_holder_clear(&h);
	assert_int_equal(inv_card_count_by_state(t, counts), INV_OK);
	assert_true(counts[INV_CARD_SUSPENDED] == 1 && counts[INV_CARD_BLANK] == 0);
	/* a read txn refuses writes */
	assert_int_equal(inv_holder_del(t, "B"), INV_ERR_READONLY);
	inv_abort(t);
	inv_close(inv);
}

static int
see_event(const struct inv_event *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->ids[s->n] = e->seq;
	s->n++;
	return 0;
}

static void
store_events(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_card c;
	struct inv_event e;
	struct seen s = { 0, { 0 } };
	uint32_t seq;
	unsigned i;

	(void)state;
	t = wtxn(inv);
	sample_card(&c, 1, "", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	sample_card(&c, 2, "", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	memset(&e, 0, sizeof(e));
	strcpy(e.name, "issued");
	for (i = 0; i < 3; i++) {
		guid_of(1, e.guid);
		assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
		assert_int_equal(seq, i + 1);
		guid_of(2, e.guid);
		assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
	}
	guid_of(9, e.guid);
	assert_int_equal(inv_event_append(t, &e, &seq), INV_ERR_NOTFOUND);
	assert_int_equal(inv_commit(t), INV_OK);
	t = wtxn(inv);
	guid_of(1, e.guid);
	assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
	assert_int_equal(seq, 4);
	assert_int_equal(inv_event_foreach(t, e.guid, see_event, &s), INV_OK);
	assert_int_equal(s.n, 4);
	assert_true(s.ids[0] == 1 && s.ids[3] == 4);
	assert_int_equal(inv_card_del(t, e.guid), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	/* card 1's history went with it, card 2's stayed */
	assert_int_equal(raw_count(inv, "inv_events", NULL, 0), 3);
	inv_close(inv);
}

/* Collects certificate serials in callback order. */
struct certs_seen {
	unsigned n;
	char serial[256][INV_CERT_SERIAL_MAX + 1];
	uint64_t na[256];
};

static int
see_cert(const struct inv_cert *c, void *arg)
{
	struct certs_seen *s = arg;

	if (s->n < 256) {
		strcpy(s->serial[s->n], c->serial);
		s->na[s->n] = c->not_after;
	}
	s->n++;
	return 0;
}

/* Independent path: every cert with from <= not_after < until, via a raw scan. */
static unsigned
raw_expiring(struct inv *inv, uint64_t from, uint64_t until)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	struct inv_cert *c = malloc(sizeof(*c));
	unsigned n = 0;
	int mrc;

	assert_non_null(c);
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_certs", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		assert_int_equal(inv_cert_decode(v.mv_data, v.mv_size, c), INV_OK);
		if (c->not_after >= from && c->not_after < until)
			n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(c);
	return n;
}

/* Compares what the expiry report saw with the record itself. */
struct sum_check {
	struct inv_txn *t;
	unsigned n;
};

static int
same_as_record(const struct inv_cert *c, void *arg)
{
	struct sum_check *x = arg;
	struct inv_cert *r = malloc(sizeof(*r));

	assert_non_null(r);
	assert_int_equal(inv_cert_get(x->t, c->serial, r), INV_OK);
	assert_string_equal(c->subject, r->subject);
	assert_memory_equal(c->guid, r->guid, INV_GUID_LEN);
	assert_int_equal(c->slot, r->slot);
	assert_int_equal(c->not_before, r->not_before);
	assert_int_equal(c->not_after, r->not_after);
	assert_int_equal(c->status, r->status);
	assert_int_equal(c->reason, r->reason);
	free(r);
	x->n++;
	return 0;
}

/* The expiry report reads only the index: its summary follows every put. */
static void
expiry_summary(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	struct sum_check x = { NULL, 0 };
	uint8_t eb[8 + INV_CERT_SERIAL_MAX];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v = { 0, (void *)"" };
	unsigned i;

	(void)state;
	assert_non_null(ct);
	t = wtxn(inv);
	sample_card(&c, 1, "", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	for (i = 0; i < 5; i++) {
		sample_cert(ct, i, 1, NOW + (i + 1) * DAY);
		assert_int_equal(inv_cert_put(t, ct, INV_PUT_NEW), INV_OK);
	}
	/* same not_after, new status and subject: the summary must follow */
	sample_cert(ct, 2, 1, NOW + 3 * DAY);
	ct->status = INV_CERT_HOLD;
	ct->reason = 6;
	strcpy(ct->subject, "CN=renamed,O=Example");
	assert_int_equal(inv_cert_put(t, ct, INV_PUT_UPDATE), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);

	/* an entry from before summaries (empty value): read through the record */
	sample_cert(ct, 4, 1, NOW + 5 * DAY);
	for (i = 0; i < 8; i++)
		eb[i] = (uint8_t)(ct->not_after >> (56 - 8 * i));
	memcpy(eb + 8, ct->serial, strlen(ct->serial));
	k.mv_size = 8 + strlen(ct->serial);
	k.mv_data = eb;
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_cert_expiry", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);

	x.t = rtxn(inv);
	assert_int_equal(inv_certs_expiring(x.t, NOW, NOW + 30 * DAY,
	    same_as_record, &x), INV_OK);
	assert_int_equal(x.n, 5);
	inv_abort(x.t);

	/* a damaged summary is refused, not half-read */
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, 0, &txn), 0);
	v.mv_size = 3;
	v.mv_data = "S\x01\x05";
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	x.n = 0;
	x.t = rtxn(inv);
	assert_int_equal(inv_certs_expiring(x.t, NOW, NOW + 30 * DAY,
	    same_as_record, &x), INV_ERR_FORMAT);
	inv_abort(x.t);
	free(ct);
	inv_close(inv);
}

static void
store_certs(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	struct certs_seen *s = calloc(1, sizeof(*s));
	uint8_t g[INV_GUID_LEN];
	unsigned i, expect;

	(void)state;
	assert_non_null(ct);
	assert_non_null(s);
	t = wtxn(inv);
	for (i = 1; i <= 4; i++) {
		sample_card(&c, i, "", INV_CARD_ACTIVE);
		assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	}
	/* 200 certificates spread over -50 .. +150 days, on cards 1..4 */
	for (i = 0; i < 200; i++) {
		sample_cert(ct, i, 1 + i % 4,
		    NOW - 50 * DAY + (uint64_t)((i * 7919u) % 200) * DAY + i);
		assert_int_equal(inv_cert_put(t, ct, INV_PUT_NEW), INV_OK);
	}
	sample_cert(ct, 500, 9, NOW);		/* no such card */
	assert_int_equal(inv_cert_put(t, ct, 0), INV_ERR_NOTFOUND);
	assert_int_equal(inv_commit(t), INV_OK);

	t = rtxn(inv);
	assert_int_equal(inv_certs_expiring(t, NOW, NOW + 30 * DAY, see_cert, s),
	    INV_OK);
	inv_abort(t);
	expect = raw_expiring(inv, NOW, NOW + 30 * DAY);
	assert_true(expect > 10);
	assert_int_equal(s->n, expect);
	for (i = 1; i < s->n; i++)
		assert_true(s->na[i - 1] <= s->na[i]);		/* soonest first */

	/* push the soonest one out of the window: the index follows */
	t = wtxn(inv);
	assert_int_equal(inv_cert_get(t, s->serial[0], ct), INV_OK);
	ct->not_after = NOW + 100 * DAY;
	ct->status = INV_CERT_REVOKED;
	ct->reason = 1;
	guid_of(4, ct->guid);			/* and onto card 4 */
	assert_int_equal(inv_cert_put(t, ct, INV_PUT_UPDATE), INV_OK);
	assert_int_equal(inv_cert_del(t, s->serial[1]), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	memset(s, 0, sizeof(*s));
	t = rtxn(inv);
	assert_int_equal(inv_certs_expiring(t, NOW, NOW + 30 * DAY, see_cert, s),
	    INV_OK);
	assert_int_equal(s->n, expect - 2);
	assert_int_equal(raw_expiring(inv, NOW, NOW + 30 * DAY), expect - 2);
	assert_int_equal(raw_count(inv, "inv_cert_expiry", NULL, 0), 199);

	/* certificates of a card, through the index, against the raw dup count */
	for (i = 1; i <= 4; i++) {
		memset(s, 0, sizeof(*s));
		guid_of(i, g);
		assert_int_equal(inv_certs_of_card(t, g, see_cert, s), INV_OK);
		assert_int_equal(s->n, raw_count(inv, "inv_cert_card", g,
		    INV_GUID_LEN));
	}
	assert_int_equal(raw_count(inv, "inv_cert_card", NULL, 0), 199);
	inv_abort(t);
	t = wtxn(inv);
	guid_of(1, g);
	assert_int_equal(inv_card_del(t, g), INV_ERR_EXISTS);
	inv_abort(t);
	free(ct);
	free(s);
	inv_close(inv);
}

static int
see_op(const struct inv_op *op, void *arg)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->ids[s->n] = (unsigned)op->id;
	s->n++;
	return 0;
}

static int
see_step(const struct inv_step *st, void *arg)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->ids[s->n] = st->no;
	s->n++;
	return s->n == 2 ? 42 : 0;		/* stop early: returned as is */
}

static void
store_ops(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_op op;
	struct inv_step *st = malloc(sizeof(*st));
	struct seen s = { 0, { 0 } };
	uint64_t id;
	uint8_t val[16];
	size_t len;
	unsigned i;

	(void)state;
	assert_non_null(st);
	t = wtxn(inv);
	for (i = 1; i <= 3; i++) {
		sample_op(&op, "issue", i);
		assert_int_equal(inv_op_add(t, &op, &id), INV_OK);
		assert_int_equal(id, i);
	}
	for (i = 3; i >= 1; i--) {	/* out of order: the key sorts them */
		sample_step(st, 2, i);
		assert_int_equal(inv_op_step_put(t, st), INV_OK);
	}
	sample_step(st, 99, 1);
	assert_int_equal(inv_op_step_put(t, st), INV_ERR_NOTFOUND);
	assert_int_equal(inv_op_get(t, 1, &op), INV_OK);
	op.state = INV_OP_DONE;
	assert_int_equal(inv_op_put(t, &op), INV_OK);
	assert_int_equal(inv_meta_put(t, "ca.txid", "0123456789abcdef", 16),
	    INV_OK);
	assert_int_equal(inv_meta_put(t, "inv.schema", "x", 1), INV_ERR_ARG);
	/* A prefix's keys for inv_meta_foreach (approve.c's requests). */
	assert_int_equal(inv_meta_put(t, "apr:2", "b", 1), INV_OK);
	assert_int_equal(inv_meta_put(t, "apr:1", "a", 1), INV_OK);
	assert_int_equal(inv_meta_put(t, "apr.next", "z", 1), INV_OK);
	assert_int_equal(inv_meta_put(t, "apq:0", "y", 1), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);

	inv = open_inv(0);
	t = rtxn(inv);
	assert_int_equal(inv_op_running_foreach(t, see_op, &s), INV_OK);
	assert_int_equal(s.n, 2);
	assert_true(s.ids[0] == 2 && s.ids[1] == 3);
	memset(&s, 0, sizeof(s));	/* every operation, newest first */
	assert_int_equal(inv_ops_foreach_desc(t, see_op, &s), INV_OK);
	assert_true(s.n == 3 && s.ids[0] == 3 && s.ids[1] == 2 &&
	    s.ids[2] == 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(inv_op_steps_foreach(t, 2, see_step, &s), 42);
	assert_true(s.n == 2 && s.ids[0] == 1 && s.ids[1] == 2);
	assert_int_equal(inv_op_step_get(t, 2, 3, st), INV_OK);
	assert_int_equal(st->data_len, 53);
	assert_int_equal(st->data[0], 3);
	assert_int_equal(inv_meta_get(t, "ca.txid", val, sizeof(val), &len),
	    INV_OK);
	assert_int_equal(len, 16);
	assert_memory_equal(val, "0123456789abcdef", 16);
	assert_int_equal(inv_meta_get(t, "ca.txid", val, 4, &len), INV_ERR_ARG);
	assert_int_equal(inv_meta_get(t, "nope", val, 4, &len), INV_ERR_NOTFOUND);
	{
		char seen[16] = "";

		assert_int_equal(inv_meta_foreach(t, "apr:", meta_cat, seen),
		    INV_OK);
		assert_string_equal(seen, "ab");
		assert_int_equal(inv_meta_foreach(t, "inv.", meta_cat, seen),
		    INV_ERR_ARG);
	}
	inv_abort(t);
	assert_int_equal(raw_count(inv, "inv_op_running", NULL, 0), 2);
	/* ids keep increasing across reopen */
	t = wtxn(inv);
	sample_op(&op, "renew", 1);
	assert_int_equal(inv_op_add(t, &op, &id), INV_OK);
	assert_int_equal(id, 4);
	op.type[0] = '\0';
	assert_int_equal(inv_op_add(t, &op, &id), INV_ERR_ARG);
	assert_int_equal(inv_commit(t), INV_OK);
	free(st);
	inv_close(inv);
}

/*
 * MDB_NOTLS: two read txns in one thread (LMDB refuses the second without
 * it), each keeping its snapshot while a writer commits.
 */
static void
readers(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *r1, *r2, *t;
	struct inv_card c;
	uint8_t g[INV_GUID_LEN];

	(void)state;
	t = wtxn(inv);
	sample_card(&c, 1, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	guid_of(1, g);
	r1 = rtxn(inv);
	r2 = rtxn(inv);
	t = wtxn(inv);
	c.state = INV_CARD_ACTIVE;
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	assert_int_equal(inv_card_get(r1, g, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_BLANK);
	assert_int_equal(inv_card_get(r2, g, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_BLANK);
	inv_abort(r2);
	inv_abort(r1);
	r1 = rtxn(inv);
	assert_int_equal(inv_card_get(r1, g, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_ACTIVE);
	inv_abort(r1);
	inv_close(inv);
}

/* ---- holder listing: order, paging, stop ---- */

static int
collect_ids(const struct inv_holder *h, void *arg)
{
	char *out = arg;

	strcat(out, h->id);
	strcat(out, ",");
	return strcmp(h->id, "H5") == 0;	/* stop after H5 */
}

static void
holders_list(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_holder h;
	char got[128];
	static const char *ids[] = { "H3", "H1", "H6", "H2", "H5", "H4" };

	(void)state;
	t = wtxn(inv);
	for (size_t i = 0; i < 6; i++) {
		sample_holder(&h, ids[i]);
		assert_int_equal(inv_holder_put(t, &h, INV_PUT_NEW), INV_OK);
	}
	assert_int_equal(inv_commit(t), INV_OK);
	t = rtxn(inv);
	got[0] = '\0';
	assert_int_equal(inv_holders_foreach(t, NULL, 3, collect_ids, got), INV_OK);
	assert_string_equal(got, "H1,H2,H3,");
	got[0] = '\0';
	assert_int_equal(inv_holders_foreach(t, "H3", 0, collect_ids, got), INV_OK);
	assert_string_equal(got, "H4,H5,");	/* strictly after, stops at H5 */
	got[0] = '\0';
	assert_int_equal(inv_holders_foreach(t, "H35", 0, collect_ids, got), INV_OK);
	assert_string_equal(got, "H4,H5,");	/* a key between two */
	got[0] = '\0';
	assert_int_equal(inv_holders_foreach(t, "H6", 0, collect_ids, got), INV_OK);
	assert_string_equal(got, "");
	assert_int_equal(inv_holders_foreach(t, NULL, 0, NULL, got), INV_ERR_ARG);
	inv_abort(t);
	inv_close(inv);
}

/* ---- full map ---- */

struct snapshot {
	size_t cards, serial, state, holder, events, meta;
};

static struct snapshot
snap(struct inv *inv)
{
	struct snapshot s;

	s.cards = raw_count(inv, "inv_cards", NULL, 0);
	s.serial = raw_count(inv, "inv_card_serial", NULL, 0);
	s.state = raw_count(inv, "inv_card_state", NULL, 0);
	s.holder = raw_count(inv, "inv_card_holder5", NULL, 0);
	s.events = raw_count(inv, "inv_events", NULL, 0);
	s.meta = raw_count(inv, "inv_meta", NULL, 0);
	return s;
}

static void
full_map(void **state)
{
	const size_t map = 512 * 1024;
	struct inv *inv = open_inv(map);
	struct inv_txn *t;
	struct inv_card c;
	struct inv_event e;
	struct snapshot before, after;
	uint8_t g1[INV_GUID_LEN];
	uint64_t counts[INV_CARD_NSTATES], seq64;
	uint32_t seq;
	unsigned n, i;
	int rc = INV_OK;

	(void)state;
	t = wtxn(inv);
	put_holder(t, "H");
	assert_int_equal(inv_commit(t), INV_OK);
	/* one card per txn until the map is full */
	for (n = 1; n < 10000; n++) {
		t = wtxn(inv);
		sample_card(&c, n, "H", INV_CARD_STOCK);
		c.escrow_len = INV_ESCROW_MAX;
		rc = inv_card_put(t, &c, INV_PUT_NEW);
		if (rc == INV_OK)
			rc = inv_commit(t);
		else
			assert_int_equal(inv_commit(t), rc);	/* poisoned */
		if (rc != INV_OK)
			break;
	}
	assert_int_equal(rc, INV_ERR_FULL);
	n--;			/* cards committed */
	assert_true(n > 10);
	before = snap(inv);
	assert_int_equal(before.cards, n);
	assert_true(before.serial == n && before.state == n && before.holder == n);

	/*
	 * Make room (two commits: LMDB reuses a page only once no txn that
	 * could see it is left), then a txn that changes card 1, logs, and
	 * overflows: nothing of it may stay.
	 */
	t = wtxn(inv);
	for (i = n - 4; i <= n; i++) {
		guid_of(i, g1);
		assert_int_equal(inv_card_del(t, g1), INV_OK);
	}
	assert_int_equal(inv_commit(t), INV_OK);
	n -= 5;
	t = wtxn(inv);
	assert_int_equal(inv_meta_put(t, "age", "1", 1), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	t = wtxn(inv);
	assert_int_equal(inv_meta_put(t, "age", "2", 1), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	before = snap(inv);
	assert_int_equal(before.cards, n);

	t = wtxn(inv);
	guid_of(1, g1);
	assert_int_equal(inv_card_get(t, g1, &c), INV_OK);
	c.state = INV_CARD_ACTIVE;
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	memset(&e, 0, sizeof(e));
	memcpy(e.guid, g1, INV_GUID_LEN);
	strcpy(e.name, "activated");
	assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
	assert_int_equal(audit_append(t, NOW, "op", "card.activate", "1", 0, NULL,
	    &seq64), INV_OK);
	rc = INV_OK;
	for (i = 0; i < 1000 && rc != INV_ERR_FULL; i++) {
		sample_card(&c, 100000 + i, "H", INV_CARD_STOCK);
		c.escrow_len = INV_ESCROW_MAX;
		rc = inv_card_put(t, &c, INV_PUT_NEW);
	}
	assert_int_equal(rc, INV_ERR_FULL);
	/* poisoned: later calls and the commit report the same error */
	assert_int_equal(inv_card_put(t, &c, 0), INV_ERR_FULL);
	assert_int_equal(inv_commit(t), INV_ERR_FULL);
	inv_close(inv);

	inv = open_inv(map);
	after = snap(inv);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(raw_count(inv, "inv_audit", NULL, 0), 0);
	t = rtxn(inv);
	assert_int_equal(inv_card_get(t, g1, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_STOCK);
	assert_int_equal(inv_card_count_by_state(t, counts), INV_OK);
	assert_true(counts[INV_CARD_STOCK] == n && counts[INV_CARD_ACTIVE] == 0);
	for (i = 1; i <= n; i++) {
		guid_of(i, g1);
		assert_int_equal(inv_card_get(t, g1, &c), INV_OK);
		assert_int_equal(c.escrow_len, INV_ESCROW_MAX);
	}
	inv_abort(t);
	inv_close(inv);
}

#ifdef INV_TEST_HOOKS
/* ---- fault injection: every write of a compound change fails once ---- */

static const char *const all_dbs[] = {
	"inv_meta", "inv_holders", "inv_cards", "inv_card_serial",
	"inv_card_holder5", "inv_card_state", "inv_events", "inv_certs",
	"inv_cert_card", "inv_cert_expiry", "inv_ops", "inv_op_running",
	"inv_op_steps", "inv_audit", "inv_audit_ckpt", "inv_card_profile",
	"inv_card_expiry", "inv_stock", "inv_escrow",
};

/* SHA-256 over every key and value of every inv database, via raw LMDB. */
static void
digest(struct inv *inv, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t i;
	int mrc;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	for (i = 0; i < sizeof(all_dbs) / sizeof(all_dbs[0]); i++) {
		assert_int_equal(mdb_dbi_open(txn, all_dbs[i], 0, &dbi), 0);
		assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
		EVP_DigestUpdate(md, all_dbs[i], strlen(all_dbs[i]) + 1);
		for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
		    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			EVP_DigestUpdate(md, &k.mv_size, sizeof(k.mv_size));
			EVP_DigestUpdate(md, k.mv_data, k.mv_size);
			EVP_DigestUpdate(md, &v.mv_size, sizeof(v.mv_size));
			EVP_DigestUpdate(md, v.mv_data, v.mv_size);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	assert_int_equal(EVP_DigestFinal_ex(md, out, NULL), 1);
	EVP_MD_CTX_free(md);
}

#endif /* INV_TEST_HOOKS */

/* Raw: is key (with val, if not NULL, among its values) stored in db? */
static int
raw_has(MDB_txn *txn, const char *db, const void *key, size_t kl,
    const void *val, size_t vl)
{
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k = { kl, (void *)key }, v;
	int mrc, found = 0;

	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0 && !found;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP))
		found = val == NULL ||
		    (v.mv_size == vl && memcmp(v.mv_data, val, vl) == 0);
	mdb_cursor_close(cur);
	return found;
}

/*
 * Every card and certificate has exactly its index entries and the indexes
 * hold nothing else (entry totals equal record totals).
 */
static void
check_indexes(struct inv *inv)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	uint8_t ek[8 + INV_CERT_SERIAL_MAX], pk[INV_NAME_MAX + 2];
	uint8_t hk[INV_ID_MAX + 1 + INV_GUID_LEN];
	size_t cards = 0, holders = 0, certs = 0, expiring = 0, i, n;
	int mrc;

	assert_non_null(ct);
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_cards", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), cards++) {
		assert_int_equal(inv_card_decode(v.mv_data, v.mv_size, &c), INV_OK);
		/* serial and holder index entries hold the card's record */
		assert_true(raw_has(txn, "inv_card_serial", c.serial,
		    strlen(c.serial), v.mv_data, v.mv_size));
		assert_true(raw_has(txn, "inv_card_state", &c.state, 1, c.guid,
		    INV_GUID_LEN));
		if (c.holder[0] != '\0') {
			holders++;
			n = strlen(c.holder);
			memcpy(hk, c.holder, n);
			hk[n] = 0;
			memcpy(hk + n + 1, c.guid, INV_GUID_LEN);
			assert_true(raw_has(txn, "inv_card_holder5", hk,
			    n + 1 + INV_GUID_LEN, v.mv_data, v.mv_size));
		}
		n = strlen(c.profile);
		memcpy(pk, c.profile, n);
		pk[n] = 0;
		pk[n + 1] = c.state;
		assert_true(raw_has(txn, "inv_card_profile", pk, n + 2, c.guid,
		    INV_GUID_LEN));
		if (c.expires != 0) {
			expiring++;
			for (i = 0; i < 8; i++)
				ek[i] = (uint8_t)(c.expires >> (56 - 8 * i));
			memcpy(ek + 8, c.guid, INV_GUID_LEN);
			assert_true(raw_has(txn, "inv_card_expiry", ek,
			    8 + INV_GUID_LEN, NULL, 0));
		}
	}
	mdb_cursor_close(cur);
	assert_int_equal(mdb_dbi_open(txn, "inv_certs", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), certs++) {
		assert_int_equal(inv_cert_decode(v.mv_data, v.mv_size, ct), INV_OK);
		assert_true(raw_has(txn, "inv_cards", ct->guid, INV_GUID_LEN,
		    NULL, 0));
		assert_true(raw_has(txn, "inv_cert_card", ct->guid, INV_GUID_LEN,
		    ct->serial, strlen(ct->serial)));
		for (i = 0; i < 8; i++)
			ek[i] = (uint8_t)(ct->not_after >> (56 - 8 * i));
		memcpy(ek + 8, ct->serial, strlen(ct->serial));
		assert_true(raw_has(txn, "inv_cert_expiry", ek,
		    8 + strlen(ct->serial), NULL, 0));
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	free(ct);
	assert_int_equal(raw_count(inv, "inv_card_serial", NULL, 0), cards);
	assert_int_equal(raw_count(inv, "inv_card_state", NULL, 0), cards);
	assert_int_equal(raw_count(inv, "inv_card_holder5", NULL, 0), holders);
	assert_int_equal(raw_count(inv, "inv_cert_card", NULL, 0), certs);
	assert_int_equal(raw_count(inv, "inv_cert_expiry", NULL, 0), certs);
	assert_int_equal(raw_count(inv, "inv_card_profile", NULL, 0), cards);
	assert_int_equal(raw_count(inv, "inv_card_expiry", NULL, 0), expiring);
}

#ifdef INV_TEST_HOOKS
static void
fault_world(struct inv *inv, char s1[], char s2[])
{
	struct inv_txn *t = wtxn(inv);
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	struct inv_event e;
	struct inv_op op;
	uint64_t id;
	uint32_t seq;
	unsigned i;

	assert_non_null(ct);
	put_holder(t, "A");
	put_holder(t, "B");
	sample_card(&c, 1, "A", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	sample_card(&c, 2, "A", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	sample_card(&c, 3, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, 0), INV_OK);
	memset(&e, 0, sizeof(e));
	strcpy(e.name, "issued");
	for (i = 1; i <= 3; i += 2) {
		guid_of(i, e.guid);
		assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
		assert_int_equal(inv_event_append(t, &e, &seq), INV_OK);
	}
	sample_cert(ct, 1, 1, NOW + 5 * DAY);
	strcpy(s1, ct->serial);
	assert_int_equal(inv_cert_put(t, ct, 0), INV_OK);
	sample_cert(ct, 2, 1, NOW + 6 * DAY);
	strcpy(s2, ct->serial);
	assert_int_equal(inv_cert_put(t, ct, 0), INV_OK);
	sample_op(&op, "issue", 1);
	assert_int_equal(inv_op_add(t, &op, &id), INV_OK);
	assert_int_equal(audit_append(t, NOW, "op", "setup", NULL, 0, NULL,
	    &(uint64_t){ 0 }), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	free(ct);
}

/* The compound change; stops at the first error (the txn is poisoned). */
static int
fault_change(struct inv_txn *t, const char *s1, const char *s2)
{
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	struct inv_event e;
	struct inv_op op;
	uint8_t g[INV_GUID_LEN];
	uint64_t seq64;
	uint32_t seq;
	int rc;

	assert_non_null(ct);
	guid_of(1, g);
	if ((rc = inv_card_get(t, g, &c)) != INV_OK)
		goto out;
	strcpy(c.holder, "B");
	strcpy(c.serial, "NEW1");
	c.state = INV_CARD_SUSPENDED;
	c.expires += DAY;
	if ((rc = inv_card_put(t, &c, INV_PUT_UPDATE)) != INV_OK ||
	    (rc = inv_cert_get(t, s1, ct)) != INV_OK)
		goto out;
	ct->not_after = NOW + 50 * DAY;
	guid_of(2, ct->guid);
	memset(&e, 0, sizeof(e));
	memcpy(e.guid, g, INV_GUID_LEN);
	strcpy(e.name, "suspended");
	if ((rc = inv_cert_put(t, ct, INV_PUT_UPDATE)) != INV_OK ||
	    (rc = inv_cert_del(t, s2)) != INV_OK ||
	    (rc = inv_event_append(t, &e, &seq)) != INV_OK)
		goto out;
	guid_of(3, g);
	if ((rc = inv_card_del(t, g)) != INV_OK ||
	    (rc = inv_op_get(t, 1, &op)) != INV_OK)
		goto out;
	op.state = INV_OP_DONE;
	if ((rc = inv_op_put(t, &op)) != INV_OK ||
	    (rc = audit_append(t, NOW, "op", "card.suspend", "1", 0, NULL,
	    &seq64)) != INV_OK)
		goto out;
	rc = inv_meta_put(t, "ca.txid", "abc", 3);
out:
	free(ct);
	return rc;
}

static void
fault_every_write(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t;
	struct inv_card c;
	struct seen s;
	char s1[INV_CERT_SERIAL_MAX + 1], s2[INV_CERT_SERIAL_MAX + 1];
	uint8_t d0[32], d1[32];
	unsigned long n;
	int rc, crc, fired;

	(void)state;
	fault_world(inv, s1, s2);
	check_indexes(inv);
	digest(inv, d0);
	for (n = 1; n < 1000; n++) {
		t = wtxn(inv);
		inv_test_fail_at = n;
		rc = fault_change(t, s1, s2);
		fired = inv_test_fail_at == 0;
		inv_test_fail_at = 0;
		crc = inv_commit(t);
		if (!fired) {
			assert_int_equal(rc, INV_OK);
			assert_int_equal(crc, INV_OK);
			break;
		}
		/* the failure is reported, at commit too, and nothing stays */
		assert_int_equal(rc, INV_ERR_FULL);
		assert_int_equal(crc, INV_ERR_FULL);
		digest(inv, d1);
		assert_memory_equal(d0, d1, sizeof(d0));
	}
	assert_true(n > 20);		/* every write of the change was hit */
	digest(inv, d1);
	assert_memory_not_equal(d0, d1, sizeof(d0));
	check_indexes(inv);
	s = of_holder(inv, "A");
	assert_true(s.n == 1 && s.ids[0] == 2);
	assert_int_equal(in_state(inv, INV_CARD_SUSPENDED).n, 1);
	assert_int_equal(raw_count(inv, "inv_events", NULL, 0), 3);
	assert_int_equal(raw_count(inv, "inv_op_running", NULL, 0), 0);
	assert_int_equal(raw_count(inv, "inv_audit", NULL, 0), 2);
	t = rtxn(inv);
	assert_int_equal(inv_card_by_serial(t, "NEW1", &c), INV_OK);
	assert_string_equal(c.holder, "B");
	inv_abort(t);
	inv_close(inv);
}
#endif /* INV_TEST_HOOKS */

struct prof_seen {
	unsigned n;
	char line[8][192];
};

static int
see_profile(const char *profile, int state, uint64_t count, void *arg)
{
	struct prof_seen *p = arg;

	if (p->n < 8)
		snprintf(p->line[p->n], sizeof(p->line[0]), "%.127s/%.15s=%llu",
		    profile, inv_card_state_name(state),
		    (unsigned long long)count);
	p->n++;
	return 0;
}

/*
 * Cards per profile and state, and cards expiring, from the schema-3
 * indexes, against a raw scan of every card record, after puts, state,
 * profile and expiry changes and a delete.
 */
static void
raw_card_reports(struct inv *inv, struct prof_seen *p, uint64_t from,
    uint64_t until, struct seen *ex)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	struct inv_card c;
	char keys[16][160];
	uint64_t counts[16];
	unsigned nk = 0, i, j;
	int mrc;

	memset(p, 0, sizeof(*p));
	memset(ex, 0, sizeof(*ex));
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_cards", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char key[160];

		assert_int_equal(inv_card_decode(v.mv_data, v.mv_size, &c), INV_OK);
		/* the index sorts by profile bytes, then state */
		snprintf(key, sizeof(key), "%s%c%c", c.profile, 1, 'a' + c.state);
		for (i = 0; i < nk && strcmp(keys[i], key) != 0; i++)
			;
		if (i == nk) {
			assert_true(nk < 16);
			strcpy(keys[nk], key);
			counts[nk++] = 0;
		}
		counts[i]++;
		if (c.expires != 0 && c.expires >= from && c.expires < until)
			ex->ids[ex->n++] = c.guid[15];
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	/* sort keys (insertion sort; few) */
	for (i = 1; i < nk; i++)
		for (j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			char tk[160];
			uint64_t tc = counts[j];

			strcpy(tk, keys[j]);
			strcpy(keys[j], keys[j - 1]);
			strcpy(keys[j - 1], tk);
			counts[j] = counts[j - 1];
			counts[j - 1] = tc;
		}
	for (i = 0; i < nk; i++) {
		char *sep = strchr(keys[i], 1);

		*sep = '\0';
		see_profile(keys[i], sep[1] - 'a', counts[i], p);
	}
}

static void
same_reports(struct inv *inv, uint64_t from, uint64_t until)
{
	struct prof_seen got = { 0, { "" } }, want;
	struct seen exg = { 0, { 0 } }, exw;
	struct inv_txn *t = rtxn(inv);
	unsigned i, j, found;

	assert_int_equal(inv_card_count_by_profile(t, see_profile, &got), INV_OK);
	assert_int_equal(inv_cards_expiring(t, from, until, see_card, &exg),
	    INV_OK);
	inv_abort(t);
	raw_card_reports(inv, &want, from, until, &exw);
	assert_int_equal(got.n, want.n);
	for (i = 0; i < got.n; i++)
		assert_string_equal(got.line[i], want.line[i]);
	assert_int_equal(exg.n, exw.n);
	for (i = 0; i < exg.n; i++) {	/* same set (raw scan: GUID order) */
		for (found = 0, j = 0; j < exw.n; j++)
			found += exw.ids[j] == exg.ids[i];
		assert_int_equal(found, 1);
	}
	check_indexes(inv);
}

static void
card_reports(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_card c;
	struct prof_seen p = { 0, { "" } };
	struct seen ex = { 0, { 0 } };
	uint8_t g[INV_GUID_LEN];
	unsigned n;

	(void)state;
	put_holder(t, "A");
	for (n = 1; n <= 6; n++) {
		sample_card(&c, n, "A", n % 2 ? INV_CARD_ACTIVE : INV_CARD_RETIRED);
		strcpy(c.profile, n <= 3 ? "employee" : "temporary");
		c.expires = n == 6 ? 0 : NOW + n * DAY;
		assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	}
	assert_int_equal(inv_commit(t), INV_OK);
	t = rtxn(inv);
	assert_int_equal(inv_card_count_by_profile(t, see_profile, &p), INV_OK);
	assert_int_equal(p.n, 4);
	assert_string_equal(p.line[0], "employee/active=2");
	assert_string_equal(p.line[1], "employee/retired=1");
	assert_string_equal(p.line[2], "temporary/active=1");
	assert_string_equal(p.line[3], "temporary/retired=2");
	/* soonest first; the window's end is exclusive; card 6: unknown */
	assert_int_equal(inv_cards_expiring(t, NOW + 2 * DAY, NOW + 5 * DAY,
	    see_card, &ex), INV_OK);
	assert_true(ex.n == 3 && ex.ids[0] == 2 && ex.ids[1] == 3 &&
	    ex.ids[2] == 4);
	inv_abort(t);
	same_reports(inv, 0, UINT64_MAX);
	/* state, profile, expiry changes and a delete move the entries */
	t = wtxn(inv);
	guid_of(1, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	c.state = INV_CARD_SUSPENDED;
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	guid_of(2, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	strcpy(c.profile, "contractor");
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	guid_of(3, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	c.expires = NOW + 30 * DAY;
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	guid_of(6, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	c.expires = NOW + DAY;		/* unknown -> known */
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	guid_of(5, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	c.expires = 0;			/* known -> unknown */
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	guid_of(4, g);
	assert_int_equal(inv_card_del(t, g), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	same_reports(inv, 0, UINT64_MAX);
	same_reports(inv, NOW + DAY, NOW + 3 * DAY);
	inv_close(inv);
	inv = open_inv(0);
	same_reports(inv, 0, UINT64_MAX);
	inv_close(inv);
}

/* ---- schema ---- */

static MDB_env *
raw_env(void)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 64UL << 20), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	return env;
}

static void
raw_put(MDB_txn *txn, const char *db, unsigned flags, const void *k,
    size_t kl, const void *v, size_t vl)
{
	MDB_dbi dbi;
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };

	assert_int_equal(mdb_dbi_open(txn, db, MDB_CREATE | flags, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

static uint32_t
raw_schema(void)
{
	MDB_env *env = raw_env();
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 10, (void *)"inv.schema" }, v;
	uint32_t ver;

	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_meta", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 4);
	ver = (uint32_t)((const uint8_t *)v.mv_data)[0] << 24 |
	    (uint32_t)((const uint8_t *)v.mv_data)[1] << 16 |
	    (uint32_t)((const uint8_t *)v.mv_data)[2] << 8 |
	    ((const uint8_t *)v.mv_data)[3];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return ver;
}

static void
schema_fresh(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = rtxn(inv);
	uint32_t v;

	(void)state;
	assert_int_equal(inv_schema_version(t, &v), INV_OK);
	assert_int_equal(v, INV_SCHEMA_VERSION);
	inv_abort(t);
	inv_close(inv);
	assert_int_equal(raw_schema(), 7);
}

/* The schema-1 card record, written from docs/inventory.md, not inv_rec.c. */
static size_t
v1_card(const struct inv_card *c, uint8_t *out, size_t cap)
{
	struct buf_writer w;
	size_t n;

	buf_writer_init(&w, out, cap);
	buf_put_u8(&w, 1);
	buf_put_u8(&w, 'C');
	buf_put_bytes(&w, c->guid, INV_GUID_LEN);
#define TEXT(s) (n = strlen(s), buf_put_u16be(&w, (uint16_t)n), \
	buf_put_bytes(&w, s, n))
	TEXT(c->serial);
	buf_put_u32be(&w, c->atr_len);
	buf_put_bytes(&w, c->atr, c->atr_len);
	TEXT(c->model);
	TEXT(c->profile);
	buf_put_u32be(&w, c->profile_version);
	buf_put_u8(&w, c->state);
	buf_put_u16be(&w, c->pending_ca);
	TEXT(c->holder);
#undef TEXT
	buf_put_u32be(&w, c->mk_version);
	buf_put_u32be(&w, c->escrow_len);
	buf_put_bytes(&w, c->escrow, c->escrow_len);
	buf_put_u32be(&w, (uint32_t)(c->created >> 32));
	buf_put_u32be(&w, (uint32_t)c->created);
	buf_put_u32be(&w, (uint32_t)(c->updated >> 32));
	buf_put_u32be(&w, (uint32_t)c->updated);
	assert_int_equal(buf_writer_error(&w), BUF_OK);
	return w.len;
}

/* A schema-1 environment (or one claiming schema): holder H, cards 1 (2
 * certs) and 2 (none). */
static void
make_v1(uint32_t schema)
{
	static const char *v1_dbs[] = {
		"inv_holders", "inv_cards", "inv_card_serial", "inv_events",
		"inv_certs", "inv_ops", "inv_op_running", "inv_op_steps",
		"inv_audit", "inv_audit_ckpt",
	};
	MDB_env *env = raw_env();
	MDB_txn *txn;
	MDB_dbi dbi;
	struct inv_holder h;
	struct inv_card c;
	struct inv_cert *ct = malloc(sizeof(*ct));
	uint8_t buf[8192], *rec, ver[4] = { 0, 0, 0, 0 };
	size_t len, i;
	unsigned n;

	assert_non_null(ct);
	ver[3] = (uint8_t)schema;
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < sizeof(v1_dbs) / sizeof(v1_dbs[0]); i++)
		assert_int_equal(mdb_dbi_open(txn, v1_dbs[i], MDB_CREATE, &dbi), 0);
	if (schema >= 2)	/* a newer env has everything 2 has */
		assert_int_equal(mdb_dbi_open(txn, "inv_cert_expiry", MDB_CREATE,
		    &dbi), 0);
	if (schema >= 3) {
		assert_int_equal(mdb_dbi_open(txn, "inv_card_profile",
		    MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &dbi), 0);
		assert_int_equal(mdb_dbi_open(txn, "inv_card_expiry",
		    MDB_CREATE, &dbi), 0);
	}
	raw_put(txn, "inv_meta", 0, "inv.schema", 10, ver, 4);
	sample_holder(&h, "H");
	h.nanswers = 0;
	len = v1_holder(&h, buf, sizeof(buf));
	raw_put(txn, "inv_holders", 0, "H", 1, buf, len);
	for (n = 1; n <= 2; n++) {
		sample_card(&c, n, "H", INV_CARD_ACTIVE);
		if (n == 2)
			strcpy(c.profile, "other");
		if (schema >= 2) {	/* v2 cards, expiry known */
			assert_int_equal(inv_card_encode(&c, &rec, &len), INV_OK);
			memcpy(buf, rec, len);
			free(rec);
		} else
			len = v1_card(&c, buf, sizeof(buf));
		raw_put(txn, "inv_cards", 0, c.guid, INV_GUID_LEN, buf, len);
		raw_put(txn, "inv_card_serial", 0, c.serial, strlen(c.serial),
		    c.guid, INV_GUID_LEN);
		raw_put(txn, "inv_card_holder", MDB_DUPSORT | MDB_DUPFIXED, "H",
		    1, c.guid, INV_GUID_LEN);
		raw_put(txn, "inv_card_state", MDB_DUPSORT | MDB_DUPFIXED,
		    &c.state, 1, c.guid, INV_GUID_LEN);
	}
	for (n = 1; n <= 2; n++) {
		sample_cert(ct, n, 1, NOW + n * 10 * DAY);
		assert_int_equal(inv_cert_encode(ct, &rec, &len), INV_OK);
		raw_put(txn, "inv_certs", 0, ct->serial, strlen(ct->serial), rec,
		    len);
		raw_put(txn, "inv_cert_card", MDB_DUPSORT, ct->guid,
		    INV_GUID_LEN, ct->serial, strlen(ct->serial));
		free(rec);
		if (schema >= 2) {
			uint8_t ek[8 + INV_CERT_SERIAL_MAX];

			for (i = 0; i < 8; i++)
				ek[i] = (uint8_t)(ct->not_after >> (56 - 8 * i));
			memcpy(ek + 8, ct->serial, strlen(ct->serial));
			raw_put(txn, "inv_cert_expiry", 0, ek,
			    8 + strlen(ct->serial), "", 0);
		}
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(ct);
}

static int
count_card(const struct inv_card *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

/* The cards of holder through inv_cards_of_holder, in txn t. */
static int
of_holder_t(struct inv_txn *t, const char *holder)
{
	int n = 0;

	assert_int_equal(inv_cards_of_holder(t, holder, count_card, &n), INV_OK);
	return n;
}

static int
raw_db_exists(struct inv *inv, const char *db)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int mrc;

	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	mrc = mdb_dbi_open(txn, db, 0, &dbi);
	mdb_txn_abort(txn);
	return mrc == 0;
}

/* From an environment make_v1(from) wrote: schema 3 and its contents. */
static void
check_migrated(struct inv *inv, uint32_t from)
{
	struct inv_txn *t = rtxn(inv);
	struct inv_card c;
	struct inv_holder h;
	struct certs_seen *s = calloc(1, sizeof(*s));
	struct prof_seen p = { 0, { "" } };
	struct seen cs = { 0, { 0 } };
	uint8_t g[INV_GUID_LEN];
	uint32_t v;

	assert_non_null(s);
	assert_int_equal(inv_schema_version(t, &v), INV_OK);
	assert_int_equal(v, 7);
	assert_int_equal(inv_holder_get(t, "H", &h), INV_OK);
	assert_string_equal(h.name, "Ada Lovelace");
	assert_string_equal(h.email, "ada@example.org");
	/* schema 5: the holder's cards from the new index; the old one gone */
	assert_int_equal(of_holder_t(t, "H"), 2);
	inv_abort(t);
	assert_int_equal(raw_count(inv, "inv_card_holder5", NULL, 0), 2);
	assert_int_equal(raw_count(inv, "inv_card_serial", NULL, 0), 2);
	assert_false(raw_db_exists(inv, "inv_card_holder"));
	t = rtxn(inv);
	assert_string_equal(h.manager_email, "");
	assert_int_equal(h.nattrs, INV_ATTRS_MAX);
	inv_holder_clear(&h);
	assert_int_equal(inv_card_count_by_profile(t, see_profile, &p), INV_OK);
	assert_int_equal(p.n, 2);
	assert_string_equal(p.line[0], "other/active=1");
	assert_string_equal(p.line[1], "piv-standard/active=1");
	assert_int_equal(inv_cards_expiring(t, 0, UINT64_MAX, see_card, &cs),
	    INV_OK);
	if (from == 1) {	/* card 2 has no certificate: expiry unknown */
		assert_true(cs.n == 1 && cs.ids[0] == 1);
	} else {
		assert_true(cs.n == 2 && cs.ids[0] == 1 && cs.ids[1] == 2);
		inv_abort(t);
		free(s);
		return;
	}
	guid_of(1, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	assert_string_equal(c.serial, "SN00000001");
	assert_string_equal(c.holder, "H");
	assert_int_equal(c.escrow_len, 100);
	assert_int_equal(c.escrow[99], (uint8_t)(99 * 3));
	assert_true(c.created == NOW - 2 * DAY && c.updated == NOW);
	assert_true(c.expires == NOW + 20 * DAY);	/* latest certificate */
	assert_int_equal(inv_card_by_serial(t, "SN00000002", &c), INV_OK);
	assert_true(c.expires == 0);			/* none: unknown */
	assert_int_equal(inv_certs_expiring(t, NOW, NOW + 15 * DAY, see_cert, s),
	    INV_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->na[0], NOW + 10 * DAY);
	inv_abort(t);
	free(s);
}

static void
schema_migrate(void **state)
{
	struct inv *inv;
	struct inv_txn *t;
	uint8_t g[INV_GUID_LEN];
	MDB_val k = { INV_GUID_LEN, g }, v;
	MDB_txn *txn;
	MDB_dbi dbi;

	(void)state;
	make_v1(1);
	inv = open_inv(0);
	check_migrated(inv, 1);
	/* raw: the card record itself is now version 2 */
	guid_of(1, g);
	assert_int_equal(mdb_txn_begin(inv_env(inv), NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "inv_cards", 0, &dbi), 0);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[0], 2);
	/* and the holder record version 2 */
	assert_int_equal(mdb_dbi_open(txn, "inv_holders", 0, &dbi), 0);
	k.mv_size = 1;
	k.mv_data = "H";
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(((const uint8_t *)v.mv_data)[0], 2);
	mdb_txn_abort(txn);
	check_indexes(inv);
	/* and it is writable as a v2 environment */
	t = wtxn(inv);
	assert_int_equal(audit_append(t, NOW, "op", "migrated", NULL, 0, NULL,
	    &(uint64_t){ 0 }), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
	assert_int_equal(raw_schema(), 7);
	inv = open_inv(0);
	check_migrated(inv, 1);
	inv_close(inv);
}

/* Schema 2 (holders v1, no card indexes) to 3. */
static void
schema_migrate2(void **state)
{
	struct inv *inv;

	(void)state;
	make_v1(2);
	inv = open_inv(0);
	check_migrated(inv, 2);
	check_indexes(inv);
	inv_close(inv);
	assert_int_equal(raw_schema(), 7);
	inv = open_inv(0);
	check_migrated(inv, 2);
	inv_close(inv);
}

static void
raw_set_schema(uint8_t version)
{
	MDB_env *env = raw_env();
	MDB_txn *txn;
	uint8_t ver[4] = { 0, 0, 0, version };

	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	raw_put(txn, "inv_meta", 0, "inv.schema", 10, ver, 4);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * Schema 3 to 4: the same databases and records; 4 adds card states and
 * certificate statuses an older engine would refuse, so only the version
 * moves. A schema-3 environment is this code's own with the version set
 * back to 3 (the databases of 3 and 4 are the same).
 */
static void
schema_migrate_v3(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_holder h;
	struct inv_card c;
	uint8_t g[INV_GUID_LEN];
	uint32_t v;

	(void)state;
	sample_holder(&h, "H");
	assert_int_equal(inv_holder_put(t, &h, INV_PUT_NEW), INV_OK);
	sample_card(&c, 1, "H", INV_CARD_SUSPENDED);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
	raw_set_schema(3);
	assert_int_equal(raw_schema(), 3);
	inv = open_inv(0);
	t = wtxn(inv);
	assert_int_equal(inv_schema_version(t, &v), INV_OK);
	assert_int_equal(v, 7);
	guid_of(1, g);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_SUSPENDED);
	/* the states schema 4 adds are storable, and counted */
	c.state = INV_CARD_STOLEN;
	assert_int_equal(inv_card_put(t, &c, INV_PUT_UPDATE), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
	assert_int_equal(raw_schema(), 7);
	inv = open_inv(0);
	t = rtxn(inv);
	assert_int_equal(inv_card_get(t, g, &c), INV_OK);
	assert_int_equal(c.state, INV_CARD_STOLEN);
	assert_string_equal(inv_card_state_name(c.state), "stolen");
	inv_abort(t);
	inv_close(inv);
}

/*
 * Schema 5 to 6 (blank stock): an environment of schema 5 (this code's own
 * with the version set back and inv_stock dropped) gets a stock entry for
 * each blank card, location unknown, and none for any other card.
 */

/*
 * An inventory as an older schema left it: holder H with an active card
 * and a blank one, committed through t, then schema set back and the
 * database the newer schema added dropped; reopened (migrating).
 */
static struct inv *
older_schema(struct inv *inv, struct inv_txn *t, uint32_t schema,
    const char *db)
{
	struct inv_holder h;
	struct inv_card c;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	sample_holder(&h, "H");
	assert_int_equal(inv_holder_put(t, &h, INV_PUT_NEW), INV_OK);
	sample_card(&c, 1, "H", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	sample_card(&c, 2, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
	raw_set_schema(schema);
	env = raw_env();
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	assert_int_equal(mdb_drop(txn, dbi, 1), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(raw_schema(), (int)schema);
	return open_inv(0);
}

static void
schema_migrate_v5(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_card c;
	struct inv_stock s;
	uint32_t v;

	(void)state;
	inv = older_schema(inv, t, 5, "inv_stock");
	assert_int_equal(raw_schema(), 7);
	assert_int_equal(raw_count(inv, "inv_stock", NULL, 0), 1);
	t = rtxn(inv);
	assert_int_equal(inv_schema_version(t, &v), INV_OK);
	assert_int_equal(v, 7);
	assert_int_equal(inv_stock_get(t, "SN00000002", &s), INV_OK);
	assert_string_equal(s.location, "");
	assert_string_equal(s.batch, "migrated");
	assert_string_equal(s.model, "YubiKey 5 NFC");
	guid_of(2, c.guid);
	assert_memory_equal(s.guid, c.guid, INV_GUID_LEN);
	assert_int_equal(inv_stock_get(t, "SN00000001", &s), INV_ERR_NOTFOUND);
	inv_abort(t);
	inv_close(inv);
}

static int
count_escrow(const struct inv_escrow *e, void *arg)
{
	(void)e;
	(*(unsigned *)arg)++;
	return 0;
}

/* gens[0]: how many; gens[1..]: their generations in walk order. */
static int
list_escrow(const struct inv_escrow *e, void *arg)
{
	uint32_t *gens = arg;

	if (gens[0] < 7)
		gens[1 + gens[0]++] = e->gen;
	return 0;
}

static int
count_stock(const struct inv_stock *s, void *arg)
{
	(void)s;
	(*(unsigned *)arg)++;
	return 0;
}

/*
 * Schema 6 to 7 (further escrowed keys): an environment of schema 6 (this
 * code's own with the version set back and inv_escrow dropped) opens as 7
 * with an empty inv_escrow; its cards keep their own escrow blob.
 */
static void
schema_migrate_v6(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_card c;
	struct inv_escrow e;
	unsigned n = 0;
	uint32_t v;

	(void)state;
	inv = older_schema(inv, t, 6, "inv_escrow");
	assert_int_equal(raw_schema(), 7);
	assert_int_equal(raw_count(inv, "inv_escrow", NULL, 0), 0);
	/* 5 to 6 does not run again: the blank card put without a stock
	 * entry (this code's own put) gets none */
	assert_int_equal(raw_count(inv, "inv_stock", NULL, 0), 0);
	t = wtxn(inv);
	assert_int_equal(inv_schema_version(t, &v), INV_OK);
	assert_int_equal(v, 7);
	guid_of(1, c.guid);
	assert_int_equal(inv_card_get(t, c.guid, &c), INV_OK);
	assert_int_equal(c.escrow_len, 100);
	assert_int_equal(inv_escrows_of_card(t, c.guid, count_escrow, &n),
	    INV_OK);
	assert_int_equal(n, 0);
	sample_escrow(&e, 1, 1);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
}

/*
 * Further escrow blobs: put refuses generation 0, an empty blob, a missing
 * card and a duplicate; a card's walk is in generation order and sees no
 * other card's; the record round-trips and refuses a trailing byte; the
 * card's deletion takes its blobs along.
 */
static void
escrow_entries(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_holder h;
	struct inv_card c;
	struct inv_escrow e, back;
	uint8_t *rec, buf[8192];
	uint32_t gens[8];
	size_t len;
	unsigned n = 0;

	(void)state;
	sample_holder(&h, "H");
	assert_int_equal(inv_holder_put(t, &h, INV_PUT_NEW), INV_OK);
	sample_card(&c, 1, "H", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	sample_card(&c, 2, "H", INV_CARD_ACTIVE);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	sample_escrow(&e, 3, 1);	/* no card 3 */
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_ERR_NOTFOUND);
	sample_escrow(&e, 1, 0);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_ERR_ARG);
	sample_escrow(&e, 1, 1);
	e.len = 0;
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_ERR_ARG);
	sample_escrow(&e, 1, 2);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_ERR_EXISTS);
	sample_escrow(&e, 1, 1);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_OK);
	sample_escrow(&e, 2, 1);
	assert_int_equal(inv_escrow_put(t, &e, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_commit(t), INV_OK);
	t = rtxn(inv);
	guid_of(1, c.guid);
	memset(gens, 0, sizeof(gens));
	assert_int_equal(inv_escrows_of_card(t, c.guid, list_escrow, gens),
	    INV_OK);
	assert_int_equal(gens[0], 2);
	assert_int_equal(gens[1], 1);
	assert_int_equal(gens[2], 2);
	inv_abort(t);
	/* round trip; a trailing byte and a newer version refused */
	sample_escrow(&e, 1, 3);
	assert_int_equal(inv_escrow_encode(&e, &rec, &len), INV_OK);
	assert_int_equal(inv_escrow_decode(rec, len, &back), INV_OK);
	assert_memory_equal(&back, &e, sizeof(e));
	assert_true(len + 1 < sizeof(buf));
	memcpy(buf, rec, len);
	buf[len] = 0;
	assert_int_equal(inv_escrow_decode(buf, len + 1, &back),
	    INV_ERR_FORMAT);
	buf[0] = 2;
	assert_int_equal(inv_escrow_decode(buf, len, &back), INV_ERR_VERSION);
	free(rec);
	/* the card goes, its blobs with it; the other card's stay */
	t = wtxn(inv);
	guid_of(1, c.guid);
	assert_int_equal(inv_card_del(t, c.guid), INV_OK);
	assert_int_equal(inv_escrows_of_card(t, c.guid, count_escrow, &n),
	    INV_OK);
	assert_int_equal(n, 0);
	guid_of(2, c.guid);
	assert_int_equal(inv_escrows_of_card(t, c.guid, count_escrow, &n),
	    INV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(inv_commit(t), INV_OK);
	assert_int_equal(raw_count(inv, "inv_escrow", NULL, 0), 1);
	inv_close(inv);
}

/* Stock entries: put refuses a missing card record and a duplicate; the
 * record round-trips; a trailing byte or a newer version is refused. */
static void
stock_entries(void **state)
{
	struct inv *inv = open_inv(0);
	struct inv_txn *t = wtxn(inv);
	struct inv_card c;
	struct inv_stock s, back;
	uint8_t *rec, buf[1024];
	size_t len;
	unsigned n = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	strcpy(s.serial, "6101");
	guid_of(9, s.guid);
	strcpy(s.model, "piv-yubico");
	strcpy(s.location, "hq");
	strcpy(s.batch, "B1");
	strcpy(s.by, "olivia");
	s.received = s.updated = NOW;
	assert_int_equal(inv_stock_put(t, &s, INV_PUT_NEW), INV_ERR_NOTFOUND);
	sample_card(&c, 9, "", INV_CARD_BLANK);
	assert_int_equal(inv_card_put(t, &c, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_stock_put(t, &s, INV_PUT_NEW), INV_OK);
	assert_int_equal(inv_stock_put(t, &s, INV_PUT_NEW), INV_ERR_EXISTS);
	assert_int_equal(inv_stock_get(t, "6101", &back), INV_OK);
	assert_memory_equal(&s, &back, sizeof(s));
	assert_int_equal(inv_stock_foreach(t, count_stock, &n), INV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(inv_stock_encode(&s, &rec, &len), INV_OK);
	assert_true(len < sizeof(buf));
	memcpy(buf, rec, len);
	free(rec);
	buf[len] = 0;
	assert_int_equal(inv_stock_decode(buf, len + 1, &back), INV_ERR_FORMAT);
	buf[0] = 2;
	assert_int_equal(inv_stock_decode(buf, len, &back), INV_ERR_VERSION);
	s.model[0] = '\0';
	assert_int_equal(inv_stock_put(t, &s, 0), INV_ERR_ARG);
	assert_int_equal(inv_stock_del(t, "6101"), INV_OK);
	assert_int_equal(inv_stock_del(t, "6101"), INV_ERR_NOTFOUND);
	assert_int_equal(inv_commit(t), INV_OK);
	inv_close(inv);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
schema_refuse(void **state)
{
	struct inv *inv = (struct inv *)1;
	char path[128];
	uint8_t *a, *b;
	size_t la, lb;

	(void)state;
	make_v1(INV_SCHEMA_VERSION + 1);	/* newer than this code knows */
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	a = slurp(path, &la);
	assert_int_equal(inv_open(dir, 0, &inv), INV_ERR_SCHEMA);
	assert_null(inv);
	b = slurp(path, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);		/* not touched */
	assert_int_equal(raw_schema(), INV_SCHEMA_VERSION + 1);
	free(a);
	free(b);
}

static void
schema_missing(void **state)
{
	MDB_env *env;
	MDB_txn *txn;
	struct inv *inv;

	(void)state;
	/* inv_meta exists but holds no schema: not ours to guess at */
	env = raw_env();
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	raw_put(txn, "inv_meta", 0, "other", 5, "x", 1);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(inv_open(dir, 0, &inv), INV_ERR_SCHEMA);
	assert_string_equal(inv_errname(INV_ERR_SCHEMA), "INV_ERR_SCHEMA");
	assert_string_equal(inv_errname(INV_ERR_FULL), "INV_ERR_FULL");
}

/*
 * Seed corpus for fuzz_inv_rec (first byte selects the decoder), from the
 * encoders; each seed must decode. With INV_SEED_DIR set, also written there.
 */
static void
seed(int sel, const uint8_t *rec, size_t len)
{
	static int seq[13];
	const char *sdir = getenv("INV_SEED_DIR");
	union {
		struct inv_holder h;
		struct inv_card c;
		struct inv_event e;
		struct inv_cert ct;
		struct inv_op op;
		struct inv_step st;
		struct audit_entry ae;
		struct audit_ckpt ck;
		struct inv_escrow es;
	} *u = malloc(sizeof(*u));
	char path[512];
	uint8_t b = (uint8_t)sel;
	FILE *f;
	int rc = -100;

	assert_non_null(u);
	switch (sel) {
	case 0: rc = inv_holder_decode(rec, len, &u->h); break;
	case 1: rc = inv_card_decode(rec, len, &u->c); break;
	case 2: rc = inv_card_decode_v1(rec, len, &u->c); break;
	case 3: rc = inv_event_decode(rec, len, &u->e); break;
	case 4: rc = inv_cert_decode(rec, len, &u->ct); break;
	case 5: rc = inv_op_decode(rec, len, &u->op); break;
	case 6: rc = inv_step_decode(rec, len, &u->st); break;
	case 7: rc = audit_entry_decode(rec, len, &u->ae); break;
	case 8: rc = audit_ckpt_decode(rec, len, &u->ck); break;
	case 9: rc = inv_holder_decode_v1(rec, len, &u->h); break;
	case 10: rc = inv_certsum_decode(rec, len, &u->ct); break;
	case 12: rc = inv_escrow_decode(rec, len, &u->es); break;
	}
	assert_int_equal(rc, INV_OK);
	free(u);
	if (sdir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/seed%d_%d", sdir, sel, seq[sel]++);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(&b, 1, 1, f), 1);
	assert_int_equal(fwrite(rec, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
seed_enc(int sel, int rc, uint8_t *rec, size_t len)
{
	assert_int_equal(rc, INV_OK);
	seed(sel, rec, len);
	free(rec);
}

static void
seeds(void **state)
{
	struct inv_holder h;
	struct inv_card c;
	struct inv_event e;
	struct inv_cert *ct = malloc(sizeof(*ct));
	struct inv_op op;
	struct inv_step *st = malloc(sizeof(*st));
	struct audit_entry ae;
	struct audit_ckpt ck;
	struct inv_escrow es;
	uint8_t *rec, buf[8192];
	size_t len;
	int rc;

	(void)state;
	assert_non_null(ct);
	assert_non_null(st);
	sample_holder(&h, "E1001");
	h.nanswers = 2;
	rc = inv_holder_encode(&h, &rec, &len);
	seed_enc(0, rc, rec, len);
	sample_card(&c, 1, "E1001", INV_CARD_ACTIVE);
	rc = inv_card_encode(&c, &rec, &len);
	seed_enc(1, rc, rec, len);
	len = v1_card(&c, buf, sizeof(buf));
	seed(2, buf, len);
	len = v1_holder(&h, buf, sizeof(buf));
	seed(9, buf, len);
	memset(&e, 0, sizeof(e));
	strcpy(e.name, "issued");
	strcpy(e.detail, "profile piv-standard v4");
	rc = inv_event_encode(&e, &rec, &len);
	seed_enc(3, rc, rec, len);
	sample_cert(ct, 1, 1, NOW);
	ct->der_len = 64;
	rc = inv_cert_encode(ct, &rec, &len);
	seed_enc(4, rc, rec, len);
	rc = inv_certsum_encode(ct, &rec, &len);
	seed_enc(10, rc, rec, len);
	sample_op(&op, "issue", 1);
	rc = inv_op_encode(&op, &rec, &len);
	seed_enc(5, rc, rec, len);
	sample_step(st, 1, 2);
	rc = inv_step_encode(st, &rec, &len);
	seed_enc(6, rc, rec, len);
	memset(&ae, 0, sizeof(ae));
	ae.seq = 5;
	strcpy(ae.event, "card.issue");
	strcpy(ae.actor, "op-alice");
	rc = audit_entry_encode(&ae, &rec, &len);
	seed_enc(7, rc, rec, len);
	memset(&ck, 0, sizeof(ck));
	ck.seq = 5;
	ck.sig_len = 70;
	rc = audit_ckpt_encode(&ck, &rec, &len);
	seed_enc(8, rc, rec, len);
	/* second seeds: the sparse shapes (empty fields, no lists, no blobs) */
	memset(&h, 0, sizeof(h));
	strcpy(h.id, "x");
	rc = inv_holder_encode(&h, &rec, &len);
	seed_enc(0, rc, rec, len);
	sample_card(&c, 2, "", INV_CARD_DAMAGED);
	c.atr_len = 0;
	c.escrow_len = 0;
	rc = inv_card_encode(&c, &rec, &len);
	seed_enc(1, rc, rec, len);
	len = v1_card(&c, buf, sizeof(buf));
	seed(2, buf, len);
	sample_cert(ct, 2, 2, NOW);
	ct->der_len = 0;
	ct->status = INV_CERT_PENDING_REVOKE;
	ct->reason = 10;
	rc = inv_cert_encode(ct, &rec, &len);
	seed_enc(4, rc, rec, len);
	sample_step(st, 3, 0);
	st->data_len = 0;
	rc = inv_step_encode(st, &rec, &len);
	seed_enc(6, rc, rec, len);
	ae.seq = 1;
	ae.result = -4;
	strcpy(ae.detail, "refused");
	memset(ae.hash, 0xAB, sizeof(ae.hash));
	rc = audit_entry_encode(&ae, &rec, &len);
	seed_enc(7, rc, rec, len);
	sample_escrow(&es, 1, 1);
	rc = inv_escrow_encode(&es, &rec, &len);
	seed_enc(12, rc, rec, len);
	free(ct);
	free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rec_holder),
		cmocka_unit_test(rec_card),
		cmocka_unit_test(rec_others),
		cmocka_unit_test_setup_teardown(store_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(store_events, setup, teardown),
		cmocka_unit_test_setup_teardown(store_certs, setup, teardown),
		cmocka_unit_test_setup_teardown(expiry_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(store_ops, setup, teardown),
		cmocka_unit_test_setup_teardown(readers, setup, teardown),
		cmocka_unit_test_setup_teardown(holders_list, setup, teardown),
		cmocka_unit_test_setup_teardown(full_map, setup, teardown),
#ifdef INV_TEST_HOOKS
		cmocka_unit_test_setup_teardown(fault_every_write, setup,
		    teardown),
#endif
		cmocka_unit_test_setup_teardown(schema_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_migrate2, setup, teardown),
		cmocka_unit_test_setup_teardown(card_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_migrate_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_migrate_v5, setup, teardown),
		cmocka_unit_test_setup_teardown(stock_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_migrate_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(escrow_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(schema_missing, setup, teardown),
		cmocka_unit_test(seeds),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
