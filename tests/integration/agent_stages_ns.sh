#!/usr/bin/env bash
# integration.agent_stages_ns: 'bulkhead agent --kubeconfig --no-enforce'
# on the test API server (loopback, no root): every namespace that appears
# gets a stage, also when the namespace count does not change:
#   - the first pod of a namespace that has no Namespace object;
#   - a Namespace deleted and another created while the agent's watches
#     are stalled (both events in one turn of the API client);
#   and a namespace deleted forgets its stage: y, in preview after its
#   learning window (2 s), is back in learn once its Namespace is
#   deleted (a namespace created again under that name is not enforced by
#   the old one's proposal).
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
src=$BH_SOURCE_DIR
tmp=$(mktemp -d /tmp/bh-stagesns.XXXXXX)
agent=
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2> /dev/null && wait "$agent" 2> /dev/null
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"

mkdir "$tmp/data"
cp "$src/tests/data/learn/snapshot.json" "$tmp/data/objects.json" # namespaces x, y
api_start
control() { api_control > /dev/null; }

printf 'learnDuration: 2s\n' > "$tmp/config.yaml"
sock=$tmp/agent.sock
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BULKHEAD" agent --node node-1 --kubeconfig "$tmp/kubeconfig" --state-dir "$tmp/state" --no-enforce \
	--config "$tmp/config.yaml" --socket "$sock" --listen "127.0.0.1:$port" > "$tmp/agent.log" 2>&1 &
agent=$!
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; }
wait_for ready || { bad "agent not ready in 10 s"; cat "$tmp/agent.log"; exit 1; }
stages() {
	curl -s --unix-socket "$sock" http://agent/status | python3 -c '
import json, sys
print(" ".join(s["namespace"] for s in json.load(sys.stdin)["stages"]))'
}
has() { [[ " $(stages) " == *" $1 "* ]]; }
wait_for has x && has y || bad "stages at start: $(stages)"

# The first pod of a namespace with no Namespace object.
control <<'J'
{"op": "put", "object": {"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "p-0", "namespace": "nons", "labels": {"app": "p"}},
 "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]},
 "status": {"phase": "Running", "podIP": "10.9.0.1", "podIPs": [{"ip": "10.9.0.1"}]}}}
J
wait_for has nons || bad "the namespace of a new pod has no stage: $(stages)"

# A Namespace deleted and another created in one turn of the API client:
# the watches stall while both happen, then send both events at once.
control <<< '{"op": "fault", "fault": "stall", "seconds": 2}'
sleep 0.5
control <<< '{"op": "delete", "resource": "namespaces", "group": "", "name": "x"}'
control <<'J'
{"op": "put", "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}}
J
wait_for has fresh || wait_for has fresh || bad "a namespace created as another was deleted has no stage: $(stages)"
grep -q "namespace 'fresh' first seen: learn" "$tmp/agent.log" || bad "no log line of 'fresh'"

# A namespace deleted forgets its stage.
stage() {
	curl -s --unix-socket "$sock" http://agent/status | python3 -c '
import json, sys
s = [x["stage"] for x in json.load(sys.stdin)["stages"] if x["namespace"] == sys.argv[1]]
print(s[0] if s else "none")' "$1"
}
is_stage() { [ "$(stage "$1")" = "$2" ]; }
wait_for is_stage y preview || wait_for is_stage y preview || bad "y is in $(stage y), not preview"
control <<< '{"op": "delete", "resource": "namespaces", "group": "", "name": "y"}'
wait_for is_stage y learn || bad "y is in $(stage y) after its deletion, not learn"
grep -q "namespace 'y' was deleted" "$tmp/agent.log" || bad "no log line of y's deletion"

kill -TERM "$agent"
wait "$agent"
rc=$?
agent=
[ "$rc" = 0 ] || { bad "SIGTERM: exit $rc"; tail -5 "$tmp/agent.log"; }
[ "$fail" = 0 ] && echo "agent_stages_ns: ok"
exit "$fail"
