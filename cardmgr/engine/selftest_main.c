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
 * OpenSC sees only READER: when it starts it asks every reader for its
 * features (SCardControl), and a reader whose card stopped answering never
 * replies, so one mute card elsewhere would hang every self-test. The
 * helper's OpenSC configuration (in a memfd, OPENSC_CONF) lists every other
 * reader under ignored_readers; otherwise it is Debian's default (empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "engine/cardops.h"
#include "pcsc.h"

/* May name be ignored? Not `only`, nor what OpenSC's substring match would
 * find in `only`, nor what cannot be quoted safely. */
static int
ignorable(const char *name, const char *only)
{
	return name[0] != '\0' && strstr(only, name) == NULL &&
	    strpbrk(name, "\"\\\n") == NULL;
}

/* OPENSC_CONF: a config that ignores every reader but `only`. */
static int
only_reader(const char *only)
{
	struct pcsc_ctx *pc = NULL;
	char **names = NULL, path[64];
	size_t n = 0, i;
	FILE *f = NULL;
	int fd, first = 1, rc = -1;

	if (pcsc_init(&pc) != PCSC_OK || pcsc_list_readers(pc, &names, &n) != PCSC_OK)
		goto out;
	if ((fd = memfd_create("opensc.conf", 0)) < 0)
		goto out;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	fprintf(f, "app default {\n");
	for (i = 0; i < n; i++) {
		if (!ignorable(names[i], only))
			continue;
		fprintf(f, "%s\"%s\"", first ? "\tignored_readers = " : ", ",
		    names[i]);
		first = 0;
	}
	fprintf(f, "%s\tframework pkcs15 {\n\t}\n}\n", first ? "" : ";\n");
	if (fflush(f) != 0)
		goto out;
	/* The descriptor stays open (no fclose): OpenSC opens the path later. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = setenv("OPENSC_CONF", path, 1);
out:
	pcsc_free_list(names);
	pcsc_done(pc);
	return rc;
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
	if (only_reader(argv[2]) != 0) {
		OPENSSL_cleanse(pin, sizeof(pin));
		printf("self-test: cannot set up OpenSC for reader %s\n", argv[2]);
		return 1;
	}
	rc = cops_self_test(argv[1], argv[2], pin, detail, sizeof(detail));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != COPS_OK)
		printf("%s\n", detail);
	return rc == COPS_OK ? 0 : 1;
}
