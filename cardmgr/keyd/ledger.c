/* ledger: GUIDs whose 9B key left keyd, kept across restarts. See ledger.h. */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define GUID_LEN 16
#define MIN_SLOTS 1024		/* a power of two */

struct ledger {
	int fd;			/* -1: memory only */
	uint8_t hkey[crypto_shorthash_KEYBYTES];
	uint8_t (*slot)[GUID_LEN];	/* open addressing; all-zero = empty */
	size_t nslots, n;
	int have_zero;		/* the all-zero GUID (never issued, but legal) */
};

const char *
ledger_strerror(int err)
{
	switch (err) {
	case LEDGER_OK:		return "success";
	case LEDGER_ERR_ARG:	return "bad argument";
	case LEDGER_ERR_IO:	return "cannot read, append or sync the ledger";
	case LEDGER_ERR_NOMEM:	return "out of memory";
	case LEDGER_ERR_FILE:	return "ledger is not a private regular file";
	case LEDGER_ERR_SEEN:	return "GUID already in the ledger";
	default:		return "unknown ledger error";
	}
}

static int
is_zero(const uint8_t g[GUID_LEN])
{
	static const uint8_t z[GUID_LEN];

	return memcmp(g, z, GUID_LEN) == 0;
}

static size_t
home(const struct ledger *l, const uint8_t g[GUID_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;

	crypto_shorthash(h, g, GUID_LEN, l->hkey);
	for (size_t i = 0; i < sizeof(v); i++)
		v = v << 8 | h[i];
	return (size_t)v & (l->nslots - 1);
}

/* The slot holding g, or the empty slot where it would go. */
static size_t
probe(const struct ledger *l, const uint8_t g[GUID_LEN])
{
	size_t i = home(l, g);

	while (!is_zero(l->slot[i]) && memcmp(l->slot[i], g, GUID_LEN) != 0)
		i = (i + 1) & (l->nslots - 1);
	return i;
}

static int
grow(struct ledger *l)
{
	uint8_t (*old)[GUID_LEN] = l->slot;
	size_t oldn = l->nslots, n = oldn ? oldn * 2 : MIN_SLOTS;

	if ((l->slot = calloc(n, GUID_LEN)) == NULL) {
		l->slot = old;
		return LEDGER_ERR_NOMEM;
	}
	l->nslots = n;
	for (size_t i = 0; i < oldn; i++)
		if (!is_zero(old[i]))
			memcpy(l->slot[probe(l, old[i])], old[i], GUID_LEN);
	free(old);
	return LEDGER_OK;
}

/* Into the set (no file); LEDGER_ERR_SEEN if there. */
static int
insert(struct ledger *l, const uint8_t g[GUID_LEN])
{
	size_t i;
	int rc;

	if (is_zero(g)) {
		if (l->have_zero)
			return LEDGER_ERR_SEEN;
		l->have_zero = 1;
		l->n++;
		return LEDGER_OK;
	}
	if (2 * (l->n + 1) > l->nslots && (rc = grow(l)) != LEDGER_OK)
		return rc;
	i = probe(l, g);
	if (!is_zero(l->slot[i]))
		return LEDGER_ERR_SEEN;
	memcpy(l->slot[i], g, GUID_LEN);
	l->n++;
	return LEDGER_OK;
}

int
ledger_has(const struct ledger *l, const uint8_t guid[GUID_LEN])
{
	if (l == NULL || guid == NULL)
		return 0;
	if (is_zero(guid))
		return l->have_zero;
	return !is_zero(l->slot[probe(l, guid)]);
}

size_t
ledger_count(const struct ledger *l)
{
	return l != NULL ? l->n : 0;
}

/* Read every whole record; cut a torn tail off. */
static int
load(struct ledger *l, const char **why)
{
	uint8_t rec[GUID_LEN];
	struct stat st;
	off_t at = 0;
	ssize_t got;
	int rc;

	if (fstat(l->fd, &st) != 0)
		return *why = "cannot stat", LEDGER_ERR_IO;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		return *why = "not a regular file of this user with mode 0600",
		    LEDGER_ERR_FILE;
	while (at + GUID_LEN <= st.st_size) {
		if ((got = pread(l->fd, rec, GUID_LEN, at)) != GUID_LEN)
			return *why = "cannot read", LEDGER_ERR_IO;
		/* A duplicate record is harmless (an append retried): skip. */
		if ((rc = insert(l, rec)) != LEDGER_OK && rc != LEDGER_ERR_SEEN)
			return *why = "out of memory", rc;
		at += GUID_LEN;
	}
	if (at != st.st_size && (ftruncate(l->fd, at) != 0 ||
	    fdatasync(l->fd) != 0))
		return *why = "cannot cut a torn last record", LEDGER_ERR_IO;
	return LEDGER_OK;
}

int
ledger_open(const char *path, struct ledger **out, const char **why)
{
	struct ledger *l;
	const char *dummy;
	int rc = LEDGER_ERR_NOMEM;

	if (why == NULL)
		why = &dummy;
	*why = "";
	if (out == NULL)
		return LEDGER_ERR_ARG;
	*out = NULL;
	if (sodium_init() < 0 || (l = calloc(1, sizeof(*l))) == NULL)
		return *why = "out of memory", LEDGER_ERR_NOMEM;
	l->fd = -1;
	randombytes_buf(l->hkey, sizeof(l->hkey));
	if ((rc = grow(l)) != LEDGER_OK) {
		*why = "out of memory";
		goto out;
	}
	if (path != NULL) {
		l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (l->fd < 0) {
			*why = errno == ELOOP ? "is a symbolic link" : "cannot open";
			rc = errno == ELOOP ? LEDGER_ERR_FILE : LEDGER_ERR_IO;
			goto out;
		}
		if ((rc = load(l, why)) != LEDGER_OK)
			goto out;
	}
	*out = l;
	l = NULL;
	rc = LEDGER_OK;
out:
	ledger_close(l);
	return rc;
}

int
ledger_add(struct ledger *l, const uint8_t guid[GUID_LEN])
{
	size_t done = 0;
	off_t before = 0;
	ssize_t w;

	if (l == NULL || guid == NULL)
		return LEDGER_ERR_ARG;
	if (ledger_has(l, guid))
		return LEDGER_ERR_SEEN;
	/* On disk first: a key is never out without its record. */
	if (l->fd >= 0 && (before = lseek(l->fd, 0, SEEK_END)) < 0)
		return LEDGER_ERR_IO;
	while (l->fd >= 0 && done < GUID_LEN) {
		if ((w = write(l->fd, guid + done, GUID_LEN - done)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			/* No torn record left for the next append to follow. */
			(void)!ftruncate(l->fd, before);
			return LEDGER_ERR_IO;
		}
		done += (size_t)w;
	}
	if (l->fd >= 0 && fdatasync(l->fd) != 0)
		return LEDGER_ERR_IO;
	return insert(l, guid);
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->slot);
	sodium_memzero(l, sizeof(*l));
	free(l);
}
