/*
 * libFuzzer harness: every inventory and audit record decoder (LMDB records
 * are untrusted input after a crash or tampering). The first byte picks the
 * decoder; a record that decodes must re-encode to the same bytes (a schema-1
 * card and a v1 holder, which have no encoder, must survive a re-encode in
 * the current version unchanged). Selector 12: schema 7's further escrow blobs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inv/audit.h"
#include "inv/inv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

union rec {
	struct inv_holder h;
	struct inv_card c;
	struct inv_event e;
	struct inv_cert ct;
	struct inv_op op;
	struct inv_step st;
	struct audit_entry ae;
	struct audit_ckpt ck;
	struct inv_stock sk;
	struct inv_escrow es;
};

static void
same(int rc, uint8_t *again, size_t len, const uint8_t *rec, size_t size)
{
	if (rc != INV_OK || len != size || memcmp(again, rec, size) != 0)
		abort();
	free(again);
}

static void
card_v1(const uint8_t *rec, size_t size, union rec *u)
{
	struct inv_card *back;
	uint8_t *enc = NULL;
	size_t len;

	if (inv_card_decode_v1(rec, size, &u->c) != INV_OK)
		return;
	if ((back = malloc(sizeof(*back))) == NULL)
		abort();
	if (inv_card_encode(&u->c, &enc, &len) != INV_OK ||
	    inv_card_decode(enc, len, back) != INV_OK ||
	    memcmp(back, &u->c, sizeof(*back)) != 0)
		abort();
	free(enc);
	free(back);
}

static void
holder_v1(const uint8_t *rec, size_t size, union rec *u)
{
	struct inv_holder *back;
	uint8_t *enc = NULL;
	size_t len = 0;

	if (inv_holder_decode_v1(rec, size, &u->h) != INV_OK)
		return;
	if ((back = malloc(sizeof(*back))) == NULL)
		abort();
	if (inv_holder_encode(&u->h, &enc, &len) != INV_OK ||
	    inv_holder_decode(enc, len, back) != INV_OK ||
	    memcmp(back, &u->h, sizeof(*back)) != 0)
		abort();
	inv_holder_clear(back);
	inv_holder_clear(&u->h);
	free(enc);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union rec *u;
	uint8_t *again = NULL;
	const uint8_t *rec = data + 1;
	size_t len = 0, n = size - 1;

	if (size < 1 || (u = malloc(sizeof(*u))) == NULL)
		return 0;
	switch (data[0] % 13) {
	case 0:
		if (inv_holder_decode(rec, n, &u->h) == INV_OK)
			same(inv_holder_encode(&u->h, &again, &len), again, len,
			    rec, n);
		inv_holder_clear(&u->h);
		break;
	case 1:
		if (inv_card_decode(rec, n, &u->c) == INV_OK)
			same(inv_card_encode(&u->c, &again, &len), again, len,
			    rec, n);
		break;
	case 2:
		card_v1(rec, n, u);
		break;
	case 3:
		if (inv_event_decode(rec, n, &u->e) == INV_OK)
			same(inv_event_encode(&u->e, &again, &len), again, len,
			    rec, n);
		break;
	case 4:
		if (inv_cert_decode(rec, n, &u->ct) == INV_OK)
			same(inv_cert_encode(&u->ct, &again, &len), again, len,
			    rec, n);
		break;
	case 5:
		if (inv_op_decode(rec, n, &u->op) == INV_OK)
			same(inv_op_encode(&u->op, &again, &len), again, len,
			    rec, n);
		break;
	case 6:
		if (inv_step_decode(rec, n, &u->st) == INV_OK)
			same(inv_step_encode(&u->st, &again, &len), again, len,
			    rec, n);
		break;
	case 7:
		if (audit_entry_decode(rec, n, &u->ae) == INV_OK)
			same(audit_entry_encode(&u->ae, &again, &len), again, len,
			    rec, n);
		break;
	case 8:
		if (audit_ckpt_decode(rec, n, &u->ck) == INV_OK)
			same(audit_ckpt_encode(&u->ck, &again, &len), again, len,
			    rec, n);
		break;
	case 9:
		holder_v1(rec, n, u);
		break;
	case 10:
		if (inv_certsum_decode(rec, n, &u->ct) == INV_OK)
			same(inv_certsum_encode(&u->ct, &again, &len), again, len,
			    rec, n);
		break;
	case 11:	/* schema 6: a blank card in stock */
		if (inv_stock_decode(rec, n, &u->sk) == INV_OK)
			same(inv_stock_encode(&u->sk, &again, &len), again, len,
			    rec, n);
		break;
	case 12:	/* schema 7: a card's further escrowed key */
		if (inv_escrow_decode(rec, n, &u->es) == INV_OK)
			same(inv_escrow_encode(&u->es, &again, &len), again, len,
			    rec, n);
		break;
	}
	free(u);
	return 0;
}
