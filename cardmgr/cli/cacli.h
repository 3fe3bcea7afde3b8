/*
 * cacli: the internals shared by the files of cardmgr-ca (cacli.c: main,
 * options and file helpers; cacli_link.c: station key, certificate and CA
 * link; cacli_ops.c: journaled operations and the outbox executor;
 * cacli_crl.c: CA certificates, CRL and status; cacli_station.c: station
 * enrollment and renewal). Not a library interface.
 */
#ifndef CACLI_H
#define CACLI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ca/ca.h"
#include "ca/caconf.h"
#include "ca/cafile.h"
#include "ca/cakey.h"
#include "ca/outbox.h"

#define EXIT_USAGE 2
#define EXIT_QUEUED 3
#define EXIT_STATION 4
#define MAX_FILE (256 * 1024)
#define PATH_LEN 1100

/* One invocation: configuration, what it opened, its options. */
struct cli {
	struct caconf conf;
	struct cakey *key;
	X509 *station;
	struct ca_link *link;
	int link_err;
	struct outbox *ob;
	const char *argv_opt[8][2];
	int nopt;
};

/* cacli.c */
void cli_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#ifdef CARDMGR_CA_TEST_HOOKS
void cli_crash_point(const char *point);
#else
/* Release builds: no environment variable can stop the CLI half-way. */
static inline void cli_crash_point(const char *point) { (void)point; }
#endif
const char *cli_reason_name(int r);
int cli_reason_parse(const char *s);
/* The value of option name, "" for a flag, NULL if absent. */
const char *cli_opt(struct cli *c, const char *name);
/* out[PATH_LEN] = state_dir/name */
void cli_state_path(const struct cli *c, const char *name, char *out);
/* [out] *out: malloc'd contents (< MAX_FILE bytes), caller frees. */
int cli_read_all(const char *path, uint8_t **out, size_t *len);
int cli_write_cert_pem(const char *path, X509 *x);
/* NULL unless der is exactly one certificate. */
X509 *cli_der_to_x509(const uint8_t *der, size_t len);
int cli_secret_file_ok(const char *path);
/* [out] *der: OPENSSL_malloc'd DER of a PEM or DER file, caller frees. */
int cli_load_der(const char *path, int csr, uint8_t **der, size_t *len);
void cli_hex(const uint8_t *p, size_t n, char *out);
void cli_serial_of(X509 *x, char *out, size_t cap);

/* cacli_link.c */
void cli_current_label(const struct cli *c, char *out, size_t cap);
int cli_open_key(struct cli *c, int create);
int cli_station_marked(const struct cli *c);
/* 0, or an exit status: the link to the CA with the station identity. */
int cli_open_link(struct cli *c);
int cli_open_outbox(struct cli *c);
void cli_mark_station_revoked(struct cli *c, const char *why);
/* A link with the anchors only (enrollment, CRL checks). */
int cli_trust_only_link(struct cli *c, struct ca_link **l);

/* cacli_ops.c */
int cli_cmd_enroll(struct cli *c);
int cli_cmd_renew(struct cli *c);
int cli_cmd_revoke(struct cli *c, int reason);
int cli_cmd_push(struct cli *c);
int cli_cmd_outbox(struct cli *c, const char *sub);

/* cacli_crl.c */
int cli_cmd_cacerts(struct cli *c);
int cli_cmd_crl_update(struct cli *c);
int cli_cmd_status(struct cli *c);

/* cacli_station.c */
int cli_cmd_enroll_station(struct cli *c);
int cli_cmd_renew_station(struct cli *c);
/* Make label the station's key and retire the old one. */
int cli_finish_rekey(struct cli *c, const char *label);

#endif /* CACLI_H */
