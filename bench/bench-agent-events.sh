#!/usr/bin/env bash
# bench-agent-events.sh BULKHEAD BENCH_NFT_EVENTS [EVENTS] [IDLE_EVENTS] [POLICY_EVENTS]:
# watch event to kernel latency of `bulkhead agent`.  The agent (root, in a
# network namespace of its own, deleted at exit) follows the test API server
# (tests/apiserver/apiserver.py) serving a 10,000-pod, 1,000-policy cluster
# (bench/gen-snapshot.py, 256 pods on node-1).  Once it is ready:
#   idle:  IDLE_EVENTS (default 20) creates of a local pod, one at a time,
#          0.5 s apart;
#   policy: POLICY_EVENTS (default 5) changes of one NetworkPolicy that
#          selects node-1's first pod (created, then modified), 4 s apart:
#          each gives it an ipBlock of its own (10.99.2I.0/24), so each is
#          a recompile of the cluster for the agent;
#   burst: EVENTS (default 1,000) creates of local pods in one go (one
#          put_many on the server: every event written at once).
# Each new pod is a copy of node-1's first pod (same labels, so the same
# policies select it) with an address of its own (10.64.200.0/21, odd last
# octet: no two adjacent, so no interval set merges them).  Latency of one
# event: from the server writing it to the agent's watch stream (the
# server's clock, --sent-log) to the first dump of the smallest set that
# holds the copied pod's address (ipBlock sets left out) in which the new address shows
# (BENCH_NFT_EVENTS polling that set about every millisecond; notifications
# would slow the kernel's full replaces several times over), both
# CLOCK_REALTIME on this machine.  Prints median, p99 and max of each.
# A policy change's latency ends at the nf_tables notification of its
# ipBlock's element (a second BENCH_NFT_EVENTS, subscribed only during
# that phase: no full replace then).  The loop's stall during the policy
# phase: tests/integration/loop_probe.py asks /healthz every 2 ms from the
# first change until 4 s after the last (the verdict-map refill
# included); its longest wait is the loop's longest turn, within a few ms.
#
# BH_BENCH_BASELINE=OTHER_BULKHEAD (e.g. a build of main): runs the whole
# benchmark BH_BENCH_RUNS times (default 3) for each binary, alternating
# (the baseline first), and prints the medians side by side.
set -euo pipefail
bulkhead=${1:?bulkhead binary}
watcher=${2:?bench_nft_events binary}
events=${3:-1000}
idle=${4:-20}
policies=${5:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-agent-events: needs root, skipping" >&2; exit 77; }
if [ -n "${BH_BENCH_BASELINE:-}" ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	for r in $(seq "${BH_BENCH_RUNS:-3}"); do
		for which in baseline branch; do
			b=$bulkhead
			[ "$which" = baseline ] && b=$BH_BENCH_BASELINE
			echo "--- run $r, $which ($b)"
			BH_BENCH_BASELINE= "$0" "$b" "$watcher" "$events" "$idle" "$policies" |
				tee "$out/$which-$r"
		done
	done
	python3 - "$out" <<'PY'
import glob, statistics, sys
runs = {"baseline": [], "branch": []}
for w in runs:
    for f in sorted(glob.glob("%s/%s-*" % (sys.argv[1], w))):
        for line in open(f):
            if line.startswith("# figures "):
                runs[w].append(dict((kv.split("=")[0], float(kv.split("=")[1]))
                                    for kv in line.split()[2:]))
names = [("idle_median", "pod create, one at a time: median ms"),
         ("burst_median", "pod creates, a burst: median ms"),
         ("policy_median", "policy change to kernel: median ms"),
         ("policy_max", "policy change to kernel: max ms"),
         ("policy_stall", "loop's longest stall during policy changes: ms")]
print("medians of %d runs each                              baseline     branch  branch/baseline"
      % len(runs["branch"]))
for k, label in names:
    b = [r[k] for r in runs["baseline"] if k in r]
    n = [r[k] for r in runs["branch"] if k in r]
    if not b or not n:
        continue
    mb, mn = statistics.median(b), statistics.median(n)
    print("%-50s %8.1f %10.1f %10.2f" % (label, mb, mn, mn / mb if mb else float("nan")))
PY
	exit 0
fi
tmp=$(mktemp -d)
ns=bh-events-$$
agent= api= watch= pwatch= probe=
cleanup() {
	for p in $agent $watch $pwatch $probe $api; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
	ip netns delete "$ns" 2> /dev/null
	[ -z "${BH_BENCH_KEEP:-}" ] || cp "$tmp/log" "$tmp/kernel" "$tmp/sent" "$BH_BENCH_KEEP/" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir "$tmp/api"
"$src/bench/gen-snapshot.py" --pods 10000 --policies 1000 --namespaces 50 --nodes 40 --seed 1 \
	> "$tmp/api/objects.json"
"$src/tests/apiserver/mkcerts.sh" "$tmp/certs" > /dev/null
port=$(ip netns exec "$ns" python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$src/tests/apiserver/kubeconfig.sh" "$tmp/kubeconfig" "$port"
# The control requests: idle-N (one pod each) and burst (EVENTS pods).
python3 - "$tmp" "$events" "$idle" "$policies" <<'PY'
import copy, json, sys
tmp, events, idle, policies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d = json.load(open(tmp + "/api/objects.json"))
local = [o for o in d["items"] if o["kind"] == "Pod" and o["spec"].get("nodeName") == "node-1"]
def pod(i, tag):
    p = copy.deepcopy(local[0])
    ip = "10.64.%d.%d" % (200 + i // 100, 2 * (i % 100) + 1)
    md = p["metadata"]
    md["name"] = "bench-%s-%d" % (tag, i)
    md.pop("uid", None)
    md.setdefault("annotations", {})["bench/sent-ns"] = "pending"
    p["status"]["podIP"] = ip
    p["status"]["podIPs"] = [{"ip": ip}]
    return p, ip
with open(tmp + "/ips", "w") as f:
    for i in range(idle):
        p, ip = pod(i, "idle")
        json.dump({"op": "put_many", "objects": [p]}, open("%s/idle-%d" % (tmp, i), "w"))
        f.write("%s/%s %s idle\n" % (p["metadata"]["namespace"], p["metadata"]["name"], ip))
    objs = []
    for i in range(idle, idle + events):
        p, ip = pod(i, "burst")
        objs.append(p)
        f.write("%s/%s %s burst\n" % (p["metadata"]["namespace"], p["metadata"]["name"], ip))
    json.dump({"op": "put_many", "objects": objs}, open(tmp + "/burst", "w"))
md = local[0]["metadata"]
for i in range(policies):
    pol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "bench-pol", "namespace": md["namespace"],
                        "annotations": {"bench/sent-ns": "pending"}},
           "spec": {"podSelector": {"matchLabels": {"app": md["labels"]["app"]}},
                    "ingress": [{"from": [{"ipBlock": {"cidr": "10.99.%d.0/24" % (2 * i)}}],
                                 "ports": [{"protocol": "TCP", "port": 7777}]}]}}
    json.dump({"op": "put", "object": pol}, open("%s/policy-%d" % (tmp, i), "w"))
open(tmp + "/polkey", "w").write("%s/bench-pol\n" % md["namespace"])
open(tmp + "/template", "w").write(local[0]["status"]["podIP"] + "\n")
PY
ip netns exec "$ns" /usr/bin/python3 "$src/tests/apiserver/apiserver.py" --dir "$tmp/api" \
	--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" --token-file "$tmp/certs/token" \
	--port-file "$tmp/port" --port "$port" --sent-log "$tmp/sent" 2> "$tmp/api.log" &
api=$!
for _ in $(seq 300); do [ -s "$tmp/port" ] && break; sleep 0.1; done
control() { ip netns exec "$ns" curl -s -k -X POST --data-binary "@$1" \
	"https://127.0.0.1:$port/_control" > /dev/null; }
sock=$tmp/agent.sock
ip netns exec "$ns" "$bulkhead" --log-level "${BH_BENCH_LOG_LEVEL:-notice}" agent --node node-1 --kubeconfig "$tmp/kubeconfig" \
	--state-dir "$tmp/state" --socket "$sock" --listen "" 2> "$tmp/log" &
agent=$!
t0=$(date +%s%N)
until [ "$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" \
	http://agent/readyz 2> /dev/null)" = 200 ]; do
	kill -0 "$agent" 2> /dev/null || { cat "$tmp/log"; exit 1; }
	[ $(($(date +%s%N) - t0)) -lt 120000000000 ] || { cat "$tmp/log"; exit 1; }
	sleep 0.1
done
sleep 3 # the first refill and timers
# The smallest set of the table that holds the template pod's address.
ip netns exec "$ns" nft -j list table inet bulkhead > "$tmp/table.json"
set=$(python3 - "$tmp/table.json" "$(cat "$tmp/template")" <<'PY'
import ipaddress, json, sys
ip = ipaddress.ip_address(sys.argv[2])
def holds(e):
    if isinstance(e, dict) and "elem" in e:
        e = e["elem"]["val"]
    if isinstance(e, str):
        return e == str(ip)
    if isinstance(e, dict) and "prefix" in e:
        return ip in ipaddress.ip_network("%s/%d" % (e["prefix"]["addr"], e["prefix"]["len"]))
    if isinstance(e, dict) and "range" in e:
        a, b = e["range"]
        return isinstance(a, str) and ipaddress.ip_address(a) <= ip <= ipaddress.ip_address(b)
    return False
best = None
for o in json.load(open(sys.argv[1]))["nftables"]:
    s = o.get("set")
    if (not s or s.get("type") != "ipv4_addr" or "cidr" in s["name"]
            or not any(holds(e) for e in s.get("elem", []))):
        continue
    if best is None or len(s["elem"]) < len(best["elem"]):
        best = s
print(best["name"] if best else "")
PY
)
[ -n "$set" ] || { echo "bench-agent-events: no set holds $(cat "$tmp/template")" >&2; exit 1; }
echo "watching set $set"
ip netns exec "$ns" "$watcher" 10.64.2 "$set" > "$tmp/kernel" &
watch=$!
until grep -q '^# ready' "$tmp/kernel" 2> /dev/null; do sleep 0.05; done
seen() { grep -c "^[0-9]" "$tmp/kernel" | tr -d ' '; }
# (every new address shows in several sets: wait for each address once)
addrs() { awk '/^[0-9]/ { print $2 }' "$tmp/kernel" | sort -u | wc -l | tr -d ' '; }
for i in $(seq 0 $((idle - 1))); do
	control "$tmp/idle-$i"
	sleep 0.5
done
for _ in $(seq 100); do [ "$(addrs)" -ge "$idle" ] && break; sleep 0.1; done
if [ "$policies" -gt 0 ]; then
	ip netns exec "$ns" "$watcher" 10.99. > "$tmp/pkernel" &
	pwatch=$!
	until grep -q '^# ready' "$tmp/pkernel" 2> /dev/null; do sleep 0.05; done
	python3 "$src/tests/integration/loop_probe.py" "$sock" "$tmp/probe" &
	probe=$!
	sleep 0.5
	for i in $(seq 0 $((policies - 1))); do
		control "$tmp/policy-$i"
		sleep 4
	done
	kill "$probe" "$pwatch"
	wait "$probe" 2> /dev/null || true
	wait "$pwatch" 2> /dev/null || true
	probe= pwatch=
fi
control "$tmp/burst"
for _ in $(seq 1200); do [ "$(addrs)" -ge $((idle + events)) ] && break; sleep 0.1; done
sleep 1
kill "$watch" 2> /dev/null
wait "$watch" 2> /dev/null || true
watch=
python3 - "$tmp" "$events" "$idle" "$policies" <<'PY'
import sys
tmp, events, idle, policies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sent = {}
polkey = open(tmp + "/polkey").read().strip()
polsent = []
for line in open(tmp + "/sent"):
    k, t = line.split()
    sent.setdefault(k, int(t))
    if k == polkey:
        polsent.append(int(t))
kernel = {}
for line in open(tmp + "/kernel"):
    if line.startswith("#"):
        continue
    t, ip = line.split()
    kernel.setdefault(ip, int(t))
groups = {"idle": [], "burst": []}
missing = {"idle": 0, "burst": 0}
for line in open(tmp + "/ips"):
    k, ip, g = line.split()
    if k in sent and ip in kernel:
        groups[g].append((kernel[ip] - sent[k]) / 1e6)
    else:
        missing[g] += 1
fig = {}
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
for g, n in (("idle", idle), ("burst", events)):
    v = groups[g]
    print("agent, 10,000-pod cluster, %s: %d pod creates, %d in the kernel%s: median %.1f ms, "
          "p99 %.1f ms, max %.1f ms" % (
              "one event at a time" if g == "idle" else "a burst",
              n, len(v), ", %d missing" % missing[g] if missing[g] else "",
              q(v, 0.5), q(v, 0.99), max(v) if v else float("nan")))
    fig[g + "_median"] = q(v, 0.5)
pol = []
if policies:
    pk = {}
    for line in open(tmp + "/pkernel"):
        if not line.startswith("#"):
            t, ip = line.split()
            pk.setdefault(ip, int(t))
    for i, t in enumerate(polsent[:policies]):
        ip = "10.99.%d.0" % (2 * i)
        if ip in pk:
            pol.append((pk[ip] - t) / 1e6)
    stall = [float(l.split()[1]) for l in open(tmp + "/probe") if l.strip()]
    print("agent, 10,000-pod cluster, policy changes: %d, %d in the kernel: median %.1f ms, "
          "max %.1f ms; the loop's longest stall meanwhile %.1f ms (/healthz every 2 ms, "
          "%d answers)" % (policies, len(pol), q(pol, 0.5), max(pol) if pol else float("nan"),
                          max(stall) if stall else float("nan"), len(stall)))
    fig["policy_median"] = q(pol, 0.5)
    fig["policy_max"] = max(pol) if pol else float("nan")
    fig["policy_stall"] = max(stall) if stall else float("nan")
print("# figures " + " ".join("%s=%.3f" % kv for kv in fig.items()))
PY
echo "$(ip netns exec "$ns" curl -s --unix-socket "$sock" http://agent/status |
	python3 -c 'import json, sys; e = json.load(sys.stdin)["enforcement"]
print("agent: %d batches (%d full replaces), %d events" % (e["batches"], e["full_replaces"], e["events"]))')"
