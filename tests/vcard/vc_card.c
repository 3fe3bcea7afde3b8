/*
 * vc_card: life of a card object: factory state, slots and data objects,
 * creation, loading and freeing. The command handlers are in vc_piv.c and
 * vc_yk.c, the transport in vc_apdu.c, the state file in vc_store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "tlv.h"
#include "vc_crypto.h"
#include "vc_priv.h"

static const uint8_t factory_pin[VC_PIN_LEN] = {
	'1', '2', '3', '4', '5', '6', 0xFF, 0xFF,
};
static const uint8_t factory_puk[VC_PIN_LEN] = {
	'1', '2', '3', '4', '5', '6', '7', '8',
};
static const uint8_t factory_mgm[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};
/* Discovery object: PIV AID, PIN usage policy "PIV PIN only". */
static const uint8_t discovery[] = {
	0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10,
	0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02, 0x40, 0x00,
};

int
vc_slot_index(uint8_t slot)
{
	switch (slot) {
	case 0x9A: return 0;
	case 0x9C: return 1;
	case 0x9D: return 2;
	case 0x9E: return 3;
	case 0xF9: return VC_NSLOTS - 1;
	default:
		return slot >= 0x82 && slot <= 0x95 ? 4 + (slot - 0x82) : -1;
	}
}

uint8_t
vc_slot_ref(int idx)
{
	static const uint8_t first[4] = { 0x9A, 0x9C, 0x9D, 0x9E };

	if (idx < 4)
		return first[idx];
	return idx == VC_NSLOTS - 1 ? 0xF9 : (uint8_t)(0x82 + idx - 4);
}

/* SP 800-73-4: 9C needs a PIN for every use, 9E none, the rest once. */
uint8_t
vc_slot_default_pin(uint8_t slot)
{
	return slot == 0x9C ? VC_PIN_ALWAYS :
	    slot == 0x9E || slot == 0xF9 ? VC_PIN_NEVER : VC_PIN_ONCE;
}

int
vc_obj_tag_valid(uint32_t tag)
{
	return tag == 0x7E || tag == 0x7F61 ||
	    (tag >= 0x5FC101 && tag <= 0x5FC123) ||
	    (tag >= 0x5FFF00 && tag <= 0x5FFF15);
}

struct vc_obj *
vc_obj_find(struct vc_state *st, uint32_t tag)
{
	size_t i;

	for (i = 0; i < VC_NOBJS; i++) {
		if (st->objs[i].tag == tag)
			return &st->objs[i];
	}
	return NULL;
}

static void
obj_clear(struct vc_obj *o)
{
	free(o->data);
	o->data = NULL;
	o->len = 0;
	o->tag = 0;
}

uint16_t
vc_obj_set(struct vc_state *st, uint32_t tag, const uint8_t *data, size_t len)
{
	struct vc_obj *o = vc_obj_find(st, tag);
	uint8_t *copy;

	if (len == 0) {
		if (o != NULL)
			obj_clear(o);
		return SW_OK;
	}
	if (len > VC_OBJ_MAX || (o == NULL && (o = vc_obj_find(st, 0)) == NULL))
		return SW_NO_SPACE;
	if ((copy = malloc(len)) == NULL)
		return SW_MEMORY;
	memcpy(copy, data, len);
	free(o->data);
	o->tag = tag;
	o->data = copy;
	o->len = len;
	return SW_OK;
}

void
vc_key_clear(struct vc_key *k)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

void
vc_state_factory_pins(struct vc_state *st)
{
	memcpy(st->pin, factory_pin, VC_PIN_LEN);
	memcpy(st->puk, factory_puk, VC_PIN_LEN);
}

void
vc_state_factory_creds(struct vc_state *st)
{
	vc_state_factory_pins(st);
	st->pin_total = st->pin_left = VC_DEFAULT_TRIES;
	st->puk_total = st->puk_left = VC_DEFAULT_TRIES;
	st->mgm_alg = VC_ALG_3DES;
	st->mgm_touch = 0;
	OPENSSL_cleanse(st->mgm_key, sizeof(st->mgm_key));
	memcpy(st->mgm_key, factory_mgm, sizeof(factory_mgm));
	st->mgm_len = sizeof(factory_mgm);
}

int
vc_state_is_default(const struct vc_state *st, uint8_t ref)
{
	if (ref == 0x80)
		return CRYPTO_memcmp(st->pin, factory_pin, VC_PIN_LEN) == 0;
	if (ref == 0x81)
		return CRYPTO_memcmp(st->puk, factory_puk, VC_PIN_LEN) == 0;
	return st->mgm_alg == VC_ALG_3DES && st->mgm_len == sizeof(factory_mgm) &&
	    CRYPTO_memcmp(st->mgm_key, factory_mgm, sizeof(factory_mgm)) == 0;
}

/* Five bits per FASC-N character: 4 data bits LSB first, odd parity. */
static void
fascn_put(uint8_t *out, size_t *bit, uint8_t v)
{
	int i, ones = 0;
	uint8_t b;

	for (i = 0; i < 5; i++) {
		if (i < 4) {
			b = (v >> i) & 1;
			ones += b;
		} else
			b = !(ones & 1);
		if (b)
			out[*bit / 8] |= (uint8_t)(0x80 >> (*bit % 8));
		(*bit)++;
	}
}

/*
 * A FASC-N (TIG SCEPACS) with agency 9999, system 9999, credential and person
 * identifier from the card serial: unique per card, as OpenSC wants.
 */
static void
make_fascn(uint32_t serial, uint8_t out[25])
{
	char line[64];
	size_t bit = 0, i;
	uint8_t lrc = 0, v;

	memset(out, 0, 25);
	snprintf(line, sizeof(line), "S9999F9999F%06uF1F1F%010u100001E", serial % 1000000u, serial);
	for (i = 0; line[i] != '\0'; i++) {
		switch (line[i]) {
		case 'S': v = 0x0B; break;	/* start sentinel */
		case 'F': v = 0x0D; break;	/* field separator */
		case 'E': v = 0x0F; break;	/* end sentinel */
		default:  v = (uint8_t)(line[i] - '0'); break;
		}
		lrc ^= v;
		fascn_put(out, &bit, v);
	}
	fascn_put(out, &bit, lrc);
}

static uint16_t
factory_chuid(struct vc_state *st)
{
	uint8_t mem[64], fascn[25], guid[16];
	struct buf_writer w;

	if (RAND_bytes(guid, sizeof(guid)) != 1)
		return SW_MEMORY;
	make_fascn(st->serial, fascn);
	buf_writer_init(&w, mem, sizeof(mem));
	tlv_put(&w, 0x30, fascn, sizeof(fascn));
	tlv_put(&w, 0x34, guid, sizeof(guid));
	tlv_put(&w, 0x35, "20451231", 8);
	tlv_put(&w, 0x3E, NULL, 0);
	tlv_put(&w, 0xFE, NULL, 0);
	return vc_obj_set(st, 0x5FC102, mem, w.len);
}

/* CCC as yubico-piv-tool writes it, with a random card identifier. */
static uint16_t
factory_ccc(struct vc_state *st)
{
	uint8_t mem[64], id[21] = { 0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02 };
	static const uint8_t one[] = { 0x21 }, zero[] = { 0x00 }, ten[] = { 0x10 };
	struct buf_writer w;

	if (RAND_bytes(id + 7, sizeof(id) - 7) != 1)
		return SW_MEMORY;
	buf_writer_init(&w, mem, sizeof(mem));
	tlv_put(&w, 0xF0, id, sizeof(id));
	tlv_put(&w, 0xF1, one, 1);
	tlv_put(&w, 0xF2, one, 1);
	tlv_put(&w, 0xF3, NULL, 0);
	tlv_put(&w, 0xF4, zero, 1);
	tlv_put(&w, 0xF5, ten, 1);
	tlv_put(&w, 0xF6, NULL, 0);
	tlv_put(&w, 0xF7, NULL, 0);
	tlv_put(&w, 0xFA, NULL, 0);
	tlv_put(&w, 0xFB, NULL, 0);
	tlv_put(&w, 0xFC, NULL, 0);
	tlv_put(&w, 0xFD, NULL, 0);
	tlv_put(&w, 0xFE, NULL, 0);
	return vc_obj_set(st, 0x5FC107, mem, w.len);
}

uint16_t
vc_state_factory_objects(struct vc_state *st)
{
	uint16_t sw;

	if ((sw = factory_chuid(st)) != SW_OK || (sw = factory_ccc(st)) != SW_OK)
		return sw;
	return vc_obj_set(st, 0x7E, discovery, sizeof(discovery));
}

void
vc_state_wipe(struct vc_state *st)
{
	int i;

	for (i = 0; i < VC_NSLOTS - 1; i++)
		vc_key_clear(&st->keys[i]);
	for (i = 0; i < VC_NOBJS; i++) {
		if (st->objs[i].tag != VC_TAG_ATTEST_CERT)
			obj_clear(&st->objs[i]);
	}
}

void
vc_state_free(struct vc_state *st)
{
	int i;

	for (i = 0; i < VC_NSLOTS; i++)
		vc_key_clear(&st->keys[i]);
	for (i = 0; i < VC_NOBJS; i++)
		obj_clear(&st->objs[i]);
	OPENSSL_cleanse(st, sizeof(*st));
}

/* The F9 slot and its certificate object 5FFF01 { 70 cert, 71 00, FE 00 }. */
static int
factory_attestation(struct vc_state *st, const struct vc_card_opts *o)
{
	struct vc_key *k = &st->keys[VC_NSLOTS - 1];
	uint8_t mem[VC_OBJ_MAX];
	struct buf_writer w;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	int n, rc = VC_ERR_CRYPTO;

	if (vc_crypto_make_f9(o->ca_key, o->ca_cert, st->serial, &k->pkey,
	    &cert) != VC_CRYPTO_OK)
		goto out;
	k->alg = VC_ALG_RSA2048;
	k->pin_policy = VC_PIN_NEVER;
	k->touch_policy = VC_TOUCH_NEVER;
	k->origin = VC_ORIGIN_IMPORTED;	/* put there by the manufacturer */
	if ((n = i2d_X509(cert, &der)) <= 0)
		goto out;
	buf_writer_init(&w, mem, sizeof(mem));
	tlv_put(&w, 0x70, der, (size_t)n);
	tlv_put(&w, 0x71, "", 1);
	tlv_put(&w, 0xFE, NULL, 0);
	if (buf_writer_error(&w) == BUF_OK &&
	    vc_obj_set(st, VC_TAG_ATTEST_CERT, mem, w.len) == SW_OK)
		rc = VC_OK;
out:
	OPENSSL_free(der);
	X509_free(cert);
	return rc;
}

static struct vc_card *
card_alloc(void)
{
	return calloc(1, sizeof(struct vc_card));
}

int
vc_card_create(const struct vc_card_opts *opts, struct vc_card **out)
{
	struct vc_card *c;
	uint32_t serial;
	int rc;

	*out = NULL;
	if ((c = card_alloc()) == NULL)
		return VC_ERR_NOMEM;
	/* Serials of real cards are non-zero and fit 8 decimal digits here. */
	if (opts->have_serial)
		serial = opts->serial;
	else if (RAND_bytes((uint8_t *)&serial, sizeof(serial)) != 1) {
		rc = VC_ERR_CRYPTO;
		goto out;
	} else
		serial = 10000000u + serial % 90000000u;
	c->st.serial = serial;
	vc_state_factory_creds(&c->st);
	rc = VC_ERR_NOMEM;
	if (vc_state_factory_objects(&c->st) != SW_OK)
		goto out;
	if ((rc = factory_attestation(&c->st, opts)) != VC_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	vc_card_free(c);
	return rc;
}

int
vc_card_load_mem(const uint8_t *data, size_t len, struct vc_card **out)
{
	struct vc_card *c;
	int rc;

	*out = NULL;
	if ((c = card_alloc()) == NULL)
		return VC_ERR_NOMEM;
	if ((rc = vc_store_read(&c->st, data, len)) != VC_OK) {
		vc_card_free(c);
		return rc;
	}
	*out = c;
	return VC_OK;
}

int
vc_card_dup(const struct vc_card *c, struct vc_card **out)
{
	const struct vc_state *from = &c->st;
	struct vc_card *d;
	int i;

	*out = NULL;
	if ((d = card_alloc()) == NULL)
		return VC_ERR_NOMEM;
	d->st = *from;
	/* Keys are never modified once made, so the copy shares them. */
	for (i = 0; i < VC_NSLOTS; i++) {
		if (d->st.keys[i].pkey != NULL && !EVP_PKEY_up_ref(d->st.keys[i].pkey))
			d->st.keys[i].pkey = NULL, d->st.keys[i].alg = 0;
	}
	for (i = 0; i < VC_NOBJS; i++) {
		d->st.objs[i].data = NULL;
		d->st.objs[i].tag = 0;
		if (from->objs[i].tag != 0 && vc_obj_set(&d->st, from->objs[i].tag,
		    from->objs[i].data, from->objs[i].len) != SW_OK) {
			vc_card_free(d);
			return VC_ERR_NOMEM;
		}
	}
	*out = d;
	return VC_OK;
}

int
vc_card_bind(struct vc_card *c, const char *path)
{
	char *copy = NULL;

	if (path != NULL && (copy = strdup(path)) == NULL)
		return VC_ERR_NOMEM;
	free(c->path);
	c->path = copy;
	return VC_OK;
}

void
vc_card_free(struct vc_card *c)
{
	if (c == NULL)
		return;
	vc_state_free(&c->st);
	free(c->path);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}
