/* Internals shared by ruleset*.c and nftio.c; not a public API. */
#ifndef BH_RULESET_INT_H
#define BH_RULESET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath.h"
#include "hmap.h"
#include "ruleset.h"

struct buf;
struct nftnl_table;
struct nftnl_chain;
struct nftnl_rule;

/* Name -> index map, for sets, chains, set definitions and classes: the
 * names are borrowed from the objects.  All zero is empty. */
struct name_map {
	struct hmap h;
};

/*
 * A set of pod addresses shared by every rule with the same peers (or, for
 * egress named ports, the same peers and named ports): its definition is
 * that of one representative rule, which incremental updates evaluate a
 * changed pod against.
 */
struct rs_setdef {
	char *name[2]; /* owned: the IPv4 and IPv6 set */
	bool named; /* named-port set (else pod addresses) */
	char *pns, *pname; /* owned: the representative policy */
	enum netpol_dir dir;
	size_t rule;
	size_t refs; /* rules using it */
};

/*
 * A class: the local pods isolated for one direction by the same ordered
 * list of policies of one namespace (the pods of one workload, usually).
 * Its chain holds what a pod chain would: one jump per policy chain, then
 * the final verdict.  Pods reach it through the dispatch trie (ruleset_class.c)
 * keyed by the class id, so a pod joining an existing class changes set
 * elements only.
 */
struct rs_class {
	char *key; /* owned: "NS" then "\n" + each policy name, policy order */
	char *chain; /* owned: "ci/NS/H" or "ce/NS/H" (H: hash of the key) */
	uint32_t id; /* stable across incremental updates */
	size_t n_pods; /* local pods in it; the class goes with the last */
};

struct rs_classes {
	size_t n, cap;
	struct rs_class *v; /* owned, unordered */
	unsigned digits; /* digit sets that exist: in4/dJ.V for J < digits */
	struct name_map idx; /* key -> index */
};

/* A collection of sets and chains, indexed by name. */
struct rs_desc {
	struct rs_classes cls[_NETPOL_DIR_MAX];
	size_t n_defs, cap_defs;
	struct rs_setdef *defs; /* owned */
	size_t n_sets, cap_sets;
	struct rs_set **sets;
	size_t n_chains, cap_chains;
	struct rs_chain **chains;
	struct name_map set_idx, chain_idx, def_idx;
};

/* Which (policy, direction) pairs isolate a local pod: their chain and
 * sets exist. */
struct rs_active {
	char *ns, *name; /* owned */
	bool dir[_NETPOL_DIR_MAX];
};

struct ruleset {
	char *node; /* owned */
	enum bh_mode mode;
	uint16_t group;
	struct rs_desc d;
	/* Bridges whose pod-to-pod frames `table bridge bulkhead` diverts
	 * to IP (ruleset_bridge.c); none on a routed node. */
	size_t n_bridges;
	struct datapath_bridge bridges[DATAPATH_BRIDGE_MAX];
	/* Bridged IPv6 traverses the forward hook (br_netfilter): pods'
	 * neighbour discovery with each other is accepted there, as it is
	 * at input for a routed node. */
	bool nd_forward;
	/* Which pod owns each address, as compiled: struct owner_slot
	 * (ruleset_owner.h) by address, owned.  All zero is empty. */
	struct owner_map {
		struct hmap h;
	} owners;
};

enum rs_op_kind {
	RS_OP_ADD_CHAIN, /* create the chain, empty */
	RS_OP_ADD_SET, /* create the set (with its elements) */
	RS_OP_ADD_ELEMS, /* add elements to an existing set */
	RS_OP_DEL_ELEMS, /* delete them; no element = flush the set */
	RS_OP_ADD_RULES, /* append the chain's rules (a new chain) */
	RS_OP_REPLACE_RULES, /* flush the chain and add its rules */
	RS_OP_FLUSH_CHAIN, /* before deletions: drop references */
	RS_OP_DEL_CHAIN,
	RS_OP_DEL_SET,
};

struct rs_op {
	enum rs_op_kind kind;
	struct rs_set *set; /* owned copy (elements = the ones concerned) */
	struct rs_chain *chain; /* owned copy */
};

struct rs_delta {
	bool full;
	size_t n_ops, cap_ops;
	struct rs_op *ops; /* in commit order */
};

/* The bridge table (ruleset_bridge.c): nft text of `table bridge
 * bulkhead` (nothing when @rs diverts no bridge), and its libnftnl objects
 * for golden dumps and batches: the table, its chain, rule @i of
 * rs_bridge_n_rules().  NULL on allocation failure. */
int rs_bridge_text(const struct ruleset *rs, struct buf *out);
size_t rs_bridge_n_rules(const struct ruleset *rs);
struct nftnl_table *rs_bridge_nl_table(void);
struct nftnl_chain *rs_bridge_nl_chain(void);
struct nftnl_rule *rs_bridge_nl_rule(const struct ruleset *rs, size_t i);
uint64_t rs_bridge_digest(const struct ruleset *rs, uint64_t h);

/* containers: elements, sets, chains, descriptions (ruleset_desc.c) */
void rs_desc_done(struct rs_desc *d);
struct rs_set *rs_desc_set(const struct rs_desc *d, const char *name);
struct rs_chain *rs_desc_chain(const struct rs_desc *d, const char *name);
/* Take ownership of the object (freed on failure). */
int rs_desc_put_set(struct rs_desc *d, struct rs_set *s);
int rs_desc_put_chain(struct rs_desc *d, struct rs_chain *c);
void rs_desc_del_set(struct rs_desc *d, const char *name);
void rs_desc_del_chain(struct rs_desc *d, const char *name);
struct rs_set *rs_set_free(struct rs_set *s);
struct rs_chain *rs_chain_free(struct rs_chain *c);
int rs_set_dup(const struct rs_set *s, bool with_elems, struct rs_set **ret);
int rs_chain_dup(const struct rs_chain *c, struct rs_chain **ret);
int rs_elem_cmp(const struct rs_elem *a, const struct rs_elem *b);
int rs_elem_copy(struct rs_elem *dst, const struct rs_elem *src);
void rs_elem_done(struct rs_elem *e);
/* The index of @name in *@ret_idx: false when absent. */
bool rs_name_map_get(const struct name_map *m, const char *name, size_t *ret_idx);
/* Adds or re-points @name (replacing an entry never allocates): 0, -ENOMEM. */
int rs_name_map_put(struct name_map *m, const char *name, size_t idx);
void rs_name_map_del(struct name_map *m, const char *name);
void rs_name_map_done(struct name_map *m);
size_t rs_set_elem_search(const struct rs_set *s, const struct rs_elem *e, bool *found);
int rs_set_push(struct rs_set *s, const struct rs_elem *e);
void rs_set_finish(struct rs_set *s);
int rs_chain_add_rule(struct rs_chain *c, const struct rs_rule *r);
int rs_set_elem_add(struct rs_set *s, const struct rs_elem *e); /* 1 added, 0 present */
int rs_set_elem_del(struct rs_set *s, const struct rs_elem *e); /* 1 removed, 0 absent */
bool rs_rule_equal(const struct rs_rule *a, const struct rs_rule *b);
/* The size a set of @s's kind and element count is created with (0: none,
 * interval sets); rs_desc_fit_sizes() sets it on every set of @d. */
uint32_t rs_set_size_fit(const struct rs_set *s);
void rs_desc_fit_sizes(struct rs_desc *d);
/* Whether committing @delta would pass the size of a set of @d (@d is
 * the description after the change): the kernel would refuse it. */
bool rs_delta_overflows(const struct rs_desc *d, const struct rs_delta *delta);
/* Sorted views (by name) for deterministic output; caller frees. */
int rs_desc_sorted(const struct rs_desc *d, const struct rs_set ***ret_sets,
		   const struct rs_chain ***ret_chains);
/* Chain deletion order within one batch: referrers before the chains
 * they jump to (dispatch trie top down, classes, then the rest). */
int rs_chain_del_rank(const char *name);
bool rs_chain_is_trie(const char *name);
bool rs_chain_is_class(const char *name);
bool rs_set_is_digits(const char *name);

/* delta helpers (ruleset_update.c); take ownership / copy as named */
int rs_delta_push(struct rs_delta *d, enum rs_op_kind kind, struct rs_set *set,
		  struct rs_chain *chain);
int rs_delta_push_set(struct rs_delta *d, enum rs_op_kind kind, const struct rs_set *s,
		      bool with_elems);
int rs_delta_push_chain(struct rs_delta *d, enum rs_op_kind kind, const struct rs_chain *ch);
/* Sizes for the sets @delta creates; if it would overflow a set, or is
 * full anyway, @delta becomes a full replace (ops dropped) and every set
 * of @d is fitted again.  1 when @delta is full, else 0. */
int rs_delta_fit(struct rs_desc *d, struct rs_delta *delta);

/* the compile (ruleset_compile.c) */
/* Builds the whole description of @c into @d; class ids of @prev (may be
 * NULL) are kept for the classes that still exist.  The verdict maps get
 * every isolated local pod when @fill_maps is set or there is no @prev,
 * else only the elements @prev has that are still right. */
int ruleset_compile(struct ruleset *rs, struct cluster *c, const struct rs_desc *prev,
		    bool fill_maps, struct rs_desc *d);
/*
 * @r (< 0) from compiling for @node (@what names the step) into @reterr,
 * returned: -ERANGE (more classes than the trie numbers) and -E2BIG (a
 * class or peer key past its buffer's bound) come from the cluster's
 * shape and are input errors; -ENOMEM and anything else (the description
 * lost track of an object) system errors.
 */
int rs_compile_err(const char *node, int r, const char *what, struct bh_err *reterr);

/* classes (ruleset_class.c) */
/* in4/vmap ...: the verdict maps in front of the tries. */
bool rs_set_is_vmap(const char *name);

/* the owner map (ruleset_owner.c) */
int rs_owners_build(struct owner_map *m, struct cluster *c);
void rs_owners_done(struct owner_map *m);

/* text helpers (ruleset_text.c) */
int rs_set_text(const struct rs_set *s, struct buf *out, const char *indent);
int rs_rule_text(const struct rs_rule *r, struct buf *out);
int rs_elem_text(const struct rs_set *s, const struct rs_elem *e, struct buf *out);
int rs_table_comment(const struct ruleset *rs, char *buf, size_t len);
int rs_desc_text_body(const struct rs_desc *d, struct buf *out);

#endif
