/*
 * libpcap sources.  Errors from libpcap become -EIO (or -EINVAL for bad
 * files, -ENODEV for an interface that vanished) with pcap_geterr()'s text
 * in the error detail.
 *
 * Classic pcap files (version 2.4, any byte order, micro- or nanosecond
 * stamps) take a fast path: libpcap opens them and reads the file header
 * (link type mapping, snapshot length), then the records are read here in
 * large blocks and handed to the learner without a callback per packet.
 * What libpcap would refuse is refused here too, at the same record:
 * truncated records and capture lengths past the link type's maximum.
 * pcapng, older versions and non-seekable input stay with libpcap.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* The classic pcap fast path (files): */
	bool fast, swapped;
	uint32_t snapshot; /* pcap_snapshot() */
	FILE *f; /* libpcap's, positioned after the file header */
	uint8_t *buf; /* CAPTURE_FILE_BLOCK bytes: [off, len) unread */
	size_t off, len;
	char errmsg[160];
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
/* The fast path's read size, and the stdio buffer it leaves libpcap (a
 * read of at least the stdio buffer's size goes to the file directly). */
#define CAPTURE_FILE_BLOCK (1 << 20)
#define CAPTURE_FILE_STDIO (64 << 10)
/* libpcap's max_snaplen_for_dlt() for every link type we parse. */
#define CAPTURE_MAX_CAPLEN 262144u
#define PCAP_REC_HDR 16
#define PCAP_FILE_HDR 24

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
	free(c->buf);
	free(c->name);
	free(c);
	return NULL;
}

static uint32_t rd32(const uint8_t *p, bool swapped)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return swapped ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const uint8_t *p, bool swapped)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return swapped ? __builtin_bswap16(v) : v;
}

/*
 * Whether @f, a regular file not read from yet, starts with a classic pcap
 * header the fast path reads (magic, version 2.4); its byte order in
 * @ret_swapped.  Peeks with pread(), so libpcap still reads the header.
 */
static bool fast_candidate(FILE *f, bool *ret_swapped, off_t *ret_off)
{
	uint8_t h[PCAP_FILE_HDR];
	int fd = fileno(f);
	struct stat st;
	uint32_t magic;
	off_t off;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	off = lseek(fd, 0, SEEK_CUR);
	if (off < 0 || pread(fd, h, sizeof(h), off) != (ssize_t) sizeof(h))
		return false;
	magic = rd32(h, false);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
		*ret_swapped = false;
	else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
		*ret_swapped = true;
	else
		return false;
	*ret_off = off;
	return rd16(h + 4, *ret_swapped) == 2 && rd16(h + 6, *ret_swapped) == 4;
}

int capture_open_file(const char *path, struct learn *l, struct capture **ret,
		      struct bh_err *reterr)
{
	return capture_open_file_with(path, l, 0, ret, reterr);
}

int capture_open_file_with(const char *path, struct learn *l, unsigned flags, struct capture **ret,
			   struct bh_err *reterr)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = capture_alloc(path, l);
	bool fast = false, swapped = false;
	off_t off = 0;
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
	if (!(flags & CAPTURE_FILE_LIBPCAP))
		fast = fast_candidate(f, &swapped, &off);
	(void) setvbuf(f, NULL, _IOFBF, fast ? CAPTURE_FILE_STDIO : CAPTURE_FILE_BUFFER);
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
	/* libpcap read exactly the header we peeked at. */
	if (fast && ftello(f) == off + PCAP_FILE_HDR && pcap_snapshot(c->p) > 0) {
		c->buf = malloc(CAPTURE_FILE_BLOCK);
		if (!c->buf) {
			capture_free(c);
			return bh_err_oom(reterr);
		}
		c->fast = true;
		c->swapped = swapped;
		c->snapshot = (uint32_t) pcap_snapshot(c->p);
		c->f = f;
	}
	*ret = c;
	return 0;
}

bool capture_fast(const struct capture *c)
{
	return c->fast;
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

/* At least @need unread bytes in the block, unless the file ends first:
 * how many there are.  -EIO on a read error. */
static ssize_t fast_fill(struct capture *c, size_t need)
{
	size_t have = c->len - c->off;

	if (have >= need)
		return (ssize_t) have;
	if (c->off) {
		memmove(c->buf, c->buf + c->off, have);
		c->off = 0;
		c->len = have;
	}
	while (c->len < need) {
		size_t n = fread(c->buf + c->len, 1, CAPTURE_FILE_BLOCK - c->len, c->f);

		c->len += n;
		if (n == 0) {
			if (ferror(c->f))
				return -EIO;
			break;
		}
	}
	return (ssize_t) c->len;
}

/* The records of a classic pcap file, as libpcap's sf-pcap.c reads them. */
static int fast_process(struct capture *c)
{
	int n;

	for (n = 0; n < CAPTURE_BUDGET; n++) {
		ssize_t have = fast_fill(c, PCAP_REC_HDR);
		const uint8_t *h = c->buf + c->off;
		uint32_t caplen, keep;
		int64_t sec;
		int r;

		if (have < 0)
			goto read_error;
		if (have == 0) {
			c->eof = true;
			return n;
		}
		if (have < PCAP_REC_HDR) {
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "truncated dump file; tried to read %d header bytes, only got %zd",
				 PCAP_REC_HDR, have);
			return -EINVAL;
		}
		/* Seconds as libpcap 1.10 gives them: signed in the host's
		 * byte order, unsigned when swapped (its SWAPLONG). */
		sec = c->swapped ? (int64_t) rd32(h, true) : (int64_t) (int32_t) rd32(h, false);
		caplen = rd32(h + 8, c->swapped);
		if (caplen > CAPTURE_MAX_CAPLEN) {
			snprintf(c->errmsg, sizeof(c->errmsg),
				 "invalid packet capture length %u, bigger than %s of %u", caplen,
				 caplen > c->snapshot ? "snaplen" : "maximum",
				 caplen > c->snapshot ? c->snapshot : CAPTURE_MAX_CAPLEN);
			return -EINVAL;
		}
		/* A record longer than the file's snapshot length: libpcap
		 * keeps the snapshot and skips the rest. */
		keep = caplen > c->snapshot ? c->snapshot : caplen;
		have = fast_fill(c, PCAP_REC_HDR + (size_t) caplen);
		if (have < 0)
			goto read_error;
		if ((size_t) have < PCAP_REC_HDR + (size_t) caplen) {
			snprintf(
				c->errmsg, sizeof(c->errmsg),
				"truncated dump file; tried to read %u captured bytes, only got %zd",
				caplen, have - PCAP_REC_HDR);
			return -EINVAL;
		}
		h = c->buf + c->off;
		c->off += PCAP_REC_HDR + (size_t) caplen;
		c->stats.packets++;
		r = learn_packet(c->l, c->dlt, h + PCAP_REC_HDR, keep, sec);
		if (r < 0) {
			c->err = r;
			return r;
		}
	}
	return n;

read_error:
	snprintf(c->errmsg, sizeof(c->errmsg), "error reading dump file");
	return -EINVAL;
}

int capture_process(struct capture *c, struct bh_err *reterr)
{
	int n;

	if (c->eof)
		return 0;
	if (c->fast) {
		n = fast_process(c);
		if (c->err)
			return bh_err_set(reterr, BH_ERR_SYSTEM, c->err,
					  "capture '%s': flow table: %s", c->name,
					  strerror(-c->err));
		if (n < 0)
			return bh_err_set(reterr, BH_ERR_INPUT, -EINVAL, "capture file '%s': %s",
					  c->name, c->errmsg);
		return n;
	}
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
