/*
 * fuzz.nflog: NFLOG netlink datagrams as the kernel would send them to the
 * preview reader.  Parses the whole datagram into a small alert table (so
 * eviction runs too), parses the first message directly, and formats every
 * alert as JSON; never touches the kernel.  The input read as an IP packet
 * must give the NFLOG payload reader and the capture parser the same
 * answer (one set of IP rules, ip_parse.h): a difference traps.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pkt_parse.h"
#include "preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int format_cb(const struct alert *a, void *userdata)
{
	struct buf *b = userdata;

	buf_reset(b);
	return alert_format_json(a, b) < 0 ? -1 : 0;
}

/* What the capture parser learns from @data as raw IP, the NFLOG reader
 * must see too. */
static void payload_agrees(const uint8_t *data, size_t size)
{
	struct nflog_pkt pkt = { .proto = 0 };
	struct pkt_info pi;
	enum pkt_result pr;
	uint8_t *copy;
	int r;

	copy = malloc(size ? size : 1); /* exact size, for ASan */
	if (!copy)
		return;
	memcpy(copy, data, size);
	r = nflog_payload_parse(copy, size, &pkt);
	pr = pkt_parse(PKT_DLT_RAW, copy, size, &pi);
	free(copy);
	if ((pr == PKT_NOT_IP) != (r == -EPROTONOSUPPORT))
		__builtin_trap();
	/* A later fragment is an alert without ports (pkt_parse() fills
	 * nothing then). */
	if (pr == PKT_FRAGMENT && (r != 0 || pkt.sport || pkt.dport))
		__builtin_trap();
	if (pr != PKT_OK)
		return;
	if (r != 0 || !addr_eq(&pkt.src, &pi.src) || !addr_eq(&pkt.dst, &pi.dst) ||
	    pkt.proto != pi.proto || pkt.sport != pi.sport || pkt.dport != pi.dport ||
	    pkt.len != pi.ip_len)
		__builtin_trap();
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
	payload_agrees(data, size);
	buf_init(&b, 4096);
	(void) preview_alert_foreach(p, format_cb, &b);
	buf_done(&b);
	preview_free(p);
	return 0;
}
