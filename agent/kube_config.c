/*
 * kubeconfig (YAML read by kube_yaml.c as kubectl reads it; several files
 * merged as kubectl merges $KUBECONFIG) and the in-cluster configuration.
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

#include "buf.h"
#include "kube_config.h"
#include "kube_yaml.h"
#include "str.h"

/* A kubeconfig with embedded certificates is a few tens of KB. */
#define KUBE_CONFIG_MAX (4u << 20)

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
	kube_exec_free(c->exec);
	free(c->context);
	free(c->namespace);
	free(c->source);
	free(c);
	return NULL;
}

static int strv_dup(char **const src, size_t n, char ***ret)
{
	char **v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	*ret = v;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i])))
			return -ENOMEM;
	return 0;
}

static struct kube_exec *exec_dup(const struct kube_exec *s)
{
	struct kube_exec *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->n_args = s->n_args;
	d->n_env = s->n_env;
#define DUP(f) (s->f && !(d->f = strdup(s->f)))
	if (DUP(command) || DUP(api_version) || DUP(install_hint) || DUP(exec_info) ||
	    strv_dup(s->args, s->n_args, &d->args) < 0 || strv_dup(s->env, s->n_env, &d->env) < 0)
		return kube_exec_free(d);
#undef DUP
	return d;
}

struct kube_config *kube_config_dup(const struct kube_config *s)
{
	struct kube_config *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
#define DUP(f) (s->f && str_memdup(&d->f, s->f, strlen(s->f)) < 0)
	if (DUP(server) || DUP(ca_file) || DUP(token) || DUP(token_file) || DUP(cert_file) ||
	    DUP(key_file) || DUP(source) || DUP(context) || DUP(namespace))
		return kube_config_free(d);
#undef DUP
	if (str_memdup(&d->ca_data, s->ca_data, s->ca_data_len) < 0 ||
	    str_memdup(&d->cert_data, s->cert_data, s->cert_data_len) < 0 ||
	    str_memdup(&d->key_data, s->key_data, s->key_data_len) < 0)
		return kube_config_free(d);
	d->ca_data_len = s->ca_data_len;
	d->cert_data_len = s->cert_data_len;
	d->key_data_len = s->key_data_len;
	if (s->exec && !(d->exec = exec_dup(s->exec)))
		return kube_config_free(d);
	return d;
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
	int r;

	buf_init(out, max);
	r = buf_read_file(out, path);
	if (r == -E2BIG)
		r = bh_err_set(reterr, BH_ERR_INPUT, r, "'%s': larger than %zu bytes", path, max);
	else if (r < 0)
		r = bh_err_set(reterr, r == -ENOENT ? BH_ERR_INPUT : BH_ERR_SYSTEM, r, "'%s': %s",
			       path, strerror(-r));
	if (r < 0)
		buf_done(out);
	return r;
}

/* --- kubeconfig --- */

static const char *str_at(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Absent, or YAML's null ("null", "~", an empty value). */
static bool is_null(json_t *v)
{
	return !v || json_is_null(v);
}

/* A boolean field: YAML's true (true, yes, on...), or the quoted string
 * "true" (kubectl refuses that one; here it errs on the side the field
 * guards). */
static bool is_true(json_t *v)
{
	const char *s = json_string_value(v);

	return json_is_true(v) || (s && strcmp(s, "true") == 0);
}

/* The kubeconfig files being merged, in $KUBECONFIG order. */
struct kc_files {
	const char *const *paths;
	json_t **docs;
	char **dirs; /* each file's directory, or NULL for the current one */
	size_t n;
};

static void kc_files_done(struct kc_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		json_decref(f->docs ? f->docs[i] : NULL);
		free(f->dirs ? f->dirs[i] : NULL);
	}
	free(f->docs);
	free(f->dirs);
}

/* "'a', 'b'" for messages. */
static void kc_files_names(const struct kc_files *f, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < f->n && o < len; i++) {
		int n = snprintf(out + o, len - o, "%s'%s'", i ? ", " : "", f->paths[i]);

		if (n < 0)
			break;
		o += (size_t) n;
	}
}

/*
 * The entry named @name of a kubeconfig list ("clusters", "users",
 * "contexts") in the first file that has one, and its inner object
 * ("cluster", "user", "context"); @ret_file is that file's index.  kubectl
 * merges maps the same way: the first file to set a key wins, even when its
 * value is incomplete.
 */
static json_t *named_entry(const struct kc_files *f, const char *list, const char *inner,
			   const char *name, size_t *ret_file)
{
	for (size_t k = 0; k < f->n; k++) {
		json_t *arr = json_object_get(f->docs[k], list), *e;
		size_t i;

		json_array_foreach(arr, i, e) {
			const char *n = str_at(e, "name");

			if (n && strcmp(n, name) == 0) {
				*ret_file = k;
				return json_is_object(json_object_get(e, inner)) ?
					       json_object_get(e, inner) :
					       NULL;
			}
		}
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

static char *b64_encode(const char *in, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *) in;
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned) p[i] << 16;

		if (i + 1 < n)
			v |= (unsigned) p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
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

struct kube_exec *kube_exec_free(struct kube_exec *x)
{
	if (!x)
		return NULL;
	free(x->command);
	for (size_t i = 0; x->args && i < x->n_args; i++)
		free(x->args[i]);
	free(x->args);
	for (size_t i = 0; x->env && i < x->n_env; i++) {
		/* An env value may be a secret the plugin needs. */
		if (x->env[i])
			explicit_bzero(x->env[i], strlen(x->env[i]));
		free(x->env[i]);
	}
	free(x->env);
	free(x->api_version);
	free(x->install_hint);
	free(x->exec_info);
	free(x);
	return NULL;
}

#define EXEC_API_V1 "client.authentication.k8s.io/v1"
#define EXEC_API_V1BETA1 "client.authentication.k8s.io/v1beta1"

/*
 * The KUBERNETES_EXEC_INFO object kubectl hands a plugin: always
 * spec.interactive (false: we never give the plugin a terminal), and with
 * provideClusterInfo the cluster (server, CA bundle as base64, the
 * cluster's "client.authentication.k8s.io/exec" extension as config).
 */
static int exec_info_build(struct kube_exec *x, bool cluster_info, json_t *cluster,
			   const struct kube_config *c)
{
	json_t *info = NULL, *spec, *cl, *ext, *e;
	char *ca64 = NULL;
	size_t i;
	int r = -ENOMEM;

	info = json_pack("{s:s, s:s, s:{s:b}}", "apiVersion", x->api_version, "kind",
			 "ExecCredential", "spec", "interactive", 0);
	if (!info)
		goto out;
	spec = json_object_get(info, "spec");
	if (cluster_info) {
		cl = json_pack("{s:s}", "server", c->server);
		if (!cl || json_object_set_new(spec, "cluster", cl) < 0)
			goto out;
		if (c->ca_data) {
			ca64 = b64_encode(c->ca_data, c->ca_data_len);
			if (!ca64 || json_object_set_new(cl, "certificate-authority-data",
							 json_string(ca64)) < 0)
				goto out;
		} else if (c->ca_file) {
			struct buf ca;
			struct stat st;

			/* A regular file only: a FIFO or a device would block
			 * or never end. */
			if (stat(c->ca_file, &st) == 0 && S_ISREG(st.st_mode) &&
			    read_file(c->ca_file, KUBE_CONFIG_MAX, &ca, NULL) == 0) {
				ca64 = b64_encode(ca.data ? ca.data : "", ca.len);
				buf_done(&ca);
				if (!ca64 || json_object_set_new(cl, "certificate-authority-data",
								 json_string(ca64)) < 0)
					goto out;
			}
		}
		if (str_at(cluster, "tls-server-name") &&
		    json_object_set_new(cl, "tls-server-name",
					json_string(str_at(cluster, "tls-server-name"))) < 0)
			goto out;
		ext = json_object_get(cluster, "extensions");
		json_array_foreach(ext, i, e) {
			const char *n = str_at(e, "name");

			if (n && strcmp(n, "client.authentication.k8s.io/exec") == 0 &&
			    json_object_get(e, "extension") &&
			    json_object_set(cl, "config", json_object_get(e, "extension")) < 0)
				goto out;
		}
	}
	x->exec_info = json_dumps(info, JSON_COMPACT);
	r = x->exec_info ? 0 : -ENOMEM;
out:
	free(ca64);
	json_decref(info);
	return r;
}

static int exec_err(struct bh_err *reterr, const char *file, const char *uname, const char *what)
{
	return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "kubeconfig '%s': user '%s': exec.%s",
			  file, uname, what);
}

/* users[].user.exec of @file into c->exec. */
static int take_exec(json_t *user, json_t *cluster, const char *file, const char *dir,
		     const char *uname, struct kube_config *c, struct bh_err *reterr)
{
	json_t *ex = json_object_get(user, "exec"), *a, *v;
	struct kube_exec *x = NULL;
	const char *s;
	size_t i;
	int r;

	if (!json_is_object(ex))
		return exec_err(reterr, file, uname, "command: expected a mapping under exec");
	x = calloc(1, sizeof(*x));
	if (!x)
		return bh_err_oom(reterr);
	s = str_at(ex, "command");
	if (!s || !*s) {
		r = exec_err(reterr, file, uname, "command: expected the plugin's command");
		goto fail;
	}
	/* As kubectl: a relative path with a '/' is relative to the file. */
	if (strchr(s, '/') ? resolve_path(dir, s, &x->command) < 0 : !(x->command = strdup(s)))
		goto oom;
	s = str_at(ex, "apiVersion");
	if (!s || (strcmp(s, EXEC_API_V1) != 0 && strcmp(s, EXEC_API_V1BETA1) != 0)) {
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			       "kubeconfig '%s': user '%s': exec.apiVersion: expected '%s' or "
			       "'%s', got '%s'",
			       file, uname, EXEC_API_V1, EXEC_API_V1BETA1, s ? s : "");
		goto fail;
	}
	if (!(x->api_version = strdup(s)))
		goto oom;
	a = json_object_get(ex, "args");
	if (!is_null(a)) {
		if (!json_is_array(a)) {
			r = exec_err(reterr, file, uname, "args: expected a list of strings");
			goto fail;
		}
		x->args = calloc(json_array_size(a) + 1, sizeof(*x->args));
		if (!x->args)
			goto oom;
		json_array_foreach(a, i, v) {
			if (!json_is_string(v)) {
				r = exec_err(reterr, file, uname,
					     "args: expected a list of strings");
				goto fail;
			}
			if (!(x->args[x->n_args] = strdup(json_string_value(v))))
				goto oom;
			x->n_args++;
		}
	}
	a = json_object_get(ex, "env");
	if (!is_null(a)) {
		if (!json_is_array(a)) {
			r = exec_err(reterr, file, uname, "env: expected a list of {name, value}");
			goto fail;
		}
		x->env = calloc(json_array_size(a) + 1, sizeof(*x->env));
		if (!x->env)
			goto oom;
		json_array_foreach(a, i, v) {
			const char *n = str_at(v, "name"), *val = str_at(v, "value");

			if (!n || !*n || strchr(n, '=') || !val) {
				r = bh_err_set(
					reterr, BH_ERR_INPUT, -EINVAL,
					"kubeconfig '%s': user '%s': exec.env[%zu]: expected "
					"a name and a value",
					file, uname, i);
				goto fail;
			}
			if (asprintf(&x->env[x->n_env], "%s=%s", n, val) < 0) {
				x->env[x->n_env] = NULL;
				goto oom;
			}
			x->n_env++;
		}
	}
	s = str_at(ex, "interactiveMode");
	if (s && strcmp(s, "Always") == 0) {
		r = exec_err(reterr, file, uname,
			     "interactiveMode: 'Always' needs a terminal, and plugins run without "
			     "one (use 'IfAvailable' or 'Never')");
		goto fail;
	}
	if (s && strcmp(s, "Never") != 0 && strcmp(s, "IfAvailable") != 0) {
		r = bh_err_set(
			reterr, BH_ERR_INPUT, -EINVAL,
			"kubeconfig '%s': user '%s': exec.interactiveMode: expected 'Never', "
			"'IfAvailable' or 'Always', got '%s'",
			file, uname, s);
		goto fail;
	}
	s = str_at(ex, "installHint");
	if (s && !(x->install_hint = strdup(s)))
		goto oom;
	if (exec_info_build(x, is_true(json_object_get(ex, "provideClusterInfo")), cluster, c) < 0)
		goto oom;
	c->exec = x;
	return 0;
oom:
	r = bh_err_oom(reterr);
fail:
	kube_exec_free(x);
	return r;
}

static int kc_files_read(struct kc_files *f, struct bh_err *reterr)
{
	struct buf data;
	int r;

	f->docs = calloc(f->n ? f->n : 1, sizeof(*f->docs));
	f->dirs = calloc(f->n ? f->n : 1, sizeof(*f->dirs));
	if (!f->docs || !f->dirs)
		return bh_err_oom(reterr);
	for (size_t i = 0; i < f->n; i++) {
		char *slash;

		r = read_file(f->paths[i], KUBE_CONFIG_MAX, &data, reterr);
		if (r < 0)
			return bh_err_prefix(reterr, "kubeconfig: ");
		r = kube_yaml_load(data.data ? data.data : "", data.len, "kubeconfig", f->paths[i],
				   &f->docs[i], reterr);
		buf_done(&data);
		if (r < 0)
			return r;
		if (!json_is_object(f->docs[i]))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "kubeconfig '%s': expected a mapping (a Config object)",
					  f->paths[i]);
		f->dirs[i] = strdup(f->paths[i]);
		if (!f->dirs[i])
			return bh_err_oom(reterr);
		slash = strrchr(f->dirs[i], '/');
		if (slash == f->dirs[i]) {
			slash[1] = '\0';
		} else if (slash) {
			*slash = '\0';
		} else {
			free(f->dirs[i]);
			f->dirs[i] = NULL;
		}
	}
	return 0;
}

int kube_config_from_files(const char *const *paths, size_t n, const char *context,
			   struct kube_config **ret, struct bh_err *reterr)
{
	struct kc_files f = { .paths = paths, .n = n };
	struct kube_config *c = NULL;
	json_t *ctx, *cluster, *user = NULL;
	const char *cur = context, *cname, *uname, *server, *s, *cfile, *ufile = NULL, *ns;
	size_t fi = 0, cfi = 0, ufi = 0;
	char names[BH_ERR_MSG_MAX / 2];
	int r;

	kc_files_names(&f, names, sizeof(names));
	r = kc_files_read(&f, reterr);
	if (r < 0)
		goto out;
	r = -EINVAL;
	for (size_t i = 0; !cur && i < n; i++) {
		s = str_at(f.docs[i], "current-context");
		if (s && *s)
			cur = s;
	}
	if (!cur) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig %s: current-context is not set (name one with --context)",
			   names);
		goto out;
	}
	ctx = named_entry(&f, "contexts", "context", cur, &fi);
	if (!ctx) {
		r = context ? -ENOENT : -EINVAL;
		bh_err_set(reterr, BH_ERR_INPUT, r, "%scontext '%s' not found in kubeconfig %s",
			   context ? "--context: " : "", cur, names);
		goto out;
	}
	cname = str_at(ctx, "cluster");
	uname = str_at(ctx, "user");
	cluster = cname ? named_entry(&f, "clusters", "cluster", cname, &cfi) : NULL;
	if (!cluster) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': context '%s': cluster '%s' not found in %s", paths[fi],
			   cur, cname ? cname : "", names);
		goto out;
	}
	cfile = paths[cfi];
	if (uname && *uname) {
		user = named_entry(&f, "users", "user", uname, &ufi);
		if (!user) {
			/* kubectl goes on without credentials; the API server's
			 * 401 would then not say why. */
			bh_err_set(reterr, BH_ERR_INPUT, r,
				   "kubeconfig '%s': context '%s': user '%s' not found in %s",
				   paths[fi], cur, uname, names);
			goto out;
		}
		ufile = paths[ufi];
	}
	server = str_at(cluster, "server");
	if (!server || strncmp(server, "https://", 8) != 0) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': cluster '%s': server: expected an https:// URL", cfile,
			   cname);
		goto out;
	}
	if (is_true(json_object_get(cluster, "insecure-skip-tls-verify"))) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': cluster '%s': insecure-skip-tls-verify is refused "
			   "(TLS is always verified)",
			   cfile, cname);
		goto out;
	}
	if (user && json_object_get(user, "auth-provider")) {
		bh_err_set(reterr, BH_ERR_INPUT, r,
			   "kubeconfig '%s': user '%s': auth-provider credentials are not "
			   "supported (use exec, a token or a client certificate)",
			   ufile, uname);
		goto out;
	}
	if (kube_config_new(server, NULL, NULL, NULL, &c) < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	free(c->source);
	c->source = NULL;
	ns = str_at(ctx, "namespace");
	if (asprintf(&c->source, "kubeconfig %s (context '%s')", names, cur) < 0 ||
	    !(c->context = strdup(cur)) || (ns && *ns && !(c->namespace = strdup(ns)))) {
		r = bh_err_oom(reterr);
		goto out;
	}
	r = take_path(cluster, "certificate-authority", f.dirs[cfi], &c->ca_file, reterr);
	if (r == 0)
		r = take_data(cluster, "certificate-authority-data", cfile, &c->ca_data,
			      &c->ca_data_len, reterr);
	if (r == 0 && user) {
		const char *udir = f.dirs[ufi];

		r = take_path(user, "tokenFile", udir, &c->token_file, reterr);
		if (r == 0 && str_at(user, "token") && !(c->token = strdup(str_at(user, "token"))))
			r = bh_err_oom(reterr);
		if (r == 0)
			r = take_path(user, "client-certificate", udir, &c->cert_file, reterr);
		if (r == 0)
			r = take_path(user, "client-key", udir, &c->key_file, reterr);
		if (r == 0)
			r = take_data(user, "client-certificate-data", ufile, &c->cert_data,
				      &c->cert_data_len, reterr);
		if (r == 0)
			r = take_data(user, "client-key-data", ufile, &c->key_data,
				      &c->key_data_len, reterr);
		if (r == 0 && json_object_get(user, "exec"))
			r = take_exec(user, cluster, ufile, udir, uname, c, reterr);
	}
	if (r == 0 && (!!(c->cert_file || c->cert_data) != !!(c->key_file || c->key_data)))
		r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
			       "kubeconfig '%s': user '%s': a client certificate needs its key "
			       "(client-key or client-key-data)",
			       ufile ? ufile : cfile, uname ? uname : "");
	if (r < 0)
		goto out;
	*ret = c;
	c = NULL;
	r = 0;
out:
	kube_config_free(c);
	kc_files_done(&f);
	return r;
}

int kube_config_from_kubeconfig(const char *path, struct kube_config **ret, struct bh_err *reterr)
{
	return kube_config_from_files(&path, 1, NULL, ret, reterr);
}
