/*
 * fuzz.nflog: NFLOG netlink datagrams as the kernel would send them to the
 * preview reader.  Parses the whole datagram into a small alert table (so
 * eviction runs too), parses the first message directly, and formats every
 * alert as JSON; never touches the kernel.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int format_cb(const struct alert *a, void *userdata)
{
	struct buf *b = userdata;

	buf_reset(b);
	return alert_format_json(a, b) < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct preview *p = preview_new(4);
	struct nflog_pkt pkt;
	struct buf b;

	if (!p)
		return 0;
	(void) preview_feed(p, data, size, 1);
	(void) nflog_msg_parse(data, size, &pkt);
	(void) nflog_payload_parse(data, size, &pkt);
	buf_init(&b, 4096);
	(void) preview_alert_foreach(p, format_cb, &b);
	buf_done(&b);
	preview_free(p);
	return 0;
}
