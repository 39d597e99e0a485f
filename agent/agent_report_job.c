/*
 * GET /report off the loop: the report (agent_report.c) is made in a
 * child process, fork()ed on the loop, and the requests wait suspended
 * (http_request_defer()) while the loop serves everything else.
 *
 * Why a child.  The report reads nearly everything the agent holds: the
 * cluster, the identity's tombstones, the flow table, the alerts, the
 * modes.  A worker thread would need a consistent copy of all of it, and
 * copying the cluster alone takes over 100 ms at 10,000 pods (the
 * enforcement copies it in steps for that reason, and starts again when
 * the cluster changes meanwhile).  fork() gives the child exactly that
 * copy, consistent by construction and copy-on-write, in the time the
 * kernel takes to copy the page tables: 2 to 4 ms for an agent of 10,000
 * pods and 200,000 flows (73 MB resident; docs/figures.md), against the
 * 0.4 to 0.7 s the report kept the loop busy.  The report's code runs
 * unchanged in the child, so its content cannot differ.
 *
 * The child closes every descriptor but stdin, stdout, stderr and a
 * memfd (the parent's sockets, epoll sets and database stay the
 * parent's), writes the report into the memfd and leaves with _exit()
 * (no atexit handlers, no stdio buffers of the parent flushed twice); it
 * dies with the parent (PR_SET_PDEATHSIG).  The parent watches a pidfd
 * (readable when the child has exited), reaps it, and answers every
 * waiting request from the memfd (the server sends it without copying it
 * into memory).  The child is the only thread of its process: locks that
 * another thread of the agent held at fork() stay held in it.  The one
 * other thread, the enforcement's compile (include/sync_build.h), neither
 * logs nor takes locks the report takes, except malloc's, which glibc's
 * fork() keeps consistent; a child that hangs all the same is killed
 * after REPORT_JOB_TIMEOUT_MS and its requests answered 500.
 *
 * Requests that come while a report is being made wait for the next one,
 * started when it is done, and all of them share it: an answer never
 * predates its request (a dismissed alert is never shown open after the
 * dismiss), and at most one child runs.
 *
 * SIGTERM: agent_report_stop() kills the child (SIGKILL), reaps it, and
 * answers the waiting requests 503, before the server stops.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_int.h"
#include "agent_report.h"
#include "buf.h"
#include "clock.h"
#include "http_server.h"
#include "json_out.h"
#include "log.h"
#include "vec.h"

/* A child that has not finished by then is hung (the report takes about
 * a second at 10,000 pods and 200,000 flows). */
#define REPORT_JOB_TIMEOUT_MS 120000

struct report_waiters {
	struct http_request **v; /* deferred requests (the server's handles) */
	size_t n, cap;
};

struct report_job {
	struct agent *a;
	pid_t pid; /* the child, -1 none (reaped) */
	int pidfd;
	int memfd;
	struct loop_io io; /* @pidfd */
	struct loop_timer timeout;
	uint64_t t0, fork_us;
	struct report_waiters cur; /* answered by the child under way */
	struct report_waiters next; /* came meanwhile: the next child's */
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t) n;
	}
	return 0;
}

/* The child: the report of its copy of the agent into @fd, then gone.
 * @stored: the proposals the parent read for it (the database connection
 * is the parent's, and its descriptor is closed here). */
__attribute__((noreturn)) static void
child_main(struct agent *a, const struct report_stored *stored, int fd, pid_t parent, int64_t now)
{
	struct json_out w;
	struct buf b;
	int r;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(2);
	if (fd > 3)
		(void) close_range(3, (unsigned) fd - 1, 0);
	(void) close_range((unsigned) fd + 1, ~0U, 0);
	buf_init(&b, HTTP_RESPONSE_MAX);
	json_out_init(&w, &b);
	r = agent_report_write(a, stored, now, &w);
	if (r == 0)
		r = write_all(fd, b.data ? b.data : "", b.len);
	_exit(r < 0 ? 1 : 0);
}

static void waiters_answer(struct report_waiters *ws, int fd, uint64_t size)
{
	for (size_t i = 0; i < ws->n; i++) {
		if (fd >= 0)
			(void) http_request_answer_fd(ws->v[i], "application/json", fd, size);
		else
			http_request_fail(ws->v[i], 500, "internal error\n");
	}
	ws->n = 0;
}

static void waiters_fail(struct report_waiters *ws, unsigned status, const char *text)
{
	for (size_t i = 0; i < ws->n; i++)
		http_request_fail(ws->v[i], status, text);
	ws->n = 0;
}

static int waiters_add(struct report_waiters *ws, struct http_request *req)
{
	if (ws->n == ws->cap) {
		struct http_request **v = vec_grow(ws->v, &ws->cap, ws->n + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		ws->v = v;
	}
	ws->v[ws->n++] = req;
	return 0;
}

/* The child gone: killed (it may still run) and reaped, its descriptors
 * closed; the requests stay. */
static void child_reset(struct report_job *j)
{
	loop_io_remove(&j->io);
	loop_timer_disarm(&j->timeout);
	if (j->pid > 0) {
		(void) kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	j->pid = -1;
	if (j->pidfd >= 0)
		(void) close(j->pidfd);
	if (j->memfd >= 0)
		(void) close(j->memfd);
	j->pidfd = j->memfd = -1;
}

static void child_done_cb(struct loop_io *io, uint32_t revents);
static void child_timeout_cb(struct loop_timer *t);

/* Forks the child for the requests of @j->cur. */
static int child_start(struct report_job *j)
{
	pid_t parent = getpid(), pid;
	int64_t now = (int64_t) time(NULL);
	struct report_stored stored = { 0 };
	int r;

	j->memfd = memfd_create("bulkhead-report", MFD_CLOEXEC);
	if (j->memfd < 0)
		return -errno;
	j->t0 = clock_mono_us();
	/* The stored proposals, read here: the child must not touch the
	 * loop's SQLite connection.  A read that fails leaves them out. */
	r = report_stored_load(j->a, &stored);
	if (r < 0)
		log_warning("agent: report: the stored proposals cannot be read, "
			    "leaving them out: %s",
			    strerror(-r));
	pid = fork();
	if (pid < 0) {
		r = -errno;
		report_stored_done(&stored);
		return r;
	}
	if (pid == 0)
		child_main(j->a, &stored, j->memfd, parent, now);
	report_stored_done(&stored);
	j->pid = pid;
	j->fork_us = clock_mono_us() - j->t0;
	j->pidfd = pidfd_open(pid, 0);
	if (j->pidfd < 0)
		return -errno;
	r = loop_io_add(j->a->loop, &j->io, j->pidfd, EPOLLIN, child_done_cb);
	if (r < 0)
		return r;
	return loop_timer_arm_in(&j->timeout, REPORT_JOB_TIMEOUT_MS);
}

/* The requests of @j->next become the current ones, and their child
 * starts; on failure they are answered 500.  Whether a child runs. */
static bool next_start(struct report_job *j)
{
	struct report_waiters t = j->cur;
	int r;

	j->cur = j->next;
	j->next = t;
	if (!j->cur.n)
		return false;
	r = child_start(j);
	if (r == 0)
		return true;
	(void) log_errno(LOG_WARNING, r, "agent: GET /report: cannot start the report's process");
	child_reset(j);
	waiters_answer(&j->cur, -1, 0);
	return false;
}

static struct report_job *job_free(struct report_job *j)
{
	if (!j)
		return NULL;
	child_reset(j);
	waiters_fail(&j->cur, 503, "the agent is stopping\n");
	waiters_fail(&j->next, 503, "the agent is stopping\n");
	free(j->cur.v);
	free(j->next.v);
	free(j);
	return NULL;
}

static void child_done_cb(struct loop_io *io, uint32_t revents)
{
	struct report_job *j = LOOP_CONTAINER_OF(io, struct report_job, io);
	struct stat st;
	int status = 0;
	bool ok;
	pid_t r;

	(void) revents;
	r = waitpid(j->pid, &status, WNOHANG);
	if (r == 0)
		return; /* (the pidfd is readable once it exited: not yet) */
	ok = r == j->pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	     fstat(j->memfd, &st) == 0;
	if (r == j->pid)
		j->pid = -1;
	if (ok) {
		log_debug("agent: GET /report: %lld bytes in %.1f ms, made in a child process (the "
			  "loop: fork %.1f ms), %zu requests",
			  (long long) st.st_size, (double) (clock_mono_us() - j->t0) / 1000.0,
			  (double) j->fork_us / 1000.0, j->cur.n);
		waiters_answer(&j->cur, j->memfd, (uint64_t) st.st_size);
	} else {
		log_warning("agent: GET /report: the report's process failed (%s %d)",
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		waiters_answer(&j->cur, -1, 0);
	}
	child_reset(j);
	if (!next_start(j))
		j->a->report_job = job_free(j);
}

static void child_timeout_cb(struct loop_timer *t)
{
	struct report_job *j = LOOP_CONTAINER_OF(t, struct report_job, timeout);

	log_warning("agent: GET /report: the report's process is still running after %u s, killing "
		    "it",
		    REPORT_JOB_TIMEOUT_MS / 1000);
	child_reset(j);
	waiters_answer(&j->cur, -1, 0);
	if (!next_start(j))
		j->a->report_job = job_free(j);
}

int agent_report_serve(struct agent *a, const struct http_request *creq)
{
	struct report_job *j = a->report_job;
	struct http_request *req = http_request_defer(creq);
	int r;

	if (j)
		/* A child runs: this one waits for the next. */
		return waiters_add(&j->next, req);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct report_job){ .a = a, .pid = -1, .pidfd = -1, .memfd = -1 };
	loop_timer_init(&j->timeout, a->loop, child_timeout_cb);
	r = waiters_add(&j->cur, req);
	if (r == 0)
		r = child_start(j);
	if (r < 0) {
		/* The request is answered 500 by the server (the handler's
		 * error): it is no waiter of ours. */
		j->cur.n = 0;
		(void) job_free(j);
		return log_errno(LOG_WARNING, r,
				 "agent: GET /report: cannot start the report's "
				 "process");
	}
	a->report_job = j;
	return 0;
}

void agent_report_stop(struct agent *a)
{
	a->report_job = job_free(a->report_job);
}
