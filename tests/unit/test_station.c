/*
 * Unit tests: the station library (cardmgr/ca/station.h) as the daemon
 * calls it, without a CA: keys handed in through cast_keyops, a shared LMDB
 * environment, the import of old loose state files, whether the station may
 * act, and status as a struct. What LMDB holds is read back with plain LMDB
 * calls, not through the library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <lmdb.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/station.h"

static char dir[64], sub[96];
static struct caconf conf;

/* The caller's keys: one software key, whatever the label; calls counted. */
struct keys {
	EVP_PKEY *key;
	int gets, removes;
	char last[64];
};

static int
kget(void *arg, const char *label, int create, EVP_PKEY **key)
{
	struct keys *k = arg;

	(void)create;
	k->gets++;
	snprintf(k->last, sizeof(k->last), "%s", label);
	if (!EVP_PKEY_up_ref(k->key))
		return -1;
	*key = k->key;
	return 0;
}

static int
kremove(void *arg, const char *label)
{
	struct keys *k = arg;

	(void)label;
	k->removes++;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_station.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.state_dir, sizeof(conf.state_dir), "%s", dir);
	snprintf(conf.key_label, sizeof(conf.key_label), "station-key");
	conf.renew_before = 86400;
	conf.timeout = 5;
	return 0;
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
write_file(const char *name, const char *text)
{
	FILE *f;

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	assert_non_null(f = fopen(sub, "w"));
	fputs(text, f);
	fclose(f);
}

/* A self-signed "station certificate" for key, valid for secs seconds. */
static void
write_station(EVP_PKEY *key, long secs)
{
	X509 *x = X509_new();
	FILE *f;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"station-01", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), secs);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	snprintf(sub, sizeof(sub), "%s/station.crt", dir);
	assert_non_null(f = fopen(sub, "w"));
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
}

static void
open_st(struct keys *k, MDB_env *env, struct cast **st)
{
	struct cast_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conf = &conf;
	cfg.keys.get = kget;
	cfg.keys.remove = kremove;
	cfg.keys.arg = k;
	cfg.env = env;
	assert_int_equal(cast_open(&cfg, st), CAST_OK);
}

/* Old loose files are imported once and removed; their values take effect. */
static void
imports_loose_state(void **state)
{
	struct keys k = { EVP_EC_gen("P-256"), 0, 0, "" };
	struct cast_status s;
	struct cast *st;
	char label[64];

	(void)state;
	write_file("station.key", "station-key.0011");
	write_file("station.revoked", "on the CA's CRL, reason keyCompromise");
	write_station(k.key, 3600 * 24 * 365);
	open_st(&k, NULL, &st);
	snprintf(sub, sizeof(sub), "%s/station.key", dir);
	assert_int_equal(access(sub, F_OK), -1);
	snprintf(sub, sizeof(sub), "%s/station.revoked", dir);
	assert_int_equal(access(sub, F_OK), -1);
	cast_key_label(st, label, sizeof(label));
	assert_string_equal(label, "station-key.0011");
	assert_int_equal(cast_station_usable(st), CAST_ERR_REVOKED);
	assert_non_null(strstr(cast_detail(st), "STATION CERTIFICATE REVOKED"));
	assert_int_equal(cast_status(st, &s), CAST_OK);
	assert_true(s.enrolled && s.revoked_marker && !s.expired);
	assert_string_equal(s.serial, "1234");
	assert_string_equal(s.revoked_why, "on the CA's CRL, reason keyCompromise");
	assert_int_equal(s.have_crl, 0);
	assert_int_equal(s.state, CAST_CERT_UNKNOWN);
	cast_status_clear(&s);
	/* No key was needed for any of that. */
	assert_int_equal(k.gets, 0);
	cast_close(st);
	EVP_PKEY_free(k.key);
}

/*
 * The station key comes from the caller, under the current label; an
 * expired certificate stops the station before anything is sent, and the
 * operation stays journaled.
 */
static void
keys_from_caller_and_expired_station(void **state)
{
	struct keys k = { EVP_EC_gen("P-256"), 0, 0, "" };
	struct outbox_drain_stats ds;
	struct cast_status s;
	struct cast *st;
	uint64_t id = 0;

	(void)state;
	write_station(k.key, -60);
	open_st(&k, NULL, &st);
	assert_int_equal(cast_station_usable(st), CAST_ERR_EXPIRED);
	assert_int_equal(cast_submit(st, OUTBOX_REVOKE, NULL, 1,
	    (const uint8_t *)"cert", 4, 0, &id), CAST_ERR_EXPIRED);
	assert_int_equal(id, 1);
	assert_non_null(strstr(cast_detail(st), "STATION CERTIFICATE EXPIRED"));
	assert_int_equal(cast_drain(st, 1, 0, &ds), CAST_OK);
	assert_int_equal(ds.remaining, 1);
	assert_int_equal(cast_status(st, &s), CAST_OK);
	assert_true(s.expired && s.counts.pending == 1);
	cast_status_clear(&s);
	cast_close(st);
	/* Not enrolled: nothing to sign with, nothing asked of the keys. */
	snprintf(sub, sizeof(sub), "%s/station.crt", dir);
	unlink(sub);
	open_st(&k, NULL, &st);
	assert_int_equal(cast_station_usable(st), CAST_ERR_NOT_ENROLLED);
	assert_int_equal(k.gets, 0);
	cast_close(st);
	/* Enrolled: the library asks the caller for the key, current label. */
	write_station(k.key, 3600);
	open_st(&k, NULL, &st);
	assert_int_equal(cast_drain(st, 1, 0, &ds), CAST_OK);
	assert_true(k.gets >= 1);
	assert_string_equal(k.last, "station-key");
	cast_close(st);
	EVP_PKEY_free(k.key);
}

/* The daemon's own environment: the journal lands there, queued only. */
static void
shared_environment(void **state)
{
	struct keys k = { EVP_EC_gen("P-256"), 0, 0, "" };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	struct cast *st;
	uint64_t id = 0;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/daemon", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, OUTBOX_MAXDBS + 4), 0);
	assert_int_equal(mdb_env_open(env, sub, 0, 0600), 0);
	open_st(&k, env, &st);
	assert_int_equal(cast_submit(st, OUTBOX_ENROLL, "piv-auth", 0,
	    (const uint8_t *)"csr", 3, 1, &id), CAST_ERR_QUEUED);
	assert_int_equal(id, 1);
	cast_close(st);
	/* still the caller's, still open: read the pending index directly */
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "pending", 0, &dbi), 0);
	assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
	assert_int_equal(ms.ms_entries, 1);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	/* and nothing went to state_dir/outbox */
	snprintf(sub, sizeof(sub), "%s/outbox", dir);
	assert_int_equal(access(sub, F_OK), -1);
	EVP_PKEY_free(k.key);
}

static void
names(void **state)
{
	(void)state;
	assert_string_equal(cast_errname(CAST_ERR_QUEUED), "CAST_ERR_QUEUED");
	assert_string_equal(cast_strerror(CAST_ERR_REVOKED),
	    "STATION CERTIFICATE REVOKED");
	assert_string_equal(cast_errname(-99), "CAST_ERR_UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(imports_loose_state, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_from_caller_and_expired_station,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(shared_environment, setup, teardown),
		cmocka_unit_test(names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
