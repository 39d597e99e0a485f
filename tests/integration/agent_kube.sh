#!/usr/bin/env bash
# integration.agent_kube: 'bulkhead agent --kubeconfig' on the test API
# server (tests/apiserver, TLS and a bearer token), on loopback, no root:
#   - ready once the cache has listed; /status: api connected, the pods on
#     the node and the policies of the cluster;
#   - a policy created and a pod deleted through the API show in /status;
#   - the API server stopped: the agent keeps serving (/healthz), /status
#     says api unreachable; back (connected again) on
#     the same port, a policy deleted meanwhile is caught up;
#   - the outage counted in bulkhead_watch_restarts_total; promtool;
#   - SIGTERM: exit 0.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
src=$BH_SOURCE_DIR
tmp=$(mktemp -d /tmp/bh-agentkube.XXXXXX)
agent=
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2> /dev/null && wait "$agent" 2> /dev/null
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"

mkdir "$tmp/data"
cp "$src/tests/data/learn/snapshot.json" "$tmp/data/objects.json"
api_start
control() { api_control > /dev/null; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sock=$tmp/agent.sock
"$BULKHEAD" agent --node node-1 --kubeconfig "$tmp/kubeconfig" --state-dir "$tmp/state" --no-enforce \
	--socket "$sock" --listen "127.0.0.1:$port" > "$tmp/agent.log" 2>&1 &
agent=$!
wait_for() { for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; }
wait_for ready || { bad "agent not ready in 10 s"; cat "$tmp/agent.log"; exit 1; }
field() {
	curl -s --unix-socket "$sock" http://agent/status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"
}
is() { [ "$(field "$1")" = "$2" ]; }
is "['api']" connected || bad "api: $(field "['api']")"
is "['counts']['pods']" 4 || bad "pods: $(field "['counts']")"
is "['counts']['policies']" 0 || bad "policies: $(field "['counts']")"
[ "$(field "['last_sync']")" != None ] || bad "no last_sync"

control <<'J'
{"op": "put", "object": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
 "metadata": {"name": "deny-all", "namespace": "x"}, "spec": {"podSelector": {}}}}
J
wait_for is "['counts']['policies']" 1 || bad "a created policy not seen: $(field "['counts']")"
control <<'J'
{"op": "delete", "resource": "pods", "group": "", "namespace": "y", "name": "late-0"}
J
wait_for is "['counts']['pods']" 3 || bad "a deleted pod not seen: $(field "['counts']")"

# The API server goes away: the agent serves on; a policy deleted while it
# is away is caught up when it is back.
api_stop
sleep 1
[ "$(curl -s "http://127.0.0.1:$port/healthz")" = ok ] || bad "/healthz with the API server down"
is "['counts']['policies']" 1 || bad "the cluster was not kept while the API server is down"
wait_for is "['api']" unreachable || bad "api while the API server is down: $(field "['api']")"
grep -q 'level=warning .*is unreachable' "$tmp/agent.log" || bad "no warning that the API is unreachable"
python3 - "$tmp/data/.state.json" <<'PY' || bad "cannot edit the API server's state"
import json, sys
p = sys.argv[1]
d = json.load(open(p))
s = json.dumps(d)
assert "deny-all" in s
def drop(o):
    if isinstance(o, dict):
        return {k: drop(v) for k, v in o.items() if not (isinstance(v, dict) and v.get("metadata", {}).get("name") == "deny-all")}
    if isinstance(o, list):
        return [drop(v) for v in o if not (isinstance(v, dict) and v.get("metadata", {}).get("name") == "deny-all")]
    return o
d = drop(d)
assert "deny-all" not in json.dumps(d)
json.dump(d, open(p, "w"))
PY
api_start --port "$apiport"
wait_for is "['counts']['policies']" 0 ||
	{ for _ in $(seq 200); do is "['counts']['policies']" 0 && break; sleep 0.1; done; }
is "['counts']['policies']" 0 || bad "a policy deleted while the API server was away is still there"
wait_for is "['api']" connected || bad "api after the API server came back: $(field "['api']")"

# The outage shows in the watch metrics (read every 5 s).
# (the page read whole first: grep -q leaving early would make curl die of
# SIGPIPE, and pipefail then fail a match)
restarted() {
	grep -qE '^bulkhead_watch_restarts_total\{resource="pods"\} [1-9]' \
		<<< "$(curl -s "http://127.0.0.1:$port/metrics")"
}
wait_for restarted || wait_for restarted || bad "no watch restart counted for pods"
curl -s "http://127.0.0.1:$port/metrics" > "$tmp/metrics"
if command -v promtool > /dev/null; then
	promtool check metrics < "$tmp/metrics" || bad "promtool check metrics failed"
fi

kill -TERM "$agent"
wait "$agent"
rc=$?
agent=
[ "$rc" = 0 ] || { bad "SIGTERM: exit $rc"; tail -5 "$tmp/agent.log"; }
[ "$fail" = 0 ] && echo "agent_kube: ok"
exit "$fail"
