#!/usr/bin/env bash
# netns.agent_state_full: the agent learning while its state directory is
# full (a 2 MiB tmpfs filled up, in a private mount namespace; root):
#   - flows learned while it is full: the checkpoint fails with one error
#     line naming the database, /readyz is 503 naming it, the agent keeps
#     learning (/status counts the flows);
#   - space freed: the next checkpoint writes them, /readyz 200;
#   - SIGTERM: exit 0, every flow in the database.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "agent_state_full: needs root, skipping"; exit 77; }
command -v unshare > /dev/null || { echo "agent_state_full: no unshare, skipping"; exit 77; }
if [ "${1:-}" != inner ]; then
	exec unshare -m --propagation private "$0" inner
fi
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v curl > /dev/null || { echo "agent_state_full: curl missing" >&2; exit 1; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" | grep -v '^y/late-0 ' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
TOPO_PORTS="80 81" topo_start_servers
web=x/web-5f6d8c9b7-abcde api=y/api-7c8d9f-xyz12

out=$TOPO_DIR
state=$out/state
mkdir "$state"
mount -t tmpfs -o size=2m tmpfs "$state"
topo_on_exit "umount -l '$state' 2> /dev/null"
sock=$out/agent.sock
printf 'checkpointInterval: 1s\n' > "$out/agent.yaml"
node_curl() { ip netns exec "$TOPO_NODE" curl -s "$@"; }
readyz() { node_curl -o "$out/readyz" -w '%{http_code}' http://127.0.0.1:9464/readyz; }
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce \
	--state-dir "$state" --socket "$sock" --listen 127.0.0.1:9464 \
	--interface 'bhv*' --config "$out/agent.yaml" > "$out/agent.log" 2>&1
agent=$TOPO_LAST_PID
for _ in $(seq 100); do [ "$(readyz)" = 200 ] && break; sleep 0.1; done
[ "$(readyz)" = 200 ] || { bad "agent not ready"; cat "$out/agent.log"; exit 1; }
sleep 1.5 # a first round with nothing to write

# Fill the tmpfs.
dd if=/dev/zero of="$state/filler" bs=64k 2> /dev/null
probe=$(topo_tool probe)
run_probe() { # FROM ADDR PORT PROTO
	echo "t $2 $3 $4" | topo_pod_exec "$1" "$probe" --timeout-ms 1000 | grep -q '"ok":true' ||
		bad "probe $*"
}
run_probe $web 10.77.0.2 80 TCP
run_probe $api 10.77.0.1 81 TCP
for _ in $(seq 50); do [ "$(readyz)" = 503 ] && break; sleep 0.1; done
[ "$(readyz)" = 503 ] || bad "/readyz not 503 with a full state directory"
grep -qF "$state/state.db" "$out/readyz" || bad "/readyz reason: $(cat "$out/readyz")"
grep -q 'level=err .*checkpoint: .*state.db' "$out/agent.log" || bad "no checkpoint error line"
[ "$(grep -c 'level=err .*checkpoint:' "$out/agent.log")" = 1 ] ||
	bad "the checkpoint error is logged more than once"
flows=$(node_curl --unix-socket "$sock" http://agent/status |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["counts"]["flows"])')
[ "$flows" = 2 ] || bad "flows while full: $flows"

# Space again: the next checkpoint writes them.
rm -f "$state/filler"
for _ in $(seq 50); do [ "$(readyz)" = 200 ] && break; sleep 0.1; done
[ "$(readyz)" = 200 ] || bad "not ready after space was freed: $(cat "$out/readyz")"
n=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM flows").fetchone()[0])' "$state/state.db")
[ "$n" = 2 ] || bad "stored flows after recovery: $n"
kill -TERM "$agent"
wait "$agent" || bad "SIGTERM: exit $?"

[ "$fail" = 0 ] && echo "agent_state_full: ok"
exit "$fail"
