/*
 * A fixed-size bump arena, and jansson allocation hooks that use it.
 *
 * jansson allocates every object, string, hash bucket and lexer buffer
 * of a parse tree separately and frees them one by one again; for a tree
 * that lives only while it is decoded into the model, most of that work
 * is wasted.  While an arena is bound to the thread and active, jansson's
 * allocations come from it, frees of its memory cost nothing, and
 * arena_reset() releases the whole tree at once.  An allocation that does
 * not fit falls back to malloc() (and its free to free()), so a large tree
 * is still parsed, just without the saving.
 *
 * The hooks are installed process-wide once, by the first
 * arena_json_bind(), and forward to the functions installed before them
 * whenever the calling thread has no active arena: other jansson users,
 * and memory jansson allocated before the hooks, behave exactly as before.
 *
 * The one rule: a json_t allocated while an arena is active must be
 * released (json_decref) before that arena is reset, unbound or freed.
 */
#ifndef BH_ARENA_H
#define BH_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* An arena of @size bytes, inactive; NULL on allocation failure. */
struct arena *arena_new(size_t size);

/* NULL-safe; always returns NULL.  Must not be bound (see above). */
struct arena *arena_free(struct arena *a);

/*
 * @n bytes aligned for any type, or NULL when they do not fit in what is
 * left (never -ENOMEM: the caller falls back to malloc()).
 */
void *arena_alloc(struct arena *a, size_t n);

/* True when @p points into @a's memory. */
bool arena_owns(const struct arena *a, const void *p);

/* Everything allocated from @a is free again.  NULL-safe. */
void arena_reset(struct arena *a);

/* Bytes in use (for tests and statistics). */
size_t arena_used(const struct arena *a);

/*
 * Whether jansson allocates from @a while it is bound; returns the
 * previous state.  NULL-safe (returns false), so callers that could not
 * allocate an arena simply parse with malloc().
 */
bool arena_set_active(struct arena *a, bool active);

/*
 * Binds @a (borrowed, may be NULL to unbind) as the calling thread's
 * arena for jansson, installing the hooks on first use, and returns the
 * arena bound before, to be restored with another arena_json_bind().
 */
struct arena *arena_json_bind(struct arena *a);

/* The calling thread's bound arena, or NULL. */
struct arena *arena_json_current(void);

#endif
