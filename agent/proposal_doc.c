/*
 * A stored proposal read back (include/proposal_doc.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube_object.h"
#include "proposal_doc.h"

/* metadata.@key of item @i, an object of strings, into @l. */
static int strings_read(const json_t *md, const char *key, size_t i, struct labels *l,
			struct bh_err *reterr)
{
	const json_t *o = json_object_get(md, key), *v;
	const char *k;

	if (!o)
		return 0;
	if (!json_is_object(o))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "proposal: items[%zu].metadata.%s: expected an object", i, key);
	json_object_foreach((json_t *) o, k, v) {
		if (!json_is_string(v))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "proposal: items[%zu].metadata.%s.%s: expected a string",
					  i, key, k);
		if (labels_set(l, k, json_string_value(v)) < 0)
			return bh_err_oom(reterr);
	}
	return 0;
}

int proposal_doc_decode(const char *text, size_t len, struct proposal *ret, struct bh_err *reterr)
{
	struct proposal p = { 0 };
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr), *items;
	int r = 0;

	if (!doc)
		return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG, "proposal: line %d column %d: %s",
				  jerr.line, jerr.column, jerr.text);
	items = json_object_get(doc, "items");
	if (kube_object_kind(doc) != KUBE_KIND_LIST || !json_is_array(items)) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG,
			       "proposal: expected a List of NetworkPolicies");
		goto out;
	}
	p.v = calloc(json_array_size(items) + 1, sizeof(*p.v));
	if (!p.v) {
		r = bh_err_oom(reterr);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *item = json_array_get(items, i);
		struct proposal_policy *pp = &p.v[p.n];

		netpol_init(&pp->np);
		labels_init(&pp->labels);
		labels_init(&pp->annotations);
		pp->workload = SIZE_MAX;
		p.n++;
		if (kube_object_kind(item) != KUBE_KIND_NETPOL) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "proposal: items[%zu]: not a NetworkPolicy", i);
			goto out;
		}
		r = kube_netpol_decode(item, &pp->np, reterr);
		if (r < 0)
			goto out;
		pp->dir = pp->np.types[NETPOL_INGRESS] ? NETPOL_INGRESS : NETPOL_EGRESS;
		r = strings_read(json_object_get(item, "metadata"), "labels", i, &pp->labels,
				 reterr);
		if (r == 0)
			r = strings_read(json_object_get(item, "metadata"), "annotations", i,
					 &pp->annotations, reterr);
		if (r < 0)
			goto out;
	}
	*ret = p;
	p = (struct proposal){ 0 };

out:
	proposal_done(&p);
	json_decref(doc);
	return r;
}
