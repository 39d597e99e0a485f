/*
 * Conntrack monitor: learns flows from the kernel's connection tracking
 * table over ctnetlink (libmnl): an initial dump, then NEW and DESTROY
 * events, in the network namespace the caller runs in.  Event overruns
 * (ENOBUFS) are counted and answered with a fresh dump; an interrupted dump
 * (NLM_F_DUMP_INTR) is redone.  Driven by the caller's loop: ctmon_fd() +
 * ctmon_process().
 */
#ifndef BH_CTMON_H
#define BH_CTMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"

struct learn;

struct ct_tuple {
	struct addr src, dst;
	uint16_t sport, dport; /* host order; 0 for port-less protocols */
	uint8_t proto;
};

struct ct_conn {
	struct ct_tuple orig, reply;
	uint32_t id;
	uint64_t packets, bytes; /* both directions, when accounting is on */
};

enum ct_msg_type {
	CT_MSG_NEW, /* a new connection (event), or an update */
	CT_MSG_DESTROY,
	CT_MSG_DUMP, /* one entry of a dump */
};

/*
 * Parses one ctnetlink conntrack message (nlmsghdr included) of @len bytes
 * into @ret and @ret_type.  Returns 0, or -EBADMSG when it is malformed or
 * lacks an original or reply tuple with addresses, -EPROTONOSUPPORT for a
 * message that is not a conntrack entry.  Pure: usable on recorded bytes.
 */
int ctmon_msg_parse(const void *buf, size_t len, bool is_dump, struct ct_conn *ret,
		    enum ct_msg_type *ret_type);

struct ctmon_stats {
	uint64_t events; /* conntrack entries received (events and dumps) */
	uint64_t bad; /* messages that did not parse */
	uint64_t overruns; /* ENOBUFS: events were lost */
	uint64_t resyncs; /* dumps started after an overrun */
	uint64_t dump_intr; /* dumps redone after NLM_F_DUMP_INTR */
};

struct ctmon;

/* Event socket receive buffer asked for when the caller gives 0. */
#define CTMON_RCVBUF_DEFAULT (16u << 20)

/*
 * Opens the ctnetlink socket, subscribes to NEW and DESTROY events, and
 * requests the initial dump; learned flows go to @l (borrowed, must outlive
 * the monitor).  @rcvbuf sizes the event socket's receive buffer (0: the
 * default): what a burst of events must fit in while we are busy.  -errno
 * with @reterr (BH_ERR_SYSTEM) on failure, e.g. -EPERM without
 * CAP_NET_ADMIN.
 */
int ctmon_new(struct learn *l, size_t rcvbuf, struct ctmon **ret, struct bh_err *reterr);
/* NULL-safe; returns NULL. */
struct ctmon *ctmon_free(struct ctmon *m);

/* The socket to poll for input. */
int ctmon_fd(const struct ctmon *m);

/*
 * Reads what is waiting, at most a budget of messages per call (level-
 * triggered polling calls again).  Never blocks.  Returns >= 0 messages
 * handled, or -errno with @reterr for a socket failure.
 */
int ctmon_process(struct ctmon *m, struct bh_err *reterr);

/* True while a dump (initial or resync) is in progress. */
bool ctmon_dumping(const struct ctmon *m);

const struct ctmon_stats *ctmon_stats(const struct ctmon *m);

#endif
