/*
 * notify: the notice journal (LMDB) and its record codec. See notify.h.
 *
 *   notice v1  1 'N' key kind:u8 state:u8 days:u16 attempts:u32
 *              smtp_code:u32 expires:u64 created:u64 updated:u64
 *              next_try:u64 card_serial cert_serial holder holder_name to cc
 *              error
 *
 * Text is u16 length + bytes (no NUL, at most the field's limit); integers
 * big-endian. The decoder refuses truncation, trailing bytes, over-long
 * fields, embedded NULs and out-of-range enums; what decodes re-encodes to
 * the same bytes (fuzz_ntf_rec).
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define V_NOTICE 1
#define DB_NOTICES "ntf_notices"
#define DB_STATE "ntf_state"

struct ntf {
	MDB_env *env;
	MDB_dbi notices, state;
};

const char *
ntf_strerror(int err)
{
	switch (err) {
	case NTF_OK:		return "success";
	case NTF_ERR_ARG:	return "bad argument";
	case NTF_ERR_NOMEM:	return "out of memory";
	case NTF_ERR_DB:	return "notice journal database error";
	case NTF_ERR_FORMAT:	return "notice record malformed";
	case NTF_ERR_EXISTS:	return "notice already journaled";
	case NTF_ERR_NOTFOUND:	return "no such notice";
	case NTF_ERR_VERSION:	return "notice record from a newer version";
	case NTF_ERR_FULL:	return "notice journal full (map or disk)";
	case NTF_ERR_TRANSIENT:	return "mail not sent, will retry";
	case NTF_ERR_PERMANENT:	return "mail refused";
	default:		return "unknown notice error";
	}
}

const char *
ntf_errname(int err)
{
	switch (err) {
	case NTF_OK:		return "NTF_OK";
	case NTF_ERR_ARG:	return "NTF_ERR_ARG";
	case NTF_ERR_NOMEM:	return "NTF_ERR_NOMEM";
	case NTF_ERR_DB:	return "NTF_ERR_DB";
	case NTF_ERR_FORMAT:	return "NTF_ERR_FORMAT";
	case NTF_ERR_EXISTS:	return "NTF_ERR_EXISTS";
	case NTF_ERR_NOTFOUND:	return "NTF_ERR_NOTFOUND";
	case NTF_ERR_VERSION:	return "NTF_ERR_VERSION";
	case NTF_ERR_FULL:	return "NTF_ERR_FULL";
	case NTF_ERR_TRANSIENT:	return "NTF_ERR_TRANSIENT";
	case NTF_ERR_PERMANENT:	return "NTF_ERR_PERMANENT";
	default:		return "NTF_ERR_UNKNOWN";
	}
}

const char *
ntf_state_name(int state)
{
	static const char *const names[NTF_NSTATES] = {
		"pending", "sent", "failed",
	};

	return state >= 0 && state < NTF_NSTATES ? names[state] : "unknown";
}

void
ntf_cfg_defaults(struct ntf_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->from, sizeof(c->from), "cardmgr@localhost");
	c->days[0] = 30;
	c->days[1] = 7;
	c->days[2] = 1;
	c->ndays = 3;
	c->retry_s = 300;
	c->timeout_s = 30;
}

int
ntf_addr_ok(const char *a)
{
	size_t n, i, at = 0, nat = 0;

	if (a == NULL || (n = strnlen(a, NTF_ADDR_MAX + 1)) == 0 ||
	    n > NTF_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\"\\", c) != NULL)
			return 0;
		if (c == '@') {
			at = i;
			nat++;
		}
	}
	return nat == 1 && at > 0 && at + 1 < n;
}

int
ntf_url_ok(const char *url)
{
	const char *host, *end;
	size_t n, i;

	if (url == NULL || (n = strnlen(url, NTF_URL_MAX + 1)) > NTF_URL_MAX)
		return 0;
	if (strncmp(url, "smtp://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "smtps://", 8) == 0)
		host = url + 8;
	else
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return 0;
	end = host + strcspn(host, "/");
	/* No user or password in the URL: the relay is reached without. */
	if (end == host || memchr(host, '@', (size_t)(end - host)) != NULL)
		return 0;
	return 1;
}

void
ntf_key_card(char *key, const char *guid_hex, uint64_t expires, unsigned days)
{
	/* The expiry is part of the event: a renewed card is a new one. */
	snprintf(key, NTF_KEY_MAX + 1, "card:%.32s:%llu:%u", guid_hex,
	    (unsigned long long)expires, days);
}

void
ntf_key_cert(char *key, const char *cert_serial, unsigned days)
{
	snprintf(key, NTF_KEY_MAX + 1, "cert:%.64s:%u", cert_serial, days);
}

unsigned
ntf_threshold(const struct ntf_cfg *cfg, uint64_t now, uint64_t expires)
{
	unsigned i, best = 0;

	if (expires <= now)
		return 0;
	for (i = 0; i < cfg->ndays; i++)
		if (expires - now <= (uint64_t)cfg->days[i] * 86400 &&
		    (best == 0 || cfg->days[i] < best))
			best = cfg->days[i];
	return best;
}

/* ---- record codec */

static int
put_text(struct buf_writer *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return -1;
	buf_put_u16be(w, (uint16_t)n);
	buf_put_bytes(w, s, n);
	return 0;
}

static int
get_text(struct buf_reader *r, char *dst, size_t max)
{
	const uint8_t *p;
	uint16_t n;

	if (buf_get_u16be(r, &n) != BUF_OK || n > max ||
	    buf_get_ptr(r, n, &p) != BUF_OK || memchr(p, 0, n) != NULL)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static int
notice_ok(const struct ntf_notice *n)
{
	return n->key[0] != '\0' && (n->kind == NTF_KIND_CARD ||
	    n->kind == NTF_KIND_CERT) && n->state < NTF_NSTATES;
}

/* The text fields in record order, with their limits. */
#define TEXTS(n) { \
	{ (n)->card_serial, NTF_TEXT_MAX }, { (n)->cert_serial, NTF_TEXT_MAX }, \
	{ (n)->holder, NTF_TEXT_MAX }, { (n)->holder_name, NTF_TEXT_MAX }, \
	{ (n)->to, NTF_ADDR_MAX }, { (n)->cc, NTF_ADDR_MAX }, \
	{ (n)->error, NTF_ERROR_MAX } }

int
ntf_rec_encode(const struct ntf_notice *n, uint8_t **out, size_t *len)
{
	struct { const char *s; size_t max; } t[] = TEXTS(n);
	size_t cap = sizeof(*n) + 64, i;
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (n == NULL || !notice_ok(n))
		return NTF_ERR_ARG;
	if ((mem = malloc(cap)) == NULL)
		return NTF_ERR_NOMEM;
	buf_writer_init(&w, mem, cap);
	buf_put_u8(&w, V_NOTICE);
	buf_put_u8(&w, 'N');
	if (put_text(&w, n->key, NTF_KEY_MAX) != 0)
		goto bad;
	buf_put_u8(&w, n->kind);
	buf_put_u8(&w, n->state);
	buf_put_u16be(&w, n->days);
	buf_put_u32be(&w, n->attempts);
	buf_put_u32be(&w, n->smtp_code);
	buf_put_u64be(&w, n->expires);
	buf_put_u64be(&w, n->created);
	buf_put_u64be(&w, n->updated);
	buf_put_u64be(&w, n->next_try);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (put_text(&w, t[i].s, t[i].max) != 0)
			goto bad;
	if (buf_writer_error(&w) != BUF_OK)
		goto bad;
	*out = mem;
	*len = w.len;
	return NTF_OK;
bad:
	free(mem);
	return NTF_ERR_ARG;
}

int
ntf_rec_decode(const uint8_t *rec, size_t len, struct ntf_notice *n)
{
	struct { char *s; size_t max; } t[] = TEXTS(n);
	struct buf_reader r;
	uint8_t v, m;
	size_t i;
	int rc = NTF_ERR_FORMAT;

	memset(n, 0, sizeof(*n));
	buf_reader_init(&r, rec, len);
	if (buf_get_u8(&r, &v) != BUF_OK || buf_get_u8(&r, &m) != BUF_OK ||
	    m != 'N')
		goto out;
	if (v != V_NOTICE) {
		rc = v > V_NOTICE ? NTF_ERR_VERSION : NTF_ERR_FORMAT;
		goto out;
	}
	if (get_text(&r, n->key, NTF_KEY_MAX) != 0 ||
	    buf_get_u8(&r, &n->kind) != BUF_OK ||
	    buf_get_u8(&r, &n->state) != BUF_OK ||
	    buf_get_u16be(&r, &n->days) != BUF_OK ||
	    buf_get_u32be(&r, &n->attempts) != BUF_OK ||
	    buf_get_u32be(&r, &n->smtp_code) != BUF_OK ||
	    buf_get_u64be(&r, &n->expires) != 0 || buf_get_u64be(&r, &n->created) != 0 ||
	    buf_get_u64be(&r, &n->updated) != 0 || buf_get_u64be(&r, &n->next_try) != 0)
		goto out;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (get_text(&r, t[i].s, t[i].max) != 0)
			goto out;
	if (buf_expect_end(&r) == BUF_OK && notice_ok(n))
		rc = NTF_OK;
out:
	if (rc != NTF_OK)
		memset(n, 0, sizeof(*n));
	return rc;
}

/* ---- journal */

static int
mdb_err(int mrc)
{
	switch (mrc) {
	case 0:			return NTF_OK;
	case MDB_NOTFOUND:	return NTF_ERR_NOTFOUND;
	case MDB_KEYEXIST:	return NTF_ERR_EXISTS;
	case MDB_MAP_FULL:	return NTF_ERR_FULL;
	default:		return NTF_ERR_DB;
	}
}

int
ntf_open(MDB_env *env, struct ntf **out)
{
	struct ntf *ntf;
	MDB_txn *txn;
	int mrc;

	*out = NULL;
	if (env == NULL)
		return NTF_ERR_ARG;
	if ((ntf = calloc(1, sizeof(*ntf))) == NULL)
		return NTF_ERR_NOMEM;
	ntf->env = env;
	if ((mrc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		free(ntf);
		return mdb_err(mrc);
	}
	if ((mrc = mdb_dbi_open(txn, DB_NOTICES, MDB_CREATE, &ntf->notices)) != 0 ||
	    (mrc = mdb_dbi_open(txn, DB_STATE, MDB_CREATE | MDB_DUPSORT,
	    &ntf->state)) != 0) {
		mdb_txn_abort(txn);
		free(ntf);
		return mdb_err(mrc);
	}
	if ((mrc = mdb_txn_commit(txn)) != 0) {
		free(ntf);
		return mdb_err(mrc);
	}
	*out = ntf;
	return NTF_OK;
}

void
ntf_close(struct ntf *ntf)
{
	free(ntf);
}

static int
key_ok(const char *key)
{
	size_t n;

	return key != NULL && (n = strnlen(key, NTF_KEY_MAX + 1)) > 0 &&
	    n <= NTF_KEY_MAX;
}

/* Write n; move its state index entry from old_state (-1: none). */
static int
store(struct ntf *ntf, MDB_txn *txn, const struct ntf_notice *n,
    int old_state, unsigned flags)
{
	MDB_val k = { strlen(n->key), (void *)n->key }, v, sk, sv;
	uint8_t *rec = NULL, st;
	size_t len;
	int rc, mrc;

	if ((rc = ntf_rec_encode(n, &rec, &len)) != NTF_OK)
		return rc;
	v.mv_size = len;
	v.mv_data = rec;
	mrc = mdb_put(txn, ntf->notices, &k, &v, flags);
	free(rec);
	if (mrc != 0 || old_state == n->state)
		return mdb_err(mrc);
	sk.mv_size = 1;
	sk.mv_data = &st;
	sv = k;
	if (old_state >= 0) {
		st = (uint8_t)old_state;
		if ((mrc = mdb_del(txn, ntf->state, &sk, &sv)) != 0 &&
		    mrc != MDB_NOTFOUND)
			return mdb_err(mrc);
	}
	st = n->state;
	return mdb_err(mdb_put(txn, ntf->state, &sk, &sv, 0));
}

int
ntf_add(struct ntf *ntf, MDB_txn *txn, const struct ntf_notice *n)
{
	if (ntf == NULL || txn == NULL || n == NULL || !key_ok(n->key))
		return NTF_ERR_ARG;
	/* MDB_NOOVERWRITE: the event's key is what makes "never twice". */
	return store(ntf, txn, n, -1, MDB_NOOVERWRITE);
}

int
ntf_get(struct ntf *ntf, MDB_txn *txn, const char *key, struct ntf_notice *n)
{
	MDB_val k, v;
	int rc;

	memset(n, 0, sizeof(*n));
	if (ntf == NULL || txn == NULL || !key_ok(key))
		return NTF_ERR_ARG;
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	if ((rc = mdb_err(mdb_get(txn, ntf->notices, &k, &v))) != NTF_OK ||
	    (rc = ntf_rec_decode(v.mv_data, v.mv_size, n)) != NTF_OK)
		return rc;
	if (strcmp(n->key, key) != 0) {
		memset(n, 0, sizeof(*n));
		return NTF_ERR_FORMAT;
	}
	return NTF_OK;
}

int
ntf_put(struct ntf *ntf, MDB_txn *txn, const struct ntf_notice *n)
{
	struct ntf_notice *old;
	int rc;

	if (ntf == NULL || txn == NULL || n == NULL || !key_ok(n->key))
		return NTF_ERR_ARG;
	if ((old = malloc(sizeof(*old))) == NULL)
		return NTF_ERR_NOMEM;
	if ((rc = ntf_get(ntf, txn, n->key, old)) == NTF_OK)
		rc = store(ntf, txn, n, old->state, 0);
	free(old);
	return rc;
}

int
ntf_foreach(struct ntf *ntf, MDB_txn *txn, int state,
    int (*fn)(const struct ntf_notice *n, void *arg), void *arg)
{
	MDB_cursor *cur = NULL;
	struct ntf_notice *n;
	char key[NTF_KEY_MAX + 1];
	uint8_t st = (uint8_t)state;
	MDB_val k = { 1, &st }, v;
	int mrc, rc = NTF_OK;

	if (ntf == NULL || txn == NULL || fn == NULL || state < 0 ||
	    state >= NTF_NSTATES)
		return NTF_ERR_ARG;
	if ((n = malloc(sizeof(*n))) == NULL)
		return NTF_ERR_NOMEM;
	if ((mrc = mdb_cursor_open(txn, ntf->state, &cur)) != 0) {
		free(n);
		return mdb_err(mrc);
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		if (v.mv_size == 0 || v.mv_size > NTF_KEY_MAX) {
			rc = NTF_ERR_FORMAT;
			break;
		}
		memcpy(key, v.mv_data, v.mv_size);
		key[v.mv_size] = '\0';
		if ((rc = ntf_get(ntf, txn, key, n)) != NTF_OK ||
		    n->state != state) {
			/* an index entry leading nowhere, or elsewhere */
			rc = rc == NTF_OK || rc == NTF_ERR_NOTFOUND ?
			    NTF_ERR_FORMAT : rc;
			break;
		}
		if ((rc = fn(n, arg)) != 0)
			break;
	}
	if (rc == NTF_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = mdb_err(mrc);
	mdb_cursor_close(cur);
	free(n);
	return rc;
}

int
ntf_count(struct ntf *ntf, MDB_txn *txn, uint64_t counts[NTF_NSTATES])
{
	MDB_cursor *cur = NULL;
	uint8_t st;
	MDB_val k, v;
	size_t n;
	int i, mrc, rc = NTF_OK;

	memset(counts, 0, NTF_NSTATES * sizeof(counts[0]));
	if (ntf == NULL || txn == NULL)
		return NTF_ERR_ARG;
	if ((mrc = mdb_cursor_open(txn, ntf->state, &cur)) != 0)
		return mdb_err(mrc);
	for (i = 0; i < NTF_NSTATES && rc == NTF_OK; i++) {
		st = (uint8_t)i;
		k.mv_size = 1;
		k.mv_data = &st;
		mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
		if (mrc == 0 && (mrc = mdb_cursor_count(cur, &n)) == 0)
			counts[i] = n;
		if (mrc != 0 && mrc != MDB_NOTFOUND)
			rc = mdb_err(mrc);
	}
	mdb_cursor_close(cur);
	return rc;
}
