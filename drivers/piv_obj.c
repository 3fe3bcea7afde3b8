/*
 * piv_obj: encoding and decoding of PIV data objects. Pure functions over
 * bytes (no card), so each parser is fuzzed on its own. See piv.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <zlib.h>

#include "piv.h"
#include "piv_int.h"
#include "tlv.h"

/* Tag sets seen at most once per object: a repeated tag is malformed. */
static int
seen_once(uint32_t *seen, size_t n, size_t *cnt, uint32_t tag)
{
	size_t i;

	for (i = 0; i < *cnt; i++)
		if (seen[i] == tag)
			return PIV_ERR_MALFORMED;
	if (*cnt < n)
		seen[(*cnt)++] = tag;
	return PIV_OK;
}

/* Iterate the TLVs exactly filling data, calling fn on each; rejects repeats. */
static int
each_tlv(const uint8_t *data, size_t len,
    int (*fn)(void *arg, const struct tlv *t), void *arg)
{
	uint32_t seen[32];
	size_t cnt = 0;
	struct buf_reader r;
	struct tlv t;
	int rc;

	buf_reader_init(&r, data, len);
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &t) != TLV_OK)
			return PIV_ERR_MALFORMED;
		if ((rc = seen_once(seen, 32, &cnt, t.tag)) != PIV_OK)
			return rc;
		if ((rc = fn(arg, &t)) != PIV_OK)
			return rc;
	}
	return PIV_OK;
}

/*
 * Parse an object into the zeroed struct out of size bytes; complete, if given,
 * says whether the fields required after the whole object are there.  On any
 * failure out is left zeroed.
 */
static int
parse_obj(const uint8_t *data, size_t len, void *out, size_t size,
    int (*field)(void *arg, const struct tlv *t), int (*complete)(const void *out))
{
	int rc;

	if (out == NULL)
		return PIV_ERR_INVALID;
	memset(out, 0, size);
	rc = each_tlv(data, len, field, out);
	if (rc == PIV_OK && complete != NULL && !complete(out))
		rc = PIV_ERR_MALFORMED;
	if (rc != PIV_OK)
		memset(out, 0, size);
	return rc;
}

static int
put_done(struct buf_writer *w, uint8_t *mem, uint8_t **obj, size_t *len)
{
	if (buf_writer_error(w) != BUF_OK) {
		free(mem);
		return PIV_ERR_INVALID;
	}
	*obj = mem;
	*len = w->len;
	return PIV_OK;
}

/* ---- CHUID ------------------------------------------------------------- */

static int
chuid_field(void *arg, const struct tlv *t)
{
	struct piv_chuid *c = arg;
	size_t i;

	switch (t->tag) {
	case 0x30:
		if (t->len != 25)
			return PIV_ERR_MALFORMED;
		memcpy(c->fascn, t->val, 25);
		c->has_fascn = 1;
		break;
	case 0x34:
		if (t->len != 16)
			return PIV_ERR_MALFORMED;
		memcpy(c->guid, t->val, 16);
		c->has_guid = 1;
		break;
	case 0x35:
		if (t->len != 8)
			return PIV_ERR_MALFORMED;
		for (i = 0; i < 8; i++)
			if (t->val[i] < '0' || t->val[i] > '9')
				return PIV_ERR_MALFORMED;
		memcpy(c->expiry, t->val, 8);
		c->expiry[8] = 0;
		c->has_expiry = 1;
		break;
	case 0x3E:
		c->sig_len = t->len;
		break;
	case 0xFE:
		return t->len == 0 ? PIV_OK : PIV_ERR_MALFORMED;
	default:
		/* EE buffer length, 32 org id, 33 DUNS, 36 UUID: not used here. */
		break;
	}
	return PIV_OK;
}

static int
chuid_complete(const void *arg)
{
	const struct piv_chuid *c = arg;

	return c->has_fascn || c->has_guid;
}

int
piv_chuid_parse(const uint8_t *data, size_t len, struct piv_chuid *out)
{
	return parse_obj(data, len, out, sizeof(*out), chuid_field, chuid_complete);
}

int
piv_chuid_build(const struct piv_chuid *c, uint8_t **obj, size_t *len)
{
	struct buf_writer w;
	uint8_t *mem;

	if (obj == NULL || len == NULL)
		return PIV_ERR_INVALID;
	*obj = NULL;
	*len = 0;
	if (c == NULL || !c->has_fascn || !c->has_guid || !c->has_expiry ||
	    strlen(c->expiry) != 8)
		return PIV_ERR_INVALID;
	if ((mem = malloc(64)) == NULL)
		return PIV_ERR_NOMEM;
	buf_writer_init(&w, mem, 64);
	tlv_put(&w, 0x30, c->fascn, 25);
	tlv_put(&w, 0x34, c->guid, 16);
	tlv_put(&w, 0x35, c->expiry, 8);
	tlv_put(&w, 0x3E, NULL, 0);
	tlv_put(&w, 0xFE, NULL, 0);
	return put_done(&w, mem, obj, len);
}

/* ---- FASC-N: 40 characters of 4 data bits (LSB first) + odd parity ------ */

#define FASCN_SS 0xB
#define FASCN_FS 0xD
#define FASCN_ES 0xF

/* Character layout: 0 = separator given by value, 1 = next digit. */
static const uint8_t fascn_layout[40] = {
	FASCN_SS, 1, 1, 1, 1, FASCN_FS, 1, 1, 1, 1, FASCN_FS, 1, 1, 1, 1, 1, 1,
	FASCN_FS, 1, FASCN_FS, 1, FASCN_FS, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, FASCN_ES, 0 /* LRC */
};

static uint8_t
fascn_char(uint8_t v)
{
	uint8_t c = 0, ones = 0;
	int i;

	for (i = 0; i < 4; i++) {
		c = (uint8_t)(c << 1 | ((v >> i) & 1));
		ones += (v >> i) & 1;
	}
	return (uint8_t)(c << 1 | ((ones & 1) ? 0 : 1));
}

static void
put_bits(uint8_t out[25], int idx, uint8_t c5)
{
	int b;

	for (b = 0; b < 5; b++)
		if (c5 & (0x10 >> b))
			out[(idx * 5 + b) / 8] |= (uint8_t)(0x80 >> ((idx * 5 + b) % 8));
}

static uint8_t
get_bits(const uint8_t in[25], int idx)
{
	uint8_t c = 0;
	int b, bit;

	for (b = 0; b < 5; b++) {
		bit = idx * 5 + b;
		c = (uint8_t)(c << 1 | ((in[bit / 8] >> (7 - bit % 8)) & 1));
	}
	return c;
}

int
piv_fascn_encode(const char *digits, uint8_t out[25])
{
	uint8_t v, lrc = 0;
	int i, d = 0;

	if (digits == NULL || out == NULL || strlen(digits) != 32)
		return PIV_ERR_INVALID;
	memset(out, 0, 25);
	for (i = 0; i < 39; i++) {
		if (fascn_layout[i] == 1) {
			if (digits[d] < '0' || digits[d] > '9')
				return PIV_ERR_INVALID;
			v = (uint8_t)(digits[d++] - '0');
		} else {
			v = fascn_layout[i];
		}
		lrc ^= v;
		put_bits(out, i, fascn_char(v));
	}
	put_bits(out, 39, fascn_char(lrc));
	return PIV_OK;
}

int
piv_fascn_decode(const uint8_t in[25], char out[33])
{
	uint8_t c, v, lrc = 0;
	int i, b, d = 0;

	if (in == NULL || out == NULL)
		return PIV_ERR_INVALID;
	for (i = 0; i < 40; i++) {
		c = get_bits(in, i);
		for (v = 0, b = 0; b < 4; b++)
			v |= (uint8_t)(((c >> (4 - b)) & 1) << b);
		if (fascn_char(v) != c)
			return PIV_ERR_MALFORMED;
		if (i == 39)
			break;
		lrc ^= v;
		if (fascn_layout[i] == 1 ? v > 9 : v != fascn_layout[i])
			return PIV_ERR_MALFORMED;
		if (fascn_layout[i] == 1)
			out[d++] = (char)('0' + v);
	}
	out[d] = 0;
	return v == lrc ? PIV_OK : PIV_ERR_MALFORMED;
}

/* ---- certificate object ------------------------------------------------ */

struct certobj {
	const uint8_t *cert;
	size_t cert_len;
	int have_cert, info;
};

static int
certobj_field(void *arg, const struct tlv *t)
{
	struct certobj *c = arg;

	switch (t->tag) {
	case 0x70:
		c->cert = t->val;
		c->cert_len = t->len;
		c->have_cert = 1;
		break;
	case 0x71:
		if (t->len > 1 || (t->len == 1 && t->val[0] > 1))
			return PIV_ERR_MALFORMED;
		c->info = t->len == 1 ? t->val[0] : 0;
		break;
	case 0xFE:
		return t->len == 0 ? PIV_OK : PIV_ERR_MALFORMED;
	default:
		return PIV_ERR_MALFORMED;
	}
	return PIV_OK;
}

/* gunzip into a fresh buffer of at most PIV_CERT_MAX bytes; no trailing data. */
static int
gunzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uint8_t *buf;
	int rc = PIV_ERR_MALFORMED, zrc;

	*out = NULL;
	memset(&zs, 0, sizeof(zs));
	if ((buf = malloc(PIV_CERT_MAX)) == NULL)
		return PIV_ERR_NOMEM;
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return PIV_ERR_CRYPTO;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)inlen;
	zs.next_out = buf;
	zs.avail_out = PIV_CERT_MAX;
	zrc = inflate(&zs, Z_FINISH);
	if (zrc == Z_STREAM_END && zs.avail_in == 0) {
		*out = buf;
		*outlen = zs.total_out;
		buf = NULL;
		rc = PIV_OK;
	} else if (zrc == Z_BUF_ERROR && zs.avail_out == 0) {
		rc = PIV_ERR_TOOBIG;
	}
	inflateEnd(&zs);
	free(buf);
	return rc;
}

static int
gzip(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uint8_t *buf = NULL;
	size_t cap;
	int rc = PIV_ERR_CRYPTO;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return PIV_ERR_CRYPTO;
	cap = deflateBound(&zs, (uLong)inlen);
	if ((buf = malloc(cap)) == NULL) {
		rc = PIV_ERR_NOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)inlen;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		goto out;
	*out = buf;
	*outlen = zs.total_out;
	buf = NULL;
	rc = PIV_OK;
out:
	deflateEnd(&zs);
	free(buf);
	return rc;
}

int
piv_der_to_x509(const uint8_t *der, size_t len, X509 **cert)
{
	const uint8_t *p = der;
	X509 *x;

	if (len > PIV_CERT_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return PIV_ERR_MALFORMED;
	if (p != der + len) {
		X509_free(x);
		return PIV_ERR_MALFORMED;
	}
	*cert = x;
	return PIV_OK;
}

int
piv_certobj_parse(const uint8_t *data, size_t len, X509 **cert)
{
	struct certobj c = { NULL, 0, 0, 0 };
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc;

	if (cert == NULL)
		return PIV_ERR_INVALID;
	*cert = NULL;
	if ((rc = each_tlv(data, len, certobj_field, &c)) != PIV_OK)
		goto out;
	rc = PIV_ERR_MALFORMED;
	if (!c.have_cert || c.cert_len == 0)
		goto out;
	if (c.info == 1) {
		if ((rc = gunzip(c.cert, c.cert_len, &plain, &plain_len)) != PIV_OK)
			goto out;
		rc = piv_der_to_x509(plain, plain_len, cert);
	} else {
		rc = piv_der_to_x509(c.cert, c.cert_len, cert);
	}
out:
	free(plain);
	return rc;
}

int
piv_certobj_build(X509 *cert, int compress, uint8_t **obj, size_t *len)
{
	uint8_t *der = NULL, *z = NULL, *mem = NULL;
	const uint8_t *body;
	size_t body_len, zlen = 0, cap;
	struct buf_writer w;
	int der_len, rc = PIV_ERR_INVALID;

	if (obj == NULL || len == NULL)
		return PIV_ERR_INVALID;
	*obj = NULL;
	*len = 0;
	if (cert == NULL || (der_len = i2d_X509(cert, &der)) <= 0)
		goto out;
	body = der;
	body_len = (size_t)der_len;
	if (compress) {
		if ((rc = gzip(der, body_len, &z, &zlen)) != PIV_OK)
			goto out;
		body = z;
		body_len = zlen;
	}
	cap = tlv_size(0x70, body_len) + 3 + 2;
	rc = PIV_ERR_TOOBIG;
	if (cap > PIV_OBJECT_MAX)
		goto out;
	rc = PIV_ERR_NOMEM;
	if ((mem = malloc(cap)) == NULL)
		goto out;
	buf_writer_init(&w, mem, cap);
	tlv_put(&w, 0x70, body, body_len);
	tlv_put(&w, 0x71, compress ? "\x01" : "\x00", 1);
	tlv_put(&w, 0xFE, NULL, 0);
	rc = put_done(&w, mem, obj, len);
out:
	OPENSSL_free(der);
	free(z);
	return rc;
}

/* ---- discovery, key history, CCC, printed information ------------------ */

static int
discovery_field(void *arg, const struct tlv *t)
{
	struct piv_discovery *d = arg;

	switch (t->tag) {
	case 0x4F:
		if (t->len == 0 || t->len > sizeof(d->aid))
			return PIV_ERR_MALFORMED;
		memcpy(d->aid, t->val, t->len);
		d->aid_len = t->len;
		break;
	case 0x5F2F:
		if (t->len != 2)
			return PIV_ERR_MALFORMED;
		d->pin_policy = (uint16_t)(t->val[0] << 8 | t->val[1]);
		break;
	default:
		break;
	}
	return PIV_OK;
}

static int
discovery_complete(const void *arg)
{
	const struct piv_discovery *d = arg;

	return d->aid_len != 0;
}

int
piv_discovery_parse(const uint8_t *data, size_t len, struct piv_discovery *out)
{
	return parse_obj(data, len, out, sizeof(*out), discovery_field,
	    discovery_complete);
}

static int
keyhist_field(void *arg, const struct tlv *t)
{
	struct piv_keyhist *k = arg;

	switch (t->tag) {
	case 0xC1:
	case 0xC2:
		if (t->len != 1 || t->val[0] > 20)
			return PIV_ERR_MALFORMED;
		*(t->tag == 0xC1 ? &k->on_card : &k->off_card) = t->val[0];
		break;
	case 0xF3:
		if (t->len >= sizeof(k->url) || memchr(t->val, 0, t->len) != NULL)
			return PIV_ERR_MALFORMED;
		memcpy(k->url, t->val, t->len);
		k->url[t->len] = 0;
		break;
	case 0xFE:
		return t->len == 0 ? PIV_OK : PIV_ERR_MALFORMED;
	default:
		return PIV_ERR_MALFORMED;
	}
	return PIV_OK;
}

static int
keyhist_complete(const void *arg)
{
	const struct piv_keyhist *k = arg;

	/* off-card certs need a URL (SP 800-73-4 3.3.2) */
	return k->off_card == 0 || k->url[0] != 0;
}

int
piv_keyhist_parse(const uint8_t *data, size_t len, struct piv_keyhist *out)
{
	return parse_obj(data, len, out, sizeof(*out), keyhist_field,
	    keyhist_complete);
}

int
piv_keyhist_build(const struct piv_keyhist *k, uint8_t **obj, size_t *len)
{
	struct buf_writer w;
	uint8_t *mem;
	size_t ulen;

	if (obj == NULL || len == NULL)
		return PIV_ERR_INVALID;
	*obj = NULL;
	*len = 0;
	if (k == NULL || k->on_card > 20 || k->off_card > 20 ||
	    (ulen = strnlen(k->url, sizeof(k->url))) == sizeof(k->url) ||
	    (k->off_card > 0 && ulen == 0))
		return PIV_ERR_INVALID;
	if ((mem = malloc(256)) == NULL)
		return PIV_ERR_NOMEM;
	buf_writer_init(&w, mem, 256);
	tlv_put(&w, 0xC1, &k->on_card, 1);
	tlv_put(&w, 0xC2, &k->off_card, 1);
	if (ulen > 0)
		tlv_put(&w, 0xF3, k->url, ulen);
	tlv_put(&w, 0xFE, NULL, 0);
	return put_done(&w, mem, obj, len);
}

static int
ccc_field(void *arg, const struct tlv *t)
{
	struct piv_ccc *c = arg;

	if (t->tag == 0xF0) {
		if (t->len == 0 || t->len > sizeof(c->card_id))
			return PIV_ERR_MALFORMED;
		memcpy(c->card_id, t->val, t->len);
		c->card_id_len = t->len;
	} else if (t->tag == 0xFE && t->len != 0) {
		return PIV_ERR_MALFORMED;
	}
	return PIV_OK;
}

static int
ccc_complete(const void *arg)
{
	const struct piv_ccc *c = arg;

	return c->card_id_len != 0;
}

int
piv_ccc_parse(const uint8_t *data, size_t len, struct piv_ccc *out)
{
	return parse_obj(data, len, out, sizeof(*out), ccc_field, ccc_complete);
}

int
piv_ccc_build(uint8_t **obj, size_t *len)
{
	/* Card identifier: GSC-RID A0 00 00 01 16, manufacturer FF, type 02 (JavaCard-like), 14 random. */
	static const uint8_t prefix[7] = { 0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02 };
	static const uint8_t tail[] = { 0xF1, 0x01, 0x21, 0xF2, 0x01, 0x21, 0xF3, 0x00,
		0xF4, 0x01, 0x00, 0xF5, 0x01, 0x10, 0xF6, 0x00, 0xF7, 0x00, 0xFA, 0x00,
		0xFB, 0x00, 0xFC, 0x00, 0xFD, 0x00, 0xFE, 0x00 };
	uint8_t id[21];
	struct buf_writer w;
	uint8_t *mem;

	if (obj == NULL || len == NULL)
		return PIV_ERR_INVALID;
	*obj = NULL;
	*len = 0;
	memcpy(id, prefix, sizeof(prefix));
	if (RAND_bytes(id + 7, 14) != 1)
		return PIV_ERR_CRYPTO;
	if ((mem = malloc(64)) == NULL)
		return PIV_ERR_NOMEM;
	buf_writer_init(&w, mem, 64);
	tlv_put(&w, 0xF0, id, sizeof(id));
	buf_put_bytes(&w, tail, sizeof(tail));
	return put_done(&w, mem, obj, len);
}

static int
copy_str(char *dst, size_t cap, const struct tlv *t)
{
	if (t->len >= cap || memchr(t->val, 0, t->len) != NULL)
		return PIV_ERR_MALFORMED;
	memcpy(dst, t->val, t->len);
	dst[t->len] = 0;
	return PIV_OK;
}

static int
printed_field(void *arg, const struct tlv *t)
{
	struct piv_printed *p = arg;

	switch (t->tag) {
	case 0x01: return copy_str(p->name, sizeof(p->name), t);
	case 0x02: return copy_str(p->affiliation, sizeof(p->affiliation), t);
	case 0x04: return copy_str(p->expiry, sizeof(p->expiry), t);
	case 0x05: return copy_str(p->serial, sizeof(p->serial), t);
	case 0x06: return copy_str(p->issuer, sizeof(p->issuer), t);
	case 0x07: return copy_str(p->org1, sizeof(p->org1), t);
	case 0x08: return copy_str(p->org2, sizeof(p->org2), t);
	case 0xFE: return t->len == 0 ? PIV_OK : PIV_ERR_MALFORMED;
	default: return PIV_OK;
	}
}

int
piv_printed_parse(const uint8_t *data, size_t len, struct piv_printed *out)
{
	return parse_obj(data, len, out, sizeof(*out), printed_field, NULL);
}

int
piv_printed_build(const struct piv_printed *p, uint8_t **obj, size_t *len)
{
	const char *f[7];
	static const uint8_t tags[7] = { 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08 };
	struct buf_writer w;
	uint8_t *mem;
	size_t i, n;

	if (obj == NULL || len == NULL || p == NULL)
		return PIV_ERR_INVALID;
	*obj = NULL;
	*len = 0;
	f[0] = p->name; f[1] = p->affiliation; f[2] = p->expiry; f[3] = p->serial;
	f[4] = p->issuer; f[5] = p->org1; f[6] = p->org2;
	if ((mem = malloc(512)) == NULL)
		return PIV_ERR_NOMEM;
	buf_writer_init(&w, mem, 512);
	for (i = 0; i < 7; i++)
		if ((n = strlen(f[i])) > 0)
			tlv_put(&w, tags[i], f[i], n);
	tlv_put(&w, 0xFE, NULL, 0);
	return put_done(&w, mem, obj, len);
}

/* ---- public keys and metadata ------------------------------------------ */

static int
rsa_from_ne(const struct tlv *n, const struct tlv *e, int bits, EVP_PKEY **pub)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *pc = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	int rc = PIV_ERR_MALFORMED;

	if ((bn = BN_bin2bn(n->val, (int)n->len, NULL)) == NULL ||
	    (be = BN_bin2bn(e->val, (int)e->len, NULL)) == NULL)
		goto out;
	if (BN_num_bits(bn) != bits || BN_is_zero(be) || BN_num_bits(be) > 64 ||
	    !BN_is_odd(bn))
		goto out;
	rc = PIV_ERR_CRYPTO;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, pub, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	rc = PIV_OK;
out:
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return rc;
}

static int
ec_from_point(const struct tlv *pt, const char *group, size_t plen, EVP_PKEY **pub)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pc = NULL, *chk = NULL;
	int rc = PIV_ERR_MALFORMED;

	if (pt->len != plen || pt->val[0] != 0x04)
		return PIV_ERR_MALFORMED;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)(uintptr_t)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)(uintptr_t)pt->val, pt->len);
	params[2] = OSSL_PARAM_construct_end();
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) <= 0 ||
	    EVP_PKEY_fromdata(pc, pub, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	/* A point off the curve is a hostile or broken card. */
	if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, *pub, NULL)) == NULL ||
	    EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		goto out;
	}
	rc = PIV_OK;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(pc);
	return rc;
}

int
piv_pubkey_from_tlvs(int alg, const uint8_t *data, size_t len, EVP_PKEY **pub)
{
	struct tlv n, e, pt;

	*pub = NULL;
	switch (alg) {
	case PIV_ALG_RSA1024:
	case PIV_ALG_RSA2048:
	case PIV_ALG_RSA3072:
	case PIV_ALG_RSA4096:
		if (tlv_find(data, len, 0x81, &n) != TLV_OK ||
		    tlv_find(data, len, 0x82, &e) != TLV_OK)
			return PIV_ERR_MALFORMED;
		return rsa_from_ne(&n, &e, piv_alg_bits(alg), pub);
	case PIV_ALG_ECCP256:
	case PIV_ALG_ECCP384:
		if (tlv_find(data, len, 0x86, &pt) != TLV_OK)
			return PIV_ERR_MALFORMED;
		return ec_from_point(&pt, alg == PIV_ALG_ECCP256 ? "prime256v1" :
		    "secp384r1", alg == PIV_ALG_ECCP256 ? 65 : 97, pub);
	default:
		return PIV_ERR_NOT_SUPPORTED;
	}
}

int
piv_pubkey_parse(int alg, const uint8_t *data, size_t len, EVP_PKEY **pub)
{
	struct tlv t;

	if (pub == NULL)
		return PIV_ERR_INVALID;
	*pub = NULL;
	if (tlv_unwrap(data, len, 0x7F49, &t) != TLV_OK)
		return PIV_ERR_MALFORMED;
	return piv_pubkey_from_tlvs(alg, t.val, t.len, pub);
}

static int
meta_byte(const struct tlv *t, int *v)
{
	if (t->len != 1)
		return PIV_ERR_MALFORMED;
	*v = t->val[0];
	return PIV_OK;
}

static int
meta_pair(const struct tlv *t, int *a, int *b)
{
	if (t->len != 2)
		return PIV_ERR_MALFORMED;
	*a = t->val[0];
	*b = t->val[1];
	return PIV_OK;
}

static int
meta_field(void *arg, const struct tlv *t)
{
	struct piv_metadata *m = arg;

	switch (t->tag) {
	case 0x01: return meta_byte(t, &m->alg);
	case 0x02: return meta_pair(t, &m->pin_policy, &m->touch_policy);
	case 0x03: return meta_byte(t, &m->origin);
	case 0x05: return meta_byte(t, &m->is_default);
	case 0x06: return meta_pair(t, &m->retries_total, &m->retries_left);
	default: return PIV_OK;	/* 04 handled once the algorithm is known */
	}
}

void
piv_metadata_clear(struct piv_metadata *m)
{
	if (m == NULL)
		return;
	EVP_PKEY_free(m->pub);
	memset(m, 0, sizeof(*m));
	m->alg = m->pin_policy = m->touch_policy = m->origin = -1;
	m->is_default = m->retries_total = m->retries_left = -1;
}

int
piv_metadata_parse(const uint8_t *data, size_t len, struct piv_metadata *out)
{
	struct tlv pk;
	int rc;

	if (out == NULL)
		return PIV_ERR_INVALID;
	out->pub = NULL;
	piv_metadata_clear(out);
	if ((rc = each_tlv(data, len, meta_field, out)) != PIV_OK)
		goto out;
	if (tlv_find(data, len, 0x04, &pk) == TLV_OK) {
		if (out->alg < 0) {
			rc = PIV_ERR_MALFORMED;
			goto out;
		}
		rc = piv_pubkey_from_tlvs(out->alg, pk.val, pk.len, &out->pub);
	}
out:
	if (rc != PIV_OK)
		piv_metadata_clear(out);
	return rc;
}

/* ---- tables ------------------------------------------------------------ */

uint32_t
piv_slot_object(int slot)
{
	switch (slot) {
	case PIV_SLOT_AUTH: return 0x5FC105;
	case PIV_SLOT_SIGN: return 0x5FC10A;
	case PIV_SLOT_KEYMGMT: return 0x5FC10B;
	case PIV_SLOT_CARDAUTH: return 0x5FC101;
	case PIV_SLOT_ATTEST: return 0x5FFF01;
	default:
		if (slot >= PIV_SLOT_RETIRED1 && slot <= PIV_SLOT_RETIRED20)
			return 0x5FC10Du + (uint32_t)(slot - PIV_SLOT_RETIRED1);
		return 0;
	}
}

int
piv_alg_bits(int alg)
{
	switch (alg) {
	case PIV_ALG_RSA1024: return 1024;
	case PIV_ALG_RSA2048: return 2048;
	case PIV_ALG_RSA3072: return 3072;
	case PIV_ALG_RSA4096: return 4096;
	case PIV_ALG_ECCP256: return 256;
	case PIV_ALG_ECCP384: return 384;
	default: return 0;
	}
}

const char *
piv_alg_name(int alg)
{
	switch (alg) {
	case PIV_ALG_3DES: return "3DES";
	case PIV_ALG_AES128: return "AES-128";
	case PIV_ALG_AES192: return "AES-192";
	case PIV_ALG_AES256: return "AES-256";
	case PIV_ALG_RSA1024: return "RSA-1024";
	case PIV_ALG_RSA2048: return "RSA-2048";
	case PIV_ALG_RSA3072: return "RSA-3072";
	case PIV_ALG_RSA4096: return "RSA-4096";
	case PIV_ALG_ECCP256: return "ECCP256";
	case PIV_ALG_ECCP384: return "ECCP384";
	default: return "unknown";
	}
}
