#!/usr/bin/env bash
# integration.cluster_conflicts: two 'bulkhead agent --cluster' processes
# (node-1, node-2; started by this test by pid, --no-enforce, no root) on
# the test API server (tests/apiserver, TLS and a bearer token), each state
# directory filled by tests/tools/state_db_tool as if the agent had learned
# flows (300 and 500 between distinct addresses) and taken one preview
# alert (docs/cluster.md):
#   - both start at once while the server answers the next writes 409
#     Conflict: each NodeFlows object ends up with all its node's flows (one
#     record each, as flows.json v1 records) and its alert, status.truncated
#     0, and no write gave up (/status nodeFlows: conflicts seen, no
#     failure);
#   - PolicyMode and Proposal objects put through _control switch the
#     agents' stages: a Proposal in namespace x makes it preview (no
#     PolicyMode), PolicyMode x enforce makes it enforce, PolicyMode all
#     learn (later) learn; /status's stages say so, the stored proposal is
#     the Proposal's policy (GET /proposal?namespace=x), and each NodeFlows'
#     status.applied reports the stage with the PolicyMode's switchedAt and
#     the Proposal's computedAt, also while writes conflict;
#   - a write of the proposal is a new generation only when it changed;
#   - steady state: no content change costs no write (idle, 3 intervals).
#   - as root, all of it in a network namespace of its own with node-1
#     enforcing: the proposal's rules are in table inet bulkhead in preview
#     and enforce and gone in learn; restarted, node-1's first build has
#     the stored proposal (compiled from its state database before the
#     API's objects are followed); node-1's open preview alert whose flow the
#     amended Proposal allows becomes "allowed".
set -uo pipefail
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
# As root: again inside a namespace of its own (its loopback), deleted after.
if [ -z "${BH_CL_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v nft > /dev/null &&
	ip netns add "bhclc-$$" 2> /dev/null; then
	ip -n "bhclc-$$" link set lo up
	BH_CL_NETNS=1 ip netns exec "bhclc-$$" "$0" "$@"
	rc=$?
	ip netns del "bhclc-$$"
	exit "$rc"
fi
src=$BH_SOURCE_DIR
tmp=$(mktemp -d /tmp/bh-clconf.XXXXXX)
a1= a2=
cleanup() {
	[ -n "$a1" ] && kill "$a1" 2> /dev/null && wait "$a1" 2> /dev/null
	[ -n "$a2" ] && kill "$a2" 2> /dev/null && wait "$a2" 2> /dev/null
	api_stop
	[ -n "${BH_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"

mkdir "$tmp/data"
cp "$src/tests/data/learn/snapshot.json" "$tmp/data/objects.json"
api_start
control() { api_control; }
get() { api_get "$1"; } # PATH
G=bulkhead.io/v1alpha1
# The project's resources, as CRDs register them on a real server (the
# manifests' CRDs carry the full schemas; these the fields only).
crd() { # PLURAL KIND SCOPE [SUBRESOURCES]
	cat <<J | control > /dev/null
{"op": "put", "object": {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "$1.bulkhead.io"},
 "spec": {"group": "bulkhead.io", "scope": "$3",
  "names": {"plural": "$1", "singular": "${2,,}", "kind": "$2", "listKind": "$2List"},
  "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": ${4:-{\}},
   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}}
J
}
crd nodeflows NodeFlows Cluster
crd policymodes PolicyMode Cluster
crd proposals Proposal Namespaced '{"status": {}}'

tool=$BH_BUILD_DIR/tests/tools/state_db_tool
mkdir "$tmp/s1" "$tmp/s2"
"$tool" "$tmp/s1" fill 300 1 > /dev/null || bad "state_db_tool fill node-1"
"$tool" "$tmp/s2" fill 500 2 > /dev/null || bad "state_db_tool fill node-2"
# node-1's alert: y/api's address -> x/cache-0 TCP 6379, denied by the
# ingress of the proposal of x (below), open.
python3 - "$tmp/s1/state.db" <<'PY' || bad "cannot set node-1's alert"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE alerts SET src_workload = '10.77.1.1/32', dst_workload = 'x/StatefulSet/cache', "
           "src_pod = NULL, dst_pod = 'cache-0', port = 6379, proto = 6, direction = 'ingress', "
           "policy = 'x/bulkhead-cache-ingress', state = 'open'")
db.commit()
PY

# node-1 enforces in the namespace of its own (one table per namespace).
enforce() { [ -n "${BH_CL_NETNS:-}" ] && [ "$1" = 1 ]; }
start() { # N
	local noenf=--no-enforce
	enforce "$1" && noenf=
	"$BULKHEAD" agent --node "node-$1" --kubeconfig "$tmp/kubeconfig" --cluster --cluster-interval 1s \
		--state-dir "$tmp/s$1" $noenf --socket "$tmp/a$1.sock" --listen "" > "$tmp/a$1.log" 2>&1 &
	eval "a$1=$!"
}
# Writes answered 409 from now on: the agents' first creates and patches.
echo '{"op": "fault", "fault": "conflict", "count": 12}' | control > /dev/null
start 1
start 2

wait_for() { # TENTHS CMD...
	local n=$1
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
status() { # N EXPR
	curl -s --unix-socket "$tmp/a$1.sock" http://agent/status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$2"
}
# The NodeFlows object of node N, checked by a Python expression on it (d).
nf() { # N EXPR
	get "/apis/$G/nodeflows/node-$1" |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$2" 2> /dev/null
}
has_all() { # N FLOWS
	[ "$(nf "$1" "(len(d['spec']['flows']), len(d['status']['alerts']), d['status']['truncated'])")" = "($2, 1, 0)" ]
}
wait_for 100 has_all 1 300 || bad "node-1's NodeFlows: $(nf 1 "(len(d['spec']['flows']), len(d['status']['alerts']), d['status']['truncated'])")"
wait_for 100 has_all 2 500 || bad "node-2's NodeFlows: $(nf 2 "(len(d['spec']['flows']), len(d['status']['alerts']), d['status']['truncated'])")"
# The records are flows.json v1 records of this node's flows, sorted.
nf 1 "d['spec']['node'] == 'node-1' and all(f['protocol'] == 'TCP' and f['src']['ip'].startswith('10.0.') and f['seen_by'] == ['pcap'] for f in d['spec']['flows'])" |
	grep -qx True || bad "node-1's flow records: $(nf 1 "d['spec']['flows'][:2]")"
python3 - "$tmp/s2" <<'PY' > /dev/null || true
PY
conflicts=$(( $(status 1 "d['nodeFlows']['conflicts']") + $(status 2 "d['nodeFlows']['conflicts']") ))
[ "$conflicts" -ge 1 ] || bad "no conflict was answered to the agents (12 injected)"
for n in 1 2; do
	[ "$(status $n "d['nodeFlows']['failures']")" = 0 ] || bad "node-$n: a write failed: $(status $n "d['nodeFlows']")"
done

# --- the stages follow PolicyMode and Proposal objects ---
prop='{"apiVersion": "'$G'", "kind": "Proposal", "metadata": {"name": "bulkhead-cache", "namespace": "x",
 "labels": {"app.kubernetes.io/managed-by": "bulkhead"}},
 "spec": {"workload": {"kind": "StatefulSet", "name": "cache"}, "computedAt": "COMPUTED",
  "nodes": ["node-1"], "policies": [{"name": "bulkhead-cache-ingress",
   "labels": {"app.kubernetes.io/managed-by": "bulkhead"}, "annotations": {},
   "spec": {"podSelector": {"matchLabels": {"app": "cache"}}, "policyTypes": ["Ingress"],
    "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}]}, "rules": [{"flows": []}]}]}}'
put_prop() { # COMPUTED PORT
	local o=${prop/COMPUTED/$1}
	echo "{\"op\": \"put\", \"object\": ${o/PORT/$2}}" | control > /dev/null
}
stage_of() { # N NS
	status "$1" "[s['stage'] for s in d['stages'] if s['namespace'] == '$2']"
}
applied() { # N NS
	nf "$1" "[(p['stage'], p['modeSwitchedAt'], p['proposalsComputedAt'], p['error'] == '', p['appliedAt'] != '') for p in d['status']['applied'] if p['namespace'] == '$2']"
}
is_stage() { [ "$(stage_of "$1" "$2")" = "['$3']" ]; }
is_applied() { [ "$(applied "$1" "$2")" = "$3" ]; }

for n in 1 2; do
	wait_for 100 is_applied $n x "[('learn', '', '', True, True)]" ||
		bad "node-$n: x before any object: $(applied $n x)"
done
# The proposal's port in node-1's table (enforcing only): its rule's port
# set, "elements = { tcp . PORT }".
table_has() { # PORT yes|no
	local t
	t=$(nft list table inet bulkhead 2> /dev/null)
	if [ "$2" = yes ]; then grep -q "tcp . $1 }" <<< "$t"; else ! grep -q "tcp . $1 }" <<< "$t"; fi
}
if enforce 1; then
	wait_for 100 table_has 8080 no || bad "port 8080 in the table while x learns"
fi
put_prop "2026-12-04T10:01:00.000Z" 8080
for n in 1 2; do
	wait_for 100 is_stage $n x preview || bad "node-$n: a Proposal without PolicyMode: $(stage_of $n x)"
	wait_for 100 is_applied $n x "[('preview', '', '2026-12-04T10:01:00.000Z', True, True)]" ||
		bad "node-$n: applied after the Proposal: $(applied $n x)"
done
if enforce 1; then
	wait_for 100 table_has 8080 yes || bad "the proposal's port 8080 not in the table in preview"
fi
"$BULKHEAD" proposal --socket "$tmp/a1.sock" --namespace x -o json > "$tmp/p1.json" 2> "$tmp/p1.err" ||
	bad "proposal of x on node-1: $(cat "$tmp/p1.err")"
python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
it = d['items']
assert [p['metadata']['name'] for p in it] == ['bulkhead-cache-ingress'], it
assert it[0]['spec']['ingress'][0]['ports'][0]['port'] == 8080, it
" "$tmp/p1.json" || bad "the stored proposal of x is not the Proposal's policy"

# A switch while writes conflict: applied still reaches the objects.
echo '{"op": "fault", "fault": "conflict", "count": 4}' | control > /dev/null
sw=2026-12-04T10:05:00.123Z
echo '{"op": "put", "object": {"apiVersion": "'$G'", "kind": "PolicyMode", "metadata": {"name": "x"},
 "spec": {"mode": "enforce", "namespace": "x", "switchedAt": "'$sw'", "force": false}}}' | control > /dev/null
for n in 1 2; do
	wait_for 100 is_stage $n x enforce || bad "node-$n: PolicyMode x enforce: $(stage_of $n x)"
	wait_for 100 is_applied $n x "[('enforce', '$sw', '2026-12-04T10:01:00.000Z', True, True)]" ||
		bad "node-$n: applied after PolicyMode x enforce: $(applied $n x)"
	[ "$(status $n "d['nodeFlows']['failures']")" = 0 ] || bad "node-$n: a write failed: $(status $n "d['nodeFlows']")"
done
alert_state() { curl -s --unix-socket "$tmp/a1.sock" http://agent/alerts |
	python3 -c "import json, sys; print([a['state'] for a in json.load(sys.stdin)])"; }
if enforce 1; then
	wait_for 100 table_has 8080 yes || bad "the proposal's port 8080 not in the table in enforce"
	[ "$(alert_state)" = "['open']" ] || bad "node-1's alert before the amendment: $(alert_state)"
	# A restart compiles what the state database holds (x enforced with
	# its stored proposal): its first build has the proposal's policy,
	# before any object of the API is followed.
	kill "$a1"
	wait "$a1"
	a1=
	mv "$tmp/a1.log" "$tmp/a1-first.log"
	start 1
	taken() { grep -q 'enforcement: compiling' "$tmp/a1.log"; }
	wait_for 100 taken || bad "node-1 restarted: no table taken"
	grep -m1 -E 'enforcement: compiling|cluster: namespace' "$tmp/a1.log" |
		grep -q 'compiling 4 pods, 1 policies' ||
		bad "node-1 restarted: its first build is not the stored proposal's: $(grep -m1 -E 'compiling|cluster: namespace' "$tmp/a1.log")"
	wait_for 100 is_stage 1 x enforce || bad "node-1 restarted: x $(stage_of 1 x)"
	wait_for 100 table_has 8080 yes || bad "node-1 restarted: the proposal's port 8080 not in the table"
fi
# The same Proposal put again: no new generation; an amended one: one.
gen() { grep -c "namespace 'x': proposal generation" "$tmp/a$1.log"; }
g0=$(gen 1)
put_prop "2026-12-04T10:01:00.000Z" 8080
sleep 1
[ "$(gen 1)" = "$g0" ] || bad "an unchanged Proposal made a new generation"
put_prop "2026-12-04T10:01:00.000Z" 6379
gen_is() { [ "$(gen 1)" = "$1" ]; }
wait_for 50 gen_is $((g0 + 1)) || bad "an amended Proposal made no new generation"
"$BULKHEAD" proposal --socket "$tmp/a1.sock" --namespace x -o json |
	grep -q 6379 || bad "the amended proposal is not stored"
if enforce 1; then
	wait_for 100 table_has 6379 yes || bad "the amended port 6379 not in the table"
	allowed() { [ "$(alert_state)" = "['allowed']" ]; }
	wait_for 50 allowed ||
		bad "node-1's alert the amended proposal allows: $(alert_state)"
	nf_allowed() { [ "$(nf 1 "[a['state'] for a in d['status']['alerts']]")" = "['allowed']" ]; }
	wait_for 50 nf_allowed ||
		bad "node-1's NodeFlows alert after the amendment: $(nf 1 "d['status']['alerts']")"
fi
# PolicyMode all learn, later than x's: learn while the proposals are older.
echo '{"op": "put", "object": {"apiVersion": "'$G'", "kind": "PolicyMode", "metadata": {"name": "all"},
 "spec": {"mode": "learn", "namespace": "", "switchedAt": "2026-12-04T11:00:00.000Z"}}}' | control > /dev/null
for n in 1 2; do
	wait_for 100 is_stage $n x learn || bad "node-$n: PolicyMode all learn: $(stage_of $n x)"
	wait_for 100 is_applied $n x "[('learn', '2026-12-04T11:00:00.000Z', '2026-12-04T10:01:00.000Z', True, True)]" ||
		bad "node-$n: applied after PolicyMode all learn: $(applied $n x)"
done
if enforce 1; then
	wait_for 100 table_has 6379 no || bad "the proposal's port 6379 still in the table in learn"
fi

# The workstation's verb (agent/cli_cluster*.c) on these agents: one
# PolicyMode write, then it waits on every NodeFlows' status.applied.
"$BULKHEAD" preview --kubeconfig "$tmp/kubeconfig" --namespace x --timeout 20 > "$tmp/preview.out" 2>&1 ||
	bad "bulkhead preview --namespace x (both agents reporting it): $(cat "$tmp/preview.out")"
for n in 1 2; do
	is_stage $n x preview || bad "node-$n after 'bulkhead preview': $(stage_of $n x)"
done

# --- steady state: nothing changed, nothing written ---
# (the switch's own writes over: the alerts of x name no policy in learn)
sleep 2.5
w0=$(status 1 "d['nodeFlows']['requests']")
sleep 3.5
w1=$(status 1 "d['nodeFlows']['requests']")
[ "$w1" = "$w0" ] || bad "idle: node-1 sent $((w1 - w0)) requests in 3.5 intervals"

for n in 1 2; do
	grep -q 'level=err' "$tmp/a$n.log" && bad "node-$n logged errors: $(grep 'level=err' "$tmp/a$n.log" | head -3)"
done
[ "$fail" = 0 ] || { echo "--- node-1"; tail -30 "$tmp/a1.log"; echo "--- api"; tail -20 "$tmp/api.log"; }
exit "$fail"
