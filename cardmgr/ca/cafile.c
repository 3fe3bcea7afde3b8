/* cafile: atomic file replace and PEM certificate loading. See cafile.h. */
#include "cafile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

const char *
cafile_strerror(int err)
{
	switch (err) {
	case CAFILE_OK:		return "success";
	case CAFILE_ERR_IO:	return "cannot read or write the file";
	case CAFILE_ERR_TYPE:	return "secret file is not a regular file";
	case CAFILE_ERR_MODE:	return "secret file is accessible by group or others; chmod 600 it";
	case CAFILE_ERR_OWNER:	return "secret file is owned by neither root nor the service user";
	case CAFILE_ERR_SIZE:	return "secret file is empty or too large";
	default:		return "unknown cafile error";
	}
}

const char *
cafile_errname(int err)
{
	switch (err) {
	case CAFILE_OK:		return "CAFILE_OK";
	case CAFILE_ERR_IO:	return "CAFILE_ERR_IO";
	case CAFILE_ERR_TYPE:	return "CAFILE_ERR_TYPE";
	case CAFILE_ERR_MODE:	return "CAFILE_ERR_MODE";
	case CAFILE_ERR_OWNER:	return "CAFILE_ERR_OWNER";
	case CAFILE_ERR_SIZE:	return "CAFILE_ERR_SIZE";
	default:		return "CAFILE_ERR_UNKNOWN";
	}
}

/* The checks run on the descriptor: what we read is what we checked. */
static int
secret_fd_ok(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return CAFILE_ERR_IO;
	if (!S_ISREG(st.st_mode))
		return CAFILE_ERR_TYPE;
	if (st.st_mode & 077)
		return CAFILE_ERR_MODE;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return CAFILE_ERR_OWNER;
	return CAFILE_OK;
}

int
cafile_read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	int fd, rc;

	*len = 0;
	if (path == NULL || buf == NULL || cap < 2)
		return CAFILE_ERR_IO;
	/*
	 * O_NONBLOCK: a FIFO planted under the name must not hang the open;
	 * it is refused by the type check right after.
	 */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
		return errno == ELOOP ? CAFILE_ERR_TYPE : CAFILE_ERR_IO;
	if ((rc = secret_fd_ok(fd)) != CAFILE_OK)
		goto out;
	/* One byte more than fits tells "too large" from "exactly full". */
	while (n < cap && (r = read(fd, buf + n, cap - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = CAFILE_ERR_IO;
			goto out;
		}
		n += (size_t)r;
	}
	if (n >= cap) {
		rc = CAFILE_ERR_SIZE;
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	rc = n == 0 ? CAFILE_ERR_SIZE : CAFILE_OK;
out:
	close(fd);
	if (rc != CAFILE_OK) {
		OPENSSL_cleanse(buf, cap);
		return rc;
	}
	OPENSSL_cleanse(buf + n, cap - n);
	*len = n;
	return CAFILE_OK;
}

int
cafile_write_atomic(const char *path, const void *data, size_t len, int sync)
{
	char tmp[PATH_MAX];
	FILE *f;
	int n, ok;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "wb")) == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok &= fflush(f) == 0 && (!sync || fsync(fileno(f)) == 0);
	ok &= fclose(f) == 0;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

X509 *
cafile_load_pem_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}
