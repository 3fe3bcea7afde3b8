/* backup: the encrypted inventory backup format. See backup.h. */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define CT_MAX (BKP_CHUNK + BKP_ABYTES)

const char *
bkp_strerror(int err)
{
	switch (err) {
	case BKP_OK:		return "success";
	case BKP_ERR_ARG:	return "invalid argument";
	case BKP_ERR_IO:	return "read or write failed";
	case BKP_ERR_FORMAT:	return "not a station backup (bad magic or chunk length)";
	case BKP_ERR_KEY:	return "the backup key does not open it (wrong key, or the file was altered)";
	case BKP_ERR_AUTH:	return "authentication failed: the file was altered";
	case BKP_ERR_TRUNC:	return "truncated: the final chunk is missing";
	case BKP_ERR_TRAILING:	return "data after the final chunk";
	case BKP_ERR_TOOBIG:	return "larger than allowed";
	case BKP_ERR_CRYPTO:	return "libsodium failed";
	case BKP_ERR_KEYTEXT:	return "a key must be 64 hex digits or base64 of 32 bytes";
	case BKP_ERR_KEYFILE:	return "key file missing, not a regular file, or readable by others";
	default:		return "unknown backup error";
	}
}

int
bkp_fd_read(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	int fd = *(int *)arg;
	size_t n = 0;
	ssize_t r;

	while (n < want) {
		r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int
bkp_fd_write(void *arg, const uint8_t *buf, size_t len)
{
	int fd = *(int *)arg;
	ssize_t w;

	while (len > 0) {
		w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
bkp_encrypt(bkp_read_fn rd, void *rarg, bkp_write_fn wr, void *warg,
    const uint8_t pk[BKP_KEYBYTES], uint64_t *plain_len)
{
	crypto_secretstream_xchacha20poly1305_state *st = NULL;
	uint8_t *key = NULL, *in = NULL, *out = NULL;
	uint8_t prefix[BKP_PREFIX_LEN];
	unsigned long long clen;
	size_t got, next;
	int rc = BKP_ERR_CRYPTO, first = 1;

	if (rd == NULL || wr == NULL || pk == NULL || plain_len == NULL)
		return BKP_ERR_ARG;
	*plain_len = 0;
	if (sodium_init() < 0)
		return BKP_ERR_CRYPTO;
	key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
	st = sodium_malloc(sizeof(*st));
	in = sodium_malloc(2 * BKP_CHUNK);	/* this chunk and one ahead */
	out = malloc(4 + CT_MAX);
	if (key == NULL || st == NULL || in == NULL || out == NULL)
		goto done;
	crypto_secretstream_xchacha20poly1305_keygen(key);
	memcpy(prefix, BKP_MAGIC, BKP_MAGIC_LEN);
	if (crypto_box_seal(prefix + BKP_MAGIC_LEN, key, 32, pk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_push(st,
	    prefix + BKP_MAGIC_LEN + BKP_SEALED_LEN, key) != 0)
		goto done;
	rc = BKP_ERR_IO;
	if (wr(warg, prefix, sizeof(prefix)) != 0)
		goto done;
	/* Read one chunk ahead: the last chunk must carry TAG_FINAL. */
	if (rd(rarg, in, BKP_CHUNK, &got) != 0)
		goto done;
	for (;;) {
		uint8_t tag;

		next = 0;
		if (got == BKP_CHUNK && rd(rarg, in + BKP_CHUNK, BKP_CHUNK,
		    &next) != 0)
			goto done;
		tag = next == 0 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL :
		    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
		if (crypto_secretstream_xchacha20poly1305_push(st, out + 4, &clen,
		    in, got, first ? (const uint8_t *)BKP_MAGIC : NULL,
		    first ? BKP_MAGIC_LEN : 0, tag) != 0) {
			rc = BKP_ERR_CRYPTO;
			goto done;
		}
		first = 0;
		put32(out, (uint32_t)clen);
		if (wr(warg, out, 4 + (size_t)clen) != 0)
			goto done;
		*plain_len += got;
		if (next == 0)
			break;
		memmove(in, in + BKP_CHUNK, next);
		got = next;
	}
	rc = BKP_OK;
done:
	sodium_free(key);
	sodium_free(st);
	sodium_free(in);
	free(out);
	return rc;
}

int
bkp_decrypt(bkp_read_fn rd, void *rarg, bkp_write_fn wr, void *warg,
    const uint8_t pk[BKP_KEYBYTES], const uint8_t sk[BKP_KEYBYTES],
    uint64_t max_out, uint64_t *plain_len)
{
	crypto_secretstream_xchacha20poly1305_state *st = NULL;
	uint8_t *key = NULL, *in = NULL, *out = NULL;
	uint8_t prefix[BKP_PREFIX_LEN], len4[4], extra;
	unsigned long long mlen;
	size_t got;
	uint32_t n;
	int rc = BKP_ERR_CRYPTO, first = 1;
	unsigned char tag;

	if (rd == NULL || wr == NULL || pk == NULL || sk == NULL ||
	    plain_len == NULL)
		return BKP_ERR_ARG;
	*plain_len = 0;
	if (sodium_init() < 0)
		return BKP_ERR_CRYPTO;
	key = sodium_malloc(32);
	st = sodium_malloc(sizeof(*st));
	in = malloc(CT_MAX);
	out = sodium_malloc(BKP_CHUNK);
	if (key == NULL || st == NULL || in == NULL || out == NULL)
		goto done;
	rc = BKP_ERR_IO;
	if (rd(rarg, prefix, sizeof(prefix), &got) != 0)
		goto done;
	rc = BKP_ERR_FORMAT;
	if (got < BKP_MAGIC_LEN || memcmp(prefix, BKP_MAGIC, BKP_MAGIC_LEN) != 0)
		goto done;
	rc = BKP_ERR_TRUNC;
	if (got != sizeof(prefix))
		goto done;
	rc = BKP_ERR_KEY;
	if (crypto_box_seal_open(key, prefix + BKP_MAGIC_LEN, BKP_SEALED_LEN,
	    pk, sk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(st,
	    prefix + BKP_MAGIC_LEN + BKP_SEALED_LEN, key) != 0)
		goto done;
	for (;;) {
		rc = BKP_ERR_IO;
		if (rd(rarg, len4, 4, &got) != 0)
			goto done;
		rc = BKP_ERR_TRUNC;
		if (got != 4)
			goto done;
		n = (uint32_t)len4[0] << 24 | (uint32_t)len4[1] << 16 |
		    (uint32_t)len4[2] << 8 | len4[3];
		rc = BKP_ERR_FORMAT;
		if (n < BKP_ABYTES || n > CT_MAX)
			goto done;
		rc = BKP_ERR_IO;
		if (rd(rarg, in, n, &got) != 0)
			goto done;
		rc = BKP_ERR_TRUNC;
		if (got != n)
			goto done;
		rc = BKP_ERR_AUTH;
		if (crypto_secretstream_xchacha20poly1305_pull(st, out, &mlen,
		    &tag, in, n, first ? (const uint8_t *)BKP_MAGIC : NULL,
		    first ? BKP_MAGIC_LEN : 0) != 0)
			goto done;
		first = 0;
		rc = BKP_ERR_FORMAT;
		if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
		    tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
			goto done;
		rc = BKP_ERR_TOOBIG;
		if (mlen > max_out - *plain_len)
			goto done;
		rc = BKP_ERR_IO;
		if (mlen > 0 && wr(warg, out, (size_t)mlen) != 0)
			goto done;
		*plain_len += mlen;
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
			break;
	}
	rc = BKP_ERR_IO;
	if (rd(rarg, &extra, 1, &got) != 0)
		goto done;
	rc = got == 0 ? BKP_OK : BKP_ERR_TRAILING;
done:
	sodium_free(key);
	sodium_free(st);
	free(in);
	sodium_free(out);
	return rc;
}

int
bkp_key_parse(const char *text, size_t len, uint8_t key[BKP_KEYBYTES])
{
	size_t a = 0, b = len, bin = 0;
	const char *end;

	if (text == NULL || key == NULL)
		return BKP_ERR_ARG;
	while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n' ||
	    text[a] == '\r'))
		a++;
	while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' ||
	    text[b - 1] == '\n' || text[b - 1] == '\r'))
		b--;
	if (b - a == 2 * BKP_KEYBYTES) {
		if (sodium_hex2bin(key, BKP_KEYBYTES, text + a, b - a, NULL, &bin,
		    &end) == 0 && bin == BKP_KEYBYTES && end == text + b)
			return BKP_OK;
	} else if (b - a == 44) {
		if (sodium_base642bin(key, BKP_KEYBYTES, text + a, b - a, NULL,
		    &bin, &end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    bin == BKP_KEYBYTES && end == text + b)
			return BKP_OK;
	}
	sodium_memzero(key, BKP_KEYBYTES);
	return BKP_ERR_KEYTEXT;
}

int
bkp_key_load(const char *path, int secret, uint8_t key[BKP_KEYBYTES])
{
	char buf[1025];
	struct stat sb;
	size_t got = 0;
	int fd, rc = BKP_ERR_KEYFILE;

	if (path == NULL || key == NULL)
		return BKP_ERR_ARG;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return BKP_ERR_KEYFILE;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (secret && (sb.st_mode & 077) != 0) || sb.st_size >= (off_t)sizeof(buf))
		goto done;
	rc = BKP_ERR_IO;
	if (bkp_fd_read(&fd, (uint8_t *)buf, sizeof(buf) - 1, &got) != 0)
		goto done;
	rc = bkp_key_parse(buf, got, key);
done:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int
bkp_key_public(const uint8_t sk[BKP_KEYBYTES], uint8_t pk[BKP_KEYBYTES])
{
	if (sk == NULL || pk == NULL)
		return BKP_ERR_ARG;
	return crypto_scalarmult_base(pk, sk) == 0 ? BKP_OK : BKP_ERR_CRYPTO;
}
