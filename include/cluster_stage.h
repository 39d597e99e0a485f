/*
 * The effective stage of a namespace in cluster mode (docs/cluster.md,
 * "The effective stage of namespace NS"): from the PolicyMode objects of
 * the namespace and of `all`, and whether the namespace has Proposal
 * objects and how new they are.  Every agent, the Lease holder and the CLI
 * decide it here, so that they agree.  Implemented in
 * agent/cluster_stage.c; pure functions, no allocation.
 */
#ifndef BH_CLUSTER_STAGE_H
#define BH_CLUSTER_STAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state_db.h"

/* One PolicyMode object, parsed. */
struct cluster_mode {
	bool present; /* false: no such object */
	enum state_db_mode_kind mode; /* STATE_DB_MODE_LEARN, _PREVIEW or _ENFORCE */
	int64_t switched_at; /* spec.switchedAt, unix milliseconds */
	bool force; /* spec.force */
};

/* What the effective stage of namespace NS is decided from. */
struct cluster_stage_input {
	struct cluster_mode ns; /* PolicyMode NS */
	struct cluster_mode all; /* PolicyMode `all` */
	bool has_proposals; /* NS has at least one Proposal object */
	int64_t computed_at; /* the newest spec.computedAt of those, unix ms */
};

struct cluster_stage {
	enum state_db_mode_kind mode; /* STATE_DB_MODE_LEARN, _PREVIEW or _ENFORCE */
	/* The switchedAt (unix ms) of the PolicyMode followed (M in
	 * docs/cluster.md, also when there is no Proposal yet); 0 when
	 * neither object exists.  NodeFlows' status.applied[].modeSwitchedAt. */
	int64_t switched_at;
	bool from_all; /* M is PolicyMode `all` */
};

/*
 * The effective stage of the namespace @in describes:
 *  1. no Proposal object: learn;
 *  2. M = the one of @in->ns and @in->all with the later switchedAt (the
 *     namespace's on a tie: it is the more specific); no M: preview;
 *  3. M says learn: learn while computed_at < M's switchedAt, preview once
 *     proposals computed at or after it exist;
 *  4. otherwise M's mode.
 */
void cluster_stage_effective(const struct cluster_stage_input *in, struct cluster_stage *ret);

/*
 * Parses PolicyMode object @obj (borrowed) into *@ret (present = true):
 * spec.mode (learn, preview or enforce), spec.switchedAt (RFC 3339, its
 * milliseconds kept), spec.force (optional bool).  -EINVAL (input) with
 * one line naming the object (metadata.name) and the field at fault;
 * nothing is written on failure.
 */
int cluster_mode_parse(const json_t *obj, struct cluster_mode *ret, struct bh_err *reterr);

/*
 * RFC 3339 with fraction (as switchedAt and computedAt are written) to unix
 * milliseconds, the fraction truncated to milliseconds.  -EINVAL.
 */
int cluster_time_parse_ms(const char *s, int64_t *ret);

/* Unix milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" into @buf (at least
 * RFC3339_STR_MAX bytes); returns @buf ("" when it cannot be written). */
const char *cluster_time_format_ms(int64_t ms, char *buf, size_t len);

#endif
