/*
 * The preview alert table (include/alerts.h).
 *
 * Layout: every string an alert holds (peers, policy, explanation, pods)
 * is interned once in a pool with a reference count, because the alerts
 * of one flood share nearly all of them: a port scan is one source, one
 * destination, one policy and one explanation over thousands of ports, so
 * an alert costs its node and its index slots, not five copies of its
 * strings.  Interned peers make the key index cheap too: two peers are
 * equal when their pool pointers are, so the key index hashes two
 * pointers, a port and a protocol.  A second index maps ids to alerts,
 * and an array keeps the first-seen order.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "addr.h"
#include "alerts.h"
#include "cluster.h"
#include "hash.h"
#include "hmap.h"
#include "proto.h"
#include "rfc3339.h"
#include "vec.h"

/* Past this a time in milliseconds does not fit unix nanoseconds
 * (rfc3339_format_ns()): the year 2262. */
#define ALERT_TIME_MAX (INT64_MAX / 1000000)

/* An interned string; the pool's key points at @s. */
struct istr {
	uint32_t refs;
	uint32_t len;
	char s[];
};

/* The key index hashes this: interned peers compare by pointer.  Every
 * byte is written (no padding), so equal keys hash equal. */
struct ikey {
	const char *src, *dst;
	uint32_t port_proto; /* port << 8 | proto */
	uint32_t zero;
};

struct alert_node {
	struct alert_entry e; /* first: alerts_at() hands out &node->e */
	struct ikey key;
};

struct alerts {
	size_t limit;
	struct alert_node **order; /* first-seen order */
	size_t n, cap;
	struct hmap pool; /* string -> struct istr */
	struct hmap by_key; /* struct ikey -> node */
	struct hmap by_id; /* id -> node */
	size_t open;
	size_t bytes; /* nodes and interned strings */
	struct alerts_stats stats;
};

/* ---- ids ----
 *
 * The report's definition (docs/report.md, "Ids"): the first 16 hex
 * digits of SHA-256 of "SRC\nDST\nPORT\nPROTOCOL", the peers as the table
 * keeps them, the port in decimal, the protocol as the report writes it.
 * So anyone can compute an alert's id from the report (it is the id of the
 * flow edge the alert stands for), and it never changes with the build or
 * the machine.  SHA-256 is libcrypto's, already in the process through
 * libcurl. */

/* The protocol as the report writes it: "TCP", "UDP", "SCTP", "ICMP",
 * "ICMPv6", or its number (into @num). */
static const char *proto_label(uint8_t proto, char num[8])
{
	const char *name = proto_name(proto);

	if (name)
		return name;
	if (proto == IPPROTO_ICMP)
		return "ICMP";
	if (proto == IPPROTO_ICMPV6)
		return "ICMPv6";
	snprintf(num, 8, "%u", proto);
	return num;
}

/* The id of @key; with @salt > 0, "\n" and the salt in decimal follow the
 * key: the next ids of the sequence a colliding key takes. */
static void id_make(const struct alert_key *key, uint32_t salt, char out[ALERT_ID_SIZE])
{
	char buf[2 * ALERT_PEER_MAX + 64], num[8];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n;

	n = snprintf(buf, sizeof(buf), "%s\n%s\n%u\n%s", key->src, key->dst, key->port,
		     proto_label(key->proto, num));
	if (salt && n >= 0 && (size_t) n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t) n, "\n%u", salt);
	/* Peers longer than ALERT_PEER_MAX are refused before a key gets
	 * here.  Should the digest fail (libcrypto out of memory), the id is
	 * the salt in hex: valid, and the salted sequence still ends at an
	 * id the table does not hold. */
	if (n < 0 || (size_t) n >= sizeof(buf) ||
	    !EVP_Digest(buf, (size_t) n, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8) {
		snprintf(out, ALERT_ID_SIZE, "%016x", salt);
		return;
	}
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void alert_id_make(const struct alert_key *key, char out[ALERT_ID_SIZE])
{
	id_make(key, 0, out);
}

bool alert_id_valid(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; i < ALERT_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[i] == '\0';
}

/* ---- names ---- */

static const char *const state_names[_ALERT_STATE_MAX] = {
	[ALERT_OPEN] = "open",
	[ALERT_ALLOWED] = "allowed",
	[ALERT_DISMISSED] = "dismissed",
};

static const char *const direction_names[_ALERT_DIRECTION_MAX] = {
	[ALERT_INGRESS] = "ingress",
	[ALERT_EGRESS] = "egress",
};

const char *alert_state_name(enum alert_state s)
{
	return (unsigned) s < _ALERT_STATE_MAX ? state_names[s] : NULL;
}

int alert_state_parse(const char *s, enum alert_state *ret)
{
	for (size_t i = 0; s && i < _ALERT_STATE_MAX; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum alert_state) i;
			return 0;
		}
	return -EINVAL;
}

const char *alert_direction_name(enum alert_direction d)
{
	return (unsigned) d < _ALERT_DIRECTION_MAX ? direction_names[d] : NULL;
}

/* ---- validation ---- */

static size_t count_char(const char *s, size_t n, char c)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

/* @n bytes of @s split by '/' into @parts non-empty parts. */
static bool has_parts(const char *s, size_t n, size_t parts)
{
	if (n == 0 || s[0] == '/' || s[n - 1] == '/' || count_char(s, n, '/') != parts - 1)
		return false;
	return !memmem(s, n, "//", 2);
}

int alert_peer_canon(const char *in, char *out, size_t len)
{
	size_t n = in ? strnlen(in, ALERT_PEER_MAX + 1) : 0;
	char buf[ADDR_STR_MAX];
	struct cidr c;

	if (n == 0 || n > ALERT_PEER_MAX)
		return -EINVAL;
	if (has_parts(in, n, 3)) {
		if (n >= len)
			return -EINVAL;
		memcpy(out, in, n + 1);
		return 1;
	}
	if (strchr(in, '/')) {
		if (cidr_parse(in, &c) < 0)
			return -EINVAL;
	} else {
		struct addr a;

		if (addr_parse(in, &a) < 0)
			return -EINVAL;
		cidr_from_addr(&c, &a);
	}
	cidr_format(&c, buf, sizeof(buf));
	if (strlen(buf) >= len)
		return -EINVAL;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

/* The info, checked, with its strings' lengths (the explanation cut at a
 * character boundary). */
struct info_norm {
	enum alert_direction direction;
	const char *policy, *expl, *src_pod, *dst_pod;
	size_t policy_len, expl_len, src_pod_len, dst_pod_len;
};

static int pod_norm(const char *pod, const char **ret, size_t *ret_len)
{
	size_t n = pod ? strnlen(pod, ALERT_POD_MAX + 1) : 0;

	if (n > ALERT_POD_MAX || (n && memchr(pod, '/', n)))
		return -EINVAL;
	*ret = n ? pod : NULL;
	*ret_len = n;
	return 0;
}

static int info_norm(const struct alert_info *info, struct info_norm *ret)
{
	struct info_norm v = { .direction = info->direction, .policy = info->policy };
	size_t n;

	if ((unsigned) info->direction >= _ALERT_DIRECTION_MAX || !info->policy)
		return -EINVAL;
	v.policy_len = strnlen(info->policy, ALERT_POLICY_MAX + 1);
	if (v.policy_len > ALERT_POLICY_MAX || !has_parts(info->policy, v.policy_len, 2))
		return -EINVAL;
	if (pod_norm(info->src_pod, &v.src_pod, &v.src_pod_len) < 0 ||
	    pod_norm(info->dst_pod, &v.dst_pod, &v.dst_pod_len) < 0)
		return -EINVAL;
	v.expl = info->explanation ? info->explanation : "";
	n = strnlen(v.expl, ALERT_EXPLANATION_MAX + 1);
	if (n > ALERT_EXPLANATION_MAX) {
		/* Cut before the character the limit falls in, not inside it. */
		n = ALERT_EXPLANATION_MAX;
		while (n > 0 && ((unsigned char) v.expl[n] & 0xc0) == 0x80)
			n--;
	}
	v.expl_len = n;
	*ret = v;
	return 0;
}

/* ---- the string pool ---- */

static struct istr *istr_of(const char *s)
{
	/* The pool allocated it as an istr: the alignment is the struct's. */
	return (struct istr *) (void *) (s - offsetof(struct istr, s));
}

/* The interned copy of @s (@n bytes), with one more reference; NULL on
 * allocation failure. */
static const char *pool_ref(struct alerts *t, const char *s, size_t n)
{
	struct istr *is = hmap_get(&t->pool, s, n);

	if (is) {
		is->refs++;
		return is->s;
	}
	is = malloc(sizeof(*is) + n + 1);
	if (!is)
		return NULL;
	is->refs = 1;
	is->len = (uint32_t) n;
	memcpy(is->s, s, n);
	is->s[n] = '\0';
	if (hmap_put(&t->pool, is->s, n, is) < 0) {
		free(is);
		return NULL;
	}
	t->bytes += sizeof(*is) + n + 1;
	return is->s;
}

/* NULL-safe. */
static void pool_unref(struct alerts *t, const char *s)
{
	struct istr *is;

	if (!s)
		return;
	is = istr_of(s);
	if (--is->refs)
		return;
	(void) hmap_remove(&t->pool, is->s, is->len, NULL);
	t->bytes -= sizeof(*is) + is->len + 1;
	free(is);
}

/* Like pool_ref(), but NULL stays NULL; sets *@failed on failure. */
static const char *pool_ref_opt(struct alerts *t, const char *s, size_t n, bool *failed)
{
	const char *r;

	if (!s || *failed)
		return NULL;
	r = pool_ref(t, s, n);
	if (!r)
		*failed = true;
	return r;
}

static bool same(const char *held, const char *s, size_t n)
{
	if (!held || !s)
		return held == s;
	return istr_of(held)->len == n && memcmp(held, s, n) == 0;
}

/* Replaces @e's info by @v's: takes the new strings first, so that a
 * failure changes nothing. */
static int info_set(struct alerts *t, struct alert_entry *e, const struct info_norm *v)
{
	const char *old[4] = { e->policy, e->explanation, e->src_pod, e->dst_pod };
	const char *nw[4] = { e->policy, e->explanation, e->src_pod, e->dst_pod };
	const char *s[4] = { v->policy, v->expl, v->src_pod, v->dst_pod };
	size_t n[4] = { v->policy_len, v->expl_len, v->src_pod_len, v->dst_pod_len };
	bool failed = false, changed[4] = { false };

	for (size_t i = 0; i < 4; i++) {
		if (same(old[i], s[i], n[i]))
			continue;
		nw[i] = pool_ref_opt(t, s[i], n[i], &failed);
		changed[i] = true;
	}
	if (failed) {
		for (size_t i = 0; i < 4; i++)
			if (changed[i])
				pool_unref(t, nw[i]);
		return -ENOMEM;
	}
	for (size_t i = 0; i < 4; i++)
		if (changed[i])
			pool_unref(t, old[i]);
	e->policy = nw[0];
	e->explanation = nw[1];
	e->src_pod = nw[2];
	e->dst_pod = nw[3];
	e->direction = v->direction;
	return 0;
}

/* ---- the table ---- */

struct alerts *alerts_new(size_t limit)
{
	struct alerts *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->limit = limit;
	hmap_init(&t->pool, hash_seed_random());
	hmap_init(&t->by_key, hash_seed_random());
	hmap_init(&t->by_id, hash_seed_random());
	return t;
}

static void node_free(struct alerts *t, struct alert_node *nd)
{
	struct alert_entry *e = &nd->e;

	pool_unref(t, e->src);
	pool_unref(t, e->dst);
	pool_unref(t, e->policy);
	pool_unref(t, e->explanation);
	pool_unref(t, e->src_pod);
	pool_unref(t, e->dst_pod);
	t->bytes -= sizeof(*nd);
	free(nd);
}

struct alerts *alerts_free(struct alerts *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		node_free(t, t->order[i]);
	free(t->order);
	hmap_free(&t->pool);
	hmap_free(&t->by_key);
	hmap_free(&t->by_id);
	free(t);
	return NULL;
}

static struct ikey ikey_of(const char *src, const char *dst, uint16_t port, uint8_t proto)
{
	struct ikey k;

	memset(&k, 0, sizeof(k));
	k.src = src;
	k.dst = dst;
	k.port_proto = (uint32_t) port << 8 | proto;
	return k;
}

/* A key with its peers in canonical form (in @src, @dst). */
struct key_norm {
	char src[ALERT_PEER_MAX + 1], dst[ALERT_PEER_MAX + 1];
	uint16_t port;
	uint8_t proto;
};

static int key_norm(const struct alert_key *key, struct key_norm *ret)
{
	if (alert_peer_canon(key->src, ret->src, sizeof(ret->src)) < 0 ||
	    alert_peer_canon(key->dst, ret->dst, sizeof(ret->dst)) < 0)
		return -EINVAL;
	ret->port = key->port;
	ret->proto = key->proto;
	return 0;
}

static struct alert_node *node_lookup(const struct alerts *t, const struct key_norm *k)
{
	struct istr *src = hmap_get(&t->pool, k->src, strlen(k->src));
	struct istr *dst = hmap_get(&t->pool, k->dst, strlen(k->dst));
	struct ikey ik;

	if (!src || !dst)
		return NULL;
	ik = ikey_of(src->s, dst->s, k->port, k->proto);
	return hmap_get(&t->by_key, &ik, sizeof(ik));
}

/* The first id of @k's salted sequence that no alert of @t holds. */
static void id_free_for(const struct alerts *t, const struct key_norm *k, char out[ALERT_ID_SIZE])
{
	struct alert_key key = { .src = k->src, .dst = k->dst, .port = k->port, .proto = k->proto };

	for (uint32_t salt = 0;; salt++) {
		id_make(&key, salt, out);
		if (!hmap_get(&t->by_id, out, ALERT_ID_LEN))
			return;
	}
}

/* Creates the alert of @k with @v's info, @s's id, counts and state (an
 * empty id: derived), at its place in first-seen order. */
static int node_add(struct alerts *t, const struct key_norm *k, const struct info_norm *v,
		    const struct alert_saved *s)
{
	struct alert_node *nd;
	struct alert_entry *e;
	bool failed = false;
	size_t pos;
	int r;

	if (t->n == t->cap) {
		struct alert_node **o = vec_grow(t->order, &t->cap, t->n + 1, sizeof(*o));

		if (!o)
			return -ENOMEM;
		t->order = o;
	}
	nd = calloc(1, sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	t->bytes += sizeof(*nd);
	e = &nd->e;
	e->src = pool_ref_opt(t, k->src, strlen(k->src), &failed);
	e->dst = pool_ref_opt(t, k->dst, strlen(k->dst), &failed);
	if (failed) {
		node_free(t, nd);
		return -ENOMEM;
	}
	r = info_set(t, e, v);
	if (r < 0) {
		node_free(t, nd);
		return r;
	}
	if (s->id && s->id[0])
		memcpy(e->id, s->id, ALERT_ID_SIZE);
	else
		id_free_for(t, k, e->id);
	e->port = k->port;
	e->proto = k->proto;
	e->count = s->count;
	e->first_seen = s->first_seen;
	e->last_seen = s->last_seen;
	e->state = s->state;
	nd->key = ikey_of(e->src, e->dst, k->port, k->proto);
	r = hmap_put(&t->by_key, &nd->key, sizeof(nd->key), nd);
	if (r < 0) {
		node_free(t, nd);
		return -ENOMEM;
	}
	r = hmap_put(&t->by_id, e->id, ALERT_ID_LEN, nd);
	if (r < 0) {
		(void) hmap_remove(&t->by_key, &nd->key, sizeof(nd->key), NULL);
		node_free(t, nd);
		return -ENOMEM;
	}
	/* Ordered by first seen: a new alert goes last, unless the clock went
	 * back; the state database hands saved alerts over in first-seen
	 * order, so the scan is short there too. */
	for (pos = t->n; pos > 0 && t->order[pos - 1]->e.first_seen > e->first_seen; pos--)
		;
	memmove(&t->order[pos + 1], &t->order[pos], (t->n - pos) * sizeof(*t->order));
	t->order[pos] = nd;
	t->n++;
	if (e->state == ALERT_OPEN)
		t->open++;
	return 0;
}

static bool time_valid(int64_t ms)
{
	return ms >= 0 && ms <= ALERT_TIME_MAX;
}

int alerts_observe(struct alerts *t, const struct alert_key *key, const struct alert_info *info,
		   int64_t now)
{
	struct key_norm k;
	struct info_norm v;
	struct alert_node *nd;
	int r;

	if (!time_valid(now) || key_norm(key, &k) < 0 || info_norm(info, &v) < 0) {
		t->stats.invalid++;
		return -EINVAL;
	}
	t->stats.observed++;
	nd = node_lookup(t, &k);
	if (nd) {
		r = info_set(t, &nd->e, &v);
		if (r < 0)
			return r;
		nd->e.count++;
		if (now > nd->e.last_seen)
			nd->e.last_seen = now;
		return 0;
	}
	if (t->n >= t->limit) {
		t->stats.dropped++;
		return -ENOBUFS;
	}
	r = node_add(
		t, &k, &v,
		&(struct alert_saved){
			.count = 1, .first_seen = now, .last_seen = now, .state = ALERT_OPEN });
	if (r < 0)
		return r;
	t->stats.created++;
	return 1;
}

int alerts_restore(struct alerts *t, const struct alert_key *key, const struct alert_info *info,
		   const struct alert_saved *s)
{
	struct key_norm k;
	struct info_norm v;
	int r;

	if (key_norm(key, &k) < 0 || info_norm(info, &v) < 0 || s->count == 0 ||
	    !time_valid(s->first_seen) || !time_valid(s->last_seen) ||
	    s->last_seen < s->first_seen || (unsigned) s->state >= _ALERT_STATE_MAX ||
	    (s->id && s->id[0] && !alert_id_valid(s->id)))
		return -EINVAL;
	if (node_lookup(t, &k) || (s->id && s->id[0] && hmap_get(&t->by_id, s->id, ALERT_ID_LEN)))
		return -EEXIST;
	if (t->n >= t->limit)
		return -ENOBUFS;
	r = node_add(t, &k, &v, s);
	if (r < 0)
		return r;
	t->stats.restored++;
	return 0;
}

bool alerts_full(const struct alerts *t)
{
	return t->n >= t->limit;
}

void alerts_drop(struct alerts *t)
{
	t->stats.observed++;
	t->stats.dropped++;
}

size_t alerts_count(const struct alerts *t)
{
	return t->n;
}

const struct alert_entry *alerts_at(const struct alerts *t, size_t i)
{
	return i < t->n ? &t->order[i]->e : NULL;
}

const struct alert_entry *alerts_find(const struct alerts *t, const char *id)
{
	struct alert_node *nd;

	if (!alert_id_valid(id))
		return NULL;
	nd = hmap_get(&t->by_id, id, ALERT_ID_LEN);
	return nd ? &nd->e : NULL;
}

const struct alert_entry *alerts_lookup(const struct alerts *t, const struct alert_key *key)
{
	struct key_norm k;
	struct alert_node *nd;

	if (key_norm(key, &k) < 0)
		return NULL;
	nd = node_lookup(t, &k);
	return nd ? &nd->e : NULL;
}

int alerts_set_state(struct alerts *t, const char *id, enum alert_state state)
{
	struct alert_node *nd;

	if ((unsigned) state >= _ALERT_STATE_MAX)
		return -EINVAL;
	if (!alert_id_valid(id))
		return -ENOENT;
	nd = hmap_get(&t->by_id, id, ALERT_ID_LEN);
	if (!nd)
		return -ENOENT;
	if (nd->e.state == ALERT_OPEN)
		t->open--;
	if (state == ALERT_OPEN)
		t->open++;
	nd->e.state = state;
	return 0;
}

size_t alerts_open(const struct alerts *t)
{
	return t->open;
}

const struct alerts_stats *alerts_stats(const struct alerts *t)
{
	return &t->stats;
}

size_t alerts_mem(const struct alerts *t)
{
	return sizeof(*t) + t->bytes + t->cap * sizeof(*t->order) +
	       (t->pool.cap + t->by_key.cap + t->by_id.cap) * sizeof(struct hmap_slot);
}

/* ---- JSON ---- */

static void peer_json(struct json_out *w, const char *name, const char *peer, const char *pod)
{
	json_out_key(w, name);
	json_out_obj_begin(w);
	/* Canonical peers: a workload has two slashes, a CIDR one. */
	json_out_key(w, count_char(peer, strlen(peer), '/') == 2 ? "workload" : "cidr");
	json_out_str(w, peer);
	if (pod) {
		json_out_key(w, "pod");
		json_out_str(w, pod);
	}
	json_out_obj_end(w);
}

static void time_json(struct json_out *w, const char *name, int64_t ms)
{
	char buf[RFC3339_STR_MAX];

	json_out_key(w, name);
	if (time_valid(ms) && rfc3339_format_ns(ms * 1000000, 3, buf, sizeof(buf)))
		json_out_str(w, buf);
	else
		json_out_null(w);
}

/* Whether @c holds the policy @ref names ("NAMESPACE/NAME"): a cluster
 * policy, or a proposal policy of that name (NETPOL_PROPOSAL_PREFIX). */
static bool policy_known(const struct cluster *c, const char *ref)
{
	const char *slash = strchr(ref, '/');
	char ns[256], name[600];

	if (!slash || (size_t) (slash - ref) >= sizeof(ns))
		return false;
	memcpy(ns, ref, (size_t) (slash - ref));
	ns[slash - ref] = '\0';
	if (cluster_policy_find(c, ns, slash + 1))
		return true;
	if ((size_t) snprintf(name, sizeof(name), "%s%s", NETPOL_PROPOSAL_PREFIX, slash + 1) >=
	    sizeof(name))
		return false;
	return cluster_policy_find(c, ns, name) != NULL;
}

void alert_json(const struct alert_entry *a, const struct cluster *c, struct json_out *w)
{
	char num[8];
	const char *proto = proto_label(a->proto, num);

	json_out_obj_begin(w);
	json_out_key(w, "id");
	json_out_str(w, a->id);
	peer_json(w, "src", a->src, a->src_pod);
	peer_json(w, "dst", a->dst, a->dst_pod);
	json_out_key(w, "port");
	json_out_uint(w, a->port);
	json_out_key(w, "protocol");
	json_out_str(w, proto);
	json_out_key(w, "direction");
	json_out_str(w, alert_direction_name(a->direction));
	json_out_key(w, "policy");
	if (c && !policy_known(c, a->policy))
		json_out_null(w);
	else
		json_out_str(w, a->policy);
	json_out_key(w, "explanation");
	json_out_str(w, a->explanation);
	json_out_key(w, "count");
	json_out_uint(w, a->count);
	time_json(w, "firstSeen", a->first_seen);
	time_json(w, "lastSeen", a->last_seen);
	json_out_key(w, "state");
	json_out_str(w, alert_state_name(a->state));
	json_out_obj_end(w);
}
