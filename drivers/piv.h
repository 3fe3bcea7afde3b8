/*
 * piv: PIV card management (NIST SP 800-73-4 plus the Yubico extensions stock
 * clients use: FD version, F8 serial, FF/FE/FB/FA/F9/F7).
 *
 * A struct piv_card is an opaque handle over an apdu transport (pcsc.c gives
 * one for a PC/SC reader; unit tests give a fake). Every card operation runs in
 * one exclusive transaction. After a reset or re-insertion the handle reconnects,
 * re-selects PIV and re-reads the card identity (serial, CHUID GUID); a different
 * card is refused with PIV_ERR_DIFFERENT_CARD and the handle stays unusable.
 *
 * Ownership: functions returning pointers through [out] params hand them to the
 * caller; the comment says how to free. Secrets passed in (PIN, PUK, management
 * keys, private keys) are copied only into command buffers, which are wiped.
 * Nothing in this module logs.
 *
 * The object parsers (piv_*_parse) are pure functions over untrusted bytes and
 * are fuzzed (tests/fuzz/fuzz_piv_*.c).
 */
#ifndef PIV_H
#define PIV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "apdu.h"

enum piv_err {
	PIV_OK = 0,
	PIV_ERR_INVALID = -1,		/* bad argument */
	PIV_ERR_NOMEM = -2,
	PIV_ERR_TRANSMIT = -3,		/* reader/transport failure */
	PIV_ERR_REMOVED = -4,		/* card pulled during the operation */
	PIV_ERR_RESET = -5,		/* card reset during the operation */
	PIV_ERR_DIFFERENT_CARD = -6,	/* after reconnect: not the card we had */
	PIV_ERR_NOT_PIV = -7,		/* no PIV application on this card */
	PIV_ERR_NOT_FOUND = -8,		/* object/key absent */
	PIV_ERR_WRONG_PIN = -9,		/* wrong PIN/PUK; see *tries */
	PIV_ERR_BLOCKED = -10,		/* PIN/PUK blocked */
	PIV_ERR_AUTH_REQUIRED = -11,	/* PIN or management key needed (6982) */
	PIV_ERR_AUTH_FAILED = -12,	/* management key authentication failed */
	PIV_ERR_CONDITIONS = -13,	/* card refused in this state (6985) */
	PIV_ERR_NOT_SUPPORTED = -14,	/* card lacks the command or algorithm */
	PIV_ERR_MALFORMED = -15,	/* card response does not parse */
	PIV_ERR_TOOBIG = -16,		/* response or object over the size cap */
	PIV_ERR_CRYPTO = -17,		/* host-side OpenSSL/zlib failure */
	PIV_ERR_NO_SPACE = -18,		/* card out of memory */
	PIV_ERR_CARD = -19,		/* any other card error */
	PIV_ERR_WRONG_DATA = -20,	/* card rejected the data (6A80) */
	PIV_ERR_BAD_SIGNATURE = -21,	/* card signature fails to verify with the key */
	PIV_ERR_NOT_RESPONDING = -22,	/* card stopped answering (time bound, pcsc.h) */
};

const char *piv_strerror(int err);
const char *piv_name(int err);
/* Map an apdu_err to a piv_err (status words were mapped in apdu.c). */
int piv_from_apdu(int apdu_err);

/* Algorithm identifiers (SP 800-78-4 + Yubico). */
enum piv_alg {
	PIV_ALG_3DES = 0x03,
	PIV_ALG_AES128 = 0x08,
	PIV_ALG_AES192 = 0x0A,
	PIV_ALG_AES256 = 0x0C,
	PIV_ALG_RSA1024 = 0x06,
	PIV_ALG_RSA2048 = 0x07,
	PIV_ALG_RSA3072 = 0x05,
	PIV_ALG_RSA4096 = 0x16,
	PIV_ALG_ECCP256 = 0x11,
	PIV_ALG_ECCP384 = 0x14,
};

/* Key references. Retired key management slots are 0x82..0x95. */
enum piv_slot {
	PIV_SLOT_AUTH = 0x9A,
	PIV_SLOT_MGMT = 0x9B,
	PIV_SLOT_SIGN = 0x9C,
	PIV_SLOT_KEYMGMT = 0x9D,
	PIV_SLOT_CARDAUTH = 0x9E,
	PIV_SLOT_RETIRED1 = 0x82,
	PIV_SLOT_RETIRED20 = 0x95,
	PIV_SLOT_ATTEST = 0xF9,
	PIV_REF_PIN = 0x80,
	PIV_REF_PUK = 0x81,
};

/* Object tags (BER-TLV tag of the data object). */
#define PIV_OBJ_CHUID		0x5FC102u
#define PIV_OBJ_CCC		0x5FC107u
#define PIV_OBJ_DISCOVERY	0x7Eu
#define PIV_OBJ_KEYHIST		0x5FC10Cu
#define PIV_OBJ_PRINTED		0x5FC109u
#define PIV_OBJ_FACIAL		0x5FC108u

/* Policies for GENERATE / IMPORT (Yubico AA/AB). 0 = card default. */
enum piv_pin_policy { PIV_PIN_DEFAULT = 0, PIV_PIN_NEVER = 1, PIV_PIN_ONCE = 2,
	PIV_PIN_ALWAYS = 3 };
enum piv_touch_policy { PIV_TOUCH_DEFAULT = 0, PIV_TOUCH_NEVER = 1,
	PIV_TOUCH_ALWAYS = 2, PIV_TOUCH_CACHED = 3 };

/* Host-side RSA padding for piv_sign. */
enum piv_padding { PIV_PAD_PKCS1 = 1, PIV_PAD_PSS = 2 };

#define PIV_DEFAULT_MGMT_KEY \
	"\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06\x07\x08" \
	"\x01\x02\x03\x04\x05\x06\x07\x08"
#define PIV_OBJECT_MAX	(16u * 1024u)	/* largest object we read or write */
#define PIV_CERT_MAX	(32u * 1024u)	/* largest decompressed certificate */

/* ---- pure object encoding/decoding (no card) ---------------------------- */

/* CHUID (tag 5FC102). fascn: 25 bytes; guid: 16; expiry "YYYYMMDD". */
struct piv_chuid {
	uint8_t fascn[25];
	uint8_t guid[16];
	char expiry[9];
	int has_fascn, has_guid, has_expiry;
	size_t sig_len;		/* length of the 3E issuer signature (0 = unsigned) */
};
/* Parse the content of the 53 wrapper. */
int piv_chuid_parse(const uint8_t *data, size_t len, struct piv_chuid *out);
/* [out] *obj malloc'd content for the 53 wrapper; free(). */
int piv_chuid_build(const struct piv_chuid *c, uint8_t **obj, size_t *len);

/*
 * FASC-N (SP 800-73-4 / TIG SCEPACS), 40 5-bit BCD characters with odd parity.
 * digits: 32 decimal digits agency(4) system(4) credential(6) cs(1) ici(1)
 * pi(10) oc(1) oi(4) poa(1). out: 25 bytes.
 */
int piv_fascn_encode(const char *digits, uint8_t out[25]);
/* Checks parity, separators and LRC. out: 33 bytes (32 digits + NUL). */
int piv_fascn_decode(const uint8_t in[25], char out[33]);

/* Certificate object (53 { 70 cert, 71 info, FE }): gzip (71 01 01) handled. */
/* [out] *cert: X509_free(). */
int piv_certobj_parse(const uint8_t *data, size_t len, X509 **cert);
/* [out] *obj: free(). compress: gzip the certificate (71 01 01). */
int piv_certobj_build(X509 *cert, int compress, uint8_t **obj, size_t *len);

/* Discovery object (7E { 4F AID, 5F2F policy }): data is the 7E content. */
struct piv_discovery {
	uint8_t aid[16];
	size_t aid_len;
	uint16_t pin_policy;	/* 0 if absent */
};
int piv_discovery_parse(const uint8_t *data, size_t len, struct piv_discovery *out);

/* Key history (5FC10C). */
struct piv_keyhist {
	uint8_t on_card;	/* C1 */
	uint8_t off_card;	/* C2 */
	char url[119];		/* F3, "" if absent */
};
int piv_keyhist_parse(const uint8_t *data, size_t len, struct piv_keyhist *out);
int piv_keyhist_build(const struct piv_keyhist *k, uint8_t **obj, size_t *len);

/* Card Capability Container (5FC107): only the card identifier is kept. */
struct piv_ccc {
	uint8_t card_id[21];	/* F0 */
	size_t card_id_len;
};
int piv_ccc_parse(const uint8_t *data, size_t len, struct piv_ccc *out);
/* A CCC with a fresh random card identifier. [out] *obj: free(). */
int piv_ccc_build(uint8_t **obj, size_t *len);

/* Printed information (5FC109); strings NUL-terminated, "" if absent. */
struct piv_printed {
	char name[126], affiliation[21], expiry[10], serial[21], issuer[16],
	    org1[21], org2[21];
};
int piv_printed_parse(const uint8_t *data, size_t len, struct piv_printed *out);
int piv_printed_build(const struct piv_printed *p, uint8_t **obj, size_t *len);

/* Public key from a GENERATE response (7F49 {...}) for alg. [out] EVP_PKEY_free(). */
int piv_pubkey_parse(int alg, const uint8_t *data, size_t len, EVP_PKEY **pub);

/* F7 GET METADATA (Yubico). Fields absent on the card are -1. */
struct piv_metadata {
	int alg, pin_policy, touch_policy, origin, is_default, retries_total,
	    retries_left;
	EVP_PKEY *pub;		/* NULL if absent; freed by piv_metadata_clear */
};
int piv_metadata_parse(const uint8_t *data, size_t len, struct piv_metadata *out);
void piv_metadata_clear(struct piv_metadata *m);

/* Object tag for a key slot's certificate (9A -> 5FC105), 0 if none. */
uint32_t piv_slot_object(int slot);
const char *piv_alg_name(int alg);

/* ---- card handle ---------------------------------------------------------- */

struct piv_card;

enum piv_card_type {
	PIV_TYPE_UNKNOWN = 0,	/* no PIV application */
	PIV_TYPE_PIV = 1,	/* SP 800-73 PIV */
	PIV_TYPE_PIV_YUBICO = 2,	/* PIV with the Yubico extensions (FD answers) */
};

struct piv_ident {
	int type;		/* enum piv_card_type */
	uint8_t version[3];
	int has_version;
	uint32_t serial;
	int has_serial;
	struct piv_chuid chuid;
	int has_chuid;
	struct piv_ccc ccc;	/* read only when there is neither serial nor GUID */
	int has_ccc;
};

/*
 * [out] *card; the transport is copied (its arg must outlive the card).
 * Free with piv_done().
 */
int piv_init(struct piv_card **card, const struct apdu_transport *t);
void piv_done(struct piv_card *card);
/* The underlying apdu context (counters, extended mode). Owned by the card. */
struct apdu_ctx *piv_apdu(struct piv_card *card);
/*
 * 1 if this handle verified a PIN or authenticated the management key since it
 * was created: the caller should then disconnect with a card reset so that the
 * state cannot be used by the next client. 0 otherwise.
 */
int piv_has_auth_state(const struct piv_card *card);

/*
 * SELECT PIV, then read version, serial and CHUID where present; remember the
 * identity for reconnect checks. A card without PIV gives PIV_ERR_NOT_PIV and
 * id->type PIV_TYPE_UNKNOWN (never guessed). id may be NULL.
 */
int piv_identify(struct piv_card *card, struct piv_ident *id);

/* Raw objects. [out] *data: content of the 53 wrapper (7E content for
 * discovery), free with free(). */
int piv_read_object(struct piv_card *card, uint32_t tag, uint8_t **data, size_t *len);
int piv_write_object(struct piv_card *card, uint32_t tag, const uint8_t *data, size_t len);
int piv_delete_object(struct piv_card *card, uint32_t tag);

int piv_read_chuid(struct piv_card *card, struct piv_chuid *out);
/* Write a CHUID with a fresh random GUID (returned in *out if non-NULL). */
int piv_write_chuid(struct piv_card *card, const uint8_t fascn[25],
    const char *expiry, struct piv_chuid *out);
int piv_read_ccc(struct piv_card *card, struct piv_ccc *out);
int piv_write_ccc(struct piv_card *card);
int piv_read_discovery(struct piv_card *card, struct piv_discovery *out);
int piv_read_keyhist(struct piv_card *card, struct piv_keyhist *out);
int piv_write_keyhist(struct piv_card *card, const struct piv_keyhist *k);
int piv_read_printed(struct piv_card *card, struct piv_printed *out);
/* [out] *cert: X509_free(). PIV_ERR_NOT_FOUND if the slot has none. */
int piv_read_cert(struct piv_card *card, int slot, X509 **cert);
int piv_write_cert(struct piv_card *card, int slot, X509 *cert, int compress);
int piv_delete_cert(struct piv_card *card, int slot);

/*
 * VERIFY. pin NULL: empty VERIFY (status only): PIV_OK if verified, else
 * PIV_ERR_WRONG_PIN with *tries. tries may be NULL; set to -1 when unknown.
 */
int piv_verify(struct piv_card *card, const char *pin, int *tries);
/* Forget PIN verification (VERIFY P1=FF). */
int piv_unverify(struct piv_card *card);
/* CHANGE REFERENCE DATA for ref PIV_REF_PIN or PIV_REF_PUK. */
int piv_change_ref(struct piv_card *card, int ref, const char *old_val,
    const char *new_val, int *tries);
/* RESET RETRY COUNTER: unblock the PIN with the PUK. */
int piv_unblock_pin(struct piv_card *card, const char *puk, const char *new_pin,
    int *tries);
/* SET PIN RETRIES (FA); needs management key and PIN. Resets PIN and PUK. */
int piv_set_retries(struct piv_card *card, int pin_tries, int puk_tries);
/* RESET (FB); the card accepts only with PIN and PUK blocked. */
int piv_reset(struct piv_card *card);

/* Mutual authentication with the 9B management key (alg 3DES or AES-*). */
int piv_auth_mgmt(struct piv_card *card, int alg, const uint8_t *key, size_t keylen);
/*
 * One ECB block with the 9B key: encrypt (encrypt=1) or decrypt in to out,
 * blocklen bytes (8 for 3DES, 16 for AES). Returns 0 on success, anything else
 * fails the authentication with PIV_ERR_CRYPTO.
 */
typedef int (*piv_mgmt_crypt_fn)(void *arg, int encrypt, const uint8_t *in,
    uint8_t *out, size_t blocklen);
/*
 * The same mutual authentication as piv_auth_mgmt with the block operations
 * done by crypt(arg, ...): the key holder (keyd) answers the card's witness and
 * computes the expected answer to our challenge, so this process never holds
 * the management key. piv_auth_mgmt is this with an OpenSSL callback.
 */
int piv_auth_mgmt_cb(struct piv_card *card, int alg, piv_mgmt_crypt_fn crypt,
    void *arg);
/* SET MANAGEMENT KEY (FF); needs 9B authentication. touch: require touch. */
int piv_set_mgmt_key(struct piv_card *card, int alg, const uint8_t *key,
    size_t keylen, int touch);

/* GENERATE. [out] *pub: EVP_PKEY_free(). Needs 9B authentication. */
int piv_generate(struct piv_card *card, int slot, int alg, int pin_policy,
    int touch_policy, EVP_PKEY **pub);
/* IMPORT KEY (FE) of an RSA or EC private key. Needs 9B authentication. */
int piv_import_key(struct piv_card *card, int slot, EVP_PKEY *priv,
    int pin_policy, int touch_policy);
/*
 * Sign msg with the key in slot, whose public key is pub. md: EVP_sha256() etc.
 * RSA padding (PKCS#1 v1.5 or PSS with salt = digest length) is done here, the
 * card does the raw operation; EC gives a DER ECDSA signature.
 * [out] *sig: free().
 */
int piv_sign(struct piv_card *card, int slot, EVP_PKEY *pub, const EVP_MD *md,
    int padding, const uint8_t *msg, size_t msglen, uint8_t **sig, size_t *siglen);
/* ATTEST (F9). [out] *cert: X509_free(). */
int piv_attest(struct piv_card *card, int slot, X509 **cert);
/* GET METADATA (F7) for a key slot or PIV_REF_PIN/PUK/PIV_SLOT_MGMT. */
int piv_get_metadata(struct piv_card *card, int slot, struct piv_metadata *out);
/*
 * A PKCS#10 request for the key in slot (public key pub), signed by the card
 * with md (PKCS#1 v1.5 for RSA, ECDSA for EC). [out] *req: X509_REQ_free().
 */
int piv_make_csr(struct piv_card *card, int slot, EVP_PKEY *pub,
    const X509_NAME *subject, const EVP_MD *md, X509_REQ **req);

#endif /* PIV_H */
