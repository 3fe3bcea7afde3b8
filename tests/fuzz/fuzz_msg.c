/*
 * libFuzzer harness: the inter-process message decoders (proc/msg), every
 * type, and the engine's MSG_REQ re-validation (ops_req_decode). The input
 * is one datagram. A message that decodes must re-encode, field by field
 * through the builder, to the same bytes: the decoder may accept nothing
 * the builder would not produce.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/msg.h"
#include "proc/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct msg m;
static struct ops_req r;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_builder b;
	struct msg_hdr h;
	const uint8_t *out;
	size_t i, len;

	if (msg_hdr_parse(data, size, &h) != MSG_OK) {
		if (msg_decode(data, size, &m) == MSG_OK)
			abort();	/* the header check is part of decoding */
		return 0;
	}
	if (msg_decode(data, size, &m) != MSG_OK)
		return 0;
	if (m.hdr.type != h.type || m.hdr.id != h.id || m.hdr.len != h.len)
		abort();
	if (msg_builder_init(&b) != MSG_OK)
		abort();
	for (i = 0; i < m.nfields; i++)
		msg_put_bytes(&b, m.f[i].tag, m.f[i].p, m.f[i].len);
	if (msg_finish(&b, m.hdr.type, m.hdr.id, &out, &len) != MSG_OK ||
	    len != size || memcmp(out, data, size) != 0)
		abort();
	msg_builder_clear(&b);
	if (m.hdr.type == MSG_REQ && ops_req_decode(&m, &r) == OPS_OK) {
		/* Every value found back by name. */
		for (i = 0; i < r.nvals; i++) {
			const struct ops_arg *a = &r.op->args[r.vals[i].arg];

			if (ops_req_get(&r, a->name, r.vals[i].item,
			    a->kind == OPS_K_OBJLIST ? a->sub[r.vals[i].sub].name :
			    NULL) != &r.vals[i])
				abort();
		}
	}
	return 0;
}
