/*
 * The snapshot reader on arbitrary bytes: parse, then index and look up
 * every pod address (the stages that run on a snapshot before compiling).
 */
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster *c = NULL;
	struct bh_err err = { 0 };

	if (snapshot_load_buf((const char *) data, size, "fuzz", &c, NULL, &err) == 0) {
		for (size_t i = 0; i < c->n_pods; i++)
			for (size_t j = 0; j < c->pods[i].n_ips; j++)
				(void) cluster_pod_by_addr(c, &c->pods[i].ips[j]);
		for (size_t i = 0; i < c->n_policies; i++) {
			size_t first, end;

			cluster_policies_in_ns(c, c->policies[i].ns, &first, &end);
		}
	}
	cluster_free(c);
	return 0;
}
