/*
 * POST /v1/backup: a consistent, compacted, encrypted copy of the inventory
 * while the station runs (docs/daemon.md, "Backup and restore").
 *
 * LMDB copies the environment from one read transaction (mdb_env_copyfd2,
 * MDB_CP_COMPACT) into a pipe; this worker thread encrypts what comes out
 * (inv/backup.c) to the configured backup public key and writes it to
 * backup_dir under a temporary name, renamed once complete and synced. The
 * plaintext copy never touches a disk; the engine never holds the secret key.
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "inv/backup.h"
#include "proc/log.h"

struct copier {
	MDB_env *env;
	int fd;			/* the pipe's write end; closed by the thread */
	int rc;			/* mdb_env_copyfd2's */
};

static void *
copy_thread(void *arg)
{
	struct copier *c = arg;

	c->rc = mdb_env_copyfd2(c->env, c->fd, MDB_CP_COMPACT);
	close(c->fd);
	c->fd = -1;
	return NULL;
}

struct sink {
	int fd;
	uint64_t bytes;
	crypto_hash_sha256_state sha;
};

static int
sink_write(void *arg, const uint8_t *buf, size_t len)
{
	struct sink *s = arg;

	if (bkp_fd_write(&s->fd, buf, len) != 0)
		return -1;
	crypto_hash_sha256_update(&s->sha, buf, len);
	s->bytes += len;
	return 0;
}

static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
op_backup(struct engine *e, uint64_t id, const struct actor *a)
{
	const struct engine_cfg *cfg = e->cfg;
	struct copier cp = { inv_env(e->inv), -1, 0 };
	struct sink s;
	char name[96], path[1024], tmp[1100], hex[65], detail[200];
	uint8_t sum[crypto_hash_sha256_BYTES], rnd[4];
	char rhex[9];
	uint64_t plain = 0;
	int p[2] = { -1, -1 }, rc, started = 0, ok = 0;
	pthread_t th;
	struct tm tm;
	time_t now = time(NULL);

	if (cfg->backup_dir == NULL)
		return eng_error(e, id, 503, "backup_off", "no backup_dir and "
		    "backup_public_key in cardmgrd.conf: backups are off");
	randombytes_buf(rnd, sizeof(rnd));
	eng_hex(rnd, sizeof(rnd), rhex);
	gmtime_r(&now, &tm);
	snprintf(name, sizeof(name), "inventory-%04d%02d%02dT%02d%02d%02dZ-%s.cmbk",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, rhex);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->backup_dir, name) >=
	    sizeof(path) || (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.part",
	    cfg->backup_dir, name) >= sizeof(tmp))
		return eng_error(e, id, 500, "internal", "backup_dir too long");
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	crypto_hash_sha256_init(&s.sha);
	if ((s.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		snprintf(detail, sizeof(detail), "cannot create in %s: %s",
		    cfg->backup_dir, strerror(errno));
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(detail, sizeof(detail), "pipe: %s", strerror(errno));
		goto out;
	}
	cp.fd = p[1];
	if (pthread_create(&th, NULL, copy_thread, &cp) != 0) {
		snprintf(detail, sizeof(detail), "cannot start the copy");
		goto out;
	}
	started = 1;
	p[1] = -1;		/* the thread's now */
	rc = bkp_encrypt(bkp_fd_read, &p[0], sink_write, &s, cfg->backup_pk,
	    &plain);
	/* A copy still writing gets EPIPE, not a block on a full pipe. */
	close(p[0]);
	p[0] = -1;
	pthread_join(th, NULL);
	started = 0;
	if (cp.rc != MDB_SUCCESS) {
		snprintf(detail, sizeof(detail), "LMDB copy: %s",
		    mdb_strerror(cp.rc));
		goto out;
	}
	if (rc != BKP_OK) {
		snprintf(detail, sizeof(detail), "encrypt: %s%s%s",
		    bkp_strerror(rc), rc == BKP_ERR_IO ? ": " : "",
		    rc == BKP_ERR_IO ? strerror(errno) : "");
		goto out;
	}
	if (fsync(s.fd) != 0 || close(s.fd) != 0) {
		s.fd = -1;
		snprintf(detail, sizeof(detail), "write: %s", strerror(errno));
		goto out;
	}
	s.fd = -1;
	if (rename(tmp, path) != 0 || sync_dir(cfg->backup_dir) != 0) {
		snprintf(detail, sizeof(detail), "rename: %s", strerror(errno));
		goto out;
	}
	ok = 1;
out:
	if (started) {
		if (p[0] >= 0)
			close(p[0]);
		p[0] = -1;
		pthread_join(th, NULL);
	}
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (s.fd >= 0)
		close(s.fd);
	if (!ok) {
		(void)unlink(tmp);
		eng_audit(e, a, "backup", name, "failed", detail);
		log_warnx("backup %s failed: %s", name, detail);
		return eng_error(e, id, 500, "backup_failed", "%s", detail);
	}
	crypto_hash_sha256_final(&s.sha, sum);
	eng_hex(sum, sizeof(sum), hex);
	snprintf(detail, sizeof(detail), "%llu bytes, sha256 %s",
	    (unsigned long long)s.bytes, hex);
	eng_audit(e, a, "backup", name, "ok", detail);
	return eng_reply(e, id, 200, json_pack("{s:s, s:s, s:I, s:I, s:s}",
	    "file", name, "dir", cfg->backup_dir, "size", (json_int_t)s.bytes,
	    "inventory_bytes", (json_int_t)plain, "sha256", hex));
}
