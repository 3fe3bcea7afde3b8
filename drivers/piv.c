/*
 * piv: card handle, transactions with reconnect/identity check, identification,
 * data objects and PIN/PUK operations. Key operations are in piv_key.c, object
 * encodings in piv_obj.c. See piv.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "piv.h"
#include "piv_int.h"
#include "tlv.h"

static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00 };

static const struct {
	int err;
	const char *name, *msg;
} errs[] = {
	{ PIV_OK, "PIV_OK", "success" },
	{ PIV_ERR_INVALID, "PIV_ERR_INVALID", "invalid argument" },
	{ PIV_ERR_NOMEM, "PIV_ERR_NOMEM", "out of memory" },
	{ PIV_ERR_TRANSMIT, "PIV_ERR_TRANSMIT", "reader or transport failure" },
	{ PIV_ERR_REMOVED, "PIV_ERR_REMOVED", "card removed during the operation" },
	{ PIV_ERR_RESET, "PIV_ERR_RESET", "card reset during the operation" },
	{ PIV_ERR_DIFFERENT_CARD, "PIV_ERR_DIFFERENT_CARD", "a different card is in the reader" },
	{ PIV_ERR_NOT_PIV, "PIV_ERR_NOT_PIV", "no PIV application on the card" },
	{ PIV_ERR_NOT_FOUND, "PIV_ERR_NOT_FOUND", "object or key not found" },
	{ PIV_ERR_WRONG_PIN, "PIV_ERR_WRONG_PIN", "wrong PIN or PUK" },
	{ PIV_ERR_BLOCKED, "PIV_ERR_BLOCKED", "PIN or PUK blocked" },
	{ PIV_ERR_AUTH_REQUIRED, "PIV_ERR_AUTH_REQUIRED", "PIN or management key authentication required" },
	{ PIV_ERR_AUTH_FAILED, "PIV_ERR_AUTH_FAILED", "management key authentication failed" },
	{ PIV_ERR_CONDITIONS, "PIV_ERR_CONDITIONS", "card refused in its current state" },
	{ PIV_ERR_NOT_SUPPORTED, "PIV_ERR_NOT_SUPPORTED", "not supported by the card" },
	{ PIV_ERR_MALFORMED, "PIV_ERR_MALFORMED", "malformed card data" },
	{ PIV_ERR_TOOBIG, "PIV_ERR_TOOBIG", "data exceeds the size limit" },
	{ PIV_ERR_CRYPTO, "PIV_ERR_CRYPTO", "host cryptography failure" },
	{ PIV_ERR_NO_SPACE, "PIV_ERR_NO_SPACE", "card out of memory" },
	{ PIV_ERR_CARD, "PIV_ERR_CARD", "card error" },
	{ PIV_ERR_WRONG_DATA, "PIV_ERR_WRONG_DATA", "card rejected the data" },
	{ PIV_ERR_BAD_SIGNATURE, "PIV_ERR_BAD_SIGNATURE", "card signature does not verify" },
	{ PIV_ERR_NOT_RESPONDING, "PIV_ERR_NOT_RESPONDING", "card not responding" },
};

const char *
piv_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].msg;
	return "unknown piv error";
}

const char *
piv_name(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "?";
}

int
piv_from_apdu(int e)
{
	switch (e) {
	case APDU_OK: return PIV_OK;
	case APDU_ERR_INVALID: return PIV_ERR_INVALID;
	case APDU_ERR_NOMEM: return PIV_ERR_NOMEM;
	case APDU_ERR_REMOVED: return PIV_ERR_REMOVED;
	case APDU_ERR_RESET: return PIV_ERR_RESET;
	case APDU_ERR_TOOBIG: return PIV_ERR_TOOBIG;
	case APDU_ERR_MALFORMED: return PIV_ERR_MALFORMED;
	case APDU_ERR_WRONG_PIN: return PIV_ERR_WRONG_PIN;
	case APDU_ERR_BLOCKED: return PIV_ERR_BLOCKED;
	case APDU_ERR_SECURITY: return PIV_ERR_AUTH_REQUIRED;
	case APDU_ERR_CONDITIONS: return PIV_ERR_CONDITIONS;
	case APDU_ERR_NOT_FOUND:
	case APDU_ERR_REF_NOT_FOUND: return PIV_ERR_NOT_FOUND;
	case APDU_ERR_WRONG_DATA: return PIV_ERR_WRONG_DATA;
	case APDU_ERR_P1P2:
	case APDU_ERR_INS:
	case APDU_ERR_CLA: return PIV_ERR_NOT_SUPPORTED;
	case APDU_ERR_NO_SPACE: return PIV_ERR_NO_SPACE;
	case APDU_ERR_TRANSMIT: return PIV_ERR_TRANSMIT;
	case APDU_ERR_NOT_RESPONDING: return PIV_ERR_NOT_RESPONDING;
	default: return PIV_ERR_CARD;
	}
}

int
piv_init(struct piv_card **card, const struct apdu_transport *t)
{
	struct piv_card *c;
	int rc;

	if (card == NULL)
		return PIV_ERR_INVALID;
	*card = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PIV_ERR_NOMEM;
	if ((rc = apdu_init(&c->apdu, t)) != APDU_OK) {
		free(c);
		return piv_from_apdu(rc);
	}
	/* Objects are capped; a response larger than any object is hostile. */
	apdu_set_max_response(c->apdu, PIV_OBJECT_MAX + 16);
	*card = c;
	return PIV_OK;
}

void
piv_done(struct piv_card *card)
{
	if (card == NULL)
		return;
	apdu_done(card->apdu);
	OPENSSL_cleanse(card, sizeof(*card));
	free(card);
}

struct apdu_ctx *
piv_apdu(struct piv_card *card)
{
	return card->apdu;
}

int
piv_has_auth_state(const struct piv_card *card)
{
	return card != NULL && card->auth_state;
}

int
piv_xfer(struct piv_card *card, uint8_t ins, uint8_t p1, uint8_t p2,
    const uint8_t *data, size_t len, uint8_t **rsp, size_t *rsp_len, uint16_t *sw)
{
	struct apdu_cmd c = { 0x00, ins, p1, p2, data, len, rsp != NULL };

	return piv_from_apdu(apdu_transceive(card->apdu, &c, rsp, rsp_len, sw));
}

/* ---- identification and reconnect -------------------------------------- */

static int
do_select(struct piv_card *card)
{
	uint8_t *rsp = NULL;
	size_t len = 0;
	struct tlv t;
	int rc;

	rc = piv_xfer(card, 0xA4, 0x04, 0x00, piv_aid, sizeof(piv_aid), &rsp, &len, NULL);
	if (rc == PIV_ERR_NOT_FOUND || rc == PIV_ERR_NOT_SUPPORTED ||
	    rc == PIV_ERR_CARD || rc == PIV_ERR_WRONG_DATA)
		rc = PIV_ERR_NOT_PIV;
	/* An application property template, if sent, must be well formed. */
	if (rc == PIV_OK && len > 0 && tlv_unwrap(rsp, len, 0x61, &t) != TLV_OK)
		rc = PIV_ERR_MALFORMED;
	free(rsp);
	return rc;
}

static int
do_fixed(struct piv_card *card, uint8_t ins, uint8_t *out, size_t n)
{
	uint8_t *rsp = NULL;
	size_t len = 0;
	int rc;

	rc = piv_xfer(card, ins, 0x00, 0x00, NULL, 0, &rsp, &len, NULL);
	if (rc == PIV_OK && len != n)
		rc = PIV_ERR_MALFORMED;
	if (rc == PIV_OK)
		memcpy(out, rsp, n);
	free(rsp);
	return rc;
}

static int
tag_bytes(uint32_t tag, uint8_t *out)
{
	if (tag <= 0xFF) {
		out[0] = (uint8_t)tag;
		return 1;
	}
	out[0] = (uint8_t)(tag >> 16);
	out[1] = (uint8_t)(tag >> 8);
	out[2] = (uint8_t)tag;
	return 3;
}

static int
do_get_object(struct piv_card *card, uint32_t tag, uint8_t **data, size_t *len)
{
	uint8_t cmd[5], *rsp = NULL;
	size_t rlen = 0;
	struct tlv t;
	int n, rc;

	*data = NULL;
	*len = 0;
	cmd[0] = 0x5C;
	n = tag_bytes(tag, cmd + 2);
	cmd[1] = (uint8_t)n;
	rc = piv_xfer(card, 0xCB, 0x3F, 0xFF, cmd, (size_t)n + 2, &rsp, &rlen, NULL);
	if (rc != PIV_OK)
		goto out;
	rc = PIV_ERR_MALFORMED;
	if (tlv_unwrap(rsp, rlen, tag == PIV_OBJ_DISCOVERY ? 0x7E : 0x53, &t) != TLV_OK)
		goto out;
	rc = PIV_ERR_NOMEM;
	if ((*data = malloc(t.len ? t.len : 1)) == NULL)
		goto out;
	memcpy(*data, t.val, t.len);
	*len = t.len;
	rc = PIV_OK;
out:
	apdu_free(rsp, rlen);
	return rc;
}

/* Errors that say nothing about the card's content: stop identifying. */
static int
transport_error(int rc)
{
	return rc == PIV_ERR_REMOVED || rc == PIV_ERR_RESET || rc == PIV_ERR_TRANSMIT ||
	    rc == PIV_ERR_NOMEM || rc == PIV_ERR_TOOBIG || rc == PIV_ERR_NOT_RESPONDING;
}

static uint32_t
be32(const uint8_t s[4])
{
	return (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
}

/* Optional identity objects: any card answer other than data means "absent". */
static int
read_optional(struct piv_card *card, struct piv_ident *id)
{
	uint8_t *obj = NULL, s[4];
	size_t len = 0;
	int rc;

	if ((rc = do_fixed(card, 0xFD, id->version, 3)) == PIV_OK) {
		id->has_version = 1;
		id->type = PIV_TYPE_PIV_YUBICO;
	} else if (transport_error(rc)) {
		return rc;
	}
	if ((rc = do_fixed(card, 0xF8, s, 4)) == PIV_OK) {
		id->has_serial = 1;
		id->serial = be32(s);
	} else if (transport_error(rc)) {
		return rc;
	}
	rc = do_get_object(card, PIV_OBJ_CHUID, &obj, &len);
	if (rc == PIV_OK)
		id->has_chuid = piv_chuid_parse(obj, len, &id->chuid) == PIV_OK;
	free(obj);
	return transport_error(rc) ? rc : PIV_OK;
}

/* Read what identifies the card. With neither serial nor GUID, the CCC's
 * random card identifier is the last resort. */
static int
read_ident(struct piv_card *card, struct piv_ident *id)
{
	uint8_t *obj = NULL;
	size_t len = 0;
	int rc;

	memset(id, 0, sizeof(*id));
	if ((rc = do_select(card)) != PIV_OK)
		return rc;
	id->type = PIV_TYPE_PIV;
	if ((rc = read_optional(card, id)) != PIV_OK)
		return rc;
	if (id->has_serial || (id->has_chuid && id->chuid.has_guid))
		return PIV_OK;
	rc = do_get_object(card, PIV_OBJ_CCC, &obj, &len);
	if (rc == PIV_OK)
		id->has_ccc = piv_ccc_parse(obj, len, &id->ccc) == PIV_OK;
	free(obj);
	return transport_error(rc) ? rc : PIV_OK;
}

/* 1 if some identifier both readings have tells the cards apart. */
static int
differs(const struct piv_ident *a, const struct piv_ident *b)
{
	if (a->has_serial != b->has_serial || (a->has_serial && a->serial != b->serial))
		return 1;
	/* The GUID may legitimately appear (we wrote the CHUID) but never change. */
	if (a->has_chuid && a->chuid.has_guid && (!b->has_chuid || !b->chuid.has_guid ||
	    memcmp(a->chuid.guid, b->chuid.guid, 16) != 0))
		return 1;
	if (!a->has_serial && !(a->has_chuid && a->chuid.has_guid) && a->has_ccc &&
	    (!b->has_ccc || a->ccc.card_id_len != b->ccc.card_id_len ||
	    memcmp(a->ccc.card_id, b->ccc.card_id, a->ccc.card_id_len) != 0))
		return 1;
	return 0;
}

/* 1 if the reading holds anything that identifies the card. */
static int
provable(const struct piv_ident *a)
{
	return a->has_serial || (a->has_chuid && a->chuid.has_guid) || a->has_ccc;
}

/* After a reset or re-insertion: same card only if provably so. */
static int
same_card(const struct piv_ident *a, const struct piv_ident *b)
{
	return provable(a) && !differs(a, b);
}

static int
recheck(struct piv_card *card)
{
	struct piv_ident now;
	int rc;

	if (!card->identified)
		return do_select(card);
	if ((rc = read_ident(card, &now)) == PIV_ERR_NOT_PIV)
		rc = PIV_ERR_DIFFERENT_CARD;
	if (rc == PIV_OK && !same_card(&card->ident, &now))
		rc = PIV_ERR_DIFFERENT_CARD;
	if (rc == PIV_ERR_DIFFERENT_CARD)
		card->dead = 1;
	return rc;
}

static int
reconnect(struct piv_card *card)
{
	int rc;

	if ((rc = piv_from_apdu(apdu_reconnect(card->apdu))) != PIV_OK)
		return rc;
	if ((rc = piv_from_apdu(apdu_begin(card->apdu))) != PIV_OK)
		return rc;
	if ((rc = recheck(card)) != PIV_OK) {
		apdu_end(card->apdu);
		return rc;
	}
	card->stale = 0;
	return PIV_OK;
}

int
piv_op_begin(struct piv_card *card)
{
	int rc;

	if (card == NULL)
		return PIV_ERR_INVALID;
	if (card->dead)
		return PIV_ERR_DIFFERENT_CARD;
	rc = apdu_begin(card->apdu);
	if (rc == APDU_OK && !card->stale)
		return PIV_OK;
	if (rc == APDU_OK)
		apdu_end(card->apdu);
	else if (rc != APDU_ERR_RESET && rc != APDU_ERR_REMOVED)
		return piv_from_apdu(rc);
	return reconnect(card);
}

int
piv_op_end(struct piv_card *card, int rc)
{
	/* After any transport failure, re-attach and re-check before going on. */
	if (rc == PIV_ERR_REMOVED || rc == PIV_ERR_RESET || rc == PIV_ERR_TRANSMIT)
		card->stale = 1;
	apdu_end(card->apdu);
	return rc;
}

int
piv_identify(struct piv_card *card, struct piv_ident *id)
{
	struct piv_ident now;
	int rc;

	memset(&now, 0, sizeof(now));
	if (id != NULL)
		memset(id, 0, sizeof(*id));
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	/* op_begin rechecks after every reset or removal pcscd reports; a swap it
	 * missed (faster than its presence polling) is caught here. A card with
	 * no identifier cannot be told apart and is accepted again. */
	if ((rc = read_ident(card, &now)) == PIV_OK) {
		if (card->identified && differs(&card->ident, &now)) {
			card->dead = 1;
			rc = PIV_ERR_DIFFERENT_CARD;
		} else {
			card->ident = now;
			card->identified = 1;
		}
	}
	if (id != NULL)
		*id = now;
	return piv_op_end(card, rc);
}

/* ---- objects ----------------------------------------------------------- */

int
piv_read_object(struct piv_card *card, uint32_t tag, uint8_t **data, size_t *len)
{
	int rc;

	if (data == NULL || len == NULL)
		return PIV_ERR_INVALID;
	*data = NULL;
	*len = 0;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	return piv_op_end(card, do_get_object(card, tag, data, len));
}

static int
do_put_object(struct piv_card *card, uint32_t tag, const uint8_t *data, size_t len)
{
	uint8_t *cmd, tb[3];
	struct buf_writer w;
	size_t cap;
	int n, rc;

	if (tag == PIV_OBJ_DISCOVERY || tag == 0 || (len > 0 && data == NULL))
		return PIV_ERR_INVALID;
	if (len > PIV_OBJECT_MAX)
		return PIV_ERR_TOOBIG;
	cap = len + 16;
	if ((cmd = malloc(cap)) == NULL)
		return PIV_ERR_NOMEM;
	n = tag_bytes(tag, tb);
	buf_writer_init(&w, cmd, cap);
	tlv_put(&w, 0x5C, tb, (size_t)n);
	tlv_put(&w, 0x53, data, len);
	rc = buf_writer_error(&w) == BUF_OK ?
	    piv_xfer(card, 0xDB, 0x3F, 0xFF, cmd, w.len, NULL, NULL, NULL) : PIV_ERR_INVALID;
	OPENSSL_cleanse(cmd, cap);
	free(cmd);
	return rc;
}

int
piv_write_object(struct piv_card *card, uint32_t tag, const uint8_t *data, size_t len)
{
	int rc;

	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	return piv_op_end(card, do_put_object(card, tag, data, len));
}

int
piv_delete_object(struct piv_card *card, uint32_t tag)
{
	return piv_write_object(card, tag, NULL, 0);
}

/* Read an object and hand it to a parser. */
static int
read_parsed(struct piv_card *card, uint32_t tag,
    int (*parse)(const uint8_t *, size_t, void *), void *out)
{
	uint8_t *obj = NULL;
	size_t len = 0;
	int rc;

	if ((rc = piv_read_object(card, tag, &obj, &len)) == PIV_OK)
		rc = parse(obj, len, out);
	if (obj != NULL)
		OPENSSL_cleanse(obj, len);
	free(obj);
	return rc;
}

static int p_chuid(const uint8_t *d, size_t l, void *o) { return piv_chuid_parse(d, l, o); }
static int p_ccc(const uint8_t *d, size_t l, void *o) { return piv_ccc_parse(d, l, o); }
static int p_disc(const uint8_t *d, size_t l, void *o) { return piv_discovery_parse(d, l, o); }
static int p_kh(const uint8_t *d, size_t l, void *o) { return piv_keyhist_parse(d, l, o); }
static int p_pr(const uint8_t *d, size_t l, void *o) { return piv_printed_parse(d, l, o); }
static int p_cert(const uint8_t *d, size_t l, void *o) { return piv_certobj_parse(d, l, o); }

int
piv_read_chuid(struct piv_card *card, struct piv_chuid *out)
{
	return out ? read_parsed(card, PIV_OBJ_CHUID, p_chuid, out) : PIV_ERR_INVALID;
}

int
piv_read_ccc(struct piv_card *card, struct piv_ccc *out)
{
	return out ? read_parsed(card, PIV_OBJ_CCC, p_ccc, out) : PIV_ERR_INVALID;
}

int
piv_read_discovery(struct piv_card *card, struct piv_discovery *out)
{
	return out ? read_parsed(card, PIV_OBJ_DISCOVERY, p_disc, out) : PIV_ERR_INVALID;
}

int
piv_read_keyhist(struct piv_card *card, struct piv_keyhist *out)
{
	return out ? read_parsed(card, PIV_OBJ_KEYHIST, p_kh, out) : PIV_ERR_INVALID;
}

int
piv_read_printed(struct piv_card *card, struct piv_printed *out)
{
	return out ? read_parsed(card, PIV_OBJ_PRINTED, p_pr, out) : PIV_ERR_INVALID;
}

int
piv_read_cert(struct piv_card *card, int slot, X509 **cert)
{
	uint32_t tag = piv_slot_object(slot);

	if (cert == NULL)
		return PIV_ERR_INVALID;
	*cert = NULL;
	return tag ? read_parsed(card, tag, p_cert, cert) : PIV_ERR_INVALID;
}

/* Write an object that a builder returned with code rc; frees it. */
static int
write_built(struct piv_card *card, uint32_t tag, int rc, uint8_t *obj, size_t len)
{
	if (rc == PIV_OK)
		rc = piv_write_object(card, tag, obj, len);
	free(obj);
	return rc;
}

int
piv_write_cert(struct piv_card *card, int slot, X509 *cert, int compress)
{
	uint32_t tag = piv_slot_object(slot);
	uint8_t *obj = NULL;
	size_t len = 0;
	int rc;

	if (tag == 0 || slot == PIV_SLOT_ATTEST)
		return PIV_ERR_INVALID;
	rc = piv_certobj_build(cert, compress, &obj, &len);
	return write_built(card, tag, rc, obj, len);
}

int
piv_delete_cert(struct piv_card *card, int slot)
{
	uint32_t tag = piv_slot_object(slot);

	return tag ? piv_delete_object(card, tag) : PIV_ERR_INVALID;
}

int
piv_write_chuid(struct piv_card *card, const uint8_t fascn[25], const char *expiry,
    struct piv_chuid *out)
{
	struct piv_chuid c;
	uint8_t *obj = NULL;
	size_t len = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	if (fascn == NULL || expiry == NULL || strlen(expiry) != 8)
		return PIV_ERR_INVALID;
	memcpy(c.fascn, fascn, 25);
	memcpy(c.expiry, expiry, 9);
	c.has_fascn = c.has_guid = c.has_expiry = 1;
	if (RAND_bytes(c.guid, sizeof(c.guid)) != 1)
		return PIV_ERR_CRYPTO;
	rc = piv_chuid_build(&c, &obj, &len);
	rc = write_built(card, PIV_OBJ_CHUID, rc, obj, len);
	if (rc == PIV_OK) {
		/* Our own GUID is now part of the card's identity. */
		card->ident.chuid = c;
		card->ident.has_chuid = 1;
		if (out != NULL)
			*out = c;
	}
	return rc;
}

int
piv_write_ccc(struct piv_card *card)
{
	uint8_t *obj = NULL;
	size_t len = 0;
	struct piv_ccc c;
	int rc;

	if ((rc = piv_ccc_build(&obj, &len)) == PIV_OK &&
	    (rc = piv_ccc_parse(obj, len, &c)) == PIV_OK &&
	    (rc = piv_write_object(card, PIV_OBJ_CCC, obj, len)) == PIV_OK &&
	    card->ident.has_ccc)
		card->ident.ccc = c;	/* the identity may rest on the CCC */
	free(obj);
	return rc;
}

int
piv_write_keyhist(struct piv_card *card, const struct piv_keyhist *k)
{
	uint8_t *obj = NULL;
	size_t len = 0;
	int rc = piv_keyhist_build(k, &obj, &len);

	return write_built(card, PIV_OBJ_KEYHIST, rc, obj, len);
}

/* ---- PIN and PUK ------------------------------------------------------- */

/* PIV reference data: up to 8 bytes padded with FF. */
static int
pad8(const char *s, uint8_t out[8])
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 8)
		return PIV_ERR_INVALID;
	memset(out, 0xFF, 8);
	memcpy(out, s, n);
	return PIV_OK;
}

static void
set_tries(int rc, uint16_t sw, int *tries)
{
	if (tries == NULL)
		return;
	if (rc == PIV_ERR_WRONG_PIN)
		*tries = sw & 0x0F;
	else if (rc == PIV_ERR_BLOCKED)
		*tries = 0;
	else
		*tries = -1;
}

int
piv_verify(struct piv_card *card, const char *pin, int *tries)
{
	uint8_t buf[8];
	uint16_t sw = 0;
	int rc;

	if (tries != NULL)
		*tries = -1;
	if (pin != NULL && pad8(pin, buf) != PIV_OK)
		return PIV_ERR_INVALID;
	if ((rc = piv_op_begin(card)) == PIV_OK) {
		rc = piv_xfer(card, 0x20, 0x00, PIV_REF_PIN, pin ? buf : NULL,
		    pin ? 8 : 0, NULL, NULL, &sw);
		set_tries(rc, sw, tries);
		if (rc == PIV_OK && pin != NULL)
			card->auth_state = 1;
		rc = piv_op_end(card, rc);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
piv_unverify(struct piv_card *card)
{
	int rc;

	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	return piv_op_end(card, piv_xfer(card, 0x20, 0xFF, PIV_REF_PIN, NULL, 0,
	    NULL, NULL, NULL));
}

/* Two padded secrets in one command (CHANGE REFERENCE DATA, RESET RETRY COUNTER). */
static int
two_secrets(struct piv_card *card, uint8_t ins, uint8_t ref, const char *a,
    const char *b, int *tries)
{
	uint8_t buf[16];
	uint16_t sw = 0;
	int rc = PIV_ERR_INVALID;

	if (tries != NULL)
		*tries = -1;
	if (pad8(a, buf) != PIV_OK || pad8(b, buf + 8) != PIV_OK)
		goto out;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		goto out;
	rc = piv_xfer(card, ins, 0x00, ref, buf, 16, NULL, NULL, &sw);
	set_tries(rc, sw, tries);
	if (rc == PIV_OK)
		card->auth_state = 1;	/* cards may count this as a verification */
	rc = piv_op_end(card, rc);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
piv_change_ref(struct piv_card *card, int ref, const char *old_val,
    const char *new_val, int *tries)
{
	if (ref != PIV_REF_PIN && ref != PIV_REF_PUK)
		return PIV_ERR_INVALID;
	return two_secrets(card, 0x24, (uint8_t)ref, old_val, new_val, tries);
}

int
piv_unblock_pin(struct piv_card *card, const char *puk, const char *new_pin, int *tries)
{
	return two_secrets(card, 0x2C, PIV_REF_PIN, puk, new_pin, tries);
}

int
piv_set_retries(struct piv_card *card, int pin_tries, int puk_tries)
{
	int rc;

	if (pin_tries < 1 || pin_tries > 255 || puk_tries < 1 || puk_tries > 255)
		return PIV_ERR_INVALID;
	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	return piv_op_end(card, piv_xfer(card, 0xFA, (uint8_t)pin_tries,
	    (uint8_t)puk_tries, NULL, 0, NULL, NULL, NULL));
}

int
piv_reset(struct piv_card *card)
{
	int rc;

	if ((rc = piv_op_begin(card)) != PIV_OK)
		return rc;
	rc = piv_xfer(card, 0xFB, 0x00, 0x00, NULL, 0, NULL, NULL, NULL);
	if (rc == PIV_OK) {
		/* The GUID is gone with the CHUID; the serial still identifies it. */
		card->ident.has_chuid = 0;
		memset(&card->ident.chuid, 0, sizeof(card->ident.chuid));
	}
	return piv_op_end(card, rc);
}
