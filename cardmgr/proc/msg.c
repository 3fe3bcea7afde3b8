/* msg: inter-process messages. See msg.h for the format. */
#include "msg.h"
#include "keyd/keyd_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

/*
 * The spec tables. A field's length bounds apply to bytes and strings; the
 * numeric kinds have fixed sizes. Bodies are strings: the engine answers JSON.
 */
static const struct msg_field_spec req_fields[] = {
	{ MSG_REQ_OP,    MSG_K_U32,    MSG_F_REQUIRED, 0, 0, "op" },
	{ MSG_REQ_ACTOR, MSG_K_U32,    MSG_F_REQUIRED, 0, 0, "actor" },
	{ MSG_REQ_UID,   MSG_K_U32,    0,              0, 0, "uid" },
	{ MSG_REQ_TOKEN, MSG_K_STRING, 0,              1, 64, "token" },
	{ MSG_REQ_ARG,   MSG_K_BYTES,  MSG_F_REPEAT,   3, MSG_PAYLOAD_MAX, "arg" },
	{ MSG_REQ_CSRF,  MSG_K_STRING, 0,              1, 64, "csrf" },
};

static const struct msg_field_spec resp_fields[] = {
	{ MSG_RESP_STATUS, MSG_K_U32,    MSG_F_REQUIRED, 0, 0, "status" },
	{ MSG_RESP_BODY,   MSG_K_STRING, MSG_F_REQUIRED, 0, MSG_PAYLOAD_MAX, "body" },
	{ MSG_RESP_CTYPE,  MSG_K_STRING, 0,              1, 127, "content_type" },
	{ MSG_RESP_COOKIE, MSG_K_STRING, 0,              1, 64, "session_cookie" },
};

static const struct msg_field_spec prog_fields[] = {
	{ MSG_PROG_OP,   MSG_K_STRING, MSG_F_REQUIRED, 1, 64, "op" },
	{ MSG_PROG_STEP, MSG_K_U32,    MSG_F_REQUIRED, 0, 0, "step" },
	{ MSG_PROG_NAME, MSG_K_STRING, MSG_F_REQUIRED, 1, 64, "name" },
	{ MSG_PROG_TEXT, MSG_K_STRING, 0,              0, 1024, "text" },
	{ MSG_PROG_DONE, MSG_K_BOOL,   0,              0, 0, "done" },
};

#define SPEC(t, f) { t, #t, f, sizeof(f) / sizeof((f)[0]) }

/* engine <-> keyd (keyd/keyd_msg.h). */
static const struct msg_field_spec ks_info_fields[] = {
	{ 0, MSG_K_BYTES, 0, 0, 0, "none" },
};
static const struct msg_field_spec ks_mgmt_key_fields[] = {
	{ KS_F_VERSION, MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "version" },
	{ KS_F_GUID,    MSG_K_BYTES, MSG_F_REQUIRED, 16, 16, "guid" },
	{ KS_F_ALG,     MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "alg" },
};
static const struct msg_field_spec ks_mgmt_crypt_fields[] = {
	{ KS_F_VERSION, MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "version" },
	{ KS_F_GUID,    MSG_K_BYTES, MSG_F_REQUIRED, 16, 16, "guid" },
	{ KS_F_ALG,     MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "alg" },
	{ KS_F_ENCRYPT, MSG_K_BOOL,  MSG_F_REQUIRED, 0, 0, "encrypt" },
	{ KS_F_BLOCK,   MSG_K_BYTES, MSG_F_REQUIRED, 8, 16, "block" },
};
static const struct msg_field_spec ks_puk_fields[] = {
	{ KS_F_VERSION, MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "version" },
	{ KS_F_GUID,    MSG_K_BYTES, MSG_F_REQUIRED, 16, 16, "guid" },
};
static const struct msg_field_spec ks_escrow_fields[] = {
	{ KS_F_ALG, MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "alg" },
	{ KS_F_AAD, MSG_K_BYTES, MSG_F_REQUIRED, 1, 64, "aad" },
};
static const struct msg_field_spec ks_recover_fields[] = {
	{ KS_F_BLOB, MSG_K_BYTES, MSG_F_REQUIRED, 1, 4096, "blob" },
	{ KS_F_AAD,  MSG_K_BYTES, MSG_F_REQUIRED, 17, 21, "aad" },
};
static const struct msg_field_spec ks_sign_fields[] = {
	{ KS_F_KEY,  MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "key" },
	{ KS_F_MECH, MSG_K_U32,   MSG_F_REQUIRED, 0, 0, "mech" },
	{ KS_F_TBS,  MSG_K_BYTES, MSG_F_REQUIRED, 1, 512, "tbs" },
};
static const struct msg_field_spec ks_pubkey_fields[] = {
	{ KS_F_KEY, MSG_K_U32, MSG_F_REQUIRED, 0, 0, "key" },
};
static const struct msg_field_spec ks_resp_fields[] = {
	{ KS_R_RC,     MSG_K_U32,    MSG_F_REQUIRED, 0, 0, "rc" },
	{ KS_R_DETAIL, MSG_K_STRING, 0, 1, 255, "detail" },
	{ KS_R_DATA,   MSG_K_BYTES,  0, 0, 8192, "data" },
	{ KS_R_DATA2,  MSG_K_BYTES,  0, 0, 8192, "data2" },
	{ KS_R_NUM,    MSG_K_U32,    0, 0, 0, "num" },
	{ KS_R_NUM2,   MSG_K_U32,    0, 0, 0, "num2" },
};

static const struct msg_field_spec ks_p11h_open_fields[] = {
	{ KS_F_MODULE,  MSG_K_STRING, MSG_F_REQUIRED, 1, 4095, "module" },
	{ KS_F_TOKEN,   MSG_K_STRING, MSG_F_REQUIRED, 1, 32, "token" },
	{ KS_F_PIN,     MSG_K_BYTES,  MSG_F_REQUIRED, 1, 256, "pin" },
	{ KS_F_STATION, MSG_K_STRING, MSG_F_REQUIRED, 1, 64, "station_label" },
	{ KS_F_AUDIT,   MSG_K_STRING, MSG_F_REQUIRED, 1, 64, "audit_label" },
};

static const struct msg_type_spec types[] = {
	SPEC(MSG_REQ, req_fields),
	SPEC(MSG_RESP, resp_fields),
	SPEC(MSG_PROGRESS, prog_fields),
	{ MSG_KS_INFO, "ks_info", ks_info_fields, 0 },
	{ MSG_KS_MASTER_NEW, "ks_master_new", ks_info_fields, 0 },
	SPEC(MSG_KS_MGMT_KEY, ks_mgmt_key_fields),
	SPEC(MSG_KS_MGMT_CRYPT, ks_mgmt_crypt_fields),
	SPEC(MSG_KS_PUK, ks_puk_fields),
	SPEC(MSG_KS_ESCROW, ks_escrow_fields),
	SPEC(MSG_KS_RECOVER, ks_recover_fields),
	SPEC(MSG_KS_SIGN, ks_sign_fields),
	SPEC(MSG_KS_PUBKEY, ks_pubkey_fields),
	SPEC(MSG_KS_RESP, ks_resp_fields),
	SPEC(MSG_KS_P11H_OPEN, ks_p11h_open_fields),
};

const char *
msg_strerror(int err)
{
	switch (err) {
	case MSG_OK:		return "success";
	case MSG_ERR_ARG:	return "invalid argument";
	case MSG_ERR_FORMAT:	return "malformed message";
	case MSG_ERR_TOOBIG:	return "message too large";
	case MSG_ERR_CLOSED:	return "peer closed the connection";
	case MSG_ERR_IO:	return "socket error";
	case MSG_ERR_NOMEM:	return "out of memory";
	case MSG_ERR_TYPE:	return "unknown message type";
	case MSG_ERR_NOSPACE:	return "message does not fit";
	default:		return "unknown msg error";
	}
}

const char *
msg_name(int err)
{
	switch (err) {
	case MSG_OK:		return "MSG_OK";
	case MSG_ERR_ARG:	return "MSG_ERR_ARG";
	case MSG_ERR_FORMAT:	return "MSG_ERR_FORMAT";
	case MSG_ERR_TOOBIG:	return "MSG_ERR_TOOBIG";
	case MSG_ERR_CLOSED:	return "MSG_ERR_CLOSED";
	case MSG_ERR_IO:	return "MSG_ERR_IO";
	case MSG_ERR_NOMEM:	return "MSG_ERR_NOMEM";
	case MSG_ERR_TYPE:	return "MSG_ERR_TYPE";
	case MSG_ERR_NOSPACE:	return "MSG_ERR_NOSPACE";
	default:		return "MSG_ERR_UNKNOWN";
	}
}

const struct msg_type_spec *
msg_spec(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

static const struct msg_field_spec *
field_spec(const struct msg_type_spec *ts, uint16_t tag, size_t *idx)
{
	size_t i;

	for (i = 0; i < ts->nfields; i++)
		if (ts->fields[i].tag == tag) {
			*idx = i;
			return &ts->fields[i];
		}
	return NULL;
}

int
msg_utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0, k, need;
	uint32_t c, min;

	while (i < n) {
		/* Eight ASCII bytes at once: no high bit, no NUL. */
		if (n - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (((w | ((w & 0x7F7F7F7F7F7F7F7FULL) +
			    0x7F7F7F7F7F7F7F7FULL)) & 0x8080808080808080ULL) ==
			    0x8080808080808080ULL && (w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		c = p[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1; c &= 0x1F; min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2; c &= 0x0F; min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3; c &= 0x07; min = 0x10000;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3F);
		}
		/* Overlong forms, UTF-16 surrogates and beyond U+10FFFF. */
		if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
			return 0;
		i += need + 1;
	}
	return 1;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int
msg_hdr_parse(const uint8_t *buf, size_t len, struct msg_hdr *h)
{
	struct buf_reader r;
	const uint8_t *idp;

	memset(h, 0, sizeof(*h));
	if (buf == NULL || len < MSG_HDR_LEN)
		return MSG_ERR_FORMAT;
	buf_reader_init(&r, buf, MSG_HDR_LEN);
	if (buf_get_u32be(&r, &h->type) != BUF_OK ||
	    buf_get_u32be(&r, &h->len) != BUF_OK ||
	    buf_get_ptr(&r, 8, &idp) != BUF_OK)
		return MSG_ERR_FORMAT;
	h->id = be64(idp);
	if (h->len > MSG_PAYLOAD_MAX)
		return MSG_ERR_TOOBIG;
	if ((size_t)h->len != len - MSG_HDR_LEN)
		return MSG_ERR_FORMAT;
	return MSG_OK;
}

/* Check one field's value against its spec; fill f->num for numbers. */
static int
check_value(const struct msg_field_spec *fs, struct msg_field *f)
{
	switch (fs->kind) {
	case MSG_K_U32:
		if (f->len != 4)
			return MSG_ERR_FORMAT;
		f->num = (uint32_t)f->p[0] << 24 | (uint32_t)f->p[1] << 16 |
		    (uint32_t)f->p[2] << 8 | f->p[3];
		return MSG_OK;
	case MSG_K_U64:
		if (f->len != 8)
			return MSG_ERR_FORMAT;
		f->num = be64(f->p);
		return MSG_OK;
	case MSG_K_BOOL:
		if (f->len != 1 || f->p[0] > 1)
			return MSG_ERR_FORMAT;
		f->num = f->p[0];
		return MSG_OK;
	case MSG_K_STRING:
		if (!msg_utf8_ok(f->p, f->len))
			return MSG_ERR_FORMAT;
		/* FALLTHROUGH */
	case MSG_K_BYTES:
		return f->len < fs->min || f->len > fs->max ? MSG_ERR_FORMAT :
		    MSG_OK;
	default:
		return MSG_ERR_FORMAT;
	}
}

static int
decode_fields(const struct msg_type_spec *ts, struct buf_reader *r,
    struct msg *m)
{
	uint32_t seen = 0;	/* bit i: field spec i was met */
	const struct msg_field_spec *fs;
	struct msg_field *f;
	size_t i, idx = 0;
	uint16_t tag;
	int rc;

	while (buf_left(r) > 0) {
		if (m->nfields == MSG_FIELDS_MAX)
			return MSG_ERR_FORMAT;
		f = &m->f[m->nfields];
		if (buf_get_u16be(r, &tag) != BUF_OK ||
		    buf_get_u32be(r, &f->len) != BUF_OK ||
		    buf_get_ptr(r, f->len, &f->p) != BUF_OK)
			return MSG_ERR_FORMAT;
		f->tag = tag;
		if ((fs = field_spec(ts, tag, &idx)) == NULL || idx >= 32)
			return MSG_ERR_FORMAT;
		if ((seen & (1u << idx)) && !(fs->flags & MSG_F_REPEAT))
			return MSG_ERR_FORMAT;
		if ((rc = check_value(fs, f)) != MSG_OK)
			return rc;
		seen |= 1u << idx;
		m->nfields++;
	}
	for (i = 0; i < ts->nfields; i++)
		if ((ts->fields[i].flags & MSG_F_REQUIRED) && !(seen & (1u << i)))
			return MSG_ERR_FORMAT;
	return MSG_OK;
}

int
msg_decode(const uint8_t *buf, size_t len, struct msg *m)
{
	const struct msg_type_spec *ts;
	struct buf_reader r;
	int rc;

	if (m == NULL)
		return MSG_ERR_ARG;
	m->nfields = 0;
	if ((rc = msg_hdr_parse(buf, len, &m->hdr)) != MSG_OK)
		goto out;
	if ((ts = msg_spec(m->hdr.type)) == NULL) {
		rc = MSG_ERR_TYPE;
		goto out;
	}
	buf_reader_init(&r, buf + MSG_HDR_LEN, m->hdr.len);
	rc = decode_fields(ts, &r, m);
out:
	if (rc != MSG_OK)
		m->nfields = 0;
	return rc;
}

const struct msg_field *
msg_next(const struct msg *m, uint16_t tag, const struct msg_field *prev)
{
	size_t i = prev == NULL ? 0 : (size_t)(prev - m->f) + 1;

	for (; i < m->nfields; i++)
		if (m->f[i].tag == tag)
			return &m->f[i];
	return NULL;
}

const struct msg_field *
msg_get(const struct msg *m, uint16_t tag)
{
	return msg_next(m, tag, NULL);
}

uint32_t
msg_num(const struct msg *m, uint16_t tag)
{
	const struct msg_field *f = msg_get(m, tag);

	return f != NULL ? (uint32_t)f->num : 0;
}

const uint8_t *
msg_bytes(const struct msg *m, uint16_t tag, size_t *len)
{
	const struct msg_field *f = msg_get(m, tag);

	*len = f != NULL ? f->len : 0;
	return f != NULL ? f->p : NULL;
}

int
msg_builder_init(struct msg_builder *b)
{
	memset(b, 0, sizeof(*b));
	if ((b->mem = malloc(MSG_MAX)) == NULL) {
		b->err = MSG_ERR_NOMEM;
		return MSG_ERR_NOMEM;
	}
	buf_writer_init(&b->w, b->mem + MSG_HDR_LEN, MSG_PAYLOAD_MAX);
	return MSG_OK;
}

void
msg_builder_clear(struct msg_builder *b)
{
	if (b == NULL)
		return;
	if (b->mem != NULL) {
		/*
		 * Payloads carry tokens and sealed secrets: leave nothing
		 * behind. Only the writer's bytes were ever written (it never
		 * writes past a failed reserve), so only those are wiped.
		 */
		OPENSSL_cleanse(b->mem, MSG_HDR_LEN + (b->w.len < MSG_PAYLOAD_MAX ?
		    b->w.len : MSG_PAYLOAD_MAX));
		free(b->mem);
	}
	memset(b, 0, sizeof(*b));
}

static void
put_field(struct msg_builder *b, uint16_t tag, const void *p, size_t n)
{
	if (b->err != MSG_OK)
		return;
	if (b->mem == NULL || (p == NULL && n > 0)) {
		b->err = MSG_ERR_ARG;
		return;
	}
	if (n > MSG_PAYLOAD_MAX) {
		b->err = MSG_ERR_NOSPACE;
		return;
	}
	buf_put_u16be(&b->w, tag);
	buf_put_u32be(&b->w, (uint32_t)n);
	buf_put_bytes(&b->w, p, n);
	if (buf_writer_error(&b->w) != BUF_OK)
		b->err = MSG_ERR_NOSPACE;
}

void
msg_put_bytes(struct msg_builder *b, uint16_t tag, const void *p, size_t n)
{
	put_field(b, tag, p, n);
}

void
msg_put_strn(struct msg_builder *b, uint16_t tag, const char *s, size_t n)
{
	put_field(b, tag, s, n);
}

void
msg_put_str(struct msg_builder *b, uint16_t tag, const char *s)
{
	if (s == NULL) {
		if (b->err == MSG_OK)
			b->err = MSG_ERR_ARG;
		return;
	}
	put_field(b, tag, s, strlen(s));
}

void
msg_put_u32(struct msg_builder *b, uint16_t tag, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	put_field(b, tag, x, sizeof(x));
}

void
msg_put_u64(struct msg_builder *b, uint16_t tag, uint64_t v)
{
	uint8_t x[8];
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		x[i] = (uint8_t)v;
	put_field(b, tag, x, sizeof(x));
}

void
msg_put_bool(struct msg_builder *b, uint16_t tag, int v)
{
	uint8_t x = v ? 1 : 0;

	put_field(b, tag, &x, 1);
}

int
msg_builder_error(const struct msg_builder *b)
{
	return b->err;
}

int
msg_finish(struct msg_builder *b, uint32_t type, uint64_t id,
    const uint8_t **out, size_t *len)
{
	struct buf_writer h;
	struct msg *m = NULL;
	int rc, i;

	*out = NULL;
	*len = 0;
	if (b->err != MSG_OK)
		return b->err;
	buf_writer_init(&h, b->mem, MSG_HDR_LEN);
	buf_put_u32be(&h, type);
	buf_put_u32be(&h, (uint32_t)b->w.len);
	for (i = 7; i >= 0; i--)
		buf_put_u8(&h, (uint8_t)(id >> (i * 8)));
	if ((m = malloc(sizeof(*m))) == NULL)
		return MSG_ERR_NOMEM;
	rc = msg_decode(b->mem, MSG_HDR_LEN + b->w.len, m);
	free(m);
	if (rc != MSG_OK)
		return rc == MSG_ERR_FORMAT ? MSG_ERR_ARG : rc;
	*out = b->mem;
	*len = MSG_HDR_LEN + b->w.len;
	return MSG_OK;
}

int
msg_send(int fd, uint32_t type, uint64_t id, struct msg_builder *b)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;
	int rc;

	if ((rc = msg_finish(b, type, id, &p, &len)) != MSG_OK)
		return rc;
	do
		n = send(fd, p, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? MSG_ERR_CLOSED :
		    errno == EMSGSIZE ? MSG_ERR_TOOBIG : MSG_ERR_IO;
	return (size_t)n == len ? MSG_OK : MSG_ERR_IO;
}

int
msg_send_resp(int fd, uint64_t id, uint32_t status, const char *body,
    const char *ctype)
{
	struct msg_builder b;
	int rc;

	if ((rc = msg_builder_init(&b)) != MSG_OK)
		return rc;
	msg_put_u32(&b, MSG_RESP_STATUS, status);
	msg_put_str(&b, MSG_RESP_BODY, body);
	if (ctype != NULL)
		msg_put_str(&b, MSG_RESP_CTYPE, ctype);
	rc = msg_send(fd, MSG_RESP, id, &b);
	msg_builder_clear(&b);
	return rc;
}

int
msg_send_progress(int fd, uint64_t id, const char *op, uint32_t step,
    const char *name, const char *text, int done)
{
	struct msg_builder b;
	int rc;

	if ((rc = msg_builder_init(&b)) != MSG_OK)
		return rc;
	msg_put_str(&b, MSG_PROG_OP, op);
	msg_put_u32(&b, MSG_PROG_STEP, step);
	msg_put_str(&b, MSG_PROG_NAME, name);
	if (text != NULL)
		msg_put_str(&b, MSG_PROG_TEXT, text);
	msg_put_bool(&b, MSG_PROG_DONE, done);
	rc = msg_send(fd, MSG_PROGRESS, id, &b);
	msg_builder_clear(&b);
	return rc;
}

int
msg_recv(int fd, uint8_t *buf, size_t cap, struct msg_hdr *h, size_t *len)
{
	ssize_t n;

	memset(h, 0, sizeof(*h));
	*len = 0;
	if (buf == NULL || cap < MSG_HDR_LEN)
		return MSG_ERR_ARG;
	/* MSG_TRUNC makes recv report the datagram's real length. */
	do
		n = recv(fd, buf, cap, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? MSG_ERR_CLOSED : MSG_ERR_IO;
	/* On SOCK_SEQPACKET, 0 is end of stream; no peer of ours sends empties. */
	if (n == 0)
		return MSG_ERR_CLOSED;
	if ((size_t)n > cap || (size_t)n > MSG_MAX)
		return MSG_ERR_TOOBIG;
	*len = (size_t)n;
	return msg_hdr_parse(buf, *len, h);
}
