/*
 * One netlink batch per change, ACKs read until every sequence number is
 * answered (nftables' mnl_batch_talk), errors mapped back to the object
 * whose message the kernel rejected.
 */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "clock.h"
#include "nftio.h"
#include "ruleset_int.h"
#include "ruleset_nl.h"
#include "vec.h"

/* Batch pages: messages are built into pages of this size; one message
 * must fit into the overrun area (elements are chunked well below it). */
#define NFTIO_PAGE_SIZE (256 * 1024)
#define NFTIO_PAGE_OVERRUN (128 * 1024)
/* Bytes of elements per NEWSETELEM/DELSETELEM message (an upper bound
 * per element, rs_nl_elem_size()): the elements nest's length is 16 bits.
 * Every message costs the kernel a parse, a table and set lookup and an
 * answer, so few big messages beat many small ones. */
#define NFTIO_ELEMS_BYTES (60 * 1024)
/* Each ACK is its own skb; the kernel queues them all before we read, so
 * the receive buffer must hold one per message. */
#define NFTIO_ACK_TRUESIZE 1024
#define NFTIO_RCVBUF_MAX (512u * 1024 * 1024)
#define NFTIO_FAULT_CHAIN "bh-fault-injected"

struct nftio {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	enum nftio_fault fault;
	/* This handle's deltas created the marker set (NFTIO_MARKER_SET)
	 * and it sent no full table since: later deltas need not. */
	bool marked;
	struct nftio_stats stats;
};

struct nbatch {
	double t0; /* when building started */
	struct nftnl_batch *b;
	uint32_t seq_first; /* the BEGIN message */
	uint32_t seq_next;
	size_t n_what, cap_what;
	char **what; /* owned: what message seq_first + 1 + i was about */
};

int nftio_open(struct nftio **ret, struct bh_err *reterr)
{
	struct nftio *n = calloc(1, sizeof(*n));
	int one = 1, r;
	struct timeval tv = { .tv_sec = 30 };

	if (!n)
		return bh_err_oom(reterr);
	n->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->nl) {
		r = -errno;
		free(n);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "netlink: cannot open socket: %s",
				  strerror(-r));
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		nftio_free(n);
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "netlink: cannot bind: %s",
				  strerror(-r));
	}
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t) time(NULL);
	/* Small ACKs (no copy of our message) and extended error text. */
	(void) mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	(void) mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	/* A kernel that never answers must not hang the agent. */
	(void) setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*ret = n;
	return 0;
}

struct nftio *nftio_free(struct nftio *n)
{
	if (!n)
		return NULL;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n);
	return NULL;
}

void nftio_inject_fault(struct nftio *n, enum nftio_fault f)
{
	n->fault = f;
}

const struct nftio_stats *nftio_stats(const struct nftio *n)
{
	return &n->stats;
}

static double now_ms(void)
{
	return (double) clock_mono_ns() / 1e6;
}

static void nbatch_done(struct nbatch *nb)
{
	if (nb->b)
		nftnl_batch_free(nb->b);
	for (size_t i = 0; i < nb->n_what; i++)
		free(nb->what[i]);
	free(nb->what);
	memset(nb, 0, sizeof(*nb));
}

static int nbatch_init(struct nbatch *nb, struct nftio *n)
{
	struct nlmsghdr *begin;

	*nb = (struct nbatch){ .t0 = now_ms() };
	nb->b = nftnl_batch_alloc(NFTIO_PAGE_SIZE, NFTIO_PAGE_OVERRUN);
	if (!nb->b)
		return -ENOMEM;
	nb->seq_first = n->seq++;
	begin = nftnl_batch_begin(nftnl_batch_buffer(nb->b), nb->seq_first);
	if (n->fault == NFTIO_FAULT_BATCH) {
		/* A subsystem id past the last: nfnetlink refuses the batch
		 * by answering its BEGIN message (EINVAL). */
		struct nfgenmsg *g = mnl_nlmsg_get_payload(begin);

		g->res_id = htons(0xffff);
	}
	if (nftnl_batch_update(nb->b) < 0)
		return -ENOMEM;
	nb->seq_next = n->seq;
	return 0;
}

/* Starts a message; @what names the object for error messages. */
static struct nlmsghdr *nb_msg_family(struct nbatch *nb, uint16_t family, uint16_t type,
				      uint16_t flags, const char *kind, const char *name)
{
	char what[RULESET_NAME_MAX + 64];

	if (nb->n_what == nb->cap_what) {
		char **v = vec_grow(nb->what, &nb->cap_what, nb->n_what + 1, sizeof(*v));

		if (!v)
			return NULL;
		nb->what = v;
	}
	(void) snprintf(what, sizeof(what), "%s '%s'", kind, name);
	nb->what[nb->n_what] = strdup(what);
	if (!nb->what[nb->n_what])
		return NULL;
	nb->n_what++;
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(nb->b), type, family, flags | NLM_F_ACK,
				     nb->seq_next++);
}

static struct nlmsghdr *nb_msg(struct nbatch *nb, uint16_t type, uint16_t flags, const char *kind,
			       const char *name)
{
	return nb_msg_family(nb, NFPROTO_INET, type, flags, kind, name);
}

static int nb_end_msg(struct nbatch *nb)
{
	return nftnl_batch_update(nb->b) < 0 ? -ENOMEM : 0;
}

static int nb_table(struct nbatch *nb, uint16_t type, uint16_t flags, const char *comment)
{
	struct nftnl_table *t = rs_nl_table(comment);
	struct nlmsghdr *nlh;

	if (!t)
		return -ENOMEM;
	nlh = nb_msg(nb, type, flags, "table", RULESET_TABLE);
	if (!nlh) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return nb_end_msg(nb);
}

static int nb_chain(struct nbatch *nb, uint16_t type, const struct rs_chain *c)
{
	struct nftnl_chain *ch = rs_nl_chain(c);
	struct nlmsghdr *nlh;

	if (!ch)
		return -ENOMEM;
	if (type == NFT_MSG_DELCHAIN) {
		nftnl_chain_unset(ch, NFTNL_CHAIN_HOOKNUM);
		nftnl_chain_unset(ch, NFTNL_CHAIN_PRIO);
		nftnl_chain_unset(ch, NFTNL_CHAIN_TYPE);
		nftnl_chain_unset(ch, NFTNL_CHAIN_POLICY);
	}
	nlh = nb_msg(nb, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0, "chain", c->name);
	if (!nlh) {
		nftnl_chain_free(ch);
		return -ENOMEM;
	}
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	nftnl_chain_free(ch);
	return nb_end_msg(nb);
}

/* Deletes every rule of @chain (DELRULE without a handle). */
static int nb_flush_chain(struct nbatch *nb, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nlh = nb_msg(nb, NFT_MSG_DELRULE, 0, "rules of chain", chain);
	if (!nlh) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nb_end_msg(nb);
}

static int nb_rule(struct nbatch *nb, const char *chain, const struct rs_rule *rr)
{
	struct nftnl_rule *r = rs_nl_rule(chain, rr);
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nlh = nb_msg(nb, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "rule in chain", chain);
	if (!nlh) {
		nftnl_rule_free(r);
		return -ENOMEM;
	}
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nb_end_msg(nb);
}

static int nb_rules(struct nbatch *nb, const struct rs_chain *c)
{
	for (size_t i = 0; i < c->n_rules; i++) {
		int r = nb_rule(nb, c->name, &c->rules[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* @ret_id (may be NULL): the set's batch-local id (NFTA_SET_ID). */
static int nb_set(struct nbatch *nb, uint16_t type, const struct rs_set *rs, uint32_t *ret_id)
{
	uint32_t id = nb->seq_next;
	struct nftnl_set *s = rs_nl_set(rs, id);
	struct nlmsghdr *nlh;

	if (!s)
		return -ENOMEM;
	nlh = nb_msg(nb, type, type == NFT_MSG_NEWSET ? NLM_F_CREATE : 0,
		     (rs->flags & RS_SET_VMAP) ? "map" : "set", rs->name);
	if (!nlh) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (ret_id)
		*ret_id = id;
	return nb_end_msg(nb);
}

/* NEWSETELEM/DELSETELEM for @elems of @rs, chunked; n == 0 with DELSETELEM
 * and @flush set empties the set. */

/*
 * @set_id: a set created earlier in this batch is named by its id, not by
 * its name.  The kernel finds a set by name with a linear walk over the
 * table's sets (nla_strcmp, for every message: a fifth of a full apply's
 * kernel time with ~1,900 sets), and by id in its list of sets new in
 * this transaction, from the newest: elements that follow their set are
 * found at once.  0: by name (a set that exists already).
 */
static int nb_elems(struct nbatch *nb, uint16_t type, const struct rs_set *rs, uint32_t set_id,
		    const struct rs_elem *elems, size_t n, bool flush)
{
	size_t i = 0;

	do {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nlmsghdr *nlh;
		size_t bytes = 0;
		int r = 0;

		if (!s)
			return -ENOMEM;
		nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE);
		if (set_id)
			nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
		else
			nftnl_set_set_str(s, NFTNL_SET_NAME, rs->name);
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		for (; r == 0 && i < n && bytes < NFTIO_ELEMS_BYTES; i++) {
			bytes += rs_nl_elem_size(rs, &elems[i]);
			r = rs_nl_elem_add(s, rs, &elems[i]);
		}
		nlh = r == 0 ? nb_msg(nb, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
				      "elements of set", rs->name) :
			       NULL;
		if (!nlh) {
			nftnl_set_free(s);
			return -ENOMEM;
		}
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		r = nb_end_msg(nb);
		if (r < 0)
			return r;
	} while (i < n);
	(void) flush; /* n == 0 sends one message without elements: a flush */
	return 0;
}

static int nb_fault(struct nbatch *nb)
{
	struct rs_rule rr = { .kind = RS_RULE_VERDICT, .verdict = RS_VERDICT_ACCEPT };

	return nb_rule(nb, NFTIO_FAULT_CHAIN, &rr);
}

/* Sets a socket buffer size, forcing past the sysctl limit when we may. */
static void sock_buf(struct nftio *n, int opt_force, int opt, size_t want)
{
	int fd = mnl_socket_get_fd(n->nl);
	int v = want > INT32_MAX ? INT32_MAX : (int) want;

	if (setsockopt(fd, SOL_SOCKET, opt_force, &v, sizeof(v)) < 0)
		(void) setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

/*
 * Sends the batch and reads one answer per message.  nfnetlink handles
 * the whole batch inside sendmsg(), so all answers are queued when it
 * returns.  The first error (lowest sequence number) is reported; an
 * error answered for the BEGIN message fails the batch as a whole (the
 * kernel sends it before any message's answer when the commit fails,
 * and instead of them when it could not start the batch).
 */
static int nb_send(struct nftio *n, struct nbatch *nb, const char *cmd, struct bh_err *reterr)
{
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	size_t expect = nb->n_what, answered = 0, total = 0;
	uint32_t err_seq = 0;
	int iovlen, err = 0, batch_err = 0, rest;
	struct iovec *iov;
	struct msghdr msg = { 0 };
	void *buf = NULL;
	double t_send;
	ssize_t len;
	int r = 0;

	nftnl_batch_end(nftnl_batch_buffer(nb->b), nb->seq_next++);
	if (nftnl_batch_update(nb->b) < 0)
		return bh_err_oom(reterr);
	iovlen = nftnl_batch_iovec_len(nb->b);
	iov = calloc((size_t) iovlen, sizeof(*iov));
	buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!iov || !buf) {
		r = bh_err_oom(reterr);
		goto out;
	}
	nftnl_batch_iovec(nb->b, iov, (uint32_t) iovlen);
	for (int i = 0; i < iovlen; i++)
		total += iov[i].iov_len;
	sock_buf(n, SO_SNDBUFFORCE, SO_SNDBUF, total + 65536);
	{
		size_t rcv = (expect + 16) * NFTIO_ACK_TRUESIZE;

		sock_buf(n, SO_RCVBUFFORCE, SO_RCVBUF,
			 rcv > NFTIO_RCVBUF_MAX ? NFTIO_RCVBUF_MAX : rcv);
	}
	n->stats.build_ms = now_ms() - nb->t0;
	t_send = now_ms();
	msg.msg_name = &snl;
	msg.msg_namelen = sizeof(snl);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t) iovlen;
	if (sendmsg(mnl_socket_get_fd(n->nl), &msg, 0) < 0) {
		r = -errno;
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "%s: netlink send of %zu bytes: %s", cmd,
			       total, strerror(-r));
		goto out;
	}
	n->stats.send_ms = now_ms() - t_send;
	t_send = now_ms();
	n->stats.batches++;
	n->stats.messages = expect;
	n->stats.bytes = total;
	while (answered < expect) {
		len = mnl_socket_recvfrom(n->nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (len < 0) {
			r = -errno;
			if (r == -EINTR)
				continue;
			r = bh_err_set(reterr, BH_ERR_SYSTEM, r,
				       "%s: netlink: %zu of %zu answers read: %s", cmd, answered,
				       expect, strerror(-r));
			goto out;
		}
		/* At most MNL_SOCKET_BUFFER_SIZE: fits an int, which is what
		 * libmnl's walk counts down (through a pointer: its own
		 * variable, not len's ssize_t storage). */
		rest = (int) len;
		/* buf comes from malloc(): aligned for any type */
		for (struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, rest);
		     nlh = mnl_nlmsg_next(nlh, &rest)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_pid != n->portid || nlh->nlmsg_seq < nb->seq_first ||
			    nlh->nlmsg_seq > nb->seq_first + expect)
				continue; /* not ours: sequence checking */
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_seq == nb->seq_first) {
				/* The batch as a whole: the kernel could not start
				 * it (no memory, a subsystem without transactions)
				 * or its commit failed and it was aborted.  Either
				 * way nothing changed, whatever the messages' own
				 * answers say, and none may follow. */
				if (e->error < 0) {
					batch_err = e->error;
					break;
				}
				continue;
			}
			answered++;
			if (e->error < 0 && (!err || nlh->nlmsg_seq < err_seq)) {
				err = e->error;
				err_seq = nlh->nlmsg_seq;
			}
		}
		if (batch_err)
			break;
	}
	n->stats.ack_ms = now_ms() - t_send;
	if (batch_err) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, batch_err,
			       "%s: the kernel rejected the batch as a whole: %s (nothing changed)",
			       cmd, strerror(-batch_err));
	} else if (err) {
		const char *what = nb->what[err_seq - nb->seq_first - 1];

		r = bh_err_set(reterr, BH_ERR_SYSTEM, err,
			       "%s: the kernel rejected the batch at %s: %s (nothing changed)", cmd,
			       what, strerror(-err));
	}
out:
	free(iov);
	free(buf);
	return r;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table **t = data;

	if (!*t) {
		*t = nftnl_table_alloc();
		if (!*t || nftnl_table_nlmsg_parse(nlh, *t) < 0)
			return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int udata_comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **c = data;

	if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT && nftnl_udata_len(attr) > 0) {
		const char *v = nftnl_udata_get(attr);

		if (v[nftnl_udata_len(attr) - 1] == '\0')
			*c = v;
	}
	return 0;
}

/*
 * One GET request of @type (NFT_MSG_GETTABLE, NFT_MSG_GETSET) whose
 * payload @payload puts in the message; @cb sees the answer.  1 when the
 * object exists, 0 when the kernel says ENOENT, else -errno.
 */
typedef int nl_payload_fn(struct nlmsghdr *nlh, const char *name);

static int nl_get(struct nftio *n, uint16_t type, nl_payload_fn *payload, const char *name,
		  mnl_cb_t cb, void *data)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	uint32_t seq = n->seq++;
	struct nlmsghdr *nlh;
	ssize_t len;
	int r;

	if (!buf)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, NLM_F_ACK, seq);
	r = payload(nlh, name);
	if (r == 0 && mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		r = -errno;
	if (r < 0) {
		free(buf);
		return r;
	}
	for (;;) {
		len = mnl_socket_recvfrom(n->nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (len < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t) len, seq, n->portid, cb, data);
		if (r <= MNL_CB_STOP) {
			r = r < 0 ? -errno : 1;
			break;
		}
	}
	free(buf);
	return r == -ENOENT ? 0 : r;
}

static int table_payload(struct nlmsghdr *nlh, const char *name)
{
	struct nftnl_table *q = nftnl_table_alloc();

	if (!q)
		return -ENOMEM;
	nftnl_table_set_str(q, NFTNL_TABLE_NAME, name);
	nftnl_table_nlmsg_build_payload(nlh, q);
	nftnl_table_free(q);
	return 0;
}

static int set_payload(struct nlmsghdr *nlh, const char *name)
{
	struct nftnl_set *q = nftnl_set_alloc();

	if (!q)
		return -ENOMEM;
	nftnl_set_set_str(q, NFTNL_SET_TABLE, RULESET_TABLE);
	nftnl_set_set_str(q, NFTNL_SET_NAME, name);
	nftnl_set_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	return 0;
}

static int nothing_cb(const struct nlmsghdr *nlh, void *data)
{
	(void) nlh;
	(void) data;
	return MNL_CB_OK;
}

int nftio_table_comment(struct nftio *n, char *out, size_t outlen, struct bh_err *reterr)
{
	struct nftnl_table *t = NULL;
	int r;

	r = nl_get(n, NFT_MSG_GETTABLE, table_payload, RULESET_TABLE, table_cb, &t);
	if (r < 0) {
		if (t)
			nftnl_table_free(t);
		return r == -ENOMEM ? bh_err_oom(reterr) :
				      bh_err_set(reterr, BH_ERR_SYSTEM, r,
						 "netlink: get table 'inet %s': %s", RULESET_TABLE,
						 strerror(-r));
	}
	if (!t)
		return 0;
	{
		uint32_t ulen = 0;
		const void *u = nftnl_table_is_set(t, NFTNL_TABLE_USERDATA) ?
					nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &ulen) :
					NULL;
		const char *c = NULL;

		if (u)
			(void) nftnl_udata_parse(u, ulen, udata_comment_cb, &c);
		(void) snprintf(out, outlen, "%s", c ? c : "");
	}
	nftnl_table_free(t);
	return 1;
}

/*
 * The table comment holds the digest of the ruleset a full apply put in;
 * incremental batches cannot rewrite it (the kernel keeps a table's
 * comment), so each of them also creates this empty set, which a full
 * apply's new table lacks.  While it exists the digest speaks for an
 * older ruleset: nftio_apply() sends the table again.  Only the first
 * delta of a handle after a full table sends it (the kernel finds a set
 * by name with a walk over all the table's sets, and the marker, created
 * last, is at the end: 0.1-0.2 ms a batch at 1,900 sets).  So a writer
 * that replaces the table between two deltas of one handle (another
 * process's full apply) leaves the later deltas unmarked; the agent is
 * the table's only writer, and its ruleset would be stale then anyway.
 */
#define NFTIO_MARKER_SET "incremental"

static int nb_marker(struct nbatch *nb)
{
	const struct rs_set m = { .name = (char *) NFTIO_MARKER_SET,
				  .key = RS_KEY_ADDR4,
				  .size = 1 };

	return nb_set(nb, NFT_MSG_NEWSET, &m, NULL);
}

/*
 * `table bridge bulkhead` (ruleset_bridge.c): add and delete it, so that
 * a node that no longer diverts loses it, then the new one when @rs
 * diverts a bridge.  Part of every full batch and of reset: the two
 * tables change together or not at all.
 */
static int nb_bridge(struct nbatch *nb, const struct ruleset *rs)
{
	size_t n = rs ? rs_bridge_n_rules(rs) : 0;
	int r = 0;

	for (int step = 0; !r && step < (n ? 3 : 2); step++) {
		struct nftnl_table *t = rs_bridge_nl_table();
		uint16_t type = step == 1 ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE;
		struct nlmsghdr *nlh;

		if (!t)
			return -ENOMEM;
		nlh = nb_msg_family(nb, NFPROTO_BRIDGE, type, step == 1 ? 0 : NLM_F_CREATE,
				    "bridge table", RULESET_TABLE);
		if (nlh)
			nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		r = nlh ? nb_end_msg(nb) : -ENOMEM;
	}
	if (!r && n) {
		struct nftnl_chain *c = rs_bridge_nl_chain();
		struct nlmsghdr *nlh;

		if (!c)
			return -ENOMEM;
		nlh = nb_msg_family(nb, NFPROTO_BRIDGE, NFT_MSG_NEWCHAIN, NLM_F_CREATE,
				    "bridge chain", "prerouting");
		if (nlh)
			nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
		r = nlh ? nb_end_msg(nb) : -ENOMEM;
	}
	for (size_t i = 0; !r && i < n; i++) {
		struct nftnl_rule *nr = rs_bridge_nl_rule(rs, i);
		struct nlmsghdr *nlh;

		if (!nr)
			return -ENOMEM;
		nlh = nb_msg_family(nb, NFPROTO_BRIDGE, NFT_MSG_NEWRULE,
				    NLM_F_CREATE | NLM_F_APPEND, "rule in bridge chain",
				    "prerouting");
		if (nlh)
			nftnl_rule_nlmsg_build_payload(nlh, nr);
		nftnl_rule_free(nr);
		r = nlh ? nb_end_msg(nb) : -ENOMEM;
	}
	return r;
}

/*
 * add table; delete table; the new table with everything in it.  Objects
 * go in name order, as ruleset_text() prints them, so that the kernel
 * lists a table loaded either way identically.
 */
static int nb_full(struct nbatch *nb, const struct ruleset *rs, const char *comment)
{
	const struct rs_desc *d = &rs->d;
	const struct rs_set **sets;
	const struct rs_chain **chains;
	int r;

	r = rs_desc_sorted(d, &sets, &chains);
	if (r < 0)
		return r;
	r = nb_table(nb, NFT_MSG_NEWTABLE, NLM_F_CREATE, NULL);
	if (!r)
		r = nb_table(nb, NFT_MSG_DELTABLE, 0, NULL);
	if (!r)
		r = nb_table(nb, NFT_MSG_NEWTABLE, NLM_F_CREATE, comment);
	for (size_t i = 0; !r && i < d->n_sets; i++) {
		uint32_t id = 0;

		r = nb_set(nb, NFT_MSG_NEWSET, sets[i], &id);
		/* vmap elements jump to chains: they come after the chains */
		if (!r && sets[i]->n_elems && !(sets[i]->flags & RS_SET_VMAP))
			r = nb_elems(nb, NFT_MSG_NEWSETELEM, sets[i], id, sets[i]->elems,
				     sets[i]->n_elems, false);
	}
	for (size_t i = 0; !r && i < d->n_chains; i++)
		r = nb_chain(nb, NFT_MSG_NEWCHAIN, chains[i]);
	for (size_t i = 0; !r && i < d->n_sets; i++)
		if (sets[i]->n_elems && (sets[i]->flags & RS_SET_VMAP))
			r = nb_elems(nb, NFT_MSG_NEWSETELEM, sets[i], 0, sets[i]->elems,
				     sets[i]->n_elems, false);
	for (size_t i = 0; !r && i < d->n_chains; i++)
		r = nb_rules(nb, chains[i]);
	if (!r)
		r = nb_bridge(nb, rs);
	free(sets);
	free(chains);
	return r;
}

/*
 * Ends the batch @nb that building left in state @r (0, or -ENOMEM): adds
 * the injected fault when asked, sends it as @cmd and frees it.
 */
static int nb_commit(struct nftio *n, struct nbatch *nb, int r, const char *cmd,
		     struct bh_err *reterr)
{
	if (!r && n->fault == NFTIO_FAULT_MESSAGE)
		r = nb_fault(nb);
	if (r < 0) {
		nbatch_done(nb);
		return bh_err_oom(reterr);
	}
	r = nb_send(n, nb, cmd, reterr);
	nbatch_done(nb);
	return r;
}

/* The kernel's table against the digest comment of a ruleset. */
enum table_state {
	TABLE_NONE, /* no table inet bulkhead */
	TABLE_OTHER, /* its comment is another digest (or none) */
	TABLE_UPDATED, /* the same digest, but deltas were committed since */
	TABLE_SAME, /* what a full apply of that ruleset put there */
};

/*
 * Reads the table's comment into @cur (at least 1 byte) and, when it is
 * @comment, looks for the marker set.  0 with *@ret set, or -errno
 * (system) with @reterr filled.
 */
static int table_state(struct nftio *n, const char *comment, char *cur, size_t curlen,
		       enum table_state *ret, struct bh_err *reterr)
{
	int r;

	cur[0] = '\0';
	r = nftio_table_comment(n, cur, curlen, reterr);
	if (r < 0)
		return r;
	if (r == 0 || strcmp(cur, comment) != 0) {
		*ret = r == 0 ? TABLE_NONE : TABLE_OTHER;
		return 0;
	}
	r = nl_get(n, NFT_MSG_GETSET, set_payload, NFTIO_MARKER_SET, nothing_cb, NULL);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "netlink: get set '%s': %s",
				  NFTIO_MARKER_SET, strerror(-r));
	*ret = r ? TABLE_UPDATED : TABLE_SAME;
	return 0;
}

/* @rs's digest comment into @comment (64 bytes) and the kernel's into
 * @cur (256 bytes), and what the kernel's table is against it
 * (table_state()). */
static int table_state_of(struct nftio *n, const struct ruleset *rs, char comment[static 64],
			  char cur[static 256], enum table_state *ret, struct bh_err *reterr)
{
	int r;

	r = rs_table_comment(rs, comment, 64);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_SYSTEM, r, "table inet %s: digest comment",
				  RULESET_TABLE);
	return table_state(n, comment, cur, 256, ret, reterr);
}

int nftio_apply(struct nftio *n, const struct ruleset *rs, struct bh_err *reterr)
{
	char comment[64], cur[256];
	enum table_state st;
	struct nbatch nb;
	int r;

	r = table_state_of(n, rs, comment, cur, &st, reterr);
	if (r < 0)
		return r;
	if (st == TABLE_SAME && n->fault == NFTIO_FAULT_NONE)
		return 0; /* no incremental batch since: unchanged */
	r = nbatch_init(&nb, n);
	if (!r)
		r = nb_full(&nb, rs, comment);
	r = nb_commit(n, &nb, r, "apply", reterr);
	if (r < 0)
		return r;
	n->marked = false;
	return 1;
}

int nftio_table_holds(struct nftio *n, const struct ruleset *rs, struct bh_err *reterr)
{
	char comment[64], cur[256];
	enum table_state st;
	int r;

	r = table_state_of(n, rs, comment, cur, &st, reterr);
	if (r < 0)
		return r;
	switch (st) {
	case TABLE_NONE:
		return bh_err_set(reterr, BH_ERR_INPUT, -ESTALE, "no table inet %s", RULESET_TABLE);
	case TABLE_OTHER:
		return bh_err_set(reterr, BH_ERR_INPUT, -ESTALE,
				  "table inet %s has comment '%s', not '%s' (the digest of the "
				  "ruleset for node '%s', mode %s)",
				  RULESET_TABLE, cur, comment, rs->node, bh_mode_name(rs->mode));
	case TABLE_UPDATED:
		return bh_err_set(reterr, BH_ERR_INPUT, -ESTALE,
				  "table inet %s was changed by incremental updates since its last "
				  "full apply (set '%s'): its comment '%s' no longer says what it "
				  "holds",
				  RULESET_TABLE, NFTIO_MARKER_SET, cur);
	case TABLE_SAME:
		break;
	}
	return 0;
}

int nftio_reset(struct nftio *n, struct bh_err *reterr)
{
	char cur[256];
	struct nbatch nb;
	int r;

	r = nftio_table_comment(n, cur, sizeof(cur), reterr);
	if (r <= 0)
		return r;
	r = nbatch_init(&nb, n);
	if (!r)
		r = nb_table(&nb, NFT_MSG_DELTABLE, 0, NULL);
	if (!r)
		r = nb_bridge(&nb, NULL);
	r = nb_commit(n, &nb, r, "reset", reterr);
	if (r < 0)
		return r;
	n->marked = false;
	return 1;
}

/* The whole table of @rs, with its digest comment, as one batch. */
static int commit_full(struct nftio *n, const struct ruleset *rs, const char *cmd,
		       struct bh_err *reterr)
{
	char comment[64];
	struct nbatch nb;
	int r;

	r = nbatch_init(&nb, n);
	if (!r)
		r = rs_table_comment(rs, comment, sizeof(comment));
	if (!r)
		r = nb_full(&nb, rs, comment);
	r = nb_commit(n, &nb, r, cmd, reterr);
	if (r >= 0)
		n->marked = false;
	return r;
}

int nftio_commit_delta(struct nftio *n, const struct ruleset *rs, const struct rs_delta *d,
		       struct bh_err *reterr)
{
	struct nbatch nb;
	int r;

	if (!d || (!d->full && d->n_ops == 0))
		return 0;
	if (d->full)
		return commit_full(n, rs, "update", reterr);
	r = nbatch_init(&nb, n);
	if (!r && !n->marked)
		r = nb_marker(&nb); /* a message less for every later delta */
	for (size_t i = 0; !r && i < d->n_ops; i++) {
		const struct rs_op *op = &d->ops[i];

		switch (op->kind) {
		case RS_OP_ADD_CHAIN:
			r = nb_chain(&nb, NFT_MSG_NEWCHAIN, op->chain);
			break;
		case RS_OP_ADD_SET: {
			uint32_t id = 0;

			r = nb_set(&nb, NFT_MSG_NEWSET, op->set, &id);
			if (!r && op->set->n_elems)
				r = nb_elems(&nb, NFT_MSG_NEWSETELEM, op->set, id, op->set->elems,
					     op->set->n_elems, false);
			break;
		}
		case RS_OP_ADD_ELEMS:
			/* (an interval set refilled empty: the flush did it) */
			if (op->set->n_elems)
				r = nb_elems(&nb, NFT_MSG_NEWSETELEM, op->set, 0, op->set->elems,
					     op->set->n_elems, false);
			break;
		case RS_OP_DEL_ELEMS:
			r = nb_elems(&nb, NFT_MSG_DELSETELEM, op->set, 0, op->set->elems,
				     op->set->n_elems, op->set->n_elems == 0);
			break;
		case RS_OP_REPLACE_RULES:
			r = nb_flush_chain(&nb, op->chain->name);
			/* fall through */
		case RS_OP_ADD_RULES:
			if (!r)
				r = nb_rules(&nb, op->chain);
			break;
		case RS_OP_FLUSH_CHAIN:
			r = nb_flush_chain(&nb, op->chain->name);
			break;
		case RS_OP_DEL_CHAIN:
			r = nb_chain(&nb, NFT_MSG_DELCHAIN, op->chain);
			break;
		case RS_OP_DEL_SET:
			r = nb_set(&nb, NFT_MSG_DELSET, op->set, NULL);
			break;
		}
	}
	r = nb_commit(n, &nb, r, "update", reterr);
	if (r >= 0)
		n->marked = true;
	return r;
}

int nftio_replace(struct nftio *n, const struct ruleset *rs, struct bh_err *reterr)
{
	return commit_full(n, rs, "update", reterr);
}
