/*
 * outbox_rec: the outbox record format, version 1 (big-endian):
 *
 *   'O' 'B' version=1 type state reason
 *   attempts:u32 created:u64 next_try:u64 last_err:u32 txid[16]
 *   profile_len:u8 profile   detail_len:u8 detail
 *   payload_len:u32 payload  result_len:u32 result
 *
 * Decoding checks every length against what is left and against the limits
 * in outbox.h, and rejects trailing bytes; a record that does not parse is
 * reported, never guessed at.
 */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"

#define REC_VERSION 1
#define REC_FIXED (3 + 3 + 4 + 8 + 8 + 4 + OUTBOX_TXID_LEN + 1 + 1 + 4 + 4)

void
outbox_op_clear(struct outbox_op *op)
{
	if (op == NULL)
		return;
	free(op->payload);
	free(op->result);
	memset(op, 0, sizeof(*op));
}

int
outbox_rec_encode(const struct outbox_op *op, uint8_t **out, size_t *len)
{
	size_t pl = strlen(op->profile), dl = strlen(op->detail), cap;
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (pl > OUTBOX_PROFILE_MAX || dl > OUTBOX_DETAIL_MAX ||
	    op->payload_len > OUTBOX_PAYLOAD_MAX ||
	    op->result_len > OUTBOX_PAYLOAD_MAX)
		return OUTBOX_ERR_ARG;
	cap = REC_FIXED + pl + dl + op->payload_len + op->result_len;
	if ((mem = malloc(cap)) == NULL)
		return OUTBOX_ERR_NOMEM;
	buf_writer_init(&w, mem, cap);
	buf_put_bytes(&w, "OB", 2);
	buf_put_u8(&w, REC_VERSION);
	buf_put_u8(&w, op->type);
	buf_put_u8(&w, op->state);
	buf_put_u8(&w, op->reason);
	buf_put_u32be(&w, op->attempts);
	buf_put_u64be(&w, op->created);
	buf_put_u64be(&w, op->next_try);
	buf_put_u32be(&w, (uint32_t)op->last_err);
	buf_put_bytes(&w, op->txid, OUTBOX_TXID_LEN);
	buf_put_u8(&w, (uint8_t)pl);
	buf_put_bytes(&w, op->profile, pl);
	buf_put_u8(&w, (uint8_t)dl);
	buf_put_bytes(&w, op->detail, dl);
	buf_put_u32be(&w, (uint32_t)op->payload_len);
	buf_put_bytes(&w, op->payload, op->payload_len);
	buf_put_u32be(&w, (uint32_t)op->result_len);
	buf_put_bytes(&w, op->result, op->result_len);
	if (buf_writer_error(&w) != BUF_OK || w.len != cap) {
		free(mem);
		return OUTBOX_ERR_ARG;
	}
	*out = mem;
	*len = w.len;
	return OUTBOX_OK;
}

/* A length-prefixed text field, NUL-free, into dst[max + 1]. */
static int
get_text(struct buf_reader *r, char *dst, size_t max)
{
	const uint8_t *p;
	uint8_t n;

	if (buf_get_u8(r, &n) != BUF_OK || n > max ||
	    buf_get_ptr(r, n, &p) != BUF_OK || memchr(p, 0, n) != NULL)
		return OUTBOX_ERR_FORMAT;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return OUTBOX_OK;
}

static int
get_blob(struct buf_reader *r, uint8_t **dst, size_t *dlen)
{
	const uint8_t *p;
	uint32_t n;

	if (buf_get_u32be(r, &n) != BUF_OK || n > OUTBOX_PAYLOAD_MAX ||
	    buf_get_ptr(r, n, &p) != BUF_OK)
		return OUTBOX_ERR_FORMAT;
	if (n == 0)
		return OUTBOX_OK;
	if ((*dst = malloc(n)) == NULL)
		return OUTBOX_ERR_NOMEM;
	memcpy(*dst, p, n);
	*dlen = n;
	return OUTBOX_OK;
}

static int
get_header(struct buf_reader *r, struct outbox_op *op)
{
	uint8_t magic[2], ver;
	uint32_t err;

	if (buf_get_bytes(r, magic, 2) != BUF_OK || memcmp(magic, "OB", 2) != 0 ||
	    buf_get_u8(r, &ver) != BUF_OK)
		return OUTBOX_ERR_FORMAT;
	if (ver != REC_VERSION)
		return ver > REC_VERSION ? OUTBOX_ERR_VERSION : OUTBOX_ERR_FORMAT;
	if (buf_get_u8(r, &op->type) != BUF_OK ||
	    buf_get_u8(r, &op->state) != BUF_OK ||
	    buf_get_u8(r, &op->reason) != BUF_OK ||
	    buf_get_u32be(r, &op->attempts) != BUF_OK ||
	    buf_get_u64be(r, &op->created) != BUF_OK ||
	    buf_get_u64be(r, &op->next_try) != BUF_OK ||
	    buf_get_u32be(r, &err) != BUF_OK ||
	    buf_get_bytes(r, op->txid, OUTBOX_TXID_LEN) != BUF_OK)
		return OUTBOX_ERR_FORMAT;
	op->last_err = (int32_t)err;
	if (op->type < OUTBOX_ENROLL || op->type > OUTBOX_PUSH ||
	    op->state > OUTBOX_FAILED || op->reason > 10)
		return OUTBOX_ERR_FORMAT;
	return OUTBOX_OK;
}

int
outbox_rec_decode(const uint8_t *rec, size_t len, struct outbox_op *op)
{
	struct buf_reader r;
	uint64_t id = op->id;
	int rc;

	memset(op, 0, sizeof(*op));
	op->id = id;
	buf_reader_init(&r, rec, len);
	if ((rc = get_header(&r, op)) != OUTBOX_OK ||
	    (rc = get_text(&r, op->profile, OUTBOX_PROFILE_MAX)) != OUTBOX_OK ||
	    (rc = get_text(&r, op->detail, OUTBOX_DETAIL_MAX)) != OUTBOX_OK ||
	    (rc = get_blob(&r, &op->payload, &op->payload_len)) != OUTBOX_OK ||
	    (rc = get_blob(&r, &op->result, &op->result_len)) != OUTBOX_OK)
		goto out;
	if (buf_expect_end(&r) != BUF_OK)
		rc = OUTBOX_ERR_FORMAT;
out:
	if (rc != OUTBOX_OK) {
		outbox_op_clear(op);
		op->id = id;
	}
	return rc;
}
