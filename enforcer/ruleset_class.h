/* Classes of local pods and the dispatch trie (ruleset_class.c). */
#ifndef BH_RULESET_CLASS_H
#define BH_RULESET_CLASS_H

#include "buf.h"
#include "ruleset_bctx.h"

#define RS_DIGIT_BITS 3
#define RS_DIGIT_VALUES (1u << RS_DIGIT_BITS)
#define RS_DIGITS_MAX 5
#define RS_CLASSES_MAX (1u << (RS_DIGIT_BITS * RS_DIGITS_MAX))

static const char *const iso_sets[_NETPOL_DIR_MAX][2] = {
	[NETPOL_INGRESS] = { "in4", "in6" },
	[NETPOL_EGRESS] = { "eg4", "eg6" },
};

/*
 * In front of each trie, a verdict map: address -> goto class chain, one
 * lookup instead of up to 7 per trie level.  It holds the isolated local
 * pods of a fresh build (ruleset_build(), a full apply pays the table
 * validation once).  Pod events never add to it (that would make every
 * one of them pay the validation): a pod that joins a class after the
 * build is dispatched by the trie; a pod that leaves its class, changes
 * address or goes loses its element first.  ruleset_update_all() keeps
 * only the elements that are still right.  So every element always leads
 * where the trie would, and the map only shortcuts it.
 */
static const char *const vmap_sets[_NETPOL_DIR_MAX][2] = {
	[NETPOL_INGRESS] = { "in4/vmap", "in6/vmap" },
	[NETPOL_EGRESS] = { "eg4/vmap", "eg6/vmap" },
};

/*
 * The last line of the key of a class whose policies are proposal
 * policies in preview: not a policy name (a Kubernetes name holds no '=',
 * a proposal policy's starts with NETPOL_PROPOSAL_PREFIX).
 */
#define RS_CLASS_PREVIEW "=preview"

typedef int member_fn(void *ud, const char *set, const struct rs_elem *e);
void rs_digit_set_name(char *buf, size_t len, enum netpol_dir d, int fam, unsigned digit,
		       unsigned v);
unsigned rs_id_digits(uint32_t max_id);
struct rs_class *rs_class_find(const struct rs_classes *cs, const char *key);
int rs_class_put(struct rs_classes *cs, const char *key, const char *chain, uint32_t id,
		 size_t n_pods);
void rs_class_del(struct rs_classes *cs, const char *key);
/*
 * Is @pol one of the policies of @p's class for @d (docs/enforcer.md, "Two
 * origins of policy")?  When a cluster policy or a proposal policy in
 * enforce isolates @p, those are; else the proposal policies in preview
 * that isolate it are.
 */
bool rs_class_has_policy(const struct bctx *b, const struct netpol *pol, enum netpol_dir d,
			 const struct pod *p);
int rs_class_key(struct bctx *b, const struct pod *p, enum netpol_dir d, struct buf *k, bool mark);
const char *rs_class_prefix(enum netpol_dir d, const char *key, char *buf, size_t len);
int rs_class_chain_build(const struct ruleset *rs, enum netpol_dir d, const char *key,
			 struct rs_chain **ret);
int rs_trie_build_all(struct bctx *b, enum netpol_dir d, const struct rs_classes *cs,
		      char ret[RULESET_NAME_MAX]);
int rs_member_elems(const struct bctx *b, const struct pod *p, enum netpol_dir d,
		    const struct rs_class *cl, member_fn *emit, void *ud);
int rs_build_classes(struct bctx *b, enum netpol_dir d, const struct rs_desc *prev_desc);

#endif
