/*
 * vc_trace: the virtual card's APDU trace. One line per command and per
 * response (direction, INS, lengths, SW), never the data of commands that
 * carry secrets (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, SET
 * MANAGEMENT KEY, IMPORT KEY) and never response data. Totals go out as
 *   vcard-trace-totals apdus=N cmd_bytes=N rsp_bytes=N
 * for scripts to parse.
 */
#ifndef VC_TRACE_H
#define VC_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vc_trace {
	FILE *f;		/* NULL: count only */
	uint64_t apdus, cmd_bytes, rsp_bytes;
};

/* Open path for appending (NULL: no trace file). 0 or -1 with errno. */
int vc_trace_open(struct vc_trace *t, const char *path);
void vc_trace_close(struct vc_trace *t);
void vc_trace_event(struct vc_trace *t, const char *what);
void vc_trace_command(struct vc_trace *t, const uint8_t *apdu, size_t len);
void vc_trace_response(struct vc_trace *t, const uint8_t *rsp, size_t len,
    const char *note);
/* The totals line, to the trace file (or to `fallback` when there is none). */
void vc_trace_totals(struct vc_trace *t, FILE *fallback);

#endif /* VC_TRACE_H */
