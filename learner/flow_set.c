/*
 * A set of flows read from files (include/flows_json.h): its lifetime, and
 * the sort and merge that keep one record per key.  Records with equal keys
 * are merged (counters summed, times widened, seen_by ORed); the merge is
 * commutative so that flow files from several nodes give the same set in
 * any order.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flows_int.h"

void flow_set_init(struct flow_set *s)
{
	*s = (struct flow_set){ 0 };
}

void flow_set_done(struct flow_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		flow_record_done(&s->flows[i]);
	free(s->flows);
	for (size_t i = 0; i < s->n_peers; i++)
		flow_peer_done(&s->peers[i]);
	free(s->peers);
	free(s->node);
	flow_set_init(s);
}

static int flow_record_cmp(const void *a, const void *b)
{
	return flow_key_cmp(&((const struct flow_record *) a)->key,
			    &((const struct flow_record *) b)->key);
}

/* Order of preference between two descriptions of the same address, so
 * that merging does not depend on the order files are read in: a resolved
 * peer beats an unresolved one, then the later-seen record, then names. */
static int peer_pref_cmp(const struct flow_peer *a, int64_t a_seen, const struct flow_peer *b,
			 int64_t b_seen)
{
	int c;

	if ((a->kind != FLOW_PEER_UNKNOWN) != (b->kind != FLOW_PEER_UNKNOWN))
		return a->kind != FLOW_PEER_UNKNOWN ? 1 : -1;
	if (a_seen != b_seen)
		return a_seen > b_seen ? 1 : -1;
	if (a->kind != b->kind)
		return a->kind > b->kind ? 1 : -1;
	c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "");
	if (c)
		return -c;
	c = strcmp(a->name ? a->name : "", b->name ? b->name : "");
	return -c;
}

/* Merges @src into @dst (equal keys) and releases @src. */
static void flow_record_merge(struct flow_record *dst, struct flow_record *src)
{
	struct flow_peer tmp;

	if (peer_pref_cmp(&src->src_peer, src->last_seen, &dst->src_peer, dst->last_seen) > 0) {
		tmp = dst->src_peer;
		dst->src_peer = src->src_peer;
		src->src_peer = tmp;
	}
	if (peer_pref_cmp(&src->dst_peer, src->last_seen, &dst->dst_peer, dst->last_seen) > 0) {
		tmp = dst->dst_peer;
		dst->dst_peer = src->dst_peer;
		src->dst_peer = tmp;
	}
	dst->packets += src->packets;
	dst->bytes += src->bytes;
	dst->connections += src->connections;
	if (src->first_seen < dst->first_seen)
		dst->first_seen = src->first_seen;
	if (src->last_seen > dst->last_seen)
		dst->last_seen = src->last_seen;
	dst->seen_by |= src->seen_by;
	flow_record_done(src);
}

/* A flow key as big-endian words that compare like flow_key_cmp(). */
struct sort_key {
	uint64_t w[5];
	size_t i;
};

static uint64_t be64_at(const unsigned char *p)
{
	uint64_t v = 0;

	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static void sort_key_make(const struct flow_key *k, size_t i, struct sort_key *ret)
{
	unsigned char b[40] = { 0 };

	b[0] = k->src.family;
	memcpy(b + 1, k->src.b, 16);
	b[17] = k->dst.family;
	memcpy(b + 18, k->dst.b, 16);
	b[34] = k->proto;
	b[35] = (unsigned char) (k->port >> 8);
	b[36] = (unsigned char) k->port;
	for (int w = 0; w < 5; w++)
		ret->w[w] = be64_at(b + 8 * w);
	ret->i = i;
}

static bool sort_key_less(const struct sort_key *x, const struct sort_key *y)
{
	for (int w = 0; w < 5; w++)
		if (x->w[w] != y->w[w])
			return x->w[w] < y->w[w];
	return x->i < y->i;
}

#define SORT_KEYS_SMALL 16

/*
 * Sorts @v (@n keys) with @tmp as scratch of the same length: a merge sort
 * with the comparison inlined, about twice as fast as qsort() calling a
 * comparison function for 200,000 keys.  Keys are distinct (the index
 * breaks ties), so the order is the same as any other sort's.
 */
static void sort_keys(struct sort_key *v, struct sort_key *tmp, size_t n)
{
	size_t h = n / 2, i = 0, j = h, k = 0;

	if (n <= SORT_KEYS_SMALL) {
		for (size_t a = 1; a < n; a++) {
			struct sort_key x = v[a];
			size_t b = a;

			for (; b > 0 && sort_key_less(&x, &v[b - 1]); b--)
				v[b] = v[b - 1];
			v[b] = x;
		}
		return;
	}
	sort_keys(v, tmp, h);
	sort_keys(v + h, tmp + h, n - h);
	if (!sort_key_less(&v[h], &v[h - 1]))
		return; /* already in order */
	while (i < h && j < n)
		tmp[k++] = sort_key_less(&v[j], &v[i]) ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	/* The rest of the right half is already in place. */
	memcpy(v, tmp, k * sizeof(*v));
}

/*
 * Sorts *@v by key.  Records are large: sorting small precomputed keys and
 * moving each record once into a new array (which replaces *@v) was several
 * times cheaper than qsort() on the records.  Without memory for that,
 * qsort() on the records.
 */
static void flow_records_sort(struct flow_record **v, size_t n)
{
	struct sort_key *keys = malloc(2 * n * sizeof(*keys));
	struct flow_record *tmp = malloc(n * sizeof(*tmp)), *old = *v;

	if (!keys || !tmp) {
		free(keys);
		free(tmp);
		qsort(old, n, sizeof(*old), flow_record_cmp);
		return;
	}
	for (size_t i = 0; i < n; i++)
		sort_key_make(&old[i].key, i, &keys[i]);
	sort_keys(keys, keys + n, n);
	for (size_t i = 0; i < n; i++)
		tmp[i] = old[keys[i].i];
	free(keys);
	free(old);
	*v = tmp;
}

/* Sorts *@v (which may be replaced) and merges equal keys in place;
 * returns the new count. */
size_t flow_set_sort_merge(struct flow_record **pv, size_t n)
{
	struct flow_record *v;
	size_t out = 0;

	if (n == 0)
		return 0;
	flow_records_sort(pv, n);
	v = *pv;
	for (size_t i = 1; i < n; i++) {
		if (flow_key_cmp(&v[out].key, &v[i].key) == 0)
			flow_record_merge(&v[out], &v[i]);
		else
			v[++out] = v[i];
	}
	return out + 1;
}
