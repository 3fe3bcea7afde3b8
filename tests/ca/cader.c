/* cader: bounded DER walks through CMP messages. See cader.h. */
#include "cader.h"

#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlv.h"

#define T_SEQ		0x30u
#define T_OID		0x06u
#define T_UTF8		0x0Cu
#define T_OCTETS	0x04u
#define T_SENDERKID	0xA2u	/* PKIHeader senderKID [2] */
#define T_GENINFO	0xA8u	/* PKIHeader generalInfo [8] */
#define T_RR		0xABu	/* PKIBody rr [11] */
#define T_EXTRACERTS	0xA1u	/* PKIMessage extraCerts [1] */
#define T_TMPL_PUBKEY	0xA6u	/* CertTemplate publicKey [6] */
#define MAX_SPKI	8192

/* id-it-certProfile, 1.3.6.1.5.5.7.4.21, as DER contents. */
static const uint8_t oid_cert_profile[] = {
	0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x04, 0x15
};

const char *
cader_strerror(int err)
{
	switch (err) {
	case CADER_OK:		return "success";
	case CADER_ERR_PARSE:	return "malformed CMP DER";
	case CADER_ERR_NOTFOUND: return "field not present";
	case CADER_ERR_NOSPACE:	return "output buffer too small";
	default:		return "unknown cader error";
	}
}

const char *
cader_errname(int err)
{
	switch (err) {
	case CADER_OK:	return "CADER_OK";
	case CADER_ERR_PARSE:	return "CADER_ERR_PARSE";
	case CADER_ERR_NOTFOUND:	return "CADER_ERR_NOTFOUND";
	case CADER_ERR_NOSPACE:	return "CADER_ERR_NOSPACE";
	default:		return "CADER_ERR_UNKNOWN";
	}
}

/* Open the PKIMessage SEQUENCE: r ends up over header, body, protection, ... */
static int
open_msg(const uint8_t *msg, size_t len, struct buf_reader *r)
{
	struct tlv t;

	if (tlv_unwrap(msg, len, T_SEQ, &t) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(r, t.val, t.len);
	return CADER_OK;
}

static int
find_header_field(const uint8_t *msg, size_t len, uint32_t tag, struct tlv *gi)
{
	struct buf_reader r, h;
	struct tlv t;
	int i;

	if (open_msg(msg, len, &r) != CADER_OK ||
	    tlv_expect(&r, T_SEQ, &t) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&h, t.val, t.len);
	/* pvno, sender, recipient come first; the optional fields follow. */
	for (i = 0; buf_left(&h) > 0; i++) {
		if (tlv_next(&h, &t) != TLV_OK)
			return CADER_ERR_PARSE;
		if (i >= 3 && t.tag == tag) {
			*gi = t;
			return CADER_OK;
		}
	}
	return CADER_ERR_NOTFOUND;
}

static int
profile_from_itav(const struct tlv *itav, char *out, size_t outlen)
{
	struct buf_reader r;
	struct tlv oid, val, s;

	buf_reader_init(&r, itav->val, itav->len);
	if (tlv_expect(&r, T_OID, &oid) != TLV_OK)
		return CADER_ERR_PARSE;
	if (oid.len != sizeof(oid_cert_profile) ||
	    memcmp(oid.val, oid_cert_profile, oid.len) != 0)
		return CADER_ERR_NOTFOUND;
	if (tlv_expect(&r, T_SEQ, &val) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&r, val.val, val.len);
	if (tlv_expect(&r, T_UTF8, &s) != TLV_OK)
		return CADER_ERR_PARSE;
	if (s.len >= outlen)
		return CADER_ERR_NOSPACE;
	if (memchr(s.val, 0, s.len) != NULL)
		return CADER_ERR_PARSE;
	memcpy(out, s.val, s.len);
	out[s.len] = '\0';
	return CADER_OK;
}

int
cader_profile(const uint8_t *msg, size_t len, char *out, size_t outlen)
{
	struct buf_reader r;
	struct tlv gi, seq, itav;
	int rc;

	if (outlen == 0)
		return CADER_ERR_NOSPACE;
	out[0] = '\0';
	if ((rc = find_header_field(msg, len, T_GENINFO, &gi)) != CADER_OK)
		return rc;
	if (tlv_unwrap(gi.val, gi.len, T_SEQ, &seq) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&r, seq.val, seq.len);
	while (buf_left(&r) > 0) {
		if (tlv_expect(&r, T_SEQ, &itav) != TLV_OK)
			return CADER_ERR_PARSE;
		rc = profile_from_itav(&itav, out, outlen);
		if (rc != CADER_ERR_NOTFOUND)
			return rc;
	}
	return CADER_ERR_NOTFOUND;
}

int
cader_sender_kid(const uint8_t *msg, size_t len, const uint8_t **kid,
    size_t *kidlen)
{
	struct tlv f, os;
	int rc;

	*kid = NULL;
	*kidlen = 0;
	if ((rc = find_header_field(msg, len, T_SENDERKID, &f)) != CADER_OK)
		return rc;
	if (tlv_unwrap(f.val, f.len, T_OCTETS, &os) != TLV_OK)
		return CADER_ERR_PARSE;
	*kid = os.val;
	*kidlen = os.len;
	return CADER_OK;
}

/* A TLV's whole encoding, given the reader position before it was read. */
static void
whole(const uint8_t *start, const struct tlv *t, const uint8_t **p, size_t *n)
{
	*p = start;
	*n = (size_t)(t->val + t->len - start);
}

static int
reason_from_exts(const uint8_t *der, size_t len, int *reason)
{
	const unsigned char *p = der;
	X509_EXTENSIONS *exts;
	ASN1_ENUMERATED *e;
	int crit = 0;

	exts = d2i_X509_EXTENSIONS(NULL, &p, (long)len);
	if (exts == NULL || p != der + len) {
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		return CADER_ERR_PARSE;
	}
	e = X509V3_get_d2i(exts, NID_crl_reason, &crit, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (e == NULL)
		return CADER_OK;
	*reason = (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return CADER_OK;
}

int
cader_rr_reason(const uint8_t *msg, size_t len, int *reason)
{
	struct buf_reader r;
	struct tlv t, body, list, det;
	const uint8_t *start, *p;
	size_t n;

	*reason = -1;
	if (open_msg(msg, len, &r) != CADER_OK ||
	    tlv_expect(&r, T_SEQ, &t) != TLV_OK ||
	    tlv_expect(&r, T_RR, &body) != TLV_OK ||
	    tlv_unwrap(body.val, body.len, T_SEQ, &list) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&r, list.val, list.len);
	if (tlv_expect(&r, T_SEQ, &det) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&r, det.val, det.len);
	if (tlv_expect(&r, T_SEQ, &t) != TLV_OK)	/* certDetails */
		return CADER_ERR_PARSE;
	if (buf_left(&r) == 0)
		return CADER_OK;
	start = r.p;
	if (tlv_expect(&r, T_SEQ, &t) != TLV_OK)	/* crlEntryDetails */
		return CADER_ERR_PARSE;
	whole(start, &t, &p, &n);
	return reason_from_exts(p, n, reason);
}

int
cader_extracert0(const uint8_t *msg, size_t len, const uint8_t **cert,
    size_t *certlen)
{
	struct buf_reader r;
	struct tlv t, seq;
	const uint8_t *start;

	*cert = NULL;
	*certlen = 0;
	if (open_msg(msg, len, &r) != CADER_OK)
		return CADER_ERR_PARSE;
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &t) != TLV_OK)
			return CADER_ERR_PARSE;
		if (t.tag != T_EXTRACERTS)
			continue;
		if (tlv_unwrap(t.val, t.len, T_SEQ, &seq) != TLV_OK)
			return CADER_ERR_PARSE;
		buf_reader_init(&r, seq.val, seq.len);
		start = r.p;
		if (tlv_expect(&r, T_SEQ, &t) != TLV_OK)
			return CADER_ERR_PARSE;
		whole(start, &t, cert, certlen);
		return CADER_OK;
	}
	return CADER_ERR_NOTFOUND;
}

int
cader_tmpl_pubkey(const uint8_t *tmpl, size_t len, EVP_PKEY **pkey)
{
	uint8_t spki[MAX_SPKI];
	struct buf_writer w;
	struct buf_reader r;
	struct tlv t, pk;
	const unsigned char *p;
	int rc = CADER_ERR_NOTFOUND;

	*pkey = NULL;
	if (tlv_unwrap(tmpl, len, T_SEQ, &t) != TLV_OK)
		return CADER_ERR_PARSE;
	buf_reader_init(&r, t.val, t.len);
	while (buf_left(&r) > 0) {
		if (tlv_next(&r, &pk) != TLV_OK)
			return CADER_ERR_PARSE;
		if (pk.tag != T_TMPL_PUBKEY)
			continue;
		/* Re-tag the implicit [6] as the SEQUENCE it stands for. */
		buf_writer_init(&w, spki, sizeof(spki));
		tlv_put(&w, T_SEQ, pk.val, pk.len);
		if (buf_writer_error(&w) != BUF_OK)
			return CADER_ERR_NOSPACE;
		p = spki;
		*pkey = d2i_PUBKEY(NULL, &p, (long)w.len);
		rc = (*pkey != NULL && p == spki + w.len) ? CADER_OK :
		    CADER_ERR_PARSE;
		if (rc != CADER_OK) {
			EVP_PKEY_free(*pkey);
			*pkey = NULL;
		}
		return rc;
	}
	return rc;
}
