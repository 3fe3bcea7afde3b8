/*
 * cops_tool: drives cardmgr/engine/cardops.c alone against a card, with the
 * station's services replaced by test stand-ins, so t_cardops can check the
 * card sequence through stock clients:
 *   9B key  = HMAC-SHA256(TEST_KEY, "mgmt" || GUID), first 24 bytes (AES-192)
 *   PUK     = 8 digits, digit i = HMAC-SHA256(TEST_KEY, "puk" || GUID)[i] % 10
 *   escrow  = a fresh P-256 key, written to $COPS_ESCROW_OUT (PEM) if set
 *   enroll  = the CSR signed by the CA key and certificate given with -k/-c
 * The shell recomputes both derivations with openssl mac (an independent path).
 *
 *   cops_tool -r READER [-k CAKEY -c CACERT] COMMAND
 *   issue         stdin: new PIN          prints guid=HEX
 *   pin-change    stdin: old PIN, new PIN prints tries=N on a wrong PIN
 *   unblock GUID  stdin: new PIN
 *   wipe GUID
 *   blank         prints blank=0|1
 *   selftest      stdin: PIN
 *   step-abort=NAME (env COPS_ABORT_AT): the journal hook fails at that step
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "engine/cardops.h"

static const char TEST_KEY[] = "cops-tool-test-master-key-000001";

struct ctx {
	EVP_PKEY *ca_key;
	X509 *ca;
	const char *abort_at;
	int steps;
};

static void
hmac(const char *label, const uint8_t guid[16], uint8_t out[32])
{
	uint8_t in[32];
	size_t n = strlen(label);
	unsigned len = 32;

	memcpy(in, label, n);
	memcpy(in + n, guid, 16);
	HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY), in, n + 16, out, &len);
}

static int
h_step(void *arg, const char *name, const char *state, const uint8_t *d, size_t l)
{
	struct ctx *c = arg;
	char full[64];

	(void)d; (void)l;
	snprintf(full, sizeof(full), "%s:%s", name, state);
	printf("step=%s\n", full);
	fflush(stdout);
	c->steps++;
	return c->abort_at != NULL && strcmp(c->abort_at, full) == 0 ? -1 : 0;
}

static int
h_mgmt(void *arg, const uint8_t guid[16], int alg, uint8_t *key, size_t len)
{
	uint8_t h[32];

	(void)arg; (void)alg;
	if (len > 32)
		return -1;
	hmac("mgmt", guid, h);
	memcpy(key, h, len);
	return 0;
}

static int
h_puk(void *arg, const uint8_t guid[16], char puk[9])
{
	uint8_t h[32];

	(void)arg;
	hmac("puk", guid, h);
	for (int i = 0; i < 8; i++)
		puk[i] = (char)('0' + h[i] % 10);
	puk[8] = '\0';
	return 0;
}

static int
h_escrow(void *arg, const uint8_t guid[16], int slot, int alg, EVP_PKEY **priv)
{
	const char *out = getenv("COPS_ESCROW_OUT");
	FILE *f;

	(void)arg; (void)guid; (void)slot; (void)alg;
	if ((*priv = EVP_EC_gen("P-256")) == NULL)
		return -1;
	if (out != NULL && (f = fopen(out, "w")) != NULL) {
		PEM_write_PUBKEY(f, *priv);
		fclose(f);
	}
	return 0;
}

static int
h_enroll(void *arg, int slot, const char *prof, const uint8_t *csr, size_t len,
    X509 **cert)
{
	struct ctx *c = arg;
	const uint8_t *p = csr;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	X509 *x = X509_new();
	X509_EXTENSION *ku = NULL;
	X509V3_CTX v3;
	int ok = 0;

	(void)prof;
	if (req != NULL && x != NULL && c->ca != NULL &&
	    X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)rand() + 1) == 1 &&
	    X509_set_version(x, 2) == 1 &&
	    X509_set_issuer_name(x, X509_get_subject_name(c->ca)) == 1 &&
	    X509_set_subject_name(x, X509_REQ_get_subject_name(req)) == 1 &&
	    X509_set_pubkey(x, X509_REQ_get0_pubkey(req)) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
	    (X509V3_set_ctx(&v3, c->ca, x, NULL, NULL, 0), 1) &&
	    /* The self-test picks sign or key agreement by this usage. */
	    (ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, slot == 0x9d ?
	    "critical,keyAgreement" : "critical,digitalSignature")) != NULL &&
	    X509_add_ext(x, ku, -1) == 1 &&
	    X509_sign(x, c->ca_key, EVP_sha256()) > 0)
		ok = 1;
	X509_REQ_free(req);
	X509_EXTENSION_free(ku);
	if (!ok) {
		X509_free(x);
		return -1;
	}
	*cert = x;
	return 0;
}

static int
read_line(char *out, size_t cap)
{
	size_t n;

	if (fgets(out, (int)cap, stdin) == NULL)
		return -1;
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return 0;
}

static void
plan_default(struct cops_plan *p)
{
	static const int slots[] = { 0x9a, 0x9c, 0x9d, 0x9e };

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 4; i++) {
		p->slots[i].slot = slots[i];
		p->slots[i].alg = PIV_ALG_ECCP256;
		p->slots[i].escrow = slots[i] == 0x9d;
		snprintf(p->slots[i].ca_profile, sizeof(p->slots[i].ca_profile),
		    "piv");
		snprintf(p->slots[i].subject, sizeof(p->slots[i].subject),
		    "/O=Test/CN=Holder %02x", slots[i]);
	}
	p->nslots = 4;
	p->mgmt_alg = PIV_ALG_AES192;
	p->pin_tries = 3;
	p->puk_tries = 3;
	snprintf(p->fascn, sizeof(p->fascn), "70999999123456111234567890112341");
	snprintf(p->expiry, sizeof(p->expiry), "20301231");
}

static int
unhex16(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return -1;
	for (int i = 0; i < 16; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctx cx = { 0 };
	struct cops_hooks h = { &cx, h_step, h_mgmt, h_puk, h_escrow, h_enroll,
	    NULL };
	struct cops_plan plan;
	struct cops_card card;
	struct pcsc_ctx *pc = NULL;
	const char *reader = NULL;
	char a[64] = "", b[64] = "", detail[256] = "";
	uint8_t guid[16], key[24];
	int opt, rc = COPS_ERR_ARG, tries = -1;
	FILE *f;

	while ((opt = getopt(argc, argv, "r:k:c:")) != -1) {
		if (opt == 'r')
			reader = optarg;
		else if (opt == 'k' && (f = fopen(optarg, "r")) != NULL) {
			cx.ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		} else if (opt == 'c' && (f = fopen(optarg, "r")) != NULL) {
			cx.ca = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		} else
			return 2;
	}
	if (reader == NULL || optind >= argc)
		return 2;
	cx.abort_at = getenv("COPS_ABORT_AT");
	if (pcsc_init(&pc) != PCSC_OK ||
	    (rc = cops_open(pc, reader, &card, detail, sizeof(detail))) != COPS_OK)
		goto out;
	plan_default(&plan);
	if (strcmp(argv[optind], "issue") == 0 && read_line(a, sizeof(a)) == 0) {
		rc = cops_issue(&card, &plan, a, &h, guid, detail, sizeof(detail));
		printf("guid=");
		for (int i = 0; i < 16; i++)
			printf("%02x", guid[i]);
		printf("\n");
	} else if (strcmp(argv[optind], "pin-change") == 0 &&
	    read_line(a, sizeof(a)) == 0 && read_line(b, sizeof(b)) == 0) {
		rc = cops_pin_change(&card, a, b, &tries);
		printf("tries=%d\n", tries);
	} else if (strcmp(argv[optind], "unblock") == 0 && optind + 1 < argc &&
	    unhex16(argv[optind + 1], guid) == 0 && read_line(b, sizeof(b)) == 0) {
		h_puk(&cx, guid, a);
		rc = cops_unblock(&card, a, b, &tries);
		printf("tries=%d\n", tries);
	} else if (strcmp(argv[optind], "wipe") == 0 && optind + 1 < argc &&
	    unhex16(argv[optind + 1], guid) == 0) {
		h_mgmt(&cx, guid, PIV_ALG_AES192, key, sizeof(key));
		rc = cops_wipe(&card, PIV_ALG_AES192, key, sizeof(key), detail,
		    sizeof(detail));
	} else if (strcmp(argv[optind], "blank") == 0) {
		printf("blank=%d\n", cops_is_blank(&card));
		rc = COPS_OK;
	} else if (strcmp(argv[optind], "selftest") == 0 &&
	    read_line(a, sizeof(a)) == 0) {
		cops_close(&card);
		rc = cops_self_test("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
		    reader, a, detail, sizeof(detail));
	}
	cops_close(&card);
out:
	if (rc != COPS_OK)
		fprintf(stderr, "cops_tool: %s: %s\n", cops_name(rc), detail);
	pcsc_done(pc);
	EVP_PKEY_free(cx.ca_key);
	X509_free(cx.ca);
	return rc == COPS_OK ? 0 : 1;
}
