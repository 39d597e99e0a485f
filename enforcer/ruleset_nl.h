/* Description -> libnftnl objects (ruleset_nl.c); internal to enforcer/. */
#ifndef BH_RULESET_NL_H
#define BH_RULESET_NL_H

#include <stdint.h>

#include "ruleset_int.h"

struct nftnl_table;
struct nftnl_chain;
struct nftnl_set;
struct nftnl_rule;

/* New objects (NULL on allocation failure); the caller frees them. */
struct nftnl_table *rs_nl_table(const char *comment);
struct nftnl_chain *rs_nl_chain(const struct rs_chain *c);
/* The set without elements; @id is the batch-local set id. */
struct nftnl_set *rs_nl_set(const struct rs_set *rs, uint32_t id);
struct nftnl_rule *rs_nl_rule(const char *chain, const struct rs_rule *r);
/* An upper bound of the netlink bytes rs_nl_elem_add() appends for @e. */
size_t rs_nl_elem_size(const struct rs_set *rs, const struct rs_elem *e);
/* Appends the kernel element(s) of @e to @s: 0 or -ENOMEM. */
int rs_nl_elem_add(struct nftnl_set *s, const struct rs_set *rs, const struct rs_elem *e);

#endif
