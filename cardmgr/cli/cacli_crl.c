/* cardmgr-ca: CA certificates (genm), the CRL, and the status report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cacli.h"
#include "ca/cacrl.h"
#include "ca/caidm.h"

static int
write_certs_pem(const char *path, STACK_OF(X509) *certs)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int i, rc = -1, ok = b != NULL;

	for (i = 0; ok && i < sk_X509_num(certs); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(certs, i));
	if (ok && (n = BIO_get_mem_data(b, &data)) > 0)
		rc = cafile_write_atomic(path, data, (size_t)n, 1);
	BIO_free(b);
	return rc;
}

int
cli_cmd_cacerts(struct cli *c)
{
	STACK_OF(X509) *certs = NULL;
	struct ca_result res;
	char p[PATH_LEN];
	int rc;

	if ((rc = cli_open_link(c)) != 0)
		return rc;
	if ((rc = ca_get_cacerts(c->link, &certs, &res)) != CA_OK) {
		cli_errx("genm caCerts: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		ca_result_clear(&res);
		return 1;
	}
	cli_state_path(c, "cacerts.pem", p);
	rc = write_certs_pem(cli_opt(c, "--out") ? cli_opt(c, "--out") : p, certs);
	if (rc == 0 && cli_opt(c, "--out") != NULL)
		rc = write_certs_pem(p, certs);
	printf("cacerts: %d CA certificates, verified%s\n", sk_X509_num(certs),
	    rc == 0 ? "" : " (NOT saved)");
	sk_X509_pop_free(certs, X509_free);
	ca_result_clear(&res);
	return rc == 0 ? 0 : 1;
}

/* ---- CRL ---- */

static int
cdp_url(X509 *x, char *out, size_t cap)
{
	STACK_OF(DIST_POINT) *dps;
	int i, j, found = 0;

	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; !found && j < sk_GENERAL_NAME_num(
		    dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(
			    dp->distpoint->name.fullname, j);

			if (gn->type == GEN_URI) {
				snprintf(out, cap, "%.*s",
				    ASN1_STRING_length(gn->d.uniformResourceIdentifier),
				    (const char *)ASN1_STRING_get0_data(
				    gn->d.uniformResourceIdentifier));
				found = 1;
			}
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return found ? 0 : -1;
}

/* Candidates for the CRL signer: the configured and the genm'd CA certs. */
static STACK_OF(X509) *
ca_candidates(struct cli *c)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	char p[PATH_LEN];
	const char *files[2];
	X509 *x;
	BIO *b;
	int i;

	cli_state_path(c, "cacerts.pem", p);
	files[0] = c->conf.untrusted[0] ? c->conf.untrusted : NULL;
	files[1] = p;
	for (i = 0; sk != NULL && i < 2; i++) {
		if (files[i] == NULL || (b = BIO_new_file(files[i], "r")) == NULL)
			continue;
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
			if (!sk_X509_push(sk, x))
				X509_free(x);
		BIO_free(b);
	}
	ERR_clear_error();
	return sk;
}

static void
print_crl(const char *what, X509_CRL *crl)
{
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);

	int n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));

	BIO_printf(b, "%s: %d entries, last update ", what, n < 0 ? 0 : n);
	ASN1_TIME_print(b, X509_CRL_get0_lastUpdate(crl));
	BIO_printf(b, ", next update ");
	if (X509_CRL_get0_nextUpdate(crl) != NULL)
		ASN1_TIME_print(b, X509_CRL_get0_nextUpdate(crl));
	BIO_printf(b, "%s\n", cacrl_stale(crl, time(NULL)) ? " (STALE)" : "");
	BIO_free(b);
}

static int
check_own_cert(struct cli *c, X509_CRL *crl)
{
	char p[PATH_LEN];
	X509 *st;
	int reason, rc = 0;

	cli_state_path(c, "station.crt", p);
	if ((st = cafile_load_pem_cert(p)) == NULL)
		return 0;
	if (cacrl_lookup(crl, st, &reason)) {
		snprintf(p, sizeof(p), "on the CA's CRL, reason %s",
		    cli_reason_name(reason));
		cli_mark_station_revoked(c, p);
		rc = EXIT_STATION;
	}
	X509_free(st);
	return rc;
}

static int
fetch_verified(struct cli *c, X509_CRL **crl)
{
	char url[CACONF_VAL], p[PATH_LEN], why[256];
	STACK_OF(X509) *cands = ca_candidates(c);
	struct ca_link *l = NULL;
	X509 *st;
	int rc;

	cli_state_path(c, "station.crt", p);
	snprintf(url, sizeof(url), "%s", c->conf.crl_url);
	if (url[0] == '\0' && (st = cafile_load_pem_cert(p)) != NULL) {
		(void)cdp_url(st, url, sizeof(url));
		X509_free(st);
	}
	if (url[0] == '\0') {
		cli_errx("no crl_url configured and no CDP in the station certificate");
		rc = 1;
		goto out;
	}
	rc = CACRL_ERR_ARG;
	if (cli_trust_only_link(c, &l) != 0 ||
	    (rc = cacrl_fetch(url, c->conf.timeout, crl)) != CACRL_OK) {
		cli_errx("CRL %s: %s", url, l ? cacrl_strerror(rc) : "no trust");
		rc = 1;
		goto out;
	}
	rc = cacrl_verify(*crl, cands, ca_trust_store(l), time(NULL), why,
	    sizeof(why));
	if (rc != CACRL_OK) {
		cli_errx("CRL %s REJECTED: %s: %s", url, cacrl_strerror(rc), why);
		X509_CRL_free(*crl);
		*crl = NULL;
		rc = 1;
	}
out:
	ca_link_free(l);
	sk_X509_pop_free(cands, X509_free);
	return rc;
}

int
cli_cmd_crl_update(struct cli *c)
{
	X509_CRL *crl = NULL;
	char p[PATH_LEN];
	int rc;

	if ((rc = fetch_verified(c, &crl)) != 0)
		return rc;
	cli_state_path(c, "crl.der", p);
	if ((rc = cacrl_store(p, crl)) != CACRL_OK) {
		cli_errx("CRL cache: %s", cacrl_strerror(rc));
		X509_CRL_free(crl);
		return 1;
	}
	print_crl("crl updated", crl);
	rc = check_own_cert(c, crl);
	X509_CRL_free(crl);
	return rc;
}

static const char *
cert_status(X509_CRL *crl, X509 *x, char *buf, size_t cap)
{
	int reason;

	if (crl == NULL)
		return "unknown (no CRL)";
	if (!cacrl_lookup(crl, x, &reason))
		return "good";
	snprintf(buf, cap, "%s (%s)", reason == CRL_REASON_CERTIFICATE_HOLD ?
	    "on hold" : "revoked", cli_reason_name(reason));
	return buf;
}

struct status_ctx {
	X509_CRL *crl;
};

static int
status_one(const struct outbox_op *op, void *arg)
{
	struct status_ctx *s = arg;
	char sn[80], name[256], buf[64];
	X509 *x;

	if (op->type != OUTBOX_ENROLL || op->state != OUTBOX_DONE ||
	    (x = cli_der_to_x509(op->result, op->result_len)) == NULL)
		return 0;
	cli_serial_of(x, sn, sizeof(sn));
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	printf("cert %s %s profile=%s status=%s\n", sn, name, op->profile,
	    cert_status(s->crl, x, buf, sizeof(buf)));
	X509_free(x);
	return 0;
}

static void
status_station(struct cli *c, X509_CRL *crl)
{
	char p[PATH_LEN], sn[80], buf[64];
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
	time_t due = time(NULL) + c->conf.renew_before;
	const char *when;
	X509 *st;

	cli_state_path(c, "station.crt", p);
	if ((st = cafile_load_pem_cert(p)) == NULL) {
		printf("station: NOT ENROLLED\n");
		BIO_free(b);
		return;
	}
	cli_serial_of(st, sn, sizeof(sn));
	BIO_printf(b, "station: serial %s expires ", sn);
	ASN1_TIME_print(b, X509_get0_notAfter(st));
	when = X509_cmp_current_time(X509_get0_notAfter(st)) < 0 ? " EXPIRED" :
	    X509_cmp_time(X509_get0_notAfter(st), &due) < 0 ? " RENEWAL DUE" : "";
	BIO_printf(b, " status %s%s\n", cli_station_marked(c) ? "REVOKED" :
	    cert_status(crl, st, buf, sizeof(buf)), when);
	X509_free(st);
	BIO_free(b);
}

int
cli_cmd_status(struct cli *c)
{
	struct outbox_counts n;
	struct status_ctx s = { NULL };
	char p[PATH_LEN];

	cli_state_path(c, "crl.der", p);
	(void)cacrl_load(p, &s.crl);
	status_station(c, s.crl);
	if (s.crl != NULL)
		print_crl("crl", s.crl);
	else
		printf("crl: none cached\n");
	if (cli_open_outbox(c) != 0 || outbox_count(c->ob, &n) != OUTBOX_OK) {
		X509_CRL_free(s.crl);
		return 1;
	}
	printf("outbox: %llu pending, %llu done, %llu failed\n",
	    (unsigned long long)n.pending, (unsigned long long)n.done,
	    (unsigned long long)n.failed);
	(void)outbox_foreach(c->ob, 0, status_one, &s);
	X509_CRL_free(s.crl);
	return 0;
}
