/*
 * cardmgrd: the station daemon's parent. Starts as root, reads its
 * configuration, opens the API's listening sockets, makes the socketpairs
 * and forks the three processes, each of which drops to its own user:
 *
 *   api     (cardmgr-api)     HTTP + JSON, no secrets, no LMDB
 *   engine  (cardmgr-engine)  LMDB, policy, operations, cards, CA link
 *   keyd    (cardmgr-keyd)    the station token and its PIN
 *
 *   api <-> engine <-> keyd   (SOCK_SEQPACKET: one datagram, one message)
 *
 * Then it only supervises: any child that exits takes the others down and
 * cardmgrd exits 1 (fail closed; systemd restarts it). -n checks the
 * configuration (this file, the profiles, the operator map, the lifecycle,
 * the CA link's)
 * and exits: 0 valid, 1 not, every error printed as file:line.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "engine/engine.h"
#include "inv/backup.h"
#include "keyd/keyd.h"
#include "parent/dconf.h"
#include "policy/lifecycle.h"
#include "policy/operators.h"
#include "policy/profile.h"
#include "proc/log.h"
#include "proc/proc.h"
#include "proc/sandbox.h"

struct daemon {
	struct dconf conf;
	struct engine_cfg ecfg;
	struct keyd_cfg kcfg;
	struct api_cfg acfg;
	int tcp_fd, unix_fd;
	int api_engine[2];	/* [0] api's end, [1] engine's */
	int engine_keyd[2];	/* [0] engine's end, [1] keyd's */
	enum sbx_mode sbx;	/* conf.seccomp */
};

static void
usage(void)
{
	fprintf(stderr, "usage: cardmgrd [-d] [-n] [-c FILE]\n"
	    "  -c FILE  configuration (default " DCONF_DEFAULT_FILE ")\n"
	    "  -n       check the configuration and exit\n"
	    "  -d       debug logging\n");
	exit(2);
}

/* -n: every configuration file the station reads, errors as file:line. */
static int
check_config(const struct dconf *c)
{
	struct prof_set *ps = NULL;
	struct opr_map *om = NULL;
	struct lc *lc = NULL;
	char err[8192] = "";
	int bad = 0;

	if (prof_load_dir(c->profiles_dir, &ps, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s", err);
		bad = 1;
	} else {
		printf("profiles: %zu in %s\n", prof_set_count(ps), c->profiles_dir);
	}
	err[0] = '\0';
	if (opr_load(c->operators, &om, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s", err);
		bad = 1;
	} else {
		printf("operators: %s\n", c->operators);
	}
	err[0] = '\0';
	if (lc_load(c->lifecycle, &lc, err, sizeof(err)) != LC_OK) {
		fprintf(stderr, "%s", err);
		bad = 1;
	} else {
		printf("lifecycle: %zu transitions in %s\n", lc->n, c->lifecycle);
	}
	err[0] = '\0';
	if (ps != NULL && lc != NULL &&
	    prof_check_roles(ps, lc, c->profiles_dir, err, sizeof(err)) > 0) {
		fprintf(stderr, "%s", err);
		bad = 1;
	}
	lc_free(lc);
	printf("ca link: %s\n", c->ca_conf[0] ? c->ca_conf : "none");
	printf("seccomp: %s%s\n", c->seccomp, strcmp(c->seccomp, "off") == 0 ?
	    " (NO FILTERS: for measurements only)" : "");
	printf("expiry notices: %s\n", c->notify.smtp_url[0] ?
	    c->notify.smtp_url : "off");
	if (c->backup_dir[0] != '\0') {
		uint8_t pk[BKP_KEYBYTES];
		int rc = bkp_key_load(c->backup_public_key, 0, pk);

		if (rc != BKP_OK) {
			fprintf(stderr, "%s: %s\n", c->backup_public_key,
			    bkp_strerror(rc));
			bad = 1;
		}
		printf("backups: to %s, for the key in %s\n", c->backup_dir,
		    c->backup_public_key);
	} else {
		printf("backups: off\n");
	}
	prof_set_free(ps);
	opr_free(om);
	printf("configuration %s\n", bad ? "INVALID" : "valid");
	return bad;
}

static int
listen_tcp(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);	/* the kiosk only */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 64) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	mkdir(dirname(dir), 0755);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	unlink(path);
	/*
	 * Anyone may connect: who they are comes from SO_PEERCRED and the
	 * operator map, checked by the engine on every request.
	 */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0666) != 0 || listen(fd, 64) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The engine's state directory (and backup directory): its own, mode 0700. Made here when missing;
 * under systemd the package makes it (firmware/cardmgrd.tmpfiles) and this
 * only finds it right, so the unit needs no CAP_CHOWN or CAP_FOWNER.
 */
static int
prepare_state(const struct dconf *c, const char *dir)
{
	struct passwd *pw = getpwnam(c->user_engine);
	struct stat st;

	if (pw == NULL)
		return -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return -1;
	if (st.st_uid == pw->pw_uid && st.st_gid == pw->pw_gid &&
	    (st.st_mode & 07777) == 0700)
		return 0;
	/* chmod first: once the engine owns it, root would need CAP_FOWNER. */
	return chmod(dir, 0700) == 0 &&
	    chown(dir, pw->pw_uid, pw->pw_gid) == 0 ? 0 : -1;
}

static int
run_keyd(void *arg)
{
	struct daemon *d = arg;

	return keyd_main(&d->kcfg, d->engine_keyd[1]);
}

static int
setup_keyd(void *arg)
{
	struct daemon *d = arg;

	return keyd_setup(&d->kcfg);
}

static int
setup_engine(void *arg)
{
	struct daemon *d = arg;

	return engine_setup(&d->ecfg);
}

static int
run_engine(void *arg)
{
	struct daemon *d = arg;

	return engine_main(&d->ecfg, d->api_engine[1], d->engine_keyd[0]);
}

/* Each child's seccomp allow-list, after the drop (proc_child.sandbox). */
static int
sandbox(struct daemon *d, enum sbx_role role, const char *tag)
{
	int rc;

	if ((rc = sbx_apply(role, d->sbx, tag)) != SBX_OK)
		log_warnx("%s: sandbox: %s", tag, sbx_strerror(rc));
	return rc;
}

static int
sandbox_keyd(void *arg)
{
	return sandbox(arg, SBX_KEYD, "keyd");
}

static int
sandbox_engine(void *arg)
{
	return sandbox(arg, SBX_ENGINE, "engine");
}

static int
sandbox_api(void *arg)
{
	return sandbox(arg, SBX_API, "api");
}

static void
api_log(void *arg, int prio, const char *msg)
{
	(void)arg;
	log_msg(prio, "api", 0, "%s", msg);
}

static int
run_api(void *arg)
{
	struct daemon *d = arg;

	log_setproc("api");
	return api_main(&d->acfg, d->api_engine[0], d->tcp_fd, d->unix_fd);
}

/* Why the station stops: which child, and how it ended. */
static void
report_exit(const struct proc_child *c)
{
	if (c == NULL) {
		log_warnx("a child exited: stopping the station");
	} else if (WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGSYS) {
		log_warnx("%s killed by its sandbox (SIGSYS: a system call "
		    "outside its seccomp allow-list; the kernel log names it, "
		    "and seccomp = \"log\" logs it here): stopping the station",
		    c->name);
	} else if (WIFSIGNALED(c->status)) {
		log_warnx("%s killed by signal %d: stopping the station",
		    c->name, WTERMSIG(c->status));
	} else {
		log_warnx("%s exited (status %d): stopping the station",
		    c->name, WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
	}
}

static void
fill(struct daemon *d)
{
	struct dconf *c = &d->conf;

	d->ecfg.state_dir = c->state_dir;
	d->ecfg.profiles_dir = c->profiles_dir;
	d->ecfg.operators = c->operators;
	d->ecfg.lifecycle = c->lifecycle;
	d->ecfg.ca_conf = c->ca_conf[0] ? c->ca_conf : NULL;
	d->ecfg.card_module = c->card_module;
	d->ecfg.fascn = c->fascn;
	d->ecfg.map_size = c->map_size;
	d->ecfg.ca_retry_s = c->ca_retry_s;
	d->ecfg.crl_check_s = c->crl_check_s;
	d->ecfg.stock = &c->stock;
	d->ecfg.notify = &c->notify;
	d->ecfg.card_timeout_s = c->card_timeout_s;
	d->ecfg.card_keygen_timeout_s = c->card_keygen_timeout_s;
	d->ecfg.seccomp = c->seccomp;
	d->ecfg.backup_dir = c->backup_dir[0] ? c->backup_dir : NULL;
	d->ecfg.backup_key = c->backup_public_key;
	d->ecfg.operator_trust = c->operator_trust[0] ? c->operator_trust : NULL;
	d->ecfg.operator_chain = c->operator_chain[0] ? c->operator_chain : NULL;
	d->ecfg.session_idle_s = c->session_idle_s;
	d->ecfg.attempt_limit = c->attempt_limit;
	d->ecfg.attempt_window_s = c->attempt_window_s;
	d->ecfg.approval_expiry_days = c->approval_expiry_days;
	d->acfg.port = c->api_port;
	d->acfg.origin = c->api_origin[0] ? c->api_origin : NULL;
	d->kcfg.module = c->token_module;
	d->kcfg.token = c->token_label;
	d->kcfg.pin_file = c->token_pin_file;
	d->kcfg.station_label = c->station_key_label;
	d->kcfg.audit_label = c->audit_key_label;
	d->kcfg.ledger_path = c->keyd_ledger;
	d->kcfg.seccomp = c->seccomp;
	d->acfg.log = api_log;
	d->acfg.ui_dir = c->ui_dir;
}

int
main(int argc, char **argv)
{
	static struct daemon d;
	struct proc_child kids[3];
	const char *file = DCONF_DEFAULT_FILE;
	char err[1024];
	int opt, check = 0, debug = 0, which = -1, rc;

	while ((opt = getopt(argc, argv, "c:dn")) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'd': debug = 1; break;
		case 'n': check = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	/* A closed stderr or log socket is an error, never a silent death;
	 * each child sets this again (proc.c), the parent too. */
	signal(SIGPIPE, SIG_IGN);
	log_init("cardmgrd", debug);
	if (dconf_load(file, &d.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check)
		return check_config(&d.conf);
	if (geteuid() != 0)
		fatalx("must start as root: it gives each process its own user");
	if (sbx_mode_parse(d.conf.seccomp, &d.sbx) != SBX_OK)
		fatalx("seccomp mode %s", d.conf.seccomp);
	if (d.sbx != SBX_ENFORCE)
		log_warnx("seccomp = \"%s\": a forbidden system call is %s",
		    d.conf.seccomp, d.sbx == SBX_LOG ? "logged and refused, "
		    "not fatal" : "not even seen");
	fill(&d);
	if (prepare_state(&d.conf, d.conf.state_dir) != 0)
		fatal("state directory %s for user %s", d.conf.state_dir,
		    d.conf.user_engine);
	/* The engine writes the encrypted backups there: its own, 0700. */
	if (d.conf.backup_dir[0] != '\0' &&
	    prepare_state(&d.conf, d.conf.backup_dir) != 0)
		fatal("backup directory %s for user %s", d.conf.backup_dir,
		    d.conf.user_engine);
	d.tcp_fd = d.conf.api_port ? listen_tcp(d.conf.api_port) : -1;
	if (d.conf.api_port && d.tcp_fd < 0)
		fatal("listen on 127.0.0.1:%d", d.conf.api_port);
	if ((d.unix_fd = listen_unix(d.conf.api_socket)) < 0)
		fatal("listen on %s", d.conf.api_socket);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, d.api_engine) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, d.engine_keyd))
		fatal("socketpair");
	memset(kids, 0, sizeof(kids));
	kids[0] = (struct proc_child){ .name = "keyd", .user = d.conf.user_keyd,
	    .keep = { d.engine_keyd[1] }, .nkeep = 1, .setup = setup_keyd,
	    .sandbox = sandbox_keyd, .run = run_keyd, .arg = &d };
	kids[1] = (struct proc_child){ .name = "engine",
	    .user = d.conf.user_engine, .keep = { d.api_engine[1],
	    d.engine_keyd[0] }, .nkeep = 2, .setup = setup_engine,
	    .sandbox = sandbox_engine, .run = run_engine, .arg = &d };
	kids[2] = (struct proc_child){ .name = "api", .user = d.conf.user_api,
	    .keep = { d.api_engine[0], d.tcp_fd, d.unix_fd }, .nkeep = 3,
	    .sandbox = sandbox_api, .run = run_api, .arg = &d };
	for (int i = 0; i < 3; i++)
		if ((rc = proc_spawn(&kids[i])) != PROC_OK)
			fatalx("%s: %s", kids[i].name, proc_strerror(rc));
	close(d.api_engine[0]);
	close(d.api_engine[1]);
	close(d.engine_keyd[0]);
	close(d.engine_keyd[1]);
	if (d.tcp_fd >= 0)
		close(d.tcp_fd);
	close(d.unix_fd);
	log_info("started: api %d, engine %d, keyd %d", (int)kids[2].pid,
	    (int)kids[1].pid, (int)kids[0].pid);
	/* From here the parent only waits, signals and logs. */
	if ((rc = sbx_apply(SBX_PARENT, d.sbx, "cardmgrd")) != SBX_OK) {
		log_warnx("sandbox: %s", sbx_strerror(rc));
		for (int i = 0; i < 3; i++)
			kill(kids[i].pid, SIGTERM);
		return 1;
	}
	rc = proc_supervise(kids, 3, &which);
	unlink(d.conf.api_socket);
	if (rc == PROC_OK) {
		log_info("stopped");
		return 0;
	}
	report_exit(which >= 0 ? &kids[which] : NULL);
	return 1;
}
