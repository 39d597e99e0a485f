#!/usr/bin/env bash
# bench-agent-events.sh BULKHEAD BENCH_NFT_EVENTS [EVENTS] [IDLE_EVENTS]:
# watch event to kernel latency of `bulkhead agent`.  The agent (root, in a
# network namespace of its own, deleted at exit) follows the test API server
# (tests/apiserver/apiserver.py) serving a 10,000-pod, 1,000-policy cluster
# (bench/gen-snapshot.py, 256 pods on node-1).  Once it is ready:
#   idle:  IDLE_EVENTS (default 20) creates of a local pod, one at a time,
#          0.5 s apart;
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
set -euo pipefail
bulkhead=${1:?bulkhead binary}
watcher=${2:?bench_nft_events binary}
events=${3:-1000}
idle=${4:-20}
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench-agent-events: needs root, skipping" >&2; exit 77; }
tmp=$(mktemp -d)
ns=bh-events-$$
agent= api= watch=
cleanup() {
	for p in $agent $watch $api; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
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
cat > "$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: t
  cluster: {server: 'https://127.0.0.1:$port', certificate-authority: certs/ca.crt}
users:
- name: t
  user: {tokenFile: certs/token}
contexts:
- name: t
  context: {cluster: t, user: t}
KC
# The control requests: idle-N (one pod each) and burst (EVENTS pods).
python3 - "$tmp" "$events" "$idle" <<'PY'
import copy, json, sys
tmp, events, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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
control "$tmp/burst"
for _ in $(seq 1200); do [ "$(addrs)" -ge $((idle + events)) ] && break; sleep 0.1; done
sleep 1
kill "$watch" 2> /dev/null
wait "$watch" 2> /dev/null || true
watch=
python3 - "$tmp" "$events" "$idle" <<'PY'
import sys
tmp, events, idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sent = {}
for line in open(tmp + "/sent"):
    k, t = line.split()
    sent.setdefault(k, int(t))
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
    if g == "burst" and v:
        span = (max(kernel[ip] for ip in kernel) - min(sent.values())) / 1e6
PY
echo "$(ip netns exec "$ns" curl -s --unix-socket "$sock" http://agent/status |
	python3 -c 'import json, sys; e = json.load(sys.stdin)["enforcement"]
print("agent: %d batches (%d full replaces), %d events" % (e["batches"], e["full_replaces"], e["events"]))')"
