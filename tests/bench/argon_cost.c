/*
 * argon_cost: what hashing challenge answers costs at a given Argon2id
 * setting, with the same libsodium call the station makes
 * (crypto_pwhash_str_alg, ALG_ARGON2ID13; cardmgr/policy/answer.c).
 *
 *   argon_cost OPS MEM_KIB COUNT    -> "argon2id ops=.. mem_kib=.. count=.. seconds=S"
 *
 * Each hash is verified once (outside the timing) so that a broken call
 * cannot pass for a fast one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

int
main(int argc, char **argv)
{
	char out[crypto_pwhash_STRBYTES];
	static const char answer[] = "red bicycle";
	struct timespec a, b;
	unsigned long long ops;
	double total = 0;
	size_t mem;
	long i, count;

	if (argc != 4 || sodium_init() < 0) {
		fprintf(stderr, "usage: argon_cost OPS MEM_KIB COUNT\n");
		return 2;
	}
	ops = strtoull(argv[1], NULL, 10);
	mem = (size_t)strtoull(argv[2], NULL, 10) * 1024;
	count = strtol(argv[3], NULL, 10);
	for (i = 0; i < count; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (crypto_pwhash_str_alg(out, answer, sizeof(answer) - 1, ops, mem,
		    crypto_pwhash_ALG_ARGON2ID13) != 0) {
			fprintf(stderr, "argon_cost: hashing failed (memory?)\n");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		total += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (crypto_pwhash_str_verify(out, answer, sizeof(answer) - 1) != 0) {
			fprintf(stderr, "argon_cost: hash does not verify\n");
			return 1;
		}
	}
	printf("argon2id ops=%llu mem_kib=%zu count=%ld seconds=%.4f\n", ops,
	    mem / 1024, count, total);
	return 0;
}
