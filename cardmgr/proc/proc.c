/* proc: privilege separation. See proc.h. */
#include "proc.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define STOP_GRACE_MS 3000

static const struct {
	int err;
	const char *name, *text;
} errs[] = {
	{ PROC_OK, "PROC_OK", "success" },
	{ PROC_ERR_ARG, "PROC_ERR_ARG", "bad argument" },
	{ PROC_ERR_USER, "PROC_ERR_USER", "no such user" },
	{ PROC_ERR_PRIV, "PROC_ERR_PRIV", "cannot drop privileges" },
	{ PROC_ERR_FORK, "PROC_ERR_FORK", "fork failed" },
	{ PROC_ERR_SYS, "PROC_ERR_SYS", "system call failed" },
	{ PROC_ERR_CHILD, "PROC_ERR_CHILD", "a child process exited" },
};

const char *
proc_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].text;
	return "unknown error";
}

const char *
proc_name(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "PROC_ERR_UNKNOWN";
}

int
proc_drop(const char *user)
{
	struct passwd *pw;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (user == NULL)
		return PROC_ERR_ARG;
	if ((pw = getpwnam(user)) == NULL)
		return PROC_ERR_USER;
	if (pw->pw_uid == 0)
		return PROC_ERR_PRIV;	/* "dropping" to root is no drop */
	if (setgroups(1, &pw->pw_gid) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
		return PROC_ERR_PRIV;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return PROC_ERR_PRIV;
	if (ru != pw->pw_uid || eu != pw->pw_uid || su != pw->pw_uid ||
	    rg != pw->pw_gid || eg != pw->pw_gid || sg != pw->pw_gid)
		return PROC_ERR_PRIV;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return PROC_ERR_PRIV;
	return PROC_OK;
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every descriptor above 2 that is not in keep. */
static void
close_others(const int *keep, int n)
{
	int k[PROC_MAX_FDS];
	unsigned lo = 3;

	memcpy(k, keep, (size_t)n * sizeof(int));
	qsort(k, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		if (k[i] < (int)lo)
			continue;
		if ((unsigned)k[i] > lo)
			close_range(lo, (unsigned)k[i] - 1, 0);
		lo = (unsigned)k[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

static void
child_main(struct proc_child *c)
{
	sigset_t none;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	close_others(c->keep, c->nkeep);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		_exit(70);
	if (c->setup != NULL && c->setup(c->arg) != 0)
		_exit(71);
	if (c->user != NULL) {
		if (proc_drop(c->user) != PROC_OK)
			_exit(72);
	} else if (geteuid() == 0) {
		_exit(72);	/* a child never runs as root */
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		_exit(73);
	if (c->sandbox != NULL && c->sandbox(c->arg) != 0)
		_exit(74);
	rc = c->run(c->arg);
	_exit(rc < 0 || rc > 255 ? 1 : rc);
}

int
proc_spawn(struct proc_child *c)
{
	pid_t pid;

	if (c == NULL || c->run == NULL || c->nkeep < 0 ||
	    c->nkeep > PROC_MAX_FDS)
		return PROC_ERR_ARG;
	if (c->user == NULL && geteuid() == 0)
		return PROC_ERR_ARG;
	if (c->user != NULL && getpwnam(c->user) == NULL)
		return PROC_ERR_USER;
	pid = fork();
	if (pid < 0)
		return PROC_ERR_FORK;
	if (pid == 0)
		child_main(c);	/* does not return */
	c->pid = pid;
	c->status = 0;
	return PROC_OK;
}

static int
index_of(struct proc_child *c, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (c[i].pid == pid)
			return i;
	return -1;
}

/* SIGTERM every child still running, wait up to the grace, then SIGKILL. */
static void
stop_all(struct proc_child *c, int n)
{
	int left = 0, st;
	pid_t pid;

	for (int i = 0; i < n; i++)
		if (c[i].pid > 0) {
			kill(c[i].pid, SIGTERM);
			left++;
		}
	for (int ms = 0; left > 0 && ms < STOP_GRACE_MS; ms += 10) {
		while (left > 0 && (pid = waitpid(-1, &st, WNOHANG)) > 0) {
			int i = index_of(c, n, pid);
			if (i >= 0) {
				c[i].status = st;
				c[i].pid = 0;
				left--;
			}
		}
		if (left > 0)
			usleep(10000);
	}
	for (int i = 0; i < n; i++)
		if (c[i].pid > 0) {
			kill(c[i].pid, SIGKILL);
			waitpid(c[i].pid, &c[i].status, 0);
			c[i].pid = 0;
		}
}

/*
 * Children that died together (the engine killed by its sandbox, then the
 * api at the closed socket): reap every one already gone and name the one
 * a signal ended as the cause, whichever waitpid returned first.
 */
static void
reap_cause(struct proc_child *c, int n, int *which)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((i = index_of(c, n, pid)) < 0)
			continue;
		c[i].status = st;
		c[i].pid = 0;
		if (WIFSIGNALED(st) && !WIFSIGNALED(c[*which].status))
			*which = i;
	}
}

int
proc_supervise(struct proc_child *c, int n, int *which)
{
	sigset_t set, old;
	int sig, st, i, rc = PROC_ERR_CHILD;
	pid_t pid;

	*which = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &old) != 0)
		return PROC_ERR_SYS;
	for (;;) {
		/* A child may have exited before the signal was blocked. */
		if ((pid = waitpid(-1, &st, WNOHANG)) > 0 &&
		    (i = index_of(c, n, pid)) >= 0) {
			c[i].status = st;
			c[i].pid = 0;
			*which = i;
			reap_cause(c, n, which);
			break;
		}
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT) {
			rc = PROC_OK;
			break;
		}
	}
	stop_all(c, n);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}
