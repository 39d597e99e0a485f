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
#include <string.h>
#include <strings.h>

#include <yaml.h>

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
 * One walk over the model writes every form of the output: a jansson tree
 * (netpol_emit_json(), netpol_emit_list()), JSON text and YAML events.  The
 * text forms are written as the walk goes: building a tree of a proposal
 * (about a million small objects at 200,000 flows), dumping it and freeing
 * it again was most of the cost of printing one.  The JSON text is what
 * json_dumps(JSON_INDENT(2)) makes of the tree, byte for byte, and the YAML
 * what netpol_emit_yaml() makes of it (tests/fuzz/fuzz_propose.c checks
 * both).
 */
enum wr_mode {
	WR_TREE,
	WR_JSON,
	WR_YAML,
};

/* Deeper than any NetworkPolicy List nests. */
#define WR_DEPTH_MAX 32

struct wr {
	enum wr_mode mode;
	int err; /* first failure; every call after it does nothing */
	size_t depth;
	size_t count[WR_DEPTH_MAX]; /* members written per open container */
	bool after_key; /* a key was written, its value comes next */
	/* WR_TREE */
	json_t *stack[WR_DEPTH_MAX];
	json_t *root;
	const char *key; /* borrowed until the member's value is added */
	/* WR_JSON */
	struct buf *out;
	/* WR_YAML */
	yaml_emitter_t *em;
};

static void wr_fail(struct wr *w, int r)
{
	if (r < 0 && !w->err)
		w->err = r;
}

static void wr_raw(struct wr *w, const char *s, size_t n)
{
	if (!w->err)
		wr_fail(w, buf_append(w->out, s, n));
}

/* jansson's JSON_INDENT(2): a new line, two spaces per level. */
static void wr_newline(struct wr *w, size_t depth)
{
	static const char spaces[] =
		"\n                                                                ";
	size_t n = 2 * depth;

	wr_raw(w, spaces, 1);
	while (n) {
		size_t k = n < sizeof(spaces) - 2 ? n : sizeof(spaces) - 2;

		wr_raw(w, spaces + 1, k);
		n -= k;
	}
}

/* Length of the UTF-8 sequence at @s (jansson's rules: no overlong form,
 * no surrogate, nothing past U+10FFFF), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string as jansson dumps it: '"', '\\' and control characters
 * escaped, everything else (UTF-8 included) as it is.  A string jansson
 * would refuse (invalid UTF-8) fails with -EINVAL. */
static void wr_json_string(struct wr *w, const char *str)
{
	const unsigned char *s = (const unsigned char *) str, *run = s;
	char esc[8];

	wr_raw(w, "\"", 1);
	while (*s) {
		size_t n = 1;
		const char *e = NULL;

		if (*s >= 0x80) {
			n = utf8_len(s);
			if (!n) {
				wr_fail(w, -EINVAL);
				return;
			}
			s += n;
			continue;
		}
		if (*s >= 0x20 && *s != '"' && *s != '\\') {
			s++;
			continue;
		}
		switch (*s) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			(void) snprintf(esc, sizeof(esc), "\\u%04X", (unsigned) *s);
			e = esc;
			break;
		}
		wr_raw(w, (const char *) run, (size_t) (s - run));
		wr_raw(w, e, strlen(e));
		s++;
		run = s;
	}
	wr_raw(w, (const char *) run, (size_t) (s - run));
	wr_raw(w, "\"", 1);
}

/* Before a member value or array element (JSON text): the separator and
 * line break of its container. */
static void wr_json_sep(struct wr *w, bool is_value_of_key)
{
	if (!w->depth || is_value_of_key)
		return;
	if (w->count[w->depth - 1]++)
		wr_raw(w, ",", 1);
	wr_newline(w, w->depth);
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

/* Whether the value written next is a member's (after wr_key()). */
static bool wr_pending_key(struct wr *w)
{
	bool k = w->after_key;

	w->after_key = false;
	return k;
}

static void wr_key(struct wr *w, const char *key)
{
	if (w->err)
		return;
	switch (w->mode) {
	case WR_TREE:
		w->key = key;
		break;
	case WR_JSON:
		wr_json_sep(w, false);
		wr_json_string(w, key);
		wr_raw(w, ": ", 2);
		break;
	case WR_YAML:
		wr_fail(w, emit_scalar(w->em, key,
				       needs_quotes(key) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
							   YAML_PLAIN_SCALAR_STYLE));
		break;
	}
	w->after_key = true;
}

static void wr_open(struct wr *w, bool object)
{
	yaml_event_t ev;
	json_t *v;

	if (w->err)
		return;
	if (w->depth == WR_DEPTH_MAX) {
		wr_fail(w, -E2BIG);
		return;
	}
	switch (w->mode) {
	case WR_TREE:
		v = object ? json_object() : json_array();
		wr_tree_add(w, json_incref(v));
		json_decref(v);
		if (w->err)
			return;
		w->stack[w->depth] = v;
		break;
	case WR_JSON:
		wr_json_sep(w, wr_pending_key(w));
		wr_raw(w, object ? "{" : "[", 1);
		break;
	case WR_YAML:
		(void) wr_pending_key(w);
		if (object)
			wr_fail(w, emit(w->em, &ev,
					yaml_mapping_start_event_initialize(
						&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)));
		else
			wr_fail(w, emit(w->em, &ev,
					yaml_sequence_start_event_initialize(
						&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE)));
		break;
	}
	w->count[w->depth++] = 0;
}

static void wr_close(struct wr *w, bool object)
{
	yaml_event_t ev;
	size_t n;

	if (w->err)
		return;
	n = w->count[--w->depth];
	switch (w->mode) {
	case WR_TREE:
		break;
	case WR_JSON:
		if (n)
			wr_newline(w, w->depth);
		wr_raw(w, object ? "}" : "]", 1);
		break;
	case WR_YAML:
		wr_fail(w, emit(w->em, &ev,
				object ? yaml_mapping_end_event_initialize(&ev) :
					 yaml_sequence_end_event_initialize(&ev)));
		break;
	}
}

static void wr_str(struct wr *w, const char *s)
{
	if (w->err)
		return;
	if (!s) {
		wr_fail(w, -EINVAL);
		return;
	}
	switch (w->mode) {
	case WR_TREE:
		wr_tree_add(w, json_string(s));
		break;
	case WR_JSON:
		wr_json_sep(w, wr_pending_key(w));
		wr_json_string(w, s);
		break;
	case WR_YAML:
		(void) wr_pending_key(w);
		if (strchr(s, '\n'))
			wr_fail(w, emit_scalar(w->em, s, YAML_LITERAL_SCALAR_STYLE));
		else
			wr_fail(w, emit_scalar(w->em, s,
					       needs_quotes(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
								 YAML_PLAIN_SCALAR_STYLE));
		break;
	}
}

static void wr_int(struct wr *w, json_int_t v)
{
	char num[32];

	if (w->err)
		return;
	switch (w->mode) {
	case WR_TREE:
		wr_tree_add(w, json_integer(v));
		break;
	case WR_JSON:
		wr_json_sep(w, wr_pending_key(w));
		(void) snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, v);
		wr_raw(w, num, strlen(num));
		break;
	case WR_YAML:
		(void) wr_pending_key(w);
		(void) snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, v);
		wr_fail(w, emit_scalar(w->em, num, YAML_PLAIN_SCALAR_STYLE));
		break;
	}
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
	struct wr w = { .mode = WR_TREE };

	netpol_write(&w, np, labels, annotations);
	return wr_tree_done(&w);
}

json_t *netpol_emit_list(const struct proposal *p)
{
	struct wr w = { .mode = WR_TREE };

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

int netpol_emit_list_json(const struct proposal *p, struct buf *out)
{
	struct wr w = { .mode = WR_JSON, .out = out };
	size_t len = out->len;

	list_write(&w, p);
	wr_raw(&w, "\n", 1);
	if (w.err)
		out->len = len;
	return w.err;
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

int netpol_emit_list_yaml(const struct proposal *p, struct buf *out)
{
	yaml_emitter_t em;
	struct wr w = { .mode = WR_YAML, .em = &em };
	size_t len = out->len;
	int r;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	r = yaml_begin(&em, out);
	if (r == 0) {
		list_write(&w, p);
		r = w.err;
	}
	r = yaml_end(&em, r);
	if (r < 0)
		out->len = len;
	return r;
}
