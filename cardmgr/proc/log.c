/* log: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
