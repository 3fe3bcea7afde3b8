/*
 * buf: bounded readers and writers for untrusted and outgoing bytes.
 *
 * Every parser in the station reads through a struct buf_reader, which checks
 * each access against an end pointer and never copies past it. Writers have a
 * fixed capacity and a sticky error: after the first overflow every further put
 * is ignored and buf_writer_error() reports BUF_ERR_NOSPACE, so a caller may
 * emit a whole message and check once.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdint.h>

enum buf_err {
	BUF_OK = 0,
	BUF_ERR_SHORT = -1,	/* fewer bytes left than asked for */
	BUF_ERR_TRAILING = -2,	/* bytes left over where none may be */
	BUF_ERR_NOSPACE = -3,	/* writer capacity exceeded */
	BUF_ERR_INVALID = -4,	/* bad argument */
};

const char *buf_strerror(int err);

struct buf_reader {
	const uint8_t *p;
	const uint8_t *end;
};

/* Reader over [data, data+len). data may be NULL only if len is 0. */
void buf_reader_init(struct buf_reader *r, const void *data, size_t len);
size_t buf_left(const struct buf_reader *r);
int buf_get_u8(struct buf_reader *r, uint8_t *v);
int buf_get_u16be(struct buf_reader *r, uint16_t *v);
int buf_get_u32be(struct buf_reader *r, uint32_t *v);
int buf_get_u64be(struct buf_reader *r, uint64_t *v);
/* [out] *p points into the reader's buffer (not copied); valid while it is. */
int buf_get_ptr(struct buf_reader *r, size_t n, const uint8_t **p);
/* Copies n bytes into out. */
int buf_get_bytes(struct buf_reader *r, void *out, size_t n);
int buf_skip(struct buf_reader *r, size_t n);
/* BUF_OK if nothing is left, BUF_ERR_TRAILING otherwise. */
int buf_expect_end(const struct buf_reader *r);

struct buf_writer {
	uint8_t *p;
	size_t cap;
	size_t len;
	int err;
};

void buf_writer_init(struct buf_writer *w, void *mem, size_t cap);
void buf_put_u8(struct buf_writer *w, uint8_t v);
void buf_put_u16be(struct buf_writer *w, uint16_t v);
void buf_put_u32be(struct buf_writer *w, uint32_t v);
void buf_put_u64be(struct buf_writer *w, uint64_t v);
void buf_put_bytes(struct buf_writer *w, const void *data, size_t n);
/* Reserve n bytes and return where they start, or NULL (sticky error set). */
uint8_t *buf_reserve(struct buf_writer *w, size_t n);
int buf_writer_error(const struct buf_writer *w);

#endif /* BUF_H */
