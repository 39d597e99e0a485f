#!/usr/bin/env python3
"""Random NetworkPolicy sets over the x/y/z model (tests/data/netpol-cases/
model.json) for the differential test.  Deterministic per seed:

    gen_policies.py SEED [MODEL] > policies.json

Prints a Kubernetes List of 1..4 NetworkPolicies: random targets (labels,
matchExpressions In/NotIn/Exists/DoesNotExist, empty), both directions with
and without policyTypes, peers by podSelector, namespaceSelector (both,
either, empty), ipBlocks over the pod addresses with except (IPv4 and
IPv6), ports by number, name, endPort range and protocol, empty rules and
empty peer lists."""
import ipaddress
import json
import random
import sys

NS = ["x", "y", "z"]
PODS = ["a", "b", "c"]
PROTOS = ["TCP", "TCP", "UDP", "UDP", "SCTP"]


def load_ips(model):
    v4, v6 = [], []
    for it in json.load(open(model))["items"]:
        if it.get("kind") != "Pod":
            continue
        for p in it["status"].get("podIPs", []):
            a = ipaddress.ip_address(p["ip"])
            (v4 if a.version == 4 else v6).append(a)
    return v4, v6


def selector(r, key, values, allow_empty=True):
    k = r.randrange(6 if allow_empty else 5)
    if k == 0:
        return {"matchLabels": {key: r.choice(values)}}
    if k == 1:
        return {"matchExpressions": [{"key": key, "operator": "In",
                                      "values": r.sample(values, r.randint(1, 2))}]}
    if k == 2:
        return {"matchExpressions": [{"key": key, "operator": "NotIn",
                                      "values": r.sample(values, r.randint(1, 2))}]}
    if k == 3:
        return {"matchExpressions": [{"key": r.choice([key, "missing"]),
                                      "operator": r.choice(["Exists", "DoesNotExist"])}]}
    if k == 4:
        return {"matchLabels": {key: r.choice(values)},
                "matchExpressions": [{"key": key, "operator": "NotIn",
                                      "values": [r.choice(values)]}]}
    return {}


def ipblock(r, v4, v6):
    ips = v4 if r.random() < 0.75 else v6
    host = r.choice(ips)
    bits = 32 if host.version == 4 else 128
    kind = r.randrange(3)
    if kind == 0:
        return {"cidr": f"{host}/{bits}"}
    # A prefix holding a namespace (or all pods), minus one pod or one ns.
    plen = r.choice([16, 24]) if host.version == 4 else r.choice([48, 64])
    net = ipaddress.ip_network(f"{host}/{plen}", strict=False)
    blk = {"cidr": str(net)}
    if kind == 2:
        inside = [i for i in ips if i in net and i != host] or [host]
        ex = r.choice(inside)
        blk["except"] = [f"{ex}/{bits}"]
    return blk


def peer(r, v4, v6):
    k = r.randrange(5)
    if k == 0:
        return {"podSelector": selector(r, "pod", PODS)}
    if k == 1:
        return {"namespaceSelector": selector(r, "ns", NS)}
    if k == 2:
        return {"namespaceSelector": selector(r, "ns", NS),
                "podSelector": selector(r, "pod", PODS)}
    if k == 3:
        return {"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": r.choice(NS)}}}
    return {"ipBlock": ipblock(r, v4, v6)}


def port(r):
    k = r.randrange(5)
    p = {}
    if r.random() < 0.8:
        p["protocol"] = r.choice(PROTOS)
    if k == 0:
        p["port"] = r.choice([80, 81])
    elif k == 1:
        proto = p.get("protocol", "TCP")
        p["port"] = f"serve-{r.choice([80, 81])}-{proto.lower()}"
    elif k == 2:
        lo = r.choice([79, 80, 81])
        p["port"] = lo
        p["endPort"] = lo + r.choice([0, 1, 2])
    elif k == 3:
        p["port"] = r.choice([80, 81, 82, 8080])
    # k == 4: protocol only (every port)
    return p


def rule(r, v4, v6, peer_key):
    out = {}
    k = r.randrange(10)
    if k == 0:
        return out  # an empty rule: everything
    if k == 1:
        out[peer_key] = []
    elif k < 8:
        out[peer_key] = [peer(r, v4, v6) for _ in range(r.randint(1, 2))]
    if r.random() < 0.6:
        out["ports"] = [port(r) for _ in range(r.randint(1, 2))]
    return out


def policy(r, i, v4, v6):
    spec = {"podSelector": selector(r, "pod", PODS)}
    dirs = r.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
    if "Ingress" in dirs:
        spec["ingress"] = [rule(r, v4, v6, "from") for _ in range(r.randint(0, 2))]
    if "Egress" in dirs:
        spec["egress"] = [rule(r, v4, v6, "to") for _ in range(r.randint(0, 2))]
    # policyTypes: given, or left out (then Ingress always, Egress when
    # there are egress rules).
    if r.random() < 0.7 or "Egress" in dirs and not spec.get("egress"):
        spec["policyTypes"] = dirs
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"rand-{i}", "namespace": r.choice(NS)},
            "spec": spec}


def main():
    seed = int(sys.argv[1])
    model = sys.argv[2] if len(sys.argv) > 2 else "tests/data/netpol-cases/model.json"
    v4, v6 = load_ips(model)
    r = random.Random(seed)
    items = [policy(r, i, v4, v6) for i in range(r.randint(1, 4))]
    json.dump({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
               "description": f"gen_policies.py seed {seed}", "items": items},
              sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
