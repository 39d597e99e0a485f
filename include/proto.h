/* L4 protocols and ports as Kubernetes names them. */
#ifndef BH_PROTO_H
#define BH_PROTO_H

#include <netinet/in.h>
#include <stdint.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

/* "TCP", "UDP", "SCTP" for IPPROTO_*; NULL for anything else. */
const char *proto_name(uint8_t proto);
/* Parses exactly "TCP", "UDP" or "SCTP" (Kubernetes spelling); -EINVAL
 * otherwise. */
int proto_parse(const char *s, uint8_t *ret);
/* Parses a decimal port 1..65535 with nothing after it; -EINVAL or -ERANGE. */
int port_parse(const char *s, uint16_t *ret);

#endif
