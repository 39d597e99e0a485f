/*
 * Workloads and their minimal stable-label selectors (include/workload.h).
 *
 * The selector search is a small set cover: each candidate label (a
 * key=value common to every pod of the workload) "covers" the other label
 * sets of the namespace that lack it; the smallest covering subset is the
 * selector.  Other pods with identical label sets are deduplicated first,
 * so the cost depends on how many distinct label sets a namespace has, not
 * on its replica count.  Subsets of up to WORKLOAD_EXACT_MAX labels are
 * searched exhaustively in order of preference; past that a greedy cover is
 * used (workloads needing five labels to be told apart are rare and the
 * greedy answer is still exact, only perhaps not minimal).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "vec.h"
#include "workload.h"

#define WORKLOAD_EXACT_MAX 4
/* Candidates beyond this many are not considered for the selector. */
#define WORKLOAD_CAND_MAX 64

static const char *const volatile_labels[] = {
	"pod-template-hash",
	"controller-revision-hash",
	"statefulset.kubernetes.io/pod-name",
	"pod-template-generation",
	"batch.kubernetes.io/controller-uid",
	"controller-uid",
	"batch.kubernetes.io/job-name",
	"job-name",
	"apps.kubernetes.io/pod-index",
	"batch.kubernetes.io/job-completion-index",
};

/* Keys a person expects to see in a selector, best first. */
static const char *const preferred_keys[] = {
	"app.kubernetes.io/name",
	"app",
	"k8s-app",
	"app.kubernetes.io/instance",
	"app.kubernetes.io/component",
	"component",
	"name",
	"tier",
	"role",
};

/* Keys whose value names a bare pod's workload, best first. */
static const char *const name_keys[] = {
	"app.kubernetes.io/name",
	"app",
	"k8s-app",
	"name",
};

bool workload_label_is_volatile(const char *key)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(volatile_labels); i++)
		if (strcmp(key, volatile_labels[i]) == 0)
			return true;
	return false;
}

int workload_stable_labels(const struct labels *src, struct labels *dst)
{
	for (size_t i = 0; i < src->n; i++) {
		if (workload_label_is_volatile(src->v[i].key))
			continue;
		if (labels_set(dst, src->v[i].key, src->v[i].value) < 0) {
			labels_done(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

/* A pod-template-hash is a short string of the characters
 * k8s.io/apimachinery's SafeEncodeString uses (no vowels, no 0, 1, 3). */
static bool looks_like_hash(const char *s)
{
	size_t n = strlen(s);

	if (n < 5 || n > 10)
		return false;
	return strspn(s, "bcdfghjklmnpqrstvwxz2456789") == n;
}

static bool all_digits(const char *s, size_t min)
{
	size_t n = strlen(s);

	return n >= min && strspn(s, "0123456789") == n;
}

int workload_of_pod(const struct pod *p, char **ret_kind, char **ret_name)
{
	const char *kind = p->owner.kind, *name = p->owner.name, *dash;
	size_t name_len = 0;
	char *k, *n;

	if (kind && name) {
		name_len = strlen(name);
		dash = strrchr(name, '-');
		if (strcmp(kind, "ReplicaSet") == 0 && dash && dash != name) {
			const char *hash = labels_get(&p->labels, "pod-template-hash");

			if (hash ? strcmp(hash, dash + 1) == 0 : looks_like_hash(dash + 1)) {
				kind = "Deployment";
				name_len = (size_t) (dash - name);
			}
		} else if (strcmp(kind, "Job") == 0 && dash && dash != name &&
			   all_digits(dash + 1, 8)) {
			kind = "CronJob";
			name_len = (size_t) (dash - name);
		}
	} else {
		kind = WORKLOAD_KIND_POD;
		name = p->name;
		for (size_t i = 0; i < BH_ARRAY_SIZE(name_keys); i++) {
			const char *v = labels_get(&p->labels, name_keys[i]);

			if (v && *v) {
				name = v;
				break;
			}
		}
		name_len = strlen(name);
	}
	k = strdup(kind);
	n = strndup(name, name_len);
	if (!k || !n) {
		free(k);
		free(n);
		return -ENOMEM;
	}
	*ret_kind = k;
	*ret_name = n;
	return 0;
}

/* ---- selector minimisation ---- */

static size_t key_rank(const char *key)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(preferred_keys); i++)
		if (strcmp(key, preferred_keys[i]) == 0)
			return i;
	return BH_ARRAY_SIZE(preferred_keys);
}

static int label_pref_cmp(const void *a, const void *b)
{
	const struct label *x = *(const struct label *const *) a;
	const struct label *y = *(const struct label *const *) b;
	size_t rx = key_rank(x->key), ry = key_rank(y->key);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *) a, y = *(const size_t *) b;

	return x < y ? -1 : x > y;
}

static bool covers(uint64_t chosen, const uint64_t *masks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(masks[i] & chosen))
			return false;
	return true;
}

/* Next combination of @k out of @n in lexicographic order; false at the end. */
static bool next_comb(size_t *idx, size_t k, size_t n)
{
	size_t i = k;

	while (i > 0) {
		i--;
		if (idx[i] < n - k + i) {
			idx[i]++;
			for (size_t j = i + 1; j < k; j++)
				idx[j] = idx[j - 1] + 1;
			return true;
		}
	}
	return false;
}

int workload_selector_minimise(const struct labels *cand, const struct labels *const *others,
			       size_t n_others, struct labels *ret)
{
	const struct label *order[WORKLOAD_CAND_MAX];
	uint64_t *masks = NULL, chosen = 0;
	size_t nc = 0, nm = 0, idx[WORKLOAD_EXACT_MAX];
	bool exact = true, found = false;
	int r;

	for (size_t i = 0; i < cand->n && nc < WORKLOAD_CAND_MAX; i++)
		order[nc++] = &cand->v[i];
	qsort(order, nc, sizeof(order[0]), label_pref_cmp);

	if (n_others) {
		masks = malloc(n_others * sizeof(*masks));
		if (!masks)
			return -ENOMEM;
	}
	for (size_t o = 0; o < n_others; o++) {
		uint64_t m = 0;

		for (size_t c = 0; c < nc; c++) {
			const char *v = labels_get(others[o], order[c]->key);

			if (!v || strcmp(v, order[c]->value) != 0)
				m |= UINT64_C(1) << c;
		}
		if (m == 0) {
			/* Carries all our labels: no label set excludes it. */
			exact = false;
			continue;
		}
		masks[nm++] = m;
	}
	if (nm > 1) {
		size_t u = 1;

		qsort(masks, nm, sizeof(*masks), u64_cmp);
		for (size_t i = 1; i < nm; i++)
			if (masks[i] != masks[u - 1])
				masks[u++] = masks[i];
		nm = u;
	}

	if (!exact) {
		/* Nothing tells us apart from some pod: select with every
		 * common label, the narrowest choice available. */
		chosen = nc >= 64 ? UINT64_MAX : (UINT64_C(1) << nc) - 1;
		found = true;
	}
	/* At least one label when there is one: an empty selector would also
	 * take every pod created later in the namespace. */
	for (size_t k = 1; !found && k <= nc && k <= WORKLOAD_EXACT_MAX; k++) {
		for (size_t i = 0; i < k; i++)
			idx[i] = i;
		do {
			uint64_t s = 0;

			for (size_t i = 0; i < k; i++)
				s |= UINT64_C(1) << idx[i];
			if (covers(s, masks, nm)) {
				chosen = s;
				found = true;
				break;
			}
		} while (next_comb(idx, k, nc));
	}
	if (!found) {
		/* Greedy cover: the candidate hitting most uncovered sets. */
		size_t n_left = nm;
		bool *done = calloc(nm ? nm : 1, sizeof(*done));

		if (!done) {
			free(masks);
			return -ENOMEM;
		}
		while (n_left) {
			size_t best = 0, best_hits = 0;

			for (size_t c = 0; c < nc; c++) {
				size_t hits = 0;

				if (chosen & (UINT64_C(1) << c))
					continue;
				for (size_t i = 0; i < nm; i++)
					if (!done[i] && (masks[i] & (UINT64_C(1) << c)))
						hits++;
				if (hits > best_hits) {
					best_hits = hits;
					best = c;
				}
			}
			chosen |= UINT64_C(1) << best;
			for (size_t i = 0; i < nm; i++)
				if (!done[i] && (masks[i] & (UINT64_C(1) << best))) {
					done[i] = true;
					n_left--;
				}
		}
		free(done);
	}
	free(masks);

	for (size_t c = 0; c < nc; c++) {
		if (!(chosen & (UINT64_C(1) << c)))
			continue;
		r = labels_set(ret, order[c]->key, order[c]->value);
		if (r < 0)
			return r;
	}
	return exact ? 1 : 0;
}

/* ---- grouping ---- */

/* Per-pod scratch while building. */
struct pod_info {
	size_t pod;
	char *kind, *name;
	char *lkey; /* serialised stable labels (bare pods only: grouping) */
	struct labels stable;
};

static int serialise(const struct labels *l, char **ret)
{
	struct buf b;
	int r = 0;

	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < l->n && r == 0; i++)
		r = buf_printf(&b, "%s=%s,", l->v[i].key, l->v[i].value);
	if (r == 0)
		r = buf_append(&b, "", 0);
	if (r < 0) {
		buf_done(&b);
		return -ENOMEM;
	}
	*ret = buf_steal(&b);
	if (!*ret)
		*ret = strdup("");
	return *ret ? 0 : -ENOMEM;
}

static int info_cmp(const void *a, const void *b, void *ud)
{
	const struct cluster *cl = ud;
	const struct pod_info *x = a, *y = b;
	int c = strcmp(cl->pods[x->pod].ns, cl->pods[y->pod].ns);

	if (c)
		return c;
	if ((c = strcmp(x->kind, y->kind)) || (c = strcmp(x->name, y->name)) ||
	    (c = strcmp(x->lkey, y->lkey)))
		return c;
	return x->pod < y->pod ? -1 : x->pod > y->pod;
}

static void workload_done(struct workload *w)
{
	free(w->ns);
	free(w->kind);
	free(w->name);
	free(w->pods);
	labels_done(&w->common);
	selector_done(&w->sel);
}

void workload_set_done(struct workload_set *ws)
{
	if (!ws)
		return;
	for (size_t i = 0; i < ws->n; i++)
		workload_done(&ws->v[i]);
	free(ws->v);
	free(ws->by_pod);
	*ws = (struct workload_set){ 0 };
}

static int ws_cmp(const void *a, const void *b)
{
	const struct workload *x = a, *y = b;
	int c;

	if ((c = strcmp(x->ns, y->ns)) || (c = strcmp(x->kind, y->kind)))
		return c;
	return strcmp(x->name, y->name);
}

/* The common labels of @w's pods. */
static int compute_common(struct workload *w, const struct pod_info *info_by_pod)
{
	const struct labels *first = &info_by_pod[w->pods[0]].stable;

	for (size_t i = 0; i < first->n; i++) {
		bool same = true;

		for (size_t p = 1; p < w->n_pods && same; p++) {
			const char *v =
				labels_get(&info_by_pod[w->pods[p]].stable, first->v[i].key);

			same = v && strcmp(v, first->v[i].value) == 0;
		}
		if (same && labels_set(&w->common, first->v[i].key, first->v[i].value) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Distinct stable label sets in one namespace, with their workload. */
struct ns_set {
	const char *lkey;
	const struct labels *labels;
	size_t workload;
};

static int ns_set_cmp(const void *a, const void *b)
{
	const struct ns_set *x = a, *y = b;
	int c = strcmp(x->lkey, y->lkey);

	if (c)
		return c;
	return x->workload < y->workload ? -1 : x->workload > y->workload;
}

static bool key_on_any_pod(const struct workload *w, const struct pod_info *info_by_pod,
			   const char *key)
{
	for (size_t p = 0; p < w->n_pods; p++)
		if (labels_get(&info_by_pod[w->pods[p]].stable, key))
			return true;
	return false;
}

static bool has_req(const struct selector *s, const char *key)
{
	for (size_t q = 0; q < s->n_reqs; q++)
		if (strcmp(s->reqs[q].key, key) == 0)
			return true;
	return false;
}

/* Selectors of the workloads [first, end) of one namespace. */
static int compute_selectors(struct workload_set *ws, size_t first, size_t end,
			     const struct pod_info *info_by_pod, char **lkeys)
{
	struct ns_set *sets = NULL;
	const struct labels **others = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (size_t w = first; w < end; w++)
		cap += ws->v[w].n_pods;
	sets = calloc(cap ? cap : 1, sizeof(*sets));
	others = calloc(cap ? cap : 1, sizeof(*others));
	if (!sets || !others) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t w = first; w < end; w++)
		for (size_t p = 0; p < ws->v[w].n_pods; p++) {
			size_t pod = ws->v[w].pods[p];

			sets[n++] = (struct ns_set){ .lkey = lkeys[pod],
						     .labels = &info_by_pod[pod].stable,
						     .workload = w };
		}
	qsort(sets, n, sizeof(*sets), ns_set_cmp);

	for (size_t w = first; w < end; w++) {
		struct workload *wl = &ws->v[w];
		size_t no = 0;
		const char *last = NULL;

		for (size_t i = 0; i < n; i++) {
			if (sets[i].workload == w)
				continue;
			if (last && strcmp(last, sets[i].lkey) == 0)
				continue;
			last = sets[i].lkey;
			others[no++] = sets[i].labels;
		}
		r = workload_selector_minimise(&wl->common, others, no, &wl->sel.match_labels);
		if (r < 0)
			goto out;
		wl->exact = r == 1;
		if (!wl->exact) {
			/* Try DoesNotExist on a key the intruders carry and
			 * none of our pods does. */
			r = 0;
			wl->exact = true;
			for (size_t o = 0; o < no && r == 0; o++) {
				const struct labels *l = others[o];
				bool intruder = true, excluded = false;

				for (size_t i = 0; i < wl->sel.match_labels.n && intruder; i++) {
					const char *v =
						labels_get(l, wl->sel.match_labels.v[i].key);

					intruder = v &&
						   strcmp(v, wl->sel.match_labels.v[i].value) == 0;
				}
				if (!intruder)
					continue;
				for (size_t i = 0; i < l->n && !excluded; i++) {
					if (key_on_any_pod(wl, info_by_pod, l->v[i].key))
						continue;
					excluded = true;
					if (!has_req(&wl->sel, l->v[i].key))
						r = selector_req_add(&wl->sel, l->v[i].key,
								     SELECTOR_OP_DOES_NOT_EXIST,
								     NULL, 0);
				}
				if (!excluded)
					wl->exact = false;
			}
			if (r < 0)
				goto out;
		}
		r = 0;
	}

out:
	free(sets);
	free(others);
	return r;
}

int workload_set_build(const struct cluster *c, struct workload_set *ret)
{
	struct workload_set ws = { 0 };
	struct pod_info *info = NULL, *by_pod = NULL;
	char **lkeys = NULL;
	size_t n = c->n_pods, cap_ws = 0;
	int r = -ENOMEM;

	*ret = (struct workload_set){ 0 };
	info = calloc(n ? n : 1, sizeof(*info));
	by_pod = calloc(n ? n : 1, sizeof(*by_pod));
	lkeys = calloc(n ? n : 1, sizeof(*lkeys));
	ws.by_pod = calloc(n ? n : 1, sizeof(*ws.by_pod));
	ws.n_pods = n;
	if (!info || !by_pod || !lkeys || !ws.by_pod)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct pod *p = &c->pods[i];

		info[i].pod = i;
		labels_init(&info[i].stable);
		if (workload_of_pod(p, &info[i].kind, &info[i].name) < 0 ||
		    workload_stable_labels(&p->labels, &info[i].stable) < 0 ||
		    serialise(&info[i].stable, &lkeys[i]) < 0)
			goto out;
		/* Bare pods group by their stable labels; one without any
		 * stays alone, under its own name. */
		if (strcmp(info[i].kind, WORKLOAD_KIND_POD) == 0 && !p->owner.kind)
			info[i].lkey = strdup(info[i].stable.n ? lkeys[i] : p->name);
		else
			info[i].lkey = strdup("");
		if (!info[i].lkey)
			goto out;
	}
	qsort_r(info, n, sizeof(*info), info_cmp, (void *) c);

	for (size_t i = 0, prev = SIZE_MAX, dup = 0; i < n;) {
		size_t j = i + 1;
		struct workload *w, *nv;
		const char *ns = c->pods[info[i].pod].ns;

		while (j < n && strcmp(c->pods[info[j].pod].ns, ns) == 0 &&
		       strcmp(info[j].kind, info[i].kind) == 0 &&
		       strcmp(info[j].name, info[i].name) == 0 &&
		       strcmp(info[j].lkey, info[i].lkey) == 0)
			j++;
		nv = vec_grow(ws.v, &cap_ws, ws.n + 1, sizeof(*nv));
		if (!nv)
			goto out;
		ws.v = nv;
		w = &ws.v[ws.n++];
		*w = (struct workload){ .exact = true, .host_network = true };
		labels_init(&w->common);
		selector_init(&w->sel);
		/* Bare-pod groups that derive the same name (same app label,
		 * other labels differ) are numbered in label order. */
		if (prev != SIZE_MAX && strcmp(c->pods[info[prev].pod].ns, ns) == 0 &&
		    strcmp(info[prev].kind, info[i].kind) == 0 &&
		    strcmp(info[prev].name, info[i].name) == 0)
			dup++;
		else
			dup = 0;
		prev = i;
		w->ns = strdup(ns);
		w->kind = strdup(info[i].kind);
		if (dup)
			r = asprintf(&w->name, "%s-%zu", info[i].name, dup + 1) < 0 ? -ENOMEM : 0;
		else
			w->name = strdup(info[i].name);
		w->pods = calloc(j - i, sizeof(*w->pods));
		if (!w->ns || !w->kind || !w->name || !w->pods) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t k = i; k < j; k++) {
			w->pods[w->n_pods++] = info[k].pod;
			if (!c->pods[info[k].pod].host_network)
				w->host_network = false;
		}
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		by_pod[info[i].pod] = info[i];
	if (ws.n)
		qsort(ws.v, ws.n, sizeof(*ws.v), ws_cmp);
	for (size_t w = 0; w < ws.n; w++) {
		/* pods were added in name order of the grouping sort */
		for (size_t p = 1; p < ws.v[w].n_pods; p++)
			if (ws.v[w].pods[p] < ws.v[w].pods[p - 1]) {
				qsort(ws.v[w].pods, ws.v[w].n_pods, sizeof(size_t), size_cmp);
				break;
			}
		for (size_t p = 0; p < ws.v[w].n_pods; p++)
			ws.by_pod[ws.v[w].pods[p]] = w;
		r = compute_common(&ws.v[w], by_pod);
		if (r < 0)
			goto out;
	}
	for (size_t w = 0; w < ws.n;) {
		size_t e = w + 1;

		while (e < ws.n && strcmp(ws.v[e].ns, ws.v[w].ns) == 0)
			e++;
		r = compute_selectors(&ws, w, e, by_pod, lkeys);
		if (r < 0)
			goto out;
		w = e;
	}
	*ret = ws;
	ws = (struct workload_set){ 0 };
	r = 0;

out:
	for (size_t i = 0; info && i < n; i++) {
		free(info[i].kind);
		free(info[i].name);
		free(info[i].lkey);
		labels_done(&info[i].stable);
	}
	for (size_t i = 0; lkeys && i < n; i++)
		free(lkeys[i]);
	free(lkeys);
	free(info);
	free(by_pod);
	workload_set_done(&ws);
	return r;
}

const struct workload *workload_set_find(const struct workload_set *ws, const char *ns,
					 const char *kind, const char *name)
{
	struct workload key = { .ns = (char *) ns, .kind = (char *) kind, .name = (char *) name };

	/* bsearch() with a NULL base is undefined even for zero elements
	 * (an empty snapshot has no workloads; fuzz.propose found it). */
	if (ws->n == 0)
		return NULL;
	return bsearch(&key, ws->v, ws->n, sizeof(*ws->v), ws_cmp);
}

size_t workload_set_of_pod(const struct workload_set *ws, size_t pod_index)
{
	return ws->by_pod[pod_index];
}
