/*
 * p11h: the PKCS#11 helper, the only process that runs the station token's
 * vendor module (the idea of OpenSSH's ssh-pkcs11-helper). keyd forks it
 * (kh.c) and keeps every decision: the permit table, the 9B budget, the
 * export ledger, which key may do what. The helper does the token work of a
 * request keyd already let through and answers it; if the module crashes or
 * hangs, only the helper goes, and keyd answers the request with an error
 * and starts another. See kh.h and docs/daemon.md, "Vendor modules".
 */
#include "keyd/kh.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "keyd/keyd_msg.h"
#include "keyd/ks.h"
#include "proc/log.h"
#include "proc/msg.h"
#include "proc/sandbox.h"

struct p11h {
	int fd;
	struct ks *ks;
	char station[65], audit[65];
};

static int
reply(struct p11h *p, uint64_t id, int rc, const void *d1, size_t l1,
    const void *d2, size_t l2, uint32_t num, uint32_t num2)
{
	struct msg_builder b;
	int mrc;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_R_RC, (uint32_t)rc);
	if (rc != KS_OK)
		msg_put_str(&b, KS_R_DETAIL, ks_strerror(rc));
	if (rc == KS_OK && d1 != NULL)
		msg_put_bytes(&b, KS_R_DATA, d1, l1);
	if (rc == KS_OK && d2 != NULL)
		msg_put_bytes(&b, KS_R_DATA2, d2, l2);
	msg_put_u32(&b, KS_R_NUM, num);
	msg_put_u32(&b, KS_R_NUM2, num2);
	mrc = msg_send(p->fd, MSG_KS_RESP, id, &b);
	msg_builder_clear(&b);	/* wipes what it carried */
	return mrc == MSG_OK ? 0 : -1;
}

/* A string field into buf (the decoder checked it has no NUL). */
static int
str(const struct msg *m, uint16_t tag, char *buf, size_t cap)
{
	const struct msg_field *f = msg_get(m, tag);

	if (f == NULL || f->len >= cap)
		return -1;
	memcpy(buf, f->p, f->len);
	buf[f->len] = '\0';
	return 0;
}

/* First start: the master key, the key recovery key and the audit key. */
static int
provision(struct p11h *p, uint32_t *master, uint32_t *krk)
{
	int rc;

	if ((rc = ks_master_current(p->ks, master)) == KS_ERR_NOKEY)
		rc = ks_master_create(p->ks, master);
	if (rc != KS_OK)
		return rc;
	if ((rc = ks_krk_current(p->ks, krk)) == KS_ERR_NOKEY)
		rc = ks_krk_create(p->ks, krk);
	if (rc != KS_OK)
		return rc;
	rc = ks_keypair_create(p->ks, p->audit, KS_KEY_P256);
	return rc == KS_ERR_EXISTS ? KS_OK : rc;
}

/* MSG_KS_P11H_OPEN: load, log in, provision; the PIN is wiped here. */
static int
do_open(struct p11h *p, const struct msg *m)
{
	char module[4096], token[33];
	size_t pl;
	const uint8_t *pin = msg_bytes(m, KS_F_PIN, &pl);
	struct ks_cfg kc = { module, token, pin, pl };
	uint32_t master = 0, krk = 0;
	int rc;

	if (str(m, KS_F_MODULE, module, sizeof(module)) != 0 ||
	    str(m, KS_F_TOKEN, token, sizeof(token)) != 0 ||
	    str(m, KS_F_STATION, p->station, sizeof(p->station)) != 0 ||
	    str(m, KS_F_AUDIT, p->audit, sizeof(p->audit)) != 0)
		return -1;
	rc = ks_open(&kc, &p->ks);
	if (rc == KS_OK && (rc = provision(p, &master, &krk)) != KS_OK)
		log_warnx("provisioning station keys: %s (%s)", ks_strerror(rc),
		    ks_detail(p->ks));
	else if (rc != KS_OK && rc != KS_ERR_NOTOKEN)
		log_warnx("token '%s': %s (%s)", token, ks_strerror(rc),
		    ks_detail(p->ks));
	if (reply(p, m->hdr.id, rc, NULL, 0, NULL, 0, master, krk) != 0)
		return -1;
	return rc == KS_OK ? 0 : -1;
}

static const char *
label(struct p11h *p, uint32_t which)
{
	if (which == KEYD_KEY_STATION)
		return p->station;
	if (which == KEYD_KEY_AUDIT)
		return p->audit;
	return NULL;
}

/* The escrow and recovery answers: the private key as DER. */
static int
reply_key(struct p11h *p, uint64_t id, int rc, const uint8_t *blob,
    size_t blen, EVP_PKEY *priv)
{
	uint8_t *der = NULL;
	int dlen = 0, ret;

	if (rc == KS_OK && (dlen = i2d_PrivateKey(priv, &der)) <= 0)
		rc = KS_ERR_CRYPTO;
	if (blob != NULL)
		ret = reply(p, id, rc, blob, blen, der, dlen > 0 ? (size_t)dlen :
		    0, 0, 0);
	else
		ret = reply(p, id, rc, der, dlen > 0 ? (size_t)dlen : 0, NULL, 0,
		    0, 0);
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)dlen);
	return ret;
}

static int
dispatch(struct p11h *p, const struct msg *m)
{
	uint8_t out[1024], *blob = NULL, *der = NULL;
	char puk[9];
	size_t n, tl, al;
	const uint8_t *d, *aad;
	const char *lab;
	EVP_PKEY *key = NULL;
	uint32_t alg = msg_num(m, KS_F_ALG), v = 0;
	uint64_t id = m->hdr.id;
	int rc, ret, dl = 0;

	switch (m->hdr.type) {
	case MSG_KS_MASTER_NEW:
		rc = ks_master_create(p->ks, &v);
		return reply(p, id, rc, NULL, 0, NULL, 0, v, 0);
	case MSG_KS_MGMT_KEY:
		n = alg == KS_DIV_AES128 ? 16 : alg == KS_DIV_AES256 ? 32 : 24;
		rc = ks_derive_mgmt_key(p->ks, msg_num(m, KS_F_VERSION),
		    msg_bytes(m, KS_F_GUID, &tl), (int)alg, out, n);
		ret = reply(p, id, rc, out, n, NULL, 0, 0, 0);
		sodium_memzero(out, sizeof(out));
		return ret;
	case MSG_KS_MGMT_CRYPT:
		d = msg_bytes(m, KS_F_BLOCK, &n);
		rc = ks_mgmt_crypt(p->ks, msg_num(m, KS_F_VERSION),
		    msg_bytes(m, KS_F_GUID, &tl), (int)alg,
		    (int)msg_num(m, KS_F_ENCRYPT), d, out, n);
		ret = reply(p, id, rc, out, n, NULL, 0, 0, 0);
		sodium_memzero(out, sizeof(out));
		return ret;
	case MSG_KS_PUK:
		rc = ks_derive_puk(p->ks, msg_num(m, KS_F_VERSION),
		    msg_bytes(m, KS_F_GUID, &tl), puk);
		ret = reply(p, id, rc, puk, 8, NULL, 0, 0, 0);
		sodium_memzero(puk, sizeof(puk));
		return ret;
	case MSG_KS_ESCROW:
		aad = msg_bytes(m, KS_F_AAD, &al);
		rc = ks_escrow_generate(p->ks, (int)alg, aad, al, &blob, &n, &key);
		ret = reply_key(p, id, rc, blob, n, key);
		EVP_PKEY_free(key);
		free(blob);
		return ret;
	case MSG_KS_RECOVER:
		d = msg_bytes(m, KS_F_BLOB, &n);
		aad = msg_bytes(m, KS_F_AAD, &al);
		rc = ks_escrow_recover(p->ks, d, n, aad, al, &key);
		ret = reply_key(p, id, rc, NULL, 0, key);
		EVP_PKEY_free(key);
		return ret;
	case MSG_KS_SIGN:
		if ((lab = label(p, msg_num(m, KS_F_KEY))) == NULL)
			return -1;
		d = msg_bytes(m, KS_F_TBS, &tl);
		n = sizeof(out);
		rc = ks_sign(p->ks, lab, (int)msg_num(m, KS_F_MECH), d, tl, out, &n);
		return reply(p, id, rc, out, n, NULL, 0, 0, 0);
	case MSG_KS_PUBKEY:
		if ((lab = label(p, msg_num(m, KS_F_KEY))) == NULL)
			return -1;
		rc = ks_pubkey(p->ks, lab, &key);
		if (rc == KS_OK && (dl = i2d_PUBKEY(key, &der)) <= 0)
			rc = KS_ERR_CRYPTO;
		ret = reply(p, id, rc, der, dl > 0 ? (size_t)dl : 0, NULL, 0, 0,
		    0);
		OPENSSL_free(der);
		EVP_PKEY_free(key);
		return ret;
	default:
		return -1;	/* keyd never forwards anything else */
	}
}

int
p11h_main(int fd, int sbx_mode)
{
	struct p11h p = { .fd = fd };
	struct msg_hdr h;
	struct msg *m = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, status = 1;

	log_setproc("p11h");
	/* The module runs under the helper's own list, from its first call. */
	if (sbx_apply(SBX_P11H, (enum sbx_mode)sbx_mode, "p11h") != SBX_OK) {
		log_warnx("sandbox refused");
		goto out;
	}
	if ((buf = sodium_malloc(MSG_MAX)) == NULL ||
	    (m = malloc(sizeof(*m))) == NULL)
		goto out;
	for (int first = 1;; first = 0) {
		rc = msg_recv(fd, buf, MSG_MAX, &h, &len);
		if (rc == MSG_ERR_CLOSED) {
			status = 0;
			break;
		}
		if (rc != MSG_OK || msg_decode(buf, len, m) != MSG_OK ||
		    (first != (h.type == MSG_KS_P11H_OPEN)))
			break;
		rc = first ? do_open(&p, m) : dispatch(&p, m);
		sodium_memzero(buf, len);	/* the PIN, the blocks */
		if (rc != 0)
			break;
	}
out:
	ks_close(p.ks);
	free(m);
	if (buf != NULL)
		sodium_free(buf);
	return status;
}
