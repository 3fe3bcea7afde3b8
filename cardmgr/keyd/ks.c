/*
 * ks: the keystore session, object lookup, master keys and diversification.
 * See ks.h and docs/keystore.md.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "ks_int.h"
#include "piv.h"
#include "proc/sighold.h"

const char *
ks_strerror(int err)
{
	switch (err) {
	case KS_OK:		return "success";
	case KS_ERR_ARG:	return "bad argument";
	case KS_ERR_NOMEM:	return "out of memory";
	case KS_ERR_MODULE:	return "cannot load or initialise the PKCS#11 module";
	case KS_ERR_TOKEN:	return "token not found or token operation failed";
	case KS_ERR_LOGIN:	return "token login refused";
	case KS_ERR_NOKEY:	return "no such key in the token";
	case KS_ERR_EXISTS:	return "a key with that label exists";
	case KS_ERR_CRYPTO:	return "cryptographic operation failed";
	case KS_ERR_FORMAT:	return "malformed escrow blob";
	case KS_ERR_NOSPACE:	return "output buffer too small";
	case KS_ERR_MECH:	return "mechanism not supported by the token or key";
	case KS_ERR_NOTOKEN:	return "station token damaged or missing";
	case KS_ERR_HELPER:	return "station token unavailable: its PKCS#11 module crashed or hung";
	default:		return "unknown keystore error";
	}
}

const char *
ks_name(int err)
{
	switch (err) {
	case KS_OK:		return "KS_OK";
	case KS_ERR_ARG:	return "KS_ERR_ARG";
	case KS_ERR_NOMEM:	return "KS_ERR_NOMEM";
	case KS_ERR_MODULE:	return "KS_ERR_MODULE";
	case KS_ERR_TOKEN:	return "KS_ERR_TOKEN";
	case KS_ERR_LOGIN:	return "KS_ERR_LOGIN";
	case KS_ERR_NOKEY:	return "KS_ERR_NOKEY";
	case KS_ERR_EXISTS:	return "KS_ERR_EXISTS";
	case KS_ERR_CRYPTO:	return "KS_ERR_CRYPTO";
	case KS_ERR_FORMAT:	return "KS_ERR_FORMAT";
	case KS_ERR_NOSPACE:	return "KS_ERR_NOSPACE";
	case KS_ERR_MECH:	return "KS_ERR_MECH";
	case KS_ERR_NOTOKEN:	return "KS_ERR_NOTOKEN";
	case KS_ERR_HELPER:	return "KS_ERR_HELPER";
	default:		return "KS_ERR_UNKNOWN";
	}
}

static const char *
ckr_name(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:				return "CKR_OK";
	case CKR_HOST_MEMORY:			return "CKR_HOST_MEMORY";
	case CKR_GENERAL_ERROR:			return "CKR_GENERAL_ERROR";
	case CKR_FUNCTION_FAILED:		return "CKR_FUNCTION_FAILED";
	case CKR_ARGUMENTS_BAD:			return "CKR_ARGUMENTS_BAD";
	case CKR_ATTRIBUTE_TYPE_INVALID:	return "CKR_ATTRIBUTE_TYPE_INVALID";
	case CKR_ATTRIBUTE_VALUE_INVALID:	return "CKR_ATTRIBUTE_VALUE_INVALID";
	case CKR_DATA_LEN_RANGE:		return "CKR_DATA_LEN_RANGE";
	case CKR_DEVICE_ERROR:			return "CKR_DEVICE_ERROR";
	case CKR_ENCRYPTED_DATA_INVALID:	return "CKR_ENCRYPTED_DATA_INVALID";
	case CKR_ENCRYPTED_DATA_LEN_RANGE:	return "CKR_ENCRYPTED_DATA_LEN_RANGE";
	case CKR_KEY_TYPE_INCONSISTENT:		return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_KEY_FUNCTION_NOT_PERMITTED:	return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case CKR_MECHANISM_INVALID:		return "CKR_MECHANISM_INVALID";
	case CKR_MECHANISM_PARAM_INVALID:	return "CKR_MECHANISM_PARAM_INVALID";
	case CKR_OBJECT_HANDLE_INVALID:		return "CKR_OBJECT_HANDLE_INVALID";
	case CKR_PIN_INCORRECT:			return "CKR_PIN_INCORRECT";
	case CKR_PIN_LOCKED:			return "CKR_PIN_LOCKED";
	case CKR_PIN_LEN_RANGE:			return "CKR_PIN_LEN_RANGE";
	case CKR_SESSION_HANDLE_INVALID:	return "CKR_SESSION_HANDLE_INVALID";
	case CKR_TEMPLATE_INCOMPLETE:		return "CKR_TEMPLATE_INCOMPLETE";
	case CKR_TEMPLATE_INCONSISTENT:		return "CKR_TEMPLATE_INCONSISTENT";
	case CKR_TOKEN_NOT_PRESENT:		return "CKR_TOKEN_NOT_PRESENT";
	case CKR_USER_NOT_LOGGED_IN:		return "CKR_USER_NOT_LOGGED_IN";
	case CKR_BUFFER_TOO_SMALL:		return "CKR_BUFFER_TOO_SMALL";
	case CKR_CRYPTOKI_NOT_INITIALIZED:	return "CKR_CRYPTOKI_NOT_INITIALIZED";
	case CKR_CRYPTOKI_ALREADY_INITIALIZED:	return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
	default:				return NULL;
	}
}

int
ks_p11_fail(struct ks *ks, const char *fn, CK_RV rv, int err)
{
	const char *n = ckr_name(rv);

	if (n != NULL)
		snprintf(ks->detail, sizeof(ks->detail), "%s: %s", fn, n);
	else
		snprintf(ks->detail, sizeof(ks->detail), "%s: CKR 0x%lx", fn,
		    (unsigned long)rv);
	return err;
}

const char *
ks_detail(const struct ks *ks)
{
	return ks != NULL ? ks->detail : "";
}

/* ---- session -------------------------------------------------------------- */

static int
load_module(struct ks *ks, const char *path)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS init;
	CK_RV rv;

	/* An absolute path only: no library search path decides which code runs. */
	if (path[0] != '/')
		return KS_ERR_ARG;
	if ((ks->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(ks->detail, sizeof(ks->detail), "dlopen failed");
		return KS_ERR_MODULE;
	}
	*(void **)&gfl = dlsym(ks->dl, "C_GetFunctionList");
	if (gfl == NULL || (rv = gfl(&ks->f)) != CKR_OK || ks->f == NULL)
		return KS_ERR_MODULE;
	memset(&init, 0, sizeof(init));
	init.flags = CKF_OS_LOCKING_OK;
	rv = ks->f->C_Initialize(&init);
	/*
	 * Someone else in this process initialised the module: use it, but leave
	 * C_Finalize to them.
	 */
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return KS_OK;
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_Initialize", rv, KS_ERR_MODULE);
	ks->finalize = 1;
	return KS_OK;
}

/* Token labels are 32 bytes, blank padded, not NUL terminated. */
static int
label_is(const CK_UTF8CHAR lab[32], const char *want)
{
	size_t n = strlen(want), i;

	if (n > 32 || memcmp(lab, want, n) != 0)
		return 0;
	for (i = n; i < 32; i++)
		if (lab[i] != ' ')
			return 0;
	return 1;
}

static int
find_token(struct ks *ks, const char *label, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int rc = KS_ERR_NOTOKEN;

	if ((rv = ks->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return ks_p11_fail(ks, "C_GetSlotList", rv, KS_ERR_TOKEN);
	if (n == 0)
		return KS_ERR_NOTOKEN;
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		return KS_ERR_NOMEM;
	if ((rv = ks->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		rc = ks_p11_fail(ks, "C_GetSlotList", rv, KS_ERR_TOKEN);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (ks->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    !(ti.flags & CKF_TOKEN_INITIALIZED) || !label_is(ti.label, label))
			continue;
		*slot = slots[i];
		rc = KS_OK;
		break;
	}
	if (rc != KS_OK)
		snprintf(ks->detail, sizeof(ks->detail), "no initialised token with that label");
out:
	free(slots);
	return rc;
}

static int
open_session(struct ks *ks, const struct ks_cfg *cfg)
{
	sigset_t old;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int rc;

	if ((rc = find_token(ks, cfg->token, &slot)) != KS_OK)
		return rc;
	rv = ks->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	    &ks->s);
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_OpenSession", rv, KS_ERR_TOKEN);
	ks->have_session = 1;
	/*
	 * The PIN is read straight from the caller's buffer: no copy to wipe.
	 * SoftHSM2 rewrites token.object in place at every login (ftruncate,
	 * then write): a process ended between the two loses the token, so
	 * this is the one login of the process and the catchable signals
	 * that end it wait until it is over (SIGKILL cannot be held off).
	 */
	sighold_begin(&old);
	rv = ks->f->C_Login(ks->s, CKU_USER, (CK_UTF8CHAR_PTR)cfg->pin,
	    (CK_ULONG)cfg->pinlen);
	sighold_end(&old);
	/*
	 * CKR_USER_ALREADY_LOGGED_IN means someone else in this process logged
	 * in and the PIN we were given was never checked: refuse.
	 */
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_Login", rv, KS_ERR_LOGIN);
	ks->logged_in = 1;
	return KS_OK;
}

int
ks_open(const struct ks_cfg *cfg, struct ks **out)
{
	struct ks *ks = NULL;
	int rc;

	if (out == NULL)
		return KS_ERR_ARG;
	*out = NULL;
	if (cfg == NULL || cfg->module == NULL || cfg->token == NULL ||
	    cfg->pin == NULL || cfg->pinlen == 0 || strlen(cfg->token) > 32)
		return KS_ERR_ARG;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return KS_ERR_NOMEM;
	if ((rc = load_module(ks, cfg->module)) != KS_OK)
		goto out;
	if ((rc = open_session(ks, cfg)) != KS_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	ks_close(ks);
	return rc;
}

void
ks_close(struct ks *ks)
{
	if (ks == NULL)
		return;
	if (ks->logged_in)
		ks->f->C_Logout(ks->s);
	if (ks->have_session)
		ks->f->C_CloseSession(ks->s);
	if (ks->finalize)
		ks->f->C_Finalize(NULL);
	if (ks->dl != NULL)
		dlclose(ks->dl);
	free(ks);
}

/* ---- objects ------------------------------------------------------------- */

int
ks_get_attr(struct ks *ks, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
    uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	*val = NULL;
	*len = 0;
	if ((rv = ks->f->C_GetAttributeValue(ks->s, h, &a, 1)) != CKR_OK)
		return ks_p11_fail(ks, "C_GetAttributeValue", rv, KS_ERR_TOKEN);
	/* Bounded: no attribute we read (label, modulus, point) is near this. */
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096)
		return KS_ERR_TOKEN;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return KS_ERR_NOMEM;
	if ((rv = ks->f->C_GetAttributeValue(ks->s, h, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return ks_p11_fail(ks, "C_GetAttributeValue", rv, KS_ERR_TOKEN);
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return KS_OK;
}

/*
 * Up to cap handles of the objects matching tmpl. *n is how many were found,
 * which may exceed cap only in the sense that the rest are not returned.
 */
static int
find_objects(struct ks *ks, CK_ATTRIBUTE *tmpl, CK_ULONG nt, CK_OBJECT_HANDLE *hs,
    CK_ULONG cap, CK_ULONG *n)
{
	CK_RV rv;

	*n = 0;
	if ((rv = ks->f->C_FindObjectsInit(ks->s, tmpl, nt)) != CKR_OK)
		return ks_p11_fail(ks, "C_FindObjectsInit", rv, KS_ERR_TOKEN);
	rv = ks->f->C_FindObjects(ks->s, hs, cap, n);
	ks->f->C_FindObjectsFinal(ks->s);
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_FindObjects", rv, KS_ERR_TOKEN);
	return KS_OK;
}

int
ks_find(struct ks *ks, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE hs[2];
	CK_ULONG n = 0;
	int rc;

	if ((rc = find_objects(ks, t, 2, hs, 2, &n)) != KS_OK)
		return rc;
	if (n == 0)
		return KS_ERR_NOKEY;
	/* Two keys under one label: refuse to guess which one is meant. */
	if (n > 1) {
		snprintf(ks->detail, sizeof(ks->detail), "label is not unique");
		return KS_ERR_TOKEN;
	}
	*h = hs[0];
	return KS_OK;
}

int
ks_versioned_label(char *buf, size_t cap, const char *prefix, uint32_t v)
{
	int n = snprintf(buf, cap, "%s%lu", prefix, (unsigned long)v);

	return n > 0 && (size_t)n < cap ? KS_OK : KS_ERR_ARG;
}

/* "<prefix><N>", N decimal without leading zero, 1..999999999. 0 if not ours. */
static uint32_t
label_version(const uint8_t *lab, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix), i;
	uint32_t v = 0;

	if (len <= pl || len - pl > 9 || memcmp(lab, prefix, pl) != 0 ||
	    lab[pl] == '0')
		return 0;
	for (i = pl; i < len; i++) {
		if (lab[i] < '0' || lab[i] > '9')
			return 0;
		v = v * 10 + (uint32_t)(lab[i] - '0');
	}
	return v;
}

#define KS_FIND_CHUNK	64
#define KS_FIND_MAX	65536	/* objects of one class we are willing to look through */

/*
 * All handles of objects of class cls, collected before any attribute is read
 * (no other call inside an active find). [out] *hs: free().
 */
static int
find_all(struct ks *ks, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **hs, CK_ULONG *n)
{
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE *all = NULL, *grown;
	CK_ULONG got = 0, have = 0;
	CK_RV rv;
	int rc = KS_OK;

	*hs = NULL;
	*n = 0;
	if ((rv = ks->f->C_FindObjectsInit(ks->s, t, 1)) != CKR_OK)
		return ks_p11_fail(ks, "C_FindObjectsInit", rv, KS_ERR_TOKEN);
	do {
		if (have + KS_FIND_CHUNK > KS_FIND_MAX) {
			rc = KS_ERR_TOKEN;
			break;
		}
		if ((grown = realloc(all, (have + KS_FIND_CHUNK) * sizeof(*all))) == NULL) {
			rc = KS_ERR_NOMEM;
			break;
		}
		all = grown;
		if ((rv = ks->f->C_FindObjects(ks->s, all + have, KS_FIND_CHUNK, &got)) != CKR_OK) {
			rc = ks_p11_fail(ks, "C_FindObjects", rv, KS_ERR_TOKEN);
			break;
		}
		have += got;
	} while (got == KS_FIND_CHUNK);
	ks->f->C_FindObjectsFinal(ks->s);
	if (rc != KS_OK) {
		free(all);
		return rc;
	}
	*hs = all;
	*n = have;
	return KS_OK;
}

int
ks_max_version(struct ks *ks, CK_OBJECT_CLASS cls, const char *prefix, uint32_t *max)
{
	CK_OBJECT_HANDLE *hs = NULL;
	CK_ULONG n = 0, i;
	uint8_t *lab = NULL;
	size_t len = 0;
	uint32_t v;
	int rc;

	*max = 0;
	if ((rc = find_all(ks, cls, &hs, &n)) != KS_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if ((rc = ks_get_attr(ks, hs[i], CKA_LABEL, &lab, &len)) != KS_OK)
			goto out;
		v = label_version(lab, len, prefix);
		if (v > *max)
			*max = v;
		free(lab);
		lab = NULL;
	}
out:
	free(hs);
	return rc;
}

/* ---- master keys --------------------------------------------------------- */

int
ks_master_current(struct ks *ks, uint32_t *version)
{
	int rc;

	if (ks == NULL || version == NULL)
		return KS_ERR_ARG;
	if ((rc = ks_max_version(ks, CKO_SECRET_KEY, KS_MASTER_PREFIX, version)) != KS_OK)
		return rc;
	return *version == 0 ? KS_ERR_NOKEY : KS_OK;
}

int
ks_master_create(struct ks *ks, uint32_t *version)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ULONG vlen = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE h;
	char label[KS_LABEL_MAX];
	uint32_t cur = 0;
	CK_RV rv;
	int rc;

	if (ks == NULL || version == NULL)
		return KS_ERR_ARG;
	*version = 0;
	if ((rc = ks_max_version(ks, CKO_SECRET_KEY, KS_MASTER_PREFIX, &cur)) != KS_OK)
		return rc;
	if (cur >= 999999999u)
		return KS_ERR_ARG;
	if ((rc = ks_versioned_label(label, sizeof(label), KS_MASTER_PREFIX, cur + 1)) != KS_OK)
		return rc;
	{
		/* Usable only to HMAC inside the token: no encrypt, no export, no derive. */
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ CKA_VALUE_LEN, &vlen, sizeof(vlen) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_VERIFY, &no, sizeof(no) },
			{ CKA_ENCRYPT, &no, sizeof(no) },
			{ CKA_DECRYPT, &no, sizeof(no) },
			{ CKA_WRAP, &no, sizeof(no) },
			{ CKA_UNWRAP, &no, sizeof(no) },
			{ CKA_DERIVE, &no, sizeof(no) },
			{ CKA_LABEL, label, strlen(label) },
		};

		rv = ks->f->C_GenerateKey(ks->s, &mech, t, sizeof(t) / sizeof(t[0]), &h);
	}
	if (rv != CKR_OK)
		return ks_p11_fail(ks, "C_GenerateKey", rv, KS_ERR_TOKEN);
	*version = cur + 1;
	return KS_OK;
}

/* ---- diversification ----------------------------------------------------- */

#define KS_DIV_TAG	"cardmgr div v1"	/* 14 bytes, no NUL */
#define KS_DIV_INPUT	(14 + 1 + 16 + 1)

/*
 * HMAC-SHA256 in the token, keyed by master key version, over
 * "cardmgr div v1" || purpose || guid[16] || outlen. out: 32 bytes.
 */
static int
diversify(struct ks *ks, uint32_t version, uint8_t purpose, const uint8_t guid[16],
    uint8_t outlen, uint8_t out[32])
{
	CK_MECHANISM mech = { CKM_SHA256_HMAC, NULL, 0 };
	CK_OBJECT_HANDLE h;
	uint8_t in[KS_DIV_INPUT];
	struct buf_writer w;
	char label[KS_LABEL_MAX];
	CK_ULONG n = 32;
	CK_RV rv;
	int rc;

	if (version == 0 || guid == NULL)
		return KS_ERR_ARG;
	if ((rc = ks_versioned_label(label, sizeof(label), KS_MASTER_PREFIX, version)) != KS_OK ||
	    (rc = ks_find(ks, CKO_SECRET_KEY, label, &h)) != KS_OK)
		return rc;
	buf_writer_init(&w, in, sizeof(in));
	buf_put_bytes(&w, KS_DIV_TAG, 14);
	buf_put_u8(&w, purpose);
	buf_put_bytes(&w, guid, 16);
	buf_put_u8(&w, outlen);
	if (buf_writer_error(&w) != BUF_OK || w.len != sizeof(in))
		return KS_ERR_ARG;
	if ((rv = ks->f->C_SignInit(ks->s, &mech, h)) != CKR_OK)
		return ks_p11_fail(ks, "C_SignInit", rv, KS_ERR_TOKEN);
	if ((rv = ks->f->C_Sign(ks->s, in, sizeof(in), out, &n)) != CKR_OK)
		return ks_p11_fail(ks, "C_Sign", rv, KS_ERR_TOKEN);
	return n == 32 ? KS_OK : KS_ERR_TOKEN;
}

static size_t
mgmt_keylen(int alg)
{
	switch (alg) {
	case PIV_ALG_3DES:	return 24;
	case PIV_ALG_AES128:	return 16;
	case PIV_ALG_AES192:	return 24;
	case PIV_ALG_AES256:	return 32;
	default:		return 0;
	}
}

/* DES keys carry odd parity in each byte's low bit; cards may check it. */
static void
des_odd_parity(uint8_t *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t b = k[i] & 0xFE, p = b;

		p ^= p >> 4;
		p ^= p >> 2;
		p ^= p >> 1;
		k[i] = b | (uint8_t)(~p & 1);
	}
}

int
ks_derive_mgmt_key(struct ks *ks, uint32_t version, const uint8_t guid[16], int alg,
    uint8_t *out, size_t outlen)
{
	uint8_t d[32];
	size_t kl = mgmt_keylen(alg);
	int rc;

	if (ks == NULL || out == NULL || kl == 0 || outlen != kl)
		return KS_ERR_ARG;
	/* The purpose byte is the PIV algorithm: 3DES and AES-192 keys differ. */
	if ((rc = diversify(ks, version, (uint8_t)alg, guid, (uint8_t)kl, d)) != KS_OK)
		goto out;
	memcpy(out, d, kl);
	if (alg == PIV_ALG_3DES)
		des_odd_parity(out, kl);
out:
	OPENSSL_cleanse(d, sizeof(d));
	return rc;
}

int
ks_derive_puk(struct ks *ks, uint32_t version, const uint8_t guid[16], char out[9])
{
	uint8_t d[32];
	uint64_t x = 0;
	uint32_t puk = 0;
	int i, rc;

	if (ks == NULL || out == NULL)
		return KS_ERR_ARG;
	memset(out, 0, 9);
	if ((rc = diversify(ks, version, KS_DIV_PUK, guid, 8, d)) != KS_OK)
		goto out;
	/*
	 * 64-bit reduction: 2^64 is not a multiple of 10^8, so low values are
	 * more likely by at most 10^8 / 2^64 (about 5e-12 relative): no guess
	 * gains from it, and the derivation stays one HMAC, no retry loop.
	 */
	for (i = 0; i < 8; i++)
		x = (x << 8) | d[i];
	puk = (uint32_t)(x % 100000000u);
	for (i = 7; i >= 0; i--) {
		out[i] = (char)('0' + puk % 10);
		puk /= 10;
	}
	out[8] = '\0';
out:
	OPENSSL_cleanse(&x, sizeof(x));
	OPENSSL_cleanse(&puk, sizeof(puk));
	OPENSSL_cleanse(d, sizeof(d));
	return rc;
}

static const EVP_CIPHER *
mgmt_ecb(int alg)
{
	switch (alg) {
	case PIV_ALG_3DES:	return EVP_des_ede3_ecb();
	case PIV_ALG_AES128:	return EVP_aes_128_ecb();
	case PIV_ALG_AES192:	return EVP_aes_192_ecb();
	case PIV_ALG_AES256:	return EVP_aes_256_ecb();
	default:		return NULL;
	}
}

int
ks_mgmt_crypt(struct ks *ks, uint32_t version, const uint8_t guid[16], int alg,
    int encrypt, const uint8_t *in, uint8_t *out, size_t blocklen)
{
	const EVP_CIPHER *c = mgmt_ecb(alg);
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t key[32];
	size_t kl = mgmt_keylen(alg);
	int n = 0, rc;

	if (ks == NULL || in == NULL || out == NULL || c == NULL ||
	    blocklen != (size_t)EVP_CIPHER_get_block_size(c))
		return KS_ERR_ARG;
	if ((rc = ks_derive_mgmt_key(ks, version, guid, alg, key, kl)) != KS_OK)
		goto out;
	rc = KS_ERR_CRYPTO;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_CipherInit_ex(ctx, c, NULL, key, NULL, encrypt ? 1 : 0) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &n, in, (int)blocklen) == 1 &&
	    (size_t)n == blocklen)
		rc = KS_OK;
out:
	EVP_CIPHER_CTX_free(ctx);	/* clears the key schedule */
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}
