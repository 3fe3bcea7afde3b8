/*
 * issue_job: one issuance in its thread (issue.c), shared with the
 * operations that issue a card as part of something larger (replace.c:
 * a replacement is an issuance with recovered keys, and retires the old
 * card in the transaction that activates the new one). Engine internal.
 */
#ifndef ISSUE_JOB_H
#define ISSUE_JOB_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "engine_int.h"
#include "engine/cardops.h"
#include "policy/answer.h"

#define MAX_ANSWERS 8

struct rep;	/* replace.c */

struct issue_job {
	struct engine *e;
	const struct prof *prof;
	struct actor actor;
	struct inv_holder holder;
	char reader[128];
	char *pin;		/* seal_text: secure memory */
	/*
	 * The answers, checked at request time, are hashed by a thread of
	 * their own while the card works: Argon2id at the product cost takes
	 * ~0.1 s each, too long for the engine's loop and for the holder.
	 */
	char *answers[MAX_ANSWERS];	/* seal_text until hashed */
	char hashes[MAX_ANSWERS][ANS_HASH_LEN];
	pthread_t hash_th;
	int hashing;		/* hash_th runs */
	int hash_rc;		/* 0, or the first ans_hash error */
	int qids[MAX_ANSWERS];
	size_t nanswers;
	uint64_t op_id;
	uint32_t step_no;
	/* The master key version the card's 9B key and PUK come from: read
	 * once, so a rotation during the issuance cannot split them. */
	uint32_t mk_version;
	/* Filled as the card progresses. */
	uint8_t guid[16];
	int have_guid;
	uint8_t escrow[INV_ESCROW_MAX];
	size_t escrow_len;
	char serial[INV_SERIAL_MAX + 1];
	const struct cops_card *card;	/* while the thread has it open */
	char detail[512];
	/* Why an enrollment failed: written by the enroll thread, read after
	 * cops_issue joined it. */
	char enroll_detail[512];
	/* "issue" or "replace": the operation's type, audit event. */
	const char *op_type;
	/* A replacement: the old card, the recovered keys (replace.c). */
	struct rep *rep;
};

/* issue.c */
struct issue_job *issue_job_new(struct engine *e, const struct actor *a);
void issue_job_free(struct issue_job *j);
/* The sealed PIN r carries as "pin", checked against j->prof's policy:
 * 0, or -1 with *why, *status, *code. */
int issue_job_pin(struct issue_job *j, const struct ops_req *r,
    const char **why, int *status, const char **code);
/*
 * Claim j->reader, record the RUNNING operation and start the card work
 * in its own thread, which then owns j. 0: the thread runs, *op_id is
 * its operation (the caller answers 202); -1 with *why, *status, *code:
 * j is still the caller's.
 */
int issue_job_start(struct issue_job *j, uint64_t *op_id, const char **why,
    int *status, const char **code);

/* replace.c: the replacement's part of the card work. */
int rep_escrow_key(struct rep *r, int slot, EVP_PKEY **priv);
void rep_plan(const struct rep *r, struct cops_plan *plan);
/* A slot to add to the card's profile's plan (temporary card), or NULL. */
const struct prof_slot *rep_extra_slot(const struct rep *r);
int rep_retired_key(struct rep *r, int i, EVP_PKEY **priv, X509 **cert);
/* In the write txn that activates the new card j->guid: the old card
 * retired (exactly once), both histories linked. INV_ERR_EXISTS (and
 * j->detail) when the old card moved or was replaced meanwhile. */
int rep_finish(struct issue_job *j, struct inv_txn *t);
/* After the outcome is recorded: drain the CA journal (ok), free r. */
void rep_done(struct issue_job *j, int ok);
void rep_free(struct rep *r);

/* issue.c, for renew.c: a profile slot as the card sequence takes it
 * (subject expanded for holder h and card serial), the 9B key's algorithm. */
int eng_slot_plan(const struct prof_slot *ps, const struct inv_holder *h,
    const char *serial, struct cops_slot *s);
int eng_mgmt_alg(const struct prof *p);

#endif /* ISSUE_JOB_H */
