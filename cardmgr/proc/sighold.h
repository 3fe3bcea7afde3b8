/*
 * sighold: hold off the catchable signals that end a process around one
 * call that must not be cut in half (SoftHSM2 rewrites token.object at
 * every C_Login: ftruncate, then write). SIGKILL cannot be held off.
 *
 *   sigset_t old;
 *   sighold_begin(&old);  ... the call ...  sighold_end(&old);
 */
#ifndef SIGHOLD_H
#define SIGHOLD_H

#include <pthread.h>
#include <signal.h>

static inline void
sighold_begin(sigset_t *old)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE,
	    SIGALRM, SIGUSR1, SIGUSR2 };
	sigset_t hold;

	sigemptyset(&hold);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&hold, sigs[i]);
	(void)pthread_sigmask(SIG_BLOCK, &hold, old);
}

static inline void
sighold_end(const sigset_t *old)
{
	(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif /* SIGHOLD_H */
