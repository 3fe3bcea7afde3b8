/*
 * calink: the engine's CA link. The CMP client and its TLS run here (this
 * process parses the CA's replies), but the station's private key stays in
 * keyd: the EVP_PKEY handed to the CA library is an rkey whose every
 * signature is a MSG_KS_SIGN to keyd (docs/keystore.md, "The signing
 * seam"). The outbox shares the inventory's LMDB environment, so a card's
 * state change and the CA work it owes are one write transaction.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "ca/ca.h"
#include "keyd/keyd_msg.h"
#include "keyd/ks.h"
#include "keyd/rkey.h"
#include "proc/log.h"


static int
rkey_sign(void *arg, int kind, const uint8_t *tbs, size_t tbslen, uint8_t *sig,
    size_t *siglen)
{
	/* rkey kinds are ks_sign_mech values (rkey.h). */
	return keyc_sign(arg, KEYD_KEY_STATION, kind, tbs, tbslen, sig, siglen);
}

/* keyd's answer as what the CA library expects of keys.get / keys.check. */
static int
keys_rc(int rc)
{
	switch (rc) {
	case 0:			return CAST_KEYS_OK;
	case KS_ERR_NOTOKEN:	return CAST_KEYS_TOKEN;
	case KS_ERR_NOKEY:	return CAST_KEYS_NOKEY;
	default:		return CAST_KEYS_FAIL;
	}
}

static int
key_get(void *arg, const char *label, int create, EVP_PKEY **key)
{
	struct engine *e = arg;
	EVP_PKEY *pub = NULL;
	int rc;

	*key = NULL;
	/*
	 * The daemon signs with the key keyd was configured with; re-keying
	 * (a new label) is done by cardmgr-ca, which owns the token then.
	 */
	if (create || strcmp(label, e->cfg->ca->key_label) != 0) {
		log_warnx("station key '%s': only '%s' is reachable from the "
		    "daemon", label, e->cfg->ca->key_label);
		return CAST_KEYS_FAIL;
	}
	if ((rc = keyc_pubkey(e, KEYD_KEY_STATION, &pub)) != 0)
		return keys_rc(rc);
	rc = rkey_new(pub, rkey_sign, e, key);
	EVP_PKEY_free(pub);
	return rc == RKEY_OK ? CAST_KEYS_OK : CAST_KEYS_FAIL;
}

/* Asked of keyd, which logged in once at start: no login here. */
static int
key_check(void *arg, const char *label)
{
	struct engine *e = arg;
	EVP_PKEY *pub = NULL;
	int rc;

	if (strcmp(label, e->cfg->ca->key_label) != 0)
		return CAST_KEYS_FAIL;
	rc = keyc_pubkey(e, KEYD_KEY_STATION, &pub);
	EVP_PKEY_free(pub);
	return keys_rc(rc);
}

static int
key_remove(void *arg, const char *label)
{
	(void)arg;
	log_warnx("station key '%s': removal is cardmgr-ca's work", label);
	return -1;
}

static void
note(void *arg, const char *msg)
{
	(void)arg;
	log_info("CA link: %s", msg);
}

int
eng_ca_open(struct engine *e)
{
	struct cast_cfg cc;
	int rc;

	if (e->cfg->ca == NULL)
		return 0;
	memset(&cc, 0, sizeof(cc));
	cc.conf = e->cfg->ca;
	cc.keys.get = key_get;
	cc.keys.remove = key_remove;
	cc.keys.check = key_check;
	cc.keys.arg = e;
	cc.note = note;
	cc.env = inv_env(e->inv);
	if ((rc = cast_open(&cc, &e->cast)) != CAST_OK) {
		log_warnx("CA link: %s", cast_strerror(rc));
		return -1;
	}
	return 0;
}

void
eng_ca_close(struct engine *e)
{
	while (e->ca_pool_n > 0)
		ca_link_free(e->ca_pool[--e->ca_pool_n]);
	cast_close(e->cast);
	e->cast = NULL;
}

/* A link from the pool, or a new one (ca_mu held). */
static int
link_get(struct engine *e, struct ca_link **l)
{
	if (e->ca_pool_n > 0) {
		*l = e->ca_pool[--e->ca_pool_n];
		return CAST_OK;
	}
	return cast_link_new(e->cast, l);
}

static void
link_put(struct engine *e, struct ca_link *l)
{
	pthread_mutex_lock(&e->ca_mu);
	if (e->ca_pool_n < ENG_CA_LINKS) {
		e->ca_pool[e->ca_pool_n++] = l;
		l = NULL;
	}
	pthread_mutex_unlock(&e->ca_mu);
	ca_link_free(l);
}

int
eng_ca_enroll(struct engine *e, const char *profile, const uint8_t *csr,
    size_t len, uint64_t *obid, char *detail, size_t cap)
{
	struct ca_link *l = NULL;
	int rc;

	*obid = 0;
	pthread_mutex_lock(&e->ca_mu);
	rc = cast_submit(e->cast, OUTBOX_ENROLL, profile, 0, csr, len, 1, obid);
	if (rc == CAST_ERR_QUEUED)
		rc = link_get(e, &l);
	if (rc != CAST_OK)
		snprintf(detail, cap, "%s", cast_detail(e->cast));
	pthread_mutex_unlock(&e->ca_mu);
	if (rc != CAST_OK)
		return rc;
	pthread_rwlock_rdlock(&e->ca_lane);
	rc = cast_send(e->cast, l, *obid, detail, cap);
	pthread_rwlock_unlock(&e->ca_lane);
	/* A link the CA or the network broke is not kept. */
	if (rc == CAST_OK || rc == CAST_ERR_REFUSED)
		link_put(e, l);
	else
		ca_link_free(l);
	return rc;
}
