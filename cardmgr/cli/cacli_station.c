/* cardmgr-ca: the station's own enrollment (ir + PBM) and renewal (kur). */
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

/* ---- station enrollment and renewal ---- */

/* The transactionID of a station operation, journaled before it is sent. */
static int
station_txid(struct cli *c, const char *name, uint8_t txid[CA_TXID_LEN])
{
	char p[PATH_LEN];
	uint8_t *raw;
	size_t n;

	cli_state_path(c, name, p);
	if (cli_read_all(p, &raw, &n) == 0) {
		if (n == CA_TXID_LEN)
			memcpy(txid, raw, n);
		free(raw);
		if (n == CA_TXID_LEN)
			return 0;
	}
	if (RAND_bytes(txid, CA_TXID_LEN) != 1)
		return -1;
	return cafile_write_atomic(p, txid, CA_TXID_LEN, 1);
}

static int
read_secret(const char *path, uint8_t **sec, size_t *len)
{
	if (cli_read_all(path, sec, len) != 0)
		return -1;
	while (*len > 0 && ((*sec)[*len - 1] == '\n' || (*sec)[*len - 1] == '\r'))
		(*sec)[--*len] = 0;
	return *len > 0 ? 0 : -1;
}

static int
install_station_cert(struct cli *c, const struct ca_result *res,
    const char *txname)
{
	char p[PATH_LEN], sn[80];
	X509 *x = cli_der_to_x509(res->cert, res->cert_len);

	cli_state_path(c, "station.crt", p);
	if (x == NULL || cli_write_cert_pem(p, x) != 0) {
		X509_free(x);
		cli_errx("cannot store %s", p);
		return 1;
	}
	cli_state_path(c, txname, p);
	(void)unlink(p);
	cli_state_path(c, "station.revoked", p);
	(void)unlink(p);
	cli_serial_of(x, sn, sizeof(sn));
	printf("station certificate: serial %s\n", sn);
	X509_free(x);
	return 0;
}

/* The label of the next station key, journaled before the key exists. */
static int
next_label(struct cli *c, char *out, size_t cap)
{
	char p[PATH_LEN], suffix[17];
	uint8_t *raw, rnd[8];
	size_t n;

	cli_state_path(c, "renew.label", p);
	if (cli_read_all(p, &raw, &n) == 0) {
		if (n < cap) {
			memcpy(out, raw, n);
			out[n] = '\0';
		}
		free(raw);
		return n < cap ? 0 : -1;
	}
	/* Random, so two renewals within one second get two keys. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	cli_hex(rnd, sizeof(rnd), suffix);
	snprintf(out, cap, "%.80s.%s", c->conf.key_label, suffix);
	return cafile_write_atomic(p, out, strlen(out), 1);
}

/*
 * Re-enrollment (after a revocation, say for keyCompromise) never reuses the
 * old key: a new one is made under a journaled label, as for a renewal.
 */
static int
enroll_key(struct cli *c, EVP_PKEY **key, char *label, size_t cap)
{
	char p[PATH_LEN];
	int rc;

	*key = NULL;
	label[0] = '\0';
	cli_state_path(c, "station.crt", p);
	if (access(p, F_OK) != 0) {
		if (!EVP_PKEY_up_ref(cakey_pkey(c->key)))
			return -1;
		*key = cakey_pkey(c->key);
		return 0;
	}
	if (next_label(c, label, cap) != 0 ||
	    (rc = cakey_other(c->key, label, 1, key)) != CAKEY_OK) {
		cli_errx("new station key for re-enrollment failed");
		return -1;
	}
	printf("re-enrollment: new station key %s\n", label);
	return 0;
}

int
cli_cmd_enroll_station(struct cli *c)
{
	const char *ref = cli_opt(c, "--ref"), *sf = cli_opt(c, "--secret-file");
	const char *subject = cli_opt(c, "--subject");
	uint8_t txid[CA_TXID_LEN], *sec = NULL;
	char label[CACONF_VAL];
	struct ca_link *l = NULL;
	struct ca_result res;
	EVP_PKEY *key = NULL;
	size_t slen = 0;
	int rc = 1;

	memset(&res, 0, sizeof(res));
	if (subject == NULL)
		subject = c->conf.subject;
	if (ref == NULL || sf == NULL || subject[0] == '\0')
		return EXIT_USAGE;
	if (cli_secret_file_ok(sf) != 0 || read_secret(sf, &sec, &slen) != 0) {
		cli_errx("cannot read the one-time secret from %s", sf);
		goto out;
	}
	if (cli_open_key(c, 1) != 0 || enroll_key(c, &key, label,
	    sizeof(label)) != 0 || station_txid(c, "station.txid", txid) != 0 ||
	    cli_trust_only_link(c, &l) != 0)
		goto out;
	if (cakey_created(c->key))
		printf("station key generated in token '%s'\n", c->conf.token);
	rc = ca_enroll_station(l, ref, sec, slen, key, subject, txid, &res);
	if (rc != CA_OK) {
		cli_errx("station enrollment: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		rc = ca_err_retryable(rc) ? EXIT_QUEUED : 1;
		goto out;
	}
	rc = install_station_cert(c, &res, "station.txid");
	if (rc == 0 && label[0] != '\0' && cli_finish_rekey(c, label) != 0)
		rc = 1;
out:
	if (sec != NULL)
		OPENSSL_cleanse(sec, slen);
	free(sec);
	EVP_PKEY_free(key);
	ca_result_clear(&res);
	ca_link_free(l);
	return rc;
}

static int
renewal_due(struct cli *c)
{
	time_t at = time(NULL) + c->conf.renew_before;

	return X509_cmp_time(X509_get0_notAfter(c->station), &at) < 0;
}

/* Make label the station's key and retire the old one. */
int
cli_finish_rekey(struct cli *c, const char *label)
{
	char p[PATH_LEN], old[CACONF_VAL];

	cli_current_label(c, old, sizeof(old));
	cli_state_path(c, "station.key", p);
	if (cafile_write_atomic(p, label, strlen(label), 1) != 0) {
		cli_errx("cannot record the new station key label in %s", p);
		return -1;
	}
	cli_state_path(c, "renew.label", p);
	(void)unlink(p);
	if (strcmp(old, label) != 0 && cakey_remove(c->key, old) != CAKEY_OK)
		cli_errx("old station key %s not removed from the token", old);
	return 0;
}


static int
renew_with(struct cli *c, EVP_PKEY *newkey, const char *label)
{
	uint8_t txid[CA_TXID_LEN];
	struct ca_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	if (station_txid(c, "renew.txid", txid) != 0)
		return 1;
	rc = ca_renew_station(c->link, newkey, txid, &res);
	if (rc != CA_OK) {
		cli_errx("station renewal: %s%s%s", ca_strerror(rc),
		    res.detail[0] ? ": " : "", res.detail);
		ca_result_clear(&res);
		return ca_err_retryable(rc) ? EXIT_QUEUED : 1;
	}
	/* Certificate first: a crash after it is completed by open_link. */
	rc = install_station_cert(c, &res, "renew.txid");
	ca_result_clear(&res);
	cli_crash_point("renew-cert");
	if (rc == 0 && label != NULL && cli_finish_rekey(c, label) != 0)
		rc = 1;
	return rc;
}

int
cli_cmd_renew_station(struct cli *c)
{
	EVP_PKEY *newkey = NULL;
	char label[CACONF_VAL];
	int rc;

	if ((rc = cli_open_link(c)) != 0)
		return rc;
	if (!renewal_due(c) && cli_opt(c, "--force") == NULL) {
		printf("renewal not due\n");
		return 0;
	}
	if (cli_opt(c, "--same-key") != NULL)
		return renew_with(c, cakey_pkey(c->key), NULL);
	rc = CAKEY_ERR_ARG;
	if (next_label(c, label, sizeof(label)) != 0 ||
	    (rc = cakey_other(c->key, label, 1, &newkey)) != CAKEY_OK) {
		cli_errx("new station key: %s", cakey_strerror(rc));
		return 1;
	}
	printf("new station key %s in token '%s'\n", label, c->conf.token);
	cli_crash_point("renew-key");
	rc = renew_with(c, newkey, label);
	EVP_PKEY_free(newkey);
	return rc;
}
