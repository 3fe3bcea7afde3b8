/*
 * pin: PIN and PUK rules of a profile (struct prof_pin_policy), applied to a
 * PIN a holder chose, before it goes to the card.
 *
 * pin_check tests the rules in a fixed order and stops at the first broken
 * one, returning its own code; *why is a static sentence for the holder that
 * never contains the PIN (nor any part of it), so it may be logged and
 * shown. The comparisons that involve a secret on both sides (the previous
 * PIN, the confirmation) run in constant time. The drivers pad a PIN with
 * 0xFF to 8 bytes; that is not done here.
 *
 * The blocklist is a text file of common PINs, one a line ('#' comments,
 * blank lines ignored), read with the same secrecy checks as profiles (a
 * blocklist others could empty would silently weaken the policy).
 */
#ifndef PIN_H
#define PIN_H

#include <stddef.h>

#include "profile.h"

enum pin_err {
	PIN_OK = 0,
	PIN_ERR_ARG = -1,
	PIN_ERR_LENGTH = -2,		/* shorter or longer than allowed */
	PIN_ERR_DIGITS = -3,		/* non-digit where digits_only */
	PIN_ERR_CHARSET = -4,		/* not printable ASCII */
	PIN_ERR_REPEAT = -5,		/* repeat_run same characters in a row */
	PIN_ERR_SEQUENCE = -6,		/* sequence_run ascending/descending */
	PIN_ERR_REUSED = -7,		/* equal to the previous PIN */
	PIN_ERR_BLOCKLISTED = -8,	/* on the blocklist */
	PIN_ERR_MISMATCH = -9,		/* confirmation differs */
	PIN_ERR_IO = -10,		/* blocklist unreadable */
	PIN_ERR_PERM = -11,		/* blocklist symlink or writable by others */
	PIN_ERR_FORMAT = -12,		/* blocklist line malformed */
	PIN_ERR_NOMEM = -13,
};

const char *pin_strerror(int err);
const char *pin_errname(int err);

#define PIN_MAX_LEN 8			/* FIPS 201-3 */
#define PIN_BLOCKLIST_LINE 64		/* longest line, '\n' excluded */
#define PIN_BLOCKLIST_MAX 100000	/* entries */

struct pin_blocklist;

/*
 * Load path (secrecy-checked). [out] *out: pin_blocklist_free. On error,
 * errbuf holds "file:line: message".
 */
int pin_blocklist_load(const char *path, struct pin_blocklist **out,
    char *errbuf, size_t cap);
/* The same from memory; file names the text in messages. */
int pin_blocklist_parse(const char *file, const char *text, size_t len,
    struct pin_blocklist **out, char *errbuf, size_t cap);
void pin_blocklist_free(struct pin_blocklist *bl);
size_t pin_blocklist_count(const struct pin_blocklist *bl);
/* 1 if pin is listed. */
int pin_blocklist_has(const struct pin_blocklist *bl, const char *pin);

/*
 * Check new_pin against pol. old_pin (may be NULL) is the PIN it replaces,
 * for not_previous; bl may be NULL (no blocklist). [out] *why: a sentence
 * for the holder, on success too ("PIN accepted").
 */
int pin_check(const struct prof_pin_policy *pol, const char *new_pin,
    const char *old_pin, const struct pin_blocklist *bl, const char **why);

/* PUK format: pol->length characters, digits if pol->digits_only. */
int pin_check_puk(const struct prof_puk_policy *pol, const char *puk,
    const char **why);

/*
 * "Type the new PIN twice": PIN_OK if a and b are equal, PIN_ERR_MISMATCH if
 * not, in time independent of where they differ (both are padded to a fixed
 * size first; strings longer than 32 bytes are PIN_ERR_LENGTH).
 */
int pin_confirm(const char *a, const char *b);

#endif /* PIN_H */
