/*
 * engine: the station's decision process. The only LMDB writer; it holds
 * the profiles and the operator map, decides who may do what, journals and
 * runs the operations (card I/O through the drivers, the CA link), and asks
 * keyd for everything that needs a station key. It parses no HTTP: requests
 * arrive from the api process as MSG_REQ, already validated, and are
 * validated again here (ops_req_decode) because the api is less trusted.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stddef.h>

struct engine_cfg {
	const char *state_dir;		/* LMDB inventory */
	const char *profiles_dir;
	const char *operators;		/* operator map file */
	const char *lifecycle;		/* card states and transitions */
	const char *ca_conf;		/* CA link configuration, or NULL */
	const char *card_module;	/* OpenSC PKCS#11 module (self-test) */
	const char *fascn;		/* 32-digit FASC-N written to CHUIDs */
	size_t map_size;		/* LMDB map size, bytes */
	unsigned ca_retry_s;		/* background drain of the CA journal */
	unsigned crl_check_s;		/* CRL check (central.c); 0: on demand only */
	const struct ntf_cfg *notify;	/* expiry notices; NULL or no URL: off */
	/* Bounds on one card exchange, and on on-card key generation (0: the
	 * drivers' defaults); past them the card is "not responding". */
	unsigned card_timeout_s, card_keygen_timeout_s;
	const char *seccomp;		/* the self-test helper's sandbox mode */
	/* Encrypted backups (POST /v1/backup): NULL dir: off. The public key
	 * file is read by engine_setup into backup_pk. */
	const char *backup_dir, *backup_key;
	unsigned char backup_pk[32];
	/*
	 * Operator card login: PEM trust anchors and intermediates for the
	 * cards' 9A certificates (NULL: the CA link's cmp_trust and
	 * untrusted), loaded by engine_setup into op_trust; session idle
	 * timeout; failed PIN/answer attempts allowed per card or holder in
	 * a sliding window (0: the defaults in engine_int.h).
	 */
	const char *operator_trust, *operator_chain;
	unsigned session_idle_s;
	unsigned attempt_limit, attempt_window_s;
	/* Approval requests expire after this many days (0: 60). */
	unsigned approval_expiry_days;
	struct x509_store_st *op_trust;
	struct stack_st_X509 *op_chain;	/* intermediates, or NULL */
	/* Loaded by engine_setup, while still root (the files stay root's). */
	struct prof_set *profiles;
	struct opr_map *operator_map;
	struct lc *lc;
	struct caconf *ca;		/* NULL: no CA link */
	/* Blank stock: station location, require, thresholds (NULL: none,
	 * stock not required). */
	const struct dconf_stock *stock;
};

struct prof_set;
struct dconf_stock;
struct ntf_cfg;
struct opr_map;
struct lc;
struct caconf;

/*
 * Before the privilege drop: read the profiles, the operator map, the
 * lifecycle and the CA link configuration into cfg. 0, or -1 after logging
 * every error.
 */
int engine_setup(struct engine_cfg *cfg);

/* The process body: serve api_fd until it closes. Returns the exit status. */
int engine_main(const struct engine_cfg *cfg, int api_fd, int keyd_fd);

#endif /* ENGINE_H */
