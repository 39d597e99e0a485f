/*
 * The packet counters of table inet bulkhead, read from the kernel: one
 * netlink rule dump of the table (libnftnl), each rule that holds a counter
 * handed to a callback with its chain and what the chain jumped to before
 * it.  The ruleset (include/ruleset.h) counts in two places:
 *   - every allow rule of a policy chain ("pi/NS/NAME", "pe/NS/NAME"):
 *     the policy's allowed packets;
 *   - the final verdict of a class chain: what no rule allowed, dropped in
 *     enforce and logged (would-deny) in preview, attributed to the first
 *     policy the chain jumps to (the first policy isolating the pod, in
 *     cluster order, as alerts name the deciding policy).
 * Only the first packet of a connection reaches these rules (established
 * and related packets are accepted before), so they count connection
 * attempts more than packets.  A full replace of the table starts them at
 * zero again.
 *
 * Opens its own netlink socket per call, in the caller's network
 * namespace; needs CAP_NET_ADMIN.  No state; thread-compatible.
 */
#ifndef BH_NFT_COUNTERS_H
#define BH_NFT_COUNTERS_H

#include <stdint.h>

#include "err.h"

/*
 * @chain: the rule's chain; @first_jump: the target of the first jump
 * rule of that chain before this rule, or NULL; the counter's values.
 * Borrowed for the call.
 */
typedef void nft_counter_fn(const char *chain, const char *first_jump, uint64_t packets,
			    uint64_t bytes, void *userdata);

/*
 * Calls @fn for every rule of table inet bulkhead that holds a counter,
 * in the kernel's order (chain by chain, rules in order).  The number of
 * counters seen, 0 when there is no table, -errno (system kind, @reterr
 * names the table) when the kernel could not be asked.
 */
int nft_counters_read(nft_counter_fn *fn, void *userdata, struct bh_err *reterr);

#endif
