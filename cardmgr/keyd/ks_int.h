/* ks internals shared by ks.c, ks_escrow.c and ks_sign.c. Not a public header. */
#ifndef KS_INT_H
#define KS_INT_H

#include <p11-kit/pkcs11.h>

#include "ks.h"

struct ks {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s;
	int have_session, logged_in, finalize;
	char detail[160];
};

#define KS_LABEL_MAX	64	/* longest label we create or look up */

/* Record "fn: CKR_..." in ks->detail and return err. */
int ks_p11_fail(struct ks *ks, const char *fn, CK_RV rv, int err);
/* The one object of class cls labelled label. KS_ERR_NOKEY if none. */
int ks_find(struct ks *ks, CK_OBJECT_CLASS cls, const char *label,
    CK_OBJECT_HANDLE *h);
/* Highest <N> among objects of class cls labelled "<prefix><N>"; 0 if none. */
int ks_max_version(struct ks *ks, CK_OBJECT_CLASS cls, const char *prefix,
    uint32_t *max);
/* "<prefix><v>" into buf. */
int ks_versioned_label(char *buf, size_t cap, const char *prefix, uint32_t v);
/* [out] *val malloc'd value of attribute type of h, free(). */
int ks_get_attr(struct ks *ks, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
    uint8_t **val, size_t *len);
/* The public key of the public-key object h. [out] *pub: EVP_PKEY_free(). */
int ks_pub_from_object(struct ks *ks, CK_OBJECT_HANDLE h, EVP_PKEY **pub);
/* Generate an RSA (bits) or EC (type) pair labelled label; sign or encrypt use. */
int ks_gen_pair(struct ks *ks, const char *label, int type, CK_ULONG rsa_bits,
    int for_encryption);

#define KS_MASTER_PREFIX	"cardmgr-master-v"
#define KS_KRK_PREFIX		"cardmgr-krk-v"

#endif /* KS_INT_H */
