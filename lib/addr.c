#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int addr_parse(const char *s, struct addr *ret)
{
	struct addr a = { 0 };

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, a.b) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.b) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret = a;
	return 0;
}

const char *addr_format(const struct addr *a, char *buf, size_t len)
{
	if (a->family == AF_INET && len >= 16) {
		/* By hand: inet_ntop() goes through snprintf(), a third of the
		 * cost of writing a flow between two addresses. */
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			unsigned v = a->b[i];

			if (i)
				*p++ = '.';
			if (v >= 100)
				*p++ = (char) ('0' + v / 100);
			if (v >= 10)
				*p++ = (char) ('0' + v / 10 % 10);
			*p++ = (char) ('0' + v % 10);
		}
		*p = '\0';
		return buf;
	}
	if (!a->family || !inet_ntop(a->family, a->b, buf, (socklen_t) len))
		(void) snprintf(buf, len, "?");
	return buf;
}

unsigned addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

unsigned addr_bits(const struct addr *a)
{
	return addr_len(a) * 8;
}

int addr_cmp(const struct addr *a, const struct addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, 16);
}

bool addr_eq(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

static void mask_host(struct addr *a, unsigned plen)
{
	unsigned len = addr_len(a);

	for (unsigned i = 0; i < len; i++) {
		unsigned bit = i * 8;

		if (bit >= plen)
			a->b[i] = 0;
		else if (plen - bit < 8)
			a->b[i] &= (uint8_t) (0xff << (8 - (plen - bit)));
	}
}

int cidr_parse(const char *s, struct cidr *ret)
{
	char tmp[ADDR_STR_MAX];
	const char *slash;
	struct cidr c = { 0 };
	char *end;
	long plen;
	size_t n;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t) (slash - s);
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (addr_parse(tmp, &c.addr) < 0)
		return -EINVAL;
	if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
		return -EINVAL;
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	if (errno || *end || plen < 0 || plen > (long) addr_bits(&c.addr))
		return -EINVAL;
	c.plen = (uint8_t) plen;
	mask_host(&c.addr, c.plen);
	*ret = c;
	return 0;
}

const char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char a[ADDR_STR_MAX];

	(void) snprintf(buf, len, "%s/%u", addr_format(&c->addr, a, sizeof(a)), c->plen);
	return buf;
}

void cidr_from_addr(struct cidr *c, const struct addr *a)
{
	c->addr = *a;
	c->plen = (uint8_t) addr_bits(a);
}

static bool prefix_eq(const struct addr *a, const struct addr *b, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;

	if (memcmp(a->b, b->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->b[full] ^ b->b[full]) & (uint8_t) (0xff << (8 - rest))) == 0;
}

bool cidr_contains(const struct cidr *c, const struct addr *a)
{
	return c->addr.family == a->family && prefix_eq(&c->addr, a, c->plen);
}

bool cidr_contains_cidr(const struct cidr *outer, const struct cidr *inner)
{
	return outer->addr.family == inner->addr.family && outer->plen <= inner->plen &&
	       prefix_eq(&outer->addr, &inner->addr, outer->plen);
}

int cidr_cmp(const struct cidr *a, const struct cidr *b)
{
	int r = addr_cmp(&a->addr, &b->addr);

	if (r)
		return r;
	return a->plen < b->plen ? -1 : a->plen > b->plen;
}

void cidr_first(const struct cidr *c, struct addr *ret)
{
	*ret = c->addr;
}

void cidr_last(const struct cidr *c, struct addr *ret)
{
	unsigned len = addr_len(&c->addr);

	*ret = c->addr;
	for (unsigned i = 0; i < len; i++) {
		unsigned bit = i * 8;

		if (bit >= c->plen)
			ret->b[i] = 0xff;
		else if (c->plen - bit < 8)
			ret->b[i] |= (uint8_t) (0xff >> (c->plen - bit));
	}
}
