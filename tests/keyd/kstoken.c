/* kstoken: SoftHSM2 tokens for tests. See kstoken.h. */
#include "kstoken.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>

extern char **environ;

int
kstoken_run(char *const argv[], const char *file)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = -1, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, file != NULL ? file : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
kstoken_init(struct kstoken *t, const char *label, const char *pin)
{
	const char *tmp = getenv("TMPDIR");
	char conf[300], tokdir[300];
	FILE *f;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s/kstoken.XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->label, sizeof(t->label), "%s", label);
	snprintf(t->pin, sizeof(t->pin), "%s", pin);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", t->dir);
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", t->dir);
	if (mkdir(tokdir, 0700) != 0 || (f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n"
	    "log.level = ERROR\n", tokdir);
	if (fclose(f) != 0 || setenv("SOFTHSM2_CONF", conf, 1) != 0)
		return -1;
	{
		char *argv[] = { "softhsm2-util", "--init-token", "--free", "--label",
			t->label, "--pin", t->pin, "--so-pin", "so-12345678", NULL };

		return kstoken_run(argv, NULL) == 0 ? 0 : -1;
	}
}

void
kstoken_cleanup(struct kstoken *t)
{
	char *argv[] = { "rm", "-rf", t->dir, NULL };

	if (t->dir[0] != '\0')
		kstoken_run(argv, NULL);
}

int
kstoken_read_pubkey(const struct kstoken *t, const char *label, EVP_PKEY **pub)
{
	char out[300], lab[80];
	unsigned char buf[4096];
	const unsigned char *p = buf;
	size_t n;
	FILE *f;
	char *argv[] = { "pkcs11-tool", "--module", KSTOKEN_MODULE, "--token-label",
		(char *)t->label, "--read-object", "--type", "pubkey", "--label", lab,
		"--output-file", out, NULL };

	*pub = NULL;
	snprintf(out, sizeof(out), "%s/pub.der", t->dir);
	snprintf(lab, sizeof(lab), "%s", label);
	if (kstoken_run(argv, NULL) != 0 || (f = fopen(out, "rb")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unlink(out);
	*pub = d2i_PUBKEY(NULL, &p, (long)n);
	return *pub != NULL && p == buf + n ? 0 : -1;
}

char *
kstoken_list_objects(const struct kstoken *t)
{
	char out[300], *s = NULL;
	long n;
	FILE *f;
	char *argv[] = { "pkcs11-tool", "--module", KSTOKEN_MODULE, "--token-label",
		(char *)t->label, "--login", "--pin", (char *)t->pin, "--list-objects",
		NULL };

	snprintf(out, sizeof(out), "%s/list.txt", t->dir);
	if (kstoken_run(argv, out) != 0 || (f = fopen(out, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (s = calloc(1, (size_t)n + 1)) != NULL &&
	    fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}
