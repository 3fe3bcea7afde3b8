/*
 * cardmgr-ca: drives the CA link until the cardmgr daemon does.
 *
 *   cardmgr-ca -c ca.conf enroll-station --ref REF --secret-file FILE
 *   cardmgr-ca -c ca.conf renew-station [--force] [--same-key]
 *   cardmgr-ca -c ca.conf enroll --csr FILE --profile NAME [--out FILE] [--queue]
 *   cardmgr-ca -c ca.conf renew --cert OLD --csr FILE [--profile NAME] [--out FILE]
 *   cardmgr-ca -c ca.conf revoke --cert FILE --reason NAME [--queue]
 *   cardmgr-ca -c ca.conf unhold --cert FILE [--queue]
 *   cardmgr-ca -c ca.conf push --cert FILE [--queue]
 *   cardmgr-ca -c ca.conf cacerts [--out FILE]
 *   cardmgr-ca -c ca.conf crl-update
 *   cardmgr-ca -c ca.conf status
 *   cardmgr-ca -c ca.conf outbox list|drain [--max N]
 *
 * Exit status: 0 done, 1 error, 2 usage, 3 journaled but not yet accepted by
 * the CA (it will be retried; nothing is lost), 4 this station's certificate
 * is revoked or expired (it issues nothing until re-enrolled), 5 the station
 * token is damaged or missing (restore it from its backup or re-enroll; the
 * journal is kept).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cacli.h"
#include "ca/cafile.h"

static const struct {
	const char *name;
	int reason;
} reasons[] = {
	{ "unspecified", CRL_REASON_UNSPECIFIED },
	{ "keyCompromise", CRL_REASON_KEY_COMPROMISE },
	{ "affiliationChanged", CRL_REASON_AFFILIATION_CHANGED },
	{ "superseded", CRL_REASON_SUPERSEDED },
	{ "cessationOfOperation", CRL_REASON_CESSATION_OF_OPERATION },
	{ "certificateHold", CRL_REASON_CERTIFICATE_HOLD },
	{ "removeFromCRL", CRL_REASON_REMOVE_FROM_CRL },
};

void
cli_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("cardmgr-ca: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Library results as exit status: 3 kept for a retry, 4 station stopped. */
int
cli_exit(struct cli *c, int rc, const char *what)
{
	const char *d = cast_detail(c->st);

	if (rc == CAST_OK)
		return 0;
	if (rc == CAST_ERR_TOKEN && d[0] != '\0')	/* d says it all */
		cli_errx("%s%s%s", what ? what : "", what ? ": " : "", d);
	else
		cli_errx("%s%s%s%s%s", what ? what : "", what ? ": " : "",
		    cast_strerror(rc), d[0] ? ": " : "", d);
	switch (rc) {
	case CAST_ERR_QUEUED:
	case CAST_ERR_BUSY:
		return EXIT_QUEUED;
	case CAST_ERR_REVOKED:
	case CAST_ERR_EXPIRED:
		return EXIT_STATION;
	case CAST_ERR_TOKEN:
		return EXIT_TOKEN;
	default:
		return 1;
	}
}

const char *
cli_reason_name(int r)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == r)
			return reasons[i].name;
	return "unknown";
}

int
cli_reason_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].name, s) == 0)
			return reasons[i].reason;
	return -1;
}

const char *
cli_opt(struct cli *c, const char *name)
{
	int i;

	for (i = 0; i < c->nopt; i++)
		if (strcmp(c->argv_opt[i][0], name) == 0)
			return c->argv_opt[i][1];
	return NULL;
}

/* ---- files ---- */

/* Contents of a public file (certificate, CSR), < MAX_FILE bytes. */
static int
read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;

	*out = NULL;
	*len = 0;
	if (f == NULL || (buf = malloc(MAX_FILE)) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	n = fread(buf, 1, MAX_FILE, f);
	fclose(f);
	if (n == 0 || n == MAX_FILE) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

int
cli_write_cert_pem(const char *path, X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -1;

	if (b != NULL && PEM_write_bio_X509(b, x) &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		rc = cafile_write_atomic(path, data, (size_t)n, 1);
	BIO_free(b);
	return rc;
}

X509 *
cli_der_to_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* A certificate or CSR file, PEM or DER, as DER. */
int
cli_load_der(const char *path, int csr, uint8_t **der, size_t *len)
{
	uint8_t *raw;
	size_t n;
	BIO *b;
	X509 *x = NULL;
	X509_REQ *r = NULL;
	int l = -1;

	*der = NULL;
	if (read_all(path, &raw, &n) != 0)
		return -1;
	if (n > 10 && memcmp(raw, "-----", 5) != 0) {
		*der = raw;
		*len = n;
		return 0;
	}
	if ((b = BIO_new_mem_buf(raw, (int)n)) != NULL) {
		if (csr && (r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)))
			l = i2d_X509_REQ(r, der);
		else if (!csr && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
			l = i2d_X509(x, der);
	}
	BIO_free(b);
	X509_free(x);
	X509_REQ_free(r);
	free(raw);
	*len = l > 0 ? (size_t)l : 0;
	return l > 0 ? 0 : -1;
}

void
cli_hex(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

void
cli_serial_of(X509 *x, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", h ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
}

/* ---- main ---- */

static int
usage(void)
{
	fprintf(stderr, "usage: cardmgr-ca -c CONF COMMAND [options]\n"
	    "  enroll-station --ref REF --secret-file FILE [--subject /CN=..]\n"
	    "  renew-station [--force] [--same-key]\n"
	    "  enroll --csr FILE --profile NAME [--out FILE] [--queue [--repeat N]]\n"
	    "  renew --cert OLD --csr FILE [--profile NAME] [--out FILE] [--queue]\n"
	    "  revoke --cert FILE --reason NAME [--queue]\n"
	    "  unhold --cert FILE [--queue]\n"
	    "  push --cert FILE [--queue]\n"
	    "  cacerts [--out FILE]\n"
	    "  crl-update\n"
	    "  status\n"
	    "  outbox list [--pending] | outbox drain [--max N]\n");
	return EXIT_USAGE;
}

static int
parse_opts(struct cli *c, int argc, char **argv, int i)
{
	for (; i < argc; i++) {
		int flag = strcmp(argv[i], "--queue") == 0 ||
		    strcmp(argv[i], "--force") == 0 ||
		    strcmp(argv[i], "--same-key") == 0 ||
		    strcmp(argv[i], "--pending") == 0;

		if (strncmp(argv[i], "--", 2) != 0 || c->nopt == 8 ||
		    (!flag && i + 1 >= argc))
			return -1;
		c->argv_opt[c->nopt][0] = argv[i];
		c->argv_opt[c->nopt++][1] = flag ? "" : argv[++i];
	}
	return 0;
}

static int
dispatch(struct cli *c, const char *cmd, const char *sub)
{
	if (strcmp(cmd, "enroll-station") == 0) return cli_cmd_enroll_station(c);
	if (strcmp(cmd, "renew-station") == 0) return cli_cmd_renew_station(c);
	if (strcmp(cmd, "enroll") == 0) return cli_cmd_enroll(c);
	if (strcmp(cmd, "renew") == 0) return cli_cmd_renew(c);
	if (strcmp(cmd, "revoke") == 0) return cli_cmd_revoke(c, -1);
	if (strcmp(cmd, "unhold") == 0)
		return cli_cmd_revoke(c, CRL_REASON_REMOVE_FROM_CRL);
	if (strcmp(cmd, "push") == 0) return cli_cmd_push(c);
	if (strcmp(cmd, "cacerts") == 0) return cli_cmd_cacerts(c);
	if (strcmp(cmd, "crl-update") == 0) return cli_cmd_crl_update(c);
	if (strcmp(cmd, "status") == 0) return cli_cmd_status(c);
	if (strcmp(cmd, "outbox") == 0) return cli_cmd_outbox(c, sub);
	return usage();
}

/* ---- the station key, from the token, handed to the library ---- */

static int
keys_rc(int cakey_rc)
{
	switch (cakey_rc) {
	case CAKEY_OK:		return CAST_KEYS_OK;
	case CAKEY_ERR_TOKEN:	return CAST_KEYS_TOKEN;
	case CAKEY_ERR_NOKEY:	return CAST_KEYS_NOKEY;
	default:		return CAST_KEYS_FAIL;
	}
}

static void
token_cfg(struct cli *c, const char *label, const char *pin,
    struct cakey_cfg *kc)
{
	kc->module = c->conf.pkcs11_module;
	kc->token = c->conf.token;
	kc->pin = pin;
	kc->label = label;
}

/*
 * The token is logged in to once per run, on the library's first ask (a
 * status, a listing or an idle drain never logs in: a login rewrites
 * SoftHSM2's token file).
 */
static int
token_key(void *arg, const char *label, int create, EVP_PKEY **key)
{
	struct cli *c = arg;
	struct cakey_cfg kc;
	uint8_t pin[256];
	size_t n;
	int rc;

	*key = NULL;
	if (c->key != NULL)
		return keys_rc(cakey_other(c->key, label, create, key));
	rc = cafile_read_secret(c->conf.pin_file, pin, sizeof(pin), &n);
	if (rc != CAFILE_OK) {
		cli_errx("token PIN %s: %s", c->conf.pin_file, cafile_strerror(rc));
		return CAST_KEYS_FAIL;
	}
	pin[n] = '\0';
	token_cfg(c, label, (const char *)pin, &kc);
	rc = cakey_open(&kc, create, &c->key);
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != CAKEY_OK) {
		/* The library says what a missing token or key means. */
		if (rc != CAKEY_ERR_TOKEN && rc != CAKEY_ERR_NOKEY)
			cli_errx("station key: %s", cakey_strerror(rc));
		return keys_rc(rc);
	}
	if (cakey_created(c->key))
		printf("station key generated in token '%s'\n", c->conf.token);
	if (!EVP_PKEY_up_ref(cakey_pkey(c->key)))
		return CAST_KEYS_FAIL;
	*key = cakey_pkey(c->key);
	return CAST_KEYS_OK;
}

static int
token_check(void *arg, const char *label)
{
	struct cli *c = arg;
	struct cakey_cfg kc;

	token_cfg(c, label, NULL, &kc);
	return keys_rc(cakey_check(&kc));
}

static int
token_remove(void *arg, const char *label)
{
	struct cli *c = arg;

	return c->key != NULL && cakey_remove(c->key, label) == CAKEY_OK ? 0 : -1;
}

static void
note(void *arg, const char *msg)
{
	(void)arg;
	cli_errx("%s", msg);
}

int
main(int argc, char **argv)
{
	struct cli c;
	struct cast_cfg sc;
	char err[CACONF_VAL + 64];
	const char *sub = NULL;
	int first, rc;

	/* A TLS front that dies mid-exchange must fail the write (EPIPE: an
	 * error, the operation kept for a retry), not kill the drain silently
	 * with exit 141 between the CA's answer and the journal's commit. */
	signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof(c));
	if (argc < 4 || strcmp(argv[1], "-c") != 0)
		return usage();
	if (caconf_load(argv[2], &c.conf, err, sizeof(err)) != CACONF_OK) {
		cli_errx("%s", err);
		return 1;
	}
	first = 4;
	if (strcmp(argv[3], "outbox") == 0 && argc > 4)
		sub = argv[first++];
	if (parse_opts(&c, argc, argv, first) != 0)
		return usage();
	memset(&sc, 0, sizeof(sc));
	sc.conf = &c.conf;
	sc.keys.get = token_key;
	sc.keys.remove = token_remove;
	sc.keys.check = token_check;
	sc.keys.arg = &c;
	sc.note = note;
	if ((rc = cast_open(&sc, &c.st)) != CAST_OK) {
		cli_errx("station state in %s: %s", c.conf.state_dir,
		    cast_strerror(rc));
		return 1;
	}
	rc = dispatch(&c, argv[3], sub);
	if (rc == EXIT_USAGE)
		(void)usage();
	/* The library's keys are the token's: free them before closing it. */
	cast_close(c.st);
	cakey_close(c.key);
	return rc;
}
