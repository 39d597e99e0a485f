#!/usr/bin/env python3
"""The contrasting baseline of bench_throughput.sh: the NetworkPolicies of a
snapshot compiled the naive way, one nftables rule per (local pod, peer,
port), walked linearly by every new connection.

    bench/linear_ruleset.py --node NAME [--max-rules N] SNAPSHOT... > linear.nft

Prints an `nft -f` script for table `inet bhlinear`:

    chain forward: ct state established,related accept; jump egress;
                   jump ingress
    chain egress:  ip saddr POD ip daddr PEER <proto> dport PORT return ...
                   ip saddr POD drop            (each egress-isolated pod)
    chain ingress: ip daddr POD ip saddr PEER <proto> dport PORT accept ...
                   ip daddr POD drop            (each ingress-isolated pod)

With --max-rules the list is cut after that many rules (the rest is only
counted and reported on stderr), but the rules of the policies named by
--keep-prefix (the benchmark's own, appended last) are always emitted: a
new connection of the benchmark pair walks every emitted rule before its
own, so a cut list understates the naive cost, never overstates it.

Only pods of --node are enforced (as bulkhead apply does).  Peers are pods
(by selector, resolved to addresses) or ipBlocks (cidr minus except).
Named ports are resolved per pod.  Policies are emitted in snapshot order,
so a policy appended last is matched last.  The semantics are the plain
reading of the NetworkPolicy spec, good for a cost baseline; the
reference semantics are the engine's (bulkhead check).  Stdlib only.
"""
import argparse
import ipaddress
import json
import sys


def load(paths):
    ns, pods, pols = {}, [], []
    for p in paths:
        for it in json.load(open(p)).get("items", []):
            k = it.get("kind")
            md = it.get("metadata", {})
            if k == "Namespace":
                labels = dict(md.get("labels", {}))
                labels.setdefault("kubernetes.io/metadata.name", md["name"])
                ns[md["name"]] = labels
            elif k == "Pod" and not it.get("spec", {}).get("hostNetwork"):
                st = it.get("status", {})
                ips = [x["ip"] for x in st.get("podIPs", [])] or (
                    [st["podIP"]] if st.get("podIP") else [])
                ports = {}
                for c in it["spec"].get("containers", []):
                    for cp in c.get("ports", []):
                        if cp.get("name"):
                            ports[(cp["name"], cp.get("protocol", "TCP"))] = cp["containerPort"]
                pods.append({"ns": md.get("namespace", "default"), "name": md["name"],
                             "labels": md.get("labels", {}), "ips": ips,
                             "node": it["spec"].get("nodeName"), "ports": ports})
            elif k == "NetworkPolicy":
                pols.append(it)
    return ns, pods, pols


def sel_match(sel, labels):
    if sel is None:
        return True
    for k, v in sel.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions", []):
        op, k, vals = e["operator"], e["key"], e.get("values", [])
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def peers(rule_peers, pol_ns, ns, pods):
    """[("pod", pod) | ("cidr", cidr, [except])] or None for 'anyone'."""
    if rule_peers is None:
        return None
    out = []
    for p in rule_peers:
        if "ipBlock" in p:
            out.append(("cidr", p["ipBlock"]["cidr"], p["ipBlock"].get("except", [])))
            continue
        nsel, psel = p.get("namespaceSelector"), p.get("podSelector")
        for q in pods:
            if nsel is None and q["ns"] != pol_ns:
                continue
            if nsel is not None and not sel_match(nsel, ns.get(q["ns"], {})):
                continue
            if sel_match(psel if psel is not None else {}, q["labels"]):
                out.append(("pod", q))
    return out


def port_matches(ports, target):
    """nft fragments "tcp dport 80", one per port; [""] for any port."""
    if not ports:
        return [""]
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP").lower()
        if "port" not in p:
            out.append(f"meta l4proto {proto}")
            continue
        port = p["port"]
        if isinstance(port, str):
            port = target["ports"].get((port, p.get("protocol", "TCP")))
            if port is None:
                continue
        if p.get("endPort"):
            out.append(f"{proto} dport {port}-{p['endPort']}")
        else:
            out.append(f"{proto} dport {port}")
    return out


def fam(a):
    return "ip" if ipaddress.ip_network(a, strict=False).version == 4 else "ip6"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--max-rules", type=int, default=2_000_000,
                    help="emit at most this many rules (the rest are only counted), "
                         "plus every rule of the --keep-prefix policies")
    ap.add_argument("--keep-prefix", default="",
                    help="policies whose name starts so are always emitted")
    ap.add_argument("snapshot", nargs="+")
    a = ap.parse_args()
    ns, pods, pols = load(a.snapshot)
    local = [p for p in pods if p["node"] == a.node]
    ingress, egress, iso_in, iso_out = [], [], [], []
    total = 0
    for pol in pols:
        md, spec = pol["metadata"], pol["spec"]
        keep = md["name"].startswith(a.keep_prefix) if a.keep_prefix else False
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec
                                            else ["Ingress"])
        targets = [p for p in local if p["ns"] == md["namespace"]
                   and sel_match(spec.get("podSelector", {}), p["labels"])]
        if not targets:
            continue
        for d, key, out, iso, me, other in (
                ("Ingress", "from", ingress, iso_in, "daddr", "saddr"),
                ("Egress", "to", egress, iso_out, "saddr", "daddr")):
            if d not in types:
                continue
            iso.extend(targets)
            verdict = "accept" if d == "Ingress" else "return"
            for r in spec.get(d.lower(), []):
                ps = peers(r.get(key), md["namespace"], ns, pods)
                for t in targets:
                    pms = port_matches(r.get("ports"), t) if d == "Ingress" \
                        else port_matches_egress(r.get("ports"))
                    for tip in t["ips"]:
                        f = fam(tip)
                        for pm in pms:
                            if ps is None:
                                total += 1
                                if keep or total <= a.max_rules:
                                    out.append(f"{f} {me} {tip} {pm} {verdict}")
                                continue
                            for peer in ps:
                                if peer[0] == "pod":
                                    for pip in peer[1]["ips"]:
                                        if fam(pip) != f:
                                            continue
                                        total += 1
                                        if keep or total <= a.max_rules:
                                            out.append(f"{f} {me} {tip} {f} {other} {pip} {pm} {verdict}")
                                elif fam(peer[1]) == f:
                                    total += 1
                                    if keep or total <= a.max_rules:
                                        exc = "".join(f" {f} {other} != {e}" for e in peer[2])
                                        out.append(f"{f} {me} {tip} {f} {other} {peer[1]}{exc} {pm} {verdict}")
    w = sys.stdout.write
    w("table inet bhlinear {}\ndelete table inet bhlinear\ntable inet bhlinear {\n")
    w("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
    w("\t\tct state established,related accept\n\t\tjump egress\n\t\tjump ingress\n\t}\n")
    for name, rules, iso, me in (("egress", egress, iso_out, "saddr"),
                                 ("ingress", ingress, iso_in, "daddr")):
        w(f"\tchain {name} {{\n")
        for r in rules:
            w(f"\t\t{' '.join(r.split())}\n")
        seen = set()
        for t in iso:
            for tip in t["ips"]:
                if tip not in seen:
                    seen.add(tip)
                    w(f"\t\t{fam(tip)} {me} {tip} drop\n")
        w("\t}\n")
    w("}\n")
    print(f"linear_ruleset.py: {total} rules for {len(local)} local pods; emitted "
          f"{len(ingress)} ingress and {len(egress)} egress rules", file=sys.stderr)


def port_matches_egress(ports):
    # Egress named ports resolve on the peer; a cost baseline takes any
    # port of that protocol for them.
    if not ports:
        return [""]
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP").lower()
        port = p.get("port")
        if port is None or isinstance(port, str):
            out.append(f"meta l4proto {proto}")
        elif p.get("endPort"):
            out.append(f"{proto} dport {port}-{p['endPort']}")
        else:
            out.append(f"{proto} dport {port}")
    return out


if __name__ == "__main__":
    main()
