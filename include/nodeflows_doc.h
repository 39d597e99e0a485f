/*
 * A NodeFlows object read as the flows.json v1 document its spec is
 * (docs/cluster.md, "NodeFlows"; docs/flows-format.md): the Lease holder's
 * proposal job and `bulkhead export` on the cluster both read every node's
 * flows this way.  Implemented in agent/nodeflows_doc.c.
 *
 * The spec holds node, generated, stats and flows; the document is those
 * with apiVersion, kind and version 1 (which the spec implies), node being
 * spec.node, else metadata.name.  Other members of the spec are not read;
 * a spec without flows has none.
 */
#ifndef BH_NODEFLOWS_DOC_H
#define BH_NODEFLOWS_DOC_H

#include <jansson.h>

#include "err.h"
#include "flows_json.h"

/* The node NodeFlows @obj (borrowed) is of: spec.node when a string, else
 * metadata.name when a string, else NULL.  Borrowed from @obj. */
const char *nodeflows_node(const json_t *obj);

/*
 * NodeFlows @obj's spec as a flows.json v1 document: a new compact JSON
 * text in *@ret, or NULL when @obj has no spec object (nothing to read).
 * 0 or -ENOMEM.  Does not judge the content: nodeflows_doc_load() does.
 */
int nodeflows_doc(const json_t *obj, char **ret) BH_MUST_CHECK;

/*
 * Appends the flows of @doc (nodeflows_doc()'s text) of node @node to @s
 * (flows_json_load_buf(): records of one key merged).  -EINVAL (input)
 * with one line naming the object and the field at fault ("NodeFlows
 * 'node-1': flows 'spec': flows[3].src.ip: ..."); -ENOMEM.  On failure @s
 * is unchanged.
 */
int nodeflows_doc_load(struct flow_set *s, const char *doc, const char *node,
		       struct bh_err *reterr) BH_MUST_CHECK;

/* Both: NodeFlows @obj (borrowed) into @s; 0 also when it has no spec
 * object (nothing read). */
int nodeflows_read(const json_t *obj, struct flow_set *s, struct bh_err *reterr) BH_MUST_CHECK;

#endif
