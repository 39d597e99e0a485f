/*
 * The learner's output: the flow table written as a flows document, each
 * flow's ends resolved to what their addresses were when the flow was seen.
 */
#ifndef BH_LEARN_EXPORT_H
#define BH_LEARN_EXPORT_H

#include <stdint.h>

#include "err.h"
#include "flow.h"
#include "flow_table.h"
#include "flows_json.h"
#include "identity.h"

/*
 * Resolves @a for the flow @f: what the address was when the flow was last
 * seen or, failing a pod then, when it was first seen (a pod may have left
 * during the capture).  @ret is owned by the caller (flow_peer_done()).
 * -ENOMEM.
 */
int learn_resolve_peer(const struct identity *id, const struct addr *a, const struct flow_record *f,
		       struct flow_peer *ret);

/*
 * Writes every flow of @t to @path ("-": stdout) through a flows_writer,
 * in the table's order (flow_table_record_at()), resolving each end with
 * @id (NULL: left unresolved) as learn_resolve_peer() does, through a
 * bounded cache of resolutions by (address, time), so the memory this
 * takes beyond the table is that cache and the output buffer, and a pod
 * seen by many flows is resolved once, not once a flow.  The
 * file appears whole or not at all.  System error naming @path, or -ENOMEM.
 */
int learn_export_write(const struct flow_table *t, const struct identity *id,
		       const struct flows_header *h, const char *path, struct bh_err *reterr);

#endif
