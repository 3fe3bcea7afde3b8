/* cardmgr-ca: the station key, its certificate and the link to the CA. */
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

/* ---- station key and link ---- */

/*
 * The label of the station's current key: state_dir/station.key once a
 * renewal re-keyed the station, else key_label from the configuration.
 */
void
cli_current_label(const struct cli *c, char *out, size_t cap)
{
	char p[PATH_LEN];
	uint8_t *raw;
	size_t n;

	snprintf(out, cap, "%s", c->conf.key_label);
	cli_state_path(c, "station.key", p);
	if (cli_read_all(p, &raw, &n) != 0)
		return;
	if (n < cap && memchr(raw, 0, n) == NULL && memchr(raw, '\n', n) == NULL) {
		memcpy(out, raw, n);
		out[n] = '\0';
	}
	free(raw);
}

int
cli_open_key(struct cli *c, int create)
{
	struct cakey_cfg kc;
	char pin[256], label[CACONF_VAL];
	uint8_t *raw = NULL;
	size_t len = 0, n;
	int rc;

	if (c->key != NULL)
		return 0;
	if (cli_secret_file_ok(c->conf.pin_file) != 0)
		return -1;
	if (cli_read_all(c->conf.pin_file, &raw, &len) != 0 ||
	    len >= sizeof(pin)) {
		cli_errx("cannot read the token PIN from %s", c->conf.pin_file);
		OPENSSL_clear_free(raw, len);
		return -1;
	}
	n = len;
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	memcpy(pin, raw, n);
	pin[n] = '\0';
	OPENSSL_clear_free(raw, len);
	kc.module = c->conf.pkcs11_module;
	kc.token = c->conf.token;
	kc.pin = pin;
	cli_current_label(c, label, sizeof(label));
	kc.label = label;
	rc = cakey_open(&kc, create, &c->key);
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != CAKEY_OK) {
		cli_errx("station key: %s", cakey_strerror(rc));
		return -1;
	}
	return 0;
}

static void
link_cfg(struct cli *c, struct ca_cfg *cfg, char *untrusted)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->server = c->conf.server;
	cfg->port = c->conf.port;
	cfg->path = c->conf.path;
	cfg->plain_http = c->conf.plain_http;
	cfg->tls_trust = c->conf.tls_trust[0] ? c->conf.tls_trust : NULL;
	cfg->cmp_trust = c->conf.cmp_trust;
	cfg->timeout = c->conf.timeout;
	cfg->sender = c->conf.cmp_sender[0] ? c->conf.cmp_sender : NULL;
	cli_state_path(c, "cacerts.pem", untrusted);
	if (c->conf.untrusted[0] != '\0')
		cfg->untrusted = c->conf.untrusted;
	else if (access(untrusted, R_OK) == 0)
		cfg->untrusted = untrusted;
}

/* Refuse to act for a station whose certificate is revoked or expired. */
static int
station_usable(struct cli *c)
{
	char p[PATH_LEN];

	cli_state_path(c, "station.revoked", p);
	if (access(p, F_OK) == 0) {
		cli_errx("STATION CERTIFICATE REVOKED: this station no longer issues "
		    "or revokes certificates; re-enroll it with a new one-time "
		    "secret");
		return EXIT_STATION;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(c->station)) < 0) {
		cli_errx("STATION CERTIFICATE EXPIRED: renew it before it expires or "
		    "re-enroll the station");
		return EXIT_STATION;
	}
	return 0;
}

/*
 * The station certificate must certify the current key. After a crash in
 * the middle of a re-keying renewal it certifies the new key already: finish
 * the switch-over that the crash interrupted.
 */
static int
key_matches_cert(struct cli *c)
{
	char p[PATH_LEN], label[CACONF_VAL];
	EVP_PKEY *next = NULL;
	uint8_t *raw;
	size_t n;
	int ok;

	if (X509_check_private_key(c->station, cakey_pkey(c->key)) == 1)
		return 0;
	ERR_clear_error();
	cli_state_path(c, "renew.label", p);
	ok = cli_read_all(p, &raw, &n) == 0 && n < sizeof(label);
	if (ok) {
		memcpy(label, raw, n);
		label[n] = '\0';
		free(raw);
		ok = cakey_other(c->key, label, 0, &next) == CAKEY_OK &&
		    X509_check_private_key(c->station, next) == 1;
	}
	EVP_PKEY_free(next);
	ERR_clear_error();
	if (!ok) {
		cli_errx("the station certificate does not certify the station key");
		return -1;
	}
	cli_errx("completing an interrupted re-keying renewal (key %s)", label);
	if (cli_finish_rekey(c, label) != 0)
		return -1;
	cakey_close(c->key);
	c->key = NULL;
	return cli_open_key(c, 0);
}

int
cli_station_marked(const struct cli *c)
{
	char p[PATH_LEN];

	cli_state_path(c, "station.revoked", p);
	return access(p, F_OK) == 0;
}

int
cli_open_link(struct cli *c)
{
	char p[PATH_LEN], unt[PATH_LEN];
	struct ca_cfg cfg;
	int rc;

	if (c->link != NULL)
		return 0;
	cli_state_path(c, "station.crt", p);
	if (c->station == NULL && (c->station = cafile_load_pem_cert(p)) == NULL) {
		cli_errx("no station certificate (%s): run enroll-station first", p);
		return 1;
	}
	if ((rc = station_usable(c)) != 0)
		return rc;
	if (cli_open_key(c, 0) != 0 || key_matches_cert(c) != 0)
		return 1;
	link_cfg(c, &cfg, unt);
	if ((rc = ca_link_new(&cfg, cakey_pkey(c->key), c->station,
	    &c->link)) != CA_OK) {
		cli_errx("CA link: %s", ca_strerror(rc));
		return 1;
	}
	return 0;
}

int
cli_open_outbox(struct cli *c)
{
	char p[PATH_LEN];
	int rc;

	if (c->ob != NULL)
		return 0;
	cli_state_path(c, "outbox", p);
	if ((rc = outbox_open(p, &c->ob)) != OUTBOX_OK) {
		cli_errx("outbox %s: %s", p, outbox_strerror(rc));
		return 1;
	}
	return 0;
}

void
cli_mark_station_revoked(struct cli *c, const char *why)
{
	char p[PATH_LEN];

	cli_state_path(c, "station.revoked", p);
	(void)cafile_write_atomic(p, why, strlen(why), 1);
	cli_errx("STATION CERTIFICATE REVOKED (%s): this station stops issuing", why);
}

int
cli_trust_only_link(struct cli *c, struct ca_link **l)
{
	char unt[PATH_LEN];
	struct ca_cfg cfg;

	link_cfg(c, &cfg, unt);
	cfg.port = c->conf.enroll_port;
	return ca_link_new(&cfg, NULL, NULL, l) == CA_OK ? 0 : -1;
}
