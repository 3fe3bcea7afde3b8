/* log: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *proc = "cardmgrd";
static int verbose;

void
log_init(const char *procname, int debug)
{
	proc = procname;
	verbose = debug;
}

void
log_setproc(const char *procname)
{
	proc = procname;
}

static void
vlog(int prio, const char *func, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (prio == LOG_P_DEBUG && !verbose)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* "<N>" is the syslog priority prefix journald understands. */
	if (with_errno)
		fprintf(stderr, "<%d>%s: %s: %s: %s\n", prio, proc, func, msg,
		    strerror(saved));
	else
		fprintf(stderr, "<%d>%s: %s: %s\n", prio, proc, func, msg);
	errno = saved;
}

void
log_msg(int prio, const char *func, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, func, with_errno, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *func, int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_P_ERR, func, with_errno, fmt, ap);
	va_end(ap);
	exit(1);
}

/* ---- structured entries: journald's native protocol ---- */

static int jfd = -1;		/* connected datagram socket, once opened */
static int jtried;		/* opened or failed once: not retried */

static int
journal_fd(void)
{
	struct sockaddr_un sa;

	if (jtried)
		return jfd;
	jtried = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", JOURNAL_SOCKET);
	jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (jfd >= 0 && connect(jfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(jfd);
		jfd = -1;
	}
	return jfd;
}

/*
 * Append "KEY=value\n" to buf (bounded): the value's control characters
 * become '?', so one field is one line (the protocol's simple form) and a
 * value cannot forge another field.
 */
static void
field(char *buf, size_t cap, size_t *len, const char *key, const char *val)
{
	int n;

	if (val == NULL || val[0] == '\0' || *len >= cap)
		return;
	n = snprintf(buf + *len, cap - *len, "%s=", key);
	if (n < 0 || (size_t)n >= cap - *len) {
		*len = cap;
		return;
	}
	*len += (size_t)n;
	for (; *val != '\0' && *len < cap - 1; val++)
		buf[(*len)++] = (unsigned char)*val < 0x20 || *val == 0x7f ?
		    '?' : *val;
	if (*len < cap - 1)
		buf[(*len)++] = '\n';
	else
		*len = cap;
}

void
log_op(int prio, const char *operation, const char *result,
    const char *operator_name, const char *card, const char *holder,
    const char *fmt, ...)
{
	char msg[1024], ent[4096], pr[4];
	size_t len = 0;
	va_list ap;
	int fd, saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(pr, sizeof(pr), "%d", prio & 7);
	field(ent, sizeof(ent), &len, "MESSAGE", msg);
	field(ent, sizeof(ent), &len, "PRIORITY", pr);
	field(ent, sizeof(ent), &len, "SYSLOG_IDENTIFIER", "cardmgrd");
	field(ent, sizeof(ent), &len, "CARDMGR_PROCESS", proc);
	field(ent, sizeof(ent), &len, "OPERATION", operation);
	field(ent, sizeof(ent), &len, "RESULT", result);
	field(ent, sizeof(ent), &len, "OPERATOR", operator_name);
	field(ent, sizeof(ent), &len, "CARD", card);
	field(ent, sizeof(ent), &len, "HOLDER", holder);
	/* Too long for one entry (never with the station's fields): stderr. */
	if (len < sizeof(ent) && (fd = journal_fd()) >= 0) {
		if (send(fd, ent, len, MSG_NOSIGNAL) == (ssize_t)len) {
			errno = saved;
			return;
		}
		/* journald restarted (a new socket) or gone: open again next time */
		close(jfd);
		jfd = -1;
		jtried = 0;
	}
	if (prio != LOG_P_DEBUG || verbose)
		fprintf(stderr, "<%d>%s: %s: %s%s%s\n", prio & 7, proc,
		    operation != NULL ? operation : "-", msg,
		    card != NULL && card[0] ? " card=" : "",
		    card != NULL && card[0] ? card : "");
	errno = saved;
}
