/*
 * YAML read the way kubectl reads it (agent-private; snapshot.c reads
 * snapshots and kube_config.c kubeconfig files with it): a stream of one or
 * more YAML documents read with libyaml into one jansson tree per
 * document, with scalars typed the way Kubernetes types them
 * (sigs.k8s.io/yaml over a YAML 1.1 resolver): quoted scalars are
 * strings; plain ones are null (~, null, empty), booleans (true/false,
 * yes/no, on/off, y/n in their usual cases), integers (decimal, 0x, 0o,
 * 0b, leading-zero octal, underscores ignored), floats (an integral one
 * becomes an integer, as JSON marshalling writes it) or else strings.
 *
 * Bounded: aliases (*name) and merge keys (<<) are refused rather than
 * expanded, so the tree is never larger than the text; nesting is limited
 * to KUBE_YAML_DEPTH_MAX.
 */
#ifndef BH_AGENT_KUBE_YAML_H
#define BH_AGENT_KUBE_YAML_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

#define KUBE_YAML_DEPTH_MAX 128

/* A 1-based line and column of the text. */
struct kube_yaml_mark {
	size_t line, column;
};

/* One document, handed to the callback. */
struct kube_yaml_doc {
	json_t *root; /* borrowed: released after the callback returns */
	unsigned index; /* 1-based, counting empty documents too */
	struct kube_yaml_mark start; /* of the root node */
	/* Where each element of the root mapping's "items" sequence starts
	 * (n_items is 0 when there is no such sequence). */
	const struct kube_yaml_mark *items;
	size_t n_items;
};

typedef int kube_yaml_doc_fn(void *ud, const struct kube_yaml_doc *doc, struct bh_err *reterr);

/*
 * Reads every document of @data (@len bytes; @what and @name for messages,
 * "snapshot" and a file name say) and calls @fn for each one that is not
 * empty or null, in order; stops at the first error, from the text
 * ("WHAT 'NAME': line L, column C: ...", input error, -EBADMSG) or from @fn
 * (returned as is).  Returns the number of documents given to @fn, or
 * -errno.
 */
int kube_yaml_read(const char *data, size_t len, const char *what, const char *name,
		   kube_yaml_doc_fn *fn, void *ud, struct bh_err *reterr);

/* The first document that is not empty or null as a new reference (an
 * empty object when there is none); every document is read and checked.
 * Returns 0 or kube_yaml_read()'s error. */
int kube_yaml_load(const char *data, size_t len, const char *what, const char *name, json_t **ret,
		   struct bh_err *reterr);

#endif
