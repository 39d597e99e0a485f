/*
 * fuzz.watch_event: bytes of a watch stream through the line parser, the
 * watch's object table and the cache's decoders into struct cluster, as the
 * network path feeds them.  The first byte chooses where the input is split
 * in two deliveries, so partial lines are covered too.  No network.
 */
#include <stddef.h>
#include <stdint.h>

#include "kube_cache.h"
#include "kube_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_cache *cache = NULL;
	struct kube_watch *w;
	size_t split;
	int r;

	if (size < 1)
		return 0;
	if (kube_cache_new(NULL, NULL, &cache) < 0)
		return 0;
	w = kube_cache_watch(cache, "pods");
	split = (size_t) data[0] * (size - 1) / 255;
	r = kube_watch_feed(w, (const char *) data + 1, split);
	if (r == 0)
		(void) kube_watch_feed(w, (const char *) data + 1 + split, size - 1 - split);
	/* The lookups a subscriber makes must hold up after any input. */
	(void) cluster_pod_find(kube_cache_cluster(cache), "x", "a");
	kube_cache_free(cache);
	return 0;
}
