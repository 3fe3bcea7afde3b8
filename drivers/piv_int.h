/* Internal to the piv module (piv.c, piv_obj.c, piv_key.c); not for callers. */
#ifndef PIV_INT_H
#define PIV_INT_H

#include "apdu.h"
#include "piv.h"

struct piv_card {
	struct apdu_ctx *apdu;
	struct piv_ident ident;	/* what piv_identify saw; checked on reconnect */
	int identified;
	int stale;		/* a reset/removal was seen: reconnect before next op */
	int dead;		/* a different card was found: refuse everything */
	int auth_state;		/* PIN verified or 9B authenticated through us */
};

int piv_alg_bits(int alg);
/* Public key from the TLVs inside 7F49 (81/82 or 86). */
int piv_pubkey_from_tlvs(int alg, const uint8_t *data, size_t len, EVP_PKEY **pub);
/* Exactly one DER certificate, nothing after it. */
int piv_der_to_x509(const uint8_t *der, size_t len, X509 **cert);

/* Transactions: every public card operation is bracketed by these. */
int piv_op_begin(struct piv_card *card);
int piv_op_end(struct piv_card *card, int rc);
/* One command; rsp/rsp_len may be NULL if no data is wanted. Returns piv_err. */
int piv_xfer(struct piv_card *card, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, uint8_t **rsp, size_t *rsp_len, uint16_t *sw);

/* ECB encryption/decryption of one block with a management key (3DES/AES). */
int piv_mgmt_cipher(int alg, const uint8_t *key, size_t keylen, int enc,
    const uint8_t *in, uint8_t *out, size_t blocklen);
size_t piv_mgmt_block(int alg);

#endif
