/*
 * bkp_seed_main: writes fuzz_bkp's seed corpus into DIR (each file: the
 * harness's selector byte, then the input). Run once by hand:
 *   cc -Icardmgr -Itests tests/fuzz/bkp_seed_main.c cardmgr/inv/backup.c \
 *       -lsodium -o /tmp/bkp_seed && /tmp/bkp_seed tests/fuzz/corpus/bkp
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv/backup.h"
#include "fuzz/bkp_seed.h"

struct mem {
	uint8_t *p;
	size_t n, off, cap;
};

static int
mem_read(void *arg, uint8_t *buf, size_t want, size_t *got)
{
	struct mem *m = arg;
	size_t k = m->n - m->off < want ? m->n - m->off : want;

	memcpy(buf, m->p + m->off, k);
	m->off += k;
	*got = k;
	return 0;
}

static int
mem_write(void *arg, const uint8_t *buf, size_t len)
{
	struct mem *m = arg;

	if (m->n + len > m->cap)
		return -1;
	memcpy(m->p + m->n, buf, len);
	m->n += len;
	return 0;
}

static void
put(const char *dir, const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fputc(sel, f) == EOF ||
	    fwrite(p, 1, n, f) != n || fclose(f) != 0)
		exit(1);
}

/* A backup of plain bytes to pk; edit: 0 none, 1 flip a byte at arg,
 * 2 cut arg bytes off the end, 3 append arg bytes, 4 chunk length 0. */
static void
backup(const char *dir, const char *name, const uint8_t pk[32], size_t plain,
    int edit, size_t arg)
{
	static uint8_t in[3 * BKP_CHUNK], out[4 * BKP_CHUNK];
	struct mem r = { in, plain, 0, sizeof(in) }, w = { out, 0, 0, sizeof(out) };
	uint64_t n;

	for (size_t i = 0; i < plain; i++)
		in[i] = (uint8_t)(i * 7);
	if (bkp_encrypt(mem_read, &r, mem_write, &w, pk, &n) != BKP_OK)
		exit(1);
	if (edit == 1)
		out[arg % w.n] ^= 1;
	else if (edit == 2)
		w.n -= arg;
	else if (edit == 3) {
		memset(out + w.n, 'x', arg);
		w.n += arg;
	} else if (edit == 4)
		memset(out + BKP_PREFIX_LEN, 0, 4);
	put(dir, name, 1, out, w.n);
}

int
main(int argc, char **argv)
{
	uint8_t pk[32], sk[32], other[32], osk[32];
	char hex[65], b64[64];

	if (argc != 2 || sodium_init() < 0)
		return 2;
	bkp_seed_keypair(pk, sk);
	backup(argv[1], "empty", pk, 0, 0, 0);
	backup(argv[1], "small", pk, 100, 0, 0);
	backup(argv[1], "two-chunks", pk, BKP_CHUNK + 10, 0, 0);
	backup(argv[1], "exact-chunk", pk, BKP_CHUNK, 0, 0);
	backup(argv[1], "too-big", pk, 2 * BKP_CHUNK + 10, 0, 0);
	backup(argv[1], "flipped-magic", pk, 10, 1, 3);
	backup(argv[1], "flipped-key", pk, 10, 1, 40);
	backup(argv[1], "flipped-chunk", pk, 10, 1, BKP_PREFIX_LEN + 9);
	backup(argv[1], "truncated", pk, 10, 2, 5);
	backup(argv[1], "trailing", pk, 10, 3, 3);
	backup(argv[1], "chunk-len-0", pk, 10, 4, 0);
	crypto_box_keypair(other, osk);
	backup(argv[1], "other-key", other, 50, 0, 0);
	sodium_bin2hex(hex, sizeof(hex), pk, 32);
	put(argv[1], "key-hex", 0, (const uint8_t *)hex, 64);
	sodium_bin2base64(b64, sizeof(b64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	put(argv[1], "key-b64", 0, (const uint8_t *)b64, strlen(b64));
	put(argv[1], "key-b64-ws", 0, (const uint8_t *)" \tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n", 50);
	put(argv[1], "key-bad-hex", 0, (const uint8_t *)"zz3456789012345678901234567890123456789012345678901234567890123", 64);
	put(argv[1], "key-short", 0, (const uint8_t *)"abcd\n", 5);
	return 0;
}
