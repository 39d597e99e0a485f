/*
 * bulkhead_policy_packets_total{namespace, policy, verdict}: the ruleset's
 * nftables counters (include/nft_counters.h) read every AGENT_STATS_MS and
 * summed per policy and verdict:
 *   - allowed: the allow rules of the policy's chains ("pi/NS/NAME",
 *     "pe/NS/NAME");
 *   - dropped (enforce) or would_deny (preview): the final verdict of each
 *     class chain, attributed to the first policy it jumps to.  A class
 *     is in preview when the whole ruleset is (--policy-mode preview) or
 *     when that policy is a proposal's in preview (its namespace's stage;
 *     docs/lifecycle.md: such a class holds no other kind of policy).
 * A proposal policy is labelled "proposal:NAME" (its chains are
 * "pi/NS/proposal_NAME"), so that it never adds to the series of a
 * cluster policy of the same name.
 * Each series is set to the kernel's sum (metrics_counter_set()), so a
 * table replaced whole shows as a counter reset; the series of a policy
 * the table no longer counts is removed.  Policies whose chain names were
 * too long and hashed ("h/...") are not named and not counted here.
 *
 * Loop thread only.  The read is one rule dump of the table: about a
 * millisecond for a node of a 1,000-policy cluster.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "cluster.h"
#include "hash.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "nft_counters.h"
#include "ruleset.h"

/* One series: its key "NS\0NAME\0VERDICT" (owned, the map's key). */
struct pc {
	char *key;
	size_t klen;
	struct metrics_series *s;
	uint64_t sum;
	bool seen;
};

/* "pi/NS/NAME" or "pe/NS/NAME": the namespace and name, in place. */
static bool policy_chain(const char *chain, const char **ns, size_t *ns_len, const char **name)
{
	const char *slash;

	if (!chain || (strncmp(chain, "pi/", 3) != 0 && strncmp(chain, "pe/", 3) != 0))
		return false;
	slash = strchr(chain + 3, '/');
	if (!slash || slash == chain + 3 || !slash[1] || strchr(slash + 1, '/'))
		return false;
	*ns = chain + 3;
	*ns_len = (size_t) (slash - (chain + 3));
	*name = slash + 1;
	return true;
}

/* Whether the proposal policy NS/@pname ("proposal:NAME") is compiled
 * in preview. */
static bool proposal_previewed(const struct agent *a, const char *ns, size_t ns_len,
			       const char *pname)
{
	char nsb[RULESET_NAME_MAX];
	const struct netpol *p;

	if (!a->enf_cluster || ns_len >= sizeof(nsb))
		return false;
	memcpy(nsb, ns, ns_len);
	nsb[ns_len] = '\0';
	p = cluster_policy_find(a->enf_cluster, nsb, pname);
	return p && p->origin == NETPOL_ORIGIN_PREVIEW;
}

static void counter_cb(const char *chain, const char *first_jump, uint64_t packets, uint64_t bytes,
		       void *ud)
{
	struct agent *a = ud;
	const char *verdict, *ns, *name;
	size_t ns_len, klen;
	char key[2 * RULESET_NAME_MAX + 16], pname[RULESET_NAME_MAX + 16];
	bool class;
	struct pc *pc;

	(void) bytes;
	if (policy_chain(chain, &ns, &ns_len, &name))
		class = false;
	else if ((strncmp(chain, "ci/", 3) == 0 || strncmp(chain, "ce/", 3) == 0) &&
		 policy_chain(first_jump, &ns, &ns_len, &name))
		class = true;
	else
		return;
	if (strncmp(name, RULESET_PROPOSAL_OBJ, strlen(RULESET_PROPOSAL_OBJ)) == 0) {
		(void) snprintf(pname, sizeof(pname), "%s%s", NETPOL_PROPOSAL_PREFIX,
				name + strlen(RULESET_PROPOSAL_OBJ));
		name = pname;
	}
	if (!class)
		verdict = "allowed";
	else if (a->cfg.policy_preview ||
		 (name == pname && proposal_previewed(a, ns, ns_len, name)))
		verdict = "would_deny";
	else
		verdict = "dropped";
	klen = ns_len + 1 + strlen(name) + 1 + strlen(verdict);
	if (klen >= sizeof(key))
		return;
	/* "NS\0NAME\0VERDICT": klen bytes, the last NUL not counted. */
	memcpy(key, ns, ns_len);
	key[ns_len] = '\0';
	memcpy(key + ns_len + 1, name, strlen(name) + 1);
	memcpy(key + ns_len + 1 + strlen(name) + 1, verdict, strlen(verdict) + 1);
	pc = hmap_get(&a->policy_counters, key, klen);
	if (!pc) {
		const char *labels[3] = { key, key + ns_len + 1, verdict };

		pc = calloc(1, sizeof(*pc));
		if (!pc || !(pc->key = malloc(klen))) {
			free(pc);
			return;
		}
		memcpy(pc->key, key, klen);
		pc->klen = klen;
		if (metrics_series_get(a->fam[METRICS_POLICY_PACKETS], labels, &pc->s) < 0 ||
		    hmap_put(&a->policy_counters, pc->key, klen, pc) < 0) {
			metrics_series_remove(pc->s);
			free(pc->key);
			free(pc);
			return;
		}
	}
	pc->sum += packets;
	pc->seen = true;
}

static void pc_free(struct pc *pc)
{
	metrics_series_remove(pc->s);
	free(pc->key);
	free(pc);
}

void agent_counters_read(struct agent *a)
{
	struct bh_err err = { 0 };
	struct hmap_slot *s;
	size_t it = 0;
	int r;

	if (!a->nio || !a->sync)
		return;
	if (!a->policy_counters_init) {
		hmap_init(&a->policy_counters, hash_seed_random());
		a->policy_counters_init = true;
	}
	while ((s = hmap_next(&a->policy_counters, &it))) {
		struct pc *pc = s->val;

		pc->sum = 0;
		pc->seen = false;
	}
	r = nft_counters_read(counter_cb, a, &err);
	if (r < 0) {
		if (!a->counters_failed)
			log_warning("agent: policy counters: %s", err.msg);
		a->counters_failed = true;
		return;
	}
	a->counters_failed = false;
	it = 0;
	while ((s = hmap_next(&a->policy_counters, &it))) {
		struct pc *pc = s->val;

		if (pc->seen) {
			metrics_counter_set(pc->s, pc->sum);
			continue;
		}
		hmap_remove_slot(&a->policy_counters, s);
		pc_free(pc);
	}
}

void agent_counters_stop(struct agent *a)
{
	struct hmap_slot *s;
	size_t it = 0;

	if (!a->policy_counters_init)
		return;
	while ((s = hmap_next(&a->policy_counters, &it)))
		pc_free(s->val);
	hmap_free(&a->policy_counters);
	a->policy_counters_init = false;
}
