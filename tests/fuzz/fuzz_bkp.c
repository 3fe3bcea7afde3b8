/*
 * libFuzzer harness: the encrypted backup decoder (cardmgr/inv/backup.c),
 * the bytes `cardmgr restore` reads. The first byte picks the target:
 *   0      bkp_key_parse on the rest (the key files' text)
 *   else   bkp_decrypt of the rest with a fixed key pair (the seeds in
 *          corpus/bkp/ are real backups to it, made by bkp_seed.c), so
 *          mutations reach every chunk check, not only the sealed key
 * Whatever is accepted must stay within max_out; a refusal must be one of
 * the format's errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "inv/backup.h"
#include "fuzz/bkp_seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *p;
	size_t n, off;
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
null_write(void *arg, const uint8_t *buf, size_t len)
{
	uint64_t *n = arg;

	(void)buf;
	*n += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[BKP_KEYBYTES], sk[BKP_KEYBYTES];
	static int init;
	uint8_t key[BKP_KEYBYTES];
	struct mem m;
	uint64_t out = 0, plain = 0;
	int rc;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		bkp_seed_keypair(pk, sk);
		init = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] == 0) {
		rc = bkp_key_parse((const char *)data + 1, size - 1, key);
		if (rc != BKP_OK && rc != BKP_ERR_KEYTEXT)
			abort();
		return 0;
	}
	m = (struct mem){ data + 1, size - 1, 0 };
	rc = bkp_decrypt(mem_read, &m, null_write, &out, pk, sk,
	    BKP_SEED_MAX_OUT, &plain);
	if (rc == BKP_OK && (plain != out || plain > BKP_SEED_MAX_OUT))
		abort();
	if (rc != BKP_OK && (rc < BKP_ERR_KEYFILE || rc > BKP_ERR_IO ||
	    rc == BKP_ERR_CRYPTO))
		abort();
	return 0;
}
