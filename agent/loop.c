/*
 * The event loop; see include/loop.h for the contract.
 *
 * Removal inside a batch: epoll_wait hands back up to LOOP_EVENTS_MAX
 * events whose data points at struct loop_io.  A callback may remove, and
 * its owner free, a source whose event is later in the same batch (a link
 * monitor detaching a capture).  loop_io_remove() therefore clears the
 * pointer in the batch's remaining events: O(batch) per removal, with no
 * per-source allocation, generation counters or deferred close (libuv's
 * uv_close is what we avoid).  Redis ae gets the same from its fd-indexed
 * table, which needs memory for every fd number.
 *
 * Timers: a binary min-heap of pointers into the embedded timers, ordered
 * by (due, seq); each timer knows its index, so disarming is O(log n).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"
#include "vec.h"

struct loop {
	int epfd;
	uint64_t now;
	/* The batch being dispatched: loop_io_remove() clears its entries. */
	struct epoll_event batch[LOOP_EVENTS_MAX];
	int batch_n, batch_i;
	struct loop_timer **heap;
	size_t n_heap, cap_heap;
	uint64_t seq;
	struct loop_io sig_io;
	sigset_t old_mask;
	bool mask_set;
	loop_signal_fn *sig_cb;
	void *sig_ud;
	bool exit;
	int exit_code;
};

uint64_t loop_now(const struct loop *l)
{
	return l->now;
}

void loop_exit(struct loop *l, int code)
{
	if (l->exit)
		return;
	l->exit = true;
	l->exit_code = code;
}

int loop_exit_code(const struct loop *l)
{
	return l->exit_code;
}

/* --- fd sources --- */

int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn *cb)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*io = (struct loop_io){ .loop = l, .fd = fd, .events = events, .cb = cb };
	return 0;
}

int loop_io_modify(struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->loop)
		return -ENOENT;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void loop_io_remove(struct loop_io *io)
{
	struct loop *l;

	if (!io || !io->loop)
		return;
	l = io->loop;
	/* EBADF when the owner closed the fd first: the kernel already
	 * dropped it from the interest list. */
	(void) epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	for (int i = l->batch_i + 1; i < l->batch_n; i++)
		if (l->batch[i].data.ptr == io)
			l->batch[i].data.ptr = NULL;
	io->loop = NULL;
}

bool loop_io_active(const struct loop_io *io)
{
	return io->loop != NULL;
}

/* --- timers --- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void loop_timer_init(struct loop_timer *t, struct loop *l, loop_timer_fn *cb)
{
	*t = (struct loop_timer){ .loop = l, .cb = cb, .idx = SIZE_MAX };
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->idx != SIZE_MAX;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct loop *l;
	struct loop_timer *last;
	size_t i;

	if (!t || !t->loop || t->idx == SIZE_MAX)
		return;
	l = t->loop;
	i = t->idx;
	t->idx = SIZE_MAX;
	last = l->heap[--l->n_heap];
	if (i == l->n_heap)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->idx);
}

int loop_timer_arm_at(struct loop_timer *t, uint64_t due)
{
	struct loop *l = t->loop;

	if (t->idx == SIZE_MAX && l->n_heap == l->cap_heap) {
		struct loop_timer **v = vec_grow(l->heap, &l->cap_heap, l->n_heap + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->heap = v;
	}
	loop_timer_disarm(t);
	t->due = due;
	t->seq = l->seq++;
	heap_set(l, l->n_heap++, t);
	heap_up(l, t->idx);
	return 0;
}

int loop_timer_arm_in(struct loop_timer *t, uint64_t after)
{
	uint64_t now = t->loop->now;

	return loop_timer_arm_at(t, after > UINT64_MAX - now ? UINT64_MAX : now + after);
}

/* Fires the timers due at the cached now that were armed before this
 * call: one armed again for now by a callback waits for the next wakeup. */
static void timers_run(struct loop *l)
{
	uint64_t seq_end = l->seq;

	while (l->n_heap && !l->exit) {
		struct loop_timer *t = l->heap[0];

		if (t->due > l->now || t->seq >= seq_end)
			break;
		loop_timer_disarm(t);
		t->cb(t);
	}
}

/* epoll_wait's timeout: until the first timer, or @max_ms.  The clock is
 * read afresh, not the cached now: the callbacks since may have taken long. */
static int timers_timeout(const struct loop *l, int max_ms)
{
	uint64_t due, now, wait;

	if (!l->n_heap)
		return max_ms;
	due = l->heap[0]->due;
	now = clock_mono_ms();
	wait = due > now ? due - now : 0;
	if (max_ms >= 0 && wait > (uint64_t) max_ms)
		return max_ms;
	return wait > INT32_MAX ? INT32_MAX : (int) wait;
}

/* --- signals --- */

static void signal_cb(struct loop_io *io, uint32_t revents)
{
	struct loop *l = LOOP_CONTAINER_OF(io, struct loop, sig_io);
	struct signalfd_siginfo si;

	(void) revents;
	if (read(io->fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
		return; /* EAGAIN: taken already */
	if (l->sig_cb)
		l->sig_cb(l, &si, l->sig_ud);
	else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
		loop_exit(l, 0);
}

void loop_signal_set(struct loop *l, loop_signal_fn *cb, void *ud)
{
	l->sig_cb = cb;
	l->sig_ud = ud;
}

/* --- the loop --- */

int loop_new(struct loop **ret, struct bh_err *reterr)
{
	struct loop *l = calloc(1, sizeof(*l));
	sigset_t mask;
	int fd, r;

	if (!l)
		return bh_err_oom(reterr);
	l->epfd = -1;
	l->sig_io.fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "loop: epoll: %s", strerror(errno));
		goto fail;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* pthread_sigmask returns the error instead of setting errno. */
	r = pthread_sigmask(SIG_BLOCK, &mask, &l->old_mask);
	if (r != 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -r, "loop: signal mask: %s", strerror(r));
		goto fail;
	}
	l->mask_set = true;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "loop: signalfd: %s",
			       strerror(errno));
		goto fail;
	}
	r = loop_io_add(l, &l->sig_io, fd, EPOLLIN, signal_cb);
	if (r < 0) {
		(void) close(fd);
		r = bh_err_set(reterr, BH_ERR_SYSTEM, r, "loop: epoll: %s", strerror(-r));
		goto fail;
	}
	l->now = clock_mono_ms();
	*ret = l;
	return 0;

fail:
	loop_free(l);
	return r;
}

struct loop *loop_free(struct loop *l)
{
	struct signalfd_siginfo si;

	if (!l)
		return NULL;
	/* Timers outliving the loop: disarmed, so disarming them again (in
	 * their owner's destructor) touches nothing. */
	for (size_t i = 0; i < l->n_heap; i++)
		l->heap[i]->idx = SIZE_MAX;
	if (l->sig_io.fd >= 0) {
		while (read(l->sig_io.fd, &si, sizeof(si)) == (ssize_t) sizeof(si))
			;
		(void) close(l->sig_io.fd);
	}
	if (l->mask_set)
		(void) pthread_sigmask(SIG_SETMASK, &l->old_mask, NULL);
	if (l->epfd >= 0)
		(void) close(l->epfd);
	free(l->heap);
	free(l);
	return NULL;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	int n;

	l->exit = false;
	l->exit_code = 0;
	n = epoll_wait(l->epfd, l->batch, LOOP_EVENTS_MAX, timers_timeout(l, timeout_ms));
	l->now = clock_mono_ms();
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->batch_n = n;
	for (l->batch_i = 0; l->batch_i < n && !l->exit; l->batch_i++) {
		struct epoll_event *ev = &l->batch[l->batch_i];
		struct loop_io *io = ev->data.ptr;
		uint32_t revents;

		if (!io)
			continue; /* removed by an earlier callback */
		/* An event fetched before loop_io_modify() took a bit away. */
		revents = ev->events & (io->events | EPOLLERR | EPOLLHUP);
		if (revents)
			io->cb(io, revents);
	}
	l->batch_n = l->batch_i = 0;
	timers_run(l);
	return l->exit ? 1 : 0;
}

int loop_run(struct loop *l)
{
	int r;

	do
		r = loop_run_once(l, -1);
	while (r == 0);
	return r < 0 ? r : l->exit_code;
}
