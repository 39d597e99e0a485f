/*
 * Talking to nf_tables: every change is one netlink batch (libnftnl +
 * libmnl), applied whole or not at all.  ACKs are read until every
 * sequence number of the batch is answered; a kernel error names the
 * object it was about.
 */
#ifndef BH_NFTIO_H
#define BH_NFTIO_H

#include <stdbool.h>
#include <stddef.h>

#include "bh.h"
#include "err.h"
#include "ruleset.h"

struct nftio; /* opaque: a NETLINK_NETFILTER socket */

struct nftio_stats {
	size_t batches; /* batches sent */
	size_t messages; /* messages in the last batch (begin/end excluded) */
	size_t bytes; /* bytes of the last batch */
	double build_ms; /* last batch: building the messages */
	double send_ms; /* sendmsg(): the kernel processes the batch inside it */
	double ack_ms; /* reading the answers */
};

/* Opens the socket (needs CAP_NET_ADMIN for changes).  0 or -errno with
 * @reterr filled (system error). */
int nftio_open(struct nftio **ret, struct bh_err *reterr) BH_MUST_CHECK;
/* NULL-safe; returns NULL. */
struct nftio *nftio_free(struct nftio *n);

/*
 * Test hook: every batch from now on fails in the kernel, which must
 * then keep what it had.  NFTIO_FAULT_MESSAGE: an extra rule for a chain
 * that does not exist, so one message is refused (ENOENT) and the batch
 * aborted.  NFTIO_FAULT_BATCH: a BEGIN message naming no subsystem, so
 * the batch is refused as a whole (EINVAL, answered for BEGIN, the way
 * the kernel also reports a failed commit).  `bulkhead apply` and `reset`
 * set them when BULKHEAD_FAULT_INJECT is `commit` or `batch`.
 */
enum nftio_fault {
	NFTIO_FAULT_NONE,
	NFTIO_FAULT_MESSAGE,
	NFTIO_FAULT_BATCH,
};
void nftio_inject_fault(struct nftio *n, enum nftio_fault f);

/*
 * Replaces the table with @rs in one batch (add table, delete table, the
 * new table).  Returns 1 when the kernel changed, 0 when the table's
 * digest comment already matched and no delta was committed since (the
 * empty set `incremental` that nftio_commit_delta() creates is absent):
 * nothing sent; -errno with @reterr filled otherwise; on error the kernel
 * keeps what it had.
 */
int nftio_apply(struct nftio *n, const struct ruleset *rs, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Sends @d (from ruleset_update_* calls on @rs, several appended with
 * rs_delta_append()) as one batch; a full delta replaces the table as
 * nftio_replace() does.  0 or -errno with @reterr filled; on error the
 * kernel keeps what it had.  -ENFILE: the kernel refused the delta
 * because a set is full (it holds a set smaller than @rs says, e.g.
 * loaded by another writer); what to do then is the caller's decision
 * (include/sync.h fits the sizes again and replaces the table).
 */
int nftio_commit_delta(struct nftio *n, const struct ruleset *rs, const struct rs_delta *d,
		       struct bh_err *reterr) BH_MUST_CHECK;
/* Replaces the table with @rs in one batch whatever the kernel holds (no
 * digest check): 0, or -errno with @reterr filled (the kernel keeps
 * what it had). */
int nftio_replace(struct nftio *n, const struct ruleset *rs, struct bh_err *reterr) BH_MUST_CHECK;

/*
 * Whether the kernel's table is what a full apply of @rs put there and
 * nothing changed since: table inet bulkhead exists, its comment is the
 * digest of @rs (which covers the node and the mode @rs was built for),
 * and no delta was committed since (no marker set, see nftio_apply()).
 * Deltas computed by ruleset_update_*() from @rs are only right on that
 * table; on another one they fail half way in the kernel or miss objects.
 * Sends nothing.  0 when it is; -ESTALE (input kind) when it is not, with
 * @reterr saying why (no table, another digest, updated since); -errno
 * (system) when the kernel could not be asked.
 */
int nftio_table_holds(struct nftio *n, const struct ruleset *rs,
		      struct bh_err *reterr) BH_MUST_CHECK;

/* Deletes the table in one batch.  1 deleted, 0 there was none, -errno. */
int nftio_reset(struct nftio *n, struct bh_err *reterr) BH_MUST_CHECK;

/* The table's comment into @buf: 1 found, 0 no table, -errno. */
int nftio_table_comment(struct nftio *n, char *buf, size_t len, struct bh_err *reterr);

const struct nftio_stats *nftio_stats(const struct nftio *n);

#endif
