/*
 * flows.json v1 (docs/flows-format.md): the learner writes it, propose and
 * the report read it.  The reader is learner/flows_json.c, the writer
 * learner/flows_write.c.
 */
#ifndef BH_FLOWS_JSON_H
#define BH_FLOWS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "flow.h"

#define FLOWS_JSON_VERSION 1
#define FLOWS_JSON_API_VERSION "bulkhead.io/v1"
#define FLOWS_JSON_KIND "FlowList"

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

/* The document's members other than its flows. */
struct flows_header {
	const char *node; /* borrowed, may be NULL */
	int64_t generated; /* unix seconds */
	uint64_t packets, evicted, overruns;
};

struct flows_writer;

/*
 * Streams a flows document to @path ("-": stdout), one flow at a time, so
 * memory stays that of one flow whatever their number: the temporary file
 * of an atomic write is created at once (so a path that cannot be written
 * fails here, before any work), flows are added in the order given, and
 * nothing appears at @path until flows_writer_commit().  The layout is
 * compact JSON with one flow per line.  @h is copied.
 */
int flows_writer_open(const char *path, const struct flows_header *h, struct flows_writer **ret,
		      struct bh_err *reterr);
/* Adds @f with its peers f->src_peer and f->dst_peer (borrowed).  -ENOMEM,
 * -EIO (write error), -EINVAL (a protocol with no name: a caller bug). */
int flows_writer_add(struct flows_writer *w, const struct flow_record *f);
/* Appends @f alone to @b as the writer writes it (one JSON object, no
 * separator): for documents that carry flow records inside others (a
 * NodeFlows object's spec.flows).  -ENOMEM, -E2BIG (@b's bound), -EINVAL
 * (a protocol with no name). */
struct buf;
int flows_record_append(struct buf *b, const struct flow_record *f);
/* Ends the document and puts it in place (fsync + rename); frees @w
 * whatever the outcome.  On failure @path is untouched. */
int flows_writer_commit(struct flows_writer *w, struct bh_err *reterr);
/* Discards the document; NULL-safe; always returns NULL. */
struct flows_writer *flows_writer_abort(struct flows_writer *w);

#endif
