/* buf: bounded readers and writers. See buf.h. */
#include <string.h>

#include "buf.h"

const char *
buf_strerror(int err)
{
	switch (err) {
	case BUF_OK:		return "success";
	case BUF_ERR_SHORT:	return "input truncated";
	case BUF_ERR_TRAILING:	return "unexpected trailing data";
	case BUF_ERR_NOSPACE:	return "output buffer too small";
	case BUF_ERR_INVALID:	return "invalid argument";
	default:		return "unknown buf error";
	}
}

void
buf_reader_init(struct buf_reader *r, const void *data, size_t len)
{
	/* NULL + 0 is undefined in C: an empty reader over NULL does no arithmetic. */
	r->p = data;
	r->end = data != NULL ? r->p + len : r->p;
}

size_t
buf_left(const struct buf_reader *r)
{
	return (size_t)(r->end - r->p);
}

int
buf_get_ptr(struct buf_reader *r, size_t n, const uint8_t **p)
{
	*p = NULL;
	if (buf_left(r) < n)
		return BUF_ERR_SHORT;
	*p = r->p;
	if (n > 0)
		r->p += n;
	return BUF_OK;
}

int
buf_get_bytes(struct buf_reader *r, void *out, size_t n)
{
	const uint8_t *p;
	int rc = buf_get_ptr(r, n, &p);

	if (rc == BUF_OK && n > 0)
		memcpy(out, p, n);
	return rc;
}

int
buf_skip(struct buf_reader *r, size_t n)
{
	const uint8_t *p;

	return buf_get_ptr(r, n, &p);
}

int
buf_get_u8(struct buf_reader *r, uint8_t *v)
{
	return buf_get_bytes(r, v, 1);
}

int
buf_get_u16be(struct buf_reader *r, uint16_t *v)
{
	const uint8_t *p;
	int rc = buf_get_ptr(r, 2, &p);

	if (rc == BUF_OK)
		*v = (uint16_t)(p[0] << 8 | p[1]);
	return rc;
}

int
buf_get_u32be(struct buf_reader *r, uint32_t *v)
{
	const uint8_t *p;
	int rc = buf_get_ptr(r, 4, &p);

	if (rc == BUF_OK)
		*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
	return rc;
}

int
buf_get_u64be(struct buf_reader *r, uint64_t *v)
{
	uint32_t hi, lo;
	int rc;

	if ((rc = buf_get_u32be(r, &hi)) == BUF_OK &&
	    (rc = buf_get_u32be(r, &lo)) == BUF_OK)
		*v = (uint64_t)hi << 32 | lo;
	return rc;
}

int
buf_expect_end(const struct buf_reader *r)
{
	return buf_left(r) == 0 ? BUF_OK : BUF_ERR_TRAILING;
}

void
buf_writer_init(struct buf_writer *w, void *mem, size_t cap)
{
	w->p = mem;
	w->cap = mem != NULL ? cap : 0;
	w->len = 0;
	w->err = BUF_OK;
}

uint8_t *
buf_reserve(struct buf_writer *w, size_t n)
{
	uint8_t *at;

	if (w->err != BUF_OK)
		return NULL;
	if (w->cap - w->len < n) {
		w->err = BUF_ERR_NOSPACE;
		return NULL;
	}
	at = w->p + w->len;
	w->len += n;
	return at;
}

void
buf_put_bytes(struct buf_writer *w, const void *data, size_t n)
{
	uint8_t *at = buf_reserve(w, n);

	if (at != NULL && n > 0)
		memcpy(at, data, n);
}

void
buf_put_u8(struct buf_writer *w, uint8_t v)
{
	buf_put_bytes(w, &v, 1);
}

void
buf_put_u16be(struct buf_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_put_bytes(w, b, sizeof(b));
}

void
buf_put_u32be(struct buf_writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	buf_put_bytes(w, b, sizeof(b));
}

void
buf_put_u64be(struct buf_writer *w, uint64_t v)
{
	buf_put_u32be(w, (uint32_t)(v >> 32));
	buf_put_u32be(w, (uint32_t)v);
}

int
buf_writer_error(const struct buf_writer *w)
{
	return w->err;
}
