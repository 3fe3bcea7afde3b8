/* cardmgr-ca: CA certificates (genm), the CRL, and the status report. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cacli.h"
#include "ca/cacrl.h"
#include "ca/cafile.h"

int
cli_cmd_cacerts(struct cli *c)
{
	const char *out = cli_opt(c, "--out");
	STACK_OF(X509) *certs = NULL;
	BIO *b = NULL;
	int rc, i, ok = 1;

	if ((rc = cast_cacerts(c->st, &certs)) != CAST_OK)
		return cli_exit(c, rc, NULL);
	if (out != NULL) {
		ok = (b = BIO_new_file(out, "w")) != NULL;
		for (i = 0; ok && i < sk_X509_num(certs); i++)
			ok = PEM_write_bio_X509(b, sk_X509_value(certs, i));
		ok = BIO_free(b) && ok;
	}
	printf("cacerts: %d CA certificates, verified%s\n", sk_X509_num(certs),
	    ok ? "" : " (NOT saved)");
	sk_X509_pop_free(certs, X509_free);
	return ok ? 0 : 1;
}

/* "Jan  2 03:04:05 2027 GMT", the way OpenSSL prints times. */
static void
print_time(time_t t)
{
	char buf[64];
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%b %e %H:%M:%S %Y GMT", &tm) == 0)
		snprintf(buf, sizeof(buf), "?");
	fputs(buf, stdout);
}

static void
print_crl(const char *what, int entries, time_t last, time_t next, int stale)
{
	printf("%s: %d entries, last update ", what, entries);
	print_time(last);
	printf(", next update ");
	if (next != 0)
		print_time(next);
	printf("%s\n", stale ? " (STALE)" : "");
}

int
cli_cmd_crl_update(struct cli *c)
{
	X509_CRL *crl = NULL;
	struct tm tm;
	time_t last = 0, next = 0;
	int rc, n;

	rc = cast_crl_update(c->st, &crl);
	if (crl != NULL) {
		n = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
		if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl), &tm))
			last = timegm(&tm);
		if (X509_CRL_get0_nextUpdate(crl) != NULL &&
		    ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(crl), &tm))
			next = timegm(&tm);
		print_crl("crl updated", n < 0 ? 0 : n, last, next,
		    cacrl_stale(crl, time(NULL)));
	}
	X509_CRL_free(crl);
	return cli_exit(c, rc, NULL);
}

static const char *
state_text(int state, int reason, char *buf, size_t cap)
{
	switch (state) {
	case CAST_CERT_GOOD:	return "good";
	case CAST_CERT_HOLD:
	case CAST_CERT_REVOKED:
		snprintf(buf, cap, "%s (%s)", state == CAST_CERT_HOLD ? "on hold" :
		    "revoked", cli_reason_name(reason));
		return buf;
	default:		return "unknown (no CRL)";
	}
}

static void
print_station(const struct cast_status *s)
{
	char buf[64];

	if (!s->enrolled) {
		printf("station: NOT ENROLLED\n");
		return;
	}
	printf("station: serial %s expires ", s->serial);
	print_time(s->not_after);
	printf(" status %s%s\n", s->revoked_marker ? "REVOKED" :
	    state_text(s->state, s->reason, buf, sizeof(buf)), s->expired ?
	    " EXPIRED" : s->renewal_due ? " RENEWAL DUE" : "");
}

int
cli_cmd_status(struct cli *c)
{
	struct cast_status s;
	char buf[64];
	size_t i;
	int rc;

	if ((rc = cast_status(c->st, &s)) != CAST_OK)
		return cli_exit(c, rc, "status");
	if (s.token == CAST_TOKEN_OK)
		printf("token: ok\n");
	else if (s.token != CAST_TOKEN_UNKNOWN)
		printf("token: DAMAGED OR MISSING: %s\n", s.token_why);
	else
		printf("token: unknown (the PKCS#11 module does not load)\n");
	print_station(&s);
	if (s.endpoint[0] != '\0')
		printf("ca endpoint: %s answered last\n", s.endpoint);
	if (s.have_crl)
		print_crl("crl", s.crl_entries, s.crl_last, s.crl_next,
		    s.crl_stale);
	else
		printf("crl: none cached\n");
	printf("outbox: %llu pending, %llu done, %llu failed, %llu quarantined\n",
	    (unsigned long long)s.counts.pending,
	    (unsigned long long)s.counts.done,
	    (unsigned long long)s.counts.failed,
	    (unsigned long long)s.counts.quarantined);
	for (i = 0; i < s.ncerts; i++)
		printf("cert %s %s profile=%s status=%s\n", s.certs[i].serial,
		    s.certs[i].subject, s.certs[i].profile, state_text(
		    s.certs[i].state, s.certs[i].reason, buf, sizeof(buf)));
	rc = s.token == CAST_TOKEN_DAMAGED || s.token == CAST_TOKEN_NOKEY ?
	    EXIT_TOKEN : 0;
	cast_status_clear(&s);
	return rc;
}
