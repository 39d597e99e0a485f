/*
 * serve: the probe target of the netns tests.  Listens on every given port
 * for TCP (accept, echo what arrives, close on EOF) and UDP (echo every
 * datagram to its sender), dual stack on [::], until SIGTERM or SIGINT.
 *
 *   serve [--ready FILE] PORT[-LAST]...
 *
 * A range listens on every port from PORT to LAST (bench.throughput spreads
 * its connection loop over 32 ports).
 * --ready writes FILE once every socket is bound, so a test can wait for it
 * instead of sleeping.  One epoll loop, no threads, no dependencies: nine of
 * these start in a few milliseconds, which socat or ncat would not.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVE_PORTS_MAX 64
#define SERVE_EVENTS 64
/* Accepted connections held open at once; beyond this new ones are closed at
 * once (the handshake already succeeded, which is all a probe needs). */
#define SERVE_CONNS_MAX 4096

enum kind { K_SIGNAL, K_LISTEN, K_UDP, K_CONN };

static uint64_t tag(enum kind k, int fd)
{
	return ((uint64_t) k << 32) | (uint32_t) fd;
}

static int open_socket(int type, uint16_t port)
{
	struct sockaddr_in6 sa = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Dual stack: IPv4 peers arrive as ::ffff:a.b.c.d on the same socket. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int watch(int ep, int fd, enum kind k)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag(k, fd) };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void udp_echo(int fd)
{
	char buf[2048];
	struct sockaddr_storage from;

	/* Bounded: at most 64 datagrams per wakeup, epoll calls us again. */
	for (int i = 0; i < 64; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);

		if (n < 0)
			return;
		(void) sendto(fd, buf, (size_t) n, 0, (struct sockaddr *) &from, fl);
	}
}

static void tcp_accept(int ep, int fd, int *n_conns)
{
	for (int i = 0; i < 64; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		if (*n_conns >= SERVE_CONNS_MAX || watch(ep, c, K_CONN) < 0) {
			close(c);
			continue;
		}
		(*n_conns)++;
	}
}

static void tcp_echo(int ep, int fd, int *n_conns)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0) {
		/* Best effort: a bulk sender (iperf3 uses its own server) is not
		 * what this echo is for. */
		(void) write(fd, buf, (size_t) n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	(void) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	(*n_conns)--;
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	uint16_t ports[SERVE_PORTS_MAX];
	size_t n_ports = 0;
	int ep, sfd, n_conns = 0;
	sigset_t mask;

	for (int i = 1; i < argc; i++) {
		char *end;
		long p, last;

		if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc) {
			ready = argv[++i];
			continue;
		}
		p = strtol(argv[i], &end, 10);
		last = p;
		if (*end == '-' && end[1] != '\0')
			last = strtol(end + 1, &end, 10);
		if (*argv[i] == '\0' || *end != '\0' || p < 1 || last < p || last > 65535 ||
		    last - p >= (long) (SERVE_PORTS_MAX - n_ports)) {
			fprintf(stderr, "serve: bad port '%s' (1..65535, at most %d)\n", argv[i],
				SERVE_PORTS_MAX);
			return 2;
		}
		for (; p <= last; p++)
			ports[n_ports++] = (uint16_t) p;
	}
	if (n_ports == 0) {
		fprintf(stderr, "usage: serve [--ready FILE] PORT[-LAST]...\n");
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (ep < 0 || sfd < 0 || watch(ep, sfd, K_SIGNAL) < 0) {
		perror("serve: epoll/signalfd");
		return 3;
	}
	for (size_t i = 0; i < n_ports; i++) {
		int t = open_socket(SOCK_STREAM, ports[i]);
		int u = open_socket(SOCK_DGRAM, ports[i]);

		if (t < 0 || u < 0) {
			fprintf(stderr, "serve: port %u: %s\n", ports[i],
				strerror(t < 0 ? -t : -u));
			return 3;
		}
		if (watch(ep, t, K_LISTEN) < 0 || watch(ep, u, K_UDP) < 0) {
			perror("serve: epoll_ctl");
			return 3;
		}
	}
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fprintf(f, "%d\n", (int) getpid()) < 0 || fclose(f) != 0) {
			fprintf(stderr, "serve: '%s': %s\n", ready, strerror(errno));
			return 3;
		}
	}

	for (;;) {
		struct epoll_event evs[SERVE_EVENTS];
		int n = epoll_wait(ep, evs, SERVE_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("serve: epoll_wait");
			return 3;
		}
		for (int i = 0; i < n; i++) {
			enum kind k = (enum kind)(evs[i].data.u64 >> 32);
			int fd = (int) (uint32_t) evs[i].data.u64;

			switch (k) {
			case K_SIGNAL:
				return 0;
			case K_LISTEN:
				tcp_accept(ep, fd, &n_conns);
				break;
			case K_UDP:
				udp_echo(fd);
				break;
			case K_CONN:
				tcp_echo(ep, fd, &n_conns);
				break;
			}
		}
	}
}
