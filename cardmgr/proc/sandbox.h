/*
 * sandbox: a seccomp allow-list per process of cardmgrd (the idea of
 * OpenSSH's sandbox-seccomp-filter.c), built with libseccomp.
 *
 * Each process installs its own list once its setup is done: the children
 * after the privilege drop and no_new_privs, before they serve
 * (proc_child.sandbox); the parent once it has forked them; the self-test
 * helper before it loads the card's PKCS#11 module. Filters stack and are
 * inherited, so a process can only narrow what it was given, never widen it.
 *
 * Modes (cardmgrd.conf `seccomp`):
 *   enforce  a call outside the list kills the whole process (SIGSYS); the
 *            parent then stops the station (fail closed) and logs why.
 *   log      debug: the call is refused with ENOSYS instead, and the SIGSYS
 *            handler writes one line naming it to stderr; the process goes on.
 *   off      no filter (measurements only; cardmgrd warns at start).
 *
 * Sanitizer builds (ASan/LSan) add the runtime's own calls (leak checker's
 * ptrace, the symbolizer's fork and exec, ...); release builds do not.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

enum sbx_err {
	SBX_OK = 0,
	SBX_ERR_ARG = -1,	/* unknown role or mode */
	SBX_ERR_INIT = -2,	/* libseccomp could not start a filter */
	SBX_ERR_RULE = -3,	/* a rule was refused (unknown system call name) */
	SBX_ERR_LOAD = -4,	/* the kernel refused the filter */
	SBX_ERR_SIGNAL = -5,	/* the SIGSYS handler could not be installed */
};

const char *sbx_strerror(int err);
const char *sbx_name(int err);

enum sbx_role {
	SBX_PARENT,	/* cardmgrd after the fork: waits, signals, logs */
	SBX_API,	/* HTTP on the listeners it was handed */
	SBX_ENGINE,	/* LMDB, PC/SC, the CA link, spawns the self-test */
	SBX_KEYD,	/* the station token (SoftHSM2 files) */
	SBX_SELFTEST,	/* cardmgr-selftest: OpenSC over PC/SC */
	SBX_P11H,	/* keyd's PKCS#11 helper: the station token's module */
};

enum sbx_mode {
	SBX_ENFORCE,
	SBX_LOG,
	SBX_OFF,
};

/* "enforce", "log" or "off" -> *out; SBX_ERR_ARG for anything else. */
int sbx_mode_parse(const char *s, enum sbx_mode *out);
const char *sbx_mode_str(enum sbx_mode mode);
const char *sbx_role_str(enum sbx_role role);

/*
 * Install role's allow-list on every thread of the calling process (TSYNC).
 * Needs no_new_privs already set (or CAP_SYS_ADMIN). In log mode it first
 * installs the SIGSYS handler that names refused calls; the line is prefixed
 * with tag (the process's log name). Test builds: afterwards, the call named
 * by CARDMGRD_SECCOMP_PROBE=<role>:<syscall> is made once (all arguments -1),
 * so a test can watch the filter act.
 */
int sbx_apply(enum sbx_role role, enum sbx_mode mode, const char *tag);

#endif /* SANDBOX_H */
