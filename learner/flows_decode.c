/*
 * Decoding the values of a flows file (docs/flows-format.md) into flows and
 * peers, with errors that name the file, the flow index and the field.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_int.h"
#include "proto.h"
#include "rfc3339.h"

const char *const flows_member_names[_FM_MAX] = {
	[FM_SRC] = "src",
	[FM_DST] = "dst",
	[FM_PROTOCOL] = "protocol",
	[FM_PORT] = "port",
	[FM_PACKETS] = "packets",
	[FM_BYTES] = "bytes",
	[FM_CONNECTIONS] = "connections",
	[FM_FIRST_SEEN] = "first_seen",
	[FM_LAST_SEEN] = "last_seen",
	[FM_SEEN_BY] = "seen_by",
};

int flows_bad(struct flows_ctx *c, const char *field, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (c->index == SIZE_MAX)
		return bh_err_set(c->err, BH_ERR_INPUT, -EINVAL, "flows '%s': field '%s': %s",
				  c->name, field, what);
	return bh_err_set(c->err, BH_ERR_INPUT, -EINVAL, "flows '%s': flows[%zu].%s%s%s: %s",
			  c->name, c->index, c->side ? c->side : "", c->side && *field ? "." : "",
			  field, what);
}

static int count_of(struct flows_ctx *c, json_t *v, const char *field, uint64_t *ret)
{
	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return flows_bad(c, field, "expected an integer >= 0");
	*ret = (uint64_t) json_integer_value(v);
	return 0;
}

int flows_get_count(struct flows_ctx *c, json_t *obj, const char *key, const char *field,
		    uint64_t *ret)
{
	return count_of(c, json_object_get(obj, key), field, ret);
}

static int time_of(struct flows_ctx *c, json_t *v, const char *key, int64_t *ret)
{
	if (!v)
		return flows_bad(c, key, "missing (expected an RFC 3339 UTC time)");
	if (!json_is_string(v) || rfc3339_parse(json_string_value(v), ret) < 0)
		return flows_bad(c, key,
				 "expected an RFC 3339 time such as '2026-11-22T06:30:00Z'");
	return 0;
}

int flows_get_time(struct flows_ctx *c, json_t *obj, const char *key, int64_t *ret)
{
	return time_of(c, json_object_get(obj, key), key, ret);
}

/* Copies an optional string member; *ret stays NULL when absent. */
int flows_get_str(struct flows_ctx *c, json_t *obj, const char *key, const char *field,
		  bool required, char **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return flows_bad(c, field, "missing");
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return flows_bad(c, field, "expected a non-empty string");
	*ret = strdup(json_string_value(v));
	if (!*ret)
		return bh_err_oom(c->err);
	return 0;
}

/* Field names in errors are built only on failure: formatting them for
 * every peer was a measurable share of reading a large file. */
static int decode_peer(struct flows_ctx *c, json_t *obj, const char *side, struct addr *ret_addr,
		       struct flow_peer *p)
{
	json_t *v, *wl, *labels;
	const char *key;
	int r;

	*p = (struct flow_peer){ 0 };
	labels_init(&p->labels);
	c->side = side;
	if (!json_is_object(obj)) {
		r = flows_bad(c, "", "expected an object");
		goto fail;
	}
	v = json_object_get(obj, "ip");
	if (!json_is_string(v) || addr_parse(json_string_value(v), ret_addr) < 0) {
		r = flows_bad(c, "ip", "expected an IPv4 or IPv6 address");
		goto fail;
	}
	v = json_object_get(obj, "kind");
	if (!v) {
		p->kind = FLOW_PEER_UNKNOWN;
	} else if (!json_is_string(v) || flow_peer_kind_parse(json_string_value(v), &p->kind) < 0) {
		r = flows_bad(c, "kind", "expected 'pod', 'node', 'external' or 'unknown'");
		goto fail;
	}
	r = flows_get_str(c, obj, "namespace", "namespace", p->kind == FLOW_PEER_POD, &p->ns);
	if (r < 0)
		goto fail;
	r = flows_get_str(c, obj, "name", "name", p->kind == FLOW_PEER_POD, &p->name);
	if (r < 0)
		goto fail;

	wl = json_object_get(obj, "workload");
	if (wl) {
		if (!json_is_object(wl)) {
			r = flows_bad(c, "workload", "expected an object with 'kind' and 'name'");
			goto fail;
		}
		r = flows_get_str(c, wl, "kind", "workload.kind", true, &p->workload_kind);
		if (r < 0)
			goto fail;
		r = flows_get_str(c, wl, "name", "workload.name", true, &p->workload_name);
		if (r < 0)
			goto fail;
	}

	labels = json_object_get(obj, "labels");
	if (labels) {
		if (!json_is_object(labels)) {
			r = flows_bad(c, "labels", "expected an object of strings");
			goto fail;
		}
		json_object_foreach(labels, key, v) {
			if (!json_is_string(v) || !*key) {
				r = flows_bad(c, "labels", "label '%s': expected a string value",
					      key);
				goto fail;
			}
			r = labels_set(&p->labels, key, json_string_value(v));
			if (r < 0) {
				r = bh_err_oom(c->err);
				goto fail;
			}
		}
	}
	c->side = NULL;
	return 0;

fail:
	c->side = NULL;
	flow_peer_done(p);
	return r;
}

static void peer_ent_get(const struct flows_peer_ent *e, struct addr *ret_addr, struct flow_peer *p)
{
	*ret_addr = e->addr;
	*p = e->peer;
	p->borrowed = true;
}

/*
 * A flow from its member values (borrowed, NULL when absent); @src_ent
 * and @dst_ent, when set, replace "src"/"dst".
 */
int flows_decode_members(struct flows_ctx *c, json_t *const *m,
			 const struct flows_peer_ent *src_ent, const struct flows_peer_ent *dst_ent,
			 struct flow_record *f)
{
	json_t *v, *item;
	size_t i;
	int r;

	*f = (struct flow_record){ 0 };
	r = 0;
	if (src_ent)
		peer_ent_get(src_ent, &f->key.src, &f->src_peer);
	else
		r = decode_peer(c, m[FM_SRC], "src", &f->key.src, &f->src_peer);
	if (r < 0)
		return r;
	if (dst_ent)
		peer_ent_get(dst_ent, &f->key.dst, &f->dst_peer);
	else
		r = decode_peer(c, m[FM_DST], "dst", &f->key.dst, &f->dst_peer);
	if (r < 0)
		goto fail;
	if (f->key.src.family != f->key.dst.family) {
		r = flows_bad(c, "dst.ip", "address family differs from src.ip");
		goto fail;
	}

	v = m[FM_PROTOCOL];
	if (!json_is_string(v) || proto_parse(json_string_value(v), &f->key.proto) < 0) {
		r = flows_bad(c, "protocol", "expected 'TCP', 'UDP' or 'SCTP'");
		goto fail;
	}
	v = m[FM_PORT];
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
		r = flows_bad(c, "port", "expected an integer 0..65535");
		goto fail;
	}
	f->key.port = (uint16_t) json_integer_value(v);

	if ((r = count_of(c, m[FM_PACKETS], "packets", &f->packets)) < 0 ||
	    (r = count_of(c, m[FM_BYTES], "bytes", &f->bytes)) < 0 ||
	    (r = count_of(c, m[FM_CONNECTIONS], "connections", &f->connections)) < 0 ||
	    (r = time_of(c, m[FM_FIRST_SEEN], "first_seen", &f->first_seen)) < 0 ||
	    (r = time_of(c, m[FM_LAST_SEEN], "last_seen", &f->last_seen)) < 0)
		goto fail;
	if (f->last_seen < f->first_seen) {
		r = flows_bad(c, "last_seen", "earlier than first_seen");
		goto fail;
	}

	v = m[FM_SEEN_BY];
	if (v && !json_is_array(v)) {
		r = flows_bad(c, "seen_by", "expected an array of 'pcap' and 'conntrack'");
		goto fail;
	}
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);

		if (s && strcmp(s, "pcap") == 0) {
			f->seen_by |= FLOW_SEEN_PCAP;
		} else if (s && strcmp(s, "conntrack") == 0) {
			f->seen_by |= FLOW_SEEN_CONNTRACK;
		} else {
			r = flows_bad(c, "seen_by", "element %zu: expected 'pcap' or 'conntrack'",
				      i);
			goto fail;
		}
	}
	return 0;

fail:
	flow_record_done(f);
	return r;
}

int flows_decode_flow(struct flows_ctx *c, json_t *obj, struct flow_record *f)
{
	json_t *m[_FM_MAX];

	*f = (struct flow_record){ 0 };
	if (!json_is_object(obj))
		return flows_bad(c, "", "expected an object");
	for (size_t i = 0; i < _FM_MAX; i++)
		m[i] = json_object_get(obj, flows_member_names[i]);
	return flows_decode_members(c, m, NULL, NULL, f);
}
