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
 *
 * OpenSC runs with the station's own configuration, not the host's, and sees
 * only the reader under test: with every reader visible, its default of 16
 * virtual slots at 4 per card hid every reader after the fourth ("no matching
 * token" for half of 8 parallel issuances), its slot scan waited on each
 * other reader's card while another issuance held it (self-tests taking 20 s
 * and more), and a reader whose card stopped answering never replies to the
 * features query (SCardControl) OpenSC sends at start, so one mute card would
 * hang every self-test (t_daemon_stall). A file cache could also answer for
 * the card: off.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pcsc.h"
#include "engine/cardops.h"
#include "proc/sandbox.h"

/*
 * ignored_readers matches substrings: a reader whose name is part of the
 * target's (or that a scconf string cannot hold) stays visible. Slower,
 * never wrong.
 */
static int
can_ignore(const char *name, const char *target)
{
	return strcmp(name, target) != 0 && strstr(target, name) == NULL &&
	    strpbrk(name, "\"\\\n") == NULL;
}

/* The configuration in a memory file that OpenSC opens by its /proc path. */
static int
own_opensc_conf(const char *target)
{
	struct pcsc_ctx *pc = NULL;
	char **names = NULL, path[64];
	size_t n = 0, i;
	int fd, first = 1, rc = -1;
	FILE *f;

	if ((fd = memfd_create("opensc.conf", 0)) < 0)
		return -1;
	if ((f = fdopen(dup(fd), "w")) == NULL)
		goto out;
	fprintf(f, "app default {\n\tuse_file_caching = no;\n"
	    "\tframework pkcs15 { }\n");
	if (pcsc_init(&pc) == PCSC_OK &&
	    pcsc_list_readers(pc, &names, &n) == PCSC_OK) {
		for (i = 0; i < n; i++) {
			if (!can_ignore(names[i], target))
				continue;
			fprintf(f, "%s\"%s\"", first ? "\tignored_readers = " :
			    ", ", names[i]);
			first = 0;
		}
		if (!first)
			fprintf(f, ";\n");
	}
	/* pcsc-lite serves at most 16 readers; OpenSC reserves 4 slots per card. */
	fprintf(f, "}\napp opensc-pkcs11 {\n\tpkcs11 {\n"
	    "\t\tmax_virtual_slots = 64;\n\t\tslots_per_card = 4;\n\t}\n}\n");
	if (fclose(f) != 0)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = setenv("OPENSC_CONF", path, 1);
out:
	pcsc_free_list(names);
	pcsc_done(pc);
	if (rc != 0)
		close(fd);
	return rc;
}

int
main(int argc, char **argv)
{
	char pin[16], detail[256] = "";
	enum sbx_mode mode = SBX_ENFORCE;
	ssize_t n;
	int rc;

	/* Inherited from the engine through posix_spawn; said here too: an
	 * engine gone mid-test must not turn the answer into exit 141. */
	signal(SIGPIPE, SIG_IGN);
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
	if (own_opensc_conf(argv[2]) != 0) {
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
