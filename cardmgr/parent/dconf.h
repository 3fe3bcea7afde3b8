/*
 * dconf: cardmgrd's own configuration (/etc/cardmgr/cardmgrd.conf, libconfig).
 * Strict like the profiles: unknown settings, wrong types and out-of-range
 * numbers are errors reported as file:line; a file others may write is
 * refused. Everything has a default, so an empty file is a valid station.
 */
#ifndef DCONF_H
#define DCONF_H

#include <stddef.h>

#include "notify/notify.h"

#define DCONF_PATH 512
#define DCONF_NAME 64

/* Blank stock (the "stock" group; dconf_stock.c, docs/lifecycle.md). */
#define DCONF_STOCK_MIN_MAX 64
struct dconf_stock_min {
	char model[64], location[64];
	unsigned min;			/* reorder when the level is below */
};
struct dconf_stock {
	char location[64];		/* this station's; "" = any */
	int require;			/* issuance only from stock (default 1) */
	size_t nmin;
	struct dconf_stock_min min[DCONF_STOCK_MIN_MAX];
};

struct dconf {
	char state_dir[DCONF_PATH];	/* LMDB inventory (engine) */
	char profiles_dir[DCONF_PATH];
	char operators[DCONF_PATH];
	char lifecycle[DCONF_PATH];	/* card states and transitions */
	char ca_conf[DCONF_PATH];	/* "" = no CA link */
	char card_module[DCONF_PATH];	/* OpenSC PKCS#11, for the self-test */
	char fascn[33];
	size_t map_size;		/* bytes */
	unsigned ca_retry_s;		/* background CA journal drain */
	unsigned crl_check_s;		/* CA's CRL against the inventory; 0 off */
	unsigned card_timeout_s;	/* bound on one card exchange */
	unsigned card_keygen_timeout_s;	/* bound on on-card key generation */
	int api_port;			/* 127.0.0.1:port; 0 = no TCP listener */
	char api_socket[DCONF_PATH];
	char ui_dir[DCONF_PATH];	/* kiosk UI files (api); "" = none */
	char user_api[DCONF_NAME], user_engine[DCONF_NAME], user_keyd[DCONF_NAME];
	char audit_key_label[DCONF_NAME];
	char keyd_ledger[DCONF_PATH];	/* GUIDs whose 9B key left keyd */
	/* Encrypted backups (POST /v1/backup): both or neither; "" = off. */
	char backup_dir[DCONF_PATH];
	char backup_public_key[DCONF_PATH];	/* file: the X25519 public key */
	/* Operator card login (docs/api.md "Operator sessions"): anchors and
	 * intermediates for the cards' 9A certificates ("": the CA link's
	 * cmp_trust and untrusted), the session idle timeout, failed PIN or
	 * answer attempts allowed per card or holder in a window. */
	char operator_trust[DCONF_PATH], operator_chain[DCONF_PATH];
	unsigned session_idle_s, attempt_limit, attempt_window_s;
	/* One more Origin the kiosk pages may come from ("": the loopback
	 * names on api_port only). */
	char api_origin[DCONF_NAME * 2];
	char seccomp[8];		/* "enforce" (default), "log", "off" */
	/* keyd's token: from the CA link configuration when there is one. */
	char token_module[DCONF_PATH], token_label[DCONF_PATH],
	    token_pin_file[DCONF_PATH], station_key_label[DCONF_PATH];
	/* Expiry notices (smtp_url, notice_*): off while smtp_url is "". */
	struct ntf_cfg notify;
	/* Approval requests expire after this many days (engine/approve.c). */
	unsigned approval_expiry_days;
	struct dconf_stock stock;
};

#define DCONF_DEFAULT_FILE "/etc/cardmgr/cardmgrd.conf"

/*
 * Defaults, then the file (NULL: defaults only), then the token settings
 * from the CA link configuration it names. 0, or -1 with err.
 */
int dconf_load(const char *file, struct dconf *c, char *err, size_t cap);
/* Defaults, then text (len bytes, named file in messages); nothing else. */
int dconf_parse(const char *file, const char *text, size_t len, struct dconf *c,
    char *err, size_t cap);

/* The "stock" group s into st (defaults already set); 0, or -1 with err. */
struct config_setting_t;
int dconf_stock(const struct config_setting_t *s, struct dconf_stock *st,
    const char *file, char *err, size_t cap);
/* 1 if v is a stock name (model, location, batch) of at most cap - 1 bytes. */
int dconf_stock_name_ok(const char *v, size_t cap);
/* The threshold for model at location, or NULL. */
const struct dconf_stock_min *dconf_stock_min(const struct dconf_stock *st,
    const char *model, const char *location);

#endif /* DCONF_H */
