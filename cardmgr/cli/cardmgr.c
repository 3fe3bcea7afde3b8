/*
 * cardmgr: the station's command line client. Each subcommand is one API
 * operation (docs/api.yaml); the station decides, this program only asks.
 * See cardmgr.1 for usage, the secrets order and the exit statuses.
 */
#include "cardmgr.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#define DEFAULT_SOCKET "/run/cardmgr/api.sock"
#define MAX_QUESTIONS 8

static void
usage(void)
{
	fprintf(stderr,
	    "usage: cardmgr [-s SOCKET] [--json] [--secrets-fd N] COMMAND [ARGS]\n"
	    "  status | readers | profiles | check-config\n"
	    "  holders add --id ID --name NAME [--email E] [--org O] [--attr K=V]...\n"
	    "              [--manager-email E]\n"
	    "  holders show HOLDER\n"
	    "  holders unlock HOLDER --reason TEXT   lift an unblock lockout\n"
	    "  keys new-master        a new master key version for new cards\n"
	    "  holders list [--query Q] [--limit N] [--after HOLDER]\n"
	    "  cards list [--state S] [--holder HOLDER] [--limit N] [--after CURSOR]\n"
	    "  cards show CARD\n"
	    "  cards requirements CARD\n"
	    "  cards renew CARD --reader R                (secret: the holder's PIN)\n"
	    "  issue --reader R --holder HOLDER --profile P [--question ID]...\n"
	    "  pin-change CARD --reader R\n"
	    "  unblock CARD --reader R\n"
	    "  retire CARD --reason retire|lost|stolen|damaged [--reader R]\n"
	    "  replace CARD --reader R --reason lost|stolen|damaged|expired\n"
	    "          [--approval ID]\n"
	    "  temporary CARD --reader R [--profile P] [--approval ID]\n"
	    "  return CARD [--reason TEXT]\n"
	    "  suspend CARD --reason TEXT\n"
	    "  reinstate CARD [--reason TEXT]\n"
	    "  op show OP\n"
	    "  certs expiring [--days N]\n"
	    "  audit show [--from N] [--limit N]\n"
	    "  audit verify\n"
	    "  report inventory|operations|pending|expiring|stock [--days N]\n"
	    "         [--format table|json|csv]\n"
	    "  notices run\n"
	    "  crl check\n"
	    "  cert revoke (--serial HEX | --cert FILE) --reason R [--note TEXT]\n"
	    "  cert hold (--serial HEX | --cert FILE) [--note TEXT]\n"
	    "  approvals list [--state S] | show ID | approve ID\n"
	    "  approvals deny ID [--reason TEXT]\n"
	    "  stock receive --model M --location L (--serials A-B[,C]... | --reader R)\n"
	    "                [--batch B]   blank cards into stock\n"
	    "  stock list [--model M] [--location L] [--format table|json|csv]\n"
	    "  stock levels [--format table|json|csv]   per model and location\n"
	    "  stock move SERIAL --location L [--note TEXT]\n"
	    "  stock dispose SERIAL --reason TEXT\n"
	    "  backup                 an encrypted inventory copy (daemon running)\n"
	    "  restore --key FILE --in BACKUP --state-dir DIR [--user NAME]\n"
	    "                         offline, into an empty state directory\n"
	    "  backup-keygen --out DIR   backup.key (600) and backup.pub\n"
	    "  operator add --cert FILE --name NAME --roles R[,R]... [--operators MAP]\n"
	    "                         offline, as root: a card operator (9A certificate)\n");
}

/* HTTP status -> exit status (cardmgr.1). */
static int
exit_of(long status)
{
	if (status == 202)
		return CM_EXIT_PENDING;
	if (status >= 200 && status < 300)
		return CM_EXIT_OK;
	if (status == 401 || status == 403 || status == 422 || status == 423)
		return CM_EXIT_REFUSED;
	return CM_EXIT_ERROR;
}

/* Show an answer (errors to stderr) and map it to the exit status. */
static int
finish(const struct cm *cm, long status, const char *resp)
{
	json_t *j, *code, *msg;

	if (status >= 200 && status < 300) {
		if (status == 202 && !cm->json)
			fprintf(stderr, "cardmgr: accepted; the station will "
			    "finish it when the CA answers\n");
		cm_print(cm, resp);
		return exit_of(status);
	}
	if (cm->json)
		printf("%s\n", resp);
	j = json_loads(resp, 0, NULL);
	code = json_object_get(j, "error");
	msg = json_object_get(j, "message");
	if (json_is_string(code) && json_is_string(msg))
		fprintf(stderr, "cardmgr: %s (%s, HTTP %ld)\n",
		    json_string_value(msg), json_string_value(code), status);
	else
		fprintf(stderr, "cardmgr: HTTP %ld\n", status);
	json_decref(j);
	return exit_of(status);
}

/* One request and its outcome. body: stolen (decref'd). */
static int
call(struct cm *cm, const char *method, const char *path, json_t *body)
{
	char *s = NULL, *resp = NULL;
	long status;
	int rc;

	if (body != NULL && (s = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		return CM_EXIT_ERROR;
	}
	json_decref(body);
	rc = cm_http(cm, method, path, s, &status, &resp);
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
	if (rc != CM_OK) {
		fprintf(stderr, "cardmgr: %s\n", cm_strerror(rc));
		return CM_EXIT_ERROR;
	}
	rc = finish(cm, status, resp);
	free(resp);
	return rc;
}

/* path = pre, the %-escaped segment seg, post. */
static int
seg_path(char *out, size_t cap, const char *pre, const char *seg,
    const char *post)
{
	char *e = cm_escape(seg);
	int n;

	if (e == NULL)
		return -1;
	n = snprintf(out, cap, "%s%s%s", pre, e, post);
	free(e);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Append "&name=value" (escaped) to a query string. */
static int
add_query(char *q, size_t cap, const char *name, const char *value)
{
	char *e;
	size_t n = strlen(q);
	int w;

	if (value == NULL)
		return 0;
	if ((e = cm_escape(value)) == NULL)
		return -1;
	w = snprintf(q + n, cap - n, "%c%s=%s", n == 0 ? '?' : '&', name, e);
	free(e);
	return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

/* Strict decimal for --limit and friends. */
static int
int_arg(const char *s, long long *v)
{
	char *end;

	*v = strtoll(s, &end, 10);
	return *s != '\0' && *end == '\0' ? 0 : -1;
}

/* ---- subcommands: argc/argv start at the subcommand's own name */

struct opts {
	const char *id, *name, *email, *org, *query, *limit, *after, *state;
	const char *holder, *reader, *profile, *reason, *days, *from;
	const char *format, *manager, *approval;
	const char *attrs[16];
	size_t nattrs;
	long long questions[MAX_QUESTIONS];
	size_t nq;
};

enum { O_ID = 256, O_NAME, O_EMAIL, O_ORG, O_ATTR, O_QUERY, O_LIMIT, O_AFTER,
    O_STATE, O_HOLDER, O_READER, O_PROFILE, O_QUESTION, O_REASON, O_DAYS,
    O_FROM, O_JSON, O_FORMAT, O_MANAGER, O_APPROVAL };

/* The options being parsed belong to this invocation (--json may follow). */
static struct cm *cur;

static const struct option sub_longopts[] = {
	{ "id", required_argument, NULL, O_ID },
	{ "name", required_argument, NULL, O_NAME },
	{ "email", required_argument, NULL, O_EMAIL },
	{ "org", required_argument, NULL, O_ORG },
	{ "attr", required_argument, NULL, O_ATTR },
	{ "query", required_argument, NULL, O_QUERY },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "after", required_argument, NULL, O_AFTER },
	{ "state", required_argument, NULL, O_STATE },
	{ "holder", required_argument, NULL, O_HOLDER },
	{ "reader", required_argument, NULL, O_READER },
	{ "profile", required_argument, NULL, O_PROFILE },
	{ "question", required_argument, NULL, O_QUESTION },
	{ "reason", required_argument, NULL, O_REASON },
	{ "days", required_argument, NULL, O_DAYS },
	{ "from", required_argument, NULL, O_FROM },
	{ "json", no_argument, NULL, O_JSON },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "manager-email", required_argument, NULL, O_MANAGER },
	{ "approval", required_argument, NULL, O_APPROVAL },
	{ NULL, 0, NULL, 0 },
};

/* Is word one of the space-separated words of list? */
static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Parse the subcommand's options; positional arguments stay in argv from
 * optind. Every subcommand takes only the options it names (allowed).
 */
static int
parse_opts(int argc, char **argv, const char *allowed, struct opts *o,
    int *first)
{
	const struct option *lo;
	long long q;
	int c, li;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* GNU getopt: 0 also resets its permutation state */
	while ((c = getopt_long(argc, argv, "", sub_longopts, &li)) != -1) {
		if (c == '?' || c < O_ID)
			return -1;
		lo = &sub_longopts[c - O_ID];
		if (c == O_JSON) {
			cur->json = 1;
			continue;
		}
		if (!has_word(allowed, lo->name)) {
			fprintf(stderr, "cardmgr: %s takes no --%s\n", argv[0],
			    lo->name);
			return -1;
		}
		switch (c) {
		case O_ID: o->id = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_EMAIL: o->email = optarg; break;
		case O_ORG: o->org = optarg; break;
		case O_QUERY: o->query = optarg; break;
		case O_LIMIT: o->limit = optarg; break;
		case O_AFTER: o->after = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_HOLDER: o->holder = optarg; break;
		case O_READER: o->reader = optarg; break;
		case O_PROFILE: o->profile = optarg; break;
		case O_REASON: o->reason = optarg; break;
		case O_DAYS: o->days = optarg; break;
		case O_FROM: o->from = optarg; break;
		case O_FORMAT: o->format = optarg; break;
		case O_MANAGER: o->manager = optarg; break;
		case O_APPROVAL: o->approval = optarg; break;
		case O_ATTR:
			if (o->nattrs == sizeof(o->attrs) / sizeof(o->attrs[0]))
				return -1;
			o->attrs[o->nattrs++] = optarg;
			break;
		case O_QUESTION:
			if (o->nq == MAX_QUESTIONS || int_arg(optarg, &q) != 0)
				return -1;
			o->questions[o->nq++] = q;
			break;
		default:
			return -1;
		}
	}
	*first = optind;
	return 0;
}

/* A GET with the query arguments of o that are set. */
static int
get_list(struct cm *cm, const char *base, const struct opts *o)
{
	char path[1024], q[900] = "";
	long long n;

	if ((o->limit != NULL && int_arg(o->limit, &n) != 0) ||
	    (o->days != NULL && int_arg(o->days, &n) != 0) ||
	    (o->from != NULL && int_arg(o->from, &n) != 0)) {
		fprintf(stderr, "cardmgr: numbers must be decimal integers\n");
		return CM_EXIT_USAGE;
	}
	if (add_query(q, sizeof(q), "q", o->query) != 0 ||
	    add_query(q, sizeof(q), "state", o->state) != 0 ||
	    add_query(q, sizeof(q), "holder", o->holder) != 0 ||
	    add_query(q, sizeof(q), "expiring_days", o->days) != 0 ||
	    add_query(q, sizeof(q), "from", o->from) != 0 ||
	    add_query(q, sizeof(q), "limit", o->limit) != 0 ||
	    add_query(q, sizeof(q), "after", o->after) != 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s%s", base, q) >= sizeof(path))
		return CM_EXIT_USAGE;
	return call(cm, "GET", path, NULL);
}

/* GET base/{seg}. */
static int
get_one(struct cm *cm, const char *pre, int argc, char **argv, int first)
{
	char path[512];

	if (argc - first != 1 ||
	    seg_path(path, sizeof(path), pre, argv[first], "") != 0)
		return CM_EXIT_USAGE;
	return call(cm, "GET", path, NULL);
}

static int
cmd_holders(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	json_t *b, *attrs;
	int first;
	size_t i;

	if (argc < 2)
		return CM_EXIT_USAGE;
	argc--;
	argv++;
	if (strcmp(argv[0], "add") == 0) {
		if (parse_opts(argc, argv, "id name email org attr manager-email",
		    &o, &first) ||
		    first != argc || o.id == NULL || o.name == NULL)
			return CM_EXIT_USAGE;
		b = json_pack("{s:s, s:s}", "id", o.id, "name", o.name);
		if (o.email != NULL)
			json_object_set_new(b, "email", json_string(o.email));
		if (o.org != NULL)
			json_object_set_new(b, "org", json_string(o.org));
		if (o.manager != NULL)
			json_object_set_new(b, "manager_email",
			    json_string(o.manager));
		if (o.nattrs > 0) {
			attrs = json_array();
			for (i = 0; i < o.nattrs; i++)
				json_array_append_new(attrs, json_string(o.attrs[i]));
			json_object_set_new(b, "attributes", attrs);
		}
		return call(cm, "POST", "/v1/holders", b);
	}
	if (strcmp(argv[0], "show") == 0) {
		if (parse_opts(argc, argv, "", &o, &first))
			return CM_EXIT_USAGE;
		return get_one(cm, "/v1/holders/", argc, argv, first);
	}
	if (strcmp(argv[0], "unlock") == 0) {
		char path[512];

		if (parse_opts(argc, argv, "reason", &o, &first) ||
		    argc - first != 1 || o.reason == NULL ||
		    seg_path(path, sizeof(path), "/v1/holders/", argv[first],
		    "/unlock") != 0)
			return CM_EXIT_USAGE;
		return call(cm, "POST", path, json_pack("{s:s}", "reason",
		    o.reason));
	}
	if (strcmp(argv[0], "list") == 0) {
		if (parse_opts(argc, argv, "query limit after", &o, &first) ||
		    first != argc)
			return CM_EXIT_USAGE;
		return get_list(cm, "/v1/holders", &o);
	}
	return CM_EXIT_USAGE;
}

static int
cmd_cards(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	int first;

	if (argc < 2)
		return CM_EXIT_USAGE;
	argc--;
	argv++;
	if (strcmp(argv[0], "list") == 0) {
		if (parse_opts(argc, argv, "state holder limit after", &o, &first) ||
		    first != argc)
			return CM_EXIT_USAGE;
		return get_list(cm, "/v1/cards", &o);
	}
	if (strcmp(argv[0], "show") == 0) {
		if (parse_opts(argc, argv, "", &o, &first))
			return CM_EXIT_USAGE;
		return get_one(cm, "/v1/cards/", argc, argv, first);
	}
	/* Renewal on presentation: what the card needs (docs/lifecycle.md). */
	if (strcmp(argv[0], "requirements") == 0) {
		char path[512];

		if (parse_opts(argc, argv, "", &o, &first) ||
		    argc - first != 1 || seg_path(path, sizeof(path),
		    "/v1/cards/", argv[first], "/requirements") != 0)
			return CM_EXIT_USAGE;
		return call(cm, "GET", path, NULL);
	}
	/* cards renew CARD --reader R: what it needs, with the holder's PIN. */
	if (strcmp(argv[0], "renew") == 0) {
		char path[512];
		json_t *pin;

		if (parse_opts(argc, argv, "reader", &o, &first) ||
		    argc - first != 1 || o.reader == NULL ||
		    seg_path(path, sizeof(path), "/v1/cards/", argv[first],
		    "/renew") != 0)
			return CM_EXIT_USAGE;
		if (cm_secret_sealed(cm, "PIN: ", 0, &pin) != CM_OK)
			return CM_EXIT_ERROR;
		return call(cm, "POST", path, json_pack("{s:s, s:o}", "reader",
		    o.reader, "pin", pin));
	}
	return CM_EXIT_USAGE;
}

/* Add {question, sealed answer} to list, prompting with text. */
static int
add_answer(struct cm *cm, json_t *list, long long id, const char *text)
{
	char prompt[300];
	json_t *sealed;

	snprintf(prompt, sizeof(prompt), "Answer to question %lld%s%s: ", id,
	    text != NULL ? " - " : "", text != NULL ? text : "");
	if (cm_secret_sealed(cm, prompt, 0, &sealed) != CM_OK)
		return -1;
	json_array_append_new(list, json_pack("{s:I, s:o}", "question",
	    (json_int_t)id, "answer", sealed));
	return 0;
}

/*
 * --wait: follow operation id, printing each journal step as it lands, until
 * it is done (0) or failed / rolled back (1); with --json, only the ended
 * operation's JSON. Each request waits in the engine until there is a step
 * not yet seen (?wait=&steps=): no polling.
 */
#define FOLLOW_WAIT_S 15

static int
follow(struct cm *cm, long long op)
{
	char path[64], *resp = NULL;
	json_t *j, *steps, *st;
	size_t shown = 0, before, i;
	time_t until = time(NULL) + 600;	/* 10 minutes at most */
	long status;
	int rc = CM_EXIT_ERROR;

	while (time(NULL) < until) {
		snprintf(path, sizeof(path), "/v1/operations/%lld?wait=%d&steps=%zu",
		    op, FOLLOW_WAIT_S, shown);
		if (cm_http(cm, "GET", path, NULL, &status, &resp) != CM_OK ||
		    status != 200 || (j = json_loads(resp, 0, NULL)) == NULL) {
			free(resp);
			fprintf(stderr, "cardmgr: operation %lld: cannot read it\n", op);
			return CM_EXIT_ERROR;
		}
		steps = json_object_get(j, "steps");
		before = shown;
		for (i = shown; !cm->json && i < json_array_size(steps); i++)
			printf("  %s\n", json_string_value(json_object_get(
			    json_array_get(steps, i), "name")));
		shown = json_array_size(steps);
		fflush(stdout);
		st = json_object_get(j, "state");
		if (json_is_string(st) && strcmp(json_string_value(st), "running")) {
			rc = strcmp(json_string_value(st), "done") == 0 ?
			    CM_EXIT_OK : CM_EXIT_ERROR;
			if (cm->json)
				printf("%s\n", resp);
			else
				printf("operation %lld: %s%s%s\n", op,
				    json_string_value(st),
				    json_is_string(json_object_get(j, "error")) ?
				    ": " : "",
				    json_is_string(json_object_get(j, "error")) ?
				    json_string_value(json_object_get(j, "error")) :
				    "");
			json_decref(j);
			free(resp);
			return rc;
		}
		json_decref(j);
		free(resp);
		resp = NULL;
		if (shown == before)
			usleep(250000);	/* it did not wait (too many waiters) */
	}
	fprintf(stderr, "cardmgr: operation %lld: still running\n", op);
	return CM_EXIT_PENDING;
}

static int
issue_and_follow(struct cm *cm, const char *path, json_t *b)
{
	char *s = json_dumps(b, JSON_COMPACT), *resp = NULL;
	json_t *j;
	long status;
	long long op = 0;
	int rc;

	json_decref(b);
	if (s == NULL)
		return CM_EXIT_ERROR;
	rc = cm_http(cm, "POST", path, s, &status, &resp);
	sodium_memzero(s, strlen(s));
	free(s);
	if (rc != CM_OK) {
		fprintf(stderr, "cardmgr: %s\n", cm_strerror(rc));
		return CM_EXIT_ERROR;
	}
	if (status != 202 || (j = json_loads(resp, 0, NULL)) == NULL) {
		rc = finish(cm, status, resp);
		free(resp);
		return rc;
	}
	if (json_object_get(j, "operation") == NULL &&
	    json_is_string(json_object_get(j, "message"))) {
		/* Not carried out yet: an approval request (approve.c). */
		printf("%s\n", json_string_value(json_object_get(j, "message")));
		json_decref(j);
		free(resp);
		return CM_EXIT_PENDING;
	}
	op = json_integer_value(json_object_get(j, "operation"));
	json_decref(j);
	free(resp);
	printf("operation %lld: issuing\n", op);
	return follow(cm, op);
}

static int
cmd_issue(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	json_t *b, *pin, *answers;
	int first;
	size_t i;

	if (parse_opts(argc, argv, "reader holder profile question", &o, &first) ||
	    first != argc || o.reader == NULL || o.holder == NULL ||
	    o.profile == NULL)
		return CM_EXIT_USAGE;
	/* Secrets order: the new PIN, then one answer per --question. */
	if (cm_secret_sealed(cm, "New PIN: ", 1, &pin) != CM_OK)
		return CM_EXIT_ERROR;
	b = json_pack("{s:s, s:s, s:s, s:o}", "reader", o.reader, "holder",
	    o.holder, "profile", o.profile, "pin", pin);
	if (o.nq > 0) {
		answers = json_array();
		json_object_set_new(b, "answers", answers);
		for (i = 0; i < o.nq; i++)
			if (add_answer(cm, answers, o.questions[i], NULL) != 0) {
				json_decref(b);
				return CM_EXIT_ERROR;
			}
	}
	if (cm->wait && !cm->json)
		return issue_and_follow(cm, "/v1/issue", b);
	return call(cm, "POST", "/v1/issue", b);
}

/* --approval ID into body b: 0, or -1 (not a request id). */
static int
add_approval(json_t *b, const struct opts *o)
{
	long long id;

	if (o->approval == NULL)
		return 0;
	if (int_arg(o->approval, &id) != 0 || id <= 0) {
		json_decref(b);
		return -1;
	}
	json_object_set_new(b, "approval", json_integer(id));
	return 0;
}

/* temporary CARD --reader R [--profile P] */
static int
cmd_temporary(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	char path[512];
	json_t *b, *pin;
	int first;

	if (parse_opts(argc, argv, "reader profile approval", &o, &first) ||
	    argc - first != 1 || o.reader == NULL ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first],
	    "/temporary") != 0)
		return CM_EXIT_USAGE;
	/* Secrets: the temporary card's PIN. */
	if (cm_secret_sealed(cm, "New PIN: ", 1, &pin) != CM_OK)
		return CM_EXIT_ERROR;
	b = json_pack("{s:s, s:o}", "reader", o.reader, "pin", pin);
	if (o.profile != NULL)
		json_object_set_new(b, "profile", json_string(o.profile));
	if (add_approval(b, &o) != 0)
		return CM_EXIT_USAGE;
	if (cm->wait && !cm->json)
		return issue_and_follow(cm, path, b);
	return call(cm, "POST", path, b);
}

/*
 * POST /v1/cards/CARD/<what> with an optional "reason" (required if
 * need_reason): return, suspend, reinstate.
 */
static int
card_reason(struct cm *cm, int argc, char **argv, const char *what,
    int need_reason)
{
	struct opts o;
	char path[512], suffix[32];
	json_t *b;
	int first;

	snprintf(suffix, sizeof(suffix), "/%s", what);
	if (parse_opts(argc, argv, "reason", &o, &first) ||
	    argc - first != 1 || (need_reason && o.reason == NULL) ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first], suffix) != 0)
		return CM_EXIT_USAGE;
	b = json_object();
	if (o.reason != NULL)
		json_object_set_new(b, "reason", json_string(o.reason));
	return call(cm, "POST", path, b);
}

/* return CARD [--reason TEXT]: either card of a loan */
static int
cmd_return(struct cm *cm, int argc, char **argv)
{
	return card_reason(cm, argc, argv, "return", 0);
}

/* replace CARD --reader R --reason lost|stolen|damaged|expired [--approval ID] */
static int
cmd_replace(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	char path[512];
	json_t *b, *pin;
	int first;

	if (parse_opts(argc, argv, "reader reason approval", &o, &first) ||
	    argc - first != 1 || o.reader == NULL || o.reason == NULL ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first],
	    "/replace") != 0)
		return CM_EXIT_USAGE;
	/* Secrets: the new card's PIN. */
	if (cm_secret_sealed(cm, "New PIN: ", 1, &pin) != CM_OK)
		return CM_EXIT_ERROR;
	b = json_pack("{s:s, s:s, s:o}", "reader", o.reader, "reason",
	    o.reason, "pin", pin);
	if (add_approval(b, &o) != 0)
		return CM_EXIT_USAGE;
	if (cm->wait && !cm->json)
		return issue_and_follow(cm, path, b);
	return call(cm, "POST", path, b);
}

static int
cmd_pin_change(struct cm *cm, int argc, char **argv)
{
	json_t *old = NULL, *new1 = NULL, *new2 = NULL;
	struct opts o;
	char path[512];
	int first;

	if (parse_opts(argc, argv, "reader", &o, &first) || argc - first != 1 ||
	    o.reader == NULL ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first], "/pin") != 0)
		return CM_EXIT_USAGE;
	/* Secrets order: old PIN, new PIN, new PIN again. */
	if (cm_secret_sealed(cm, "Current PIN: ", 0, &old) != CM_OK ||
	    cm_secret_sealed(cm, "New PIN: ", 0, &new1) != CM_OK ||
	    cm_secret_sealed(cm, "New PIN again: ", 0, &new2) != CM_OK) {
		json_decref(old);
		json_decref(new1);
		return CM_EXIT_ERROR;
	}
	return call(cm, "POST", path, json_pack("{s:s, s:o, s:o, s:o}", "reader",
	    o.reader, "old_pin", old, "new_pin", new1, "new_pin_again", new2));
}

/* POST .../unblock/questions: [out] *challenge, *questions (decref both). */
static int
unblock_questions(struct cm *cm, const char *card, const char *reader,
    json_t **root)
{
	char path[512], *s, *resp = NULL;
	json_t *b;
	long status;
	int rc;

	*root = NULL;
	if (seg_path(path, sizeof(path), "/v1/cards/", card,
	    "/unblock/questions") != 0)
		return CM_EXIT_USAGE;
	b = json_pack("{s:s}", "reader", reader);
	s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	rc = s != NULL ? cm_http(cm, "POST", path, s, &status, &resp) :
	    CM_ERR_NOMEM;
	free(s);
	if (rc != CM_OK) {
		fprintf(stderr, "cardmgr: %s\n", cm_strerror(rc));
		return CM_EXIT_ERROR;
	}
	if (status != 200) {
		rc = finish(cm, status, resp);
		free(resp);
		return rc;
	}
	*root = json_loads(resp, 0, NULL);
	free(resp);
	if (!json_is_string(json_object_get(*root, "challenge")) ||
	    !json_is_array(json_object_get(*root, "questions"))) {
		fprintf(stderr, "cardmgr: %s\n", cm_strerror(CM_ERR_PROTO));
		json_decref(*root);
		*root = NULL;
		return CM_EXIT_ERROR;
	}
	return CM_EXIT_OK;
}

/*
 * --secrets-fd for unblock: the station picks the questions at random, so a
 * script may not know their order. Each line is either "q<ID>=<answer>"
 * (matched to question ID wherever it is asked; answers to questions not
 * asked are read and dropped) or a plain answer (taken for the next question
 * still unanswered, in the order asked). The first plain line once every
 * question asked has its answer is the new PIN.
 */
static int
keyed_answers(struct cm *cm, json_t *questions, json_t *answers, json_t **pin)
{
	char line[300], *eq, *end;
	json_t *q, *sealed;
	size_t i, want = json_array_size(questions), got = 0;
	int done[64] = { 0 };
	long id;
	int rc = CM_EXIT_ERROR, keyed;

	*pin = NULL;
	if (want > 64)
		return CM_EXIT_ERROR;
	for (;;) {
		if (cm_secret_read(cm, "answer", line, sizeof(line)) != CM_OK)
			goto out;
		keyed = line[0] == 'q' && (eq = strchr(line, '=')) != NULL &&
		    (*eq = '\0', id = strtol(line + 1, &end, 10),
		    end != line + 1 && *end == '\0');
		if (!keyed && got == want)
			break;		/* every question answered: the PIN */
		json_array_foreach(questions, i, q) {
			if (done[i] || (keyed &&
			    json_integer_value(json_object_get(q, "id")) != id))
				continue;
			id = (long)json_integer_value(json_object_get(q, "id"));
			if (cm_seal_text(cm, keyed ? eq + 1 : line, &sealed) != CM_OK)
				goto out;
			json_array_append_new(answers, json_pack("{s:I, s:o}",
			    "question", (json_int_t)id, "answer", sealed));
			done[i] = 1;
			got++;
			break;
		}
		sodium_memzero(line, sizeof(line));
	}
	if (cm_seal_text(cm, line, pin) == CM_OK)
		rc = CM_EXIT_OK;
out:
	sodium_memzero(line, sizeof(line));
	return rc;
}

static int
cmd_unblock(struct cm *cm, int argc, char **argv)
{
	json_t *qs = NULL, *answers, *q, *pin, *b;
	struct opts o;
	char path[512];
	int first, rc;
	size_t i;

	if (parse_opts(argc, argv, "reader", &o, &first) || argc - first != 1 ||
	    o.reader == NULL ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first], "/unblock") != 0)
		return CM_EXIT_USAGE;
	if ((rc = unblock_questions(cm, argv[first], o.reader, &qs)) != CM_EXIT_OK)
		return rc;
	/* Secrets order: one answer per question, as asked; then the new PIN. */
	answers = json_array();
	b = json_pack("{s:s, s:O, s:o}", "reader", o.reader, "challenge",
	    json_object_get(qs, "challenge"), "answers", answers);
	if (cm->secrets_fd >= 0) {
		if (keyed_answers(cm, json_object_get(qs, "questions"), answers,
		    &pin) != CM_EXIT_OK)
			goto fail;
		json_object_set_new(b, "new_pin", pin);
		json_decref(qs);
		return call(cm, "POST", path, b);
	}
	json_array_foreach(json_object_get(qs, "questions"), i, q) {
		json_t *id = json_object_get(q, "id");

		if (!json_is_integer(id) || add_answer(cm, answers,
		    json_integer_value(id), json_string_value(json_object_get(q,
		    "text"))) != 0)
			goto fail;
	}
	if (cm_secret_sealed(cm, "New PIN: ", 1, &pin) != CM_OK)
		goto fail;
	json_object_set_new(b, "new_pin", pin);
	json_decref(qs);
	return call(cm, "POST", path, b);
fail:
	json_decref(b);
	json_decref(qs);
	return CM_EXIT_ERROR;
}

static int
cmd_retire(struct cm *cm, int argc, char **argv)
{
	struct opts o;
	char path[512];
	json_t *b;
	int first;

	if (parse_opts(argc, argv, "reader reason", &o, &first) ||
	    argc - first != 1 || o.reason == NULL ||
	    seg_path(path, sizeof(path), "/v1/cards/", argv[first], "/retire") != 0)
		return CM_EXIT_USAGE;
	b = json_pack("{s:s}", "reason", o.reason);
	if (o.reader != NULL)
		json_object_set_new(b, "reader", json_string(o.reader));
	return call(cm, "POST", path, b);
}

/* report NAME [--days N] [--format table|json|csv] */
static int
cmd_report(struct cm *cm, int argc, char **argv)
{
	static const char *const names[] = { "inventory", "operations",
	    "pending", "expiring", "stock", NULL };
	struct opts o;
	long long n;
	int first, i;

	if (argc < 2)
		return CM_EXIT_USAGE;
	for (i = 0; names[i] != NULL && strcmp(names[i], argv[1]) != 0; i++)
		;
	if (names[i] == NULL ||
	    parse_opts(argc - 1, argv + 1, "days format", &o, &first) ||
	    first != argc - 1)
		return CM_EXIT_USAGE;
	if (o.days != NULL && (int_arg(o.days, &n) != 0 || n < 1 || n > 3650)) {
		fprintf(stderr, "cardmgr: --days must be 1..3650\n");
		return CM_EXIT_USAGE;
	}
	if (o.format == NULL)
		o.format = cm->json ? "json" : "table";
	if (strcmp(o.format, "table") != 0 && strcmp(o.format, "json") != 0 &&
	    strcmp(o.format, "csv") != 0)
		return CM_EXIT_USAGE;
	return cm_report(cm, names[i], o.days, o.format);
}

int
cm_call(struct cm *cm, const char *method, const char *path, json_t *body)
{
	return call(cm, method, path, body);
}

/* suspend CARD --reason TEXT, reinstate CARD [--reason TEXT] */
static int
cmd_hold(struct cm *cm, int argc, char **argv)
{
	int suspend = strcmp(argv[0], "suspend") == 0;

	return card_reason(cm, argc, argv, suspend ? "suspend" : "reinstate",
	    suspend);
}

static int
cmd_simple(struct cm *cm, int argc, char **argv)
{
	static const struct { const char *cmd, *sub, *method, *path, *opts; } t[] = {
		{ "status", NULL, "GET", "/v1/status", NULL },
		{ "readers", NULL, "GET", "/v1/readers", NULL },
		{ "profiles", NULL, "GET", "/v1/profiles", NULL },
		{ "check-config", NULL, "POST", "/v1/config/check", NULL },
		{ "audit", "verify", "POST", "/v1/audit/verify", NULL },
		{ "audit", "show", "GET", "/v1/audit", "from limit" },
		{ "certs", "expiring", "GET", "/v1/certificates", "days" },
		{ "notices", "run", "POST", "/v1/notices/run", NULL },
		{ "crl", "check", "POST", "/v1/crl/check", NULL },
		{ "backup", NULL, "POST", "/v1/backup", NULL },
	};
	struct opts o;
	size_t i;
	int first, shift;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(argv[0], t[i].cmd) != 0 || (t[i].sub != NULL &&
		    (argc < 2 || strcmp(argv[1], t[i].sub) != 0)))
			continue;
		shift = t[i].sub != NULL;
		if (parse_opts(argc - shift, argv + shift, t[i].opts ? t[i].opts : "",
		    &o, &first) || first != argc - shift)
			return CM_EXIT_USAGE;
		if (t[i].opts != NULL)
			return get_list(cm, t[i].path, &o);
		return call(cm, t[i].method, t[i].path, strcmp(t[i].method,
		    "POST") == 0 ? json_object() : NULL);
	}
	if (strcmp(argv[0], "op") == 0 && argc >= 2 && strcmp(argv[1], "show") == 0) {
		if (parse_opts(argc - 1, argv + 1, "", &o, &first))
			return CM_EXIT_USAGE;
		if (cm->wait && argc - 1 - first == 1) {
			char *end;
			long long id = strtoll(argv[1 + first], &end, 10);

			if (*end != '\0' || id <= 0)
				return CM_EXIT_USAGE;
			return follow(cm, id);
		}
		return get_one(cm, "/v1/operations/", argc - 1, argv + 1, first);
	}
	return -1;
}

static int
dispatch(struct cm *cm, int argc, char **argv)
{
	int rc;

	if (strcmp(argv[0], "holders") == 0)
		return cmd_holders(cm, argc, argv);
	if (strcmp(argv[0], "keys") == 0) {
		if (argc != 2 || strcmp(argv[1], "new-master") != 0)
			return CM_EXIT_USAGE;
		return call(cm, "POST", "/v1/keys/master", json_object());
	}
	if (strcmp(argv[0], "cards") == 0)
		return cmd_cards(cm, argc, argv);
	if (strcmp(argv[0], "issue") == 0)
		return cmd_issue(cm, argc, argv);
	if (strcmp(argv[0], "pin-change") == 0)
		return cmd_pin_change(cm, argc, argv);
	if (strcmp(argv[0], "unblock") == 0)
		return cmd_unblock(cm, argc, argv);
	if (strcmp(argv[0], "retire") == 0)
		return cmd_retire(cm, argc, argv);
	if (strcmp(argv[0], "replace") == 0)
		return cmd_replace(cm, argc, argv);
	if (strcmp(argv[0], "temporary") == 0)
		return cmd_temporary(cm, argc, argv);
	if (strcmp(argv[0], "return") == 0)
		return cmd_return(cm, argc, argv);
	if (strcmp(argv[0], "report") == 0)
		return cmd_report(cm, argc, argv);
	if (strcmp(argv[0], "suspend") == 0 || strcmp(argv[0], "reinstate") == 0)
		return cmd_hold(cm, argc, argv);
	if (strcmp(argv[0], "cert") == 0)
		return cm_cert(cm, argc, argv);
	if (strcmp(argv[0], "approvals") == 0)
		return cm_approval(cm, argc, argv);
	if (strcmp(argv[0], "stock") == 0)
		return cm_stock(cm, argc, argv);
	if ((rc = cmd_simple(cm, argc, argv)) >= 0)
		return rc;
	fprintf(stderr, "cardmgr: unknown command %s\n", argv[0]);
	return CM_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "secrets-fd", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cm cm = { DEFAULT_SOCKET, 0, 0, -1, { 0 }, 0 };
	long long fd;
	int c, rc;

	/* The daemon going away mid-request is an error to report, not a
	 * silent death by SIGPIPE (exit 141). */
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "+s:h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			cm.socket = optarg;
			break;
		case 'j':
			cm.json = 1;
			break;
		case 'w':
			cm.wait = 1;
			break;
		case 'f':
			if (int_arg(optarg, &fd) != 0 || fd < 0 || fd > INT_MAX) {
				usage();
				return CM_EXIT_USAGE;
			}
			cm.secrets_fd = (int)fd;
			break;
		case 'h':
			usage();
			return CM_EXIT_OK;
		default:
			usage();
			return CM_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage();
		return CM_EXIT_USAGE;
	}
	/* Offline: no daemon, no socket. */
	if (strcmp(argv[optind], "operator") == 0) {
		if (sodium_init() < 0)
			return CM_EXIT_ERROR;
		if ((rc = cm_operator(argc - optind, argv + optind)) ==
		    CM_EXIT_USAGE)
			usage();
		return rc;
	}
	if (strcmp(argv[optind], "restore") == 0 ||
	    strcmp(argv[optind], "backup-keygen") == 0) {
		if (sodium_init() < 0)
			return CM_EXIT_ERROR;
		rc = argv[optind][0] == 'r' ?
		    cm_restore(argc - optind, argv + optind) :
		    cm_backup_keygen(argc - optind, argv + optind);
		if (rc == CM_EXIT_USAGE)
			usage();
		return rc;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_NOTHING) != 0) {
		fprintf(stderr, "cardmgr: cannot initialise libraries\n");
		return CM_EXIT_ERROR;
	}
	cur = &cm;
	rc = dispatch(&cm, argc - optind, argv + optind);
	if (rc == CM_EXIT_USAGE)
		usage();
	sodium_memzero(cm.key, sizeof(cm.key));
	curl_global_cleanup();
	return rc;
}
