/*
 * cardmgr_secret: PINs and answers, from the terminal (echo off) or from a
 * file descriptor (--secrets-fd), sealed to the engine's session key.
 *
 * Secrets never come from argv or the environment (both are readable by
 * other local users through /proc). They are read with read(2) into fixed
 * buffers, not through stdio whose buffers nobody wipes, and sealed with
 * crypto_box_seal: the api process relays only ciphertext it cannot open.
 */
#include "cardmgr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#define SECRET_MAX 257		/* answers up to 256 bytes, PINs up to 8 */

/* One line from fd into buf; the newline is dropped. */
static int
read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (c == '\n')
			break;
		if (n + 1 >= cap) {
			sodium_memzero(buf, cap);
			return CM_ERR_SECRET;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (r <= 0 && n == 0)
		return CM_ERR_SECRET;
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return CM_OK;
}

static int
read_tty(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	int fd, rc;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "cardmgr: no terminal to read secrets from; "
		    "use --secrets-fd\n");
		return CM_ERR_SECRET;
	}
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		return CM_ERR_SECRET;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off before the prompt: whatever is typed after it stays hidden. */
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0 ||
	    write(fd, prompt, strlen(prompt)) < 0) {
		tcsetattr(fd, TCSAFLUSH, &old);
		close(fd);
		return CM_ERR_SECRET;
	}
	rc = read_line(fd, buf, cap);
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = CM_ERR_SECRET;
	close(fd);
	return rc;
}

int
cm_secret_read(const struct cm *cm, const char *prompt, char *buf, size_t cap)
{
	int rc;

	if (cap == 0)
		return CM_ERR_ARG;
	buf[0] = '\0';
	rc = cm->secrets_fd >= 0 ? read_line(cm->secrets_fd, buf, cap) :
	    read_tty(prompt, buf, cap);
	if (rc != CM_OK || buf[0] == '\0') {
		sodium_memzero(buf, cap);
		fprintf(stderr, "cardmgr: %s: no secret given\n", prompt);
		return CM_ERR_SECRET;
	}
	return CM_OK;
}

/* GET /v1/session-key once: {"key": base64 of 32 bytes}. */
static int
session_key(struct cm *cm)
{
	json_t *j = NULL, *k;
	char *resp = NULL;
	long status;
	size_t kl;
	int rc;

	if (cm->have_key)
		return CM_OK;
	if ((rc = cm_http(cm, "GET", "/v1/session-key", NULL, &status, &resp)) !=
	    CM_OK)
		return rc;
	rc = CM_ERR_PROTO;
	if (status != 200 || (j = json_loads(resp, 0, NULL)) == NULL ||
	    !json_is_string(k = json_object_get(j, "key")) ||
	    sodium_base642bin(cm->key, sizeof(cm->key), json_string_value(k),
	    json_string_length(k), NULL, &kl, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || kl != sizeof(cm->key)) {
		fprintf(stderr, "cardmgr: the station gave no session key (HTTP %ld)\n",
		    status);
		goto out;
	}
	cm->have_key = 1;
	rc = CM_OK;
out:
	json_decref(j);
	free(resp);
	return rc;
}

int
cm_seal_text(struct cm *cm, const char *text, json_t **out)
{
	unsigned char box[SECRET_MAX + crypto_box_SEALBYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(box),
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t n = strlen(text);
	int rc;

	*out = NULL;
	if (n >= SECRET_MAX)
		return CM_ERR_SECRET;
	if ((rc = session_key(cm)) != CM_OK)
		return rc;
	if (crypto_box_seal(box, (const unsigned char *)text, n, cm->key) != 0)
		return CM_ERR_CRYPTO;
	sodium_bin2base64(b64, sizeof(b64), box, n + crypto_box_SEALBYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	rc = (*out = json_string(b64)) != NULL ? CM_OK : CM_ERR_NOMEM;
	sodium_memzero(box, sizeof(box));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

int
cm_secret_sealed(struct cm *cm, const char *prompt, int confirm, json_t **out)
{
	char s1[SECRET_MAX], s2[SECRET_MAX], again[128];
	unsigned char box[SECRET_MAX + crypto_box_SEALBYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(box),
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t n;
	int rc;

	*out = NULL;
	if ((rc = session_key(cm)) != CM_OK)
		return rc;
	if ((rc = cm_secret_read(cm, prompt, s1, sizeof(s1))) != CM_OK)
		goto out;
	if (confirm && cm->secrets_fd < 0) {
		snprintf(again, sizeof(again), "Again: %s", prompt);
		if ((rc = cm_secret_read(cm, again, s2, sizeof(s2))) != CM_OK)
			goto out;
		if (strcmp(s1, s2) != 0) {
			fprintf(stderr, "cardmgr: the two entries differ\n");
			rc = CM_ERR_SECRET;
			goto out;
		}
	}
	n = strlen(s1);
	if (crypto_box_seal(box, (unsigned char *)s1, n, cm->key) != 0) {
		rc = CM_ERR_CRYPTO;
		goto out;
	}
	sodium_bin2base64(b64, sizeof(b64), box, n + crypto_box_SEALBYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	rc = (*out = json_string(b64)) != NULL ? CM_OK : CM_ERR_NOMEM;
out:
	sodium_memzero(s1, sizeof(s1));
	sodium_memzero(s2, sizeof(s2));
	sodium_memzero(box, sizeof(box));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}
