/*
 * issue: a badge officer issues a blank card to a holder. The checks that
 * need no card run before the answer (202 with the operation id); the card
 * work runs in a thread per reader, journaled step by step in the inventory
 * (GET /v1/operations/{id} shows the steps), and the card becomes ACTIVE
 * only after the PKCS#11 self-test through OpenSC, in the same write
 * transaction that stores its certificates, the holder's answers and the
 * audit entry.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "ca/station.h"
#include "engine/cardops.h"
#include "engine/issue_job.h"
#include "policy/answer.h"
#include "policy/pin.h"
#include "proc/log.h"

#define SELFTEST_TIMEOUT_MS 20000


static int
alg_piv(enum prof_alg a)
{
	switch (a) {
	case PROF_ALG_RSA2048: return PIV_ALG_RSA2048;
	case PROF_ALG_RSA3072: return PIV_ALG_RSA3072;
	case PROF_ALG_ECCP256: return PIV_ALG_ECCP256;
	case PROF_ALG_ECCP384: return PIV_ALG_ECCP384;
	}
	return -1;
}

static int
mgmt_piv(enum prof_mgmt_alg a)
{
	switch (a) {
	case PROF_MGMT_AES128: return PIV_ALG_AES128;
	case PROF_MGMT_AES256: return PIV_ALG_AES256;
	case PROF_MGMT_3DES: return PIV_ALG_3DES;
	case PROF_MGMT_AES192: break;
	}
	return PIV_ALG_AES192;
}

/*
 * Expand %{id} %{name} %{org} %{email} %{serial} in a subject template. An
 * unknown %{...} or an empty value is an error: a certificate never carries
 * a template's text.
 */
static int
expand(const char *tmpl, const struct inv_holder *h, const char *serial,
    char *out, size_t cap)
{
	struct { const char *key, *val; } vars[] = {
		{ "%{id}", h->id }, { "%{name}", h->name }, { "%{org}", h->org },
		{ "%{email}", h->email }, { "%{serial}", serial },
	};
	size_t n = 0, i;

	while (*tmpl != '\0') {
		for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			if (strncmp(tmpl, vars[i].key, strlen(vars[i].key)) == 0)
				break;
		if (i == sizeof(vars) / sizeof(vars[0]) &&
		    strncmp(tmpl, "%{", 2) == 0)
			return -1;
		if (i < sizeof(vars) / sizeof(vars[0])) {
			/* A '/' in a value would add an RDN: refuse it. */
			if (vars[i].val[0] == '\0' ||
			    strchr(vars[i].val, '/') != NULL ||
			    n + strlen(vars[i].val) >= cap)
				return -1;
			memcpy(out + n, vars[i].val, strlen(vars[i].val));
			n += strlen(vars[i].val);
			tmpl += strlen(vars[i].key);
		} else {
			if (n + 1 >= cap)
				return -1;
			out[n++] = *tmpl++;
		}
	}
	out[n] = '\0';
	return 0;
}

static int
slot_from_profile(const struct prof_slot *ps, const struct inv_holder *h,
    const char *serial, struct cops_slot *s)
{
	static const int pinpol[] = { PIV_PIN_DEFAULT, PIV_PIN_NEVER,
	    PIV_PIN_ONCE, PIV_PIN_ALWAYS };
	static const int touch[] = { PIV_TOUCH_DEFAULT, PIV_TOUCH_NEVER,
	    PIV_TOUCH_ALWAYS, PIV_TOUCH_CACHED };

	s->slot = ps->slot;
	s->alg = alg_piv(ps->alg);
	s->pin_policy = pinpol[ps->pin_policy & 3];
	s->touch_policy = touch[ps->touch_policy & 3];
	s->escrow = ps->escrow;
	snprintf(s->ca_profile, sizeof(s->ca_profile), "%s", ps->cert_profile);
	return expand(ps->subject, h, serial, s->subject, sizeof(s->subject));
}

static int
plan_from_profile(const struct prof *p, const struct inv_holder *h,
    const char *serial, const char *fascn, struct cops_plan *plan)
{
	time_t exp = time(NULL) + (time_t)p->validity_days * 86400;
	struct tm tm;

	memset(plan, 0, sizeof(*plan));
	if (p->nslots > COPS_MAX_SLOTS)
		return -1;
	for (size_t i = 0; i < p->nslots; i++)
		if (slot_from_profile(&p->slots[i], h, serial,
		    &plan->slots[i]) != 0)
			return -1;
	plan->nslots = (int)p->nslots;
	plan->mgmt_alg = mgmt_piv(p->mgmt_alg);
	plan->pin_tries = p->pin_retries;
	plan->puk_tries = p->puk_retries;
	snprintf(plan->fascn, sizeof(plan->fascn), "%s", fascn);
	gmtime_r(&exp, &tm);
	strftime(plan->expiry, sizeof(plan->expiry), "%Y%m%d", &tm);
	return 0;
}

/* ---- hooks: the card sequence reaches the station through these --------- */

/* The card record, ISSUING, created in the caller's write txn t. */
static int
card_issuing(struct issue_job *j, struct inv_txn *t, const uint8_t guid[16])
{
	struct stk_lines *lines = NULL;
	struct inv_card c, old;
	char key[48], g[33], what[48];
	uint8_t idb[8];
	uint64_t now = (uint64_t)time(NULL);
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.guid, guid, 16);
	eng_copy(c.serial, sizeof(c.serial), j->serial);
	memcpy(c.atr, j->card->atr, j->card->atr_len);
	c.atr_len = (uint8_t)j->card->atr_len;
	eng_copy(c.model, sizeof(c.model),
	    j->card->id.type == PIV_TYPE_PIV_YUBICO ? "piv-yubico" : "piv");
	eng_copy(c.profile, sizeof(c.profile), j->prof->name);
	c.profile_version = (uint32_t)j->prof->version;
	c.state = INV_CARD_ISSUING;
	eng_copy(c.holder, sizeof(c.holder), j->holder.id);
	c.mk_version = j->mk_version;
	c.created = c.updated = now;
	c.expires = now + (uint64_t)j->prof->validity_days * 86400;
	/*
	 * A serial already in the inventory is this physical card's earlier
	 * life (retired, then reused: check_reuse allowed it). That record
	 * keeps its history under "<serial>@<its GUID's first 8 hex digits>";
	 * the serial now names the new issuance.
	 */
	if ((rc = inv_card_by_serial(t, c.serial, &old)) == INV_OK &&
	    old.state == INV_CARD_STOCK) {
		/* A blank card from stock: its record gives way to this one,
		 * its history lines move over (stk_take, below). */
		if ((rc = stk_take_record(t, &old, &lines)) != INV_OK)
			return rc;
	} else if (rc == INV_OK) {
		eng_hex(old.guid, 16, g);
		snprintf(old.serial, sizeof(old.serial), "%.40s@%.8s", c.serial, g);
		if ((rc = inv_card_put(t, &old, INV_PUT_UPDATE)) != INV_OK)
			return rc;
	} else if (rc != INV_ERR_NOTFOUND) {
		return rc;
	}
	/* Out of stock in the transaction that journals the new CHUID. */
	rc = inv_card_put(t, &c, INV_PUT_NEW);
	if (rc == INV_OK)
		rc = stk_take(t, c.serial, guid, j->actor.name, lines);
	stk_lines_free(lines);
	if (rc != INV_OK)
		return rc;
	/* Which operation was issuing it: the roll back closes that one. */
	eng_hex(guid, 16, g);
	snprintf(key, sizeof(key), "issuing:%s", g);
	for (int i = 0; i < 8; i++)
		idb[i] = (uint8_t)(j->op_id >> (56 - 8 * i));
	if ((rc = inv_meta_put(t, key, idb, sizeof(idb))) != INV_OK)
		return rc;
	snprintf(what, sizeof(what), "operation %llu",
	    (unsigned long long)j->op_id);
	return eng_card_event(t, guid, "issuing", j->actor.name, what);
}

static int
h_step(void *arg, const char *name, const char *state, const uint8_t *d,
    size_t len)
{
	struct issue_job *j = arg;
	struct inv_txn *t = NULL;
	int chuid = strcmp(name, "chuid") == 0 && d != NULL && len == 16;
	uint32_t no = ++j->step_no;
	char at[INV_EVENT_MAX + 1];
	int rc;

	if ((rc = inv_begin(j->e->inv, 1, &t)) != INV_OK)
		return -1;
	/* The GUID names the card from the CHUID on: record it. */
	rc = eng_step_put(t, j->op_id, no, name, state, d, len,
	    chuid ? d : NULL);
	/*
	 * From the new CHUID on, the inventory knows the card as ISSUING, in
	 * the same transaction as the step: a tear or a crash from here on
	 * leaves a card the station recognises and rolls back.
	 */
	if (rc == INV_OK && chuid)
		rc = card_issuing(j, t, d);
	if (rc != INV_OK) {
		inv_abort(t);
		return -1;
	}
	if (inv_commit(t) != INV_OK)
		return -1;
	eng_op_changed(j->e);
	if (chuid) {
		memcpy(j->guid, d, 16);
		j->have_guid = 1;
	}
	snprintf(at, sizeof(at), "%s:%s", name, state);
	eng_crash_point(at);
	return 0;
}

static int
h_mgmt(void *arg, const uint8_t guid[16], int alg, uint8_t *key, size_t len)
{
	struct issue_job *j = arg;

	return keyc_mgmt_key(j->e, j->mk_version, guid, alg, key, len);
}

static int
h_puk(void *arg, const uint8_t guid[16], char puk[9])
{
	struct issue_job *j = arg;

	return keyc_puk(j->e, j->mk_version, guid, puk);
}

/* Read-modify-write the ISSUING card: escrow blob, or a certificate. */
static int
card_update(struct issue_job *j, const struct inv_cert *cert)
{
	struct inv_txn *t = NULL;
	struct inv_card c;
	int rc;

	if ((rc = inv_begin(j->e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_card_get(t, j->guid, &c)) == INV_OK) {
		if (cert != NULL) {
			rc = inv_cert_put(t, cert, 0);
		} else {
			memcpy(c.escrow, j->escrow, j->escrow_len);
			c.escrow_len = (uint16_t)j->escrow_len;
			c.updated = (uint64_t)time(NULL);
			rc = inv_card_put(t, &c, INV_PUT_UPDATE);
		}
	}
	if (rc != INV_OK) {
		inv_abort(t);
		return rc;
	}
	return inv_commit(t);
}

static int
h_escrow(void *arg, const uint8_t guid[16], int slot, int alg, EVP_PKEY **priv)
{
	struct issue_job *j = arg;
	uint8_t aad[17], *blob = NULL;
	size_t blen = 0;

	/* A replacement gets the holder's escrowed key back, not a new one. */
	if (j->rep != NULL)
		return rep_escrow_key(j->rep, slot, priv);
	memcpy(aad, guid, 16);
	aad[16] = (uint8_t)slot;
	if (keyc_escrow(j->e, alg, aad, sizeof(aad), &blob, &blen, priv) != 0)
		return -1;
	if (blen > sizeof(j->escrow)) {
		free(blob);
		EVP_PKEY_free(*priv);
		*priv = NULL;
		return -1;
	}
	memcpy(j->escrow, blob, blen);
	j->escrow_len = blen;
	free(blob);
	/* The blob is the only way back to this key: keep it before the card
	 * holds the key. */
	return card_update(j, NULL) == INV_OK ? 0 : -1;
}

static int
h_retired(void *arg, int i, EVP_PKEY **priv, X509 **cert)
{
	struct issue_job *j = arg;

	*priv = NULL;
	*cert = NULL;
	return j->rep != NULL ? rep_retired_key(j->rep, i, priv, cert) : -1;
}

static uint64_t
asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (uint64_t)timegm(&tm);
}

int
eng_serial_hex(const ASN1_INTEGER *a, char out[INV_CERT_SERIAL_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(a, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int rc = -1;

	if (hex != NULL && strlen(hex) <= INV_CERT_SERIAL_MAX) {
		for (size_t i = 0; ; i++) {
			out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ?
			    hex[i] - 'A' + 'a' : hex[i]);
			if (hex[i] == '\0')
				break;
		}
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
eng_cert_record(const uint8_t *der, size_t len, const uint8_t guid[16],
    int slot, struct inv_cert *c)
{
	const uint8_t *p = der;
	X509 *x = NULL;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (der == NULL || len == 0 || len > INV_DER_MAX ||
	    (x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len ||
	    eng_serial_hex(X509_get0_serialNumber(x), c->serial) != 0)
		goto out;
	X509_NAME_oneline(X509_get_issuer_name(x), c->issuer,
	    sizeof(c->issuer));
	X509_NAME_oneline(X509_get_subject_name(x), c->subject,
	    sizeof(c->subject));
	c->slot = (uint8_t)slot;
	c->not_before = asn1_time_unix(X509_get0_notBefore(x));
	c->not_after = asn1_time_unix(X509_get0_notAfter(x));
	c->status = INV_CERT_VALID;
	memcpy(c->der, der, len);
	c->der_len = (uint32_t)len;
	memcpy(c->guid, guid, 16);
	rc = 0;
out:
	X509_free(x);
	return rc;
}

/*
 * In a thread beside the card's next key generation (cardops.c): journal
 * the request linked to the card, send it, and put the certificate in the
 * inventory (unlinking it) before the card gets it.
 */
static int
h_enroll(void *arg, int slot, const char *prof, const uint8_t *csr, size_t len,
    X509 **cert)
{
	struct issue_job *j = arg;
	struct outbox_op op;
	struct inv_cert *c = NULL;
	struct inv_txn *t = NULL;
	const uint8_t *p;
	uint64_t obid = 0;
	char why[256];
	int rc;

	*cert = NULL;
	memset(&op, 0, sizeof(op));
	if (j->e->cast == NULL || !j->have_guid ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	rc = eng_ca_enroll(j->e, j->guid, slot, prof, csr, len, &obid, why,
	    sizeof(why));
	if (rc == CAST_OK && outbox_get(cast_outbox(j->e->cast), obid, &op) !=
	    OUTBOX_OK)
		rc = CAST_ERR_STATE;
	if (rc != CAST_OK) {
		snprintf(j->enroll_detail, sizeof(j->enroll_detail),
		    "CA: %s: %s", cast_strerror(rc), why);
		goto out;
	}
	eng_crash_point("enroll:answered");	/* issued, not in the inventory */
	p = op.result;
	if (eng_cert_record(op.result, op.result_len, j->guid, slot, c) != 0 ||
	    (*cert = d2i_X509(NULL, &p, (long)op.result_len)) == NULL) {
		rc = -1;
		goto out;
	}
	/* What the CA issued is in the inventory before the card gets it. */
	if ((rc = inv_begin(j->e->inv, 1, &t)) == INV_OK) {
		if ((rc = inv_cert_put(t, c, 0)) == INV_OK &&
		    (rc = eng_enroll_unlink(t, j->guid, obid)) == INV_OK)
			rc = inv_commit(t);
		else
			inv_abort(t);
	}
out:
	free(c);
	if (rc != 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	outbox_op_clear(&op);
	return rc == 0 ? 0 : -1;
}

/* ---- the end: one transaction makes the card ACTIVE, or the op FAILED ---- */


/* An operation still RUNNING after its roll back was tried: FAILED. */
static void
op_failed(struct engine *e, uint64_t op_id)
{
	struct inv_txn *t = NULL;
	struct inv_op op;

	if (inv_begin(e->inv, 1, &t) != INV_OK)
		return;
	if (inv_op_get(t, op_id, &op) != INV_OK || op.state != INV_OP_RUNNING) {
		inv_abort(t);
		return;
	}
	op.state = INV_OP_FAILED;
	op.updated = (uint64_t)time(NULL);
	if (inv_op_put(t, &op) != INV_OK) {
		inv_abort(t);
		return;
	}
	if (inv_commit(t) == INV_OK)
		eng_op_changed(e);
}

/*
 * ok: the card is ACTIVE and the operation DONE. Not ok: the operation
 * FAILED, with its reason as a journal step; when a roll back follows
 * (rolling: the card is still in the reader), the operation stays RUNNING
 * until the roll back says ROLLED_BACK (recover.c) or op_failed() does, so
 * that no waiter reads "failed" for a card that is rolled back a moment
 * later.
 */
static int
finish(struct issue_job *j, int ok, int rolling)
{
	struct inv_txn *t = NULL;
	struct inv_card c;
	struct inv_holder h;
	struct inv_event ev;
	struct inv_op op;
	uint64_t now = (uint64_t)time(NULL);
	char key[48], g[33];
	int rc;

	if ((rc = inv_begin(j->e->inv, 1, &t)) != INV_OK)
		return rc;
	if ((rc = inv_op_get(t, j->op_id, &op)) != INV_OK)
		goto fail;
	op.state = ok ? INV_OP_DONE : rolling ? INV_OP_RUNNING : INV_OP_FAILED;
	op.updated = now;
	if ((rc = inv_op_put(t, &op)) != INV_OK)
		goto fail;
	if (!ok) {
		/* Why, for the operator (op show): a journal step of its own. */
		struct inv_step s;

		memset(&s, 0, sizeof(s));
		s.op_id = j->op_id;
		s.no = ++j->step_no;
		eng_copy(s.name, sizeof(s.name), "error");
		s.data_len = (uint32_t)strlen(j->detail);
		memcpy(s.data, j->detail, s.data_len);
		if ((rc = inv_op_step_put(t, &s)) != INV_OK)
			goto fail;
		return inv_commit(t);	/* the card stays ISSUING: see recover.c */
	}
	if ((rc = inv_card_get(t, j->guid, &c)) != INV_OK)
		goto fail;
	c.state = INV_CARD_ACTIVE;
	c.updated = now;
	if ((rc = inv_card_put(t, &c, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	memcpy(ev.guid, j->guid, 16);
	ev.time = now;
	eng_copy(ev.name, sizeof(ev.name), "issued");
	eng_copy(ev.actor, sizeof(ev.actor), j->actor.name);
	eng_copy(ev.detail, sizeof(ev.detail), j->prof->name);
	if ((rc = inv_event_append(t, &ev, &ev.seq)) != INV_OK)
		goto fail;
	/* The old card retired in this same transaction: exactly once. */
	if (j->rep != NULL && (rc = rep_finish(j, t)) != INV_OK)
		goto fail;
	if ((rc = inv_holder_get(t, j->holder.id, &h)) != INV_OK)
		goto fail;
	/* A replacement takes no answers: the holder keeps the enrolled ones. */
	if (j->rep != NULL)
		goto holder_done;
	h.nanswers = 0;
	for (size_t i = 0; i < j->nanswers; i++) {
		h.answers[i].question = (uint8_t)j->qids[i];
		eng_copy(h.answers[i].hash, sizeof(h.answers[i].hash),
		    j->hashes[i]);
		h.nanswers++;
	}
	h.unblock_failures = 0;
	h.unblock_locked_until = 0;
	h.updated = now;
	if ((rc = inv_holder_put(t, &h, INV_PUT_UPDATE)) != INV_OK)
		goto fail;
holder_done:
	eng_hex(j->guid, 16, g);
	snprintf(key, sizeof(key), "issuing:%s", g);
	inv_meta_del(t, key);
	return inv_commit(t);
fail:
	inv_abort(t);
	return rc;
}

/*
 * The PKCS#11 self-test in a child process (cardmgr-selftest, next to
 * cardmgrd): the PIN goes down a pipe, and whatever copies libp11 and OpenSC
 * make of it die with the child.
 */
static int
eng_self_test(struct engine *e, const char *reader, const char *pin,
    char *detail, size_t cap)
{
	char exe[PATH_MAX], helper[PATH_MAX + 32], *slash;
	char *argv[] = { helper, "-S", (char *)(e->cfg->seccomp != NULL ?
	    e->cfg->seccomp : "enforce"), (char *)e->cfg->card_module,
	    (char *)reader, NULL };
	posix_spawn_file_actions_t fa;
	int pin_pipe[2], out_pipe[2], st, rc = COPS_ERR_SELFTEST;
	ssize_t n;
	pid_t pid;

	snprintf(detail, cap, "self-test helper failed");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return rc;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	snprintf(helper, sizeof(helper), "%s/cardmgr-selftest", exe);
	if (pipe2(pin_pipe, O_CLOEXEC) != 0)
		return rc;
	if (pipe2(out_pipe, O_CLOEXEC) != 0) {
		close(pin_pipe[0]);
		close(pin_pipe[1]);
		return rc;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin_pipe[0], 3);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	if (posix_spawn(&pid, helper, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(pin_pipe[0]);
	close(out_pipe[1]);
	if (pid > 0 && write(pin_pipe[1], pin, strlen(pin)) == (ssize_t)strlen(pin))
		(void)!write(pin_pipe[1], "\n", 1);
	close(pin_pipe[1]);
	if (pid > 0) {
		struct pollfd pfd = { out_pipe[0], POLLIN, 0 };
		size_t got = 0;
		int timed_out = 0, pr;

		/* A card pulled at the wrong moment can leave OpenSC waiting:
		 * the helper gets SELFTEST_TIMEOUT_MS, then it is killed. */
		for (;;) {
			if ((pr = poll(&pfd, 1, SELFTEST_TIMEOUT_MS)) == 0) {
				timed_out = 1;
				break;
			}
			if (pr < 0 || got >= cap - 1 ||
			    (n = read(out_pipe[0], detail + got, cap - 1 - got)) <= 0)
				break;
			got += (size_t)n;
		}
		detail[got] = '\0';
		detail[strcspn(detail, "\n")] = '\0';
		if (timed_out)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (timed_out) {
			snprintf(detail, cap, "self-test did not finish in %d s",
			    SELFTEST_TIMEOUT_MS / 1000);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			rc = COPS_OK;
		} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
			snprintf(detail, cap, "self-test helper killed by its "
			    "sandbox (a system call outside its seccomp "
			    "allow-list)");
		} else if (detail[0] == '\0') {
			snprintf(detail, cap, "self-test helper exited %d", st);
		}
	}
	close(out_pipe[0]);
	return rc;
}

/* The card's serial as the inventory keys it: F8 serial, else the CHUID's GUID. */
void
eng_card_serial(const struct cops_card *card, char *out, size_t cap)
{
	char g[33];

	if (card->id.has_serial) {
		snprintf(out, cap, "%u", card->id.serial);
		return;
	}
	eng_hex(card->id.has_chuid ? card->id.chuid.guid : (const uint8_t *)
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, g);
	snprintf(out, cap, "guid-%s", g);
}

/*
 * May this physical card be issued? Unknown cards may; a card whose last
 * record is retired (lost, stolen, damaged, returned) may if that record's
 * profile allows reuse; a card the inventory still calls active, suspended
 * or issuing may not (retire it, or present it so an interrupted issuance
 * rolls back).
 */
static int
check_reuse(struct issue_job *j)
{
	struct inv_txn *t = NULL;
	struct inv_card old;
	const struct prof *p;
	int rc;

	/* Only a card from stock (if required), before anything is written. */
	if (stk_check_issue(j->e, j->serial, j->detail, sizeof(j->detail)) != 0)
		return -1;
	if ((rc = inv_begin(j->e->inv, 0, &t)) != INV_OK)
		return -1;
	rc = inv_card_by_serial(t, j->serial, &old);
	inv_abort(t);
	if (rc == INV_ERR_NOTFOUND)
		return 0;
	if (rc != INV_OK)
		return -1;
	switch (old.state) {
	case INV_CARD_STOCK:
		return 0;
	case INV_CARD_RETIRED:
	case INV_CARD_LOST:
	case INV_CARD_STOLEN:
	case INV_CARD_DAMAGED:
	case INV_CARD_RETURNED:
		p = prof_find(j->e->profiles, old.profile);
		if (p != NULL && p->reuse_retired)
			return 0;
		snprintf(j->detail, sizeof(j->detail), "card %s was retired "
		    "under profile %s, which does not allow reuse", j->serial,
		    old.profile);
		return -1;
	default:
		snprintf(j->detail, sizeof(j->detail), "the inventory calls "
		    "card %s %s: retire it first", j->serial,
		    inv_card_state_name(old.state));
		return -1;
	}
}

static void
free_answers(struct issue_job *j)
{
	for (size_t i = 0; i < MAX_ANSWERS; i++) {
		seal_text_free(j->answers[i]);
		j->answers[i] = NULL;
	}
}

static void *
hash_answers(void *arg)
{
	struct issue_job *j = arg;
	const struct prof_challenge *ch = &j->prof->challenge;
	struct ans_cost cost = { ch->hash_ops, ch->hash_mem };

	/* Each hash holds hash_mem bytes: as many at once as CPUs. */
	while (sem_wait(&j->e->hash_slots) != 0)
		;
	for (size_t i = 0; i < j->nanswers && j->hash_rc == 0; i++)
		j->hash_rc = ans_hash(&cost, j->answers[i],
		    (size_t)ch->min_answer_len, j->hashes[i]);
	sem_post(&j->e->hash_slots);
	free_answers(j);
	return NULL;
}

/* Start hashing the answers next to the card work (inline if no thread). */
static void
hash_start(struct issue_job *j)
{
	if (j->nanswers == 0)
		return;
	if (pthread_create(&j->hash_th, NULL, hash_answers, j) == 0)
		j->hashing = 1;
	else
		(void)hash_answers(j);
}

/* 0 when every answer has its hash. */
static int
hash_wait(struct issue_job *j)
{
	if (j->hashing)
		pthread_join(j->hash_th, NULL);
	j->hashing = 0;
	return j->hash_rc;
}

static void *
issue_thread(void *arg)
{
	struct issue_job *j = arg;
	struct cops_hooks h = { j, h_step, h_mgmt, h_puk, h_escrow, h_enroll,
	    h_retired };
	struct cops_plan plan;
	struct cops_card card;
	struct pcsc_ctx *pc = NULL;
	char detail[256] = "";
	int rc, ok = 0, present = 1, rolling;

	memset(&card, 0, sizeof(card));
	hash_start(j);
	if (eng_pcsc_open(j->e, &pc) != PCSC_OK ||
	    (rc = cops_open(pc, j->reader, &card, detail, sizeof(detail))) != COPS_OK) {
		snprintf(j->detail, sizeof(j->detail), "%s", detail);
		goto done;
	}
	eng_card_serial(&card, j->serial, sizeof(j->serial));
	j->card = &card;
	if (check_reuse(j) != 0) {
		if (j->detail[0] == '\0')
			snprintf(j->detail, sizeof(j->detail), "inventory error");
		goto done;
	}
	if (plan_from_profile(j->prof, &j->holder, j->serial, j->e->cfg->fascn,
	    &plan) != 0) {
		snprintf(j->detail, sizeof(j->detail), "profile %s: a subject "
		    "does not expand for this holder (a field empty or with '/')",
		    j->prof->name);
		goto done;
	}
	/* A temporary card whose profile has no escrowed slot gets the
	 * permanent profile's, for the recovered key management key. */
	if (j->rep != NULL && rep_extra_slot(j->rep) != NULL &&
	    (plan.nslots >= COPS_MAX_SLOTS ||
	    slot_from_profile(rep_extra_slot(j->rep), &j->holder, j->serial,
	    &plan.slots[plan.nslots++]) != 0)) {
		snprintf(j->detail, sizeof(j->detail), "the key management "
		    "slot's subject does not expand for this holder");
		goto done;
	}
	if (j->rep != NULL)
		rep_plan(j->rep, &plan);
	rc = cops_issue(&card, &plan, j->pin, &h, j->guid, detail, sizeof(detail));
	if (rc != COPS_OK && j->detail[0] == '\0' && j->enroll_detail[0] != '\0')
		snprintf(j->detail, sizeof(j->detail), "%s", j->enroll_detail);
	if (rc != COPS_OK) {
		if (j->detail[0] == '\0')
			snprintf(j->detail, sizeof(j->detail), "%s: %s",
			    cops_name(rc), detail);
		/* A card that stopped answering is treated as pulled: rolled
		 * back when it comes back (it may answer after a power cycle). */
		present = rc != COPS_ERR_REMOVED && rc != COPS_ERR_DIFFERENT &&
		    rc != COPS_ERR_NOT_RESPONDING;
		goto done;
	}
	/* The self-test opens its own session: ours must go first. */
	cops_close(&card);
	card.pc = NULL;
	if (j->prof->self_test && (rc = eng_self_test(j->e, j->reader, j->pin,
	    detail, sizeof(detail))) != COPS_OK) {
		snprintf(j->detail, sizeof(j->detail), "%s", detail);
		goto done;
	}
	eng_crash_point("final:begin");
	ok = 1;
done:
	if (hash_wait(j) != 0 && ok) {
		snprintf(j->detail, sizeof(j->detail), "hashing the challenge "
		    "answers failed: %s", ans_strerror(j->hash_rc));
		ok = 0;
	}
	rolling = !ok && j->have_guid && present;
	if ((rc = finish(j, ok, rolling)) != INV_OK) {
		log_warnx("operation %llu: cannot record the outcome",
		    (unsigned long long)j->op_id);
		/* Activation refused (a replacement whose old card moved
		 * meanwhile): the operation fails, the new card rolls back. */
		if (ok) {
			if (j->detail[0] == '\0')
				snprintf(j->detail, sizeof(j->detail), "cannot "
				    "record the outcome: %s", inv_strerror(rc));
			rolling = j->have_guid && present;
			(void)finish(j, 0, rolling);
		}
		ok = 0;
	}
	/* Said before a waiter is woken: whoever sees the outcome finds
	 * the log line and the audit record already there. */
	eng_audit(j->e, &j->actor, j->op_type, j->holder.id, ok ? "ok" :
	    "failed", ok ? j->prof->name : j->detail);
	log_info("operation %llu: %s on '%s' %s%s%s",
	    (unsigned long long)j->op_id, j->op_type, j->reader, ok ? "done" :
	    "failed", ok ? "" : ": ", ok ? "" : j->detail);
	eng_op_changed(j->e);
	cops_close(&card);
	/*
	 * A card that did not make it is rolled back now if it is still in
	 * the reader (wiped, what the CA issued revoked); a pulled one when it
	 * comes back (recover.c). Never left half-issued and called active.
	 */
	if (rolling) {
		if (eng_rollback(j->e, j->guid, j->reader, j->detail) != 0)
			log_warnx("operation %llu: roll back when the card is "
			    "presented again", (unsigned long long)j->op_id);
		op_failed(j->e, j->op_id);	/* not rolled back: failed */
	}
	eng_pcsc_close(j->e, pc, j->reader);
	eng_reader_release(j->e, j->reader);
	if (j->rep != NULL)
		rep_done(j, ok);
	issue_job_free(j);
	return NULL;
}

/* ---- the request: everything checkable without the card ---------------- */

static int
open_answers(struct engine *e, const struct ops_req *r, struct issue_job *j,
    const char **why)
{
	const struct prof_challenge *ch = &j->prof->challenge;
	size_t n = ops_req_count(r, "answers"), len;
	char *text = NULL, norm[ANS_MAX + 1];
	int rc = -1;

	if (!ch->enabled)
		return n == 0 ? 0 : (*why = "this profile takes no answers", -1);
	if (n != (size_t)ch->enrolled || n > MAX_ANSWERS) {
		*why = "wrong number of challenge answers for this profile";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ops_value *q = ops_req_get(r, "answers", i, "question");
		const struct ops_value *a = ops_req_get(r, "answers", i, "answer");
		size_t k;

		if (q == NULL || a == NULL)
			goto out;
		for (k = 0; k < ch->nquestions; k++)
			if (ch->questions[k].id == q->i)
				break;
		if (k == ch->nquestions) {
			*why = "an answer is for a question the profile does not have";
			goto out;
		}
		for (k = 0; k < i; k++)
			if (j->qids[k] == (int)q->i) {
				*why = "two answers to the same question";
				goto out;
			}
		j->qids[i] = (int)q->i;
		if (seal_open_text(e->seal, a->p, a->len, ANS_MAX, &text) != SEAL_OK) {
			*why = "an answer is not sealed to this station's session key";
			goto out;
		}
		/* Checked now (a 422 before any card work), hashed later. */
		if (ans_normalise(text, (size_t)ch->min_answer_len, norm,
		    sizeof(norm), &len) != ANS_OK) {
			*why = "an answer is too short or not plain text";
			goto out;
		}
		j->answers[i] = text;
		text = NULL;
		j->nanswers = i + 1;
	}
	rc = 0;
out:
	sodium_memzero(norm, sizeof(norm));
	seal_text_free(text);
	return rc;
}

struct issue_job *
issue_job_new(struct engine *e, const struct actor *a)
{
	struct issue_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->e = e;
	j->actor = *a;
	j->op_type = "issue";
	j->mk_version = __atomic_load_n(&e->master_version, __ATOMIC_SEQ_CST);
	return j;
}

void
issue_job_free(struct issue_job *j)
{
	if (j == NULL)
		return;
	seal_text_free(j->pin);
	free_answers(j);
	rep_free(j->rep);
	sodium_memzero(j, sizeof(*j));
	free(j);
}

int
issue_job_pin(struct issue_job *j, const struct ops_req *r, const char **why,
    int *status, const char **code)
{
	const struct ops_value *pv = ops_req_get(r, "pin", 0, NULL);
	struct pin_blocklist *bl = NULL;
	char path[1024];
	int rc;

	*status = 400;
	*code = "bad_request";
	if (pv == NULL || seal_open_text(j->e->seal, pv->p, pv->len, 8,
	    &j->pin) != SEAL_OK) {
		*why = "the PIN is not sealed to this station's session key";
		return -1;
	}
	if (j->prof->pin.blocklist[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s", j->e->cfg->profiles_dir,
		    j->prof->pin.blocklist);
		if (pin_blocklist_load(path, &bl, NULL, 0) != 0)
			bl = NULL;
	}
	rc = pin_check(&j->prof->pin, j->pin, NULL, bl, why);
	pin_blocklist_free(bl);
	if (rc != 0) {
		*status = 422;
		*code = "pin_policy";
		return -1;
	}
	return 0;
}

int
issue_job_start(struct issue_job *j, uint64_t *op_id, const char **why,
    int *status, const char **code)
{
	struct engine *e = j->e;
	struct inv_txn *t = NULL;
	struct inv_op op;
	pthread_t th;
	pthread_attr_t at;
	int rc;

	if ((rc = eng_reader_claim(e, j->reader)) != 0) {
		*why = eng_claim_why(rc, code);
		*status = 409;
		return -1;
	}
	memset(&op, 0, sizeof(op));
	snprintf(op.type, sizeof(op.type), "%s", j->op_type);
	op.state = INV_OP_RUNNING;
	snprintf(op.holder, sizeof(op.holder), "%s", j->holder.id);
	snprintf(op.oper, sizeof(op.oper), "%s", j->actor.name);
	op.created = op.updated = (uint64_t)time(NULL);
	if ((rc = inv_begin(e->inv, 1, &t)) == INV_OK &&
	    (rc = inv_op_add(t, &op, &j->op_id)) == INV_OK)
		rc = inv_commit(t);
	else
		inv_abort(t);
	if (rc != INV_OK) {
		eng_reader_release(e, j->reader);
		*status = rc == INV_ERR_FULL ? 507 : 500;
		*code = "inventory";
		*why = inv_strerror(rc);
		return -1;
	}
	*op_id = j->op_id;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &at, issue_thread, j);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		/* XXX the operation stays RUNNING until the next start marks
		 * it FAILED (as before: no card was touched). */
		eng_reader_release(e, j->reader);
		*why = "cannot start the operation";
		*status = 500;
		*code = "internal";
		return -1;
	}
	return 0;
}

int
op_issue(struct engine *e, const struct ops_req *r, uint64_t id,
    const struct actor *a)
{
	struct issue_job *j = issue_job_new(e, a);
	struct inv_txn *t = NULL;
	char buf[160], reader[128];
	const char *why = NULL;
	uint64_t op_id = 0;
	int rc, status = 400;
	const char *code = "bad_request";

	if (j == NULL)
		return eng_error(e, id, 500, "nomem", "out of memory");
	eng_arg(r, "reader", j->reader, sizeof(j->reader));
	if ((j->prof = prof_find(e->profiles, eng_arg(r, "profile", buf,
	    sizeof(buf)))) == NULL) {
		why = "no such profile";
		code = "no_profile";
		goto refuse;
	}
	if (!lc_allows(lc_find(e->lc, "issue"), a->roles) ||
	    (j->prof->roles[PROF_OP_ISSUE] & a->roles) == 0) {
		why = !lc_allows(lc_find(e->lc, "issue"), a->roles) ?
		    "the lifecycle does not let your roles issue" :
		    "the profile does not let your roles issue";
		status = 403;
		code = "forbidden";
		goto refuse;
	}
	if ((rc = inv_begin(e->inv, 0, &t)) == INV_OK)
		rc = inv_holder_get(t, eng_arg(r, "holder", buf, sizeof(buf)),
		    &j->holder);
	inv_abort(t);
	t = NULL;
	if (rc != INV_OK) {
		why = "no such holder (add the holder first)";
		status = 404;
		code = "no_holder";
		goto refuse;
	}
	if (issue_job_pin(j, r, &why, &status, &code) != 0)
		goto refuse;
	if (open_answers(e, r, j, &why) != 0) {
		status = 422;
		code = "answers";
		goto refuse;
	}
	/* From a successful start on, j is the thread's. */
	snprintf(reader, sizeof(reader), "%s", j->reader);
	if (issue_job_start(j, &op_id, &why, &status, &code) != 0)
		goto refuse;
	return eng_reply(e, id, 202, json_pack("{s:I, s:s, s:s}", "operation",
	    (json_int_t)op_id, "state", op_state_name(INV_OP_RUNNING),
	    "reader", reader));
refuse:
	eng_audit(e, a, "issue", j->holder.id[0] ? j->holder.id : "-", "refused",
	    why);
	issue_job_free(j);
	return eng_error(e, id, status, code, "%s", why);
}

/* renew.c: a profile slot as the card sequence wants it, and the 9B key's
 * algorithm (the issuance's own conversions). */
int
eng_slot_plan(const struct prof_slot *ps, const struct inv_holder *h,
    const char *serial, struct cops_slot *s)
{
	memset(s, 0, sizeof(*s));
	return slot_from_profile(ps, h, serial, s);
}

int
eng_mgmt_alg(const struct prof *p)
{
	return mgmt_piv(p->mgmt_alg);
}
