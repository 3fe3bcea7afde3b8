/*
 * bkp_seed: the fixed key pair fuzz_bkp decrypts with, and the generator of
 * its seed corpus (bkp_seed_main.c: real backups to that key).
 */
#ifndef BKP_SEED_H
#define BKP_SEED_H

#include <stdint.h>

#include <sodium.h>

/* Two chunks pass, three are too big (the seed "too-big"). */
#define BKP_SEED_MAX_OUT ((uint64_t)100000)

static inline void
bkp_seed_keypair(uint8_t pk[32], uint8_t sk[32])
{
	static const uint8_t seed[crypto_box_SEEDBYTES] = "cardmgr fuzz_bkp fixed key seed";

	crypto_box_seed_keypair(pk, sk, seed);
}

#endif /* BKP_SEED_H */
