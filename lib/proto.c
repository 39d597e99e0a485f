#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	default:
		return NULL;
	}
}

int proto_parse(const char *s, uint8_t *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "TCP") == 0)
		*ret = IPPROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*ret = IPPROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*ret = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

int port_parse(const char *s, uint16_t *ret)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < 1 || v > 65535)
		return -ERANGE;
	*ret = (uint16_t) v;
	return 0;
}
