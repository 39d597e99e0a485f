/*
 * Private to the flows reader: learner/flows_json.c walks the document,
 * flows_decode.c decodes one flow's values, flows_cache.c remembers parsed
 * text, and flow_set.c sorts and merges records into a set.
 */
#ifndef BH_LEARNER_FLOWS_INT_H
#define BH_LEARNER_FLOWS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bh.h"
#include "err.h"
#include "flows_json.h"
#include "json_scan.h"

/* ---- decoding (flows_decode.c) ---- */

/* Error context while decoding one file. */
struct flows_ctx {
	const char *name;
	struct bh_err *err;
	size_t index; /* flow index, or SIZE_MAX outside the flows array */
	const char *side; /* "src"/"dst" while decoding a peer, else NULL */
};

/* An input error naming the file, the flow and @field: -EINVAL. */
int flows_bad(struct flows_ctx *c, const char *field, const char *fmt, ...) BH_PRINTF(3, 4);
/* Members of @obj (a NULL @obj or member is absent): a count (0 when
 * absent), a required RFC 3339 time, a non-empty string copied into *@ret
 * (NULL when absent and not @required). */
int flows_get_count(struct flows_ctx *c, json_t *obj, const char *key, const char *field,
		    uint64_t *ret);
int flows_get_time(struct flows_ctx *c, json_t *obj, const char *key, int64_t *ret);
int flows_get_str(struct flows_ctx *c, json_t *obj, const char *key, const char *field,
		  bool required, char **ret);

/* The members of a flow object the format defines. */
enum flow_member {
	FM_SRC,
	FM_DST,
	FM_PROTOCOL,
	FM_PORT,
	FM_PACKETS,
	FM_BYTES,
	FM_CONNECTIONS,
	FM_FIRST_SEEN,
	FM_LAST_SEEN,
	FM_SEEN_BY,
	_FM_MAX,
};

extern const char *const flows_member_names[_FM_MAX];

/*
 * Most of a flow's bytes are its two peer objects, and the same peer
 * object (a pod with its namespace, name and workload) comes back in many
 * flows: at 200,000 flows over 5,000 pods each one about 80 times.  The
 * text of each peer object jansson has parsed and that decoded cleanly is
 * remembered with the result, and a later peer whose bytes start with
 * exactly that text reuses it instead of lexing it again.  That is exact:
 * an object ends at its closing brace, so parsing bytes that start with a
 * complete object's text gives that object whatever follows.  Candidates
 * are found by a hash of the first bytes of the value.
 */
#define FLOWS_PEER_PREFIX 64

/* A peer already decoded. */
struct flows_peer_ent {
	const char *text; /* into the document being read */
	size_t len;
	uint64_t h; /* flows_prefix_hash() */
	struct addr addr;
	struct flow_peer peer;
};

/*
 * A flow from its member values (borrowed, NULL when absent); @src_ent
 * and @dst_ent, when set, replace "src"/"dst" (the flow borrows their
 * peers).  On failure *@f holds nothing.
 */
int flows_decode_members(struct flows_ctx *c, json_t *const *m,
			 const struct flows_peer_ent *src_ent, const struct flows_peer_ent *dst_ent,
			 struct flow_record *f);
/* A flow from a whole flow object. */
int flows_decode_flow(struct flows_ctx *c, json_t *obj, struct flow_record *f);

/* ---- the document being read (flows_json.c) ---- */

struct flows_rd {
	struct json_scan sc;
	int line; /* line of sc.s[done], from 1 */
	size_t line_start; /* offset where that line starts */
	size_t done; /* sc.s[0..done) has been counted */
};

/* ---- caches of parsed text (flows_cache.c) ---- */

/*
 * The open-addressing index of a cache: slots hold an entry's index + 1 (0
 * is empty), at most half full, a power of two in size.  Entries live in
 * the cache's own array, each with its 64-bit hash.
 */
struct flows_slot_index {
	uint32_t *slots;
	size_t n_slots;
};

struct flows_peer_cache {
	struct flows_peer_ent *v; /* owned, with the peers' strings */
	size_t n, cap;
	struct flows_slot_index idx;
	uint64_t seed;
};

/*
 * The other member values repeat as well (protocols, ports, counters,
 * times, seen_by): parsed values are kept by their text in the same way,
 * allocated outside the arena, and shared by reference.  A number (or
 * true/false/null) ends where the next byte is not part of it, so those are
 * stored and matched only when a delimiter follows their text.
 */
#define FLOWS_VAL_PREFIX 32

struct flows_val_ent {
	const char *text;
	size_t len;
	uint64_t h;
	json_t *v; /* a reference */
};

struct flows_val_cache {
	struct flows_val_ent *v;
	size_t n, cap;
	struct flows_slot_index idx;
	uint64_t seed;
};

/*
 * Candidates are hashed on their first bytes up to the first ',', '}' or
 * ']' (at most @max): that prefix lies within the value itself for short
 * values too, so a value hashes alike whatever follows it.
 */
uint64_t flows_prefix_hash(const char *p, size_t avail, size_t max, uint64_t seed);

void flows_peer_cache_done(struct flows_peer_cache *pc);
uint64_t flows_peer_hash(const struct flows_peer_cache *pc, const char *p, size_t avail);
/* The entry whose text starts the object at rd->sc.pos, or SIZE_MAX. */
size_t flows_peer_cache_find(const struct flows_peer_cache *pc, const struct flows_rd *rd,
			     uint64_t h);
/*
 * Remembers a decoded peer: the entry takes over @peer's strings and labels
 * and @peer borrows them from it.  Without memory it is simply not
 * remembered and @peer keeps what it owns.
 */
void flows_peer_cache_add(struct flows_peer_cache *pc, const char *text, size_t len, uint64_t h,
			  const struct addr *a, struct flow_peer *peer);

void flows_val_cache_done(struct flows_val_cache *vc);
/* The cached value at rd->sc.pos (a borrowed reference) with rd->sc.pos
 * moved past it, or NULL. */
json_t *flows_val_cache_find(const struct flows_val_cache *vc, struct flows_rd *rd, uint64_t h);
/* Remembers @v (taking a reference), the text from @start to rd->sc.pos. */
void flows_val_cache_add(struct flows_val_cache *vc, const struct flows_rd *rd, size_t start,
			 uint64_t h, json_t *v);

/* ---- the set (flow_set.c) ---- */

/* Sorts *@pv (which may be replaced) and merges equal keys in place;
 * returns the new count. */
size_t flow_set_sort_merge(struct flow_record **pv, size_t n);

#endif
