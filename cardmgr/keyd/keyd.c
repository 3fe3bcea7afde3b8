/* keyd: the key process's loop and permit table. See keyd.h. */
#include "keyd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "keyd/keyd_msg.h"
#include "keyd/ledger.h"
#include "keyd/ks.h"
#include "proc/log.h"
#include "proc/msg.h"

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

struct keyd {
	struct keyd_cfg *cfg;
	struct ks *ks;
	uint32_t master, krk;
	int fd;
};

static int
reply(struct keyd *k, uint64_t id, int rc, const void *d1, size_t l1,
    const void *d2, size_t l2, uint32_t num)
{
	struct msg_builder b;
	int mrc;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_R_RC, (uint32_t)rc);
	if (rc != KS_OK)
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

static uint32_t
num(const struct msg *m, uint16_t tag)
{
	const struct msg_field *f = msg_get(m, tag);

	return f != NULL ? (uint32_t)f->num : 0;
}

static const uint8_t *
bytes(const struct msg *m, uint16_t tag, size_t *len)
{
	const struct msg_field *f = msg_get(m, tag);

	*len = f != NULL ? f->len : 0;
	return f != NULL ? f->p : NULL;
}

static int
do_escrow(struct keyd *k, const struct msg *m, uint64_t id)
{
	uint8_t *blob = NULL, *der = NULL;
	size_t blen = 0, alen;
	const uint8_t *aad = bytes(m, KS_F_AAD, &alen);
	EVP_PKEY *priv = NULL;
	int rc, dlen = 0, ret;

	rc = ks_escrow_generate(k->ks, (int)num(m, KS_F_ALG), aad, alen, &blob,
	    &blen, &priv);
	if (rc == KS_OK && (dlen = i2d_PrivateKey(priv, &der)) <= 0)
		rc = KS_ERR_CRYPTO;
	ret = reply(k, id, rc, blob, blen, der, dlen > 0 ? (size_t)dlen : 0, 0);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)dlen);
	EVP_PKEY_free(priv);
	free(blob);
	return ret;
}

/*
 * Key recovery (replace, temporary card): an escrow blob the engine kept
 * with a card record, opened with the AAD it was made with (the card's
 * GUID || slot): the private key goes to the engine, which imports it into
 * the new card. Only escrowed key management keys exist to recover; the
 * engine's gates (roles, approvals) decide whether to ask. Logged without
 * anything secret.
 * XXX no budget: an engine taken over can have every blob it stores opened.
 * A per-hour cap (as for 9B blocks), or approvals signed by approvers that
 * keyd checks itself, would bound it.
 */
static int
do_recover(struct keyd *k, const struct msg *m, uint64_t id)
{
	size_t blen, alen;
	const uint8_t *blob = bytes(m, KS_F_BLOB, &blen);
	const uint8_t *aad = bytes(m, KS_F_AAD, &alen);
	EVP_PKEY *priv = NULL;
	uint8_t *der = NULL;
	char g[33];
	int rc, dlen = 0, ret;

	rc = ks_escrow_recover(k->ks, blob, blen, aad, alen, &priv);
	if (rc == KS_OK && (dlen = i2d_PrivateKey(priv, &der)) <= 0)
		rc = KS_ERR_CRYPTO;
	for (size_t i = 0; i < 16 && i < alen; i++)
		snprintf(g + 2 * i, 3, "%02x", aad[i]);
	g[alen >= 16 ? 32 : 2 * alen] = '\0';
	log_info("escrowed key of card %s slot %02x: recovery %s", g,
	    alen == 17 ? aad[16] : 0, rc == KS_OK ? "done" : ks_strerror(rc));
	ret = reply(k, id, rc, der, dlen > 0 ? (size_t)dlen : 0, NULL, 0, 0);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)dlen);
	EVP_PKEY_free(priv);
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
	    key_label(k, num(m, KS_F_KEY)) == NULL)
		return -1;
	if (type == MSG_KS_SIGN && num(m, KS_F_MECH) == KS_SIGN_RSA_RAW &&
	    num(m, KS_F_KEY) != KEYD_KEY_STATION)
		return -1;
	return reply(k, m->hdr.id, KS_ERR_NOTOKEN, NULL, 0, NULL, 0, 0);
}

static int
dispatch(struct keyd *k, const struct msg *m)
{
	uint8_t out[1024];
	char puk[9];
	size_t n = 0, tl;
	const uint8_t *p;
	const char *label;
	EVP_PKEY *pub = NULL;
	uint8_t *der = NULL;
	int rc, dl, ret;
	uint64_t id = m->hdr.id;

	if (k->ks == NULL)
		return no_token(k, m);
	switch (m->hdr.type) {
	case MSG_KS_INFO:
		return reply(k, id, KS_OK, NULL, 0, NULL, 0, k->master);
	case MSG_KS_MASTER_NEW: {
		time_t now = time(NULL);
		uint32_t v = 0;

		if (master_new_at != 0 && now - master_new_at < MASTER_NEW_EVERY_S) {
			log_warnx("new master key refused: one an hour");
			return reply(k, id, KS_ERR_EXISTS, NULL, 0, NULL, 0, k->master);
		}
		if ((rc = ks_master_create(k->ks, &v)) == KS_OK) {
			master_new_at = now;
			k->master = v;
			log_info("master key v%u created: new cards use it", v);
		}
		return reply(k, id, rc, NULL, 0, NULL, 0, k->master);
	}
	case MSG_KS_MGMT_KEY:
		p = bytes(m, KS_F_GUID, &tl);
		if ((rc = ledger_add(k->cfg->ledger, p)) == LEDGER_ERR_SEEN) {
			log_warnx("a card's 9B key asked for twice");
			return -1;	/* fatal: see above */
		}
		if (rc != LEDGER_OK) {
			log_warnx("key export ledger: %s", ledger_strerror(rc));
			return reply(k, id, KS_ERR_TOKEN, NULL, 0, NULL, 0, 0);
		}
		n = 32;
		rc = ks_derive_mgmt_key(k->ks, num(m, KS_F_VERSION), p,
		    (int)num(m, KS_F_ALG), out, n = (num(m, KS_F_ALG) == 0x08 ?
		    16 : num(m, KS_F_ALG) == 0x0C ? 32 : 24));
		ret = reply(k, id, rc, rc == KS_OK ? out : NULL, n, NULL, 0, 0);
		sodium_memzero(out, sizeof(out));
		return ret;
	case MSG_KS_MGMT_CRYPT:
		if (crypt_budget(bytes(m, KS_F_GUID, &tl)) != 0) {
			log_warnx("9B challenge over budget: refused");
			return reply(k, id, KS_ERR_ARG, NULL, 0, NULL, 0, 0);
		}
		p = bytes(m, KS_F_BLOCK, &n);
		rc = ks_mgmt_crypt(k->ks, num(m, KS_F_VERSION),
		    bytes(m, KS_F_GUID, &tl), (int)num(m, KS_F_ALG),
		    (int)num(m, KS_F_ENCRYPT), p, out, n);
		ret = reply(k, id, rc, rc == KS_OK ? out : NULL, n, NULL, 0, 0);
		sodium_memzero(out, sizeof(out));
		return ret;
	case MSG_KS_PUK:
		rc = ks_derive_puk(k->ks, num(m, KS_F_VERSION),
		    bytes(m, KS_F_GUID, &tl), puk);
		ret = reply(k, id, rc, rc == KS_OK ? puk : NULL, 8, NULL, 0, 0);
		sodium_memzero(puk, sizeof(puk));
		return ret;
	case MSG_KS_ESCROW:
		return do_escrow(k, m, id);
	case MSG_KS_RECOVER:
		return do_recover(k, m, id);
	case MSG_KS_SIGN:
		if ((label = key_label(k, num(m, KS_F_KEY))) == NULL)
			return -1;	/* not a key the engine may name */
		/* Raw RSA (PSS encoded by OpenSSL) only for the CA link's key. */
		if (num(m, KS_F_MECH) == KS_SIGN_RSA_RAW &&
		    num(m, KS_F_KEY) != KEYD_KEY_STATION)
			return -1;
		p = bytes(m, KS_F_TBS, &tl);
		n = sizeof(out);
		rc = ks_sign(k->ks, label, (int)num(m, KS_F_MECH), p, tl, out, &n);
		return reply(k, id, rc, rc == KS_OK ? out : NULL, n, NULL, 0, 0);
	case MSG_KS_PUBKEY:
		if ((label = key_label(k, num(m, KS_F_KEY))) == NULL)
			return -1;
		rc = ks_pubkey(k->ks, label, &pub);
		if (rc == KS_OK && (dl = i2d_PUBKEY(pub, &der)) <= 0)
			rc = KS_ERR_CRYPTO;
		ret = reply(k, id, rc, der, rc == KS_OK ? (size_t)dl : 0, NULL,
		    0, 0);
		OPENSSL_free(der);
		EVP_PKEY_free(pub);
		return ret;
	default:
		return -1;
	}
}

/* First start: the master key, the key recovery key and the audit key. */
static int
provision(struct keyd *k)
{
	int rc;

	if ((rc = ks_master_current(k->ks, &k->master)) == KS_ERR_NOKEY)
		rc = ks_master_create(k->ks, &k->master);
	if (rc != KS_OK)
		return rc;
	if ((rc = ks_krk_current(k->ks, &k->krk)) == KS_ERR_NOKEY)
		rc = ks_krk_create(k->ks, &k->krk);
	if (rc != KS_OK)
		return rc;
	rc = ks_keypair_create(k->ks, k->cfg->audit_label, KS_KEY_P256);
	return rc == KS_ERR_EXISTS ? KS_OK : rc;
}

int
keyd_main(struct keyd_cfg *cfg, int fd)
{
	struct ks_cfg kc = { cfg->module, cfg->token, cfg->pin, cfg->pinlen };
	struct keyd k = { cfg, NULL, 0, 0, fd };
	struct msg_hdr h;
	struct msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, status = 1;

	log_setproc("keyd");
	if (cfg->ledger == NULL && ledger_open(NULL, &cfg->ledger, NULL) !=
	    LEDGER_OK)
		goto out;
	rc = ks_open(&kc, &k.ks);
	sodium_free(cfg->pin);	/* wipes: the session stays logged in */
	cfg->pin = NULL;
	/*
	 * A missing or damaged token is not a reason to go: the daemon stays
	 * up to say so (GET /v1/status), every key request is answered
	 * KS_ERR_NOTOKEN, and nothing is provisioned into a token that might
	 * come back from its backup.
	 */
	if (rc == KS_ERR_NOTOKEN)
		log_warnx("station token '%s' damaged or missing: restore it from "
		    "its backup (provisioning/token-backup.sh, docs/keystore.md); "
		    "no key operation until then", cfg->token);
	else if (rc != KS_OK) {
		log_warnx("token '%s': %s", cfg->token, ks_strerror(rc));
		goto out;
	} else if ((rc = provision(&k)) != KS_OK) {
		log_warnx("provisioning station keys: %s (%s)", ks_strerror(rc),
		    ks_detail(k.ks));
		goto out;
	}
	if ((buf = sodium_malloc(MSG_MAX)) == NULL ||
	    (m = malloc(sizeof(*m))) == NULL)
		goto out;
	if (k.ks != NULL)
		log_info("ready: master key v%u, key recovery key v%u", k.master,
		    k.krk);
	for (;;) {
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
		rc = dispatch(&k, m);
		sodium_memzero(buf, len);
		if (rc != 0) {
			log_warnx("request type %u: protocol violation", h.type);
			break;
		}
	}
out:
	ks_close(k.ks);
	ledger_close(cfg->ledger);
	cfg->ledger = NULL;
	free(m);
	if (buf != NULL)
		sodium_free(buf);
	return status;
}
