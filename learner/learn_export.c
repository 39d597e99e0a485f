#include <errno.h>
#include <string.h>

#include "learn_export.h"

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
	struct flows_writer *w;
	int r;

	r = flows_writer_open(path, h, &w, reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct flow_record f;

		flow_table_record_at(t, i, &f);
		if (id) {
			r = learn_resolve_peer(id, &f.key.src, &f, &f.src_peer);
			if (r == 0) {
				r = learn_resolve_peer(id, &f.key.dst, &f, &f.dst_peer);
				if (r < 0)
					flow_peer_done(&f.src_peer);
			}
			if (r < 0)
				goto fail;
		}
		r = flows_writer_add(w, &f);
		flow_peer_done(&f.src_peer);
		flow_peer_done(&f.dst_peer);
		if (r < 0)
			goto fail;
	}
	return flows_writer_commit(w, reterr);

fail:
	(void) flows_writer_abort(w);
	if (r == -ENOMEM)
		return bh_err_oom(reterr);
	return bh_err_set(reterr, BH_ERR_SYSTEM, r, "flows '%s': write error", path);
}
