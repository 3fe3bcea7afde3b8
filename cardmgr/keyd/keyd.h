/*
 * keyd: the station's key process. It knows the token's PIN and decides
 * what may be done with the token; the token's PKCS#11 module runs in its
 * helper (kh.h: a crash there fails a request, not keyd). It answers the engine's MSG_KS_*
 * requests (keyd_msg.h) and nothing else. An unexpected request, a malformed
 * one, or a closed socket ends it, and with it the daemon (fail closed).
 */
#ifndef KEYD_H
#define KEYD_H

#include <stddef.h>
#include <stdint.h>

struct keyd_cfg {
	const char *module;	/* PKCS#11 module of the station token */
	const char *token;	/* its label */
	const char *pin_file;	/* read while still root, then wiped */
	const char *station_label;	/* the CA link's key ("station-key") */
	const char *audit_label;	/* audit checkpoint key ("cardmgr-audit") */
	/* Filled by keyd_setup (before the privilege drop). */
	uint8_t *pin;		/* sodium_malloc'd */
	size_t pinlen;
	/* GUIDs whose 9B key left keyd (ledger.h); NULL path: memory only. */
	const char *ledger_path;
	struct ledger *ledger;	/* opened by keyd_setup, or by keyd_main */
	/* the PKCS#11 helper's seccomp mode ("enforce", "log", "off"; NULL:
	 * off, for unit tests) */
	const char *seccomp;
};

/* Runs as root before the drop: read and check the PIN file. 0 or -1. */
int keyd_setup(struct keyd_cfg *cfg);
/* The process body: serve fd until it closes. Returns the exit status. */
int keyd_main(struct keyd_cfg *cfg, int fd);

/*
 * Read a secret file safely: O_NOFOLLOW, a regular file owned by root or the
 * current user, no access for group or others, at most max bytes; one
 * trailing newline dropped. [out] *out (sodium_malloc'd), *len.
 * Returns 0, or -1 with why (static text).
 */
int keyd_read_secret(const char *path, size_t max, uint8_t **out, size_t *len,
    const char **why);

#endif /* KEYD_H */
