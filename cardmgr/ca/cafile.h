/*
 * cafile: the file helpers of the CA link, shared by cardmgr-ca, the CRL
 * cache and the test CA: an atomic replace (write a temporary file, sync it,
 * rename it over the old one) and loading a PEM certificate.
 */
#ifndef CAFILE_H
#define CAFILE_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * Replace path with len bytes of data through path.tmp: a reader, or the
 * next run after a crash, sees the old contents or the new, never a part.
 * sync = 0 skips the fsync (benchmarks of the test CA only). 0 or -1.
 */
int cafile_write_atomic(const char *path, const void *data, size_t len,
    int sync);

/* [out] the first PEM certificate in path, or NULL; the caller frees it. */
X509 *cafile_load_pem_cert(const char *path);

#endif /* CAFILE_H */
