/*
 * caconf: the CA link's configuration file (ca.conf), one "key = value" per
 * line, '#' comments. Strict: unknown keys, duplicates and malformed lines are
 * errors reported as file:line: message, and a file that group or others can
 * write is refused (it names the trust anchors).
 *
 *   server = ca.test           CMP server host (TLS name checked against it),
 *                              or several CA endpoints, comma-separated, each
 *                              HOST or HOST:PORT, optionally in double quotes:
 *                              server = "ca1.test:8443", "ca2.test:8443"
 *                              (at most CACONF_MAX_SERVERS, no duplicates)
 *   port = 8443                the port of entries without their own; may be
 *                              left out when every entry names its port
 *   enroll_port = 8441         port for the MAC-protected ir (no client cert yet)
 *   path = cmp
 *   plain_http = no            yes only for the openssl mock server tests
 *   tls_trust = FILE           PEM anchors for the server's TLS certificate
 *   cmp_trust = FILE           PEM anchors for CMP protection and issued chains
 *   untrusted = FILE           PEM intermediates (issuing CA), optional
 *   cmp_sender = /O=../CN=..   the only subject that may sign CMP responses
 *                              (the CA's CMP signer); recommended
 *   timeout = 10               seconds per CMP round trip
 *   keep_alive = 15            seconds an idle connection to the CA is kept
 *                              for the next transaction (0..60; 0: one
 *                              connection per transaction)
 *   tls_resume = yes           resume the TLS session on a new connection;
 *                              no: a full handshake (station key) each time
 *   implicit_confirm = yes     ask the CA to take its certificate as
 *                              accepted (RFC 4210 implicitConfirm): no
 *                              certConf; a certificate the station refuses
 *                              is then revoked through the journal
 *   state_dir = DIR            outbox (LMDB), station.crt, CRL cache
 *   pkcs11_module = /usr/lib/softhsm/libsofthsm2.so
 *   token = station            token label
 *   pin_file = FILE            token user PIN (mode 0600)
 *   key_label = station-key
 *   subject = /O=Example/CN=station-01
 *   crl_url = URL              optional; default: the station certificate's CDP
 *   renew_before = 2592000     renew the station certificate this many
 *                              seconds before it expires
 *   idm_url = https://idm.test:8444/idm   optional identity manager push
 *   idm_trust = FILE           PEM anchors for the identity manager
 */
#ifndef CACONF_H
#define CACONF_H

#include <stddef.h>

enum caconf_err {
	CACONF_OK = 0,
	CACONF_ERR_IO = -1,	/* cannot open or read the file */
	CACONF_ERR_SYNTAX = -2,	/* malformed line, unknown or duplicate key */
	CACONF_ERR_MISSING = -3,	/* a required key is absent */
	CACONF_ERR_PERM = -4,	/* file writable by group or others */
};

const char *caconf_strerror(int err);
/* The enum constant's name ("CACONF_ERR_IO"), for logs and records. */
const char *caconf_errname(int err);

#define CACONF_VAL 512
#define CACONF_MAX_SERVERS 8
#define CACONF_HOST 254		/* a DNS name: 253 characters at most */

struct caconf {
	char server[CACONF_VAL];	/* the first endpoint's host */
	int port;			/* the first endpoint's port */
	/* Every CA endpoint, in the file's order (server[] / port: the first). */
	int nservers;
	char servers[CACONF_MAX_SERVERS][CACONF_HOST];
	int server_ports[CACONF_MAX_SERVERS];
	int enroll_port;
	char path[CACONF_VAL];
	int plain_http;
	char tls_trust[CACONF_VAL];
	char cmp_trust[CACONF_VAL];
	char untrusted[CACONF_VAL];
	char cmp_sender[CACONF_VAL];
	int timeout;
	int keep_alive;
	int tls_resume;
	int implicit_confirm;
	char state_dir[CACONF_VAL];
	char pkcs11_module[CACONF_VAL];
	char token[CACONF_VAL];
	char pin_file[CACONF_VAL];
	char key_label[CACONF_VAL];
	char subject[CACONF_VAL];
	char crl_url[CACONF_VAL];
	long renew_before;
	char idm_url[CACONF_VAL];
	char idm_trust[CACONF_VAL];
};

/*
 * Parse file into *c (zeroed first). On error, err[errlen] holds
 * "file:line: message".
 */
int caconf_load(const char *file, struct caconf *c, char *err, size_t errlen);

#endif /* CACONF_H */
