/*
 * Preview alerts from NFLOG (nfnetlink_log) over libmnl.  See preview.h.
 *
 * The alert table is a fixed pool of max_alerts entries, a hash index and
 * a least-recently-seen list: a full table evicts the alert seen longest
 * ago (counted), so a scan across many addresses costs O(1) per packet and
 * never grows memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "ip_parse.h"
#include "json_out.h"
#include "preview.h"
#include "proto.h"
#include "rfc3339.h"

/* A batch of NFLOG messages in one datagram stays well below this. */
#define PREVIEW_RECV_BUF 65536
/* Socket receive buffer we ask for: a burst of a few thousand logged
 * packets between two wakeups must not overrun it. */
#define PREVIEW_RCVBUF (4 << 20)
/* The kernel sends a batch when PREVIEW_QTHRESH packets are queued or
 * after PREVIEW_FLUSH_CS hundredths of a second. */
#define PREVIEW_QTHRESH 32
#define PREVIEW_FLUSH_CS 5

struct alert_node {
	struct alert a;
	uint64_t hash;
	struct alert_node *hnext; /* hash chain */
	struct alert_node *prev, *next; /* least recently seen first */
};

struct preview {
	struct mnl_socket *nl; /* NULL for preview_new() */
	uint32_t portid;
	size_t max_alerts, n_alerts, n_buckets;
	struct alert_node *pool; /* max_alerts nodes */
	struct alert_node *free_list; /* chained through next */
	struct alert_node **buckets;
	struct alert_node *lru_head, *lru_tail;
	uint64_t seed;
	preview_resolve_fn *resolve;
	void *resolve_ud;
	preview_sink_fn *sink;
	void *sink_ud;
	struct preview_stats stats;
	uint8_t buf[PREVIEW_RECV_BUF];
};

struct preview *preview_new(size_t max_alerts)
{
	struct preview *p;

	if (max_alerts == 0)
		max_alerts = 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->max_alerts = max_alerts;
	p->n_buckets = 16;
	while (p->n_buckets < max_alerts)
		p->n_buckets <<= 1;
	p->pool = calloc(max_alerts, sizeof(*p->pool));
	p->buckets = calloc(p->n_buckets, sizeof(*p->buckets));
	if (!p->pool || !p->buckets)
		return preview_free(p);
	for (size_t i = 0; i < max_alerts; i++) {
		p->pool[i].next = p->free_list;
		p->free_list = &p->pool[i];
	}
	/* Keys come from packets: a per-process seed keeps a sender from
	 * steering every alert into one chain. */
	p->seed = hash_seed_random();
	return p;
}

void preview_set_resolver(struct preview *p, preview_resolve_fn *fn, void *userdata)
{
	p->resolve = fn;
	p->resolve_ud = userdata;
}

void preview_set_sink(struct preview *p, preview_sink_fn *fn, void *userdata)
{
	p->sink = fn;
	p->sink_ud = userdata;
}

struct preview *preview_free(struct preview *p)
{
	if (!p)
		return NULL;
	/* Closing the socket releases the group: the kernel destroys the
	 * instances bound by a netlink port when the port goes away. */
	if (p->nl)
		mnl_socket_close(p->nl);
	free(p->pool);
	free(p->buckets);
	free(p);
	return NULL;
}

static int config_send(struct preview *p, uint16_t group, struct bh_err *reterr)
{
	uint8_t buf[8192];
	struct nfulnl_msg_config_cmd cmd = { .command = NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = {
		.copy_range = htonl(PREVIEW_COPY_RANGE),
		.copy_mode = NFULNL_COPY_PACKET,
	};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	uint32_t seq = (uint32_t) time(NULL);
	ssize_t n;
	int r;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(group);
	/* One message: bind, then the copy mode and batching; the kernel
	 * applies the attributes in this order.  Its defaults batch up to 100
	 * packets or one second: an alert would show a second late, and a
	 * short-lived reader would miss the tail. */
	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(PREVIEW_QTHRESH));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(PREVIEW_FLUSH_CS));

	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog group %u: send config: %s",
				  group, strerror(errno));
	n = mnl_socket_recvfrom(p->nl, buf, sizeof(buf));
	if (n < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog group %u: config ack: %s",
				  group, strerror(errno));
	r = mnl_cb_run(buf, (size_t) n, seq, p->portid, NULL, NULL);
	if (r < 0) {
		r = -errno;
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "nflog group %u: bind: %s%s", group,
				  strerror(-r),
				  r == -EBUSY ? " (another process is bound to the group)" : "");
	}
	return 0;
}

int preview_open(uint16_t group, size_t max_alerts, struct preview **ret, struct bh_err *reterr)
{
	struct preview *p = preview_new(max_alerts);
	int fd, sz = PREVIEW_RCVBUF, r;

	if (!p)
		return bh_err_oom(reterr);
	p->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!p->nl) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog: netlink socket: %s",
			       strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog: bind: %s", strerror(errno));
		goto fail;
	}
	p->portid = mnl_socket_get_portid(p->nl);
	fd = mnl_socket_get_fd(p->nl);
	/* FORCE needs CAP_NET_ADMIN, which binding a group needs anyway; the
	 * plain call is the fallback that the rmem_max sysctl caps. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	r = config_send(p, group, reterr);
	if (r < 0)
		goto fail;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog: nonblocking: %s",
			       strerror(errno));
		goto fail;
	}
	*ret = p;
	return 0;

fail:
	preview_free(p);
	return r;
}

int preview_fd(const struct preview *p)
{
	return p->nl ? mnl_socket_get_fd(p->nl) : -1;
}

const struct preview_stats *preview_stats(const struct preview *p)
{
	return &p->stats;
}

size_t preview_alert_count(const struct preview *p)
{
	return p->n_alerts;
}

int nflog_payload_parse(const uint8_t *b, size_t len, struct nflog_pkt *pkt)
{
	const uint8_t *l4;
	struct ip_info ip;
	enum ip_result r;

	r = ip_parse(b, len, &ip);
	if (r == IP_NOT_IP)
		return -EPROTONOSUPPORT;
	/* Without a sound fixed header there are no addresses to alert on.
	 * Past it the kernel copied at most PREVIEW_COPY_RANGE bytes: a chain
	 * cut there (or hostile) still names the flow, only not its ports. */
	if (!(ip.flags & IP_F_HEADER))
		return -EBADMSG;
	ip_info_addrs(&ip, b, &pkt->src, &pkt->dst);
	pkt->len = ip.len;
	pkt->proto = ip.proto;
	pkt->sport = pkt->dport = 0;
	if (r != IP_OK || ip.l4_len < 4)
		return 0;
	switch (ip.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_UDPLITE:
		l4 = b + ip.l4_off;
		pkt->sport = (uint16_t) (l4[0] << 8 | l4[1]);
		pkt->dport = (uint16_t) (l4[2] << 8 | l4[3]);
		break;
	default:
		break;
	}
	return 0;
}

struct attr_tb {
	const struct nlattr *tb[NFULA_MAX + 1];
	bool bad;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attr_tb *t = data;
	uint16_t type = mnl_attr_get_type(attr);
	int ok = 0;

	if (type > NFULA_MAX)
		return MNL_CB_OK; /* newer kernel: skip what we do not know */
	switch (type) {
	case NFULA_PREFIX:
		ok = mnl_attr_validate(attr, MNL_TYPE_NUL_STRING);
		break;
	case NFULA_TIMESTAMP:
		ok = mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
					sizeof(struct nfulnl_msg_packet_timestamp));
		break;
	case NFULA_PACKET_HDR:
		ok = mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
					sizeof(struct nfulnl_msg_packet_hdr));
		break;
	default:
		break;
	}
	if (ok < 0) {
		t->bad = true;
		return MNL_CB_ERROR;
	}
	t->tb[type] = attr;
	return MNL_CB_OK;
}

int nflog_msg_parse(const void *msg, size_t len, struct nflog_pkt *ret)
{
	const struct nlmsghdr *nlh = msg;
	struct attr_tb t = { .bad = false };
	struct nflog_pkt pkt = { .proto = 0 };
	const char *prefix;
	int r;

	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		return -EBADMSG;
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return -EBADMSG;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)))
		return -EBADMSG;
	/* libmnl walks the attributes up to MNL_ALIGN(nlmsg_len): a message
	 * whose padding is not in @len would let it, and the attribute it
	 * accepts there, read past the buffer (found by fuzz.nflog).  The
	 * kernel always sends the padding. */
	if (MNL_ALIGN(nlh->nlmsg_len) > len)
		return -EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &t) < 0 || t.bad)
		return -EBADMSG;
	if (!t.tb[NFULA_PAYLOAD])
		return -EBADMSG;
	r = nflog_payload_parse(mnl_attr_get_payload(t.tb[NFULA_PAYLOAD]),
				mnl_attr_get_payload_len(t.tb[NFULA_PAYLOAD]), &pkt);
	if (r < 0)
		return r;
	if (t.tb[NFULA_PREFIX]) {
		prefix = mnl_attr_get_str(t.tb[NFULA_PREFIX]);
		snprintf(pkt.prefix, sizeof(pkt.prefix), "%s", prefix);
	}
	if (t.tb[NFULA_TIMESTAMP]) {
		struct nfulnl_msg_packet_timestamp ts;
		uint64_t sec, usec;

		/* memcpy: the attribute is only 4-byte aligned. */
		memcpy(&ts, mnl_attr_get_payload(t.tb[NFULA_TIMESTAMP]), sizeof(ts));
		sec = be64toh(ts.sec);
		usec = be64toh(ts.usec);
		if (sec < INT64_MAX / 1000000000 - 1 && usec < 1000000)
			pkt.ts_ns = (int64_t) sec * 1000000000 + (int64_t) usec * 1000;
	}
	*ret = pkt;
	return 0;
}

static uint64_t alert_hash(const struct preview *p, const struct nflog_pkt *k)
{
	struct {
		struct addr src, dst;
		uint16_t dport;
		uint8_t proto;
		uint8_t pad;
	} key = { .src = k->src, .dst = k->dst, .dport = k->dport, .proto = k->proto, .pad = 0 };

	return hash_bytes(&key, sizeof(key), p->seed) ^ hash_str(k->prefix, p->seed + 1);
}

static bool alert_match(const struct alert *a, const struct nflog_pkt *k)
{
	return a->proto == k->proto && a->dport == k->dport && addr_eq(&a->src, &k->src) &&
	       addr_eq(&a->dst, &k->dst) && strcmp(a->prefix, k->prefix) == 0;
}

static void lru_unlink(struct preview *p, struct alert_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		p->lru_head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		p->lru_tail = n->prev;
	n->prev = n->next = NULL;
}

static void lru_append(struct preview *p, struct alert_node *n)
{
	n->prev = p->lru_tail;
	n->next = NULL;
	if (p->lru_tail)
		p->lru_tail->next = n;
	else
		p->lru_head = n;
	p->lru_tail = n;
}

static void bucket_unlink(struct preview *p, struct alert_node *n)
{
	struct alert_node **pp = &p->buckets[n->hash & (p->n_buckets - 1)];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	n->hnext = NULL;
}

static void alert_observe(struct preview *p, const struct nflog_pkt *pkt, int64_t now_ns)
{
	uint64_t h = alert_hash(p, pkt);
	struct alert_node **bucket = &p->buckets[h & (p->n_buckets - 1)];
	int64_t ts = pkt->ts_ns ? pkt->ts_ns : now_ns;
	struct alert_node *n;

	for (n = *bucket; n; n = n->hnext)
		if (n->hash == h && alert_match(&n->a, pkt))
			break;
	if (!n) {
		if (p->free_list) {
			n = p->free_list;
			p->free_list = n->next;
			p->n_alerts++;
		} else {
			n = p->lru_head;
			lru_unlink(p, n);
			bucket_unlink(p, n);
			p->stats.evicted++;
		}
		memset(n, 0, sizeof(*n));
		n->hash = h;
		n->a.src = pkt->src;
		n->a.dst = pkt->dst;
		n->a.proto = pkt->proto;
		n->a.dport = pkt->dport;
		memcpy(n->a.prefix, pkt->prefix, sizeof(n->a.prefix));
		n->a.first_seen_ns = ts;
		n->hnext = *bucket;
		*bucket = n;
		lru_append(p, n);
		p->stats.alerts++;
	} else {
		lru_unlink(p, n);
		lru_append(p, n);
	}
	n->a.packets++;
	n->a.bytes += pkt->len;
	if (ts > n->a.last_seen_ns)
		n->a.last_seen_ns = ts;
	if (ts < n->a.first_seen_ns)
		n->a.first_seen_ns = ts;
}

int preview_feed(struct preview *p, const void *buf, size_t len, int64_t now_ns)
{
	int count = 0;

	/* Our own walk rather than mnl_nlmsg_ok()/mnl_nlmsg_next(): those
	 * compare nlmsg_len as an int, so a length above INT_MAX passes the
	 * check and the next step wraps (found by fuzz.nflog). */
	for (size_t off = 0; len - off >= sizeof(struct nlmsghdr);) {
		const struct nlmsghdr *nlh = (const void *) ((const uint8_t *) buf + off);
		size_t mlen = nlh->nlmsg_len;
		struct nflog_pkt pkt;
		int r;

		if (mlen < sizeof(*nlh) || mlen > len - off)
			break;
		off += mlen < len - off ? MNL_ALIGN(mlen) : mlen;
		if (off > len)
			off = len;
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
			continue; /* NOOP, ERROR (an ACK), DONE, OVERRUN */
		if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
			p->stats.malformed++;
			continue;
		}
		r = nflog_msg_parse(nlh, mlen, &pkt);
		if (r == -EPROTONOSUPPORT) {
			p->stats.non_ip++;
			continue;
		}
		if (r < 0) {
			p->stats.malformed++;
			continue;
		}
		p->stats.messages++;
		if (p->resolve) {
			char name[PREVIEW_PREFIX_MAX];

			if (p->resolve(pkt.prefix, &pkt.src, &pkt.dst, name, sizeof(name),
				       p->resolve_ud) == 0)
				memcpy(pkt.prefix, name, sizeof(pkt.prefix));
			else
				p->stats.unresolved++;
		}
		if (p->sink)
			p->sink(&pkt, pkt.ts_ns > 0 ? pkt.ts_ns : now_ns, p->sink_ud);
		else
			alert_observe(p, &pkt, now_ns);
		count++;
	}
	return count;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int preview_process(struct preview *p, struct bh_err *reterr)
{
	int total = 0;

	if (!p->nl)
		return 0;
	/* The budget counts datagrams; each holds at most PREVIEW_QTHRESH
	 * messages. */
	for (int i = 0; i < PREVIEW_BUDGET; i++) {
		ssize_t n = mnl_socket_recvfrom(p->nl, p->buf, sizeof(p->buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* The socket buffer overflowed and the kernel
				 * dropped logged packets.  Count it; the
				 * rate-limited rules log the same flows again in
				 * the next interval, so there is nothing to
				 * resync. */
				p->stats.overruns++;
				continue;
			}
			return bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "nflog: receive: %s",
					  strerror(errno));
		}
		total += preview_feed(p, p->buf, (size_t) n, realtime_ns());
	}
	return total;
}

int preview_alert_foreach(const struct preview *p, preview_alert_fn *cb, void *userdata)
{
	for (const struct alert_node *n = p->lru_head; n; n = n->next) {
		int r = cb(&n->a, userdata);

		if (r != 0)
			return r;
	}
	return 0;
}

void preview_reset(struct preview *p)
{
	memset(p->buckets, 0, p->n_buckets * sizeof(*p->buckets));
	p->free_list = NULL;
	for (size_t i = 0; i < p->max_alerts; i++) {
		p->pool[i].next = p->free_list;
		p->free_list = &p->pool[i];
	}
	p->lru_head = p->lru_tail = NULL;
	p->n_alerts = 0;
}

static int json_time(struct buf *out, const char *key, int64_t ns)
{
	char s[RFC3339_STR_MAX];

	if (!rfc3339_format_ns(ns, 6, s, sizeof(s)))
		return buf_printf(out, ",\"%s\":null", key);
	return buf_printf(out, ",\"%s\":\"%s\"", key, s);
}

int alert_format_json(const struct alert *a, struct buf *out)
{
	char src[ADDR_STR_MAX], dst[ADDR_STR_MAX];
	const char *proto = proto_name(a->proto);
	int r;

	r = buf_printf(out, "{\"src\":\"%s\",\"dst\":\"%s\",",
		       addr_format(&a->src, src, sizeof(src)),
		       addr_format(&a->dst, dst, sizeof(dst)));
	if (r < 0)
		return r;
	r = proto ? buf_printf(out, "\"protocol\":\"%s\"", proto) :
		    buf_printf(out, "\"protocol\":%u", a->proto);
	if (r < 0)
		return r;
	r = buf_printf(out, ",\"port\":%u,\"prefix\":", a->dport);
	if (r == 0)
		r = json_escape_append(out, a->prefix, strlen(a->prefix));
	if (r == 0)
		r = buf_printf(out, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64, a->packets,
			       a->bytes);
	if (r == 0)
		r = json_time(out, "first_seen", a->first_seen_ns);
	if (r == 0)
		r = json_time(out, "last_seen", a->last_seen_ns);
	if (r == 0)
		r = buf_append(out, "}", 1);
	return r;
}
