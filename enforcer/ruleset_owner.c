/*
 * The owner map: which pod owns each address, as compiled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "ruleset_bctx.h"
#include "ruleset_owner.h"

static uint64_t owner_hash(const struct addr *a)
{
	return hash_bytes(a, sizeof(*a), 0x6f776e);
}

struct owner_slot *rs_owner_find(const struct owner_map *m, const struct addr *a)
{
	size_t h;

	if (!m->cap)
		return NULL;
	h = owner_hash(a) & (m->cap - 1);
	while (m->slots[h].pod || m->slots[h].tomb) {
		if (m->slots[h].pod && addr_eq(&m->slots[h].a, a))
			return &m->slots[h];
		h = (h + 1) & (m->cap - 1);
	}
	return NULL;
}

int rs_owner_put(struct owner_map *m, const struct addr *a, const char *pod)
{
	struct owner_slot *sl = rs_owner_find(m, a);
	char *dup = strdup(pod);
	size_t h;

	if (!dup)
		return -ENOMEM;
	if (sl) {
		free(sl->pod);
		sl->pod = dup;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		struct owner_slot *v = calloc(cap, sizeof(*v));

		if (!v) {
			free(dup);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->slots[i].pod)
				continue;
			h = owner_hash(&m->slots[i].a) & (cap - 1);
			while (v[h].pod)
				h = (h + 1) & (cap - 1);
			v[h] = m->slots[i];
		}
		free(m->slots);
		m->slots = v;
		m->cap = cap;
		m->n = 0;
		for (size_t i = 0; i < cap; i++)
			m->n += v[i].pod != NULL;
	}
	h = owner_hash(a) & (m->cap - 1);
	while (m->slots[h].pod)
		h = (h + 1) & (m->cap - 1);
	if (!m->slots[h].tomb)
		m->n++;
	m->slots[h] = (struct owner_slot){ .a = *a, .pod = dup };
	return 0;
}

void rs_owner_del(struct owner_map *m, const struct addr *a)
{
	struct owner_slot *sl = rs_owner_find(m, a);

	if (!sl)
		return;
	free(sl->pod);
	sl->pod = NULL;
	sl->tomb = true;
}

void rs_owners_done(struct owner_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].pod);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

int rs_owners_build(struct owner_map *m, struct cluster *c)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];
		char key[600];

		if (!pod_known(p))
			continue;
		(void) snprintf(key, sizeof(key), "%s/%s", p->ns, p->name);
		for (size_t k = 0; k < p->n_ips; k++) {
			const struct pod *o = cluster_pod_by_addr(c, &p->ips[k]);

			if (o != p)
				continue;
			if (rs_owner_put(m, &p->ips[k], key) < 0)
				return -ENOMEM;
		}
	}
	/* Addresses that other pods claim as well. */
	for (size_t i = 0; i < c->n_pods; i++) {
		const struct pod *p = &c->pods[i];

		for (size_t k = 0; pod_known(p) && k < p->n_ips; k++) {
			struct owner_slot *sl = rs_owner_find(m, &p->ips[k]);

			if (sl && cluster_pod_by_addr(c, &p->ips[k]) != p)
				sl->shared = true;
		}
	}
	return 0;
}
