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

static json_t *labels_json(const struct labels *l)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->n; i++)
		if (json_object_set_new(o, l->v[i].key, json_string(l->v[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *selector_json(const struct selector *s)
{
	json_t *o = json_object(), *exprs;

	if (!o)
		return NULL;
	if (s->match_labels.n &&
	    json_object_set_new(o, "matchLabels", labels_json(&s->match_labels)) < 0)
		goto fail;
	if (!s->n_reqs)
		return o;
	exprs = json_array();
	if (json_object_set_new(o, "matchExpressions", exprs) < 0)
		goto fail;
	for (size_t i = 0; i < s->n_reqs; i++) {
		const struct selector_req *q = &s->reqs[i];
		json_t *e =
			json_pack("{s:s, s:s}", "key", q->key, "operator", selector_op_name(q->op));
		json_t *vals;

		if (json_array_append_new(exprs, e) < 0)
			goto fail;
		if (!q->n_values)
			continue;
		vals = json_array();
		if (json_object_set_new(e, "values", vals) < 0)
			goto fail;
		for (size_t k = 0; k < q->n_values; k++)
			if (json_array_append_new(vals, json_string(q->values[k])) < 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *peer_json(const struct netpol_peer *p)
{
	char buf[ADDR_STR_MAX];
	json_t *o = json_object(), *ipb, *exc;

	if (!o)
		return NULL;
	if (p->kind == NETPOL_PEER_IPBLOCK) {
		ipb = json_object();
		if (json_object_set_new(o, "ipBlock", ipb) < 0 ||
		    json_object_set_new(ipb, "cidr",
					json_string(cidr_format(&p->cidr, buf, sizeof(buf)))) < 0)
			goto fail;
		if (!p->n_except)
			return o;
		exc = json_array();
		if (json_object_set_new(ipb, "except", exc) < 0)
			goto fail;
		for (size_t i = 0; i < p->n_except; i++)
			if (json_array_append_new(exc, json_string(cidr_format(&p->except[i], buf,
									       sizeof(buf)))) < 0)
				goto fail;
		return o;
	}
	if (p->pod_sel && json_object_set_new(o, "podSelector", selector_json(p->pod_sel)) < 0)
		goto fail;
	if (p->ns_sel && json_object_set_new(o, "namespaceSelector", selector_json(p->ns_sel)) < 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *port_json(const struct netpol_port *pp)
{
	json_t *o = json_pack("{s:s}", "protocol", proto_name(pp->protocol));

	if (!o)
		return NULL;
	switch (pp->kind) {
	case NETPOL_PORT_ANY:
		break;
	case NETPOL_PORT_NAME:
		if (json_object_set_new(o, "port", json_string(pp->name)) < 0)
			goto fail;
		break;
	case NETPOL_PORT_NUMBER:
		if (json_object_set_new(o, "port", json_integer(pp->port)) < 0)
			goto fail;
		if (pp->end_port && pp->end_port > pp->port &&
		    json_object_set_new(o, "endPort", json_integer(pp->end_port)) < 0)
			goto fail;
		break;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *rule_json(const struct netpol_rule *r, enum netpol_dir d)
{
	json_t *o = json_object(), *peers, *ports;

	if (!o)
		return NULL;
	if (r->n_peers) {
		peers = json_array();
		if (json_object_set_new(o, d == NETPOL_INGRESS ? "from" : "to", peers) < 0)
			goto fail;
		for (size_t i = 0; i < r->n_peers; i++)
			if (json_array_append_new(peers, peer_json(&r->peers[i])) < 0)
				goto fail;
	}
	if (r->n_ports) {
		ports = json_array();
		if (json_object_set_new(o, "ports", ports) < 0)
			goto fail;
		for (size_t i = 0; i < r->n_ports; i++)
			if (json_array_append_new(ports, port_json(&r->ports[i])) < 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *netpol_emit_json(const struct netpol *np, const struct labels *labels,
			 const struct labels *annotations)
{
	static const char *const type_names[] = {
		[NETPOL_INGRESS] = "Ingress", [NETPOL_EGRESS] = "Egress"
	};
	json_t *o, *meta, *spec, *types, *rules;

	o = json_pack("{s:s, s:s}", "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy");
	if (!o)
		return NULL;
	meta = json_pack("{s:s, s:s}", "name", np->name, "namespace", np->ns);
	if (json_object_set_new(o, "metadata", meta) < 0)
		goto fail;
	if (labels && labels->n && json_object_set_new(meta, "labels", labels_json(labels)) < 0)
		goto fail;
	if (annotations && annotations->n &&
	    json_object_set_new(meta, "annotations", labels_json(annotations)) < 0)
		goto fail;
	spec = json_object();
	if (json_object_set_new(o, "spec", spec) < 0 ||
	    json_object_set_new(spec, "podSelector", selector_json(&np->pod_sel)) < 0)
		goto fail;
	types = json_array();
	if (json_object_set_new(spec, "policyTypes", types) < 0)
		goto fail;
	for (int d = 0; d < _NETPOL_DIR_MAX; d++)
		if (np->types[d] && json_array_append_new(types, json_string(type_names[d])) < 0)
			goto fail;
	for (int d = 0; d < _NETPOL_DIR_MAX; d++) {
		if (!np->n_rules[d])
			continue;
		rules = json_array();
		if (json_object_set_new(spec, d == NETPOL_INGRESS ? "ingress" : "egress", rules) <
		    0)
			goto fail;
		for (size_t i = 0; i < np->n_rules[d]; i++)
			if (json_array_append_new(rules, rule_json(&np->rules[d][i],
								   (enum netpol_dir) d)) < 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *netpol_emit_list(const struct proposal *p)
{
	json_t *o = json_pack("{s:s, s:s, s:[]}", "apiVersion", "v1", "kind", "List", "items");
	json_t *items;

	if (!o)
		return NULL;
	items = json_object_get(o, "items");
	for (size_t i = 0; i < p->n; i++)
		if (json_array_append_new(items, netpol_emit_json(&p->v[i].np, &p->v[i].labels,
								  &p->v[i].annotations)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
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

/* ---- YAML ---- */

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

int netpol_emit_yaml(const json_t *doc, struct buf *out)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int r;

	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, write_cb, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1);
	r = emit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	if (r == 0)
		r = emit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	if (r == 0)
		r = emit_node(&em, doc);
	if (r == 0)
		r = emit(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
	if (r == 0)
		r = emit(&em, &ev, yaml_stream_end_event_initialize(&ev));
	if (r == 0 && !yaml_emitter_flush(&em))
		r = -EIO;
	yaml_emitter_delete(&em);
	return r;
}
