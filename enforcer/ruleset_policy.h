/* Policy chains and their sets (ruleset_policy.c); private to the compiler. */
#ifndef BH_RULESET_POLICY_H
#define BH_RULESET_POLICY_H

#include <sys/socket.h>

#include "ruleset_bctx.h"

typedef int contrib_fn(void *ud, const char *kind, const struct rs_elem *e);
bool rs_rule_has(const struct netpol_rule *r, enum netpol_peer_kind pk, int family);
bool rs_rule_has_port(const struct netpol_rule *r, bool named);
int rs_named_elems(const struct netpol_rule *r, const struct pod *p, const struct addr *a,
		   struct rs_set *s, bool sorted);

static inline int fam_idx(int family)
{
	return family == AF_INET ? 0 : 1;
}

int rs_pod_contrib(const struct bctx *b, const struct netpol *pol, enum netpol_dir d, size_t ri,
		   const struct pod *p, contrib_fn *emit, void *ud);
int rs_shared_names(const struct netpol *pol, const struct netpol_rule *r, bool named,
		    char names[2][RULESET_NAME_MAX]);
int rs_def_use(struct rs_desc *d, char names[2][RULESET_NAME_MAX], bool named,
	       const struct netpol *pol, enum netpol_dir dir, size_t rule);
int rs_build_policy(struct bctx *b, const struct netpol *pol, enum netpol_dir d,
		    const struct pod *const *local, size_t n_local);
/* The counter and the final verdict of a class chain of direction @d:
 * drop, or log and pass when @preview or the ruleset is in preview. */
int rs_final_verdict(const struct ruleset *rs, struct rs_chain *ch, const char *prefix,
		     enum netpol_dir d, bool preview);
int rs_active_mark(struct bctx *b, const struct netpol *pol, enum netpol_dir d);

#endif
