/*
 * The names of Bulkhead's own API objects (docs/cluster.md): the group
 * and version of the CustomResourceDefinitions, their plurals and kinds,
 * the proposer Lease, and the field values every writer and reader shares.
 * One place, so that the agent, the CLI, the manifests' tests and the test
 * API server agree.
 */
#ifndef BH_CLUSTER_API_H
#define BH_CLUSTER_API_H

#define CLUSTER_API_GROUP "bulkhead.io"
#define CLUSTER_API_VERSION "v1alpha1"
#define CLUSTER_API_GROUP_VERSION CLUSTER_API_GROUP "/" CLUSTER_API_VERSION

/* Cluster-scoped, one per node (name = node name), written by its agent. */
#define CLUSTER_NODEFLOWS_KIND "NodeFlows"
#define CLUSTER_NODEFLOWS_RESOURCE "nodeflows"
/* Namespaced, one per workload, written by the Lease holder (and amended
 * by `bulkhead allow`). */
#define CLUSTER_PROPOSAL_KIND "Proposal"
#define CLUSTER_PROPOSAL_RESOURCE "proposals"
/* Cluster-scoped, name = a namespace or CLUSTER_POLICYMODE_ALL, written by
 * the CLI. */
#define CLUSTER_POLICYMODE_KIND "PolicyMode"
#define CLUSTER_POLICYMODE_RESOURCE "policymodes"
#define CLUSTER_POLICYMODE_ALL "all"

/* The Lease of the agent that computes proposals, in the agent's own
 * namespace. */
#define CLUSTER_LEASE_GROUP "coordination.k8s.io"
#define CLUSTER_LEASE_VERSION "v1"
#define CLUSTER_LEASE_RESOURCE "leases"
#define CLUSTER_LEASE_NAME "bulkhead-proposer"

/* The API server's limit on an object is about 1.5 MiB; a NodeFlows
 * object is kept under this many bytes of JSON, with a count of what was
 * left out. */
#define CLUSTER_OBJECT_MAX (1536u * 1024u - 32u * 1024u)

/* Objects per page when Bulkhead's objects are listed (and per page of a
 * watch's list): 64 of up to ~1.5 MiB stay under a watch's page limit
 * (KUBE_LIST_PAGE_MAX, 128 MiB) and the CLI's (CLUSTER_READ_MAX); the
 * default 500 would not, past ~85 nodes with full NodeFlows. */
#define CLUSTER_LIST_PAGE 64

/* The label every object Bulkhead writes carries. */
#define CLUSTER_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define CLUSTER_MANAGED_BY "bulkhead"

#endif
