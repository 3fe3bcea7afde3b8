/* prof_int: what prof_check.c needs of profile.c beyond profile.h. */
#ifndef PROF_INT_H
#define PROF_INT_H

#include "pcfg.h"
#include "profile.h"

/*
 * prof_load_dir with errors added to d; *out is always set (free it with
 * prof_set_free) and holds the profiles that loaded, even on error.
 */
int prof_load_dir_diag(const char *dir, struct prof_set **out,
    struct pcfg_diag *d);

#endif /* PROF_INT_H */
