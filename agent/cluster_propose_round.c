/*
 * The rounds the Lease holder wrote itself (agent/cluster_propose_round.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster_propose_round.h"

struct pround *pround_find(struct pround_set *s, const char *ns)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].ns, ns) == 0)
			return &s->v[i];
	return NULL;
}

static void round_done(struct pround *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	free(r->ns);
	free(r->id);
}

/* Drops the record of @ns. */
static void round_drop(struct pround_set *s, const char *ns)
{
	struct pround *r = pround_find(s, ns);

	if (!r)
		return;
	round_done(r);
	*r = s->v[--s->n];
}

int pround_set(struct pround_set *s, const char *ns, const char *id, const json_t *objs)
{
	struct pround r = {
		.ns = strdup(ns), .id = strdup(id), .whole = true, .at = clock_mono_ms()
	};
	struct pround *v;

	round_drop(s, ns);
	r.names = calloc(json_array_size(objs) + 1, sizeof(*r.names));
	if (!r.ns || !r.id || !r.names)
		goto fail;
	for (size_t i = 0; i < json_array_size(objs); i++) {
		const char *name = json_string_value(json_object_get(
			json_object_get(json_array_get(objs, i), "metadata"), "name"));

		if (name && !(r.names[r.n++] = strdup(name)))
			goto fail;
	}
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		goto fail;
	s->v = v;
	s->v[s->n++] = r;
	return 0;
fail:
	round_done(&r);
	return -ENOMEM;
}

void pround_failed(struct pround_set *s, const char *ns)
{
	struct pround *r = pround_find(s, ns);

	if (r)
		r->whole = false;
}

void pround_clear(struct pround_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		round_done(&s->v[i]);
	free(s->v);
	*s = (struct pround_set){ 0 };
}

int pkeep_add(struct pkeep_set *s, const char *ns, const char *id)
{
	char **vn = realloc(s->ns, (s->n + 1) * sizeof(*vn)), **vi;

	if (!vn)
		return -ENOMEM;
	s->ns = vn;
	vi = realloc(s->id, (s->n + 1) * sizeof(*vi));
	if (!vi)
		return -ENOMEM;
	s->id = vi;
	vn[s->n] = strdup(ns);
	vi[s->n] = strdup(id);
	if (!vn[s->n] || !vi[s->n]) {
		free(vn[s->n]);
		free(vi[s->n]);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

const char *pkeep_get(const struct pkeep_set *s, const char *ns)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->ns[i], ns) == 0)
			return s->id[i];
	return NULL;
}

void pkeep_clear(struct pkeep_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->ns[i]);
		free(s->id[i]);
	}
	free(s->ns);
	free(s->id);
	*s = (struct pkeep_set){ 0 };
}
