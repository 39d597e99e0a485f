/*
 * Decoding of single Kubernetes objects (as JSON, the API's wire form) into
 * the model.  Shared by the snapshot reader and the Kubernetes client, so
 * the live cache and a snapshot of the same cluster are equal.
 *
 * The decoders validate what the API server validates for the fields
 * Bulkhead uses; on failure @reterr names the object ("pod 'x/a'") and the
 * field path ("spec.containers[0].ports[1].containerPort") and what was
 * expected, as an input error (-EINVAL), and nothing is returned.
 */
#ifndef BH_KUBE_OBJECT_H
#define BH_KUBE_OBJECT_H

#include <jansson.h>

#include "cluster.h"
#include "err.h"

enum kube_kind {
	KUBE_KIND_UNKNOWN,
	KUBE_KIND_NAMESPACE,
	KUBE_KIND_POD,
	KUBE_KIND_NETPOL,
	KUBE_KIND_NODE,
	KUBE_KIND_LIST, /* "List" or any "*List" with items */
	_KUBE_KIND_MAX,
};

/* The kind of @obj from its "kind" and "apiVersion" fields. */
enum kube_kind kube_object_kind(const json_t *obj);

/* Decoders of one object; @obj is borrowed, the result owns copies.  An
 * object of a List from the API has no "kind"; these do not look at it.
 * @reterr may be NULL when only success or failure matters: no field path
 * or message is formatted then, which makes decoding cheaper. */
int kube_ns_decode(const json_t *obj, struct k8s_ns *ret, struct bh_err *reterr);
int kube_pod_decode(const json_t *obj, struct pod *ret, struct bh_err *reterr);
int kube_netpol_decode(const json_t *obj, struct netpol *ret, struct bh_err *reterr);
int kube_node_decode(const json_t *obj, struct node *ret, struct bh_err *reterr);

/* The namespace and name of @obj's metadata (borrowed from @obj), for
 * deletions and error messages; -EINVAL when metadata.name is missing.
 * *ret_ns is NULL for cluster-scoped objects. */
int kube_object_key(const json_t *obj, const char **ret_ns, const char **ret_name);

/* Parses an RFC 3339 UTC timestamp ("2026-11-22T06:33:59Z", fractional
 * seconds and numeric offsets accepted) to unix seconds; -EINVAL. */
int kube_time_parse(const char *s, int64_t *ret);

/* "an object", "an array", "a string", ... for error messages. */
const char *kube_json_type_name(const json_t *v);

#endif
