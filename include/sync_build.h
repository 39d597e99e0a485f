/*
 * A full build of the ruleset off the caller's thread: the compile of a
 * whole cluster (about a second at 10,000 pods and 1,000 policies) and the
 * batch that replaces the table, in a worker thread, so that an event
 * loop stays responsive meanwhile.
 *
 * The caller hands over a copy of the cluster (cluster_copy(): the worker
 * owns it until the result is taken, nothing is shared), the ruleset
 * options (copied) and whether the worker programs the kernel.  The
 * worker builds the ruleset and, when asked, takes the table the way the
 * agent does at start: adopted when the kernel's table holds exactly that
 * ruleset (nftio_table_holds(): nothing sent), else replaced in one batch
 * (nftio_replace(): whole or not at all), through a netlink socket of its
 * own opened by sync_build_start().  Then it makes sync_build_fd()
 * readable (an eventfd): the caller's loop watches it and calls
 * sync_build_finish(), which joins the thread and hands back the ruleset
 * and the copy it was built from.
 *
 * Handoff: the worker reads and writes only the job's own fields, set
 * before pthread_create() and read after pthread_join(); the one field
 * both threads touch while it runs is the cancel flag (atomic).  The
 * caller must not send batches of its own while a build that sends runs
 * (never two batches racing in the kernel: the kernel applies each whole
 * anyway, but the later one would win).
 *
 * An update instead of a build (@update in the options): the worker
 * moves a ruleset the kernel already holds to the copy and hands back
 * the delta between the two, sending nothing; the caller sends it as one
 * incremental batch.  This is how a policy change at scale leaves the
 * loop without replacing the table (its counters stay).
 *
 * What changed in the cluster while the worker compiled is the caller's
 * business: it brings the result up to date with sync_cluster_diff()
 * (include/sync.h) from the copy to the live cluster, or builds again.
 *
 * One caller thread (the one that started the job) calls everything
 * here.
 */
#ifndef BH_SYNC_BUILD_H
#define BH_SYNC_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "bh.h"
#include "cluster.h"
#include "err.h"
#include "nftio.h"
#include "ruleset.h"

struct sync_build; /* opaque: one job, one thread */

struct sync_build_opts {
	/* Copied (the node name and the datapath too). */
	const struct ruleset_opts *ruleset;
	/* Take the table in the worker (adopt or replace); false: build
	 * only, the caller sends. */
	bool send;
	/* Test hook for the worker's socket (include/nftio.h). */
	enum nftio_fault fault;
	/*
	 * Taken (on failure too), NULL for a full build: a ruleset the
	 * kernel's table holds, which the worker moves to the copy
	 * (ruleset_update_all(): the recompile that a policy event costs,
	 * about a second at 10,000 pods) instead of building one anew.  It
	 * sends nothing (@send is ignored): the result's @delta turns the
	 * table into the new ruleset, for the caller to send as one
	 * incremental batch (include/sync.h, sync_delta()), so the table
	 * and its counters stay.
	 */
	struct ruleset *update;
	/* With @update: ruleset_update_maps(), the verdict maps refilled
	 * too (the debounced refill, include/sync.h). */
	bool update_maps;
};

enum sync_build_outcome {
	SYNC_BUILD_BUILT, /* built; nothing sent (@send false) */
	SYNC_BUILD_ADOPTED, /* the kernel's table held it: nothing sent */
	SYNC_BUILD_REPLACED, /* the table replaced in one batch */
	SYNC_BUILD_UPDATED, /* @update moved to the copy: @delta; nothing sent */
};

struct sync_build_result {
	struct ruleset *rs; /* owned by the caller now */
	struct cluster *c; /* the copy @rs was built from, owned */
	/* SYNC_BUILD_UPDATED: from the table the kernel held to @rs, owned
	 * (NULL: nothing changed). */
	struct rs_delta *delta;
	enum sync_build_outcome outcome;
	uint64_t build_us; /* the compile (and the diff of an update) */
	uint64_t send_us; /* the digest check and the replace */
	struct nftio_stats nftio; /* the worker socket's, after the send */
	/* Why the table was replaced (nftio_table_holds()'s message), or
	 * on failure what failed ("compiling the cluster's policies",
	 * "reading the kernel's table", "replacing the table"). */
	char why[BH_ERR_MSG_MAX];
};

/*
 * Starts the worker on @c (taken, on failure too).  Opens the worker's
 * netlink socket first when @o->send.  0, or -errno with @reterr filled
 * (-ENOMEM, the socket's error, pthread_create()'s).
 */
int sync_build_start(struct cluster *c, const struct sync_build_opts *o, struct sync_build **ret,
		     struct bh_err *reterr) BH_MUST_CHECK;
/* Readable (EPOLLIN) once the worker is done; stays readable. */
int sync_build_fd(const struct sync_build *b);
/* Whether the worker is done (sync_build_finish() will not wait). */
bool sync_build_done(const struct sync_build *b);
/*
 * Joins the worker (waits when it is not done) and frees the job.  0
 * with *@ret filled (the caller owns its ruleset and cluster: release
 * them with sync_build_result_done()), or the worker's -errno with
 * @reterr filled and @ret->why saying what failed (the kernel keeps what
 * it had; @ret->c is still handed back, @ret->rs is NULL).
 */
int sync_build_finish(struct sync_build *b, struct sync_build_result *ret,
		      struct bh_err *reterr) BH_MUST_CHECK;
/*
 * Stops a job (SIGTERM): the worker is told to send nothing more and is
 * joined (it finishes the compile it is in, at most about a second); a
 * batch already sent was applied whole.  The table is left as the
 * kernel holds it.  Frees the job and what it holds.  NULL-safe; returns
 * NULL.
 */
struct sync_build *sync_build_cancel(struct sync_build *b);
/* Frees the ruleset, the cluster and the delta of a result; NULL-safe. */
void sync_build_result_done(struct sync_build_result *r);

#endif
