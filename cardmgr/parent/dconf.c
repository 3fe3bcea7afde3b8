/* dconf: see dconf.h. */
#include "dconf.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "ca/caconf.h"
#include "policy/pcfg.h"

#define DCONF_MAX (64 * 1024)

static void
defaults(struct dconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/cardmgr");
	snprintf(c->profiles_dir, sizeof(c->profiles_dir), "/etc/cardmgr/profiles");
	snprintf(c->operators, sizeof(c->operators), "/etc/cardmgr/operators.conf");
	snprintf(c->lifecycle, sizeof(c->lifecycle), "/etc/cardmgr/lifecycle.conf");
	snprintf(c->ca_conf, sizeof(c->ca_conf), "/etc/cardmgr/ca.conf");
	snprintf(c->card_module, sizeof(c->card_module),
	    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so");
	/* Agency 7099, system 9999, credential 123456 (test FASC-N). */
	snprintf(c->fascn, sizeof(c->fascn), "70999999123456111234567890112341");
	c->map_size = (size_t)1024 << 20;
	c->api_port = 8410;
	c->ca_retry_s = 30;
	c->crl_check_s = 3600;
	c->card_timeout_s = 30;
	c->card_keygen_timeout_s = 120;
	c->session_idle_s = 300;
	c->attempt_limit = 10;
	c->attempt_window_s = 300;
	c->approval_expiry_days = 60;
	c->stock.require = 1;
	snprintf(c->api_socket, sizeof(c->api_socket), "/run/cardmgr/api.sock");
	snprintf(c->ui_dir, sizeof(c->ui_dir), "/usr/share/cardmgr/kiosk-ui");
	snprintf(c->user_api, sizeof(c->user_api), "cardmgr-api");
	snprintf(c->user_engine, sizeof(c->user_engine), "cardmgr-engine");
	snprintf(c->user_keyd, sizeof(c->user_keyd), "cardmgr-keyd");
	snprintf(c->audit_key_label, sizeof(c->audit_key_label), "cardmgr-audit");
	snprintf(c->keyd_ledger, sizeof(c->keyd_ledger),
	    "/var/lib/cardmgr-keyd/exported");
	snprintf(c->seccomp, sizeof(c->seccomp), "enforce");
	snprintf(c->token_module, sizeof(c->token_module),
	    "/usr/lib/softhsm/libsofthsm2.so");
	snprintf(c->token_label, sizeof(c->token_label), "station");
	snprintf(c->token_pin_file, sizeof(c->token_pin_file),
	    "/etc/cardmgr/token.pin");
	snprintf(c->station_key_label, sizeof(c->station_key_label),
	    "station-key");
	ntf_cfg_defaults(&c->notify);
}

static const struct {
	const char *name;
	size_t off, cap;
} strs[] = {
#define S(n) { #n, offsetof(struct dconf, n), sizeof(((struct dconf *)0)->n) }
	S(state_dir), S(profiles_dir), S(operators), S(lifecycle), S(ca_conf), S(card_module),
	S(fascn), S(api_socket), S(user_api), S(user_engine), S(user_keyd),
	S(audit_key_label), S(token_module), S(token_label), S(token_pin_file),
	S(keyd_ledger), S(backup_dir), S(backup_public_key),
	S(seccomp), S(operator_trust), S(operator_chain), S(api_origin),
	S(ui_dir),
#undef S
};

/* The modes proc/sandbox.c knows (sbx_mode_parse). */
static int
seccomp_mode(const char *v)
{
	return strcmp(v, "enforce") == 0 || strcmp(v, "log") == 0 ||
	    strcmp(v, "off") == 0;
}

static int
fail(char *err, size_t cap, const char *file, int line, const char *msg)
{
	if (line > 0)
		snprintf(err, cap, "%s:%d: %s", file, line, msg);
	else
		snprintf(err, cap, "%s: %s", file, msg);
	return -1;
}

/*
 * notice_days: 1 to NTF_DAYS_MAX thresholds, each 1..365, no two equal;
 * kept in decreasing order whatever order the file gives.
 */
static int
notice_days(config_setting_t *s, struct ntf_cfg *n)
{
	int i, j, cnt = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY || cnt < 1 ||
	    cnt > NTF_DAYS_MAX)
		return -1;
	for (i = 0; i < cnt; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int v;

		if (config_setting_type(e) != CONFIG_TYPE_INT ||
		    (v = config_setting_get_int(e)) < 1 || v > 365)
			return -1;
		for (j = i; j > 0 && n->days[j - 1] < (unsigned)v; j--)
			n->days[j] = n->days[j - 1];
		if (j > 0 && n->days[j - 1] == (unsigned)v)
			return -1;
		n->days[j] = (unsigned)v;
	}
	n->ndays = (unsigned)cnt;
	return 0;
}

/* One notice setting; 1 if name is not one, else 0 or -1 (with err). */
static int
notice_setting(config_setting_t *s, const char *name, struct ntf_cfg *n,
    const char *file, char *err, size_t cap)
{
	int line = (int)config_setting_source_line(s), v;
	const char *str;

	if (strcmp(name, "smtp_url") == 0) {
		if ((str = config_setting_get_string(s)) == NULL ||
		    !ntf_url_ok(str))
			return fail(err, cap, file, line, "smtp_url must be "
			    "smtp://host[:port] or smtps://..., no user or password");
		snprintf(n->smtp_url, sizeof(n->smtp_url), "%s", str);
	} else if (strcmp(name, "notice_from") == 0) {
		if ((str = config_setting_get_string(s)) == NULL ||
		    !ntf_addr_ok(str))
			return fail(err, cap, file, line,
			    "notice_from must be a plain address (user@host)");
		snprintf(n->from, sizeof(n->from), "%s", str);
	} else if (strcmp(name, "notice_days") == 0) {
		if (notice_days(s, n) != 0)
			return fail(err, cap, file, line, "notice_days must be a "
			    "list of 1 to 8 different days, each 1..365");
	} else if (strcmp(name, "notice_manager") == 0 ||
	    strcmp(name, "smtp_starttls") == 0) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(err, cap, file, line, "must be true or false");
		*(name[0] == 'n' ? &n->manager : &n->starttls) =
		    config_setting_get_bool(s);
	} else if (strcmp(name, "notice_retry_seconds") == 0) {
		if (config_setting_type(s) != CONFIG_TYPE_INT ||
		    (v = config_setting_get_int(s)) < 1 || v > 86400)
			return fail(err, cap, file, line,
			    "notice_retry_seconds must be 1..86400");
		n->retry_s = (unsigned)v;
	} else if (strcmp(name, "smtp_timeout_seconds") == 0) {
		if (config_setting_type(s) != CONFIG_TYPE_INT ||
		    (v = config_setting_get_int(s)) < 1 || v > 300)
			return fail(err, cap, file, line,
			    "smtp_timeout_seconds must be 1..300");
		n->timeout_s = (unsigned)v;
	} else
		return 1;
	return 0;
}

/* An integer setting in [lo, hi] into *out: 0, or -1. */
static int
int_in(const config_setting_t *s, int lo, int hi, unsigned *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_INT ||
	    config_setting_get_int(s) < lo || config_setting_get_int(s) > hi)
		return -1;
	*out = (unsigned)config_setting_get_int(s);
	return 0;
}

static int
apply(const config_t *cf, const char *file, struct dconf *c, char *err,
    size_t cap)
{
	config_setting_t *root = config_root_setting(cf), *s;
	int i, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		const char *name, *v;
		size_t k;
		int line, ns;

		s = config_setting_get_elem(root, (unsigned)i);
		name = config_setting_name(s);
		line = (int)config_setting_source_line(s);
		for (k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			if (strcmp(strs[k].name, name) == 0)
				break;
		if (k < sizeof(strs) / sizeof(strs[0])) {
			if ((v = config_setting_get_string(s)) == NULL)
				return fail(err, cap, file, line, "must be a string");
			if (strlen(v) >= strs[k].cap || v[0] == '\0')
				return fail(err, cap, file, line,
				    "empty or too long");
			snprintf((char *)c + strs[k].off, strs[k].cap, "%s", v);
			if (strcmp(name, "seccomp") == 0 && !seccomp_mode(v))
				return fail(err, cap, file, line, "seccomp must "
				    "be \"enforce\", \"log\" or \"off\"");
		} else if (strcmp(name, "api_port") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 0 ||
			    config_setting_get_int(s) > 65535)
				return fail(err, cap, file, line,
				    "api_port must be 0..65535");
			c->api_port = config_setting_get_int(s);
		} else if (strcmp(name, "ca_retry_seconds") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 1 ||
			    config_setting_get_int(s) > 3600)
				return fail(err, cap, file, line,
				    "ca_retry_seconds must be 1..3600");
			c->ca_retry_s = (unsigned)config_setting_get_int(s);
		} else if (strcmp(name, "crl_check_seconds") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 0 ||
			    config_setting_get_int(s) > 604800)
				return fail(err, cap, file, line,
				    "crl_check_seconds must be 0 (off)..604800");
			c->crl_check_s = (unsigned)config_setting_get_int(s);
		} else if (strcmp(name, "card_timeout_seconds") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 1 ||
			    config_setting_get_int(s) > 600)
				return fail(err, cap, file, line,
				    "card_timeout_seconds must be 1..600");
			c->card_timeout_s = (unsigned)config_setting_get_int(s);
		} else if (strcmp(name, "card_keygen_timeout_seconds") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 1 ||
			    config_setting_get_int(s) > 3600)
				return fail(err, cap, file, line,
				    "card_keygen_timeout_seconds must be 1..3600");
			c->card_keygen_timeout_s = (unsigned)config_setting_get_int(s);
		} else if (strcmp(name, "session_idle_seconds") == 0) {
			if (int_in(s, 1, 86400, &c->session_idle_s) != 0)
				return fail(err, cap, file, line,
				    "session_idle_seconds must be 1..86400");
		} else if (strcmp(name, "attempt_limit") == 0) {
			if (int_in(s, 1, 32, &c->attempt_limit) != 0)
				return fail(err, cap, file, line,
				    "attempt_limit must be 1..32");
		} else if (strcmp(name, "attempt_window_seconds") == 0) {
			if (int_in(s, 1, 86400, &c->attempt_window_s) != 0)
				return fail(err, cap, file, line,
				    "attempt_window_seconds must be 1..86400");
		} else if (strcmp(name, "approval_expiry_days") == 0) {
			if (int_in(s, 1, 3650, &c->approval_expiry_days) != 0)
				return fail(err, cap, file, line,
				    "approval_expiry_days must be 1..3650");
		} else if (strcmp(name, "map_size_mb") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    config_setting_get_int(s) < 1 ||
			    config_setting_get_int(s) > 1048576)
				return fail(err, cap, file, line,
				    "map_size_mb must be 1..1048576");
			c->map_size = (size_t)config_setting_get_int(s) << 20;
		} else if (strcmp(name, "stock") == 0) {
			if (dconf_stock(s, &c->stock, file, err, cap) != 0)
				return -1;
		} else if ((ns = notice_setting(s, name, &c->notify, file, err,
		    cap)) != 1) {
			if (ns != 0)
				return -1;
		} else {
			return fail(err, cap, file, line, "unknown setting");
		}
	}
	if (strlen(c->fascn) != 32 || strspn(c->fascn, "0123456789") != 32)
		return fail(err, cap, file, 0, "fascn must be 32 digits");
	/* A backup needs both where it goes and whom it is for. */
	if ((c->backup_dir[0] == '\0') != (c->backup_public_key[0] == '\0'))
		return fail(err, cap, file, 0, "backup_dir and backup_public_key "
		    "go together (both, or neither: backups off)");
	if ((c->backup_dir[0] != '\0' && c->backup_dir[0] != '/') ||
	    (c->backup_public_key[0] != '\0' && c->backup_public_key[0] != '/'))
		return fail(err, cap, file, 0, "backup_dir and backup_public_key "
		    "must be absolute paths");
	/* Key generation is an exchange too: its bound is never the shorter. */
	if (c->card_keygen_timeout_s < c->card_timeout_s)
		return fail(err, cap, file, 0, "card_keygen_timeout_seconds must "
		    "not be below card_timeout_seconds");
	return 0;
}

/* The token keyd opens is the CA link's: one place says where it is. */
static int
from_ca_conf(struct dconf *c, char *err, size_t cap)
{
	struct caconf cc;

	if (c->ca_conf[0] == '\0' || access(c->ca_conf, F_OK) != 0) {
		c->ca_conf[0] = '\0';
		return 0;
	}
	if (caconf_load(c->ca_conf, &cc, err, cap) != 0)
		return -1;
	snprintf(c->token_module, sizeof(c->token_module), "%s", cc.pkcs11_module);
	snprintf(c->token_label, sizeof(c->token_label), "%s", cc.token);
	snprintf(c->token_pin_file, sizeof(c->token_pin_file), "%s", cc.pin_file);
	snprintf(c->station_key_label, sizeof(c->station_key_label), "%s",
	    cc.key_label);
	return 0;
}

int
dconf_parse(const char *file, const char *text, size_t len, struct dconf *c,
    char *err, size_t cap)
{
	struct pcfg_diag d;
	config_t cf;
	int rc = -1;

	defaults(c);
	err[0] = '\0';
	pcfg_diag_init(&d, err, cap);
	config_init(&cf);
	/* The policy module's reader: bounded, no @include, no wide numbers. */
	if (pcfg_parse(&cf, text, len, file, &d) == 0)
		rc = apply(&cf, file, c, err, cap);
	config_destroy(&cf);
	return rc;
}

int
dconf_load(const char *file, struct dconf *c, char *err, size_t cap)
{
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	defaults(c);
	err[0] = '\0';
	if (file == NULL)
		return from_ca_conf(c, err, cap);
	/* O_NOFOLLOW, regular file, not writable by group or others. */
	if (pcfg_read_at(AT_FDCWD, file, DCONF_MAX, &text, &len, &why) != 0)
		return fail(err, cap, file, 0, why != NULL ? why : "cannot read");
	rc = dconf_parse(file, text, len, c, err, cap);
	free(text);
	return rc == 0 ? from_ca_conf(c, err, cap) : rc;
}
