#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netpol.h"
#include "str.h"

void netpol_init(struct netpol *p)
{
	*p = (struct netpol){ 0 };
	selector_init(&p->pod_sel);
}

static struct selector *selector_free(struct selector *s)
{
	if (s) {
		selector_done(s);
		free(s);
	}
	return NULL;
}

void netpol_peer_done(struct netpol_peer *p)
{
	p->pod_sel = selector_free(p->pod_sel);
	p->ns_sel = selector_free(p->ns_sel);
	free(p->except);
	p->except = NULL;
	p->n_except = 0;
}

void netpol_rule_done(struct netpol_rule *r)
{
	for (size_t i = 0; i < r->n_ports; i++)
		free(r->ports[i].name);
	free(r->ports);
	for (size_t i = 0; i < r->n_peers; i++)
		netpol_peer_done(&r->peers[i]);
	free(r->peers);
	*r = (struct netpol_rule){ 0 };
}

void netpol_done(struct netpol *p)
{
	free(p->ns);
	free(p->name);
	free(p->uid);
	selector_done(&p->pod_sel);
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		for (size_t i = 0; i < p->n_rules[d]; i++)
			netpol_rule_done(&p->rules[d][i]);
		free(p->rules[d]);
	}
	netpol_init(p);
}

static int selector_dup(struct selector **dst, const struct selector *src)
{
	int r;

	*dst = NULL;
	if (!src)
		return 0;
	*dst = malloc(sizeof(**dst));
	if (!*dst)
		return -ENOMEM;
	r = selector_copy(*dst, src);
	if (r < 0) {
		free(*dst);
		*dst = NULL;
	}
	return r;
}

static int peer_copy(struct netpol_peer *dst, const struct netpol_peer *src)
{
	*dst = *src;
	dst->pod_sel = dst->ns_sel = NULL;
	dst->except = NULL;
	dst->n_except = 0;
	if (selector_dup(&dst->pod_sel, src->pod_sel) < 0 ||
	    selector_dup(&dst->ns_sel, src->ns_sel) < 0)
		goto oom;
	if (src->n_except) {
		dst->except = malloc(src->n_except * sizeof(*dst->except));
		if (!dst->except)
			goto oom;
		memcpy(dst->except, src->except, src->n_except * sizeof(*dst->except));
		dst->n_except = src->n_except;
	}
	return 0;
oom:
	netpol_peer_done(dst);
	return -ENOMEM;
}

static int rule_copy(struct netpol_rule *dst, const struct netpol_rule *src)
{
	*dst = (struct netpol_rule){ 0 };
	if (src->n_ports) {
		dst->ports = calloc(src->n_ports, sizeof(*dst->ports));
		if (!dst->ports)
			goto oom;
		for (size_t i = 0; i < src->n_ports; i++) {
			dst->ports[i] = src->ports[i];
			dst->ports[i].name = NULL;
			dst->n_ports = i + 1;
			if (src->ports[i].name &&
			    !(dst->ports[i].name = strdup(src->ports[i].name)))
				goto oom;
		}
	}
	if (src->n_peers) {
		dst->peers = calloc(src->n_peers, sizeof(*dst->peers));
		if (!dst->peers)
			goto oom;
		for (size_t i = 0; i < src->n_peers; i++) {
			if (peer_copy(&dst->peers[i], &src->peers[i]) < 0)
				goto oom;
			dst->n_peers = i + 1;
		}
	}
	return 0;
oom:
	netpol_rule_done(dst);
	return -ENOMEM;
}

int netpol_copy(struct netpol *dst, const struct netpol *src)
{
	bool failed = false;

	netpol_init(dst);
	dst->ns = str_dup_opt(src->ns, &failed);
	dst->name = str_dup_opt(src->name, &failed);
	dst->uid = str_dup_opt(src->uid, &failed);
	dst->origin = src->origin;
	if (failed || selector_copy(&dst->pod_sel, &src->pod_sel) < 0)
		goto oom;
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		dst->types[d] = src->types[d];
		if (!src->n_rules[d])
			continue;
		dst->rules[d] = calloc(src->n_rules[d], sizeof(*dst->rules[d]));
		if (!dst->rules[d])
			goto oom;
		for (size_t i = 0; i < src->n_rules[d]; i++) {
			if (rule_copy(&dst->rules[d][i], &src->rules[d][i]) < 0)
				goto oom;
			dst->n_rules[d] = i + 1;
		}
	}
	return 0;
oom:
	netpol_done(dst);
	return -ENOMEM;
}

const char *netpol_dir_name(enum netpol_dir d)
{
	return d == NETPOL_INGRESS ? "ingress" : d == NETPOL_EGRESS ? "egress" : NULL;
}

const char *netpol_origin_name(enum netpol_origin o)
{
	static const char *const names[_NETPOL_ORIGIN_MAX] = {
		[NETPOL_ORIGIN_CLUSTER] = "cluster",
		[NETPOL_ORIGIN_PREVIEW] = "preview",
		[NETPOL_ORIGIN_ENFORCE] = "enforce",
	};

	return (unsigned) o < _NETPOL_ORIGIN_MAX ? names[o] : NULL;
}

/* Either absent in both, or both present and equal. */
static bool sel_equal(const struct selector *a, const struct selector *b)
{
	return (!a && !b) || (a && b && selector_equal(a, b));
}

static bool peer_equal(const struct netpol_peer *a, const struct netpol_peer *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == NETPOL_PEER_SELECTOR)
		return sel_equal(a->pod_sel, b->pod_sel) && sel_equal(a->ns_sel, b->ns_sel);
	if (cidr_cmp(&a->cidr, &b->cidr) != 0 || a->n_except != b->n_except)
		return false;
	for (size_t i = 0; i < a->n_except; i++)
		if (cidr_cmp(&a->except[i], &b->except[i]) != 0)
			return false;
	return true;
}

static bool port_equal(const struct netpol_port *a, const struct netpol_port *b)
{
	return a->protocol == b->protocol && a->kind == b->kind && a->port == b->port &&
	       a->end_port == b->end_port && (!a->name) == (!b->name) &&
	       (!a->name || strcmp(a->name, b->name) == 0);
}

static bool rule_equal(const struct netpol_rule *a, const struct netpol_rule *b)
{
	if (a->n_ports != b->n_ports || a->n_peers != b->n_peers)
		return false;
	for (size_t i = 0; i < a->n_ports; i++)
		if (!port_equal(&a->ports[i], &b->ports[i]))
			return false;
	for (size_t i = 0; i < a->n_peers; i++)
		if (!peer_equal(&a->peers[i], &b->peers[i]))
			return false;
	return true;
}

bool netpol_compiled_equal(const struct netpol *a, const struct netpol *b)
{
	if (a->origin != b->origin || !selector_equal(&a->pod_sel, &b->pod_sel))
		return false;
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		if (a->types[d] != b->types[d] || a->n_rules[d] != b->n_rules[d])
			return false;
		for (size_t i = 0; i < a->n_rules[d]; i++)
			if (!rule_equal(&a->rules[d][i], &b->rules[d][i]))
				return false;
	}
	return true;
}
