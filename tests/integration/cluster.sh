#!/usr/bin/env bash
# netns.cluster: issue 16's acceptance end to end (docs/cluster.md), on the
# two-node cluster of tests/integration/lib/cluster.sh: node-a and node-b
# routed to each other, shop's pods on both (frontend, client, one api pod
# on node-a; the other api pod and db on node-b), the test API server and
# the workstation in a namespace of their own, one real `bulkhead agent
# --cluster` per node in its node namespace (learning 12 s, NodeFlows
# written at most every 1 s).
#   1. Traffic within and across nodes is learned on both: each node's
#      NodeFlows holds its workload edges, and the connection counts show
#      both the node's own and the other node's pods' connections.
#   2. One Proposal per workload (bulkhead-frontend, -api, -client, -db),
#      api's and db's computed from both nodes (spec.nodes, and the rules'
#      flows name both); status.mode preview; both agents apply shop's
#      proposals in preview (NodeFlows status.applied); `bulkhead proposal
#      -o yaml` prints plain NetworkPolicies.
#   3. A new cross-node flow in preview (client on node-a -> db on node-b)
#      becomes an alert on the right node: db's ingress on node-b, and
#      (client being isolated for egress) client's egress on node-a, no
#      other; `bulkhead alerts` lists them.
#   4. `bulkhead enforce --all` refuses (exit 2) naming them; `bulkhead
#      allow` takes them into the proposals (the alerts become allowed).
#   5. `bulkhead enforce --all`: one PolicyMode write, both agents report
#      enforce; the learned and the allowed connections pass, unobserved
#      ones are refused in both directions across nodes (frontend -> db,
#      db -> frontend) and within a node.
#   6. `bulkhead preview --all` rolls back: both agents in preview, the
#      unobserved connections pass.
#   7. The time from `bulkhead enforce --all` to both agents dropping,
#      measured by a prober in each direction whose connection only one of
#      the agents decides (--force: the probers' own packets are alerts
#      while in preview), printed; rolled back again.
#   8. `bulkhead export`: the cluster report validates
#      (scripts/validate-report.py) and holds both nodes' flows.
#   9. kill -9 of the Lease holder: the other agent takes the Lease within
#      the lease duration; `bulkhead relearn --namespace shop` (exit 4
#      naming the dead node, whose agent cannot report), and the next
#      proposals (computed by the new holder) still hold both nodes'
#      flows.
# Every wait is for a condition, with generous limits (CI: 2 cores, ASan).
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/cluster.sh"

topo_init
cluster_setup
out=$TOPO_DIR
G=/apis/bulkhead.io/v1alpha1
# Generous limits (tenths of a second): an ASan build on a loaded runner.
slow=${BH_CLUSTER_WAIT:-600}
step() { cl_log "--- $*"; }
# dump: what the agents and the API server said, on failure.
dump() {
	local n
	for n in a b; do
		echo "--- agent node-$n (last 40 lines)"
		tail -n 40 "$out/agent-$n.log"
	done
	echo "--- API server (last 20 lines)"
	tail -n 20 "$out/api.log"
}
die() { bad "$*"; dump; exit 1; }

# py FILE CODE...: runs Python CODE with the JSON of FILE as d (and
# sys.argv[2:] as args); its exit status is the check's.
py() {
	local f=$1
	shift
	"$TOPO_PY" -c "
import json, sys
d = json.load(open(sys.argv[1]))
args = sys.argv[2:]
$1" "$f" "${@:2}"
}
# nodeflows NODE OUT: the node's NodeFlows object.
nodeflows() { cl_api "$G/nodeflows/node-$1" > "$2"; }
# applied NODE STAGE [SINCE]: NODE's NodeFlows reports shop applied at
# STAGE (with modeSwitchedAt >= SINCE, RFC 3339, when given).
applied() {
	nodeflows "$1" "$out/nf-$1.json" &&
		py "$out/nf-$1.json" '
a = [x for x in d.get("status", {}).get("applied", []) if x["namespace"] == "shop"]
sys.exit(not (a and a[0]["stage"] == args[0] and not a[0].get("error") and
              (len(args) < 2 or a[0].get("modeSwitchedAt", "") >= args[1])))' "${@:2}"
}
# agent_stage NODE: shop's stage in NODE's agent's /status.
agent_stage() {
	cl_agent_get "$1" /status | "$TOPO_PY" -c '
import json, sys
s = [x["stage"] for x in json.load(sys.stdin).get("stages", []) if x["namespace"] == "shop"]
print(s[0] if s else "none")'
}
# traffic: the application's connections, each a few times (counts that
# tell the nodes' own pods from the other node's: 3, 4, 5 and 6).
traffic() {
	local i
	for i in 1 2 3; do
		[ "$(cl_pass client frontend 80)" = true ] || bad "client -> frontend 80 (node-a) failed"
		[ "$(cl_pass frontend api-a 80)" = true ] || bad "frontend -> api-a 80 (node-a) failed"
	done
	for i in 1 2 3 4; do
		[ "$(cl_pass frontend api-b 80)" = true ] || bad "frontend -> api-b 80 (node-a -> node-b) failed"
	done
	for i in 1 2 3 4 5; do
		[ "$(cl_pass api-a db 81)" = true ] || bad "api-a -> db 81 (node-a -> node-b) failed"
	done
	for i in 1 2 3 4 5 6; do
		[ "$(cl_pass api-b db 81)" = true ] || bad "api-b -> db 81 (node-b) failed"
	done
}
app_passes() { # WHEN
	[ "$(cl_pass client frontend 80)" = true ] || bad "$1: client -> frontend 80 (node-a) does not pass"
	[ "$(cl_pass frontend api-a 80)" = true ] || bad "$1: frontend -> api-a 80 (node-a) does not pass"
	[ "$(cl_pass frontend api-b 80)" = true ] || bad "$1: frontend -> api-b 80 (a -> b) does not pass"
	[ "$(cl_pass api-a db 81)" = true ] || bad "$1: api-a -> db 81 (a -> b) does not pass"
	[ "$(cl_pass api-b db 81)" = true ] || bad "$1: api-b -> db 81 (node-b) does not pass"
}
lease() { cl_api /apis/coordination.k8s.io/v1/namespaces/bulkhead-system/leases/bulkhead-proposer; }
holder() { lease | "$TOPO_PY" -c 'import json, sys; print(json.load(sys.stdin).get("spec", {}).get("holderIdentity") or "")' 2> /dev/null; }

# --- the agents ---
for n in a b; do cluster_agent "$n"; done
for n in a b; do
	cl_wait "$slow" cl_ready "$n" || die "node-$n's agent not ready"
done

# --- 1. learned on both nodes ---
step "1. learning"
traffic
# (the flows in NodeFlows: written within --cluster-interval of a change)
learned() { # NODE SRC DST PORT MIN: NODE's NodeFlows has the edge with >= MIN connections
	nodeflows "$1" "$out/nf-$1.json" && py "$out/nf-$1.json" '
src, dst, port, least = args[0], args[1], int(args[2]), int(args[3])
def wl(e):
    w = e.get("workload") or {}
    return "%s/%s/%s" % (e.get("namespace"), w.get("kind"), w.get("name"))
f = [x for x in d["spec"]["flows"] if wl(x["src"]) == src and wl(x["dst"]) == dst and
     x["protocol"] == "TCP" and x["port"] == port]
sys.exit(not (len(f) == 1 and f[0]["connections"] >= least))' "${@:2}"
}
FE=shop/Deployment/frontend API=shop/Deployment/api DB=shop/StatefulSet/db CL=shop/Deployment/client
# node-a: its own (client -> frontend 3, frontend -> api-a 3) and its
# pods' to node-b (frontend -> api-b 4: 7 in all; api-a -> db 5).
# node-b: node-a's pods' (frontend -> api-b 4; api-a -> db 5) and its own
# (api-b -> db 6: 11 in all).
for e in "a $CL $FE 80 3" "a $FE $API 80 7" "a $API $DB 81 5" "b $FE $API 80 4" "b $API $DB 81 11"; do
	set -- $e
	cl_wait "$slow" learned "$@" || bad "node-$1's NodeFlows lacks $2 -> $3 $4 (>= $5 connections): $(head -c 1500 "$out/nf-$1.json")"
done
nodeflows a "$out/nf-a.json"
py "$out/nf-a.json" '
s = d["spec"]
assert d["metadata"]["name"] == "node-a" and s["node"] == "node-a", d["metadata"]
assert not [f for f in s["flows"] if f["src"].get("workload", {}).get("name") == "db"], "node-a saw db as a client"
' || bad "node-a's NodeFlows: $(head -c 600 "$out/nf-a.json")"
[ "$fail" = 0 ] || die "learning"

# --- 2. the proposals ---
step "2. proposals"
proposals() { cl_api "$G/namespaces/shop/proposals" > "$out/proposals.json"; }
# (status.mode: the holder writes it after the objects)
four() {
	proposals && py "$out/proposals.json" '
i = d.get("items", [])
sys.exit(sorted(x["metadata"]["name"] for x in i) !=
         ["bulkhead-api", "bulkhead-client", "bulkhead-db", "bulkhead-frontend"] or
         any(x.get("status", {}).get("mode") != "preview" for x in i))'
}
cl_wait "$slow" four || die "not one Proposal per workload: $(head -c 1500 "$out/proposals.json")"
py "$out/proposals.json" '
items = {i["metadata"]["name"]: i for i in d["items"]}
want = {"bulkhead-api": ("Deployment", "api"), "bulkhead-client": ("Deployment", "client"),
        "bulkhead-db": ("StatefulSet", "db"), "bulkhead-frontend": ("Deployment", "frontend")}
for name, (kind, wl) in want.items():
    p = items[name]
    assert p["kind"] == "Proposal" and p["apiVersion"] == "bulkhead.io/v1alpha1", p
    assert p["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "bulkhead", p["metadata"]
    assert p["spec"]["workload"] == {"kind": kind, "name": wl}, p["spec"]["workload"]
    assert p["spec"]["policies"], name
    for pol in p["spec"]["policies"]:
        assert pol["name"].startswith(name + "-"), pol["name"]
        assert "podSelector" in pol["spec"], pol
        n = len(pol["spec"].get("ingress", [])) + len(pol["spec"].get("egress", []))
        assert len(pol.get("rules", [])) == n, (pol["name"], n, pol.get("rules"))
    assert p.get("status", {}).get("mode") == "preview", (name, p.get("status"))
# The api workload has pods on both nodes, db is reached from both: their
# proposals are computed from both nodes flows.
for name in ("bulkhead-api", "bulkhead-db", "bulkhead-frontend"):
    assert items[name]["spec"]["nodes"] == ["node-a", "node-b"], (name, items[name]["spec"]["nodes"])
assert items["bulkhead-client"]["spec"]["nodes"] == ["node-a"], items["bulkhead-client"]["spec"]["nodes"]
def flows(name):
    return [f for pol in items[name]["spec"]["policies"] for r in pol["rules"] for f in r["flows"]]
fa = [f for f in flows("bulkhead-api") if f["src"] == "shop/Deployment/frontend" and f["dst"] == "shop/Deployment/api"]
assert fa and all(f["port"] == 80 and f["protocol"] == "TCP" for f in fa), flows("bulkhead-api")
assert sorted(set(n for f in fa for n in f["nodes"])) == ["node-a", "node-b"], fa
fd = [f for f in flows("bulkhead-db") if f["src"] == "shop/Deployment/api" and f["dst"] == "shop/StatefulSet/db"]
assert fd and all(f["port"] == 81 for f in fd), flows("bulkhead-db")
assert sorted(set(n for f in fd for n in f["nodes"])) == ["node-a", "node-b"], fd
# (11 connections to db: 5 from node-a s api pod, 6 from node-b s)
assert max(f["connections"] for f in fd) >= 11, fd
' || bad "the Proposal objects: $(head -c 3000 "$out/proposals.json")"
# Never a NetworkPolicy object: the cluster's CNI sees nothing.
cl_api /apis/networking.k8s.io/v1/networkpolicies > "$out/netpols.json"
py "$out/netpols.json" 'sys.exit(len(d.get("items", [])) != 0)' || bad "a NetworkPolicy object appeared: $(cat "$out/netpols.json")"
for n in a b; do
	cl_wait "$slow" applied "$n" preview || bad "node-$n does not report shop applied in preview: $(head -c 1500 "$out/nf-$n.json")"
	[ "$(agent_stage "$n")" = preview ] || bad "node-$n's /status: shop in $(agent_stage "$n")"
done
cl_cli proposal -o yaml > "$out/proposal.yaml" 2> "$out/proposal.err" || bad "proposal -o yaml: exit $?: $(cat "$out/proposal.err")"
"$TOPO_PY" - "$out/proposal.yaml" "$out/proposals.json" <<'PY' || bad "proposal -o yaml printed: $(head -c 800 "$out/proposal.yaml")"
import json, sys
import yaml
docs = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x]
items = []
for x in docs:
    items.extend(x["items"] if x.get("kind") == "List" else [x])
assert items and all(i["kind"] == "NetworkPolicy" and i["apiVersion"] == "networking.k8s.io/v1" for i in items), docs
want = sorted(p["name"] for o in json.load(open(sys.argv[2]))["items"] for p in o["spec"]["policies"])
assert sorted(i["metadata"]["name"] for i in items) == want, (want, [i["metadata"]["name"] for i in items])
assert all(i["metadata"]["namespace"] == "shop" for i in items), items
PY
[ "$fail" = 0 ] || die "proposals"

# --- 3. a new cross-node flow in preview: an alert on the right node ---
step "3. a new cross-node flow"
[ "$(cl_pass client db 81)" = true ] || bad "client -> db 81 (new, a -> b) does not pass in preview"
# alerts_of NODE OUT: the open alerts of client -> db 81 in NODE's NodeFlows.
alerts_of() {
	nodeflows "$1" "$out/nf-$1.json" && py "$out/nf-$1.json" '
a = [x for x in d.get("status", {}).get("alerts", [])
     if x["src"].get("workload") == "shop/Deployment/client" and x["dst"].get("workload") == "shop/StatefulSet/db"
     and x["port"] == 81]
json.dump(a, open(args[0], "w"))' "$2"
}
has_ingress_alert() { alerts_of b "$out/alerts-b.json" && py "$out/alerts-b.json" 'sys.exit(not d)'; }
has_egress_alert() { alerts_of a "$out/alerts-a.json" && py "$out/alerts-a.json" 'sys.exit(not d)'; }
cl_wait "$slow" has_ingress_alert || die "no alert of client -> db on node-b: $(head -c 1500 "$out/nf-b.json")"
cl_wait "$slow" has_egress_alert || die "no alert of client -> db on node-a: $(head -c 1500 "$out/nf-a.json")"
alerts_of a "$out/alerts-a.json"
alerts_of b "$out/alerts-b.json"
py "$out/alerts-b.json" '
assert len(d) == 1 and d[0]["direction"] == "ingress" and d[0]["state"] == "open", d
assert d[0]["policy"] == "shop/bulkhead-db-ingress", d' || bad "node-b's alerts of client -> db: $(cat "$out/alerts-b.json")"
# client's egress: its proposal allows frontend only, so node-a (where the
# packet left) alerts too, and only for the egress.
py "$out/alerts-a.json" '
assert len(d) == 1 and d[0]["direction"] == "egress" and d[0]["state"] == "open", d
assert d[0]["policy"] == "shop/bulkhead-client-egress", d' || bad "node-a's alerts of client -> db: $(cat "$out/alerts-a.json")"
ids=$("$TOPO_PY" -c '
import json, sys
print(" ".join(sorted(a["id"] for f in sys.argv[1:] for a in json.load(open(f)))))' "$out/alerts-a.json" "$out/alerts-b.json")
cl_cli alerts > "$out/alerts.out" 2> "$out/alerts.err" || bad "alerts: exit $?: $(cat "$out/alerts.err")"
for id in $ids; do grep -q "$id" "$out/alerts.out" || bad "bulkhead alerts does not list $id: $(cat "$out/alerts.out")"; done
grep -q node-a "$out/alerts.out" && grep -q node-b "$out/alerts.out" || bad "bulkhead alerts does not name the nodes: $(cat "$out/alerts.out")"

# --- 4. enforce refused while they are open; allow ---
step "4. refused, allow"
cl_cli enforce --all > "$out/refused.out" 2> "$out/refused.err"
rc=$?
[ "$rc" = 2 ] || bad "enforce --all with open alerts: exit $rc: $(cat "$out/refused.out" "$out/refused.err")"
for id in $ids; do grep -q "$id" "$out/refused.err" || bad "the refusal does not name $id: $(cat "$out/refused.err")"; done
[ "$(cl_api "$G/policymodes/all" -o /dev/null -w '%{http_code}')" = 404 ] || bad "a refused enforce wrote PolicyMode all"
# shellcheck disable=SC2086
cl_cli allow $ids > "$out/allow.out" 2> "$out/allow.err" || bad "allow: exit $?: $(cat "$out/allow.err")"
no_open() {
	local n
	for n in a b; do
		nodeflows "$n" "$out/nf-$n.json" &&
			py "$out/nf-$n.json" 'sys.exit(any(a["state"] == "open" for a in d.get("status", {}).get("alerts", [])))' ||
			return 1
	done
}
cl_wait "$slow" no_open || bad "alerts still open after allow: $(cat "$out/nf-a.json" "$out/nf-b.json" | head -c 2000)"
cl_api "$G/namespaces/shop/proposals/bulkhead-db" > "$out/prop-db.json"
py "$out/prop-db.json" '
peers = [p for pol in d["spec"]["policies"] if "Ingress" in pol["spec"]["policyTypes"]
         for r in pol["spec"].get("ingress", []) for p in r.get("from", [])]
assert any(p.get("podSelector", {}).get("matchLabels", {}).get("app") == "client" for p in peers), peers
' || bad "allow did not amend db's Proposal: $(head -c 1500 "$out/prop-db.json")"
[ "$fail" = 0 ] || die "alerts and allow"

# --- 5. enforce --all ---
step "5. enforce --all"
t0=$(date +%s%N)
cl_cli enforce --all > "$out/enforce.out" 2> "$out/enforce.err" || bad "enforce --all: exit $?: $(cat "$out/enforce.err")"
t1=$(date +%s%N)
cl_log "enforce --all returned after $(((t1 - t0) / 1000000)) ms: $(tr '\n' ' ' < "$out/enforce.out")"
grep -q enforce "$out/enforce.out" || bad "enforce --all printed: $(cat "$out/enforce.out")"
cl_api "$G/policymodes/all" > "$out/pm-all.json"
sw=$(py "$out/pm-all.json" '
s = d["spec"]
assert s["mode"] == "enforce" and s.get("namespace", "") == "", s
print(s["switchedAt"])') || bad "PolicyMode all: $(cat "$out/pm-all.json")"
# The CLI returned once every agent reported it: nothing to wait for.
for n in a b; do
	applied "$n" enforce "$sw" || bad "node-$n does not report enforce after the CLI returned: $(head -c 1500 "$out/nf-$n.json")"
	[ "$(agent_stage "$n")" = enforce ] || bad "node-$n's /status: shop in $(agent_stage "$n")"
done
app_passes "enforce"
[ "$(cl_pass client db 81)" = true ] || bad "client -> db 81 (allowed) does not pass in enforce"
[ "$(cl_pass frontend db 81 600)" = false ] || bad "frontend -> db 81 (never seen, a -> b) passes in enforce"
[ "$(cl_pass db frontend 80 600)" = false ] || bad "db -> frontend 80 (never seen, b -> a) passes in enforce"
[ "$(cl_pass api-b frontend 80 600)" = false ] || bad "api-b -> frontend 80 (never seen, b -> a) passes in enforce"
[ "$(cl_pass client api-a 80 600)" = false ] || bad "client -> api-a 80 (never seen, node-a) passes in enforce"
[ "$fail" = 0 ] || die "enforce"

# --- 6. preview --all: the rollback ---
step "6. preview --all"
cl_cli preview --all > "$out/preview.out" 2> "$out/preview.err" || bad "preview --all: exit $?: $(cat "$out/preview.err")"
grep -q preview "$out/preview.out" || bad "preview --all printed: $(cat "$out/preview.out")"
for n in a b; do
	applied "$n" preview || bad "node-$n does not report preview after the rollback: $(head -c 1500 "$out/nf-$n.json")"
done
[ "$(cl_pass frontend db 81)" = true ] || bad "frontend -> db 81 does not pass after the rollback"
[ "$(cl_pass db frontend 80)" = true ] || bad "db -> frontend 80 does not pass after the rollback"
app_passes "after the rollback"
[ "$fail" = 0 ] || die "rollback"

# --- 7. the time from enforce --all to both agents dropping ---
# Each prober's connection is one only one agent drops: ghost-a (node-a,
# an address the cluster does not know, so nothing isolates it) to db is
# dropped by node-b's agent (db's ingress), ghost-b to frontend by
# node-a's.  Both directions across the nodes.
step "7. timed switch"
probe_start() { # FROM TO PORT OUT
	topo_bg ip netns exec "$(topo_pod_ns "${CL_POD[$1]}")" "$TOPO_PY" \
		"$BH_SOURCE_DIR/tests/integration/lib/switch_probe.py" \
		"${CL_POD_IP[${CL_POD[$2]}]}" "$3" "$4" --stop "$out/stop"
}
[ "$(cl_pass ghost-a db 81)" = true ] || bad "ghost-a -> db 81 does not pass in preview"
[ "$(cl_pass ghost-b frontend 80)" = true ] || bad "ghost-b -> frontend 80 does not pass in preview"
rm -f "$out/stop"
probe_start ghost-a db 81 "$out/probe-b"
pb=$TOPO_LAST_PID
probe_start ghost-b frontend 80 "$out/probe-a"
pa=$TOPO_LAST_PID
probing() { [ -s "$out/probe-a" ] && [ -s "$out/probe-b" ]; }
cl_wait 100 probing || bad "the probers did not start"
t0=$(date +%s%N)
cl_cli enforce --all --force > "$out/enforce2.out" 2> "$out/enforce2.err" || bad "enforce --all --force: exit $?: $(cat "$out/enforce2.err")"
t1=$(date +%s%N)
dropped() {
	da=$("$TOPO_PY" "$BH_SOURCE_DIR/tests/integration/lib/switch_probe.py" --when "$out/probe-a" "$t0" drop)
	db=$("$TOPO_PY" "$BH_SOURCE_DIR/tests/integration/lib/switch_probe.py" --when "$out/probe-b" "$t0" drop)
	[ "$da" != none ] && [ "$db" != none ]
}
cl_wait "$slow" dropped || bad "not dropped by both agents: node-a $da ms, node-b $db ms"
sleep 0.5
dropped || bad "the drop did not hold: node-a $da, node-b $db"
touch "$out/stop"
topo_kill "$pa"
topo_kill "$pb"
echo "cluster: enforce --all to dropping: node-a's agent $da ms, node-b's $db ms (ghost-b -> frontend, ghost-a -> db); the CLI returned in $(((t1 - t0) / 1000000)) ms"
cl_cli preview --all > /dev/null 2> "$out/preview2.err" || bad "preview --all (2): exit $?: $(cat "$out/preview2.err")"
[ "$(cl_pass ghost-a db 81)" = true ] || bad "ghost-a -> db 81 does not pass after the second rollback"
[ "$(cl_pass ghost-b frontend 80)" = true ] || bad "ghost-b -> frontend 80 does not pass after the second rollback"

# --- 8. the cluster report ---
step "8. export"
cl_cli export -o "$out/report.json" > /dev/null 2> "$out/export.err" ||
	bad "export: exit $?: $(cat "$out/export.err")"
"$TOPO_PY" "$BH_SOURCE_DIR/scripts/validate-report.py" "$out/report.json" > "$out/report.check" 2>&1 ||
	bad "the cluster report is not valid: $(head -20 "$out/report.check")"
py "$out/report.json" '
text = json.dumps(d)
for pod in ("frontend-6b7c8d9f4-fa001", "api-5d6e7f8a9-aa001", "api-5d6e7f8a9-bb002", "db-0"):
    assert pod in text, pod
assert d.get("nodes") == ["node-a", "node-b"], d.get("nodes")
assert [p for p in d["proposals"] if p["namespace"] == "shop"], d["proposals"]
# the alert of client -> db (one id per key: the two nodes alerts are one of
# the report), allowed
a = [x for x in d["alerts"] if x["src"].get("workload") == "shop/Deployment/client" and x["port"] == 81]
assert len(a) == 1 and a[0]["state"] == "allowed", a
' || bad "the cluster report lacks a node's part: $(head -c 800 "$out/report.json")"

# --- 9. kill -9 the Lease holder ---
step "9. kill -9 the holder"
h=$(holder)
case $h in node-a) survivor=b dead=a ;; node-b) survivor=a dead=b ;; *) die "no Lease holder: $(lease)" ;; esac
lease > "$out/lease-before.json"
trans=$(py "$out/lease-before.json" 'print(d["spec"].get("leaseTransitions", 0))')
kill -9 "$(cluster_agent_pid "$dead")"
wait "${CL_AGENT[$dead]}" 2> /dev/null
tk=$(date +%s)
taken() { [ "$(holder)" = "node-$survivor" ]; }
# (the lease duration is 15 s; a takeover within it, generously waited for)
cl_wait 600 taken || die "node-$survivor did not take the Lease: $(lease)"
cl_log "node-$survivor took the Lease $(($(date +%s) - tk)) s after node-$dead was killed"
lease > "$out/lease-after.json"
py "$out/lease-after.json" 'assert d["spec"].get("leaseTransitions", 0) > int(args[0]), d["spec"]' "$trans" ||
	bad "leaseTransitions did not grow: $(cat "$out/lease-after.json")"
since=$(date -u +%Y-%m-%dT%H:%M:%S)
# (the dead node's agent never reports learn: the CLI waits its --timeout
# and says so, exit 4, naming it)
cl_cli relearn --namespace shop --timeout 5s > "$out/relearn.out" 2> "$out/relearn.err"
rc=$?
[ "$rc" = 4 ] && grep -q "node-$dead" "$out/relearn.err" && ! grep -q "node-$survivor" "$out/relearn.err" ||
	bad "relearn --namespace shop with node-$dead dead: exit $rc: $(cat "$out/relearn.out" "$out/relearn.err")"
recomputed() {
	proposals && py "$out/proposals.json" '
items = d.get("items", [])
sys.exit(not (len(items) == 4 and all(i["spec"]["computedAt"] >= args[0] for i in items)))' "$since"
}
cl_wait "$slow" recomputed || die "no new proposals from node-$survivor: $(head -c 1500 "$out/proposals.json")"
py "$out/proposals.json" '
items = {i["metadata"]["name"]: i for i in d["items"]}
for name in ("bulkhead-api", "bulkhead-db", "bulkhead-frontend"):
    assert items[name]["spec"]["nodes"] == ["node-a", "node-b"], (name, items[name]["spec"]["nodes"])
fd = [f for pol in items["bulkhead-db"]["spec"]["policies"] for r in pol["rules"] for f in r["flows"]
      if f["src"] == "shop/Deployment/api"]
assert sorted(set(n for f in fd for n in f["nodes"])) == ["node-a", "node-b"], fd
# client -> db, allowed, is a learned flow now (both nodes saw it)
assert [f for pol in items["bulkhead-db"]["spec"]["policies"] for r in pol["rules"] for f in r["flows"]
        if f["src"] == "shop/Deployment/client"], items["bulkhead-db"]["spec"]
' || bad "the proposals after the takeover: $(head -c 3000 "$out/proposals.json")"
cl_wait "$slow" applied "$survivor" preview || bad "node-$survivor does not apply the new proposals"
[ "$(cl_pass frontend api-b 80)" = true ] || bad "frontend -> api-b 80 does not pass after the takeover"

for n in a b; do topo_kill "${CL_AGENT[$n]}"; done
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$out"/agent-*.log && bad "sanitizer report"
[ "$fail" = 0 ] || { dump; exit 1; }
echo "cluster: ok"
exit 0
