/*
 * cardmgr-selftest: the post-issuance PKCS#11 self-test through OpenSC, in a
 * process of its own. libp11 keeps a copy of the login PIN that it frees
 * without wiping, and OpenSC caches it too; run in the engine, the holder's
 * PIN would outlive the operation in the engine's memory. Here it dies with
 * the process, and a crash in the vendor module cannot take the engine down
 * (the idea of OpenSSH's ssh-pkcs11-helper).
 *
 *   cardmgr-selftest MODULE READER      the PIN on fd 3 (one line), never argv
 *
 * Exit 0: passed; 1: failed (one line on stdout says why); 2: usage.
 *
 * OpenSC runs with the station's own configuration, not the host's: its
 * default of 16 virtual slots at 4 per card hides every reader after the
 * fourth (a station with 8 readers failed half its self-tests with "no
 * matching token"), and a file cache could answer for the card.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "engine/cardops.h"

/* pcsc-lite serves at most 16 readers; OpenSC reserves 4 slots per card. */
static const char opensc_conf[] =
    "app default {\n"
    "\tuse_file_caching = no;\n"
    "\tframework pkcs15 { }\n"
    "}\n"
    "app opensc-pkcs11 {\n"
    "\tpkcs11 {\n"
    "\t\tmax_virtual_slots = 64;\n"
    "\t\tslots_per_card = 4;\n"
    "\t}\n"
    "}\n";

/* The configuration in a memory file that OpenSC opens by its /proc path. */
static int
own_opensc_conf(void)
{
	char path[64];
	int fd;

	if ((fd = memfd_create("opensc.conf", 0)) < 0)
		return -1;
	if (write(fd, opensc_conf, sizeof(opensc_conf) - 1) !=
	    (ssize_t)(sizeof(opensc_conf) - 1)) {
		close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return setenv("OPENSC_CONF", path, 1);
}

int
main(int argc, char **argv)
{
	char pin[16], detail[256] = "";
	ssize_t n;
	int rc;

	if (argc != 3)
		return 2;
	n = read(3, pin, sizeof(pin) - 1);
	close(3);
	if (n <= 0)
		return 2;
	pin[n] = '\0';
	pin[strcspn(pin, "\n")] = '\0';
	if (own_opensc_conf() != 0) {
		OPENSSL_cleanse(pin, sizeof(pin));
		printf("self-test: cannot set up the OpenSC configuration\n");
		return 1;
	}
	rc = cops_self_test(argv[1], argv[2], pin, detail, sizeof(detail));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != COPS_OK)
		printf("%s\n", detail);
	return rc == COPS_OK ? 0 : 1;
}
