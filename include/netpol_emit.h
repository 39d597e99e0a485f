/*
 * NetworkPolicies as Kubernetes objects: the model's struct netpol to a
 * jansson object (networking.k8s.io/v1 field names and order), a proposal
 * to a List that `kubectl apply -f` accepts, and any JSON document to YAML
 * through libyaml's emitter.  Implemented in learner/netpol_emit.c.
 * Output is deterministic: keys in a fixed order, labels sorted.
 */
#ifndef BH_NETPOL_EMIT_H
#define BH_NETPOL_EMIT_H

#include <jansson.h>

#include "buf.h"
#include "labels.h"
#include "netpol.h"
#include "propose.h"

/* A NetworkPolicy object; @labels and @annotations may be NULL.  New
 * reference, NULL on allocation failure. */
json_t *netpol_emit_json(const struct netpol *np, const struct labels *labels,
			 const struct labels *annotations);

/* {"apiVersion": "v1", "kind": "List", "items": [...]} of every policy of
 * @p, in proposal order.  New reference, NULL on allocation failure. */
json_t *netpol_emit_list(const struct proposal *p);

/* Appends @doc as indented JSON with a final newline.  0 or -ENOMEM. */
int netpol_emit_json_text(const json_t *doc, struct buf *out) BH_MUST_CHECK;

/*
 * Appends the List of @p as JSON text: the same bytes as
 * netpol_emit_json_text(netpol_emit_list(@p)), dumped by jansson one
 * policy at a time instead of as one tree.  0 or -ENOMEM (also for a
 * string jansson refuses, as netpol_emit_list() returns NULL then); on
 * failure @out is as it was.
 */
int netpol_emit_list_json(const struct proposal *p, struct buf *out) BH_MUST_CHECK;

/*
 * Appends @doc as one YAML document (block style; strings that YAML 1.1
 * would read as something else are quoted; multi-line strings literal).
 * 0, -ENOMEM, or -EIO when libyaml refuses an event.
 */
int netpol_emit_yaml(const json_t *doc, struct buf *out) BH_MUST_CHECK;

/* The same bytes as netpol_emit_yaml(netpol_emit_list(@p)), without the
 * tree.  0, -ENOMEM or -EIO; on failure @out is as it was. */
int netpol_emit_list_yaml(const struct proposal *p, struct buf *out) BH_MUST_CHECK;

#endif
