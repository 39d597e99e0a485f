/*
 * bench_nft_events PREFIX [SET]: the kernel's side of
 * bench-agent-events.sh.  Prints "TIME_NS ADDRESS" (wall clock) for every
 * IPv4 set element whose address starts with PREFIX (text), the first
 * time the kernel is seen to hold it.  Runs until killed; "# ready" once
 * it watches.
 *
 * Without SET: listens to nf_tables' notifications (NFNLGRP_NFTABLES, sent
 * at commit), every set, elements added; a lost burst prints
 * "# ENOBUFS".  A subscriber makes the kernel build a notification for
 * every object of a batch: a full replace of a 10,000-pod table then
 * takes several times as long, so the benchmark polls instead.
 * With SET: dumps that set of table inet bulkhead over and over
 * (NFT_MSG_GETSETELEM, about every millisecond) and prints an address the
 * first time a dump holds it (the time the dump ended): an upper bound
 * of when the kernel held it, by one dump.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

struct ctx {
	const char *prefix;
	long long now;
	unsigned char seen[1 << 13]; /* by the low 16 bits (poll mode) */
	bool poll;
};

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctx *c = data;
	struct nftnl_set *s;
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM)
		return MNL_CB_OK;
	s = nftnl_set_alloc();
	if (!s)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return MNL_CB_OK;
	}
	it = nftnl_set_elems_iter_create(s);
	for (e = it ? nftnl_set_elems_iter_next(it) : NULL; e; e = nftnl_set_elems_iter_next(it)) {
		uint32_t len = 0;
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		char ip[INET_ADDRSTRLEN];

		if (!key || len != 4 || !inet_ntop(AF_INET, key, ip, sizeof(ip)))
			continue;
		if (strncmp(ip, c->prefix, strlen(c->prefix)) != 0)
			continue;
		if (c->poll) {
			const unsigned char *b = key;
			unsigned low = (unsigned) b[2] << 8 | b[3];

			if (c->seen[low >> 3] & (1u << (low & 7)))
				continue;
			c->seen[low >> 3] |= (unsigned char) (1u << (low & 7));
		}
		printf("%lld %s\n", c->now, ip);
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Dumps @set, the elements held at the end of the dump printed. */
static int poll_set(struct mnl_socket *nl, const char *set, struct ctx *c)
{
	static char buf[1 << 22];
	static struct nlmsghdr *msgs[1 << 14];
	static size_t lens[1 << 14];
	unsigned portid = mnl_socket_get_portid(nl);
	unsigned seq = (unsigned) time(NULL);
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	size_t off = 0, n_msgs = 0;
	int r;

	if (!s)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "bulkhead");
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	/* The whole dump first, then the time, then the elements. */
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf + off, sizeof(buf) - off);

		if (n <= 0 || n_msgs == sizeof(msgs) / sizeof(msgs[0]))
			return -1;
		r = mnl_cb_run(buf + off, (size_t) n, seq, portid, NULL, NULL);
		msgs[n_msgs] = (struct nlmsghdr *) (void *) (buf + off);
		lens[n_msgs++] = (size_t) n;
		off += (size_t) n;
		if (r <= MNL_CB_STOP || off + 65536 > sizeof(buf))
			break;
	}
	c->now = now_ns();
	for (size_t i = 0; i < n_msgs; i++)
		(void) mnl_cb_run(msgs[i], lens[i], seq, portid, msg_cb, c);
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	static struct ctx c;
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int rcvbuf = 256 << 20;

	c.prefix = argc > 1 ? argv[1] : "";
	if (argc > 2) {
		struct timespec ms = { .tv_nsec = 1000000 };

		c.poll = true;
		if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			perror("bench_nft_events: netlink");
			return 1;
		}
		printf("# ready\n");
		fflush(stdout);
		for (;;) {
			(void) poll_set(nl, argv[2], &c);
			fflush(stdout);
			nanosleep(&ms, NULL);
		}
	}

	if (!nl || mnl_socket_bind(nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		perror("bench_nft_events: netlink");
		return 1;
	}
	(void) setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
			  sizeof(rcvbuf));
	printf("# ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0 && errno == ENOBUFS) {
			printf("# ENOBUFS\n");
			continue;
		}
		if (n < 0) {
			perror("bench_nft_events: recv");
			return 1;
		}
		c.now = now_ns();
		(void) mnl_cb_run(buf, (size_t) n, 0, 0, msg_cb, &c);
		fflush(stdout);
	}
}
