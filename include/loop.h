/*
 * The event loop of the agent and of the live CLI commands: one thread,
 * epoll (level-triggered), timers in a min-heap feeding epoll_wait's
 * timeout, and a signalfd for SIGTERM, SIGINT and SIGHUP.  Linux only.
 *
 * Sources are embedded in their owner (a struct loop_io inside struct
 * owner, a struct loop_timer next to it); the loop allocates nothing per
 * source, only the timer heap's array.  Callbacks find their owner with
 * LOOP_CONTAINER_OF().  Removal is synchronous: once loop_io_remove() or
 * loop_timer_disarm() returns, the owner may be freed, even from inside a
 * callback of the same wakeup; an fd event already fetched for a removed
 * source is dropped, never delivered.
 *
 * learner/ and enforcer/ know nothing of the loop: they expose an fd and a
 * *_process() function, and agent/ code embeds the sources.
 *
 * Time: loop_now() is CLOCK_MONOTONIC in milliseconds, read once per
 * wakeup (after epoll_wait returns) and cached for every callback of that
 * wakeup; relative timers count from it.  A callback that works for long
 * makes the cached time stale for the callbacks after it in the same
 * wakeup, which is the price of not reading the clock per callback.
 *
 * Everything here is for the loop thread only, callbacks included.
 */
#ifndef BH_LOOP_H
#define BH_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include "err.h"

/* The struct that holds @ptr as its @member (embedded sources). */
#define LOOP_CONTAINER_OF(ptr, type, member) \
	((type *) (void *) ((char *) (ptr) -offsetof(type, member)))

/* Events fetched per epoll_wait. */
#define LOOP_EVENTS_MAX 64

struct loop;
struct loop_io;
struct loop_timer;

/*
 * @revents: what epoll reported, a subset of the events asked for plus
 * EPOLLERR and EPOLLHUP.  The callback may remove or modify any source,
 * free its owner (after removing it), arm timers and call loop_exit().
 */
typedef void loop_io_fn(struct loop_io *io, uint32_t revents);
/* The timer is disarmed before the call; the callback may re-arm it. */
typedef void loop_timer_fn(struct loop_timer *t);
/* One signal taken from the signalfd (SIGTERM, SIGINT or SIGHUP). */
typedef void loop_signal_fn(struct loop *l, const struct signalfd_siginfo *si, void *ud);

/* An fd source.  Embed it; its fields are the loop's. */
struct loop_io {
	struct loop *loop; /* NULL while not added */
	int fd;
	uint32_t events;
	loop_io_fn *cb;
};

/* A one-shot timer.  Embed it; its fields are the loop's. */
struct loop_timer {
	struct loop *loop;
	loop_timer_fn *cb;
	uint64_t due; /* loop_now() milliseconds */
	uint64_t seq; /* arming order: equal due times fire in it */
	size_t idx; /* heap position, SIZE_MAX while disarmed */
};

/*
 * A loop with its epoll fd and signalfd.  Blocks SIGTERM, SIGINT and SIGHUP
 * in the calling thread so that they arrive on the signalfd (the thread's
 * previous mask comes back with loop_free()).  Without loop_signal_set(),
 * SIGTERM and SIGINT end loop_run() with 0 and SIGHUP is ignored.  -errno
 * with @reterr (system error).
 */
int loop_new(struct loop **ret, struct bh_err *reterr);
/*
 * Closes the loop's fds and restores the signal mask, after taking the
 * signals still queued on the signalfd (so none of them kills the process
 * now).  Every fd source must have been removed first (the loop keeps no
 * list of them); timers still armed are disarmed and must be initialised
 * again before another use.  Not from inside a callback.  NULL-safe;
 * returns NULL.
 */
struct loop *loop_free(struct loop *l);

/* The cached monotonic time, in milliseconds (see above). */
uint64_t loop_now(const struct loop *l);
/* The same clock read now, for code outside callbacks (any thread), is
 * clock_mono_ms() (include/clock.h). */

/*
 * Watches @fd (borrowed: the owner closes it, after loop_io_remove()) for
 * @events (EPOLLIN, EPOLLOUT; level-triggered) and calls @cb.  @io must not
 * be added already.  0, or -errno from epoll_ctl (e.g. -EEXIST for an fd
 * added twice, -EPERM for a regular file).
 */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn *cb);
/* Changes the events watched (e.g. EPOLLOUT on while a write is pending);
 * 0 or -errno; -ENOENT when @io is not added. */
int loop_io_modify(struct loop_io *io, uint32_t events);
/* Stops watching; no callback for @io runs after this returns, not even
 * for an event already fetched.  Idempotent, NULL-safe, never fails. */
void loop_io_remove(struct loop_io *io);
bool loop_io_active(const struct loop_io *io);

/* Prepares @t (disarmed) on @l; no allocation. */
void loop_timer_init(struct loop_timer *t, struct loop *l, loop_timer_fn *cb);
/*
 * Arms @t to fire once at loop_now() time @due (already past: at the next
 * wakeup), or @after ms after the cached now; an armed timer is moved.
 * -ENOMEM when the heap could not grow (@t stays as it was).
 */
int loop_timer_arm_at(struct loop_timer *t, uint64_t due);
int loop_timer_arm_in(struct loop_timer *t, uint64_t after);
/* Idempotent, NULL-safe; the owner may be freed once it returns. */
void loop_timer_disarm(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* Replaces the default signal handling by @cb (NULL: the default). */
void loop_signal_set(struct loop *l, loop_signal_fn *cb, void *ud);

/*
 * Runs until loop_exit(): waits, updates the cached now, calls the fd
 * callbacks of the batch in epoll's order, then the timers due (earliest
 * first; a timer armed for now by a timer callback waits for the next
 * wakeup, so a timer that re-arms itself cannot starve the fds).  Returns
 * loop_exit()'s @code, or -errno when epoll_wait fails (EINTR is retried).
 */
int loop_run(struct loop *l);
/*
 * One wakeup, waiting at most @timeout_ms (-1: until the next timer or fd;
 * 0: poll).  Returns 1 when loop_exit() was called (its code is then in
 * loop_exit_code()), 0 otherwise, or -errno.  For tests and for draining.
 */
int loop_run_once(struct loop *l, int timeout_ms);
/*
 * Ends loop_run() with @code (0 or -errno) once the current callback
 * returns; no further callback of this wakeup runs.  The first code given
 * wins.  loop_run() and loop_run_once() clear the request when they start.
 */
void loop_exit(struct loop *l, int code);
int loop_exit_code(const struct loop *l);

#endif
