/*
 * bench_inv: inventory lookups against a raw mdb_get, and the expiry report
 * from the index against a full scan, in one run on one environment.
 *
 *   bench_inv DIR [CARDS]     (default 1000000 cards, 4 certificates each)
 *
 * Cards get pseudo-random GUIDs (insertion order is not key order, as with
 * real GUIDs), one holder per 4 cards, certificates a not_after spread over
 * three years and a 64-byte stand-in for their DER. Prints ratios; never fails
 * on time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "inv/inv.h"

#define NOW 1900000000ULL
#define DAY 86400ULL
#define BATCH 20000
#define LOOKUPS 200000

static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
guid_of(uint64_t i, uint8_t g[INV_GUID_LEN])
{
	uint64_t a = mix(i), b = mix(i ^ 0xABCDEF);
	int k;

	for (k = 0; k < 8; k++) {
		g[k] = (uint8_t)(a >> (8 * k));
		g[8 + k] = (uint8_t)(b >> (8 * k));
	}
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_inv: %s: %s\n", what, inv_strerror(rc));
	exit(1);
}

static void
load(struct inv *inv, uint64_t n)
{
	struct inv_txn *t = NULL;
	struct inv_holder *h = calloc(1, sizeof(*h));
	struct inv_card *c = calloc(1, sizeof(*c));
	struct inv_cert *ct = calloc(1, sizeof(*ct));
	uint64_t i, j;
	int rc;

	if (h == NULL || c == NULL || ct == NULL)
		die("load", INV_ERR_NOMEM);
	for (i = 0; i < n; i++) {
		if (i % BATCH == 0 && (rc = inv_begin(inv, 1, &t)) != INV_OK)
			die("begin", rc);
		if (i % 4 == 0) {
			snprintf(h->id, sizeof(h->id), "H%08llu",
			    (unsigned long long)(i / 4));
			strcpy(h->name, "Bench Holder");
			if ((rc = inv_holder_put(t, h, 0)) != INV_OK)
				die("holder", rc);
		}
		guid_of(i, c->guid);
		snprintf(c->serial, sizeof(c->serial), "S%010llu",
		    (unsigned long long)i);
		snprintf(c->holder, sizeof(c->holder), "H%08llu",
		    (unsigned long long)(i / 4));
		strcpy(c->model, "YubiKey 5");
		c->state = (uint8_t)(mix(i) % INV_CARD_NSTATES);
		if ((rc = inv_card_put(t, c, 0)) != INV_OK)
			die("card", rc);
		for (j = 0; j < 4; j++) {
			snprintf(ct->serial, sizeof(ct->serial), "%016llx",
			    (unsigned long long)mix(i * 4 + j + (1ULL << 40)));
			memcpy(ct->guid, c->guid, INV_GUID_LEN);
			strcpy(ct->subject, "CN=bench");
			ct->not_after = NOW + mix(i * 4 + j) % (3 * 365 * DAY);
			ct->der_len = 64;
			if ((rc = inv_cert_put(t, ct, 0)) != INV_OK)
				die("cert", rc);
		}
		if ((i + 1) % BATCH == 0 || i + 1 == n) {
			if ((rc = inv_commit(t)) != INV_OK)
				die("commit", rc);
			t = NULL;
		}
	}
	free(h);
	free(c);
	free(ct);
}

static int
count_card(const struct inv_card *c, void *arg)
{
	(void)c;
	++*(uint64_t *)arg;
	return 0;
}

static int
count_cert(const struct inv_cert *c, void *arg)
{
	(void)c;
	++*(uint64_t *)arg;
	return 0;
}

/* ns per lookup of kind k over LOOKUPS random cards. */
static double
lookups(struct inv *inv, uint64_t n, int k)
{
	struct inv_txn *t;
	struct inv_card *c = malloc(sizeof(*c));
	MDB_txn *mt;
	MDB_dbi dbi;
	uint8_t g[INV_GUID_LEN];
	char s[32];
	MDB_val key, val;
	uint64_t i, r, found = 0;
	double t0;
	int rc;

	if (c == NULL || (rc = inv_begin(inv, 0, &t)) != INV_OK)
		die("lookup", INV_ERR_NOMEM);
	mt = inv_txn_mdb(t);
	if (mdb_dbi_open(mt, "inv_cards", 0, &dbi) != 0)
		die("dbi", INV_ERR_DB);
	t0 = now_s();
	for (i = 0; i < LOOKUPS; i++) {
		r = mix(i + 77) % n;
		switch (k) {
		case 0:
			guid_of(r, g);
			key.mv_size = INV_GUID_LEN;
			key.mv_data = g;
			found += mdb_get(mt, dbi, &key, &val) == 0;
			break;
		case 1:
			guid_of(r, g);
			found += inv_card_get(t, g, c) == INV_OK;
			break;
		case 2:
			snprintf(s, sizeof(s), "S%010llu", (unsigned long long)r);
			found += inv_card_by_serial(t, s, c) == INV_OK;
			break;
		case 3:
			snprintf(s, sizeof(s), "H%08llu", (unsigned long long)(r / 4));
			(void)inv_cards_of_holder(t, s, count_card, &found);
			break;
		}
	}
	t0 = now_s() - t0;
	inv_abort(t);
	free(c);
	if (found < LOOKUPS)
		die("lookup found too few", INV_ERR_NOTFOUND);
	return t0 * 1e9 / LOOKUPS;
}

/* [out] *count: certificates expiring in 30 days; returns seconds. */
static double
expiry(struct inv *inv, int full, uint64_t *count)
{
	struct inv_txn *t;
	struct inv_cert *c = malloc(sizeof(*c));
	MDB_cursor *cur;
	MDB_dbi dbi;
	MDB_val k, v;
	double t0;
	int mrc;

	*count = 0;
	if (c == NULL || inv_begin(inv, 0, &t) != INV_OK)
		die("expiry", INV_ERR_NOMEM);
	t0 = now_s();
	if (!full) {
		if (inv_certs_expiring(t, NOW, NOW + 30 * DAY, count_cert,
		    count) != INV_OK)
			die("expiring", INV_ERR_DB);
	} else {
		if (mdb_dbi_open(inv_txn_mdb(t), "inv_certs", 0, &dbi) != 0 ||
		    mdb_cursor_open(inv_txn_mdb(t), dbi, &cur) != 0)
			die("scan", INV_ERR_DB);
		for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
		    mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
			if (inv_cert_decode(v.mv_data, v.mv_size, c) == INV_OK &&
			    c->not_after >= NOW && c->not_after < NOW + 30 * DAY)
				++*count;
		mdb_cursor_close(cur);
	}
	t0 = now_s() - t0;
	inv_abort(t);
	free(c);
	return t0;
}

int
main(int argc, char **argv)
{
	struct inv *inv;
	uint64_t n = 1000000, ci, cf;
	double t0, raw, ns, ti, tf;
	static const char *const what[] = {
		"raw mdb_get by GUID", "inv_card_get (GUID)",
		"inv_card_by_serial", "inv_cards_of_holder (4)",
	};
	int rc, k;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_inv DIR [CARDS]\n");
		return 2;
	}
	if (argc == 3 && (n = strtoull(argv[2], NULL, 10)) < 4)
		return 2;
	/* ~1.6 KiB per card with its 4 certificates and indexes, doubled */
	if ((rc = inv_open(argv[1], (size_t)(n * 3300 + (64UL << 20)), &inv)) !=
	    INV_OK)
		die("open", rc);
	t0 = now_s();
	load(inv, n);
	printf("loaded %llu cards, %llu certificates in %.1f s\n",
	    (unsigned long long)n, (unsigned long long)(4 * n), now_s() - t0);
	(void)lookups(inv, n, 0);	/* warm the page cache for everyone */
	raw = lookups(inv, n, 0);
	for (k = 0; k < 4; k++) {
		ns = k == 0 ? raw : lookups(inv, n, k);
		printf("%-24s %8.0f ns/lookup  %5.2fx raw\n", what[k], ns,
		    ns / raw);
	}
	(void)expiry(inv, 1, &cf);	/* warm: both then read cached pages */
	tf = expiry(inv, 1, &cf);
	ti = expiry(inv, 0, &ci);
	printf("expiring in 30 days: %llu via index in %.4f s, %llu via full "
	    "scan in %.4f s: index %.0fx faster\n", (unsigned long long)ci, ti,
	    (unsigned long long)cf, tf, tf / (ti > 0 ? ti : 1e-9));
	inv_close(inv);
	if (ci != cf) {
		fprintf(stderr, "bench_inv: index and scan disagree\n");
		return 1;
	}
	return 0;
}
