/*
 * Flow table: a dense array of compact entries, an open-addressing index
 * of 32-bit entry numbers (linear probing, load <= 1/2, backward-shift
 * deletion, so no tombstones), and an LRU list threaded through the
 * entries by index, ordered by the second each flow was last seen.
 * Eviction removes the LRU tail and moves the last entry into its place,
 * keeping the array dense.
 *
 * Times are kept as 32-bit unix seconds (valid until 2106) to keep an
 * entry at 88 bytes.
 *
 * A slot holds the entry number and 32 bits of the key's hash (its tag).
 * At hundreds of thousands of flows every lookup is a cache miss on the
 * slot and another on the entry: the tag spares the second for every slot
 * probed that is not the key's, an insertion touches no entry at all until
 * it writes its own, and growing the index moves tags without reading a
 * key.  Tags make probing cheap, so the index runs at a load of up to 3/4
 * of the flows held (not of the array's capacity): 8-byte slots at 4/3 to
 * 8/3 per flow, 11 to 22 bytes a flow.
 */
#include <errno.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "hash.h"

#define NIL UINT32_MAX
#define SLOT_EMPTY 0 /* slots hold (tag << 32) | (entry index + 1) */
#define INITIAL_CAP 1024u

struct ft_entry {
	struct flow_key key;
	uint32_t first_seen, last_seen;
	uint32_t prev, next; /* LRU: prev is more recent */
	uint32_t connections;
	uint8_t seen_by;
	uint8_t dirty; /* changed since flow_table_clean_at() */
	uint64_t packets;
	uint64_t bytes;
};

static_assert(sizeof(struct ft_entry) <= 88, "keep flows compact (<= 128 bytes with index)");

struct flow_table {
	struct ft_entry *e;
	uint32_t n, cap, max;
	uint64_t *slots;
	uint32_t mask; /* number of slots - 1 */
	uint32_t head, tail; /* most and least recently seen */
	uint64_t seed;
	struct flow_table_stats stats;
	/* The gone record (flow_table_gone_record()): @n_gone keys in
	 * @gone (@cap_gone allocated), at most @max_gone. */
	struct flow_key *gone;
	uint32_t n_gone, cap_gone, max_gone;
	uint64_t gone_overflow;
};

static uint32_t ts32(int64_t ts)
{
	if (ts < 0)
		return 0;
	if (ts > (int64_t) UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t) ts;
}

static uint64_t key_hash(const struct flow_table *t, const struct flow_key *k)
{
	return hash_bytes(k, sizeof(*k), t->seed);
}

static uint32_t slot_entry(uint64_t v)
{
	return (uint32_t) v - 1;
}

static uint32_t slot_home(const struct flow_table *t, uint64_t v)
{
	return (uint32_t) (v >> 32) & t->mask;
}

/* The slot holding @k (hash @h), or the empty slot where it would go. */
static uint32_t slot_find(const struct flow_table *t, const struct flow_key *k, uint64_t h)
{
	uint32_t s = (uint32_t) h & t->mask, tag = (uint32_t) h;

	for (;;) {
		uint64_t v = t->slots[s];

		if (v == SLOT_EMPTY)
			return s;
		if ((uint32_t) (v >> 32) == tag &&
		    memcmp(&t->e[slot_entry(v)].key, k, sizeof(*k)) == 0)
			return s;
		s = (s + 1) & t->mask;
	}
}

/* The slot of entry @i, whose key hashes to @h. */
static uint32_t slot_of_entry(const struct flow_table *t, uint32_t i, uint64_t h)
{
	uint32_t s = (uint32_t) h & t->mask;

	while (t->slots[s] != SLOT_EMPTY && slot_entry(t->slots[s]) != i)
		s = (s + 1) & t->mask;
	return s;
}

/* A new index of @nslots slots (a power of two) holding what the old one
 * held: slots move by their tags, keys are not read. */
static int index_rebuild(struct flow_table *t, uint32_t nslots)
{
	uint64_t *slots = calloc(nslots, sizeof(*slots));
	uint32_t mask = nslots - 1;

	if (!slots)
		return -ENOMEM;
	if (t->slots) {
		for (uint64_t j = 0; j <= t->mask; j++) {
			uint64_t v = t->slots[j];
			uint32_t s = (uint32_t) (v >> 32) & mask;

			if (v == SLOT_EMPTY)
				continue;
			while (slots[s] != SLOT_EMPTY)
				s = (s + 1) & mask;
			slots[s] = v;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = mask;
	return 0;
}

/* Slots for @cap entries at a load of at most 3/4. */
static uint32_t nslots_for(uint32_t cap)
{
	uint64_t n = 2;

	while (n * 3 < (uint64_t) cap * 4)
		n <<= 1;
	return (uint32_t) n;
}

struct flow_table *flow_table_new(size_t max_flows)
{
	struct flow_table *t;
	if (max_flows == 0 || max_flows > FLOW_TABLE_MAX)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = (uint32_t) max_flows;
	t->cap = t->max < INITIAL_CAP ? t->max : INITIAL_CAP;
	t->e = malloc((size_t) t->cap * sizeof(*t->e));
	t->head = t->tail = NIL;
	t->seed = hash_seed_random();
	if (!t->e)
		return flow_table_free(t);
	if (index_rebuild(t, nslots_for(t->cap < 16 ? t->cap : 16)) < 0)
		return flow_table_free(t);
	return t;
}

struct flow_table *flow_table_free(struct flow_table *t)
{
	if (!t)
		return NULL;
	free(t->e);
	free(t->slots);
	free(t->gone);
	free(t);
	return NULL;
}

static void lru_unlink(struct flow_table *t, uint32_t i)
{
	struct ft_entry *x = &t->e[i];

	if (x->prev != NIL)
		t->e[x->prev].next = x->next;
	else
		t->head = x->next;
	if (x->next != NIL)
		t->e[x->next].prev = x->prev;
	else
		t->tail = x->prev;
}

static void lru_push_head(struct flow_table *t, uint32_t i)
{
	struct ft_entry *x = &t->e[i];

	x->prev = NIL;
	x->next = t->head;
	if (t->head != NIL)
		t->e[t->head].prev = i;
	t->head = i;
	if (t->tail == NIL)
		t->tail = i;
}

/* Backward-shift deletion of slot @s (Knuth 6.4, algorithm R). */
static void slot_delete(struct flow_table *t, uint32_t s)
{
	uint32_t j = s;

	t->slots[s] = SLOT_EMPTY;
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slots[j] == SLOT_EMPTY)
			return;
		home = slot_home(t, t->slots[j]);
		/* Move j back to s unless its home lies cyclically in (s, j]. */
		if (s <= j ? (s < home && home <= j) : (s < home || home <= j))
			continue;
		t->slots[s] = t->slots[j];
		t->slots[j] = SLOT_EMPTY;
		s = j;
	}
}

/* Off the hot path: only when a flow leaves with the record on. */
static void gone_note(struct flow_table *t, const struct flow_key *k)
{
	if (t->n_gone == t->cap_gone) {
		uint32_t cap = t->cap_gone ? t->cap_gone * 2 : 64;
		struct flow_key *v;

		if (cap > t->max_gone)
			cap = t->max_gone;
		v = cap > t->cap_gone ? realloc(t->gone, (size_t) cap * sizeof(*v)) : NULL;
		if (!v) {
			/* Full, or no memory: counted, the caller rewrites
			 * its store whole. */
			t->gone_overflow++;
			t->stats.gone_unrecorded++;
			return;
		}
		t->gone = v;
		t->cap_gone = cap;
	}
	t->gone[t->n_gone++] = *k;
}

/* Removes entry @victim, moving the last entry into its place. */
static void entry_remove(struct flow_table *t, uint32_t victim)
{
	uint32_t last = t->n - 1;

	uint32_t s;

	if (t->max_gone)
		gone_note(t, &t->e[victim].key);
	lru_unlink(t, victim);
	slot_delete(t, slot_of_entry(t, victim, key_hash(t, &t->e[victim].key)));
	if (victim != last) {
		/* Move the last entry into the hole and repoint its slot and
		 * its LRU neighbours. */
		t->e[victim] = t->e[last];
		s = slot_of_entry(t, last, key_hash(t, &t->e[victim].key));
		t->slots[s] = (t->slots[s] & ~(uint64_t) UINT32_MAX) | (victim + 1);
		if (t->e[victim].prev != NIL)
			t->e[t->e[victim].prev].next = victim;
		else
			t->head = victim;
		if (t->e[victim].next != NIL)
			t->e[t->e[victim].next].prev = victim;
		else
			t->tail = victim;
	}
	t->n--;
}

static void evict_lru(struct flow_table *t)
{
	entry_remove(t, t->tail);
	t->stats.evicted++;
}

static int grow(struct flow_table *t)
{
	uint32_t cap = t->cap > t->max / 2 ? t->max : t->cap * 2;
	struct ft_entry *e = realloc(t->e, (size_t) cap * sizeof(*e));

	if (!e)
		return -ENOMEM;
	t->e = e;
	t->cap = cap;
	return 0;
}

int flow_table_add(struct flow_table *t, const struct flow_key *key, uint32_t packets,
		   uint64_t bytes, uint32_t connections, int64_t ts, uint8_t seen_by)
{
	uint64_t h = key_hash(t, key);
	uint32_t s = slot_find(t, key, h), i, now = ts32(ts);
	struct ft_entry *x;
	int created = 0, r;

	if (t->slots[s] != SLOT_EMPTY) {
		i = slot_entry(t->slots[s]);
		/* Recency counts in seconds, as times do: a flow already
		 * moved to the front this second stays where it is, which
		 * spares a busy flow three cache misses per packet. */
		if (i != t->head && t->e[i].last_seen != now) {
			lru_unlink(t, i);
			lru_push_head(t, i);
		}
	} else {
		if (t->n == t->max || t->n == t->cap ||
		    ((uint64_t) t->n + 1) * 4 > ((uint64_t) t->mask + 1) * 3) {
			if (t->n == t->max) {
				evict_lru(t);
			} else {
				r = t->n == t->cap ? grow(t) : 0;
				/* The index follows the flows, not the array's
				 * capacity: at most 3/4 full. */
				if (r == 0 &&
				    ((uint64_t) t->n + 1) * 4 > ((uint64_t) t->mask + 1) * 3)
					r = index_rebuild(t, nslots_for(t->n + 1));
				if (r < 0)
					return r;
			}
			/* Eviction or growth moved slots: find it again. */
			s = slot_find(t, key, h);
		}
		i = t->n++;
		x = &t->e[i];
		memset(x, 0, sizeof(*x));
		x->key = *key;
		x->first_seen = x->last_seen = now;
		t->slots[s] = (h << 32) | (i + 1);
		lru_push_head(t, i);
		t->stats.created++;
		created = 1;
	}
	x = &t->e[i];
	x->packets += packets;
	x->bytes += bytes;
	x->connections = connections > UINT32_MAX - x->connections ? UINT32_MAX :
								     x->connections + connections;
	if (now < x->first_seen)
		x->first_seen = now;
	if (now > x->last_seen)
		x->last_seen = now;
	x->seen_by |= seen_by;
	x->dirty = 1;
	return created;
}

static void entry_to_record(const struct ft_entry *x, struct flow_record *r)
{
	memset(r, 0, sizeof(*r));
	r->key = x->key;
	r->packets = x->packets;
	r->bytes = x->bytes;
	r->connections = x->connections;
	r->first_seen = x->first_seen;
	r->last_seen = x->last_seen;
	r->seen_by = x->seen_by;
	r->src_peer.kind = FLOW_PEER_UNKNOWN;
	r->dst_peer.kind = FLOW_PEER_UNKNOWN;
}

void flow_table_record_at(const struct flow_table *t, size_t i, struct flow_record *ret)
{
	entry_to_record(&t->e[i], ret);
}

bool flow_table_dirty_at(const struct flow_table *t, size_t i)
{
	return t->e[i].dirty;
}

void flow_table_clean_at(struct flow_table *t, size_t i)
{
	t->e[i].dirty = 0;
}

int flow_table_get(const struct flow_table *t, const struct flow_key *key, struct flow_record *ret)
{
	uint32_t s = slot_find(t, key, key_hash(t, key));

	if (t->slots[s] == SLOT_EMPTY)
		return 0;
	if (ret)
		entry_to_record(&t->e[slot_entry(t->slots[s])], ret);
	return 1;
}

int flow_table_take(struct flow_table *t, const struct flow_key *key, struct flow_record *ret)
{
	uint32_t s = slot_find(t, key, key_hash(t, key));

	if (t->slots[s] == SLOT_EMPTY)
		return 0;
	if (ret)
		entry_to_record(&t->e[slot_entry(t->slots[s])], ret);
	entry_remove(t, slot_entry(t->slots[s]));
	return 1;
}

size_t flow_table_count(const struct flow_table *t)
{
	return t->n;
}

const struct flow_table_stats *flow_table_stats(const struct flow_table *t)
{
	return &t->stats;
}

size_t flow_table_mem(const struct flow_table *t)
{
	return sizeof(*t) + (size_t) t->cap * sizeof(*t->e) +
	       ((size_t) t->mask + 1) * sizeof(*t->slots) + (size_t) t->cap_gone * sizeof(*t->gone);
}

int flow_table_gone_record(struct flow_table *t, size_t max)
{
	if (max > FLOW_TABLE_MAX)
		return -EINVAL;
	if (max < t->n_gone) {
		t->gone_overflow += t->n_gone - max;
		t->stats.gone_unrecorded += t->n_gone - max;
		t->n_gone = (uint32_t) max;
	}
	t->max_gone = (uint32_t) max;
	if (!max) {
		free(t->gone);
		t->gone = NULL;
		t->cap_gone = 0;
		t->gone_overflow = 0;
	}
	return 0;
}

void flow_table_gone(struct flow_table *t, struct flow_table_gone *ret)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < t->n_gone; i++) {
		const struct flow_key *k = &t->gone[i];

		if (t->slots[slot_find(t, k, key_hash(t, k))] != SLOT_EMPTY)
			continue;
		if (j != i)
			t->gone[j] = *k;
		j++;
	}
	t->n_gone = j;
	ret->keys = t->gone;
	ret->n = t->n_gone;
	ret->overflow = t->gone_overflow;
}

void flow_table_gone_clear(struct flow_table *t)
{
	t->n_gone = 0;
	t->gone_overflow = 0;
}

int flow_table_export(const struct flow_table *t, struct flow_record **ret, size_t *ret_n)
{
	struct flow_record *r = calloc(t->n ? t->n : 1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++)
		entry_to_record(&t->e[i], &r[i]);
	*ret = r;
	*ret_n = t->n;
	return 0;
}
