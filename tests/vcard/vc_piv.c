/*
 * vc_piv: the PIV card application commands of SP 800-73-4 part 2:
 * SELECT, GET/PUT DATA, VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER,
 * GENERAL AUTHENTICATE and GENERATE ASYMMETRIC KEY PAIR.
 * Each handler returns the status word and writes response data to `out`.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tlv.h"
#include "vc_crypto.h"
#include "vc_priv.h"

#define PIV_AID_LEN 11
static const uint8_t piv_aid[PIV_AID_LEN] = {
	0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
};

/* ---- SELECT */

uint16_t
vc_piv_select(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	static const uint8_t pix[] = { 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };
	uint8_t mem[32];
	struct buf_writer w;

	(void)c;
	if (cmd->p1 != 0x04)
		return SW_NOT_FOUND;
	/* Partial AIDs (ykpiv sends the 5-byte RID) select PIV too. */
	if (cmd->lc < 5 || cmd->lc > PIV_AID_LEN ||
	    memcmp(cmd->data, piv_aid, cmd->lc) != 0)
		return SW_NOT_FOUND;
	buf_writer_init(&w, mem, sizeof(mem));
	tlv_put_header(&w, 0x61, 0x11);
	tlv_put(&w, 0x4F, pix, sizeof(pix));
	tlv_put_header(&w, 0x79, 0x07);
	tlv_put(&w, 0x4F, piv_aid, 5);
	buf_put_bytes(out, mem, w.len);
	return SW_OK;
}

/* ---- GET DATA / PUT DATA */

static int
tag_needs_pin(uint32_t tag)
{
	return tag == 0x5FC103 || tag == 0x5FC108 || tag == 0x5FC109 ||
	    tag == 0x5FC121;
}

/* The object tag named by 5C; 0 if malformed. */
static uint32_t
read_tag_list(const uint8_t *data, size_t len, struct buf_reader *rest)
{
	struct tlv t;
	uint32_t tag = 0;
	size_t i;

	buf_reader_init(rest, data, len);
	if (tlv_expect(rest, 0x5C, &t) != TLV_OK || t.len == 0 || t.len > 3)
		return 0;
	for (i = 0; i < t.len; i++)
		tag = tag << 8 | t.val[i];
	return vc_obj_tag_valid(tag) ? tag : 0;
}

uint16_t
vc_piv_get_data(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	struct buf_reader r;
	struct vc_obj *o;
	uint32_t tag;

	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if ((tag = read_tag_list(cmd->data, cmd->lc, &r)) == 0 ||
	    buf_expect_end(&r) != BUF_OK)
		return SW_WRONG_DATA;
	if (tag_needs_pin(tag) && !c->pin_ok)
		return SW_SECURITY;
	if ((o = vc_obj_find(&c->st, tag)) == NULL)
		return SW_NOT_FOUND;
	/* Discovery and BIT are stored with their own template. */
	if (tag == 0x7E || tag == 0x7F61)
		buf_put_bytes(out, o->data, o->len);
	else
		tlv_put(out, 0x53, o->data, o->len);
	return SW_OK;
}

uint16_t
vc_piv_put_data(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	struct buf_reader r;
	struct tlv t;
	uint32_t tag;
	uint16_t sw;

	(void)out;
	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if (cmd->lc > 0 && (cmd->data[0] == 0x7E || cmd->data[0] == 0x7F)) {
		tag = cmd->data[0] == 0x7E ? 0x7E : 0x7F61;
		if (tlv_unwrap(cmd->data, cmd->lc, tag, &t) != TLV_OK)
			return SW_WRONG_DATA;
		sw = vc_obj_set(&c->st, tag, cmd->data, cmd->lc);
	} else {
		if ((tag = read_tag_list(cmd->data, cmd->lc, &r)) == 0 ||
		    tag == 0x7E || tag == 0x7F61 ||
		    tlv_expect(&r, 0x53, &t) != TLV_OK || buf_expect_end(&r) != BUF_OK)
			return SW_WRONG_DATA;
		sw = vc_obj_set(&c->st, tag, t.val, t.len);
	}
	if (sw == SW_OK)
		c->dirty = 1;
	return sw;
}

/* ---- PIN and PUK */

/* 6 to 8 characters, then 0xFF padding only. */
static int
pin_format_ok(const uint8_t *p)
{
	size_t n = 0, i;

	while (n < VC_PIN_LEN && p[n] != 0xFF)
		n++;
	for (i = n; i < VC_PIN_LEN; i++) {
		if (p[i] != 0xFF)
			return 0;
	}
	return n >= 6;
}

/*
 * Check a presented value against a reference with its counter: 9000 and
 * counter reset, or 63Cx with the counter decremented, or 6983 if blocked.
 */
static uint16_t
check_ref(struct vc_card *c, const uint8_t *ref, const uint8_t *given,
    uint8_t *left, uint8_t total)
{
	if (*left == 0)
		return SW_BLOCKED;
	if (CRYPTO_memcmp(ref, given, VC_PIN_LEN) != 0) {
		(*left)--;
		c->dirty = 1;
		return SW_TRIES(*left);
	}
	if (*left != total) {
		*left = total;
		c->dirty = 1;
	}
	return SW_OK;
}

uint16_t
vc_piv_verify(struct vc_card *c, const struct vc_cmd *cmd, struct buf_writer *out)
{
	uint16_t sw;

	(void)out;
	if (cmd->p2 != 0x80 || (cmd->p1 != 0x00 && cmd->p1 != 0xFF))
		return SW_WRONG_P1P2;
	if (cmd->p1 == 0xFF) {	/* SP 800-73-4: reset the security status */
		if (cmd->lc != 0)
			return SW_WRONG_P1P2;
		c->pin_ok = c->pin_fresh = 0;
		return SW_OK;
	}
	if (cmd->lc == 0) {
		if (c->pin_ok)
			return SW_OK;
		return c->st.pin_left == 0 ? SW_BLOCKED : SW_TRIES(c->st.pin_left);
	}
	if (cmd->lc != VC_PIN_LEN)
		return SW_WRONG_DATA;
	sw = check_ref(c, c->st.pin, cmd->data, &c->st.pin_left, c->st.pin_total);
	c->pin_ok = c->pin_fresh = sw == SW_OK;
	return sw;
}

uint16_t
vc_piv_change_ref(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	int is_pin = cmd->p2 == 0x80;
	uint8_t *ref = is_pin ? c->st.pin : c->st.puk;
	uint8_t *left = is_pin ? &c->st.pin_left : &c->st.puk_left;
	uint16_t sw;

	(void)out;
	if (cmd->p1 != 0x00 || (cmd->p2 != 0x80 && cmd->p2 != 0x81))
		return SW_WRONG_P1P2;
	if (cmd->lc != 2 * VC_PIN_LEN)
		return SW_WRONG_DATA;
	/*
	 * The old value is checked (and counted) before the new one's format,
	 * as on a YubiKey: ykman blocks the PUK with an empty new PIN.
	 */
	sw = check_ref(c, ref, cmd->data, left,
	    is_pin ? c->st.pin_total : c->st.puk_total);
	if (sw != SW_OK) {
		if (is_pin)
			c->pin_ok = c->pin_fresh = 0;
		return sw;
	}
	if (!pin_format_ok(cmd->data + VC_PIN_LEN))
		return SW_WRONG_DATA;
	memcpy(ref, cmd->data + VC_PIN_LEN, VC_PIN_LEN);
	c->dirty = 1;
	if (is_pin)
		c->pin_ok = c->pin_fresh = 1;
	return SW_OK;
}

uint16_t
vc_piv_reset_retry(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	uint16_t sw;

	(void)out;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x80)
		return SW_WRONG_P1P2;
	if (cmd->lc != 2 * VC_PIN_LEN)
		return SW_WRONG_DATA;
	sw = check_ref(c, c->st.puk, cmd->data, &c->st.puk_left, c->st.puk_total);
	if (sw != SW_OK)
		return sw;
	if (!pin_format_ok(cmd->data + VC_PIN_LEN))
		return SW_WRONG_DATA;
	memcpy(c->st.pin, cmd->data + VC_PIN_LEN, VC_PIN_LEN);
	c->st.pin_left = c->st.pin_total;
	c->dirty = 1;
	return SW_OK;
}

/* ---- GENERAL AUTHENTICATE */

struct ga_tags {
	struct tlv t[4];	/* 80 witness, 81 challenge, 82 response, 85 exponentiation */
	int have[4];
};

static int
ga_index(uint32_t tag)
{
	switch (tag) {
	case 0x80: return 0;
	case 0x81: return 1;
	case 0x82: return 2;
	case 0x85: return 3;
	default:   return -1;
	}
}

/* 7C { (80|81|82|85) ... } with each tag at most once, nothing else. */
static int
ga_parse(const struct vc_cmd *cmd, struct ga_tags *g)
{
	struct buf_reader r;
	struct tlv tpl, t;
	int i;

	memset(g, 0, sizeof(*g));
	if (tlv_unwrap(cmd->data, cmd->lc, 0x7C, &tpl) != TLV_OK)
		return 0;
	buf_reader_init(&r, tpl.val, tpl.len);
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &t) != TLV_OK || (i = ga_index(t.tag)) < 0 ||
		    g->have[i])
			return 0;
		g->t[i] = t;
		g->have[i] = 1;
	}
	return 1;
}

static int
ga_only(const struct ga_tags *g, int a, int b)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (g->have[i] != (i == a || i == b))
			return 0;
	}
	return 1;
}

/* 7C { tag len value } into out. */
static void
put_dyn(struct buf_writer *out, uint32_t tag, const uint8_t *v, size_t len)
{
	tlv_put_header(out, 0x7C, tlv_size(tag, len));
	tlv_put(out, tag, v, len);
}

static uint16_t
mgm_encrypt(struct vc_card *c, const uint8_t *in, uint8_t *outblk)
{
	return vc_crypto_block_encrypt(c->st.mgm_alg, c->st.mgm_key,
	    c->st.mgm_len, in, outblk) == VC_CRYPTO_OK ? SW_OK : SW_NO_INFO;
}

/* Step 1 of mutual (80 00) or external (81 00) authentication. */
static uint16_t
mgm_start(struct vc_card *c, enum vc_chal kind, size_t bl,
    struct buf_writer *out)
{
	uint8_t blk[16];
	uint16_t sw = SW_OK;

	c->mgm_ok = 0;
	c->chal = VC_CHAL_NONE;
	if (RAND_bytes(c->chal_buf, (int)bl) != 1)
		return SW_NO_INFO;
	if (kind == VC_CHAL_WITNESS) {
		/* The host proves the key by decrypting the witness. */
		if ((sw = mgm_encrypt(c, c->chal_buf, blk)) == SW_OK)
			put_dyn(out, 0x80, blk, bl);
	} else
		put_dyn(out, 0x81, c->chal_buf, bl);
	if (sw == SW_OK)
		c->chal = kind;
	OPENSSL_cleanse(blk, sizeof(blk));
	return sw;
}

static uint16_t
mgm_finish(struct vc_card *c, const struct ga_tags *g, size_t bl,
    struct buf_writer *out)
{
	uint8_t blk[16];
	enum vc_chal kind = c->chal;
	uint16_t sw = SW_SECURITY;

	c->chal = VC_CHAL_NONE;
	if (kind == VC_CHAL_WITNESS && ga_only(g, 0, 1)) {
		if (g->t[0].len != bl || g->t[1].len != bl)
			return SW_WRONG_DATA;
		if (CRYPTO_memcmp(g->t[0].val, c->chal_buf, bl) != 0)
			goto out;
		if ((sw = mgm_encrypt(c, g->t[1].val, blk)) == SW_OK)
			put_dyn(out, 0x82, blk, bl);
	} else if (kind == VC_CHAL_EXTERNAL && ga_only(g, 2, -1)) {
		if (g->t[2].len != bl)
			return SW_WRONG_DATA;
		if ((sw = mgm_encrypt(c, c->chal_buf, blk)) != SW_OK)
			goto out;
		sw = CRYPTO_memcmp(g->t[2].val, blk, bl) == 0 ? SW_OK : SW_SECURITY;
	}
	c->mgm_ok = sw == SW_OK;
out:
	OPENSSL_cleanse(c->chal_buf, sizeof(c->chal_buf));
	OPENSSL_cleanse(blk, sizeof(blk));
	return sw;
}

static uint16_t
ga_mgm(struct vc_card *c, const struct vc_cmd *cmd, const struct ga_tags *g,
    struct buf_writer *out)
{
	size_t bl = vc_crypto_sym_block(c->st.mgm_alg, NULL);

	if (cmd->p1 != c->st.mgm_alg)
		return SW_WRONG_P1P2;
	if (ga_only(g, 0, -1) && g->t[0].len == 0)
		return mgm_start(c, VC_CHAL_WITNESS, bl, out);
	if (ga_only(g, 1, -1) && g->t[1].len == 0)
		return mgm_start(c, VC_CHAL_EXTERNAL, bl, out);
	return mgm_finish(c, g, bl, out);
}

/* May the key be used now? Consumes a PIN-always verification. */
static uint16_t
key_allowed(struct vc_card *c, const struct vc_key *k)
{
	if (k->pin_policy == VC_PIN_NEVER)
		return SW_OK;
	if (!c->pin_ok || (k->pin_policy == VC_PIN_ALWAYS && !c->pin_fresh))
		return SW_SECURITY;
	if (k->pin_policy == VC_PIN_ALWAYS)
		c->pin_fresh = 0;
	return SW_OK;
}

static uint16_t
ga_key(struct vc_card *c, const struct vc_cmd *cmd, const struct ga_tags *g,
    struct buf_writer *out)
{
	int idx = vc_slot_index(cmd->p2);
	struct vc_key *k;
	uint8_t res[512];
	size_t rlen = 0;
	int rc, ecdh = ga_only(g, 2, 3), sign = ga_only(g, 2, 1);
	uint16_t sw;

	if (idx < 0 || cmd->p2 == 0xF9)
		return SW_WRONG_P1P2;
	k = &c->st.keys[idx];
	if (k->alg == 0)
		return SW_NOT_FOUND;
	if (cmd->p1 != k->alg || (!ecdh && !sign) || g->t[2].len != 0 ||
	    (ecdh && vc_crypto_alg_is_rsa(k->alg)))
		return SW_WRONG_DATA;
	if ((sw = key_allowed(c, k)) != SW_OK)
		return sw;
	if (ecdh)
		rc = vc_crypto_ecdh(k->pkey, g->t[3].val, g->t[3].len, res,
		    sizeof(res), &rlen);
	else if (vc_crypto_alg_is_rsa(k->alg))
		rc = vc_crypto_rsa_raw(k->pkey, g->t[1].val, g->t[1].len, res,
		    sizeof(res), &rlen);
	else
		rc = vc_crypto_ecdsa(k->pkey, g->t[1].val, g->t[1].len, res,
		    sizeof(res), &rlen);
	if (rc == VC_CRYPTO_OK)
		put_dyn(out, 0x82, res, rlen);
	OPENSSL_cleanse(res, sizeof(res));
	return rc == VC_CRYPTO_OK ? SW_OK : SW_WRONG_DATA;
}

uint16_t
vc_piv_general_auth(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	struct ga_tags g;

	if (!ga_parse(cmd, &g)) {
		if (cmd->p2 == 0x9B)
			c->chal = VC_CHAL_NONE;
		return SW_WRONG_DATA;
	}
	if (cmd->p2 == 0x9B)
		return ga_mgm(c, cmd, &g, out);
	return ga_key(c, cmd, &g, out);
}

/* ---- GENERATE ASYMMETRIC KEY PAIR */

struct keyspec {
	uint8_t alg, pin, touch;
};

/* The control template AC { 80 alg, [AA pin policy], [AB touch policy] }. */
static uint16_t
parse_keyspec(const struct vc_cmd *cmd, struct keyspec *ks)
{
	struct buf_reader r;
	struct tlv tpl, t;
	uint8_t *dst;

	memset(ks, 0, sizeof(*ks));
	if (tlv_unwrap(cmd->data, cmd->lc, 0xAC, &tpl) != TLV_OK)
		return SW_WRONG_DATA;
	buf_reader_init(&r, tpl.val, tpl.len);
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &t) != TLV_OK || t.len != 1)
			return SW_WRONG_DATA;
		dst = t.tag == 0x80 ? &ks->alg : t.tag == 0xAA ? &ks->pin :
		    t.tag == 0xAB ? &ks->touch : NULL;
		if (dst == NULL)
			return SW_WRONG_DATA;
		*dst = t.val[0];
	}
	if (!vc_crypto_alg_is_asym(ks->alg) || ks->pin > VC_PIN_ALWAYS ||
	    ks->touch > VC_TOUCH_CACHED)
		return SW_WRONG_DATA;
	return SW_OK;
}

/* 7F49 { 81 n 82 e | 86 point } */
static void
put_pubkey_template(struct buf_writer *out, EVP_PKEY *pk)
{
	uint8_t mem[1024];
	struct buf_writer w;

	buf_writer_init(&w, mem, sizeof(mem));
	vc_crypto_put_pubkey(&w, pk);
	if (buf_writer_error(&w) != BUF_OK) {
		out->err = buf_writer_error(&w);
		return;
	}
	tlv_put(out, 0x7F49, mem, w.len);
}

uint16_t
vc_piv_generate(struct vc_card *c, const struct vc_cmd *cmd,
    struct buf_writer *out)
{
	int idx = vc_slot_index(cmd->p2);
	struct keyspec ks;
	EVP_PKEY *pk = NULL;
	struct vc_key *k;
	uint16_t sw;

	if (cmd->p1 != 0x00 || idx < 0 || cmd->p2 == 0xF9)
		return SW_WRONG_P1P2;
	if (!c->mgm_ok)
		return SW_SECURITY;
	if ((sw = parse_keyspec(cmd, &ks)) != SW_OK)
		return sw;
	if (vc_crypto_keygen(ks.alg, &pk) != VC_CRYPTO_OK)
		return SW_NO_INFO;
	k = &c->st.keys[idx];
	vc_key_clear(k);
	k->alg = ks.alg;
	k->pkey = pk;
	k->origin = VC_ORIGIN_GENERATED;
	k->pin_policy = ks.pin != 0 ? ks.pin : vc_slot_default_pin(cmd->p2);
	k->touch_policy = ks.touch != 0 ? ks.touch : VC_TOUCH_NEVER;
	c->dirty = 1;
	put_pubkey_template(out, pk);
	return SW_OK;
}
