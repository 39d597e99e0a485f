#!/usr/bin/env python3
"""Writes examples/shop.pcap: an hour of the shop application's traffic on
node-1 and node-2 as a packet capture (Ethernet, IPv4), the input of the
README's `bulkhead learn --pcap` example.  Each connection is a TCP
handshake (SYN, SYN-ACK, ACK) or a UDP request and reply, between the pods
of examples/shop.json and one client outside the cluster.

    python3 examples/gen-shop-pcap.py examples/shop.pcap
"""
import struct
import sys

PODS = {
    "coredns-1": "10.244.1.2", "coredns-2": "10.244.2.2",
    "frontend-1": "10.244.1.10", "frontend-2": "10.244.2.10",
    "api-1": "10.244.1.11", "api-2": "10.244.2.11",
    "postgres-0": "10.244.1.12", "redis": "10.244.2.12",
    "worker": "10.244.1.13", "report": "10.244.2.13",
    "prometheus-0": "10.244.2.20",
    "client": "203.0.113.7",
}

# (client, server, protocol, port): what the application does.
FLOWS = [
    ("client", "frontend-1", "TCP", 8080),
    ("client", "frontend-2", "TCP", 8080),
    ("frontend-1", "api-1", "TCP", 8080),
    ("frontend-1", "api-2", "TCP", 8080),
    ("frontend-2", "api-2", "TCP", 8080),
    ("api-1", "postgres-0", "TCP", 5432),
    ("api-2", "postgres-0", "TCP", 5432),
    ("api-1", "redis", "TCP", 6379),
    ("api-2", "redis", "TCP", 6379),
    ("worker", "postgres-0", "TCP", 5432),
    ("report", "api-1", "TCP", 8080),
    ("prometheus-0", "api-1", "TCP", 9090),
    ("prometheus-0", "api-2", "TCP", 9090),
]
for pod in ("frontend-1", "frontend-2", "api-1", "api-2", "worker", "report"):
    FLOWS.append((pod, "coredns-1" if pod.endswith("1") else "coredns-2", "UDP", 53))

T0 = 1795683600  # 2026-11-26T09:00:00Z


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def packet(src, dst, proto, sport, dport, flags=0):
    if proto == "TCP":
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 65535, 0, 0)
        pnum = 6
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + 4, 0) + b"ping"
        pnum = 17
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, pnum, len(l4))
    c = csum(pseudo + l4)
    l4 = l4[:16] + struct.pack("!H", c) + l4[18:] if proto == "TCP" else \
        l4[:6] + struct.pack("!H", c) + l4[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, pnum, 0,
                      ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    return eth + hdr + l4


def main(path):
    recs = []
    t = T0
    for rnd in range(3):
        for i, (c, s, proto, port) in enumerate(FLOWS):
            sport = 40000 + rnd * 100 + i
            a, b = PODS[c], PODS[s]
            if proto == "TCP":
                pkts = [packet(a, b, proto, sport, port, 0x02),
                        packet(b, a, proto, port, sport, 0x12),
                        packet(a, b, proto, sport, port, 0x10)]
            else:
                pkts = [packet(a, b, proto, sport, port), packet(b, a, proto, port, sport)]
            for p in pkts:
                recs.append((t, p))
                t += 1
        t += 1200
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, p in recs:
            f.write(struct.pack("<IIII", ts, 0, len(p), len(p)) + p)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "shop.pcap")
