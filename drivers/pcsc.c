/* pcsc: PC/SC access over pcsc-lite. See pcsc.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winscard.h>
#include <wintypes.h>

#include "buf.h"
#include "pcsc.h"

#define PNP_READER	"\\\\?PnP?\\Notification"
#define MAX_READERS	32
#define MAX_QUEUE	(2 * MAX_READERS + 4)

struct pcsc_ctx {
	SCARDCONTEXT h;
	int started;		/* initial scan done */
	SCARD_READERSTATE rs[MAX_READERS + 1];	/* [0] is the PnP pseudo reader */
	char *names[MAX_READERS];
	size_t nrs;		/* readers in rs[1..nrs] */
	struct pcsc_event q[MAX_QUEUE];
	size_t qhead, qlen;
};

struct pcsc_card {
	struct pcsc_ctx *ctx;
	SCARDHANDLE h;
	DWORD proto;
	char reader[128];
	long last_rv;		/* last PC/SC failure, for diagnostics */
};

static const struct {
	int err;
	const char *name, *msg;
} errs[] = {
	{ PCSC_OK, "PCSC_OK", "success" },
	{ PCSC_ERR_INVALID, "PCSC_ERR_INVALID", "invalid argument" },
	{ PCSC_ERR_NOMEM, "PCSC_ERR_NOMEM", "out of memory" },
	{ PCSC_ERR_NO_SERVICE, "PCSC_ERR_NO_SERVICE", "PC/SC service not running" },
	{ PCSC_ERR_NO_READERS, "PCSC_ERR_NO_READERS", "no readers" },
	{ PCSC_ERR_NO_CARD, "PCSC_ERR_NO_CARD", "no card in the reader" },
	{ PCSC_ERR_REMOVED, "PCSC_ERR_REMOVED", "card removed" },
	{ PCSC_ERR_RESET, "PCSC_ERR_RESET", "card was reset" },
	{ PCSC_ERR_SHARING, "PCSC_ERR_SHARING", "card in exclusive use elsewhere" },
	{ PCSC_ERR_TIMEOUT, "PCSC_ERR_TIMEOUT", "timeout" },
	{ PCSC_ERR_CANCELLED, "PCSC_ERR_CANCELLED", "cancelled" },
	{ PCSC_ERR_PROTOCOL, "PCSC_ERR_PROTOCOL", "card protocol failure" },
	{ PCSC_ERR_ATR, "PCSC_ERR_ATR", "malformed ATR" },
	{ PCSC_ERR_UNKNOWN_READER, "PCSC_ERR_UNKNOWN_READER", "unknown reader" },
	{ PCSC_ERR_SCARD, "PCSC_ERR_SCARD", "PC/SC error" },
};

const char *
pcsc_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].msg;
	return "unknown pcsc error";
}

const char *
pcsc_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "?";
}

static int
from_scard(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS: return PCSC_OK;
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED: return PCSC_ERR_NO_SERVICE;
	case SCARD_E_NO_READERS_AVAILABLE: return PCSC_ERR_NO_READERS;
	case SCARD_E_NO_SMARTCARD: return PCSC_ERR_NO_CARD;
	case SCARD_W_REMOVED_CARD: return PCSC_ERR_REMOVED;
	case SCARD_W_RESET_CARD: return PCSC_ERR_RESET;
	case SCARD_E_SHARING_VIOLATION: return PCSC_ERR_SHARING;
	case SCARD_E_TIMEOUT: return PCSC_ERR_TIMEOUT;
	case SCARD_E_CANCELLED: return PCSC_ERR_CANCELLED;
	case SCARD_E_PROTO_MISMATCH:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_W_UNPOWERED_CARD: return PCSC_ERR_PROTOCOL;
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_READER_UNAVAILABLE: return PCSC_ERR_UNKNOWN_READER;
	case SCARD_E_NO_MEMORY: return PCSC_ERR_NOMEM;
	case SCARD_E_INVALID_PARAMETER:
	case SCARD_E_INVALID_VALUE: return PCSC_ERR_INVALID;
	default: return PCSC_ERR_SCARD;
	}
}

/* What a card operation above sees: card gone vs card reset vs other. */
static int
to_apdu(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS: return APDU_OK;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER: return APDU_ERR_REMOVED;
	case SCARD_W_RESET_CARD: return APDU_ERR_RESET;
	default: return APDU_ERR_TRANSMIT;
	}
}

/* ---- ATR ---------------------------------------------------------------- */

/* Interface bytes: TA/TB/TC/TD per Y nibble; protocols from TD's low nibble. */
static int
atr_interface(struct buf_reader *r, uint8_t y, struct pcsc_atr *out)
{
	uint8_t b;
	int i;

	for (;;) {
		for (i = 0; i < 3; i++)
			if ((y & (0x10 << i)) && buf_get_u8(r, &b) != BUF_OK)
				return PCSC_ERR_ATR;
		if (!(y & 0x80))
			return PCSC_OK;
		if (buf_get_u8(r, &b) != BUF_OK)
			return PCSC_ERR_ATR;
		out->protocols |= 1u << (b & 0x0F);
		/* TCK is present unless only T=0 is indicated (ISO 7816-3 8.2.5). */
		if ((b & 0x0F) != 0)
			out->has_tck = 1;
		y = b;
	}
}

int
pcsc_atr_parse(const uint8_t *atr, size_t len, struct pcsc_atr *out)
{
	struct buf_reader r;
	uint8_t x = 0;
	size_t i;
	int rc;

	if (out == NULL || (atr == NULL && len > 0))
		return PCSC_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	rc = PCSC_ERR_ATR;
	buf_reader_init(&r, atr, len);
	if (len < 2 || len > PCSC_ATR_MAX || buf_get_u8(&r, &out->ts) != BUF_OK ||
	    (out->ts != 0x3B && out->ts != 0x3F) || buf_get_u8(&r, &out->t0) != BUF_OK)
		goto out;
	if ((rc = atr_interface(&r, out->t0, out)) != PCSC_OK)
		goto out;
	rc = PCSC_ERR_ATR;
	out->hist_len = out->t0 & 0x0F;
	if (buf_get_bytes(&r, out->hist, out->hist_len) != BUF_OK)
		goto out;
	if (out->has_tck) {
		for (i = 1; i < len; i++)
			x ^= atr[i];	/* T0..TCK XOR to zero */
		if (buf_skip(&r, 1) != BUF_OK || x != 0)
			goto out;
	}
	if (buf_expect_end(&r) != BUF_OK)
		goto out;
	if (out->protocols == 0)
		out->protocols = 1;	/* no TD1: T=0 only */
	rc = PCSC_OK;
out:
	if (rc != PCSC_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- context and readers ----------------------------------------------- */

int
pcsc_init(struct pcsc_ctx **ctx)
{
	struct pcsc_ctx *c;
	LONG rv;

	if (ctx == NULL)
		return PCSC_ERR_INVALID;
	*ctx = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PCSC_ERR_NOMEM;
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->h);
	if (rv != SCARD_S_SUCCESS) {
		free(c);
		return from_scard(rv);
	}
	*ctx = c;
	return PCSC_OK;
}

static void
drop_readers(struct pcsc_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nrs; i++)
		free(c->names[i]);
	c->nrs = 0;
}

void
pcsc_done(struct pcsc_ctx *ctx)
{
	if (ctx == NULL)
		return;
	drop_readers(ctx);
	SCardReleaseContext(ctx->h);
	free(ctx);
}

void
pcsc_free_list(char **names)
{
	size_t i;

	if (names == NULL)
		return;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* Split a multi-string into a NULL-terminated array of copies. */
static int
split_multi(const char *ms, DWORD len, char ***names, size_t *n)
{
	const char *p;
	size_t cnt = 0, i = 0;
	char **v;

	for (p = ms; p < ms + len && *p; p += strlen(p) + 1)
		cnt++;
	if ((v = calloc(cnt + 1, sizeof(*v))) == NULL)
		return PCSC_ERR_NOMEM;
	for (p = ms; i < cnt; p += strlen(p) + 1, i++) {
		if ((v[i] = strdup(p)) == NULL) {
			pcsc_free_list(v);
			return PCSC_ERR_NOMEM;
		}
	}
	*names = v;
	*n = cnt;
	return PCSC_OK;
}

int
pcsc_list_readers(struct pcsc_ctx *ctx, char ***names, size_t *n)
{
	char *ms = NULL;
	DWORD len = 0;
	LONG rv;
	int rc;

	if (names == NULL || n == NULL)
		return PCSC_ERR_INVALID;
	*names = NULL;
	*n = 0;
	if (ctx == NULL)
		return PCSC_ERR_INVALID;
	rv = SCardListReaders(ctx->h, NULL, NULL, &len);
	if (rv != SCARD_S_SUCCESS)
		return from_scard(rv);
	if ((ms = calloc(1, len + 1)) == NULL)
		return PCSC_ERR_NOMEM;
	rv = SCardListReaders(ctx->h, NULL, ms, &len);
	rc = rv == SCARD_S_SUCCESS ? split_multi(ms, len, names, n) : from_scard(rv);
	free(ms);
	return rc;
}

/* ---- events ------------------------------------------------------------ */

static void
push(struct pcsc_ctx *c, int type, const char *reader, const uint8_t *atr,
    size_t atr_len)
{
	struct pcsc_event *e;

	if (c->qlen == MAX_QUEUE)
		return;	/* full: a later state scan still reports the net state */
	e = &c->q[(c->qhead + c->qlen++) % MAX_QUEUE];
	memset(e, 0, sizeof(*e));
	e->type = type;
	snprintf(e->reader, sizeof(e->reader), "%s", reader);
	if (atr != NULL && atr_len <= PCSC_ATR_MAX) {
		memcpy(e->atr, atr, atr_len);
		e->atr_len = atr_len;
	}
}

static int
pop(struct pcsc_ctx *c, struct pcsc_event *ev)
{
	if (c->qlen == 0)
		return 0;
	*ev = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % MAX_QUEUE;
	c->qlen--;
	return 1;
}

static int
known(struct pcsc_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nrs; i++)
		if (strcmp(c->names[i], name) == 0)
			return (int)i;
	return -1;
}

static int
in_list(char **list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Known readers missing from the new list: their card and they are gone. */
static void
report_gone(struct pcsc_ctx *c, char **list, size_t n)
{
	size_t i;

	for (i = 0; i < c->nrs; i++) {
		if (in_list(list, n, c->names[i]))
			continue;
		if (c->rs[i + 1].dwEventState & SCARD_STATE_PRESENT)
			push(c, PCSC_EV_CARD_REMOVED, c->names[i], NULL, 0);
		push(c, PCSC_EV_READER_REMOVED, c->names[i], NULL, 0);
	}
}

/* Re-list readers, report added/removed ones, keep states of known ones. */
static int
sync_readers(struct pcsc_ctx *c)
{
	SCARD_READERSTATE nrs[MAX_READERS];
	char **list = NULL, *nn[MAX_READERS];
	size_t n = 0, i, cnt;
	int rc, k;

	rc = pcsc_list_readers(c, &list, &n);
	if (rc == PCSC_ERR_NO_READERS)
		rc = PCSC_OK;
	if (rc != PCSC_OK)
		return rc;
	report_gone(c, list, n);
	for (cnt = 0; cnt < n && cnt < MAX_READERS; cnt++) {
		memset(&nrs[cnt], 0, sizeof(nrs[cnt]));
		if ((k = known(c, list[cnt])) >= 0)
			nrs[cnt] = c->rs[k + 1];
		else
			push(c, PCSC_EV_READER_ADDED, list[cnt], NULL, 0);
		nn[cnt] = list[cnt];
		list[cnt] = NULL;	/* ownership moves to c->names */
		nrs[cnt].szReader = nn[cnt];
	}
	drop_readers(c);
	for (i = 0; i < cnt; i++) {
		c->names[i] = nn[i];
		c->rs[i + 1] = nrs[i];
	}
	c->nrs = cnt;
	pcsc_free_list(list);
	return PCSC_OK;
}

/* Compare a reader's new state with what we knew; queue card events. */
static void
card_events(struct pcsc_ctx *c, SCARD_READERSTATE *s)
{
	DWORD was = s->dwCurrentState, now = s->dwEventState;
	int had = (was & SCARD_STATE_PRESENT) != 0, has = (now & SCARD_STATE_PRESENT) != 0;
	int swapped = had && has && (was >> 16) != (now >> 16) && (was & ~0xFFFFu) != 0;

	if (had && (!has || swapped))
		push(c, PCSC_EV_CARD_REMOVED, s->szReader, NULL, 0);
	if (has && (!had || swapped))
		push(c, PCSC_EV_CARD_INSERTED, s->szReader, s->rgbAtr, s->cbAtr);
	s->dwCurrentState = now & ~(DWORD)SCARD_STATE_CHANGED;
}

static int
poll_states(struct pcsc_ctx *c, DWORD timeout)
{
	LONG rv;
	size_t i;
	int rc;

	c->rs[0].szReader = PNP_READER;
	rv = SCardGetStatusChange(c->h, timeout, c->rs, (DWORD)c->nrs + 1);
	if (rv != SCARD_S_SUCCESS)
		return from_scard(rv);
	for (i = 1; i <= c->nrs; i++)
		if (c->rs[i].dwEventState & SCARD_STATE_CHANGED)
			card_events(c, &c->rs[i]);
	if (c->rs[0].dwEventState & SCARD_STATE_CHANGED) {
		c->rs[0].dwCurrentState = c->rs[0].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		if ((rc = sync_readers(c)) != PCSC_OK)
			return rc;
		/* New readers are UNAWARE: one immediate poll picks up their cards. */
		rc = poll_states(c, 0);
		return rc == PCSC_ERR_TIMEOUT ? PCSC_OK : rc;
	}
	return PCSC_OK;
}

int
pcsc_wait_event(struct pcsc_ctx *ctx, long timeout_ms, struct pcsc_event *ev)
{
	int rc;

	if (ctx == NULL || ev == NULL)
		return PCSC_ERR_INVALID;
	memset(ev, 0, sizeof(*ev));
	if (!ctx->started) {
		ctx->rs[0].dwCurrentState = SCARD_STATE_UNAWARE;
		if ((rc = sync_readers(ctx)) != PCSC_OK)
			return rc;
		ctx->started = 1;
		rc = poll_states(ctx, 0);
		if (rc != PCSC_OK && rc != PCSC_ERR_TIMEOUT)
			return rc;
	}
	while (!pop(ctx, ev)) {
		rc = poll_states(ctx, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
		if (rc != PCSC_OK)
			return rc;
	}
	return PCSC_OK;
}

int
pcsc_cancel(struct pcsc_ctx *ctx)
{
	return ctx ? from_scard(SCardCancel(ctx->h)) : PCSC_ERR_INVALID;
}

/* ---- cards ------------------------------------------------------------- */

/* Connect errors that mean "the reader is still settling" (a card just
 * inserted, or being reset by another client) rather than a final answer. */
static int
transient(LONG rv)
{
	return rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_UNPOWERED_CARD ||
	    rv == SCARD_W_UNRESPONSIVE_CARD || rv == SCARD_E_NOT_TRANSACTED ||
	    rv == SCARD_W_REMOVED_CARD;
}

/*
 * Wait (at most 2 s, woken by pcscd, not polled) until the reader reports a
 * powered, responsive card. Used once before giving up on a connect.
 */
static void
settle(struct pcsc_ctx *ctx, const char *reader)
{
	SCARD_READERSTATE rs;
	int i;

	memset(&rs, 0, sizeof(rs));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	for (i = 0; i < 4; i++) {
		if (SCardGetStatusChange(ctx->h, i == 0 ? 0 : 500, &rs, 1) !=
		    SCARD_S_SUCCESS && i == 0)
			return;
		if ((rs.dwEventState & SCARD_STATE_PRESENT) &&
		    !(rs.dwEventState & (SCARD_STATE_MUTE | SCARD_STATE_UNPOWERED)))
			return;
		rs.dwCurrentState = rs.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
}

/* SCardConnect, once more after the reader settles if the first answer was transient. */
static LONG
connect_settled(struct pcsc_ctx *ctx, const char *reader, SCARDHANDLE *h, DWORD *proto)
{
	LONG rv = SCardConnect(ctx->h, reader, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, h, proto);

	if (transient(rv)) {
		settle(ctx, reader);
		rv = SCardConnect(ctx->h, reader, SCARD_SHARE_SHARED,
		    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, h, proto);
	}
	return rv;
}

int
pcsc_connect(struct pcsc_ctx *ctx, const char *reader, struct pcsc_card **card)
{
	struct pcsc_card *c;
	LONG rv;

	if (card == NULL)
		return PCSC_ERR_INVALID;
	*card = NULL;
	if (ctx == NULL || reader == NULL || strlen(reader) >= sizeof(c->reader))
		return PCSC_ERR_INVALID;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PCSC_ERR_NOMEM;
	c->ctx = ctx;
	snprintf(c->reader, sizeof(c->reader), "%s", reader);
	if ((rv = connect_settled(ctx, reader, &c->h, &c->proto)) != SCARD_S_SUCCESS) {
		free(c);
		return from_scard(rv);
	}
	*card = c;
	return PCSC_OK;
}

void
pcsc_disconnect(struct pcsc_card *card, int reset)
{
	if (card == NULL)
		return;
	SCardDisconnect(card->h, reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
	free(card);
}

int
pcsc_card_atr(struct pcsc_card *card, uint8_t *atr, size_t *len)
{
	char name[256];
	DWORD nlen = sizeof(name), state, proto, alen = PCSC_ATR_MAX;
	LONG rv;

	if (len != NULL)
		*len = 0;
	if (card == NULL || atr == NULL || len == NULL)
		return PCSC_ERR_INVALID;
	rv = SCardStatus(card->h, name, &nlen, &state, &proto, atr, &alen);
	if (rv != SCARD_S_SUCCESS)
		return from_scard(rv);
	*len = alen;
	return PCSC_OK;
}

long
pcsc_card_last_error(const struct pcsc_card *card)
{
	return card != NULL ? card->last_rv : 0;
}

int
pcsc_card_protocol(const struct pcsc_card *card)
{
	return card->proto == SCARD_PROTOCOL_T1 ? 1 : 0;
}

int
pcsc_card_reset(struct pcsc_card *card)
{
	if (card == NULL)
		return PCSC_ERR_INVALID;
	return from_scard(SCardReconnect(card->h, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, SCARD_RESET_CARD, &card->proto));
}

/*
 * A response too short to hold a status word, or SCARD_E_NOT_TRANSACTED: vpcd
 * (and some readers) report a card pulled or re-attaching mid-command this way
 * instead of an error. Ask the reader whether the card is still there (waiting
 * up to 1 s for pcscd to notice) so the caller gets APDU_ERR_REMOVED, and
 * reconnects, rather than a parse or transport error.
 */
static int
classify_short(struct pcsc_card *c, int fallback)
{
	SCARD_READERSTATE rs;
	DWORD first;

	memset(&rs, 0, sizeof(rs));
	rs.szReader = c->reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	if (SCardGetStatusChange(c->ctx->h, 0, &rs, 1) != SCARD_S_SUCCESS ||
	    !(rs.dwEventState & SCARD_STATE_PRESENT))
		return APDU_ERR_REMOVED;
	first = rs.dwEventState;
	rs.dwCurrentState = first & ~(DWORD)SCARD_STATE_CHANGED;
	if (SCardGetStatusChange(c->ctx->h, 1000, &rs, 1) == SCARD_S_SUCCESS &&
	    (!(rs.dwEventState & SCARD_STATE_PRESENT) ||
	    (rs.dwEventState >> 16) != (first >> 16)))
		return APDU_ERR_REMOVED;
	return fallback;
}

static int
tr_transmit(void *arg, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
    size_t *rsp_len)
{
	struct pcsc_card *c = arg;
	const SCARD_IO_REQUEST *pci = c->proto == SCARD_PROTOCOL_T1 ?
	    SCARD_PCI_T1 : SCARD_PCI_T0;
	DWORD rl = (DWORD)*rsp_len;
	LONG rv;

	rv = SCardTransmit(c->h, pci, cmd, (DWORD)cmd_len, NULL, rsp, &rl);
	if (rv != SCARD_S_SUCCESS) {
		c->last_rv = (long)rv;
		return rv == SCARD_E_NOT_TRANSACTED ? classify_short(c, APDU_ERR_TRANSMIT) :
		    to_apdu(rv);
	}
	if (rl < 2)
		return classify_short(c, APDU_ERR_MALFORMED);
	*rsp_len = rl;
	return APDU_OK;
}

static int
tr_begin(void *arg)
{
	struct pcsc_card *c = arg;
	LONG rv = SCardBeginTransaction(c->h);

	if (rv != SCARD_S_SUCCESS)
		c->last_rv = (long)rv;
	return to_apdu(rv);
}

static void
tr_end(void *arg)
{
	SCardEndTransaction(((struct pcsc_card *)arg)->h, SCARD_LEAVE_CARD);
}

/*
 * After a reset SCardReconnect is enough; after removal the handle is dead, so
 * connect afresh to whatever card is now in the same reader (the caller checks
 * its identity).
 */
static int
tr_reconnect(void *arg)
{
	struct pcsc_card *c = arg;
	SCARDHANDLE h;
	DWORD proto;
	LONG rv;

	rv = SCardReconnect(c->h, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, SCARD_LEAVE_CARD, &c->proto);
	if (rv == SCARD_S_SUCCESS)
		return APDU_OK;
	if ((rv = connect_settled(c->ctx, c->reader, &h, &proto)) != SCARD_S_SUCCESS) {
		c->last_rv = (long)rv;
		return to_apdu(rv);
	}
	SCardDisconnect(c->h, SCARD_LEAVE_CARD);
	c->h = h;
	c->proto = proto;
	return APDU_OK;
}

void
pcsc_card_transport(struct pcsc_card *card, struct apdu_transport *t)
{
	t->transmit = tr_transmit;
	t->begin = tr_begin;
	t->end = tr_end;
	t->reconnect = tr_reconnect;
	t->arg = card;
}
