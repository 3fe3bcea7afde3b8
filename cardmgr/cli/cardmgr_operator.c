/*
 * cardmgr operator add: make an operator who logs in with their PIV card
 * (docs/profiles.md, "Operator map"). Offline, as root on the station: the
 * operator map is root's file, and the first administrator (the bootstrap)
 * can be made by nobody else. It appends a card_sha256 entry naming the
 * certificate of the card's 9A slot, checks the whole new map with the
 * daemon's own parser, and replaces the file in one rename. cardmgrd reads
 * the map at start: restart it afterwards.
 */
#include "cardmgr.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "policy/operators.h"

#define MAP_MAX (1024 * 1024)

/* The certificate in file, PEM or DER: its DER's SHA-256, as hex. */
static int
cert_digest(const char *file, char hex[65])
{
	FILE *f = fopen(file, "rb");
	X509 *x = NULL;
	uint8_t *der = NULL, d[32];
	int n;

	if (f == NULL)
		return -1;
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	if (x == NULL || (n = i2d_X509(x, &der)) <= 0) {
		X509_free(x);
		return -1;
	}
	crypto_hash_sha256(d, der, (unsigned long long)n);
	sodium_bin2hex(hex, 65, d, sizeof(d));
	OPENSSL_free(der);
	X509_free(x);
	return 0;
}

/* "a,b" -> "\"a\", \"b\"" after checking each is an operator role. */
static int
roles_list(const char *in, char *out, size_t cap)
{
	char buf[256], *save = NULL, *r;
	size_t used = 0;
	int n;

	if (snprintf(buf, sizeof(buf), "%s", in) >= (int)sizeof(buf))
		return -1;
	out[0] = '\0';
	for (r = strtok_r(buf, ",", &save); r != NULL;
	    r = strtok_r(NULL, ",", &save)) {
		uint32_t bit = opr_role_from_name(r);

		if (bit == 0 || bit == OPR_ROLE_HOLDER) {
			fprintf(stderr, "cardmgr: %s is not an operator role\n", r);
			return -1;
		}
		n = snprintf(out + used, cap - used, "%s\"%s\"",
		    used ? ", " : "", r);
		if (n < 0 || (size_t)n >= cap - used)
			return -1;
		used += (size_t)n;
	}
	return used > 0 ? 0 : -1;
}

static int
read_map(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	*text = NULL;
	if (f == NULL)
		return -1;
	if ((*text = malloc(MAP_MAX + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(*text, 1, MAP_MAX + 1, f);
	fclose(f);
	if (n > MAP_MAX) {
		free(*text);
		*text = NULL;
		return -1;
	}
	(*text)[n] = '\0';
	*len = n;
	return 0;
}

/*
 * The map with entry appended to its operators list: before the list's
 * closing parenthesis (the last ')' in the file), after a comma when the
 * list has entries. The result is checked by the caller.
 */
static char *
append_entry(const char *text, size_t len, size_t count, const char *entry)
{
	const char *close = NULL;
	char *out;
	size_t n;

	for (size_t i = len; i > 0; i--)
		if (text[i - 1] == ')') {
			close = text + i - 1;
			break;
		}
	if (close == NULL)
		return NULL;
	n = len + strlen(entry) + 8;
	if ((out = malloc(n)) == NULL)
		return NULL;
	/* The text before ')' minus trailing blanks, then ",\n  entry\n)...". */
	{
		size_t head = (size_t)(close - text);

		while (head > 0 && (text[head - 1] == ' ' ||
		    text[head - 1] == '\n' || text[head - 1] == '\t'))
			head--;
		snprintf(out, n, "%.*s%s\n  %s\n%s", (int)head, text,
		    count > 0 ? "," : "", entry, close);
	}
	return out;
}

static int
write_map(const char *path, const char *text)
{
	char tmp[4096];
	size_t n = strlen(text);
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return -1;
	if (fchmod(fd, 0644) == 0 && write(fd, text, n) == (ssize_t)n &&
	    fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int
cm_operator(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "roles", required_argument, NULL, 'r' },
		{ "operators", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert = NULL, *name = NULL, *roles = NULL;
	const char *path = "/etc/cardmgr/operators.conf";
	char hex[65], rl[512], entry[1024], err[4096] = "";
	char *text = NULL, *out = NULL;
	struct opr_map *m = NULL, *m2 = NULL;
	size_t len = 0;
	int c, rc = CM_EXIT_ERROR;

	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return CM_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cert = optarg; break;
		case 'n': name = optarg; break;
		case 'r': roles = optarg; break;
		case 'o': path = optarg; break;
		default: return CM_EXIT_USAGE;
		}
	}
	if (cert == NULL || name == NULL || roles == NULL || optind != argc - 1)
		return CM_EXIT_USAGE;
	if (strlen(name) == 0 || strlen(name) > OPR_NAME_MAX ||
	    strpbrk(name, "\"\\\n") != NULL) {
		fprintf(stderr, "cardmgr: the name must be 1..%d characters, "
		    "without quotes or backslashes\n", OPR_NAME_MAX);
		return CM_EXIT_USAGE;
	}
	if (roles_list(roles, rl, sizeof(rl)) != 0)
		return CM_EXIT_USAGE;
	if (cert_digest(cert, hex) != 0) {
		fprintf(stderr, "cardmgr: %s: not a certificate (PEM or DER)\n",
		    cert);
		return CM_EXIT_ERROR;
	}
	/* The map as it is must load: we add to a file the daemon accepts. */
	if (opr_load(path, &m, err, sizeof(err)) != OPR_OK ||
	    read_map(path, &text, &len) != 0) {
		fprintf(stderr, "cardmgr: %s refused:\n%s", path, err);
		goto out;
	}
	snprintf(entry, sizeof(entry), "{ card_sha256 = \"%s\"; name = \"%s\";"
	    " roles = [ %s ]; }", hex, name, rl);
	if ((out = append_entry(text, len, opr_count(m), entry)) == NULL ||
	    opr_load_string(path, out, strlen(out), &m2, err,
	    sizeof(err)) != OPR_OK || opr_count(m2) != opr_count(m) + 1) {
		fprintf(stderr, "cardmgr: cannot add the entry to %s:\n%s", path,
		    err);
		goto out;
	}
	if (write_map(path, out) != 0) {
		fprintf(stderr, "cardmgr: writing %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	printf("operator \"%s\" (%s) added to %s for the card certificate "
	    "sha256 %s; restart cardmgrd to use it\n", name, roles, path, hex);
	rc = CM_EXIT_OK;
out:
	opr_free(m);
	opr_free(m2);
	free(text);
	free(out);
	return rc;
}
