#!/usr/bin/env python3
"""Expand the expected truth tables of a netpol case (docs/netpol-cases.md).

    netpol_expect.py CASE.json          # one line per cell:
                                        # FAMILY PROTO/PORT FROM TO allow|deny
    netpol_expect.py --compare CASE.json CHECK_JSON [CHECK_JSON_IPV6]
                                        # diff `bulkhead check -o json` output

Used by golden.check_cases and by kernel tests that replay the cases.
Python 3 stdlib only.
"""
import json
import sys

NAMESPACES = ["x", "y", "z"]
PODS = [f"{n}/{p}" for n in NAMESPACES for p in ["a", "b", "c"]]
PROBES = ["TCP/80", "TCP/81", "UDP/80", "UDP/81", "SCTP/80", "SCTP/81"]


def _match(pat, pod):
    pn, pp = pat.split("/")
    n, p = pod.split("/")
    return pn in ("*", n) and pp in ("*", p)


def expand(path):
    """{(family, probe): {(from, to): bool}}, every cell of every probe,
    for IPv4 and IPv6."""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for entry in doc["expect"]:
        family = entry.get("family", "IPv4")
        probes = PROBES if entry["probes"] == "*" else entry["probes"]
        table = {(a, b): bool(entry["default"]) for a in PODS for b in PODS}
        for src, dst, verdict in entry["rules"]:
            for a in PODS:
                for b in PODS:
                    if _match(src, a) and _match(dst, b):
                        table[(a, b)] = bool(verdict)
        for p in probes:
            if (family, p) in out:
                raise ValueError(f"{path}: {family} {p} covered twice")
            out[(family, p)] = table
    for p in PROBES:
        if ("IPv4", p) not in out:
            raise ValueError(f"{path}: IPv4 {p} not covered")
    # Without IPv6 entries (a case without ipBlock), IPv6 is as IPv4.
    if not any(k[0] == "IPv6" for k in out):
        for p in PROBES:
            out[("IPv6", p)] = out[("IPv4", p)]
    return out


def compare(path, check_outputs):
    """Returns a list of differences between the case and check's JSON."""
    want = expand(path)
    diffs = []
    for family, fname in zip(["IPv4", "IPv6"], check_outputs):
        if not any(k[0] == family for k in want):
            continue
        seen = set()
        with open(fname) as f:
            for line in f:
                o = json.loads(line)
                probe = f'{o["protocol"]}/{o["port"]}'
                seen.add(probe)
                table = want[(family, probe)]
                for a in PODS:
                    for b in PODS:
                        got = o["matrix"][a][b]
                        if got != table[(a, b)]:
                            diffs.append(f"{family} {probe} {a} -> {b}: expected "
                                         f"{'allowed' if table[(a, b)] else 'denied'}, "
                                         f"check says {'allowed' if got else 'denied'}")
        if seen != set(PROBES):
            diffs.append(f"{family}: check printed probes {sorted(seen)}")
    return diffs


def main(argv):
    if len(argv) >= 3 and argv[0] == "--compare":
        diffs = compare(argv[1], argv[2:])
        for d in diffs:
            print(f"{argv[1]}: {d}")
        return 1 if diffs else 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    for (family, probe), table in sorted(expand(argv[0]).items()):
        for a in PODS:
            for b in PODS:
                print(family, probe, a, b, "allow" if table[(a, b)] else "deny")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
