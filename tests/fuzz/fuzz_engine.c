/*
 * The policy engine on arbitrary snapshots: parse, build the engine, then
 * every verdict and explanation between the first pods, from every pod's
 * own node, and every peer's pod list (what check and the enforcer do).
 */
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "snapshot.h"

/* Bounds the work per input: a matrix over at most this many pods. */
#define FUZZ_ENGINE_PODS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_cb(size_t pod_idx, void *userdata)
{
	size_t *n = userdata;

	*n += pod_idx + 1;
}

static void fuzz_pairs(struct engine *e, const struct cluster *c, size_t n, int family)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

	for (size_t i = 0; i < n; i++) {
		struct engine_ep a, b;

		engine_ep_pod(e, &c->pods[i], family, &a);
		for (size_t j = 0; j < n; j++) {
			struct engine_result res;

			engine_ep_pod(e, &c->pods[j], family, &b);
			for (size_t p = 0; p < sizeof(protos); p++) {
				bool ok = engine_allowed(e, &a, &b, protos[p], 80);

				if (engine_explain(e, &a, &b, protos[p], 80, &res) == 0) {
					/* The two paths must agree. */
					if (res.allowed != ok)
						__builtin_trap();
					engine_result_done(&res);
				}
			}
		}
		if (c->pods[i].n_ips) {
			engine_ep_addr(e, &c->pods[i].ips[0], &a);
			(void) engine_allowed(e, &a, &b, IPPROTO_TCP, 81);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *c = NULL;
	struct engine *e = NULL;
	struct bh_err err = { 0 };
	size_t n, sum = 0;

	if (snapshot_load_buf((const char *) data, size, "fuzz", &c, NULL, &err) < 0)
		return 0;
	if (engine_new(c, &e) < 0)
		goto out;
	n = c->n_pods < FUZZ_ENGINE_PODS ? c->n_pods : FUZZ_ENGINE_PODS;
	fuzz_pairs(e, c, n, AF_INET);
	fuzz_pairs(e, c, n, AF_INET6);
	for (size_t i = 0; i < c->n_nodes; i++) {
		for (size_t j = 0; j < c->nodes[i].n_addrs && n; j++) {
			struct engine_ep a, b;

			engine_ep_addr(e, &c->nodes[i].addrs[j], &a);
			engine_ep_pod(e, &c->pods[0], c->nodes[i].addrs[j].family, &b);
			(void) engine_allowed(e, &a, &b, IPPROTO_TCP, 80);
		}
	}
	for (size_t k = 0; k < c->n_policies; k++)
		for (int d = 0; d < _NETPOL_DIR_MAX; d++)
			for (size_t r = 0; r < c->policies[k].n_rules[d]; r++)
				for (size_t q = 0; q < c->policies[k].rules[d][r].n_peers; q++)
					engine_peer_for_each_pod(
						e, &c->policies[k],
						&c->policies[k].rules[d][r].peers[q], count_cb,
						&sum);
out:
	engine_free(e);
	cluster_free(c);
	return 0;
}
