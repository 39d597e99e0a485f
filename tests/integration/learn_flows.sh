#!/usr/bin/env bash
# netns.learn_flows: real servers and clients in pod namespaces, a
# Service-like DNAT rule in the node namespace, traffic made by the test;
# then the flows learned by each source alone must be exactly the expected
# set (none missing, none invented, client and server the right way round,
# the DNAT'd flows attributed to the backend pod and its target port):
#   1. live capture on the pods' veths (--interface 'bhv*', stopped by
#      SIGTERM: the file is still written), including a pod whose veth
#      appears after the learner started and disappears before it ends,
#   2. a capture file of the node's "any" device (cooked, both directions),
#   3. conntrack alone (--conntrack --duration).
set -euo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
command -v tcpdump >/dev/null || { echo "learn_flows: tcpdump missing" >&2; exit 1; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
# y/late-0 comes later, while the learners run.
topo_pods_from_json "$snap" | grep -v '^y/late-0 ' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
TOPO_PORTS="80 81" topo_start_servers

web=x/web-5f6d8c9b7-abcde cache=x/cache-0 api=y/api-7c8d9f-xyz12
# A Service 10.96.0.10 with TCP 8080 -> api:80 and UDP 5353 -> api:81,
# as kube-proxy would write it, in the node namespace only.
topo_node_exec nft -f - <<'NFT'
table ip bhlearntest {
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		ip daddr 10.96.0.10 tcp dport 8080 dnat to 10.77.1.1:80
		ip daddr 10.96.0.10 udp dport 5353 dnat to 10.77.1.1:81
	}
}
NFT
topo_node_exec nft -f - <<'NFT'
table ip6 bhlearntest6 {
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		ip6 daddr fd96::10 tcp dport 8080 dnat to [fd77::101]:80
	}
}
NFT

out=$TOPO_DIR
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" learn --interface 'bhv*' \
	--snapshot "$snap" -o "$out/live.json"
live_pid=$TOPO_LAST_PID
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" learn --conntrack --duration 6 \
	--snapshot "$snap" -o "$out/ct.json"
ct_pid=$TOPO_LAST_PID
topo_bg ip netns exec "$TOPO_NODE" tcpdump -i any -U -s 256 -w "$out/any.pcap"
dump_pid=$TOPO_LAST_PID
sleep 1.5

probe=$(topo_tool probe)
run_probe() { # FROM ADDR PORT PROTO
	local r
	r=$(echo "t $2 $3 $4" | topo_pod_exec "$1" "$probe" --timeout-ms 1000)
	echo "$r" | grep -q '"ok":true' || { echo "probe $*: $r"; exit 1; }
}
run_probe $web 10.77.0.2 80 TCP
run_probe $web 10.77.1.1 81 UDP
run_probe $cache 10.96.0.10 8080 TCP
run_probe $cache 10.96.0.10 5353 UDP
run_probe $api 10.77.0.1 81 TCP
run_probe $api 10.77.0.1 81 TCP
# IPv6: direct, UDP, and through the IPv6 Service address.
run_probe $web fd77::2 80 TCP
run_probe $web fd77::101 81 UDP
run_probe $cache fd96::10 8080 TCP

# A pod comes: its veth must be picked up by the live learner.
topo_add_pod y/late-0 10.77.1.2
topo_bg ip netns exec "$(topo_pod_ns y/late-0)" "$(topo_tool serve)" --ready "$out/late.ready" 80
for ((t = 0; t < 100; t++)); do [ -e "$out/late.ready" ] && break; sleep 0.05; done
sleep 0.5
run_probe $web 10.77.1.2 80 TCP
sleep 0.5
# ... and goes: the capture on its veth is detached, the learner goes on.
ip -n "$TOPO_NODE" link del bhv3
run_probe $cache 10.77.0.1 80 TCP
sleep 0.5

kill -TERM "$live_pid"
wait "$live_pid" || { echo "live learner failed"; exit 1; }
wait "$ct_pid" || { echo "conntrack learner failed"; exit 1; }
topo_kill "$dump_pid"
"$BULKHEAD" learn --pcap "$out/any.pcap" --snapshot "$snap" -o "$out/pcap.json"

python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
expected = {
    ("x/web-5f6d8c9b7-abcde", "x/cache-0", "TCP", 80, 4),
    ("x/web-5f6d8c9b7-abcde", "y/api-7c8d9f-xyz12", "UDP", 81, 4),
    ("x/cache-0", "y/api-7c8d9f-xyz12", "TCP", 80, 4),   # via 10.96.0.10:8080
    ("x/cache-0", "y/api-7c8d9f-xyz12", "UDP", 81, 4),   # via 10.96.0.10:5353
    ("y/api-7c8d9f-xyz12", "x/web-5f6d8c9b7-abcde", "TCP", 81, 4),
    ("x/web-5f6d8c9b7-abcde", "y/late-0", "TCP", 80, 4),   # a pod that came later
    ("x/cache-0", "x/web-5f6d8c9b7-abcde", "TCP", 80, 4),  # after it went
    ("x/web-5f6d8c9b7-abcde", "x/cache-0", "TCP", 80, 6),
    ("x/web-5f6d8c9b7-abcde", "y/api-7c8d9f-xyz12", "UDP", 81, 6),
    ("x/cache-0", "y/api-7c8d9f-xyz12", "TCP", 80, 6),   # via [fd96::10]:8080
}
def name(p):
    return f'{p["namespace"]}/{p["name"]}' if p["kind"] == "pod" else f'{p["kind"]}:{p["ip"]}'
rc = 0
for src, seen in (("live", "pcap"), ("pcap", "pcap"), ("ct", "conntrack")):
    doc = json.load(open(f"{d}/{src}.json"))
    got = {(name(f["src"]), name(f["dst"]), f["protocol"], f["port"],
            6 if ":" in f["src"]["ip"] else 4) for f in doc["flows"]}
    missing, invented = expected - got, got - expected
    for m in sorted(missing):
        print(f"{src}: missing {m}"); rc = 1
    for m in sorted(invented):
        print(f"{src}: invented {m}"); rc = 1
    for f in doc["flows"]:
        if f["seen_by"] != [seen]:
            print(f"{src}: seen_by {f['seen_by']}"); rc = 1
        if name(f["src"]) == "x/web-5f6d8c9b7-abcde":
            wl = f["src"].get("workload", {})
            if wl != {"kind": "Deployment", "name": "web"}:
                print(f"{src}: workload {wl}"); rc = 1
        if name(f["src"]) == "y/api-7c8d9f-xyz12" and f["connections"] < 2:
            print(f"{src}: api -> web connections {f['connections']}"); rc = 1
    if doc["stats"]["overruns"] != 0 or doc["stats"]["evicted"] != 0:
        print(f"{src}: stats {doc['stats']}"); rc = 1
    print(f"{src}: {len(got)} flows, {'ok' if not (missing or invented) else 'WRONG'}")
sys.exit(rc)
PY
