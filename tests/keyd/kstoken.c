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

#include <openssl/bn.h>
#include <openssl/core_names.h>
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

/*
 * pkcs11-tool 0.23 cannot --read-object an EC key whose CKA_EC_POINT needs a
 * long-form DER length (P-384): take the EC_POINT and EC_PARAMS it prints in
 * its listing of public objects instead.
 */
static int
pubkey_from_listing(const struct kstoken *t, const char *label, EVP_PKEY **pub)
{
	char out[300], want[120], *s = NULL, *blk, *pt, *par;
	unsigned char q[200], *qq = q;
	long n;
	size_t ql;
	const char *group = NULL;
	FILE *f;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	int rc = -1;
	char *argv[] = { "pkcs11-tool", "--module", KSTOKEN_MODULE, "--token-label",
		(char *)t->label, "--list-objects", "--type", "pubkey", NULL };

	snprintf(out, sizeof(out), "%s/publist.txt", t->dir);
	snprintf(want, sizeof(want), "  label:      %s\n", label);
	if (kstoken_run(argv, out) != 0 || (f = fopen(out, "rb")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (s = calloc(1, (size_t)n + 1)) != NULL)
		(void)!fread(s, 1, (size_t)n, f);
	fclose(f);
	if (s == NULL || (blk = strstr(s, want)) == NULL)
		goto out;
	*blk = '\0';	/* EC_POINT and EC_PARAMS come before the label */
	if ((pt = strrchr(s, '\n')) == NULL || (pt = strstr(s, "EC_POINT:   ")) == NULL)
		goto out;
	while ((par = strstr(pt + 1, "EC_POINT:   ")) != NULL)
		pt = par;	/* the last one before our label */
	if ((par = strstr(pt, "EC_PARAMS:  ")) == NULL)
		goto out;
	if (strncmp(par + 12, "06082a8648ce3d030107", 20) == 0)
		group = "P-256";
	else if (strncmp(par + 12, "06052b81040022", 14) == 0)
		group = "P-384";
	else
		goto out;
	{
		BIGNUM *bn = NULL;
		char hex[500];
		size_t hl = strcspn(pt + 12, "\n");

		if (hl >= sizeof(hex))
			goto out;
		memcpy(hex, pt + 12, hl);
		hex[hl] = '\0';
		if (BN_hex2bn(&bn, hex) == 0 || (ql = (size_t)BN_num_bytes(bn)) > sizeof(q)) {
			BN_free(bn);
			goto out;
		}
		BN_bn2bin(bn, q);
		BN_free(bn);
	}
	/* DER OCTET STRING: 04 len | 04 81 len */
	if (ql > 3 && q[0] == 0x04 && q[1] == 0x81)
		qq = q + 3, ql -= 3;
	else if (ql > 2 && q[0] == 0x04)
		qq = q + 2, ql -= 2;
	params[0] = OSSL_PARAM_construct_utf8_string("group", (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string("pub", qq, ql);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, pub, EVP_PKEY_PUBLIC_KEY, params) == 1)
		rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	free(s);
	return rc;
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
	if (kstoken_run(argv, NULL) != 0)
		return pubkey_from_listing(t, label, pub);
	if ((f = fopen(out, "rb")) == NULL)
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

static int
write_all(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = -1;

	if (f == NULL)
		return -1;
	if (fwrite(d, 1, n, f) == n)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int
kstoken_decrypt_oaep(const struct kstoken *t, const char *label,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
	char cnf[300], inf[300], outf[300], uri[200], text[600];
	const char *old = getenv("OPENSSL_CONF");
	char *saved = old != NULL ? strdup(old) : NULL;
	FILE *f;
	int rc = -1;
	char *argv[] = { "openssl", "pkeyutl", "-decrypt", "-engine", "pkcs11",
		"-keyform", "engine", "-inkey", uri,
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
		"-pkeyopt", "rsa_mgf1_md:sha256", "-in", inf, "-out", outf, NULL };

	snprintf(cnf, sizeof(cnf), "%s/engine.cnf", t->dir);
	snprintf(inf, sizeof(inf), "%s/oaep.in", t->dir);
	snprintf(outf, sizeof(outf), "%s/oaep.out", t->dir);
	snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private", t->label,
	    label);
	snprintf(text, sizeof(text), "openssl_conf = conf\n[conf]\nengines = eng\n"
	    "[eng]\npkcs11 = p11\n[p11]\nengine_id = pkcs11\n"
	    "MODULE_PATH = %s\nPIN = %s\ninit = 0\n", KSTOKEN_MODULE, t->pin);
	if (write_all(cnf, text, strlen(text)) != 0 || write_all(inf, in, inlen) != 0 ||
	    setenv("OPENSSL_CONF", cnf, 1) != 0)
		goto out;
	if (kstoken_run(argv, NULL) == 0 && (f = fopen(outf, "rb")) != NULL) {
		*outlen = fread(out, 1, *outlen, f);
		fclose(f);
		rc = 0;
	}
out:
	if (saved != NULL)
		setenv("OPENSSL_CONF", saved, 1);
	else
		unsetenv("OPENSSL_CONF");
	free(saved);
	unlink(cnf);
	unlink(outf);
	return rc;
}
