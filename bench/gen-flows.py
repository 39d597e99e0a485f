#!/usr/bin/python3
"""Generate a deterministic flows.json for the propose benchmark.

    bench/gen-flows.py SNAPSHOT.json --flows 200000 --seed 1 > flows.json

Reads a snapshot (bench/gen-snapshot.py), and writes that many distinct
flows (distinct src ip, dst ip, protocol, port) shaped like an application
graph: each workload talks to 4-10 other workloads (80% in its own
namespace), every replica to every replica on the ports the destination
declares; 5% of flows go to 64 external addresses (443) and 5% to the DNS
servers when some pod declares 53/UDP.  Peers carry kind, namespace, name and
workload as `bulkhead learn` writes them (labels left out to keep the file
small; propose takes labels from the snapshot).  Python 3 stdlib only.
"""
import argparse, json, random, sys

ap = argparse.ArgumentParser()
ap.add_argument("snapshot")
ap.add_argument("--flows", type=int, default=200000)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)
items = json.load(open(a.snapshot))["items"]
pods = [i for i in items if i["kind"] == "Pod" and i["status"].get("podIP")]
by_ns = {}
for p in pods:
    by_ns.setdefault(p["metadata"]["namespace"], []).append(p)

def ports(p):
    out = []
    for c in p["spec"].get("containers", []):
        for cp in c.get("ports", []):
            out.append((cp.get("protocol", "TCP"), cp["containerPort"]))
    return out

def wl(p):
    o = (p["metadata"].get("ownerReferences") or [{}])[0]
    name = o.get("name", p["metadata"]["name"])
    if o.get("kind") == "ReplicaSet":
        return {"kind": "Deployment", "name": name.rsplit("-", 1)[0]}
    return {"kind": o.get("kind", "Pod"), "name": name}

def peer(p):
    return {"ip": p["status"]["podIP"], "kind": "pod", "namespace": p["metadata"]["namespace"],
            "name": p["metadata"]["name"], "workload": wl(p)}

servers = [p for p in pods if ports(p)]
dns = [p for p in pods if ("UDP", 53) in ports(p)]
wls = {}
for p in pods:
    w = wl(p)
    wls.setdefault((p["metadata"]["namespace"], w["kind"], w["name"]), []).append(p)
wl_of = {p["metadata"]["name"] + "/" + p["metadata"]["namespace"]:
         (p["metadata"]["namespace"], wl(p)["kind"], wl(p)["name"]) for p in pods}
server_wls = [k for k, v in sorted(wls.items()) if any(ports(p) for p in v)]
by_ns_wl = {}
for k in server_wls:
    by_ns_wl.setdefault(k[0], []).append(k)
talks = {}
for k in sorted(wls):
    dsts = []
    for _ in range(rng.randint(4, 10)):
        ns = k[0] if rng.random() < 0.8 and by_ns_wl.get(k[0]) else rng.choice(sorted(by_ns_wl))
        dsts.append(rng.choice(by_ns_wl[ns]))
    talks[k] = dsts
externals = ["198.51.%d.%d" % (100 + i % 4, 1 + i) for i in range(64)]
seen, flows = set(), []
t = "2026-11-22T06:%02d:00Z"
while len(flows) < a.flows:
    src = rng.choice(pods)
    r = rng.random()
    if r < 0.05:
        dst = {"ip": rng.choice(externals), "kind": "external"}
        proto, port = "TCP", 443
    elif r < 0.10 and dns:
        d = rng.choice(dns)
        dst, proto, port = peer(d), "UDP", 53
    else:
        k = rng.choice(talks[wl_of[src["metadata"]["name"] + "/" + src["metadata"]["namespace"]]])
        d = rng.choice(wls[k])
        proto, port = rng.choice(ports(d))
        dst = peer(d)
    key = (src["status"]["podIP"], dst["ip"], proto, port)
    if key in seen:
        continue
    seen.add(key)
    m = rng.randrange(0, 50)
    flows.append({"src": peer(src), "dst": dst, "protocol": proto, "port": port,
                  "packets": 10, "bytes": 1000, "connections": 1,
                  "first_seen": t % m, "last_seen": t % (m + 5), "seen_by": ["conntrack"]})
json.dump({"apiVersion": "bulkhead.io/v1", "kind": "FlowList", "version": 1, "node": "bench",
           "generated": "2026-11-22T07:00:00Z",
           "stats": {"packets": 0, "evicted": 0, "overruns": 0}, "flows": flows},
          sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
