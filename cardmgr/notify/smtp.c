/*
 * notify/smtp: one notice as a mail, sent with libcurl's SMTP client.
 *
 * libcurl parses the server's replies; this file only builds the message and
 * sorts the outcome: a 2xx after DATA is sent, 4xx and anything that never
 * reached a reply (no route, refused, timeout) is transient, 5xx permanent.
 * Header fields carry only what ntf_addr_ok accepted and the card serial
 * reduced to [A-Za-z0-9._-]; the holder's name goes into the body only, with
 * control characters dropped, so no stored text can add a header.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define MSG_CAP 4096

/* Copy s keeping [A-Za-z0-9._-] (others become '_'). */
static void
safe_token(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ?
		    (char)c : '_';
	}
	dst[i] = '\0';
}

/* Copy s without C0 controls and DEL (UTF-8 bytes >= 0x80 are kept). */
static void
safe_text(char *dst, size_t cap, const char *s)
{
	size_t i, j = 0;

	for (i = 0; s[i] != '\0' && j + 1 < cap; i++)
		if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
			dst[j++] = s[i];
	dst[j] = '\0';
}

/* rfc: the Date: header's form, else "YYYY-MM-DD HH:MM UTC". */
static void
utc_date(uint64_t t, char *out, size_t cap, int rfc)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n = 0;

	if (gmtime_r(&tt, &tm) != NULL)
		n = rfc ? strftime(out, cap, "%a, %d %b %Y %H:%M:%S +0000", &tm) :
		    strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm);
	if (n == 0)
		snprintf(out, cap, "%llu", (unsigned long long)t);
}

int
ntf_message(const struct ntf_cfg *cfg, const struct ntf_notice *n,
    uint64_t now, char **msg, size_t *len)
{
	char serial[NTF_TEXT_MAX + 1], cert[NTF_TEXT_MAX + 1];
	char name[NTF_TEXT_MAX + 1], date[64], exp[32], id[NTF_KEY_MAX + 1];
	char subject[256], *m;
	int w;

	*msg = NULL;
	*len = 0;
	if (!ntf_addr_ok(cfg->from) || !ntf_addr_ok(n->to) ||
	    (n->cc[0] != '\0' && !ntf_addr_ok(n->cc)))
		return NTF_ERR_ARG;
	safe_token(serial, sizeof(serial), n->card_serial);
	safe_token(cert, sizeof(cert), n->cert_serial);
	safe_token(id, sizeof(id), n->key);
	safe_text(name, sizeof(name), n->holder_name);
	utc_date(now, date, sizeof(date), 1);
	utc_date(n->expires, exp, sizeof(exp), 0);
	if (n->kind == NTF_KIND_CARD)
		snprintf(subject, sizeof(subject),
		    "Your smart card %s expires in %u day%s", serial, n->days,
		    n->days == 1 ? "" : "s");
	else
		snprintf(subject, sizeof(subject),
		    "A certificate on your smart card %s expires in %u day%s",
		    serial, n->days, n->days == 1 ? "" : "s");
	if ((m = malloc(MSG_CAP)) == NULL)
		return NTF_ERR_NOMEM;
	/* The Message-ID is the event's: a resend is recognisable as one. */
	w = snprintf(m, MSG_CAP,
	    "From: %s\r\nTo: %s\r\n%s%s%sSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s@cardmgrd>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "Hello %s,\r\n\r\n"
	    "%s%s%s on your smart card %s expires on %s (in %u day%s).\r\n"
	    "Please visit the badge office before then to renew it.\r\n\r\n"
	    "This message was sent by the card issuance station; "
	    "do not reply.\r\n",
	    cfg->from, n->to, n->cc[0] ? "Cc: " : "", n->cc,
	    n->cc[0] ? "\r\n" : "", subject, date, id,
	    name[0] ? name : n->holder,
	    n->kind == NTF_KIND_CARD ? "The card" : "The certificate ",
	    n->kind == NTF_KIND_CARD ? "" : cert,
	    n->kind == NTF_KIND_CARD ? " itself" : "", serial, exp, n->days,
	    n->days == 1 ? "" : "s");
	if (w < 0 || w >= MSG_CAP) {
		free(m);
		return NTF_ERR_ARG;
	}
	*msg = m;
	*len = (size_t)w;
	return NTF_OK;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nitems;

	if (n > u->left)
		n = u->left;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* Sort a finished transfer: the reply code decides when there is one. */
static int
verdict(CURLcode cc, long code, char *why, size_t cap)
{
	if (cc == CURLE_OK && (code == 0 || (code >= 200 && code < 300)))
		return NTF_OK;
	if (code >= 500 && code < 600) {
		snprintf(why, cap, "server refused (%ld)", code);
		return NTF_ERR_PERMANENT;
	}
	if (code >= 400 && code < 500)
		snprintf(why, cap, "server deferred (%ld)", code);
	else
		snprintf(why, cap, "%s", curl_easy_strerror(cc));
	return NTF_ERR_TRANSIENT;
}

int
ntf_send(const struct ntf_cfg *cfg, const struct ntf_notice *n,
    uint64_t now, unsigned *code, char *why, size_t cap)
{
	struct curl_slist *rcpt = NULL, *r2;
	struct upload u;
	char *msg = NULL;
	size_t len;
	CURL *c = NULL;
	CURLcode cc;
	long reply = 0;
	int rc;

	*code = 0;
	why[0] = '\0';
	if (!ntf_url_ok(cfg->smtp_url)) {
		snprintf(why, cap, "smtp_url refused");
		return NTF_ERR_PERMANENT;
	}
	if ((rc = ntf_message(cfg, n, now, &msg, &len)) != NTF_OK) {
		snprintf(why, cap, "%s", rc == NTF_ERR_ARG ?
		    "address refused by the station" : ntf_strerror(rc));
		return rc == NTF_ERR_ARG ? NTF_ERR_PERMANENT : NTF_ERR_TRANSIENT;
	}
	rc = NTF_ERR_TRANSIENT;
	snprintf(why, cap, "out of memory");
	if ((c = curl_easy_init()) == NULL ||
	    (rcpt = curl_slist_append(NULL, n->to)) == NULL)
		goto out;
	if (n->cc[0] != '\0') {
		if ((r2 = curl_slist_append(rcpt, n->cc)) == NULL)
			goto out;
		rcpt = r2;
	}
	u.p = msg;
	u.left = len;
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, cfg->from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(cfg->timeout_s ?
	    cfg->timeout_s : 30));
	if (cfg->starttls)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
	*code = reply > 0 && reply < 1000 ? (unsigned)reply : 0;
	why[0] = '\0';
	rc = verdict(cc, reply, why, cap);
out:
	curl_slist_free_all(rcpt);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(msg);
	return rc;
}
