/* seal: see seal.h. */
#include "seal.h"

#include <string.h>

struct seal {
	uint8_t pk[crypto_box_PUBLICKEYBYTES];
	uint8_t sk[crypto_box_SECRETKEYBYTES];
};

static const struct {
	int err;
	const char *name, *text;
} errs[] = {
	{ SEAL_OK, "SEAL_OK", "success" },
	{ SEAL_ERR_ARG, "SEAL_ERR_ARG", "bad argument" },
	{ SEAL_ERR_NOMEM, "SEAL_ERR_NOMEM", "out of memory" },
	{ SEAL_ERR_OPEN, "SEAL_ERR_OPEN", "sealed secret does not open (wrong session key or tampered)" },
	{ SEAL_ERR_TOOLONG, "SEAL_ERR_TOOLONG", "secret too long" },
	{ SEAL_ERR_TEXT, "SEAL_ERR_TEXT", "secret contains a control character" },
};

const char *
seal_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].text;
	return "unknown error";
}

const char *
seal_name(int err)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].err == err)
			return errs[i].name;
	return "SEAL_ERR_UNKNOWN";
}

int
seal_new(struct seal **out)
{
	struct seal *s;

	*out = NULL;
	if (sodium_init() < 0)
		return SEAL_ERR_NOMEM;
	if ((s = sodium_malloc(sizeof(*s))) == NULL)
		return SEAL_ERR_NOMEM;
	crypto_box_keypair(s->pk, s->sk);
	*out = s;
	return SEAL_OK;
}

void
seal_free(struct seal *s)
{
	if (s != NULL)
		sodium_free(s);	/* wipes */
}

const uint8_t *
seal_pk(const struct seal *s)
{
	return s->pk;
}

int
seal_open_text(const struct seal *s, const uint8_t *ct, size_t len, size_t max,
    char **text)
{
	size_t n;
	char *t;

	*text = NULL;
	if (s == NULL || ct == NULL || len < crypto_box_SEALBYTES)
		return SEAL_ERR_ARG;
	n = len - crypto_box_SEALBYTES;
	if (n > max)
		return SEAL_ERR_TOOLONG;
	if ((t = sodium_malloc(n + 1)) == NULL)
		return SEAL_ERR_NOMEM;
	if (crypto_box_seal_open((unsigned char *)t, ct, len, s->pk, s->sk) != 0) {
		sodium_free(t);
		return SEAL_ERR_OPEN;
	}
	t[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f) {
			sodium_free(t);
			return SEAL_ERR_TEXT;
		}
	*text = t;
	return SEAL_OK;
}

void
seal_text_free(char *text)
{
	if (text != NULL)
		sodium_free(text);
}
