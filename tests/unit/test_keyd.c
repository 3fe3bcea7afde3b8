/*
 * keyd's process loop against a real SoftHSM2 token, driven over a
 * SOCK_SEQPACKET pair as the engine would: what its permit table lets
 * through, the budget on 9B challenges, a card's 9B key leaving keyd only
 * once, and that a request it does not expect ends it (fail closed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "keyd/keyd.h"
#include "keyd/keyd_msg.h"
#include "keyd/kstoken.h"
#include "keyd/ks.h"
#include "keyd/ledger.h"
#include "proc/msg.h"

static struct kstoken tok;
/* The token's module: SoftHSM2, or crash_pkcs11.so wrapping it. */
static const char *module = KSTOKEN_MODULE;
static char crash_module[4096];
static int fd = -1;
static pid_t pid;
static uint8_t buf[MSG_MAX];
static struct msg m;

/* keyd as a child on the token made by start_label; ledger: a file or NULL. */
static int
spawn(const char *label, const char *ledger)
{
	struct keyd_cfg cfg = { module, label, NULL,
	    "station-key", "cardmgr-audit", NULL, 0, ledger, NULL, NULL };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		close(sv[0]);
		cfg.pinlen = strlen(tok.pin);
		cfg.pin = sodium_malloc(cfg.pinlen);
		memcpy(cfg.pin, tok.pin, cfg.pinlen);
		/* what keyd_setup does as root */
		if (ledger != NULL && ledger_open(ledger, &cfg.ledger, NULL) !=
		    LEDGER_OK)
			_exit(3);
		_exit(keyd_main(&cfg, sv[1]));
	}
	close(sv[1]);
	fd = sv[0];
	return pid > 0 ? 0 : -1;
}

/* Stop the child keyd only (the token stays): its exit status. */
static int
reap(void)
{
	int st = -1;

	close(fd);
	fd = -1;
	waitpid(pid, &st, 0);
	pid = 0;
	return st;
}

static int
start_label(const char *label)
{
	if (sodium_init() < 0 || kstoken_init(&tok, "keydtest", "4711-test") != 0)
		return -1;
	return spawn(label, NULL);
}

static int
start(void **state)
{
	(void)state;
	return start_label("keydtest");
}

/* The token alone: the test spawns keyd itself. */
static int
start_token_only(void **state)
{
	(void)state;
	return sodium_init() < 0 || kstoken_init(&tok, "keydtest",
	    "4711-test") != 0 ? -1 : 0;
}

/* keyd configured for a token that is not there (missing, or damaged). */
static int
start_no_token(void **state)
{
	(void)state;
	return start_label("notthere");
}

static int
stop(void **state)
{
	(void)state;
	if (fd >= 0)
		close(fd);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	kstoken_cleanup(&tok);
	return 0;
}

/* Send a request; [out] the answer's rc (-1000: keyd gone). */
static int
ask(uint32_t type, struct msg_builder *b, uint64_t id)
{
	struct msg_hdr h;
	size_t len;
	const struct msg_field *f;

	if (msg_send(fd, type, id, b) != MSG_OK) {
		msg_builder_clear(b);
		return -1000;
	}
	msg_builder_clear(b);
	if (msg_recv(fd, buf, sizeof(buf), &h, &len) != MSG_OK ||
	    msg_decode(buf, len, &m) != MSG_OK || h.id != id ||
	    (f = msg_get(&m, KS_R_RC)) == NULL)
		return -1000;
	return (int)(int32_t)f->num;
}

static void
card_req(struct msg_builder *b, const uint8_t guid[16])
{
	assert_int_equal(msg_builder_init(b), MSG_OK);
	msg_put_u32(b, KS_F_VERSION, 1);
	msg_put_bytes(b, KS_F_GUID, guid, 16);
	msg_put_u32(b, KS_F_ALG, 0x0A);
}

static void
budget_and_once(void **state)
{
	static const uint8_t g1[16] = { 1 }, g2[16] = { 2 };
	uint8_t block[16] = { 0 }, key[24], ct[16], pt[16];
	struct msg_builder b;
	EVP_CIPHER_CTX *c;
	int n, i;

	(void)state;
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	assert_int_equal(ask(MSG_KS_INFO, &b, 1), KS_OK);
	card_req(&b, g1);
	assert_int_equal(ask(MSG_KS_MGMT_KEY, &b, 2), KS_OK);
	memcpy(key, msg_get(&m, KS_R_DATA)->p, 24);
	/* A challenge block answered by keyd is AES-192-ECB with that key. */
	for (i = 0; i < 8; i++) {
		card_req(&b, g1);
		msg_put_bool(&b, KS_F_ENCRYPT, 1);
		msg_put_bytes(&b, KS_F_BLOCK, block, 16);
		assert_int_equal(ask(MSG_KS_MGMT_CRYPT, &b, 10 + i), KS_OK);
	}
	memcpy(ct, msg_get(&m, KS_R_DATA)->p, 16);
	c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_192_ecb(), NULL, key, NULL), 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_DecryptUpdate(c, pt, &n, ct, 16), 1);
	EVP_CIPHER_CTX_free(c);
	assert_memory_equal(pt, block, 16);
	/* The ninth block for the same card within the minute: refused. */
	card_req(&b, g1);
	msg_put_bool(&b, KS_F_ENCRYPT, 1);
	msg_put_bytes(&b, KS_F_BLOCK, block, 16);
	assert_int_equal(ask(MSG_KS_MGMT_CRYPT, &b, 20), KS_ERR_ARG);
	/* Another card still has its own budget. */
	card_req(&b, g2);
	msg_put_bool(&b, KS_F_ENCRYPT, 0);
	msg_put_bytes(&b, KS_F_BLOCK, block, 16);
	assert_int_equal(ask(MSG_KS_MGMT_CRYPT, &b, 21), KS_OK);
	/* The first card's key a second time: keyd ends. */
	card_req(&b, g1);
	assert_int_equal(ask(MSG_KS_MGMT_KEY, &b, 22), -1000);
	OPENSSL_cleanse(key, sizeof(key));
}

static void
unexpected_type_ends_keyd(void **state)
{
	struct msg_builder b;

	(void)state;
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	assert_int_equal(ask(MSG_KS_INFO, &b, 1), KS_OK);
	/* A valid message keyd has no business answering (an api response). */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, MSG_RESP_STATUS, 200);
	msg_put_str(&b, MSG_RESP_BODY, "{}");
	assert_int_equal(ask(MSG_RESP, &b, 2), -1000);
}

static void
audit_key_only_by_role(void **state)
{
	struct msg_builder b;

	(void)state;
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_AUDIT);
	assert_int_equal(ask(MSG_KS_PUBKEY, &b, 1), KS_OK);
	/* Raw RSA is only for the station key: asking it of the audit key ends keyd. */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_AUDIT);
	msg_put_u32(&b, KS_F_MECH, KS_SIGN_RSA_RAW);
	msg_put_bytes(&b, KS_F_TBS, (const uint8_t *)"0123456789abcdef", 16);
	assert_int_equal(ask(MSG_KS_SIGN, &b, 2), -1000);
}

/*
 * Key recovery: a blob keyd escrowed opens with the aad it was made with
 * (GUID || slot) and gives back the same key; another card's aad, a flipped
 * byte or a wrong-sized aad do not, and keyd stays up for each refusal.
 */
static void
recover_escrowed(void **state)
{
	static const uint8_t aad[17] = { 7, 7, 7, [16] = 0x9d };
	uint8_t other[17], *blob;
	struct msg_builder b;
	const struct msg_field *f;
	const unsigned char *p;
	EVP_PKEY *k1, *k2;
	size_t blen;

	(void)state;
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_ALG, 1);	/* RSA-2048 */
	msg_put_bytes(&b, KS_F_AAD, aad, sizeof(aad));
	assert_int_equal(ask(MSG_KS_ESCROW, &b, 1), KS_OK);
	f = msg_get(&m, KS_R_DATA);
	assert_non_null(f);
	blen = f->len;
	blob = malloc(blen);
	assert_non_null(blob);
	memcpy(blob, f->p, blen);
	p = msg_get(&m, KS_R_DATA2)->p;
	k1 = d2i_AutoPrivateKey(NULL, &p, (long)msg_get(&m, KS_R_DATA2)->len);
	assert_non_null(k1);

	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_bytes(&b, KS_F_BLOB, blob, blen);
	msg_put_bytes(&b, KS_F_AAD, aad, sizeof(aad));
	assert_int_equal(ask(MSG_KS_RECOVER, &b, 2), KS_OK);
	f = msg_get(&m, KS_R_DATA);
	assert_non_null(f);
	p = f->p;
	k2 = d2i_AutoPrivateKey(NULL, &p, (long)f->len);
	assert_non_null(k2);
	assert_int_equal(EVP_PKEY_eq(k1, k2), 1);

	memcpy(other, aad, sizeof(other));
	other[0] ^= 1;		/* another card's GUID */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_bytes(&b, KS_F_BLOB, blob, blen);
	msg_put_bytes(&b, KS_F_AAD, other, sizeof(other));
	assert_int_not_equal(ask(MSG_KS_RECOVER, &b, 3), KS_OK);
	assert_null(msg_get(&m, KS_R_DATA));
	blob[blen - 1] ^= 1;	/* the GCM tag */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_bytes(&b, KS_F_BLOB, blob, blen);
	msg_put_bytes(&b, KS_F_AAD, aad, sizeof(aad));
	assert_int_not_equal(ask(MSG_KS_RECOVER, &b, 4), KS_OK);
	assert_null(msg_get(&m, KS_R_DATA));
	/* The aad is GUID || slot [|| generation], 17..21 bytes: anything else
	 * is malformed and ends keyd (the engine never sends it). */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_bytes(&b, KS_F_BLOB, blob, blen);
	msg_put_bytes(&b, KS_F_AAD, aad, 16);
	assert_int_equal(ask(MSG_KS_RECOVER, &b, 5), -1000);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	free(blob);
}

static void
no_token_answers(void **state)
{
	struct msg_builder b;
	int i;

	(void)state;
	/* It stays up and says why, to every request, as often as asked. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(msg_builder_init(&b), MSG_OK);
		assert_int_equal(ask(MSG_KS_INFO, &b, 1 + i), KS_ERR_NOTOKEN);
	}
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_STATION);
	assert_int_equal(ask(MSG_KS_PUBKEY, &b, 10), KS_ERR_NOTOKEN);
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_VERSION, 1);
	msg_put_bytes(&b, KS_F_GUID, (const uint8_t[16]){ 3 }, 16);
	assert_int_equal(ask(MSG_KS_PUK, &b, 11), KS_ERR_NOTOKEN);
	/* What ends keyd with a token ends it without one. */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_AUDIT);
	msg_put_u32(&b, KS_F_MECH, KS_SIGN_RSA_RAW);
	msg_put_bytes(&b, KS_F_TBS, (const uint8_t *)"0123456789abcdef", 16);
	assert_int_equal(ask(MSG_KS_SIGN, &b, 12), -1000);
}

/* Ask for guid's 9B key: the answer's rc (-1000: keyd ended). */
static int
export_key(const uint8_t guid[16], uint64_t id)
{
	struct msg_builder b;

	card_req(&b, guid);
	return ask(MSG_KS_MGMT_KEY, &b, id);
}

/*
 * The ledger keeps "once" across restarts: a GUID exported before is refused
 * by the next keyd (which ends), a torn last record is cut off, and a file
 * others could read or a symbolic link is refused.
 */
static void
once_across_restarts(void **state)
{
	static const uint8_t g1[16] = { 0x11, 1 }, g2[16] = { 0x22, 2 },
	    g3[16] = { 0x33, 3 };
	char dir[] = "/tmp/keydledger.XXXXXX", path[64], lnk[80];
	struct ledger *l = NULL;
	struct stat st;
	const char *why;
	int f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/exported", dir);
	assert_int_equal(spawn("keydtest", path), 0);
	assert_int_equal(export_key(g1, 1), KS_OK);
	assert_int_equal(reap(), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 16);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* a new keyd remembers g1: asking again ends it */
	assert_int_equal(spawn("keydtest", path), 0);
	assert_int_equal(export_key(g1, 2), -1000);
	assert_int_not_equal(reap(), 0);

	/* a crash inside an append: 7 bytes of a record; g2 still goes out */
	assert_true((f = open(path, O_WRONLY | O_APPEND)) >= 0);
	assert_int_equal(write(f, "\x22\x02\0\0\0\0\0", 7), 7);
	close(f);
	assert_int_equal(spawn("keydtest", path), 0);
	assert_int_equal(export_key(g2, 3), KS_OK);
	assert_int_equal(export_key(g3, 4), KS_OK);
	assert_int_equal(export_key(g2, 5), -1000);
	reap();
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3 * 16);

	/* the same, through the library: three GUIDs, nothing else */
	assert_int_equal(ledger_open(path, &l, &why), LEDGER_OK);
	assert_int_equal(ledger_count(l), 3);
	assert_true(ledger_has(l, g1) && ledger_has(l, g2) && ledger_has(l, g3));
	ledger_close(l);
	l = NULL;

	/* a file others may read, or a link, is not the ledger */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ledger_open(path, &l, &why), LEDGER_ERR_FILE);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(lnk, sizeof(lnk), "%s/link", dir);
	assert_int_equal(symlink(path, lnk), 0);
	assert_int_equal(ledger_open(lnk, &l, &why), LEDGER_ERR_FILE);
	assert_null(l);
	unlink(lnk);
	unlink(path);
	rmdir(dir);
}

/* Many GUIDs: the set grows and finds each one (and no other). */
static void
ledger_many(void **state)
{
	struct ledger *l = NULL;
	uint8_t g[16] = { 0 };
	unsigned i;

	(void)state;
	assert_int_equal(ledger_open(NULL, &l, NULL), LEDGER_OK);
	for (i = 0; i < 5000; i++) {
		memcpy(g, &i, sizeof(i));
		assert_int_equal(ledger_add(l, g), LEDGER_OK);
	}
	assert_int_equal(ledger_count(l), 5000);
	for (i = 0; i < 5000; i++) {
		memcpy(g, &i, sizeof(i));
		assert_int_equal(ledger_add(l, g), LEDGER_ERR_SEEN);
	}
	i = 5000;
	memcpy(g, &i, sizeof(i));
	assert_false(ledger_has(l, g));
	ledger_close(l);
}

/*
 * keyd on a module that crashes in C_Sign (tests/keyd/crash_pkcs11.c, next
 * to this program): the signature fails with KS_ERR_HELPER and says why,
 * keyd stays, its helper comes back with a new login (a public key
 * answers); a second crash within the minute puts the restart behind a
 * backoff, which the next request's answer names. keyd never dies.
 */
static int
start_crashing(void **state)
{
	char self[2048], *slash;
	ssize_t n;

	(void)state;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(crash_module, sizeof(crash_module), "%s/crash_pkcs11.so", self);
	if (access(crash_module, R_OK) != 0)
		return -1;
	unsetenv("CRASH_PKCS11_FLAG");	/* crash on every C_Sign */
	module = crash_module;
	return start_label("keydtest");
}

static int
stop_crashing(void **state)
{
	module = KSTOKEN_MODULE;
	return stop(state);
}

static int
sign_audit(uint64_t id)
{
	static const uint8_t tbs[32] = { 1, 2, 3 };
	struct msg_builder b;

	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_AUDIT);
	msg_put_u32(&b, KS_F_MECH, KS_SIGN_ECDSA);
	msg_put_bytes(&b, KS_F_TBS, tbs, sizeof(tbs));
	return ask(MSG_KS_SIGN, &b, id);
}

static int
pubkey_audit(uint64_t id)
{
	struct msg_builder b;

	assert_int_equal(msg_builder_init(&b), MSG_OK);
	msg_put_u32(&b, KS_F_KEY, KEYD_KEY_AUDIT);
	return ask(MSG_KS_PUBKEY, &b, id);
}

/* The answer's detail as a C string (into a static buffer). */
static const char *
detail(void)
{
	static char d[256];
	const struct msg_field *f = msg_get(&m, KS_R_DETAIL);

	snprintf(d, sizeof(d), "%.*s", f != NULL ? (int)f->len : 0,
	    f != NULL ? (const char *)f->p : "");
	return d;
}

static void
helper_crash_costs_one_request(void **state)
{
	struct msg_builder b;
	struct timespec t4, t5;
	int rc;

	(void)state;
	assert_int_equal(pubkey_audit(1), KS_OK);
	assert_int_equal(sign_audit(2), KS_ERR_HELPER);
	assert_non_null(strstr(detail(), "station token unavailable: module "));
	/* SIGSEGV, or a sanitizer's exit after its report */
	assert_true(strstr(detail(), "crashed (signal 11)") != NULL ||
	    strstr(detail(), "helper exited (status 1)") != NULL);
	assert_null(msg_get(&m, KS_R_DATA));
	/* restarted at once, logged in again: the token answers */
	assert_int_equal(pubkey_audit(3), KS_OK);
	assert_non_null(msg_get(&m, KS_R_DATA));
	/*
	 * The second crash within a minute: the restart waits its backoff
	 * (1 s). A request inside it is refused and says so; one that comes
	 * later (a slow run: valgrind on a loaded machine) finds the helper
	 * back, but not before the backoff had passed.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t4);	/* before the crash */
	assert_int_equal(sign_audit(4), KS_ERR_HELPER);
	rc = pubkey_audit(5);
	clock_gettime(CLOCK_MONOTONIC, &t5);
	if (rc == KS_ERR_HELPER)
		assert_non_null(strstr(detail(), "restart in "));
	else {
		assert_int_equal(rc, KS_OK);
		assert_true((t5.tv_sec - t4.tv_sec) * 1000000000L +
		    (t5.tv_nsec - t4.tv_nsec) >= 1000000000L);
	}
	/* keyd itself answers throughout */
	assert_int_equal(msg_builder_init(&b), MSG_OK);
	assert_int_equal(ask(MSG_KS_INFO, &b, 6), KS_OK);
	assert_int_equal(kill(pid, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(budget_and_once, start, stop),
		cmocka_unit_test_setup_teardown(unexpected_type_ends_keyd, start, stop),
		cmocka_unit_test_setup_teardown(audit_key_only_by_role, start, stop),
		cmocka_unit_test_setup_teardown(recover_escrowed, start, stop),
		cmocka_unit_test_setup_teardown(no_token_answers, start_no_token,
		    stop),
		cmocka_unit_test_setup_teardown(once_across_restarts,
		    start_token_only, stop),
		cmocka_unit_test(ledger_many),
		cmocka_unit_test_setup_teardown(helper_crash_costs_one_request,
		    start_crashing, stop_crashing),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
