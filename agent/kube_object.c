/*
 * JSON -> model for the four kinds Bulkhead uses.  Validation follows the
 * API server's for the fields read here (apis/networking/validation):
 * a snapshot a real cluster could not have produced is an input error, not
 * something to guess about, because a guessed policy is a hole or an outage.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_object.h"
#include "proto.h"
#include "rfc3339.h"
#include "vec.h"

/* Decoding context: the object's name for error messages. */
struct dec {
	char what[192]; /* "pod 'x/a'" */
	struct bh_err *err;
};

static int dec_fail(struct dec *d, const char *path, const char *fmt, ...) BH_PRINTF(3, 4);

static int dec_fail(struct dec *d, const char *path, const char *fmt, ...)
{
	char msg[BH_ERR_MSG_MAX / 2];
	va_list ap;

	if (!d->err)
		return -EINVAL;
	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bh_err_set(d->err, BH_ERR_INPUT, -EINVAL, "%s: %s: %s", d->what, path, msg);
}

/* Field paths are bounded by the caller's buffer; a truncated path in an
 * error message is acceptable, hence vsnprintf without a check.  Without
 * an error to fill (d->err NULL) paths are never shown: not formatting
 * them saves about a tenth of reading a snapshot. */
static void path_fmt(const struct dec *d, char *buf, size_t len, const char *fmt, ...)
	BH_PRINTF(4, 5);

static void path_fmt(const struct dec *d, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!d->err) {
		buf[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	(void) vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int dec_oom(struct dec *d)
{
	return bh_err_oom(d->err);
}

const char *kube_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/*
 * Optional typed members.  A member that is JSON null counts as absent, as
 * the API's own decoder treats it.  Each returns 0 with *ret NULL/unchanged
 * when absent, -EINVAL (error filled) on a wrong type.
 */
static int get_member(struct dec *d, const json_t *o, const char *key, const char *path,
		      json_type type, const json_t **ret)
{
	const json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type) {
		const char *want = type == JSON_OBJECT ? "an object" :
				   type == JSON_ARRAY  ? "an array" :
				   type == JSON_STRING ? "a string" :
							 "a value of another type";

		return dec_fail(d, path, "expected %s, got %s", want, kube_json_type_name(v));
	}
	*ret = v;
	return 0;
}

static int get_string(struct dec *d, const json_t *o, const char *key, const char *path,
		      const char **ret)
{
	const json_t *v;
	int r = get_member(d, o, key, path, JSON_STRING, &v);

	*ret = v ? json_string_value(v) : NULL;
	return r;
}

static int get_bool(struct dec *d, const json_t *o, const char *key, const char *path, bool *ret)
{
	const json_t *v = json_object_get(o, key);

	*ret = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return dec_fail(d, path, "expected a boolean, got %s", kube_json_type_name(v));
	*ret = json_is_true(v);
	return 0;
}

static int dup_into(struct dec *d, const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : dec_oom(d);
}

/* Parses an integer port 1..65535 (field @path). */
static int port_from_json(struct dec *d, const json_t *v, const char *path, uint16_t *ret)
{
	json_int_t n;

	if (!json_is_integer(v))
		return dec_fail(d, path, "expected an integer 1..65535, got %s",
				kube_json_type_name(v));
	n = json_integer_value(v);
	if (n < 1 || n > 65535)
		return dec_fail(d, path, "expected an integer 1..65535, got %lld", (long long) n);
	*ret = (uint16_t) n;
	return 0;
}

static int protocol_from_json(struct dec *d, const json_t *o, const char *path, uint8_t *ret)
{
	const char *s;
	int r = get_string(d, o, "protocol", path, &s);

	if (r < 0)
		return r;
	*ret = IPPROTO_TCP;
	if (s && proto_parse(s, ret) < 0)
		return dec_fail(d, path, "expected TCP, UDP or SCTP, got '%s'", s);
	return 0;
}

static int labels_from_json(struct dec *d, const json_t *o, const char *path, struct labels *ret)
{
	const char *key;
	json_t *v;
	char p[256];

	labels_init(ret);
	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return dec_fail(d, path, "expected an object of strings, got %s",
				kube_json_type_name(o));
	json_object_foreach((json_t *) o, key, v) {
		if (!json_is_string(v)) {
			labels_done(ret);
			path_fmt(d, p, sizeof(p), "%s.%s", path, key);
			return dec_fail(d, p, "expected a string, got %s", kube_json_type_name(v));
		}
		if (labels_set(ret, key, json_string_value(v)) < 0) {
			labels_done(ret);
			return dec_oom(d);
		}
	}
	return 0;
}

int kube_time_parse(const char *s, int64_t *ret)
{
	return s ? rfc3339_parse(s, ret) : -EINVAL;
}

enum kube_kind kube_object_kind(const json_t *obj)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	size_t n;

	if (!kind)
		return KUBE_KIND_UNKNOWN;
	n = strlen(kind);
	if (n >= 4 && strcmp(kind + n - 4, "List") == 0 &&
	    json_is_array(json_object_get(obj, "items")))
		return KUBE_KIND_LIST;
	if (api && strcmp(api, "v1") == 0) {
		if (strcmp(kind, "Namespace") == 0)
			return KUBE_KIND_NAMESPACE;
		if (strcmp(kind, "Pod") == 0)
			return KUBE_KIND_POD;
		if (strcmp(kind, "Node") == 0)
			return KUBE_KIND_NODE;
	}
	if (api && strcmp(api, "networking.k8s.io/v1") == 0 && strcmp(kind, "NetworkPolicy") == 0)
		return KUBE_KIND_NETPOL;
	return KUBE_KIND_UNKNOWN;
}

int kube_object_key(const json_t *obj, const char **ret_ns, const char **ret_name)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));

	if (!name || !*name)
		return -EINVAL;
	*ret_ns = ns && *ns ? ns : NULL;
	*ret_name = name;
	return 0;
}

/* metadata of a namespaced (@namespaced) or cluster object: fills d->what. */
static int metadata_read(struct dec *d, const json_t *obj, const char *kind, bool namespaced,
			 const json_t **ret_md, const char **ret_ns, const char **ret_name)
{
	const json_t *md;
	const char *name = NULL, *ns = NULL;
	int r;

	*ret_md = NULL;
	*ret_ns = NULL;
	*ret_name = NULL;
	if (d->err)
		snprintf(d->what, sizeof(d->what), "%s", kind);
	if (!json_is_object(obj))
		return dec_fail(d, "object", "expected an object, got %s",
				kube_json_type_name(obj));
	r = get_member(d, obj, "metadata", "metadata", JSON_OBJECT, &md);
	if (r < 0)
		return r;
	if (!md)
		return dec_fail(d, "metadata", "missing");
	r = get_string(d, md, "name", "metadata.name", &name);
	if (r < 0)
		return r;
	if (!name || !*name)
		return dec_fail(d, "metadata.name", "missing");
	if (namespaced) {
		r = get_string(d, md, "namespace", "metadata.namespace", &ns);
		if (r < 0)
			return r;
		/* A namespaced object without a namespace is in "default", as
		 * kubectl apply would place it. */
		if (!ns || !*ns)
			ns = "default";
		if (d->err)
			snprintf(d->what, sizeof(d->what), "%s '%s/%s'", kind, ns, name);
	} else if (d->err) {
		snprintf(d->what, sizeof(d->what), "%s '%s'", kind, name);
	}
	*ret_md = md;
	*ret_ns = ns;
	*ret_name = name;
	return 0;
}

static int time_member(struct dec *d, const json_t *md, const char *key, const char *path,
		       int64_t *ret)
{
	const char *s;
	int r = get_string(d, md, key, path, &s);

	*ret = 0;
	if (r < 0 || !s)
		return r;
	if (kube_time_parse(s, ret) < 0)
		return dec_fail(d, path, "expected an RFC 3339 time, got '%s'", s);
	return 0;
}

int kube_ns_decode(const json_t *obj, struct k8s_ns *ret, struct bh_err *reterr)
{
	struct dec d = { .err = reterr };
	struct k8s_ns ns = { 0 };
	const json_t *md;
	const char *nsname, *name;
	int r;

	r = metadata_read(&d, obj, "namespace", false, &md, &nsname, &name);
	if (r < 0)
		return r;
	r = labels_from_json(&d, json_object_get(md, "labels"), "metadata.labels", &ns.labels);
	if (r < 0)
		return r;
	r = dup_into(&d, name, &ns.name);
	/* The API server sets this label on every namespace since 1.21; add
	 * it for older snapshots so namespaceSelectors on it behave the same. */
	if (r == 0 && labels_set(&ns.labels, "kubernetes.io/metadata.name", name) < 0)
		r = dec_oom(&d);
	if (r < 0) {
		k8s_ns_done(&ns);
		return r;
	}
	*ret = ns;
	return 0;
}

static int container_ports_read(struct dec *d, const json_t *containers, const char *list,
				struct pod *p)
{
	size_t i, j, cap = p->n_ports; /* at least that many are allocated */
	json_t *c, *port;
	char path[160];
	int r;

	if (!containers || json_is_null(containers))
		return 0;
	if (!json_is_array(containers))
		return dec_fail(d, list, "expected an array, got %s",
				kube_json_type_name(containers));
	json_array_foreach(containers, i, c) {
		const json_t *ports;
		struct container_port *np;

		path_fmt(d, path, sizeof(path), "%s[%zu]", list, i);
		if (!json_is_object(c))
			return dec_fail(d, path, "expected an object, got %s",
					kube_json_type_name(c));
		path_fmt(d, path, sizeof(path), "%s[%zu].ports", list, i);
		r = get_member(d, c, "ports", path, JSON_ARRAY, &ports);
		if (r < 0)
			return r;
		if (!ports || json_array_size(ports) == 0)
			continue;
		np = vec_grow(p->ports, &cap, p->n_ports + json_array_size(ports), sizeof(*np));
		if (!np)
			return dec_oom(d);
		p->ports = np;
		json_array_foreach(ports, j, port) {
			struct container_port cp = { 0 };
			const char *name;

			path_fmt(d, path, sizeof(path), "%s[%zu].ports[%zu]", list, i, j);
			if (!json_is_object(port))
				return dec_fail(d, path, "expected an object, got %s",
						kube_json_type_name(port));
			path_fmt(d, path, sizeof(path), "%s[%zu].ports[%zu].containerPort", list, i,
				 j);
			if (!json_object_get(port, "containerPort"))
				return dec_fail(d, path, "missing");
			r = port_from_json(d, json_object_get(port, "containerPort"), path,
					   &cp.port);
			if (r < 0)
				return r;
			path_fmt(d, path, sizeof(path), "%s[%zu].ports[%zu].protocol", list, i, j);
			r = protocol_from_json(d, port, path, &cp.protocol);
			if (r < 0)
				return r;
			path_fmt(d, path, sizeof(path), "%s[%zu].ports[%zu].name", list, i, j);
			r = get_string(d, port, "name", path, &name);
			if (r == 0 && name && *name)
				r = dup_into(d, name, &cp.name);
			if (r < 0)
				return r;
			p->ports[p->n_ports++] = cp;
		}
	}
	return 0;
}

static int pod_ips_read(struct dec *d, const json_t *status, struct pod *p)
{
	const json_t *ips;
	const char *ip;
	json_t *e;
	size_t i;
	char path[64];
	int r;

	r = get_member(d, status, "podIPs", "status.podIPs", JSON_ARRAY, &ips);
	if (r < 0)
		return r;
	json_array_foreach(ips, i, e) {
		struct addr a;

		path_fmt(d, path, sizeof(path), "status.podIPs[%zu].ip", i);
		if (!json_is_object(e))
			return dec_fail(d, path, "expected an object, got %s",
					kube_json_type_name(e));
		r = get_string(d, e, "ip", path, &ip);
		if (r < 0)
			return r;
		if (!ip)
			return dec_fail(d, path, "missing");
		if (addr_parse(ip, &a) < 0)
			return dec_fail(d, path, "expected an IPv4 or IPv6 address, got '%s'", ip);
		if (p->n_ips >= POD_IPS_MAX)
			return dec_fail(d, "status.podIPs", "more than %d addresses", POD_IPS_MAX);
		for (size_t k = 0; k < p->n_ips; k++)
			if (p->ips[k].family == a.family)
				return dec_fail(d, path, "a second %s address",
						a.family == AF_INET ? "IPv4" : "IPv6");
		p->ips[p->n_ips++] = a;
	}
	r = get_string(d, status, "podIP", "status.podIP", &ip);
	if (r < 0 || !ip || !*ip)
		return r;
	{
		struct addr a;

		if (addr_parse(ip, &a) < 0)
			return dec_fail(d, "status.podIP",
					"expected an IPv4 or IPv6 address, got '%s'", ip);
		for (size_t k = 0; k < p->n_ips; k++)
			if (addr_eq(&p->ips[k], &a))
				return 0;
		if (p->n_ips)
			return dec_fail(d, "status.podIP", "'%s' is not in status.podIPs", ip);
		p->ips[p->n_ips++] = a;
	}
	return 0;
}

static int owner_read(struct dec *d, const json_t *md, struct pod *p)
{
	const json_t *refs, *pick = NULL;
	json_t *e;
	size_t i;
	char path[64];
	int r;

	r = get_member(d, md, "ownerReferences", "metadata.ownerReferences", JSON_ARRAY, &refs);
	if (r < 0)
		return r;
	json_array_foreach(refs, i, e) {
		const char *kind, *name;
		bool controller;

		path_fmt(d, path, sizeof(path), "metadata.ownerReferences[%zu]", i);
		if (!json_is_object(e))
			return dec_fail(d, path, "expected an object, got %s",
					kube_json_type_name(e));
		if (get_string(d, e, "kind", path, &kind) < 0 ||
		    get_string(d, e, "name", path, &name) < 0 ||
		    get_bool(d, e, "controller", path, &controller) < 0)
			return -EINVAL;
		if (!kind || !name)
			return dec_fail(d, path, "kind and name are required");
		if (controller || !pick)
			pick = e;
		if (controller)
			break;
	}
	if (!pick)
		return 0;
	if (dup_into(d, json_string_value(json_object_get(pick, "kind")), &p->owner.kind) < 0 ||
	    dup_into(d, json_string_value(json_object_get(pick, "name")), &p->owner.name) < 0)
		return -ENOMEM;
	return 0;
}

int kube_pod_decode(const json_t *obj, struct pod *ret, struct bh_err *reterr)
{
	struct dec d = { .err = reterr };
	struct pod p = { 0 };
	const json_t *md, *spec, *status;
	const char *ns, *name, *s;
	int r;

	labels_init(&p.labels);
	r = metadata_read(&d, obj, "pod", true, &md, &ns, &name);
	if (r < 0)
		return r;
	if ((r = dup_into(&d, ns, &p.ns)) < 0 || (r = dup_into(&d, name, &p.name)) < 0)
		goto fail;
	r = get_string(&d, md, "uid", "metadata.uid", &s);
	if (r < 0 || (r = dup_into(&d, s, &p.uid)) < 0)
		goto fail;
	r = labels_from_json(&d, json_object_get(md, "labels"), "metadata.labels", &p.labels);
	if (r < 0)
		goto fail;
	if ((r = time_member(&d, md, "creationTimestamp", "metadata.creationTimestamp",
			     &p.created)) < 0 ||
	    (r = time_member(&d, md, "deletionTimestamp", "metadata.deletionTimestamp",
			     &p.deleted)) < 0 ||
	    (r = owner_read(&d, md, &p)) < 0)
		goto fail;

	r = get_member(&d, obj, "spec", "spec", JSON_OBJECT, &spec);
	if (r < 0)
		goto fail;
	if (spec) {
		r = get_string(&d, spec, "nodeName", "spec.nodeName", &s);
		if (r < 0 || (r = dup_into(&d, s && *s ? s : NULL, &p.node)) < 0)
			goto fail;
		r = get_bool(&d, spec, "hostNetwork", "spec.hostNetwork", &p.host_network);
		if (r < 0)
			goto fail;
		r = container_ports_read(&d, json_object_get(spec, "containers"), "spec.containers",
					 &p);
		if (r < 0)
			goto fail;
		r = container_ports_read(&d, json_object_get(spec, "initContainers"),
					 "spec.initContainers", &p);
		if (r < 0)
			goto fail;
	}
	r = get_member(&d, obj, "status", "status", JSON_OBJECT, &status);
	if (r < 0)
		goto fail;
	if (status) {
		r = get_string(&d, status, "phase", "status.phase", &s);
		if (r < 0 || (r = dup_into(&d, s, &p.phase)) < 0)
			goto fail;
		r = pod_ips_read(&d, status, &p);
		if (r < 0)
			goto fail;
	}
	*ret = p;
	return 0;

fail:
	pod_done(&p);
	return r;
}

int kube_node_decode(const json_t *obj, struct node *ret, struct bh_err *reterr)
{
	struct dec d = { .err = reterr };
	struct node n = { 0 };
	const json_t *md, *status, *addrs = NULL;
	const char *ns, *name;
	json_t *e;
	size_t i;
	char path[64];
	int r;

	r = metadata_read(&d, obj, "node", false, &md, &ns, &name);
	if (r < 0)
		return r;
	r = dup_into(&d, name, &n.name);
	if (r < 0)
		goto fail;
	r = get_member(&d, obj, "status", "status", JSON_OBJECT, &status);
	if (r == 0 && status)
		r = get_member(&d, status, "addresses", "status.addresses", JSON_ARRAY, &addrs);
	if (r < 0)
		goto fail;
	if (addrs && json_array_size(addrs)) {
		n.addrs = calloc(json_array_size(addrs), sizeof(*n.addrs));
		if (!n.addrs) {
			r = dec_oom(&d);
			goto fail;
		}
	}
	json_array_foreach(addrs, i, e) {
		const char *type, *a;

		path_fmt(&d, path, sizeof(path), "status.addresses[%zu]", i);
		if (!json_is_object(e)) {
			r = dec_fail(&d, path, "expected an object, got %s",
				     kube_json_type_name(e));
			goto fail;
		}
		if ((r = get_string(&d, e, "type", path, &type)) < 0 ||
		    (r = get_string(&d, e, "address", path, &a)) < 0)
			goto fail;
		/* Hostnames and DNS names are not addresses we can match. */
		if (!type || !a || (strcmp(type, "InternalIP") && strcmp(type, "ExternalIP")))
			continue;
		if (addr_parse(a, &n.addrs[n.n_addrs]) < 0) {
			r = dec_fail(&d, path, "expected an IPv4 or IPv6 address, got '%s'", a);
			goto fail;
		}
		n.n_addrs++;
	}
	*ret = n;
	return 0;

fail:
	node_done(&n);
	return r;
}

static int selector_from_json(struct dec *d, const json_t *o, const char *path,
			      struct selector *ret)
{
	const json_t *ml, *exprs;
	json_t *e, *v;
	size_t i, j;
	char p[256];
	int r;

	selector_init(ret);
	if (!json_is_object(o))
		return dec_fail(d, path, "expected an object, got %s", kube_json_type_name(o));
	path_fmt(d, p, sizeof(p), "%s.matchLabels", path);
	r = get_member(d, o, "matchLabels", p, JSON_OBJECT, &ml);
	if (r < 0)
		return r;
	r = labels_from_json(d, ml, p, &ret->match_labels);
	if (r < 0)
		return r;
	path_fmt(d, p, sizeof(p), "%s.matchExpressions", path);
	r = get_member(d, o, "matchExpressions", p, JSON_ARRAY, &exprs);
	if (r < 0)
		goto fail;
	json_array_foreach(exprs, i, e) {
		const char *key, *opname, *vals[64];
		const json_t *values;
		enum selector_op op;

		path_fmt(d, p, sizeof(p), "%s.matchExpressions[%zu]", path, i);
		if (!json_is_object(e)) {
			r = dec_fail(d, p, "expected an object, got %s", kube_json_type_name(e));
			goto fail;
		}
		if ((r = get_string(d, e, "key", p, &key)) < 0 ||
		    (r = get_string(d, e, "operator", p, &opname)) < 0)
			goto fail;
		if (!key || !*key) {
			r = dec_fail(d, p, "key is required");
			goto fail;
		}
		if (!opname || selector_op_parse(opname, &op) < 0) {
			path_fmt(d, p, sizeof(p), "%s.matchExpressions[%zu].operator", path, i);
			r = dec_fail(d, p, "expected In, NotIn, Exists or DoesNotExist, got '%s'",
				     opname ? opname : "");
			goto fail;
		}
		path_fmt(d, p, sizeof(p), "%s.matchExpressions[%zu].values", path, i);
		r = get_member(d, e, "values", p, JSON_ARRAY, &values);
		if (r < 0)
			goto fail;
		if (json_array_size(values) > BH_ARRAY_SIZE(vals)) {
			r = dec_fail(d, p, "more than %zu values", BH_ARRAY_SIZE(vals));
			goto fail;
		}
		json_array_foreach(values, j, v) {
			if (!json_is_string(v)) {
				r = dec_fail(d, p, "expected strings, got %s",
					     kube_json_type_name(v));
				goto fail;
			}
			vals[j] = json_string_value(v);
		}
		r = selector_req_add(ret, key, op, vals, json_array_size(values));
		if (r == -EINVAL) {
			r = dec_fail(d, p,
				     op == SELECTOR_OP_IN || op == SELECTOR_OP_NOT_IN ?
					     "must be non-empty for %s" :
					     "must be empty for %s",
				     opname);
			goto fail;
		}
		if (r < 0) {
			r = dec_oom(d);
			goto fail;
		}
	}
	return 0;
fail:
	selector_done(ret);
	return r;
}

static int selector_ptr_from_json(struct dec *d, const json_t *o, const char *path,
				  struct selector **ret)
{
	struct selector *s;
	int r;

	*ret = NULL;
	if (!o || json_is_null(o))
		return 0;
	s = malloc(sizeof(*s));
	if (!s)
		return dec_oom(d);
	r = selector_from_json(d, o, path, s);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int peer_from_json(struct dec *d, const json_t *o, const char *path, struct netpol_peer *ret)
{
	const json_t *ipb, *except;
	const char *cidr;
	json_t *e;
	size_t i;
	char p[256];
	int r;

	*ret = (struct netpol_peer){ 0 };
	if (!json_is_object(o))
		return dec_fail(d, path, "expected an object, got %s", kube_json_type_name(o));
	path_fmt(d, p, sizeof(p), "%s.ipBlock", path);
	r = get_member(d, o, "ipBlock", p, JSON_OBJECT, &ipb);
	if (r < 0)
		return r;
	if (ipb) {
		if (json_object_get(o, "podSelector") || json_object_get(o, "namespaceSelector"))
			return dec_fail(
				d, path,
				"ipBlock may not be combined with podSelector or namespaceSelector");
		ret->kind = NETPOL_PEER_IPBLOCK;
		path_fmt(d, p, sizeof(p), "%s.ipBlock.cidr", path);
		r = get_string(d, ipb, "cidr", p, &cidr);
		if (r < 0)
			return r;
		if (!cidr)
			return dec_fail(d, p, "missing");
		if (cidr_parse(cidr, &ret->cidr) < 0)
			return dec_fail(d, p, "expected a CIDR such as 10.0.0.0/8, got '%s'", cidr);
		path_fmt(d, p, sizeof(p), "%s.ipBlock.except", path);
		r = get_member(d, ipb, "except", p, JSON_ARRAY, &except);
		if (r < 0)
			return r;
		if (json_array_size(except)) {
			ret->except = calloc(json_array_size(except), sizeof(*ret->except));
			if (!ret->except)
				return dec_oom(d);
		}
		json_array_foreach(except, i, e) {
			struct cidr *c = &ret->except[i];

			path_fmt(d, p, sizeof(p), "%s.ipBlock.except[%zu]", path, i);
			if (!json_is_string(e) || cidr_parse(json_string_value(e), c) < 0) {
				r = dec_fail(d, p, "expected a CIDR, got %s%s%s",
					     json_is_string(e) ? "'" : "",
					     json_is_string(e) ? json_string_value(e) :
								 kube_json_type_name(e),
					     json_is_string(e) ? "'" : "");
				goto fail;
			}
			/* The API server requires a strict subset of cidr. */
			if (!cidr_contains_cidr(&ret->cidr, c) || c->plen <= ret->cidr.plen) {
				r = dec_fail(d, p, "'%s' is not a strict subset of cidr '%s'",
					     json_string_value(e), cidr);
				goto fail;
			}
			ret->n_except = i + 1;
		}
		return 0;
	}
	ret->kind = NETPOL_PEER_SELECTOR;
	path_fmt(d, p, sizeof(p), "%s.podSelector", path);
	r = selector_ptr_from_json(d, json_object_get(o, "podSelector"), p, &ret->pod_sel);
	if (r < 0)
		goto fail;
	path_fmt(d, p, sizeof(p), "%s.namespaceSelector", path);
	r = selector_ptr_from_json(d, json_object_get(o, "namespaceSelector"), p, &ret->ns_sel);
	if (r < 0)
		goto fail;
	if (!ret->pod_sel && !ret->ns_sel) {
		r = dec_fail(d, path, "must specify podSelector, namespaceSelector or ipBlock");
		goto fail;
	}
	return 0;
fail:
	netpol_peer_done(ret);
	return r;
}

static int netpol_port_from_json(struct dec *d, const json_t *o, const char *path,
				 struct netpol_port *ret)
{
	const json_t *port, *end;
	char p[256];
	int r;

	*ret = (struct netpol_port){ .kind = NETPOL_PORT_ANY };
	if (!json_is_object(o))
		return dec_fail(d, path, "expected an object, got %s", kube_json_type_name(o));
	path_fmt(d, p, sizeof(p), "%s.protocol", path);
	r = protocol_from_json(d, o, p, &ret->protocol);
	if (r < 0)
		return r;
	port = json_object_get(o, "port");
	end = json_object_get(o, "endPort");
	path_fmt(d, p, sizeof(p), "%s.port", path);
	if (port && json_is_string(port)) {
		const char *name = json_string_value(port);

		/* IANA_SVC_NAME: 1-15 characters; a decimal string is a number
		 * the API server refuses as a name. */
		if (!*name || strlen(name) > 15 || strspn(name, "0123456789") == strlen(name))
			return dec_fail(d, p,
					"expected a port number or a port name of 1-15 "
					"characters, got '%s'",
					name);
		ret->kind = NETPOL_PORT_NAME;
		ret->name = strdup(name);
		if (!ret->name)
			return dec_oom(d);
		if (end && !json_is_null(end)) {
			path_fmt(d, p, sizeof(p), "%s.endPort", path);
			return dec_fail(d, p, "may not be set when port is a name");
		}
		return 0;
	}
	if (port && !json_is_null(port)) {
		r = port_from_json(d, port, p, &ret->port);
		if (r < 0)
			return r;
		ret->kind = NETPOL_PORT_NUMBER;
	}
	if (end && !json_is_null(end)) {
		path_fmt(d, p, sizeof(p), "%s.endPort", path);
		if (ret->kind != NETPOL_PORT_NUMBER)
			return dec_fail(d, p, "may not be set without a numeric port");
		r = port_from_json(d, end, p, &ret->end_port);
		if (r < 0)
			return r;
		if (ret->end_port < ret->port)
			return dec_fail(d, p, "must be >= port (%u), got %u", ret->port,
					ret->end_port);
	}
	return 0;
}

static int rule_from_json(struct dec *d, const json_t *o, const char *path, const char *peers_key,
			  struct netpol_rule *ret)
{
	const json_t *ports, *peers;
	json_t *e;
	size_t i;
	char p[256];
	int r;

	*ret = (struct netpol_rule){ 0 };
	if (!json_is_object(o))
		return dec_fail(d, path, "expected an object, got %s", kube_json_type_name(o));
	path_fmt(d, p, sizeof(p), "%s.ports", path);
	r = get_member(d, o, "ports", p, JSON_ARRAY, &ports);
	if (r < 0)
		return r;
	if (json_array_size(ports)) {
		ret->ports = calloc(json_array_size(ports), sizeof(*ret->ports));
		if (!ret->ports)
			return dec_oom(d);
	}
	json_array_foreach(ports, i, e) {
		path_fmt(d, p, sizeof(p), "%s.ports[%zu]", path, i);
		r = netpol_port_from_json(d, e, p, &ret->ports[i]);
		if (r < 0) {
			free(ret->ports[i].name);
			goto fail;
		}
		ret->n_ports = i + 1;
	}
	path_fmt(d, p, sizeof(p), "%s.%s", path, peers_key);
	r = get_member(d, o, peers_key, p, JSON_ARRAY, &peers);
	if (r < 0)
		goto fail;
	if (json_array_size(peers)) {
		ret->peers = calloc(json_array_size(peers), sizeof(*ret->peers));
		if (!ret->peers) {
			r = dec_oom(d);
			goto fail;
		}
	}
	json_array_foreach(peers, i, e) {
		path_fmt(d, p, sizeof(p), "%s.%s[%zu]", path, peers_key, i);
		r = peer_from_json(d, e, p, &ret->peers[i]);
		if (r < 0)
			goto fail;
		ret->n_peers = i + 1;
	}
	return 0;
fail:
	netpol_rule_done(ret);
	return r;
}

int kube_netpol_decode(const json_t *obj, struct netpol *ret, struct bh_err *reterr)
{
	static const char *const dir_key[_NETPOL_DIR_MAX] = { "ingress", "egress" };
	static const char *const peer_key[_NETPOL_DIR_MAX] = { "from", "to" };
	struct dec d = { .err = reterr };
	const json_t *md, *spec, *podsel, *types;
	const char *ns, *name, *uid;
	struct netpol p;
	json_t *e;
	size_t i;
	char path[64];
	int r;

	netpol_init(&p);
	r = metadata_read(&d, obj, "networkpolicy", true, &md, &ns, &name);
	if (r < 0)
		return r;
	if ((r = dup_into(&d, ns, &p.ns)) < 0 || (r = dup_into(&d, name, &p.name)) < 0 ||
	    (r = get_string(&d, md, "uid", "metadata.uid", &uid)) < 0 ||
	    (r = dup_into(&d, uid, &p.uid)) < 0)
		goto fail;
	r = get_member(&d, obj, "spec", "spec", JSON_OBJECT, &spec);
	if (r < 0)
		goto fail;
	if (!spec) {
		r = dec_fail(&d, "spec", "missing");
		goto fail;
	}
	/* Required by the API; a missing podSelector would silently select
	 * every pod of the namespace, so it is an error, not a default. */
	podsel = json_object_get(spec, "podSelector");
	if (!podsel || json_is_null(podsel)) {
		r = dec_fail(&d, "spec.podSelector", "missing (use {} to select every pod)");
		goto fail;
	}
	selector_done(&p.pod_sel);
	r = selector_from_json(&d, podsel, "spec.podSelector", &p.pod_sel);
	if (r < 0)
		goto fail;

	for (int dir = 0; dir < _NETPOL_DIR_MAX; dir++) {
		const json_t *rules;

		path_fmt(&d, path, sizeof(path), "spec.%s", dir_key[dir]);
		r = get_member(&d, spec, dir_key[dir], path, JSON_ARRAY, &rules);
		if (r < 0)
			goto fail;
		if (json_array_size(rules)) {
			p.rules[dir] = calloc(json_array_size(rules), sizeof(*p.rules[dir]));
			if (!p.rules[dir]) {
				r = dec_oom(&d);
				goto fail;
			}
		}
		json_array_foreach(rules, i, e) {
			path_fmt(&d, path, sizeof(path), "spec.%s[%zu]", dir_key[dir], i);
			r = rule_from_json(&d, e, path, peer_key[dir], &p.rules[dir][i]);
			if (r < 0)
				goto fail;
			p.n_rules[dir] = i + 1;
		}
	}

	r = get_member(&d, spec, "policyTypes", "spec.policyTypes", JSON_ARRAY, &types);
	if (r < 0)
		goto fail;
	if (types && json_array_size(types)) {
		json_array_foreach(types, i, e) {
			const char *t = json_string_value(e);

			path_fmt(&d, path, sizeof(path), "spec.policyTypes[%zu]", i);
			if (t && strcmp(t, "Ingress") == 0)
				p.types[NETPOL_INGRESS] = true;
			else if (t && strcmp(t, "Egress") == 0)
				p.types[NETPOL_EGRESS] = true;
			else {
				r = dec_fail(&d, path, "expected Ingress or Egress, got %s%s%s",
					     t ? "'" : "", t ? t : kube_json_type_name(e),
					     t ? "'" : "");
				goto fail;
			}
		}
	} else {
		/* Defaulting (networking/v1 defaults.go): Ingress always, Egress
		 * when the policy has egress rules. */
		p.types[NETPOL_INGRESS] = true;
		p.types[NETPOL_EGRESS] = p.n_rules[NETPOL_EGRESS] > 0;
	}
	*ret = p;
	return 0;

fail:
	netpol_done(&p);
	return r;
}
