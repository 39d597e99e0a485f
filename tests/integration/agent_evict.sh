#!/usr/bin/env bash
# netns.agent_evict: flows the full flow table evicts leave the state
# database too, so the store holds exactly the table's flows and a restart
# reloads that set (tests/integration/lib/topology.sh: pods behind veths
# 'bhv*').  maxFlows 1000, checkpointInterval 1s; web sends one UDP
# datagram from port 40000 to api on each of a range of ports, one new flow
# each.  Which 1,000 stay is the learner's business (unanswered openers
# are learned when their session is evicted or expires, not in the order
# sent), so the table's set is read back from the agent: a flow sent again
# is learned (bulkhead_flows_learned_total) exactly when the table lacks it.
#   1. 1,000 flows (ports 2000-2999), checkpointed, then 500 more (3000-
#      3499): 1,000 in the table, 500 evicted; once learning has settled, a
#      checkpoint leaves 1,000 of those ports in the store (not 1,500), and
#      no checkpoint was full (500 keys fit the record of 1,000).
#   2. kill -9 and restart: 1,000 flows restored; those ports sent again
#      create no flow and evict none, so the table before the kill, the
#      store and the table after are one set; an evicted port sent again
#      is learned anew and the next checkpoint swaps it in the store.
#   3. 2,500 more (ports 4000-6499) within one checkpoint interval: more
#      keys leave than the record holds, a full checkpoint is counted
#      (bulkhead_state_db_full_checkpoints_total, and logged), and the
#      store holds 1,000 of the new ports.
#   4. SIGTERM: the last checkpoint leaves the store as the running one did
#      (the table did not change); a third start restores that set: sent
#      again, none is learned.
# On the code before the gone record, step 1 fails (the store keeps all
# 1,500 flows); before the dirty flags, it fails too (flows learned late,
# with their packets' older times, were never written).
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_evict: curl missing" >&2; exit 1; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" | grep -v '^y/late-0 ' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
web=x/web-5f6d8c9b7-abcde

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
printf 'checkpointInterval: 1s\nmaxFlows: 1000\ninterfaces: ["bhv*"]\n' > "$out/agent.yaml"
agent_pid=
start_agent() { # LOG
	topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$snap" \
		--no-enforce --state-dir "$state" --socket "$sock" --config "$out/agent.yaml" \
		> "$out/$1" 2>&1
	agent_pid=$TOPO_LAST_PID
	agent_wait_ready || { cat "$out/$1"; return 1; }
}
flows() { agent_field "['counts']['flows']"; }
metric() { # NAME: its value (one series)
	node_curl --unix-socket "$sock" http://agent/metrics | awk -v m="$1" '$1 == m { print $2 }'
}
# wait_for 'WHAT' CMD...: CMD succeeds within 10 s, else WHAT (expanded
# then) is the failure.
wait_for() {
	local what=$1
	shift
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	bad "$(eval "echo \"$what\"")"; return 1
}
# send FIRST LAST: one UDP datagram from web:40000 to api on each port.
send() {
	topo_pod_exec "$web" python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 40000))
for i, port in enumerate(range(int(sys.argv[1]), int(sys.argv[2]) + 1)):
    s.sendto(b"x", ("10.77.1.1", port))
    if i % 200 == 199:
        time.sleep(0.01)  # the capture's ring, not a limit of the agent
PY
}
# ports: the stored flows' ports, one a line, sorted; "bad" when a flow
# is not web -> api over UDP (every flow here is).
ports() {
	python3 - "$state/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
triples = db.execute("SELECT count(DISTINCT hex(src) || hex(dst) || proto) FROM flows").fetchone()[0]
if triples > 1:
    print("bad")
for (p,) in db.execute("SELECT port FROM flows ORDER BY port"):
    print(p)
PY
}
# settled FILE: the store's ports, the same over two reads 1.5 checkpoint
# intervals apart, with 1,000 flows, written to FILE.
settled() {
	local a b
	a=$(ports)
	sleep 1.5
	b=$(ports)
	[ "$a" = "$b" ] && [ "$(wc -l <<< "$b")" = 1000 ] && { echo "$b" > "$1"; }
}
# within FILE FIRST LAST: every port of FILE is in FIRST..LAST.
within() { awk -v a="$2" -v b="$3" '$1 !~ /^[0-9]+$/ || $1 < a || $1 > b { bad = 1 } END { exit bad }' "$1"; }
# send_file FILE: the ports of FILE sent again, one datagram each.
send_file() {
	topo_pod_exec "$web" python3 - "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 40000))
for i, line in enumerate(open(sys.argv[1])):
    s.sendto(b"x", ("10.77.1.1", int(line)))
    if i % 200 == 199:
        time.sleep(0.01)
PY
}
flows_is() { [ "$(flows)" = "$1" ]; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_ge() { [ "$(metric "$1")" -ge "$2" ] 2> /dev/null; }
pcap='bulkhead_flows_learned_total{source="pcap"}'
stored_has() { grep -qx "$1" <<< "$(ports)"; } # (not a pipe: grep -q would SIGPIPE it)
count() { sqlite3 "$state/state.db" 'SELECT count(*) FROM flows'; }

# --- 1. more flows than the table holds ---
start_agent agent1.log || exit 1
sleep 0.5
# The table filled and checkpointed first, so that the flows evicted next
# were in the store.
send 2000 2999
# Unanswered openers are learned when their session expires (5 s).
wait_for 'learned: $(metric "$pcap"), expected 1000' metric_is "$pcap" 1000
wait_for 'the store did not settle at 1000 flows: $(count)' settled "$out/s0"
send 3000 3499
wait_for 'learned: $(metric "$pcap"), expected 1500' metric_is "$pcap" 1500
wait_for 'evicted: $(metric bulkhead_flows_evicted_total), expected 500' \
	metric_is bulkhead_flows_evicted_total 500
flows_is 1000 || bad "flows: $(flows), expected 1000"
wait_for 'the store did not settle at 1000 flows: $(count)' settled "$out/s1"
within "$out/s1" 2000 3499 || bad "stored ports outside 2000-3499: $(tr '\n' ' ' < "$out/s1")"
metric_is bulkhead_state_db_full_checkpoints_total 0 ||
	bad "full checkpoints: $(metric bulkhead_state_db_full_checkpoints_total), expected 0"

# --- 2. kill -9, restart: the table is the stored set ---
kill -9 "$agent_pid"
wait "$agent_pid" 2> /dev/null
start_agent agent2.log || exit 1
flows_is 1000 || bad "after kill -9: $(flows) flows restored, expected 1000"
grep -q '1000 flows restored' "$out/agent2.log" || bad "no '1000 flows restored' in the log"
send_file "$out/s1"
sleep 6.5 # every session expired
metric_is "$pcap" 0 ||
	bad "the stored set sent again: $(metric "$pcap") learned, expected 0"
metric_is bulkhead_flows_evicted_total 0 ||
	bad "the stored set sent again: $(metric bulkhead_flows_evicted_total) evicted, expected 0"
flows_is 1000 || bad "flows: $(flows), expected 1000"
gone=$(seq 2000 3499 | grep -vxFf "$out/s1" | head -1)
send "$gone" "$gone"
wait_for 'an evicted flow sent again is not learned' metric_is "$pcap" 1
metric_is bulkhead_flows_evicted_total 1 || bad "evicted: $(metric bulkhead_flows_evicted_total), expected 1"
wait_for 'port $gone not stored' stored_has "$gone"
wait_for 'the store did not settle at 1000 flows: $(count)' settled "$out/s2"
[ "$(comm -3 "$out/s1" "$out/s2" | wc -l)" = 2 ] ||
	bad "the store changed by more than $gone in, one out: $(comm -3 "$out/s1" "$out/s2" | tr '\n\t' '  ')"

# --- 3. more evicted than the record holds: a full checkpoint ---
send 4000 6499
wait_for 'learned: $(metric "$pcap"), expected 2501' metric_is "$pcap" 2501
wait_for 'evicted: $(metric bulkhead_flows_evicted_total), expected 2501' \
	metric_is bulkhead_flows_evicted_total 2501
wait_for 'no full checkpoint counted' metric_ge bulkhead_state_db_full_checkpoints_total 1
wait_for 'the store did not settle at 1000 flows: $(count)' settled "$out/s3"
within "$out/s3" 4000 6499 || bad "stored ports outside 4000-6499 after 2500 new flows"
grep -q 'more flows left the table than its record holds' "$out/agent2.log" ||
	bad "the full checkpoint is not logged"
if command -v promtool > /dev/null; then
	node_curl --unix-socket "$sock" http://agent/metrics | promtool check metrics ||
		bad "promtool check metrics failed"
fi

# --- 4. SIGTERM and a third start ---
kill -TERM "$agent_pid"
wait "$agent_pid" || bad "SIGTERM: exit $?"
ports > "$out/s4"
cmp -s "$out/s3" "$out/s4" || bad "SIGTERM changed the store: $(comm -3 "$out/s3" "$out/s4" | tr '\n\t' '  ')"
start_agent agent3.log || exit 1
flows_is 1000 || bad "third start: $(flows) flows restored, expected 1000"
send_file "$out/s4"
sleep 6.5
metric_is "$pcap" 0 || bad "third start: the stored set sent again: $(metric "$pcap") learned"
kill -TERM "$agent_pid"
wait "$agent_pid" || bad "SIGTERM (third): exit $?"
ports > "$out/s5"
cmp -s "$out/s4" "$out/s5" || bad "the third run changed the store"

[ "$fail" = 0 ] && echo "agent_evict: ok"
exit "$fail"
