/*
 * sessions: operator sessions made by a card login (login.c), and the
 * attempt limiter for PINs and challenge answers.
 *
 * A session is held in the engine's memory only: a restart ends every
 * session. The token (32 random bytes, base64url) leaves the engine once,
 * in the login answer; the engine keeps its SHA-256 only, so a memory dump
 * of the engine does not hand out live cookies. A session ends on logout,
 * after cfg->session_idle_s without a request (counted from the end of the
 * last one: a slow operation does not idle its session out), and when the
 * operator's card
 * leaves the reader it logged in with: the reader watcher (recover.c) says
 * so as it happens, and every request asks pcscd whether the reader still
 * has a card; when pcscd's card-event count of the reader moved since the
 * session last looked (a pull and put back, another card, or only a power
 * cycle by another client), the card in the reader is identified again and
 * must be the one that logged in.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "engine/cardops.h"
#include "proc/log.h"

#define SESS_MAX 16
#define ATT_MAX 64		/* keys tracked at once */
#define ATT_STAMPS 32		/* failures remembered per key (>= the limit) */

struct sess {
	int live;
	uint8_t hash[crypto_hash_sha256_BYTES];	/* of the token */
	struct eng_sess_info info;
	unsigned events;		/* pcscd's card-event count at login */
	time_t last;			/* monotonic seconds of the last use */
};

struct att {
	char key[96];
	time_t t[ATT_STAMPS];		/* monotonic; 0: free */
};

struct eng_sessions {
	pthread_mutex_t mu;
	struct sess s[SESS_MAX];
	struct att a[ATT_MAX];
};

static time_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
eng_sess_init(struct engine *e)
{
	if ((e->sess = calloc(1, sizeof(*e->sess))) == NULL)
		return -1;
	pthread_mutex_init(&e->sess->mu, NULL);
	return 0;
}

void
eng_sess_free(struct engine *e)
{
	if (e->sess == NULL)
		return;
	OPENSSL_cleanse(e->sess, sizeof(*e->sess));
	free(e->sess);
	e->sess = NULL;
}

static unsigned
idle_s(const struct engine *e)
{
	return e->cfg->session_idle_s ? e->cfg->session_idle_s :
	    ENG_SESS_IDLE_DEFAULT;
}

static void
random_b64(char *out, size_t cap)
{
	uint8_t raw[ENG_SESS_RAW];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, cap, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

/* Under mu: the slot of a live session with this token hash, or NULL. */
static struct sess *
find(struct eng_sessions *st, const uint8_t hash[32])
{
	for (int i = 0; i < SESS_MAX; i++)
		if (st->s[i].live &&
		    sodium_memcmp(st->s[i].hash, hash, 32) == 0)
			return &st->s[i];
	return NULL;
}

static void
end(struct sess *s, const char *why)
{
	log_info("session of %s on '%s' ended: %s", s->info.name,
	    s->info.reader, why);
	sodium_memzero(s, sizeof(*s));
}

int
eng_sess_new(struct engine *e, struct eng_sess_info *info, unsigned events,
    char token[ENG_SESS_TOKEN_LEN + 1])
{
	struct eng_sessions *st = e->sess;
	struct sess *s = NULL;
	time_t now = mono();

	random_b64(token, ENG_SESS_TOKEN_LEN + 1);
	random_b64(info->csrf, sizeof(info->csrf));
	info->idle_s = idle_s(e);
	pthread_mutex_lock(&st->mu);
	for (int i = 0; i < SESS_MAX; i++) {
		struct sess *c = &st->s[i];

		/* A reader holds one operator card: its old session is over. */
		if (c->live && strcmp(c->info.reader, info->reader) == 0)
			end(c, "a new login on its reader");
		if (c->live && now - c->last > (time_t)c->info.idle_s)
			end(c, "idle");
		if (!c->live && s == NULL)
			s = c;
	}
	if (s == NULL) {	/* full: the least recently used goes */
		s = &st->s[0];
		for (int i = 1; i < SESS_MAX; i++)
			if (st->s[i].last < s->last)
				s = &st->s[i];
		end(s, "too many sessions");
	}
	crypto_hash_sha256(s->hash, (const uint8_t *)token,
	    strlen(token));
	memcpy(info->hash, s->hash, sizeof(s->hash));
	s->info = *info;
	s->events = events;
	s->last = now;
	s->live = 1;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/*
 * XXX this runs in the engine's loop (resolve_actor): a card that answers
 * slowly delays every request while it is identified. It happens only when
 * the reader's event count moved, and cops_open is bounded by the card
 * timeout; a stuck card is refused by the claim without touching it.
 *
 * Is the card that logged in (key) still in reader? 1 yes (*events: the
 * count now), 0 no. A reader some operation holds cannot be looked at:
 * the card is taken to be there while pcscd says one is (the watcher ends
 * the session if it is pulled), and looked at next time.
 */
static int
same_card(struct engine *e, const char *reader, const char *key,
    unsigned *events)
{
	struct pcsc_ctx *pc = NULL;
	struct cops_card k;
	char detail[256], now[160];
	unsigned ev = 0;
	int same = 0;

	if (eng_reader_events(reader, &ev) != 0) {
		log_info("reader '%s': no card", reader);
		return 0;
	}
	if (ev == *events)
		return 1;
	if (eng_reader_claim(e, reader) != 0)
		return 1;
	memset(&k, 0, sizeof(k));
	if (eng_pcsc_open(e, &pc) == PCSC_OK &&
	    cops_open(pc, reader, &k, detail, sizeof(detail)) == COPS_OK) {
		eng_card_key(&k, now, sizeof(now));
		same = strcmp(now, key) == 0;
	}
	log_info("reader '%s': card events %u -> %u, %s", reader, *events, ev,
	    same ? "the same card" : "not the card that logged in");
	cops_close(&k);
	eng_pcsc_close(e, pc, reader);
	eng_reader_release(e, reader);
	if (same)
		*events = ev;
	return same;
}

int
eng_sess_find(struct engine *e, const char *tok, size_t len,
    struct eng_sess_info *out)
{
	struct eng_sessions *st = e->sess;
	uint8_t h[32];
	struct sess *s;
	char reader[128], key[160];
	unsigned events;
	int rc = -1, present;

	crypto_hash_sha256(h, (const uint8_t *)tok, len);
	pthread_mutex_lock(&st->mu);
	if ((s = find(st, h)) == NULL)
		goto out;
	if (mono() - s->last > (time_t)s->info.idle_s) {
		end(s, "idle timeout");
		goto out;
	}
	eng_copy(reader, sizeof(reader), s->info.reader);
	eng_copy(key, sizeof(key), s->info.card);
	events = s->events;
	pthread_mutex_unlock(&st->mu);
	/* pcscd and the card are asked without the lock. */
	present = same_card(e, reader, key, &events);
	pthread_mutex_lock(&st->mu);
	if ((s = find(st, h)) == NULL)
		goto out;
	if (!present) {
		end(s, "the card left its reader");
		goto out;
	}
	s->events = events;
	s->last = mono();
	*out = s->info;
	rc = 0;
out:
	pthread_mutex_unlock(&st->mu);
	sodium_memzero(h, sizeof(h));
	return rc;
}

void
eng_sess_touch(struct engine *e, const struct eng_sess_info *info)
{
	struct eng_sessions *st = e->sess;
	struct sess *s;

	pthread_mutex_lock(&st->mu);
	if ((s = find(st, info->hash)) != NULL)
		s->last = mono();
	pthread_mutex_unlock(&st->mu);
}

void
eng_sess_end(struct engine *e, const char *tok, size_t len)
{
	struct eng_sessions *st = e->sess;
	uint8_t h[32];
	struct sess *s;

	crypto_hash_sha256(h, (const uint8_t *)tok, len);
	pthread_mutex_lock(&st->mu);
	if ((s = find(st, h)) != NULL)
		end(s, "logout");
	pthread_mutex_unlock(&st->mu);
}

void
eng_sess_reader_gone(struct engine *e, const char *reader)
{
	struct eng_sessions *st = e->sess;

	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	for (int i = 0; i < SESS_MAX; i++)
		if (st->s[i].live && strcmp(st->s[i].info.reader, reader) == 0)
			end(&st->s[i], "the card left its reader");
	pthread_mutex_unlock(&st->mu);
}

/* ---- attempts ---- */

static unsigned
att_limit(const struct engine *e)
{
	unsigned n = e->cfg->attempt_limit ? e->cfg->attempt_limit :
	    ENG_ATT_LIMIT_DEFAULT;

	return n > ATT_STAMPS ? ATT_STAMPS : n;
}

static time_t
att_window(const struct engine *e)
{
	return e->cfg->attempt_window_s ? (time_t)e->cfg->attempt_window_s :
	    ENG_ATT_WINDOW_DEFAULT;
}

/* Under mu: forget key's failures older than the window; how many remain. */
static unsigned
att_prune(struct att *a, time_t now, time_t win, time_t *oldest)
{
	unsigned n = 0;

	*oldest = 0;
	for (int i = 0; i < ATT_STAMPS; i++) {
		if (a->t[i] != 0 && now - a->t[i] >= win)
			a->t[i] = 0;
		if (a->t[i] != 0) {
			n++;
			if (*oldest == 0 || a->t[i] < *oldest)
				*oldest = a->t[i];
		}
	}
	if (n == 0)
		a->key[0] = '\0';
	return n;
}

int
eng_attempt_check(struct engine *e, const char *key, unsigned *retry_after)
{
	struct eng_sessions *st = e->sess;
	time_t now = mono(), win = att_window(e), oldest;
	int rc = 0;

	*retry_after = 0;
	pthread_mutex_lock(&st->mu);
	for (int i = 0; i < ATT_MAX; i++) {
		struct att *a = &st->a[i];

		if (a->key[0] == '\0' || strcmp(a->key, key) != 0)
			continue;
		if (att_prune(a, now, win, &oldest) >= att_limit(e)) {
			*retry_after = (unsigned)(oldest + win - now);
			if (*retry_after == 0)
				*retry_after = 1;
			rc = -1;
		}
		break;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void
eng_attempt_failed(struct engine *e, const char *key)
{
	struct eng_sessions *st = e->sess;
	time_t now = mono(), win = att_window(e), oldest;
	struct att *a = NULL;
	int i;

	pthread_mutex_lock(&st->mu);
	for (i = 0; i < ATT_MAX; i++) {
		struct att *c = &st->a[i];

		if (c->key[0] != '\0')
			(void)att_prune(c, now, win, &oldest);
		if (c->key[0] != '\0' && strcmp(c->key, key) == 0) {
			a = c;
			break;
		}
		if (c->key[0] == '\0' && a == NULL)
			a = c;
	}
	/*
	 * XXX a table full of keys with recent failures (64 cards failing in
	 * one window) drops the newest key's record: the card's own retry
	 * counter still bounds PIN guesses, and the answers' lockout bounds
	 * answer guesses.
	 */
	if (a != NULL) {
		int slot = 0;

		eng_copy(a->key, sizeof(a->key), key);
		for (i = 1; i < ATT_STAMPS; i++)
			if (a->t[i] < a->t[slot])
				slot = i;
		a->t[slot] = now;
	}
	pthread_mutex_unlock(&st->mu);
}

/* The limiter's keys of an inventory card and its holder. */
static void
keys_of(const uint8_t guid[16], const char *holder, char card[96],
    char hold[96])
{
	char hex[33];

	eng_hex(guid, 16, hex);
	snprintf(card, 96, "card:%s", hex);
	snprintf(hold, 96, "holder:%s", holder);
}

int
eng_attempt_check_card(struct engine *e, const uint8_t guid[16],
    const char *holder, unsigned *retry_after)
{
	char card[96], hold[96];
	unsigned r1 = 0, r2 = 0;
	int rc;

	keys_of(guid, holder, card, hold);
	rc = eng_attempt_check(e, card, &r1) | eng_attempt_check(e, hold, &r2);
	*retry_after = r1 > r2 ? r1 : r2;
	return rc != 0 ? -1 : 0;
}

void
eng_attempt_failed_card(struct engine *e, const uint8_t guid[16],
    const char *holder)
{
	char card[96], hold[96];

	keys_of(guid, holder, card, hold);
	eng_attempt_failed(e, card);
	eng_attempt_failed(e, hold);
}

int
eng_rate_limited(struct engine *e, uint64_t id, unsigned retry_after)
{
	return eng_reply(e, id, 429, json_pack("{s:s, s:s, s:i}", "error",
	    "rate_limited", "message", "too many failed attempts with this "
	    "card or holder: try again later", "retry_after",
	    (int)retry_after));
}
