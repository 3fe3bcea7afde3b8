/* ans: challenge answer normalisation, Argon2id hashing, question choice.
 * See answer.h for exactly what normalisation does and why. */
#include "answer.h"

#include <string.h>

#include "buf.h"

const struct ans_cost ans_cost_interactive = {
	crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
};
const struct ans_cost ans_cost_test = {
	crypto_pwhash_argon2id_OPSLIMIT_MIN,
	crypto_pwhash_argon2id_MEMLIMIT_MIN
};

const char *
ans_strerror(int err)
{
	switch (err) {
	case ANS_OK:		return "success";
	case ANS_ERR_ARG:	return "bad argument";
	case ANS_ERR_ENCODING:	return "answer is not valid UTF-8";
	case ANS_ERR_CONTROL:	return "answer holds a control character";
	case ANS_ERR_SHORT:	return "answer too short";
	case ANS_ERR_LONG:	return "answer too long";
	case ANS_ERR_CRYPTO:	return "answer hashing failed";
	case ANS_ERR_MISMATCH:	return "answer does not match";
	case ANS_ERR_RANGE:	return "cannot pick that many questions";
	default:		return "unknown ans error";
	}
}

const char *
ans_errname(int err)
{
	switch (err) {
	case ANS_OK:		return "ANS_OK";
	case ANS_ERR_ARG:	return "ANS_ERR_ARG";
	case ANS_ERR_ENCODING:	return "ANS_ERR_ENCODING";
	case ANS_ERR_CONTROL:	return "ANS_ERR_CONTROL";
	case ANS_ERR_SHORT:	return "ANS_ERR_SHORT";
	case ANS_ERR_LONG:	return "ANS_ERR_LONG";
	case ANS_ERR_CRYPTO:	return "ANS_ERR_CRYPTO";
	case ANS_ERR_MISMATCH:	return "ANS_ERR_MISMATCH";
	case ANS_ERR_RANGE:	return "ANS_ERR_RANGE";
	default:		return "ANS_ERR_UNKNOWN";
	}
}

/* One UTF-8 sequence, shortest form only. [out] *cp, *n its length. */
static int
utf8_next(struct buf_reader *r, uint32_t *cp, size_t *n)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	const uint8_t *p = r->p;
	size_t len, i;
	uint32_t v;

	if (p[0] < 0x80)
		len = 1, v = p[0];
	else if ((p[0] & 0xe0) == 0xc0)
		len = 2, v = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, v = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, v = p[0] & 0x07;
	else
		return ANS_ERR_ENCODING;
	if (buf_get_ptr(r, len, &p) != BUF_OK)
		return ANS_ERR_ENCODING;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return ANS_ERR_ENCODING;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min[len - 1] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return ANS_ERR_ENCODING;
	*cp = v;
	*n = len;
	return ANS_OK;
}

static int
is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) ||
	    (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x2069) ||
	    c == 0xfeff;
}

static int
is_space(uint32_t c)
{
	return c == ' ' || c == 0xa0 || (c >= 0x2000 && c <= 0x200a) ||
	    c == 0x202f || c == 0x205f || c == 0x3000;
}

static int
is_punct(uint32_t c)
{
	return (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
	    (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e) ||
	    (c >= 0x2010 && c <= 0x2027);
}

/* Append one code point's bytes, with a pending space before it. */
static int
emit(char *out, size_t cap, size_t *len, int *space, const uint8_t *b,
    size_t n)
{
	size_t need = n + (*space && *len > 0 ? 1 : 0);

	if (*len + need + 1 > cap)
		return ANS_ERR_LONG;
	if (*space && *len > 0)
		out[(*len)++] = ' ';
	*space = 0;
	memcpy(out + *len, b, n);
	*len += n;
	return ANS_OK;
}

static int
normalise(const char *in, char *out, size_t cap, size_t *len, size_t *chars)
{
	struct buf_reader r;
	const uint8_t *start;
	uint8_t lower;
	uint32_t c;
	size_t n;
	int space = 0, rc;

	buf_reader_init(&r, in, strlen(in));
	while (buf_left(&r) > 0) {
		start = r.p;
		if ((rc = utf8_next(&r, &c, &n)) != ANS_OK)
			return rc;
		if (is_control(c))
			return ANS_ERR_CONTROL;
		if (is_space(c)) {
			space = 1;
			continue;
		}
		if (is_punct(c))
			continue;
		lower = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if ((rc = emit(out, cap, len, &space, n == 1 ? &lower : start,
		    n)) != ANS_OK)
			return rc;
		(*chars)++;
	}
	out[*len] = '\0';
	return ANS_OK;
}

int
ans_normalise(const char *in, size_t min_len, char *out, size_t cap,
    size_t *outlen)
{
	size_t len = 0, chars = 0;
	int rc;

	*outlen = 0;
	if (in == NULL || out == NULL || cap == 0)
		return ANS_ERR_ARG;
	if (strnlen(in, ANS_MAX + 1) > ANS_MAX)
		rc = ANS_ERR_LONG;
	else if ((rc = normalise(in, out, cap, &len, &chars)) == ANS_OK &&
	    chars < min_len)
		rc = ANS_ERR_SHORT;
	if (rc != ANS_OK) {
		sodium_memzero(out, cap);
		return rc;
	}
	*outlen = len;
	return ANS_OK;
}

int
ans_hash(const struct ans_cost *cost, const char *answer, size_t min_len,
    char out[ANS_HASH_LEN])
{
	char norm[ANS_MAX + 1];
	size_t len;
	int rc;

	if (cost == NULL || answer == NULL || out == NULL)
		return ANS_ERR_ARG;
	memset(out, 0, ANS_HASH_LEN);
	if (sodium_init() < 0)
		return ANS_ERR_CRYPTO;
	if ((rc = ans_normalise(answer, min_len, norm, sizeof(norm), &len)) !=
	    ANS_OK)
		goto out;
	if (crypto_pwhash_str_alg(out, norm, len, cost->ops, cost->mem,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		rc = ANS_ERR_CRYPTO;
out:
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
ans_verify(const char *hash, const char *answer)
{
	char norm[ANS_MAX + 1];
	size_t len;
	int rc;

	if (hash == NULL || answer == NULL)
		return ANS_ERR_ARG;
	if (sodium_init() < 0)
		return ANS_ERR_CRYPTO;
	/* Only Argon2id hashes: an argon2i string here is not ours. */
	if (strnlen(hash, ANS_HASH_LEN) >= ANS_HASH_LEN ||
	    strncmp(hash, crypto_pwhash_argon2id_STRPREFIX,
	    strlen(crypto_pwhash_argon2id_STRPREFIX)) != 0)
		return ANS_ERR_MISMATCH;
	/* The stored hash was made from an answer at least min_len long, so
	 * any length is allowed here: a short answer simply does not match. */
	if ((rc = ans_normalise(answer, 0, norm, sizeof(norm), &len)) !=
	    ANS_OK)
		goto out;
	rc = crypto_pwhash_str_verify(hash, norm, len) == 0 ? ANS_OK :
	    ANS_ERR_MISMATCH;
out:
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
ans_needs_rehash(const char *hash, const struct ans_cost *cost)
{
	if (hash == NULL || cost == NULL || sodium_init() < 0)
		return 1;
	return crypto_pwhash_str_needs_rehash(hash, cost->ops, cost->mem) != 0;
}

int
ans_pick(const int *ids, size_t n, size_t k, int *picked)
{
	int pool[ANS_PICK_MAX], t;
	size_t i, j;

	if (ids == NULL || picked == NULL)
		return ANS_ERR_ARG;
	if (k > n || n > ANS_PICK_MAX)
		return ANS_ERR_RANGE;
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (ids[i] == ids[j])
				return ANS_ERR_ARG;	/* would repeat a question */
	if (sodium_init() < 0)
		return ANS_ERR_CRYPTO;
	if (n > 0)
		memcpy(pool, ids, n * sizeof(*ids));
	/* Partial Fisher-Yates: position i takes a uniform pick of the rest. */
	for (i = 0; i < k; i++) {
		j = i + randombytes_uniform((uint32_t)(n - i));
		t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
		picked[i] = pool[i];
	}
	return ANS_OK;
}
