/* keyd: the key process's loop and permit table. See keyd.h. */
#include "keyd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "keyd/keyd_msg.h"
#include "keyd/kh.h"
#include "keyd/ledger.h"
#include "keyd/ks.h"
#include "proc/log.h"
#include "proc/msg.h"
#include "proc/sandbox.h"

#define SECRET_MAX 256

/*
 * What the engine may ask, in the spirit of OpenSSH's monitor.c: anything
 * not listed is a protocol violation and ends keyd. (No ONCE entries yet:
 * every request here is needed again for the next card.)
 */
static const uint32_t permitted[] = {
	MSG_KS_INFO, MSG_KS_MGMT_KEY, MSG_KS_MGMT_CRYPT, MSG_KS_PUK,
	MSG_KS_ESCROW, MSG_KS_SIGN, MSG_KS_PUBKEY, MSG_KS_MASTER_NEW,
	MSG_KS_RECOVER,
};

/*
 * A new master key version: new cards are diversified under it, cards
 * already issued keep theirs (their record names it). At most one an hour,
 * so that an engine gone wrong cannot fill the token with keys.
 */
#define MASTER_NEW_EVERY_S 3600
static time_t master_new_at;

/*
 * A card's 9B key leaves keyd once, when the card is issued (SET MANAGEMENT
 * KEY carries it to the card). Asking again for the same GUID is a protocol
 * violation: afterwards keyd answers the card's challenges itself
 * (MSG_KS_MGMT_CRYPT), within a budget, so that it is no ECB oracle: a
 * mutual authentication is two blocks; a card gets CRYPT_PER_CARD blocks a
 * window, all cards together CRYPT_ALL. The exported set is the ledger
 * (ledger.h): on disk before the key is sent, so a restart does not reopen it.
 */
#define CRYPT_WINDOW_S 60
#define CRYPT_PER_CARD 8
#define CRYPT_ALL 240
#define BUDGETS 64

struct budget {
	uint8_t guid[16];
	time_t start;
	unsigned n;
};
static struct budget budgets[BUDGETS];
static time_t all_start;
static unsigned all_n;

/* 0 if one more 9B block for guid is within the budget (and counts it). */
static int
crypt_budget(const uint8_t guid[16])
{
	time_t now = time(NULL);
	struct budget *b = NULL, *oldest = &budgets[0];

	if (now - all_start >= CRYPT_WINDOW_S) {
		all_start = now;
		all_n = 0;
	}
	for (int i = 0; i < BUDGETS && b == NULL; i++) {
		if (memcmp(budgets[i].guid, guid, 16) == 0)
			b = &budgets[i];
		else if (budgets[i].start < oldest->start)
			oldest = &budgets[i];
	}
	if (b == NULL) {
		b = oldest;
		memcpy(b->guid, guid, 16);
		b->start = now;
		b->n = 0;
	}
	if (now - b->start >= CRYPT_WINDOW_S) {
		b->start = now;
		b->n = 0;
	}
	if (b->n >= CRYPT_PER_CARD || all_n >= CRYPT_ALL)
		return -1;
	b->n++;
	all_n++;
	return 0;
}

static int
is_permitted(uint32_t type)
{
	for (size_t i = 0; i < sizeof(permitted) / sizeof(permitted[0]); i++)
		if (permitted[i] == type)
			return 1;
	return 0;
}

int
keyd_read_secret(const char *path, size_t max, uint8_t **out, size_t *len,
    const char **why)
{
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	*out = NULL;
	*len = 0;
	*why = "cannot open";
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		*why = "owned by another user";
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		*why = "group or others have access (chmod 600)";
		goto out;
	}
	if ((buf = sodium_malloc(max + 1)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	while ((n = read(fd, buf + got, max + 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0 || got > max || got == 0) {
		*why = got > max ? "too long" : "empty or unreadable";
		goto out;
	}
	if (buf[got - 1] == '\n')
		got--;
	*out = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		sodium_free(buf);
	close(fd);
	return rc;
}

int
keyd_setup(struct keyd_cfg *cfg)
{
	const char *why;

	if (sodium_init() < 0)
		return -1;
	if (keyd_read_secret(cfg->pin_file, SECRET_MAX, &cfg->pin,
	    &cfg->pinlen, &why) != 0) {
		log_warnx("token PIN file %s: %s", cfg->pin_file, why);
		return -1;
	}
	/*
	 * Root's file in root's directory: keyd's user can only append through
	 * this descriptor, and no other process user can replace it.
	 */
	if (cfg->ledger_path != NULL) {
		char dir[4096], *slash;

		snprintf(dir, sizeof(dir), "%s", cfg->ledger_path);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
				log_warnx("key export ledger directory %s: %s", dir,
				    strerror(errno));
				return -1;
			}
		}
	}
	if (cfg->ledger_path != NULL && ledger_open(cfg->ledger_path,
	    &cfg->ledger, &why) != LEDGER_OK) {
		log_warnx("key export ledger %s: %s", cfg->ledger_path, why);
		return -1;
	}
	return 0;
}

/*
 * keyd holds no module code: the token's module runs in the PKCS#11 helper
 * (kh.h, p11h.c). keyd decides, the helper does the token work, and its
 * answers come back through kh_reply_check before they go to the engine.
 */
struct keyd {
	struct keyd_cfg *cfg;
	struct kh *kh;		/* NULL: no token (KS_ERR_NOTOKEN to all) */
	uint32_t master, krk;
	int fd;
	const uint8_t *req;	/* the request being served, as received */
	size_t reqlen;
	uint8_t *rbuf;		/* the helper's answer (MSG_MAX) */
	struct msg *rm;
};

static int
reply(struct keyd *k, uint64_t id, int rc, const void *d1, size_t l1,
    const void *d2, size_t l2, uint32_t num)
{
	struct msg_builder b;
	char why[200];
	int mrc;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_R_RC, (uint32_t)rc);
	if (rc == KS_ERR_HELPER) {
		snprintf(why, sizeof(why), "station token unavailable: %s",
		    kh_detail(k->kh));
		msg_put_str(&b, KS_R_DETAIL, why);
	} else if (rc != KS_OK)
		msg_put_str(&b, KS_R_DETAIL, ks_strerror(rc));
	if (d1 != NULL)
		msg_put_bytes(&b, KS_R_DATA, d1, l1);
	if (d2 != NULL)
		msg_put_bytes(&b, KS_R_DATA2, d2, l2);
	msg_put_u32(&b, KS_R_NUM, num);
	mrc = msg_send(k->fd, MSG_KS_RESP, id, &b);
	msg_builder_clear(&b);	/* wipes what it carried */
	return mrc == MSG_OK ? 0 : -1;
}

static const char *
key_label(struct keyd *k, uint32_t which)
{
	if (which == KEYD_KEY_STATION)
		return k->cfg->station_label;
	if (which == KEYD_KEY_AUDIT)
		return k->cfg->audit_label;
	return NULL;
}

/*
 * Have the helper do the token work of the request being served, and pass
 * its checked answer on to the engine as it is (same id). expect: the data
 * length a success must carry (0: any). [out] *rc the token's answer.
 */
static int
forward(struct keyd *k, size_t expect, int *rc)
{
	struct msg_hdr h;
	ssize_t n;

	if (msg_hdr_parse(k->req, k->reqlen, &h) != MSG_OK)
		return -1;
	*rc = kh_call(k->kh, k->req, k->reqlen, k->rbuf, MSG_MAX, expect, k->rm);
	if (*rc != KS_OK)
		return reply(k, h.id, *rc, NULL, 0, NULL, 0, 0);
	*rc = (int)(int32_t)msg_get(k->rm, KS_R_RC)->num;
	do
		n = send(k->fd, k->rbuf, (size_t)k->rm->hdr.len + MSG_HDR_LEN,
		    MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	sodium_memzero(k->rbuf, (size_t)k->rm->hdr.len + MSG_HDR_LEN);
	return n == (ssize_t)(k->rm->hdr.len + MSG_HDR_LEN) ? 0 : -1;
}

/*
 * Key recovery (replace, temporary card): an escrow blob the engine kept
 * with a card record, opened with the AAD it was made with (the card's
 * GUID || slot, and || generation u32 for a renewal's): the private key goes to the engine, which imports it into
 * the new card. Only escrowed key management keys exist to recover; the
 * engine's gates (roles, approvals) decide whether to ask. Logged without
 * anything secret.
 * XXX no budget: an engine taken over can have every blob it stores opened.
 * A per-hour cap (as for 9B blocks), or approvals signed by approvers that
 * keyd checks itself, would bound it.
 */
static int
do_recover(struct keyd *k, const struct msg *m)
{
	size_t alen;
	const uint8_t *aad = msg_bytes(m, KS_F_AAD, &alen);
	char g[33];
	int rc = KS_ERR_HELPER, ret;

	ret = forward(k, 0, &rc);
	for (size_t i = 0; i < 16 && i < alen; i++)
		snprintf(g + 2 * i, 3, "%02x", aad[i]);
	g[alen >= 16 ? 32 : 2 * alen] = '\0';
	log_info("escrowed key of card %s slot %02x: recovery %s", g,
	    alen >= 17 ? aad[16] : 0, rc == KS_OK ? "done" : ks_strerror(rc));
	return ret;
}

/*
 * Without its token keyd answers, and has nothing to give; a request that
 * would end it with a token ends it without one too.
 */
static int
no_token(struct keyd *k, const struct msg *m)
{
	uint32_t type = m->hdr.type;

	if ((type == MSG_KS_SIGN || type == MSG_KS_PUBKEY) &&
	    key_label(k, msg_num(m, KS_F_KEY)) == NULL)
		return -1;
	if (type == MSG_KS_SIGN && msg_num(m, KS_F_MECH) == KS_SIGN_RSA_RAW &&
	    msg_num(m, KS_F_KEY) != KEYD_KEY_STATION)
		return -1;
	return reply(k, m->hdr.id, KS_ERR_NOTOKEN, NULL, 0, NULL, 0, 0);
}

static int
dispatch(struct keyd *k, const struct msg *m)
{
	size_t n = 0, tl;
	const uint8_t *p;
	int rc, ret;
	uint64_t id = m->hdr.id;
	uint32_t alg = msg_num(m, KS_F_ALG);

	if (k->kh == NULL)
		return no_token(k, m);
	switch (m->hdr.type) {
	case MSG_KS_INFO:
		return reply(k, id, KS_OK, NULL, 0, NULL, 0, k->master);
	case MSG_KS_MASTER_NEW: {
		time_t now = time(NULL);

		if (master_new_at != 0 && now - master_new_at < MASTER_NEW_EVERY_S) {
			log_warnx("new master key refused: one an hour");
			return reply(k, id, KS_ERR_EXISTS, NULL, 0, NULL, 0, k->master);
		}
		/* the answer's NUM: the new version (the helper's reply) */
		if ((ret = forward(k, 0, &rc)) == 0 && rc == KS_OK) {
			master_new_at = now;
			k->master = (uint32_t)msg_get(k->rm, KS_R_NUM)->num;
			log_info("master key v%u created: new cards use it",
			    k->master);
		}
		return ret;
	}
	case MSG_KS_MGMT_KEY:
		p = msg_bytes(m, KS_F_GUID, &tl);
		if ((rc = ledger_add(k->cfg->ledger, p)) == LEDGER_ERR_SEEN) {
			log_warnx("a card's 9B key asked for twice");
			return -1;	/* fatal: see above */
		}
		if (rc != LEDGER_OK) {
			log_warnx("key export ledger: %s", ledger_strerror(rc));
			return reply(k, id, KS_ERR_TOKEN, NULL, 0, NULL, 0, 0);
		}
		return forward(k, alg == KS_DIV_AES128 ? 16 : alg == KS_DIV_AES256 ?
		    32 : 24, &rc);
	case MSG_KS_MGMT_CRYPT:
		if (crypt_budget(msg_bytes(m, KS_F_GUID, &tl)) != 0) {
			log_warnx("9B challenge over budget: refused");
			return reply(k, id, KS_ERR_ARG, NULL, 0, NULL, 0, 0);
		}
		(void)msg_bytes(m, KS_F_BLOCK, &n);
		return forward(k, n, &rc);
	case MSG_KS_PUK:
	case MSG_KS_ESCROW:
		return forward(k, 0, &rc);
	case MSG_KS_RECOVER:
		return do_recover(k, m);
	case MSG_KS_SIGN:
		if (key_label(k, msg_num(m, KS_F_KEY)) == NULL)
			return -1;	/* not a key the engine may name */
		/* Raw RSA (PSS encoded by OpenSSL) only for the CA link's key. */
		if (msg_num(m, KS_F_MECH) == KS_SIGN_RSA_RAW &&
		    msg_num(m, KS_F_KEY) != KEYD_KEY_STATION)
			return -1;
		return forward(k, 0, &rc);
	case MSG_KS_PUBKEY:
		if (key_label(k, msg_num(m, KS_F_KEY)) == NULL)
			return -1;
		return forward(k, 0, &rc);
	default:
		return -1;
	}
}

/* Fork the PKCS#11 helper and open the token in it: its KS_* answer. */
static int
open_token(struct keyd *k)
{
	struct keyd_cfg *cfg = k->cfg;
	struct kh_cfg hc = { cfg->module, cfg->token, cfg->station_label,
	    cfg->audit_label, cfg->pin, cfg->pinlen, SBX_OFF, 0, 0 };
	enum sbx_mode mode = SBX_OFF;
	int rc;

	if (cfg->seccomp != NULL && sbx_mode_parse(cfg->seccomp, &mode) != SBX_OK)
		return KS_ERR_ARG;
	hc.sbx_mode = (int)mode;
	/* kh keeps the PIN sealed, to log in again after a restart */
	if (kh_open(&hc, &k->kh, &rc, &k->master, &k->krk) != 0) {
		log_warnx("token '%s': %s", cfg->token, kh_detail(k->kh));
		return KS_ERR_HELPER;
	}
	return rc;
}

int
keyd_main(struct keyd_cfg *cfg, int fd)
{
	struct keyd k = { cfg, NULL, 0, 0, fd, NULL, 0, NULL, NULL };
	struct msg_hdr h;
	struct msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, status = 1;

	log_setproc("keyd");
	if (cfg->ledger == NULL && ledger_open(NULL, &cfg->ledger, NULL) !=
	    LEDGER_OK)
		goto out;
	if ((k.rbuf = sodium_malloc(MSG_MAX)) == NULL ||
	    (k.rm = malloc(sizeof(*k.rm))) == NULL)
		goto out;
	rc = open_token(&k);
	/*
	 * A missing or damaged token is not a reason to go: the daemon stays
	 * up to say so (GET /v1/status), every key request is answered
	 * KS_ERR_NOTOKEN, and nothing is provisioned into a token that might
	 * come back from its backup.
	 */
	if (rc == KS_ERR_NOTOKEN) {
		log_warnx("station token '%s' damaged or missing: restore it from "
		    "its backup (provisioning/token-backup.sh, docs/keystore.md); "
		    "no key operation until then", cfg->token);
		kh_close(k.kh);
		k.kh = NULL;
	} else if (rc != KS_OK) {
		if (rc != KS_ERR_HELPER)
			log_warnx("token '%s': %s", cfg->token, ks_strerror(rc));
		goto out;
	}
	if ((buf = sodium_malloc(MSG_MAX)) == NULL ||
	    (m = malloc(sizeof(*m))) == NULL)
		goto out;
	if (k.kh != NULL)
		log_info("ready: master key v%u, key recovery key v%u (PKCS#11 "
		    "helper %d)", k.master, k.krk, kh_pid(k.kh));
	for (;;) {
		/* a helper down after a crash comes back when its backoff ends */
		if (k.kh != NULL && kh_wait_ms(k.kh) >= 0) {
			struct pollfd pfd = { fd, POLLIN, 0 };

			if (poll(&pfd, 1, kh_wait_ms(k.kh)) == 0) {
				kh_tick(k.kh);
				continue;
			}
		}
		rc = msg_recv(fd, buf, MSG_MAX, &h, &len);
		if (rc == MSG_ERR_CLOSED) {
			status = 0;
			break;
		}
		if (rc != MSG_OK || !is_permitted(h.type) ||
		    msg_decode(buf, len, m) != MSG_OK) {
			log_warnx("refused request type %u: %s", h.type,
			    rc != MSG_OK ? msg_strerror(rc) : "not permitted or malformed");
			break;
		}
		k.req = buf;
		k.reqlen = len;
		rc = dispatch(&k, m);
		sodium_memzero(buf, len);
		if (rc != 0) {
			log_warnx("request type %u: protocol violation", h.type);
			break;
		}
	}
out:
	kh_close(k.kh);
	if (cfg->pin != NULL)
		sodium_free(cfg->pin);	/* wipes the sealed copy */
	cfg->pin = NULL;
	free(k.rm);
	if (k.rbuf != NULL)
		sodium_free(k.rbuf);
	ledger_close(cfg->ledger);
	cfg->ledger = NULL;
	free(m);
	if (buf != NULL)
		sodium_free(buf);
	return status;
}
