/*
 * propose: the rules of one policy from its edges: ports (named where every
 * pod of the workload names them), workload peers, address peers sharing a
 * rule when their ports are equal (aggregated into prefixes when asked),
 * and the policy's annotations.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"
#include "rfc3339.h"
#include "propose_int.h"

/* The name every pod of @w gives container port @proto/@port, or NULL. */
static const char *port_name(const struct ctx *x, const struct workload *w, uint8_t proto,
			     uint16_t port)
{
	const char *name = NULL;

	for (size_t i = 0; i < w->n_pods; i++) {
		const struct pod *p = &x->c->pods[w->pods[i]];
		const char *here = NULL;

		for (size_t k = 0; k < p->n_ports && !here; k++)
			if (p->ports[k].port == port && p->ports[k].protocol == proto)
				here = p->ports[k].name;
		if (!here || (name && strcmp(name, here) != 0))
			return NULL;
		name = here;
	}
	/* A name that also means another port on some pod (a rollout that
	 * moved it) would allow more than was seen. */
	for (size_t i = 0; name && i < w->n_pods; i++) {
		const struct pod *p = &x->c->pods[w->pods[i]];

		for (size_t k = 0; k < p->n_ports; k++)
			if (p->ports[k].name && strcmp(p->ports[k].name, name) == 0 &&
			    (p->ports[k].port != port || p->ports[k].protocol != proto))
				return NULL;
	}
	return name;
}

/*
 * Ports of the edges [e, e + n) (sorted by protocol then port, unique):
 * named where every pod of @named_on declares a name, contiguous numbers
 * merged into port..endPort.
 */
static int build_ports(const struct ctx *x, const struct edge *e, size_t n,
		       const struct workload *named_on, struct netpol_rule *rule)
{
	rule->ports = calloc(n ? n : 1, sizeof(*rule->ports));
	if (!rule->ports)
		return -ENOMEM;
	for (size_t i = 0; i < n;) {
		struct netpol_port *pp = &rule->ports[rule->n_ports];
		const char *name = named_on && e[i].port ?
					   port_name(x, named_on, e[i].proto, e[i].port) :
					   NULL;
		size_t j = i + 1;

		*pp = (struct netpol_port){ .protocol = e[i].proto,
					    .kind = NETPOL_PORT_NUMBER,
					    .port = e[i].port };
		if (e[i].port == 0) {
			pp->kind = NETPOL_PORT_ANY;
		} else if (name) {
			pp->kind = NETPOL_PORT_NAME;
			pp->name = strdup(name);
			if (!pp->name)
				return -ENOMEM;
		} else {
			while (j < n && e[j].proto == e[i].proto &&
			       e[j].port == e[j - 1].port + 1 &&
			       !(named_on && port_name(x, named_on, e[j].proto, e[j].port)))
				j++;
			if (j - i > 1)
				pp->end_port = e[j - 1].port;
		}
		rule->n_ports++;
		i = j;
	}
	return 0;
}

static int peer_workload(const struct workload *w, struct netpol_peer *peer)
{
	*peer = (struct netpol_peer){ .kind = NETPOL_PEER_SELECTOR };
	peer->pod_sel = malloc(sizeof(*peer->pod_sel));
	peer->ns_sel = malloc(sizeof(*peer->ns_sel));
	if (!peer->pod_sel || !peer->ns_sel)
		goto oom;
	selector_init(peer->ns_sel);
	if (selector_copy(peer->pod_sel, &w->sel) < 0) {
		free(peer->pod_sel);
		peer->pod_sel = NULL;
		goto oom;
	}
	if (labels_set(&peer->ns_sel->match_labels, "kubernetes.io/metadata.name", w->ns) < 0)
		goto oom;
	return 0;
oom:
	netpol_peer_done(peer);
	return -ENOMEM;
}

/* An address peer: the /32 or /128 of @a. */
static void peer_addr(const struct addr *a, struct netpol_peer *peer)
{
	*peer = (struct netpol_peer){ .kind = NETPOL_PEER_IPBLOCK };
	cidr_from_addr(&peer->cidr, a);
}

/* An address peer of a policy, with the ports it used. */
struct ip_peer {
	struct ep ep;
	const struct edge *e; /* its edges, sorted by protocol, port */
	size_t n;
	uint64_t flows;
};

static int ports_cmp(const struct ip_peer *a, const struct ip_peer *b)
{
	for (size_t i = 0; i < a->n && i < b->n; i++) {
		if (a->e[i].proto != b->e[i].proto)
			return a->e[i].proto < b->e[i].proto ? -1 : 1;
		if (a->e[i].port != b->e[i].port)
			return a->e[i].port < b->e[i].port ? -1 : 1;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

static int ip_peer_cmp(const void *a, const void *b)
{
	const struct ip_peer *x = a, *y = b;
	int c = ports_cmp(x, y);

	return c ? c : propose_ep_cmp(&x->ep, &y->ep);
}

static int ports_text(const struct edge *e, size_t n, struct buf *b)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_printf(b, "%s%s/%u", i ? ", " : "", proto_name(e[i].proto), e[i].port);
	return r;
}

/* Why a rule has DNS ports nobody used: say so to the reviewer. */
static const char *dns_note(const struct ctx *x, size_t self, size_t peer, enum netpol_dir d,
			    const struct edge *e, size_t n)
{
	size_t server = d == NETPOL_INGRESS ? self : peer;

	if (self == peer || !x->dns_wl[server])
		return "";
	for (size_t i = 0; i < n; i++)
		if (propose_is_dns(e[i].proto, e[i].port))
			return ", DNS: 53/UDP and 53/TCP kept";
	return "";
}

/* Appends a rule to @np for direction @d; returns a pointer to it. */
static struct netpol_rule *rule_new(struct netpol *np, enum netpol_dir d)
{
	struct netpol_rule *v = realloc(np->rules[d], (np->n_rules[d] + 1) * sizeof(*v));

	if (!v)
		return NULL;
	np->rules[d] = v;
	v[np->n_rules[d]] = (struct netpol_rule){ 0 };
	return &v[np->n_rules[d]++];
}

/* Address peers with equal ports share one rule; externals past the
 * configured count per prefix become the prefix. */
static int ip_rules(const struct ctx *x, struct netpol *np, enum netpol_dir d, struct ip_peer *ips,
		    size_t n_ips, struct buf *notes)
{
	int r = 0;

	qsort(ips, n_ips, sizeof(*ips), ip_peer_cmp);
	for (size_t i = 0; i < n_ips;) {
		size_t j = i + 1;
		struct netpol_rule *rule;

		while (j < n_ips && ports_cmp(&ips[i], &ips[j]) == 0)
			j++;
		rule = rule_new(np, d);
		if (!rule)
			return -ENOMEM;
		r = build_ports(x, ips[i].e, ips[i].n, NULL, rule);
		if (r < 0)
			return r;
		rule->peers = calloc(j - i, sizeof(*rule->peers));
		if (!rule->peers)
			return -ENOMEM;
		for (size_t k = i; k < j;) {
			struct netpol_peer *pp = &rule->peers[rule->n_peers++];
			size_t m = k + 1;
			uint64_t flows = ips[k].flows;

			peer_addr(&ips[k].ep.addr, pp);
			if (x->o->aggregate_count && ips[k].ep.kind == EP_EXT) {
				struct cidr wide;
				uint8_t plen = ips[k].ep.addr.family == AF_INET ?
						       x->o->aggregate_plen4 :
						       x->o->aggregate_plen6;
				char a[ADDR_STR_MAX], s[ADDR_STR_MAX + 8];

				(void) snprintf(s, sizeof(s), "%s/%u",
						addr_format(&ips[k].ep.addr, a, sizeof(a)), plen);
				if (cidr_parse(s, &wide) == 0) {
					while (m < j && ips[m].ep.kind == EP_EXT &&
					       cidr_contains(&wide, &ips[m].ep.addr))
						m++;
					if (m - k > x->o->aggregate_count)
						pp->cidr = wide;
					else
						m = k + 1;
				}
			}
			for (size_t q = k + 1; q < m; q++)
				flows += ips[q].flows;
			{
				char cs[ADDR_STR_MAX];

				r = buf_printf(notes,
					       "%s %s: ", d == NETPOL_INGRESS ? "from" : "to",
					       cidr_format(&pp->cidr, cs, sizeof(cs)));
				if (r == 0 && m - k > 1)
					r = buf_printf(notes, "external, %zu addresses", m - k);
				else if (r == 0)
					r = propose_ep_describe_addr(x, &ips[k].ep, ips[k].e,
								     ips[k].n, notes);
				if (r == 0)
					r = buf_printf(notes, "; ");
				if (r == 0)
					r = ports_text(ips[k].e, ips[k].n, notes);
				if (r == 0)
					r = buf_printf(notes, " (%" PRIu64 " flow%s)\n", flows,
						       flows == 1 ? "" : "s");
				if (r < 0)
					return r;
			}
			k = m;
		}
		i = j;
	}
	return 0;
}

/*
 * The rule of @w's policy for the workload peer @pw reached over the edges
 * [e, e + n): their ports, named where every pod of the destination names
 * them, and @pw's selector with its namespace's.
 */
static int workload_rule(const struct ctx *x, const struct workload *w, const struct workload *pw,
			 enum netpol_dir d, const struct edge *e, size_t n,
			 struct netpol_rule *rule)
{
	int r = build_ports(x, e, n, d == NETPOL_INGRESS ? w : pw, rule);

	if (r < 0)
		return r;
	rule->peers = calloc(1, sizeof(*rule->peers));
	if (!rule->peers)
		return -ENOMEM;
	r = peer_workload(pw, &rule->peers[0]);
	if (r < 0)
		return r;
	rule->n_peers = 1;
	return 0;
}

int propose_rule_build(const struct ctx *x, size_t wi, enum netpol_dir d, const struct edge *e,
		       struct netpol_rule *ret)
{
	const struct ep *peer = d == NETPOL_INGRESS ? &e->src : &e->dst;
	struct netpol_rule rule = { 0 };
	int r;

	if (peer->kind == EP_WL) {
		r = workload_rule(x, &x->ws->v[wi], &x->ws->v[peer->wl], d, e, 1, &rule);
	} else {
		/* as ip_rules() writes a peer alone with its ports */
		r = build_ports(x, e, 1, NULL, &rule);
		if (r == 0) {
			rule.peers = calloc(1, sizeof(*rule.peers));
			r = rule.peers ? 0 : -ENOMEM;
		}
		if (r == 0) {
			peer_addr(&peer->addr, &rule.peers[0]);
			rule.n_peers = 1;
		}
	}
	if (r < 0) {
		netpol_rule_done(&rule);
		return r;
	}
	*ret = rule;
	return 0;
}

static int annotate(struct labels *a, const char *key, const char *fmt, ...) BH_PRINTF(3, 4);

static int annotate(struct labels *a, const char *key, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = labels_set(a, key, s);
	free(s);
	return r;
}

/*
 * One policy for workload @wi in direction @d from its edges [e, e + n),
 * sorted by peer then protocol and port.
 */
int propose_policy_build(struct ctx *x, size_t wi, enum netpol_dir d, const struct edge *e,
			 size_t n, struct proposal_policy *pp)
{
	const struct workload *w = &x->ws->v[wi];
	struct ip_peer *ips = NULL;
	size_t n_ips = 0;
	uint64_t flows = 0, conns = 0;
	int64_t first = INT64_MAX, last = INT64_MIN;
	struct buf notes;
	char t1[32], t2[32];
	const char *text;
	int r;

	buf_init(&notes, SIZE_MAX);
	netpol_init(&pp->np);
	labels_init(&pp->labels);
	labels_init(&pp->annotations);
	pp->dir = d;
	pp->workload = wi;
	pp->denies_all = NULL;
	pp->np.types[d] = true;
	r = -ENOMEM;
	pp->np.ns = strdup(w->ns);
	if (!pp->np.ns || selector_copy(&pp->np.pod_sel, &w->sel) < 0)
		goto out;
	ips = calloc(n ? n : 1, sizeof(*ips));
	if (!ips)
		goto out;

	for (size_t i = 0; i < n;) {
		const struct ep *peer = d == NETPOL_INGRESS ? &e[i].src : &e[i].dst;
		size_t j = i + 1;
		uint64_t pf = e[i].flows;

		while (j < n &&
		       propose_ep_cmp(peer, d == NETPOL_INGRESS ? &e[j].src : &e[j].dst) == 0) {
			pf += e[j].flows;
			j++;
		}
		for (size_t k = i; k < j; k++) {
			conns += e[k].conns;
			if (e[k].first < first)
				first = e[k].first;
			if (e[k].last > last)
				last = e[k].last;
		}
		flows += pf;
		if (peer->kind == EP_WL) {
			const struct workload *pw = &x->ws->v[peer->wl];
			struct netpol_rule *rule = rule_new(&pp->np, d);

			if (!rule)
				goto out;
			r = workload_rule(x, w, pw, d, &e[i], j - i, rule);
			if (r < 0)
				goto out;
			r = buf_printf(&notes, "%s %s/%s/%s: ", d == NETPOL_INGRESS ? "from" : "to",
				       pw->ns, pw->kind, pw->name);
			if (r == 0)
				r = ports_text(&e[i], j - i, &notes);
			if (r == 0)
				r = buf_printf(&notes, " (%" PRIu64 " flow%s%s%s)\n", pf,
					       pf == 1 ? "" : "s",
					       dns_note(x, wi, peer->wl, d, &e[i], j - i),
					       pw->exact ? "" : ", selector not exact");
			if (r < 0)
				goto out;
		} else {
			ips[n_ips++] = (struct ip_peer){
				.ep = *peer, .e = &e[i], .n = j - i, .flows = pf
			};
		}
		i = j;
	}
	r = ip_rules(x, &pp->np, d, ips, n_ips, &notes);
	if (r < 0)
		goto out;

	r = -ENOMEM;
	if (labels_set(&pp->labels, "app.kubernetes.io/managed-by", "bulkhead") < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/generated-by", "bulkhead propose") < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/workload", "%s/%s", w->kind, w->name) < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/flows", "%" PRIu64, flows) < 0 ||
	    annotate(&pp->annotations, "bulkhead.io/connections", "%" PRIu64, conns) < 0)
		goto out;
	if (n && (annotate(&pp->annotations, "bulkhead.io/first-seen", "%s",
			   rfc3339_format(first, t1, sizeof(t1))) < 0 ||
		  annotate(&pp->annotations, "bulkhead.io/last-seen", "%s",
			   rfc3339_format(last, t2, sizeof(t2))) < 0))
		goto out;
	if (!w->exact && annotate(&pp->annotations, "bulkhead.io/selector",
				  "not exact: other pods of the namespace carry every label of "
				  "this workload") < 0)
		goto out;
	r = 0;
	/* Policies are written for workloads seen at either end of a flow, so
	 * a direction without a rule is one it was never seen in. */
	if (!pp->np.n_rules[d])
		pp->denies_all = d == NETPOL_INGRESS ?
					 "it was only seen as a client (nothing connected to it "
					 "while learning)" :
					 "it was only seen as a server (it opened no connection "
					 "while learning)";
	if (!notes.len)
		r = buf_printf(&notes, "none seen: all %s of this workload is denied",
			       netpol_dir_name(d));
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (notes.len && notes.data[notes.len - 1] == '\n')
		notes.data[--notes.len] = '\0';
	text = notes.data ? notes.data : "";
	if (labels_set(&pp->annotations, "bulkhead.io/peers", text) < 0)
		goto out;
	r = 0;

out:
	free(ips);
	buf_done(&notes);
	return r;
}
