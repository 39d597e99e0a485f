#!/usr/bin/env bash
# netns.agent_iface_readd: issue 14's fault test "a pod interface removed
# and added again".  'bulkhead agent --interface bhv*' in a node namespace
# with three pods behind veths (tests/integration/lib/topology.sh), traffic
# flowing from cache to web all along (UDP echo on 81, 20 a second):
#   1. before: three captures (bulkhead_capture_interfaces 3), the flows of
#      web's traffic learned on bhv0; the agent's open fds counted.
#   2. web's veth deleted (both ends go) while the traffic flows: the
#      capture on bhv0 is closed, 2 captures, the agent keeps running.
#   3. the veth made again under the same name, web's address and routes
#      back: bhv0 captured again (3 captures, logged twice), and a flow web
#      opens only now (TCP to api:80, whose opener is seen only on bhv0) is
#      learned: /status counts, bulkhead_flows_learned_total, and in the
#      state database after a checkpoint.
#   4. all along: /readyz answered 200 on every poll (10 a second; a pod's
#      veth going away is churn, not a fault of the agent), no error logged,
#      bulkhead_capture_drops_total 0 for each interface with one series
#      each, promtool accepts /metrics; the agent's open fds are as many as
#      before (the old capture's socket was closed, not leaked).
#   5. the same delete and re-add twice more, quickly: fds still the same.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_iface_readd: curl missing" >&2; exit 1; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" | grep -v '^y/late-0 ' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
TOPO_PORTS="80 81" topo_start_servers
web=x/web-5f6d8c9b7-abcde cache=x/cache-0 api=y/api-7c8d9f-xyz12
web_ip=10.77.0.1
web_ns=$(topo_pod_ns "$web")
# bhv0 is web's veth (the pods file's first pod).
[ "$(head -1 "$TOPO_DIR/pods" | cut -d' ' -f1)" = "$web" ] || { echo "web is not bhv0"; exit 1; }

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
log=$out/agent.log
printf 'checkpointInterval: 1s\n' > "$out/agent.yaml"
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce \
	--state-dir "$state" --socket "$sock" --config "$out/agent.yaml" --interface 'bhv*' > "$log" 2>&1
agent_pid=$TOPO_LAST_PID
agent_wait_ready || { cat "$log"; exit 1; }
[ "$(cat "/proc/$agent_pid/comm")" = bulkhead ] || bad "pid $agent_pid is not the agent"

metrics() { agent_get /metrics; }
metric() { metrics | awk -v m="$1" '$1 == m { print $2 }'; }
flows() { agent_field "['counts']['flows']"; }
# fds: the agent's open fds, counted while the /readyz poller is paused
# (its connections come and go).
fds() {
	touch "$out/pause"
	sleep 0.3
	find "/proc/$agent_pid/fd" -mindepth 1 -maxdepth 1 | wc -l
	rm -f "$out/pause"
}
# pkt_socks: the agent's packet sockets (capture handles): its socket fds
# whose inodes /proc/net/packet lists.
pkt_socks() {
	local inodes
	inodes=$(awk 'NR > 1 { print $9 }' "/proc/$agent_pid/net/packet")
	find "/proc/$agent_pid/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' -printf '%l\n' |
		sed 's/socket:\[\(.*\)\]/\1/' | grep -cxFf <(echo "$inodes")
}
# wait_for 'WHAT' CMD...: CMD succeeds within 10 s, else WHAT (expanded
# then) is the failure.
wait_for() {
	local what=$1
	shift
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	bad "$(eval "echo \"$what\"")"; return 1
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
captured() { [ "$(grep -c "capturing on 'bhv0'" "$log")" -ge "$1" ]; }
probe=$(topo_tool probe)
run_probe() { # FROM ADDR PORT PROTO
	local r
	r=$(echo "t $2 $3 $4" | topo_pod_exec "$1" "$probe" --timeout-ms 1000)
	echo "$r" | grep -q '"ok":true' || bad "probe $*: $r"
}
pcap='bulkhead_flows_learned_total{source="pcap"}'

# Background: cache -> web UDP 81, 20 datagrams a second, from one socket
# (one flow), replies ignored; and /readyz polled 10 times a second.
topo_bg ip netns exec "$(topo_pod_ns "$cache")" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    try:
        s.sendto(b"x", ("10.77.0.1", 81))
    except OSError:
        pass
    time.sleep(0.05)'
(
	while :; do
		[ -e "$out/pause" ] || echo "$(date +%s.%N) $(agent_readyz)"
		sleep 0.1
	done
) > "$out/readyz.log" 2>&1 &
TOPO_PIDS+=("$!")
poll_pid=$!

# --- 1. before ---
wait_for 'captures: $(metric bulkhead_capture_interfaces), expected 3' \
	metric_is bulkhead_capture_interfaces 3
run_probe "$web" 10.77.1.1 81 UDP
wait_for 'flows before: $(flows), expected 2' metric_is "$pcap" 2
fd_before=$(fds)
[ "$(pkt_socks)" = 3 ] || bad "packet sockets before: $(pkt_socks), expected 3"

# --- 2. web's veth deleted while the traffic flows ---
ip -n "$TOPO_NODE" link del bhv0 || bad "link del bhv0"
wait_for 'bhv0 not closed after its deletion' grep -q "capture on 'bhv0' closed" "$log"
wait_for 'captures: $(metric bulkhead_capture_interfaces), expected 2' \
	metric_is bulkhead_capture_interfaces 2
[ "$(pkt_socks)" = 2 ] || bad "packet sockets with bhv0 gone: $(pkt_socks), expected 2"
sleep 0.5
kill -0 "$agent_pid" 2> /dev/null || { bad "the agent died"; cat "$log"; exit 1; }

# --- 3. the veth made again under the same name ---
readd() {
	ip -n "$TOPO_NODE" link add bhv0 type veth peer name eth0 netns "$web_ns" || bad "link add"
	ip -n "$TOPO_NODE" link set bhv0 up
	ip -n "$web_ns" link set eth0 up
	topo_add_routed "$web_ns" bhv0 "$web_ip" -
}
readd
wait_for 'bhv0 not captured again: $(grep -c "capturing on .bhv0." "$log") openings' captured 2
wait_for 'captures: $(metric bulkhead_capture_interfaces), expected 3' \
	metric_is bulkhead_capture_interfaces 3
run_probe "$web" 10.77.1.1 80 TCP
wait_for 'learned: $(metric "$pcap"), expected 3 (web -> api TCP 80 after the re-add)' \
	metric_is "$pcap" 3
[ "$(flows)" = 3 ] || bad "/status flows: $(flows), expected 3"
stored_tcp80() {
	[ "$(sqlite3 "$state/state.db" "SELECT count(*) FROM flows WHERE proto = 6 AND port = 80 AND
		src_peer IN (SELECT id FROM peers WHERE name = 'web-5f6d8c9b7-abcde')")" = 1 ]
}
wait_for 'web -> api TCP 80 not in the state database' stored_tcp80
# The cache -> web traffic reaches web again (the topology is whole).
run_probe "$cache" "$web_ip" 80 TCP

# --- 4. all along ---
sleep 0.3
fd_after=$(fds)
[ "$(pkt_socks)" = 3 ] || bad "packet sockets after: $(pkt_socks), expected 3"
[ "$fd_after" = "$fd_before" ] || {
	bad "open fds: $fd_before before, $fd_after after"
	ls -l "/proc/$agent_pid/fd"
}
metrics > "$out/metrics"
for i in bhv0 bhv1 bhv2; do
	n=$(grep -c "^bulkhead_capture_drops_total{interface=\"$i\"} " "$out/metrics")
	[ "$n" = 1 ] || bad "$n drop series for $i"
	grep -qx "bulkhead_capture_drops_total{interface=\"$i\"} 0" "$out/metrics" ||
		bad "drops: $(grep "interface=\"$i\"" "$out/metrics")"
done
if command -v promtool > /dev/null; then
	promtool check metrics < "$out/metrics" || bad "promtool check metrics failed"
fi

# --- 5. twice more, quickly ---
for _ in 1 2; do
	n=$(grep -c "capturing on 'bhv0'" "$log")
	ip -n "$TOPO_NODE" link del bhv0 || bad "link del bhv0"
	sleep 0.2
	readd
	wait_for 'bhv0 not captured again' captured $((n + 1))
done
wait_for 'captures: $(metric bulkhead_capture_interfaces), expected 3' \
	metric_is bulkhead_capture_interfaces 3
sleep 0.3
fd_end=$(fds)
[ "$fd_end" = "$fd_before" ] || bad "open fds after three re-adds: $fd_end, $fd_before before"
[ "$(pkt_socks)" = 3 ] || bad "packet sockets after three re-adds: $(pkt_socks), expected 3"

kill "$poll_pid" 2> /dev/null
wait "$poll_pid" 2> /dev/null
polls=$(wc -l < "$out/readyz.log")
[ "$polls" -ge 20 ] || bad "only $polls /readyz polls"
grep -v ' 200$' "$out/readyz.log" | head -3 | while read -r line; do bad "/readyz: $line"; done
[ "$(grep -vc ' 200$' "$out/readyz.log")" = 0 ] || fail=1
grep -E 'level=(error|crit|alert|emerg)' "$log" && bad "errors logged"
kill -TERM "$agent_pid"
wait "$agent_pid" || bad "SIGTERM: exit $?"
[ "$fail" = 0 ] || cat "$log"
[ "$fail" = 0 ] && echo "agent_iface_readd: ok ($polls /readyz polls, all 200; $fd_before fds)"
exit "$fail"
