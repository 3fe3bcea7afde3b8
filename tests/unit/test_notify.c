/*
 * Unit tests: notify/ (the notice record codec, the journal in LMDB with its
 * state index checked through raw LMDB and after reopening, thresholds,
 * address and URL checks, the message, and a send with nothing listening).
 * The real SMTP exchange is tests/daemon/t_daemon_report.sh's. With
 * NTF_SEED_DIR set, the fuzz_ntf_rec seeds are written there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <lmdb.h>

#include "notify/notify.h"

#define DAY 86400ULL
#define NOW 1900000000ULL

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_notify.XXXXXX");
	return mkdtemp(dir) == NULL;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void
sample(struct ntf_notice *n, unsigned i)
{
	memset(n, 0, sizeof(*n));
	ntf_key_card(n->key, "00112233445566778899aabbccddeeff", NOW + 7 * DAY + i,
	    7);
	n->kind = NTF_KIND_CARD;
	n->state = NTF_PENDING;
	n->days = 7;
	n->expires = NOW + 7 * DAY;
	n->created = n->updated = n->next_try = NOW;
	snprintf(n->card_serial, sizeof(n->card_serial), "50%02u", i);
	strcpy(n->holder, "E100");
	strcpy(n->holder_name, "Jane Doe");
	strcpy(n->to, "jane@example.com");
	strcpy(n->cc, "boss@example.com");
}

static void
checks(void **state)
{
	struct ntf_cfg c;

	(void)state;
	assert_true(ntf_addr_ok("a@b"));
	assert_false(ntf_addr_ok("a@"));
	assert_false(ntf_addr_ok("@b"));
	assert_false(ntf_addr_ok("a@b@c"));
	assert_false(ntf_addr_ok("a b@c"));
	assert_false(ntf_addr_ok("a@b\r\nBcc: x@y"));
	assert_false(ntf_addr_ok("<a@b>"));
	assert_false(ntf_addr_ok(""));
	assert_true(ntf_url_ok("smtp://127.0.0.1:2525"));
	assert_true(ntf_url_ok("smtps://mail.example.com"));
	assert_false(ntf_url_ok("smtp://user:pw@mail.example.com"));
	assert_false(ntf_url_ok("http://mail.example.com"));
	assert_false(ntf_url_ok("smtp://"));
	assert_false(ntf_url_ok("smtp://a b"));
	ntf_cfg_defaults(&c);
	assert_int_equal(c.ndays, 3);
	/* the smallest threshold the time left falls under */
	assert_int_equal(ntf_threshold(&c, NOW, NOW + 40 * DAY), 0);
	assert_int_equal(ntf_threshold(&c, NOW, NOW + 30 * DAY), 30);
	assert_int_equal(ntf_threshold(&c, NOW, NOW + 8 * DAY), 30);
	assert_int_equal(ntf_threshold(&c, NOW, NOW + 7 * DAY), 7);
	assert_int_equal(ntf_threshold(&c, NOW, NOW + DAY / 2), 1);
	assert_int_equal(ntf_threshold(&c, NOW, NOW), 0);
	assert_int_equal(ntf_threshold(&c, NOW, NOW - 1), 0);
}

static void
seed(const uint8_t *rec, size_t len, int i)
{
	const char *sdir = getenv("NTF_SEED_DIR");
	char path[512];
	FILE *f;

	if (sdir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/seed%d", sdir, i);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(rec, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
codec(void **state)
{
	struct ntf_notice n, back;
	uint8_t *enc, *longer;
	size_t len, i;

	(void)state;
	sample(&n, 1);
	strcpy(n.error, "server deferred (451)");
	assert_int_equal(ntf_rec_encode(&n, &enc, &len), NTF_OK);
	seed(enc, len, 0);
	assert_int_equal(ntf_rec_decode(enc, len, &back), NTF_OK);
	assert_memory_equal(&n, &back, sizeof(n));
	for (i = 0; i < len; i++)	/* every truncation */
		assert_int_equal(ntf_rec_decode(enc, i, &back), NTF_ERR_FORMAT);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, enc, len);
	longer[len] = 0;
	assert_int_equal(ntf_rec_decode(longer, len + 1, &back), NTF_ERR_FORMAT);
	free(longer);
	enc[0] = 2;
	assert_int_equal(ntf_rec_decode(enc, len, &back), NTF_ERR_VERSION);
	enc[0] = 1;
	enc[1] = 'X';
	assert_int_equal(ntf_rec_decode(enc, len, &back), NTF_ERR_FORMAT);
	free(enc);
	/* out-of-range enums and an empty key are refused both ways */
	n.state = NTF_NSTATES;
	assert_int_equal(ntf_rec_encode(&n, &enc, &len), NTF_ERR_ARG);
	sample(&n, 2);
	n.kind = 9;
	assert_int_equal(ntf_rec_encode(&n, &enc, &len), NTF_ERR_ARG);
	sample(&n, 3);
	n.kind = NTF_KIND_CERT;
	strcpy(n.cert_serial, "0a1b");
	n.cc[0] = '\0';
	assert_int_equal(ntf_rec_encode(&n, &enc, &len), NTF_OK);
	seed(enc, len, 1);
	/* the state byte sits after the key: 2 + 2 + keylen + kind */
	enc[4 + strlen(n.key) + 1] = NTF_NSTATES;
	assert_int_equal(ntf_rec_decode(enc, len, &back), NTF_ERR_FORMAT);
	free(enc);
}

static MDB_env *
env_open(void)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	return env;
}

/* Raw LMDB: the keys listed under state in ntf_state. */
static size_t
raw_state(MDB_env *env, int state)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	uint8_t st = (uint8_t)state;
	MDB_val k = { 1, &st }, v;
	size_t n = 0;

	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "ntf_state", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == 0)
		assert_int_equal(mdb_cursor_count(cur, &n), 0);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

static int
count_cb(const struct ntf_notice *n, void *arg)
{
	(void)n;
	(*(unsigned *)arg)++;
	return 0;
}

static void
journal(void **state)
{
	MDB_env *env = env_open();
	struct ntf *ntf;
	MDB_txn *txn;
	struct ntf_notice n, got;
	uint64_t c[NTF_NSTATES];
	unsigned seen = 0, i;

	(void)state;
	assert_int_equal(ntf_open(env, &ntf), NTF_OK);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	for (i = 0; i < 3; i++) {
		sample(&n, i);
		assert_int_equal(ntf_add(ntf, txn, &n), NTF_OK);
	}
	/* the same event again: refused, whatever else differs */
	sample(&n, 1);
	strcpy(n.to, "other@example.com");
	assert_int_equal(ntf_add(ntf, txn, &n), NTF_ERR_EXISTS);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(raw_state(env, NTF_PENDING), 3);
	/* one sent, one failed: the index follows */
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	sample(&n, 0);
	n.state = NTF_SENT;
	assert_int_equal(ntf_put(ntf, txn, &n), NTF_OK);
	sample(&n, 2);
	n.state = NTF_FAILED;
	strcpy(n.error, "server refused (550)");
	assert_int_equal(ntf_put(ntf, txn, &n), NTF_OK);
	sample(&n, 7);
	assert_int_equal(ntf_put(ntf, txn, &n), NTF_ERR_NOTFOUND);
	assert_int_equal(mdb_txn_commit(txn), 0);
	ntf_close(ntf);
	mdb_env_close(env);

	env = env_open();	/* as the next start finds it */
	assert_int_equal(ntf_open(env, &ntf), NTF_OK);
	assert_int_equal(raw_state(env, NTF_PENDING), 1);
	assert_int_equal(raw_state(env, NTF_SENT), 1);
	assert_int_equal(raw_state(env, NTF_FAILED), 1);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(ntf_count(ntf, txn, c), NTF_OK);
	assert_true(c[NTF_PENDING] == 1 && c[NTF_SENT] == 1 &&
	    c[NTF_FAILED] == 1);
	assert_int_equal(ntf_foreach(ntf, txn, NTF_PENDING, count_cb, &seen),
	    NTF_OK);
	assert_int_equal(seen, 1);
	sample(&n, 2);
	assert_int_equal(ntf_get(ntf, txn, n.key, &got), NTF_OK);
	assert_string_equal(got.error, "server refused (550)");
	assert_int_equal(got.state, NTF_FAILED);
	mdb_txn_abort(txn);
	ntf_close(ntf);
	mdb_env_close(env);
}

static void
message(void **state)
{
	struct ntf_cfg c;
	struct ntf_notice n;
	char *m;
	size_t len;

	(void)state;
	ntf_cfg_defaults(&c);
	strcpy(c.from, "station@example.com");
	sample(&n, 1);
	/* a name with a line break stays in the body, as one line */
	strcpy(n.holder_name, "Eve\r\nBcc: spy@example.net");
	assert_int_equal(ntf_message(&c, &n, NOW, &m, &len), NTF_OK);
	assert_int_equal(strlen(m), len);
	assert_non_null(strstr(m, "From: station@example.com\r\n"
	    "To: jane@example.com\r\nCc: boss@example.com\r\n"
	    "Subject: Your smart card 5001 expires in 7 days\r\n"));
	assert_null(strstr(m, "\r\nBcc:"));
	assert_non_null(strstr(m, "Hello EveBcc: spy@example.net,"));
	assert_non_null(strstr(m, "Message-ID: <card_00112233445566778899aabbccddeeff_"));
	free(m);
	/* an address that could carry a header is refused */
	strcpy(n.cc, "x@y>\r\nBcc: spy@example.net");
	assert_int_equal(ntf_message(&c, &n, NOW, &m, &len), NTF_ERR_ARG);
	assert_null(m);
}

static void
send_nowhere(void **state)
{
	struct ntf_cfg c;
	struct ntf_notice n;
	char why[NTF_ERROR_MAX + 1];
	unsigned code;

	(void)state;
	ntf_cfg_defaults(&c);
	c.timeout_s = 5;
	/* port 1 on loopback: nothing listens, the connection is refused */
	strcpy(c.smtp_url, "smtp://127.0.0.1:1");
	sample(&n, 1);
	assert_int_equal(ntf_send(&c, &n, NOW, &code, why, sizeof(why)),
	    NTF_ERR_TRANSIENT);
	assert_int_equal(code, 0);
	assert_true(why[0] != '\0');
	/* a URL with credentials is not used at all */
	strcpy(c.smtp_url, "smtp://u:p@127.0.0.1:1");
	assert_int_equal(ntf_send(&c, &n, NOW, &code, why, sizeof(why)),
	    NTF_ERR_PERMANENT);
	assert_string_equal(ntf_errname(NTF_ERR_PERMANENT), "NTF_ERR_PERMANENT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(checks),
		cmocka_unit_test(codec),
		cmocka_unit_test_setup_teardown(journal, setup, teardown),
		cmocka_unit_test(message),
		cmocka_unit_test(send_nowhere),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
