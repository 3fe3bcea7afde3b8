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
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	for (int i = 0; i < CA_MAX_ENDPOINTS; i++) {
		SSL_SESSION_free(e->ca_sess[i]);
		e->ca_sess[i] = NULL;
	}
	cast_close(e->cast);
	e->cast = NULL;
}

/*
 * A link from the pool, or a new one, built outside ca_mu (trust anchors, a
 * TLS context: GET /v1/status waits on ca_mu). Why not in detail[cap].
 */
static int
link_get(struct engine *e, struct ca_link **l, char *detail, size_t cap)
{
	SSL_SESSION *s[CA_MAX_ENDPOINTS];
	int rc, i;

	*l = NULL;
	pthread_mutex_lock(&e->ca_mu);
	if (e->ca_pool_n > 0) {
		*l = e->ca_pool[--e->ca_pool_n];
		/* A link that never talked yet takes the last good sessions. */
		ca_link_resume_from(*l, e->ca_sess);
		pthread_mutex_unlock(&e->ca_mu);
		return CAST_OK;
	}
	if ((rc = cast_link_ready(e->cast)) != CAST_OK)
		snprintf(detail, cap, "%s", cast_detail(e->cast));
	for (i = 0; i < CA_MAX_ENDPOINTS; i++)
		if ((s[i] = e->ca_sess[i]) != NULL && !SSL_SESSION_up_ref(s[i]))
			s[i] = NULL;
	pthread_mutex_unlock(&e->ca_mu);
	if (rc == CAST_OK && (rc = cast_link_make(e->cast, l)) != CAST_OK)
		snprintf(detail, cap, "cannot set up a CA link (trust anchors, "
		    "TLS)");
	if (rc == CAST_OK)
		ca_link_resume_from(*l, s);
	for (i = 0; i < CA_MAX_ENDPOINTS; i++)
		SSL_SESSION_free(s[i]);
	return rc;
}

/* Back into the pool after a good exchange; its sessions seed new links. */
static void
link_put(struct engine *e, struct ca_link *l)
{
	SSL_SESSION *s[CA_MAX_ENDPOINTS];

	ca_link_sessions(l, s);
	pthread_mutex_lock(&e->ca_mu);
	for (int i = 0; i < CA_MAX_ENDPOINTS; i++) {
		if (s[i] == NULL)
			continue;
		SSL_SESSION_free(e->ca_sess[i]);
		e->ca_sess[i] = s[i];
	}
	if (e->ca_pool_n < ENG_CA_LINKS) {
		e->ca_pool[e->ca_pool_n++] = l;
		l = NULL;
	}
	pthread_mutex_unlock(&e->ca_mu);
	ca_link_free(l);
}

int
eng_ca_links_get(struct engine *e, struct ca_link **links, int max)
{
	char why[128];
	int n = 0;

	while (n < max && link_get(e, &links[n], why, sizeof(why)) == CAST_OK)
		n++;
	return n;
}

void
eng_ca_links_put(struct engine *e, struct ca_link **links, int n)
{
	while (n > 0)
		link_put(e, links[--n]);
}

/* ---- enrollments linked to their card until the inventory has them ---- */

#define ENROLL_REC 9	/* obid u64, slot u8 */
#define ENROLL_MAX 24	/* in flight for one card at most */

static void
enrolls_key(const uint8_t guid[16], char *key, size_t cap)
{
	char g[33];

	eng_hex(guid, 16, g);
	snprintf(key, cap, "enrolls:%s", g);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Add (slot >= 0) or remove (slot < 0) obid in guid's list. */
static int
enrolls_edit(struct inv_txn *t, const uint8_t guid[16], uint64_t obid,
    int slot)
{
	uint8_t list[ENROLL_REC * ENROLL_MAX];
	char key[64];
	size_t n = 0, i;
	int rc;

	enrolls_key(guid, key, sizeof(key));
	rc = inv_meta_get(t, key, list, sizeof(list), &n);
	if (rc == INV_ERR_NOTFOUND)
		n = 0;
	else if (rc != INV_OK || n % ENROLL_REC != 0)
		return rc != INV_OK ? rc : INV_ERR_FORMAT;
	if (slot >= 0) {
		if (n == sizeof(list))
			return INV_ERR_FULL;
		for (i = 0; i < 8; i++)
			list[n + i] = (uint8_t)(obid >> (56 - 8 * i));
		list[n + 8] = (uint8_t)slot;
		n += ENROLL_REC;
	} else {
		for (i = 0; i < n && get64(list + i) != obid; i += ENROLL_REC)
			;
		if (i == n)
			return INV_OK;
		memmove(list + i, list + i + ENROLL_REC, n - i - ENROLL_REC);
		n -= ENROLL_REC;
	}
	return n == 0 ? inv_meta_del(t, key) : inv_meta_put(t, key, list, n);
}

int
eng_enroll_unlink(struct inv_txn *t, const uint8_t guid[16], uint64_t obid)
{
	return enrolls_edit(t, guid, obid, -1);
}

int
eng_enroll_orphans(struct engine *e, struct inv_txn *t,
    const uint8_t guid[16], int reason)
{
	uint8_t list[ENROLL_REC * ENROLL_MAX], mark[17];
	struct inv_cert *c = NULL;
	struct outbox_op op;
	char key[64];
	size_t n = 0, i;
	int rc;

	enrolls_key(guid, key, sizeof(key));
	rc = inv_meta_get(t, key, list, sizeof(list), &n);
	if (rc == INV_ERR_NOTFOUND || e->cast == NULL)
		return INV_OK;
	if (rc != INV_OK || n % ENROLL_REC != 0)
		return rc != INV_OK ? rc : INV_ERR_FORMAT;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return INV_ERR_NOMEM;
	for (i = 0; i < n && rc == INV_OK; i += ENROLL_REC) {
		uint64_t obid = get64(list + i);

		memset(&op, 0, sizeof(op));
		if (outbox_get(cast_outbox(e->cast), obid, &op) != OUTBOX_OK) {
			outbox_op_clear(&op);
			continue;	/* never journaled: nothing sent */
		}
		if (op.state == OUTBOX_DONE) {
			/* Issued, not yet in the inventory: it is now, and
			 * the roll back revokes it with the card's others. */
			if (eng_cert_record(op.result, op.result_len, guid,
			    list[i + 8], c) == 0)
				rc = inv_cert_put(t, c, 0);
		} else if (op.state == OUTBOX_PENDING) {
			char mk[64];

			snprintf(mk, sizeof(mk), "enroll_revoke:%016llx",
			    (unsigned long long)obid);
			memcpy(mark, guid, 16);
			mark[16] = (uint8_t)reason;
			rc = inv_meta_put(t, mk, mark, sizeof(mark));
		}
		outbox_op_clear(&op);
	}
	free(c);
	if (rc == INV_OK)
		rc = inv_meta_del(t, key);
	return rc;
}

int
eng_enroll_late(struct engine *e, struct inv_txn *t, uint64_t obid)
{
	uint8_t mark[17];
	struct inv_cert *c = NULL;
	struct outbox_op op;
	char mk[64];
	size_t n = 0;
	int rc;

	snprintf(mk, sizeof(mk), "enroll_revoke:%016llx",
	    (unsigned long long)obid);
	if ((rc = inv_meta_get(t, mk, mark, sizeof(mark), &n)) != INV_OK)
		return rc == INV_ERR_NOTFOUND ? INV_OK : rc;
	memset(&op, 0, sizeof(op));
	if (n != sizeof(mark) || e->cast == NULL ||
	    outbox_get(cast_outbox(e->cast), obid, &op) != OUTBOX_OK) {
		outbox_op_clear(&op);
		return inv_meta_del(t, mk);
	}
	if (op.state == OUTBOX_DONE && (c = calloc(1, sizeof(*c))) != NULL &&
	    eng_cert_record(op.result, op.result_len, mark, 0, c) == 0) {
		rc = eng_queue_cert_revoke(e, t, c, mark[16]);
		if (rc == INV_OK)
			log_info("a certificate issued after its card was rolled "
			    "back: revocation queued");
	} else if (op.state == OUTBOX_DONE)
		rc = INV_ERR_NOMEM;
	free(c);
	outbox_op_clear(&op);
	return rc == INV_OK ? inv_meta_del(t, mk) : rc;
}

int
eng_ca_enroll(struct engine *e, const uint8_t guid[16], int slot,
    const char *profile, const uint8_t *csr, size_t len, uint64_t *obid,
    char *detail, size_t cap)
{
	struct ca_link *l = NULL;
	struct inv_txn *t = NULL;
	int rc;

	*obid = 0;
	/*
	 * The lane from before the journal entry to the answer: the drain
	 * thread would otherwise find the entry pending and send it itself,
	 * over its own link.
	 */
	pthread_rwlock_rdlock(&e->ca_lane);
	/*
	 * Journaled with its link to the card in one transaction: whatever
	 * happens next, a roll back of the card finds what the CA issued.
	 */
	if ((rc = inv_begin(e->inv, 1, &t)) == INV_OK) {
		if (outbox_add_txn(cast_outbox(e->cast), inv_txn_mdb(t),
		    OUTBOX_ENROLL, profile, 0, csr, len, (uint64_t)time(NULL),
		    obid) != OUTBOX_OK ||
		    enrolls_edit(t, guid, *obid, slot) != INV_OK) {
			inv_abort(t);
			rc = INV_ERR_DB;
		} else
			rc = inv_commit(t);
	}
	if (rc != INV_OK) {
		snprintf(detail, cap, "cannot journal the request: %s",
		    inv_strerror(rc));
		pthread_rwlock_unlock(&e->ca_lane);
		return CAST_ERR_STATE;
	}
	eng_crash_point("enroll:journaled");	/* linked, not sent */
	rc = link_get(e, &l, detail, cap);
	if (rc == CAST_OK)
		rc = cast_send(e->cast, l, *obid, detail, cap);
	pthread_rwlock_unlock(&e->ca_lane);
	if (l == NULL)
		return rc;
	/* A link the CA or the network broke is not kept. */
	if (rc == CAST_OK || rc == CAST_ERR_REFUSED)
		link_put(e, l);
	else
		ca_link_free(l);
	return rc;
}
