/*
 * Tombstones in deletion order, which is also expiry order (one time to
 * live for all): expiry and eviction take from the front.  A ring buffer,
 * grown geometrically up to max, so neither end costs a move.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tombstones.h"

struct tomb {
	struct pod pod;
	uint64_t expires_ms;
};

struct tombstones {
	uint64_t ttl_ms;
	size_t max;
	struct tomb *ring;
	size_t cap, head, n; /* entries [head, head + n) modulo cap */
	struct tombstones_stats stats;
};

struct tombstones *tombstones_new(uint64_t ttl_ms, size_t max)
{
	struct tombstones *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ttl_ms = ttl_ms ? ttl_ms : TOMBSTONES_TTL_MS_DEFAULT;
	t->max = max ? max : TOMBSTONES_MAX_DEFAULT;
	return t;
}

static struct tomb *at(const struct tombstones *t, size_t i)
{
	return &t->ring[(t->head + i) % t->cap];
}

static void drop_oldest(struct tombstones *t)
{
	pod_done(&at(t, 0)->pod);
	t->head = (t->head + 1) % t->cap;
	t->n--;
}

struct tombstones *tombstones_free(struct tombstones *t)
{
	if (!t)
		return NULL;
	while (t->n)
		drop_oldest(t);
	free(t->ring);
	free(t);
	return NULL;
}

/* Room for one more below max: a larger ring, entries moved to its start. */
static int grow(struct tombstones *t)
{
	size_t nc = t->cap ? 2 * t->cap : 16;
	struct tomb *v;

	if (nc > t->max)
		nc = t->max;
	v = malloc(nc * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		v[i] = *at(t, i);
	free(t->ring);
	t->ring = v;
	t->cap = nc;
	t->head = 0;
	return 0;
}

int tombstones_add(struct tombstones *t, struct pod *p, uint64_t now_ms, int64_t now_s)
{
	struct tomb *e;

	if (p->host_network) {
		pod_done(p);
		return 0;
	}
	if (t->n == t->max) {
		drop_oldest(t);
		t->stats.evicted++;
	} else if (t->n == t->cap && grow(t) < 0) {
		pod_done(p);
		return -ENOMEM;
	}
	e = &t->ring[(t->head + t->n) % t->cap];
	e->pod = *p;
	*p = (struct pod){ 0 };
	/* Seen gone at some moment of second now_s: it may have lived
	 * through that second, never past it. */
	if (e->pod.deleted == 0 || e->pod.deleted > now_s + 1)
		e->pod.deleted = now_s + 1;
	e->expires_ms = now_ms + t->ttl_ms;
	t->n++;
	t->stats.added++;
	return 0;
}

void tombstones_expire(struct tombstones *t, uint64_t now_ms)
{
	while (t->n && at(t, 0)->expires_ms <= now_ms) {
		drop_oldest(t);
		t->stats.expired++;
	}
}

uint64_t tombstones_next_expiry(const struct tombstones *t)
{
	return t->n ? at(t, 0)->expires_ms : UINT64_MAX;
}

size_t tombstones_count(const struct tombstones *t)
{
	return t->n;
}

const struct pod *tombstones_pod(const struct tombstones *t, size_t i)
{
	return i < t->n ? &at(t, i)->pod : NULL;
}

const struct tombstones_stats *tombstones_stats(const struct tombstones *t)
{
	return &t->stats;
}
