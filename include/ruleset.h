/*
 * The nftables ruleset of one node: NetworkPolicy semantics (the same as
 * engine.h) compiled into one `inet bulkhead` table.  A struct ruleset is
 * an intermediate description (sets with their elements, chains with their
 * rules) that is rendered as nft text (ruleset_text()), as libnftnl
 * objects (ruleset_payload(), nftio.h) and updated incrementally on
 * cluster events (the ruleset_update_* functions below).
 *
 * Layout (docs/enforcer.md has the full picture):
 *
 *   chain forward  hook forward:  ct state established,related accept
 *                                 ip saddr vmap @eg4/vmap  (+ ip6 / @eg6/vmap)
 *                                 ip saddr @eg4 goto ROOT  (+ ip6 / @eg6)
 *                                 fib saddr type local accept
 *                                 ip saddr @node4 accept (Node addresses)
 *                                 goto ingress
 *   chain input    hook input:    ct state established,related accept
 *                                 icmpv6 type 130-136 accept (MLD, ND)
 *                                 icmpv6 type 143 accept (MLDv2)
 *                                 ip saddr vmap @eg4/vmap  (+ ip6)
 *                                 ip saddr @eg4 goto ROOT  (+ ip6 / @eg6)
 *   chain ingress:                ip daddr vmap @in4/vmap  (+ ip6 / @in6/vmap)
 *                                 ip daddr @in4 goto ROOT  (+ ip6 / @in6)
 *                                 accept
 *   map in4/vmap (eg4/vmap, ...): local pod address : goto its class chain
 *                                 (ruleset_update_maps())
 *   set in4/eg4 (in6/eg6):        local pods isolated for ingress/egress
 *   set in4/dJ.V (eg4/dJ.V):      those whose class id has octal digit J
 *                                 equal to V (1-7)
 *   chain ti/J.P (te/J.P):        the dispatch trie: ip daddr @in4/dJ.V
 *                                 goto CHILD (+ ip6) per digit present,
 *                                 goto the digit-0 child last; one chain
 *                                 where the ids in use differ at digit J
 *                                 (P: the digits above), leaves are class
 *                                 chains
 *   chain ci/NS/H (ce/NS/H):      a class: the local pods of namespace NS
 *                                 isolated for ingress (egress) by the same
 *                                 ordered list of policies, with the same
 *                                 final verdict (H: 16 hex of a hash of
 *                                 both): jump pi/NS/POLICY for each, then
 *                                 `counter` and the final verdict.  Which
 *                                 policies, by origin (include/netpol.h):
 *                                 the cluster's and the proposal policies
 *                                 in enforce that isolate the pod when
 *                                 there is one (preview proposals left
 *                                 out), else the proposal policies in
 *                                 preview that isolate it
 *   chain pi/PNS/POLICY:          one rule per rule, peer family and port
 *                                 kind: set lookups, `counter`, then accept
 *                                 (ingress) or goto ingress (egress, so that
 *                                 a local destination's ingress is checked
 *                                 too)
 *
 * The counters are the per-policy packet counters (include/nft_counters.h):
 * a policy chain's are its allowed packets, a class chain's what no rule
 * allowed (dropped, or logged in preview), told to its first policy.
 *
 * A pod that joins a class that exists (another replica of a workload)
 * changes set elements only; the first pod of a class and the last one
 * leaving add or delete its chain and change the trie.
 *
 * Final verdict of a class chain: preview when the ruleset is in preview
 * or the class's policies are proposal policies in preview, else enforce.
 * The seen sets exist when the ruleset is in preview or the cluster holds
 * a proposal policy in preview.
 *   enforce: drop (no TCP reset: see docs/enforcer.md).
 *   preview: ip saddr . ip daddr . meta l4proto . th dport @seen4 accept
 *            add @seen4 { ... } log prefix "PREFIX" group G accept
 *            (and the same for IPv6 with @seen6); @seen4/@seen6 have a
 *            timeout, so one flow is logged at most once per interval.
 *
 * NFLOG prefix (the contract with the NFLOG reader): "bh:D:NS:H" where D
 * is 'i' (the destination's ingress denied it) or 'e' (the source's
 * egress denied it) and NS:H names the class whose policies decided (as
 * its chain does); "bh:D:#" + 16 lowercase hex digits (FNV-1a 64 of
 * "NS:H") when longer than RULESET_PREFIX_MAX - 1.  The deciding pod is
 * the packet's destination (i) or source (e): ruleset_alert_pod() maps
 * prefix and addresses to it, and alerts name it "bh:D:NS/POD"
 * (ruleset_pod_prefix()).
 *
 * Object names: policy chains "pe/NS/NAME", "pi/NS/NAME"; policy sets
 * "p/NS/NAME/eR/KIND" and "p/NS/NAME/iR/KIND" (R the rule index, KIND
 * ports, cidr4, cidr6, named4, named6); shared peer sets "s/H/pods4" ...
 * Names longer than RULESET_NAME_MAX - 1 are replaced by "h/" and 16 hex
 * digits of their hash.  A proposal policy "proposal:NAME" (include/netpol.h)
 * is named with RULESET_PROPOSAL_OBJ in its objects ("pi/NS/proposal_NAME"):
 * an nft identifier holds no ':', and no Kubernetes name holds '_'.
 */
#ifndef BH_RULESET_H
#define BH_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bh.h"
#include "buf.h"
#include "cluster.h"
#include "err.h"

#define RULESET_TABLE "bulkhead" /* family inet */
#define RULESET_NAME_MAX 128 /* our bound for chain and set names */
#define RULESET_PREFIX_MAX 64 /* log prefix, NUL included */
#define RULESET_PROPOSAL_OBJ "proposal_" /* NETPOL_PROPOSAL_PREFIX in object names */
#define RULESET_NFLOG_GROUP 0x4248 /* default NFLOG group ("BH") */
#define RULESET_SEEN_TIMEOUT_MS 60000 /* preview: one log per flow per minute */
#define RULESET_SEEN_SIZE 65535 /* preview: flows remembered per family */
/* preview: alerts a second (and burst) per class chain once the seen set
 * is full (the flows then are logged per packet, not per flow) */
#define RULESET_ALERT_LIMIT 100
/*
 * Address and named-port sets (hash sets) are created with a size: the
 * kernel then allocates their hash table once (nft_hash) instead of
 * growing and rehashing an rhashtable while a million elements arrive,
 * which was a third of a full apply's kernel time.  The size is also the
 * most elements the set may hold (more fail with ENFILE), so it leaves
 * headroom: twice the elements, and at least RULESET_SET_HEADROOM more.
 * An incremental update that would pass it replaces the table in full
 * with sizes fitted again (rs_delta_is_full()).
 */
#define RULESET_SET_HEADROOM 256

/*
 * A rule's numeric ports (ranges expanded) up to this many are a hash set
 * of single ports; more stay an interval set of ranges (see port_set() in
 * enforcer/ruleset_policy.c and docs/enforcer.md, "Port sets").
 */
#define RULESET_PORTS_EXPAND_MAX 64

/* --- the intermediate description ------------------------------------ */

enum rs_key {
	RS_KEY_ADDR4, /* ipv4_addr */
	RS_KEY_ADDR6, /* ipv6_addr */
	RS_KEY_PROTO_PORT, /* inet_proto . inet_service */
	RS_KEY_ADDR4_PROTO_PORT, /* ipv4_addr . inet_proto . inet_service */
	RS_KEY_ADDR6_PROTO_PORT,
	RS_KEY_FLOW4, /* ipv4_addr . ipv4_addr . inet_proto . inet_service */
	RS_KEY_FLOW6,
	_RS_KEY_MAX,
};

enum rs_set_flags {
	RS_SET_INTERVAL = 1 << 0, /* elements are ranges */
	RS_SET_VMAP = 1 << 1, /* verdict map: element -> goto chain */
	RS_SET_DYNAMIC = 1 << 2, /* filled by the packet path, with timeout */
};

/*
 * One element.  Address keys use addr (and addr_end for intervals,
 * inclusive); port keys proto and port..port_end (inclusive); a vmap
 * element jumps to @target.
 */
struct rs_elem {
	struct addr addr;
	struct addr addr_end;
	uint8_t proto;
	uint16_t port;
	uint16_t port_end;
	char *target; /* owned; RS_SET_VMAP only: goto this chain */
};

struct rs_set {
	char *name; /* owned */
	enum rs_key key;
	unsigned flags; /* enum rs_set_flags */
	/* The kernel's maximum number of elements (NFTA_SET_DESC_SIZE, nft
	 * `size N`), 0 for none: see RULESET_SET_HEADROOM. */
	uint32_t size;
	size_t n_elems, cap_elems;
	struct rs_elem *elems; /* owned; sorted by rs_elem_cmp(), unique */
};

enum rs_rule_kind {
	RS_RULE_CT_ACCEPT, /* ct state established,related accept */
	RS_RULE_FIB_LOCAL_ACCEPT, /* fib saddr type local accept */
	RS_RULE_ADDR, /* ip saddr|daddr @set verdict */
	RS_RULE_VMAP, /* ip saddr|daddr vmap @set */
	RS_RULE_VERDICT, /* the verdict alone */
	RS_RULE_ALLOW, /* [peer set] [port set | named set] counter verdict: the
			* counter is the policy's "allowed" packets */
	RS_RULE_SEEN_SKIP, /* ip saddr . ip daddr . l4proto . dport @seen accept */
	RS_RULE_SEEN_LOG, /* add @seen { ... } log prefix P group G accept */
	RS_RULE_ICMPV6_ACCEPT, /* icmpv6 type LO-HI accept (neighbour discovery) */
	/* limit rate N/second burst N packets log prefix P group G accept:
	 * what the SEEN_LOG rules could not add to a full seen set */
	RS_RULE_LOG_LIMIT,
	/* counter (no verdict): a class chain's packets that reach the final
	 * verdict (dropped in enforce, would-deny in preview) */
	RS_RULE_COUNTER,
	_RS_RULE_KIND_MAX,
};

enum rs_verdict {
	RS_VERDICT_ACCEPT,
	RS_VERDICT_DROP,
	RS_VERDICT_RETURN,
	RS_VERDICT_JUMP,
	RS_VERDICT_GOTO,
	_RS_VERDICT_MAX,
};

struct rs_rule {
	enum rs_rule_kind kind;
	uint8_t family; /* AF_INET, AF_INET6, or 0 for both */
	bool peer_is_daddr; /* VMAP/ALLOW/ADDR: match daddr, not saddr */
	char *peer_set; /* owned; ALLOW: address set, NULL = any peer;
			   VMAP, ADDR_ACCEPT, SEEN_*: the set */
	char *port_set; /* owned; ALLOW: inet_proto . inet_service set */
	char *named_set; /* owned; ALLOW: daddr . inet_proto . inet_service */
	char *prefix; /* owned; SEEN_LOG */
	uint16_t group; /* SEEN_LOG */
	uint8_t icmp_lo, icmp_hi; /* ICMPV6_ACCEPT: type range */
	enum rs_verdict verdict;
	char *target; /* owned; JUMP/GOTO */
};

struct rs_chain {
	char *name; /* owned */
	const char *hook; /* "forward", "input" or NULL (static string) */
	size_t n_rules, cap_rules;
	struct rs_rule *rules; /* owned */
};

struct ruleset_opts {
	const char *node; /* borrowed; spec.nodeName of the local pods */
	enum bh_mode mode;
	/* NFLOG group of preview's log rules: @nflog_group when
	 * @nflog_group_set (0 is a valid group), else RULESET_NFLOG_GROUP. */
	bool nflog_group_set;
	uint16_t nflog_group;
	/* Borrowed, for the call; NULL, or a datapath with no bridge to
	 * divert: the inet table alone.  Its bridges get `table bridge
	 * bulkhead` (include/datapath.h, docs/enforcer.md). */
	const struct datapath *datapath;
};

struct datapath;
struct ruleset; /* opaque: description + the state incremental updates need */

/*
 * Compiles @c for node @o->node.  The cluster is borrowed for the call
 * only (the ruleset copies what it keeps).  0, or with @reterr filled
 * (naming the node): -ENOMEM (system); input errors: -EINVAL (no node
 * name), -ERANGE (more classes of local pods than the dispatch trie
 * numbers), -E2BIG (the policies isolating one pod, or one rule's peers,
 * past the compiler's key bound).  The ruleset_update_* calls below
 * report the same kinds.
 */
int ruleset_build(struct cluster *c, const struct ruleset_opts *o, struct ruleset **ret,
		  struct bh_err *reterr) BH_MUST_CHECK;
/* NULL-safe; returns NULL. */
struct ruleset *ruleset_free(struct ruleset *rs);

/* The description, in creation order: sets first, then chains. */
size_t ruleset_n_sets(const struct ruleset *rs);
const struct rs_set *ruleset_set(const struct ruleset *rs, size_t i);
size_t ruleset_n_chains(const struct ruleset *rs);
const struct rs_chain *ruleset_chain(const struct ruleset *rs, size_t i);
/* By name; borrowed, NULL when absent. */
const struct rs_set *ruleset_set_find(const struct ruleset *rs, const char *name);
const struct rs_chain *ruleset_chain_find(const struct ruleset *rs, const char *name);
enum bh_mode ruleset_mode(const struct ruleset *rs);

/*
 * 64-bit digest of the whole description.  It is stored in the table's
 * comment ("bulkhead:v1:<16 hex>"), so an apply of an unchanged ruleset
 * is detected and sends nothing.
 */
uint64_t ruleset_digest(const struct ruleset *rs);

/*
 * Appends the ruleset in nft syntax to @out, loadable by `nft -f`: a
 * "table inet bulkhead" line, a "delete table" line and the table, so the
 * text replaces an existing table in one transaction as apply does.
 * 0, -ENOMEM or -E2BIG.
 */
int ruleset_text(const struct ruleset *rs, struct buf *out) BH_MUST_CHECK;
/* The same, only the table block (what `nft list table` prints, modulo
 * formatting); used by golden tests. */
int ruleset_text_table(const struct ruleset *rs, struct buf *out) BH_MUST_CHECK;

/*
 * Appends the libnftnl objects (nftnl_*_snprintf) to @out, one object
 * after another, for the golden *.payload tests.
 */
int ruleset_payload(const struct ruleset *rs, struct buf *out) BH_MUST_CHECK;

/* NFLOG prefix of pod NS/POD for direction @dir into @buf (at least
 * RULESET_PREFIX_MAX bytes): "bh:D:NS/POD", or "bh:D:#" + 16 hex digits
 * when too long.  This is how alerts name the deciding pod once
 * ruleset_alert_pod() has resolved the kernel's class prefix. */
const char *ruleset_pod_prefix(const char *ns, const char *pod, enum netpol_dir dir, char *buf,
			       size_t len);
/*
 * Resolves an NFLOG prefix logged by this ruleset (a class prefix, see
 * the file comment) and the logged packet's addresses to the local pod
 * whose policies decided: the destination's (i) or the source's (e) pod
 * in @c (the cluster @rs was last built or updated from), checked to be a
 * member of the logged class.  Namespace and name are borrowed from @c,
 * valid until its next mutation.  0, or -ENOENT when the prefix is not
 * ours or the address is no member of that class.
 */
int ruleset_alert_pod(const struct ruleset *rs, struct cluster *c, const char *prefix,
		      const struct addr *src, const struct addr *dst, enum netpol_dir *ret_dir,
		      const char **ret_ns, const char **ret_pod);

/*
 * The description in nft syntax with the class numbering abstracted
 * away: digit sets, trie chains and the verdict maps' elements are left
 * out, the dispatch rules print "goto <dispatch>", every address of an
 * isolation set is listed with the class chain the trie leads it to, and
 * every verdict map element that leads elsewhere is listed as an error.  Two rulesets that enforce the
 * same thing with differently numbered classes (an incrementally updated
 * one and a fresh build) print the same text.  For tests and benchmarks.
 */
int ruleset_text_canonical(const struct ruleset *rs, struct buf *out) BH_MUST_CHECK;

/* --- incremental updates ---------------------------------------------- */

/*
 * A change between two versions of a ruleset, as the kernel must see it:
 * objects added and deleted, set elements added and deleted, chains whose
 * rules are replaced.  nftio_commit_delta() sends it as one batch.  When
 * @full is set the change is structural beyond what a delta expresses and
 * the whole table is replaced (also one batch).
 */
struct rs_delta;

/*
 * The cluster changed: the caller already put, replaced or removed the
 * object in @c (the ruleset then reads @c for this call only).  The
 * ruleset moves to the compiled form of @c and returns what changed for
 * the kernel in *@ret (NULL when nothing changed); nftio_commit_delta()
 * sends it as one batch.  The ruleset keeps no copy of the cluster: a
 * pod event names the old and the new version of the pod (what a watch
 * cache hands its subscribers, include/kube_cache.h).
 *
 *  - ruleset_update_pod(): @oldp the pod before (NULL: added), @newp the
 *    pod @c holds now (NULL: deleted); both borrowed for the call, @oldp
 *    must not point into @c.  Evaluates only what one pod affects (its
 *    membership in the shared address sets; on this node also its
 *    classes, which policies of its namespace are active and their
 *    named-port sets).  Class ids stay stable: a new class takes the
 *    lowest free id, a class goes with its last pod.  Pods sharing an address fall back to
 *    ruleset_update_all().
 *  - ruleset_update_policy(), ruleset_update_namespace(),
 *    ruleset_update_all(): recompile and diff; the batch is still only the
 *    difference (set elements, replaced chains, created and deleted
 *    objects), the userspace cost is a full compile.
 *
 * The result always enforces what ruleset_build() of @c does, and is
 * equal to it but for the class numbering (ruleset_text_canonical();
 * unit.ruleset and netns.enforcer_apply check it).  ruleset_update_all()
 * keeps the ids of the classes that remain.  The table comment (digest) is not
 * rewritten by deltas, so the next nftio_apply() re-sends the table once
 * (nftio_commit_delta() leaves a marker that says so).  On error (-ENOMEM), or if committing the delta
 * fails, the ruleset and the kernel may disagree: rebuild and apply in
 * full (ruleset_build(), nftio_apply(); include/sync.h does it).
 */
int ruleset_update_pod(struct ruleset *rs, struct cluster *c, const struct pod *oldp,
		       const struct pod *newp, struct rs_delta **ret,
		       struct bh_err *reterr) BH_MUST_CHECK;
int ruleset_update_policy(struct ruleset *rs, struct cluster *c, const char *ns, const char *name,
			  struct rs_delta **ret, struct bh_err *reterr) BH_MUST_CHECK;
int ruleset_update_namespace(struct ruleset *rs, struct cluster *c, const char *name,
			     struct rs_delta **ret, struct bh_err *reterr) BH_MUST_CHECK;
/* Any change at all (e.g. nodes): recompiles, diffs against the current
 * description.  The generic path, slower than the three above. */
int ruleset_update_all(struct ruleset *rs, struct cluster *c, struct rs_delta **ret,
		       struct bh_err *reterr) BH_MUST_CHECK;

/*
 * The verdict maps in front of the dispatch tries only shrink between
 * full builds: pod events never add to them (an added `goto` element
 * makes the kernel validate the whole table: milliseconds at 500 local pods),
 * so a pod that joined a class since is dispatched by the trie.
 * ruleset_maps_missing() counts those pods' addresses;
 * ruleset_update_maps() is ruleset_update_all() that also puts every one
 * of them back in the maps, one batch that pays the validation once; its
 * userspace cost is a full compile.  For an agent to call when a burst of
 * events is over (`apply --incremental-from` does, after the last event).
 */
size_t ruleset_maps_missing(const struct ruleset *rs);
int ruleset_update_maps(struct ruleset *rs, struct cluster *c, struct rs_delta **ret,
			struct bh_err *reterr) BH_MUST_CHECK;

/* NULL-safe; returns NULL. */
struct rs_delta *rs_delta_free(struct rs_delta *d);
/* Kernel objects a delta touches (elements count one each); for tests
 * and metrics. */
size_t rs_delta_size(const struct rs_delta *d);
bool rs_delta_is_full(const struct rs_delta *d);
/* A delta that replaces the table in full; NULL on -ENOMEM. */
struct rs_delta *rs_delta_new_full(void);
/*
 * Appends @more (taken, freed on success) to *@into (NULL: *@into becomes
 * @more), so several updates go to the kernel as one batch: their ops in
 * order, or a full replace when either is full.  0, or -ENOMEM with both
 * left as they were.
 */
int rs_delta_append(struct rs_delta **into, struct rs_delta *more) BH_MUST_CHECK;
/*
 * Plans @d (several deltas appended) against the sets' sizes as one
 * batch: the kernel counts a batch's additions at once and its deletions
 * at commit, so deltas that each fit may not fit together.  Then @d
 * becomes a full replace (its ops dropped, every set fitted again).  1
 * when @d is full, else 0.
 */
int ruleset_delta_fit(struct ruleset *rs, struct rs_delta *d);
/*
 * Fits the size of every set to what it holds now (see
 * RULESET_SET_HEADROOM), for a full replace after the kernel refused a
 * delta for a set smaller than @rs says (ENFILE: loaded by another
 * writer).  include/sync.h decides when.
 */
void ruleset_refit_sizes(struct ruleset *rs);
/* Appends a human-readable summary (nft-like commands) for tests. */
int rs_delta_text(const struct rs_delta *d, const struct ruleset *rs,
		  struct buf *out) BH_MUST_CHECK;

#endif
