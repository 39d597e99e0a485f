/*
 * propose: learned flows that could not be placed, listed per pair of ends
 * as the flows recorded them, with one sentence per end saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "propose_int.h"
#include "vec.h"

/* An end as the flow recorded it: "ADDR NS/POD (NS/KIND/NAME)", "ADDR
 * NS/POD" or "ADDR". */
static int flow_end_text(const struct addr *a, const struct flow_peer *fp, char **ret)
{
	char s[ADDR_STR_MAX];
	int r;

	(void) addr_format(a, s, sizeof(s));
	if (fp->kind == FLOW_PEER_POD && fp->ns && fp->name && fp->workload_kind &&
	    fp->workload_name)
		r = asprintf(ret, "%s %s/%s (%s/%s/%s)", s, fp->ns, fp->name, fp->ns,
			     fp->workload_kind, fp->workload_name);
	else if (fp->kind == FLOW_PEER_POD && fp->ns && fp->name)
		r = asprintf(ret, "%s %s/%s", s, fp->ns, fp->name);
	else
		r = asprintf(ret, "%s", s);
	return r < 0 ? -ENOMEM : 0;
}

/* Why the end placed as @pl (PLACE_NONE) cannot be placed, appended to @b. */
static int why_text(const struct addr *a, const struct flow_peer *fp, const struct place *pl,
		    struct buf *b)
{
	char s[ADDR_STR_MAX];
	int r = 0;

	(void) addr_format(a, s, sizeof(s));
	if (b->len)
		r = buf_printf(b, "; ");
	if (r == 0 && fp->kind == FLOW_PEER_POD && fp->ns && fp->workload_kind && fp->workload_name)
		r = buf_printf(b, "%s/%s/%s has no pod in the cluster and ", fp->ns,
			       fp->workload_kind, fp->workload_name);
	else if (r == 0 && fp->kind == FLOW_PEER_POD && fp->ns && fp->name)
		r = buf_printf(b, "pod %s/%s is gone and ", fp->ns, fp->name);
	if (r == 0 && pl->pod)
		r = buf_printf(b, "%s is now %s/%s, created after the flow was last seen", s,
			       pl->pod->ns, pl->pod->name);
	else if (r == 0)
		r = buf_printf(b, "no pod holds %s now", s);
	return r;
}

static int unplaced_cmp(const void *a, const void *b)
{
	const struct proposal_unplaced *x = a, *y = b;
	int c;

	if ((c = strcmp(x->src, y->src)) || (c = strcmp(x->dst, y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return strcmp(x->why, y->why);
}

void propose_unplaced_done(struct proposal_unplaced *u)
{
	free(u->src);
	free(u->dst);
	free(u->why);
}

/* Counts flow @f, whose ends were placed as @sp and @dp, in @p's list of
 * unplaced pairs. */
int propose_unplaced_add(struct proposal *p, size_t *cap, const struct flow_record *f,
			 const struct place *sp, const struct place *dp)
{
	struct proposal_unplaced u = { .proto = f->key.proto, .port = f->key.port, .flows = 1 };
	struct buf why;
	int r;

	buf_init(&why, SIZE_MAX);
	r = flow_end_text(&f->key.src, &f->src_peer, &u.src);
	if (r == 0)
		r = flow_end_text(&f->key.dst, &f->dst_peer, &u.dst);
	if (r == 0 && sp->kind == PLACE_NONE)
		r = why_text(&f->key.src, &f->src_peer, sp, &why);
	if (r == 0 && dp->kind == PLACE_NONE)
		r = why_text(&f->key.dst, &f->dst_peer, dp, &why);
	if (r == 0 && !(u.why = buf_steal(&why)))
		r = -ENOMEM;
	if (r < 0)
		goto fail;
	/* Flows come sorted by source: most repeats are the last pair. */
	if (p->n_unplaced && unplaced_cmp(&p->unplaced[p->n_unplaced - 1], &u) == 0) {
		p->unplaced[p->n_unplaced - 1].flows++;
		propose_unplaced_done(&u);
		return 0;
	}
	if (p->n_unplaced == *cap) {
		struct proposal_unplaced *v =
			vec_grow(p->unplaced, cap, p->n_unplaced + 1, sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto fail;
		}
		p->unplaced = v;
	}
	p->unplaced[p->n_unplaced++] = u;
	return 0;

fail:
	buf_done(&why);
	propose_unplaced_done(&u);
	return r;
}

/* Sorts the unplaced pairs and merges equal ones. */
void propose_unplaced_merge(struct proposal *p)
{
	size_t out = 0;

	if (!p->n_unplaced)
		return;
	qsort(p->unplaced, p->n_unplaced, sizeof(*p->unplaced), unplaced_cmp);
	for (size_t i = 1; i < p->n_unplaced; i++) {
		if (unplaced_cmp(&p->unplaced[out], &p->unplaced[i]) == 0) {
			p->unplaced[out].flows += p->unplaced[i].flows;
			propose_unplaced_done(&p->unplaced[i]);
		} else {
			p->unplaced[++out] = p->unplaced[i];
		}
	}
	p->n_unplaced = out + 1;
}
