/* Scripted APDU transport for unit tests. See fake_transport.h. */
#include <stdio.h>
#include <string.h>

#include "fake_transport.h"

long
fake_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int half = 0;
	uint8_t cur = 0;

	for (; *hex; hex++) {
		if (*hex == ' ')
			continue;
		if (sscanf((char[]){ *hex, 0 }, "%1x", &v) != 1)
			return -1;
		cur = (uint8_t)(cur << 4 | v);
		if (++half == 2) {
			if (n >= cap)
				return -1;
			out[n++] = cur;
			half = 0;
			cur = 0;
		}
	}
	return half ? -1 : (long)n;
}

static void
tohex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t i;

	out[0] = 0;
	for (i = 0; i < n && 2 * i + 3 < cap; i++)
		snprintf(out + 2 * i, 3, "%02X", p[i]);
}

static int
fake_transmit(void *arg, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
    size_t *rsp_len)
{
	struct fake *f = arg;
	static uint8_t want[70000];
	const struct fake_step *s;
	long n;

	tohex(cmd, cmd_len, f->last_cmd, sizeof(f->last_cmd));
	if (f->steps == NULL)
		return f->card(f->card_arg, cmd, cmd_len, rsp, rsp_len);
	if (f->pos >= f->n) {
		f->mismatch = 1;
		return APDU_ERR_TRANSMIT;
	}
	s = &f->steps[f->pos++];
	if (strcmp(s->cmd, "*") != 0) {
		n = fake_unhex(s->cmd, want, sizeof(want));
		if (n != (long)cmd_len || memcmp(want, cmd, cmd_len) != 0) {
			if (!f->mismatch)
				fprintf(stderr, "# fake: step %zu got %s\n", f->pos - 1,
				    f->last_cmd);
			f->mismatch = 1;
			return APDU_ERR_TRANSMIT;
		}
	}
	if (strcmp(s->rsp, "!REMOVED") == 0)
		return APDU_ERR_REMOVED;
	if (strcmp(s->rsp, "!RESET") == 0)
		return APDU_ERR_RESET;
	if (strcmp(s->rsp, "!FAIL") == 0)
		return APDU_ERR_TRANSMIT;
	n = fake_unhex(s->rsp, rsp, *rsp_len);
	if (n < 0)
		return APDU_ERR_TRANSMIT;
	*rsp_len = (size_t)n;
	return APDU_OK;
}

static int
fake_begin(void *arg)
{
	struct fake *f = arg;
	int rc = f->begin_rc;

	f->begins++;
	f->begin_rc = APDU_OK;
	return rc;
}

static int
fake_reconnect(void *arg)
{
	struct fake *f = arg;

	f->reconnects++;
	return f->reconnect_rc;
}

static void
fake_end(void *arg)
{
	((struct fake *)arg)->ends++;
}

void
fake_transport(struct fake *f, struct apdu_transport *t)
{
	t->transmit = fake_transmit;
	t->begin = fake_begin;
	t->end = fake_end;
	t->arg = f;
	t->reconnect = fake_reconnect;
}
