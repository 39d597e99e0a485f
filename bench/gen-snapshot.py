#!/usr/bin/env python3
"""Generate a realistic, deterministic Bulkhead snapshot for benchmarks.

    bench/gen-snapshot.py --pods 10000 --policies 1000 --namespaces 50 \
        --nodes 20 --seed 1 [--ipv6] > snap.json

Prints a Kubernetes List (what `kubectl get namespaces,nodes,pods,
networkpolicies -A -o json` prints): Namespaces with labels, Nodes with
InternalIPs, Deployment-owned Pods (ReplicaSet owner, pod-template-hash,
app/tier labels, named container ports, unique IPs, nodeName spread over
node-1..node-N), with --hostnet also one host-network pod per node, and a mix of ingress and egress NetworkPolicies with
podSelector, namespaceSelector, ipBlock (with except), ports and endPort.
The same arguments always print the same bytes.  Python 3 stdlib only.
"""

import argparse
import hashlib
import ipaddress
import json
import random
import time
import sys

TIERS = ["frontend", "backend", "db", "cache", "worker", "gateway"]
TEAMS = ["payments", "search", "identity", "catalog", "ops", "data"]
ENVS = ["prod", "staging", "dev"]
# (name, port, protocol) of the containers of each tier.
TIER_PORTS = {
    "frontend": [("http", 8080, "TCP"), ("metrics", 9090, "TCP")],
    "backend": [("grpc", 9000, "TCP"), ("http", 8080, "TCP"), ("metrics", 9090, "TCP")],
    "db": [("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")],
    "cache": [("redis", 6379, "TCP")],
    "worker": [("metrics", 9090, "TCP"), ("statsd", 8125, "UDP")],
    "gateway": [("https", 8443, "TCP"), ("dns", 53, "UDP"), ("sctp-sig", 3868, "SCTP")],
}
CREATED = 1_790_000_000  # 2026-09-20T..., a fixed instant


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def uid(*parts):
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def suffix(rng, n):
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def pod_ipv4(i):
    # 10.64.0.0/10 holds 4M addresses; skip .0 and .255 for realism.
    base = int(ipaddress.IPv4Address("10.64.0.0"))
    return str(ipaddress.IPv4Address(base + (i // 254) * 256 + (i % 254) + 1))


def pod_ipv6(i):
    base = int(ipaddress.IPv6Address("fd00:10:64::"))
    return str(ipaddress.IPv6Address(base + i + 1))


def namespaces(args, rng):
    out = []
    for n in range(args.namespaces):
        name = f"ns-{n:03d}"
        labels = {
            "kubernetes.io/metadata.name": name,
            "team": TEAMS[n % len(TEAMS)],
            "env": ENVS[n % len(ENVS)],
        }
        if n % 5 == 0:
            labels["monitoring"] = "enabled"
        out.append({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": uid("ns", name),
                "labels": labels,
                "creationTimestamp": rfc3339(CREATED),
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })
    return out


def nodes(args):
    out = []
    for n in range(1, args.nodes + 1):
        addrs = [{"type": "InternalIP", "address": f"10.0.{n // 250}.{n % 250 + 1}"},
                 {"type": "Hostname", "address": f"node-{n}"}]
        if args.ipv6:
            addrs.insert(1, {"type": "InternalIP", "address": f"fd00:10::{n:x}"})
        out.append({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"node-{n}",
                "uid": uid("node", str(n)),
                "labels": {"kubernetes.io/hostname": f"node-{n}",
                           "topology.kubernetes.io/zone": f"zone-{n % 3}"},
                "creationTimestamp": rfc3339(CREATED),
            },
            "status": {"addresses": addrs},
        })
    return out


def deployments(args, rng):
    """Deployments per namespace: (ns, name, tier, replicas)."""
    deps = []
    remaining = args.pods
    per_ns = max(1, args.pods // args.namespaces)
    for n in range(args.namespaces):
        ns = f"ns-{n:03d}"
        budget = per_ns if n < args.namespaces - 1 else remaining
        budget = min(budget, remaining)
        k = 0
        while budget > 0:
            tier = TIERS[(n + k) % len(TIERS)]
            replicas = min(budget, rng.choice([1, 2, 3, 3, 5, 8, 12]))
            deps.append((ns, f"{tier}-{k}", tier, replicas))
            budget -= replicas
            remaining -= replicas
            k += 1
    return deps


def pods(args, rng, deps):
    out = []
    i = 0
    for ns, dep, tier, replicas in deps:
        rs_hash = suffix(rng, 10)
        for _ in range(replicas):
            name = f"{dep}-{rs_hash}-{suffix(rng, 5)}"
            ips = [pod_ipv4(i)]
            if args.ipv6:
                ips.append(pod_ipv6(i))
            node_n = rng.randrange(args.nodes) + 1
            node = f"node-{node_n}"
            ports = [{"name": pn, "containerPort": pp, "protocol": proto}
                     for pn, pp, proto in TIER_PORTS[tier]]
            out.append({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": uid("pod", ns, name),
                    "labels": {
                        "app": dep,
                        "tier": tier,
                        "pod-template-hash": rs_hash,
                        "version": f"v{rng.randrange(3) + 1}",
                    },
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{dep}-{rs_hash}",
                        "uid": uid("rs", ns, dep, rs_hash),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }],
                    "creationTimestamp": rfc3339(CREATED + i),
                },
                "spec": {
                    "nodeName": node,
                    "containers": [{
                        "name": tier,
                        "image": f"registry.example/{tier}:1.{i % 7}",
                        "ports": ports,
                    }],
                },
                "status": {
                    "phase": "Running",
                    "hostIP": f"10.0.{node_n // 250}.{node_n % 250 + 1}",
                    "podIP": ips[0],
                    "podIPs": [{"ip": ip} for ip in ips],
                },
            })
            i += 1
    return out


def port_entry(rng, tier):
    choice = rng.randrange(5)
    pn, pp, proto = rng.choice(TIER_PORTS[tier])
    if choice == 0:
        return {"protocol": proto, "port": pn}  # named port
    if choice == 1:
        return {"protocol": "TCP", "port": 8000, "endPort": 8999}
    if choice == 2:
        return {"protocol": proto}  # every port of the protocol
    return {"protocol": proto, "port": pp}


def peer(rng, args, deps_by_ns, ns):
    kind = rng.randrange(8)
    if kind == 0:
        nets = ["192.168.0.0/16", "172.16.0.0/12", "203.0.113.0/24", "10.64.0.0/16"]
        if args.hostnet:
            nets.append("10.0.0.0/16")  # the nodes, hence host-network pods
        net = rng.choice(nets)
        p = {"ipBlock": {"cidr": net}}
        if net == "10.64.0.0/16":
            p["ipBlock"]["except"] = ["10.64.1.0/24"]
        elif net == "10.0.0.0/16":
            p["ipBlock"]["except"] = ["10.0.0.2/32"]
        elif net == "192.168.0.0/16":
            p["ipBlock"]["except"] = ["192.168.10.0/24", "192.168.20.0/24"]
        return p
    if kind == 1:
        return {"namespaceSelector": {"matchLabels": {"team": rng.choice(TEAMS)}}}
    if kind == 2:
        return {"namespaceSelector": {"matchLabels": {"monitoring": "enabled"}},
                "podSelector": {"matchLabels": {"tier": rng.choice(TIERS)}}}
    if kind == 3:
        return {"namespaceSelector": {"matchExpressions": [
            {"key": "env", "operator": "In", "values": rng.sample(ENVS, 2)}]}}
    if kind == 4:
        return {"podSelector": {"matchExpressions": [
            {"key": "tier", "operator": "NotIn", "values": ["db"]}]}}
    if kind == 5:
        return {"podSelector": {}}
    other = rng.choice(deps_by_ns.get(ns) or [("", "x", "frontend", 1)])
    return {"podSelector": {"matchLabels": {"app": other[1]}}}


def rule(rng, args, deps_by_ns, ns, tier):
    r = {}
    if rng.randrange(6):
        r["ports"] = [port_entry(rng, tier) for _ in range(rng.randrange(1, 3))]
    if rng.randrange(8):
        key = "from"
        r[key] = [peer(rng, args, deps_by_ns, ns) for _ in range(rng.randrange(1, 4))]
    return r


def policies(args, rng, deps):
    deps_by_ns = {}
    for d in deps:
        deps_by_ns.setdefault(d[0], []).append(d)
    out = []
    for k in range(args.policies):
        n = k % args.namespaces
        ns = f"ns-{n:03d}"
        nsdeps = deps_by_ns.get(ns) or [(ns, "none", "frontend", 0)]
        _, dep, tier, _ = rng.choice(nsdeps)
        kind = rng.randrange(10)
        spec = {}
        if kind == 0:
            name = f"default-deny-{k}"
            spec["podSelector"] = {}
            spec["policyTypes"] = ["Ingress"]
        elif kind == 1:
            name = f"deny-egress-{k}"
            spec["podSelector"] = {"matchLabels": {"tier": tier}}
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"ports": [{"protocol": "UDP", "port": 53},
                                         {"protocol": "TCP", "port": 53}]}]
        elif kind in (2, 3):
            name = f"{dep}-egress-{k}"
            spec["podSelector"] = {"matchLabels": {"app": dep}}
            spec["policyTypes"] = ["Ingress", "Egress"]
            spec["ingress"] = [rule(rng, args, deps_by_ns, ns, tier)]
            eg = rule(rng, args, deps_by_ns, ns, tier)
            if "from" in eg:
                eg["to"] = eg.pop("from")
            spec["egress"] = [eg]
        else:
            name = f"{dep}-ingress-{k}"
            if rng.randrange(3):
                spec["podSelector"] = {"matchLabels": {"app": dep}}
            else:
                spec["podSelector"] = {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": [tier]}]}
            spec["ingress"] = [rule(rng, args, deps_by_ns, ns, tier)
                               for _ in range(rng.randrange(1, 4))]
        out.append({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": uid("netpol", ns, name),
                "creationTimestamp": rfc3339(CREATED),
            },
            "spec": spec,
        })
    return out


def hostnet_pods(args):
    """One host-network node-exporter per node (a DaemonSet), in kube-system."""
    out = [{
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "kube-system", "uid": uid("ns", "kube-system"),
                     "labels": {"kubernetes.io/metadata.name": "kube-system",
                                "monitoring": "enabled"}},
    }]
    for n in range(1, args.nodes + 1):
        ip = f"10.0.{n // 250}.{n % 250 + 1}"
        name = f"node-exporter-{hashlib.sha1(str(n).encode()).hexdigest()[:5]}"
        out.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": "kube-system",
                "uid": uid("pod", "kube-system", name),
                "labels": {"app": "node-exporter", "tier": "worker",
                           "controller-revision-hash": "5d8f7c9b6"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                     "name": "node-exporter", "controller": True,
                                     "uid": uid("ds", "node-exporter")}],
                "creationTimestamp": rfc3339(CREATED),
            },
            "spec": {
                "nodeName": f"node-{n}",
                "hostNetwork": True,
                "containers": [{"name": "node-exporter",
                                "image": "registry.example/node-exporter:1.8",
                                "ports": [{"name": "metrics", "containerPort": 9100,
                                           "protocol": "TCP"}]}],
            },
            "status": {"phase": "Running", "hostIP": ip, "podIP": ip,
                       "podIPs": [{"ip": ip}]},
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ipv6", action="store_true", help="dual-stack pods and nodes")
    ap.add_argument("--hostnet", action="store_true",
                    help="add a host-network pod per node (kube-system/node-exporter-*)")
    args = ap.parse_args()
    if args.namespaces < 1 or args.nodes < 1 or args.pods < 0 or args.policies < 0:
        ap.error("--namespaces and --nodes must be >= 1, counts >= 0")
    if args.pods > 4_000_000:
        ap.error("--pods: at most 4000000 (10.64.0.0/10)")

    rng = random.Random(args.seed)
    deps = deployments(args, rng)
    items = namespaces(args, rng) + nodes(args) + pods(args, rng, deps) + \
        policies(args, rng, deps)
    if args.hostnet:
        items += hostnet_pods(args)
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
           "items": items}
    json.dump(doc, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
