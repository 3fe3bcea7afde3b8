/*
 * log: the daemon's processes log one line per event to stderr (journald
 * keeps it under the unit), prefixed with the process name and the function.
 * Only process mains and loops log; library modules return errors instead.
 * Never pass a PIN, PUK, key, answer or token PIN to these functions, not
 * even at debug level.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

void log_init(const char *procname, int debug);
void log_setproc(const char *procname);

void log_msg(int prio, const char *func, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_fatal(const char *func, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/*
 * One operation's outcome, with structured fields for journald: OPERATION=,
 * RESULT=, OPERATOR=, and CARD= or HOLDER= when given (NULL or "" leaves
 * the field out). Sent over journald's native protocol
 * (/run/systemd/journal/socket, opened at the first call) when it is there,
 * else written to stderr as log_msg does. Fields and message are public
 * record data (what the audit log keeps), never a secret.
 */
void log_op(int prio, const char *operation, const char *result,
    const char *operator_name, const char *card, const char *holder,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#define LOG_P_ERR 3
#define LOG_P_WARN 4
#define LOG_P_INFO 6
#define LOG_P_DEBUG 7

#define log_warn(...)	log_msg(LOG_P_WARN, __func__, 1, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOG_P_WARN, __func__, 0, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_P_INFO, __func__, 0, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_P_DEBUG, __func__, 0, __VA_ARGS__)
/* fatal: with errno text; fatalx: without. Both exit(1). */
#define fatal(...)	log_fatal(__func__, 1, __VA_ARGS__)
#define fatalx(...)	log_fatal(__func__, 0, __VA_ARGS__)

#endif /* LOG_H */
