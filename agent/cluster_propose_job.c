/*
 * One computation of the Lease holder's proposals, off the loop
 * (agent/cluster_propose_job.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "cluster_propose_job.h"
#include "flows_json.h"
#include "kube_watch.h"
#include "nodeflows_doc.h"
#include "proposal_obj.h"
#include "propose.h"
#include "worker_done.h"

void cluster_pjob_free(struct cluster_pjob *j)
{
	if (!j)
		return;
	if (j->started)
		(void) pthread_join(j->th, NULL);
	if (j->efd >= 0)
		(void) close(j->efd);
	cluster_free(j->c);
	for (size_t i = 0; i < j->n_docs; i++) {
		free(j->docs[i]);
		free(j->nodes[i]);
	}
	free(j->docs);
	free(j->nodes);
	for (size_t i = 0; i < j->n_ns; i++) {
		free(j->ns[i]);
		if (j->objs)
			json_decref(j->objs[i]);
	}
	free(j->ns);
	free(j->objs);
	free(j);
}

static int job_run(struct cluster_pjob *j)
{
	struct flow_set all, *per = calloc(j->n_docs + 1, sizeof(*per));
	struct proposal_obj_node *nodes = calloc(j->n_docs + 1, sizeof(*nodes));
	struct proposal p = { 0 };
	struct propose_opts o;
	int r = 0;

	flow_set_init(&all);
	propose_opts_init(&o);
	j->objs = calloc(j->n_ns + 1, sizeof(*j->objs));
	if (!per || !nodes || !j->objs) {
		r = bh_err_oom(&j->err);
		goto out;
	}
	for (size_t i = 0; i < j->n_docs; i++)
		flow_set_init(&per[i]);
	for (size_t i = 0; i < j->n_docs && r >= 0; i++) {
		r = nodeflows_doc_load(&per[i], j->docs[i], j->nodes[i], &j->err);
		if (r >= 0)
			r = nodeflows_doc_load(&all, j->docs[i], j->nodes[i], &j->err);
		nodes[i] = (struct proposal_obj_node){ .name = j->nodes[i], .flows = &per[i] };
	}
	if (r >= 0)
		r = propose_build(&all, j->c, &o, &p, &j->err);
	if (r >= 0)
		r = propose_self_check(&p, &all, j->c, &j->err);
	for (size_t i = 0; i < j->n_ns && r >= 0; i++)
		r = proposal_obj_build(&p, j->c, j->ns[i], nodes, j->n_docs, j->computed_at,
				       &j->objs[i], &j->err);
	if (r >= 0) {
		j->n_flows = p.n_flows;
		j->n_uncovered = proposal_uncovered(&p);
	}
out:
	proposal_done(&p);
	for (size_t i = 0; per && i < j->n_docs; i++)
		flow_set_done(&per[i]);
	free(per);
	free(nodes);
	flow_set_done(&all);
	return r;
}

static void *job_main(void *arg)
{
	struct cluster_pjob *j = arg;
	uint64_t t0 = clock_mono_us();

	j->r = job_run(j);
	j->us = clock_mono_us() - t0;
	worker_done(&j->done, j->efd);
	return NULL;
}

struct docs {
	struct kube_watch *w;
	struct cluster_pjob *j;
	int r;
};

/* NodeFlows @name as a flows.json v1 document (nodeflows_doc()), read off
 * the loop by job_run(). */
static int doc_cb(void *ud, const char *ns, const char *name, const char *rv)
{
	struct docs *d = ud;
	struct cluster_pjob *j = d->j;
	const json_t *obj = kube_watch_get(d->w, ns, name);
	const char *node = nodeflows_node(obj);
	char *doc;

	(void) rv;
	d->r = nodeflows_doc(obj, &doc);
	if (d->r < 0 || !doc)
		return d->r < 0;
	j->docs[j->n_docs] = doc;
	j->nodes[j->n_docs] = strdup(node ? node : name);
	if (!j->nodes[j->n_docs]) {
		free(doc);
		d->r = -ENOMEM;
		return 1;
	}
	j->n_docs++;
	return 0;
}

static int nodeflows_docs(struct kube_watch *w, struct cluster_pjob *j)
{
	struct docs d = { .w = w, .j = j };

	(void) kube_watch_foreach(w, doc_cb, &d);
	return d.r;
}

int cluster_pjob_start(const struct cluster *c, struct kube_watch *nodeflows, const char *const *ns,
		       size_t n_ns, int64_t computed_at, struct cluster_pjob **ret)
{
	size_t n_nf = kube_watch_count(nodeflows);
	struct cluster_pjob *j = calloc(1, sizeof(*j));
	int r = -ENOMEM;

	if (!j)
		return -ENOMEM;
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&j->done, false);
	j->computed_at = computed_at;
	j->docs = calloc(n_nf + 1, sizeof(*j->docs));
	j->nodes = calloc(n_nf + 1, sizeof(*j->nodes));
	j->ns = calloc(n_ns + 1, sizeof(*j->ns));
	if (j->efd < 0 || !j->docs || !j->nodes || !j->ns || cluster_copy(c, &j->c) < 0)
		goto fail;
	/* a proposal is made over the cluster's own policies only */
	for (size_t i = j->c->n_policies; i-- > 0;)
		if (j->c->policies[i].origin != NETPOL_ORIGIN_CLUSTER)
			(void) cluster_policy_remove(j->c, j->c->policies[i].ns,
						     j->c->policies[i].name);
	for (size_t i = 0; i < n_ns; i++)
		if (!(j->ns[j->n_ns++] = strdup(ns[i])))
			goto fail;
	r = nodeflows_docs(nodeflows, j);
	if (r < 0)
		goto fail;
	r = -pthread_create(&j->th, NULL, job_main, j);
	if (r < 0)
		goto fail;
	j->started = true;
	*ret = j;
	return 0;
fail:
	cluster_pjob_free(j);
	return r;
}
