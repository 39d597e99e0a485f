#!/usr/bin/env bash
# netns.propose_e2e: learn -> propose -> apply --mode enforce, end to end in
# network namespaces (tests/integration/lib/topology.sh).  An application
# (frontend -> api x2 on TCP 80 and UDP 81, api -> db on TCP 81, across two
# namespaces) makes its traffic while `bulkhead learn` captures the pods'
# veths and conntrack in the node namespace; `bulkhead propose` turns the
# flows into policies (self-check: every flow allowed); `bulkhead apply`
# enforces them in the node namespace.  Then the same traffic still passes,
# and connections the application never made are refused: frontend
# straight to the database, frontend to api on a port it never used,
# the database calling back, the api calling the frontend.
# Exit 77 without root.
set -euo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
snap="$BH_SOURCE_DIR/tests/data/propose/e2e-snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
TOPO_PORTS="80 81" topo_start_servers
topo_on_exit "ip netns exec '$TOPO_NODE' '$BULKHEAD' reset >/dev/null 2>&1 || true"

fe=shop/frontend-6b7f8c9d5-aaaaa api1=shop/api-5d4c8b7f9-bbbbb api2=shop/api-5d4c8b7f9-ccccc
db=data/db-0
probe=$(topo_tool probe)
try() { # FROM ADDR PORT PROTO -> prints the probe's JSON line
	echo "t $2 $3 $4" | topo_pod_exec "$1" "$probe" --timeout-ms 600
}
must_pass() {
	local r
	r=$(try "$@")
	echo "$r" | grep -q '"ok":true' || { echo "FAIL: $* should pass: $r"; exit 1; }
	echo "pass: $*"
}
must_fail() {
	local r
	r=$(try "$@")
	echo "$r" | grep -q '"ok":false' || { echo "FAIL: $* should be refused: $r"; exit 1; }
	echo "refused: $* ($(echo "$r" | grep -o '"result":"[a-z]*"'))"
}
traffic() {
	must_pass $fe 10.79.0.2 80 TCP
	must_pass $fe 10.79.0.3 80 TCP
	must_pass $fe 10.79.0.2 81 UDP
	must_pass $api1 10.79.1.1 81 TCP
	must_pass $api2 10.79.1.1 81 TCP
}

# 1. learn while the application runs
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" learn --interface 'bhv*' --conntrack \
	--snapshot "$snap" --node node-1 -o "$TOPO_DIR/flows.json"
learn_pid=$TOPO_LAST_PID
sleep 1.5
traffic
traffic
sleep 0.5
kill -TERM "$learn_pid"
wait "$learn_pid" || { echo "FAIL: learn exited $?"; exit 1; }

# 2. propose (the self-check must cover every learned flow)
"$BULKHEAD" propose --flows "$TOPO_DIR/flows.json" --snapshot "$snap" -o json \
	--out-file "$TOPO_DIR/policies.json" 2> "$TOPO_DIR/propose.err" ||
	{ cat "$TOPO_DIR/propose.err"; exit 1; }
cat "$TOPO_DIR/propose.err"
grep -Eq 'self-check: ([0-9]+)/\1 learned flows allowed' "$TOPO_DIR/propose.err" ||
	{ echo "FAIL: self-check did not cover every flow"; exit 1; }
python3 - "$TOPO_DIR/policies.json" <<'PY'
import json, sys
names = sorted(p["metadata"]["namespace"] + "/" + p["metadata"]["name"]
               for p in json.load(open(sys.argv[1]))["items"])
want = ["data/bulkhead-db-egress", "data/bulkhead-db-ingress",
        "shop/bulkhead-api-egress", "shop/bulkhead-api-ingress",
        "shop/bulkhead-frontend-egress", "shop/bulkhead-frontend-ingress"]
print("policies:", names)
sys.exit(0 if names == want else 1)
PY

# Before enforcing, the connections to be refused below do work (the
# learner is stopped: they are not learned), so a refusal is the policy's.
must_pass $fe 10.79.1.1 81 TCP
must_pass $db 10.79.0.2 80 TCP

# 3. enforce, in the node namespace only
topo_node_exec "$BULKHEAD" apply --snapshot "$snap" --snapshot "$TOPO_DIR/policies.json" \
	--node node-1 --mode enforce
topo_neigh_flush

# 4. the same traffic passes; what the application never did is refused
traffic
must_fail $fe 10.79.1.1 81 TCP   # frontend straight to the database
must_fail $fe 10.79.1.1 80 TCP
must_fail $fe 10.79.0.2 81 TCP   # api, a port/protocol never used
must_fail $db 10.79.0.2 80 TCP   # the database calling the api
must_fail $api1 10.79.0.1 80 TCP # the api calling the frontend
must_fail $api1 10.79.0.3 80 TCP # api to api
echo "netns.propose_e2e: ok"
