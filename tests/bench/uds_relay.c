/*
 * uds_relay: a TCP to UNIX socket relay, so that a TCP load generator (wrk)
 * can reach the station's CLI listener, where SO_PEERCRED makes the relay's
 * uid the operator. Run it as the operator's uid; it is a bench tool, not
 * part of the station (it would defeat the kiosk/operator split).
 *
 *   uds_relay PORT PATH      listen on 127.0.0.1:PORT, one thread per
 *                            connection, each with its own UNIX connection
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *upath;

struct pair {
	int a, b;
};

/* Copy what is readable on from to to; 0 on EOF or error. */
static int
pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf)), w, off = 0;

	if (n <= 0)
		return 0;
	while (off < n) {
		if ((w = write(to, buf + off, (size_t)(n - off))) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += w;
	}
	return 1;
}

static void *
serve(void *arg)
{
	struct pair *p = arg;
	struct pollfd pf[2] = { { p->a, POLLIN, 0 }, { p->b, POLLIN, 0 } };

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents && !pump(p->a, p->b))
			break;
		if (pf[1].revents && !pump(p->b, p->a))
			break;
	}
	close(p->a);
	close(p->b);
	free(p);
	return NULL;
}

static int
connect_unix(void)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", upath);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct pair *p;
	pthread_t th;
	int lfd, c, u, one = 1;

	if (argc != 3 || strlen(argv[2]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "usage: uds_relay PORT PATH\n");
		return 2;
	}
	upath = argv[2];
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 128) != 0) {
		perror("uds_relay: listen");
		return 1;
	}
	for (;;) {
		if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((u = connect_unix()) < 0 || (p = malloc(sizeof(*p))) == NULL) {
			if (u >= 0)
				close(u);
			close(c);
			continue;
		}
		p->a = c;
		p->b = u;
		if (pthread_create(&th, NULL, serve, p) != 0) {
			close(c);
			close(u);
			free(p);
			continue;
		}
		pthread_detach(th);
	}
}
