/*
 * Which rules of a proposed policy a learned flow justifies
 * (include/propose.h, propose_rules_justified()).  One definition, so that
 * the report (agent_report_proposals.c) and the Proposal objects
 * (agent/proposal_obj.c) show the same flows under the same rules.
 */
#include <string.h>

#include "engine.h"
#include "propose.h"
#include "selector.h"

int propose_rules_justified(const struct engine *e, const struct netpol *np, enum netpol_dir dir,
			    const struct pod *self, const struct engine_ep *peer,
			    const struct pod *dst, uint8_t proto, uint16_t port,
			    propose_justified_fn *fn, void *userdata)
{
	/* A host-network pod is an address on its node: no policy selects
	 * it (include/engine.h). */
	if (!self || self->host_network || !np->types[dir] || strcmp(self->ns, np->ns) != 0 ||
	    !selector_matches(&np->pod_sel, &self->labels))
		return 0;
	for (size_t ri = 0; ri < np->n_rules[dir]; ri++) {
		int r;

		if (!engine_rule_allows(e, np, &np->rules[dir][ri], peer, dst, proto, port))
			continue;
		r = fn(ri, userdata);
		if (r < 0)
			return r;
	}
	return 1;
}
