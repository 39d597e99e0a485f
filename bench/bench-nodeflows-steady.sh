#!/usr/bin/env bash
# bench-nodeflows-steady.sh (root, from the source directory, after a build
# in ./build): API writes of a node's NodeFlows object under steady
# traffic.  In a network namespace of its own: the test API server, an
# HTTP server on 10.99.0.1:8080, an agent --cluster --conntrack
# --no-enforce (--cluster-interval INTERVAL, default 5s) and a client
# connecting every 0.2 s, so the flow's counts change all the time; after
# 5 s, the writes of its NodeFlows the server counted in SECS (default 60)
# seconds.  Expected: one write per interval (SECS / INTERVAL).
set -uo pipefail
ns=bhsteady-$$
ip netns add $ns; ip -n $ns link set lo up
ip -n $ns addr add 10.99.0.1/24 dev lo
echo 'table inet ctprobe { chain input { type filter hook input priority 0; ct state new counter; }; }' | ip netns exec $ns nft -f -
tmp=$(mktemp -d)
src=$PWD
cleanup() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; ip netns del $ns; rm -rf $tmp; }
trap cleanup EXIT
X="ip netns exec $ns"
"$src/tests/apiserver/mkcerts.sh" "$tmp/certs" > /dev/null
mkdir $tmp/data; cp tests/data/learn/snapshot.json $tmp/data/objects.json
$X python3 tests/apiserver/apiserver.py --dir $tmp/data --cert $tmp/certs/server.crt --key $tmp/certs/server.key --token-file $tmp/certs/token --port-file $tmp/port 2>$tmp/api.log &
for _ in $(seq 100); do [ -s $tmp/port ] && break; sleep 0.1; done
port=$(cat $tmp/port)
tests/apiserver/kubeconfig.sh $tmp/kubeconfig $port
control() { $X curl -sk -X POST --data-binary @- "https://127.0.0.1:$port/_control"; }
echo '{"op":"put","object":{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"nodeflows.bulkhead.io"},"spec":{"group":"bulkhead.io","scope":"Cluster","names":{"plural":"nodeflows","singular":"nodeflows","kind":"NodeFlows","listKind":"NodeFlowsList"},"versions":[{"name":"v1alpha1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}}' | control >/dev/null
$X python3 -m http.server --bind 10.99.0.1 8080 >/dev/null 2>&1 &
$X build/agent/bulkhead agent --node node-s --kubeconfig $tmp/kubeconfig --cluster --cluster-interval ${INTERVAL:-5}s --conntrack --state-dir $tmp/s --no-enforce --socket $tmp/a.sock --listen "" > $tmp/a.log 2>&1 &
sleep 3
( while :; do $X curl -s -o /dev/null http://10.99.0.1:8080/ ; sleep 0.2; done ) &
sleep 5
st() { curl -s --unix-socket $tmp/a.sock http://agent/status | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodeFlows']['apiAttempts'], d['counts'] if 'counts' in d else '')"; }
w() { echo '{"op": "stats"}' | control | python3 -c "import json, sys; print(json.load(sys.stdin)['writes_by_object'].get('nodeflows', {}).get('node-s', 0))"; }
w0=$(w); s0=$(st)
sleep ${SECS:-60}
w1=$(w); s1=$(st)
echo "steady traffic: $((w1 - w0)) NodeFlows writes in ${SECS:-60} s at --cluster-interval ${INTERVAL:-5}s (agent attempts $s0 -> $s1)"
curl -s --unix-socket $tmp/a.sock http://agent/status | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['nodeFlows'])"
