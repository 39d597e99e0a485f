/*
 * The agent's settings (agent_config.h): one table of settings drives the
 * file's reader, the copy, the comparison a reload reports and the keys
 * named in messages.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent_config.h"
#include "bh.h"
#include "buf.h"
#include "duration.h"
#include "flow_table.h"
#include "kube_yaml.h"
#include "log.h"
#include "ruleset.h"
#include "str.h"

#define AGENT_API_VERSION "bulkhead.io/v1alpha1"
#define AGENT_KIND "AgentConfig"
#define DAY_S 86400ull

enum type { T_STR, T_STRS, T_BOOL, T_U16, T_U64, T_DUR, T_LEVEL, T_FORMAT, T_MODE };

struct setting {
	const char *key;
	enum type type;
	size_t off; /* of the value; for T_STRS, of the array (the count follows it) */
	size_t count_off; /* T_STRS: of the count */
	uint64_t min, max; /* T_U16, T_U64, T_DUR */
	bool restart; /* takes effect only at a restart */
	bool may_be_empty; /* T_STR: "" is a value (listen: no TCP listener) */
};

#define AT(f) offsetof(struct agent_config, f)

static const struct setting settings[AGENT_SET_COUNT] = {
	[AGENT_SET_NODE] = { "node", T_STR, AT(node), 0, 0, 0, true, false },
	[AGENT_SET_KUBECONFIG] = { "kubeconfig", T_STR, AT(kubeconfig), 0, 0, 0, true, false },
	[AGENT_SET_CONTEXT] = { "context", T_STR, AT(context), 0, 0, 0, true, false },
	[AGENT_SET_SNAPSHOTS] = { "snapshots", T_STRS, AT(snapshots), AT(n_snapshots), 0, 0, true,
				  false },
	[AGENT_SET_STATE_DIR] = { "stateDir", T_STR, AT(state_dir), 0, 0, 0, true, false },
	[AGENT_SET_SOCKET] = { "socket", T_STR, AT(socket), 0, 0, 0, true, false },
	[AGENT_SET_LISTEN] = { "listen", T_STR, AT(listen), 0, 0, 0, true, true },
	[AGENT_SET_INTERFACES] = { "interfaces", T_STRS, AT(interfaces), AT(n_interfaces), 0, 0,
				   false, false },
	[AGENT_SET_CONNTRACK] = { "conntrack", T_BOOL, AT(conntrack), 0, 0, 0, false, false },
	[AGENT_SET_NFLOG_GROUP] = { "nflogGroup", T_U16, AT(nflog_group), 0, 1, UINT16_MAX, true,
				    false },
	[AGENT_SET_LEARN_DURATION] = { "learnDuration", T_DUR, AT(learn_duration_s), 0, 1,
				       366 * DAY_S, false, false },
	[AGENT_SET_PREVIEW_WINDOW] = { "previewWindow", T_DUR, AT(preview_window_s), 0, 1,
				       366 * DAY_S, false, false },
	[AGENT_SET_AUTO_PROMOTE] = { "autoPromote", T_BOOL, AT(auto_promote), 0, 0, 0, false,
				     false },
	[AGENT_SET_MAX_FLOWS] = { "maxFlows", T_U64, AT(max_flows), 0, 1000, FLOW_TABLE_MAX, true,
				  false },
	[AGENT_SET_MAX_ALERTS] = { "maxAlerts", T_U64, AT(max_alerts), 0, 10, 10000000, false,
				   false },
	[AGENT_SET_CHECKPOINT_INTERVAL] = { "checkpointInterval", T_DUR, AT(checkpoint_interval_s),
					    0, 1, DAY_S, false, false },
	[AGENT_SET_LOG_LEVEL] = { "logLevel", T_LEVEL, AT(log_level), 0, 0, 0, false, false },
	[AGENT_SET_LOG_FORMAT] = { "logFormat", T_FORMAT, AT(log_json), 0, 0, 0, false, false },
	[AGENT_SET_ENFORCE] = { "enforce", T_BOOL, AT(enforce), 0, 0, 0, true, false },
	[AGENT_SET_POLICY_MODE] = { "policyMode", T_MODE, AT(policy_preview), 0, 0, 0, true,
				    false },
	[AGENT_SET_CLUSTER] = { "cluster", T_BOOL, AT(cluster), 0, 0, 0, true, false },
	[AGENT_SET_NAMESPACE] = { "namespace", T_STR, AT(ns), 0, 0, 0, true, false },
	[AGENT_SET_CLUSTER_INTERVAL] = { "clusterInterval", T_DUR, AT(cluster_interval_s), 0, 1,
					 DAY_S, false, false },
	[AGENT_SET_LEASE_DURATION] = { "leaseDuration", T_DUR, AT(lease_duration_s), 0, 2, 3600,
				       true, false },
	[AGENT_SET_LEASE_RENEW] = { "leaseRenew", T_DUR, AT(lease_renew_s), 0, 1, 3600, true,
				    false },
};

static void *field(struct agent_config *c, const struct setting *s)
{
	return (char *) c + s->off;
}

static const void *cfield(const struct agent_config *c, const struct setting *s)
{
	return (const char *) c + s->off;
}

static size_t *count_of(struct agent_config *c, const struct setting *s)
{
	return (size_t *) (void *) ((char *) c + s->count_off);
}

static size_t ccount_of(const struct agent_config *c, const struct setting *s)
{
	return *(const size_t *) (const void *) ((const char *) c + s->count_off);
}

const char *agent_setting_key(enum agent_setting s)
{
	return (unsigned) s < AGENT_SET_COUNT ? settings[s].key : "?";
}

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void field_done(struct agent_config *c, const struct setting *s)
{
	if (s->type == T_STR) {
		char **p = field(c, s);

		free(*p);
		*p = NULL;
	} else if (s->type == T_STRS) {
		char ***p = field(c, s);

		strs_free(*p, *count_of(c, s));
		*p = NULL;
		*count_of(c, s) = 0;
	}
}

static int strs_dup(char *const *v, size_t n, char ***ret)
{
	char **d = n ? calloc(n, sizeof(*d)) : NULL;

	if (n && !d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(d[i] = strdup(v[i]))) {
			strs_free(d, i);
			return -ENOMEM;
		}
	}
	*ret = d;
	return 0;
}

/* Copies setting @s from @src into @dst (whose own value is freed). */
static int field_copy(struct agent_config *dst, const struct agent_config *src,
		      const struct setting *s)
{
	switch (s->type) {
	case T_STR: {
		const char *v = *(char *const *) cfield(src, s);
		char *d = NULL;

		if (v && !(d = strdup(v)))
			return -ENOMEM;
		field_done(dst, s);
		*(char **) field(dst, s) = d;
		return 0;
	}
	case T_STRS: {
		char **d = NULL;
		size_t n = ccount_of(src, s);

		if (strs_dup(*(char **const *) cfield(src, s), n, &d) < 0)
			return -ENOMEM;
		field_done(dst, s);
		*(char ***) field(dst, s) = d;
		*count_of(dst, s) = n;
		return 0;
	}
	case T_BOOL:
	case T_FORMAT:
	case T_MODE:
		*(bool *) field(dst, s) = *(const bool *) cfield(src, s);
		return 0;
	case T_U16:
		*(uint16_t *) field(dst, s) = *(const uint16_t *) cfield(src, s);
		return 0;
	case T_U64:
	case T_DUR:
		*(uint64_t *) field(dst, s) = *(const uint64_t *) cfield(src, s);
		return 0;
	case T_LEVEL:
		*(int *) field(dst, s) = *(const int *) cfield(src, s);
		return 0;
	}
	return -EINVAL;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool field_equal(const struct agent_config *a, const struct agent_config *b,
			const struct setting *s)
{
	switch (s->type) {
	case T_STR:
		return str_eq(*(char *const *) cfield(a, s), *(char *const *) cfield(b, s));
	case T_STRS: {
		char *const *va = *(char **const *) cfield(a, s);
		char *const *vb = *(char **const *) cfield(b, s);
		size_t n = ccount_of(a, s);

		if (n != ccount_of(b, s))
			return false;
		for (size_t i = 0; i < n; i++)
			if (strcmp(va[i], vb[i]) != 0)
				return false;
		return true;
	}
	case T_BOOL:
	case T_FORMAT:
	case T_MODE:
		return *(const bool *) cfield(a, s) == *(const bool *) cfield(b, s);
	case T_U16:
		return *(const uint16_t *) cfield(a, s) == *(const uint16_t *) cfield(b, s);
	case T_U64:
	case T_DUR:
		return *(const uint64_t *) cfield(a, s) == *(const uint64_t *) cfield(b, s);
	case T_LEVEL:
		return *(const int *) cfield(a, s) == *(const int *) cfield(b, s);
	}
	return false;
}

void agent_config_done(struct agent_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < AGENT_SET_COUNT; i++)
		field_done(c, &settings[i]);
}

int agent_config_init(struct agent_config *c)
{
	*c = (struct agent_config){
		.nflog_group = RULESET_NFLOG_GROUP,
		.enforce = true,
		.learn_duration_s = DAY_S,
		.preview_window_s = DAY_S,
		.max_flows = 1000000,
		.max_alerts = 10000,
		.checkpoint_interval_s = 60,
		.cluster_interval_s = 60,
		.lease_duration_s = 15,
		.lease_renew_s = 5,
		.log_level = LOG_INFO,
	};
	const char *ns = getenv("POD_NAMESPACE");

	if (!ns || !ns[0])
		ns = AGENT_NAMESPACE_DEFAULT;
	if (!(c->ns = strdup(ns)) || !(c->state_dir = strdup(AGENT_STATE_DIR_DEFAULT)) ||
	    !(c->socket = strdup(AGENT_SOCKET_DEFAULT)) ||
	    !(c->listen = strdup(AGENT_LISTEN_DEFAULT))) {
		agent_config_done(c);
		return -ENOMEM;
	}
	return 0;
}

int agent_config_copy(struct agent_config *dst, const struct agent_config *src)
{
	struct agent_config d = *src;

	/* The scalars came with the struct; the strings are made again. */
	for (size_t i = 0; i < AGENT_SET_COUNT; i++) {
		const struct setting *s = &settings[i];

		if (s->type == T_STR)
			*(char **) field(&d, s) = NULL;
		else if (s->type == T_STRS)
			*(char ***) field(&d, s) = NULL, *count_of(&d, s) = 0;
	}
	for (size_t i = 0; i < AGENT_SET_COUNT; i++) {
		if (field_copy(&d, src, &settings[i]) < 0) {
			agent_config_done(&d);
			return -ENOMEM;
		}
	}
	*dst = d;
	return 0;
}

void agent_config_mark(struct agent_config *c, enum agent_setting s)
{
	if ((unsigned) s < AGENT_SET_COUNT)
		c->from_cli |= 1u << s;
}

/* --- the file --- */

static int bad(struct bh_err *reterr, const char *name, const char *key, const char *fmt, ...)
	BH_PRINTF(4, 5);

static int bad(struct bh_err *reterr, const char *name, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "config '%s': %s: %s", name, key, msg);
}

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int read_strs(struct agent_config *c, const struct setting *s, json_t *v, const char *name,
		     struct bh_err *reterr)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1, i;
	char **d = calloc(n ? n : 1, sizeof(*d));
	json_t *e;

	if (!d)
		return bh_err_oom(reterr);
	if (json_is_string(v)) {
		/* One value for a list of one. */
		d[0] = strdup(json_string_value(v));
		if (!d[0])
			goto oom;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || !*json_string_value(e)) {
				strs_free(d, n);
				return bad(reterr, name, s->key,
					   "item %zu: expected a non-empty string", i + 1);
			}
			if (!(d[i] = strdup(json_string_value(e))))
				goto oom;
		}
	} else {
		free(d);
		return bad(reterr, name, s->key, "expected a list of strings");
	}
	field_done(c, s);
	*(char ***) field(c, s) = d;
	*count_of(c, s) = n;
	return 0;
oom:
	strs_free(d, n);
	return bh_err_oom(reterr);
}

static int read_setting(struct agent_config *c, const struct setting *s, json_t *v,
			const char *name, struct bh_err *reterr)
{
	uint64_t u = 0;
	char lo[32], hi[32];
	const char *str = json_string_value(v);

	switch (s->type) {
	case T_STR:
		if (json_is_boolean(v) || json_is_number(v))
			/* node: n, node: 0123: YAML 1.1 read them as a boolean
			 * and a number, as kubectl would. */
			return bad(reterr, name, s->key,
				   "expected a string, got a %s (quote the value)",
				   json_is_boolean(v) ? "boolean" : "number");
		if (!str || (!*str && !s->may_be_empty))
			return bad(reterr, name, s->key, "expected a non-empty string");
		return set_str(field(c, s), str) < 0 ? bh_err_oom(reterr) : 0;
	case T_STRS:
		return read_strs(c, s, v, name, reterr);
	case T_BOOL:
		if (!json_is_boolean(v))
			return bad(reterr, name, s->key, "expected true or false");
		*(bool *) field(c, s) = json_is_true(v);
		return 0;
	case T_U16:
	case T_U64:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t) json_integer_value(v) < s->min ||
		    (uint64_t) json_integer_value(v) > s->max)
			return bad(reterr, name, s->key,
				   "expected an integer in %" PRIu64 "..%" PRIu64, s->min, s->max);
		u = (uint64_t) json_integer_value(v);
		if (s->type == T_U16)
			*(uint16_t *) field(c, s) = (uint16_t) u;
		else
			*(uint64_t *) field(c, s) = u;
		return 0;
	case T_DUR:
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			u = (uint64_t) json_integer_value(v);
		else if (!str || duration_parse(str, &u) < 0)
			u = UINT64_MAX;
		if (u < s->min || u > s->max)
			return bad(reterr, name, s->key,
				   "expected seconds or a duration like 90s, 10m, 24h or 1h30m "
				   "(%s..%s)",
				   duration_format(s->min, lo, sizeof(lo)),
				   duration_format(s->max, hi, sizeof(hi)));
		*(uint64_t *) field(c, s) = u;
		return 0;
	case T_LEVEL:
		if (!str || log_level_parse(str, field(c, s)) < 0)
			return bad(reterr, name, s->key,
				   "expected debug, info, notice, warning or err");
		return 0;
	case T_FORMAT:
		if (!str || (strcmp(str, "text") != 0 && strcmp(str, "json") != 0))
			return bad(reterr, name, s->key, "expected text or json");
		*(bool *) field(c, s) = strcmp(str, "json") == 0;
		return 0;
	case T_MODE:
		if (!str || (strcmp(str, "enforce") != 0 && strcmp(str, "preview") != 0))
			return bad(reterr, name, s->key, "expected enforce or preview");
		*(bool *) field(c, s) = strcmp(str, "preview") == 0;
		return 0;
	}
	return -EINVAL;
}

static const struct setting *setting_find(const char *key)
{
	for (size_t i = 0; i < AGENT_SET_COUNT; i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

static int check_header(json_t *root, const char *name, struct bh_err *reterr)
{
	json_t *v = json_object_get(root, "apiVersion");

	if (v && (!json_is_string(v) || strcmp(json_string_value(v), AGENT_API_VERSION) != 0))
		return bad(reterr, name, "apiVersion", "expected '%s'", AGENT_API_VERSION);
	v = json_object_get(root, "kind");
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), AGENT_KIND) != 0))
		return bad(reterr, name, "kind", "expected '%s'", AGENT_KIND);
	return 0;
}

int agent_config_parse(struct agent_config *c, const char *data, size_t len, const char *name,
		       struct bh_err *reterr)
{
	struct agent_config t;
	json_t *root = NULL, *v;
	const char *key;
	int r;

	r = kube_yaml_load(data, len, "config", name, &root, reterr);
	if (r < 0)
		return r;
	if (!json_is_object(root)) {
		json_decref(root);
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "config '%s': expected a mapping of settings", name);
	}
	r = check_header(root, name, reterr);
	if (r < 0)
		goto out;
	r = agent_config_copy(&t, c);
	if (r < 0) {
		r = bh_err_oom(reterr);
		goto out;
	}
	json_object_foreach(root, key, v) {
		const struct setting *s;

		if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0 || json_is_null(v))
			continue;
		s = setting_find(key);
		if (!s) {
			r = bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				       "config '%s': unknown key '%s'", name, key);
			break;
		}
		/* Read (so a bad value is an error) even when the command
		 * line's value wins: it is put back below. */
		r = read_setting(&t, s, v, name, reterr);
		if (r < 0)
			break;
	}
	for (size_t i = 0; r == 0 && i < AGENT_SET_COUNT; i++)
		if (c->from_cli & (1u << i) && field_copy(&t, c, &settings[i]) < 0)
			r = bh_err_oom(reterr);
	if (r < 0) {
		agent_config_done(&t);
		goto out;
	}
	agent_config_done(c);
	*c = t;
out:
	json_decref(root);
	return r;
}

int agent_config_load(struct agent_config *c, const char *path, struct bh_err *reterr)
{
	struct buf b;
	int r;

	buf_init(&b, AGENT_CONFIG_MAX);
	r = buf_read_file(&b, path);
	if (r == -E2BIG)
		r = bh_err_set(reterr, BH_ERR_INPUT, r, "config '%s': larger than %u bytes", path,
			       AGENT_CONFIG_MAX);
	else if (r < 0)
		r = bh_err_set(reterr, r == -ENOENT || r == -EISDIR ? BH_ERR_INPUT : BH_ERR_SYSTEM,
			       r, "config '%s': %s", path, strerror(-r));
	else
		r = agent_config_parse(c, b.data ? b.data : "", b.len, path, reterr);
	buf_done(&b);
	return r;
}

/* --- the whole --- */

int agent_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE },
			*ai = NULL;
	char host[64];
	const char *colon = strrchr(s, ':'), *h = host, *port;
	size_t hl;
	char *end;
	long p;

	if (!colon)
		return -EINVAL;
	port = colon + 1;
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 1 || p > 65535)
		return -EINVAL;
	hl = (size_t) (colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']')
		s++, hl -= 2;
	else if (memchr(s, ':', hl))
		return -EINVAL; /* a v6 address needs its brackets */
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (!hl)
		h = NULL; /* every address */
	if (getaddrinfo(h, port, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	if (ret && ai->ai_addrlen <= sizeof(*ret)) {
		memcpy(ret, ai->ai_addr, ai->ai_addrlen);
		*ret_len = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
	return 0;
}

int agent_config_check(const struct agent_config *c, struct bh_err *reterr)
{
	if (!c->node || !*c->node)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: node: the node's name is needed (--node NAME, or "
				  "node in the configuration file)");
	if (c->n_snapshots && (c->kubeconfig || c->context))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: snapshots and %s exclude each other (a snapshot is "
				  "the cluster when there is no API server)",
				  c->kubeconfig ? "kubeconfig" : "context");
	if (*c->listen && agent_listen_parse(c->listen, NULL, NULL) < 0)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: listen: expected ADDR:PORT, :PORT or [V6]:PORT, got '%s'",
				  c->listen);
	if (c->state_dir[0] != '/')
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: stateDir: expected an absolute path, got '%s'",
				  c->state_dir);
	if (c->socket[0] != '/')
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: socket: expected an absolute path, got '%s'", c->socket);
	/* The Lease holder trusts its Lease for two thirds of leaseDuration
	 * after a renewal (agent/cluster_lease.c): it must renew sooner. */
	if (c->cluster && c->lease_renew_s * 3 >= c->lease_duration_s * 2)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "agent: leaseRenew: %llu s is not under two thirds of "
				  "leaseDuration (%llu s)",
				  (unsigned long long) c->lease_renew_s,
				  (unsigned long long) c->lease_duration_s);
	return 0;
}

int agent_config_reload(const struct agent_config *cur, const char *path, struct agent_config *ret,
			uint32_t *ret_changed, struct bh_err *reterr)
{
	struct agent_config n;
	uint32_t changed = 0;
	int r;

	if (agent_config_init(&n) < 0)
		return bh_err_oom(reterr);
	/* The command line's settings first, so the file leaves them be. */
	n.from_cli = cur->from_cli;
	for (size_t i = 0; i < AGENT_SET_COUNT; i++) {
		if (cur->from_cli & (1u << i) && field_copy(&n, cur, &settings[i]) < 0) {
			agent_config_done(&n);
			return bh_err_oom(reterr);
		}
	}
	r = agent_config_load(&n, path, reterr);
	if (r == 0)
		r = agent_config_check(&n, reterr);
	if (r < 0) {
		agent_config_done(&n);
		return r;
	}
	for (size_t i = 0; i < AGENT_SET_COUNT; i++)
		if (!field_equal(cur, &n, &settings[i]))
			changed |= 1u << i;
	*ret = n;
	*ret_changed = changed;
	return 0;
}

uint32_t agent_config_restart_needed(uint32_t changed)
{
	uint32_t m = 0;

	for (size_t i = 0; i < AGENT_SET_COUNT; i++)
		if (settings[i].restart)
			m |= 1u << i;
	return changed & m;
}
