/*
 * flows.json v1 writer (docs/flows-format.md): a streaming document, one
 * flow per line, emitted by hand (lib/json_out.c) into a buffer flushed to
 * the file every FLOWS_WRITE_CHUNK bytes.  Building a jansson tree per flow
 * and indenting it was most of `learn`'s time at 700,000 flows, and the
 * indentation most of the file (410 bytes a flow, now about 200 for a flow
 * between unresolved addresses).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "buf.h"
#include "flows_json.h"
#include "json_out.h"
#include "proto.h"

#define FLOWS_WRITE_CHUNK (64u * 1024)

struct flows_writer {
	struct atomic_file af;
	FILE *f; /* af.f, or stdout */
	const char *path; /* af.path, or "-" */
	bool to_stdout;
	size_t n; /* flows written */
	struct buf b;
	struct json_out w;
};

static const char *peer_kind_name(enum flow_peer_kind k)
{
	switch (k) {
	case FLOW_PEER_POD:
		return "pod";
	case FLOW_PEER_NODE:
		return "node";
	case FLOW_PEER_EXTERNAL:
		return "external";
	default:
		return "unknown";
	}
}

static int flush(struct flows_writer *w)
{
	if (w->b.len && fwrite(w->b.data, 1, w->b.len, w->f) != w->b.len)
		return -EIO;
	buf_reset(&w->b);
	return 0;
}

int flows_writer_open(const char *path, const struct flows_header *h, struct flows_writer **ret,
		      struct bh_err *reterr)
{
	struct flows_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return bh_err_oom(reterr);
	buf_init(&w->b, SIZE_MAX);
	w->to_stdout = strcmp(path, "-") == 0;
	if (w->to_stdout) {
		w->f = stdout;
		w->path = "-";
	} else {
		r = atomic_file_open(&w->af, path, reterr);
		if (r < 0) {
			free(w);
			return r;
		}
		w->f = w->af.f;
		w->path = w->af.path;
	}
	json_out_init(&w->w, &w->b);
	json_out_obj_begin(&w->w);
	json_out_key(&w->w, "apiVersion");
	json_out_str(&w->w, FLOWS_JSON_API_VERSION);
	json_out_key(&w->w, "kind");
	json_out_str(&w->w, FLOWS_JSON_KIND);
	json_out_key(&w->w, "version");
	json_out_int(&w->w, FLOWS_JSON_VERSION);
	if (h->node) {
		json_out_key(&w->w, "node");
		json_out_str(&w->w, h->node);
	}
	json_out_key(&w->w, "generated");
	json_out_time(&w->w, h->generated);
	json_out_key(&w->w, "stats");
	json_out_obj_begin(&w->w);
	json_out_key(&w->w, "packets");
	json_out_uint(&w->w, h->packets);
	json_out_key(&w->w, "evicted");
	json_out_uint(&w->w, h->evicted);
	json_out_key(&w->w, "overruns");
	json_out_uint(&w->w, h->overruns);
	json_out_obj_end(&w->w);
	json_out_key(&w->w, "flows");
	json_out_arr_begin(&w->w);
	if (json_out_error(&w->w) < 0) {
		(void) flows_writer_abort(w);
		return bh_err_oom(reterr);
	}
	*ret = w;
	return 0;
}

static void put_peer(struct json_out *w, const struct addr *a, const struct flow_peer *p)
{
	char ip[ADDR_STR_MAX];

	json_out_obj_begin(w);
	json_out_key(w, "ip");
	json_out_str(w, addr_format(a, ip, sizeof(ip)));
	json_out_key(w, "kind");
	json_out_str(w, peer_kind_name(p->kind));
	if (p->ns) {
		json_out_key(w, "namespace");
		json_out_str(w, p->ns);
	}
	if (p->name) {
		json_out_key(w, "name");
		json_out_str(w, p->name);
	}
	if (p->workload_kind && p->workload_name) {
		json_out_key(w, "workload");
		json_out_obj_begin(w);
		json_out_key(w, "kind");
		json_out_str(w, p->workload_kind);
		json_out_key(w, "name");
		json_out_str(w, p->workload_name);
		json_out_obj_end(w);
	}
	if (p->labels.n) {
		json_out_key(w, "labels");
		json_out_obj_begin(w);
		for (size_t i = 0; i < p->labels.n; i++) {
			json_out_key(w, p->labels.v[i].key);
			json_out_str(w, p->labels.v[i].value);
		}
		json_out_obj_end(w);
	}
	json_out_obj_end(w);
}

int flows_writer_add(struct flows_writer *w, const struct flow_record *f)
{
	const char *proto = proto_name(f->key.proto);
	struct json_out *j = &w->w;

	if (!proto)
		return -EINVAL;
	json_out_newline(j); /* one flow a line */
	json_out_obj_begin(j);
	json_out_key(j, "src");
	put_peer(j, &f->key.src, &f->src_peer);
	json_out_key(j, "dst");
	put_peer(j, &f->key.dst, &f->dst_peer);
	json_out_key(j, "protocol");
	json_out_str(j, proto);
	json_out_key(j, "port");
	json_out_uint(j, f->key.port);
	json_out_key(j, "packets");
	json_out_uint(j, f->packets);
	json_out_key(j, "bytes");
	json_out_uint(j, f->bytes);
	json_out_key(j, "connections");
	json_out_uint(j, f->connections);
	json_out_key(j, "first_seen");
	json_out_time(j, f->first_seen);
	json_out_key(j, "last_seen");
	json_out_time(j, f->last_seen);
	json_out_key(j, "seen_by");
	json_out_arr_begin(j);
	if (f->seen_by & FLOW_SEEN_PCAP)
		json_out_str(j, "pcap");
	if (f->seen_by & FLOW_SEEN_CONNTRACK)
		json_out_str(j, "conntrack");
	json_out_arr_end(j);
	json_out_obj_end(j);
	if (json_out_error(j) < 0)
		return json_out_error(j);
	w->n++;
	return w->b.len >= FLOWS_WRITE_CHUNK ? flush(w) : 0;
}

struct flows_writer *flows_writer_abort(struct flows_writer *w)
{
	if (!w)
		return NULL;
	if (!w->to_stdout)
		atomic_file_abort(&w->af);
	buf_done(&w->b);
	free(w);
	return NULL;
}

int flows_writer_commit(struct flows_writer *w, struct bh_err *reterr)
{
	int r;

	json_out_newline(&w->w);
	json_out_arr_end(&w->w);
	json_out_obj_end(&w->w);
	r = json_out_error(&w->w);
	if (r == 0)
		r = buf_append(&w->b, "\n", 1);
	if (r < 0) {
		(void) flows_writer_abort(w);
		return bh_err_oom(reterr);
	}
	if (flush(w) < 0 || (w->to_stdout && fflush(stdout) != 0)) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "flows '%s': write error", w->path);
		(void) flows_writer_abort(w);
		return r;
	}
	if (!w->to_stdout)
		r = atomic_file_commit(&w->af, reterr);
	buf_done(&w->b);
	free(w);
	return r;
}

static int ptr_record_cmp(const void *a, const void *b)
{
	const struct flow_record *x = *(const struct flow_record *const *) a;
	const struct flow_record *y = *(const struct flow_record *const *) b;

	return flow_key_cmp(&x->key, &y->key);
}

int flows_json_write(const struct flow_set *s, const char *path, struct bh_err *reterr)
{
	const struct flows_header h = {
		.node = s->node,
		.generated = s->generated,
		.packets = s->stat_packets,
		.evicted = s->stat_evicted,
		.overruns = s->stat_overruns,
	};
	const struct flow_record **order;
	struct flows_writer *w;
	int r;

	order = malloc((s->n ? s->n : 1) * sizeof(*order));
	if (!order)
		return bh_err_oom(reterr);
	for (size_t i = 0; i < s->n; i++)
		order[i] = &s->flows[i];
	qsort(order, s->n, sizeof(*order), ptr_record_cmp);
	r = flows_writer_open(path, &h, &w, reterr);
	for (size_t i = 0; r == 0 && i < s->n; i++) {
		r = flows_writer_add(w, order[i]);
		if (r == -ENOMEM)
			(void) bh_err_oom(reterr);
		else if (r < 0)
			(void) bh_err_set(reterr, BH_ERR_SYSTEM, r, "flows '%s': write error",
					  path);
		if (r < 0)
			w = flows_writer_abort(w);
	}
	if (r == 0)
		r = flows_writer_commit(w, reterr);
	free(order);
	return r;
}
