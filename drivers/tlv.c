/* tlv: bounded BER-TLV parsing and encoding. See tlv.h. */
#include "tlv.h"

#define TLV_MAX_LEN 0xFFFFFFu	/* 83 xx xx xx */

const char *
tlv_strerror(int err)
{
	switch (err) {
	case TLV_OK:		return "success";
	case TLV_ERR_SHORT:	return "TLV truncated";
	case TLV_ERR_TAG:	return "unexpected or oversized TLV tag";
	case TLV_ERR_LENGTH:	return "unsupported TLV length encoding";
	case TLV_ERR_TRAILING:	return "data after TLV";
	case TLV_ERR_NOTFOUND:	return "TLV tag not found";
	case TLV_ERR_NOSPACE:	return "TLV output buffer too small";
	default:		return "unknown tlv error";
	}
}

static int
read_tag(struct buf_reader *r, uint32_t *tag)
{
	uint8_t b;
	int i;

	if (buf_get_u8(r, &b) != BUF_OK)
		return TLV_ERR_SHORT;
	*tag = b;
	if ((b & 0x1F) != 0x1F)
		return TLV_OK;
	for (i = 1; i < 3; i++) {
		if (buf_get_u8(r, &b) != BUF_OK)
			return TLV_ERR_SHORT;
		*tag = *tag << 8 | b;
		if (!(b & 0x80))
			return TLV_OK;
	}
	return TLV_ERR_TAG;
}

static int
read_len(struct buf_reader *r, size_t *len)
{
	uint8_t b, n;
	size_t v = 0;

	if (buf_get_u8(r, &b) != BUF_OK)
		return TLV_ERR_SHORT;
	if (b < 0x80) {
		*len = b;
		return TLV_OK;
	}
	n = b & 0x7F;
	if (n == 0 || n > 3)
		return TLV_ERR_LENGTH;
	while (n-- > 0) {
		if (buf_get_u8(r, &b) != BUF_OK)
			return TLV_ERR_SHORT;
		v = v << 8 | b;
	}
	*len = v;
	return TLV_OK;
}

int
tlv_next(struct buf_reader *r, struct tlv *t)
{
	struct buf_reader tmp = *r;
	int rc;

	t->tag = 0;
	t->val = NULL;
	t->len = 0;
	if ((rc = read_tag(&tmp, &t->tag)) != TLV_OK)
		return rc;
	if ((rc = read_len(&tmp, &t->len)) != TLV_OK)
		return rc;
	if (buf_get_ptr(&tmp, t->len, &t->val) != BUF_OK)
		return TLV_ERR_SHORT;
	*r = tmp;
	return TLV_OK;
}

int
tlv_expect(struct buf_reader *r, uint32_t tag, struct tlv *t)
{
	struct buf_reader tmp = *r;
	int rc;

	if ((rc = tlv_next(&tmp, t)) != TLV_OK)
		return rc;
	if (t->tag != tag)
		return TLV_ERR_TAG;
	*r = tmp;
	return TLV_OK;
}

int
tlv_find(const uint8_t *data, size_t len, uint32_t tag, struct tlv *t)
{
	struct buf_reader r;
	struct tlv cur, found = { 0, NULL, 0 };
	int rc, have = 0;

	buf_reader_init(&r, data, len);
	while (buf_left(&r) > 0) {
		if ((rc = tlv_next(&r, &cur)) != TLV_OK)
			return rc;
		if (!have && cur.tag == tag) {
			found = cur;
			have = 1;
		}
	}
	*t = found;
	return have ? TLV_OK : TLV_ERR_NOTFOUND;
}

int
tlv_unwrap(const uint8_t *data, size_t len, uint32_t tag, struct tlv *t)
{
	struct buf_reader r;
	int rc;

	buf_reader_init(&r, data, len);
	if ((rc = tlv_expect(&r, tag, t)) != TLV_OK)
		return rc;
	return buf_left(&r) == 0 ? TLV_OK : TLV_ERR_TRAILING;
}

static size_t
tag_size(uint32_t tag)
{
	return tag > 0xFFFF ? 3 : tag > 0xFF ? 2 : 1;
}

static size_t
len_size(size_t len)
{
	return len < 0x80 ? 1 : len <= 0xFF ? 2 : len <= 0xFFFF ? 3 : 4;
}

size_t
tlv_header_size(uint32_t tag, size_t len)
{
	return tag_size(tag) + len_size(len);
}

size_t
tlv_size(uint32_t tag, size_t len)
{
	return tlv_header_size(tag, len) + len;
}

void
tlv_put_header(struct buf_writer *w, uint32_t tag, size_t len)
{
	size_t n = tag_size(tag), l = len_size(len);

	if (len > TLV_MAX_LEN) {
		w->err = BUF_ERR_INVALID;
		return;
	}
	while (n-- > 0)
		buf_put_u8(w, (uint8_t)(tag >> (8 * n)));
	if (l > 1)
		buf_put_u8(w, (uint8_t)(0x80 | (l - 1)));
	while (l-- > 1)
		buf_put_u8(w, (uint8_t)(len >> (8 * (l - 1))));
	if (len < 0x80)
		buf_put_u8(w, (uint8_t)len);
}

void
tlv_put(struct buf_writer *w, uint32_t tag, const void *val, size_t len)
{
	tlv_put_header(w, tag, len);
	buf_put_bytes(w, val, len);
}
