/*
 * bench_inv: the inventory (cardmgr/inv) at station scale, against raw LMDB
 * on the same environment, in the same run.
 *
 *   bench_inv -d DIR [-n CARDS] [-k LOOKUPS] [-s SEED]
 *
 * Builds N cards (one holder each, 4 certificates each, expiry dates spread
 * uniformly over the next 3 years) in DIR, which must not hold an
 * inventory yet, then times:
 *   - insertion (bulk, 1000 cards per write transaction; and 1000 more
 *     cards one durable transaction each, the engine's pattern);
 *   - K random lookups by serial, by GUID and by holder, each next to K raw
 *     mdb_get calls of the same cards' records in the database that holds
 *     them under that key (inv_cards; the serial and holder indexes, which
 *     carry the record since schema 5);
 *   - the 30-day expiry report (inv_certs_expiring, an index range scan)
 *     next to a full scan that decodes every certificate record, and next
 *     to the bare index walk (the floor);
 *   - renewal on presentation: a card's requirements list (its record,
 *     its 4 certificates, the employee-like profile below: rnw_inv_list,
 *     what the engine runs when a card is inserted), each in a read
 *     transaction of its own, next to a read transaction with one raw
 *     mdb_get of the card's record; mean, 99th percentile and worst;
 *   - the file size per card.
 * Every lookup and all expiry counts are checked: a bench that found
 * nothing would measure nothing, so it exits 1 instead. Never pass/fail on
 * time: the figures and ratios are printed for a human to judge.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "engine/renew_inv.h"
#include "inv/inv.h"
#include "policy/profile.h"
#include "policy/renew.h"

#define BULK_TXN	1000	/* cards per write transaction while building */
#define SINGLE_N	1000	/* cards inserted one transaction each */
#define CERTS_PER_CARD	4
#define YEAR_S		(365ULL * 86400)
#define WINDOW_S	(30ULL * 86400)
#define DER_LEN		900	/* a PIV certificate with a P-256 key is 600-1200 bytes */
#define REPEAT		3	/* best of: the first pass also warms CPU caches */

static const uint8_t slots[CERTS_PER_CARD] = { 0x9a, 0x9c, 0x9d, 0x9e };

struct bench {
	const char *dir;
	uint64_t n;		/* cards in the bulk build */
	uint64_t k;		/* lookups per measurement */
	uint64_t seed;
	uint64_t now;
	struct inv *inv;
	uint64_t *sample;	/* k card indices, random */
	struct inv_card *card;	/* scratch records (large: keep off the stack) */
	struct inv_cert *cert;
	struct inv_holder *holder;
	uint64_t found;		/* callback counter */
};

/* splitmix64: a bijection on 64 bits, so distinct inputs give distinct keys. */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Card i's keys, derived so that any index can be looked up again. */
static void
card_guid(const struct bench *b, uint64_t i, uint8_t g[INV_GUID_LEN])
{
	uint64_t a = mix(b->seed ^ (i << 1)), c = mix(b->seed ^ (i << 1 | 1));

	memcpy(g, &a, 8);
	memcpy(g + 8, &c, 8);
}

static void
card_serial(uint64_t i, char *s, size_t cap)
{
	snprintf(s, cap, "%010" PRIu64, (uint64_t)1000000000 + i);
}

static void
card_holder(uint64_t i, char *s, size_t cap)
{
	snprintf(s, cap, "E%09" PRIu64, i);
}

static void
cert_serial(const struct bench *b, uint64_t i, unsigned s, char *out, size_t cap)
{
	snprintf(out, cap, "%016" PRIx64, mix(~b->seed ^ (i * CERTS_PER_CARD + s)));
}

static void
fill_holder(const struct bench *b, uint64_t i, struct inv_holder *h)
{
	memset(h, 0, sizeof(*h));
	card_holder(i, h->id, sizeof(h->id));
	snprintf(h->name, sizeof(h->name), "Holder %" PRIu64, i);
	snprintf(h->email, sizeof(h->email), "h%" PRIu64 "@example.com", i);
	snprintf(h->org, sizeof(h->org), "Example");
	h->created = h->updated = b->now;
}

static void
fill_card(const struct bench *b, uint64_t i, struct inv_card *c)
{
	memset(c, 0, sizeof(*c));
	card_guid(b, i, c->guid);
	card_serial(i, c->serial, sizeof(c->serial));
	memcpy(c->atr, "\x3b\xf8\x13\x00\x00\x81\x31\xfe\x15\x59\x75\x62\x69"
	    "\x6b\x65\x79\x34\xd4", 18);
	c->atr_len = 18;
	snprintf(c->model, sizeof(c->model), "YubiKey 5 (PIV 5.4.3)");
	snprintf(c->profile, sizeof(c->profile), "employee");
	c->profile_version = 1;
	c->state = INV_CARD_ACTIVE;
	card_holder(i, c->holder, sizeof(c->holder));
	c->mk_version = 1;
	c->created = c->updated = b->now;
	c->expires = b->now + 5 * YEAR_S;
}

static void
fill_cert(const struct bench *b, uint64_t i, unsigned s, struct inv_cert *x)
{
	memset(x, 0, sizeof(*x));
	cert_serial(b, i, s, x->serial, sizeof(x->serial));
	snprintf(x->issuer, sizeof(x->issuer), "/O=Example/CN=Example Issuing CA 1");
	snprintf(x->subject, sizeof(x->subject),
	    "/O=Example/OU=Staff/CN=Holder %" PRIu64 "/UID=E%09" PRIu64, i, i);
	card_guid(b, i, x->guid);
	x->slot = slots[s];
	x->not_before = b->now;
	/* Uniform over 3 years: ~2.7% of the certificates fall in 30 days. */
	x->not_after = b->now + mix(b->seed + 7 * (i * CERTS_PER_CARD + s)) %
	    (3 * YEAR_S);
	x->der_len = DER_LEN;
	memset(x->der, 0x30 + s, DER_LEN);
	memcpy(x->der + 16, x->serial, strlen(x->serial));
}

static int
put_card(struct bench *b, struct inv_txn *t, uint64_t i)
{
	unsigned s;
	int rc;

	fill_holder(b, i, b->holder);
	if ((rc = inv_holder_put(t, b->holder, INV_PUT_NEW)) != INV_OK)
		return rc;
	fill_card(b, i, b->card);
	if ((rc = inv_card_put(t, b->card, INV_PUT_NEW)) != INV_OK)
		return rc;
	for (s = 0; s < CERTS_PER_CARD; s++) {
		fill_cert(b, i, s, b->cert);
		if ((rc = inv_cert_put(t, b->cert, INV_PUT_NEW)) != INV_OK)
			return rc;
	}
	return INV_OK;
}

/* Cards [from, to) in write transactions of per_txn cards each. */
static int
insert_range(struct bench *b, uint64_t from, uint64_t to, uint64_t per_txn)
{
	struct inv_txn *t = NULL;
	uint64_t i, j;
	int rc = INV_OK;

	for (i = from; i < to && rc == INV_OK; ) {
		if ((rc = inv_begin(b->inv, 1, &t)) != INV_OK)
			break;
		for (j = 0; j < per_txn && i < to && rc == INV_OK; j++, i++)
			rc = put_card(b, t, i);
		if (rc != INV_OK) {
			inv_abort(t);
			fprintf(stderr, "bench_inv: card %" PRIu64 ": %s\n", i,
			    inv_strerror(rc));
			break;
		}
		rc = inv_commit(t);
	}
	return rc;
}

/* ---- lookups ---- */

static int
count_card(const struct inv_card *c, void *arg)
{
	struct bench *b = arg;

	b->found += c->state == INV_CARD_ACTIVE;
	return 0;
}

enum lk { LK_SERIAL, LK_GUID, LK_HOLDER };

/* K lookups through the inventory API in one read transaction; -1: a miss. */
static double
api_lookups(struct bench *b, enum lk what)
{
	struct inv_txn *t = NULL;
	uint8_t g[INV_GUID_LEN];
	char key[INV_SERIAL_MAX + 1];
	double t0;
	uint64_t i, ok = 0;
	int rc;

	b->found = 0;
	if (inv_begin(b->inv, 0, &t) != INV_OK)
		return -1;
	t0 = now_s();
	for (i = 0; i < b->k; i++) {
		uint64_t c = b->sample[i];

		switch (what) {
		case LK_SERIAL:
			card_serial(c, key, sizeof(key));
			rc = inv_card_by_serial(t, key, b->card);
			ok += rc == INV_OK && strcmp(b->card->serial, key) == 0;
			break;
		case LK_GUID:
			card_guid(b, c, g);
			rc = inv_card_get(t, g, b->card);
			ok += rc == INV_OK;
			break;
		case LK_HOLDER:
			card_holder(c, key, sizeof(key));
			rc = inv_cards_of_holder(t, key, count_card, b);
			ok += rc == INV_OK;
			break;
		}
	}
	t0 = now_s() - t0;
	inv_abort(t);
	if (what == LK_HOLDER && b->found != b->k)
		ok = 0;
	return ok == b->k ? t0 : -1;
}

/*
 * K raw mdb_get on db with the same keys; with follow, each value (a GUID)
 * is looked up again in inv_cards: the least any index lookup must do.
 */
static double
raw_lookups(struct bench *b, const char *db, enum lk what)
{
	MDB_env *env = inv_env(b->inv);
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	uint8_t g[INV_GUID_LEN];
	char key[INV_ID_MAX + 1 + INV_GUID_LEN + 1];
	volatile uint8_t sink = 0;
	double t0 = -1;
	uint64_t i, ok = 0;

	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	if (mdb_dbi_open(txn, db, 0, &dbi) != 0)
		goto out;
	t0 = now_s();
	for (i = 0; i < b->k; i++) {
		uint64_t c = b->sample[i];

		if (what == LK_GUID) {
			card_guid(b, c, g);
			k.mv_size = INV_GUID_LEN;
			k.mv_data = g;
		} else if (what == LK_SERIAL) {
			card_serial(c, key, sizeof(key));
			k.mv_size = strlen(key);
			k.mv_data = key;
		} else {	/* the holder index's key: holder NUL GUID */
			card_holder(c, key, INV_ID_MAX + 1);
			k.mv_size = strlen(key) + 1;
			card_guid(b, c, g);
			memcpy(key + k.mv_size, g, INV_GUID_LEN);
			k.mv_size += INV_GUID_LEN;
			k.mv_data = key;
		}
		if (mdb_get(txn, dbi, &k, &v) != 0)
			continue;
		sink ^= ((const uint8_t *)v.mv_data)[0];
		ok++;
	}
	t0 = now_s() - t0;
	(void)sink;
out:
	mdb_txn_abort(txn);
	return ok == b->k ? t0 : -1;
}

/* Best of two timings; -1 if either run missed a key. */
static double
best(double prev, double t)
{
	if (prev < 0 || t < 0)
		return -1;
	return prev == 0 || t < prev ? t : prev;
}

static void
row(const char *what, double api, double raw, uint64_t k)
{
	printf("%-26s %10.3f us %10.3f us %8.2fx\n", what, api * 1e6 / (double)k,
	    raw * 1e6 / (double)k, raw > 0 ? api / raw : 0);
}

static int
lookups(struct bench *b)
{
	double s = 0, g = 0, h = 0, rs = 0, rg = 0, rh = 0;
	int r;

	/*
	 * Each lookup against one raw mdb_get of the same card's record in
	 * the database that holds it for that key (schema 5: the serial and
	 * holder indexes carry the record, so there is no second get).
	 */
	for (r = 0; r < REPEAT; r++) {
		g = best(g, api_lookups(b, LK_GUID));
		rg = best(rg, raw_lookups(b, "inv_cards", LK_GUID));
		s = best(s, api_lookups(b, LK_SERIAL));
		rs = best(rs, raw_lookups(b, "inv_card_serial", LK_SERIAL));
		h = best(h, api_lookups(b, LK_HOLDER));
		rh = best(rh, raw_lookups(b, "inv_card_holder5", LK_HOLDER));
	}
	if (s < 0 || g < 0 || h < 0 || rs < 0 || rg < 0 || rh < 0) {
		fprintf(stderr, "bench_inv: a lookup missed a card that exists\n");
		return 1;
	}
	printf("lookups: %" PRIu64 " random keys each, one read transaction, best "
	    "of %d (warm page cache; goal: <= 2x raw)\n", b->k, REPEAT);
	printf("%-26s %13s %13s %9s\n", "", "inv_*", "raw mdb_get", "ratio");
	row("by GUID (inv_card_get)", g, rg, b->k);
	row("by serial", s, rs, b->k);
	row("by holder (its cards)", h, rh, b->k);
	return 0;
}

/* ---- expiry report ---- */

static int
count_cert(const struct inv_cert *c, void *arg)
{
	struct bench *b = arg;

	(void)c;
	b->found++;
	return 0;
}

static int
expiring(struct bench *b, uint64_t from, uint64_t until, uint64_t *hits)
{
	struct inv_txn *t = NULL;
	int rc;

	b->found = 0;
	if ((rc = inv_begin(b->inv, 0, &t)) != INV_OK)
		return rc;
	rc = inv_certs_expiring(t, from, until, count_cert, b);
	inv_abort(t);
	*hits = b->found;
	return rc;
}

/* The report without the index: decode every certificate, keep the window. */
static int
full_scan(struct bench *b, uint64_t from, uint64_t until, uint64_t *hits,
    uint64_t *total)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	int mrc, rc = 1;

	*hits = *total = 0;
	if (mdb_txn_begin(inv_env(b->inv), NULL, MDB_RDONLY, &txn) != 0)
		return 1;
	if (mdb_dbi_open(txn, "inv_certs", 0, &dbi) != 0 ||
	    mdb_cursor_open(txn, dbi, &cur) != 0)
		goto out;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (inv_cert_decode(v.mv_data, v.mv_size, b->cert) != INV_OK)
			goto out;
		(*total)++;
		*hits += b->cert->not_after >= from && b->cert->not_after < until;
	}
	rc = mrc == MDB_NOTFOUND ? 0 : 1;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/*
 * The index walk alone: expiry keys in the window (big-endian not_after,
 * then the serial), each certificate fetched with a raw mdb_get and not
 * decoded. What the report costs without inv's decoding and checks.
 */
static int
raw_expiring(struct bench *b, uint64_t from, uint64_t until, uint64_t *hits)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi ex, certs;
	MDB_val k, v, sk, sv;
	uint8_t kb[8];
	uint64_t na;
	int i, mrc, rc = 1;

	*hits = 0;
	for (i = 0; i < 8; i++)
		kb[i] = (uint8_t)(from >> (8 * (7 - i)));
	if (mdb_txn_begin(inv_env(b->inv), NULL, MDB_RDONLY, &txn) != 0)
		return 1;
	if (mdb_dbi_open(txn, "inv_cert_expiry", 0, &ex) != 0 ||
	    mdb_dbi_open(txn, "inv_certs", 0, &certs) != 0 ||
	    mdb_cursor_open(txn, ex, &cur) != 0)
		goto out;
	k.mv_size = 8;
	k.mv_data = kb;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;

		if (k.mv_size <= 8)
			goto out;
		for (na = 0, i = 0; i < 8; i++)
			na = na << 8 | p[i];
		if (na >= until)
			break;
		sk.mv_size = k.mv_size - 8;
		sk.mv_data = (uint8_t *)k.mv_data + 8;
		if (mdb_get(txn, certs, &sk, &sv) != 0)
			goto out;
		(*hits)++;
	}
	rc = mrc == 0 || mrc == MDB_NOTFOUND ? 0 : 1;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- renewal requirements on insertion ---- */

/* The shipped employee profile's slots (provisioning/profiles/), inline:
 * 30-day renewal windows (the default). */
static const char *renew_profile =
    "name = \"employee\"; version = 1; validity_days = 1826;\n"
    "slots = (\n"
    " { slot = \"9a\"; algorithm = \"eccp256\"; cert_profile = \"a\";\n"
    "   cert_days = 1095; subject = \"/CN=%{name}\"; },\n"
    " { slot = \"9c\"; algorithm = \"eccp256\"; cert_profile = \"s\";\n"
    "   cert_days = 1095; subject = \"/CN=%{name}\"; },\n"
    " { slot = \"9d\"; algorithm = \"rsa2048\"; cert_profile = \"k\";\n"
    "   cert_days = 1095; escrow = true; subject = \"/CN=%{name}\"; },\n"
    " { slot = \"9e\"; algorithm = \"eccp256\"; cert_profile = \"c\";\n"
    "   cert_days = 1826; subject = \"/CN=%{serial}\"; });\n"
    "roles = { issue = []; pin_change = []; unblock = []; retire = [];\n"
    "  suspend = []; replace = []; temporary = []; audit = [];\n"
    "  inventory = []; };\n";

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One card as the engine sees it presented; [out] *items. -1: failed. */
static int
one_requirements(struct bench *b, const struct prof *p, uint64_t c,
    struct rnw_list *l, uint64_t *items)
{
	struct inv_txn *t = NULL;
	uint8_t g[INV_GUID_LEN];
	int rc;

	card_guid(b, c, g);
	if (inv_begin(b->inv, 0, &t) != INV_OK)
		return -1;
	rc = inv_card_get(t, g, b->card) == INV_OK &&
	    rnw_inv_list(t, b->card, p, b->now, l) == INV_OK ? 0 : -1;
	inv_abort(t);
	*items += l->n;
	return rc;
}

/* The floor: a read transaction and one raw mdb_get of the card record. */
static int
one_raw(struct bench *b, MDB_dbi dbi, uint64_t c)
{
	MDB_txn *txn = NULL;
	MDB_val k, v;
	uint8_t g[INV_GUID_LEN];
	int rc;

	card_guid(b, c, g);
	k.mv_size = INV_GUID_LEN;
	k.mv_data = g;
	if (mdb_txn_begin(inv_env(b->inv), NULL, MDB_RDONLY, &txn) != 0)
		return -1;
	rc = mdb_get(txn, dbi, &k, &v) == 0 ? 0 : -1;
	mdb_txn_abort(txn);
	return rc;
}

/* Certificates of the sample inside their 30-day window, from the
 * generator: what the requirements lists must add up to. */
static uint64_t
expected_items(const struct bench *b)
{
	uint64_t i, n = 0;
	unsigned s;

	for (i = 0; i < b->k; i++)
		for (s = 0; s < CERTS_PER_CARD; s++)
			n += mix(b->seed + 7 * (b->sample[i] * CERTS_PER_CARD +
			    s)) % (3 * YEAR_S) <= WINDOW_S;
	return n;
}

static int
requirements(struct bench *b)
{
	struct prof *p = NULL;
	struct rnw_list *l = malloc(sizeof(*l));
	double *lat = calloc(b->k, sizeof(double)), *raw = calloc(b->k,
	    sizeof(double)), t0, sum = 0, rsum = 0;
	char err[1024];
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	uint64_t i, items = 0, want = expected_items(b);
	int rc = 1;

	if (l == NULL || lat == NULL || raw == NULL ||
	    prof_load_string("bench.conf", renew_profile,
	    strlen(renew_profile), NULL, &p, err, sizeof(err)) != PROF_OK ||
	    mdb_txn_begin(inv_env(b->inv), NULL, MDB_RDONLY, &txn) != 0 ||
	    mdb_dbi_open(txn, "inv_cards", 0, &dbi) != 0) {
		fprintf(stderr, "bench_inv: requirements setup failed\n");
		goto out;
	}
	mdb_txn_abort(txn);
	txn = NULL;
	for (i = 0; i < b->k; i++) {
		t0 = now_s();
		if (one_requirements(b, p, b->sample[i], l, &items) != 0)
			goto out;
		lat[i] = now_s() - t0;
		t0 = now_s();
		if (one_raw(b, dbi, b->sample[i]) != 0)
			goto out;
		raw[i] = now_s() - t0;
		sum += lat[i];
		rsum += raw[i];
	}
	/* A list that found nothing would time nothing. */
	if (items != want || want == 0) {
		fprintf(stderr, "bench_inv: requirements listed %" PRIu64
		    " renewals, the generator put %" PRIu64 " certificates in "
		    "their window\n", items, want);
		goto out;
	}
	qsort(lat, b->k, sizeof(double), cmp_double);
	qsort(raw, b->k, sizeof(double), cmp_double);
	printf("renewal requirements on insertion: %" PRIu64 " cards of %"
	    PRIu64 ", %d certificates each, a read transaction each; %" PRIu64
	    " renewals listed (as generated)\n", b->k, b->n + SINGLE_N,
	    CERTS_PER_CARD, items);
	printf("  rnw_inv_list:     mean %8.3f us, p99 %8.3f us, worst %8.3f us "
	    "(goal < 5000 us)\n", sum * 1e6 / (double)b->k,
	    lat[b->k * 99 / 100] * 1e6, lat[b->k - 1] * 1e6);
	printf("  raw mdb_get card: mean %8.3f us, p99 %8.3f us, worst %8.3f us "
	    "(ratio of means %.1fx)\n", rsum * 1e6 / (double)b->k,
	    raw[b->k * 99 / 100] * 1e6, raw[b->k - 1] * 1e6,
	    rsum > 0 ? sum / rsum : 0);
	rc = 0;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	prof_free(p);
	free(l);
	free(lat);
	free(raw);
	return rc;
}

static int
report(struct bench *b)
{
	uint64_t from = b->now + 86400, until = from + WINDOW_S;
	uint64_t h_idx = 0, h_scan = 0, h_raw = 0, total = 0;
	double t0, t_idx = 0, t_scan = 0, t_raw = 0;
	int rc = INV_OK, r;

	for (r = 0; r < REPEAT; r++) {
		t0 = now_s();
		rc = expiring(b, from, until, &h_idx);
		t_idx = best(t_idx, now_s() - t0);
		t0 = now_s();
		if (rc != INV_OK || full_scan(b, from, until, &h_scan, &total) != 0) {
			fprintf(stderr, "bench_inv: expiry report failed: %s\n",
			    inv_strerror(rc));
			return 1;
		}
		t_scan = best(t_scan, now_s() - t0);
		t0 = now_s();
		if (raw_expiring(b, from, until, &h_raw) != 0)
			return 1;
		t_raw = best(t_raw, now_s() - t0);
	}
	if (h_idx != h_scan || h_raw != h_idx || h_idx == 0 ||
	    total != (b->n + SINGLE_N) * CERTS_PER_CARD) {
		fprintf(stderr, "bench_inv: index found %" PRIu64 ", scan %" PRIu64
		    " of %" PRIu64 ", raw walk %" PRIu64 "\n", h_idx, h_scan, total,
		    h_raw);
		return 1;
	}
	printf("30-day expiry report: %" PRIu64 " of %" PRIu64 " certificates "
	    "(%.2f%%; best of %d)\n", h_idx, total, 100.0 * (double)h_idx /
	    (double)total, REPEAT);
	printf("  inv_certs_expiring:        %.4f s (goal < 0.2 s), %.2f us per "
	    "certificate reported\n", t_idx, t_idx * 1e6 / (double)h_idx);
	printf("  full scan with decode:     %.4f s, %.2f us per certificate "
	    "scanned\n", t_scan, t_scan * 1e6 / (double)total);
	printf("  ratio scan / index:        %.1fx (goal >= 50x; a report that "
	    "read each hit's record could not pass ~%.0fx)\n",
	    t_idx > 0 ? t_scan / t_idx : 0, (double)total / (double)h_idx);
	printf("  index walk + raw get of each record: %.4f s (the path before "
	    "index summaries); inv_certs_expiring / that %.2fx\n", t_raw,
	    t_raw > 0 ? t_idx / t_raw : 0);
	return 0;
}

static int
sizes(struct bench *b)
{
	char path[4096];
	struct stat st;
	MDB_envinfo info;
	MDB_stat ms;
	uint64_t cards = b->n + SINGLE_N;
	double used;

	snprintf(path, sizeof(path), "%s/data.mdb", b->dir);
	if (stat(path, &st) != 0 || mdb_env_info(inv_env(b->inv), &info) != 0 ||
	    mdb_env_stat(inv_env(b->inv), &ms) != 0)
		return 1;
	used = (double)(info.me_last_pgno + 1) * ms.ms_psize;
	printf("file: %.1f MiB on disk, %.1f MiB of pages used: %.0f bytes per "
	    "card with its holder and 4 certificates (%d-byte DER each)\n",
	    (double)st.st_blocks * 512 / 1048576, used / 1048576,
	    used / (double)cards, DER_LEN);
	return 0;
}

static int
build(struct bench *b)
{
	double t0, bulk, single;

	t0 = now_s();
	if (insert_range(b, 0, b->n, BULK_TXN) != INV_OK)
		return 1;
	bulk = now_s() - t0;
	t0 = now_s();
	if (insert_range(b, b->n, b->n + SINGLE_N, 1) != INV_OK)
		return 1;
	single = now_s() - t0;
	printf("cards: %" PRIu64 " (+%d), 1 holder and %d certificates each, "
	    "expiry spread over 3 years\n", b->n, SINGLE_N, CERTS_PER_CARD);
	printf("insert, %d cards per txn:  %.2f s, %.0f cards/s (%.0f records/s; "
	    "6 records + 7 index entries per card)\n", BULK_TXN, bulk,
	    (double)b->n / bulk, (double)b->n * 6 / bulk);
	printf("insert, 1 card per txn:     %.2f s, %.0f cards/s (a durable "
	    "commit each, the engine's pattern)\n", single, SINGLE_N / single);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_inv -d DIR [-n CARDS] [-k LOOKUPS] [-s SEED]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct bench b;
	size_t map;
	uint64_t i;
	int ch, rc = 1;

	memset(&b, 0, sizeof(b));
	b.n = 100000;
	b.k = 100000;
	b.seed = 20261129;
	while ((ch = getopt(argc, argv, "d:n:k:s:")) != -1) {
		switch (ch) {
		case 'd': b.dir = optarg; break;
		case 'n': b.n = strtoull(optarg, NULL, 10); break;
		case 'k': b.k = strtoull(optarg, NULL, 10); break;
		case 's': b.seed = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (b.dir == NULL || b.n == 0 || b.k == 0)
		usage();
	b.now = (uint64_t)time(NULL);
	b.card = malloc(sizeof(*b.card));
	b.cert = malloc(sizeof(*b.cert));
	b.holder = malloc(sizeof(*b.holder));
	b.sample = calloc(b.k, sizeof(*b.sample));
	if (b.card == NULL || b.cert == NULL || b.holder == NULL || b.sample == NULL)
		goto out;
	for (i = 0; i < b.k; i++)
		b.sample[i] = mix(b.seed * 31 + i) % (b.n + SINGLE_N);
	/* ~11 KiB of pages per card; the map is only reserved address space. */
	map = (size_t)(b.n + SINGLE_N) * 32768 + (1UL << 30);
	if ((rc = inv_open(b.dir, map, &b.inv)) != INV_OK) {
		fprintf(stderr, "bench_inv: %s: %s\n", b.dir, inv_strerror(rc));
		rc = 1;
		goto out;
	}
	rc = build(&b) || lookups(&b) || report(&b) || requirements(&b) ||
	    sizes(&b);
out:
	if (b.holder != NULL)
		inv_holder_clear(b.holder);
	inv_close(b.inv);
	free(b.card);
	free(b.cert);
	free(b.holder);
	free(b.sample);
	return rc;
}
