#!/usr/bin/python3
"""Writes the realistic application of tests/data/propose/: snapshot.json
(namespaces, nodes, pods as `kubectl get -o json` prints them) and the flows
two nodes learned (flows-node-1.json, flows-node-2.json).  Deterministic;
the files are checked in, rerun after changing this script.

Application (namespaces shop, data, kube-system):
  frontend (Deployment, 2)  <- 203.0.113.50 TCP 8080 (load balancer)
  frontend -> api (Deployment, 3) TCP 8080 "http"
  worker (Deployment, 2) -> api TCP 9000-9002 (gRPC shards, no names)
  api -> data/postgres (StatefulSet, 2) TCP 5432 "postgres"
  api, worker -> data/redis (Deployment, 1) TCP 6379
  report (CronJob, 1 pod) -> postgres TCP 5432
  postgres-1 -> postgres-0 TCP 5432 (replication)
  worker -> 198.51.100.20 TCP 443 (an external API)
  api -> node-2 TCP 9100 (host-network node-exporter)
  frontend, api, worker -> kube-system/coredns UDP 53; report resolves
  through the DNS Service address 10.96.0.10 (NAT not seen)
  node-1 -> 198.51.100.99 UDP 123 (no pod at either end)
  debug (bare pod): seen nowhere
"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))

def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}

def node(name, ip):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}]}}

def pod(ns_, name, ip, labels, owner=None, ports=(), node_="node-1", host=False):
    md = {"name": name, "namespace": ns_, "labels": labels,
          "uid": "uid-" + ns_ + "-" + name, "creationTimestamp": "2026-11-20T10:00:00Z"}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                  "uid": "uid-" + owner[1], "controller": True}]
    cports = []
    for p in ports:
        d = {"containerPort": p[0], "protocol": p[1]}
        if len(p) > 2:
            d["name"] = p[2]
        cports.append(d)
    spec = {"nodeName": node_, "containers": [{"name": "main", "image": "x", "ports": cports}]}
    if host:
        spec["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}

FE_RS, API_RS, W_RS, R_RS, DNS_RS = "6b7f8c9d5", "5d4c8b7f9", "7c9d8f6b4", "8f6d5c4b7", "668d6bf9bc"
pods = []
def deploy(ns_, name, h, n, ip_base, labels, ports=()):
    out = []
    for i in range(n):
        pn = "%s-%s-%s" % (name, h, "abcdefgh"[i] * 5)
        node_ = "node-%d" % (1 + i % 2)
        ip = "%s.%d" % (ip_base[node_], 10 + i)
        lab = dict(labels, **{"pod-template-hash": h})
        pods.append(pod(ns_, pn, ip, lab, ("ReplicaSet", "%s-%s" % (name, h)), ports, node_))
        out.append((ns_, pn, ip, lab, ("Deployment", name)))
    return out

shop = {"node-1": "10.1.1", "node-2": "10.1.2"}
data = {"node-1": "10.2.1", "node-2": "10.2.2"}
kube = {"node-1": "10.3.1", "node-2": "10.3.2"}
fe = deploy("shop", "frontend", FE_RS, 2, shop, {"app": "frontend", "tier": "web"},
            [(8080, "TCP", "http")])
api = deploy("shop", "api", API_RS, 3, {"node-1": "10.1.1", "node-2": "10.1.2"},
             {"app": "api", "tier": "backend"},
             [(8080, "TCP", "http"), (9000, "TCP"), (9001, "TCP"), (9002, "TCP")])
# api IPs must not collide with frontend's: shift them
for i, p in enumerate([p for p in pods if p["metadata"]["name"].startswith("api-")]):
    ip = "10.1.%d.%d" % (1 + i % 2, 20 + i)
    p["status"]["podIP"] = ip
    p["status"]["podIPs"] = [{"ip": ip}]
    api[i] = api[i][:2] + (ip,) + api[i][3:]
worker = deploy("shop", "worker", W_RS, 2, {"node-1": "10.1.1", "node-2": "10.1.2"},
                {"app": "worker", "tier": "backend"})
for i, p in enumerate([p for p in pods if p["metadata"]["name"].startswith("worker-")]):
    ip = "10.1.%d.%d" % (1 + i % 2, 30 + i)
    p["status"]["podIP"] = ip
    p["status"]["podIPs"] = [{"ip": ip}]
    worker[i] = worker[i][:2] + (ip,) + worker[i][3:]
redis = deploy("data", "redis", R_RS, 1, data, {"app": "redis"}, [(6379, "TCP")])
dns = deploy("kube-system", "coredns", DNS_RS, 2, kube, {"k8s-app": "kube-dns"},
             [(53, "UDP", "dns"), (53, "TCP", "dns-tcp"), (9153, "TCP", "metrics")])

pg = []
for i in range(2):
    name = "postgres-%d" % i
    lab = {"app": "postgres", "controller-revision-hash": "postgres-5f7b9c",
           "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": str(i)}
    ip = "10.2.%d.%d" % (1 + i, 40 + i)
    pods.append(pod("data", name, ip, lab, ("StatefulSet", "postgres"),
                    [(5432, "TCP", "postgres")], "node-%d" % (1 + i)))
    pg.append(("data", name, ip, lab, ("StatefulSet", "postgres")))

job = "report-29381760"
rlab = {"app": "report", "job-name": job, "batch.kubernetes.io/job-name": job,
        "controller-uid": "4b1f", "batch.kubernetes.io/controller-uid": "4b1f"}
pods.append(pod("shop", job + "-x7k2p", "10.1.1.50", rlab, ("Job", job)))
report = [("shop", job + "-x7k2p", "10.1.1.50", rlab, ("CronJob", "report"))]

pods.append(pod("shop", "debug", "10.1.2.60", {"app": "debug"}))
exporter = []
for i in range(2):
    nn = "node-%d" % (1 + i)
    ip = "10.0.0.%d" % (11 + i)
    name = "node-exporter-" + "pq"[i] * 5
    lab = {"app": "node-exporter", "controller-revision-hash": "6c8d", "pod-template-generation": "1"}
    pods.append(pod("kube-system", name, ip, lab, ("DaemonSet", "node-exporter"),
                    [(9100, "TCP", "metrics")], nn, host=True))

snapshot = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [ns("shop"), ns("data"), ns("kube-system"),
                      node("node-1", "10.0.0.11"), node("node-2", "10.0.0.12")] + pods}

T0 = "2026-11-22T06:00:00Z"
def ts(minute):
    return "2026-11-22T%02d:%02d:00Z" % (6 + minute // 60, minute % 60)

def peer(p):
    if p is None:
        return None
    if isinstance(p, str):
        return {"ip": p, "kind": "node" if p.startswith("10.0.0.") else "external"}
    ns_, name, ip, lab, wl = p
    return {"ip": ip, "kind": "pod", "namespace": ns_, "name": name,
            "workload": {"kind": wl[0], "name": wl[1]}, "labels": lab}

flows = {"node-1": [], "node-2": []}
def flow(nodes, src, dst, proto, port, conns, t0, t1):
    for n in nodes:
        flows[n].append({"src": peer(src), "dst": peer(dst), "protocol": proto, "port": port,
                         "packets": conns * 10, "bytes": conns * 1500, "connections": conns,
                         "first_seen": ts(t0), "last_seen": ts(t1),
                         "seen_by": ["conntrack"] if n == "node-1" else ["pcap", "conntrack"]})

def node_of(p):
    return "node-1" if isinstance(p, str) or p[2].split(".")[2] == "1" else "node-2"

def both(src, dst):
    return sorted({node_of(src), node_of(dst)})

for i, f in enumerate(fe):
    for j, a in enumerate(api):
        flow(both(f, a), f, a, "TCP", 8080, 5 + i + j, 1 + j, 50 + i)
# a frontend pod replaced since (a rollout): known to the flow, not the snapshot
old_fe = ("shop", "frontend-59c6d8f7b4-zzzzz", "10.1.1.99",
          {"app": "frontend", "tier": "web", "pod-template-hash": "59c6d8f7b4"},
          ("Deployment", "frontend"))
flow(["node-1"], old_fe, api[0], "TCP", 8080, 2, 0, 5)
for i, w in enumerate(worker):
    for port in (9000, 9001, 9002):
        flow(both(w, api[i]), w, api[i], "TCP", port, 3, 2, 40)
    flow(both(w, redis[0]), w, redis[0], "TCP", 6379, 7, 3, 41)
    flow([node_of(w)], w, "198.51.100.20", "TCP", 443, 4, 5, 45)
for a in api:
    for p in pg:
        flow(both(a, p), a, p, "TCP", 5432, 6, 4, 55)
    flow(both(a, redis[0]), a, redis[0], "TCP", 6379, 9, 4, 56)
flow(both(api[1], "10.0.0.12"), api[1], "10.0.0.12", "TCP", 9100, 1, 30, 30)
flow(both(report[0], pg[0]), report[0], pg[0], "TCP", 5432, 1, 60, 61)
flow(["node-1"], report[0], "10.96.0.10", "UDP", 53, 2, 60, 60)
flow(both(pg[1], pg[0]), pg[1], pg[0], "TCP", 5432, 1, 0, 59)
flow(["node-1"], "203.0.113.50", fe[0], "TCP", 8080, 30, 0, 59)
flow(["node-2"], "203.0.113.50", fe[1], "TCP", 8080, 28, 0, 59)
for i, c in enumerate(fe + api + worker):
    flow(both(c, dns[i % 2]), c, dns[i % 2], "UDP", 53, 12, 0, 58)
flow(["node-1"], "10.0.0.11", "198.51.100.99", "UDP", 123, 1, 0, 0)

def write(name, obj):
    with open(os.path.join(here, name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")

write("snapshot.json", snapshot)
for n in ("node-1", "node-2"):
    write("flows-%s.json" % n, {"apiVersion": "bulkhead.io/v1", "kind": "FlowList", "version": 1,
                               "node": n, "generated": "2026-11-22T07:05:00Z",
                               "stats": {"packets": 1000, "evicted": 0, "overruns": 0},
                               "flows": flows[n]})
