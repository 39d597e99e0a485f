/*
 * A memo over the policy engine: verdicts remembered per class of
 * endpoints, for the callers that ask the same question for many pods
 * (check's truth tables, propose's self-check, the daemon's alert
 * explanations).
 *
 * What the engine looks at for a pod (include/engine.h) is its namespace
 * (and that namespace's labels), its labels, its container ports (named
 * ports), whether it uses the host network, its address (only through
 * ipBlocks) and its node (only for ingress from a node address, which is no
 * pod).  Of its labels, selectors see only the keys they name.  So pods are
 * in one class when their namespace, container ports and values for every
 * label key a selector of the policies names are equal, and so are, per
 * family, the ipBlock peers of the policies its address matches; a pod on
 * the host network (or, rarely, with two addresses of one family that
 * ipBlocks tell apart) is in none and is asked of the engine every time.  An end that is no pod is what
 * the engine makes of its address and node alone: each distinct (address,
 * node) is a class of its own.  Verdicts are remembered per (source class,
 * destination class, family, protocol, port, and whether the source is a node
 * address on the destination pod's own node).
 */
#ifndef BH_ENGINE_MEMO_H
#define BH_ENGINE_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bh.h"
#include "cluster.h"
#include "engine.h"
#include "netpol.h"

struct engine_memo; /* opaque */

/* The policies a memo evaluates instead of the cluster's own. */
struct engine_memo_policies {
	size_t n;
	const struct netpol *const *v; /* borrowed; copied by engine_memo_new() */
};

/* What decided a verdict (engine_memo_explain()). */
struct engine_memo_explanation {
	bool allowed;
	/* The deciding direction: when denied, the first direction that
	 * denies (the source's egress before the destination's ingress);
	 * when allowed, the direction a rule allowed (ingress first), else
	 * ingress. */
	enum netpol_dir dir;
	enum engine_reason reason; /* of that direction */
	/* The deciding policy (index into the memo's cluster's policies):
	 * when denied, the first policy isolating the denying side; when
	 * allowed by a rule, the policy of the first rule that allowed it;
	 * else ENGINE_MEMO_NO_POLICY. */
	size_t policy;
};

#define ENGINE_MEMO_NO_POLICY SIZE_MAX

struct engine_memo_stats {
	uint64_t hits, misses; /* lookups answered from the memo / by the engine */
	size_t n_classes; /* classes of pods */
	size_t n_entries; /* verdicts remembered */
};

/*
 * Builds a memo (and its engine) over @c.  With @pol NULL the memo
 * evaluates @c's own policies and borrows @c, which must outlive it and not
 * change; with @pol it evaluates those policies alone, on a copy of @c
 * (nothing of @c or @pol is kept).  0 or -ENOMEM.
 */
int engine_memo_new(struct cluster *c, const struct engine_memo_policies *pol,
		    struct engine_memo **ret) BH_MUST_CHECK;
/* NULL-safe; returns NULL. */
struct engine_memo *engine_memo_free(struct engine_memo *m);
/* The engine asked on a miss (borrowed); build endpoints with it. */
struct engine *engine_memo_engine(const struct engine_memo *m);
/* The cluster evaluated (the copy when policies were given; borrowed). */
struct cluster *engine_memo_cluster(const struct engine_memo *m);

/*
 * The class of pod @pod_idx (an index into engine_memo_cluster()'s pods):
 * 1..n_classes, equal for pods the engine cannot tell apart; 0 for a pod in
 * no class (host network, or two addresses of one family ipBlocks tell apart).
 */
uint32_t engine_memo_pod_class(const struct engine_memo *m, size_t pod_idx);

/*
 * engine_allowed() for endpoints built with engine_memo_engine(), answered
 * from the memo when a pair of the same classes was asked before.  Without
 * memory to remember a verdict it is simply not remembered.
 */
bool engine_memo_allowed(struct engine_memo *m, const struct engine_ep *src,
			 const struct engine_ep *dst, uint8_t proto, uint16_t port);

/*
 * The verdict with what decided it (see struct engine_memo_explanation),
 * remembered like engine_memo_allowed()'s.  0 or -ENOMEM.
 */
int engine_memo_explain(struct engine_memo *m, const struct engine_ep *src,
			const struct engine_ep *dst, uint8_t proto, uint16_t port,
			struct engine_memo_explanation *ret) BH_MUST_CHECK;

/*
 * A truth table through the memo: ret[i * n_to + j] = engine_memo_allowed(
 * @from[i], @to[j]).  Endpoints are mapped to their classes once, and each
 * pair of classes is asked of the engine once (the table's verdicts are not
 * added to the memo).  0 or -ENOMEM (then @ret is undefined).
 */
int engine_memo_matrix(struct engine_memo *m, const struct engine_ep *from, size_t n_from,
		       const struct engine_ep *to, size_t n_to, uint8_t proto, uint16_t port,
		       bool *ret) BH_MUST_CHECK;

void engine_memo_stats(const struct engine_memo *m, struct engine_memo_stats *ret);

#endif
