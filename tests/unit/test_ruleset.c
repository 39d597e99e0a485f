/*
 * unit.ruleset: the compiled description against the policy engine, cell
 * for cell.  A small interpreter runs a first packet through the chains of
 * the description (forward or input hook) the way nf_tables would; for
 * every case of tests/data/netpol-cases, every pair of endpoints (pods of
 * both families, the node, external addresses) and every probe, its
 * verdict must equal the engine's for the side(s) this node enforces.
 * The same with the policies given origins (proposal policies in preview
 * or enforce next to the cluster's).  Also: interval merging, port ranges, and incremental updates that end
 * equal to a fresh build.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "engine.h"
#include "proto.h"
#include "ruleset.h"
#include "snapshot.h"
#include "testutil.h"

#define CASES_DIR BH_TEST_DATA "/netpol-cases"
#define MODEL CASES_DIR "/model.json"
#define NODE "node-1"

enum verdict { V_CONT, V_ACCEPT, V_DROP };

struct pkt {
	struct addr src, dst;
	uint8_t proto;
	uint16_t port;
};

/* The NFLOG action of one packet: every `log` statement it hit. */
struct nflog_rec {
	size_t n; /* log statements hit */
	const char *prefix; /* of the last one, borrowed from the ruleset */
	uint16_t group;
};

struct interp {
	const struct ruleset *rs;
	const struct node *node; /* local addresses (fib saddr type local) */
	struct nflog_rec *log; /* where kernel_run() records the logging */
};

static bool elem_has(const struct rs_set *s, const struct pkt *p, const struct addr *a)
{
	for (size_t i = 0; i < s->n_elems; i++) {
		const struct rs_elem *e = &s->elems[i];

		switch (s->key) {
		case RS_KEY_ADDR4:
		case RS_KEY_ADDR6:
			if (a->family == e->addr.family && addr_cmp(a, &e->addr) >= 0 &&
			    addr_cmp(a, &e->addr_end) <= 0)
				return true;
			break;
		case RS_KEY_PROTO_PORT:
			if (p->proto == e->proto && p->port >= e->port && p->port <= e->port_end)
				return true;
			break;
		case RS_KEY_ADDR4_PROTO_PORT:
		case RS_KEY_ADDR6_PROTO_PORT:
			if (addr_eq(&p->dst, &e->addr) && p->proto == e->proto &&
			    p->port == e->port)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static const struct rs_set *set_of(const struct interp *in, const char *name)
{
	const struct rs_set *s = ruleset_set_find(in->rs, name);

	if (!s)
		fail_msg("rule references missing set '%s'", name);
	return s;
}

static enum verdict run_chain(const struct interp *in, const char *name, const struct pkt *p,
			      int depth);

static enum verdict apply_verdict(const struct interp *in, const struct rs_rule *r,
				  const struct pkt *p, int depth, bool *stop)
{
	enum verdict v;

	*stop = true;
	switch (r->verdict) {
	case RS_VERDICT_ACCEPT:
		return V_ACCEPT;
	case RS_VERDICT_DROP:
		return V_DROP;
	case RS_VERDICT_RETURN:
		return V_CONT;
	case RS_VERDICT_GOTO:
		return run_chain(in, r->target, p, depth + 1);
	case RS_VERDICT_JUMP:
		v = run_chain(in, r->target, p, depth + 1);
		*stop = v != V_CONT;
		return v;
	default:
		fail_msg("bad verdict");
	}
	return V_DROP;
}

static bool node_local(const struct interp *in, const struct addr *a)
{
	for (size_t i = 0; in->node && i < in->node->n_addrs; i++)
		if (addr_eq(&in->node->addrs[i], a))
			return true;
	return false;
}

static enum verdict run_chain(const struct interp *in, const char *name, const struct pkt *p,
			      int depth)
{
	const struct rs_chain *c = ruleset_chain_find(in->rs, name);
	const int fam = p->src.family;

	if (!c)
		fail_msg("jump to missing chain '%s'", name);
	assert_true(depth < 16);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct rs_rule *r = &c->rules[i];
		const struct addr *peer = r->peer_is_daddr ? &p->dst : &p->src;
		enum verdict v;
		bool stop;

		if (r->family && r->family != fam)
			continue;
		switch (r->kind) {
		case RS_RULE_CT_ACCEPT:
		case RS_RULE_SEEN_SKIP: /* a first packet, an empty seen set */
		case RS_RULE_COUNTER: /* counts, decides nothing */
			continue;
		case RS_RULE_FIB_LOCAL_ACCEPT:
			if (node_local(in, &p->src))
				return V_ACCEPT;
			continue;
		case RS_RULE_ADDR:
			if (!elem_has(set_of(in, r->peer_set), p, peer))
				continue;
			break;
		case RS_RULE_VMAP: {
			const struct rs_set *s = set_of(in, r->peer_set);

			/* Elements goto their chain. */
			for (size_t k = 0; k < s->n_elems; k++)
				if (addr_eq(&s->elems[k].addr, peer))
					return run_chain(in, s->elems[k].target, p, depth + 1);
			continue;
		}
		case RS_RULE_LOG_LIMIT: /* reached only when @seen is full */
		case RS_RULE_SEEN_LOG:
			/* preview: add @seen, log, then the verdict (accept).
			 * The SEEN_SKIP before it never matched: each cell's
			 * packet is the first of its flow. */
			if (!r->prefix)
				fail_msg("log rule without a prefix in '%s'", name);
			if (r->kind == RS_RULE_SEEN_LOG)
				(void) set_of(in, r->peer_set); /* the dedupe set exists */
			if (in->log) {
				in->log->n++;
				in->log->prefix = r->prefix;
				in->log->group = r->group;
			}
			break;
		case RS_RULE_ICMPV6_ACCEPT:
			if (p->proto == IPPROTO_ICMPV6 && p->port >= r->icmp_lo &&
			    p->port <= r->icmp_hi)
				return V_ACCEPT;
			continue;
		case RS_RULE_VERDICT:
			break;
		case RS_RULE_ALLOW:
			if (r->peer_set && !elem_has(set_of(in, r->peer_set), p, peer))
				continue;
			if (r->port_set && !elem_has(set_of(in, r->port_set), p, NULL))
				continue;
			if (r->named_set && !elem_has(set_of(in, r->named_set), p, NULL))
				continue;
			break;
		default:
			fail_msg("unknown rule kind");
		}
		v = apply_verdict(in, r, p, depth, &stop);
		if (stop)
			return v;
	}
	return V_CONT;
}

/* The kernel's verdict on a first packet: input hook when the node itself
 * is the destination, forward otherwise; base chains accept.  @log gets
 * the packet's NFLOG action (zeroed first). */
static bool kernel_run(const struct interp *in, const struct pkt *p, struct nflog_rec *log)
{
	struct interp x = *in;
	enum verdict v;

	*log = (struct nflog_rec){ 0 };
	x.log = log;
	v = run_chain(&x, node_local(in, &p->dst) ? "input" : "forward", p, 0);
	return v != V_DROP;
}

static bool kernel_allows(const struct interp *in, const struct pkt *p)
{
	struct nflog_rec log;

	return kernel_run(in, p, &log);
}

static const struct {
	uint8_t proto;
	uint16_t port;
} probes[] = {
	{ IPPROTO_TCP, 80 },  { IPPROTO_TCP, 81 },  { IPPROTO_UDP, 80 }, { IPPROTO_UDP, 81 },
	{ IPPROTO_SCTP, 80 }, { IPPROTO_SCTP, 81 }, { IPPROTO_UDP, 53 }, { IPPROTO_TCP, 8080 },
};

static const char *const externals[] = {
	"192.168.1.1", "10.200.0.99", "203.0.113.7", "fd00:200::99", "2001:db8::7", "172.16.0.1",
};

struct ep_list {
	size_t n;
	struct engine_ep ep[64];
	bool local[64];
};

static void eps_build(struct engine *e, struct cluster *c, int family, struct ep_list *l)
{
	l->n = 0;
	for (size_t i = 0; i < c->n_pods && l->n < 56; i++) {
		engine_ep_pod(e, &c->pods[i], family, &l->ep[l->n]);
		if (l->ep[l->n].addr.family != family)
			continue;
		l->local[l->n] = !c->pods[i].host_network && c->pods[i].node &&
				 strcmp(c->pods[i].node, NODE) == 0;
		if (pod_finished(&c->pods[i])) {
			/* What the kernel sees: an address, nobody's. */
			struct addr a = l->ep[l->n].addr;

			engine_ep_addr(e, &a, &l->ep[l->n]);
			l->local[l->n] = false;
		}
		l->n++;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(externals); i++) {
		struct addr a = addr_lit(externals[i]);

		if (a.family != family)
			continue;
		engine_ep_addr(e, &a, &l->ep[l->n]);
		l->local[l->n++] = false;
	}
	for (size_t i = 0; i < c->n_nodes; i++)
		for (size_t k = 0; k < c->nodes[i].n_addrs && l->n < 64; k++) {
			if (c->nodes[i].addrs[k].family != family)
				continue;
			engine_ep_addr(e, &c->nodes[i].addrs[k], &l->ep[l->n]);
			l->local[l->n++] = false;
		}
}

/*
 * The NFLOG action of cell @p: @want_n log statements hit, the last one
 * naming @want_dir's side (the source's egress class "bh:e:NS:H" or the
 * destination's ingress class "bh:i:NS:H", or their hashed form), in the
 * default group, and ruleset_alert_pod() resolves it to that pod.
 * Returns whether the cell was logged.
 */
static bool check_log(const char *what, const struct ruleset *rs, struct cluster *c,
		      const struct pkt *p, const struct engine_ep *src, const struct engine_ep *dst,
		      size_t want_n, enum netpol_dir want_dir, const struct nflog_rec *log)
{
	const struct pod *want_pod = want_dir == NETPOL_EGRESS ? src->pod : dst->pod;
	char a[ADDR_STR_MAX], b[ADDR_STR_MAX], head[RULESET_PREFIX_MAX + 8];
	const char *ns = NULL, *pod = NULL;
	enum netpol_dir dir;

	(void) addr_format(&p->src, a, sizeof(a));
	(void) addr_format(&p->dst, b, sizeof(b));
	if (log->n != want_n)
		fail_msg("%s: %s -> %s %s/%u: logged %zu times (%s), want %zu", what, a, b,
			 proto_name(p->proto), p->port, log->n, log->prefix ? log->prefix : "-",
			 want_n);
	if (!want_n)
		return false;
	if (!want_pod)
		fail_msg("%s: %s -> %s: denied by a side that is no pod", what, a, b);
	if (log->group != RULESET_NFLOG_GROUP)
		fail_msg("%s: %s -> %s: logged to group %u", what, a, b, log->group);
	/* "bh:D:NS:H" of the deciding pod's class, or its hashed form. */
	(void) snprintf(head, sizeof(head), "bh:%c:%s:", want_dir == NETPOL_EGRESS ? 'e' : 'i',
			want_pod->ns);
	if (strncmp(log->prefix, head, strlen(head)) != 0 &&
	    !(strncmp(log->prefix, head, 5) == 0 && log->prefix[5] == '#'))
		fail_msg("%s: %s -> %s %s/%u: logged '%s', want '%s...' (%s of %s/%s)", what, a, b,
			 proto_name(p->proto), p->port, log->prefix, head,
			 want_dir == NETPOL_EGRESS ? "egress" : "ingress", want_pod->ns,
			 want_pod->name);
	if (ruleset_alert_pod(rs, c, log->prefix, &p->src, &p->dst, &dir, &ns, &pod) < 0 ||
	    dir != want_dir || strcmp(ns, want_pod->ns) != 0 || strcmp(pod, want_pod->name) != 0)
		fail_msg("%s: %s -> %s %s/%u: '%s' names %s/%s, want %s of %s/%s", what, a, b,
			 proto_name(p->proto), p->port, log->prefix, ns ? ns : "-", pod ? pod : "-",
			 want_dir == NETPOL_EGRESS ? "egress" : "ingress", want_pod->ns,
			 want_pod->name);
	return true;
}

/*
 * What the kernel must do with a cell, from the engine's verdicts per
 * side this node enforces (a side that is not local allows).  A side
 * denies (the engine's allowed false), would deny (a proposal in preview
 * decides it: docs/enforcer.md, "Two origins of policy") or allows.
 *  - Ruleset in preview: every class logs and accepts, and an accepting
 *    egress class ends the walk: nothing dropped, one log when a side
 *    denies or would deny, naming the egress first.
 *  - Ruleset in enforce: a denying egress drops, unlogged; a would-deny
 *    egress logs and hands over to the ingress, which drops if it denies
 *    and logs (again) if it would deny.
 */
struct cell_want {
	bool allowed;
	size_t n_logs;
	enum netpol_dir last_log;
};

static struct cell_want cell_want(enum bh_mode mode, const struct engine_result *res, bool local_s,
				  bool local_d)
{
	const struct engine_dir_result *eg = &res->dir[NETPOL_EGRESS];
	const struct engine_dir_result *in = &res->dir[NETPOL_INGRESS];
	bool eg_drop = local_s && !eg->allowed, in_drop = local_d && !in->allowed;
	bool eg_log = local_s && eg->would_deny, in_log = local_d && in->would_deny;
	struct cell_want w = { .allowed = true };

	if (mode == BH_MODE_PREVIEW) {
		w.n_logs = eg_drop || eg_log || in_drop || in_log;
		w.last_log = eg_drop || eg_log ? NETPOL_EGRESS : NETPOL_INGRESS;
		return w;
	}
	if (eg_drop)
		return (struct cell_want){ .allowed = false };
	w.n_logs = eg_log;
	w.last_log = NETPOL_EGRESS;
	if (in_drop) {
		w.allowed = false;
		return w;
	}
	if (in_log) {
		w.n_logs++;
		w.last_log = NETPOL_INGRESS;
	}
	return w;
}

/* Compares ruleset @rs of cluster @c with the engine over every cell
 * (verdict and NFLOG action); returns the cells checked and adds the
 * cells logged to @logged (when not NULL). */
static size_t compare_rs_logged(const char *what, struct cluster *c, const struct ruleset *rs,
				enum bh_mode mode, size_t *logged)
{
	struct engine *e = NULL;
	size_t cells = 0;
	struct interp in;

	assert_int_equal(engine_new(c, &e), 0);
	in = (struct interp){ .rs = rs, .node = cluster_node_find(c, NODE) };
	for (int f = 0; f < 2; f++) {
		const int family = f ? AF_INET6 : AF_INET;
		struct ep_list l;

		eps_build(e, c, family, &l);
		for (size_t s = 0; s < l.n; s++)
			for (size_t d = 0; d < l.n; d++) {
				if (s == d || (!l.local[s] && !l.local[d]))
					continue;
				for (size_t k = 0; k < BH_ARRAY_SIZE(probes); k++) {
					struct engine_result res;
					struct pkt p = { .src = l.ep[s].addr,
							 .dst = l.ep[d].addr,
							 .proto = probes[k].proto,
							 .port = probes[k].port };
					struct cell_want want;
					bool got;
					char a[ADDR_STR_MAX], b[ADDR_STR_MAX];
					struct nflog_rec log;

					assert_int_equal(engine_explain(e, &l.ep[s], &l.ep[d],
									p.proto, p.port, &res),
							 0);
					want = cell_want(mode, &res, l.local[s], l.local[d]);
					engine_result_done(&res);
					got = kernel_run(&in, &p, &log);
					if (check_log(what, rs, c, &p, &l.ep[s], &l.ep[d],
						      want.n_logs, want.last_log, &log) &&
					    logged)
						(*logged)++;
					if (want.allowed != got)
						fail_msg(
							"%s: %s -> %s %s/%u: ruleset %s, engine %s",
							what, addr_format(&p.src, a, sizeof(a)),
							addr_format(&p.dst, b, sizeof(b)),
							proto_name(p.proto), p.port,
							got ? "allows" : "denies",
							want.allowed ? "allows" : "denies");
					cells++;
				}
			}
	}
	engine_free(e);
	return cells;
}

static size_t compare_rs(const char *what, struct cluster *c, const struct ruleset *rs,
			 enum bh_mode mode)
{
	return compare_rs_logged(what, c, rs, mode, NULL);
}

/* The same for a fresh build of @c. */
static size_t compare_all(const char *what, struct cluster *c, enum bh_mode mode, size_t *logged)
{
	struct ruleset_opts o = { .node = NODE, .mode = mode };
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };
	size_t cells;

	if (ruleset_build(c, &o, &rs, &err) < 0)
		fail_msg("%s: ruleset_build: %s", what, err.msg);
	cells = compare_rs_logged(what, c, rs, mode, logged);
	ruleset_free(rs);
	return cells;
}

static struct cluster *load(const char *a, const char *b)
{
	const char *paths[2] = { a, b };
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	if (snapshot_load_files(paths, b ? 2 : 1, &c, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	return c;
}

/* A copy of pod @ns/@name as @c holds it now (NULL when absent): the old
 * version a pod event names, as the watch cache hands it to subscribers
 * (the ruleset keeps no copy of the cluster). */
static struct pod *pod_save(const struct cluster *c, const char *ns, const char *name)
{
	const struct pod *p = cluster_pod_find(c, ns, name);
	struct pod *copy;

	if (!p)
		return NULL;
	copy = calloc(1, sizeof(*copy));
	assert_non_null(copy);
	assert_int_equal(pod_copy(copy, p), 0);
	return copy;
}

/* The pod event from @old (pod_save(), freed here) to what @c holds. */
static int update_pod(struct ruleset *rs, struct cluster *c, struct pod *old, const char *ns,
		      const char *name, struct rs_delta **d, struct bh_err *err)
{
	int r = ruleset_update_pod(rs, c, old, cluster_pod_find(c, ns, name), d, err);

	if (old)
		pod_done(old);
	free(old);
	return r;
}

/* Moves the pods of @ns to another node, so that only one side of their
 * connections is enforced here. */
static void move_ns(struct cluster *c, const char *ns)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		if (strcmp(c->pods[i].ns, ns) != 0)
			continue;
		free(c->pods[i].node);
		c->pods[i].node = strdup("node-2");
		assert_non_null(c->pods[i].node);
	}
}

static void cases_agree_with_engine(void **state)
{
	DIR *dir = opendir(CASES_DIR);
	struct dirent *de;
	size_t files = 0, cells = 0, logged = 0;

	(void) state;
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char path[1024];
		struct cluster *c;

		if (!strstr(de->d_name, ".json") || strcmp(de->d_name, "model.json") == 0)
			continue;
		(void) snprintf(path, sizeof(path), "%s/%s", CASES_DIR, de->d_name);
		c = load(MODEL, path);
		cells += compare_all(de->d_name, c, BH_MODE_ENFORCE, NULL);
		cells += compare_all(de->d_name, c, BH_MODE_PREVIEW, &logged);
		move_ns(c, "y");
		cells += compare_all(de->d_name, c, BH_MODE_ENFORCE, NULL);
		cells += compare_all(de->d_name, c, BH_MODE_PREVIEW, &logged);
		cluster_free(c);
		files++;
	}
	closedir(dir);
	assert_true(files >= 50);
	/* Preview must have logged something: the cases deny plenty. */
	assert_true(logged > 0);
	print_message("%zu cases, %zu cells agree (verdict and NFLOG action; %zu would-deny "
		      "cells logged in preview)\n",
		      files, cells, logged);
}

/*
 * The policies of @c given origins (include/netpol.h) by @variant, per
 * namespace in policy order: 0 every one a proposal in preview, 1 every
 * one a proposal in enforce, 2 and 3 the first, third... stay the
 * cluster's and the others are proposals in preview (2) or enforce (3).
 * A proposal is renamed NETPOL_PROPOSAL_PREFIX + its name.
 */
static void set_origins(struct cluster *c, int variant)
{
	size_t n = c->n_policies, k = 0;
	struct netpol *v = calloc(n + 1, sizeof(*v));

	assert_non_null(v);
	while (c->n_policies) {
		netpol_init(&v[k]);
		assert_int_equal(
			cluster_policy_take(c, c->policies[0].ns, c->policies[0].name, &v[k]), 1);
		k++;
	}
	for (size_t i = 0, nth = 0; i < n; i++) {
		enum netpol_origin o;
		char *name;

		nth = i > 0 && strcmp(v[i - 1].ns, v[i].ns) == 0 ? nth + 1 : 0;
		if (variant < 2)
			o = variant ? NETPOL_ORIGIN_ENFORCE : NETPOL_ORIGIN_PREVIEW;
		else if (nth % 2 == 0)
			o = NETPOL_ORIGIN_CLUSTER;
		else
			o = variant == 3 ? NETPOL_ORIGIN_ENFORCE : NETPOL_ORIGIN_PREVIEW;
		if (o != NETPOL_ORIGIN_CLUSTER) {
			assert_true(asprintf(&name, "%s%s", NETPOL_PROPOSAL_PREFIX, v[i].name) > 0);
			free(v[i].name);
			v[i].name = name;
		}
		v[i].origin = o;
		assert_true(cluster_policy_put(c, &v[i]) >= 0);
	}
	free(v);
}

/*
 * Every case of tests/data/netpol-cases with its policies given origins
 * (set_origins(), every variant), and tests/data/origins (a cluster
 * policy and a proposal on the same pod, a pod isolated by the proposal
 * alone, both directions), in both modes: the ruleset agrees with the
 * engine cell for cell, would-denies logged.
 */
static void origins_agree_with_engine(void **state)
{
	DIR *dir = opendir(CASES_DIR);
	struct dirent *de;
	size_t files = 0, cells = 0, logged = 0;

	(void) state;
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char path[1024];

		if (!strstr(de->d_name, ".json") || strcmp(de->d_name, "model.json") == 0)
			continue;
		(void) snprintf(path, sizeof(path), "%s/%s", CASES_DIR, de->d_name);
		for (int variant = 0; variant < 4; variant++) {
			struct cluster *c = load(MODEL, path);
			char what[1100];

			set_origins(c, variant);
			(void) snprintf(what, sizeof(what), "%s (origins %d)", de->d_name, variant);
			cells += compare_all(what, c, BH_MODE_ENFORCE, &logged);
			cells += compare_all(what, c, BH_MODE_PREVIEW, NULL);
			cluster_free(c);
		}
		files++;
	}
	closedir(dir);
	for (int variant = 0; variant < 2; variant++) {
		struct cluster *c = load(MODEL, BH_TEST_DATA "/origins/cluster.json");
		struct cluster *pc = load(BH_TEST_DATA "/origins/proposal.json", NULL);

		for (size_t i = 0; i < pc->n_policies; i++) {
			struct netpol p;
			char *name;

			netpol_init(&p);
			assert_int_equal(netpol_copy(&p, &pc->policies[i]), 0);
			assert_true(asprintf(&name, "%s%s", NETPOL_PROPOSAL_PREFIX, p.name) > 0);
			free(p.name);
			p.name = name;
			p.origin = variant ? NETPOL_ORIGIN_ENFORCE : NETPOL_ORIGIN_PREVIEW;
			assert_true(cluster_policy_put(c, &p) >= 0);
		}
		cells += compare_all("origins", c, BH_MODE_ENFORCE, &logged);
		cells += compare_all("origins", c, BH_MODE_PREVIEW, NULL);
		move_ns(c, "y");
		cells += compare_all("origins", c, BH_MODE_ENFORCE, &logged);
		cluster_free(pc);
		cluster_free(c);
	}
	assert_true(files >= 50);
	/* Proposals in preview under an enforcing ruleset must have logged. */
	assert_true(logged > 0);
	print_message("%zu cases x 4 origin variants + tests/data/origins: %zu cells agree "
		      "(%zu logged by proposals in preview under enforce)\n",
		      files, cells, logged);
}

static const char snap_cidr[] =
	"{\"kind\":\"List\",\"items\":["
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\",\"labels\":{\"app\":"
	"\"a\"}},\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"c\",\"ports\":[{"
	"\"name\":\"sig\",\"containerPort\":3868,\"protocol\":\"SCTP\"}]}]},\"status\":{"
	"\"podIPs\":[{\"ip\":\"10.0.0.2\"}]}},"
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"x\"},\"spec\":{"
	"\"podSelector\":{},\"ingress\":[{\"from\":["
	"{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"10.1.0.0/16\",\"10.1.2.0/24\"]}},"
	"{\"ipBlock\":{\"cidr\":\"10.1.2.0/24\"}},"
	"{\"ipBlock\":{\"cidr\":\"10.128.0.0/9\"}},"
	"{\"ipBlock\":{\"cidr\":\"11.0.0.0/8\"}},"
	"{\"ipBlock\":{\"cidr\":\"0.0.0.0/0\",\"except\":[\"0.0.0.0/1\"]}}],"
	"\"ports\":[{\"port\":80},{\"port\":70,\"endPort\":90},{\"port\":91},"
	"{\"protocol\":\"SCTP\",\"port\":\"sig\"},{\"protocol\":\"UDP\"}]}]}}]}";

static void cidrs_and_ports_merge(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = NULL;
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };
	const struct rs_set *s;
	struct buf b;

	(void) state;
	assert_int_equal(snapshot_load_buf(snap_cidr, sizeof(snap_cidr) - 1, "t", &c, NULL, &err),
			 0);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	s = ruleset_set_find(rs, "p/x/p1/i0/cidr4");
	assert_non_null(s);
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < s->n_elems; i++) {
		char x[ADDR_STR_MAX], y[ADDR_STR_MAX];

		assert_int_equal(buf_printf(&b, "%s-%s;",
					    addr_format(&s->elems[i].addr, x, sizeof(x)),
					    addr_format(&s->elems[i].addr_end, y, sizeof(y))),
				 0);
	}
	/* 10/8 minus 10.1/16 plus 10.1.2/24 (another peer), 10.128/9 nested, 11/8
	 * adjacent: one interval up to 10.1.1.255, the /24, then the rest
	 * merged with 11/8 and with 128/1 (0/0 except 0/1) kept apart. */
	assert_string_equal(b.data, "10.0.0.0-10.0.255.255;10.1.2.0-10.1.2.255;"
				    "10.2.0.0-11.255.255.255;128.0.0.0-255.255.255.255;");
	buf_reset(&b);
	/* UDP on every port: past RULESET_PORTS_EXPAND_MAX, so ranges. */
	assert_null(ruleset_set_find(rs, "p/x/p1/i0/ports"));
	s = ruleset_set_find(rs, "p/x/p1/i0/ranges");
	assert_non_null(s);
	assert_true(s->flags & RS_SET_INTERVAL);
	assert_int_equal(s->n_elems, 2);
	assert_int_equal(s->elems[0].proto, IPPROTO_TCP);
	assert_int_equal(s->elems[0].port, 70);
	assert_int_equal(s->elems[0].port_end, 91);
	assert_int_equal(s->elems[1].proto, IPPROTO_UDP);
	assert_int_equal(s->elems[1].port_end, 65535);
	s = ruleset_set_find(rs, "p/x/p1/i0/named4");
	assert_non_null(s);
	assert_int_equal(s->n_elems, 1);
	assert_int_equal(s->elems[0].proto, IPPROTO_SCTP);
	assert_int_equal(s->elems[0].port, 3868);
	buf_done(&b);
	ruleset_free(rs);
	cluster_free(c);
}

/* Class ids (digit sets, trie chains) may be numbered differently by
 * incremental updates than by a fresh build: compare the canonical text,
 * which follows every isolated address through the trie instead. */
static void text_of(const struct ruleset *rs, struct buf *b)
{
	buf_reset(b);
	assert_int_equal(ruleset_text_canonical(rs, b), 0);
}

/* One pod in x and policy p1 whose ingress rule allows PORTS (JSON). */
#define SNAP_PORTS(PORTS)                                                                           \
	"{\"kind\":\"List\",\"items\":["                                                            \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"," \
	"\"labels\":{\"app\":\"a\"}},\"spec\":{\"nodeName\":\"node-1\"},\"status\":{"               \
	"\"podIPs\":[{\"ip\":\"10.0.0.2\"}]}},"                                                     \
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"        \
	"\"name\":\"p1\",\"namespace\":\"x\"},\"spec\":{\"podSelector\":{},\"ingress\":[{"          \
	"\"from\":[{\"podSelector\":{}}],\"ports\":" PORTS "}]}}]}"

static const struct rs_set *port_set_of(const struct ruleset *rs, bool *ranges)
{
	const struct rs_set *s = ruleset_set_find(rs, "p/x/p1/i0/ports");

	*ranges = s == NULL;
	if (!s)
		s = ruleset_set_find(rs, "p/x/p1/i0/ranges");
	assert_non_null(s);
	assert_int_equal(!!(s->flags & RS_SET_INTERVAL), *ranges);
	return s;
}

/* Numeric ports up to RULESET_PORTS_EXPAND_MAX (ranges expanded) are a hash
 * set of single ports; more are an interval set; an edit across the bound
 * swaps the sets without a table replace. */
static void port_sets_hash_or_ranges(void **state)
{
	static const char few[] = SNAP_PORTS("[{\"port\":80},{\"port\":70,\"endPort\":90},"
					     "{\"port\":91},{\"protocol\":\"UDP\",\"port\":53}]");
	static const char at_max[] = SNAP_PORTS("[{\"port\":1000,\"endPort\":1063}]");
	static const char past_max[] = SNAP_PORTS("[{\"port\":1000,\"endPort\":1064}]");
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = NULL, *c2 = NULL;
	struct ruleset *rs = NULL, *fresh = NULL;
	struct rs_delta *d = NULL;
	struct pod *old = NULL;
	struct bh_err err = { 0 };
	const struct rs_set *s;
	struct buf b1, b2;
	bool ranges;

	(void) state;
	assert_int_equal(RULESET_PORTS_EXPAND_MAX, 64);
	assert_int_equal(snapshot_load_buf(few, sizeof(few) - 1, "few", &c, NULL, &err), 0);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	s = port_set_of(rs, &ranges);
	assert_false(ranges);
	assert_int_equal(s->n_elems, 23); /* TCP 70-91, UDP 53 */
	for (size_t i = 0; i < s->n_elems; i++) {
		assert_int_equal(s->elems[i].port, s->elems[i].port_end);
		assert_int_equal(s->elems[i].proto, i < 22 ? IPPROTO_TCP : IPPROTO_UDP);
		assert_int_equal(s->elems[i].port, i < 22 ? 70 + i : 53);
	}
	assert_true(s->size >= s->n_elems);
	rs = ruleset_free(rs);
	cluster_free(c);

	assert_int_equal(snapshot_load_buf(at_max, sizeof(at_max) - 1, "at", &c, NULL, &err), 0);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	s = port_set_of(rs, &ranges);
	assert_false(ranges);
	assert_int_equal(s->n_elems, 64);

	/* 65 ports: an edit of p1 becomes a new interval set and new rules. */
	assert_int_equal(snapshot_load_buf(past_max, sizeof(past_max) - 1, "past", &c2, NULL, &err),
			 0);
	assert_int_equal(ruleset_update_all(rs, c2, &d, &err), 0);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	s = port_set_of(rs, &ranges);
	assert_true(ranges);
	assert_int_equal(s->n_elems, 1);
	assert_int_equal(s->elems[0].port, 1000);
	assert_int_equal(s->elems[0].port_end, 1064);
	assert_int_equal(ruleset_build(c2, &o, &fresh, &err), 0);
	buf_init(&b1, 1 << 20);
	buf_init(&b2, 1 << 20);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	assert_non_null(strstr(b1.data, "@p/x/p1/i0/ranges counter packets 0 bytes 0 accept"));
	assert_null(strstr(b1.data, "p/x/p1/i0/ports"));
	d = rs_delta_free(d);
	fresh = ruleset_free(fresh);

	/* The pod goes: p1 isolates nothing here, its sets go too. */
	old = pod_save(c2, "x", "a");
	assert_int_equal(cluster_pod_remove(c2, "x", "a"), 1);
	assert_int_equal(update_pod(rs, c2, old, "x", "a", &d, &err), 0);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	assert_null(ruleset_set_find(rs, "p/x/p1/i0/ranges"));
	assert_int_equal(ruleset_build(c2, &o, &fresh, &err), 0);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	assert_null(strstr(b1.data, "p/x/p1/"));
	buf_done(&b1);
	buf_done(&b2);
	d = rs_delta_free(d);
	fresh = ruleset_free(fresh);
	rs = ruleset_free(rs);
	cluster_free(c2);
	cluster_free(c);
}

static void expect_fresh(struct ruleset *rs, struct cluster *c, const struct ruleset_opts *o)
{
	struct ruleset *fresh = NULL;
	struct bh_err err = { 0 };
	struct buf b1, b2;

	buf_init(&b1, 1 << 24);
	buf_init(&b2, 1 << 24);
	assert_int_equal(ruleset_build(c, o, &fresh, &err), 0);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	buf_done(&b1);
	buf_done(&b2);
	ruleset_free(fresh);
}

static void relabel(struct cluster *c, const char *ns, const char *name, const char *pod)
{
	struct pod *p = (struct pod *) cluster_pod_find(c, ns, name);

	assert_non_null(p);
	assert_int_equal(labels_set(&p->labels, "pod", pod), 0);
	c->by_addr_stale = true;
}

static size_t vmap_elems(const struct ruleset *rs, const char *name)
{
	const struct rs_set *s = ruleset_set_find(rs, name);

	assert_non_null(s);
	return s->n_elems;
}

/* Pod events only ever delete verdict map elements. */
static void expect_no_vmap_add(const struct ruleset *rs, const struct rs_delta *d)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(rs_delta_text(d, rs, &b), 0);
	assert_null(strstr(b.data, "add element in4/vmap"));
	assert_null(strstr(b.data, "add element in6/vmap"));
	buf_done(&b);
}

/* Incremental updates end where a fresh build of the same cluster is. */
static void updates_equal_fresh_build(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = load(MODEL, CASES_DIR "/19-ingress-named-port.json");
	struct cluster *c2 = load(MODEL, CASES_DIR "/41-default-deny-everywhere-allow-x-to-y.json");
	struct ruleset *rs = NULL, *fresh = NULL;
	struct rs_delta *d = NULL;
	struct pod *old = NULL;
	struct bh_err err = { 0 };
	struct buf b1, b2;

	(void) state;
	buf_init(&b1, 1 << 24);
	buf_init(&b2, 1 << 24);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);

	/* Relabel x/b: its membership in peer sets changes, nothing else. */
	old = pod_save(c, "x", "b");
	relabel(c, "x", "b", "a");
	assert_int_equal(update_pod(rs, c, old, "x", "b", &d, &err), 0);
	assert_int_equal(ruleset_build(c, &o, &fresh, &err), 0);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	assert_true(rs_delta_size(d) > 0 && rs_delta_size(d) < 20);
	d = rs_delta_free(d);
	fresh = ruleset_free(fresh);

	/* The same pod again: no change at all. */
	old = pod_save(c, "x", "b");
	assert_int_equal(update_pod(rs, c, old, "x", "b", &d, &err), 0);
	assert_null(d);

	/* Remove an isolated local pod: its map element and chain go. */
	old = pod_save(c, "x", "a");
	assert_int_equal(cluster_pod_remove(c, "x", "a"), 1);
	assert_int_equal(update_pod(rs, c, old, "x", "a", &d, &err), 0);
	assert_int_equal(ruleset_build(c, &o, &fresh, &err), 0);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	d = rs_delta_free(d);
	fresh = ruleset_free(fresh);

	/* A whole different policy set. */
	assert_int_equal(ruleset_update_all(rs, c2, &d, &err), 0);
	assert_int_equal(ruleset_build(c2, &o, &fresh, &err), 0);
	text_of(rs, &b1);
	text_of(fresh, &b2);
	assert_string_equal(b1.data, b2.data);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	d = rs_delta_free(d);

	buf_done(&b1);
	buf_done(&b2);
	ruleset_free(fresh);
	ruleset_free(rs);
	cluster_free(c);
	cluster_free(c2);
}

/*
 * The verdict maps in front of the tries hold the pods of the last full
 * build.  Pod events delete the element of a pod that leaves its class
 * and never add one (a joining pod goes through the trie), so the maps
 * shrink; every cell still agrees with the engine, the canonical text
 * with a fresh build, and ruleset_update_all() does not refill them.
 * ruleset_update_maps() does, with map elements only.
 */
static void vmap_shrinks_until_refill(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = load(MODEL, CASES_DIR "/08-pod-selector-same-namespace.json");
	struct ruleset *rs = NULL;
	struct rs_delta *d = NULL;
	struct pod *old = NULL;
	struct bh_err err = { 0 };
	struct buf b;

	(void) state;
	buf_init(&b, 1 << 20);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	/* x/a is the one isolated pod: in the maps of both families. */
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 1);
	assert_int_equal(vmap_elems(rs, "in6/vmap"), 1);

	/* x/b joins x/a's class: trie only. */
	old = pod_save(c, "x", "b");
	relabel(c, "x", "b", "a");
	assert_int_equal(update_pod(rs, c, old, "x", "b", &d, &err), 0);
	assert_non_null(d);
	expect_no_vmap_add(rs, d);
	d = rs_delta_free(d);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 1);
	assert_int_equal(vmap_elems(rs, "in4"), 2);
	assert_int_equal(ruleset_maps_missing(rs), 2); /* x/b, IPv4 and IPv6 */
	expect_fresh(rs, c, &o);
	assert_true(compare_rs("x/b joined", c, rs, BH_MODE_ENFORCE) > 0);

	/* x/a leaves: its elements go (the class stays, x/b is in it). */
	old = pod_save(c, "x", "a");
	relabel(c, "x", "a", "c");
	assert_int_equal(update_pod(rs, c, old, "x", "a", &d, &err), 0);
	assert_non_null(d);
	assert_int_equal(rs_delta_text(d, rs, &b), 0);
	assert_non_null(strstr(b.data, "delete element in4/vmap { 10."));
	assert_non_null(strstr(b.data, "delete element in6/vmap { "));
	d = rs_delta_free(d);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 0);
	assert_int_equal(vmap_elems(rs, "in6/vmap"), 0);
	expect_fresh(rs, c, &o);
	assert_true(compare_rs("x/a left", c, rs, BH_MODE_ENFORCE) > 0);

	/* ... and comes back: through the trie, the maps stay empty. */
	old = pod_save(c, "x", "a");
	relabel(c, "x", "a", "a");
	assert_int_equal(update_pod(rs, c, old, "x", "a", &d, &err), 0);
	assert_non_null(d);
	expect_no_vmap_add(rs, d);
	d = rs_delta_free(d);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 0);
	expect_fresh(rs, c, &o);
	assert_true(compare_rs("x/a back", c, rs, BH_MODE_ENFORCE) > 0);

	/* A recompile keeps only elements that are still right: none added. */
	assert_int_equal(ruleset_update_all(rs, c, &d, &err), 0);
	assert_null(d);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 0);
	assert_int_equal(ruleset_maps_missing(rs), 4);

	/* The refill puts both pods back, and adds nothing else. */
	assert_int_equal(ruleset_update_maps(rs, c, &d, &err), 0);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	assert_int_equal(rs_delta_size(d), 4);
	buf_reset(&b);
	assert_int_equal(rs_delta_text(d, rs, &b), 0);
	assert_non_null(strstr(b.data, "add element in4/vmap { 10."));
	assert_non_null(strstr(b.data, "add element in6/vmap { "));
	d = rs_delta_free(d);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 2);
	assert_int_equal(vmap_elems(rs, "in6/vmap"), 2);
	assert_int_equal(ruleset_maps_missing(rs), 0);
	expect_fresh(rs, c, &o);
	assert_true(compare_rs("maps refilled", c, rs, BH_MODE_ENFORCE) > 0);
	/* Full maps: a second refill has nothing to do. */
	assert_int_equal(ruleset_update_maps(rs, c, &d, &err), 0);
	assert_null(d);

	/* A fresh build has both pods in the maps too. */
	rs = ruleset_free(rs);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	assert_int_equal(vmap_elems(rs, "in4/vmap"), 2);
	assert_int_equal(vmap_elems(rs, "in6/vmap"), 2);
	assert_int_equal(ruleset_maps_missing(rs), 0);
	assert_true(compare_rs("fresh", c, rs, BH_MODE_ENFORCE) > 0);

	buf_done(&b);
	ruleset_free(rs);
	cluster_free(c);
}

/* Pod @ns/@name of @c moves to @phase (put again: the address index
 * depends on the phase). */
static void set_phase(struct cluster *c, const char *ns, const char *name, const char *phase)
{
	struct pod p;

	assert_int_equal(pod_copy(&p, cluster_pod_find(c, ns, name)), 0);
	free(p.phase);
	p.phase = strdup(phase);
	assert_non_null(p.phase);
	assert_true(cluster_pod_put(c, &p) >= 0);
}

/* Contains @ip as an address (not as the prefix of a longer one)? */
static bool text_has_addr(const char *text, const char *ip)
{
	size_t n = strlen(ip);

	for (const char *s = strstr(text, ip); s; s = strstr(s + 1, ip))
		if ((s == text || !isalnum((unsigned char) s[-1])) &&
		    !isalnum((unsigned char) s[n]) && s[n] != '.' && s[n] != ':')
			return true;
	return false;
}

/*
 * A finished pod (Succeeded, Failed) has no identity: its address leaves
 * every selector set and isolation set, so the next pod to get it is
 * judged as an unknown address until the agent hears of it; the engine
 * agrees on every cell.  A pod event that finishes a pod ends where a
 * fresh build does.
 */
static void finished_pods_have_no_identity(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = load(MODEL, CASES_DIR "/09-namespace-selector.json");
	struct ruleset *rs = NULL;
	struct rs_delta *d = NULL;
	struct pod *old = NULL;
	struct bh_err err = { 0 };
	struct buf b;

	(void) state;
	buf_init(&b, 1 << 22);
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	assert_int_equal(ruleset_text(rs, &b), 0);
	assert_true(text_has_addr(b.data, "10.200.1.2")); /* y/b, running */
	assert_true(text_has_addr(b.data, "fd00:200:0:1::2"));

	old = pod_save(c, "y", "b");
	set_phase(c, "y", "b", "Succeeded");
	assert_int_equal(update_pod(rs, c, old, "y", "b", &d, &err), 0);
	assert_non_null(d);
	d = rs_delta_free(d);
	expect_fresh(rs, c, &o);
	buf_reset(&b);
	assert_int_equal(ruleset_text(rs, &b), 0);
	assert_false(text_has_addr(b.data, "10.200.1.2"));
	assert_false(text_has_addr(b.data, "fd00:200:0:1::2"));
	assert_true(text_has_addr(b.data, "10.200.1.1")); /* y/a still there */
	assert_true(compare_rs("y/b finished", c, rs, BH_MODE_ENFORCE) > 0);
	assert_true(compare_all("y/b finished, preview", c, BH_MODE_PREVIEW, NULL) > 0);

	/* Failed is finished too; back to Running, it is a pod again. */
	old = pod_save(c, "y", "b");
	set_phase(c, "y", "b", "Failed");
	assert_int_equal(update_pod(rs, c, old, "y", "b", &d, &err), 0);
	assert_null(d); /* nothing changed for the kernel */
	old = pod_save(c, "y", "b");
	set_phase(c, "y", "b", "Running");
	assert_int_equal(update_pod(rs, c, old, "y", "b", &d, &err), 0);
	d = rs_delta_free(d);
	expect_fresh(rs, c, &o);
	buf_reset(&b);
	assert_int_equal(ruleset_text(rs, &b), 0);
	assert_true(text_has_addr(b.data, "10.200.1.2"));

	buf_done(&b);
	ruleset_free(rs);
	cluster_free(c);
}

/* Pod events on other nodes change set elements only; an address shared
 * with another pod falls back to a full recompile; all end where a fresh
 * build is. */
static void remote_pod_events(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_PREVIEW };
	struct cluster *c = load(MODEL, CASES_DIR "/09-namespace-selector.json");
	struct ruleset *rs = NULL;
	struct rs_delta *d = NULL;
	struct pod *old = NULL;
	struct bh_err err = { 0 };
	struct buf b;

	(void) state;
	move_ns(c, "y");
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);

	/* Relabel a remote pod out of every selector. */
	old = pod_save(c, "y", "a");
	relabel(c, "y", "a", "zz");
	assert_int_equal(update_pod(rs, c, old, "y", "a", &d, &err), 0);
	expect_fresh(rs, c, &o);
	buf_init(&b, 1 << 20);
	if (d) {
		assert_false(rs_delta_is_full(d));
		assert_int_equal(rs_delta_text(d, rs, &b), 0);
		/* only element changes */
		assert_null(strstr(b.data, "chain"));
		assert_null(strstr(b.data, "add set"));
	}
	d = rs_delta_free(d);

	/* A new remote pod: a copy of y/b with its own address. */
	{
		struct cluster tmp = { .n_pods = 1 }, *one = NULL;

		tmp.pods = (struct pod *) cluster_pod_find(c, "y", "b");
		assert_non_null(tmp.pods);
		assert_int_equal(cluster_copy(&tmp, &one), 0);
		free(one->pods[0].name);
		one->pods[0].name = strdup("b2");
		one->pods[0].n_ips = 1;
		one->pods[0].ips[0] = addr_lit("10.200.1.99");
		assert_int_equal(cluster_pod_put(c, &one->pods[0]), 1);
		one->n_pods = 0;
		cluster_free(one);
	}
	assert_int_equal(update_pod(rs, c, NULL, "y", "b2", &d, &err), 0);
	expect_fresh(rs, c, &o);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	buf_reset(&b);
	assert_int_equal(rs_delta_text(d, rs, &b), 0);
	assert_non_null(strstr(b.data, "add element"));
	assert_non_null(strstr(b.data, "10.200.1.99"));
	d = rs_delta_free(d);

	/* A pod taking x/a's address, created after it (so the address is
	 * y/b2's now): the recompile path. */
	old = pod_save(c, "y", "b2");
	{
		struct pod *p = (struct pod *) cluster_pod_find(c, "y", "b2");

		p->ips[0] = addr_lit("10.200.0.1");
		p->created = cluster_pod_find(c, "x", "a")->created + 1;
		c->by_addr_stale = true;
	}
	assert_int_equal(update_pod(rs, c, old, "y", "b2", &d, &err), 0);
	expect_fresh(rs, c, &o);
	d = rs_delta_free(d);

	/* And it leaves: the address is x/a's again (its isolation and
	 * peer-set elements come back).  The owner of a shared address
	 * leaving must recompile too. */
	old = pod_save(c, "y", "b2");
	assert_int_equal(cluster_pod_remove(c, "y", "b2"), 1);
	assert_int_equal(update_pod(rs, c, old, "y", "b2", &d, &err), 0);
	expect_fresh(rs, c, &o);
	d = rs_delta_free(d);
	buf_done(&b);
	ruleset_free(rs);
	cluster_free(c);
}

/* Adds a copy of pod @ns/@from named @name, on another node, with the
 * one address @ip. */
static void add_remote_clone(struct cluster *c, const char *ns, const char *from, const char *name,
			     const char *ip)
{
	struct cluster tmp = { .n_pods = 1 }, *one = NULL;

	tmp.pods = (struct pod *) cluster_pod_find(c, ns, from);
	assert_non_null(tmp.pods);
	assert_int_equal(cluster_copy(&tmp, &one), 0);
	free(one->pods[0].name);
	one->pods[0].name = strdup(name);
	assert_non_null(one->pods[0].name);
	free(one->pods[0].node);
	one->pods[0].node = strdup("n-other");
	assert_non_null(one->pods[0].node);
	one->pods[0].n_ips = 1;
	one->pods[0].ips[0] = addr_lit(ip);
	assert_int_equal(cluster_pod_put(c, &one->pods[0]), 1);
	one->n_pods = 0;
	cluster_free(one);
}

/* A hash set is created with room (RULESET_SET_HEADROOM); pods added one
 * by one keep its size until one more would pass it: that update
 * replaces the table in full, with every set fitted again, and ends
 * exactly where a fresh build is (sizes included). */
static void set_outgrows_size(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = load(MODEL, CASES_DIR "/41-default-deny-everywhere-allow-x-to-y.json");
	struct addr xa = addr_lit("10.200.0.1");
	struct ruleset *rs = NULL, *fresh = NULL;
	const struct rs_set *peers = NULL;
	struct rs_delta *d = NULL;
	struct bh_err err = { 0 };
	char name[64], ip[64], *set_name = NULL;
	size_t n0, size0, full = 0, i;
	struct buf b1, b2;

	(void) state;
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	/* The shared peer set of "namespace x" (x/a is in it). */
	for (i = 0; i < ruleset_n_sets(rs); i++) {
		const struct rs_set *s = ruleset_set(rs, i);

		if (strncmp(s->name, "s/", 2) == 0 && s->key == RS_KEY_ADDR4)
			for (size_t k = 0; k < s->n_elems; k++)
				if (addr_eq(&s->elems[k].addr, &xa))
					peers = s;
	}
	assert_non_null(peers);
	set_name = strdup(peers->name);
	assert_non_null(set_name);
	n0 = peers->n_elems;
	size0 = peers->size;
	assert_int_equal(size0, n0 + RULESET_SET_HEADROOM);
	for (i = 0; i <= size0 - n0; i++) {
		(void) snprintf(name, sizeof(name), "grow-%zu", i);
		(void) snprintf(ip, sizeof(ip), "10.201.%zu.%zu", i / 250, 1 + i % 250);
		add_remote_clone(c, "x", "a", name, ip);
		assert_int_equal(update_pod(rs, c, NULL, "x", name, &d, &err), 0);
		assert_non_null(d);
		peers = ruleset_set_find(rs, set_name);
		assert_non_null(peers);
		assert_int_equal(peers->n_elems, n0 + i + 1);
		if (rs_delta_is_full(d)) {
			full++;
			/* exactly when the set would pass its size */
			assert_int_equal(peers->n_elems, size0 + 1);
			assert_int_equal(peers->size, 2 * peers->n_elems);
			assert_int_equal(rs_delta_size(d), 0);
		} else {
			assert_int_equal(peers->size, size0);
		}
		d = rs_delta_free(d);
	}
	assert_int_equal(full, 1);
	/* After the full replace: equal to a fresh build, sizes and all. */
	buf_init(&b1, 1 << 24);
	buf_init(&b2, 1 << 24);
	assert_int_equal(ruleset_build(c, &o, &fresh, &err), 0);
	assert_int_equal(ruleset_text(rs, &b1), 0);
	assert_int_equal(ruleset_text(fresh, &b2), 0);
	assert_string_equal(b1.data, b2.data);
	assert_non_null(strstr(b1.data, "\t\tsize "));
	/* One more pod: elements only again. */
	add_remote_clone(c, "x", "a", "grow-last", "10.202.0.1");
	assert_int_equal(update_pod(rs, c, NULL, "x", "grow-last", &d, &err), 0);
	assert_non_null(d);
	assert_false(rs_delta_is_full(d));
	expect_fresh(rs, c, &o);
	d = rs_delta_free(d);
	buf_done(&b1);
	buf_done(&b2);
	free(set_name);
	ruleset_free(fresh);
	ruleset_free(rs);
	cluster_free(c);
}

/* IPv6 neighbour discovery to the node passes an egress-isolated pod;
 * other ICMPv6 does not. */
static void neighbour_discovery_passes(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = load(MODEL, CASES_DIR "/02-deny-all-egress.json");
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };
	struct interp in;
	struct pkt p = { .src = addr_lit("fd00:200::1"),
			 .dst = addr_lit("fd00:100::1"),
			 .proto = IPPROTO_ICMPV6,
			 .port = 135 };

	(void) state;
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	in = (struct interp){ .rs = rs, .node = cluster_node_find(c, NODE) };
	assert_non_null(in.node);
	assert_true(kernel_allows(&in, &p));
	p.port = 143;
	assert_true(kernel_allows(&in, &p));
	p.port = 128; /* echo request: policy applies */
	assert_false(kernel_allows(&in, &p));
	ruleset_free(rs);
	cluster_free(c);
}

/* The NFLOG prefix of the class chain that logs for @ns's pods, @d. */
static const char *class_log_prefix(const struct ruleset *rs, const char *chain_prefix)
{
	for (size_t i = 0; i < ruleset_n_chains(rs); i++) {
		const struct rs_chain *c = ruleset_chain(rs, i);

		if (strncmp(c->name, chain_prefix, strlen(chain_prefix)) != 0)
			continue;
		for (size_t k = 0; k < c->n_rules; k++)
			if (c->rules[k].kind == RS_RULE_SEEN_LOG)
				return c->rules[k].prefix;
	}
	return NULL;
}

/* Class prefixes resolve to the deciding pod through the packet's
 * addresses, and only to a member of that class. */
static void prefixes_round_trip(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_PREVIEW };
	struct cluster *c = load(MODEL, CASES_DIR "/01-deny-all-ingress.json");
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };
	char buf[RULESET_PREFIX_MAX], longname[200], wrong[RULESET_PREFIX_MAX];
	struct addr xa = addr_lit("10.200.0.1"), xb6 = addr_lit("fd00:200::2"),
		    ya = addr_lit("10.200.1.1"), ext = addr_lit("192.168.1.1");
	const char *ns, *pod, *pfx;
	enum netpol_dir d;

	(void) state;
	assert_int_equal(ruleset_build(c, &o, &rs, &err), 0);
	assert_string_equal(ruleset_pod_prefix("x", "a", NETPOL_INGRESS, buf, sizeof(buf)),
			    "bh:i:x/a");
	pfx = class_log_prefix(rs, "ci/x/");
	assert_non_null(pfx);
	assert_int_equal(strncmp(pfx, "bh:i:x:", 7), 0);
	assert_int_equal(ruleset_alert_pod(rs, c, pfx, &ya, &xa, &d, &ns, &pod), 0);
	assert_int_equal(d, NETPOL_INGRESS);
	assert_string_equal(ns, "x");
	assert_string_equal(pod, "a");
	assert_int_equal(ruleset_alert_pod(rs, c, pfx, &ext, &xb6, &d, &ns, &pod), 0);
	assert_string_equal(pod, "b");
	/* y/a is in no ingress class; e: the source's egress class. */
	assert_int_equal(ruleset_alert_pod(rs, c, pfx, &xa, &ya, &d, &ns, &pod), -ENOENT);
	(void) snprintf(wrong, sizeof(wrong), "bh:e:%s", pfx + 5);
	assert_int_equal(ruleset_alert_pod(rs, c, wrong, &xa, &ya, &d, &ns, &pod), -ENOENT);
	assert_int_equal(ruleset_alert_pod(rs, c, "bh:i:x/a", &ya, &xa, &d, &ns, &pod), -ENOENT);
	assert_int_equal(ruleset_alert_pod(rs, c, "other", &ya, &xa, &d, &ns, &pod), -ENOENT);
	memset(longname, 'p', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ruleset_pod_prefix("x", longname, NETPOL_INGRESS, buf, sizeof(buf));
	assert_int_equal(strlen(buf), strlen("bh:i:#") + 16);
	assert_int_equal(strncmp(buf, "bh:i:#", 6), 0);
	ruleset_free(rs);
	cluster_free(c);
}

/* The library names the field, the CLI its flag (--node). */
static void no_node_is_input_error(void **state)
{
	struct ruleset_opts o = { .node = NULL, .mode = BH_MODE_ENFORCE };
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };

	(void) state;
	assert_int_equal(ruleset_build(NULL, &o, &rs, &err), -EINVAL);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "node"));
	assert_null(strstr(err.msg, "--"));
}

/*
 * What the compiler cannot hold because of the cluster's shape is an
 * input error naming the node: 4,400 policies with 250-character names
 * all isolating one pod make its class key (its namespace and those
 * names) pass the 1 MiB bound.
 */
static void key_past_bound_is_input_error(void **state)
{
	struct ruleset_opts o = { .node = NODE, .mode = BH_MODE_ENFORCE };
	struct cluster *c = NULL;
	struct ruleset *rs = NULL;
	struct bh_err err = { 0 };
	char name[251];
	struct buf b;

	(void) state;
	buf_init(&b, 8u << 20);
	assert_int_equal(buf_printf(&b,
				    "{\"kind\":\"List\",\"items\":["
				    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":"
				    "{\"name\":\"a\",\"namespace\":\"x\"},\"spec\":"
				    "{\"nodeName\":\"%s\"},\"status\":{\"phase\":\"Running\","
				    "\"podIPs\":[{\"ip\":\"10.0.0.2\"}]}}",
				    NODE),
			 0);
	memset(name, 'p', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (int i = 0; i < 4400; i++) {
		char num[8];

		(void) snprintf(num, sizeof(num), "%05d", i);
		memcpy(name, num, 5);
		assert_int_equal(buf_printf(&b,
					    ",{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":"
					    "\"NetworkPolicy\",\"metadata\":{\"name\":\"%s\","
					    "\"namespace\":\"x\"},\"spec\":{\"podSelector\":{},"
					    "\"policyTypes\":[\"Ingress\"]}}",
					    name),
				 0);
	}
	assert_int_equal(buf_printf(&b, "]}"), 0);
	assert_int_equal(snapshot_load_buf(b.data, b.len, "t", &c, NULL, &err), 0);
	buf_done(&b);
	memset(&err, 0, sizeof(err));
	assert_int_equal(ruleset_build(c, &o, &rs, &err), -E2BIG);
	assert_null(rs);
	assert_int_equal(err.kind, BH_ERR_INPUT);
	assert_non_null(strstr(err.msg, "node '" NODE "'"));
	assert_null(strstr(err.msg, "--"));
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cases_agree_with_engine),
		cmocka_unit_test(origins_agree_with_engine),
		cmocka_unit_test(cidrs_and_ports_merge),
		cmocka_unit_test(port_sets_hash_or_ranges),
		cmocka_unit_test(updates_equal_fresh_build),
		cmocka_unit_test(vmap_shrinks_until_refill),
		cmocka_unit_test(prefixes_round_trip),
		cmocka_unit_test(neighbour_discovery_passes),
		cmocka_unit_test(remote_pod_events),
		cmocka_unit_test(finished_pods_have_no_identity),
		cmocka_unit_test(set_outgrows_size),
		cmocka_unit_test(no_node_is_input_error),
		cmocka_unit_test(key_past_bound_is_input_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
