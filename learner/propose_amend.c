/*
 * propose: one flow's rule added to a proposal (include/propose.h,
 * propose_amend()): what `bulkhead allow ALERT` writes into the proposal
 * policy of the deciding side (docs/lifecycle.md, "Alerts").  The rule is
 * built by propose's own builder (propose_rule_build()), so an allowed
 * alert reads as if the flow had been learned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "proto.h"
#include "propose_int.h"

/* Longest peer name read: a workload's namespace, kind and name. */
#define END_MAX (63 + 1 + 63 + 1 + 253)

/*
 * An end named as alerts name peers (include/alerts.h): "NS/KIND/NAME" of a
 * workload of @ws, or an address (a /32 or /128 CIDR too).  0, or an input
 * error naming @what and @s: not a peer, a workload the cluster does not
 * have (-ENOENT), or a CIDR wider than one address.
 */
static int end_parse(const struct workload_set *ws, const char *what, const char *s, struct ep *ret,
		     struct bh_err *reterr)
{
	char buf[END_MAX + 1], *kind, *name;
	const struct workload *w;
	struct cidr cidr;
	struct addr a;

	if (!s || !*s || strlen(s) > END_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "amend: %s '%s': neither NAMESPACE/KIND/NAME nor an address",
				  what, s ? s : "");
	if (addr_parse(s, &a) == 0 || cidr_parse(s, &cidr) == 0) {
		if (addr_parse(s, &a) == 0)
			cidr_from_addr(&cidr, &a);
		if (cidr.plen != (cidr.addr.family == AF_INET ? 32 : 128))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "amend: %s '%s': a CIDR wider than one address", what, s);
		*ret = (struct ep){ .kind = EP_EXT, .addr = cidr.addr };
		return 0;
	}
	memcpy(buf, s, strlen(s) + 1);
	kind = strchr(buf, '/');
	name = kind ? strchr(kind + 1, '/') : NULL;
	if (!name || kind == buf || name == kind + 1 || !name[1] || strchr(name + 1, '/'))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "amend: %s '%s': neither NAMESPACE/KIND/NAME nor an address",
				  what, s);
	*kind++ = '\0';
	*name++ = '\0';
	w = workload_set_find(ws, buf, kind, name);
	if (!w)
		return bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
				  "amend: %s '%s': no such workload in the cluster", what, s);
	*ret = (struct ep){ .kind = EP_WL, .wl = (size_t) (w - ws->v) };
	return 0;
}

/* The peer as the note names it: "NS/KIND/NAME" or a CIDR. */
static const char *ep_name(const struct workload_set *ws, const struct ep *ep, char *buf,
			   size_t len)
{
	struct cidr c;

	if (ep->kind == EP_WL) {
		const struct workload *w = &ws->v[ep->wl];

		(void) snprintf(buf, len, "%s/%s/%s", w->ns, w->kind, w->name);
		return buf;
	}
	cidr_from_addr(&c, &ep->addr);
	return cidr_format(&c, buf, len);
}

/* The proposal policy of workload @w for direction @d: of its namespace,
 * of that type, and for that workload (its annotation, else its selector). */
static struct proposal_policy *policy_of(struct proposal *p, const struct workload *w,
					 enum netpol_dir d)
{
	size_t klen = strlen(w->kind);

	for (size_t i = 0; i < p->n; i++) {
		struct proposal_policy *pp = &p->v[i];
		const char *a = labels_get(&pp->annotations, "bulkhead.io/workload");

		if (strcmp(pp->np.ns, w->ns) != 0 || !pp->np.types[d])
			continue;
		if (a ? strncmp(a, w->kind, klen) == 0 && a[klen] == '/' &&
				    strcmp(a + klen + 1, w->name) == 0 :
			selector_equal(&pp->np.pod_sel, &w->sel))
			return pp;
	}
	return NULL;
}

/* An endpoint of the engine for end @ep: a pod of its workload, or its
 * address. */
static const struct pod *ep_engine(struct engine *e, const struct ctx *x, const struct ep *ep,
				   struct engine_ep *ret)
{
	const struct pod *pod;

	if (ep->kind != EP_WL) {
		engine_ep_addr(e, &ep->addr, ret);
		return NULL;
	}
	pod = &x->c->pods[x->ws->v[ep->wl].pods[0]];
	engine_ep_pod(e, pod, pod->n_ips ? pod->ips[0].family : AF_INET, ret);
	return pod->host_network ? NULL : pod;
}

/* Does a rule of @pp already allow edge @ed in direction @d? */
static bool already_allowed(struct engine *e, const struct ctx *x, const struct proposal_policy *pp,
			    enum netpol_dir d, const struct edge *ed)
{
	struct engine_ep src, dst;
	const struct pod *dpod;

	(void) ep_engine(e, x, &ed->src, &src);
	dpod = ep_engine(e, x, &ed->dst, &dst);
	for (size_t i = 0; i < pp->np.n_rules[d]; i++)
		if (engine_rule_allows(e, &pp->np, &pp->np.rules[d][i],
				       d == NETPOL_INGRESS ? &src : &dst, dpod, ed->proto,
				       ed->port))
			return true;
	return false;
}

/* The reviewer's line in bulkhead.io/peers, as propose writes one. */
static int note_add(struct proposal_policy *pp, enum netpol_dir d, const char *peer,
		    const struct edge *ed)
{
	const char *old = labels_get(&pp->annotations, "bulkhead.io/peers");
	struct buf b;
	int r = 0;

	if (!old)
		return 0;
	buf_init(&b, SIZE_MAX);
	/* "none seen: ..." was true of the learned flows only */
	if (strncmp(old, "none seen:", 10) != 0)
		r = buf_printf(&b, "%s\n", old);
	if (r == 0)
		r = buf_printf(&b, "%s %s: %s/%u (allowed from an alert)",
			       d == NETPOL_INGRESS ? "from" : "to", peer, proto_name(ed->proto),
			       ed->port);
	if (r == 0)
		r = labels_set(&pp->annotations, "bulkhead.io/peers", b.data);
	buf_done(&b);
	return r;
}

int propose_amend(struct proposal *p, struct cluster *c, const struct propose_amend_flow *f,
		  bool *ret_changed, struct bh_err *reterr)
{
	const enum netpol_dir d = f->dir;
	struct workload_set ws = { 0 };
	struct propose_opts o;
	struct ctx x = { .c = c, .o = &o };
	struct edge ed = { .proto = f->proto, .port = f->port, .flows = 1 };
	const struct ep *self;
	struct proposal_policy *pp;
	struct engine *e = NULL;
	struct netpol_rule rule;
	char name[END_MAX + 1];
	bool changed = false;
	int r;

	if (d != NETPOL_INGRESS && d != NETPOL_EGRESS)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "amend: no such direction");
	propose_opts_init(&o);
	r = workload_set_build(c, &ws);
	if (r < 0)
		goto oom;
	x.ws = &ws;
	r = end_parse(&ws, "source", f->src, &ed.src, reterr);
	if (r == 0)
		r = end_parse(&ws, "destination", f->dst, &ed.dst, reterr);
	if (r < 0)
		goto out;
	self = d == NETPOL_INGRESS ? &ed.dst : &ed.src;
	if (self->kind != EP_WL) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			       "amend: %s '%s' is no workload: no %s policy is proposed for it",
			       d == NETPOL_INGRESS ? "destination" : "source",
			       d == NETPOL_INGRESS ? f->dst : f->src, netpol_dir_name(d));
		goto out;
	}
	pp = policy_of(p, &ws.v[self->wl], d);
	if (!pp) {
		const struct workload *w = &ws.v[self->wl];

		r = bh_err_set(reterr, BH_ERR_INPUT, -ENOENT,
			       "amend: no proposed %s policy for %s/%s/%s", netpol_dir_name(d),
			       w->ns, w->kind, w->name);
		goto out;
	}
	r = engine_new(c, &e);
	if (r < 0)
		goto oom;
	if (!already_allowed(e, &x, pp, d, &ed)) {
		struct netpol_rule *v;

		/* Build, make room, then commit: on failure the policy is
		 * as it was. */
		r = propose_rule_build(&x, self->wl, d, &ed, &rule);
		if (r < 0)
			goto oom;
		v = realloc(pp->np.rules[d], (pp->np.n_rules[d] + 1) * sizeof(*v));
		if (v)
			pp->np.rules[d] = v;
		if (!v || note_add(pp, d,
				   ep_name(&ws, d == NETPOL_INGRESS ? &ed.src : &ed.dst, name,
					   sizeof(name)),
				   &ed) < 0) {
			netpol_rule_done(&rule);
			goto oom;
		}
		pp->np.rules[d][pp->np.n_rules[d]++] = rule;
		pp->denies_all = NULL;
		changed = true;
	}
	*ret_changed = changed;
	r = 0;
	goto out;

oom:
	r = bh_err_oom(reterr);
out:
	engine_free(e);
	workload_set_done(&ws);
	return r;
}
