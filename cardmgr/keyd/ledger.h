/*
 * ledger: the cards whose 9B management key has left keyd. A key leaves
 * once, when its card is issued; keyd refuses (and stops) when the same GUID
 * is asked for again. The set survives restarts in an append-only file of
 * 16-byte GUIDs that only root creates and only keyd's inherited descriptor
 * writes: a record is on disk (fdatasync) before the key it names is sent.
 *
 *   ledger_open(path, &l, &why)   as root, before the privilege drop;
 *                                 path NULL: in memory only (tests)
 *   ledger_add(l, guid)           LEDGER_OK the first time, else LEDGER_ERR_SEEN
 *
 * A torn last record (a crash inside the append) is cut off at open: its key
 * was never sent. Lookups hash with a random SipHash key (crypto_shorthash),
 * so GUIDs chosen by a compromised engine cannot pile up in one chain.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <stddef.h>
#include <stdint.h>

enum ledger_err {
	LEDGER_OK = 0,
	LEDGER_ERR_ARG = -1,
	LEDGER_ERR_IO = -2,	/* cannot read, append or sync the file */
	LEDGER_ERR_NOMEM = -3,
	LEDGER_ERR_FILE = -4,	/* not a regular file of ours, or others may access it */
	LEDGER_ERR_SEEN = -5,	/* the GUID is in the ledger already */
};

const char *ledger_strerror(int err);

struct ledger;

int ledger_open(const char *path, struct ledger **out, const char **why);
int ledger_add(struct ledger *l, const uint8_t guid[16]);
/* 1 if guid is in the ledger. */
int ledger_has(const struct ledger *l, const uint8_t guid[16]);
size_t ledger_count(const struct ledger *l);
void ledger_close(struct ledger *l);

#endif /* LEDGER_H */
