/*
 * kubeconfig (YAML, read with libyaml into jansson values) and the
 * in-cluster configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "buf.h"
#include "kube_config.h"

/* A kubeconfig with embedded certificates is a few tens of KB. */
#define KUBE_CONFIG_MAX (4u << 20)
#define KUBE_YAML_DEPTH_MAX 64

struct kube_config *kube_config_free(struct kube_config *c)
{
	if (!c)
		return NULL;
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	if (c->key_data)
		explicit_bzero(c->key_data, c->key_data_len);
	free(c->cert_data);
	free(c->key_data);
	free(c->source);
	free(c);
	return NULL;
}

static int dup_opt(char **dst, const char *s)
{
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

int kube_config_new(const char *server, const char *ca_file, const char *token,
		    const char *token_file, struct kube_config **ret)
{
	struct kube_config *c = calloc(1, sizeof(*c));
	size_t n;

	if (!c)
		return -ENOMEM;
	if (dup_opt(&c->server, server) < 0 || dup_opt(&c->ca_file, ca_file) < 0 ||
	    dup_opt(&c->token, token) < 0 || dup_opt(&c->token_file, token_file) < 0 ||
	    dup_opt(&c->source, "configuration") < 0) {
		kube_config_free(c);
		return -ENOMEM;
	}
	n = c->server ? strlen(c->server) : 0;
	while (n && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	*ret = c;
	return 0;
}

static int read_file(const char *path, size_t max, struct buf *out, struct bh_err *reterr)
{
	char tmp[65536];
	int fd, r = 0;
	ssize_t n;

	buf_init(out, max);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return bh_err_set(reterr, r == -ENOENT ? BH_ERR_INPUT : BH_ERR_SYSTEM, r,
				  "'%s': %s", path, strerror(-r));
	}
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = bh_err_set(reterr, BH_ERR_SYSTEM, -errno, "'%s': %s", path,
				       strerror(errno));
			break;
		}
		if (n == 0)
			break;
		r = buf_append(out, tmp, (size_t) n);
		if (r < 0) {
			r = bh_err_set(reterr, BH_ERR_INPUT, r, "'%s': larger than %zu bytes", path,
				       max);
			break;
		}
	}
	close(fd);
	if (r < 0)
		buf_done(out);
	return r;
}

/* --- YAML to jansson --- */

static int yaml_err(yaml_parser_t *p, const char *name, struct bh_err *reterr)
{
	return bh_err_set(reterr, BH_ERR_INPUT, -EBADMSG, "'%s': line %zu column %zu: %s", name,
			  p->problem_mark.line + 1, p->problem_mark.column + 1,
			  p->problem ? p->problem : "invalid YAML");
}

int kube_yaml_load(const char *data, size_t len, const char *name, json_t **ret,
		   struct bh_err *reterr)
{
	json_t *stack[KUBE_YAML_DEPTH_MAX + 1];
	json_t *root = NULL;
	char *pending_key[KUBE_YAML_DEPTH_MAX + 1] = { 0 };
	size_t depth = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&p))
		return bh_err_oom(reterr);
	yaml_parser_set_input_string(&p, (const unsigned char *) data, len);
	while (!done) {
		json_t *v = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			r = yaml_err(&p, name, reterr);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			done = ev.type == YAML_STREAM_END_EVENT || root;
			break;
		case YAML_ALIAS_EVENT:
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "'%s': line %zu: YAML aliases are not supported", name,
				       ev.start_mark.line + 1);
			break;
		case YAML_SCALAR_EVENT:
			v = json_stringn((const char *) ev.data.scalar.value,
					 ev.data.scalar.length);
			if (!v)
				r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					       "'%s': line %zu: not UTF-8 text", name,
					       ev.start_mark.line + 1);
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth >= KUBE_YAML_DEPTH_MAX) {
				r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					       "'%s': line %zu: nested too deeply", name,
					       ev.start_mark.line + 1);
				break;
			}
			v = ev.type == YAML_MAPPING_START_EVENT ? json_object() : json_array();
			if (!v)
				r = bh_err_oom(reterr);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth > 0) {
				depth--;
				free(pending_key[depth]);
				pending_key[depth] = NULL;
			}
			break;
		default:
			break;
		}
		if (r == 0 && v) {
			bool container = json_is_object(v) || json_is_array(v);
			json_t *parent = depth ? stack[depth - 1] : NULL;

			if (!parent) {
				if (root) {
					json_decref(v);
				} else {
					root = v;
					json_incref(v);
				}
			} else if (json_is_array(parent)) {
				json_incref(v);
				if (json_array_append_new(parent, v) < 0)
					r = bh_err_oom(reterr);
			} else if (!pending_key[depth - 1]) {
				if (!json_is_string(v)) {
					r = bh_err_set(
						reterr, BH_ERR_INPUT, -EINVAL,
						"'%s': line %zu: mapping keys must be scalars",
						name, ev.start_mark.line + 1);
				} else {
					pending_key[depth - 1] = strdup(json_string_value(v));
					if (!pending_key[depth - 1])
						r = bh_err_oom(reterr);
				}
				json_decref(v);
				v = NULL;
				container = false;
			} else {
				json_incref(v);
				if (json_object_set_new(parent, pending_key[depth - 1], v) < 0)
					r = bh_err_oom(reterr);
				free(pending_key[depth - 1]);
				pending_key[depth - 1] = NULL;
			}
			if (v && container && r == 0)
				stack[depth++] = v;
			if (v)
				json_decref(v);
		}
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	}
	if (!root) {
		root = json_object();
		if (!root) {
			r = bh_err_oom(reterr);
			goto out;
		}
	}
	*ret = root;
	root = NULL;
out:
	for (size_t i = 0; i <= KUBE_YAML_DEPTH_MAX; i++)
		free(pending_key[i]);
	json_decref(root);
	yaml_parser_delete(&p);
	return r;
}

/* --- kubeconfig --- */

static const char *str_at(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The entry named @name of a kubeconfig list ("clusters", "users",
 * "contexts"), and its inner object ("cluster", "user", "context"). */
static json_t *named_entry(json_t *doc, const char *list, const char *inner, const char *name)
{
	json_t *arr = json_object_get(doc, list), *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		const char *n = str_at(e, "name");

		if (n && strcmp(n, name) == 0)
			return json_is_object(json_object_get(e, inner)) ?
				       json_object_get(e, inner) :
				       NULL;
	}
	return NULL;
}

static int resolve_path(const char *dir, const char *p, char **ret)
{
	if (p[0] == '/' || !dir)
		*ret = strdup(p);
	else if (asprintf(ret, "%s/%s", dir, p) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

static int b64_decode(const char *in, char **ret, size_t *ret_len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	unsigned acc = 0;
	int bits = 0;
	char *out = malloc(n / 4 * 3 + 4);

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *q;
		char ch = in[i];

		if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ')
			continue;
		q = memchr(tab, ch, 64);
		if (!q || !ch) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned) (q - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char) ((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

static int take_data(json_t *o, const char *field, const char *file, char **ret, size_t *ret_len,
		     struct bh_err *reterr)
{
	const char *s = str_at(o, field);
	int r;

	if (!s)
		return 0;
	r = b64_decode(s, ret, ret_len);
	if (r == -ENOMEM)
		return bh_err_oom(reterr);
	if (r < 0)
		return bh_err_set(reterr, BH_ERR_INPUT, r, "kubeconfig '%s': %s: not base64", file,
				  field);
	return 0;
}

static int take_path(json_t *o, const char *field, const char *dir, char **ret,
		     struct bh_err *reterr)
{
	const char *s = str_at(o, field);

	if (!s || !*s)
		return 0;
	return resolve_path(dir, s, ret) < 0 ? bh_err_oom(reterr) : 0;
}

int kube_config_from_kubeconfig(const char *path, struct kube_config **ret, struct bh_err *reterr)
{
	struct kube_config *c = NULL;
	struct buf data;
	json_t *doc = NULL, *ctx, *cluster, *user;
	const char *cur, *cname, *uname, *server, *s;
	char *dir = NULL, *slash;
	int r;

	r = read_file(path, KUBE_CONFIG_MAX, &data, reterr);
	if (r < 0)
		return bh_err_prefix(reterr, "kubeconfig: ");
	r = kube_yaml_load(data.data ? data.data : "", data.len, path, &doc, reterr);
	buf_done(&data);
	if (r < 0) {
		bh_err_prefix(reterr, "kubeconfig ");
		goto out;
	}
	r = -EINVAL;
	cur = str_at(doc, "current-context");
	if (!cur || !*cur) {
		bh_err_set(reterr, BH_ERR_INPUT, r, "kubeconfig '%s': current-context is not set",
			   path);
		goto out;
	}
	ctx = named_entry(doc, "contexts", "context", cur);
	if (!ctx) {
		bh_err_set(reterr, BH_ERR_INPUT, r, "kubeconfig '%s': context '%s' not found", path,
			   cur);
		goto out;
	}
	cname = str_at(ctx, "cluster");
	uname = str_at(ctx, "user");
	cluster = cname ? named_entry(doc, "clusters", "cluster", cname) : NULL;
	if (!cluster) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': context '%s': cluster '%s' not found", path, cur,
			   cname ? cname : "");
		goto out;
	}
	user = uname ? named_entry(doc, "users", "user", uname) : NULL;
	server = str_at(cluster, "server");
	if (!server || strncmp(server, "https://", 8) != 0) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': cluster '%s': server: expected an https:// URL", path,
			   cname);
		goto out;
	}
	s = str_at(cluster, "insecure-skip-tls-verify");
	if (s && strcmp(s, "true") == 0) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': cluster '%s': insecure-skip-tls-verify is refused "
			   "(TLS is always verified)",
			   path, cname);
		goto out;
	}
	if (user && (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': user '%s': exec and auth-provider credentials are not "
			   "supported (use a token or a client certificate)",
			   path, uname);
		goto out;
	}
	dir = strdup(path);
	if (!dir || kube_config_new(server, NULL, NULL, NULL, &c) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
	} else {
		free(dir);
		dir = NULL;
	}
	free(c->source);
	if (asprintf(&c->source, "kubeconfig '%s'", path) < 0) {
		c->source = NULL;
		r = bh_err_oom(reterr);
		goto out;
	}
	r = take_path(cluster, "certificate-authority", dir, &c->ca_file, reterr);
	if (r == 0)
		r = take_data(cluster, "certificate-authority-data", path, &c->ca_data,
			      &c->ca_data_len, reterr);
	if (r == 0 && user) {
		r = take_path(user, "tokenFile", dir, &c->token_file, reterr);
		if (r == 0 && str_at(user, "token") && !(c->token = strdup(str_at(user, "token"))))
			r = bh_err_oom(reterr);
		if (r == 0)
			r = take_path(user, "client-certificate", dir, &c->cert_file, reterr);
		if (r == 0)
			r = take_path(user, "client-key", dir, &c->key_file, reterr);
		if (r == 0)
			r = take_data(user, "client-certificate-data", path, &c->cert_data,
				      &c->cert_data_len, reterr);
		if (r == 0)
			r = take_data(user, "client-key-data", path, &c->key_data, &c->key_data_len,
				      reterr);
	}
	if (r == 0 && (!!(c->cert_file || c->cert_data) != !!(c->key_file || c->key_data)))
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			       "kubeconfig '%s': user '%s': a client certificate needs its key "
			       "(client-key or client-key-data)",
			       path, uname ? uname : "");
	if (r < 0)
		goto out;
	*ret = c;
	c = NULL;
	r = 0;
out:
	kube_config_free(c);
	free(dir);
	json_decref(doc);
	return r;
}

int kube_config_from_cluster(struct kube_config **ret, struct bh_err *reterr)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("BULKHEAD_SERVICEACCOUNT_DIR");
	struct kube_config *c = NULL;
	char *server = NULL, *token = NULL, *ca = NULL;
	int r;

	if (!host || !*host)
		return -ENOENT;
	if (!port || !*port)
		port = "443";
	if (!dir || !*dir)
		dir = KUBE_SA_DIR;
	if (asprintf(&server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) <
		    0 ||
	    asprintf(&token, "%s/token", dir) < 0 || asprintf(&ca, "%s/ca.crt", dir) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	/* Not -ENOENT: that means "not in a cluster" to our callers. */
	if (access(token, R_OK) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, errno == ENOENT ? -ENOKEY : -errno,
			       "in-cluster configuration: service account token '%s': %s", token,
			       strerror(errno));
		goto out;
	}
	if (access(ca, R_OK) < 0) {
		r = bh_err_set(reterr, BH_ERR_SYSTEM, errno == ENOENT ? -ENOKEY : -errno,
			       "in-cluster configuration: CA bundle '%s': %s", ca, strerror(errno));
		goto out;
	}
	r = kube_config_new(server, ca, NULL, token, &c);
	if (r < 0) {
		bh_err_oom(reterr);
		goto out;
	}
	free(c->source);
	c->source = strdup("in-cluster configuration");
	if (!c->source) {
		r = bh_err_oom(reterr);
		goto out;
	}
	*ret = c;
	c = NULL;
out:
	kube_config_free(c);
	free(server);
	free(token);
	free(ca);
	return r;
}

int kube_config_find(const char *kubeconfig, struct kube_config **ret, struct bh_err *reterr)
{
	if (kubeconfig)
		return kube_config_from_kubeconfig(kubeconfig, ret, reterr);
	return kube_config_from_cluster(ret, reterr);
}
