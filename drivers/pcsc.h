/*
 * pcsc: PC/SC access (pcsc-lite): context, readers, hot-plug and card events,
 * ATR parsing, connections, exclusive transactions and reconnect.
 *
 * A struct pcsc_card gives an apdu transport (pcsc_card_transport) whose begin/end
 * hooks are SCardBeginTransaction/SCardEndTransaction and whose reconnect hook
 * re-attaches after a reset or a re-insertion; the piv module checks that the
 * card it then finds is the same one.
 */
#ifndef PCSC_H
#define PCSC_H

#include <stddef.h>
#include <stdint.h>

#include "apdu.h"

enum pcsc_err {
	PCSC_OK = 0,
	PCSC_ERR_INVALID = -1,
	PCSC_ERR_NOMEM = -2,
	PCSC_ERR_NO_SERVICE = -3,	/* pcscd not running */
	PCSC_ERR_NO_READERS = -4,
	PCSC_ERR_NO_CARD = -5,		/* reader is empty */
	PCSC_ERR_REMOVED = -6,		/* card removed */
	PCSC_ERR_RESET = -7,		/* card reset by someone */
	PCSC_ERR_SHARING = -8,		/* another process holds the card exclusively */
	PCSC_ERR_TIMEOUT = -9,
	PCSC_ERR_CANCELLED = -10,	/* pcsc_cancel() */
	PCSC_ERR_PROTOCOL = -11,	/* no common protocol / unresponsive card */
	PCSC_ERR_ATR = -12,		/* malformed ATR */
	PCSC_ERR_UNKNOWN_READER = -13,	/* reader gone or never there */
	PCSC_ERR_SCARD = -14,		/* any other PC/SC error */
	PCSC_ERR_NOT_RESPONDING = -15,	/* a card call ran past its time bound */
};

const char *pcsc_strerror(int err);
const char *pcsc_name(int err);

/* ---- ATR (ISO 7816-3) ---------------------------------------------------- */

#define PCSC_ATR_MAX 33

struct pcsc_atr {
	uint8_t ts, t0;
	unsigned protocols;	/* bit n set: T=n offered (T=0 implicit if none) */
	uint8_t hist[15];
	size_t hist_len;
	int has_tck;		/* TCK present (required unless only T=0) */
};
/* Parse and check an ATR (TS, interface bytes, history, TCK checksum). */
int pcsc_atr_parse(const uint8_t *atr, size_t len, struct pcsc_atr *out);

/* ---- context, readers, events ------------------------------------------ */

struct pcsc_ctx;

/* [out] *ctx: free with pcsc_done(). PCSC_ERR_NO_SERVICE without pcscd. */
int pcsc_init(struct pcsc_ctx **ctx);
void pcsc_done(struct pcsc_ctx *ctx);

/* [out] *names: NULL-terminated array of reader names; free with pcsc_free_list(). */
int pcsc_list_readers(struct pcsc_ctx *ctx, char ***names, size_t *n);
void pcsc_free_list(char **names);

enum pcsc_event_type {
	PCSC_EV_READER_ADDED = 1,
	PCSC_EV_READER_REMOVED,
	PCSC_EV_CARD_INSERTED,
	PCSC_EV_CARD_REMOVED,
};

struct pcsc_event {
	int type;		/* enum pcsc_event_type */
	char reader[128];
	uint8_t atr[PCSC_ATR_MAX];	/* CARD_INSERTED only */
	size_t atr_len;
};

/*
 * Next reader or card event, waiting at most timeout_ms (-1: forever). The first
 * call reports the readers and cards already present as ADDED/INSERTED events.
 * Reader hot-plug is watched through the "\\?PnP?\Notification" pseudo reader; a
 * card swapped between two polls is reported as REMOVED then INSERTED (pcsc-lite
 * event counter). PCSC_ERR_TIMEOUT when nothing happened.
 */
int pcsc_wait_event(struct pcsc_ctx *ctx, long timeout_ms, struct pcsc_event *ev);
/* Wake a pcsc_wait_event blocked in another thread (PCSC_ERR_CANCELLED). */
int pcsc_cancel(struct pcsc_ctx *ctx);

/* ---- time bounds on card calls -------------------------------------------- */

#define PCSC_TIMEOUT_DEFAULT_MS		30000L
#define PCSC_SLOW_TIMEOUT_DEFAULT_MS	120000L

/*
 * Bound every card call made through ctx (connect, status, transaction
 * begin/end, transmit, reconnect/reset, disconnect) to ms milliseconds, and
 * an APDU with INS 47 (GENERATE ASYMMETRIC KEY PAIR: on-card RSA keygen takes
 * seconds, sometimes minutes) to slow_ms. 0: no bound. Defaults
 * PCSC_TIMEOUT_DEFAULT_MS and PCSC_SLOW_TIMEOUT_DEFAULT_MS.
 *
 * pcsc-lite gives SCardTransmit no timeout and SCardCancel does not reach it,
 * so each context makes its card calls in a thread of its own and the caller
 * stops waiting at the bound: the call fails with PCSC_ERR_NOT_RESPONDING
 * (APDU_ERR_NOT_RESPONDING through the transport) and the context is spent:
 * every later call on it, and on its cards, fails the same way at once.
 * pcsc_disconnect() and pcsc_done() still free the caller's memory at once;
 * the blocked call, its thread and the PC/SC context end when the card
 * answers or is pulled. pcscd keeps that reader locked until then: a new
 * connection to it would block too (see docs/drivers.md).
 */
void pcsc_set_timeouts(struct pcsc_ctx *ctx, long ms, long slow_ms);
/* 1 if a call on ctx ran past its bound (the context is spent). */
int pcsc_stalled(const struct pcsc_ctx *ctx);

/*
 * The reader's card-event counter (pcscd counts every insertion and removal)
 * and whether a card is present, read from pcscd without touching the card:
 * it answers even while the card in that reader does not.
 */
int pcsc_reader_state(struct pcsc_ctx *ctx, const char *reader,
    unsigned *events, int *present);

/* ---- cards --------------------------------------------------------------- */

struct pcsc_card;

/* Shared-mode connection, T=1 preferred. [out] *card: pcsc_disconnect(). */
int pcsc_connect(struct pcsc_ctx *ctx, const char *reader, struct pcsc_card **card);
/* reset: power-cycle the card on the way out (clears PIN state). */
void pcsc_disconnect(struct pcsc_card *card, int reset);
/* Current ATR. [out] atr (PCSC_ATR_MAX bytes), *len. */
int pcsc_card_atr(struct pcsc_card *card, uint8_t *atr, size_t *len);
/* The last PC/SC return code (SCARD_*) a transport call failed with, 0 if none:
 * for logs, since the apdu/piv codes fold several of them together. */
long pcsc_card_last_error(const struct pcsc_card *card);
/* Active protocol: 0 for T=0, 1 for T=1. */
int pcsc_card_protocol(const struct pcsc_card *card);
/* Reset the card (warm) keeping the connection: everyone's PIN state goes. */
int pcsc_card_reset(struct pcsc_card *card);
/*
 * Fill t with this card's transport (transmit, begin/end transaction,
 * reconnect). The card must outlive whatever uses t.
 */
void pcsc_card_transport(struct pcsc_card *card, struct apdu_transport *t);

#endif /* PCSC_H */
