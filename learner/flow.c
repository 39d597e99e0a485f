/* Learned flows (include/flow.h): the destructors of a peer and a record,
 * the names of peer kinds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bh.h"
#include "flow.h"

void flow_peer_done(struct flow_peer *p)
{
	if (!p)
		return;
	if (p->borrowed) {
		*p = (struct flow_peer){ 0 };
		return;
	}
	free(p->ns);
	free(p->name);
	free(p->workload_kind);
	free(p->workload_name);
	labels_done(&p->labels);
	*p = (struct flow_peer){ 0 };
}

void flow_record_done(struct flow_record *r)
{
	flow_peer_done(&r->src_peer);
	flow_peer_done(&r->dst_peer);
}

static const char *const kind_names[] = {
	[FLOW_PEER_UNKNOWN] = "unknown",
	[FLOW_PEER_POD] = "pod",
	[FLOW_PEER_NODE] = "node",
	[FLOW_PEER_EXTERNAL] = "external",
};

const char *flow_peer_kind_name(enum flow_peer_kind k)
{
	return (size_t) k < BH_ARRAY_SIZE(kind_names) ? kind_names[k] : "unknown";
}

int flow_peer_kind_parse(const char *s, enum flow_peer_kind *ret)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(kind_names); i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*ret = (enum flow_peer_kind) i;
			return 0;
		}
	return -EINVAL;
}
