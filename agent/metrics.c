/*
 * The Prometheus registry; see include/metrics.h for the contract.
 *
 * A family keeps its series in a doubly linked list (creation order, for
 * the rendering and O(1) removal) and in a chained hash table over the
 * label values, which grows by doubling; label values may come from the
 * cluster (namespace and policy names), so the hash takes a random seed.
 *
 * Text format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
 * HELP text escapes '\' and newline; label values escape '\', '"' and
 * newline; floats are Go's ParseFloat syntax, which "%.17g", "+Inf",
 * "-Inf" and "NaN" are.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "metrics.h"

struct metrics_series {
	struct metrics_family *fam;
	struct metrics_series *prev, *next; /* creation order */
	struct metrics_series *hnext; /* hash chain */
	uint64_t hash;
	char *values[METRICS_LABELS_MAX]; /* into one allocation with the struct */
	uint64_t count; /* counter value; histogram observations */
	double value; /* gauge value; histogram sum */
	uint64_t *buckets; /* histogram: n_buckets + 1 (+Inf), not cumulative */
};

struct metrics_family {
	struct metrics_registry *reg;
	const struct metrics_family_def *def;
	size_t n_labels;
	struct metrics_family *next;
	struct metrics_series *first, *last;
	struct metrics_series **table;
	size_t n_table, n_series;
};

struct metrics_registry {
	struct metrics_family *first, *last;
	size_t series_max, n_series;
	uint64_t series_dropped;
	uint64_t seed;
};

static const char *const type_names[_METRICS_TYPE_MAX] = {
	[METRICS_COUNTER] = "counter",
	[METRICS_GAUGE] = "gauge",
	[METRICS_HISTOGRAM] = "histogram",
};

struct metrics_registry *metrics_registry_new(size_t series_max)
{
	struct metrics_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->series_max = series_max ? series_max : METRICS_SERIES_MAX_DEFAULT;
	r->seed = hash_seed_random();
	return r;
}

static void series_free(struct metrics_series *s)
{
	free(s->buckets);
	free(s);
}

struct metrics_registry *metrics_registry_free(struct metrics_registry *r)
{
	struct metrics_family *f, *fn;
	struct metrics_series *s, *sn;

	if (!r)
		return NULL;
	for (f = r->first; f; f = fn) {
		fn = f->next;
		for (s = f->first; s; s = sn) {
			sn = s->next;
			series_free(s);
		}
		free(f->table);
		free(f);
	}
	free(r);
	return NULL;
}

/* --- validation --- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static int def_check(const struct metrics_registry *r, const struct metrics_family_def *d,
		     size_t *ret_n_labels, struct bh_err *reterr)
{
	const char *n = d->name ? d->name : "(null)";
	size_t nl = 0;

	if (!name_ok(d->name, true))
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "metrics: family '%s': not a metric name", n);
	if ((unsigned) d->type >= _METRICS_TYPE_MAX)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "metrics: family '%s': bad type",
				  n);
	if (!d->help)
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "metrics: family '%s': no help",
				  n);
	for (const struct metrics_family *f = r->first; f; f = f->next)
		if (strcmp(f->def->name, d->name) == 0)
			return bh_err_set(reterr, BH_ERR_INPUT, -EEXIST,
					  "metrics: family '%s' registered twice", n);
	while (nl < METRICS_LABELS_MAX && d->labels[nl]) {
		const char *l = d->labels[nl];

		if (!name_ok(l, false) || strncmp(l, "__", 2) == 0 ||
		    (d->type == METRICS_HISTOGRAM && strcmp(l, "le") == 0))
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "metrics: family '%s': bad label name '%s'", n, l);
		for (size_t j = 0; j < nl; j++)
			if (strcmp(d->labels[j], l) == 0)
				return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
						  "metrics: family '%s': label '%s' twice", n, l);
		nl++;
	}
	if (d->type == METRICS_HISTOGRAM) {
		if (!d->buckets || d->n_buckets == 0 || d->n_buckets > METRICS_BUCKETS_MAX)
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
					  "metrics: family '%s': expected 1..%d buckets", n,
					  METRICS_BUCKETS_MAX);
		for (size_t i = 0; i < d->n_buckets; i++)
			if (!isfinite(d->buckets[i]) || (i && d->buckets[i] <= d->buckets[i - 1]))
				return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
						  "metrics: family '%s': buckets must be finite "
						  "and strictly increasing",
						  n);
	} else if (d->buckets || d->n_buckets) {
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "metrics: family '%s': buckets on a %s", n, type_names[d->type]);
	}
	*ret_n_labels = nl;
	return 0;
}

int metrics_family_add(struct metrics_registry *r, const struct metrics_family_def *def,
		       struct metrics_family **ret, struct bh_err *reterr)
{
	struct metrics_family *f;
	struct metrics_series *s;
	size_t nl = 0;
	int rc;

	rc = def_check(r, def, &nl, reterr);
	if (rc < 0)
		return rc;
	f = calloc(1, sizeof(*f));
	if (!f)
		return bh_err_oom(reterr);
	f->reg = r;
	f->def = def;
	f->n_labels = nl;
	if (r->last)
		r->last->next = f;
	else
		r->first = f;
	r->last = f;
	if (nl == 0) {
		/* Counted against the bound like any series; a registry too
		 * small for its unlabelled families is a programming error. */
		rc = metrics_series_get(f, NULL, &s);
		if (rc < 0)
			return bh_err_set(reterr, BH_ERR_SYSTEM, rc,
					  "metrics: family '%s': no room for its series",
					  def->name);
	}
	*ret = f;
	return 0;
}

/* --- series --- */

static uint64_t values_hash(const struct metrics_family *f, const char *const *values)
{
	uint64_t h = f->reg->seed;

	for (size_t i = 0; i < f->n_labels; i++)
		h = hash_bytes(values[i], strlen(values[i]) + 1, h);
	return h;
}

static bool values_eq(const struct metrics_series *s, const char *const *values)
{
	for (size_t i = 0; i < s->fam->n_labels; i++)
		if (strcmp(s->values[i], values[i]) != 0)
			return false;
	return true;
}

static int table_grow(struct metrics_family *f)
{
	size_t n = f->n_table ? 2 * f->n_table : 8;
	struct metrics_series **t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (struct metrics_series *s = f->first; s; s = s->next) {
		s->hnext = t[s->hash & (n - 1)];
		t[s->hash & (n - 1)] = s;
	}
	free(f->table);
	f->table = t;
	f->n_table = n;
	return 0;
}

static struct metrics_series *series_new(struct metrics_family *f, const char *const *values,
					 uint64_t h)
{
	size_t len[METRICS_LABELS_MAX], total = sizeof(struct metrics_series);
	struct metrics_series *s;
	char *p;

	for (size_t i = 0; i < f->n_labels; i++) {
		len[i] = strlen(values[i]) + 1;
		total += len[i];
	}
	s = calloc(1, total);
	if (!s)
		return NULL;
	p = (char *) (s + 1);
	for (size_t i = 0; i < f->n_labels; i++) {
		memcpy(p, values[i], len[i]);
		s->values[i] = p;
		p += len[i];
	}
	if (f->def->type == METRICS_HISTOGRAM) {
		s->buckets = calloc(f->def->n_buckets + 1, sizeof(*s->buckets));
		if (!s->buckets) {
			free(s);
			return NULL;
		}
	}
	s->fam = f;
	s->hash = h;
	return s;
}

int metrics_series_get(struct metrics_family *f, const char *const *values,
		       struct metrics_series **ret)
{
	struct metrics_registry *r = f->reg;
	struct metrics_series *s;
	uint64_t h;
	size_t b;

	if (f->n_labels && !values)
		return -EINVAL;
	for (size_t i = 0; i < f->n_labels; i++)
		if (!values[i])
			return -EINVAL;
	h = values_hash(f, values);
	if (f->n_table)
		for (s = f->table[h & (f->n_table - 1)]; s; s = s->hnext)
			if (s->hash == h && values_eq(s, values)) {
				*ret = s;
				return 0;
			}
	if (r->n_series >= r->series_max) {
		r->series_dropped++;
		return -E2BIG;
	}
	/* Load factor at most 1. */
	if (f->n_series >= f->n_table && table_grow(f) < 0)
		return -ENOMEM;
	s = series_new(f, values, h);
	if (!s)
		return -ENOMEM;
	b = h & (f->n_table - 1);
	s->hnext = f->table[b];
	f->table[b] = s;
	s->prev = f->last;
	if (f->last)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	f->n_series++;
	r->n_series++;
	*ret = s;
	return 0;
}

void metrics_series_remove(struct metrics_series *s)
{
	struct metrics_family *f;
	struct metrics_series **pp;

	if (!s)
		return;
	f = s->fam;
	for (pp = &f->table[s->hash & (f->n_table - 1)]; *pp; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	if (s->prev)
		s->prev->next = s->next;
	else
		f->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		f->last = s->prev;
	f->n_series--;
	f->reg->n_series--;
	series_free(s);
}

void metrics_counter_add(struct metrics_series *s, uint64_t n)
{
	s->count += n;
}

void metrics_counter_set(struct metrics_series *s, uint64_t v)
{
	s->count = v;
}

void metrics_gauge_set(struct metrics_series *s, double v)
{
	s->value = v;
}

void metrics_gauge_add(struct metrics_series *s, double v)
{
	s->value += v;
}

void metrics_histogram_observe(struct metrics_series *s, double v)
{
	const struct metrics_family_def *d = s->fam->def;
	size_t i = 0;

	/* NaN compares false everywhere and lands in +Inf, as in client_golang. */
	while (i < d->n_buckets && !(v <= d->buckets[i]))
		i++;
	s->buckets[i]++;
	s->count++;
	s->value += v;
}

double metrics_series_value(const struct metrics_series *s)
{
	switch (s->fam->def->type) {
	case METRICS_GAUGE:
		return s->value;
	default:
		return (double) s->count;
	}
}

/* --- rendering --- */

static int put_escaped(struct buf *b, const char *s, bool quote)
{
	const char *run = s;
	int r;

	for (; *s; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		if (!esc)
			continue;
		r = buf_append(b, run, (size_t) (s - run));
		if (r == 0)
			r = buf_append(b, esc, 2);
		if (r < 0)
			return r;
		run = s + 1;
	}
	return buf_append(b, run, (size_t) (s - run));
}

/* The shortest of %.15g and %.17g that reads back as @v: "0.001", not
 * "0.0010000000000000000208". */
static void fmt_double(char *s, size_t len, double v)
{
	if (isnan(v))
		(void) snprintf(s, len, "NaN");
	else if (isinf(v))
		(void) snprintf(s, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (snprintf(s, len, "%.15g", v) > 0 && strtod(s, NULL) != v)
		(void) snprintf(s, len, "%.17g", v);
}

static int put_double(struct buf *b, double v)
{
	char s[64];

	fmt_double(s, sizeof(s), v);
	return buf_append(b, s, strlen(s));
}

/* name{labels[,le="bound"]} with the series' label values. */
static int put_name(struct buf *b, const struct metrics_series *s, const char *suffix,
		    const char *le)
{
	const struct metrics_family *f = s->fam;
	int r;

	r = buf_printf(b, "%s%s", f->def->name, suffix);
	if (r < 0 || (!f->n_labels && !le))
		return r;
	r = buf_append(b, "{", 1);
	for (size_t i = 0; i < f->n_labels && r == 0; i++) {
		r = buf_printf(b, "%s%s=\"", i ? "," : "", f->def->labels[i]);
		if (r == 0)
			r = put_escaped(b, s->values[i], true);
		if (r == 0)
			r = buf_append(b, "\"", 1);
	}
	if (le && r == 0)
		r = buf_printf(b, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	if (r == 0)
		r = buf_append(b, "}", 1);
	return r;
}

static int put_histogram(struct buf *b, const struct metrics_series *s)
{
	const struct metrics_family_def *d = s->fam->def;
	uint64_t cum = 0;
	char le[64];
	int r = 0;

	for (size_t i = 0; i <= d->n_buckets && r == 0; i++) {
		cum += s->buckets[i];
		fmt_double(le, sizeof(le), i < d->n_buckets ? d->buckets[i] : INFINITY);
		r = put_name(b, s, "_bucket", le);
		if (r == 0)
			r = buf_printf(b, " %llu\n", (unsigned long long) cum);
	}
	if (r == 0)
		r = put_name(b, s, "_sum", NULL);
	if (r == 0)
		r = buf_append(b, " ", 1);
	if (r == 0)
		r = put_double(b, s->value);
	if (r == 0)
		r = buf_append(b, "\n", 1);
	if (r == 0)
		r = put_name(b, s, "_count", NULL);
	if (r == 0)
		r = buf_printf(b, " %llu\n", (unsigned long long) s->count);
	return r;
}

static int put_family(struct buf *b, const struct metrics_family *f)
{
	int r;

	r = buf_printf(b, "# HELP %s ", f->def->name);
	if (r == 0)
		r = put_escaped(b, f->def->help, false);
	if (r == 0)
		r = buf_printf(b, "\n# TYPE %s %s\n", f->def->name, type_names[f->def->type]);
	for (const struct metrics_series *s = f->first; s && r == 0; s = s->next) {
		switch (f->def->type) {
		case METRICS_COUNTER:
			r = put_name(b, s, "", NULL);
			if (r == 0)
				r = buf_printf(b, " %llu\n", (unsigned long long) s->count);
			break;
		case METRICS_GAUGE:
			r = put_name(b, s, "", NULL);
			if (r == 0)
				r = buf_append(b, " ", 1);
			if (r == 0)
				r = put_double(b, s->value);
			if (r == 0)
				r = buf_append(b, "\n", 1);
			break;
		default:
			r = put_histogram(b, s);
			break;
		}
	}
	return r;
}

int metrics_render(const struct metrics_registry *r, struct buf *out)
{
	int rc = 0;

	for (const struct metrics_family *f = r->first; f && rc == 0; f = f->next)
		rc = put_family(out, f);
	if (rc == 0)
		rc = buf_printf(out,
				"# HELP bulkhead_metrics_series_dropped_total Series not created "
				"because the registry held its maximum of %zu.\n"
				"# TYPE bulkhead_metrics_series_dropped_total counter\n"
				"bulkhead_metrics_series_dropped_total %llu\n",
				r->series_max, (unsigned long long) r->series_dropped);
	return rc;
}

/* --- the agent's families --- */

/* Ruleset programming: an incremental batch takes about 2 ms, a full
 * apply of a large node about 1.2 s (README, measured figures). */
static const double ruleset_buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* A state-database write: a WAL commit is sub-millisecond to a few ms; a
 * checkpoint of a million flows is in the seconds. */
static const double db_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5,
};

const struct metrics_family_def metrics_agent_defs[_METRICS_AGENT_MAX] = {
	[METRICS_FLOWS_LEARNED] = {
		.name = "bulkhead_flows_learned_total",
		.help = "Distinct flows added to the flow table, by the source that saw them first.",
		.type = METRICS_COUNTER,
		.labels = { "source" },
	},
	[METRICS_FLOWS_EVICTED] = {
		.name = "bulkhead_flows_evicted_total",
		.help = "Flows evicted from the full flow table (least recently seen first).",
		.type = METRICS_COUNTER,
	},
	[METRICS_FLOWS] = {
		.name = "bulkhead_flows",
		.help = "Flows in the flow table.",
		.type = METRICS_GAUGE,
	},
	[METRICS_CAPTURE_DROPS] = {
		.name = "bulkhead_capture_drops_total",
		.help = "Packets the kernel dropped before capture could read them, by interface.",
		.type = METRICS_COUNTER,
		.labels = { "interface" },
	},
	[METRICS_CONNTRACK_OVERRUNS] = {
		.name = "bulkhead_conntrack_overruns_total",
		.help = "Conntrack event socket overruns (ENOBUFS), each followed by a full resync.",
		.type = METRICS_COUNTER,
	},
	[METRICS_ALERTS] = {
		.name = "bulkhead_alerts_total",
		.help = "Preview alerts recorded: new (source workload, destination workload, port, "
			"protocol) keys.",
		.type = METRICS_COUNTER,
	},
	[METRICS_ALERTS_DROPPED] = {
		.name = "bulkhead_alerts_dropped_total",
		.help = "NFLOG messages not recorded as alerts because the alert table was full.",
		.type = METRICS_COUNTER,
	},
	[METRICS_NFLOG_OVERRUNS] = {
		.name = "bulkhead_nflog_overruns_total",
		.help = "Times the NFLOG socket overflowed and the kernel dropped logged packets "
			"(their flows are logged again in the next interval).",
		.type = METRICS_COUNTER,
	},
	[METRICS_POLICY_PACKETS] = {
		.name = "bulkhead_policy_packets_total",
		.help = "Packets counted by the nftables counters of a NetworkPolicy, by verdict "
			"(allowed, would_deny in preview, dropped in enforce).",
		.type = METRICS_COUNTER,
		.labels = { "namespace", "policy", "verdict" },
	},
	[METRICS_RULESET_PROGRAM_SECONDS] = {
		.name = "bulkhead_ruleset_program_duration_seconds",
		.help = "Time to program one nftables batch, from build to the last ACK, by kind "
			"(full, incremental).",
		.type = METRICS_HISTOGRAM,
		.labels = { "kind" },
		.buckets = ruleset_buckets,
		.n_buckets = BH_ARRAY_SIZE(ruleset_buckets),
	},
	[METRICS_RULESET_BATCHES] = {
		.name = "bulkhead_ruleset_batches_total",
		.help = "nftables batches committed by the agent, by kind (full: the table replaced "
			"in one batch; incremental: a delta).",
		.type = METRICS_COUNTER,
		.labels = { "kind" },
	},
	[METRICS_RULESET_RESYNCS] = {
		.name = "bulkhead_ruleset_resyncs_total",
		.help = "Full replaces of the table after a failed update or batch, or after the "
			"kernel refused a delta for a full set.",
		.type = METRICS_COUNTER,
	},
	[METRICS_RULESET_ERRORS] = {
		.name = "bulkhead_ruleset_errors_total",
		.help = "Ruleset updates or nftables batches that failed (the kernel kept what it "
			"had).",
		.type = METRICS_COUNTER,
	},
	[METRICS_RULESET_LAST_SYNC] = {
		.name = "bulkhead_ruleset_last_sync_timestamp_seconds",
		.help = "Unix time when the kernel's table was last brought in step with the "
			"cluster (0: not yet).",
		.type = METRICS_GAUGE,
	},
	[METRICS_RULESET_INFO] = {
		.name = "bulkhead_ruleset_info",
		.help = "1, labelled with the digest comment of table inet bulkhead as the agent "
			"last replaced or adopted it.",
		.type = METRICS_GAUGE,
		.labels = { "digest" },
	},
	[METRICS_WATCH_RESTARTS] = {
		.name = "bulkhead_watch_restarts_total",
		.help = "Kubernetes watches restarted (stream ended or failed), by resource.",
		.type = METRICS_COUNTER,
		.labels = { "resource" },
	},
	[METRICS_WATCH_RELISTS] = {
		.name = "bulkhead_watch_relists_total",
		.help = "Full relists of a resource (410 Gone, or a restart after an outage).",
		.type = METRICS_COUNTER,
		.labels = { "resource" },
	},
	[METRICS_API_ERRORS] = {
		.name = "bulkhead_api_errors_total",
		.help = "Failed requests to the Kubernetes API server, by resource.",
		.type = METRICS_COUNTER,
		.labels = { "resource" },
	},
	[METRICS_STATE_DB_WRITE_SECONDS] = {
		.name = "bulkhead_state_db_write_duration_seconds",
		.help = "Time of one state-database write transaction.",
		.type = METRICS_HISTOGRAM,
		.buckets = db_buckets,
		.n_buckets = BH_ARRAY_SIZE(db_buckets),
	},
	[METRICS_STATE_DB_FULL_CHECKPOINTS] = {
		.name = "bulkhead_state_db_full_checkpoints_total",
		.help = "Flow checkpoints that rewrote the stored flows whole, because more flows "
			"left the table since the last one than its record of them holds.",
		.type = METRICS_COUNTER,
	},
	[METRICS_CAPTURE_INTERFACES] = {
		.name = "bulkhead_capture_interfaces",
		.help = "Interfaces matching --interface that are being captured now (one capture "
			"handle each).",
		.type = METRICS_GAUGE,
	},
};

int metrics_agent_register(struct metrics_registry *r,
			   struct metrics_family *ret[_METRICS_AGENT_MAX], struct bh_err *reterr)
{
	struct metrics_family *fams[_METRICS_AGENT_MAX];
	int rc;

	for (size_t i = 0; i < _METRICS_AGENT_MAX; i++) {
		rc = metrics_family_add(r, &metrics_agent_defs[i], &fams[i], reterr);
		if (rc < 0)
			return rc;
	}
	memcpy(ret, fams, sizeof(fams));
	return 0;
}
