/*
 * Packet capture with libpcap, from a file or live on an interface, feeding
 * a struct learn.  Live captures are non-blocking, keep only what a flow is
 * learned from (a kernel BPF filter: TCP SYN and SYN-ACK, UDP, SCTP INIT
 * and INIT-ACK, IPv6 with extension headers) and only packets entering the
 * node (on a pod's host-side veth, every packet the pod sends).  Driven by
 * the caller's loop: capture_fd() + capture_process().
 */
#ifndef BH_CAPTURE_H
#define BH_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct learn;
struct capture;

/* Packets handled per capture_process() call. */
#define CAPTURE_BUDGET 256
/* Bytes captured per packet on live interfaces: every header up to the
 * first SCTP chunk type with room for IPv6 extension headers. */
#define CAPTURE_SNAPLEN 512

struct capture_stats {
	uint64_t packets; /* handed to the learner */
	uint64_t kernel_drops; /* live: dropped by the kernel (pcap_stats) */
};

/* The BPF filter expression used for link type @dlt (a static string). */
const char *capture_filter(int dlt);

/*
 * Opens a capture file (pcap or pcapng; "-" for stdin); classic pcap
 * files are read in large blocks without libpcap's callback per packet,
 * with libpcap's results (the same packets, the same refusals).  Every packet is
 * handed to @l (borrowed).  -EINVAL (input error) for an unreadable file
 * or an unsupported link type, naming the file.
 */
int capture_open_file(const char *path, struct learn *l, struct capture **ret,
		      struct bh_err *reterr);

/* capture_open_file() flags. */
enum {
	/* Every packet through libpcap's reader, never the fast path for
	 * classic pcap files (tests compare the two). */
	CAPTURE_FILE_LIBPCAP = 1 << 0,
};

/* capture_open_file() with @flags (CAPTURE_FILE_*). */
int capture_open_file_with(const char *path, struct learn *l, unsigned flags, struct capture **ret,
			   struct bh_err *reterr);
/*
 * True when a file's records are read by the fast path (a classic pcap
 * file, version 2.4, seekable), false for libpcap's reader (pcapng, older
 * versions, a pipe, live captures).
 */
bool capture_fast(const struct capture *c);

/*
 * Opens a live, non-blocking capture on @ifname with the filter above,
 * direction in only.  -errno with @reterr (system error), e.g. -EPERM.
 */
int capture_open_live(const char *ifname, struct learn *l, struct capture **ret,
		      struct bh_err *reterr);

/* NULL-safe; returns NULL. */
struct capture *capture_free(struct capture *c);

/* The fd to poll (live), or -1 (files: call capture_process until EOF). */
int capture_fd(const struct capture *c);
const char *capture_name(const struct capture *c);
/* True once a file is read to its end. */
bool capture_eof(const struct capture *c);

/*
 * Handles up to CAPTURE_BUDGET packets; returns how many (0: nothing
 * waiting, or end of file), or -errno with @reterr: a truncated or corrupt
 * file is an input error, a failing interface a system error (an interface
 * that went away: -ENODEV).
 */
int capture_process(struct capture *c, struct bh_err *reterr);

/* Counters; for live captures also asks the kernel for its drops. */
void capture_get_stats(struct capture *c, struct capture_stats *ret);

#endif
