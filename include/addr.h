/* IPv4 and IPv6 addresses and CIDR prefixes. */
#ifndef BH_ADDR_H
#define BH_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Big enough for an IPv6 address with a "/128" suffix. */
#define ADDR_STR_MAX (INET6_ADDRSTRLEN + 4)

struct addr {
	uint8_t family; /* AF_INET or AF_INET6; 0 when unset */
	uint8_t pad[3]; /* always zero, so addresses hash as bytes */
	union {
		uint8_t b[16]; /* network order; IPv4 uses b[0..3] */
		uint32_t w[4];
	};
};

struct cidr {
	struct addr addr; /* host bits are always zero */
	uint8_t plen;
};

/* Parses a literal IPv4 or IPv6 address (no prefix); -EINVAL otherwise. */
int addr_parse(const char *s, struct addr *ret);
/* From raw network-order bytes: 4 for IPv4, 16 for IPv6.  Inline: the
 * packet parsers call them for every packet. */
static inline void addr_from_v4(struct addr *a, const void *four_bytes)
{
	*a = (struct addr){ .family = AF_INET };
	memcpy(a->b, four_bytes, 4);
}

static inline void addr_from_v6(struct addr *a, const void *sixteen_bytes)
{
	*a = (struct addr){ .family = AF_INET6 };
	memcpy(a->b, sixteen_bytes, 16);
}
/* Formats into @buf (ADDR_STR_MAX bytes) and returns @buf. */
const char *addr_format(const struct addr *a, char *buf, size_t len);
/* Total order: IPv4 before IPv6, then bytes. */
int addr_cmp(const struct addr *a, const struct addr *b);
bool addr_eq(const struct addr *a, const struct addr *b);
/* 4 or 16; 0 for an unset address. */
unsigned addr_len(const struct addr *a);
unsigned addr_bits(const struct addr *a);

/*
 * Parses "ADDR/LEN".  Host bits below the prefix are cleared, as Kubernetes
 * does for ipBlock.cidr.  -EINVAL for anything else (a bare address too).
 */
int cidr_parse(const char *s, struct cidr *ret);
const char *cidr_format(const struct cidr *c, char *buf, size_t len);
/* A /32 or /128 of @a. */
void cidr_from_addr(struct cidr *c, const struct addr *a);
bool cidr_contains(const struct cidr *c, const struct addr *a);
/* True when @inner lies entirely within @outer (same family). */
bool cidr_contains_cidr(const struct cidr *outer, const struct cidr *inner);
int cidr_cmp(const struct cidr *a, const struct cidr *b);
/* Lowest and highest address of the prefix. */
void cidr_first(const struct cidr *c, struct addr *ret);
void cidr_last(const struct cidr *c, struct addr *ret);

#endif
