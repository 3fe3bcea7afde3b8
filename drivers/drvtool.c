/*
 * drvtool: a scripting front end to the drivers library, for tests, benchmarks
 * and operators' debugging. One command per run; results are printed as
 * key=value lines, failures as "error: NAME (message)" with exit status 1
 * (2 for usage). Secrets (PINs, PUKs, management keys) never come from argv,
 * which any local user can read in /proc: they are read as name=value lines
 * from the descriptor given with --secrets-fd, and are never printed.
 *
 *   drvtool [-r READER] [--secrets-fd N] [-s] [-x] [-m MODULE] CMD ARGS...
 *
 * Secret names: pin (the PIN to verify), mgmt (ALG:HEX, the management key
 * to authenticate with), old and new (change-pin, change-puk,
 * p11-change-pin), puk and newpin (unblock), newmgmt (set-mgmt), newpin and
 * newpuk (issue), sopin and newpin (p11-unblock), sopin and userpin
 * (p11-init). A test and debugging tool: not shipped (drivers/README.md).
 *
 * See drivers/README.md for the command list (drvtool -h prints it too).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p11.h"
#include "pcsc.h"
#include "piv.h"

#define MAX_SECRETS 8

/* The name=value lines read from --secrets-fd; wiped by finish(). */
struct secret {
	char name[16];
	char val[96];
};

struct opts {
	const char *reader, *pin, *module, *out, *pub;
	struct secret sec[MAX_SECRETS];
	int nsec;
	int mgmt_alg;
	uint8_t mgmt_key[32];
	size_t mgmt_len;
	int stats, compress, pin_policy, touch_policy, pss, ec_only, extended;
	long timeout_ms, keygen_timeout_ms;	/* card call bounds (pcsc.h) */
};

struct tool {
	struct opts o;
	struct pcsc_ctx *pc;
	struct pcsc_card *card;
	struct piv_card *piv;
};

static const char usage_text[] =
    "usage: drvtool [-r READER] [--secrets-fd N] [-o OUT] [-P PUBFILE]\n"
    "               [-s] [-z] [-S] [-X] [--pin-policy N] [--touch-policy N] [--ec-only]\n"
    "               [--timeout-ms N] [--keygen-timeout-ms N]\n"
    "               [-m MODULE] CMD ...\n"
    "secrets: name=value lines on fd N: pin mgmt (ALG:HEX) old new puk newpin\n"
    "         newpuk newmgmt sopin userpin; never on the command line\n"
    "PC/SC:  readers | monitor N TIMEOUT_MS | atr | reset-card\n"
    "PIV:    identify | wait-swap FILE | pin-status | verify | change-pin (old, new)\n"
    "        change-puk (old, new) | unblock (puk, newpin) | set-retries PINS PUKS\n"
    "        reset | auth | set-mgmt (newmgmt) | generate SLOT ALG | import SLOT KEY.pem\n"
    "        sign SLOT IN | csr SLOT SUBJECT | attest SLOT | metadata SLOT\n"
    "        write-cert SLOT CERT.pem | read-cert SLOT | delete-cert SLOT\n"
    "        write-chuid FASCN32DIGITS YYYYMMDD | read-chuid | write-ccc | read-ccc\n"
    "        read-discovery | write-keyhist ON OFF [URL] | read-keyhist | read-printed\n"
    "        delete-object TAGHEX | issue CA.key CA.crt (newpin, newpuk)\n"
    "        repair CA.key CA.crt\n"
    "PKCS#11: p11-list | p11-selftest [TOKEN] (pin) | p11-change-pin TOKEN (old, new)\n"
    "        p11-unblock TOKEN (sopin, newpin) | p11-init SLOTID LABEL (sopin, userpin)\n"
    "        p11-sign TOKEN IDHEX IN (pin)\n";

static int
usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int
fail(const char *what, const char *name, const char *msg)
{
	printf("error: %s (%s: %s)\n", name, what, msg);
	return 1;
}

/* The secret called name from --secrets-fd, or NULL (and a message). */
static const char *
secret(struct tool *t, const char *name)
{
	int i;

	for (i = 0; i < t->o.nsec; i++)
		if (strcmp(t->o.sec[i].name, name) == 0)
			return t->o.sec[i].val;
	fprintf(stderr, "drvtool: missing secret '%s' on --secrets-fd\n", name);
	return NULL;
}

#define PIV_FAIL(what, rc) fail(what, piv_name(rc), piv_strerror(rc))
#define P11_FAIL(what, rc) fail(what, p11_name(rc), p11_strerror(rc))
#define PCSC_FAIL(what, rc) fail(what, pcsc_name(rc), pcsc_strerror(rc))

static void
print_hex(const char *key, const uint8_t *p, size_t n)
{
	size_t i;

	printf("%s=", key);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int
unhex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned v;

	if (n % 2 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static int
parse_alg(const char *s)
{
	static const struct { const char *n; int a; } t[] = {
		{ "3des", PIV_ALG_3DES }, { "aes128", PIV_ALG_AES128 },
		{ "aes192", PIV_ALG_AES192 }, { "aes256", PIV_ALG_AES256 },
		{ "rsa1024", PIV_ALG_RSA1024 }, { "rsa2048", PIV_ALG_RSA2048 },
		{ "rsa3072", PIV_ALG_RSA3072 }, { "rsa4096", PIV_ALG_RSA4096 },
		{ "p256", PIV_ALG_ECCP256 }, { "p384", PIV_ALG_ECCP384 } };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].n) == 0)
			return t[i].a;
	return 0;
}

/* "ALG:HEX" management key. */
static int
parse_mgmt(const char *s, int *alg, uint8_t *key, size_t *len)
{
	char name[16];
	const char *c = strchr(s, ':');

	if (c == NULL || (size_t)(c - s) >= sizeof(name))
		return -1;
	memcpy(name, s, (size_t)(c - s));
	name[c - s] = 0;
	if ((*alg = parse_alg(name)) == 0 || piv_alg_name(*alg)[0] == 'R')
		return -1;
	return unhex(c + 1, key, 32, len);
}

static int
parse_slot(const char *s)
{
	char *end;
	long v = strtol(s, &end, 16);

	return *end == 0 && v > 0 && v < 256 ? (int)v : -1;
}

/* ---- files ---------------------------------------------------------------- */

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *
load_key(const char *path, int priv)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) :
	    PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static FILE *
out_file(const struct opts *o)
{
	return o->out != NULL ? fopen(o->out, "w") : stdout;
}

static void
close_out(const struct opts *o, FILE *f)
{
	if (f != NULL && o->out != NULL)
		fclose(f);
}

static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*data = NULL;
	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 1 << 20 ||
	    fseek(f, 0, SEEK_SET) != 0 || (*data = malloc((size_t)n + 1)) == NULL ||
	    fread(*data, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*data);
		*data = NULL;
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

/* ---- PC/SC and PIV session ---------------------------------------------- */

/* The PC/SC context, with --timeout-ms / --keygen-timeout-ms applied. */
static int
tool_pcsc_init(struct tool *t)
{
	int rc = pcsc_init(&t->pc);

	if (rc == PCSC_OK)
		pcsc_set_timeouts(t->pc, t->o.timeout_ms, t->o.keygen_timeout_ms);
	return rc;
}

/* Connect to -r READER, else the first reader with a card. */
static int
open_card(struct tool *t)
{
	char **names = NULL;
	size_t n = 0, i;
	struct apdu_transport tr;
	int rc;

	if ((rc = tool_pcsc_init(t)) != PCSC_OK)
		return PCSC_FAIL("pcsc_init", rc);
	if (t->o.reader != NULL) {
		rc = pcsc_connect(t->pc, t->o.reader, &t->card);
	} else {
		if ((rc = pcsc_list_readers(t->pc, &names, &n)) != PCSC_OK)
			return PCSC_FAIL("pcsc_list_readers", rc);
		rc = PCSC_ERR_NO_CARD;
		for (i = 0; i < n && rc != PCSC_OK; i++)
			rc = pcsc_connect(t->pc, names[i], &t->card);
		pcsc_free_list(names);
	}
	if (rc != PCSC_OK)
		return PCSC_FAIL("pcsc_connect", rc);
	pcsc_card_transport(t->card, &tr);
	if ((rc = piv_init(&t->piv, &tr)) != PIV_OK)
		return PIV_FAIL("piv_init", rc);
	/* -X: extended-length APDUs instead of chaining and 61xx (as ykman does) */
	apdu_set_extended(piv_apdu(t->piv), t->o.extended);
	return 0;
}

static int
open_piv(struct tool *t)
{
	int rc;

	if (open_card(t) != 0)
		return 1;
	rc = piv_identify(t->piv, NULL);
	/* Identification only reads: after a transport hiccup (the card still
	 * settling from another client's reset) the handle re-attaches once. */
	if (rc == PIV_ERR_TRANSMIT || rc == PIV_ERR_RESET || rc == PIV_ERR_REMOVED)
		rc = piv_identify(t->piv, NULL);
	if (rc != PIV_OK)
		return PIV_FAIL("piv_identify", rc);
	return 0;
}

static int
auth(struct tool *t)
{
	int rc = piv_auth_mgmt(t->piv, t->o.mgmt_alg, t->o.mgmt_key, t->o.mgmt_len);

	return rc == PIV_OK ? 0 : PIV_FAIL("piv_auth_mgmt", rc);
}

static int
verify_pin(struct tool *t)
{
	int tries = -1, rc;

	if (t->o.pin == NULL)
		return fail("verify", "USAGE", "secret pin needed on --secrets-fd");
	if ((rc = piv_verify(t->piv, t->o.pin, &tries)) == PIV_OK)
		return 0;
	printf("tries=%d\n", tries);
	return PIV_FAIL("piv_verify", rc);
}

/* The public key of a slot: -P file, else the certificate, else metadata. */
static EVP_PKEY *
slot_pub(struct tool *t, int slot)
{
	struct piv_metadata m;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;

	if (t->o.pub != NULL)
		return load_key(t->o.pub, 0);
	if (piv_read_cert(t->piv, slot, &x) == PIV_OK) {
		k = X509_get_pubkey(x);
		X509_free(x);
		return k;
	}
	if (piv_get_metadata(t->piv, slot, &m) == PIV_OK) {
		k = m.pub;
		m.pub = NULL;
	}
	piv_metadata_clear(&m);
	return k;
}

/* ---- commands: PC/SC -------------------------------------------------------- */

static int
cmd_readers(struct tool *t, int argc, char **argv)
{
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	(void)argc; (void)argv;
	if ((rc = tool_pcsc_init(t)) != PCSC_OK)
		return PCSC_FAIL("pcsc_init", rc);
	if ((rc = pcsc_list_readers(t->pc, &names, &n)) != PCSC_OK)
		return PCSC_FAIL("pcsc_list_readers", rc);
	for (i = 0; i < n; i++)
		printf("reader=%s\n", names[i]);
	pcsc_free_list(names);
	return 0;
}

static const char *
ev_name(int type)
{
	switch (type) {
	case PCSC_EV_READER_ADDED: return "reader-added";
	case PCSC_EV_READER_REMOVED: return "reader-removed";
	case PCSC_EV_CARD_INSERTED: return "card-inserted";
	case PCSC_EV_CARD_REMOVED: return "card-removed";
	default: return "?";
	}
}

/* Print N events (after the initial scan if N counts them too). */
static int
cmd_monitor(struct tool *t, int argc, char **argv)
{
	struct pcsc_event ev;
	long n, i, to;
	int rc;

	if (argc != 3)
		return usage();
	n = strtol(argv[1], NULL, 10);
	to = strtol(argv[2], NULL, 10);
	if ((rc = tool_pcsc_init(t)) != PCSC_OK)
		return PCSC_FAIL("pcsc_init", rc);
	for (i = 0; i < n; i++) {
		if ((rc = pcsc_wait_event(t->pc, to, &ev)) != PCSC_OK)
			return PCSC_FAIL("pcsc_wait_event", rc);
		printf("event=%s reader=%s", ev_name(ev.type), ev.reader);
		if (ev.atr_len > 0)
			print_hex(" atr", ev.atr, ev.atr_len);
		else
			printf("\n");
		fflush(stdout);
	}
	return 0;
}

static int
cmd_atr(struct tool *t, int argc, char **argv)
{
	uint8_t atr[PCSC_ATR_MAX];
	struct pcsc_atr a;
	size_t len = 0;
	int rc;

	(void)argc; (void)argv;
	if (open_card(t) != 0)
		return 1;
	if ((rc = pcsc_card_atr(t->card, atr, &len)) != PCSC_OK)
		return PCSC_FAIL("pcsc_card_atr", rc);
	print_hex("atr", atr, len);
	if ((rc = pcsc_atr_parse(atr, len, &a)) != PCSC_OK)
		return PCSC_FAIL("pcsc_atr_parse", rc);
	printf("t0=%d\nt1=%d\n", (a.protocols & 1) != 0, (a.protocols & 2) != 0);
	print_hex("historical", a.hist, a.hist_len);
	printf("protocol=T=%d\n", pcsc_card_protocol(t->card));
	return 0;
}

static int
cmd_reset_card(struct tool *t, int argc, char **argv)
{
	int rc;

	(void)argc; (void)argv;
	if (open_card(t) != 0)
		return 1;
	return (rc = pcsc_card_reset(t->card)) == PCSC_OK ? 0 :
	    PCSC_FAIL("pcsc_card_reset", rc);
}

/* ---- commands: PIV identity and PINs ------------------------------------ */

static void
print_ident(const struct piv_ident *id)
{
	char fascn[33];

	printf("type=%s\n", id->type == PIV_TYPE_PIV_YUBICO ? "piv-yubico" :
	    id->type == PIV_TYPE_PIV ? "piv" : "unknown");
	if (id->has_version)
		printf("version=%u.%u.%u\n", id->version[0], id->version[1], id->version[2]);
	if (id->has_serial)
		printf("serial=%u\n", id->serial);
	if (id->has_chuid && id->chuid.has_guid)
		print_hex("guid", id->chuid.guid, 16);
	if (id->has_chuid && id->chuid.has_fascn &&
	    piv_fascn_decode(id->chuid.fascn, fascn) == PIV_OK)
		printf("fascn=%s\n", fascn);
	if (id->has_chuid && id->chuid.has_expiry)
		printf("expiry=%s\n", id->chuid.expiry);
}

static int
cmd_identify(struct tool *t, int argc, char **argv)
{
	struct piv_ident id;
	int rc;

	(void)argc; (void)argv;
	if (open_card(t) != 0)
		return 1;
	rc = piv_identify(t->piv, &id);
	if (rc == PIV_ERR_TRANSMIT || rc == PIV_ERR_RESET || rc == PIV_ERR_REMOVED)
		rc = piv_identify(t->piv, &id);	/* see open_piv */
	if (rc == PIV_ERR_NOT_PIV)
		printf("type=unknown\n");
	if (rc != PIV_OK)
		return PIV_FAIL("piv_identify", rc);
	print_ident(&id);
	return 0;
}

/* Identify, wait until FILE exists (the test swaps or resets the card), verify
 * the PIN: shows what a held handle does when the card changes under it. */
static int
cmd_wait_swap(struct tool *t, int argc, char **argv)
{
	struct piv_ident id;
	int rc, i, tries;

	if (argc != 2)
		return usage();
	if (open_piv(t) != 0)
		return 1;
	/*
	 * With a PIN, verify it first: the status check after a reset must
	 * then show the reset cleared it, not merely that it was never set.
	 */
	if (t->o.pin != NULL) {
		if (verify_pin(t) != 0)
			return 1;
		printf("verified=1\n");
	}
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < 600 && access(argv[1], F_OK) != 0; i++)
		usleep(50000);
	rc = piv_verify(t->piv, NULL, &tries);
	printf("first=%s\n", piv_name(rc));
	if (rc == PIV_ERR_REMOVED || rc == PIV_ERR_RESET)
		rc = piv_verify(t->piv, NULL, &tries);
	if (rc != PIV_OK && rc != PIV_ERR_WRONG_PIN)
		return PIV_FAIL("piv_verify", rc);
	if ((rc = piv_identify(t->piv, &id)) != PIV_OK)
		return PIV_FAIL("piv_identify", rc);
	printf("same-card\n");
	return 0;
}

static int
cmd_pin_status(struct tool *t, int argc, char **argv)
{
	int tries = -1, rc;

	(void)argc; (void)argv;
	if (open_piv(t) != 0)
		return 1;
	if (t->o.pin != NULL && verify_pin(t) != 0)
		return 1;
	rc = piv_verify(t->piv, NULL, &tries);
	printf("verified=%d\n", rc == PIV_OK);
	if (rc == PIV_ERR_WRONG_PIN || rc == PIV_ERR_BLOCKED)
		printf("tries=%d\n", tries);
	return rc == PIV_OK || rc == PIV_ERR_WRONG_PIN || rc == PIV_ERR_BLOCKED ? 0 :
	    PIV_FAIL("piv_verify", rc);
}

static int
cmd_verify(struct tool *t, int argc, char **argv)
{
	(void)argc; (void)argv;
	if (open_piv(t) != 0)
		return 1;
	if (verify_pin(t) != 0)
		return 1;
	printf("verified=1\n");
	return 0;
}

static int
cmd_change(struct tool *t, int argc, char **argv)
{
	int tries = -1, rc, puk = strcmp(argv[0], "change-puk") == 0;
	const char *old = secret(t, "old"), *new = secret(t, "new");

	if (argc != 1 || old == NULL || new == NULL)
		return usage();
	if (open_piv(t) != 0)
		return 1;
	rc = piv_change_ref(t->piv, puk ? PIV_REF_PUK : PIV_REF_PIN, old, new,
	    &tries);
	if (rc == PIV_OK)
		return 0;
	printf("tries=%d\n", tries);
	return PIV_FAIL("piv_change_ref", rc);
}

static int
cmd_unblock(struct tool *t, int argc, char **argv)
{
	int tries = -1, rc;
	const char *puk = secret(t, "puk"), *pin = secret(t, "newpin");

	(void)argv;
	if (argc != 1 || puk == NULL || pin == NULL)
		return usage();
	if (open_piv(t) != 0)
		return 1;
	if ((rc = piv_unblock_pin(t->piv, puk, pin, &tries)) == PIV_OK)
		return 0;
	printf("tries=%d\n", tries);
	return PIV_FAIL("piv_unblock_pin", rc);
}

static int
cmd_set_retries(struct tool *t, int argc, char **argv)
{
	int rc;

	if (argc != 3)
		return usage();
	if (open_piv(t) != 0 || auth(t) != 0 || verify_pin(t) != 0)
		return 1;
	rc = piv_set_retries(t->piv, atoi(argv[1]), atoi(argv[2]));
	return rc == PIV_OK ? 0 : PIV_FAIL("piv_set_retries", rc);
}

static int
cmd_reset(struct tool *t, int argc, char **argv)
{
	int rc;

	(void)argc; (void)argv;
	if (open_piv(t) != 0)
		return 1;
	return (rc = piv_reset(t->piv)) == PIV_OK ? 0 : PIV_FAIL("piv_reset", rc);
}

static int
cmd_auth(struct tool *t, int argc, char **argv)
{
	(void)argc; (void)argv;
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	printf("authenticated=1\n");
	return 0;
}

static int
cmd_set_mgmt(struct tool *t, int argc, char **argv)
{
	const char *nk = secret(t, "newmgmt");
	uint8_t key[32];
	size_t len = 0;
	int alg, rc;

	(void)argv;
	if (argc != 1 || nk == NULL || parse_mgmt(nk, &alg, key, &len) != 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return usage();
	}
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	rc = piv_set_mgmt_key(t->piv, alg, key, len, 0);
	OPENSSL_cleanse(key, sizeof(key));
	return rc == PIV_OK ? 0 : PIV_FAIL("piv_set_mgmt_key", rc);
}

/* ---- commands: keys -------------------------------------------------------- */

static int
write_pub(const struct opts *o, EVP_PKEY *k)
{
	FILE *f = out_file(o);
	int ok = f != NULL && PEM_write_PUBKEY(f, k) == 1;

	close_out(o, f);
	return ok ? 0 : fail("write", "IO", "cannot write output");
}

static int
cmd_generate(struct tool *t, int argc, char **argv)
{
	EVP_PKEY *k = NULL;
	int slot, alg, rc;

	if (argc != 3 || (slot = parse_slot(argv[1])) < 0 || !(alg = parse_alg(argv[2])))
		return usage();
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	rc = piv_generate(t->piv, slot, alg, t->o.pin_policy, t->o.touch_policy, &k);
	if (rc != PIV_OK)
		return PIV_FAIL("piv_generate", rc);
	rc = write_pub(&t->o, k);
	EVP_PKEY_free(k);
	return rc;
}

static int
cmd_import(struct tool *t, int argc, char **argv)
{
	EVP_PKEY *k;
	int slot, rc;

	if (argc != 3 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if ((k = load_key(argv[2], 1)) == NULL)
		return fail("import", "IO", "cannot read private key");
	if (open_piv(t) != 0 || auth(t) != 0) {
		EVP_PKEY_free(k);
		return 1;
	}
	rc = piv_import_key(t->piv, slot, k, t->o.pin_policy, t->o.touch_policy);
	EVP_PKEY_free(k);
	return rc == PIV_OK ? 0 : PIV_FAIL("piv_import_key", rc);
}

static int
cmd_sign(struct tool *t, int argc, char **argv)
{
	uint8_t *in = NULL, *sig = NULL;
	size_t inlen = 0, siglen = 0;
	EVP_PKEY *pub = NULL;
	FILE *f;
	int slot, rc = 1;

	if (argc != 3 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if (read_file(argv[2], &in, &inlen) != 0)
		return fail("sign", "IO", "cannot read input");
	if (open_piv(t) != 0 || (t->o.pin != NULL && verify_pin(t) != 0))
		goto out;
	if ((pub = slot_pub(t, slot)) == NULL) {
		rc = fail("sign", "PIV_ERR_NOT_FOUND", "no public key for the slot");
		goto out;
	}
	rc = piv_sign(t->piv, slot, pub, EVP_sha256(), t->o.pss ? PIV_PAD_PSS :
	    PIV_PAD_PKCS1, in, inlen, &sig, &siglen);
	if (rc != PIV_OK) {
		rc = PIV_FAIL("piv_sign", rc);
		goto out;
	}
	f = out_file(&t->o);
	rc = f != NULL && fwrite(sig, 1, siglen, f) == siglen ? 0 :
	    fail("sign", "IO", "cannot write");
	close_out(&t->o, f);
out:
	EVP_PKEY_free(pub);
	free(in);
	free(sig);
	return rc;
}

static X509_NAME *
parse_subject(const char *s)
{
	X509_NAME *n = X509_NAME_new();

	/* "CN=..." only: the station's profiles set the rest on the CA side. */
	if (n == NULL || strncmp(s, "CN=", 3) != 0 ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)s + 3, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

static int
make_csr(struct tool *t, int slot, const char *subject, X509_REQ **req)
{
	X509_NAME *name = parse_subject(subject);
	EVP_PKEY *pub = slot_pub(t, slot);
	int rc;

	if (name == NULL || pub == NULL)
		rc = PIV_ERR_INVALID;
	else
		rc = piv_make_csr(t->piv, slot, pub, name, EVP_sha256(), req);
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	return rc;
}

static int
cmd_csr(struct tool *t, int argc, char **argv)
{
	X509_REQ *req = NULL;
	FILE *f;
	int slot, rc;

	if (argc != 3 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if (open_piv(t) != 0 || (t->o.pin != NULL && verify_pin(t) != 0))
		return 1;
	if ((rc = make_csr(t, slot, argv[2], &req)) != PIV_OK)
		return PIV_FAIL("piv_make_csr", rc);
	f = out_file(&t->o);
	rc = f != NULL && PEM_write_X509_REQ(f, req) == 1 ? 0 :
	    fail("csr", "IO", "cannot write");
	close_out(&t->o, f);
	X509_REQ_free(req);
	return rc;
}

static int
write_x509(const struct opts *o, X509 *x)
{
	FILE *f = out_file(o);
	int ok = f != NULL && PEM_write_X509(f, x) == 1;

	close_out(o, f);
	return ok ? 0 : fail("write", "IO", "cannot write output");
}

/* "CMD SLOT": get a certificate for the slot with get (named what) and print it. */
static int
slot_x509(struct tool *t, int argc, char **argv, const char *what,
    int (*get)(struct piv_card *card, int slot, X509 **cert))
{
	X509 *x = NULL;
	int slot, rc;

	if (argc != 2 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if (open_piv(t) != 0)
		return 1;
	if ((rc = get(t->piv, slot, &x)) != PIV_OK)
		return PIV_FAIL(what, rc);
	rc = write_x509(&t->o, x);
	X509_free(x);
	return rc;
}

static int
cmd_attest(struct tool *t, int argc, char **argv)
{
	return slot_x509(t, argc, argv, "piv_attest", piv_attest);
}

static int
cmd_metadata(struct tool *t, int argc, char **argv)
{
	struct piv_metadata m;
	int slot, rc;

	if (argc != 2 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if (open_piv(t) != 0)
		return 1;
	if ((rc = piv_get_metadata(t->piv, slot, &m)) != PIV_OK)
		return PIV_FAIL("piv_get_metadata", rc);
	printf("alg=%s\npin_policy=%d\ntouch_policy=%d\norigin=%d\ndefault=%d\n"
	    "retries_total=%d\nretries_left=%d\npublic_key=%d\n",
	    m.alg >= 0 ? piv_alg_name(m.alg) : "-", m.pin_policy, m.touch_policy,
	    m.origin, m.is_default, m.retries_total, m.retries_left, m.pub != NULL);
	piv_metadata_clear(&m);
	return 0;
}

/* ---- commands: objects ---------------------------------------------------- */

static int
cmd_write_cert(struct tool *t, int argc, char **argv)
{
	X509 *x;
	int slot, rc;

	if (argc != 3 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if ((x = load_cert(argv[2])) == NULL)
		return fail("write-cert", "IO", "cannot read certificate");
	if (open_piv(t) != 0 || auth(t) != 0) {
		X509_free(x);
		return 1;
	}
	rc = piv_write_cert(t->piv, slot, x, t->o.compress);
	X509_free(x);
	return rc == PIV_OK ? 0 : PIV_FAIL("piv_write_cert", rc);
}

static int
cmd_read_cert(struct tool *t, int argc, char **argv)
{
	return slot_x509(t, argc, argv, "piv_read_cert", piv_read_cert);
}

static int
cmd_delete_cert(struct tool *t, int argc, char **argv)
{
	int slot, rc;

	if (argc != 2 || (slot = parse_slot(argv[1])) < 0)
		return usage();
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	return (rc = piv_delete_cert(t->piv, slot)) == PIV_OK ? 0 :
	    PIV_FAIL("piv_delete_cert", rc);
}

static int
cmd_delete_object(struct tool *t, int argc, char **argv)
{
	unsigned long tag;
	int rc;

	if (argc != 2 || (tag = strtoul(argv[1], NULL, 16)) == 0)
		return usage();
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	return (rc = piv_delete_object(t->piv, (uint32_t)tag)) == PIV_OK ? 0 :
	    PIV_FAIL("piv_delete_object", rc);
}

static int
cmd_write_chuid(struct tool *t, int argc, char **argv)
{
	struct piv_chuid c;
	uint8_t fascn[25];
	int rc;

	if (argc != 3 || piv_fascn_encode(argv[1], fascn) != PIV_OK)
		return usage();
	if (open_piv(t) != 0 || auth(t) != 0)
		return 1;
	if ((rc = piv_write_chuid(t->piv, fascn, argv[2], &c)) != PIV_OK)
		return PIV_FAIL("piv_write_chuid", rc);
	print_hex("guid", c.guid, 16);
	return 0;
}

static int
cmd_read_chuid(struct tool *t, int argc, char **argv)
{
	struct piv_ident id;
	int rc;

	(void)argc; (void)argv;
	if (open_piv(t) != 0)
		return 1;
	memset(&id, 0, sizeof(id));
	id.type = PIV_TYPE_PIV;
	if ((rc = piv_read_chuid(t->piv, &id.chuid)) != PIV_OK)
		return PIV_FAIL("piv_read_chuid", rc);
	id.has_chuid = 1;
	print_ident(&id);
	printf("signature_len=%zu\n", id.chuid.sig_len);
	return 0;
}

static int
cmd_ccc(struct tool *t, int argc, char **argv)
{
	struct piv_ccc c;
	int rc;

	(void)argc;
	if (open_piv(t) != 0)
		return 1;
	if (strcmp(argv[0], "write-ccc") == 0) {
		if (auth(t) != 0)
			return 1;
		return (rc = piv_write_ccc(t->piv)) == PIV_OK ? 0 :
		    PIV_FAIL("piv_write_ccc", rc);
	}
	if ((rc = piv_read_ccc(t->piv, &c)) != PIV_OK)
		return PIV_FAIL("piv_read_ccc", rc);
	print_hex("card_id", c.card_id, c.card_id_len);
	return 0;
}

static int
cmd_read_discovery(struct tool *t, int argc, char **argv)
{
	struct piv_discovery d;
	int rc;

	(void)argc; (void)argv;
	if (open_piv(t) != 0)
		return 1;
	if ((rc = piv_read_discovery(t->piv, &d)) != PIV_OK)
		return PIV_FAIL("piv_read_discovery", rc);
	print_hex("aid", d.aid, d.aid_len);
	printf("pin_policy=%04x\n", d.pin_policy);
	return 0;
}

static int
cmd_keyhist(struct tool *t, int argc, char **argv)
{
	struct piv_keyhist k;
	int rc;

	memset(&k, 0, sizeof(k));
	if (open_piv(t) != 0)
		return 1;
	if (strcmp(argv[0], "write-keyhist") == 0) {
		if (argc < 3 || argc > 4)
			return usage();
		k.on_card = (uint8_t)atoi(argv[1]);
		k.off_card = (uint8_t)atoi(argv[2]);
		if (argc == 4)
			snprintf(k.url, sizeof(k.url), "%s", argv[3]);
		if (auth(t) != 0)
			return 1;
		return (rc = piv_write_keyhist(t->piv, &k)) == PIV_OK ? 0 :
		    PIV_FAIL("piv_write_keyhist", rc);
	}
	if ((rc = piv_read_keyhist(t->piv, &k)) != PIV_OK)
		return PIV_FAIL("piv_read_keyhist", rc);
	printf("on_card=%u\noff_card=%u\nurl=%s\n", k.on_card, k.off_card, k.url);
	return 0;
}

static int
cmd_read_printed(struct tool *t, int argc, char **argv)
{
	struct piv_printed p;
	int rc;

	(void)argc; (void)argv;
	if (open_piv(t) != 0 || (t->o.pin != NULL && verify_pin(t) != 0))
		return 1;
	if ((rc = piv_read_printed(t->piv, &p)) != PIV_OK)
		return PIV_FAIL("piv_read_printed", rc);
	printf("name=%s\naffiliation=%s\nexpiry=%s\nserial=%s\nissuer=%s\n",
	    p.name, p.affiliation, p.expiry, p.serial, p.issuer);
	return 0;
}

/* ---- issuance: the multi-step operation benches and tear tests use ------- */

/* Sign a CSR-equivalent certificate for pub with the test CA. */
/* keyUsage as PIV profiles set it: 9D is for key transport / agreement only. */
static const char *
slot_usage(int slot, EVP_PKEY *pub)
{
	switch (slot) {
	case PIV_SLOT_SIGN: return "critical,digitalSignature,nonRepudiation";
	case PIV_SLOT_KEYMGMT:
		return EVP_PKEY_is_a(pub, "RSA") ? "critical,keyEncipherment" :
		    "critical,keyAgreement";
	default: return "critical,digitalSignature";
	}
}

static int
add_usage(X509 *x, int slot, EVP_PKEY *pub)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    slot_usage(slot, pub));
	int ok = e != NULL && X509_add_ext(x, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok;
}

static X509 *
ca_issue(EVP_PKEY *ca_key, X509 *ca, EVP_PKEY *pub, int slot)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	char cn[32];

	snprintf(cn, sizeof(cn), "slot %02X", slot);
	if (x == NULL || n == NULL || !X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1000 + slot) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (unsigned char *)cn,
	    -1, -1, 0) || !X509_set_subject_name(x, n) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) ||
	    !X509_set_pubkey(x, pub) || !add_usage(x, slot, pub) ||
	    !X509_sign(x, ca_key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_NAME_free(n);
	return x;
}

static const struct { int slot, alg; } issue_keys[4] = {
	{ PIV_SLOT_AUTH, PIV_ALG_RSA2048 }, { PIV_SLOT_SIGN, PIV_ALG_ECCP256 },
	{ PIV_SLOT_KEYMGMT, PIV_ALG_RSA2048 }, { PIV_SLOT_CARDAUTH, PIV_ALG_ECCP256 },
};

static int
issue_slot(struct tool *t, EVP_PKEY *ca_key, X509 *ca, int i)
{
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	int rc;

	/* --ec-only: P-256 everywhere (fast keygen for tear tests). */
	rc = piv_generate(t->piv, issue_keys[i].slot, t->o.ec_only ? PIV_ALG_ECCP256 :
	    issue_keys[i].alg, PIV_PIN_DEFAULT, PIV_TOUCH_DEFAULT, &pub);
	if (rc != PIV_OK)
		return PIV_FAIL("piv_generate", rc);
	if ((x = ca_issue(ca_key, ca, pub, issue_keys[i].slot)) == NULL)
		rc = PIV_ERR_CRYPTO;
	else
		rc = piv_write_cert(t->piv, issue_keys[i].slot, x, t->o.compress);
	X509_free(x);
	EVP_PKEY_free(pub);
	return rc == PIV_OK ? 0 : PIV_FAIL("piv_write_cert", rc);
}

static int
load_ca(const char *key, const char *crt, EVP_PKEY **k, X509 **x)
{
	*k = load_key(key, 1);
	*x = load_cert(crt);
	return *k != NULL && *x != NULL ? 0 : -1;
}

/* The station's test FASC-N (agency 7099, system 9999, credential 123456). */
static const char issue_fascn[] = "70999999123456111234567890112341";

/* CHUID with a fresh GUID, CCC, then the holder's PIN and PUK. */
static int
issue_finish(struct tool *t, const char *pin, const char *puk)
{
	uint8_t f[25];
	int rc, tries;

	piv_fascn_encode(issue_fascn, f);
	if ((rc = piv_write_chuid(t->piv, f, "20301231", NULL)) != PIV_OK)
		return PIV_FAIL("piv_write_chuid", rc);
	if ((rc = piv_write_ccc(t->piv)) != PIV_OK)
		return PIV_FAIL("piv_write_ccc", rc);
	if ((rc = piv_change_ref(t->piv, PIV_REF_PIN, "123456", pin, &tries)) != PIV_OK ||
	    (rc = piv_change_ref(t->piv, PIV_REF_PUK, "12345678", puk, &tries)) != PIV_OK)
		return PIV_FAIL("piv_change_ref", rc);
	return 0;
}

/*
 * Load the test CA from argv[1] (key) and argv[2] (certificate), open and
 * authenticate, then run fn on each of issue_keys; what names the command.
 */
static int
each_issue_key(struct tool *t, char **argv, const char *what,
    int (*fn)(struct tool *t, EVP_PKEY *ca_key, X509 *ca, int i))
{
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	int i, rc = 1;

	if (load_ca(argv[1], argv[2], &ca_key, &ca) != 0) {
		rc = fail(what, "IO", "cannot read CA");
		goto out;
	}
	if (open_piv(t) != 0 || auth(t) != 0)
		goto out;
	for (i = 0; i < 4; i++)
		if (fn(t, ca_key, ca, i) != 0)
			goto out;
	rc = 0;
out:
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return rc;
}

static int
cmd_issue(struct tool *t, int argc, char **argv)
{
	const char *pin = secret(t, "newpin"), *puk = secret(t, "newpuk");
	int rc;

	if (argc != 3 || pin == NULL || puk == NULL)
		return usage();
	if ((rc = each_issue_key(t, argv, "issue", issue_slot)) != 0)
		return rc;
	if (issue_finish(t, pin, puk) != 0)
		return 1;
	printf("issued=1\n");
	return 0;
}

/*
 * After an interrupted issue: a slot whose key exists (metadata) but whose
 * certificate is missing or does not match gets a fresh certificate; a slot
 * with no key is generated. Prints what it repaired.
 */
static int
repair_slot(struct tool *t, EVP_PKEY *ca_key, X509 *ca, int i)
{
	struct piv_metadata m;
	X509 *x = NULL, *nx = NULL;
	int rc, slot = issue_keys[i].slot;

	rc = piv_get_metadata(t->piv, slot, &m);
	if (rc == PIV_ERR_NOT_FOUND) {
		printf("repair=%02x:generate\n", slot);
		return issue_slot(t, ca_key, ca, i);
	}
	if (rc != PIV_OK)
		return PIV_FAIL("piv_get_metadata", rc);
	rc = piv_read_cert(t->piv, slot, &x);
	if (rc == PIV_OK && m.pub != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), m.pub) == 1)
		goto out;
	printf("repair=%02x:certificate\n", slot);
	rc = PIV_ERR_CRYPTO;
	if (m.pub != NULL && (nx = ca_issue(ca_key, ca, m.pub, slot)) != NULL)
		rc = piv_write_cert(t->piv, slot, nx, t->o.compress);
out:
	X509_free(x);
	X509_free(nx);
	piv_metadata_clear(&m);
	return rc == PIV_OK ? 0 : PIV_FAIL("repair", rc);
}

/* A missing or unreadable CHUID or CCC is written afresh. */
static int
repair_objects(struct tool *t)
{
	struct piv_chuid c;
	struct piv_ccc cc;
	uint8_t f[25];
	int rc;

	rc = piv_read_chuid(t->piv, &c);
	if (rc == PIV_ERR_NOT_FOUND || rc == PIV_ERR_MALFORMED) {
		printf("repair=chuid\n");
		piv_fascn_encode(issue_fascn, f);
		rc = piv_write_chuid(t->piv, f, "20301231", NULL);
	}
	if (rc != PIV_OK)
		return PIV_FAIL("repair chuid", rc);
	rc = piv_read_ccc(t->piv, &cc);
	if (rc == PIV_ERR_NOT_FOUND || rc == PIV_ERR_MALFORMED) {
		printf("repair=ccc\n");
		rc = piv_write_ccc(t->piv);
	}
	return rc == PIV_OK ? 0 : PIV_FAIL("repair ccc", rc);
}

static int
cmd_repair(struct tool *t, int argc, char **argv)
{
	int rc;

	if (argc != 3)
		return usage();
	if ((rc = each_issue_key(t, argv, "repair", repair_slot)) != 0)
		return rc;
	if (repair_objects(t) != 0)
		return 1;
	printf("consistent=1\n");
	return 0;
}

/* ---- commands: PKCS#11 ------------------------------------------------------ */

static int
open_p11(struct tool *t, struct p11_ctx **p)
{
	int rc = p11_init(p, t->o.module);

	return rc == P11_OK ? 0 : P11_FAIL("p11_init", rc);
}

static int
cmd_p11(struct tool *t, int argc, char **argv)
{
	struct p11_ctx *p = NULL;
	struct p11_token_info *l = NULL;
	struct p11_selftest st;
	const char *c = argv[0];
	size_t n = 0, i;
	int rc = P11_ERR_INVALID;

	if (open_p11(t, &p) != 0)
		return 1;
	if (strcmp(c, "p11-list") == 0 && (rc = p11_list_tokens(p, &l, &n)) == P11_OK) {
		for (i = 0; i < n; i++)
			printf("token slot=%lu kind=%s label=%s model=%s serial=%s "
			    "pin_locked=%d reader=%s\n", l[i].slot_id,
			    l[i].kind == P11_KIND_PIV ? "piv" : "pkcs11", l[i].label,
			    l[i].model, l[i].serial, l[i].user_pin_locked, l[i].slot);
		free(l);
	} else if (strcmp(c, "p11-selftest") == 0 && argc <= 2 && t->o.pin != NULL) {
		rc = p11_self_test(p, argc == 2 ? argv[1] : NULL, t->o.pin, &st);
		printf("checked=%u\nfailed=%u\n", st.checked, st.failed);
	} else if (strcmp(c, "p11-change-pin") == 0 && argc == 2 &&
	    secret(t, "old") != NULL && secret(t, "new") != NULL) {
		rc = p11_change_pin(p, argv[1], secret(t, "old"), secret(t, "new"));
	} else if (strcmp(c, "p11-unblock") == 0 && argc == 2 &&
	    secret(t, "sopin") != NULL && secret(t, "newpin") != NULL) {
		rc = p11_unblock(p, argv[1], secret(t, "sopin"), secret(t, "newpin"));
	} else if (strcmp(c, "p11-init") == 0 && argc == 3 &&
	    secret(t, "sopin") != NULL && secret(t, "userpin") != NULL) {
		rc = p11_init_token(p, strtoul(argv[1], NULL, 10), secret(t, "sopin"),
		    argv[2], secret(t, "userpin"));
	} else if (strcmp(c, "p11-sign") == 0 && argc == 4 && t->o.pin != NULL) {
		uint8_t id[64], *in = NULL, *sig = NULL;
		size_t idl = 0, inl = 0, sl = 0;
		FILE *f;

		if (unhex(argv[2], id, sizeof(id), &idl) == 0 &&
		    read_file(argv[3], &in, &inl) == 0 &&
		    (rc = p11_sign(p, argv[1], t->o.pin, id, idl, EVP_sha256(), in, inl,
		    &sig, &sl)) == P11_OK) {
			f = out_file(&t->o);
			if (f == NULL || fwrite(sig, 1, sl, f) != sl)
				rc = P11_ERR_INVALID;
			close_out(&t->o, f);
		}
		free(in);
		free(sig);
	}
	p11_done(p);
	return rc == P11_OK ? 0 : P11_FAIL(c, rc);
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(struct tool *, int, char **);
} cmds[] = {
	{ "readers", cmd_readers }, { "monitor", cmd_monitor }, { "atr", cmd_atr },
	{ "reset-card", cmd_reset_card }, { "identify", cmd_identify },
	{ "wait-swap", cmd_wait_swap }, { "pin-status", cmd_pin_status },
	{ "verify", cmd_verify }, { "change-pin", cmd_change },
	{ "change-puk", cmd_change }, { "unblock", cmd_unblock },
	{ "set-retries", cmd_set_retries }, { "reset", cmd_reset },
	{ "auth", cmd_auth }, { "set-mgmt", cmd_set_mgmt },
	{ "generate", cmd_generate }, { "import", cmd_import }, { "sign", cmd_sign },
	{ "csr", cmd_csr }, { "attest", cmd_attest }, { "metadata", cmd_metadata },
	{ "write-cert", cmd_write_cert }, { "read-cert", cmd_read_cert },
	{ "delete-cert", cmd_delete_cert }, { "delete-object", cmd_delete_object },
	{ "write-chuid", cmd_write_chuid }, { "read-chuid", cmd_read_chuid },
	{ "write-ccc", cmd_ccc }, { "read-ccc", cmd_ccc },
	{ "read-discovery", cmd_read_discovery }, { "write-keyhist", cmd_keyhist },
	{ "read-keyhist", cmd_keyhist }, { "read-printed", cmd_read_printed },
	{ "issue", cmd_issue }, { "repair", cmd_repair },
	{ "p11-list", cmd_p11 }, { "p11-selftest", cmd_p11 },
	{ "p11-change-pin", cmd_p11 }, { "p11-unblock", cmd_p11 },
	{ "p11-init", cmd_p11 }, { "p11-sign", cmd_p11 },
};

/*
 * name=value lines from fd (at most MAX_SECRETS, each line < 112 bytes);
 * the buffer is wiped, fd closed.
 */
static int
read_secrets(struct opts *o, const char *fdstr)
{
	char buf[1024], *line, *save = NULL, *eq, *end;
	size_t n = 0;
	ssize_t r;
	long fd = strtol(fdstr, &end, 10);
	int rc = -1;

	if (*fdstr == '\0' || *end != '\0' || fd < 0 || fd > 1024 || o->nsec != 0)
		return -1;
	while (n < sizeof(buf) - 1 &&
	    (r = read((int)fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		n += (size_t)r;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL || o->nsec == MAX_SECRETS ||
		    (size_t)(eq - line) >= sizeof(o->sec[0].name) ||
		    strlen(eq + 1) >= sizeof(o->sec[0].val))
			goto out;
		memcpy(o->sec[o->nsec].name, line, (size_t)(eq - line));
		strcpy(o->sec[o->nsec++].val, eq + 1);
	}
	rc = n < sizeof(buf) - 1 ? 0 : -1;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close((int)fd);
	if (rc != 0)
		fprintf(stderr, "drvtool: --secrets-fd: expected name=value lines\n");
	return rc;
}

/* The PIN and management key to authenticate with, from the secrets. */
static int
take_auth_secrets(struct opts *o)
{
	int i;

	for (i = 0; i < o->nsec; i++) {
		if (strcmp(o->sec[i].name, "pin") == 0)
			o->pin = o->sec[i].val;
		else if (strcmp(o->sec[i].name, "mgmt") == 0 &&
		    parse_mgmt(o->sec[i].val, &o->mgmt_alg, o->mgmt_key,
		    &o->mgmt_len) != 0)
			return -1;
	}
	return 0;
}

/* A time bound in ms: 0 (none) to 1 hour. */
static int
parse_ms(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 3600000L) {
		fprintf(stderr, "drvtool: bad time bound '%s' (ms, 0..3600000)\n", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "pin-policy", required_argument, NULL, 'I' },
		{ "touch-policy", required_argument, NULL, 'T' },
		{ "ec-only", no_argument, NULL, 'E' },
		{ "secrets-fd", required_argument, NULL, 'F' },
		{ "timeout-ms", required_argument, NULL, 'W' },
		{ "keygen-timeout-ms", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 } };
	int c;

	memset(o, 0, sizeof(*o));
	o->mgmt_alg = PIV_ALG_3DES;
	memcpy(o->mgmt_key, PIV_DEFAULT_MGMT_KEY, 24);
	o->mgmt_len = 24;
	o->timeout_ms = PCSC_TIMEOUT_DEFAULT_MS;
	o->keygen_timeout_ms = PCSC_SLOW_TIMEOUT_DEFAULT_MS;
	while ((c = getopt_long(argc, argv, "+r:k:p:m:o:P:szSXh", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->reader = optarg; break;
		case 'k':
		case 'p':
			fprintf(stderr, "drvtool: -%c: secrets are read from "
			    "--secrets-fd, never from the command line\n", c);
			return -1;
		case 'F':
			if (read_secrets(o, optarg) != 0)
				return -1;
			break;
		case 'm': o->module = optarg; break;
		case 'o': o->out = optarg; break;
		case 'P': o->pub = optarg; break;
		case 's': o->stats = 1; break;
		case 'z': o->compress = 1; break;
		case 'S': o->pss = 1; break;
		case 'I': o->pin_policy = atoi(optarg); break;
		case 'T': o->touch_policy = atoi(optarg); break;
		case 'E': o->ec_only = 1; break;
		case 'X': o->extended = 1; break;
		case 'W':
			if (parse_ms(optarg, &o->timeout_ms) != 0)
				return -1;
			break;
		case 'K':
			if (parse_ms(optarg, &o->keygen_timeout_ms) != 0)
				return -1;
			break;
		default: return -1;
		}
	}
	if (take_auth_secrets(o) != 0)
		return -1;
	return optind < argc ? optind : -1;
}

static void
finish(struct tool *t)
{
	struct apdu_stats st;
	/* Reset on the way out if we verified a PIN or authenticated the management
	 * key (or changed a PIN: cards may count that as a verification), so that
	 * no authentication outlives us; otherwise leave the card alone. */
	int reset = t->piv == NULL || piv_has_auth_state(t->piv);

	if (t->card != NULL && pcsc_card_last_error(t->card) != 0)
		printf("scard_error=0x%08lx\n", (unsigned long)pcsc_card_last_error(t->card));
	if (t->piv != NULL && t->o.stats) {
		apdu_get_stats(piv_apdu(t->piv), &st);
		printf("stats apdus=%llu sent=%llu received=%llu\n",
		    (unsigned long long)st.commands, (unsigned long long)st.bytes_sent,
		    (unsigned long long)st.bytes_received);
	}
	piv_done(t->piv);
	pcsc_disconnect(t->card, reset);
	pcsc_done(t->pc);
	OPENSSL_cleanse(&t->o, sizeof(t->o));
}

int
main(int argc, char **argv)
{
	struct tool t;
	size_t i;
	int first, rc = 2;

	/* A reader of our output gone (`drvtool ... | head -1`) is an error
	 * to report (below), not a silent death by SIGPIPE (exit 141) in the
	 * middle of a card operation. */
	signal(SIGPIPE, SIG_IGN);
	memset(&t, 0, sizeof(t));
	if ((first = parse_opts(argc, argv, &t.o)) < 0) {
		OPENSSL_cleanse(&t.o, sizeof(t.o));
		return usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[first], cmds[i].name) == 0) {
			rc = cmds[i].fn(&t, argc - first, argv + first);
			break;
		}
	}
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		usage();
	finish(&t);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "drvtool: output lost: cannot write to standard "
		    "output\n");
		rc = rc != 0 ? rc : 1;
	}
	return rc;
}
