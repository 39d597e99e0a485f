/*
 * The reader's caches of parsed text (learner/flows_json.c): peer objects
 * and other member values that come back in many flows are parsed once and
 * then found again by their text.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flows_int.h"
#include "hash.h"
#include "vec.h"

#define PEER_CACHE_MAX (1u << 20)

static uint64_t entry_hash(const void *v, size_t stride, size_t h_off, size_t k)
{
	uint64_t h;

	memcpy(&h, (const char *) v + k * stride + h_off, sizeof(h));
	return h;
}

static void slot_index_put(struct flows_slot_index *x, uint64_t h, size_t k)
{
	size_t i = h & (x->n_slots - 1);

	while (x->slots[i])
		i = (i + 1) & (x->n_slots - 1);
	x->slots[i] = (uint32_t) k + 1;
}

/*
 * Makes room in the index @x for entry @n, the index growing from @first
 * slots and re-filled from the @n entries of @v there are.  False without
 * memory: nothing changed, and the entry is simply not remembered.
 */
static bool index_reserve(struct flows_slot_index *x, const void *v, size_t n, size_t first,
			  size_t stride, size_t h_off)
{
	struct flows_slot_index nx;

	if ((n + 1) * 2 <= x->n_slots)
		return true;
	nx.n_slots = x->n_slots ? x->n_slots * 2 : first;
	nx.slots = calloc(nx.n_slots, sizeof(*nx.slots));
	if (!nx.slots)
		return false;
	for (size_t k = 0; k < n; k++)
		slot_index_put(&nx, entry_hash(v, stride, h_off, k), k);
	free(x->slots);
	*x = nx;
	return true;
}

void flows_peer_cache_done(struct flows_peer_cache *pc)
{
	for (size_t i = 0; i < pc->n; i++)
		flow_peer_done(&pc->v[i].peer);
	free(pc->v);
	free(pc->idx.slots);
	*pc = (struct flows_peer_cache){ 0 };
}

uint64_t flows_prefix_hash(const char *p, size_t avail, size_t max, uint64_t seed)
{
	size_t n = avail < max ? avail : max;

	for (size_t i = 0; i < n; i++)
		if (p[i] == ',' || p[i] == '}' || p[i] == ']')
			return hash_bytes(p, i, seed);
	return hash_bytes(p, n, seed);
}

uint64_t flows_peer_hash(const struct flows_peer_cache *pc, const char *p, size_t avail)
{
	return flows_prefix_hash(p, avail, FLOWS_PEER_PREFIX, pc->seed);
}

size_t flows_peer_cache_find(const struct flows_peer_cache *pc, const struct flows_rd *rd,
			     uint64_t h)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos, mask = pc->idx.n_slots - 1;

	if (!pc->idx.n_slots)
		return SIZE_MAX;
	for (size_t i = h & mask; pc->idx.slots[i]; i = (i + 1) & mask) {
		const struct flows_peer_ent *e = &pc->v[pc->idx.slots[i] - 1];

		if (e->h == h && e->len <= avail && memcmp(e->text, p, e->len) == 0)
			return pc->idx.slots[i] - 1;
	}
	return SIZE_MAX;
}

void flows_peer_cache_add(struct flows_peer_cache *pc, const char *text, size_t len, uint64_t h,
			  const struct addr *a, struct flow_peer *peer)
{
	struct flows_peer_ent *e;

	if (pc->n >= PEER_CACHE_MAX)
		return;
	if (!index_reserve(&pc->idx, pc->v, pc->n, 1024, sizeof(*pc->v),
			   offsetof(struct flows_peer_ent, h)))
		return;
	if (pc->n == pc->cap) {
		e = vec_grow(pc->v, &pc->cap, pc->n + 1, sizeof(*e));
		if (!e)
			return;
		pc->v = e;
	}
	e = &pc->v[pc->n];
	e->peer = *peer;
	peer->borrowed = true;
	e->text = text;
	e->len = len;
	e->h = h;
	e->addr = *a;
	slot_index_put(&pc->idx, h, pc->n++);
}

#define VAL_CACHE_MAX (1u << 16)

void flows_val_cache_done(struct flows_val_cache *vc)
{
	for (size_t i = 0; i < vc->n; i++)
		json_decref(vc->v[i].v);
	free(vc->v);
	free(vc->idx.slots);
	*vc = (struct flows_val_cache){ 0 };
}

static bool val_delim_after(const struct flows_rd *rd, size_t end)
{
	return end < rd->sc.len && strchr(",}] \t\r\n", rd->sc.s[end]) && rd->sc.s[end];
}

static bool val_self_delimited(char first)
{
	return first == '"' || first == '{' || first == '[';
}

json_t *flows_val_cache_find(const struct flows_val_cache *vc, struct flows_rd *rd, uint64_t h)
{
	const char *p = rd->sc.s + rd->sc.pos;
	size_t avail = rd->sc.len - rd->sc.pos, mask = vc->idx.n_slots - 1;

	if (!vc->idx.n_slots)
		return NULL;
	for (size_t i = h & mask; vc->idx.slots[i]; i = (i + 1) & mask) {
		const struct flows_val_ent *e = &vc->v[vc->idx.slots[i] - 1];

		if (e->h == h && e->len <= avail && memcmp(e->text, p, e->len) == 0 &&
		    (val_self_delimited(*p) || val_delim_after(rd, rd->sc.pos + e->len))) {
			rd->sc.pos += e->len;
			return e->v;
		}
	}
	return NULL;
}

void flows_val_cache_add(struct flows_val_cache *vc, const struct flows_rd *rd, size_t start,
			 uint64_t h, json_t *v)
{
	struct flows_val_ent *e;

	if (vc->n >= VAL_CACHE_MAX)
		return;
	if (!val_self_delimited(rd->sc.s[start]) && !val_delim_after(rd, rd->sc.pos))
		return;
	if (!index_reserve(&vc->idx, vc->v, vc->n, 256, sizeof(*vc->v),
			   offsetof(struct flows_val_ent, h)))
		return;
	if (vc->n == vc->cap) {
		e = vec_grow(vc->v, &vc->cap, vc->n + 1, sizeof(*e));
		if (!e)
			return;
		vc->v = e;
	}
	e = &vc->v[vc->n];
	e->text = rd->sc.s + start;
	e->len = rd->sc.pos - start;
	e->h = h;
	e->v = json_incref(v);
	slot_index_put(&vc->idx, h, vc->n++);
}
