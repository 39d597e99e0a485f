/*
 * Names of policy objects and the NFLOG prefixes of pod and class chains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include "hash.h"
#include "ruleset_names.h"

/* Object names are used as nft identifiers; Kubernetes names ([a-z0-9.-])
 * fit, and every name starts with a letter.  The ':' of a proposal
 * policy's name (NETPOL_PROPOSAL_PREFIX) does not: nft's parser refuses
 * it, quoted or not (1.0.6), so it is written '_', which no Kubernetes
 * name holds either (include/ruleset.h, "Object names"). */
int rs_make_name(char *buf, size_t len, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t) n >= len || (size_t) n >= sizeof(tmp)) {
		n = snprintf(buf, len, "h/%016llx", (unsigned long long) hash_str(tmp, 0));
		return 0;
	}
	for (int i = 0; i < n; i++)
		buf[i] = tmp[i] == ':' ? '_' : tmp[i];
	buf[n] = '\0';
	return 0;
}

uint64_t rs_fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char) *s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

const char *ruleset_pod_prefix(const char *ns, const char *pod, enum netpol_dir dir, char *buf,
			       size_t len)
{
	char d = dir == NETPOL_INGRESS ? 'i' : 'e';
	char full[600];
	int n;

	n = snprintf(buf, len, "bh:%c:%s/%s", d, ns, pod);
	if (n >= 0 && (size_t) n < len && (size_t) n < RULESET_PREFIX_MAX)
		return buf;
	(void) snprintf(full, sizeof(full), "%s/%s", ns, pod);
	(void) snprintf(buf, len, "bh:%c:#%016llx", d, (unsigned long long) rs_fnv1a(full));
	return buf;
}

int rs_policy_set_name(char *buf, size_t len, const struct netpol *p, enum netpol_dir d,
		       size_t rule, const char *kind)
{
	return rs_make_name(buf, len, "p/%s/%s/%s%zu/%s", p->ns, p->name, dir_letter(d), rule,
			    kind);
}

int ruleset_policy_chain_name(char *buf, size_t len, const char *ns, const char *name,
			      enum netpol_dir d)
{
	return rs_make_name(buf, len, "p%s/%s/%s", dir_letter(d), ns, name);
}
