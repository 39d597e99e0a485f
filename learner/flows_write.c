/*
 * flows.json v1 writer (docs/flows-format.md): a streaming document, one
 * flow per line, the header by lib/json_out.c and each flow by hand (its
 * keys as literals, numbers and addresses formatted in place, strings
 * through the one escaper) into a buffer flushed to the file every
 * FLOWS_WRITE_CHUNK bytes, one write each.  Building a jansson tree per flow
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
#include "rfc3339.h"

#define FLOWS_WRITE_CHUNK (256u * 1024)

/* A time formatted as a JSON string, kept for the next flow. */
struct flows_time {
	int64_t sec;
	bool ok;
	size_t len;
	char json[40];
};

struct flows_writer {
	struct atomic_file af;
	FILE *f; /* af.f, or stdout */
	const char *path; /* af.path, or "-" */
	bool to_stdout;
	size_t n; /* flows written */
	struct buf b;
	struct json_out w;
	struct flows_time first, last;
};

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

/* Room a flow takes at most besides its peers' names and labels: the keys,
 * two addresses, five numbers and two times. */
#define FLOW_FIXED_MAX 512

static char *lit(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define LIT(p, s) lit(p, s, sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char d[20];
	size_t i = sizeof(d);

	do {
		d[--i] = (char) ('0' + v % 10);
		v /= 10;
	} while (v);
	return lit(p, d + i, sizeof(d) - i);
}

/* A time as a JSON string; flows written together share their seconds,
 * so each is formatted once (@c caches the last one). */
static int put_time(struct buf *b, struct flows_time *c, int64_t t)
{
	char s[sizeof(c->json) - 2];
	size_t n;

	if (!c->ok || c->sec != t) {
		(void) rfc3339_format(t, s, sizeof(s));
		n = strlen(s);
		for (size_t i = 0; i < n; i++)
			if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\' ||
			    (unsigned char) s[i] >= 0x80)
				return json_escape_append(b, s, n); /* never: not cached */
		c->json[0] = '"';
		memcpy(c->json + 1, s, n);
		c->json[n + 1] = '"';
		c->len = n + 2;
		c->sec = t;
		c->ok = true;
	}
	return buf_append(b, c->json, c->len);
}

/* Key @k (a literal, with its quotes and colon) and the string @s. */
static int put_str(struct buf *b, const char *k, size_t klen, const char *s)
{
	int r = buf_append(b, k, klen);

	return r < 0 ? r : json_escape_append(b, s, strlen(s));
}

#define PUT_STR(b, k, s) put_str(b, k, sizeof(k) - 1, s)

static int put_peer(struct buf *b, const struct addr *a, const struct flow_peer *pe)
{
	const char *kind = flow_peer_kind_name(pe->kind);
	int r = buf_reserve(b, FLOW_FIXED_MAX / 2);
	char *p;

	if (r < 0)
		return r;
	p = LIT(b->data + b->len, "{\"ip\":\"");
	(void) addr_format(a, p, ADDR_STR_MAX); /* never needs escaping */
	p += strlen(p);
	p = LIT(p, "\",\"kind\":\"");
	p = lit(p, kind, strlen(kind));
	*p++ = '"';
	*p = '\0';
	b->len = (size_t) (p - b->data);
	if (pe->ns && (r = PUT_STR(b, ",\"namespace\":", pe->ns)) < 0)
		return r;
	if (pe->name && (r = PUT_STR(b, ",\"name\":", pe->name)) < 0)
		return r;
	if (pe->workload_kind && pe->workload_name) {
		if ((r = PUT_STR(b, ",\"workload\":{\"kind\":", pe->workload_kind)) < 0 ||
		    (r = PUT_STR(b, ",\"name\":", pe->workload_name)) < 0 ||
		    (r = buf_append(b, "}", 1)) < 0)
			return r;
	}
	for (size_t i = 0; i < pe->labels.n; i++) {
		const char *k = pe->labels.v[i].key;

		if ((r = buf_append(b, i ? "," : ",\"labels\":{", i ? 1 : 11)) < 0 ||
		    (r = json_escape_append(b, k, strlen(k))) < 0 ||
		    (r = PUT_STR(b, ":", pe->labels.v[i].value)) < 0)
			return r;
	}
	if (pe->labels.n && (r = buf_append(b, "}", 1)) < 0)
		return r;
	return buf_append(b, "}", 1);
}

/*
 * One flow a line, by hand into the buffer: the same bytes json_out wrote
 * (tests/unit/test_flows_json.c compares), at a fraction of the cost of a
 * call per key.  The array's json_out state never sees the flows: the
 * comma before every flow but the first is written here.
 */
static int record_put(struct buf *b, struct flows_time *first, struct flows_time *last,
		      const struct flow_record *f)
{
	const char *proto = proto_name(f->key.proto);
	size_t start = b->len;
	char *p;
	int r;

	if (!proto)
		return -EINVAL;
	r = buf_append(b, "{\"src\":", 7);
	if (r == 0)
		r = put_peer(b, &f->key.src, &f->src_peer);
	if (r == 0)
		r = buf_append(b, ",\"dst\":", 7);
	if (r == 0)
		r = put_peer(b, &f->key.dst, &f->dst_peer);
	if (r == 0)
		r = buf_reserve(b, FLOW_FIXED_MAX);
	if (r < 0)
		goto fail;
	p = LIT(b->data + b->len, ",\"protocol\":\"");
	p = lit(p, proto, strlen(proto));
	p = LIT(p, "\",\"port\":");
	p = put_u64(p, f->key.port);
	p = LIT(p, ",\"packets\":");
	p = put_u64(p, f->packets);
	p = LIT(p, ",\"bytes\":");
	p = put_u64(p, f->bytes);
	p = LIT(p, ",\"connections\":");
	p = put_u64(p, f->connections);
	p = LIT(p, ",\"first_seen\":");
	*p = '\0';
	b->len = (size_t) (p - b->data);
	r = put_time(b, first, f->first_seen);
	if (r == 0)
		r = buf_append(b, ",\"last_seen\":", 13);
	if (r == 0)
		r = put_time(b, last, f->last_seen);
	if (r == 0)
		r = buf_reserve(b, 64);
	if (r < 0)
		goto fail;
	p = LIT(b->data + b->len, ",\"seen_by\":[");
	if (f->seen_by & FLOW_SEEN_PCAP)
		p = LIT(p, "\"pcap\"");
	if ((f->seen_by & FLOW_SEEN_PCAP) && (f->seen_by & FLOW_SEEN_CONNTRACK))
		*p++ = ',';
	if (f->seen_by & FLOW_SEEN_CONNTRACK)
		p = LIT(p, "\"conntrack\"");
	p = LIT(p, "]}");
	*p = '\0';
	b->len = (size_t) (p - b->data);
	return 0;

fail:
	/* Nothing of a flow that did not fit. */
	if (b->data) {
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}

int flows_writer_add(struct flows_writer *w, const struct flow_record *f)
{
	size_t start = w->b.len;
	int r;

	if (!proto_name(f->key.proto))
		return -EINVAL;
	r = buf_append(&w->b, w->n ? ",\n" : "\n", w->n ? 2 : 1);
	if (r == 0)
		r = record_put(&w->b, &w->first, &w->last, f);
	if (r < 0) {
		if (w->b.data) {
			w->b.len = start;
			w->b.data[start] = '\0';
		}
		return r == -E2BIG ? -ENOMEM : r;
	}
	w->n++;
	return w->b.len >= FLOWS_WRITE_CHUNK ? flush(w) : 0;
}

int flows_record_append(struct buf *b, const struct flow_record *f)
{
	struct flows_time first = { 0 }, last = { 0 };

	return record_put(b, &first, &last, f);
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
	json_out_arr_end(&w->w); /* "\n]": the flows were written by hand */
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
