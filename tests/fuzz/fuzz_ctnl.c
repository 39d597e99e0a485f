/*
 * tests/fuzz/fuzz_ctnl.c: ctnetlink conntrack messages as the kernel sends
 * them (one or several nlmsghdr in a buffer), parsed and learned; never
 * touches a socket.
 */
#include <libmnl/libmnl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctmon.h"
#include "learn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct learn *l;
	const struct nlmsghdr *nlh;
	void *buf;
	int len;

	if (size > 1 << 20)
		return 0;
	if (!l && !(l = learn_new(64)))
		return 0;
	/* Netlink messages are 4-byte aligned in the kernel's buffers. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	len = (int) size;
	for (nlh = buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		struct ct_conn c;
		enum ct_msg_type type;

		if (ctmon_msg_parse(nlh, nlh->nlmsg_len, size % 2, &c, &type) < 0)
			continue;
		(void) learn_conntrack(l, &c,
				       type == CT_MSG_DESTROY ? LEARN_CT_DESTROY : LEARN_CT_NEW,
				       (int64_t) c.id);
	}
	free(buf);
	return 0;
}
