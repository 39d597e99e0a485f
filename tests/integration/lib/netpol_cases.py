#!/usr/bin/env python3
"""Comparisons of the netns tests over the netpol case corpus
(tests/data/netpol-cases, docs/netpol-cases.md).

  netpol_cases.py suspects CASE PODS PROBES.jsonl CHECK.jsonl [--preview]
      "FROM TO ADDR PORT PROTO" for each cell the kernel dropped although
      the reference allows it (with --preview: every dropped cell), to be
      probed again with a longer timeout before it counts.
  netpol_cases.py enforce CASE PODS PROBES.jsonl CHECK.jsonl
      Every probed cell: the kernel's verdict (PROBES, from topo_probe_all)
      against the case's expected truth table and against
      `bulkhead check -o json` (CHECK).  Prints every disagreeing cell and
      exits 1 if there is one.  CASE may be "-" (no truth table: kernel
      against check only, as the differential test does).
  netpol_cases.py preview CASE PODS PROBES.jsonl ALERTS.jsonl CHECK.jsonl \
          NODE BULKHEAD SNAPSHOT...
      Preview mode: every probe got through; every cell the policy set
      denies (the truth table where it has the cell, else check) produced exactly
      one alert, with the exact prefix of the deciding direction and pod; and
      no allowed cell did.  Which direction decides comes from
      `BULKHEAD check --explain` on the SNAPSHOTs (the engine's verdict per
      direction) and from which pods are on NODE: the forward chain checks
      the source's egress first (`bh:e:SRC`), then the destination's
      ingress (`bh:i:DST`); a side on another node is not checked here.

PODS is topology.sh's "ns/pod IPv4 IPv6" file.  Cells are keyed
(family, proto, port, from, to).
"""
import ipaddress
import json
import subprocess
import sys

PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81), ("SCTP", 80), ("SCTP", 81)]


def load_pods(path):
    pods = {}
    for line in open(path):
        f = line.split()
        if f:
            pods[f[0]] = {4: f[1], 6: f[2] if len(f) > 2 else "-"}
    return pods


def pattern_matches(pat, pod):
    pns, pname = pat.split("/", 1)
    ns, name = pod.split("/", 1)
    return pns in ("*", ns) and pname in ("*", name)


def expected(case_path, pods):
    """{(family, proto, port, from, to): bool} from the case's "expect"."""
    doc = json.load(open(case_path))
    want = {}
    for entry in doc["expect"]:
        fam = 6 if entry.get("family") == "IPv6" else 4
        probes = PROBES if entry["probes"] == "*" else [
            (p.split("/")[0], int(p.split("/")[1])) for p in entry["probes"]]
        for proto, port in probes:
            for src in pods:
                for dst in pods:
                    v = entry["default"]
                    for f, t, allow in entry["rules"]:
                        if pattern_matches(f, src) and pattern_matches(t, dst):
                            v = allow
                    want[(fam, proto, port, src, dst)] = v
    return want


def load_probes(path):
    """Later lines win: re-probes are appended to the file."""
    got = {}
    for line in open(path):
        r = json.loads(line)
        fam = ipaddress.ip_address(r["addr"]).version
        got[(fam, r["protocol"], r["port"], r["from"], r["id"])] = r
    return got


def load_check(path):
    """`bulkhead check -o json`: one object per probe; an object may carry
    "family" ("IPv4"/"IPv6"), IPv4 otherwise."""
    out = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        o = json.loads(line)
        fam = 6 if o.get("family") in ("IPv6", 6, "6") else 4
        for src, row in o["matrix"].items():
            for dst, v in row.items():
                out[(fam, o["protocol"], o["port"], src, dst)] = v
    return out


def cell_name(k):
    fam, proto, port, src, dst = k
    return f"IPv{fam} {proto}/{port} {src} -> {dst}"


def yn(v):
    return "-" if v is None else ("allow" if v else "deny")


def cmd_enforce(case, pods_path, probes_path, check_path):
    pods = load_pods(pods_path)
    want = expected(case, pods) if case != "-" else {}
    got = load_probes(probes_path)
    check = load_check(check_path)
    bad = 0
    compared = 0
    for k, r in sorted(got.items()):
        kern = r["ok"]
        exp = want.get(k)
        chk = check.get(k)
        if exp is None and chk is None:
            continue
        compared += 1
        if (exp is not None and exp != kern) or (chk is not None and chk != kern) or (
                chk is None and case == "-"):
            bad += 1
            print(f"  DISAGREE {cell_name(k)}: kernel {yn(kern)} ({r['result']}), "
                  f"expected {yn(exp)}, check {yn(chk)}")
    # Every cell of the truth table that the kernel can carry was probed.
    for k in want:
        if k[1] != "SCTP" and k not in got:
            bad += 1
            print(f"  NOT PROBED {cell_name(k)}")
    print(f"  {compared} cells compared, {bad} disagreements")
    return 1 if bad or compared == 0 else 0


def cmd_suspects(case, pods_path, probes_path, check_path, *opt):
    pods = load_pods(pods_path)
    ref = load_check(check_path)
    if case != "-":
        ref.update(expected(case, pods))
    for k, r in sorted(load_probes(probes_path).items()):
        if not r["ok"] and (opt == ("--preview",) or ref.get(k)):
            print(k[3], k[4], r["addr"], k[2], k[1])
    return 0


def local_pods(snapshots, node):
    """The pods the enforcer on @node checks: spec.nodeName is @node and
    not host-network (docs/enforcer.md)."""
    local = set()
    for path in snapshots:
        for o in json.load(open(path)).get("items") or []:
            if o.get("kind") != "Pod":
                continue
            spec, md = o.get("spec") or {}, o.get("metadata") or {}
            if spec.get("nodeName") == node and not spec.get("hostNetwork"):
                local.add(f'{md.get("namespace", "default")}/{md["name"]}')
    return local


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def pod_prefix(d, pod):
    """An alert's prefix once resolved to pod NS/POD (enforcer/preview.c,
    ruleset_pod_prefix()): bh:D:NS/POD, hashed past 63 characters."""
    p = f"bh:{d}:{pod}"
    return p if len(p) <= 63 else f"bh:{d}:#{fnv1a64(pod):016x}"


class Explainer:
    """The engine's verdict per direction of one cell, from
    `bulkhead check --explain -o json`."""

    def __init__(self, bulkhead, snapshots):
        self.cmd = [bulkhead, "check"]
        for s in snapshots:
            self.cmd += ["--snapshot", s]

    def __call__(self, k):
        fam, proto, port, src, dst = k
        r = subprocess.run(self.cmd + ["--from", src, "--to", dst, "--port", str(port),
                                       "--protocol", proto, "--family", f"ipv{fam}",
                                       "--explain", "-o", "json"],
                           capture_output=True, text=True)
        if r.returncode not in (0, 1):
            sys.exit(f"netpol_cases.py: check --explain {cell_name(k)} failed "
                     f"({r.returncode}): {r.stderr.strip()}")
        o = json.loads(r.stdout)
        return o["egress"]["allowed"], o["ingress"]["allowed"], o["allowed"]


def deciding_prefix(k, egress_ok, ingress_ok, local):
    """The prefix of the alert for cell @k, or None when this node would
    let it through: the forward chain checks the egress of a local source
    first (denied: logged as e and accepted at once), then the ingress of
    a local destination."""
    _, _, _, src, dst = k
    if src in local and not egress_ok:
        return pod_prefix("e", src)
    if dst in local and not ingress_ok:
        return pod_prefix("i", dst)
    return None


def cmd_preview(case, pods_path, probes_path, alerts_path, check_path, node, bulkhead,
                *snapshots):
    pods = load_pods(pods_path)
    local = local_pods(snapshots, node)
    explain = Explainer(bulkhead, snapshots)
    # What would be denied: the truth table where it has the cell, check
    # elsewhere (the kernel's agreement with both is the enforce half).
    want = load_check(check_path)
    if case != "-":
        want.update(expected(case, pods))
    got = load_probes(probes_path)
    by_ip = {}
    for name, ips in pods.items():
        for fam in (4, 6):
            if ips[fam] != "-":
                by_ip[str(ipaddress.ip_address(ips[fam]))] = name
    alerts = {}
    bad = 0
    alerted = 0
    for line in open(alerts_path):
        a = json.loads(line)
        src, dst = by_ip.get(a["src"]), by_ip.get(a["dst"])
        fam = ipaddress.ip_address(a["src"]).version
        k = (fam, a["protocol"], a["port"], src, dst)
        if src is None or dst is None:
            bad += 1
            print(f"  ALERT for an unknown address: {a}")
            continue
        if k in alerts:
            bad += 1
            print(f"  ALERT TWICE {cell_name(k)}: {alerts[k]['prefix']} and {a['prefix']}")
        alerts[k] = a
    for k, r in sorted(got.items()):
        if not r["ok"]:
            bad += 1
            print(f"  PREVIEW DROPPED {cell_name(k)} ({r['result']})")
        exp = want.get(k)
        a = alerts.pop(k, None)
        if exp is None:
            if a:
                print(f"  (alert for a cell without expectation {cell_name(k)})")
            continue
        prefix = None
        if not exp:
            # Which direction denies: the engine's explanation of the cell,
            # which must agree with the expectation it is held to.
            egress_ok, ingress_ok, allowed = explain(k)
            if allowed:
                bad += 1
                print(f"  EXPLAIN DISAGREES {cell_name(k)}: expected deny, "
                      f"check --explain allows")
                continue
            prefix = deciding_prefix(k, egress_ok, ingress_ok, local)
        if prefix is None and a:
            bad += 1
            print(f"  FALSE ALERT {cell_name(k)}: {'allowed' if exp else 'denied elsewhere'}"
                  f", alerted {a['prefix']}")
        elif prefix is not None and not a:
            bad += 1
            print(f"  NO ALERT {cell_name(k)}: denied, nothing logged (want {prefix})")
        elif a:
            alerted += 1
            if a["prefix"] != prefix:
                bad += 1
                print(f"  WRONG PREFIX {cell_name(k)}: '{a['prefix']}' (want {prefix}: "
                      f"egress {yn(egress_ok)}, ingress {yn(ingress_ok)})")
            if a["packets"] != 1:
                bad += 1
                print(f"  LOGGED {a['packets']} TIMES {cell_name(k)} (want once per flow)")
    for k, a in alerts.items():
        bad += 1
        print(f"  ALERT FOR AN UNPROBED CELL {cell_name(k)}: {a}")
    denied = sum(1 for k, r in got.items() if want.get(k) is False)
    print(f"  {len(got)} probes, {denied} would-deny cells, {alerted} alerts with "
          f"their exact prefix checked, {bad} problems")
    return 1 if bad else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "suspects":
        return cmd_suspects(*args)
    if cmd == "enforce":
        return cmd_enforce(*args)
    if cmd == "preview":
        return cmd_preview(*args)
    sys.exit(f"netpol_cases.py: unknown command '{cmd}'")


if __name__ == "__main__":
    sys.exit(main())
