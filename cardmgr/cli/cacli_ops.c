/*
 * cardmgr-ca: journaled CA operations (enroll, renew, revoke, un-hold, push)
 * and the outbox executor that sends them, one CMP transaction each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <fcntl.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cacli.h"
#include "ca/ca.h"
#include "ca/caidm.h"

/* ---- commands ---- */

static int
report_op(struct cli *c, uint64_t id, int rc)
{
	const char *out = cli_opt(c, "--out");
	char sn[80] = "", tx[40];
	struct outbox_op op;
	X509 *x = NULL;

	if (outbox_get(cast_outbox(c->st), id, &op) != OUTBOX_OK)
		return cli_exit(c, rc, NULL);
	cli_hex(op.txid, sizeof(op.txid), tx);
	if (op.state == OUTBOX_PENDING) {
		printf("queued: op %llu txid %s (%s); %s\n",
		    (unsigned long long)id, tx, op.detail[0] ? op.detail :
		    "not sent yet", rc == CAST_ERR_TOKEN ? "it is kept and "
		    "sent once the token is back" : "it will be retried");
	} else if (op.state == OUTBOX_FAILED) {
		printf("failed: op %llu: %s\n", (unsigned long long)id, op.detail);
	} else {
		if (op.result_len > 0 &&
		    (x = cli_der_to_x509(op.result, op.result_len)) != NULL) {
			cli_serial_of(x, sn, sizeof(sn));
			if (out != NULL && cli_write_cert_pem(out, x) != 0)
				cli_errx("cannot write %s", out);
		}
		printf("done: op %llu%s%s\n", (unsigned long long)id,
		    sn[0] ? " serial " : "", sn);
	}
	X509_free(x);
	outbox_op_clear(&op);
	return cli_exit(c, rc, NULL);
}

static int
submit(struct cli *c, enum outbox_type type, const char *profile, int reason,
    const uint8_t *payload, size_t len)
{
	int queue = cli_opt(c, "--queue") != NULL;
	uint64_t id = 0;
	int rc;

	rc = cast_submit(c->st, type, profile, reason, payload, len, queue, &id);
	if (id == 0)
		return cli_exit(c, rc, "journal");
	if (queue) {
		printf("queued: op %llu\n", (unsigned long long)id);
		return EXIT_QUEUED;
	}
	return report_op(c, id, rc);
}

/* Benchmarks: journal n enrollments of one CSR (each its own transaction). */
static int
queue_repeat(struct cli *c, const char *profile, const uint8_t *der,
    size_t len, long n)
{
	uint64_t id = 0;
	long i;

	if (n <= 0 || n > 1000000 || cli_opt(c, "--queue") == NULL) {
		cli_errx("--repeat N (1..1000000) needs --queue");
		return EXIT_USAGE;
	}
	for (i = 0; i < n; i++)
		if (outbox_add(cast_outbox(c->st), OUTBOX_ENROLL, profile, 0, der, len,
		    (uint64_t)time(NULL), &id) != OUTBOX_OK) {
			cli_errx("journal failed after %ld operations", i);
			return 1;
		}
	printf("queued: %ld operations, last op %llu\n", n,
	    (unsigned long long)id);
	return EXIT_QUEUED;
}

int
cli_cmd_enroll(struct cli *c)
{
	const char *csr = cli_opt(c, "--csr"), *profile = cli_opt(c, "--profile");
	uint8_t *der;
	size_t len;
	int rc;

	if (csr == NULL || profile == NULL)
		return EXIT_USAGE;
	if (cli_load_der(csr, 1, &der, &len) != 0) {
		cli_errx("cannot read CSR %s", csr);
		return 1;
	}
	if (cli_opt(c, "--repeat") != NULL)
		rc = queue_repeat(c, profile, der, len, atol(cli_opt(c, "--repeat")));
	else
		rc = submit(c, OUTBOX_ENROLL, profile, 0, der, len);
	OPENSSL_free(der);
	return rc;
}

/* ---- renewal of a card certificate: a new p10cr under the same profile ---- */

int
cli_cmd_renew(struct cli *c)
{
	const char *cert = cli_opt(c, "--cert"), *csr = cli_opt(c, "--csr");
	char profile[OUTBOX_PROFILE_MAX + 1];
	uint8_t *old = NULL, *req = NULL;
	size_t olen, rlen;
	int rc = 1;

	if (cert == NULL || csr == NULL)
		return EXIT_USAGE;
	if (cli_load_der(cert, 0, &old, &olen) != 0 ||
	    cli_load_der(csr, 1, &req, &rlen) != 0) {
		cli_errx("cannot read %s or %s", cert, csr);
		goto out;
	}
	snprintf(profile, sizeof(profile), "%s", cli_opt(c, "--profile") ?
	    cli_opt(c, "--profile") : "");
	if ((rc = cast_renew_profile(c->st, old, olen, req, rlen, profile)) !=
	    CAST_OK) {
		rc = cli_exit(c, rc, cert);
		goto out;
	}
	rc = submit(c, OUTBOX_ENROLL, profile, 0, req, rlen);
	if (rc == 0)
		printf("renewed under profile %s; revoke the old certificate "
		    "(--reason superseded) once the card holds the new one\n",
		    profile);
out:
	OPENSSL_free(old);
	OPENSSL_free(req);
	return rc;
}

int
cli_cmd_revoke(struct cli *c, int reason)
{
	const char *cert = cli_opt(c, "--cert"), *rn = cli_opt(c, "--reason");
	uint8_t *der;
	size_t len;
	int rc;

	if (reason < 0 && rn != NULL)
		reason = cli_reason_parse(rn);
	if (cert == NULL || reason < 0 ||
	    (reason == CRL_REASON_REMOVE_FROM_CRL && rn != NULL)) {
		cli_errx("revoke needs --cert and --reason keyCompromise, "
		    "cessationOfOperation, superseded, affiliationChanged, "
		    "certificateHold or unspecified");
		return EXIT_USAGE;
	}
	if (cli_load_der(cert, 0, &der, &len) != 0) {
		cli_errx("cannot read certificate %s", cert);
		return 1;
	}
	rc = submit(c, OUTBOX_REVOKE, NULL, reason, der, len);
	OPENSSL_free(der);
	return rc;
}

int
cli_cmd_push(struct cli *c)
{
	const char *cert = cli_opt(c, "--cert");
	uint8_t *der;
	size_t len;
	int rc;

	if (cert == NULL || c->conf.idm_url[0] == '\0') {
		cli_errx("push needs --cert and idm_url in the configuration");
		return EXIT_USAGE;
	}
	if (cli_load_der(cert, 0, &der, &len) != 0)
		return 1;
	rc = submit(c, OUTBOX_PUSH, NULL, 0, der, len);
	OPENSSL_free(der);
	return rc;
}

static const char *
type_name(int t)
{
	return t == OUTBOX_ENROLL ? "enroll" : t == OUTBOX_REVOKE ? "revoke" :
	    "push";
}

static int
list_one(const struct outbox_op *op, void *arg)
{
	static const char *states[] = { "pending", "done", "failed" };
	char tx[40];

	(void)arg;
	cli_hex(op->txid, sizeof(op->txid), tx);
	printf("%llu %s %s attempts=%u next_try=%llu txid=%s", (unsigned long long)
	    op->id, type_name(op->type), states[op->state], op->attempts,
	    (unsigned long long)op->next_try, tx);
	if (op->type == OUTBOX_ENROLL)
		printf(" profile=%s", op->profile);
	if (op->type == OUTBOX_REVOKE)
		printf(" reason=%s", cli_reason_name(op->reason));
	if (op->last_err != 0)
		printf(" err=%s", op->type == OUTBOX_PUSH ?
		    caidm_errname(op->last_err) : ca_errname(op->last_err));
	printf("%s%s\n", op->detail[0] ? " last_error=" : "", op->detail);
	return 0;
}

/* The first pending operation, and why its last attempt did not finish. */
static int
why_kept(const struct outbox_op *op, void *arg)
{
	(void)arg;
	if (op->last_err != 0)
		cli_errx("op %llu kept for a retry: %s", (unsigned long long)
		    op->id, op->detail[0] ? op->detail : op->type == OUTBOX_PUSH ?
		    caidm_strerror(op->last_err) : ca_strerror(op->last_err));
	return 1;	/* stop: the head is enough */
}

int
cli_cmd_outbox(struct cli *c, const char *sub)
{
	struct outbox_drain_stats ds;
	const char *m = cli_opt(c, "--max");
	int rc;

	if (sub == NULL)
		return EXIT_USAGE;
	if (strcmp(sub, "list") == 0)
		return outbox_foreach(cast_outbox(c->st), cli_opt(c, "--pending") !=
		    NULL, list_one, NULL) == OUTBOX_OK ? 0 : 1;
	if (strcmp(sub, "drain") != 0)
		return EXIT_USAGE;
	if ((rc = cast_drain(c->st, 1, m ? (unsigned)atoi(m) : 0, &ds)) !=
	    CAST_OK)
		return cli_exit(c, rc, "drain");
	printf("drained: %u done, %u failed, %u to retry, %llu remaining",
	    ds.done, ds.failed, ds.retried, (unsigned long long)ds.remaining);
	if (ds.quarantined > 0)
		printf(", %u quarantined", ds.quarantined);
	printf("\n");
	if (ds.remaining == 0)
		return 0;
	if (ds.retried > 0)
		(void)outbox_foreach(cast_outbox(c->st), 1, why_kept, NULL);
	/* Why the head is still pending: the station stopped, or retry later. */
	rc = cast_station_usable(c->st);
	if (rc == CAST_ERR_REVOKED || rc == CAST_ERR_EXPIRED)
		return cli_exit(c, rc, NULL);
	return EXIT_QUEUED;
}
