/*
 * Intervals: the ipBlock peers and port ranges of a policy rule as set
 * elements (merged, exceptions cut out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "ruleset_interval.h"

static bool addr_is_max(const struct addr *a)
{
	for (unsigned i = 0; i < addr_len(a); i++)
		if (a->b[i] != 0xff)
			return false;
	return true;
}

static void addr_inc(struct addr *a)
{
	for (int i = (int) addr_len(a) - 1; i >= 0; i--)
		if (++a->b[i] != 0)
			break;
}

static void addr_dec(struct addr *a)
{
	for (int i = (int) addr_len(a) - 1; i >= 0; i--)
		if (a->b[i]-- != 0)
			break;
}

/*
 * The addresses of one rule's ipBlock peers of @family as disjoint,
 * merged intervals: union over peers of (cidr minus every except).
 * Overlapping or nested cidrs (within a rule, or the same cidr written by
 * several peers) merge here, so the kernel never sees overlapping
 * intervals.
 */
int rs_cidr_intervals(const struct netpol_rule *rule, int family, struct rs_set *s)
{
	for (size_t i = 0; i < rule->n_peers; i++) {
		const struct netpol_peer *pe = &rule->peers[i];
		size_t n = 1, cap = pe->n_except + 2;
		struct rs_elem *iv;

		if (pe->kind != NETPOL_PEER_IPBLOCK || pe->cidr.addr.family != family)
			continue;
		iv = calloc(cap * 2, sizeof(*iv));
		if (!iv)
			return -ENOMEM;
		cidr_first(&pe->cidr, &iv[0].addr);
		cidr_last(&pe->cidr, &iv[0].addr_end);
		for (size_t x = 0; x < pe->n_except; x++) {
			const struct cidr *ex = &pe->except[x];
			struct addr lo, hi;
			size_t m = 0;
			struct rs_elem *out = iv + cap;

			if (ex->addr.family != family)
				continue;
			cidr_first(ex, &lo);
			cidr_last(ex, &hi);
			for (size_t k = 0; k < n; k++) {
				struct rs_elem *v = &iv[k];

				if (addr_cmp(&hi, &v->addr) < 0 ||
				    addr_cmp(&lo, &v->addr_end) > 0) {
					out[m++] = *v;
					continue;
				}
				if (addr_cmp(&v->addr, &lo) < 0) {
					out[m] = *v;
					out[m].addr_end = lo;
					addr_dec(&out[m].addr_end);
					m++;
				}
				if (addr_cmp(&hi, &v->addr_end) < 0) {
					out[m] = *v;
					out[m].addr = hi;
					addr_inc(&out[m].addr);
					m++;
				}
			}
			memcpy(iv, out, m * sizeof(*iv));
			n = m;
		}
		for (size_t k = 0; k < n; k++) {
			if (rs_set_push(s, &iv[k]) < 0) {
				free(iv);
				return -ENOMEM;
			}
		}
		free(iv);
	}
	/* Sort, then merge overlapping and adjacent intervals. */
	rs_set_finish(s);
	if (s->n_elems > 1) {
		size_t w = 0;

		for (size_t i = 1; i < s->n_elems; i++) {
			struct rs_elem *cur = &s->elems[w];
			struct addr next = cur->addr_end;

			if (!addr_is_max(&next))
				addr_inc(&next);
			if (addr_is_max(&cur->addr_end) ||
			    addr_cmp(&s->elems[i].addr, &next) <= 0) {
				if (addr_cmp(&s->elems[i].addr_end, &cur->addr_end) > 0)
					cur->addr_end = s->elems[i].addr_end;
				continue;
			}
			s->elems[++w] = s->elems[i];
		}
		s->n_elems = w + 1;
	}
	return 0;
}

/* Numeric and protocol-only port entries as merged proto . port ranges. */
int rs_port_intervals(const struct netpol_rule *rule, struct rs_set *s)
{
	for (size_t i = 0; i < rule->n_ports; i++) {
		const struct netpol_port *pp = &rule->ports[i];
		struct rs_elem e = { .proto = pp->protocol };

		if (pp->kind == NETPOL_PORT_NAME)
			continue;
		if (pp->kind == NETPOL_PORT_ANY) {
			e.port = 0;
			e.port_end = 65535;
		} else {
			e.port = pp->port;
			e.port_end = pp->end_port ? pp->end_port : pp->port;
		}
		if (rs_set_push(s, &e) < 0)
			return -ENOMEM;
	}
	rs_set_finish(s);
	if (s->n_elems > 1) {
		size_t w = 0;

		for (size_t i = 1; i < s->n_elems; i++) {
			struct rs_elem *cur = &s->elems[w], *e = &s->elems[i];

			if (e->proto == cur->proto &&
			    (uint32_t) e->port <= (uint32_t) cur->port_end + 1) {
				if (e->port_end > cur->port_end)
					cur->port_end = e->port_end;
				continue;
			}
			s->elems[++w] = *e;
		}
		s->n_elems = w + 1;
	}
	return 0;
}
