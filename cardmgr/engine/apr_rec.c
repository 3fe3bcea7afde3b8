/* apr: the approval request record codec. See apr.h. */
#include "apr.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define V_APR 1

static const char *const state_names[APR_NSTATES] = {
	"pending", "approved", "denied", "expired", "carried_out",
};

const char *
apr_strerror(int err)
{
	switch (err) {
	case APR_OK:		return "ok";
	case APR_ERR_ARG:	return "a field out of its bounds";
	case APR_ERR_FORMAT:	return "the record does not decode";
	case APR_ERR_VERSION:	return "a newer record version";
	case APR_ERR_NOMEM:	return "out of memory";
	}
	return "unknown error";
}

const char *
apr_state_name(int state)
{
	return state >= 0 && state < APR_NSTATES ? state_names[state] : "?";
}

int
apr_state_from_name(const char *name)
{
	for (int i = 0; i < APR_NSTATES; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

/* Text: u16 length, bytes; no NUL, no control characters. */
static int
text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

static int
put_text(struct buf_writer *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max || !text_ok(s, n))
		return -1;
	buf_put_u16be(w, (uint16_t)n);
	buf_put_bytes(w, s, n);
	return 0;
}

static int
get_text(struct buf_reader *r, char *dst, size_t max)
{
	const uint8_t *p;
	uint16_t n;

	if (buf_get_u16be(r, &n) != BUF_OK || n > max ||
	    buf_get_ptr(r, n, &p) != BUF_OK || !text_ok((const char *)p, n))
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* The text fields in record order, with their limits. */
#define TEXTS(a) { \
	{ (a)->op, APR_OP_MAX }, { (a)->reason, APR_OP_MAX }, \
	{ (a)->requester, APR_NAME_MAX }, { (a)->profile, APR_NAME_MAX }, \
	{ (a)->holder, APR_NAME_MAX }, { (a)->org, APR_ORG_MAX }, \
	{ (a)->card, APR_NAME_MAX }, { (a)->decided_by, APR_NAME_MAX }, \
	{ (a)->note, APR_NOTE_MAX } }

static int
apr_ok(const struct apr *a)
{
	if (a->id == 0 || a->state >= APR_NSTATES || a->required < 1 ||
	    a->required > APR_VOTES_MAX || a->nvotes > APR_VOTES_MAX ||
	    a->op[0] == '\0' || a->requester[0] == '\0')
		return 0;
	for (unsigned i = 0; i < a->nvotes; i++) {
		if (a->votes[i].name[0] == '\0')
			return 0;
		/* An approver counts once. */
		for (unsigned j = 0; j < i; j++)
			if (strcmp(a->votes[i].name, a->votes[j].name) == 0)
				return 0;
	}
	return 1;
}

int
apr_encode(const struct apr *a, uint8_t **out, size_t *len)
{
	struct { const char *s; size_t max; } t[] = TEXTS(a);
	size_t cap = sizeof(*a) + 128;
	struct buf_writer w;
	uint8_t *mem;

	*out = NULL;
	*len = 0;
	if (a == NULL || !apr_ok(a))
		return APR_ERR_ARG;
	if ((mem = malloc(cap)) == NULL)
		return APR_ERR_NOMEM;
	buf_writer_init(&w, mem, cap);
	buf_put_u8(&w, V_APR);
	buf_put_u8(&w, 'A');
	buf_put_u64be(&w, a->id);
	buf_put_u8(&w, a->state);
	buf_put_u8(&w, a->required);
	buf_put_u64be(&w, a->created);
	buf_put_u64be(&w, a->expires);
	buf_put_u64be(&w, a->updated);
	buf_put_u64be(&w, a->op_id);
	buf_put_bytes(&w, a->guid, 16);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (put_text(&w, t[i].s, t[i].max) != 0)
			goto bad;
	buf_put_u8(&w, a->nvotes);
	for (unsigned i = 0; i < a->nvotes; i++) {
		if (put_text(&w, a->votes[i].name, APR_NAME_MAX) != 0)
			goto bad;
		buf_put_u64be(&w, a->votes[i].at);
	}
	if (buf_writer_error(&w) != BUF_OK)
		goto bad;
	*out = mem;
	*len = w.len;
	return APR_OK;
bad:
	free(mem);
	return APR_ERR_ARG;
}

int
apr_decode(const uint8_t *rec, size_t len, struct apr *a)
{
	struct { char *s; size_t max; } t[] = TEXTS(a);
	struct buf_reader r;
	uint8_t v, m;
	int rc = APR_ERR_FORMAT;

	memset(a, 0, sizeof(*a));
	buf_reader_init(&r, rec, len);
	if (buf_get_u8(&r, &v) != BUF_OK || buf_get_u8(&r, &m) != BUF_OK ||
	    m != 'A')
		goto out;
	if (v != V_APR) {
		rc = v > V_APR ? APR_ERR_VERSION : APR_ERR_FORMAT;
		goto out;
	}
	if (buf_get_u64be(&r, &a->id) != 0 || buf_get_u8(&r, &a->state) != BUF_OK ||
	    buf_get_u8(&r, &a->required) != BUF_OK ||
	    buf_get_u64be(&r, &a->created) != 0 || buf_get_u64be(&r, &a->expires) != 0 ||
	    buf_get_u64be(&r, &a->updated) != 0 || buf_get_u64be(&r, &a->op_id) != 0 ||
	    buf_get_bytes(&r, a->guid, 16) != BUF_OK)
		goto out;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (get_text(&r, t[i].s, t[i].max) != 0)
			goto out;
	if (buf_get_u8(&r, &a->nvotes) != BUF_OK || a->nvotes > APR_VOTES_MAX)
		goto out;
	for (unsigned i = 0; i < a->nvotes; i++)
		if (get_text(&r, a->votes[i].name, APR_NAME_MAX) != 0 ||
		    buf_get_u64be(&r, &a->votes[i].at) != 0)
			goto out;
	if (buf_expect_end(&r) == BUF_OK && apr_ok(a))
		rc = APR_OK;
out:
	if (rc != APR_OK)
		memset(a, 0, sizeof(*a));
	return rc;
}
