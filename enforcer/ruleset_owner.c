/*
 * The owner map: which pod owns each address, as compiled.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset_bctx.h"
#include "ruleset_owner.h"

/* The bytes of @a that matter: family, padding and the address proper. */
static size_t key_len(const struct addr *a)
{
	return offsetof(struct addr, b) + addr_len(a);
}

struct owner_slot *rs_owner_find(const struct owner_map *m, const struct addr *a)
{
	return hmap_get(&m->h, a, key_len(a));
}

int rs_owner_put(struct owner_map *m, const struct addr *a, const char *pod)
{
	struct owner_slot *sl = rs_owner_find(m, a);
	char *dup = strdup(pod);

	if (!dup)
		return -ENOMEM;
	if (sl) {
		free(sl->pod);
		sl->pod = dup;
		return 0;
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl) {
		free(dup);
		return -ENOMEM;
	}
	*sl = (struct owner_slot){ .a = *a, .pod = dup };
	if (hmap_put(&m->h, &sl->a, key_len(&sl->a), sl) < 0) {
		free(dup);
		free(sl);
		return -ENOMEM;
	}
	return 0;
}

static void owner_free(struct owner_slot *sl)
{
	free(sl->pod);
	free(sl);
}

void rs_owner_del(struct owner_map *m, const struct addr *a)
{
	void *sl;

	if (hmap_remove(&m->h, a, key_len(a), &sl))
		owner_free(sl);
}

void rs_owners_done(struct owner_map *m)
{
	struct hmap_slot *s;

	for (size_t it = 0; (s = hmap_next(&m->h, &it));)
		owner_free(s->val);
	hmap_free(&m->h);
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
