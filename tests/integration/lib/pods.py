#!/usr/bin/env python3
"""Prints "ns/pod IPv4 IPv6" ("-" for a missing family) for every pod in
Kubernetes JSON files (a List as `kubectl get -o json` prints it, or single
Pod objects) or a model file (tests/data/netpol-cases/model.json).  Used by
topology.sh to build one network namespace per pod."""
import ipaddress
import json
import sys


def pod_ips(ips):
    v4 = v6 = "-"
    for ip in ips:
        if not ip:
            continue
        a = ipaddress.ip_address(ip)
        if a.version == 4 and v4 == "-":
            v4 = str(a)
        elif a.version == 6 and v6 == "-":
            v6 = str(a)
    return v4, v6


def from_k8s(obj, out):
    if obj.get("kind", "").endswith("List") or "items" in obj:
        for it in obj.get("items", []):
            from_k8s(it, out)
        return
    if obj.get("kind") != "Pod":
        return
    st = obj.get("status", {})
    if obj.get("spec", {}).get("hostNetwork"):
        return
    ips = [p.get("ip") for p in st.get("podIPs", [])] or [st.get("podIP")]
    md = obj["metadata"]
    out.append((f'{md.get("namespace", "default")}/{md["name"]}',) + pod_ips(ips))


def from_model(obj, out):
    """A model file: pods as objects with namespace/name and ip/ips/podIP(s),
    either in a "pods" list or nested under namespaces."""
    def walk(o, ns=None):
        if isinstance(o, list):
            for x in o:
                walk(x, ns)
        elif isinstance(o, dict):
            if "name" in o and any(k in o for k in ("ip", "ips", "podIP", "podIPs", "ipv4", "ipv6")):
                ips = []
                for k in ("ips", "podIPs"):
                    ips += [x if isinstance(x, str) else x.get("ip") for x in o.get(k, [])]
                for k in ("ip", "podIP", "ipv4", "ipv6"):
                    if o.get(k):
                        ips.append(o[k])
                out.append((f'{o.get("namespace", ns)}/{o["name"]}',) + pod_ips(ips))
                return
            for k, v in o.items():
                walk(v, o.get("name") if "pods" in o else ns)
    walk(obj)


def main():
    out = []
    for path in sys.argv[1:]:
        with open(path) as f:
            obj = json.load(f)
        if isinstance(obj, dict) and ("kind" in obj or "items" in obj):
            from_k8s(obj, out)
        else:
            from_model(obj, out)
    if not out:
        sys.exit(f"pods.py: no pods with addresses in {' '.join(sys.argv[1:])}")
    seen = set()
    for pod in out:
        if pod[0] not in seen:
            seen.add(pod[0])
            print(" ".join(pod))


if __name__ == "__main__":
    main()
