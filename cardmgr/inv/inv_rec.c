/*
 * inv_rec: the inventory record formats (big-endian). Every record starts
 * with its version byte and a type byte, then the fields in struct order;
 * text is u16 length + bytes (no NUL), blobs u32 length + bytes:
 *
 *   holder v2  2 'H' id name email org manager_email nattrs {key value}*
 *              nanswers {question:u8 hash}* unblock_failures:u32
 *              locked_until:u64 created:u64 updated:u64
 *   holder v1  as v2 without manager_email (schemas 1 and 2; migration)
 *   card   v2  2 'C' guid[16] serial atr(blob) model profile
 *              profile_version:u32 state:u8 pending_ca:u16 holder
 *              mk_version:u32 escrow(blob) created updated expires (u64)
 *   card   v1  as v2 without expires (schema 1; decoded by the migration)
 *   event  v1  1 'E' guid[16] seq:u32 time:u64 name actor detail
 *   cert   v1  1 'X' serial issuer subject guid[16] slot:u8 not_before:u64
 *              not_after:u64 status:u8 reason:u8 der(blob)
 *   op     v1  1 'O' id:u64 type state:u8 guid[16] holder oper step:u32
 *              created:u64 updated:u64
 *   step   v1  1 'S' op_id:u64 no:u32 name state:u8 data(blob)
 *
 * Each field is checked against the limits in inv.h on encode and decode, so
 * what decodes re-encodes to the same bytes (the fuzz harness checks that).
 */
#include "inv_int.h"

#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sodium.h>

_Static_assert(INV_ANSWER_HASH_MAX + 1 == crypto_pwhash_STRBYTES,
    "answer hash field must hold a crypto_pwhash_str string");

#define V_HOLDER 2
#define V_HOLDER1 1
#define V_CARD 2
#define V_CARD1 1
#define V_EVENT 1
#define V_CERT 1
#define V_CERTSUM 1
#define V_OP 1
#define V_STEP 1
/* Bound on an encoding: each field's length prefix (<= 4 bytes) replaces
 * a NUL or a length member of the struct, plus the header. */
#define SLACK 256
#define ARGON2ID_PREFIX "$argon2id$"

void
rec_put_u64(struct buf_writer *w, uint64_t v)
{
	buf_put_u32be(w, (uint32_t)(v >> 32));
	buf_put_u32be(w, (uint32_t)v);
}

int
rec_get_u64(struct buf_reader *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (buf_get_u32be(r, &hi) != BUF_OK || buf_get_u32be(r, &lo) != BUF_OK)
		return INV_ERR_FORMAT;
	*v = (uint64_t)hi << 32 | lo;
	return INV_OK;
}

int
rec_put_text(struct buf_writer *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return INV_ERR_ARG;
	buf_put_u16be(w, (uint16_t)n);
	buf_put_bytes(w, s, n);
	return INV_OK;
}

int
rec_get_text(struct buf_reader *r, char *dst, size_t max)
{
	const uint8_t *p;
	uint16_t n;

	if (buf_get_u16be(r, &n) != BUF_OK || n > max ||
	    buf_get_ptr(r, n, &p) != BUF_OK || memchr(p, 0, n) != NULL)
		return INV_ERR_FORMAT;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return INV_OK;
}

void
rec_put_blob(struct buf_writer *w, const void *p, size_t len)
{
	buf_put_u32be(w, (uint32_t)len);
	buf_put_bytes(w, p, len);
}

int
rec_get_blob(struct buf_reader *r, uint8_t *dst, size_t max, size_t *len)
{
	const uint8_t *p;
	uint32_t n;

	if (buf_get_u32be(r, &n) != BUF_OK || n > max ||
	    buf_get_ptr(r, n, &p) != BUF_OK)
		return INV_ERR_FORMAT;
	memcpy(dst, p, n);
	*len = n;
	return INV_OK;
}

int
rec_get_header(struct buf_reader *r, uint8_t magic, uint8_t version)
{
	uint8_t v, m;

	if (buf_get_u8(r, &v) != BUF_OK || buf_get_u8(r, &m) != BUF_OK ||
	    m != magic)
		return INV_ERR_FORMAT;
	if (v != version)
		return v > version ? INV_ERR_VERSION : INV_ERR_FORMAT;
	return INV_OK;
}

int
rec_finish(struct buf_writer *w, uint8_t *mem, size_t cap, uint8_t **out,
    size_t *len)
{
	if (buf_writer_error(w) != BUF_OK) {
		OPENSSL_cleanse(mem, cap);
		free(mem);
		return INV_ERR_ARG;
	}
	*out = mem;
	*len = w->len;
	return INV_OK;
}

/* Start an encode: [out] *mem of cap bytes, writer on it. */
static int
rec_start(struct buf_writer *w, uint8_t **mem, size_t cap, uint8_t version,
    uint8_t magic, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if ((*mem = malloc(cap)) == NULL)
		return INV_ERR_NOMEM;
	buf_writer_init(w, *mem, cap);
	buf_put_u8(w, version);
	buf_put_u8(w, magic);
	return INV_OK;
}

/* Abandon an encode whose struct did not validate. */
static int
rec_reject(uint8_t *mem, size_t cap, int rc)
{
	OPENSSL_cleanse(mem, cap);
	free(mem);
	return rc;
}

int
inv_cert_serial_ok(const char *s)
{
	size_t n = strnlen(s, INV_CERT_SERIAL_MAX + 1), i;

	if (n == 0 || n > INV_CERT_SERIAL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
answer_ok(const struct inv_answer *a)
{
	size_t n = strnlen(a->hash, INV_ANSWER_HASH_MAX + 1);

	return n <= INV_ANSWER_HASH_MAX &&
	    strncmp(a->hash, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) == 0;
}

/* ---- holder ---- */

void
inv_holder_clear(struct inv_holder *h)
{
	if (h != NULL)
		OPENSSL_cleanse(h, sizeof(*h));
}

static int
holder_ok(const struct inv_holder *h)
{
	unsigned i;

	if (h->id[0] == '\0' || h->nattrs > INV_ATTRS_MAX ||
	    strnlen(h->manager_email, INV_EMAIL_MAX + 1) > INV_EMAIL_MAX ||
	    h->nanswers > INV_ANSWERS_MAX)
		return 0;
	for (i = 0; i < h->nattrs; i++)
		if (h->attrs[i].key[0] == '\0')
			return 0;
	for (i = 0; i < h->nanswers; i++)
		if (!answer_ok(&h->answers[i]))
			return 0;
	return 1;
}

int
inv_holder_encode(const struct inv_holder *h, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*h) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	unsigned i;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_HOLDER, 'H', out, len)) != INV_OK)
		return rc;
	if (!holder_ok(h))
		return rec_reject(mem, cap, INV_ERR_ARG);
	if (rec_put_text(&w, h->id, INV_ID_MAX) != INV_OK ||
	    rec_put_text(&w, h->name, INV_NAME_MAX) != INV_OK ||
	    rec_put_text(&w, h->email, INV_EMAIL_MAX) != INV_OK ||
	    rec_put_text(&w, h->org, INV_NAME_MAX) != INV_OK ||
	    rec_put_text(&w, h->manager_email, INV_EMAIL_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u8(&w, h->nattrs);
	for (i = 0; i < h->nattrs; i++)
		if (rec_put_text(&w, h->attrs[i].key, INV_ATTR_KEY_MAX) != INV_OK ||
		    rec_put_text(&w, h->attrs[i].value,
		    INV_ATTR_VALUE_MAX) != INV_OK)
			return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u8(&w, h->nanswers);
	for (i = 0; i < h->nanswers; i++) {
		buf_put_u8(&w, h->answers[i].question);
		(void)rec_put_text(&w, h->answers[i].hash, INV_ANSWER_HASH_MAX);
	}
	buf_put_u32be(&w, h->unblock_failures);
	rec_put_u64(&w, h->unblock_locked_until);
	rec_put_u64(&w, h->created);
	rec_put_u64(&w, h->updated);
	return rec_finish(&w, mem, cap, out, len);
}

static int
holder_fields(struct buf_reader *r, struct inv_holder *h, uint8_t version)
{
	unsigned i;

	if (rec_get_text(r, h->id, INV_ID_MAX) != INV_OK ||
	    rec_get_text(r, h->name, INV_NAME_MAX) != INV_OK ||
	    rec_get_text(r, h->email, INV_EMAIL_MAX) != INV_OK ||
	    rec_get_text(r, h->org, INV_NAME_MAX) != INV_OK ||
	    (version >= 2 && rec_get_text(r, h->manager_email,
	    INV_EMAIL_MAX) != INV_OK) ||
	    buf_get_u8(r, &h->nattrs) != BUF_OK || h->nattrs > INV_ATTRS_MAX)
		return INV_ERR_FORMAT;
	for (i = 0; i < h->nattrs; i++)
		if (rec_get_text(r, h->attrs[i].key, INV_ATTR_KEY_MAX) != INV_OK ||
		    rec_get_text(r, h->attrs[i].value,
		    INV_ATTR_VALUE_MAX) != INV_OK)
			return INV_ERR_FORMAT;
	if (buf_get_u8(r, &h->nanswers) != BUF_OK ||
	    h->nanswers > INV_ANSWERS_MAX)
		return INV_ERR_FORMAT;
	for (i = 0; i < h->nanswers; i++)
		if (buf_get_u8(r, &h->answers[i].question) != BUF_OK ||
		    rec_get_text(r, h->answers[i].hash,
		    INV_ANSWER_HASH_MAX) != INV_OK)
			return INV_ERR_FORMAT;
	if (buf_get_u32be(r, &h->unblock_failures) != BUF_OK ||
	    rec_get_u64(r, &h->unblock_locked_until) != INV_OK ||
	    rec_get_u64(r, &h->created) != INV_OK ||
	    rec_get_u64(r, &h->updated) != INV_OK)
		return INV_ERR_FORMAT;
	return holder_ok(h) ? INV_OK : INV_ERR_FORMAT;
}

static int
holder_decode(const uint8_t *rec, size_t len, struct inv_holder *h,
    uint8_t version)
{
	struct buf_reader r;
	int rc;

	memset(h, 0, sizeof(*h));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'H', version)) == INV_OK &&
	    (rc = holder_fields(&r, h, version)) == INV_OK &&
	    buf_expect_end(&r) != BUF_OK)
		rc = INV_ERR_FORMAT;
	if (rc != INV_OK)
		inv_holder_clear(h);
	return rc;
}

int
inv_holder_decode(const uint8_t *rec, size_t len, struct inv_holder *h)
{
	return holder_decode(rec, len, h, V_HOLDER);
}

int
inv_holder_decode_v1(const uint8_t *rec, size_t len, struct inv_holder *h)
{
	return holder_decode(rec, len, h, V_HOLDER1);
}

/* ---- card ---- */

static int
card_ok(const struct inv_card *c)
{
	return c->serial[0] != '\0' && c->atr_len <= INV_ATR_MAX &&
	    c->state < INV_CARD_NSTATES && c->escrow_len <= INV_ESCROW_MAX;
}

static int
card_encode(const struct inv_card *c, uint8_t version, uint8_t **out,
    size_t *len)
{
	size_t cap = sizeof(*c) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, version, 'C', out, len)) != INV_OK)
		return rc;
	if (!card_ok(c))
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_bytes(&w, c->guid, INV_GUID_LEN);
	if (rec_put_text(&w, c->serial, INV_SERIAL_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	rec_put_blob(&w, c->atr, c->atr_len);
	if (rec_put_text(&w, c->model, INV_NAME_MAX) != INV_OK ||
	    rec_put_text(&w, c->profile, INV_NAME_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u32be(&w, c->profile_version);
	buf_put_u8(&w, c->state);
	buf_put_u16be(&w, c->pending_ca);
	if (rec_put_text(&w, c->holder, INV_ID_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u32be(&w, c->mk_version);
	rec_put_blob(&w, c->escrow, c->escrow_len);
	rec_put_u64(&w, c->created);
	rec_put_u64(&w, c->updated);
	if (version >= 2)
		rec_put_u64(&w, c->expires);
	return rec_finish(&w, mem, cap, out, len);
}

int
inv_card_encode(const struct inv_card *c, uint8_t **out, size_t *len)
{
	return card_encode(c, V_CARD, out, len);
}

static int
card_fields(struct buf_reader *r, struct inv_card *c, uint8_t version)
{
	size_t n;

	if (buf_get_bytes(r, c->guid, INV_GUID_LEN) != BUF_OK ||
	    rec_get_text(r, c->serial, INV_SERIAL_MAX) != INV_OK ||
	    rec_get_blob(r, c->atr, INV_ATR_MAX, &n) != INV_OK)
		return INV_ERR_FORMAT;
	c->atr_len = (uint8_t)n;
	if (rec_get_text(r, c->model, INV_NAME_MAX) != INV_OK ||
	    rec_get_text(r, c->profile, INV_NAME_MAX) != INV_OK ||
	    buf_get_u32be(r, &c->profile_version) != BUF_OK ||
	    buf_get_u8(r, &c->state) != BUF_OK ||
	    buf_get_u16be(r, &c->pending_ca) != BUF_OK ||
	    rec_get_text(r, c->holder, INV_ID_MAX) != INV_OK ||
	    buf_get_u32be(r, &c->mk_version) != BUF_OK ||
	    rec_get_blob(r, c->escrow, INV_ESCROW_MAX, &n) != INV_OK)
		return INV_ERR_FORMAT;
	c->escrow_len = (uint16_t)n;
	if (rec_get_u64(r, &c->created) != INV_OK ||
	    rec_get_u64(r, &c->updated) != INV_OK ||
	    (version >= 2 && rec_get_u64(r, &c->expires) != INV_OK))
		return INV_ERR_FORMAT;
	return card_ok(c) ? INV_OK : INV_ERR_FORMAT;
}

static int
card_decode(const uint8_t *rec, size_t len, struct inv_card *c,
    uint8_t version)
{
	struct buf_reader r;
	int rc;

	memset(c, 0, sizeof(*c));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'C', version)) == INV_OK &&
	    (rc = card_fields(&r, c, version)) == INV_OK &&
	    buf_expect_end(&r) != BUF_OK)
		rc = INV_ERR_FORMAT;
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

int
inv_card_decode(const uint8_t *rec, size_t len, struct inv_card *c)
{
	return card_decode(rec, len, c, V_CARD);
}

int
inv_card_decode_v1(const uint8_t *rec, size_t len, struct inv_card *c)
{
	return card_decode(rec, len, c, V_CARD1);
}

/* ---- card history event ---- */

int
inv_event_encode(const struct inv_event *e, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*e) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_EVENT, 'E', out, len)) != INV_OK)
		return rc;
	buf_put_bytes(&w, e->guid, INV_GUID_LEN);
	buf_put_u32be(&w, e->seq);
	rec_put_u64(&w, e->time);
	if (e->name[0] == '\0' ||
	    rec_put_text(&w, e->name, INV_EVENT_MAX) != INV_OK ||
	    rec_put_text(&w, e->actor, INV_ID_MAX) != INV_OK ||
	    rec_put_text(&w, e->detail, INV_DETAIL_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	return rec_finish(&w, mem, cap, out, len);
}

int
inv_event_decode(const uint8_t *rec, size_t len, struct inv_event *e)
{
	struct buf_reader r;
	int rc;

	memset(e, 0, sizeof(*e));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'E', V_EVENT)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (buf_get_bytes(&r, e->guid, INV_GUID_LEN) != BUF_OK ||
	    buf_get_u32be(&r, &e->seq) != BUF_OK ||
	    rec_get_u64(&r, &e->time) != INV_OK ||
	    rec_get_text(&r, e->name, INV_EVENT_MAX) != INV_OK ||
	    e->name[0] == '\0' ||
	    rec_get_text(&r, e->actor, INV_ID_MAX) != INV_OK ||
	    rec_get_text(&r, e->detail, INV_DETAIL_MAX) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(e, 0, sizeof(*e));
	return rc;
}

/* ---- certificate ---- */

static int
cert_ok(const struct inv_cert *c)
{
	return inv_cert_serial_ok(c->serial) && c->status < INV_CERT_NSTATUS &&
	    c->reason <= 10 && c->der_len <= INV_DER_MAX;
}

int
inv_cert_encode(const struct inv_cert *c, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*c) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_CERT, 'X', out, len)) != INV_OK)
		return rc;
	if (!cert_ok(c) ||
	    rec_put_text(&w, c->serial, INV_CERT_SERIAL_MAX) != INV_OK ||
	    rec_put_text(&w, c->issuer, INV_DN_MAX) != INV_OK ||
	    rec_put_text(&w, c->subject, INV_DN_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_bytes(&w, c->guid, INV_GUID_LEN);
	buf_put_u8(&w, c->slot);
	rec_put_u64(&w, c->not_before);
	rec_put_u64(&w, c->not_after);
	buf_put_u8(&w, c->status);
	buf_put_u8(&w, c->reason);
	rec_put_blob(&w, c->der, c->der_len);
	return rec_finish(&w, mem, cap, out, len);
}

int
inv_cert_decode(const uint8_t *rec, size_t len, struct inv_cert *c)
{
	struct buf_reader r;
	size_t n = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'X', V_CERT)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_text(&r, c->serial, INV_CERT_SERIAL_MAX) != INV_OK ||
	    rec_get_text(&r, c->issuer, INV_DN_MAX) != INV_OK ||
	    rec_get_text(&r, c->subject, INV_DN_MAX) != INV_OK ||
	    buf_get_bytes(&r, c->guid, INV_GUID_LEN) != BUF_OK ||
	    buf_get_u8(&r, &c->slot) != BUF_OK ||
	    rec_get_u64(&r, &c->not_before) != INV_OK ||
	    rec_get_u64(&r, &c->not_after) != INV_OK ||
	    buf_get_u8(&r, &c->status) != BUF_OK ||
	    buf_get_u8(&r, &c->reason) != BUF_OK ||
	    rec_get_blob(&r, c->der, INV_DER_MAX, &n) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	c->der_len = (uint32_t)n;
	rc = cert_ok(c) ? INV_OK : INV_ERR_FORMAT;
out:
	if (rc != INV_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

/*
 * The expiry index's value: what a report shows of a certificate, so that
 * the report never reads the records (no issuer, no DER; the serial and
 * not_after are the index key's).
 */
int
inv_certsum_encode(const struct inv_cert *c, uint8_t **out, size_t *len)
{
	size_t cap = INV_DN_MAX + INV_GUID_LEN + 64;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_CERTSUM, 'S', out, len)) != INV_OK)
		return rc;
	if (c->status >= INV_CERT_NSTATUS || c->reason > 10 ||
	    rec_put_text(&w, c->subject, INV_DN_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_bytes(&w, c->guid, INV_GUID_LEN);
	buf_put_u8(&w, c->slot);
	rec_put_u64(&w, c->not_before);
	buf_put_u8(&w, c->status);
	buf_put_u8(&w, c->reason);
	return rec_finish(&w, mem, cap, out, len);
}

/* Zeroes c up to its DER (19 KB not touched: der_len = 0). */
int
inv_certsum_decode(const uint8_t *rec, size_t len, struct inv_cert *c)
{
	struct buf_reader r;
	int rc;

	memset(c, 0, offsetof(struct inv_cert, der));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'S', V_CERTSUM)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_text(&r, c->subject, INV_DN_MAX) != INV_OK ||
	    buf_get_bytes(&r, c->guid, INV_GUID_LEN) != BUF_OK ||
	    buf_get_u8(&r, &c->slot) != BUF_OK ||
	    rec_get_u64(&r, &c->not_before) != INV_OK ||
	    buf_get_u8(&r, &c->status) != BUF_OK ||
	    buf_get_u8(&r, &c->reason) != BUF_OK ||
	    buf_expect_end(&r) != BUF_OK ||
	    c->status >= INV_CERT_NSTATUS || c->reason > 10)
		goto out;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(c, 0, offsetof(struct inv_cert, der));
	return rc;
}

/* ---- operation ---- */

int
inv_op_encode(const struct inv_op *op, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*op) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_OP, 'O', out, len)) != INV_OK)
		return rc;
	rec_put_u64(&w, op->id);
	if (op->state > INV_OP_ROLLED_BACK || op->type[0] == '\0' ||
	    rec_put_text(&w, op->type, INV_EVENT_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u8(&w, op->state);
	buf_put_bytes(&w, op->guid, INV_GUID_LEN);
	if (rec_put_text(&w, op->holder, INV_ID_MAX) != INV_OK ||
	    rec_put_text(&w, op->oper, INV_ID_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u32be(&w, op->step);
	rec_put_u64(&w, op->created);
	rec_put_u64(&w, op->updated);
	return rec_finish(&w, mem, cap, out, len);
}

int
inv_op_decode(const uint8_t *rec, size_t len, struct inv_op *op)
{
	struct buf_reader r;
	int rc;

	memset(op, 0, sizeof(*op));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'O', V_OP)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_u64(&r, &op->id) != INV_OK ||
	    rec_get_text(&r, op->type, INV_EVENT_MAX) != INV_OK ||
	    op->type[0] == '\0' ||
	    buf_get_u8(&r, &op->state) != BUF_OK ||
	    op->state > INV_OP_ROLLED_BACK ||
	    buf_get_bytes(&r, op->guid, INV_GUID_LEN) != BUF_OK ||
	    rec_get_text(&r, op->holder, INV_ID_MAX) != INV_OK ||
	    rec_get_text(&r, op->oper, INV_ID_MAX) != INV_OK ||
	    buf_get_u32be(&r, &op->step) != BUF_OK ||
	    rec_get_u64(&r, &op->created) != INV_OK ||
	    rec_get_u64(&r, &op->updated) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(op, 0, sizeof(*op));
	return rc;
}

/* ---- journal step ---- */

int
inv_step_encode(const struct inv_step *s, uint8_t **out, size_t *len)
{
	size_t cap = sizeof(*s) + SLACK;
	struct buf_writer w;
	uint8_t *mem;
	int rc;

	if ((rc = rec_start(&w, &mem, cap, V_STEP, 'S', out, len)) != INV_OK)
		return rc;
	rec_put_u64(&w, s->op_id);
	buf_put_u32be(&w, s->no);
	if (s->state > INV_STEP_UNDONE || s->data_len > INV_STEP_DATA_MAX ||
	    s->name[0] == '\0' ||
	    rec_put_text(&w, s->name, INV_EVENT_MAX) != INV_OK)
		return rec_reject(mem, cap, INV_ERR_ARG);
	buf_put_u8(&w, s->state);
	rec_put_blob(&w, s->data, s->data_len);
	return rec_finish(&w, mem, cap, out, len);
}

int
inv_step_decode(const uint8_t *rec, size_t len, struct inv_step *s)
{
	struct buf_reader r;
	size_t n = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	buf_reader_init(&r, rec, len);
	if ((rc = rec_get_header(&r, 'S', V_STEP)) != INV_OK)
		goto out;
	rc = INV_ERR_FORMAT;
	if (rec_get_u64(&r, &s->op_id) != INV_OK ||
	    buf_get_u32be(&r, &s->no) != BUF_OK ||
	    rec_get_text(&r, s->name, INV_EVENT_MAX) != INV_OK ||
	    s->name[0] == '\0' ||
	    buf_get_u8(&r, &s->state) != BUF_OK ||
	    s->state > INV_STEP_UNDONE ||
	    rec_get_blob(&r, s->data, INV_STEP_DATA_MAX, &n) != INV_OK ||
	    buf_expect_end(&r) != BUF_OK)
		goto out;
	s->data_len = (uint32_t)n;
	rc = INV_OK;
out:
	if (rc != INV_OK)
		memset(s, 0, sizeof(*s));
	return rc;
}
