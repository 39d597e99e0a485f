/*
 * libpcap sources.  Errors from libpcap become -EIO (or -EINVAL for bad
 * files, -ENODEV for an interface that vanished) with pcap_geterr()'s text
 * in the error detail.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "learn.h"
#include "pkt_parse.h"

struct capture {
	pcap_t *p;
	char *name;
	int dlt;
	bool live, eof;
	int err; /* set by the callback to stop pcap_dispatch */
	struct learn *l;
	struct capture_stats stats;
};

/*
 * Only what a flow is learned from reaches user space.  libpcap 1.10
 * cannot index TCP headers behind IPv6 (tcp[] is IPv4 only), so IPv6 uses
 * fixed offsets when TCP/SCTP directly follows the header, and passes
 * anything with extension headers for pkt_parse() to decide.
 */
#define F4                                               \
	"(ip and ((tcp and tcp[13] & 6 == 2) or udp or " \
	"(sctp and (sctp[12] == 1 or sctp[12] == 2))))"
#define F6                                                       \
	"(ip6 and ((ip6[6] == 6 and ip6[53] & 6 == 2) or "       \
	"(ip6[6] == 132 and (ip6[52] == 1 or ip6[52] == 2)) or " \
	"(ip6[6] != 6 and ip6[6] != 132)))"
#define FILTER F4 " or " F6

#define CAPTURE_FILE_BUFFER (1 << 20)

const char *capture_filter(int dlt)
{
	/* libpcap knows 802.1Q tags only on Ethernet. */
	if (dlt == DLT_EN10MB)
		return FILTER " or (vlan and (" FILTER "))";
	return FILTER;
}

static const char *dlt_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);

	return n ? n : "?";
}

static struct capture *capture_alloc(const char *name, struct learn *l)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->name = strdup(name);
	c->l = l;
	if (!c->name) {
		free(c);
		return NULL;
	}
	return c;
}

struct capture *capture_free(struct capture *c)
{
	if (!c)
		return NULL;
	if (c->p)
		pcap_close(c->p);
	free(c->name);
	free(c);
	return NULL;
}

int capture_open_file(const char *path, struct learn *l, struct capture **ret,
		      struct bh_err *reterr)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = capture_alloc(path, l);
	FILE *f;
	int r;

	if (!c)
		return bh_err_oom(reterr);
	/* Our own FILE with a large buffer: libpcap reads each record with
	 * two small freads, and a 4 KiB stdio buffer turns a big capture
	 * into hundreds of thousands of read() calls. */
	if (strcmp(path, "-") == 0) {
		f = stdin;
	} else {
		f = fopen(path, "rbe");
		if (!f) {
			r = -errno;
			capture_free(c);
			return bh_err_set(reterr, r == -ENOMEM ? BH_ERR_SYSTEM : BH_ERR_INPUT, r,
					  "capture file '%s': %s", path, strerror(-r));
		}
	}
	(void) setvbuf(f, NULL, _IOFBF, CAPTURE_FILE_BUFFER);
	c->p = pcap_fopen_offline(f, errbuf);
	if (!c->p) {
		if (f != stdin)
			fclose(f);
		capture_free(c);
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "capture file '%s': %s", path,
				  errbuf);
	}
	c->dlt = pcap_datalink(c->p);
	if (!pkt_dlt_supported(c->dlt)) {
		int dlt = c->dlt;

		capture_free(c);
		return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL,
				  "capture file '%s': link type %s (%d) is not supported, expected "
				  "Ethernet, Linux cooked v1/v2, raw IP or loopback",
				  path, dlt_name(dlt), dlt);
	}
	*ret = c;
	return 0;
}

static int live_fail(struct capture *c, int code, struct bh_err *reterr, const char *what)
{
	int r = bh_err_set(reterr, BH_ERR_SYSTEM, code, "capture on '%s': %s: %s", c->name, what,
			   pcap_geterr(c->p));

	capture_free(c);
	return r;
}

int capture_open_live(const char *ifname, struct learn *l, struct capture **ret,
		      struct bh_err *reterr)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	struct capture *c = capture_alloc(ifname, l);
	int r;

	if (!c)
		return bh_err_oom(reterr);
	c->live = true;
	c->p = pcap_create(ifname, errbuf);
	if (!c->p) {
		capture_free(c);
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "capture on '%s': %s", ifname,
				  errbuf);
	}
	/* Immediate mode: openers are rare on a busy link, and a learner
	 * that sees them late is no faster. */
	(void) pcap_set_snaplen(c->p, CAPTURE_SNAPLEN);
	(void) pcap_set_promisc(c->p, 0);
	(void) pcap_set_immediate_mode(c->p, 1);
	(void) pcap_set_buffer_size(c->p, 4 << 20);
	r = pcap_activate(c->p);
	if (r < 0) {
		int code = r == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV :
			   r == PCAP_ERROR_PERM_DENIED	  ? -EPERM :
							    -EIO;

		return live_fail(c, code, reterr, "activate");
	}
	c->dlt = pcap_datalink(c->p);
	if (pcap_setdirection(c->p, PCAP_D_IN) < 0)
		return live_fail(c, -EIO, reterr, "direction");
	if (pcap_compile(c->p, &prog, capture_filter(c->dlt), 1, PCAP_NETMASK_UNKNOWN) < 0)
		return live_fail(c, -EIO, reterr, "filter");
	r = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (r < 0)
		return live_fail(c, -EIO, reterr, "filter");
	if (pcap_setnonblock(c->p, 1, errbuf) < 0) {
		capture_free(c);
		return bh_err_set(reterr, BH_ERR_SYSTEM, -EIO, "capture on '%s': %s", ifname,
				  errbuf);
	}
	if (pcap_get_selectable_fd(c->p) < 0)
		return live_fail(c, -EIO, reterr, "no selectable fd");
	*ret = c;
	return 0;
}

int capture_fd(const struct capture *c)
{
	return c->live ? pcap_get_selectable_fd(c->p) : -1;
}

const char *capture_name(const struct capture *c)
{
	return c->name;
}

bool capture_eof(const struct capture *c)
{
	return c->eof;
}

static void packet_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (void *) user;
	int r;

	if (c->err)
		return;
	c->stats.packets++;
	r = learn_packet(c->l, c->dlt, bytes, h->caplen, h->ts.tv_sec);
	if (r < 0) {
		c->err = r;
		pcap_breakloop(c->p);
	}
}

int capture_process(struct capture *c, struct bh_err *reterr)
{
	int n;

	if (c->eof)
		return 0;
	n = pcap_dispatch(c->p, CAPTURE_BUDGET, packet_cb, (u_char *) c);
	if (c->err)
		return bh_err_set(reterr, BH_ERR_SYSTEM, c->err, "capture '%s': flow table: %s",
				  c->name, strerror(-c->err));
	if (n == PCAP_ERROR) {
		if (!c->live)
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "capture file '%s': %s",
					  c->name, pcap_geterr(c->p));
		return bh_err_set(reterr, BH_ERR_SYSTEM,
				  strstr(pcap_geterr(c->p), "went down") ? -ENETDOWN : -ENODEV,
				  "capture on '%s': %s", c->name, pcap_geterr(c->p));
	}
	if (n < 0)
		return 0; /* PCAP_ERROR_BREAK */
	if (n == 0 && !c->live)
		c->eof = true;
	return n;
}

void capture_get_stats(struct capture *c, struct capture_stats *ret)
{
	struct pcap_stat ps;

	if (c->live && pcap_stats(c->p, &ps) == 0)
		c->stats.kernel_drops = ps.ps_drop;
	*ret = c->stats;
}
