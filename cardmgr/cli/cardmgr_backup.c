/*
 * cardmgr restore, cardmgr backup-keygen: the offline half of the station's
 * encrypted backups (docs/daemon.md, "Backup and restore"). They run without
 * the daemon, on the station being restored; the backup secret key is read
 * from a file (never argv or the environment) into guarded memory and wiped.
 */
#include "cardmgr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "inv/backup.h"

/* An inventory restored is at most this big (the map size's bound). */
#define RESTORE_MAX ((uint64_t)1 << 40)

/* 1: dir holds nothing but "." and ".."; 0: it holds something; -1. */
static int
dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* What was written opens as an LMDB environment (read-only, no lock file). */
static int
lmdb_opens(const char *dir, char *why, size_t cap)
{
	MDB_env *env = NULL;
	MDB_txn *t = NULL;
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	if ((rc = mdb_env_create(&env)) == 0 &&
	    (rc = mdb_env_set_maxdbs(env, 64)) == 0 &&
	    (rc = mdb_env_set_mapsize(env, (size_t)1 << 30)) == 0 &&
	    (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t)) == 0 &&
	    (rc = mdb_dbi_open(t, NULL, 0, &dbi)) == 0)
		rc = mdb_stat(t, dbi, &st);
	if (rc != 0)
		snprintf(why, cap, "%s", mdb_strerror(rc));
	if (t != NULL)
		mdb_txn_abort(t);
	if (env != NULL)
		mdb_env_close(env);
	return rc == 0 ? 0 : -1;
}

int
cm_restore(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "in", required_argument, NULL, 'i' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyf = NULL, *in = NULL, *dir = NULL, *user = NULL;
	char tmp[4096], dst[4096], why[256];
	struct passwd *pw = NULL;
	uint8_t *sk = NULL, pk[BKP_KEYBYTES];
	uint64_t plain = 0;
	int c, ifd = -1, ofd = -1, rc, ret = CM_EXIT_ERROR, made = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': keyf = optarg; break;
		case 'i': in = optarg; break;
		case 'd': dir = optarg; break;
		case 'u': user = optarg; break;
		default: return CM_EXIT_USAGE;
		}
	}
	if (optind != argc || keyf == NULL || in == NULL || dir == NULL)
		return CM_EXIT_USAGE;
	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "cardmgr: restore: no user %s\n", user);
		return CM_EXIT_ERROR;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.data.mdb.restore", dir) >=
	    sizeof(tmp) || (size_t)snprintf(dst, sizeof(dst), "%s/data.mdb",
	    dir) >= sizeof(dst))
		return CM_EXIT_USAGE;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cardmgr: restore: %s: %s\n", dir, strerror(errno));
		return CM_EXIT_ERROR;
	}
	/* Never over a live or earlier inventory: a new station's empty one. */
	if ((rc = dir_empty(dir)) != 1) {
		fprintf(stderr, "cardmgr: restore: %s %s: refused (a restore "
		    "goes into an empty state directory)\n", dir, rc == 0 ?
		    "is not empty" : "cannot be read");
		return CM_EXIT_REFUSED;
	}
	if ((sk = sodium_malloc(BKP_KEYBYTES)) == NULL)
		return CM_EXIT_ERROR;
	if ((rc = bkp_key_load(keyf, 1, sk)) != BKP_OK ||
	    (rc = bkp_key_public(sk, pk)) != BKP_OK) {
		fprintf(stderr, "cardmgr: restore: %s: %s\n", keyf,
		    bkp_strerror(rc));
		goto done;
	}
	if ((ifd = open(in, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "cardmgr: restore: %s: %s\n", in, strerror(errno));
		goto done;
	}
	if ((ofd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "cardmgr: restore: %s: %s\n", tmp, strerror(errno));
		goto done;
	}
	made = 1;
	rc = bkp_decrypt(bkp_fd_read, &ifd, bkp_fd_write, &ofd, pk, sk,
	    RESTORE_MAX, &plain);
	sodium_free(sk);
	sk = NULL;
	if (rc != BKP_OK) {
		fprintf(stderr, "cardmgr: restore: %s: refused: %s; nothing "
		    "restored\n", in, bkp_strerror(rc));
		ret = rc == BKP_ERR_IO ? CM_EXIT_ERROR : CM_EXIT_REFUSED;
		goto done;
	}
	if (pw != NULL && (fchown(ofd, pw->pw_uid, pw->pw_gid) != 0 ||
	    chown(dir, pw->pw_uid, pw->pw_gid) != 0 || chmod(dir, 0700) != 0)) {
		fprintf(stderr, "cardmgr: restore: owner %s: %s\n", user,
		    strerror(errno));
		goto done;
	}
	if (fsync(ofd) != 0 || close(ofd) != 0) {
		ofd = -1;
		fprintf(stderr, "cardmgr: restore: %s: %s\n", tmp, strerror(errno));
		goto done;
	}
	ofd = -1;
	if (rename(tmp, dst) != 0) {
		fprintf(stderr, "cardmgr: restore: %s: %s\n", dst, strerror(errno));
		goto done;
	}
	made = 0;
	if (lmdb_opens(dir, why, sizeof(why)) != 0) {
		fprintf(stderr, "cardmgr: restore: %s does not open as an LMDB "
		    "inventory: %s; removed\n", dst, why);
		(void)unlink(dst);
		goto done;
	}
	printf("restored %llu bytes into %s\n", (unsigned long long)plain, dst);
	ret = CM_EXIT_OK;
done:
	if (ofd >= 0)
		close(ofd);
	if (ifd >= 0)
		close(ifd);
	if (made)
		(void)unlink(tmp);
	sodium_free(sk);
	sodium_memzero(pk, sizeof(pk));
	return ret;
}

/* path, mode: the key as 64 hex digits and a newline; never over a file. */
static int
write_key(const char *path, mode_t mode, const uint8_t key[BKP_KEYBYTES])
{
	char hex[2 * BKP_KEYBYTES + 2];
	int fd, rc = -1;

	sodium_bin2hex(hex, sizeof(hex) - 1, key, BKP_KEYBYTES);
	strcat(hex, "\n");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode)) >= 0) {
		rc = bkp_fd_write(&fd, (const uint8_t *)hex, strlen(hex)) == 0 &&
		    fchmod(fd, mode) == 0 && fsync(fd) == 0 ? 0 : -1;
		if (close(fd) != 0)
			rc = -1;
	}
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int
cm_backup_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	char skp[4096], pkp[4096];
	uint8_t *sk, pk[BKP_KEYBYTES];
	int c, ret = CM_EXIT_ERROR;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'o')
			return CM_EXIT_USAGE;
		out = optarg;
	}
	if (optind != argc || out == NULL)
		return CM_EXIT_USAGE;
	if ((size_t)snprintf(skp, sizeof(skp), "%s/backup.key", out) >=
	    sizeof(skp) || (size_t)snprintf(pkp, sizeof(pkp), "%s/backup.pub",
	    out) >= sizeof(pkp))
		return CM_EXIT_USAGE;
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "cardmgr: backup-keygen: %s: %s\n", out,
		    strerror(errno));
		return CM_EXIT_ERROR;
	}
	if ((sk = sodium_malloc(BKP_KEYBYTES)) == NULL)
		return CM_EXIT_ERROR;
	crypto_box_keypair(pk, sk);
	if (write_key(skp, 0600, sk) != 0) {
		fprintf(stderr, "cardmgr: backup-keygen: %s: %s\n", skp,
		    strerror(errno));
	} else if (write_key(pkp, 0644, pk) != 0) {
		fprintf(stderr, "cardmgr: backup-keygen: %s: %s\n", pkp,
		    strerror(errno));
		(void)unlink(skp);
	} else {
		printf("secret key %s (mode 600: keep it off the station)\n"
		    "public key %s (backup_public_key in cardmgrd.conf)\n", skp,
		    pkp);
		ret = CM_EXIT_OK;
	}
	sodium_free(sk);
	return ret;
}
