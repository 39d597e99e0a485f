/*
 * Conntrack over ctnetlink with libmnl, as conntrack-tools does it: one
 * socket subscribed to the NEW and DESTROY event groups, and a separate
 * socket for dumps so that dump replies and events never interleave.  Both
 * sit in a private epoll set whose fd is what the caller polls.
 *
 * Event overruns: when the kernel cannot queue an event it drops it and
 * the next recv() fails with ENOBUFS.  Our view is then incomplete, so we
 * count it and ask for a full dump (conntrackd's nl_overrun + resync); a
 * dump flagged NLM_F_DUMP_INTR (the table changed under it) is redone.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ctmon.h"
#include "learn.h"
#include "proto.h"

/* recv() calls per socket per ctmon_process(): bounded work per wakeup. */
#define CTMON_BUDGET 32
/* Large enough for a dump batch (the kernel fills up to 32 KiB skbs). */
#define CTMON_BUF_SIZE 65536

enum dump_state {
	DUMP_IDLE,
	DUMP_RUNNING,
};

struct ctmon {
	struct learn *l;
	struct mnl_socket *ev, *dump;
	int epfd;
	uint32_t dump_seq;
	enum dump_state dump_state;
	bool dump_is_resync, dump_intr, dump_again;
	struct ctmon_stats stats;
	uint8_t buf[CTMON_BUF_SIZE];
};

/* ---- parsing (pure) ---- */

struct attrs {
	const struct nlattr **tb;
	int max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	int type = mnl_attr_get_type(a);

	/* Unknown attributes are skipped: newer kernels add them. */
	if (type <= at->max)
		at->tb[type] = a;
	return MNL_CB_OK;
}

static int parse_nested(const struct nlattr *a, const struct nlattr **tb, int max)
{
	struct attrs at = { tb, max };

	memset(tb, 0, sizeof(*tb) * (size_t) (max + 1));
	return mnl_attr_parse_nested(a, attr_cb, &at) < 0 ? -EBADMSG : 0;
}

static int parse_tuple(const struct nlattr *nest, struct ct_tuple *t)
{
	const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];

	if (!nest || parse_nested(nest, tb, CTA_TUPLE_MAX) < 0)
		return -EBADMSG;
	if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO])
		return -EBADMSG;
	if (parse_nested(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX) < 0 ||
	    parse_nested(tb[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX) < 0)
		return -EBADMSG;

	memset(t, 0, sizeof(*t));
	if (ip[CTA_IP_V4_SRC] && ip[CTA_IP_V4_DST]) {
		if (mnl_attr_validate(ip[CTA_IP_V4_SRC], MNL_TYPE_U32) < 0 ||
		    mnl_attr_validate(ip[CTA_IP_V4_DST], MNL_TYPE_U32) < 0)
			return -EBADMSG;
		addr_from_v4(&t->src, mnl_attr_get_payload(ip[CTA_IP_V4_SRC]));
		addr_from_v4(&t->dst, mnl_attr_get_payload(ip[CTA_IP_V4_DST]));
	} else if (ip[CTA_IP_V6_SRC] && ip[CTA_IP_V6_DST]) {
		if (mnl_attr_get_payload_len(ip[CTA_IP_V6_SRC]) != 16 ||
		    mnl_attr_get_payload_len(ip[CTA_IP_V6_DST]) != 16)
			return -EBADMSG;
		addr_from_v6(&t->src, mnl_attr_get_payload(ip[CTA_IP_V6_SRC]));
		addr_from_v6(&t->dst, mnl_attr_get_payload(ip[CTA_IP_V6_DST]));
	} else {
		return -EBADMSG;
	}
	if (!pr[CTA_PROTO_NUM] || mnl_attr_validate(pr[CTA_PROTO_NUM], MNL_TYPE_U8) < 0)
		return -EBADMSG;
	t->proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (pr[CTA_PROTO_SRC_PORT] && pr[CTA_PROTO_DST_PORT]) {
		if (mnl_attr_validate(pr[CTA_PROTO_SRC_PORT], MNL_TYPE_U16) < 0 ||
		    mnl_attr_validate(pr[CTA_PROTO_DST_PORT], MNL_TYPE_U16) < 0)
			return -EBADMSG;
		t->sport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]));
		t->dport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]));
	}
	return 0;
}

static void parse_counters(const struct nlattr *nest, struct ct_conn *c)
{
	const struct nlattr *tb[CTA_COUNTERS_MAX + 1];

	if (!nest || parse_nested(nest, tb, CTA_COUNTERS_MAX) < 0)
		return;
	if (tb[CTA_COUNTERS_PACKETS] &&
	    mnl_attr_validate(tb[CTA_COUNTERS_PACKETS], MNL_TYPE_U64) == 0)
		c->packets += be64toh(mnl_attr_get_u64(tb[CTA_COUNTERS_PACKETS]));
	if (tb[CTA_COUNTERS_BYTES] && mnl_attr_validate(tb[CTA_COUNTERS_BYTES], MNL_TYPE_U64) == 0)
		c->bytes += be64toh(mnl_attr_get_u64(tb[CTA_COUNTERS_BYTES]));
}

int ctmon_msg_parse(const void *buf, size_t len, bool is_dump, struct ct_conn *ret,
		    enum ct_msg_type *ret_type)
{
	const struct nlmsghdr *nlh = buf;
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	struct attrs at = { tb, CTA_MAX };
	struct ct_conn c = { 0 };
	uint16_t type;

	/* Not mnl_nlmsg_ok(): it compares nlmsg_len as an int, so a length
	 * above INT_MAX passes it (found by fuzz.ctnl). */
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EBADMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
		return -EBADMSG;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -EPROTONOSUPPORT;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE)
		return -EPROTONOSUPPORT;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &at) < 0)
		return -EBADMSG;
	if (parse_tuple(tb[CTA_TUPLE_ORIG], &c.orig) < 0 ||
	    parse_tuple(tb[CTA_TUPLE_REPLY], &c.reply) < 0)
		return -EBADMSG;
	if (c.orig.src.family != c.reply.src.family || c.orig.proto != c.reply.proto)
		return -EBADMSG;
	if (tb[CTA_ID] && mnl_attr_validate(tb[CTA_ID], MNL_TYPE_U32) == 0)
		c.id = ntohl(mnl_attr_get_u32(tb[CTA_ID]));
	parse_counters(tb[CTA_COUNTERS_ORIG], &c);
	parse_counters(tb[CTA_COUNTERS_REPLY], &c);
	*ret = c;
	if (type == IPCTNL_MSG_CT_DELETE)
		*ret_type = CT_MSG_DESTROY;
	else
		*ret_type = is_dump ? CT_MSG_DUMP : CT_MSG_NEW;
	return 0;
}

/* ---- the monitor ---- */

static int sys_fail(struct ctmon *m, int code, const char *what, struct bh_err *reterr)
{
	int r = bh_err_set(reterr, BH_ERR_SYSTEM, code, "conntrack: %s: %s", what, strerror(-code));

	ctmon_free(m);
	return r;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int dump_start(struct ctmon *m, bool resync)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	if (m->dump_state == DUMP_RUNNING) {
		/* The running dump may already miss what was lost. */
		m->dump_again = true;
		return 0;
	}
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++m->dump_seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (mnl_socket_sendto(m->dump, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	m->dump_state = DUMP_RUNNING;
	m->dump_is_resync = resync;
	m->dump_intr = false;
	m->dump_again = false;
	if (resync)
		m->stats.resyncs++;
	return 0;
}

static int learn_msg(struct ctmon *m, const struct nlmsghdr *nlh, bool is_dump)
{
	enum ct_msg_type type;
	enum learn_ct_kind kind;
	struct ct_conn c;
	int r;

	r = ctmon_msg_parse(nlh, nlh->nlmsg_len, is_dump, &c, &type);
	if (r == -EPROTONOSUPPORT)
		return 0;
	if (r < 0) {
		m->stats.bad++;
		return 0;
	}
	m->stats.events++;
	switch (type) {
	case CT_MSG_DUMP:
		kind = m->dump_is_resync ? LEARN_CT_RESYNC : LEARN_CT_DUMP;
		break;
	case CT_MSG_DESTROY:
		kind = LEARN_CT_DESTROY;
		break;
	default:
		kind = LEARN_CT_NEW;
		break;
	}
	return learn_conntrack(m->l, &c, kind, time(NULL));
}

/* mnl_cb_run() reports a callback's failure through errno. */
static int cb_result(int r)
{
	if (r < 0) {
		errno = -r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int dump_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctmon *m = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		m->dump_intr = true;
	return cb_result(learn_msg(m, nlh, true));
}

static int event_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return cb_result(learn_msg(data, nlh, false));
}

static int process_dump(struct ctmon *m, struct bh_err *reterr)
{
	int handled = 0;

	for (int i = 0; i < CTMON_BUDGET && m->dump_state == DUMP_RUNNING; i++) {
		ssize_t n = mnl_socket_recvfrom(m->dump, m->buf, sizeof(m->buf));
		int r;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "conntrack: dump: %s",
					  strerror(errno));
		}
		handled++;
		r = mnl_cb_run(m->buf, (size_t) n, m->dump_seq, mnl_socket_get_portid(m->dump),
			       dump_msg_cb, m);
		if (r == MNL_CB_STOP) {
			m->dump_state = DUMP_IDLE;
			if (m->dump_intr)
				m->stats.dump_intr++;
			if (m->dump_intr || m->dump_again) {
				r = dump_start(m, true);
				if (r < 0)
					return bh_err_set(reterr, BH_ERR_SYSTEM, r,
							  "conntrack: dump: %s", strerror(-r));
			}
		} else if (r < 0) {
			if (errno == ENOMEM)
				return bh_err_oom(reterr);
			if (errno == EINTR) {
				/* NLM_F_DUMP_INTR on the done message (kernel < 6.x
				 * reports it as an error there): redo. */
				m->dump_state = DUMP_IDLE;
				m->stats.dump_intr++;
				(void) dump_start(m, true);
				continue;
			}
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "conntrack: dump: %s",
					  strerror(errno));
		}
	}
	return handled;
}

static int process_events(struct ctmon *m, struct bh_err *reterr)
{
	int handled = 0;

	for (int i = 0; i < CTMON_BUDGET; i++) {
		ssize_t n = mnl_socket_recvfrom(m->ev, m->buf, sizeof(m->buf));
		int r;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* Events were lost; a log line per loss would only add
				 * load.  Count it and resync from a full dump. */
				m->stats.overruns++;
				r = dump_start(m, true);
				if (r < 0)
					return bh_err_set(reterr, BH_ERR_SYSTEM, r,
							  "conntrack: resync dump: %s",
							  strerror(-r));
				continue;
			}
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "conntrack: events: %s",
					  strerror(errno));
		}
		handled++;
		r = mnl_cb_run(m->buf, (size_t) n, 0, 0, event_msg_cb, m);
		if (r < 0 && errno == ENOMEM)
			return bh_err_oom(reterr);
	}
	return handled;
}

int ctmon_process(struct ctmon *m, struct bh_err *reterr)
{
	int a, b;

	a = process_events(m, reterr);
	if (a < 0)
		return a;
	b = process_dump(m, reterr);
	if (b < 0)
		return b;
	return a + b;
}

static int open_sock(struct mnl_socket **ret, unsigned groups, size_t rcvbuf)
{
	struct mnl_socket *s = mnl_socket_open(NETLINK_NETFILTER);
	int fd, sz = rcvbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int) rcvbuf, r;

	if (!s)
		return -errno;
	if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(s);
		return r;
	}
	fd = mnl_socket_get_fd(s);
	/* RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN, which
	 * ctnetlink needs anyway; fall back to what we may have. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	r = set_nonblock(fd);
	if (r < 0) {
		mnl_socket_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

int ctmon_new(struct learn *l, size_t rcvbuf, struct ctmon **ret, struct bh_err *reterr)
{
	struct ctmon *m = calloc(1, sizeof(*m));
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	if (!m)
		return bh_err_oom(reterr);
	m->l = l;
	m->epfd = -1;
	/* Event bursts (a pod opening thousands of connections) must fit
	 * while we are busy elsewhere; the kernel may clamp the size. */
	r = open_sock(&m->ev, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY,
		      rcvbuf ? rcvbuf : CTMON_RCVBUF_DEFAULT);
	if (r < 0)
		return sys_fail(m, r, "event socket", reterr);
	r = open_sock(&m->dump, 0, CTMON_RCVBUF_DEFAULT);
	if (r < 0)
		return sys_fail(m, r, "dump socket", reterr);
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		return sys_fail(m, -errno, "epoll", reterr);
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(m->ev), &ev) < 0 ||
	    epoll_ctl(m->epfd, EPOLL_CTL_ADD, mnl_socket_get_fd(m->dump), &ev) < 0)
		return sys_fail(m, -errno, "epoll", reterr);
	/* Subscribed first, then dumped: a connection made in between is
	 * seen twice rather than never. */
	r = dump_start(m, false);
	if (r < 0)
		return sys_fail(m, r, "dump request", reterr);
	*ret = m;
	return 0;
}

struct ctmon *ctmon_free(struct ctmon *m)
{
	if (!m)
		return NULL;
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->ev)
		mnl_socket_close(m->ev);
	if (m->dump)
		mnl_socket_close(m->dump);
	free(m);
	return NULL;
}

int ctmon_fd(const struct ctmon *m)
{
	return m->epfd;
}

bool ctmon_dumping(const struct ctmon *m)
{
	return m->dump_state == DUMP_RUNNING;
}

const struct ctmon_stats *ctmon_stats(const struct ctmon *m)
{
	return &m->stats;
}
