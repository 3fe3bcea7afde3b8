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
#include "ca/cacrl.h"
#include "ca/caidm.h"

/* ---- the outbox executor: one journaled operation, one CA transaction ---- */

static enum outbox_verdict
verdict(struct cli *c, int rc, const struct ca_result *res,
    struct outbox_exec_out *out)
{
	out->err = rc;
	snprintf(out->detail, sizeof(out->detail), "%.60s%s%.190s",
	    ca_strerror(rc), res->detail[0] ? ": " : "", res->detail);
	if (rc == CA_OK)
		return OUTBOX_EXEC_DONE;
	if (rc == CA_ERR_STATION_REVOKED)
		cli_mark_station_revoked(c, "the CA refused our certificate");
	return ca_err_retryable(rc) ? OUTBOX_EXEC_RETRY : OUTBOX_EXEC_FAIL;
}

static void
queue_push(struct cli *c, const uint8_t *cert, size_t len)
{
	uint64_t id;

	if (c->conf.idm_url[0] != '\0' && outbox_add(c->ob, OUTBOX_PUSH, NULL, 0,
	    cert, len, (uint64_t)time(NULL), &id) != OUTBOX_OK)
		cli_errx("could not queue the identity manager push");
}

static enum outbox_verdict
exec_push(struct cli *c, const struct outbox_op *op,
    struct outbox_exec_out *out)
{
	struct caidm_cfg ic;
	char unt[PATH_LEN];
	int rc;

	memset(&ic, 0, sizeof(ic));
	ic.url = c->conf.idm_url;
	ic.trust = c->conf.idm_trust[0] ? c->conf.idm_trust : c->conf.tls_trust;
	ic.timeout = c->conf.timeout;
	(void)unt;
	rc = caidm_push(&ic, cakey_pkey(c->key), c->station, op->payload,
	    op->payload_len, out->detail, sizeof(out->detail));
	out->err = rc;
	if (rc == CAIDM_OK)
		return OUTBOX_EXEC_DONE;
	return rc == CAIDM_ERR_REFUSED ? OUTBOX_EXEC_FAIL : OUTBOX_EXEC_RETRY;
}

static enum outbox_verdict
exec_op(void *arg, const struct outbox_op *op, struct outbox_exec_out *out)
{
	struct cli *c = arg;
	struct ca_result res;
	enum outbox_verdict v;
	int rc;

	if (c->link == NULL) {
		out->err = c->link_err == EXIT_STATION ? CA_ERR_STATION_REVOKED :
		    CA_ERR_ARG;
		snprintf(out->detail, sizeof(out->detail), "%s",
		    c->link_err == EXIT_STATION ? "not sent: station certificate "
		    "revoked or expired" : "not sent: no CA link (configuration, "
		    "station key or certificate)");
		return OUTBOX_EXEC_RETRY;
	}
	cli_crash_point("send");	/* journaled, nothing sent */
	if (op->type == OUTBOX_PUSH)
		return exec_push(c, op, out);
	if (op->type == OUTBOX_ENROLL)
		rc = ca_enroll_p10(c->link, op->payload, op->payload_len,
		    op->profile, op->txid, &res);
	else
		rc = ca_revoke(c->link, op->payload, op->payload_len, op->reason,
		    op->txid, &res);
	cli_crash_point("answered");	/* the CA acted, nothing recorded */
	v = verdict(c, rc, &res, out);
	if (v == OUTBOX_EXEC_DONE && res.cert != NULL) {
		if ((out->result = malloc(res.cert_len)) != NULL) {
			memcpy(out->result, res.cert, res.cert_len);
			out->result_len = res.cert_len;
			queue_push(c, res.cert, res.cert_len);
		}
	}
	ca_result_clear(&res);
	return v;
}

static int
drain(struct cli *c, int force, unsigned max, struct outbox_drain_stats *st)
{
	char p[PATH_LEN];
	int rc, fd;

	/*
	 * One drain at a time: two would send the same operation twice (the
	 * CA sees a replay, harmless, but the order would be lost). The lock
	 * dies with the process, kill -9 included.
	 */
	memset(st, 0, sizeof(*st));
	cli_state_path(c, "drain.lock", p);
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(fd, LOCK_EX | LOCK_NB) != 0) {
		cli_errx("another drain is running; the work stays journaled");
		if (fd >= 0)
			close(fd);
		return EXIT_QUEUED;
	}
	c->link_err = cli_open_link(c);
	rc = outbox_drain(c->ob, (uint64_t)time(NULL), force, max, exec_op, c, st);
	close(fd);
	if (rc != OUTBOX_OK) {
		cli_errx("drain: %s", outbox_strerror(rc));
		return 1;
	}
	return 0;
}

/* ---- commands ---- */

static int
report_op(struct cli *c, uint64_t id)
{
	struct outbox_op op;
	X509 *x = NULL;
	char sn[80] = "", tx[40];
	const char *out = cli_opt(c, "--out");
	int rc;

	if (outbox_get(c->ob, id, &op) != OUTBOX_OK)
		return 1;
	cli_hex(op.txid, sizeof(op.txid), tx);
	if (op.state == OUTBOX_PENDING) {
		printf("queued: op %llu txid %s (%s); it will be retried\n",
		    (unsigned long long)id, tx, op.detail[0] ? op.detail :
		    "not sent yet");
		rc = c->link_err == EXIT_STATION || cli_station_marked(c) ?
		    EXIT_STATION : EXIT_QUEUED;
	} else if (op.state == OUTBOX_FAILED) {
		printf("failed: op %llu: %s\n", (unsigned long long)id, op.detail);
		rc = 1;
	} else {
		if (op.result_len > 0 &&
		    (x = cli_der_to_x509(op.result, op.result_len)) != NULL) {
			cli_serial_of(x, sn, sizeof(sn));
			if (out != NULL && cli_write_cert_pem(out, x) != 0)
				cli_errx("cannot write %s", out);
		}
		printf("done: op %llu%s%s\n", (unsigned long long)id,
		    sn[0] ? " serial " : "", sn);
		rc = 0;
	}
	X509_free(x);
	outbox_op_clear(&op);
	return rc;
}

static int
submit(struct cli *c, enum outbox_type type, const char *profile, int reason,
    const uint8_t *payload, size_t len)
{
	struct outbox_drain_stats st;
	uint64_t id;
	int rc;

	if (cli_open_outbox(c) != 0)
		return 1;
	rc = outbox_add(c->ob, type, profile, reason, payload, len,
	    (uint64_t)time(NULL), &id);
	if (rc != OUTBOX_OK) {
		cli_errx("journal: %s", outbox_strerror(rc));
		return 1;
	}
	if (cli_opt(c, "--queue") != NULL) {
		printf("queued: op %llu\n", (unsigned long long)id);
		return EXIT_QUEUED;
	}
	if (drain(c, 1, 0, &st) == 1)
		return 1;
	return report_op(c, id);	/* busy: still journaled, reported pending */
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
	if (cli_open_outbox(c) != 0)
		return 1;
	for (i = 0; i < n; i++)
		if (outbox_add(c->ob, OUTBOX_ENROLL, profile, 0, der, len,
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

struct issued_by_us {
	const uint8_t *der;
	size_t len;
	char profile[OUTBOX_PROFILE_MAX + 1];
};

static int
match_issued(const struct outbox_op *op, void *arg)
{
	struct issued_by_us *w = arg;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    op->result_len != w->len || memcmp(op->result, w->der, w->len) != 0)
		return 0;
	snprintf(w->profile, sizeof(w->profile), "%s", op->profile);
	return 1;	/* found: stop */
}

static int
same_subject(const uint8_t *csr, size_t clen, const uint8_t *cert, size_t len)
{
	const unsigned char *p = csr;
	X509_REQ *r = d2i_X509_REQ(NULL, &p, (long)clen);
	X509 *x = cli_der_to_x509(cert, len);
	int ok = r != NULL && x != NULL && X509_NAME_cmp(
	    X509_REQ_get_subject_name(r), X509_get_subject_name(x)) == 0;

	X509_REQ_free(r);
	X509_free(x);
	return ok;
}

int
cli_cmd_renew(struct cli *c)
{
	const char *cert = cli_opt(c, "--cert"), *csr = cli_opt(c, "--csr");
	struct issued_by_us w;
	uint8_t *old = NULL, *req = NULL;
	size_t olen, rlen;
	int rc = 1;

	if (cert == NULL || csr == NULL)
		return EXIT_USAGE;
	if (cli_load_der(cert, 0, &old, &olen) != 0 || cli_load_der(csr, 1, &req,
	    &rlen) != 0 || cli_open_outbox(c) != 0) {
		cli_errx("cannot read %s or %s", cert, csr);
		goto out;
	}
	if (!same_subject(req, rlen, old, olen)) {
		cli_errx("the CSR's subject differs from the certificate it renews");
		goto out;
	}
	memset(&w, 0, sizeof(w));
	w.der = old;
	w.len = olen;
	if (cli_opt(c, "--profile") != NULL)
		snprintf(w.profile, sizeof(w.profile), "%s", cli_opt(c, "--profile"));
	else if (outbox_foreach(c->ob, 0, match_issued, &w) != 1) {
		cli_errx("%s was not issued by this station: give --profile", cert);
		goto out;
	}
	rc = submit(c, OUTBOX_ENROLL, w.profile, 0, req, rlen);
	if (rc == 0)
		printf("renewed under profile %s; revoke the old certificate "
		    "(--reason superseded) once the card holds the new one\n",
		    w.profile);
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

int
cli_cmd_outbox(struct cli *c, const char *sub)
{
	struct outbox_drain_stats st;
	const char *m = cli_opt(c, "--max");
	int rc;

	if (sub == NULL || cli_open_outbox(c) != 0)
		return sub == NULL ? EXIT_USAGE : 1;
	if (strcmp(sub, "list") == 0)
		return outbox_foreach(c->ob, cli_opt(c, "--pending") != NULL, list_one,
		    NULL) == OUTBOX_OK ? 0 : 1;
	if (strcmp(sub, "drain") != 0)
		return EXIT_USAGE;
	if ((rc = drain(c, 1, m ? (unsigned)atoi(m) : 0, &st)) != 0)
		return rc;
	printf("drained: %u done, %u failed, %u to retry, %llu remaining\n",
	    st.done, st.failed, st.retried, (unsigned long long)st.remaining);
	if (st.remaining == 0)
		return 0;
	return c->link_err == EXIT_STATION || cli_station_marked(c) ? EXIT_STATION :
	    EXIT_QUEUED;
}
