/*
 * vc_card: a virtual PIV card (NIST SP 800-73-4 with the Yubico extensions)
 * as a pure APDU-in, response-out state machine.
 *
 * No sockets here: vc_main.c feeds it APDUs from vpcd, unit tests and the
 * fuzzer call vc_card_process() directly. A card bound to a state file
 * (vc_card_bind) rewrites that file atomically after every command that
 * changes persistent state, before the response leaves the card.
 */
#ifndef VC_CARD_H
#define VC_CARD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum vc_err {
	VC_OK = 0,
	VC_ERR_NOMEM = -1,	/* allocation failed */
	VC_ERR_CRYPTO = -2,	/* key generation or certificate failed */
	VC_ERR_IO = -3,		/* state file could not be read or written */
	VC_ERR_FORMAT = -4,	/* state file malformed */
	VC_ERR_NOSPACE = -5,	/* response buffer too small */
	VC_ERR_INVALID = -6,	/* bad argument (e.g. APDU shorter than 4 bytes) */
};

const char *vc_strerror(int err);

/* Version the card reports to GET VERSION (FD): YubiKey 5.4.3. */
extern const uint8_t vc_card_version[3];

/* Largest response vc_card_process() produces: 64 KiB of data + SW. */
#define VC_RESPONSE_MAX (65536 + 2)

struct vc_card;

struct vc_card_opts {
	uint32_t serial;	/* used if have_serial, else random */
	int have_serial;
	EVP_PKEY *ca_key;	/* attestation CA; NULL: self-signed F9 */
	X509 *ca_cert;
};

/* A blank card with factory credentials. [out] *out, free with vc_card_free. */
int vc_card_create(const struct vc_card_opts *opts, struct vc_card **out);
/* Load a card from a state file. [out] *out. */
int vc_card_load(const char *path, struct vc_card **out);
/* Load a card from state bytes (what vc_card_serialize wrote). [out] *out. */
int vc_card_load_mem(const uint8_t *data, size_t len, struct vc_card **out);
/* The state bytes of a card. [out] *data, free with vc_card_free_bytes (wipes). */
int vc_card_serialize(const struct vc_card *c, uint8_t **data, size_t *len);
void vc_card_free_bytes(uint8_t *data, size_t len);
/* A copy of the card's persistent state (volatile state and binding not copied). [out] *out. */
int vc_card_dup(const struct vc_card *c, struct vc_card **out);
/* Write the state file atomically (tmp + fsync + rename + fsync dir). */
int vc_card_save(const struct vc_card *c, const char *path);
/* Save to path after every state change from now on (NULL: never). */
int vc_card_bind(struct vc_card *c, const char *path);
void vc_card_free(struct vc_card *c);

/*
 * Process one command APDU (short or extended) and write the response
 * (data || SW1 SW2) to resp. cap must be at least VC_RESPONSE_MAX.
 * [out] *resp_len. Never fails for malformed APDUs: they get an error SW.
 * Returns VC_ERR_IO if the state could not be saved (the response is then 6581).
 */
int vc_card_process(struct vc_card *c, const uint8_t *apdu, size_t len,
    uint8_t *resp, size_t cap, size_t *resp_len);

/* Power off/on or reset: forget PIN and 9B status, challenges, chains. */
void vc_card_power(struct vc_card *c);

uint32_t vc_card_serial(const struct vc_card *c);
/* The ATR: T=1 only, not a YubiKey's (so OpenSC uses its generic PIV path). */
const uint8_t *vc_card_atr(size_t *len);

#endif /* VC_CARD_H */
