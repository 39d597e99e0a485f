#!/usr/bin/env python3
"""nft_canon.py: the kernel listing of table inet bulkhead with the class
numbering abstracted away, as ruleset_text_canonical() does for the
description (include/ruleset.h): the dispatch digit sets (in4/dJ.V ...),
trie chains (ti/..., te/...) and the verdict maps in front of the tries
(in4/vmap ...) are left out, dispatch rules print "goto <dispatch>", every
address of an isolation set (in4, in6, eg4, eg6) is listed with the class
chain the kernel's trie leads it to, and every verdict map element that
leads elsewhere is listed as an error.  An incrementally updated table and
a fresh one that enforce the same thing print the same lines, whatever
their class ids and whichever pods their verdict maps hold.  Set sizes are left out
too (they depend on the element count a set was created with), and so is
the empty set `incremental` that incremental batches leave.

    nft_canon.py [--maps] LISTING.txt LISTING.json
The text comes out in a fixed order (blocks by name, rules in their
order, elements sorted), so two listings compare line by line.
LISTING.txt: `nft list table inet bulkhead`; LISTING.json: `nft -j list ...`.
--maps also lists the addresses each verdict map holds (not where they
lead), for tables that should hold the same pods in their maps: a fresh
apply and `apply --incremental-from`, which refills the maps at the end.
"""
import ipaddress
import json
import re
import sys

ISO = re.compile(r"^(in|eg)[46]$")
BITS = re.compile(r"^(in|eg)[46]/d\d+\.\d+$")
VMAP = re.compile(r"^(in|eg)[46]/vmap$")
TRIE = re.compile(r"^t[ie]/")
BLOCK = re.compile(r"^\t(set|map|chain) (\S+) \{$")
DISPATCH = re.compile(r"^(\t\tip6? [sd]addr @(?:in|eg)[46]) goto \S+$")
# A set's size is what it was created with (a fresh apply fits it to the
# elements, an incrementally updated set keeps its size until it outgrows
# it), not what it enforces: left out, as ruleset_text_canonical() does.
SIZE = re.compile(r"^\t\tsize \d+$")
# The empty set every incremental batch creates (enforcer/nftio.c): it
# records that the table comment's digest is out of date, and enforces
# nothing.
MARKER = "incremental"


def text_lines(path):
    """The listing as blocks (sets, maps, chains) in name order, each with
    its lines in listing order (a chain's rules keep theirs) and a set's
    elements one a line, sorted (the kernel lists a hash set in bucket
    order, which differs between two sets of the same elements)."""
    head, tail, blocks = [], [], {}
    cur, skip, elems = None, False, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            m = BLOCK.match(line)
            if m:
                name = m.group(2)
                skip = bool(BITS.match(name) or TRIE.match(name) or VMAP.match(name) or
                            name == MARKER)
                cur = blocks.setdefault((m.group(1), name), [])
            if cur is None:
                (tail if blocks else head).append(line)
                continue
            if skip:
                pass
            elif elems is not None or line.strip().startswith("elements = {"):
                elems = (elems or "") + line.strip()
                if elems.endswith("}"):
                    items = elems[len("elements = {"):-1].split(",")
                    cur.append("\t\telements = {")
                    cur += sorted(f"\t\t\t{e.strip()}" for e in items if e.strip())
                    cur.append("\t\t}")
                    elems = None
            elif line.strip() and not SIZE.match(line):
                m = DISPATCH.match(line)
                cur.append(f"{m.group(1)} goto <dispatch>" if m else line)
            if line == "\t}":
                cur, skip = None, False
    out = [x for x in head if x.strip()]
    for key in sorted(blocks):
        out += blocks[key]
    return out + [x for x in tail if x.strip()]


def set_match(expr):
    """(set name, family) of `ip[6] saddr|daddr @set`, else None."""
    m = expr.get("match")
    if not m or m.get("op") != "==" or not isinstance(m.get("right"), str):
        return None
    pl = m.get("left", {}).get("payload", {})
    if pl.get("field") not in ("saddr", "daddr") or not m["right"].startswith("@"):
        return None
    return m["right"][1:], 6 if pl.get("protocol") == "ip6" else 4


def dispatch_lines(path):
    with open(path) as f:
        objs = json.load(f)["nftables"]
    sets, rules, vmaps = {}, {}, {}
    for o in objs:
        if "set" in o:
            elems = set()
            for e in o["set"].get("elem", []):
                if isinstance(e, str):
                    elems.add(ipaddress.ip_address(e))
            sets[o["set"]["name"]] = elems
        elif "map" in o:
            # [address, {"goto": {"target": chain}}] per element
            vmaps[o["map"]["name"]] = {
                ipaddress.ip_address(k): next(iter(v.values()))["target"]
                for k, v in o["map"].get("elem", [])}
        elif "rule" in o:
            rules.setdefault(o["rule"]["chain"], []).append(o["rule"]["expr"])

    def target(exprs):
        for e in exprs:
            if "goto" in e:
                return e["goto"]["target"]
        return None

    def walk(chain, addr, fam):
        for _ in range(40):
            if not TRIE.match(chain):
                return chain
            nxt = None
            for exprs in rules.get(chain, []):
                sm = [set_match(e) for e in exprs]
                sm = [s for s in sm if s]
                if not sm:
                    nxt = target(exprs)
                elif sm[0][1] == fam and addr in sets.get(sm[0][0], ()):
                    nxt = target(exprs)
                if nxt:
                    break
            if not nxt:
                return "(lost in the trie)"
            chain = nxt
        return "(trie too deep)"

    out = []
    for chain in ("forward", "input", "ingress"):
        entries = {}
        for exprs in rules.get(chain, []):
            sm = [s for s in (set_match(e) for e in exprs) if s]
            t = target(exprs)
            if not sm or not t or not ISO.match(sm[0][0]):
                continue
            name, fam = sm[0]
            entries[name] = t
            for a in sorted(sets.get(name, ()), key=lambda x: (x.version, x)):
                if a.version == fam:
                    out.append(f"\t# {chain} {a} @{name} -> {walk(t, a, fam)}")
        # The verdict maps of this chain: an element must lead where the
        # trie does (the one of its isolation set, same family).
        for exprs in rules.get(chain, []):
            vm = [e["vmap"]["data"] for e in exprs if "vmap" in e]
            if not vm or not isinstance(vm[0], str):
                continue
            mname = vm[0][1:]
            iso = mname.split("/")[0]
            for a, tgt in sorted(vmaps.get(mname, {}).items(),
                                 key=lambda x: (x[0].version, x[0])):
                want = "(not isolated)"
                if iso in entries and a in sets.get(iso, ()):
                    want = walk(entries[iso], a, a.version)
                if want != tgt:
                    out.append(f"\t# {chain} {a} @{mname} -> {tgt}, the trie says {want}")
    return out


def map_lines(json_path):
    out = []
    with open(json_path) as f:
        objs = json.load(f)["nftables"]
    for o in objs:
        m = o.get("map")
        if not m or not VMAP.match(m["name"]):
            continue
        addrs = sorted((ipaddress.ip_address(e[0]) for e in m.get("elem", [])),
                       key=lambda a: (a.version, a))
        out += [f"\t# map {m['name']} holds {a}" for a in addrs]
    return out


def main():
    args = sys.argv[1:]
    maps = args[:1] == ["--maps"]
    if maps:
        args = args[1:]
    lines = text_lines(args[0]) + dispatch_lines(args[1])
    if maps:
        lines += map_lines(args[1])
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
