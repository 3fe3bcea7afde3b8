/*
 * apdu: ISO 7816-4 command/response transport over a pluggable transmit function.
 *
 * The transport knows nothing about PC/SC: a struct apdu_transport supplies the
 * raw exchange (pcsc.c in the station, a scripted fake in unit tests). This layer
 * adds short/extended encoding, command chaining, the 61xx GET RESPONSE loop, the
 * 6Cxx re-send, a hard cap on the assembled response, counters, and the ONE
 * mapping from status words to error codes (apdu_sw_to_err) that every driver
 * above uses.
 */
#ifndef APDU_H
#define APDU_H

#include <stddef.h>
#include <stdint.h>

enum apdu_err {
	APDU_OK = 0,
	APDU_ERR_INVALID = -1,		/* bad argument */
	APDU_ERR_NOMEM = -2,
	APDU_ERR_TRANSMIT = -3,		/* transport failed (reader gone, protocol) */
	APDU_ERR_REMOVED = -4,		/* card pulled during the exchange */
	APDU_ERR_RESET = -5,		/* card was reset: volatile state is lost */
	APDU_ERR_MALFORMED = -6,	/* response shorter than a status word */
	APDU_ERR_TOOBIG = -7,		/* response would exceed the cap */
	APDU_ERR_PROTOCOL = -8,		/* endless 61xx/6Cxx, chaining refused */
	APDU_ERR_NOT_RESPONDING = -9,	/* no answer within the transport's time bound */
	/* Status words, mapped in apdu_sw_to_err() only. */
	APDU_ERR_WRONG_PIN = -20,	/* 63Cx: verification failed, x tries left */
	APDU_ERR_BLOCKED = -21,		/* 6983: authentication method blocked */
	APDU_ERR_SECURITY = -22,	/* 6982: security status not satisfied */
	APDU_ERR_CONDITIONS = -23,	/* 6985: conditions of use not satisfied */
	APDU_ERR_NOT_FOUND = -24,	/* 6A82: file or application not found */
	APDU_ERR_WRONG_DATA = -25,	/* 6A80: incorrect data field */
	APDU_ERR_P1P2 = -26,		/* 6A86/6B00: incorrect P1/P2 */
	APDU_ERR_WRONG_LENGTH = -27,	/* 6700 */
	APDU_ERR_NO_SPACE = -28,	/* 6A84: not enough memory on the card */
	APDU_ERR_INS = -29,		/* 6D00: instruction not supported */
	APDU_ERR_CLA = -30,		/* 6E00: class not supported */
	APDU_ERR_MEMORY = -31,		/* 6581: memory failure */
	APDU_ERR_SW = -32,		/* any other status word */
	APDU_ERR_REF_NOT_FOUND = -33,	/* 6A88: referenced data (key) not found */
};

const char *apdu_strerror(int err);
/* Symbolic name of the code ("APDU_ERR_REMOVED"); "?" if unknown. */
const char *apdu_name(int err);
/* The single status word -> code map. 9000 -> APDU_OK. */
int apdu_sw_to_err(uint16_t sw);

/*
 * transmit: send cmd, write at most *rsp_len bytes (data || SW1 SW2) into rsp and
 * set *rsp_len. Returns APDU_OK or APDU_ERR_TRANSMIT/REMOVED/RESET.
 * begin/end: optional (NULL) exclusive-access hooks, run by apdu_begin/apdu_end;
 * begin returns APDU_ERR_RESET/REMOVED when the card changed since last time.
 * reconnect: optional; reattach after a reset or re-insertion (APDU_OK or error).
 */
struct apdu_transport {
	int (*transmit)(void *arg, const uint8_t *cmd, size_t cmd_len,
	    uint8_t *rsp, size_t *rsp_len);
	int (*begin)(void *arg);
	void (*end)(void *arg);
	void *arg;
	int (*reconnect)(void *arg);
};

struct apdu_stats {
	uint64_t commands;	/* APDUs sent, incl. GET RESPONSE and chain blocks */
	uint64_t bytes_sent;
	uint64_t bytes_received;	/* incl. status words */
};

struct apdu_ctx;

#define APDU_MAX_RESPONSE_DEFAULT (64u * 1024u)

/* [out] *ctx, free with apdu_done(). The transport is copied. */
int apdu_init(struct apdu_ctx **ctx, const struct apdu_transport *t);
void apdu_done(struct apdu_ctx *ctx);
/* Use extended-length APDUs instead of chaining/short Le (default off). */
void apdu_set_extended(struct apdu_ctx *ctx, int on);
/* Cap on an assembled response (data only). Default APDU_MAX_RESPONSE_DEFAULT. */
void apdu_set_max_response(struct apdu_ctx *ctx, size_t max);
void apdu_get_stats(const struct apdu_ctx *ctx, struct apdu_stats *st);
void apdu_reset_stats(struct apdu_ctx *ctx);
int apdu_begin(struct apdu_ctx *ctx);
void apdu_end(struct apdu_ctx *ctx);
/* Run the transport's reconnect hook (APDU_ERR_INVALID if it has none). */
int apdu_reconnect(struct apdu_ctx *ctx);

struct apdu_cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;	/* may hold secrets: never logged */
	size_t len;
	int want_data;		/* send Le (00) and collect response data */
};

/*
 * Send one command (chained if needed), collect the full response.
 * [out] *rsp: malloc'd response data (NULL if none), *rsp_len its length;
 * free with apdu_free() (it wipes). *sw: the final status word (may be NULL).
 * Returns APDU_OK only for 9000; otherwise the mapped status word error, with
 * *rsp NULL. Command buffers are wiped after sending.
 */
int apdu_transceive(struct apdu_ctx *ctx, const struct apdu_cmd *cmd,
    uint8_t **rsp, size_t *rsp_len, uint16_t *sw);
/* Wipe and free a response from apdu_transceive. NULL is fine. */
void apdu_free(uint8_t *rsp, size_t len);

#endif /* APDU_H */
