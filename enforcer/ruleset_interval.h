/* Address and port intervals of policy rules (ruleset_interval.c). */
#ifndef BH_RULESET_INTERVAL_H
#define BH_RULESET_INTERVAL_H

#include <string.h>

#include "ruleset_int.h"

static inline void elem_addr(struct rs_elem *e, const struct addr *a)
{
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->addr_end = *a;
}

int rs_cidr_intervals(const struct netpol_rule *rule, int family, struct rs_set *s);
int rs_port_intervals(const struct netpol_rule *rule, struct rs_set *s);

#endif
