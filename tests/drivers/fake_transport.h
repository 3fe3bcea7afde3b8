/*
 * A scripted APDU transport for unit tests: each step names the exact command
 * expected (hex, spaces ignored; "*" matches any) and the response to give (hex,
 * or "!REMOVED" / "!RESET" / "!FAIL" for transport errors). A step's responder
 * may instead be a callback (a small card model for crypto exchanges).
 */
#ifndef FAKE_TRANSPORT_H
#define FAKE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "apdu.h"

struct fake_step {
	const char *cmd;
	const char *rsp;
};

/* Callback mode: produce rsp for cmd; return APDU_OK or a transport error. */
typedef int (*fake_card_fn)(void *arg, const uint8_t *cmd, size_t len,
    uint8_t *rsp, size_t *rsp_len);

struct fake {
	const struct fake_step *steps;
	size_t n, pos;
	int mismatch;		/* set on the first unexpected command */
	char last_cmd[2 * 70000];	/* hex of the last command seen */
	fake_card_fn card;	/* used when steps is NULL */
	void *card_arg;
	int begins, ends;
	int begin_rc;		/* returned by the next begin, then reset to APDU_OK */
	int reconnects;		/* reconnect hook calls */
	int reconnect_rc;
};

/* Fill t with a transport driven by f. */
void fake_transport(struct fake *f, struct apdu_transport *t);
/* Hex helper: decode hex (spaces ignored) into out; returns length or -1. */
long fake_unhex(const char *hex, uint8_t *out, size_t cap);

#endif
