/*
 * mhd_hello: the floor for the station API benchmark. A libmicrohttpd server
 * in the station API's own threading mode (a thread per connection, internal
 * polling thread, poll) that answers every GET with a fixed small JSON body
 * and does nothing else: no engine round trip, no validation, no inventory.
 *
 *   mhd_hello -p PORT      (127.0.0.1)
 *   mhd_hello -u PATH      (a UNIX socket, as the station's CLI listener)
 *
 * Runs until SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

static const char body[] = "{\"status\":\"ok\",\"hello\":\"world\"}";

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls; (void)url; (void)version; (void)upload; (void)upload_size;
	(void)req_cls;
	if (strcmp(method, "GET") != 0)
		return MHD_NO;
	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static int
listen_tcp(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 128) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 128) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d = NULL;
	sigset_t set;
	int ch, fd = -1, sig, rc = 1;

	while ((ch = getopt(argc, argv, "p:u:")) != -1) {
		switch (ch) {
		case 'p': fd = listen_tcp(atoi(optarg)); break;
		case 'u': fd = listen_unix(optarg); break;
		default: goto out;
		}
	}
	if (fd < 0) {
		fprintf(stderr, "usage: mhd_hello -p PORT | -u PATH (could not listen)\n");
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mhd_hello: MHD_start_daemon failed\n");
		goto out;
	}
	sigdelset(&set, SIGPIPE);
	sigwait(&set, &sig);
	rc = 0;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	return rc;
}
