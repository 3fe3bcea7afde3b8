/*
 * keyc: the engine's side of keyd's protocol (keyd/keyd_msg.h). One request
 * in flight at a time; a reply that does not match (wrong id, type or shape)
 * is a broken keyd, and the engine stops rather than guess.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "engine/cardops.h"
#include "keyd/keyd_msg.h"
#include "keyd/ks.h"
#include "proc/log.h"

struct reply {
	uint8_t *buf;		/* the datagram, sodium_malloc'd (may hold keys) */
	struct msg m;
	int rc;			/* keyd's ks_err */
};

static void
reply_free(struct reply *rp)
{
	if (rp == NULL)
		return;
	if (rp->buf != NULL)
		sodium_free(rp->buf);
	free(rp);
}

/* Send b as type and wait for the answer. NULL if keyd broke. */
static struct reply *
call(struct engine *e, uint32_t type, struct msg_builder *b)
{
	struct reply *rp = calloc(1, sizeof(*rp));
	struct msg_hdr h;
	const struct msg_field *f;
	uint64_t id;
	size_t len;
	int ok = 0;

	if (rp == NULL || (rp->buf = sodium_malloc(MSG_MAX)) == NULL)
		goto out;
	cops_hook_why(NULL, 0);
	pthread_mutex_lock(&e->keyd_mu);
	id = ++e->keyd_seq;
	if (msg_send(e->keyd_fd, type, id, b) == MSG_OK &&
	    msg_recv(e->keyd_fd, rp->buf, MSG_MAX, &h, &len) == MSG_OK &&
	    h.type == MSG_KS_RESP && h.id == id &&
	    msg_decode(rp->buf, len, &rp->m) == MSG_OK &&
	    (f = msg_get(&rp->m, KS_R_RC)) != NULL) {
		rp->rc = (int)(int32_t)f->num;
		ok = 1;
	}
	pthread_mutex_unlock(&e->keyd_mu);
	/* keyd's PKCS#11 helper failed: say why, where the operation fails */
	if (ok && rp->rc == KS_ERR_HELPER &&
	    (f = msg_get(&rp->m, KS_R_DETAIL)) != NULL) {
		log_warnx("keyd: %.*s", (int)f->len, (const char *)f->p);
		cops_hook_why((const char *)f->p, f->len);
	}
out:
	msg_builder_clear(b);
	if (!ok) {
		log_warnx("keyd request %u failed", type);
		reply_free(rp);
		return NULL;
	}
	return rp;
}

static const struct msg_field *
data(const struct reply *rp, uint16_t tag)
{
	return msg_get(&rp->m, tag);
}

int
keyc_info(struct engine *e, uint32_t *master)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	if (msg_builder_init(&b) != MSG_OK || (rp = call(e, MSG_KS_INFO, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_NUM)) != NULL) {
		*master = (uint32_t)f->num;
		rc = 0;
	} else if (rp->rc == KS_ERR_NOTOKEN)
		rc = KS_ERR_NOTOKEN;
	reply_free(rp);
	return rc;
}

int
keyc_master_new(struct engine *e, uint32_t *master, int *ksrc)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	*ksrc = KS_ERR_TOKEN;
	if (msg_builder_init(&b) != MSG_OK ||
	    (rp = call(e, MSG_KS_MASTER_NEW, &b)) == NULL)
		return -1;
	*ksrc = rp->rc;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_NUM)) != NULL) {
		*master = (uint32_t)f->num;
		rc = 0;
	}
	reply_free(rp);
	return rc;
}

int
keyc_mgmt_key(struct engine *e, uint32_t version, const uint8_t guid[16],
    int alg, uint8_t *key, size_t keylen)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_VERSION, version);
	msg_put_bytes(&b, KS_F_GUID, guid, 16);
	msg_put_u32(&b, KS_F_ALG, (uint32_t)alg);
	if ((rp = call(e, MSG_KS_MGMT_KEY, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL &&
	    f->len == keylen) {
		memcpy(key, f->p, keylen);
		rc = 0;
	}
	reply_free(rp);	/* sodium_free wipes the key's copy */
	return rc;
}

int
keyc_puk(struct engine *e, uint32_t version, const uint8_t guid[16],
    char puk[9])
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_VERSION, version);
	msg_put_bytes(&b, KS_F_GUID, guid, 16);
	if ((rp = call(e, MSG_KS_PUK, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL && f->len == 8) {
		memcpy(puk, f->p, 8);
		puk[8] = '\0';
		rc = 0;
	}
	reply_free(rp);
	return rc;
}

int
keyc_escrow(struct engine *e, int piv_alg, const uint8_t *aad,
    size_t aadlen, uint8_t **blob, size_t *bloblen, EVP_PKEY **priv)
{
	/* keyd's numbering: 1 RSA-2048, 2 P-256, 3 P-384 */
	int alg = piv_alg == PIV_ALG_ECCP256 ? 2 : piv_alg == PIV_ALG_ECCP384 ?
	    3 : 1;
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *fb, *fk;
	const uint8_t *p;
	int rc = -1;

	*blob = NULL;
	*priv = NULL;
	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_ALG, (uint32_t)alg);
	msg_put_bytes(&b, KS_F_AAD, aad, aadlen);
	if ((rp = call(e, MSG_KS_ESCROW, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (fb = data(rp, KS_R_DATA)) != NULL &&
	    (fk = data(rp, KS_R_DATA2)) != NULL &&
	    (*blob = malloc(fb->len)) != NULL) {
		memcpy(*blob, fb->p, fb->len);
		*bloblen = fb->len;
		p = fk->p;
		*priv = d2i_AutoPrivateKey(NULL, &p, (long)fk->len);
		if (*priv != NULL)
			rc = 0;
		else {
			free(*blob);
			*blob = NULL;
		}
	}
	reply_free(rp);
	return rc;
}

int
keyc_recover(struct engine *e, const uint8_t *blob, size_t bloblen,
    const uint8_t *aad, size_t aadlen, EVP_PKEY **priv)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	const uint8_t *p;
	int rc = -1;

	*priv = NULL;
	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_bytes(&b, KS_F_BLOB, blob, bloblen);
	msg_put_bytes(&b, KS_F_AAD, aad, aadlen);
	if ((rp = call(e, MSG_KS_RECOVER, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL) {
		p = f->p;
		if ((*priv = d2i_AutoPrivateKey(NULL, &p, (long)f->len)) != NULL)
			rc = 0;
	} else if (rp->rc != KS_OK)
		rc = rp->rc;
	reply_free(rp);	/* sodium_free wipes the key's copy */
	return rc;
}

int
keyc_sign(struct engine *e, int which, int mech, const uint8_t *tbs,
    size_t tbslen, uint8_t *sig, size_t *siglen)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_KEY, (uint32_t)which);
	msg_put_u32(&b, KS_F_MECH, (uint32_t)mech);
	msg_put_bytes(&b, KS_F_TBS, tbs, tbslen);
	if ((rp = call(e, MSG_KS_SIGN, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL &&
	    f->len <= *siglen) {
		memcpy(sig, f->p, f->len);
		*siglen = f->len;
		rc = 0;
	}
	reply_free(rp);
	return rc;
}

int
keyc_pubkey(struct engine *e, int which, EVP_PKEY **pub)
{
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	const uint8_t *p;
	int rc = -1;

	*pub = NULL;
	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_KEY, (uint32_t)which);
	if ((rp = call(e, MSG_KS_PUBKEY, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL) {
		p = f->p;
		if ((*pub = d2i_PUBKEY(NULL, &p, (long)f->len)) != NULL)
			rc = 0;
	} else if (rp->rc == KS_ERR_NOTOKEN || rp->rc == KS_ERR_NOKEY)
		rc = rp->rc;
	reply_free(rp);
	return rc;
}

int
keyc_mgmt_crypt(void *arg, int encrypt, const uint8_t *in, uint8_t *out,
    size_t blocklen)
{
	struct keyc_card *kc = arg;
	struct msg_builder b;
	struct reply *rp;
	const struct msg_field *f;
	int rc = -1;

	if (msg_builder_init(&b) != MSG_OK)
		return -1;
	msg_put_u32(&b, KS_F_VERSION, kc->version);
	msg_put_bytes(&b, KS_F_GUID, kc->guid, 16);
	msg_put_u32(&b, KS_F_ALG, (uint32_t)kc->alg);
	msg_put_bool(&b, KS_F_ENCRYPT, encrypt);
	msg_put_bytes(&b, KS_F_BLOCK, in, blocklen);
	if ((rp = call(kc->e, MSG_KS_MGMT_CRYPT, &b)) == NULL)
		return -1;
	if (rp->rc == KS_OK && (f = data(rp, KS_R_DATA)) != NULL &&
	    f->len == blocklen) {
		memcpy(out, f->p, blocklen);
		rc = 0;
	}
	reply_free(rp);
	return rc;
}
