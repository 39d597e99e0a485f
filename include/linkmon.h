/*
 * Link monitor: follows the network interfaces whose names match shell
 * globs (e.g. 'veth*', 'cali*') through rtnetlink link notifications
 * (libnl-route cache manager), and reports each one that comes up or goes
 * away, so captures can be attached as pods come and detached as they go.
 * Driven by the caller's loop: linkmon_fd() + linkmon_process().
 */
#ifndef BH_LINKMON_H
#define BH_LINKMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* @up: the link matched and is up (attach), or went down or away (detach). */
typedef void linkmon_change_fn(void *userdata, const char *ifname, int ifindex, bool up);

struct linkmon_stats {
	uint64_t overruns; /* notifications lost (ENOBUFS): resynced */
	uint64_t attached, detached;
};

struct linkmon;

/*
 * Starts monitoring; @globs (borrowed, must outlive the monitor) are
 * fnmatch(3) patterns.  @cb is called from linkmon_new() for every matching
 * link already up, then from linkmon_process().  -errno with @reterr.
 */
int linkmon_new(const char *const *globs, size_t n_globs, linkmon_change_fn *cb, void *userdata,
		struct linkmon **ret, struct bh_err *reterr);
/* NULL-safe; returns NULL.  Reports nothing. */
struct linkmon *linkmon_free(struct linkmon *m);

int linkmon_fd(const struct linkmon *m);
/* Handles waiting notifications; >= 0, or -errno with @reterr. */
int linkmon_process(struct linkmon *m, struct bh_err *reterr);

/* True when @name matches @glob as the monitor matches it (fnmatch(3),
 * no flags): for callers that count matches per glob. */
bool linkmon_glob_match(const char *glob, const char *name);
/* True when @name matches one of the globs. */
bool linkmon_match(const struct linkmon *m, const char *name);

const struct linkmon_stats *linkmon_stats(const struct linkmon *m);

#endif
