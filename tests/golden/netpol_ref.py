#!/usr/bin/env python3
"""A small, independent NetworkPolicy evaluator, for differential tests.

    netpol_ref.py --compare SNAPSHOT CHECK_JSON [PROPOSAL preview|enforce]

reads a snapshot (a List of Namespaces, Pods and NetworkPolicies) and the
output of `bulkhead check -o json` for it, and reports every cell where the
two disagree.  With PROPOSAL (check's --proposal FILE and its
--proposal-mode), its policies are a proposal next to the snapshot's
(docs/enforcer.md, "Two origins of policy"): a pod isolated by a snapshot
policy or an enforced proposal policy is decided by those alone; else a
previewed proposal decides, and what it denies passes (check's cells are
the kernel's verdicts).  It shares no code with the C engine: it follows the
Kubernetes API (policyTypes defaulting as in
pkg/apis/networking/v1/defaults.go) and documentation directly, over the
IPv4 pod addresses, plus Bulkhead's documented choices (docs/engine.md):
host-network pods are never isolated nor selected, match ipBlock by their
address, never resolve named ports, and always reach pods of their own
node.  Python 3 stdlib only.
"""
import ipaddress
import json
import sys

NS_NAME = "kubernetes.io/metadata.name"


def sel_matches(sel, labels):
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and (k not in labels or labels[k] not in vals):
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def policy_types(spec):
    types = spec.get("policyTypes") or []
    if not types:
        types = ["Ingress"]
        if len(spec.get("egress") or []) > 0:
            types.append("Egress")
    return types


class Cluster:
    def __init__(self, items, proposal=(), mode=None):
        self.ns = {}
        self.pods = {}
        self.pols = []  # (namespace, spec, enforced)
        for o in items:
            md = o.get("metadata", {})
            if o["kind"] == "Namespace":
                self.ns[md["name"]] = md.get("labels") or {}
            elif o["kind"] == "Pod":
                st = o.get("status", {})
                ips = [p["ip"] for p in st.get("podIPs") or []] or [st.get("podIP")]
                v4 = [ip for ip in ips if ip and ipaddress.ip_address(ip).version == 4]
                ports = []
                for c in o.get("spec", {}).get("containers") or []:
                    for p in c.get("ports") or []:
                        ports.append((p.get("name"), p.get("protocol", "TCP"), p["containerPort"]))
                spec = o.get("spec", {})
                self.pods[f'{md["namespace"]}/{md["name"]}'] = {
                    "ns": md["namespace"], "labels": md.get("labels") or {},
                    "ip": ipaddress.ip_address(v4[0]) if v4 else None, "ports": ports,
                    "host": bool(spec.get("hostNetwork")), "node": spec.get("nodeName")}
            elif o["kind"] == "NetworkPolicy":
                self.pols.append((md["namespace"], o["spec"], True))
        for o in proposal:
            if o["kind"] == "NetworkPolicy":
                self.pols.append((o["metadata"]["namespace"], o["spec"], mode == "enforce"))

    def ns_labels(self, ns):
        return self.ns.get(ns, {NS_NAME: ns})

    def peer_matches(self, pol_ns, peer, pod):
        if "ipBlock" in peer:
            if pod["ip"] is None:
                return False
            b = peer["ipBlock"]
            net = ipaddress.ip_network(b["cidr"], strict=False)
            if pod["ip"].version != net.version or pod["ip"] not in net:
                return False
            return not any(pod["ip"] in ipaddress.ip_network(x, strict=False)
                           for x in b.get("except") or []
                           if ipaddress.ip_network(x, strict=False).version == pod["ip"].version)
        ps, nss = peer.get("podSelector"), peer.get("namespaceSelector")
        if (ps is None and nss is None) or pod["host"]:
            return False
        if nss is None:
            if pod["ns"] != pol_ns:
                return False
        elif not sel_matches(nss, self.ns_labels(pod["ns"])):
            return False
        return ps is None or sel_matches(ps, pod["labels"])

    @staticmethod
    def port_matches(entry, dst, proto, port):
        if entry.get("protocol", "TCP") != proto:
            return False
        p = entry.get("port")
        if p is None:
            return True
        if isinstance(p, str):
            if dst["host"]:
                return False
            return any(n == p and pr == proto and num == port for n, pr, num in dst["ports"])
        end = entry.get("endPort")
        return p <= port <= end if end else p == port

    def direction(self, self_pod, peer_pod, dst, key, peers_key, proto, port):
        if self_pod["host"]:
            return True
        if key == "ingress" and peer_pod["host"] and peer_pod["node"] == self_pod["node"]:
            return True
        selecting = [(pol_ns, spec, enforced) for pol_ns, spec, enforced in self.pols
                     if pol_ns == self_pod["ns"] and key.capitalize() in policy_types(spec)
                     and sel_matches(spec.get("podSelector") or {}, self_pod["labels"])]
        if not selecting:
            return True
        if not any(enforced for _, _, enforced in selecting):
            return True  # a previewed proposal alone: what it denies passes
        for pol_ns, spec, enforced in selecting:
            if not enforced:
                continue
            for rule in spec.get(key) or []:
                ports = rule.get("ports") or []
                peers = rule.get(peers_key) or []
                if ports and not any(self.port_matches(e, dst, proto, port) for e in ports):
                    continue
                if not peers or any(self.peer_matches(pol_ns, p, peer_pod) for p in peers):
                    return True
        return False

    def allowed(self, src, dst, proto, port):
        return (self.direction(src, dst, dst, "egress", "to", proto, port) and
                self.direction(dst, src, dst, "ingress", "from", proto, port))


def main(argv):
    if len(argv) not in (3, 5) or argv[0] != "--compare":
        print(__doc__, file=sys.stderr)
        return 2
    proposal, mode = [], None
    if len(argv) == 5:
        with open(argv[3]) as f:
            proposal, mode = json.load(f)["items"], argv[4]
    with open(argv[1]) as f:
        c = Cluster(json.load(f)["items"], proposal, mode)
    bad = 0
    cells = 0
    with open(argv[2]) as f:
        for line in f:
            o = json.loads(line)
            for a, row in o["matrix"].items():
                for b, got in row.items():
                    want = c.allowed(c.pods[a], c.pods[b], o["protocol"], o["port"])
                    cells += 1
                    if want != got:
                        bad += 1
                        if bad <= 10:
                            print(f'{argv[1]}: {o["protocol"]}/{o["port"]} {a} -> {b}: '
                                  f'reference says {want}, check says {got}')
    print(f"{cells} cells, {bad} differ")
    return 1 if bad or not cells else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
