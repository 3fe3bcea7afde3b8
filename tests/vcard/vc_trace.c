/* vc_trace: redacted APDU trace and byte totals. See vc_trace.h. */
#include "vc_trace.h"

#include <inttypes.h>

#define TRACE_DATA_MAX 64	/* command bytes shown; the rest is elided */

int
vc_trace_open(struct vc_trace *t, const char *path)
{
	t->apdus = t->cmd_bytes = t->rsp_bytes = 0;
	t->f = NULL;
	if (path == NULL)
		return 0;
	if ((t->f = fopen(path, "ae")) == NULL)
		return -1;
	setvbuf(t->f, NULL, _IOLBF, 0);
	return 0;
}

void
vc_trace_close(struct vc_trace *t)
{
	if (t->f != NULL)
		fclose(t->f);
	t->f = NULL;
}

void
vc_trace_event(struct vc_trace *t, const char *what)
{
	if (t->f != NULL)
		fprintf(t->f, "* %s\n", what);
}

/* Commands whose data is a PIN, PUK or key: shown only as a length. */
static int
secret_ins(uint8_t ins)
{
	return ins == 0x20 || ins == 0x24 || ins == 0x2C || ins == 0xFF ||
	    ins == 0xFE;
}

void
vc_trace_command(struct vc_trace *t, const uint8_t *a, size_t len)
{
	size_t i, n;

	t->apdus++;
	t->cmd_bytes += len;
	if (t->f == NULL)
		return;
	if (len < 4) {
		fprintf(t->f, "> short apdu len=%zu\n", len);
		return;
	}
	fprintf(t->f, "> cla=%02X ins=%02X p1=%02X p2=%02X len=%zu", a[0], a[1],
	    a[2], a[3], len);
	if (len > 4 && secret_ins(a[1]))
		fprintf(t->f, " body=<redacted %zu bytes>", len - 4);
	else if (len > 4) {
		n = len - 4 > TRACE_DATA_MAX ? TRACE_DATA_MAX : len - 4;
		fputs(" body=", t->f);
		for (i = 0; i < n; i++)
			fprintf(t->f, "%02X", a[4 + i]);
		if (n < len - 4)
			fputs("...", t->f);
	}
	fputc('\n', t->f);
}

void
vc_trace_response(struct vc_trace *t, const uint8_t *r, size_t len,
    const char *note)
{
	t->rsp_bytes += len;
	if (t->f == NULL || len < 2)
		return;
	fprintf(t->f, "< sw=%02X%02X len=%zu%s%s\n", r[len - 2], r[len - 1], len,
	    note != NULL ? " " : "", note != NULL ? note : "");
}

void
vc_trace_totals(struct vc_trace *t, FILE *fallback)
{
	FILE *f = t->f != NULL ? t->f : fallback;

	if (f == NULL)
		return;
	fprintf(f, "vcard-trace-totals apdus=%" PRIu64 " cmd_bytes=%" PRIu64
	    " rsp_bytes=%" PRIu64 "\n", t->apdus, t->cmd_bytes, t->rsp_bytes);
	fflush(f);
}
