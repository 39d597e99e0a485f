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
	uint8_t *buf;
	size_t off = 0;

	if (size > 1 << 20)
		return 0;
	if (!l && !(l = learn_new(64)))
		return 0;
	/* Netlink messages are 4-byte aligned in the kernel's buffers. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* Walk the stream by hand: libmnl's mnl_nlmsg_ok() takes an int and
	 * lets a length above INT_MAX through. */
	while (size - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const void *) (buf + off);
		struct ct_conn c;
		enum ct_msg_type type;
		size_t step;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > size - off)
			break;
		if (ctmon_msg_parse(nlh, nlh->nlmsg_len, size % 2, &c, &type) == 0)
			(void) learn_conntrack(
				l, &c, type == CT_MSG_DESTROY ? LEARN_CT_DESTROY : LEARN_CT_NEW,
				(int64_t) c.id);
		step = MNL_ALIGN(nlh->nlmsg_len);
		if (step > size - off)
			break;
		off += step;
	}
	free(buf);
	return 0;
}
