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
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "keyd/keyd.h"
#include "keyd/keyd_msg.h"
#include "keyd/kstoken.h"
#include "keyd/ks.h"
#include "proc/msg.h"

static struct kstoken tok;
static int fd = -1;
static pid_t pid;
static uint8_t buf[MSG_MAX];
static struct msg m;

static int
start_label(const char *label)
{
	struct keyd_cfg cfg = { KSTOKEN_MODULE, label, NULL,
	    "station-key", "cardmgr-audit", NULL, 0 };
	int sv[2];

	if (sodium_init() < 0 || kstoken_init(&tok, "keydtest", "4711-test") != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		close(sv[0]);
		cfg.pinlen = strlen(tok.pin);
		cfg.pin = sodium_malloc(cfg.pinlen);
		memcpy(cfg.pin, tok.pin, cfg.pinlen);
		_exit(keyd_main(&cfg, sv[1]));
	}
	close(sv[1]);
	fd = sv[0];
	return pid > 0 ? 0 : -1;
}

static int
start(void **state)
{
	(void)state;
	return start_label("keydtest");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(budget_and_once, start, stop),
		cmocka_unit_test_setup_teardown(unexpected_type_ends_keyd, start, stop),
		cmocka_unit_test_setup_teardown(audit_key_only_by_role, start, stop),
		cmocka_unit_test_setup_teardown(no_token_answers, start_no_token,
		    stop),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
