/*
 * crash_pkcs11.so: a PKCS#11 module that crashes on C_Sign. It passes every
 * call to a real module (CRASH_PKCS11_REAL, default SoftHSM2) except
 * C_Sign, which dereferences NULL: a vendor module with a bug, for
 * t_daemon_p11crash (what a crash in the station token's module does to
 * the daemon). With CRASH_PKCS11_FLAG set, only while that file exists;
 * and if the file says "hang", C_Sign never returns instead.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "p11-kit/pkcs11.h"

#define REAL_DEFAULT "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST ours;
static CK_C_Sign real_sign;

/* 0: behave, 1: crash, 2: hang. */
static int
armed(void)
{
	const char *flag = getenv("CRASH_PKCS11_FLAG");
	char word[8] = "";
	FILE *f;

	if (flag == NULL)
		return 1;
	if ((f = fopen(flag, "r")) == NULL)
		return 0;
	if (fgets(word, sizeof(word), f) == NULL)
		word[0] = '\0';
	fclose(f);
	return strncmp(word, "hang", 4) == 0 ? 2 : 1;
}

static CK_RV
crash_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	volatile int *p = NULL;
	int mode = armed();

	if (mode == 0)
		return real_sign(s, data, len, sig, siglen);
	while (mode == 2)
		sleep(1);	/* a hung module (keyd kills it) */
	*p = 1;		/* the bug */
	raise(SIGSEGV);	/* in case the compiler saw through it */
	return CKR_GENERAL_ERROR;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	const char *path = getenv("CRASH_PKCS11_REAL");
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	CK_FUNCTION_LIST_PTR real;
	void *h;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((h = dlopen(path != NULL ? path : REAL_DEFAULT, RTLD_NOW)) == NULL)
		return CKR_GENERAL_ERROR;
	*(void **)&get = dlsym(h, "C_GetFunctionList");
	if (get == NULL || get(&real) != CKR_OK)
		return CKR_GENERAL_ERROR;
	memcpy(&ours, real, sizeof(ours));
	real_sign = real->C_Sign;
	ours.C_Sign = crash_sign;
	*out = &ours;
	return CKR_OK;
}
