/*
 * The preview alert reader: an NFLOG (nfnetlink_log) subscriber.  In preview
 * mode the ruleset logs every packet the policy set would deny to an NFLOG
 * group (with a prefix naming the deciding direction and pod, see
 * include/ruleset.h) and accepts it.  This module binds that group, parses
 * each logged packet (IPv4/IPv6 header and L4 ports) and aggregates them
 * into alerts: one per (source, destination, protocol, destination port,
 * prefix), with counts and first/last seen, in a bounded table.
 *
 * Like every enforcer/ module it owns no loop: the agent polls
 * preview_fd() and calls preview_process(), which does bounded work.
 * Loop thread only; nothing here is thread-safe.
 */
#ifndef BH_PREVIEW_H
#define BH_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bh.h"
#include "buf.h"
#include "err.h"

/* Longest NFLOG prefix the kernel passes (NF_LOG_PREFIXLEN, with NUL). */
#define PREVIEW_PREFIX_MAX 128
/* Bytes of each packet the kernel copies to us: IPv6 header, a few
 * extension headers and the L4 ports. */
#define PREVIEW_COPY_RANGE 256
/* Netlink datagrams read per preview_process() call. */
#define PREVIEW_BUDGET 256

/* One logged packet, as parsed from one NFULNL_MSG_PACKET message. */
struct nflog_pkt {
	struct addr src, dst;
	uint8_t proto; /* IPPROTO_* (an IPv6 extension header when the chain
			* was cut before the L4 header); 0 when not IP */
	uint16_t sport, dport; /* 0 for protocols without ports, or fragments */
	uint32_t len; /* IP total length as claimed by the header (the
		       * copied length when it claims 0: TSO, jumbogram) */
	char prefix[PREVIEW_PREFIX_MAX]; /* "" when the rule gave none */
	int64_t ts_ns; /* NFULA_TIMESTAMP (unix ns), 0 when absent */
};

/* An aggregated would-deny flow. */
struct alert {
	struct addr src, dst;
	uint8_t proto;
	uint16_t dport;
	char prefix[PREVIEW_PREFIX_MAX];
	uint64_t packets; /* logged packets (the kernel logs a flow at most
			   * once per interval, so this counts intervals) */
	uint64_t bytes;
	int64_t first_seen_ns, last_seen_ns; /* unix ns */
};

struct preview_stats {
	uint64_t messages; /* NFLOG packet messages parsed */
	uint64_t malformed; /* messages or payloads that did not parse */
	uint64_t non_ip; /* payloads that were not IPv4/IPv6 */
	uint64_t alerts; /* distinct alerts created */
	uint64_t evicted; /* alerts dropped because the table was full */
	uint64_t overruns; /* ENOBUFS: the kernel dropped messages for us */
	uint64_t unresolved; /* prefixes the resolver could not map (kept) */
};

struct preview;

/*
 * Binds NFLOG @group in the current network namespace (copy-packet mode,
 * PREVIEW_COPY_RANGE bytes) and keeps at most @max_alerts alerts.  The
 * socket is nonblocking.  -EPERM without CAP_NET_ADMIN, -EBUSY when another
 * process holds the group, -errno otherwise; @reterr says which.
 */
int preview_open(uint16_t group, size_t max_alerts, struct preview **ret, struct bh_err *reterr);

/* A table without a socket, fed only through preview_feed() (tests, fuzz,
 * replay of recorded messages).  NULL on allocation failure. */
struct preview *preview_new(size_t max_alerts);

/* Unbinds the group, closes the socket, frees every alert.  NULL-safe;
 * returns NULL. */
struct preview *preview_free(struct preview *p);

/*
 * The ruleset logs a class prefix (include/ruleset.h); alerts name the
 * pod that decided.  When set, @fn maps each logged packet's prefix and
 * addresses to the prefix its alert carries, into @out (@len bytes), and
 * returns 0; anything else keeps the logged prefix (counted in
 * stats.unresolved).  Called once per logged packet, loop thread; @fn
 * must not keep the pointers.  Used with ruleset_alert_pod() and
 * ruleset_pod_prefix(); NULL turns it off.
 */
typedef int preview_resolve_fn(const char *prefix, const struct addr *src, const struct addr *dst,
			       char *out, size_t len, void *userdata);
void preview_set_resolver(struct preview *p, preview_resolve_fn *fn, void *userdata);

/*
 * When set, every logged packet that parses (after the resolver, when one
 * is set) goes to @fn with its time (NFULA_TIMESTAMP, else the receive
 * time; unix ns) instead of into the table: the agent keeps its own alert
 * table (include/alerts.h), keyed by workloads.  Loop thread; @fn must not
 * keep the pointer.  NULL: back to the table.
 */
typedef void preview_sink_fn(const struct nflog_pkt *pkt, int64_t ts_ns, void *userdata);
void preview_set_sink(struct preview *p, preview_sink_fn *fn, void *userdata);

/* The netlink socket to poll for input (EPOLLIN); -1 for preview_new(). */
int preview_fd(const struct preview *p);

/*
 * Reads what is waiting on the socket, at most PREVIEW_BUDGET datagrams, and
 * folds them into the alert table.  Returns the number of packets logged
 * (0 when nothing was waiting: level-triggered epoll calls again when
 * more arrives).  ENOBUFS is counted in stats.overruns, not an error: the
 * kernel-side rate limit makes a lost alert reappear in the next interval.
 * Other receive errors are -errno (system kind).
 */
int preview_process(struct preview *p, struct bh_err *reterr);

/*
 * Parses one netlink datagram @buf of @len bytes (one or more NFLOG
 * messages) and folds each logged packet into the table, with @now_ns as
 * the time when a message carries no timestamp.  Returns the number of
 * packets counted; messages that do not parse are counted in
 * stats.malformed and skipped, never trusted.  Never fails on input.
 */
int preview_feed(struct preview *p, const void *buf, size_t len, int64_t now_ns);

/*
 * Parses one NFULNL_MSG_PACKET message of @len bytes (the whole nlmsghdr).
 * -EBADMSG for a message that is not a well-formed NFLOG packet message
 * (wrong type, bad attributes, no payload), -EPROTONOSUPPORT for a payload
 * that is not IPv4/IPv6.  @ret is written only on success.
 */
int nflog_msg_parse(const void *nlh, size_t len, struct nflog_pkt *ret);

/*
 * Parses the IP packet in @payload (@len bytes, possibly truncated at the
 * copy range) into @pkt's addresses, protocol, ports and length, with the
 * capture parser's IP rules (ip_parse.h).  Follows IPv6 extension headers;
 * a non-first fragment, or a packet whose headers end (at the copy range
 * or at its own length) before the ports, has none.  -EPROTONOSUPPORT when
 * not IPv4/IPv6, -EBADMSG when the fixed IP header is cut short or
 * contradicts itself (IHL, total length).
 */
int nflog_payload_parse(const uint8_t *payload, size_t len, struct nflog_pkt *pkt);

/* Counters since preview_open()/preview_new(). */
const struct preview_stats *preview_stats(const struct preview *p);

/* Number of alerts in the table. */
size_t preview_alert_count(const struct preview *p);

/*
 * Calls @cb for every alert, oldest first seen first.  The alert is
 * borrowed for the duration of the call.  Stops early and returns the
 * callback's value when it is nonzero.
 */
typedef int preview_alert_fn(const struct alert *a, void *userdata);
int preview_alert_foreach(const struct preview *p, preview_alert_fn *cb, void *userdata);

/* Removes every alert (counters stay). */
void preview_reset(struct preview *p);

/*
 * Appends @a as one JSON object (no newline) to @out:
 *   {"src":"10.0.0.1","dst":"10.0.0.2","protocol":"TCP","port":80,
 *    "prefix":"...","packets":1,"bytes":60,
 *    "first_seen":"2026-...Z","last_seen":"2026-...Z"}
 * 0, -E2BIG or -ENOMEM from the buffer.
 */
int alert_format_json(const struct alert *a, struct buf *out) BH_MUST_CHECK;

#endif
