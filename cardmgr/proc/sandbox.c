/* sandbox: see sandbox.h. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <termios.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#if defined(__SANITIZE_ADDRESS__)
#define SBX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SBX_SANITIZER 1
#endif
#endif

static const struct {
	int err;
	const char *name, *text;
} errs[] = {
	{ SBX_OK, "SBX_OK", "success" },
	{ SBX_ERR_ARG, "SBX_ERR_ARG", "unknown sandbox role or mode" },
	{ SBX_ERR_INIT, "SBX_ERR_INIT", "cannot start a seccomp filter" },
	{ SBX_ERR_RULE, "SBX_ERR_RULE", "a seccomp rule was refused" },
	{ SBX_ERR_LOAD, "SBX_ERR_LOAD", "the kernel refused the seccomp filter" },
	{ SBX_ERR_SIGNAL, "SBX_ERR_SIGNAL", "cannot install the SIGSYS handler" },
};

const char *
sbx_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].text;
	return "unknown error";
}

const char *
sbx_name(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "SBX_ERR_UNKNOWN";
}

static const char *const modes[] = {
	[SBX_ENFORCE] = "enforce", [SBX_LOG] = "log", [SBX_OFF] = "off",
};
static const char *const roles[] = {
	[SBX_PARENT] = "parent", [SBX_API] = "api", [SBX_ENGINE] = "engine",
	[SBX_KEYD] = "keyd", [SBX_SELFTEST] = "selftest", [SBX_P11H] = "p11h",
};

int
sbx_mode_parse(const char *s, enum sbx_mode *out)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (s != NULL && strcmp(s, modes[i]) == 0) {
			*out = (enum sbx_mode)i;
			return SBX_OK;
		}
	return SBX_ERR_ARG;
}

const char *
sbx_mode_str(enum sbx_mode mode)
{
	return (unsigned)mode < sizeof(modes) / sizeof(modes[0]) ?
	    modes[mode] : "?";
}

const char *
sbx_role_str(enum sbx_role role)
{
	return (unsigned)role < sizeof(roles) / sizeof(roles[0]) ?
	    roles[role] : "?";
}

/*
 * The lists: each name is a call the process was seen to make after its
 * filter is in place, running the daemon tests under strace -ff
 * (tests/daemon/sbx_calls.py; docs/daemon.md, "Sandbox", says how to redo
 * it). "base" is what every process does: memory, threads' futexes,
 * signals, time, logging to stderr, exiting.
 */
static const char *const base[] = {
	"read", "write", "writev", "close", "lseek", "fstat", "newfstatat",
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise",
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getrandom", "restart_syscall", "exit", "exit_group",
	/* libsodium's guarded memory (ASan makes these no-ops, so only
	 * release builds show them) */
	"mlock", "munlock",
	NULL
};

/* After the fork the parent only waits for its children, signals, logs. */
static const char *const parent_calls[] = {
	"rt_sigtimedwait", "wait4", "kill", "unlink",
	NULL
};

/*
 * MHD, a thread per connection, on the two listeners it was handed: it
 * opens no socket of its own, and files only to read (nss: the peer's
 * user name).
 */
static const char *const api_calls[] = {
	"accept4", "poll", "ppoll", "recvfrom", "recvmsg", "sendto", "sendmsg",
	"shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"fcntl", "signalfd4", "rt_sigtimedwait", "eventfd2", "getdents64",
	NULL
};

/*
 * LMDB (files, locks), PC/SC (its UNIX socket), the CA link (TCP and TLS),
 * threads, and the self-test helper: posix_spawn (a vfork-like clone, then
 * execve), whose whole life runs under this filter too (it inherits it, and
 * no_new_privs), so the helper's calls are here as well: the dynamic
 * loader's, OpenSC's (GLib's notification thread among them) and the
 * helper's own seccomp(). The exec gains nothing the engine does not have.
 */
static const char *const engine_calls[] = {
	"openat", "open", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "statfs", "fstatfs", "getdents64", "mkdir",
	"pread64", "pwrite64", "fsync", "fdatasync", "ftruncate", "flock",
	"fcntl", "dup", "dup2", "dup3", "pipe2", "eventfd2", "umask",
	"connect", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"recvfrom", "recvmsg", "sendto", "sendmsg", "shutdown",
	"poll", "ppoll", "select", "pselect6",
	"execve", "wait4", "kill", "uname", "sysinfo",
	"arch_prctl", "set_tid_address", "prlimit64", "seccomp",
	"sched_getattr", "sched_setattr",
	/* the self-test helper's own OpenSC configuration (selftest_main.c) */
	"memfd_create",
	/* an encrypted backup: its part file renamed when whole, or removed
	 * (engine/backup_op.c) */
	"rename", "unlink",
	NULL
};

/*
 * SoftHSM2's token files, and the socket to keyd: the PKCS#11 helper
 * (keyd/p11h.c). keyd forks the helper and the helper inherits keyd's
 * filter, so keyd's list holds these too (filters stack: the helper's own
 * list narrows keyd's to this, without fork, kill or wait).
 */
static const char *const keyd_calls[] = {
	"openat", "access", "getdents64", "fcntl", "flock", "ftruncate",
	"fsync", "fdatasync", "unlink", "rename",
	"recvfrom", "recvmsg", "sendto", "sendmsg",
	NULL
};

/*
 * keyd itself: fork the helper (add_fork), wait for its answer with a
 * timeout, kill and reap it, and what the child does before its own filter
 * (parent-death signal, no_new_privs, seccomp).
 */
static const char *const keyd_own_calls[] = {
	"poll", "ppoll", "wait4", "kill", "getppid", "seccomp", "dup2",
	"close_range",
	NULL
};

/* OpenSC over PC/SC (libpcsclite's UNIX socket), GLib's thread. */
static const char *const selftest_calls[] = {
	"openat", "access", "faccessat", "readlink", "readlinkat", "statfs",
	"getdents64", "fcntl", "mkdir", "eventfd2", "connect", "recvfrom",
	"recvmsg", "sendto", "sendmsg", "poll", "ppoll", "select", "pselect6",
	"getsockopt", "uname", "sched_getattr", "sched_setattr",
	/* its OpenSC configuration in a memory file (memfd, then fdopen(dup)) */
	"memfd_create", "dup",
	NULL
};

#ifdef SBX_SANITIZER
/*
 * Sanitizer builds only (MODE=asan): ASan's own calls at thread start and
 * in reports (an alternate signal stack per thread, /proc/self/maps).
 */
static const char *const asan_calls[] = {
	"sigaltstack", "openat", "readlink", "getdents64", "prlimit64",
	"getrlimit", "mincore", "prctl",
	/* sanitizer_common's raw calls on x86-64 are the legacy ones */
	"open", "stat", "lstat", "access", "getdents", "pipe", "dup2",
	NULL
};
/*
 * LeakSanitizer at exit stops the world: a clone that ptraces every thread
 * of the process. Only where a process returns from main: the parent and the
 * self-test helper (whose life runs under the engine's filter too); the
 * children end with _exit.
 */
static const char *const lsan_calls[] = {
	"clone", "ptrace", "wait4", "waitid", "getppid", "tgkill", "kill",
	NULL
};
#endif

static int
add_list(scmp_filter_ctx ctx, const char *const *names)
{
	int nr;

	for (; *names != NULL; names++) {
		if ((nr = seccomp_syscall_resolve_name(*names)) == __NR_SCMP_ERROR)
			return SBX_ERR_RULE;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0)
			return SBX_ERR_RULE;
	}
	return SBX_OK;
}

/*
 * Threads only: a clone with CLONE_THREAD. clone3 passes its flags in memory
 * a filter cannot read, so it answers ENOSYS and glibc falls back to clone.
 */
static int
add_clone(scmp_filter_ctx ctx, int spawn)
{
	int rc = 0;

	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* posix_spawn: CLONE_VM | CLONE_VFORK, the child execs at once. */
	if (spawn)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM | CLONE_VFORK | CLONE_THREAD,
		    CLONE_VM | CLONE_VFORK));
	return rc == 0 ? SBX_OK : SBX_ERR_RULE;
}

/*
 * fork(2) only (glibc's is a clone with SIGCHLD and the child-tid flags):
 * no thread, no shared memory, no vfork.
 */
static int
add_fork(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM | CLONE_VFORK | CLONE_THREAD |
	    CLONE_NEWUSER, 0)) == 0 ? SBX_OK : SBX_ERR_RULE;
}

/* socket(2) for the given families only. */
static int
add_socket(scmp_filter_ctx ctx, const int *fam, int n)
{
	for (int i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam[i])) != 0)
			return SBX_ERR_RULE;
	return SBX_OK;
}

/* ioctl(2) with the given requests only (FIONBIO, FIONREAD, ...). */
static int
add_ioctl(scmp_filter_ctx ctx, const unsigned long *req, int n)
{
	for (int i = 0; i < n; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)req[i])) != 0)
			return SBX_ERR_RULE;
	return SBX_OK;
}

/* prctl(2) options the processes use after setup (thread names, libcap-ng). */
static int
add_prctl(scmp_filter_ctx ctx)
{
	static const int opt[] = { PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_READ };

	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)opt[i])) != 0)
			return SBX_ERR_RULE;
	return SBX_OK;
}

/* open only to read: the api writes no file. */
static int
add_readonly_open(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
	    O_APPEND, O_RDONLY)) == 0 ? SBX_OK : SBX_ERR_RULE;
}

/*
 * getaddrinfo asks netlink which address families are up; the unit refuses
 * AF_NETLINK (RestrictAddressFamilies) and so does the engine's list, the
 * same way: EAFNOSUPPORT, which glibc takes as "assume both".
 */
static int
refuse_netlink(scmp_filter_ctx ctx)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
	    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK)) == 0 ?
	    SBX_OK : SBX_ERR_RULE;
}

static int
add_role(scmp_filter_ctx ctx, enum sbx_role role)
{
	static const int unix_only[] = { AF_UNIX };
	static const int unix_inet[] = { AF_UNIX, AF_INET, AF_INET6 };
	static const unsigned long fion[] = { FIONBIO, FIONREAD, TCGETS };
	int rc = SBX_OK;

	if ((rc = add_list(ctx, base)) != SBX_OK)
		return rc;
#ifdef SBX_SANITIZER
	if ((rc = add_list(ctx, asan_calls)) != SBX_OK)
		return rc;
	if ((role == SBX_PARENT || role == SBX_ENGINE || role == SBX_SELFTEST) &&
	    (rc = add_list(ctx, lsan_calls)) != SBX_OK)
		return rc;
	/* a report asks whether stderr is a terminal (the engine's and the
	 * helper's lists have it anyway) */
	if (role != SBX_ENGINE && role != SBX_SELFTEST &&
	    (rc = add_ioctl(ctx, (const unsigned long[]){ TCGETS }, 1)) != SBX_OK)
		return rc;
#endif
	switch (role) {
	case SBX_PARENT:
		return add_list(ctx, parent_calls);
	case SBX_API:
		if ((rc = add_list(ctx, api_calls)) != SBX_OK ||
		    (rc = add_readonly_open(ctx)) != SBX_OK ||
		    (rc = add_prctl(ctx)) != SBX_OK)
			return rc;
		return add_clone(ctx, 0);
	case SBX_ENGINE:
		if ((rc = add_list(ctx, engine_calls)) != SBX_OK ||
		    (rc = add_socket(ctx, unix_inet, 3)) != SBX_OK ||
		    (rc = refuse_netlink(ctx)) != SBX_OK ||
		    /* libcurl's resolver thread wakes it with a socketpair */
		    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair),
		    1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) == 0 ? SBX_OK :
		    SBX_ERR_RULE) != SBX_OK ||
		    (rc = add_ioctl(ctx, fion, 3)) != SBX_OK ||
		    (rc = add_prctl(ctx)) != SBX_OK)
			return rc;
		/* the helper's own filter: seccomp_load sets no_new_privs */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS)) != 0)
			return SBX_ERR_RULE;
		return add_clone(ctx, 1);
	case SBX_KEYD:
		/*
		 * keyd needs no socket (its socketpair came with the fork), but
		 * SoftHSM2 reports errors (a missing token, t_daemon_token) with
		 * syslog(3), which opens one: refused, quietly, not fatal.
		 */
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket),
		    0) != 0)
			return SBX_ERR_RULE;
		if ((rc = add_list(ctx, keyd_own_calls)) != SBX_OK ||
		    (rc = add_fork(ctx)) != SBX_OK)
			return rc;
		/* a new socketpair per helper; the helper's pre-filter prctls */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
		    SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_PDEATHSIG)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) != 0)
			return SBX_ERR_RULE;
		return add_list(ctx, keyd_calls);
	case SBX_P11H:
		/* the old keyd list: the module's files, syslog refused */
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket),
		    0) != 0)
			return SBX_ERR_RULE;
		return add_list(ctx, keyd_calls);
	case SBX_SELFTEST:
		if ((rc = add_list(ctx, selftest_calls)) != SBX_OK ||
		    (rc = add_socket(ctx, unix_only, 1)) != SBX_OK ||
		    (rc = add_ioctl(ctx, fion, 3)) != SBX_OK ||
		    (rc = add_prctl(ctx)) != SBX_OK)
			return rc;
		return add_clone(ctx, 0);
	}
	return SBX_ERR_ARG;
}

/* ---- log mode: name the refused call, answer ENOSYS */

#define SBX_MAXNR 512
static const char *tagp = "cardmgrd";
static char *names[SBX_MAXNR];	/* resolved before the filter: the handler
				 * may not allocate */

static size_t
put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s != '\0' && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t
put_num(char *buf, size_t at, size_t cap, unsigned v)
{
	char d[12];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < (int)sizeof(d));
	while (n > 0 && at < cap)
		buf[at++] = d[--n];
	return at;
}

/* Async-signal-safe: no stdio, no allocation. */
static void
on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	char line[256];
	size_t n = 0, cap = sizeof(line) - 1;
	int saved = errno, nr = si->si_syscall;

	(void)sig;
	n = put(line, n, cap, "<4>");
	n = put(line, n, cap, tagp);
	n = put(line, n, cap, ": sandbox: system call ");
	if (nr >= 0 && nr < SBX_MAXNR && names[nr] != NULL)
		n = put(line, n, cap, names[nr]);
	else
		n = put(line, n, cap, "?");
	n = put(line, n, cap, " (");
	n = put_num(line, n, cap, (unsigned)nr);
	n = put(line, n, cap, ") is not on the allow-list: refused with ENOSYS"
	    " (seccomp = \"log\")\n");
	(void)!write(STDERR_FILENO, line, n);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
#error "sandbox: set the return register for this architecture"
#endif
	errno = saved;
}

static int
log_mode_init(const char *tag)
{
	struct sigaction sa;
	sigset_t set;

	tagp = tag != NULL ? tag : "cardmgrd";
	for (int i = 0; i < SBX_MAXNR; i++)
		if (names[i] == NULL)
			names[i] = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, i);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) != 0 ||
	    sigprocmask(SIG_UNBLOCK, &set, NULL) != 0)
		return SBX_ERR_SIGNAL;
	return SBX_OK;
}

#ifdef CARDMGR_TEST_HOOKS
/*
 * Test builds only: CARDMGRD_SECCOMP_PROBE=<role>:<syscall> makes that
 * process call it once, every argument -1 (an invalid call that changes
 * nothing even where it is allowed). A release build has no such variable.
 */
static void
probe(enum sbx_role role)
{
	const char *p = getenv("CARDMGRD_SECCOMP_PROBE"), *r;
	size_t rl;
	int nr;

	if (p == NULL)
		return;
	r = sbx_role_str(role);
	rl = strlen(r);
	if (strncmp(p, r, rl) != 0 || p[rl] != ':')
		return;
	if ((nr = seccomp_syscall_resolve_name(p + rl + 1)) < 0)
		return;
	syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
}
#endif

int
sbx_apply(enum sbx_role role, enum sbx_mode mode, const char *tag)
{
	scmp_filter_ctx ctx = NULL;
	int rc;

	if ((unsigned)role >= sizeof(roles) / sizeof(roles[0]))
		return SBX_ERR_ARG;
	if (mode == SBX_OFF)
		return SBX_OK;
	if (mode != SBX_ENFORCE && mode != SBX_LOG)
		return SBX_ERR_ARG;
	if (mode == SBX_LOG && (rc = log_mode_init(tag)) != SBX_OK)
		return rc;
	ctx = seccomp_init(mode == SBX_LOG ? SCMP_ACT_TRAP :
	    SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return SBX_ERR_INIT;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		rc = SBX_ERR_INIT;
		goto out;
	}
	if ((rc = add_role(ctx, role)) != SBX_OK)
		goto out;
	rc = seccomp_load(ctx) == 0 ? SBX_OK : SBX_ERR_LOAD;
out:
	seccomp_release(ctx);
#ifdef CARDMGR_TEST_HOOKS
	if (rc == SBX_OK)
		probe(role);
#endif
	return rc;
}
