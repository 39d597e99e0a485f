/*
 * propose: policy names, one per workload and direction, never two alike in
 * a namespace (the kind, then a hash, is added until each is its own).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "propose_int.h"

int propose_policy_name_cmp(const void *a, const void *b)
{
	const struct proposal_policy *x = a, *y = b;
	int c = strcmp(x->np.ns, y->np.ns);

	return c ? c : strcmp(x->np.name, y->np.name);
}

/* Object names are DNS-1123 subdomains of at most 253 characters. */
#define POLICY_NAME_MAX 253

/* Appends @s to @b as [a-z0-9-]: a bare pod's workload is named after a
 * label value, which may hold upper case, '_' and '.'. */
static int name_part(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		char ch = *s;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char) (ch - 'A' + 'a');
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			ch = '-';
		r = buf_append(b, &ch, 1);
	}
	return r;
}

/* FNV-1a of "KIND/NAME": fixed, so a workload's policy names are the same
 * on every run. */
static uint32_t name_hash(const struct workload *w)
{
	uint32_t h = 2166136261u;

	for (const char *s = w->kind; *s; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	h = (h ^ (uint8_t) '/') * 16777619u;
	for (const char *s = w->name; *s; s++)
		h = (h ^ (uint8_t) *s) * 16777619u;
	return h;
}

/* bulkhead-NAME-DIR, bulkhead-NAME-KIND-DIR or bulkhead-NAME-KIND-HASH-DIR
 * by @level; NAME is cut to keep the whole within POLICY_NAME_MAX. */
int propose_policy_name(const struct workload_set *ws, size_t wi, enum name_level level,
			enum netpol_dir d, char **ret)
{
	const struct workload *w = &ws->v[wi];
	const char *dir = netpol_dir_name(d);
	struct buf b, tail;
	size_t keep;
	int r;

	buf_init(&b, SIZE_MAX);
	buf_init(&tail, SIZE_MAX);
	r = buf_printf(&b, "bulkhead-");
	if (r == 0)
		r = name_part(&b, w->name);
	if (r == 0 && level >= NAME_KIND)
		r = buf_printf(&tail, "-");
	if (r == 0 && level >= NAME_KIND)
		r = name_part(&tail, w->kind);
	if (r == 0 && level >= NAME_HASH)
		r = buf_printf(&tail, "-%08" PRIx32, name_hash(w));
	if (r == 0)
		r = buf_printf(&tail, "-%s", dir);
	if (r == 0) {
		keep = POLICY_NAME_MAX - tail.len;
		if (b.len > keep)
			b.len = keep;
		r = buf_append(&b, tail.data, tail.len);
	}
	buf_done(&tail);
	if (r < 0) {
		buf_done(&b);
		return -ENOMEM;
	}
	*ret = buf_steal(&b);
	return 0;
}

struct name_ref {
	const char *ns;
	char *name; /* owned */
	size_t wl;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

/*
 * Per workload the least name level that gives every workload of a
 * namespace policy names of its own, in both directions.  Raising one
 * workload's level can make its names meet another's, so this repeats
 * until no two meet; (ns, kind, name) is unique, so only a hash collision
 * on top of names and kinds that read alike leaves two the same: an error.
 */
int propose_name_levels(const struct workload_set *ws, uint8_t *level, struct bh_err *reterr)
{
	struct name_ref *v = calloc(ws->n ? ws->n : 1, sizeof(*v));
	bool again = true;
	int r = 0;

	if (!v)
		return bh_err_oom(reterr);
	while (again && r == 0) {
		again = false;
		for (int d = 0; d < _NETPOL_DIR_MAX && r == 0; d++) {
			for (size_t i = 0; i < ws->n && r == 0; i++) {
				free(v[i].name);
				v[i] = (struct name_ref){ .ns = ws->v[i].ns, .wl = i };
				r = propose_policy_name(ws, i, (enum name_level) level[i],
							(enum netpol_dir) d, &v[i].name);
			}
			if (r < 0) {
				r = bh_err_oom(reterr);
				break;
			}
			qsort(v, ws->n, sizeof(*v), name_ref_cmp);
			for (size_t i = 0, j; i < ws->n; i = j) {
				bool raised = false;

				for (j = i + 1; j < ws->n && name_ref_cmp(&v[i], &v[j]) == 0; j++)
					;
				if (j - i == 1)
					continue;
				for (size_t k = i; k < j; k++) {
					if (level[v[k].wl] + 1 < _NAME_LEVEL_MAX) {
						level[v[k].wl]++;
						raised = again = true;
					}
				}
				if (!raised) {
					const struct workload *a = &ws->v[v[i].wl],
							      *b = &ws->v[v[i + 1].wl];

					r = bh_err_set(reterr, BH_ERR_INPUT, -EEXIST,
						       "propose: workloads %s/%s/%s and %s/%s/%s "
						       "get the same policy name '%s'",
						       a->ns, a->kind, a->name, b->ns, b->kind,
						       b->name, v[i].name);
					break;
				}
			}
			if (again)
				break;
		}
	}
	for (size_t i = 0; i < ws->n; i++)
		free(v[i].name);
	free(v);
	return r;
}
