/*
 * probe: the client side of the netns tests.  Run inside a pod namespace.
 *
 *   probe [--timeout-ms N] < TARGETS
 *	TARGETS: one "ID ADDR PORT TCP|UDP" per line.  Every target is tried
 *	at once with nonblocking sockets; one JSON line per target is printed
 *	in input order:
 *	  {"id":"x/b","addr":"10.0.0.2","port":80,"protocol":"TCP",
 *	   "ok":true,"result":"connected"}
 *	result: connected / reply (ok), refused, timeout, error (not ok).
 *	TCP is ok when the handshake completes; UDP when the server's echo of
 *	our datagram comes back (sent again every quarter of the timeout).  A
 *	dropped packet shows as a timeout, so the timeout is short (400 ms).
 *
 *   probe --rate SECONDS [--parallel N] ADDR PORT[-LAST]
 *	New-connection rate: TCP connect + reset-close in a loop with N in
 *	flight, for SECONDS; prints {"connections":..,"failures":..,
 *	"seconds":..,"per_second":..}.  With a range, connection k goes to
 *	port PORT + k mod (LAST - PORT + 1): more distinct 4-tuples, so the
 *	kernel's ephemeral ports do not bring back a tuple that conntrack
 *	still holds in CLOSE state (10 s after a reset), which would measure
 *	conntrack's reopen path (kill the old entry, look up again) on every
 *	connection instead of a new one.
 *
 * Exit status 0 when it ran (whatever the verdicts), 2 bad input, 3 system.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TARGETS_MAX 4096
#define PROBE_ID_MAX 128

enum result { R_PENDING, R_CONNECTED, R_REPLY, R_REFUSED, R_TIMEOUT, R_ERROR };

static const char *const result_names[] = {
	[R_PENDING] = "pending", [R_CONNECTED] = "connected", [R_REPLY] = "reply",
	[R_REFUSED] = "refused", [R_TIMEOUT] = "timeout",     [R_ERROR] = "error",
};

struct target {
	char id[PROBE_ID_MAX];
	char addr_s[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint16_t port;
	bool udp;
	int fd;
	enum result result;
	char payload[64];
	size_t payload_len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	long p = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -EINVAL;
	*ret = (uint16_t) p;
	return 0;
}

static enum result errno_result(int e)
{
	return e == ECONNREFUSED ? R_REFUSED : R_ERROR;
}

/* Starts one target; a result may already be final on return. */
static void target_start(int ep, struct target *t, size_t idx)
{
	struct epoll_event ev = { .data.u64 = idx };

	t->fd = socket(t->sa.ss_family,
		       (t->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		t->result = R_ERROR;
		return;
	}
	if (connect(t->fd, (struct sockaddr *) &t->sa, t->sa_len) < 0 && errno != EINPROGRESS) {
		t->result = errno_result(errno);
		return;
	}
	if (t->udp) {
		t->payload_len = (size_t) snprintf(t->payload, sizeof(t->payload), "bhprobe %d %zu",
						   (int) getpid(), idx);
		if (send(t->fd, t->payload, t->payload_len, 0) < 0) {
			t->result = errno_result(errno);
			return;
		}
		ev.events = EPOLLIN;
	} else {
		ev.events = EPOLLOUT;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev) < 0)
		t->result = R_ERROR;
}

static void target_event(struct target *t)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (!t->udp) {
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		t->result = err == 0 ? R_CONNECTED : errno_result(err);
		return;
	}
	for (;;) {
		char buf[128];
		ssize_t n = recv(t->fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				t->result = errno_result(errno);
			return;
		}
		if ((size_t) n == t->payload_len && memcmp(buf, t->payload, t->payload_len) == 0) {
			t->result = R_REPLY;
			return;
		}
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char) *s < 0x20)
			printf("\\u%04x", (unsigned) (unsigned char) *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int run_matrix(int timeout_ms)
{
	static struct target targets[PROBE_TARGETS_MAX];
	char line[512];
	size_t n = 0, pending = 0, lineno = 0;
	int64_t start, deadline, next_resend;
	int ep;

	while (fgets(line, sizeof(line), stdin)) {
		char id[PROBE_ID_MAX], addr[INET6_ADDRSTRLEN], port[16], proto[16];
		struct target *t;

		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (sscanf(line, "%127s %45s %15s %15s", id, addr, port, proto) != 4) {
			fprintf(stderr, "probe: stdin line %zu: expected 'ID ADDR PORT PROTO'\n",
				lineno);
			return 2;
		}
		if (n == PROBE_TARGETS_MAX) {
			fprintf(stderr, "probe: more than %d targets\n", PROBE_TARGETS_MAX);
			return 2;
		}
		t = &targets[n];
		memset(t, 0, sizeof(*t));
		t->fd = -1;
		snprintf(t->id, sizeof(t->id), "%s", id);
		snprintf(t->addr_s, sizeof(t->addr_s), "%s", addr);
		if (parse_port(port, &t->port) < 0 ||
		    parse_addr(addr, t->port, &t->sa, &t->sa_len) < 0) {
			fprintf(stderr, "probe: stdin line %zu: bad address '%s' or port '%s'\n",
				lineno, addr, port);
			return 2;
		}
		if (strcmp(proto, "TCP") == 0) {
			t->udp = false;
		} else if (strcmp(proto, "UDP") == 0) {
			t->udp = true;
		} else {
			fprintf(stderr,
				"probe: stdin line %zu: protocol '%s': expected TCP or UDP\n",
				lineno, proto);
			return 2;
		}
		n++;
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("probe: epoll_create1");
		return 3;
	}
	start = now_ms();
	deadline = start + timeout_ms;
	next_resend = start + timeout_ms / 4;
	for (size_t i = 0; i < n; i++) {
		target_start(ep, &targets[i], i);
		if (targets[i].result == R_PENDING)
			pending++;
	}
	while (pending > 0) {
		struct epoll_event evs[64];
		int64_t now = now_ms();
		int k;

		if (now >= deadline)
			break;
		if (now >= next_resend) {
			/* UDP has no handshake: a datagram lost to a cold neighbour
			 * cache must not read as a drop, so send it again. */
			for (size_t i = 0; i < n; i++)
				if (targets[i].udp && targets[i].result == R_PENDING)
					(void) send(targets[i].fd, targets[i].payload,
						    targets[i].payload_len, 0);
			next_resend = now + timeout_ms / 4;
		}
		k = epoll_wait(ep, evs, 64,
			       (int) ((next_resend < deadline ? next_resend : deadline) - now));
		if (k < 0 && errno != EINTR) {
			perror("probe: epoll_wait");
			return 3;
		}
		for (int i = 0; i < k; i++) {
			struct target *t = &targets[evs[i].data.u64];

			if (t->result != R_PENDING)
				continue;
			target_event(t);
			if (t->result != R_PENDING) {
				(void) epoll_ctl(ep, EPOLL_CTL_DEL, t->fd, NULL);
				pending--;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct target *t = &targets[i];

		if (t->result == R_PENDING)
			t->result = R_TIMEOUT;
		if (t->fd >= 0)
			close(t->fd);
		printf("{\"id\":");
		json_str(t->id);
		printf(",\"addr\":");
		json_str(t->addr_s);
		printf(",\"port\":%u,\"protocol\":\"%s\",\"ok\":%s,\"result\":\"%s\"}\n", t->port,
		       t->udp ? "UDP" : "TCP",
		       t->result == R_CONNECTED || t->result == R_REPLY ? "true" : "false",
		       result_names[t->result]);
	}
	close(ep);
	return fflush(stdout) == 0 ? 0 : 3;
}

static int rate_open(int ep, const struct sockaddr_storage *sa, socklen_t len)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* Close with a reset: no TIME_WAIT, so a long loop cannot run out of
	 * ephemeral ports and measure that instead of the ruleset. */
	(void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	ev.data.fd = fd;
	if ((connect(fd, (const struct sockaddr *) sa, len) < 0 && errno != EINPROGRESS) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* The next destination of the connection loop: the ports of the range in
 * turn. */
static void rate_next_port(struct sockaddr_storage *sa, uint16_t first, uint16_t last, uint64_t k)
{
	uint16_t port = htons((uint16_t) (first + k % ((uint64_t) (last - first) + 1)));

	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *) sa)->sin_port = port;
	else
		((struct sockaddr_in6 *) sa)->sin6_port = port;
}

static int run_rate(double seconds, int parallel, const char *addr, const char *port_s)
{
	struct sockaddr_storage sa;
	socklen_t len;
	uint16_t port, last;
	uint64_t ok = 0, failed = 0, started = 0;
	int64_t start, end;
	int ep, open = 0;
	char first_s[8] = "", *dash = strchr(port_s, '-');

	if (dash && (size_t) (dash - port_s) < sizeof(first_s))
		memcpy(first_s, port_s, (size_t) (dash - port_s));
	if (parse_port(dash ? first_s : port_s, &port) < 0 ||
	    parse_port(dash ? dash + 1 : port_s, &last) < 0 || last < port ||
	    parse_addr(addr, port, &sa, &len) < 0) {
		fprintf(stderr, "probe: --rate: bad address '%s' or port '%s'\n", addr, port_s);
		return 2;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 3;
	start = now_ms();
	end = start + (int64_t) (seconds * 1000);
	for (int i = 0; i < parallel; i++) {
		rate_next_port(&sa, port, last, started++);
		if (rate_open(ep, &sa, len) < 0) {
			perror("probe: --rate: socket");
			return 3;
		}
		open++;
	}
	while (open > 0) {
		struct epoll_event evs[64];
		int64_t now = now_ms();
		int k = epoll_wait(ep, evs, 64, now < end ? (int) (end - now) : 1000);

		if (k < 0 && errno != EINTR)
			return 3;
		if (k == 0 && now_ms() >= end + 1000)
			break; /* stragglers into a drop: stop waiting */
		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			(void) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err == 0)
				ok++;
			else
				failed++;
			(void) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			open--;
			if (now_ms() < end) {
				rate_next_port(&sa, port, last, started++);
				if (rate_open(ep, &sa, len) < 0) {
					failed++;
					continue;
				}
				open++;
			}
		}
	}
	seconds = (double) (now_ms() - start) / 1000.0;
	printf("{\"connections\":%llu,\"failures\":%llu,\"seconds\":%.3f,\"per_second\":%.1f}\n",
	       (unsigned long long) ok, (unsigned long long) failed, seconds,
	       (double) ok / seconds);
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	int timeout_ms = 400, parallel = 4;
	double rate = 0;
	int i;

	for (i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0' || v < 10 || v > 60000) {
				fprintf(stderr, "probe: --timeout-ms: expected 10..60000\n");
				return 2;
			}
			timeout_ms = (int) v;
		} else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
			rate = strtod(argv[++i], &end);
			if (*end != '\0' || rate <= 0 || rate > 3600) {
				fprintf(stderr, "probe: --rate: expected seconds, 0..3600\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--parallel") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0' || v < 1 || v > 256) {
				fprintf(stderr, "probe: --parallel: expected 1..256\n");
				return 2;
			}
			parallel = (int) v;
		} else {
			break;
		}
	}
	if (rate > 0) {
		if (argc - i != 2) {
			fprintf(stderr,
				"usage: probe --rate SECONDS [--parallel N] ADDR PORT[-LAST]\n");
			return 2;
		}
		return run_rate(rate, parallel, argv[i], argv[i + 1]);
	}
	if (i != argc) {
		fprintf(stderr, "usage: probe [--timeout-ms N] < TARGETS\n");
		return 2;
	}
	return run_matrix(timeout_ms);
}
