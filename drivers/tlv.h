/*
 * tlv: BER-TLV as PIV (SP 800-73-4) and ISO 7816-4 use it.
 *
 * Tags are 1 to 3 bytes and are held as the big-endian integer of their bytes
 * (0x53, 0x7F49, 0x5FC105). Lengths use the short form or 81/82/83 long forms;
 * indefinite lengths and anything longer are rejected. Parsing never reads
 * outside the given buffer; values point into it.
 */
#ifndef TLV_H
#define TLV_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum tlv_err {
	TLV_OK = 0,
	TLV_ERR_SHORT = -1,	/* truncated tag, length or value */
	TLV_ERR_TAG = -2,	/* tag longer than 3 bytes or unexpected */
	TLV_ERR_LENGTH = -3,	/* unsupported length encoding */
	TLV_ERR_TRAILING = -4,	/* data after the expected end */
	TLV_ERR_NOTFOUND = -5,	/* tag not present */
	TLV_ERR_NOSPACE = -6,	/* output too small */
};

const char *tlv_strerror(int err);

struct tlv {
	uint32_t tag;
	const uint8_t *val;	/* points into the parsed buffer */
	size_t len;
};

/* Read one TLV from r. On error r is left unchanged. */
int tlv_next(struct buf_reader *r, struct tlv *t);
/* Read one TLV from r whose tag must be `tag` (else TLV_ERR_TAG). */
int tlv_expect(struct buf_reader *r, uint32_t tag, struct tlv *t);
/*
 * Find the first TLV with `tag` among the TLVs that exactly fill
 * [data, data+len). Malformed input is an error even if the tag comes first.
 */
int tlv_find(const uint8_t *data, size_t len, uint32_t tag, struct tlv *t);
/* Parse data as exactly one TLV with `tag` and nothing after it. */
int tlv_unwrap(const uint8_t *data, size_t len, uint32_t tag, struct tlv *t);

/* Encoded size of a TLV with this tag and value length. */
size_t tlv_size(uint32_t tag, size_t len);
size_t tlv_header_size(uint32_t tag, size_t len);
void tlv_put_header(struct buf_writer *w, uint32_t tag, size_t len);
void tlv_put(struct buf_writer *w, uint32_t tag, const void *val, size_t len);

#endif /* TLV_H */
