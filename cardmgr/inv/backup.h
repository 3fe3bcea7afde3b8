/*
 * backup (prefix bkp_): the encrypted inventory backup format.
 *
 * The engine streams a compacted LMDB copy (mdb_env_copyfd2, MDB_CP_COMPACT:
 * one read transaction, so consistent while the station writes) through
 * bkp_encrypt; `cardmgr restore` runs bkp_decrypt offline with the backup
 * secret key, which the station never holds. The file:
 *
 *   magic    8 bytes  "CMBKUP\0\1" (format version 1)
 *   sealed  80 bytes  crypto_box_seal of a fresh 32-byte secretstream key
 *                     to the backup public key (X25519)
 *   header  24 bytes  crypto_secretstream_xchacha20poly1305 header
 *   chunks            each: 4-byte big-endian ciphertext length n
 *                     (17 <= n <= 17 + BKP_CHUNK), then n bytes; the first
 *                     chunk authenticates the magic as additional data; the
 *                     last one carries TAG_FINAL and nothing may follow it
 *
 * A flipped bit anywhere fails a chunk's authentication (or the sealed key's),
 * a dropped tail lacks TAG_FINAL, a reordered chunk fails its position in the
 * stream. The decoder holds one chunk at a time and stops past max_out
 * plaintext bytes. Library code: never prints or exits.
 */
#ifndef BACKUP_H
#define BACKUP_H

#include <stddef.h>
#include <stdint.h>

#define BKP_MAGIC "CMBKUP\0\1"
#define BKP_MAGIC_LEN 8
#define BKP_KEYBYTES 32		/* X25519 public or secret key */
#define BKP_SEALED_LEN (32 + 48)	/* key + crypto_box_SEALBYTES */
#define BKP_HEADER_LEN 24	/* crypto_secretstream header */
#define BKP_ABYTES 17		/* crypto_secretstream ABYTES */
#define BKP_CHUNK 65536		/* plaintext bytes per chunk at most */
#define BKP_PREFIX_LEN (BKP_MAGIC_LEN + BKP_SEALED_LEN + BKP_HEADER_LEN)

enum bkp_err {
	BKP_OK = 0,
	BKP_ERR_ARG = -1,	/* caller bug */
	BKP_ERR_IO = -2,	/* the read or write callback failed */
	BKP_ERR_FORMAT = -3,	/* not a backup file, or a bad chunk length */
	BKP_ERR_KEY = -4,	/* the sealed key does not open: wrong key or tampered */
	BKP_ERR_AUTH = -5,	/* a chunk fails authentication: tampered */
	BKP_ERR_TRUNC = -6,	/* ends before its final chunk */
	BKP_ERR_TRAILING = -7,	/* bytes after the final chunk */
	BKP_ERR_TOOBIG = -8,	/* more plaintext than max_out */
	BKP_ERR_CRYPTO = -9,	/* libsodium refused (init, memory) */
	BKP_ERR_KEYTEXT = -10,	/* a key file is not 64 hex digits or base64 of 32 bytes */
	BKP_ERR_KEYFILE = -11,	/* a key file: missing, not regular, or readable by others */
};

const char *bkp_strerror(int err);

/*
 * Callbacks. read: fill up to want bytes, *got < want only at end of input;
 * 0 or -1. write: all len bytes; 0 or -1.
 */
typedef int (*bkp_read_fn)(void *arg, uint8_t *buf, size_t want, size_t *got);
typedef int (*bkp_write_fn)(void *arg, const uint8_t *buf, size_t len);

/* Over file descriptors (arg: a pointer to the int fd); EINTR retried. */
int bkp_fd_read(void *arg, uint8_t *buf, size_t want, size_t *got);
int bkp_fd_write(void *arg, const uint8_t *buf, size_t len);

/* Encrypt everything rd gives to the public key pk. [out] *plain_len. */
int bkp_encrypt(bkp_read_fn rd, void *rarg, bkp_write_fn wr, void *warg,
    const uint8_t pk[BKP_KEYBYTES], uint64_t *plain_len);

/*
 * Decrypt and authenticate rd's backup with the key pair (pk, sk), handing
 * the plaintext to wr chunk by chunk. The caller must discard what wr got
 * unless the result is BKP_OK (only the final chunk proves the whole).
 */
int bkp_decrypt(bkp_read_fn rd, void *rarg, bkp_write_fn wr, void *warg,
    const uint8_t pk[BKP_KEYBYTES], const uint8_t sk[BKP_KEYBYTES],
    uint64_t max_out, uint64_t *plain_len);

/* Key text: 64 hex digits or the base64 of 32 bytes, surrounding
 * whitespace allowed. BKP_OK or BKP_ERR_KEYTEXT. */
int bkp_key_parse(const char *text, size_t len, uint8_t key[BKP_KEYBYTES]);
/*
 * A key file (at most 1 KiB, O_NOFOLLOW, regular). secret: also no group or
 * other permission bits. The buffer read is wiped.
 */
int bkp_key_load(const char *path, int secret, uint8_t key[BKP_KEYBYTES]);
/* The secret key's public half. */
int bkp_key_public(const uint8_t sk[BKP_KEYBYTES], uint8_t pk[BKP_KEYBYTES]);

#endif /* BACKUP_H */
