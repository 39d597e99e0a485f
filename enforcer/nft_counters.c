/*
 * The ruleset's packet counters read back (include/nft_counters.h): a
 * NFT_MSG_GETRULE dump of table inet bulkhead, each rule parsed by
 * libnftnl and its expressions walked for a counter and for a jump.
 */
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h> /* before the linux/ headers */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "nft_counters.h"
#include "ruleset.h"

/* Large enough for a dump datagram the kernel fills (it sizes them to
 * the reader's buffer, up to 32 KiB by default for netlink dumps). */
#define NFT_COUNTERS_BUF (64 * 1024)

struct walk {
	nft_counter_fn *fn;
	void *ud;
	char chain[RULESET_NAME_MAX];
	char jump[RULESET_NAME_MAX]; /* the chain's first jump so far, "" */
	int n;
	int err;
};

/* One rule of the dump. */
static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *w = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	const char *chain;
	bool counted = false;
	uint64_t packets = 0, bytes = 0;

	if (!r) {
		w->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0 ||
	    !(chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN))) {
		nftnl_rule_free(r);
		return MNL_CB_OK; /* not a rule we can read: skipped */
	}
	if (strncmp(w->chain, chain, sizeof(w->chain)) != 0) {
		strncpy(w->chain, chain, sizeof(w->chain) - 1);
		w->chain[sizeof(w->chain) - 1] = '\0';
		w->jump[0] = '\0';
	}
	it = nftnl_expr_iter_create(r);
	if (!it) {
		nftnl_rule_free(r);
		w->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	while ((e = nftnl_expr_iter_next(it))) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (!name)
			continue;
		if (strcmp(name, "counter") == 0) {
			counted = true;
			packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
			bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		} else if (strcmp(name, "immediate") == 0 && !w->jump[0] &&
			   nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) &&
			   nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == (uint32_t) NFT_JUMP) {
			const char *t = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);

			if (t) {
				strncpy(w->jump, t, sizeof(w->jump) - 1);
				w->jump[sizeof(w->jump) - 1] = '\0';
			}
		}
	}
	nftnl_expr_iter_destroy(it);
	if (counted) {
		w->fn(w->chain, w->jump[0] ? w->jump : NULL, packets, bytes, w->ud);
		w->n++;
	}
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_counters_read(nft_counter_fn *fn, void *userdata, struct bh_err *reterr)
{
	struct walk w = { .fn = fn, .ud = userdata };
	struct mnl_socket *nl = NULL;
	struct nftnl_rule *q = NULL;
	char *buf = malloc(NFT_COUNTERS_BUF);
	struct nlmsghdr *nlh;
	uint32_t seq = 1, portid;
	ssize_t len;
	int r;

	if (!buf || !(q = nftnl_rule_alloc())) {
		r = bh_err_oom(reterr);
		goto out;
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno,
			       "netlink: counters of table 'inet %s': socket: %s", RULESET_TABLE,
			       strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = nftnl_rule_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, seq);
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, RULESET_TABLE);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno,
			       "netlink: counters of table 'inet %s': send: %s", RULESET_TABLE,
			       strerror(errno));
		goto out;
	}
	for (;;) {
		len = mnl_socket_recvfrom(nl, buf, NFT_COUNTERS_BUF);
		if (len < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t) len, seq, portid, rule_cb, &w);
		if (r <= MNL_CB_STOP) {
			r = r < 0 ? (w.err ? w.err : -errno) : 0;
			break;
		}
	}
	if (r == -ENOENT) {
		r = 0; /* no table: no counters */
	} else if (r < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "netlink: counters of table 'inet %s': %s",
			       RULESET_TABLE, strerror(-r));
	} else {
		r = w.n;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	if (q)
		nftnl_rule_free(q);
	free(buf);
	return r;
}
