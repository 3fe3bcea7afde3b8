/* pcsc: PC/SC access over pcsc-lite. See pcsc.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>
#include <wintypes.h>

#include "buf.h"
#include "pcsc.h"

#define PNP_READER	"\\\\?PnP?\\Notification"
#define MAX_READERS	32
#define MAX_QUEUE	(2 * MAX_READERS + 4)
#define CMD_MAX		(4 + 3 + 65535 + 2)	/* extended APDU */
#define RSP_MAX		(65536 + 2)
#define INS_GENERATE	0x47

/*
 * Not a PC/SC code: a bounded call ran past its budget (pcsc-lite has no
 * timeout on SCardTransmit, and SCardCancel does not reach it).
 */
#define RV_STALLED	((LONG)0x7F5C0001)

/* Bounded card calls: what the caller asks the runner thread to do. */
enum call {
	CALL_CONNECT = 1,	/* connect_settled(reader) -> h, proto */
	CALL_TRANSMIT,		/* cmd -> rsp */
	CALL_BEGIN,
	CALL_END,
	CALL_RECONNECT,		/* SCardReconnect(h, disp) -> proto */
	CALL_STATUS,		/* SCardStatus(h) -> atr */
	CALL_DISCONNECT,	/* SCardDisconnect(h, disp) */
};

/*
 * The thread that makes a context's card calls, so the caller can stop
 * waiting. Arguments and results live here, not in the caller's memory: a
 * call that never returns keeps writing into this struct only. Once a call
 * is abandoned (orphan), the struct and the PC/SC context belong to the
 * thread, which releases both when the call finally returns (card pulled).
 */
struct runner {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int busy, quit, orphan;
	SCARDCONTEXT ctxh;
	enum call what;
	char reader[128];
	SCARDHANDLE h;
	DWORD proto, disp, proto_pref;
	const SCARD_IO_REQUEST *pci;
	size_t cmd_len;
	DWORD rsp_len;
	uint8_t atr[PCSC_ATR_MAX];
	DWORD atr_len;
	LONG rv;
	uint8_t cmd[CMD_MAX], rsp[RSP_MAX];
};

struct pcsc_ctx {
	SCARDCONTEXT h;
	long timeout_ms, slow_ms;	/* 0: unbounded */
	int stalled;		/* a call timed out: the context is spent */
	struct runner *run;
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
	{ PCSC_ERR_NOT_RESPONDING, "PCSC_ERR_NOT_RESPONDING", "card not responding" },
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
	case RV_STALLED: return PCSC_ERR_NOT_RESPONDING;
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
	case RV_STALLED: return APDU_ERR_NOT_RESPONDING;
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

static void runner_stop(struct pcsc_ctx *c);

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
	c->timeout_ms = PCSC_TIMEOUT_DEFAULT_MS;
	c->slow_ms = PCSC_SLOW_TIMEOUT_DEFAULT_MS;
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
	runner_stop(ctx);
	/* A stalled context is the runner thread's to release (it would block). */
	if (!ctx->stalled)
		SCardReleaseContext(ctx->h);
	free(ctx);
}

void
pcsc_set_timeouts(struct pcsc_ctx *ctx, long ms, long slow_ms)
{
	if (ctx == NULL)
		return;
	ctx->timeout_ms = ms > 0 ? ms : 0;
	ctx->slow_ms = slow_ms > 0 ? slow_ms : 0;
}

int
pcsc_stalled(const struct pcsc_ctx *ctx)
{
	return ctx != NULL && ctx->stalled;
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
	if (ctx->stalled)
		return PCSC_ERR_NOT_RESPONDING;
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
	if (ctx->stalled)
		return PCSC_ERR_NOT_RESPONDING;
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
	if (ctx == NULL)
		return PCSC_ERR_INVALID;
	return ctx->stalled ? PCSC_ERR_NOT_RESPONDING : from_scard(SCardCancel(ctx->h));
}

int
pcsc_reader_state(struct pcsc_ctx *ctx, const char *reader, unsigned *events,
    int *present)
{
	SCARD_READERSTATE rs;
	LONG rv;

	if (events != NULL)
		*events = 0;
	if (present != NULL)
		*present = 0;
	if (ctx == NULL || reader == NULL || events == NULL || present == NULL)
		return PCSC_ERR_INVALID;
	if (ctx->stalled)
		return PCSC_ERR_NOT_RESPONDING;
	memset(&rs, 0, sizeof(rs));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	if ((rv = SCardGetStatusChange(ctx->h, 0, &rs, 1)) != SCARD_S_SUCCESS &&
	    rv != SCARD_E_TIMEOUT)
		return from_scard(rv);
	*events = (unsigned)(rs.dwEventState >> 16);
	*present = (rs.dwEventState & SCARD_STATE_PRESENT) != 0;
	return PCSC_OK;
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
 * powered, responsive card. Used once before giving up on a connect. An
 * empty reader is a final answer: nothing to wait for (a listing of 8 empty
 * readers took 12 s, 1.5 s each, before).
 */
static void
settle(SCARDCONTEXT ctxh, const char *reader)
{
	SCARD_READERSTATE rs;
	int i;

	memset(&rs, 0, sizeof(rs));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	for (i = 0; i < 4; i++) {
		if (SCardGetStatusChange(ctxh, i == 0 ? 0 : 500, &rs, 1) !=
		    SCARD_S_SUCCESS && i == 0)
			return;
		if (i == 0 && (rs.dwEventState & SCARD_STATE_EMPTY) &&
		    !(rs.dwEventState & SCARD_STATE_PRESENT))
			return;
		if ((rs.dwEventState & SCARD_STATE_PRESENT) &&
		    !(rs.dwEventState & (SCARD_STATE_MUTE | SCARD_STATE_UNPOWERED)))
			return;
		rs.dwCurrentState = rs.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
}

/* SCardConnect, once more after the reader settles if the first answer was transient. */
static LONG
connect_settled(SCARDCONTEXT ctxh, const char *reader, SCARDHANDLE *h, DWORD *proto)
{
	LONG rv = SCardConnect(ctxh, reader, SCARD_SHARE_SHARED,
	    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, h, proto);

	if (transient(rv)) {
		settle(ctxh, reader);
		rv = SCardConnect(ctxh, reader, SCARD_SHARE_SHARED,
		    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, h, proto);
	}
	return rv;
}

/* ---- bounded calls: the runner thread ----------------------------------- */

/* The call itself, in whichever thread runs it; r->rv is the answer. */
static void
do_call(struct runner *r)
{
	char name[256];
	DWORD nlen = sizeof(name), state;

	switch (r->what) {
	case CALL_CONNECT:
		r->rv = connect_settled(r->ctxh, r->reader, &r->h, &r->proto);
		break;
	case CALL_TRANSMIT:
		r->rv = SCardTransmit(r->h, r->pci, r->cmd, (DWORD)r->cmd_len,
		    NULL, r->rsp, &r->rsp_len);
		break;
	case CALL_BEGIN:
		r->rv = SCardBeginTransaction(r->h);
		break;
	case CALL_END:
		r->rv = SCardEndTransaction(r->h, SCARD_LEAVE_CARD);
		break;
	case CALL_RECONNECT:
		r->rv = SCardReconnect(r->h, SCARD_SHARE_SHARED, r->proto_pref,
		    r->disp, &r->proto);
		break;
	case CALL_STATUS:
		r->atr_len = sizeof(r->atr);
		r->rv = SCardStatus(r->h, name, &nlen, &state, &r->proto, r->atr,
		    &r->atr_len);
		break;
	case CALL_DISCONNECT:
		r->rv = SCardDisconnect(r->h, r->disp);
		break;
	}
}

static void
runner_free(struct runner *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	explicit_bzero(r->cmd, sizeof(r->cmd));
	explicit_bzero(r->rsp, sizeof(r->rsp));
	free(r);
}

static void *
runner_main(void *arg)
{
	struct runner *r = arg;
	int orphan;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->busy && !r->quit)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->busy)
			break;
		pthread_mutex_unlock(&r->mu);
		do_call(r);
		pthread_mutex_lock(&r->mu);
		r->busy = 0;
		pthread_cond_broadcast(&r->cv);
		if (r->orphan)
			break;
	}
	orphan = r->orphan;
	pthread_mutex_unlock(&r->mu);
	if (orphan) {
		/* Abandoned: the owner is gone; the context and we are ours to end. */
		SCardReleaseContext(r->ctxh);
		runner_free(r);
	}
	return NULL;
}

static struct runner *
runner_get(struct pcsc_ctx *c)
{
	struct runner *r;
	pthread_condattr_t ca;

	if (c->run != NULL)
		return c->run;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->ctxh = c->h;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->th, NULL, runner_main, r) != 0) {
		runner_free(r);
		return NULL;
	}
	c->run = r;
	return r;
}

/* Normal end of a context: the runner is idle; stop it and wait for it. */
static void
runner_stop(struct pcsc_ctx *c)
{
	struct runner *r = c->run;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->quit = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	runner_free(r);
	c->run = NULL;
}

/*
 * Run the call prepared in c->run (runner_get) within ms (0: no bound, in
 * the caller's thread). Past the bound the call is abandoned to its thread,
 * the context is marked stalled and RV_STALLED is returned; so is every
 * later call on a stalled context.
 */
static LONG
bounded(struct pcsc_ctx *c, struct runner *r, long ms)
{
	struct timespec dl;
	LONG rv;

	if (c->stalled)
		return RV_STALLED;
	if (ms <= 0) {
		do_call(r);
		return r->rv;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	r->busy = 1;
	pthread_cond_signal(&r->cv);
	while (r->busy)
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT &&
		    r->busy) {
			r->orphan = 1;
			pthread_detach(r->th);
			c->run = NULL;
			c->stalled = 1;
			pthread_mutex_unlock(&r->mu);
			return RV_STALLED;
		}
	rv = r->rv;
	pthread_mutex_unlock(&r->mu);
	return rv;
}

/* A prepared call on the context's runner (NULL if it cannot be had). */
static struct runner *
prepare(struct pcsc_ctx *c, enum call what, SCARDHANDLE h)
{
	struct runner *r;

	if (c->stalled || (r = runner_get(c)) == NULL)
		return NULL;
	r->what = what;
	r->h = h;
	return r;
}

/* One bounded call on handle h with the normal budget. */
static LONG
call_h(struct pcsc_ctx *c, enum call what, SCARDHANDLE h, DWORD disp)
{
	struct runner *r = prepare(c, what, h);

	if (r == NULL)
		return c->stalled ? RV_STALLED : SCARD_E_NO_MEMORY;
	r->disp = disp;
	r->proto_pref = SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0;
	return bounded(c, r, c->timeout_ms);
}

static LONG
call_connect(struct pcsc_ctx *c, const char *reader, SCARDHANDLE *h, DWORD *proto)
{
	struct runner *r = prepare(c, CALL_CONNECT, 0);
	LONG rv;

	if (r == NULL)
		return c->stalled ? RV_STALLED : SCARD_E_NO_MEMORY;
	snprintf(r->reader, sizeof(r->reader), "%s", reader);
	if ((rv = bounded(c, r, c->timeout_ms)) == SCARD_S_SUCCESS) {
		*h = r->h;
		*proto = r->proto;
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
	if ((rv = call_connect(ctx, reader, &c->h, &c->proto)) != SCARD_S_SUCCESS) {
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
	/* On a stalled context the handle goes with the context's release. */
	if (!card->ctx->stalled)
		(void)call_h(card->ctx, CALL_DISCONNECT, card->h,
		    reset ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
	free(card);
}

int
pcsc_card_atr(struct pcsc_card *card, uint8_t *atr, size_t *len)
{
	struct runner *r;
	LONG rv;

	if (len != NULL)
		*len = 0;
	if (card == NULL || atr == NULL || len == NULL)
		return PCSC_ERR_INVALID;
	if ((r = prepare(card->ctx, CALL_STATUS, card->h)) == NULL)
		return card->ctx->stalled ? PCSC_ERR_NOT_RESPONDING : PCSC_ERR_NOMEM;
	if ((rv = bounded(card->ctx, r, card->ctx->timeout_ms)) != SCARD_S_SUCCESS)
		return from_scard(rv);
	if (r->atr_len > PCSC_ATR_MAX)
		return PCSC_ERR_ATR;
	memcpy(atr, r->atr, r->atr_len);
	*len = r->atr_len;
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
	LONG rv;

	if (card == NULL)
		return PCSC_ERR_INVALID;
	rv = call_h(card->ctx, CALL_RECONNECT, card->h, SCARD_RESET_CARD);
	if (rv == SCARD_S_SUCCESS)
		card->proto = card->ctx->run->proto;
	return from_scard(rv);
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
	struct runner *r;
	long ms;
	LONG rv;

	if (cmd_len > CMD_MAX)
		return APDU_ERR_INVALID;
	if ((r = prepare(c->ctx, CALL_TRANSMIT, c->h)) == NULL)
		return c->ctx->stalled ? APDU_ERR_NOT_RESPONDING : APDU_ERR_NOMEM;
	r->pci = c->proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
	memcpy(r->cmd, cmd, cmd_len);
	r->cmd_len = cmd_len;
	r->rsp_len = (DWORD)(*rsp_len < RSP_MAX ? *rsp_len : RSP_MAX);
	/* On-card key generation is slow-but-alive (RSA: seconds to minutes). */
	ms = cmd_len >= 2 && cmd[1] == INS_GENERATE ? c->ctx->slow_ms :
	    c->ctx->timeout_ms;
	/* After RV_STALLED r is the runner thread's: not touched again. */
	if ((rv = bounded(c->ctx, r, ms)) != RV_STALLED)
		explicit_bzero(r->cmd, r->cmd_len);
	if (rv != SCARD_S_SUCCESS) {
		if (rv != RV_STALLED)	/* not a PC/SC code: not for the logs */
			c->last_rv = (long)rv;
		return rv == SCARD_E_NOT_TRANSACTED ? classify_short(c, APDU_ERR_TRANSMIT) :
		    to_apdu(rv);
	}
	if (r->rsp_len < 2 || r->rsp_len > *rsp_len)
		return classify_short(c, APDU_ERR_MALFORMED);
	memcpy(rsp, r->rsp, r->rsp_len);
	explicit_bzero(r->rsp, r->rsp_len);
	*rsp_len = r->rsp_len;
	return APDU_OK;
}

static int
tr_begin(void *arg)
{
	struct pcsc_card *c = arg;
	LONG rv = call_h(c->ctx, CALL_BEGIN, c->h, 0);

	if (rv != SCARD_S_SUCCESS && rv != RV_STALLED)
		c->last_rv = (long)rv;
	return to_apdu(rv);
}

static void
tr_end(void *arg)
{
	struct pcsc_card *c = arg;

	(void)call_h(c->ctx, CALL_END, c->h, 0);
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

	rv = call_h(c->ctx, CALL_RECONNECT, c->h, SCARD_LEAVE_CARD);
	if (rv == SCARD_S_SUCCESS) {
		c->proto = c->ctx->run->proto;
		return APDU_OK;
	}
	if (rv == RV_STALLED ||
	    (rv = call_connect(c->ctx, c->reader, &h, &proto)) != SCARD_S_SUCCESS) {
		if (rv != RV_STALLED)
			c->last_rv = (long)rv;
		return to_apdu(rv);
	}
	(void)call_h(c->ctx, CALL_DISCONNECT, c->h, SCARD_LEAVE_CARD);
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
