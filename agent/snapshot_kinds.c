/*
 * Objects of kinds the snapshot reader does not decode (snapshot_kinds.h).
 *
 * A kind matching /networkpolic/i that is not networking.k8s.io/v1
 * NetworkPolicy is refused rather than skipped: a 'Networkpolicy' typo, an
 * old networking.k8s.io/v1beta1 or extensions/v1beta1 copy, or a CNI's own
 * policy kind (Calico's GlobalNetworkPolicy, CiliumNetworkPolicy) is a
 * policy the user expects to be enforced, and skipping it silently would
 * open what it closes.  So is a document that is not a Kubernetes object
 * (no apiVersion, or neither metadata nor items: a flows file passed as a
 * snapshot), which says the wrong file was given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_object.h"
#include "log.h"
#include "snapshot_kinds.h"
#include "vec.h"

/* Warnings about skipped objects: one line per file and kind, this many. */
#define SNAPSHOT_WARN_KINDS 16

/* "'ns/name'" or "'name'" from metadata, else "". */
static void object_id(const json_t *obj, char *buf, size_t len)
{
	const char *ns, *name;

	buf[0] = '\0';
	if (kube_object_key(obj, &ns, &name) == 0)
		snprintf(buf, len, "'%s%s%s'", ns ? ns : "", ns ? "/" : "", name);
}

static void skip_done(struct snapshot_skip *k)
{
	free(k->kind);
	free(k->api);
	free(k->object);
}

static int skip_add(struct snapshot_skips *s, const char *file, const char *kind, const char *api,
		    const char *object, bool unreadable, bool policy_like)
{
	struct snapshot_skip *k;

	if (s->n == s->cap) {
		void *nv = vec_grow(s->v, &s->cap, s->n + 1, sizeof(*s->v));

		if (!nv)
			return -ENOMEM;
		s->v = nv;
	}
	k = &s->v[s->n];
	*k = (struct snapshot_skip){ .file = file,
				     .kind = strdup(kind),
				     .api = strdup(api ? api : ""),
				     .object = strdup(object),
				     .unreadable = unreadable,
				     .policy_like = policy_like };
	if (!k->kind || !k->api || !k->object) {
		skip_done(k);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

/*
 * An object of kind @kind that is not one we read: skipped and counted, or
 * refused (-ENOMSG) when skipping it could drop a policy (see snapshot.h).
 */
int snapshot_skip_unknown(struct snapshot_skips *s, const char *file, bool skip_unknown,
			  const json_t *obj, const char *kind, const char *where,
			  struct bh_err *reterr)
{
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	bool policy_like = strcasestr(kind, "networkpolic") != NULL;
	bool foreign = !api || !json_is_object(json_object_get(obj, "metadata"));
	char id[160], at[192];

	object_id(obj, id, sizeof(id));
	if ((policy_like || foreign) && !skip_unknown) {
		snprintf(at, sizeof(at), "%s%s%s%s%s", where, *where ? ": " : "",
			 *id ? "object " : "", id, *id ? " of " : "");
		if (foreign && api && strncmp(api, "bulkhead.io/", 12) == 0 &&
		    strcmp(kind, "FlowList") == 0)
			return bh_err_set(reterr, BH_ERR_INPUT, -ENOMSG,
					  "%skind 'FlowList' (apiVersion '%s') is a flows file "
					  "(read by propose --flows), not cluster state",
					  at, api);
		if (foreign)
			return bh_err_set(reterr, BH_ERR_INPUT, -ENOMSG,
					  "%skind '%s' (apiVersion '%s') is not a Kubernetes "
					  "object: it has no %s",
					  at, kind, api ? api : "",
					  api ? "metadata" : "apiVersion");
		return bh_err_set(reterr, BH_ERR_INPUT, -ENOMSG,
				  "%skind '%s' (apiVersion '%s') cannot be read as a "
				  "NetworkPolicy (kind NetworkPolicy, apiVersion "
				  "networking.k8s.io/v1)",
				  at, kind, api ? api : "");
	}
	if (skip_add(s, file, kind, api,
		     *id    ? id :
		     *where ? where :
			      "(document)",
		     policy_like || foreign, policy_like) < 0)
		return bh_err_oom(reterr);
	return 0;
}

static bool same_group(const struct snapshot_skip *a, const struct snapshot_skip *b)
{
	return a->file == b->file && a->unreadable == b->unreadable &&
	       a->policy_like == b->policy_like && strcmp(a->kind, b->kind) == 0 &&
	       strcmp(a->api, b->api) == 0;
}

/* One warning per file and kind of skipped object, in input order. */
void snapshot_skips_warn(const struct snapshot_skips *s)
{
	size_t groups = 0, rest = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct snapshot_skip *k = &s->v[i];
		char more[48] = "";
		bool seen = false;
		size_t n = 1;

		for (size_t j = 0; j < i && !seen; j++)
			seen = same_group(&s->v[j], k);
		if (seen)
			continue;
		for (size_t j = i + 1; j < s->n; j++)
			n += same_group(&s->v[j], k);
		if (groups++ >= SNAPSHOT_WARN_KINDS) {
			rest += n;
			continue;
		}
		if (n > 1)
			snprintf(more, sizeof(more), " and %zu more", n - 1);
		log_warning("snapshot '%s': skipped %s%s of kind '%s' (apiVersion '%s'): %s",
			    k->file, k->object, more, k->kind, k->api,
			    k->policy_like ?
				    "cannot be read as a NetworkPolicy (skipped as asked)" :
			    k->unreadable ? "not a Kubernetes object (skipped as asked)" :
					    "Bulkhead reads Namespace, Pod and Node (v1) and "
					    "NetworkPolicy (networking.k8s.io/v1)");
	}
	if (rest)
		log_warning("snapshot: skipped %zu more objects of %zu other kinds", rest,
			    groups - SNAPSHOT_WARN_KINDS);
}

void snapshot_skips_truncate(struct snapshot_skips *s, size_t n)
{
	while (s->n > n)
		skip_done(&s->v[--s->n]);
}

void snapshot_skips_done(struct snapshot_skips *s)
{
	snapshot_skips_truncate(s, 0);
	free(s->v);
	*s = (struct snapshot_skips){ 0 };
}
