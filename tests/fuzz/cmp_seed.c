/* cmp_seed: see cmp_seed.h. */
#include "fuzz/cmp_seed.h"

#include <openssl/rand.h>

/*
 * Every call returns the same bytes, whatever was drawn before: the
 * request's nonces do not depend on how many random bytes signing or
 * blinding drew first. The leading byte is small, so that rejection
 * sampling below a modulus with its top bit set ends at the first draw.
 */
static int
fixed_bytes(unsigned char *buf, int num)
{
	int i;

	for (i = 0; i < num; i++)
		buf[i] = (unsigned char)(0x07 + 0x1f * i);
	return 1;
}

static int
fixed_seed(const void *buf, int num)
{
	(void)buf;
	(void)num;
	return 1;
}

static int
fixed_add(const void *buf, int num, double entropy)
{
	(void)buf;
	(void)num;
	(void)entropy;
	return 1;
}

static int
fixed_status(void)
{
	return 1;
}

static const RAND_METHOD fixed = {
	fixed_seed, fixed_bytes, NULL, fixed_add, fixed_bytes, fixed_status,
};

int
cmp_seed_fixed_rand(void)
{
	return RAND_set_rand_method(&fixed);
}
