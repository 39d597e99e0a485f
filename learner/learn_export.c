/*
 * The learner's output.  Each end of each flow is resolved through a peer
 * cache: a flow table at 700,000 flows holds a few pods and nodes seen by
 * many flows, and resolving one (a pod's names, labels and workload, all
 * copied) per flow was most of an export with a snapshot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "learn_export.h"

/*
 * identity_resolve() answers for an address at a time, so the cache is
 * keyed by both; flows written together share their seconds.  Set
 * associative, least recently used out, except that a resolution handed
 * out for the flow being written is pinned: a flow makes at most four
 * lookups (two ends, two times each), fewer than the ways.
 */
#define PEER_CACHE_SETS 1024
#define PEER_CACHE_WAYS 8

struct peer_slot {
	struct addr a;
	int64_t t;
	uint64_t used; /* cache clock at the last hit; 0: empty */
	uint64_t pin; /* the flow it was last handed out for */
	struct flow_peer p; /* owned */
};

struct peer_cache {
	const struct identity *id;
	struct peer_slot *slots; /* PEER_CACHE_SETS * PEER_CACHE_WAYS */
	uint64_t clock, flow; /* flow: 1 for the first */
};

static int peer_cache_init(struct peer_cache *pc, const struct identity *id)
{
	*pc = (struct peer_cache){ .id = id };
	pc->slots = calloc((size_t) PEER_CACHE_SETS * PEER_CACHE_WAYS, sizeof(*pc->slots));
	return pc->slots ? 0 : -ENOMEM;
}

static void peer_cache_done(struct peer_cache *pc)
{
	if (!pc->slots)
		return;
	for (size_t i = 0; i < (size_t) PEER_CACHE_SETS * PEER_CACHE_WAYS; i++)
		flow_peer_done(&pc->slots[i].p);
	free(pc->slots);
	pc->slots = NULL;
}

/* What @a was at @t, borrowed from the cache until the next flow; NULL
 * on -ENOMEM. */
static const struct flow_peer *peer_cache_get(struct peer_cache *pc, const struct addr *a,
					      int64_t t)
{
	struct {
		struct addr a;
		int64_t t;
	} k = { .a = *a, .t = t };
	uint64_t h = hash_bytes(&k, sizeof(k), 0x9e3779b97f4a7c15ULL);
	struct peer_slot *set = &pc->slots[(h & (PEER_CACHE_SETS - 1)) * PEER_CACHE_WAYS];
	struct peer_slot *victim = NULL;
	struct flow_peer p;

	for (int w = 0; w < PEER_CACHE_WAYS; w++) {
		struct peer_slot *s = &set[w];

		if (s->used && s->t == t && addr_eq(&s->a, a)) {
			s->used = ++pc->clock;
			s->pin = pc->flow;
			return &s->p;
		}
		if (s->pin != pc->flow && (!victim || s->used < victim->used))
			victim = s;
	}
	if (identity_resolve(pc->id, a, t, &p) < 0)
		return NULL;
	flow_peer_done(&victim->p);
	victim->a = *a;
	victim->t = t;
	victim->p = p;
	victim->used = ++pc->clock;
	victim->pin = pc->flow;
	return &victim->p;
}

/* learn_resolve_peer() through the cache: @ret borrows the cache's
 * strings until the next flow.  -ENOMEM. */
static int resolve_cached(struct peer_cache *pc, const struct addr *a, const struct flow_record *f,
			  struct flow_peer *ret)
{
	const struct flow_peer *last = peer_cache_get(pc, a, f->last_seen), *first;

	if (!last)
		return -ENOMEM;
	if (last->kind != FLOW_PEER_POD && f->first_seen != f->last_seen) {
		first = peer_cache_get(pc, a, f->first_seen);
		if (!first)
			return -ENOMEM;
		if (first->kind == FLOW_PEER_POD)
			last = first;
	}
	*ret = *last;
	ret->borrowed = true;
	return 0;
}

int learn_resolve_peer(const struct identity *id, const struct addr *a, const struct flow_record *f,
		       struct flow_peer *ret)
{
	struct flow_peer p;
	int r = identity_resolve(id, a, f->last_seen, ret);

	if (r < 0 || ret->kind == FLOW_PEER_POD || f->first_seen == f->last_seen)
		return r;
	r = identity_resolve(id, a, f->first_seen, &p);
	if (r < 0) {
		flow_peer_done(ret);
		return r;
	}
	if (p.kind == FLOW_PEER_POD) {
		flow_peer_done(ret);
		*ret = p;
	} else {
		flow_peer_done(&p);
	}
	return 0;
}

int learn_export_write(const struct flow_table *t, const struct identity *id,
		       const struct flows_header *h, const char *path, struct bh_err *reterr)
{
	size_t n = flow_table_count(t);
	struct peer_cache pc = { 0 };
	struct flows_writer *w;
	int r;

	if (id && peer_cache_init(&pc, id) < 0)
		return bh_err_oom(reterr);
	r = flows_writer_open(path, h, &w, reterr);
	if (r < 0) {
		peer_cache_done(&pc);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct flow_record f;

		flow_table_record_at(t, i, &f);
		if (id) {
			pc.flow = i + 1;
			r = resolve_cached(&pc, &f.key.src, &f, &f.src_peer);
			if (r == 0)
				r = resolve_cached(&pc, &f.key.dst, &f, &f.dst_peer);
			if (r < 0)
				goto fail;
		}
		r = flows_writer_add(w, &f);
		if (r < 0)
			goto fail;
	}
	peer_cache_done(&pc);
	return flows_writer_commit(w, reterr);

fail:
	(void) flows_writer_abort(w);
	peer_cache_done(&pc);
	if (r == -ENOMEM)
		return bh_err_oom(reterr);
	return bh_err_set(reterr, BH_ERR_SYSTEM, r, "flows '%s': write error", path);
}
