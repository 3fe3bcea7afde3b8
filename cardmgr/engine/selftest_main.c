/*
 * cardmgr-selftest: the post-issuance PKCS#11 self-test through OpenSC, in a
 * process of its own. libp11 keeps a copy of the login PIN that it frees
 * without wiping, and OpenSC caches it too; run in the engine, the holder's
 * PIN would outlive the operation in the engine's memory. Here it dies with
 * the process, and a crash in the vendor module cannot take the engine down
 * (the idea of OpenSSH's ssh-pkcs11-helper).
 *
 *   cardmgr-selftest [-S MODE] MODULE READER   the PIN on fd 3 (one line),
 *                                               never argv
 *
 * MODE is the sandbox's (enforce, log, off; default enforce): the helper
 * installs its own seccomp allow-list before it loads the module, on top of
 * the engine's, which it inherits.
 *
 * Exit 0: passed; 1: failed (one line on stdout says why); 2: usage;
 * 3: the sandbox could not be installed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "engine/cardops.h"
#include "proc/sandbox.h"

int
main(int argc, char **argv)
{
	char pin[16], detail[256] = "";
	enum sbx_mode mode = SBX_ENFORCE;
	ssize_t n;
	int rc;

	if (argc == 5 && strcmp(argv[1], "-S") == 0) {
		if (sbx_mode_parse(argv[2], &mode) != SBX_OK)
			return 2;
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		return 2;
	if (sbx_apply(SBX_SELFTEST, mode, "selftest") != SBX_OK)
		return 3;
	n = read(3, pin, sizeof(pin) - 1);
	close(3);
	if (n <= 0)
		return 2;
	pin[n] = '\0';
	pin[strcspn(pin, "\n")] = '\0';
	rc = cops_self_test(argv[1], argv[2], pin, detail, sizeof(detail));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != COPS_OK)
		printf("%s\n", detail);
	return rc == COPS_OK ? 0 : 1;
}
