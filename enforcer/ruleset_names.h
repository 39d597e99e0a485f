/* Object names and NFLOG prefixes (ruleset_names.c); private to the compiler. */
#ifndef BH_RULESET_NAMES_H
#define BH_RULESET_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "ruleset_int.h"

int rs_make_name(char *buf, size_t len, const char *fmt, ...) BH_PRINTF(3, 4);
uint64_t rs_fnv1a(const char *s);

static inline const char *dir_letter(enum netpol_dir d)
{
	return d == NETPOL_INGRESS ? "i" : "e";
}

int rs_policy_set_name(char *buf, size_t len, const struct netpol *p, enum netpol_dir d,
		       size_t rule, const char *kind);

int ruleset_policy_chain_name(char *buf, size_t len, const char *ns, const char *name,
			      enum netpol_dir d);

#endif
