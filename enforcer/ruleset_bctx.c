/*
 * The build context of one compile: the cluster indexed by namespace,
 * which policies are active, where new sets and chains go.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset_bctx.h"

void rs_bctx_done(struct bctx *b)
{
	for (size_t i = 0; i < b->n_ns; i++)
		labels_done(&b->ns[i].synth);
	free(b->ns);
	for (size_t i = 0; i < b->n_active; i++) {
		free(b->active[i].ns);
		free(b->active[i].name);
	}
	free(b->active);
}

static int addr_qsort_cb(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

/* True when no two known pods share an address (the usual case): then
 * every address is its pod's and the per-address ownership lookups can be
 * skipped. */
static int addrs_unique(const struct cluster *c, bool *ret)
{
	struct addr *v = malloc((c->n_pods * POD_IPS_MAX + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++)
		for (size_t k = 0; pod_known(&c->pods[i]) && k < c->pods[i].n_ips; k++)
			v[n++] = c->pods[i].ips[k];
	qsort(v, n, sizeof(*v), addr_qsort_cb);
	*ret = true;
	for (size_t i = 1; i < n; i++)
		if (addr_eq(&v[i - 1], &v[i]))
			*ret = false;
	free(v);
	return 0;
}

int rs_bctx_init(struct bctx *b, struct ruleset *rs, struct cluster *c, struct rs_desc *d)
{
	int r;

	if (b->assume_owned) { /* the caller knows */
		const struct rs_desc *ex = b->existing;

		*b = (struct bctx){ .rs = rs, .c = c, .d = d, .assume_owned = true, .existing = ex };
	} else {
		*b = (struct bctx){ .rs = rs, .c = c, .d = d };
		r = addrs_unique(c, &b->assume_owned);
		if (r < 0)
			return r;
	}
	b->ns = calloc(c->n_pods + 1, sizeof(*b->ns));
	if (!b->ns)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_pods; i++) {
		struct ns_info *ni;

		if (b->n_ns && strcmp(b->ns[b->n_ns - 1].name, c->pods[i].ns) == 0) {
			b->ns[b->n_ns - 1].end = i + 1;
			continue;
		}
		ni = &b->ns[b->n_ns++];
		ni->name = c->pods[i].ns;
		ni->first = i;
		ni->end = i + 1;
		labels_init(&ni->synth);
		{
			const struct k8s_ns *k = cluster_ns_find(c, ni->name);

			if (k) {
				ni->labels = &k->labels;
			} else {
				if (labels_set(&ni->synth, "kubernetes.io/metadata.name",
					       ni->name) < 0)
					return -ENOMEM;
				ni->labels = &ni->synth;
			}
		}
	}
	return 0;
}

int rs_new_set(struct bctx *b, const char *name, enum rs_key key, unsigned flags,
	       struct rs_set **ret)
{
	struct rs_set *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->key = key;
	s->flags = flags;
	s->name = strdup(name);
	if (!s->name) {
		free(s);
		return -ENOMEM;
	}
	r = rs_desc_put_set(b->d, s);
	if (r < 0)
		return r;
	*ret = s;
	return 0;
}

int rs_new_chain(struct bctx *b, const char *name, const char *hook, struct rs_chain **ret)
{
	struct rs_chain *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->hook = hook;
	c->name = strdup(name);
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	r = rs_desc_put_chain(b->d, c);
	if (r < 0)
		return r;
	*ret = c;
	return 0;
}

int rs_add_rule(struct rs_chain *c, enum rs_rule_kind kind, uint8_t family, bool daddr,
		const char *peer, const char *ports, const char *named, enum rs_verdict v,
		const char *target)
{
	struct rs_rule r = {
		.kind = kind,
		.family = family,
		.peer_is_daddr = daddr,
		.peer_set = (char *) peer,
		.port_set = (char *) ports,
		.named_set = (char *) named,
		.verdict = v,
		.target = (char *) target,
	};

	return rs_chain_add_rule(c, &r); /* copies the strings */
}
