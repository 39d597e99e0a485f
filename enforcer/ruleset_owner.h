/* Which pod owns each address, as compiled (ruleset_owner.c). */
#ifndef BH_RULESET_OWNER_H
#define BH_RULESET_OWNER_H

#include "ruleset_int.h"

struct owner_slot {
	struct addr a; /* the key */
	char *pod; /* owned "ns/name" */
	/* Another pod claims the address too: who owns it depends on the
	 * others, updates recompile. */
	bool shared;
};

struct owner_slot *rs_owner_find(const struct owner_map *m, const struct addr *a);
int rs_owner_put(struct owner_map *m, const struct addr *a, const char *pod);
void rs_owner_del(struct owner_map *m, const struct addr *a);

#endif
