/*
 * cardmgr cert revoke|hold: a card retired or suspended by one of its
 * certificates, also one another station issued (engine/certrevoke.c).
 *
 *   cardmgr cert revoke (--serial HEX | --cert FILE) --reason R [--note T]
 *   cardmgr cert hold (--serial HEX | --cert FILE) [--note T]
 *
 * --cert reads a PEM or DER certificate; it travels as base64 DER, and its
 * serial names it in the path. The certificate is only read here (OpenSSL's
 * decoders): the station checks it again.
 */
#include "cardmgr.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#define CERT_FILE_MAX (64 * 1024)

/* PEM or DER from path. NULL with a message on stderr. */
static X509 *
read_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;

	if (b == NULL) {
		fprintf(stderr, "cardmgr: cannot read %s\n", path);
		return NULL;
	}
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL && BIO_reset(b) == 0)
		x = d2i_X509_bio(b, NULL);
	BIO_free(b);
	if (x == NULL)
		fprintf(stderr, "cardmgr: %s is not a PEM or DER certificate\n",
		    path);
	return x;
}

/* The certificate's serial (hex) and its DER as base64. */
static int
cert_fields(X509 *x, char **serial, char **b64)
{
	unsigned char *der = NULL;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int n = i2d_X509(x, &der), rc = -1;
	size_t bl;

	*serial = NULL;
	*b64 = NULL;
	if (bn == NULL || n <= 0 || n > CERT_FILE_MAX ||
	    (*serial = BN_bn2hex(bn)) == NULL)
		goto out;
	bl = sodium_base64_ENCODED_LEN((size_t)n,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((*b64 = malloc(bl)) == NULL)
		goto out;
	sodium_bin2base64(*b64, bl, der, (size_t)n,
	    sodium_base64_VARIANT_ORIGINAL);
	rc = 0;
out:
	OPENSSL_free(der);
	BN_free(bn);
	return rc;
}

int
cm_cert(struct cm *cm, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "serial", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "note", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *serial = NULL, *file = NULL, *reason = NULL, *note = NULL;
	char *sn = NULL, *b64 = NULL, *esc = NULL, path[256];
	X509 *x = NULL;
	json_t *body;
	int c, hold, rc = CM_EXIT_USAGE;

	if (argc < 2 || (strcmp(argv[1], "revoke") != 0 &&
	    strcmp(argv[1], "hold") != 0))
		return CM_EXIT_USAGE;
	hold = strcmp(argv[1], "hold") == 0;
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': serial = optarg; break;
		case 'c': file = optarg; break;
		case 'r': reason = optarg; break;
		case 'n': note = optarg; break;
		case 'j': cm->json = 1; break;
		default: return CM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (serial == NULL) == (file == NULL) ||
	    (hold ? reason != NULL : reason == NULL))
		return CM_EXIT_USAGE;
	if (file != NULL) {
		if ((x = read_cert(file)) == NULL)
			return CM_EXIT_ERROR;
		if (cert_fields(x, &sn, &b64) != 0) {
			rc = CM_EXIT_ERROR;
			goto out;
		}
		serial = sn;
	}
	if ((esc = cm_escape(serial)) == NULL ||
	    (size_t)snprintf(path, sizeof(path), "/v1/certificates/%s/%s", esc,
	    hold ? "hold" : "revoke") >= sizeof(path))
		goto out;
	body = json_object();
	if (reason != NULL)
		json_object_set_new(body, "reason", json_string(reason));
	if (note != NULL)
		json_object_set_new(body, "note", json_string(note));
	if (b64 != NULL)
		json_object_set_new(body, "cert", json_string(b64));
	rc = cm_call(cm, "POST", path, body);
out:
	free(esc);
	free(b64);
	OPENSSL_free(sn);
	X509_free(x);
	return rc;
}
