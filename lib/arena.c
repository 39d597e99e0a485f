#include <jansson.h>
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

struct arena {
	size_t size;
	size_t used;
	bool active;
	alignas(max_align_t) unsigned char mem[];
};

#define ARENA_ALIGN alignof(max_align_t)

struct arena *arena_new(size_t size)
{
	struct arena *a;

	size = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	if (size > SIZE_MAX - sizeof(*a))
		return NULL;
	a = malloc(sizeof(*a) + size);
	if (!a)
		return NULL;
	a->size = size;
	a->used = 0;
	a->active = false;
	return a;
}

struct arena *arena_free(struct arena *a)
{
	free(a);
	return NULL;
}

void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
	void *p;

	/* need < n: the rounding wrapped around. */
	if (need < n || need > a->size - a->used)
		return NULL;
	p = a->mem + a->used;
	a->used += need;
	return p;
}

bool arena_owns(const struct arena *a, const void *p)
{
	/* Compared as integers: relational operators on pointers into
	 * different objects are undefined. */
	uintptr_t u = (uintptr_t) p, lo = (uintptr_t) a->mem;

	return u >= lo && u - lo < a->size;
}

void arena_reset(struct arena *a)
{
	if (a)
		a->used = 0;
}

size_t arena_used(const struct arena *a)
{
	return a->used;
}

bool arena_set_active(struct arena *a, bool active)
{
	bool was;

	if (!a)
		return false;
	was = a->active;
	a->active = active;
	return was;
}

/*
 * The hooks.  The bound arena is per thread, so a thread parsing with an
 * arena does not affect jansson users in other threads.
 */
static _Thread_local struct arena *bound;
static json_malloc_t next_malloc = malloc;
static json_free_t next_free = free;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *hook_malloc(size_t n)
{
	struct arena *a = bound;
	void *p;

	if (a && a->active) {
		p = arena_alloc(a, n);
		if (p)
			return p;
	}
	return next_malloc(n);
}

static void hook_free(void *p)
{
	struct arena *a = bound;

	if (a && p && arena_owns(a, p))
		return;
	next_free(p);
}

static void hooks_install(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	if (m && f) {
		next_malloc = m;
		next_free = f;
	}
	json_set_alloc_funcs(hook_malloc, hook_free);
}

struct arena *arena_json_bind(struct arena *a)
{
	struct arena *prev = bound;

	(void) pthread_once(&hooks_once, hooks_install);
	bound = a;
	return prev;
}

struct arena *arena_json_current(void)
{
	return bound;
}
