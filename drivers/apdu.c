/* apdu: command/response transport. See apdu.h. */
#include <stdlib.h>
#include <string.h>

#include "apdu.h"
#include "buf.h"

#define RX_MAX		(65536 + 2)	/* largest extended response + SW */
#define TX_MAX		(4 + 3 + 65535 + 2)
#define CHAIN_BLOCK	255
/* A card answering 61xx with no data makes no progress: give up after this. */
#define MAX_EMPTY_ROUNDS 2

struct apdu_ctx {
	struct apdu_transport t;
	int extended;
	size_t max_rsp;
	struct apdu_stats st;
	uint8_t tx[TX_MAX];
	uint8_t rx[RX_MAX];
};

/* An assembled response: grows by copy-and-wipe so no stale copies are left. */
struct acc {
	uint8_t *p;
	size_t len, cap, max;
};

static const struct {
	int err;
	const char *name, *msg;
} errs[] = {
	{ APDU_OK, "APDU_OK", "success" },
	{ APDU_ERR_INVALID, "APDU_ERR_INVALID", "invalid argument" },
	{ APDU_ERR_NOMEM, "APDU_ERR_NOMEM", "out of memory" },
	{ APDU_ERR_TRANSMIT, "APDU_ERR_TRANSMIT", "transmission to the card failed" },
	{ APDU_ERR_REMOVED, "APDU_ERR_REMOVED", "card removed" },
	{ APDU_ERR_RESET, "APDU_ERR_RESET", "card was reset" },
	{ APDU_ERR_MALFORMED, "APDU_ERR_MALFORMED", "response without status word" },
	{ APDU_ERR_TOOBIG, "APDU_ERR_TOOBIG", "response exceeds the size cap" },
	{ APDU_ERR_PROTOCOL, "APDU_ERR_PROTOCOL", "card broke the APDU protocol" },
	{ APDU_ERR_NOT_RESPONDING, "APDU_ERR_NOT_RESPONDING", "card not responding" },
	{ APDU_ERR_WRONG_PIN, "APDU_ERR_WRONG_PIN", "verification failed (63Cx)" },
	{ APDU_ERR_BLOCKED, "APDU_ERR_BLOCKED", "authentication method blocked (6983)" },
	{ APDU_ERR_SECURITY, "APDU_ERR_SECURITY", "security status not satisfied (6982)" },
	{ APDU_ERR_CONDITIONS, "APDU_ERR_CONDITIONS", "conditions of use not satisfied (6985)" },
	{ APDU_ERR_NOT_FOUND, "APDU_ERR_NOT_FOUND", "not found (6A82)" },
	{ APDU_ERR_WRONG_DATA, "APDU_ERR_WRONG_DATA", "incorrect data (6A80)" },
	{ APDU_ERR_P1P2, "APDU_ERR_P1P2", "incorrect P1/P2 (6A86/6B00)" },
	{ APDU_ERR_WRONG_LENGTH, "APDU_ERR_WRONG_LENGTH", "wrong length (6700)" },
	{ APDU_ERR_NO_SPACE, "APDU_ERR_NO_SPACE", "not enough memory on card (6A84)" },
	{ APDU_ERR_INS, "APDU_ERR_INS", "instruction not supported (6D00)" },
	{ APDU_ERR_CLA, "APDU_ERR_CLA", "class not supported (6E00)" },
	{ APDU_ERR_MEMORY, "APDU_ERR_MEMORY", "card memory failure (6581)" },
	{ APDU_ERR_SW, "APDU_ERR_SW", "unexpected status word" },
	{ APDU_ERR_REF_NOT_FOUND, "APDU_ERR_REF_NOT_FOUND", "referenced data not found (6A88)" },
};

const char *
apdu_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].msg;
	return "unknown apdu error";
}

const char *
apdu_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "?";
}

int
apdu_sw_to_err(uint16_t sw)
{
	if ((sw & 0xFFF0) == 0x63C0)
		return APDU_ERR_WRONG_PIN;
	switch (sw) {
	case 0x9000: return APDU_OK;
	case 0x6983: return APDU_ERR_BLOCKED;
	case 0x6982: return APDU_ERR_SECURITY;
	case 0x6985: return APDU_ERR_CONDITIONS;
	case 0x6A82: return APDU_ERR_NOT_FOUND;
	case 0x6A88: return APDU_ERR_REF_NOT_FOUND;	/* YubiKey: F7 on an empty slot */
	case 0x6A80: return APDU_ERR_WRONG_DATA;
	case 0x6A86:
	case 0x6B00: return APDU_ERR_P1P2;
	case 0x6700: return APDU_ERR_WRONG_LENGTH;
	case 0x6A84: return APDU_ERR_NO_SPACE;
	case 0x6D00: return APDU_ERR_INS;
	case 0x6E00: return APDU_ERR_CLA;
	case 0x6581: return APDU_ERR_MEMORY;
	default: return APDU_ERR_SW;
	}
}

int
apdu_init(struct apdu_ctx **ctx, const struct apdu_transport *t)
{
	struct apdu_ctx *c;

	if (ctx == NULL)
		return APDU_ERR_INVALID;
	*ctx = NULL;
	if (t == NULL || t->transmit == NULL)
		return APDU_ERR_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return APDU_ERR_NOMEM;
	c->t = *t;
	c->max_rsp = APDU_MAX_RESPONSE_DEFAULT;
	*ctx = c;
	return APDU_OK;
}

void
apdu_done(struct apdu_ctx *ctx)
{
	if (ctx == NULL)
		return;
	explicit_bzero(ctx, sizeof(*ctx));
	free(ctx);
}

void
apdu_set_extended(struct apdu_ctx *ctx, int on)
{
	ctx->extended = on != 0;
}

void
apdu_set_max_response(struct apdu_ctx *ctx, size_t max)
{
	ctx->max_rsp = max;
}

void
apdu_get_stats(const struct apdu_ctx *ctx, struct apdu_stats *st)
{
	*st = ctx->st;
}

void
apdu_reset_stats(struct apdu_ctx *ctx)
{
	memset(&ctx->st, 0, sizeof(ctx->st));
}

int
apdu_begin(struct apdu_ctx *ctx)
{
	return ctx->t.begin != NULL ? ctx->t.begin(ctx->t.arg) : APDU_OK;
}

void
apdu_end(struct apdu_ctx *ctx)
{
	if (ctx->t.end != NULL)
		ctx->t.end(ctx->t.arg);
}

int
apdu_reconnect(struct apdu_ctx *ctx)
{
	return ctx->t.reconnect != NULL ? ctx->t.reconnect(ctx->t.arg) : APDU_ERR_INVALID;
}

void
apdu_free(uint8_t *rsp, size_t len)
{
	if (rsp == NULL)
		return;
	explicit_bzero(rsp, len);
	free(rsp);
}

static int
acc_append(struct acc *a, const uint8_t *p, size_t n)
{
	uint8_t *np;
	size_t ncap;

	if (n == 0)
		return APDU_OK;
	if (n > a->max - a->len)
		return APDU_ERR_TOOBIG;
	if (a->len + n > a->cap) {
		ncap = a->cap ? a->cap : 512;
		while (ncap < a->len + n)
			ncap *= 2;
		if ((np = malloc(ncap)) == NULL)
			return APDU_ERR_NOMEM;
		if (a->len > 0)
			memcpy(np, a->p, a->len);
		apdu_free(a->p, a->cap);
		a->p = np;
		a->cap = ncap;
	}
	memcpy(a->p + a->len, p, n);
	a->len += n;
	return APDU_OK;
}

/* One raw exchange of ctx->tx[0..txlen). [out] data/len point into ctx->rx. */
static int
exchange(struct apdu_ctx *ctx, size_t txlen, const uint8_t **data, size_t *len,
    uint16_t *sw)
{
	size_t rxlen = sizeof(ctx->rx);
	int rc;

	ctx->st.commands++;
	ctx->st.bytes_sent += txlen;
	rc = ctx->t.transmit(ctx->t.arg, ctx->tx, txlen, ctx->rx, &rxlen);
	if (rc != APDU_OK)
		return rc < 0 ? rc : APDU_ERR_TRANSMIT;
	if (rxlen > sizeof(ctx->rx))
		return APDU_ERR_TRANSMIT;
	ctx->st.bytes_received += rxlen;
	if (rxlen < 2)
		return APDU_ERR_MALFORMED;
	*data = ctx->rx;
	*len = rxlen - 2;
	*sw = (uint16_t)(ctx->rx[rxlen - 2] << 8 | ctx->rx[rxlen - 1]);
	return APDU_OK;
}

/*
 * Encode one block into ctx->tx. le: -1 none, else 0..65536 (0 and 256 both
 * encode as short 00; 65536 as extended 0000).
 */
static int
encode(struct apdu_ctx *ctx, uint8_t cla, const struct apdu_cmd *c,
    const uint8_t *data, size_t len, long le, size_t *txlen)
{
	struct buf_writer w;
	int ext = ctx->extended && (len > 255 || le > 256);

	buf_writer_init(&w, ctx->tx, sizeof(ctx->tx));
	buf_put_u8(&w, cla);
	buf_put_u8(&w, c->ins);
	buf_put_u8(&w, c->p1);
	buf_put_u8(&w, c->p2);
	if (len > 0) {
		if (ext) {
			buf_put_u8(&w, 0);
			buf_put_u16be(&w, (uint16_t)len);
		} else {
			buf_put_u8(&w, (uint8_t)len);
		}
		buf_put_bytes(&w, data, len);
	}
	if (le >= 0) {
		if (ext && len == 0)
			buf_put_u8(&w, 0);
		if (ext)
			buf_put_u16be(&w, (uint16_t)(le & 0xFFFF));
		else
			buf_put_u8(&w, (uint8_t)(le & 0xFF));
	}
	*txlen = w.len;
	return buf_writer_error(&w) == BUF_OK ? APDU_OK : APDU_ERR_INVALID;
}

/* Send the blocks before the last one with CLA|0x10; each must answer 9000. */
static int
send_chain(struct apdu_ctx *ctx, const struct apdu_cmd *c, size_t *off)
{
	const uint8_t *d;
	size_t dl, txlen;
	uint16_t sw;
	int rc;

	*off = 0;
	while (c->len - *off > CHAIN_BLOCK) {
		encode(ctx, c->cla | 0x10, c, c->data + *off, CHAIN_BLOCK, -1, &txlen);
		rc = exchange(ctx, txlen, &d, &dl, &sw);
		explicit_bzero(ctx->tx, txlen);
		if (rc != APDU_OK)
			return rc;
		if (sw != 0x9000)
			return apdu_sw_to_err(sw);
		*off += CHAIN_BLOCK;
	}
	return APDU_OK;
}

/* Send the last (or only) block, honouring one 6Cxx "wrong Le, use xx". */
static int
send_last(struct apdu_ctx *ctx, const struct apdu_cmd *c, size_t off,
    const uint8_t **d, size_t *dl, uint16_t *sw)
{
	long le = c->want_data ? (ctx->extended ? 65536 : 256) : -1;
	/* No arithmetic on a NULL data pointer (commands without data). */
	const uint8_t *rest = c->len > off ? c->data + off : NULL;
	size_t txlen;
	int rc, round;

	for (round = 0; round < 2; round++) {
		rc = encode(ctx, c->cla, c, rest, c->len - off, le, &txlen);
		if (rc == APDU_OK)
			rc = exchange(ctx, txlen, d, dl, sw);
		explicit_bzero(ctx->tx, txlen);
		if (rc != APDU_OK || (*sw >> 8) != 0x6C)
			return rc;
		le = (*sw & 0xFF) ? (*sw & 0xFF) : 256;
	}
	return APDU_ERR_PROTOCOL;
}

/* Collect 61xx continuations with GET RESPONSE until a final status word. */
static int
get_response_loop(struct apdu_ctx *ctx, struct acc *a, uint16_t *sw)
{
	static const struct apdu_cmd gr = { 0x00, 0xC0, 0x00, 0x00, NULL, 0, 1 };
	const uint8_t *d;
	size_t dl, txlen;
	int rc, empty = 0;
	long le;

	while ((*sw >> 8) == 0x61) {
		le = (*sw & 0xFF) ? (*sw & 0xFF) : 256;
		if ((rc = encode(ctx, 0x00, &gr, NULL, 0, le, &txlen)) != APDU_OK)
			return rc;
		if ((rc = exchange(ctx, txlen, &d, &dl, sw)) != APDU_OK)
			return rc;
		if ((*sw >> 8) == 0x6C)
			return APDU_ERR_PROTOCOL;
		if ((rc = acc_append(a, d, dl)) != APDU_OK)
			return rc;
		if (dl == 0 && ++empty >= MAX_EMPTY_ROUNDS)
			return APDU_ERR_PROTOCOL;
	}
	return APDU_OK;
}

int
apdu_transceive(struct apdu_ctx *ctx, const struct apdu_cmd *cmd,
    uint8_t **rsp, size_t *rsp_len, uint16_t *sw)
{
	struct acc a = { NULL, 0, 0, 0 };
	const uint8_t *d;
	size_t dl, off;
	uint16_t lsw = 0;
	int rc;

	if (rsp != NULL)
		*rsp = NULL;
	if (rsp_len != NULL)
		*rsp_len = 0;
	if (sw != NULL)
		*sw = 0;
	rc = APDU_ERR_INVALID;
	if (ctx == NULL || cmd == NULL || (cmd->len > 0 && cmd->data == NULL) ||
	    cmd->len > 65535 || (cmd->want_data && (rsp == NULL || rsp_len == NULL)))
		goto out;
	a.max = ctx->max_rsp;
	if (ctx->extended)
		off = 0;
	else if ((rc = send_chain(ctx, cmd, &off)) != APDU_OK)
		goto out;
	if ((rc = send_last(ctx, cmd, off, &d, &dl, &lsw)) != APDU_OK)
		goto out;
	if ((rc = acc_append(&a, d, dl)) != APDU_OK)
		goto out;
	if ((rc = get_response_loop(ctx, &a, &lsw)) != APDU_OK)
		goto out;
	rc = apdu_sw_to_err(lsw);
	if (rc == APDU_OK && rsp != NULL) {
		*rsp = a.p;
		*rsp_len = a.len;
		a.p = NULL;
	}
out:
	if (ctx != NULL)
		explicit_bzero(ctx->rx, sizeof(ctx->rx));
	apdu_free(a.p, a.cap);
	if (sw != NULL)
		*sw = lsw;
	return rc;
}
