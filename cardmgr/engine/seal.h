/*
 * seal: the engine's session key for secrets typed at the kiosk or the CLI.
 *
 * PINs and challenge answers cross the api process, which parses HTTP and so
 * must hold no secret. Clients therefore seal each secret to the engine's
 * X25519 public key (libsodium crypto_box_seal: an ephemeral sender key, so
 * the api cannot produce or read them) and the api forwards the ciphertext.
 * The key pair is made at each start and lives only in the engine's memory
 * (sodium_malloc: guard pages, mlock, wiped on free).
 */
#ifndef SEAL_H
#define SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

enum seal_err {
	SEAL_OK = 0,
	SEAL_ERR_ARG = -1,
	SEAL_ERR_NOMEM = -2,
	SEAL_ERR_OPEN = -3,	/* not sealed to our key, or tampered */
	SEAL_ERR_TOOLONG = -4,	/* plaintext longer than the caller allows */
	SEAL_ERR_TEXT = -5,	/* plaintext has a NUL or a control character */
};

const char *seal_strerror(int err);
const char *seal_name(int err);

#define SEAL_PK_LEN crypto_box_PUBLICKEYBYTES

struct seal;

/* A fresh key pair. [out] *out: seal_free(). */
int seal_new(struct seal **out);
void seal_free(struct seal *s);
const uint8_t *seal_pk(const struct seal *s);

/*
 * Open a sealed secret into a NUL-terminated string of at most max chars in
 * secure memory. [out] *text: free with seal_text_free() (wipes it).
 */
int seal_open_text(const struct seal *s, const uint8_t *ct, size_t len,
    size_t max, char **text);
void seal_text_free(char *text);

#endif /* SEAL_H */
