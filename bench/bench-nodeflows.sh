#!/usr/bin/env bash
# bench-nodeflows.sh BULKHEAD BUILD_DIR [FLOWS] [SECONDS] [INTERVAL]: the cost
# of a node's NodeFlows object in cluster mode (docs/cluster.md), on the
# test API server (tests/apiserver) on loopback, agents --no-enforce:
#   1. build: an agent whose state directory holds FLOWS learned flows
#      (default 1,000,000, tests/tools/state_db_tool: distinct sources, 7
#      destinations) writes its object; prints the time the build held the
#      child process and the loop (/status nodeFlows.buildMicroseconds,
#      loopMicroseconds: fork and read; median of 3 builds, the agent
#      restarted each time), the object's size and the records left out
#      (status.truncated);
#   2. steady state: an agent with 300 flows and --cluster-interval
#      INTERVAL (default 5s) left alone for SECONDS (default 60): the API
#      writes it sent (the server's writes_by_object for its NodeFlows, and
#      its own kube_write_stats attempts), per minute.
# Steady traffic (a content change every interval) costs one write per
# interval by construction; the idle figure is what this measures.
set -euo pipefail
bulkhead=$1 build=$2 flows=${3:-1000000} secs=${4:-60} interval=${5:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"
mkdir "$tmp/data"
cp "$src/tests/data/learn/snapshot.json" "$tmp/data/objects.json"
api_start
port=$apiport
control() { api_control; }
for r in "nodeflows NodeFlows Cluster" "policymodes PolicyMode Cluster" "proposals Proposal Namespaced"; do
	set -- $r
	cat <<J | control > /dev/null
{"op": "put", "object": {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "$1.bulkhead.io"},
 "spec": {"group": "bulkhead.io", "scope": "$3",
  "names": {"plural": "$1", "singular": "${2,,}", "kind": "$2", "listKind": "$2List"},
  "versions": [{"name": "v1alpha1", "served": true, "storage": true,
   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}}
J
done
start() { # NODE STATE INTERVAL
	"$bulkhead" agent --node "$1" --kubeconfig "$tmp/kubeconfig" --cluster --cluster-interval "$3" \
		--state-dir "$2" --no-enforce --socket "$tmp/a.sock" --listen "" > "$tmp/$1.log" 2>&1 &
	pid=$!
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }
st() { curl -s --unix-socket "$tmp/a.sock" http://agent/status |
	python3 -c "import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$1" 2> /dev/null; }

mkdir "$tmp/big" "$tmp/small"
"$build/tests/tools/state_db_tool" "$tmp/big" fill "$flows" 1 > /dev/null
"$build/tests/tools/state_db_tool" "$tmp/small" fill 300 1 > /dev/null
builds=() loops=()
for run in 1 2 3; do
	start node-big "$tmp/big" 60s
	for _ in $(seq 1200); do [ "$(st "d['nodeFlows']['writes']")" -ge 1 ] 2> /dev/null && break; sleep 0.1; done
	builds+=("$(st "d['nodeFlows']['buildMicroseconds']")")
	loops+=("$(st "d['nodeFlows']['loopMicroseconds']")")
	stop
done
size=$(curl -sk -H "Authorization: Bearer $(cat "$tmp/certs/token")" \
	"https://127.0.0.1:$port/apis/bulkhead.io/v1alpha1/nodeflows/node-big" | wc -c)
trunc=$(curl -sk -H "Authorization: Bearer $(cat "$tmp/certs/token")" \
	"https://127.0.0.1:$port/apis/bulkhead.io/v1alpha1/nodeflows/node-big" |
	python3 -c "import json, sys; d = json.load(sys.stdin); print(len(d['spec']['flows']), d['status']['truncated'])")
med=$(printf '%s\n' "${builds[@]}" | sort -n | sed -n 2p)
lmed=$(printf '%s\n' "${loops[@]}" | sort -n | sed -n 2p)
echo "build: $flows flows: $((med / 1000)) ms in the child (median of ${builds[*]} us), the loop held $((lmed / 1000)) ms (fork and read: ${loops[*]} us); object $size bytes; records kept, truncated: $trunc"

start node-idle "$tmp/small" "$interval"
for _ in $(seq 100); do [ "$(st "d['nodeFlows']['writes']")" -ge 1 ] 2> /dev/null && break; sleep 0.1; done
w0=$(echo '{"op": "stats"}' | control |
	python3 -c "import json, sys; print(json.load(sys.stdin)['writes_by_object'].get('nodeflows', {}).get('node-idle', 0))")
a0=$(st "d['nodeFlows']['apiAttempts']")
sleep "$secs"
w1=$(echo '{"op": "stats"}' | control |
	python3 -c "import json, sys; print(json.load(sys.stdin)['writes_by_object'].get('nodeflows', {}).get('node-idle', 0))")
a1=$(st "d['nodeFlows']['apiAttempts']")
stop
python3 -c "
import sys
w, a, s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
print('idle: %d NodeFlows writes (server), %d requests (agent) in %d s at --cluster-interval %s: %.2f writes/min' % (w, a, s, sys.argv[4], w * 60 / s))
" $((w1 - w0)) $((a1 - a0)) "$secs" "$interval"
