/*
 * ans: challenge answers, the help desk's check that a caller owns the card
 * before an unblock. Answers are normalised, then hashed with Argon2id
 * (libsodium crypto_pwhash_str_alg, ALG_ARGON2ID13, a random salt per
 * hash); only the hash string is stored.
 *
 * Normalisation (ans_normalise), so that "  Saint  John's " given at
 * issuance matches "saint johns" given on the phone:
 *   1. The input must be valid UTF-8 (shortest form, no surrogates, at most
 *      U+10FFFF) and hold no control or invisible format character (C0
 *      but space, DEL, C1, zero-width U+200B..U+200F, bidi controls
 *      U+202A..U+202E and U+2066..U+2069, U+2060..U+2064, U+FEFF): else
 *      ANS_ERR_ENCODING / ANS_ERR_CONTROL. What a holder cannot see must
 *      not decide whether an answer matches.
 *   2. ASCII letters are folded to lower case.
 *   3. ASCII punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) and the
 *      general punctuation block's dashes, quotes and dots (U+2010..U+2027:
 *      phones type U+2019 for ') are dropped: holders do not remember
 *      punctuation ("O'Brien" = "OBrien").
 *   4. No-break and other Unicode spaces (U+00A0, U+2000..U+200A, U+202F,
 *      U+205F, U+3000) count as spaces; runs of spaces become one space;
 *      leading and trailing ones go.
 *   5. Non-ASCII characters are kept as they are. XXX: no Unicode case
 *      folding or NFC normalisation (that needs ICU's tables): "É" and "é",
 *      or a precomposed "é" and "e" + U+0301, do not match. The kiosk sends
 *      NFC; a help desk client should too.
 * The result must hold at least min_len characters (code points, spaces
 * not counted).
 * Every normalised copy is wiped (sodium_memzero) before its memory goes.
 *
 * ans_pick chooses which enrolled questions to ask: k distinct ids drawn
 * uniformly (randombytes_uniform, partial Fisher-Yates).
 */
#ifndef ANSWER_H
#define ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

enum ans_err {
	ANS_OK = 0,
	ANS_ERR_ARG = -1,
	ANS_ERR_ENCODING = -2,	/* not valid UTF-8 */
	ANS_ERR_CONTROL = -3,	/* control character */
	ANS_ERR_SHORT = -4,	/* fewer than min_len characters after normalising */
	ANS_ERR_LONG = -5,	/* longer than ANS_MAX bytes */
	ANS_ERR_CRYPTO = -6,	/* libsodium init or hashing failed (memory) */
	ANS_ERR_MISMATCH = -7,	/* answer does not match the hash */
	ANS_ERR_RANGE = -8,	/* k > n, or n too large */
};

const char *ans_strerror(int err);
const char *ans_errname(int err);

#define ANS_MAX 256			/* bytes of an answer, raw or normalised */
#define ANS_HASH_LEN crypto_pwhash_STRBYTES	/* with its NUL */
#define ANS_PICK_MAX 64

/* Argon2id cost. */
struct ans_cost {
	unsigned long long ops;
	size_t mem;			/* bytes */
};
/* libsodium's interactive setting (2 passes, 64 MiB): the default. */
extern const struct ans_cost ans_cost_interactive;
/* The cheapest Argon2id allows (1 pass, 8 KiB): tests only. */
extern const struct ans_cost ans_cost_test;

/*
 * Normalise in into out[cap] (NUL-terminated). [out] *outlen: bytes, without
 * the NUL. On error out is wiped.
 */
int ans_normalise(const char *in, size_t min_len, char *out, size_t cap,
    size_t *outlen);

/* Normalise and hash answer into out[ANS_HASH_LEN]. */
int ans_hash(const struct ans_cost *cost, const char *answer, size_t min_len,
    char out[ANS_HASH_LEN]);

/* ANS_OK if answer normalises to what hash was made from, else
 * ANS_ERR_MISMATCH (also for a hash string that does not parse). */
int ans_verify(const char *hash, const char *answer);

/* 1 if hash was made with a cost other than cost (rehash on next success). */
int ans_needs_rehash(const char *hash, const struct ans_cost *cost);

/* [out] picked[k]: k distinct elements of ids[n], in random order. */
int ans_pick(const int *ids, size_t n, size_t k, int *picked);

#endif /* ANSWER_H */
