/*
 * vc_store: the card's state file. A sequence of BER-TLVs in a fixed order,
 * parsed with the bounded reader and rejected as a whole on any surprise:
 *
 *   40 "VCARD1"                magic and format version
 *   41 serial(4)
 *   42 PIN(8)  43 PUK(8)       padded with FF as on the wire
 *   44 pin_total pin_left puk_total puk_left
 *   45 alg touch key           management key
 *   60 { 01 slot, 02 alg pin touch origin, 03 DER private key }   per key
 *   70 { 01 tag(1-3), 02 value }                                  per object
 *
 * Writes are atomic: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. A pulled card never leaves half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tlv.h"
#include "vc_crypto.h"
#include "vc_priv.h"

#define STATE_MAGIC	"VCARD1"
#define STATE_FILE_MAX	(1u << 20)
#define KEY_DER_MAX	2600	/* RSA-3072 PKCS#1 is about 1770 bytes */

static void
put_key(struct buf_writer *w, uint8_t slot, const struct vc_key *k,
    const uint8_t *der, size_t len)
{
	const uint8_t attrs[4] = { k->alg, k->pin_policy, k->touch_policy, k->origin };

	tlv_put_header(w, 0x60, tlv_size(0x01, 1) + tlv_size(0x02, 4) +
	    tlv_size(0x03, len));
	tlv_put(w, 0x01, &slot, 1);
	tlv_put(w, 0x02, attrs, sizeof(attrs));
	tlv_put(w, 0x03, der, len);
}

static void
put_obj(struct buf_writer *w, const struct vc_obj *o)
{
	uint8_t tag[3] = { (uint8_t)(o->tag >> 16), (uint8_t)(o->tag >> 8),
	    (uint8_t)o->tag };
	size_t tl = o->tag > 0xFFFF ? 3 : o->tag > 0xFF ? 2 : 1;

	tlv_put_header(w, 0x70, tlv_size(0x01, tl) + tlv_size(0x02, o->len));
	tlv_put(w, 0x01, tag + 3 - tl, tl);
	tlv_put(w, 0x02, o->data, o->len);
}

static int
put_keys(struct buf_writer *w, const struct vc_state *st)
{
	uint8_t *der;
	size_t len;
	int i;

	for (i = 0; i < VC_NSLOTS; i++) {
		if (st->keys[i].alg == 0)
			continue;
		if (vc_crypto_key_to_der(st->keys[i].pkey, &der, &len) != VC_CRYPTO_OK)
			return VC_ERR_CRYPTO;
		put_key(w, vc_slot_ref(i), &st->keys[i], der, len);
		OPENSSL_clear_free(der, len);
	}
	return VC_OK;
}

int
vc_store_write(const struct vc_state *st, uint8_t **data, size_t *len)
{
	uint8_t counters[4] = { st->pin_total, st->pin_left, st->puk_total,
	    st->puk_left }, mgm[2 + 32] = { st->mgm_alg, st->mgm_touch };
	size_t cap = 256 + VC_NSLOTS * KEY_DER_MAX + VC_NOBJS * (VC_OBJ_MAX + 16);
	struct buf_writer w;
	uint8_t *mem;
	int i, rc;

	*data = NULL;
	*len = 0;
	if ((mem = malloc(cap)) == NULL)
		return VC_ERR_NOMEM;
	memcpy(mgm + 2, st->mgm_key, st->mgm_len);
	buf_writer_init(&w, mem, cap);
	tlv_put(&w, 0x40, STATE_MAGIC, strlen(STATE_MAGIC));
	buf_put_bytes(&w, "\x41\x04", 2);
	buf_put_u32be(&w, st->serial);
	tlv_put(&w, 0x42, st->pin, VC_PIN_LEN);
	tlv_put(&w, 0x43, st->puk, VC_PIN_LEN);
	tlv_put(&w, 0x44, counters, sizeof(counters));
	tlv_put(&w, 0x45, mgm, 2 + st->mgm_len);
	OPENSSL_cleanse(mgm, sizeof(mgm));
	rc = put_keys(&w, st);
	for (i = 0; i < VC_NOBJS; i++) {
		if (st->objs[i].tag != 0)
			put_obj(&w, &st->objs[i]);
	}
	if (rc == VC_OK && buf_writer_error(&w) != BUF_OK)
		rc = VC_ERR_NOSPACE;
	if (rc != VC_OK) {
		OPENSSL_clear_free(mem, cap);
		return rc;
	}
	*data = mem;
	*len = w.len;
	return VC_OK;
}

/* The value of the next TLV, which must carry `tag` and exactly `want` bytes (0: any). */
static int
get_fixed(struct buf_reader *r, uint32_t tag, size_t want, struct tlv *t)
{
	if (tlv_expect(r, tag, t) != TLV_OK || (want != 0 && t->len != want))
		return VC_ERR_FORMAT;
	return VC_OK;
}

static int
read_creds(struct vc_state *st, struct buf_reader *r)
{
	struct tlv t;
	size_t keylen;

	if (get_fixed(r, 0x40, strlen(STATE_MAGIC), &t) != VC_OK ||
	    memcmp(t.val, STATE_MAGIC, t.len) != 0 ||
	    get_fixed(r, 0x41, 4, &t) != VC_OK)
		return VC_ERR_FORMAT;
	st->serial = (uint32_t)t.val[0] << 24 | (uint32_t)t.val[1] << 16 |
	    (uint32_t)t.val[2] << 8 | t.val[3];
	if (get_fixed(r, 0x42, VC_PIN_LEN, &t) != VC_OK)
		return VC_ERR_FORMAT;
	memcpy(st->pin, t.val, VC_PIN_LEN);
	if (get_fixed(r, 0x43, VC_PIN_LEN, &t) != VC_OK)
		return VC_ERR_FORMAT;
	memcpy(st->puk, t.val, VC_PIN_LEN);
	if (get_fixed(r, 0x44, 4, &t) != VC_OK || t.val[0] == 0 || t.val[2] == 0 ||
	    t.val[1] > t.val[0] || t.val[3] > t.val[2])
		return VC_ERR_FORMAT;
	st->pin_total = t.val[0], st->pin_left = t.val[1];
	st->puk_total = t.val[2], st->puk_left = t.val[3];
	if (get_fixed(r, 0x45, 0, &t) != VC_OK || t.len < 2 ||
	    vc_crypto_sym_block(t.val[0], &keylen) == 0 || t.len != 2 + keylen ||
	    t.val[1] > 1)
		return VC_ERR_FORMAT;
	st->mgm_alg = t.val[0];
	st->mgm_touch = t.val[1];
	st->mgm_len = keylen;
	memcpy(st->mgm_key, t.val + 2, keylen);
	return VC_OK;
}

static int
read_key(struct vc_state *st, const struct tlv *outer)
{
	struct buf_reader r;
	struct tlv slot, attrs, der;
	struct vc_key *k;
	int idx;

	buf_reader_init(&r, outer->val, outer->len);
	if (get_fixed(&r, 0x01, 1, &slot) != VC_OK ||
	    get_fixed(&r, 0x02, 4, &attrs) != VC_OK ||
	    get_fixed(&r, 0x03, 0, &der) != VC_OK || buf_expect_end(&r) != BUF_OK)
		return VC_ERR_FORMAT;
	if ((idx = vc_slot_index(slot.val[0])) < 0 || st->keys[idx].alg != 0 ||
	    attrs.val[1] < VC_PIN_NEVER || attrs.val[1] > VC_PIN_ALWAYS ||
	    attrs.val[2] < VC_TOUCH_NEVER || attrs.val[2] > VC_TOUCH_CACHED ||
	    attrs.val[3] < VC_ORIGIN_GENERATED || attrs.val[3] > VC_ORIGIN_IMPORTED)
		return VC_ERR_FORMAT;
	k = &st->keys[idx];
	if (vc_crypto_key_from_der(der.val, der.len, &k->pkey) != VC_CRYPTO_OK)
		return VC_ERR_FORMAT;
	if (vc_crypto_key_alg(k->pkey) != attrs.val[0]) {
		vc_key_clear(k);
		return VC_ERR_FORMAT;
	}
	k->alg = attrs.val[0];
	k->pin_policy = attrs.val[1];
	k->touch_policy = attrs.val[2];
	k->origin = attrs.val[3];
	return VC_OK;
}

static int
read_obj(struct vc_state *st, const struct tlv *outer)
{
	struct buf_reader r;
	struct tlv tag, val;
	uint32_t v = 0;
	size_t i;

	buf_reader_init(&r, outer->val, outer->len);
	if (get_fixed(&r, 0x01, 0, &tag) != VC_OK || tag.len == 0 || tag.len > 3 ||
	    get_fixed(&r, 0x02, 0, &val) != VC_OK || buf_expect_end(&r) != BUF_OK ||
	    val.len == 0)
		return VC_ERR_FORMAT;
	for (i = 0; i < tag.len; i++)
		v = v << 8 | tag.val[i];
	if (!vc_obj_tag_valid(v) || vc_obj_find(st, v) != NULL)
		return VC_ERR_FORMAT;
	return vc_obj_set(st, v, val.val, val.len) == SW_OK ? VC_OK : VC_ERR_FORMAT;
}

int
vc_store_read(struct vc_state *st, const uint8_t *data, size_t len)
{
	struct buf_reader r;
	struct tlv t;
	int rc, in_objs = 0;

	/* buf_reader_init(NULL, 0) trips UBSan (NULL + 0); an empty file is "". */
	buf_reader_init(&r, data != NULL ? data : (const uint8_t *)"", len);
	if ((rc = read_creds(st, &r)) != VC_OK)
		goto out;
	/* Keys come before objects; anything else is not a file we wrote. */
	while (buf_left(&r) > 0) {
		rc = VC_ERR_FORMAT;
		if (tlv_next(&r, &t) != TLV_OK)
			goto out;
		if (t.tag == 0x60 && !in_objs)
			rc = read_key(st, &t);
		else if (t.tag == 0x70) {
			in_objs = 1;
			rc = read_obj(st, &t);
		}
		if (rc != VC_OK)
			goto out;
	}
	rc = VC_OK;
out:
	if (rc != VC_OK)
		vc_state_free(st);
	return rc;
}

int
vc_card_serialize(const struct vc_card *c, uint8_t **data, size_t *len)
{
	return vc_store_write(&c->st, data, len);
}

void
vc_card_free_bytes(uint8_t *data, size_t len)
{
	if (data != NULL)
		OPENSSL_clear_free(data, len);
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
fsync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	if (strlen(path) >= sizeof(copy))
		return -1;
	strcpy(copy, path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
vc_card_save(const struct vc_card *c, const char *path)
{
	char tmp[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return VC_ERR_INVALID;
	if ((rc = vc_store_write(&c->st, &data, &len)) != VC_OK)
		return rc;
	rc = VC_ERR_IO;
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto out;
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0 || fsync_dir(path) != 0)
		goto out;
	rc = VC_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != VC_OK)
		(void)unlink(tmp);
	vc_card_free_bytes(data, len);
	return rc;
}

int
vc_card_load(const char *path, struct vc_card **out)
{
	struct stat sb;
	uint8_t *data = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc = VC_ERR_IO;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return VC_ERR_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size > STATE_FILE_MAX)
		goto out;
	if ((data = malloc((size_t)sb.st_size + 1)) == NULL) {
		rc = VC_ERR_NOMEM;
		goto out;
	}
	while ((n = read(fd, data + got, (size_t)sb.st_size + 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0 || got != (size_t)sb.st_size)
		goto out;
	rc = vc_card_load_mem(data, got, out);
out:
	close(fd);
	vc_card_free_bytes(data, got);
	return rc;
}
