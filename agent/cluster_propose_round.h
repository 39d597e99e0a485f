/*
 * The rounds the Lease holder wrote itself since it took the Lease, per
 * namespace (agent/cluster_propose.c): the round's id and the names of
 * the Proposal objects it wrote, and whether every write succeeded.  The
 * holder's watch may not show its own writes yet: what it wrote is known
 * here, so that an object it created a moment ago is deleted by the next
 * round all the same, and its own whole round is not taken for one cut
 * short.  Implemented in agent/cluster_propose_round.c; loop thread only.
 */
#ifndef BH_CLUSTER_PROPOSE_ROUND_H
#define BH_CLUSTER_PROPOSE_ROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct pround {
	char *ns;
	char *id;
	char **names; /* the objects the round wrote */
	size_t n;
	bool whole; /* every write of the round succeeded (so far) */
	uint64_t at; /* when it was recorded, clock_mono_ms() */
};

struct pround_set {
	struct pround *v;
	size_t n;
};

/* The round recorded for namespace @ns, NULL when none. */
struct pround *pround_find(struct pround_set *s, const char *ns);

/*
 * Records the round @id of namespace @ns: the metadata.name of each object
 * of @objs (a JSON array, borrowed), whole until pround_failed().  Replaces
 * the namespace's earlier record.  -ENOMEM (the earlier record is dropped:
 * the next round decides from the watch alone).
 */
int pround_set(struct pround_set *s, const char *ns, const char *id, const json_t *objs);

/* A write of namespace @ns's round failed. */
void pround_failed(struct pround_set *s, const char *ns);

/* Forgets every round (the Lease was lost: another holder may write). */
void pround_clear(struct pround_set *s);

/* The namespaces a computation completes, each with the round whose
 * objects keep their content (agent/cluster_propose.c). */
struct pkeep_set {
	char **ns, **id;
	size_t n;
};

/* Adds namespace @ns with round @id.  0 or -ENOMEM. */
int pkeep_add(struct pkeep_set *s, const char *ns, const char *id);

/* The round namespace @ns keeps, NULL when none. */
const char *pkeep_get(const struct pkeep_set *s, const char *ns);

void pkeep_clear(struct pkeep_set *s);

#endif
