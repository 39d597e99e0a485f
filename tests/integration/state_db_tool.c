/*
 * state_db_tool: drives the state store (include/state_db.h) for
 * tests/integration/state_db_faults.sh, the way the agent will: a
 * generation of records written in one go, kept in memory, and written
 * again until it succeeds.
 *
 *   state_db_tool DIR fill N GEN      checkpoint N flows of generation GEN,
 *                                     with an alert, a mode, a proposal and
 *                                     a digest of that generation
 *   state_db_tool DIR verify N GEN    the store holds exactly that
 *   state_db_tool DIR retry N GEN S   fill, and on failure say so (with what
 *                                     is still stored) and retry every
 *                                     100 ms for S seconds
 *
 * Prints "health: ok" or "health: degraded: MSG" after opening and after
 * each outcome.  Exit 0 done, 1 verify mismatch, 2 usage, 3 store error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state_db.h"

static void gen_get_cb(void *ud, size_t i, struct flow_record *ret)
{
	uint64_t gen = *(const uint64_t *) ud;
	uint8_t s[4] = { 10, (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
	uint8_t d[4] = { 10, 200, (uint8_t) (i % 7), 1 };

	*ret = (struct flow_record){ .key = { .proto = 6, .port = (uint16_t) (i % 5000) },
				     .packets = gen,
				     .bytes = gen * 1000 + i,
				     .connections = 1,
				     .first_seen = 1700000000,
				     .last_seen = 1700000000 + (int64_t) gen,
				     .seen_by = FLOW_SEEN_PCAP };
	addr_from_v4(&ret->key.src, s);
	addr_from_v4(&ret->key.dst, d);
}

static void print_health(const struct state_db *db)
{
	const struct state_db_health *h = state_db_health(db);

	if (h->ok)
		printf("health: ok\n");
	else
		printf("health: degraded: %s\n", h->msg);
	fflush(stdout);
}

static int fill(struct state_db *db, size_t n, uint64_t gen, struct bh_err *err)
{
	struct state_db_flows f = { .n = n, .get_cb = gen_get_cb, .ud = &gen };
	struct state_db_alert a = { .src_workload = (char *) "a/Deployment/x",
				    .dst_workload = (char *) "a/Deployment/y",
				    .port = 80,
				    .proto = 6,
				    .count = gen,
				    .first_seen = 1,
				    .last_seen = (int64_t) gen };
	struct state_db_mode m = { .scope = (char *) "a",
				   .mode = STATE_DB_MODE_PREVIEW,
				   .since = (int64_t) gen };
	char digest[64], json[64];
	int r;

	snprintf(digest, sizeof(digest), "gen-%" PRIu64, gen);
	snprintf(json, sizeof(json), "{\"gen\":%" PRIu64 "}", gen);
	r = state_db_flows_checkpoint(db, &f, err);
	if (r == 0)
		r = state_db_alerts_save(db, &a, 1, err);
	if (r == 0)
		r = state_db_mode_set(db, &m, err);
	if (r == 0)
		r = state_db_proposal_put(db, "a", json, (int64_t) gen, NULL, err);
	if (r == 0)
		r = state_db_ruleset_set(db, digest, (int64_t) gen, err);
	return r;
}

/* What the store holds: the flow count and generation (0 when the flows
 * disagree), and the generation of the other records. */
static int stored(struct state_db *db, size_t *ret_n, uint64_t *ret_gen, uint64_t *ret_rec_gen,
		  struct bh_err *err)
{
	struct state_db_alert *a = NULL;
	struct state_db_mode *m = NULL;
	struct flow_set s;
	size_t na = 0, nm = 0;
	char digest[64] = "", *json = NULL;
	uint64_t g;
	int r;

	flow_set_init(&s);
	r = state_db_flows_load(db, &s, err);
	if (r < 0)
		return r;
	*ret_n = s.n;
	g = s.n ? s.flows[0].packets : 0;
	for (size_t i = 0; i < s.n; i++)
		if (s.flows[i].packets != g || s.flows[i].last_seen != 1700000000 + (int64_t) g)
			g = 0;
	*ret_gen = g;
	flow_set_done(&s);
	/* The other records all of one generation, else 0. */
	r = state_db_alerts_load(db, &a, &na, err);
	if (r == 0)
		r = state_db_modes_load(db, &m, &nm, err);
	if (r == 0)
		r = state_db_proposal_get(db, "a", &json, NULL, NULL, err);
	if (r >= 0)
		r = state_db_ruleset_get(db, digest, sizeof(digest), NULL, err);
	if (r >= 0) {
		char want[64];

		g = na == 1 ? a[0].count : 0;
		snprintf(want, sizeof(want), "gen-%" PRIu64, g);
		if (nm != 1 || (uint64_t) m[0].since != g || strcmp(digest, want) != 0 || !json)
			g = 0;
		*ret_rec_gen = g;
		r = 0;
	}
	free(json);
	state_db_alerts_free(a, na);
	state_db_modes_free(m, nm);
	return r;
}

static int sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	return nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	struct bh_err err = { 0 };
	struct state_db *db = NULL;
	uint64_t gen, got_gen = 0, rec_gen = 0;
	size_t n, got_n = 0;
	int r, ret = 3;

	if (argc < 5 || (strcmp(argv[2], "retry") == 0 && argc < 6)) {
		fprintf(stderr, "usage: state_db_tool DIR fill|verify|retry N GEN [SECONDS]\n");
		return 2;
	}
	n = strtoul(argv[3], NULL, 10);
	gen = strtoull(argv[4], NULL, 10);
	r = state_db_open(argv[1], &db, &err);
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err.msg);
		return 3;
	}
	print_health(db);
	if (strcmp(argv[2], "verify") == 0) {
		r = stored(db, &got_n, &got_gen, &rec_gen, &err);
		if (r < 0)
			goto fail;
		printf("stored: flows=%zu gen=%" PRIu64 " records_gen=%" PRIu64 "\n", got_n,
		       got_gen, rec_gen);
		ret = got_n == n && got_gen == gen && rec_gen == gen ? 0 : 1;
		goto out;
	}
	if (strcmp(argv[2], "fill") == 0) {
		r = fill(db, n, gen, &err);
		if (r < 0)
			goto fail;
		print_health(db);
		ret = 0;
		goto out;
	}
	if (strcmp(argv[2], "retry") == 0) {
		long deadline_ms = strtol(argv[5], NULL, 10) * 1000;
		bool said = false;

		for (long t = 0;; t += 100) {
			r = fill(db, n, gen, &err);
			if (r == 0)
				break;
			if (!said) {
				/* The agent's view after a failed checkpoint: the error,
				 * the health for /readyz, and what is still stored. */
				printf("fail: %s\n", err.msg);
				print_health(db);
				r = stored(db, &got_n, &got_gen, &rec_gen, &err);
				if (r < 0)
					goto fail;
				printf("kept: flows=%zu gen=%" PRIu64 " records_gen=%" PRIu64 "\n",
				       got_n, got_gen, rec_gen);
				fflush(stdout);
				said = true;
			}
			if (t >= deadline_ms)
				goto fail;
			sleep_ms(100);
		}
		printf("ok\n");
		print_health(db);
		ret = 0;
		goto out;
	}
	fprintf(stderr, "state_db_tool: unknown command '%s'\n", argv[2]);
	ret = 2;
	goto out;
fail:
	fprintf(stderr, "error: %s\n", err.msg);
	ret = 3;
out:
	state_db_free(db);
	return ret;
}
