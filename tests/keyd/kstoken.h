/*
 * kstoken: a fresh SoftHSM2 token in a temp dir for keystore tests, and
 * independent readers of it through OpenSC's pkcs11-tool (not through ks).
 * Test code only: the PIN goes on softhsm2-util's and pkcs11-tool's argv.
 */
#ifndef KSTOKEN_H
#define KSTOKEN_H

#include <stddef.h>

#include <openssl/evp.h>

#define KSTOKEN_MODULE	"/usr/lib/softhsm/libsofthsm2.so"

struct kstoken {
	char dir[256];		/* temp dir: softhsm2.conf, tokens/, scratch */
	char label[33];
	char pin[33];
};

/*
 * mkdtemp, write softhsm2.conf, point SOFTHSM2_CONF at it (setenv: the module
 * reads it at C_Initialize) and init a token labelled label with user PIN pin.
 * Returns 0 or -1.
 */
int kstoken_init(struct kstoken *t, const char *label, const char *pin);
/* Remove the temp dir. */
void kstoken_cleanup(struct kstoken *t);
/* Run argv (NULL-terminated) with stdout to file (NULL: /dev/null); exit status. */
int kstoken_run(char *const argv[], const char *file);
/* Public key labelled label, read with pkcs11-tool --read-object. [out] EVP_PKEY_free(). */
int kstoken_read_pubkey(const struct kstoken *t, const char *label, EVP_PKEY **pub);
/* pkcs11-tool --login --list-objects into a malloc'd NUL-terminated string. */
char *kstoken_list_objects(const struct kstoken *t);

/*
 * RSA-OAEP (SHA-256, MGF1-SHA-256) decryption of in with the private key
 * labelled label, by openssl pkeyutl through libp11's pkcs11 engine (the PIN
 * sits in an engine config file in t->dir). out holds *outlen bytes; set to the
 * plaintext length. 0 or -1.
 */
int kstoken_decrypt_oaep(const struct kstoken *t, const char *label,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen);

#endif /* KSTOKEN_H */
