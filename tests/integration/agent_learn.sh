#!/usr/bin/env bash
# netns.agent_learn: 'bulkhead agent' learning in a node namespace made here
# (tests/integration/lib/topology.sh: pods behind veths 'bhv*'), from the
# pods' own traffic, and keeping what it learned across restarts:
#   1. flows between pods are learned (/status counts, /metrics
#      bulkhead_flows_learned_total{source="pcap"}, promtool), resolved to
#      pods and workloads, and checkpointed into DIR/state.db (read back
#      with sqlite3, checkpointInterval 1s);
#   2. kill -9, restart (now with --conntrack and a DNAT rule standing for a
#      Service): the flows are back (/status, before any new traffic), and
#      learning goes on, the Service's flow learned to its backend pod and
#      counted for conntrack too;
#   3. a pod interface removed and added again: captured again;
#   3b. SIGHUP with the --config file naming one interface: the other
#      captures are closed, learning goes on on that one;
#   4. SIGTERM: exit 0; the state database holds exactly the expected
#      flows; a third start restores all of them.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_learn: curl missing" >&2; exit 1; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" | grep -v '^y/late-0 ' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
TOPO_PORTS="80 81" topo_start_servers
web=x/web-5f6d8c9b7-abcde cache=x/cache-0 api=y/api-7c8d9f-xyz12

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
printf 'checkpointInterval: 1s\ninterfaces: ["bhv*"]\n' > "$out/agent.yaml"
agent_pid=
start_agent() { # LOG [FLAG]...
	local log=$1
	shift
	topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce \
		--state-dir "$state" --socket "$sock" --listen 127.0.0.1:9464 \
		--config "$out/agent.yaml" "$@" > "$out/$log" 2>&1
	agent_pid=$TOPO_LAST_PID
	agent_wait_ready || { cat "$out/$log"; return 1; }
}
flows() { agent_field "['counts']['flows']"; }
# wait_flows N: /status counts N flows within 10 s.
wait_flows() {
	for _ in $(seq 100); do [ "$(flows)" = "$1" ] && return 0; sleep 0.1; done
	bad "flows: $(flows), expected $1"; return 1
}
probe=$(topo_tool probe)
run_probe() { # FROM ADDR PORT PROTO
	local r
	r=$(echo "t $2 $3 $4" | topo_pod_exec "$1" "$probe" --timeout-ms 1000)
	echo "$r" | grep -q '"ok":true' || bad "probe $*: $r"
}
# stored: the flows of the state database, one "src dst proto port
# src-workload" line each, sorted.
stored() {
	python3 - "$state/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""
    SELECT coalesce(s.ns || '/' || s.name, '?'), coalesce(d.ns || '/' || d.name, '?'),
           f.proto, f.port, coalesce(s.workload_kind || '/' || s.workload_name, '-')
    FROM flows f LEFT JOIN peers s ON s.id = f.src_peer LEFT JOIN peers d ON d.id = f.dst_peer""")
for r in sorted(" ".join(map(str, r)) for r in rows):
    print(r)
PY
}
expect3="x/web-5f6d8c9b7-abcde x/cache-0 6 80 Deployment/web
x/web-5f6d8c9b7-abcde y/api-7c8d9f-xyz12 17 81 Deployment/web
y/api-7c8d9f-xyz12 x/web-5f6d8c9b7-abcde 6 81 Deployment/api"

# --- 1. learn and checkpoint ---
start_agent agent1.log || exit 1
sleep 0.5
run_probe $web 10.77.0.2 80 TCP
run_probe $web 10.77.1.1 81 UDP
run_probe $api 10.77.0.1 81 TCP
wait_flows 3
node_curl http://127.0.0.1:9464/metrics > "$out/metrics"
grep -qx 'bulkhead_flows_learned_total{source="pcap"} 3' "$out/metrics" ||
	bad "metrics: $(grep flows_learned "$out/metrics")"
if command -v promtool > /dev/null; then
	promtool check metrics < "$out/metrics" || bad "promtool check metrics failed"
fi
for _ in $(seq 50); do [ "$(stored)" = "$expect3" ] && break; sleep 0.1; done
[ "$(stored)" = "$expect3" ] || { bad "not checkpointed as expected:"; stored; }

# --- 2. kill -9 and restart, now with --conntrack and a Service ---
kill -9 "$agent_pid"
wait "$agent_pid" 2> /dev/null
# A Service 10.96.0.10 TCP 8080 -> api:80, as kube-proxy would write it.
topo_node_exec nft -f - <<'NFT'
table ip bhagenttest {
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		ip daddr 10.96.0.10 tcp dport 8080 dnat to 10.77.1.1:80
	}
}
NFT
start_agent agent2.log --conntrack || exit 1
[ "$(flows)" = 3 ] || bad "after kill -9: $(flows) flows restored, expected 3"
grep -q '3 flows restored' "$out/agent2.log" || bad "no '3 flows restored' in the log"
run_probe $cache 10.77.0.1 80 TCP
run_probe $cache 10.96.0.10 8080 TCP
wait_flows 5
# (the page read whole first: grep -q leaving early would make curl die of
# SIGPIPE, and pipefail then fail a match)
ct_learned() {
	grep -qE '^bulkhead_flows_learned_total\{source="conntrack"\} [1-9]' \
		<<< "$(agent_get /metrics)"
}
# The metrics are read from the sources every 5 s (AGENT_STATS_MS).
for _ in $(seq 150); do ct_learned && break; sleep 0.1; done
ct_learned || bad "no flow counted for conntrack: $(node_curl --unix-socket "$sock" \
	http://agent/metrics | grep flows_learned)"

# --- 3. a pod interface removed and added again ---
ip -n "$TOPO_NODE" link set bhv1 down
sleep 0.5
ip -n "$TOPO_NODE" link set bhv1 up
ip -n "$TOPO_NODE" route replace 10.77.0.2/32 dev bhv1 2> /dev/null
for _ in $(seq 50); do
	[ "$(grep -c "capturing on 'bhv1'" "$out/agent2.log")" -ge 2 ] && break
	sleep 0.1
done
[ "$(grep -c "capturing on 'bhv1'" "$out/agent2.log")" -ge 2 ] ||
	bad "bhv1 not captured again after it came back"
run_probe $cache 10.77.0.1 81 UDP
wait_flows 6

# --- 3b. SIGHUP: the file now names web's interface only ---
printf 'checkpointInterval: 1s\ninterfaces: ["bhv0"]\n' > "$out/agent.yaml"
kill -HUP "$agent_pid"
for _ in $(seq 50); do grep -q 'changed: interfaces' "$out/agent2.log" && break; sleep 0.1; done
grep -q 'changed: interfaces' "$out/agent2.log" || bad "SIGHUP: the interfaces change not logged"
sleep 0.5
sed -n '/changed: interfaces/,$p' "$out/agent2.log" > "$out/after-hup.log"
grep -q "capture on 'bhv2' closed" "$out/after-hup.log" || bad "SIGHUP: bhv2 still captured"
grep -q "capturing on 'bhv0'" "$out/after-hup.log" || bad "SIGHUP: bhv0 not captured"
grep -q "capturing on 'bhv[12]'" "$out/after-hup.log" && bad "SIGHUP: a veth the globs left is captured"
run_probe $web 10.77.1.1 80 TCP
wait_flows 7

# --- 4. SIGTERM, and a third start ---
kill -TERM "$agent_pid"
wait "$agent_pid"
rc=$?
[ "$rc" = 0 ] || bad "SIGTERM: exit $rc"
expect5="$expect3
x/cache-0 x/web-5f6d8c9b7-abcde 6 80 StatefulSet/cache
x/cache-0 x/web-5f6d8c9b7-abcde 17 81 StatefulSet/cache
x/cache-0 y/api-7c8d9f-xyz12 6 80 StatefulSet/cache
x/web-5f6d8c9b7-abcde y/api-7c8d9f-xyz12 6 80 Deployment/web"
expect5=$(sort <<< "$expect5")
[ "$(stored)" = "$expect5" ] || { bad "stored after SIGTERM:"; stored; }
start_agent agent3.log || exit 1
[ "$(flows)" = 7 ] || bad "third start: $(flows) flows restored, expected 7"
kill -TERM "$agent_pid"
wait "$agent_pid" || bad "SIGTERM (third): exit $?"

[ "$fail" = 0 ] && echo "agent_learn: ok"
exit "$fail"
