/*
 * cafile: the file helpers of the CA link, shared by cardmgr-ca, the CRL
 * cache and the test CA: an atomic replace (write a temporary file, sync it,
 * rename it over the old one) and loading a PEM certificate.
 */
#ifndef CAFILE_H
#define CAFILE_H

#include <stddef.h>

#include <stdint.h>

#include <openssl/x509.h>

enum cafile_err {
	CAFILE_OK = 0,
	CAFILE_ERR_IO = -1,	/* cannot open, read or write */
	CAFILE_ERR_TYPE = -2,	/* a secret file that is not a regular file */
	CAFILE_ERR_MODE = -3,	/* a secret file group or others can access */
	CAFILE_ERR_OWNER = -4,	/* a secret file owned by someone else */
	CAFILE_ERR_SIZE = -5,	/* empty, or larger than the caller's buffer */
};

const char *cafile_strerror(int err);
/* The enum constant's name ("CAFILE_ERR_IO"), for logs and records. */
const char *cafile_errname(int err);

/*
 * Read a secret (token PIN, one-time secret) from path into buf[cap], one
 * trailing newline stripped. The file is opened with O_NOFOLLOW and checked
 * on the open descriptor (no race with a rename): a regular file, no access
 * for group or others, owned by root or by the user running this process.
 * [out] *len. On any failure buf is wiped and *len is 0.
 */
int cafile_read_secret(const char *path, uint8_t *buf, size_t cap,
    size_t *len);

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
