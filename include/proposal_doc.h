/*
 * A stored proposal read back: the v1 List of NetworkPolicies that
 * netpol_emit_list_json() writes (what GET /proposal serves and the state
 * database keeps) decoded into a struct proposal, so that the agent can
 * amend it (propose_amend()) and write it again with netpol_emit_list_json()
 * byte for byte as propose would.  Implemented in agent/proposal_doc.c with
 * the Kubernetes object decoder (agent/kube_object.c).
 */
#ifndef BH_PROPOSAL_DOC_H
#define BH_PROPOSAL_DOC_H

#include <stddef.h>

#include "err.h"
#include "propose.h"

/*
 * Decodes @len bytes of @text into *@ret: n and v[] (np, labels,
 * annotations; dir: the policy's one type, ingress when it has both;
 * workload: SIZE_MAX, denies_all: NULL), everything else zero.  Released
 * with proposal_done().  0; -EBADMSG (input) for text that is no JSON or
 * no List; -EINVAL (input) for an item that is no NetworkPolicy, naming
 * the item and field; -ENOMEM.  Nothing is returned on failure.
 */
int proposal_doc_decode(const char *text, size_t len, struct proposal *ret,
			struct bh_err *reterr) BH_MUST_CHECK;

#endif
