/* The whole table of one node (ruleset_compile.c); private to the compiler. */
#ifndef BH_RULESET_COMPILE_H
#define BH_RULESET_COMPILE_H

#include "ruleset_bctx.h"

int rs_build_base_chains(struct bctx *b, char roots[_NETPOL_DIR_MAX][RULESET_NAME_MAX]);

#endif
