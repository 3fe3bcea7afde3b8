/*
 * audit_log: the engine's use of the hash-chained audit log (inv/audit.h).
 * Every request outcome is appended in its own write transaction; every
 * AUDIT_CKPT_EVERY entries the head is signed by keyd's audit key (ECDSA
 * P-256 over SHA-256 of the checkpoint message), so an attacker with the
 * LMDB file alone cannot rewrite history and re-sign it. Details are short
 * operator-facing texts: callers never pass a secret.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "inv/audit.h"
#include "keyd/keyd_msg.h"
#include "keyd/ks.h"
#include "proc/log.h"

#define AUDIT_CKPT_EVERY 64

static int
sign_ckpt(void *arg, const uint8_t *msg, size_t len, uint8_t *sig,
    size_t *siglen)
{
	uint8_t dg[32];

	SHA256(msg, len, dg);
	return keyc_sign(arg, KEYD_KEY_AUDIT, KS_SIGN_ECDSA, dg, sizeof(dg), sig,
	    siglen);
}

static int
verify_ckpt(void *arg, const uint8_t *msg, size_t len, const uint8_t *sig,
    size_t siglen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok;

	ok = m != NULL && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL,
	    arg) == 1 && EVP_DigestVerify(m, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(m);
	return ok ? 0 : -1;
}

/* What an audit entry's ref names, for the journal's CARD= and HOLDER=. */
static int
ref_is(const char *event, const char *kind)
{
	static const char *const holder_ev[] = { "issue", "holder_add",
	    "holder_unlock", NULL };
	static const char *const other_ev[] = { "master_new", "denied",
	    "notice", "notices_run", "backup", NULL };
	int holder = 0, other = 0;

	for (size_t i = 0; holder_ev[i] != NULL; i++)
		holder |= strcmp(event, holder_ev[i]) == 0;
	for (size_t i = 0; other_ev[i] != NULL; i++)
		other |= strcmp(event, other_ev[i]) == 0;
	if (strcmp(kind, "holder") == 0)
		return holder;
	return !holder && !other;	/* the card operations and transitions */
}

void
eng_audit(struct engine *e, const struct actor *a, const char *event,
    const char *ref, const char *result, const char *detail)
{
	struct inv_txn *t = NULL;
	uint64_t seq = 0, now = (uint64_t)time(NULL);
	int rc, ok = strcmp(result, "ok") == 0;
	char ev[96];

	snprintf(ev, sizeof(ev), "%s.%s", event, result);
	if ((rc = inv_begin(e->inv, 1, &t)) == INV_OK &&
	    (rc = audit_append(t, now, a != NULL ? a->name : "engine", ev, ref,
	    ok ? 0 : 1, detail != NULL ? detail : "", &seq)) == INV_OK &&
	    seq % AUDIT_CKPT_EVERY == 0)
		rc = audit_checkpoint(t, now, sign_ckpt, e, NULL);
	if (rc == INV_OK)
		rc = inv_commit(t);
	else
		inv_abort(t);
	/* The same record, structured, for journald (never a secret). */
	log_op(ok ? LOG_P_INFO : LOG_P_WARN, event, result,
	    a != NULL ? a->name : "engine",
	    ref != NULL && strcmp(ref, "-") != 0 && ref_is(event, "card") ? ref : NULL,
	    ref != NULL && strcmp(ref, "-") != 0 && ref_is(event, "holder") ? ref : NULL,
	    "%s %s%s%s", event, result, detail != NULL && detail[0] ? ": " : "",
	    detail != NULL ? detail : "");
	/* Losing an audit entry is not silent. */
	if (rc != INV_OK)
		log_warnx("audit entry %s for %s not recorded: %s", ev, ref,
		    inv_strerror(rc));
}

int
q_audit_list(struct engine *e, const struct ops_req *r, uint64_t id)
{
	const struct ops_value *v;
	struct audit_entry en;
	struct inv_txn *t = NULL;
	uint64_t from = 1, limit = 100;
	json_t *list = json_array();
	char h[65];
	int rc = INV_OK;

	if ((v = ops_req_get(r, "from", 0, NULL)) != NULL && v->i > 0)
		from = (uint64_t)v->i;
	if ((v = ops_req_get(r, "limit", 0, NULL)) != NULL)
		limit = (uint64_t)v->i;
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK) {
		for (uint64_t s = from; s < from + limit; s++) {
			if ((rc = audit_get(t, s, &en)) != INV_OK)
				break;
			eng_hex(en.hash, 32, h);
			json_array_append_new(list, json_pack("{s:I, s:I, s:s, "
			    "s:s, s:s, s:i, s:s, s:s}", "seq", (json_int_t)en.seq,
			    "time", (json_int_t)en.time, "actor", en.actor, "event",
			    en.event, "ref", en.ref, "result", (int)en.result,
			    "detail", en.detail, "hash", h));
		}
		if (rc == INV_ERR_NOTFOUND)
			rc = INV_OK;
	}
	inv_abort(t);
	if (rc != INV_OK) {
		json_decref(list);
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	}
	return eng_reply(e, id, 200, json_pack("{s:o}", "entries", list));
}

int
q_audit_verify(struct engine *e, const struct ops_req *r, uint64_t id)
{
	struct audit_report rep;
	EVP_PKEY *pub = NULL;
	int rc;

	(void)r;
	memset(&rep, 0, sizeof(rep));
	if (keyc_pubkey(e, KEYD_KEY_AUDIT, &pub) != 0)
		return eng_error(e, id, 500, "keyd", "no audit key");
	rc = audit_verify(e->inv, verify_ckpt, pub, &rep);
	EVP_PKEY_free(pub);
	if (rc != INV_OK && rc != INV_ERR_TAMPERED)
		return eng_error(e, id, 500, "inventory", "%s", inv_strerror(rc));
	return eng_reply(e, id, 200, json_pack("{s:b, s:I, s:I, s:I, s:s, s:I, s:s}",
	    "intact", rc == INV_OK, "entries", (json_int_t)rep.entries,
	    "checkpoints", (json_int_t)rep.checkpoints, "last_seq",
	    (json_int_t)rep.last_seq, "fault", audit_fault_name(rep.fault),
	    "bad_seq", (json_int_t)rep.bad_seq, "what", rep.what));
}
