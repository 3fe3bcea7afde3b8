/*
 * proc: privilege separation for cardmgrd (the pattern of OpenSSH's privsep
 * and relayd's proc.c).
 *
 * The parent starts as root, opens what needs privilege (listening sockets,
 * the token PIN file), creates one socketpair per pair of processes that talk,
 * and forks each child through proc_spawn(). A child closes every descriptor it
 * was not given, runs its setup hook while still root (keyd reads its PIN file
 * there), drops to its own user for good (setgroups, setresgid, setresuid,
 * then checks it cannot get root back), sets no_new_privs and a parent-death
 * signal, and runs. proc_supervise() is the parent's loop: SIGTERM/SIGINT
 * stop every child and return 0; any child that exits on its own takes the
 * others down and makes it return PROC_ERR_CHILD - fail closed, and let
 * systemd restart the whole daemon.
 */
#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

enum proc_err {
	PROC_OK = 0,
	PROC_ERR_ARG = -1,	/* bad argument */
	PROC_ERR_USER = -2,	/* no such user */
	PROC_ERR_PRIV = -3,	/* could not drop (or could regain) privileges */
	PROC_ERR_FORK = -4,	/* fork failed */
	PROC_ERR_SYS = -5,	/* another system call failed; see errno */
	PROC_ERR_CHILD = -6,	/* a child exited on its own */
};

const char *proc_strerror(int err);
const char *proc_name(int err);

#define PROC_MAX_FDS 8

struct proc_child {
	const char *name;	/* "api", "engine", "keyd": for logs and argv[0] */
	const char *user;	/* drop to this user; NULL: keep the current one
				 * (only allowed when not root) */
	int keep[PROC_MAX_FDS];	/* descriptors the child keeps (besides 0-2) */
	int nkeep;
	/* Runs in the child before the privilege drop; may be NULL. */
	int (*setup)(void *arg);
	/* Runs after the drop and no_new_privs, before run: the process's
	 * seccomp allow-list (proc/sandbox.h); may be NULL. */
	int (*sandbox)(void *arg);
	/* The child's body, after the drop; its return is the exit status. */
	int (*run)(void *arg);
	void *arg;
	pid_t pid;		/* set by proc_spawn */
	int status;		/* wait status once it exited */
};

/*
 * Drop to user for good: supplementary groups, gid and uid, all three of each;
 * then verify setuid(0) fails. [out] nothing. Never returns PROC_OK as root.
 */
int proc_drop(const char *user);

/*
 * Fork c. In the child: close every descriptor but 0-2 and c->keep, ask for
 * SIGTERM when the parent dies, run setup, drop to c->user, set
 * no_new_privs, install the sandbox, run, _exit with its return (70-74: a
 * step before run failed). In the parent: c->pid set.
 */
int proc_spawn(struct proc_child *c);

/*
 * Parent loop over the n spawned children. Returns PROC_OK after a
 * SIGTERM/SIGINT stopped them all, or PROC_ERR_CHILD when one exited on its
 * own; [out] *which: its index (-1 if none). Every child has been reaped on
 * return.
 */
int proc_supervise(struct proc_child *c, int n, int *which);

#endif /* PROC_H */
