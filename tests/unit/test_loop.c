/*
 * unit.loop: fd readiness, timer order and re-arming, removal of a source
 * from inside a callback of the same batch, signalfd delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

struct pipe_src {
	struct loop_io io;
	int fds[2];
	int calls;
	uint32_t revents;
	/* Removed by this source's callback, and freed unless keep. */
	struct pipe_src **victims;
	size_t n_victims;
	bool keep_victims;
	bool drain;
};

static struct loop *loop_make(void)
{
	struct bh_err err = { 0 };
	struct loop *l = NULL;

	assert_int_equal(loop_new(&l, &err), 0);
	assert_non_null(l);
	return l;
}

static void pipe_src_free(struct pipe_src *p)
{
	loop_io_remove(&p->io);
	(void) close(p->fds[0]);
	(void) close(p->fds[1]);
	free(p);
}

static void pipe_cb(struct loop_io *io, uint32_t revents)
{
	struct pipe_src *p = LOOP_CONTAINER_OF(io, struct pipe_src, io);
	struct pipe_src **v = p->victims;
	size_t n = p->n_victims;
	bool keep = p->keep_victims;
	char c;

	p->calls++;
	p->revents = revents;
	if (p->drain)
		assert_int_equal(read(p->fds[0], &c, 1), 1);
	/* @p itself may be among the victims: not touched after this. */
	for (size_t i = 0; i < n; i++) {
		if (v[i] && keep)
			loop_io_remove(&v[i]->io);
		else if (v[i])
			pipe_src_free(v[i]);
		v[i] = NULL;
	}
}

static struct pipe_src *pipe_src_new(struct loop *l, bool readable)
{
	struct pipe_src *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(pipe2(p->fds, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(loop_io_add(l, &p->io, p->fds[0], EPOLLIN, pipe_cb), 0);
	if (readable)
		assert_int_equal(write(p->fds[1], "x", 1), 1);
	return p;
}

static void fd_readiness(void **state)
{
	struct loop *l = loop_make();
	struct pipe_src *p = pipe_src_new(l, false);

	(void) state;
	p->drain = true;
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 0);
	assert_int_equal(write(p->fds[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(p->calls, 1);
	assert_true(p->revents & EPOLLIN);
	/* Drained: level-triggered, so nothing more. */
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 1);
	/* Not drained: called again on every wakeup. */
	p->drain = false;
	assert_int_equal(write(p->fds[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 3);
	/* Removed: never again, and removing twice is harmless. */
	loop_io_remove(&p->io);
	assert_false(loop_io_active(&p->io));
	loop_io_remove(&p->io);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 3);
	/* The same fd twice is refused. */
	assert_int_equal(loop_io_add(l, &p->io, p->fds[0], EPOLLIN, pipe_cb), 0);
	{
		struct loop_io other;

		assert_int_equal(loop_io_add(l, &other, p->fds[0], EPOLLIN, pipe_cb), -EEXIST);
	}
	pipe_src_free(p);
	loop_free(l);
}

static void modify_events(void **state)
{
	struct loop *l = loop_make();
	struct pipe_src *p = calloc(1, sizeof(*p));
	struct loop_io wio;

	(void) state;
	assert_non_null(p);
	assert_int_equal(pipe2(p->fds, O_NONBLOCK | O_CLOEXEC), 0);
	/* The write end is writable at once, but only asked for later. */
	assert_int_equal(loop_io_add(l, &p->io, p->fds[1], 0, pipe_cb), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 0);
	assert_int_equal(loop_io_modify(&p->io, EPOLLOUT), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 1);
	assert_true(p->revents & EPOLLOUT);
	assert_int_equal(loop_io_modify(&p->io, 0), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(p->calls, 1);
	loop_io_remove(&p->io);
	memset(&wio, 0, sizeof(wio));
	assert_int_equal(loop_io_modify(&wio, EPOLLIN), -ENOENT);
	pipe_src_free(p);
	loop_free(l);
}

/*
 * Two sources ready in the same batch; whichever is called first removes
 * the other (as a link monitor detaching a capture does), which must then
 * not be called.  Then the same with the other freed: under ASan a call
 * would also be a use after free.
 */
static void remove_in_same_batch(void **state)
{
	struct loop *l = loop_make();

	(void) state;
	for (int keep = 1; keep >= 0; keep--) {
		struct pipe_src *a = pipe_src_new(l, true), *b = pipe_src_new(l, true);
		struct pipe_src *va[1] = { b }, *vb[1] = { a }, *survivor;

		a->victims = va;
		b->victims = vb;
		a->n_victims = b->n_victims = 1;
		a->keep_victims = b->keep_victims = keep;
		assert_int_equal(loop_run_once(l, 1000), 0);
		/* Exactly one ran and removed the other. */
		assert_true((va[0] == NULL) != (vb[0] == NULL));
		survivor = va[0] ? b : a;
		assert_int_equal(survivor->calls, 1);
		if (keep) {
			struct pipe_src *other = survivor == a ? b : a;

			assert_int_equal(other->calls, 0);
			assert_false(loop_io_active(&other->io));
			pipe_src_free(other);
		}
		/* The survivor is still served. */
		survivor->n_victims = 0;
		assert_int_equal(loop_run_once(l, 0), 0);
		assert_int_equal(survivor->calls, 2);
		pipe_src_free(survivor);
	}
	loop_free(l);
}

/* A source that removes and frees itself and every other source of the
 * batch. */
static void remove_self_and_others(void **state)
{
	enum { N = 8 };
	struct loop *l = loop_make();
	struct pipe_src *p[N], *victims[N];
	int total = 0;

	(void) state;
	for (int i = 0; i < N; i++)
		p[i] = pipe_src_new(l, true);
	/* Whichever is called first frees every source, itself included
	 * (the table is shared, so each is freed once): no other may run. */
	for (int i = 0; i < N; i++) {
		victims[i] = p[i];
		p[i]->victims = victims;
		p[i]->n_victims = N;
	}
	assert_int_equal(loop_run_once(l, 1000), 0);
	for (int i = 0; i < N; i++)
		total += victims[i] == NULL;
	assert_int_equal(total, N);
	/* Nothing is left to call. */
	assert_int_equal(loop_run_once(l, 0), 0);
	loop_free(l);
}

struct tmr {
	struct loop_timer t;
	int id;
	int *order;
	size_t *n_order;
	int rearm; /* re-arm for now this many times */
	int fired;
};

static void tmr_cb(struct loop_timer *t)
{
	struct tmr *x = LOOP_CONTAINER_OF(t, struct tmr, t);

	x->order[(*x->n_order)++] = x->id;
	x->fired++;
	if (x->rearm > 0) {
		x->rearm--;
		assert_int_equal(loop_timer_arm_in(t, 0), 0);
	}
}

/* timer_order's arming: timer k = (i * 17) % n is armed i-th, due at
 * (k / 2) * 3 ms; timer 0 is armed again last, at 200 ms. */
static bool key_before(int a, int b, int n)
{
	int due_a = a == 0 ? 200 : (a / 2) * 3, due_b = b == 0 ? 200 : (b / 2) * 3;
	int ia = a == 0 ? n : 0, ib = b == 0 ? n : 0;

	for (int i = 0; i < n; i++) {
		if (a != 0 && (i * 17) % n == a)
			ia = i;
		if (b != 0 && (i * 17) % n == b)
			ib = i;
	}
	return due_a < due_b || (due_a == due_b && ia < ib);
}

static void timer_order(void **state)
{
	enum { N = 40 };
	struct loop *l = loop_make();
	struct tmr ts[N];
	int order[N];
	size_t n_order = 0;
	uint64_t start = loop_now(l);

	(void) state;
	/* Armed in a scrambled order, some due together: they fire by due
	 * time, then in arming order; a disarmed one not at all. */
	for (int i = 0; i < N; i++) {
		int k = (i * 17) % N;

		ts[k] = (struct tmr){ .id = k, .order = order, .n_order = &n_order };
		loop_timer_init(&ts[k].t, l, tmr_cb);
	}
	for (int i = 0; i < N; i++) {
		int k = (i * 17) % N;

		assert_int_equal(loop_timer_arm_at(&ts[k].t, start + (uint64_t) (k / 2) * 3), 0);
		assert_true(loop_timer_armed(&ts[k].t));
	}
	loop_timer_disarm(&ts[7].t);
	loop_timer_disarm(&ts[7].t);
	assert_false(loop_timer_armed(&ts[7].t));
	/* Moved: armed again, later than all. */
	assert_int_equal(loop_timer_arm_at(&ts[0].t, start + 200), 0);
	while (n_order < N - 1)
		assert_true(loop_run_once(l, 1000) >= 0);
	assert_true(loop_now(l) >= start + 200);
	{
		/* Expected: by (due, arming index); 0 was armed last. */
		int want[N], n = 0;

		for (int k = 0; k < N; k++) {
			if (k == 7)
				continue;
			want[n++] = k;
			for (int j = n - 1; j > 0 && key_before(want[j], want[j - 1], N); j--) {
				int tmp = want[j];

				want[j] = want[j - 1];
				want[j - 1] = tmp;
			}
		}
		assert_int_equal((size_t) n, n_order);
		for (int j = 0; j < n; j++)
			assert_int_equal(order[j], want[j]);
	}
	for (int k = 0; k < N; k++)
		assert_int_equal(ts[k].fired, k == 7 ? 0 : 1);
	loop_free(l);
}

/* A timer that re-arms itself for now fires once per wakeup, so fds are
 * still served; and it can be re-armed for later. */
static void timer_rearm(void **state)
{
	struct loop *l = loop_make();
	struct pipe_src *p = pipe_src_new(l, true);
	struct tmr x;
	int order[16];
	size_t n_order = 0;
	uint64_t start;

	(void) state;
	x = (struct tmr){ .id = 1, .order = order, .n_order = &n_order, .rearm = 3 };
	loop_timer_init(&x.t, l, tmr_cb);
	assert_int_equal(loop_timer_arm_in(&x.t, 0), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(x.fired, 1);
	assert_int_equal(p->calls, 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(x.fired, 2);
	assert_int_equal(p->calls, 2);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(x.fired, 4);
	assert_false(loop_timer_armed(&x.t));
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(x.fired, 4);
	pipe_src_free(p);

	/* Re-armed for later: epoll_wait sleeps until then, not longer. */
	start = loop_now(l);
	assert_int_equal(loop_timer_arm_in(&x.t, 50), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(x.fired, 4);
	while (x.fired == 4)
		assert_int_equal(loop_run_once(l, -1), 0);
	assert_true(loop_now(l) >= start + 50);
	assert_true(loop_now(l) < start + 1000);
	loop_free(l);
}

static void exit_cb(struct loop_timer *t)
{
	loop_exit(t->loop, -ETIMEDOUT);
	loop_exit(t->loop, 0); /* the first code wins */
}

static void run_until_exit(void **state)
{
	struct loop *l = loop_make();
	struct loop_timer t;

	(void) state;
	loop_timer_init(&t, l, exit_cb);
	assert_int_equal(loop_timer_arm_in(&t, 10), 0);
	assert_int_equal(loop_run(l), -ETIMEDOUT);
	loop_free(l);
}

static void sig_cb(struct loop *l, const struct signalfd_siginfo *si, void *ud)
{
	int *got = ud;

	*got = (int) si->ssi_signo;
	if (si->ssi_signo == SIGHUP)
		loop_exit(l, 7);
}

static void signal_delivery(void **state)
{
	struct loop *l = loop_make();
	int got = 0;

	(void) state;
	/* Default: SIGHUP is ignored, SIGTERM ends the loop with 0. */
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(kill(getpid(), SIGTERM), 0);
	assert_int_equal(loop_run(l), 0);
	/* A handler of our own. */
	loop_signal_set(l, sig_cb, &got);
	assert_int_equal(kill(getpid(), SIGINT), 0);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(got, SIGINT);
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(got, SIGHUP);
	loop_free(l);
	/* The mask is back: SIGHUP is no longer blocked. */
	{
		sigset_t cur;

		assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
		assert_false(sigismember(&cur, SIGHUP));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fd_readiness),		cmocka_unit_test(modify_events),
		cmocka_unit_test(remove_in_same_batch), cmocka_unit_test(remove_self_and_others),
		cmocka_unit_test(timer_order),		cmocka_unit_test(timer_rearm),
		cmocka_unit_test(run_until_exit),	cmocka_unit_test(signal_delivery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
