/*
 * flows.json v1 (docs/flows-format.md): the learner writes it, propose and
 * the report read it.  Implemented in learner/flows_json.c.
 */
#ifndef BH_FLOWS_JSON_H
#define BH_FLOWS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "flow.h"

#define FLOWS_JSON_VERSION 1

struct flow_set {
	char *node; /* owned, may be NULL */
	int64_t generated; /* unix seconds */
	uint64_t stat_packets, stat_evicted, stat_overruns;
	size_t n;
	struct flow_record *flows; /* owned */
	/* Owned: the distinct peers read from files, which records share
	 * (their peers are borrowed from here: flow_peer.borrowed). */
	size_t n_peers;
	struct flow_peer *peers;
};

void flow_set_init(struct flow_set *s);
void flow_set_done(struct flow_set *s);
/* Frees the owned strings and labels of one peer (a borrowed peer is only
 * cleared). */
void flow_peer_done(struct flow_peer *p);

/*
 * Reads one file (or "-" for stdin) and appends its flows to @s, merging
 * records with equal keys (counters summed, times widened, seen_by ORed).
 * On failure @s is unchanged and @reterr names the file and the flow index
 * and field at fault.
 */
int flows_json_load(struct flow_set *s, const char *path, struct bh_err *reterr);
int flows_json_load_buf(struct flow_set *s, const char *data, size_t len, const char *name,
			struct bh_err *reterr);

/* Writes @s sorted by key, atomically (temporary file + rename); "-" writes
 * to stdout. */
int flows_json_write(const struct flow_set *s, const char *path, struct bh_err *reterr);

#endif
