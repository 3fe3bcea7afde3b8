/*
 * cacli: the internals shared by the files of cardmgr-ca, the CLI of the CA
 * link (cacli.c: main, options, files, the token key handed to the library;
 * cacli_ops.c: journaled operations and the outbox; cacli_crl.c: CA
 * certificates, CRL and status; cacli_station.c: station enrollment and
 * renewal). Argument handling and printing only: the work is done by the
 * library in cardmgr/ca/ (station.h). Not a library interface.
 */
#ifndef CACLI_H
#define CACLI_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "ca/caconf.h"
#include "ca/cakey.h"
#include "ca/outbox.h"
#include "ca/station.h"

#define EXIT_USAGE 2
#define EXIT_QUEUED 3
#define EXIT_STATION 4
#define EXIT_TOKEN 5
#define MAX_FILE (256 * 1024)
#define PATH_LEN 1100

/* One invocation: configuration, what it opened, its options. */
struct cli {
	struct caconf conf;
	struct cakey *key;	/* the token, opened on the library's first ask */
	struct cast *st;
	const char *argv_opt[8][2];
	int nopt;
};

/* cacli.c */
void cli_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit status for a library result; prints its error. */
int cli_exit(struct cli *c, int rc, const char *what);
const char *cli_reason_name(int r);
int cli_reason_parse(const char *s);
/* The value of option name, "" for a flag, NULL if absent. */
const char *cli_opt(struct cli *c, const char *name);
int cli_write_cert_pem(const char *path, X509 *x);
/* NULL unless der is exactly one certificate. */
X509 *cli_der_to_x509(const uint8_t *der, size_t len);
/* [out] *der: OPENSSL_malloc'd DER of a PEM or DER file, caller frees. */
int cli_load_der(const char *path, int csr, uint8_t **der, size_t *len);
void cli_hex(const uint8_t *p, size_t n, char *out);
void cli_serial_of(X509 *x, char *out, size_t cap);

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

#endif /* CACLI_H */
