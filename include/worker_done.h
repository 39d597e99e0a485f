/*
 * The last act of a worker thread whose owner runs an event loop: the
 * job's results are written, then its done flag set and the owner's
 * eventfd made readable.  The loop watches the eventfd, reads the flag
 * (atomic_load) and, once it is true, joins the thread and reads the
 * results.  Used by every job that computes off the loop (the proposal,
 * the cluster's Proposals, the snapshot load, the ruleset build).
 */
#ifndef BH_WORKER_DONE_H
#define BH_WORKER_DONE_H

#include <stdatomic.h>

/* Sets @done and writes 1 to the eventfd @efd. */
void worker_done(atomic_bool *done, int efd);

#endif
