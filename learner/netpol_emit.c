/*
 * NetworkPolicy objects as JSON and YAML (include/netpol_emit.h).
 *
 * YAML goes through libyaml's event emitter rather than string pasting, so
 * quoting, escaping and indentation are libyaml's.  What libyaml cannot
 * know is which plain strings a YAML 1.1 reader (kubectl's sigs.k8s.io/yaml,
 * PyYAML) would turn into booleans, numbers, nulls or times: those are
 * double-quoted here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "arena.h"
#include "netpol_emit.h"
#include "proto.h"

/* ---- YAML events ---- */

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
	return buf_append(data, buffer, size) == 0; /* libyaml: 1 is success */
}

/* Would a YAML 1.1 reader resolve plain @s to something other than a
 * string?  Conservative: anything starting like a number, and the
 * boolean and null words in every case. */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "y",     "yes", "n",   "no",   "true",
					     "false", "on",  "off", "null", "~" };

	if (!*s || strchr("0123456789+-.", *s))
		return true;
	for (size_t i = 0; i < BH_ARRAY_SIZE(words); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
	if (!ok)
		return -ENOMEM;
	return yaml_emitter_emit(em, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	return emit(em, &ev,
		    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s,
						 (int) strlen(s), 1, 1, style));
}

/*
 * The model is walked into jansson trees (netpol_emit_json(),
 * netpol_emit_list()).  The List's JSON and YAML text are made from one
 * policy's tree at a time (netpol_emit_list_json/yaml()), each built in an
 * arena and dropped after it is written: a tree of the whole List
 * (hundreds of thousands of nodes at 200,000 flows) was most of the cost
 * of printing it.
 */

/* Deeper than any NetworkPolicy List nests. */
#define WR_DEPTH_MAX 32

struct wr {
	int err; /* first failure; every call after it does nothing */
	size_t depth;
	json_t *stack[WR_DEPTH_MAX];
	json_t *root;
	const char *key; /* borrowed until the member's value is added */
};

static void wr_fail(struct wr *w, int r)
{
	if (r < 0 && !w->err)
		w->err = r;
}

/* Adds a new node to the tree: to the open array, or as the value of the
 * pending key.  Takes the reference. */
static void wr_tree_add(struct wr *w, json_t *v)
{
	json_t *top;
	int r;

	if (!v) {
		wr_fail(w, -ENOMEM);
		return;
	}
	if (!w->depth) {
		if (w->root)
			json_decref(w->root);
		w->root = v;
		return;
	}
	top = w->stack[w->depth - 1];
	if (json_is_array(top)) {
		r = json_array_append_new(top, v);
	} else {
		r = w->key ? json_object_set_new(top, w->key, v) : (json_decref(v), -1);
		w->key = NULL;
	}
	if (r < 0)
		wr_fail(w, -ENOMEM);
}

static void wr_key(struct wr *w, const char *key)
{
	if (!w->err)
		w->key = key;
}

static void wr_open(struct wr *w, bool object)
{
	json_t *v;

	if (w->err)
		return;
	if (w->depth == WR_DEPTH_MAX) {
		wr_fail(w, -E2BIG);
		return;
	}
	v = object ? json_object() : json_array();
	wr_tree_add(w, json_incref(v));
	json_decref(v);
	if (w->err)
		return;
	w->stack[w->depth++] = v;
}

static void wr_close(struct wr *w, bool object)
{
	(void) object; /* the walk reads as the document nests */
	if (!w->err)
		w->depth--;
}

static void wr_str(struct wr *w, const char *s)
{
	if (w->err)
		return;
	if (!s) {
		wr_fail(w, -EINVAL);
		return;
	}
	wr_tree_add(w, json_string(s));
}

static void wr_int(struct wr *w, json_int_t v)
{
	if (!w->err)
		wr_tree_add(w, json_integer(v));
}

static void wr_key_str(struct wr *w, const char *key, const char *s)
{
	wr_key(w, key);
	wr_str(w, s);
}

/* ---- the model, walked ---- */

static void labels_write(struct wr *w, const struct labels *l)
{
	wr_open(w, true);
	for (size_t i = 0; i < l->n; i++)
		wr_key_str(w, l->v[i].key, l->v[i].value);
	wr_close(w, true);
}

static void selector_write(struct wr *w, const struct selector *s)
{
	wr_open(w, true);
	if (s->match_labels.n) {
		wr_key(w, "matchLabels");
		labels_write(w, &s->match_labels);
	}
	if (s->n_reqs) {
		wr_key(w, "matchExpressions");
		wr_open(w, false);
		for (size_t i = 0; i < s->n_reqs; i++) {
			const struct selector_req *q = &s->reqs[i];

			wr_open(w, true);
			wr_key_str(w, "key", q->key);
			wr_key_str(w, "operator", selector_op_name(q->op));
			if (q->n_values) {
				wr_key(w, "values");
				wr_open(w, false);
				for (size_t k = 0; k < q->n_values; k++)
					wr_str(w, q->values[k]);
				wr_close(w, false);
			}
			wr_close(w, true);
		}
		wr_close(w, false);
	}
	wr_close(w, true);
}

static void peer_write(struct wr *w, const struct netpol_peer *p)
{
	char buf[ADDR_STR_MAX];

	wr_open(w, true);
	if (p->kind == NETPOL_PEER_IPBLOCK) {
		wr_key(w, "ipBlock");
		wr_open(w, true);
		wr_key_str(w, "cidr", cidr_format(&p->cidr, buf, sizeof(buf)));
		if (p->n_except) {
			wr_key(w, "except");
			wr_open(w, false);
			for (size_t i = 0; i < p->n_except; i++)
				wr_str(w, cidr_format(&p->except[i], buf, sizeof(buf)));
			wr_close(w, false);
		}
		wr_close(w, true);
	} else {
		if (p->pod_sel) {
			wr_key(w, "podSelector");
			selector_write(w, p->pod_sel);
		}
		if (p->ns_sel) {
			wr_key(w, "namespaceSelector");
			selector_write(w, p->ns_sel);
		}
	}
	wr_close(w, true);
}

static void port_write(struct wr *w, const struct netpol_port *pp)
{
	wr_open(w, true);
	wr_key_str(w, "protocol", proto_name(pp->protocol));
	switch (pp->kind) {
	case NETPOL_PORT_ANY:
		break;
	case NETPOL_PORT_NAME:
		wr_key_str(w, "port", pp->name);
		break;
	case NETPOL_PORT_NUMBER:
		wr_key(w, "port");
		wr_int(w, pp->port);
		if (pp->end_port && pp->end_port > pp->port) {
			wr_key(w, "endPort");
			wr_int(w, pp->end_port);
		}
		break;
	}
	wr_close(w, true);
}

static void rule_write(struct wr *w, const struct netpol_rule *r, enum netpol_dir d)
{
	wr_open(w, true);
	if (r->n_peers) {
		wr_key(w, d == NETPOL_INGRESS ? "from" : "to");
		wr_open(w, false);
		for (size_t i = 0; i < r->n_peers; i++)
			peer_write(w, &r->peers[i]);
		wr_close(w, false);
	}
	if (r->n_ports) {
		wr_key(w, "ports");
		wr_open(w, false);
		for (size_t i = 0; i < r->n_ports; i++)
			port_write(w, &r->ports[i]);
		wr_close(w, false);
	}
	wr_close(w, true);
}

static void netpol_write(struct wr *w, const struct netpol *np, const struct labels *labels,
			 const struct labels *annotations)
{
	static const char *const type_names[] = {
		[NETPOL_INGRESS] = "Ingress", [NETPOL_EGRESS] = "Egress"
	};

	wr_open(w, true);
	wr_key_str(w, "apiVersion", "networking.k8s.io/v1");
	wr_key_str(w, "kind", "NetworkPolicy");
	wr_key(w, "metadata");
	wr_open(w, true);
	wr_key_str(w, "name", np->name);
	wr_key_str(w, "namespace", np->ns);
	if (labels && labels->n) {
		wr_key(w, "labels");
		labels_write(w, labels);
	}
	if (annotations && annotations->n) {
		wr_key(w, "annotations");
		labels_write(w, annotations);
	}
	wr_close(w, true);
	wr_key(w, "spec");
	wr_open(w, true);
	wr_key(w, "podSelector");
	selector_write(w, &np->pod_sel);
	wr_key(w, "policyTypes");
	wr_open(w, false);
	for (int d = 0; d < _NETPOL_DIR_MAX; d++)
		if (np->types[d])
			wr_str(w, type_names[d]);
	wr_close(w, false);
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		if (!np->n_rules[d])
			continue;
		wr_key(w, d == NETPOL_INGRESS ? "ingress" : "egress");
		wr_open(w, false);
		for (size_t i = 0; i < np->n_rules[d]; i++)
			rule_write(w, &np->rules[d][i], (enum netpol_dir) d);
		wr_close(w, false);
	}
	wr_close(w, true);
	wr_close(w, true);
}

static void list_write(struct wr *w, const struct proposal *p)
{
	wr_open(w, true);
	wr_key_str(w, "apiVersion", "v1");
	wr_key_str(w, "kind", "List");
	wr_key(w, "items");
	wr_open(w, false);
	for (size_t i = 0; i < p->n; i++)
		netpol_write(w, &p->v[i].np, &p->v[i].labels, &p->v[i].annotations);
	wr_close(w, false);
	wr_close(w, true);
}

/* The tree a walk built: a new reference, or NULL. */
static json_t *wr_tree_done(struct wr *w)
{
	if (w->err) {
		json_decref(w->root);
		return NULL;
	}
	return w->root;
}

json_t *netpol_emit_json(const struct netpol *np, const struct labels *labels,
			 const struct labels *annotations)
{
	struct wr w = { 0 };

	netpol_write(&w, np, labels, annotations);
	return wr_tree_done(&w);
}

json_t *netpol_emit_list(const struct proposal *p)
{
	struct wr w = { 0 };

	list_write(&w, p);
	return wr_tree_done(&w);
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
	return buf_append(data, buffer, size) < 0 ? -1 : 0;
}

int netpol_emit_json_text(const json_t *doc, struct buf *out)
{
	if (json_dump_callback(doc, dump_cb, out, JSON_INDENT(2)) < 0)
		return -ENOMEM;
	return buf_append(out, "\n", 1);
}

/* Scratch space for one item's dump, kept between items. */
struct scratch {
	char *p;
	size_t cap;
};

/* Appends jansson's dump of one item of the List, shifted right to the
 * item's depth: after every line break (strings never hold a raw one,
 * jansson escapes it) the indentation JSON_INDENT(2) gives depth 2. */
#define ITEM_INDENT "\n    "

static int item_append(const json_t *item, struct scratch *t, struct buf *out)
{
	size_t n = json_dumpb(item, t->p, t->cap, JSON_INDENT(2));
	const char *s, *end, *nl;
	int r = 0;

	if (!n)
		return -ENOMEM;
	if (n > t->cap) {
		char *p = realloc(t->p, n);

		if (!p)
			return -ENOMEM;
		t->p = p, t->cap = n;
		if (json_dumpb(item, t->p, t->cap, JSON_INDENT(2)) != n)
			return -ENOMEM;
	}
	for (s = t->p, end = s + n; r == 0 && (nl = memchr(s, '\n', (size_t) (end - s)));
	     s = nl + 1) {
		r = buf_append(out, s, (size_t) (nl - s));
		if (r == 0)
			r = buf_append(out, ITEM_INDENT, sizeof(ITEM_INDENT) - 1);
	}
	if (r == 0)
		r = buf_append(out, s, (size_t) (end - s));
	return r;
}

/* Per-item trees are small: allocating them from an arena makes building
 * and freeing them almost free.  Larger items fall back to malloc(). */
#define ITEM_ARENA_SIZE (256u * 1024)

/*
 * The List as json_dumps(netpol_emit_list(@p), JSON_INDENT(2)) would print
 * it, without holding the whole tree: jansson dumps the envelope (with
 * an empty "items") and then each policy's own tree in turn, indented to
 * its place inside "items".  Every byte of JSON is jansson's; only the
 * separators between items and their indentation are added here.
 */
int netpol_emit_list_json(const struct proposal *p, struct buf *out)
{
	struct wr env = { 0 };
	struct scratch tmp = { 0 };
	struct arena *arena, *prev;
	struct proposal none = { 0 };
	size_t len = out->len;
	char *head = NULL;
	const char *hole;
	int r = 0;

	list_write(&env, &none);
	if (env.err || !env.root)
		return env.err ? env.err : -ENOMEM;
	head = json_dumps(env.root, JSON_INDENT(2));
	json_decref(env.root);
	if (!head)
		return -ENOMEM;
	/* The envelope's only array is "items": split it at "[]". */
	hole = strstr(head, "[]");
	if (!hole) {
		free(head);
		return -EINVAL;
	}
	arena = arena_new(ITEM_ARENA_SIZE);
	prev = arena_json_bind(arena);
	(void) arena_set_active(arena, true);
	r = buf_append(out, head, (size_t) (hole - head) + 1);
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		json_t *item = netpol_emit_json(&p->v[i].np, &p->v[i].labels, &p->v[i].annotations);

		if (!item) {
			r = -ENOMEM;
			break;
		}
		r = buf_append(out, i ? "," ITEM_INDENT : ITEM_INDENT,
			       i ? sizeof(ITEM_INDENT) : sizeof(ITEM_INDENT) - 1);
		if (r == 0)
			r = item_append(item, &tmp, out);
		json_decref(item);
		arena_reset(arena);
	}
	if (r == 0 && p->n)
		r = buf_append(out, "\n  ", 3);
	if (r == 0)
		r = buf_append(out, hole + 1, strlen(hole + 1));
	if (r == 0)
		r = buf_append(out, "\n", 1);
	(void) arena_set_active(arena, false);
	(void) arena_json_bind(prev);
	arena_free(arena);
	free(tmp.p);
	free(head);
	if (r < 0)
		out->len = len;
	return r;
}

/* ---- YAML ---- */

static int emit_node(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	const char *key, *s;
	const json_t *item;
	char num[32];
	size_t i;
	int r;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		r = emit(em, &ev,
			 yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							     YAML_BLOCK_MAPPING_STYLE));
		json_object_foreach((json_t *) v, key, item) {
			if (r == 0)
				r = emit_scalar(em, key,
						needs_quotes(key) ?
							YAML_DOUBLE_QUOTED_SCALAR_STYLE :
							YAML_PLAIN_SCALAR_STYLE);
			if (r == 0)
				r = emit_node(em, item);
		}
		if (r == 0)
			r = emit(em, &ev, yaml_mapping_end_event_initialize(&ev));
		return r;
	case JSON_ARRAY:
		r = emit(em, &ev,
			 yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							      YAML_BLOCK_SEQUENCE_STYLE));
		json_array_foreach(v, i, item) {
			if (r == 0)
				r = emit_node(em, item);
		}
		if (r == 0)
			r = emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
		return r;
	case JSON_STRING:
		s = json_string_value(v);
		if (strchr(s, '\n'))
			return emit_scalar(em, s, YAML_LITERAL_SCALAR_STYLE);
		return emit_scalar(em, s,
				   needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
						     YAML_PLAIN_SCALAR_STYLE);
	case JSON_INTEGER:
		(void) snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(em, num, YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		(void) snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return emit_scalar(em, num, YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return emit_scalar(em, "true", YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return emit_scalar(em, "false", YAML_PLAIN_SCALAR_STYLE);
	default:
		return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
	}
}

/* Starts a YAML stream with one document on an initialised emitter. */
static int yaml_begin(yaml_emitter_t *em, struct buf *out)
{
	yaml_event_t ev;
	int r;

	yaml_emitter_set_output(em, write_cb, out);
	yaml_emitter_set_unicode(em, 1);
	yaml_emitter_set_indent(em, 2);
	yaml_emitter_set_width(em, -1);
	r = emit(em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	if (r == 0)
		r = emit(em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	return r;
}

/* Ends what yaml_begin() started (when @r is 0) and releases the emitter. */
static int yaml_end(yaml_emitter_t *em, int r)
{
	yaml_event_t ev;

	if (r == 0)
		r = emit(em, &ev, yaml_document_end_event_initialize(&ev, 1));
	if (r == 0)
		r = emit(em, &ev, yaml_stream_end_event_initialize(&ev));
	if (r == 0 && !yaml_emitter_flush(em))
		r = -EIO;
	yaml_emitter_delete(em);
	return r;
}

int netpol_emit_yaml(const json_t *doc, struct buf *out)
{
	yaml_emitter_t em;
	int r;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	r = yaml_begin(&em, out);
	if (r == 0)
		r = emit_node(&em, doc);
	return yaml_end(&em, r);
}

/* The policies of @p as a YAML sequence, one tree at a time (see
 * netpol_emit_list_json()). */
static int emit_items(yaml_emitter_t *em, const struct proposal *p)
{
	struct arena *arena = arena_new(ITEM_ARENA_SIZE), *prev = arena_json_bind(arena);
	yaml_event_t ev;
	int r;

	(void) arena_set_active(arena, true);
	r = emit(em, &ev,
		 yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						      YAML_BLOCK_SEQUENCE_STYLE));
	for (size_t i = 0; r == 0 && i < p->n; i++) {
		json_t *item = netpol_emit_json(&p->v[i].np, &p->v[i].labels, &p->v[i].annotations);

		r = item ? emit_node(em, item) : -ENOMEM;
		json_decref(item);
		arena_reset(arena);
	}
	if (r == 0)
		r = emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
	(void) arena_set_active(arena, false);
	(void) arena_json_bind(prev);
	arena_free(arena);
	return r;
}

/* The same bytes as netpol_emit_yaml(netpol_emit_list(@p)): the envelope's
 * members in its own order, "items" filled one policy at a time. */
int netpol_emit_list_yaml(const struct proposal *p, struct buf *out)
{
	struct wr env = { 0 };
	struct proposal none = { 0 };
	yaml_emitter_t em;
	yaml_event_t ev;
	size_t len = out->len;
	const char *key;
	json_t *v;
	int r;

	list_write(&env, &none);
	if (env.err || !env.root)
		return env.err ? env.err : -ENOMEM;
	if (!yaml_emitter_initialize(&em)) {
		json_decref(env.root);
		return -ENOMEM;
	}
	r = yaml_begin(&em, out);
	if (r == 0)
		r = emit(&em, &ev,
			 yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							     YAML_BLOCK_MAPPING_STYLE));
	json_object_foreach(env.root, key, v) {
		if (r == 0)
			r = emit_scalar(&em, key,
					needs_quotes(key) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
							    YAML_PLAIN_SCALAR_STYLE);
		if (r == 0)
			r = strcmp(key, "items") == 0 ? emit_items(&em, p) : emit_node(&em, v);
	}
	if (r == 0)
		r = emit(&em, &ev, yaml_mapping_end_event_initialize(&ev));
	r = yaml_end(&em, r);
	json_decref(env.root);
	if (r < 0)
		out->len = len;
	return r;
}
