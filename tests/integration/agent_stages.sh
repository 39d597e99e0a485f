#!/usr/bin/env bash
# netns.agent_stages: the per-namespace stages of 'bulkhead agent
# --snapshot' (docs/lifecycle.md), and of 'bulkhead agent --kubeconfig' on
# the test API server (BH_STAGES_SOURCE=api, netns.agent_stages_api) in a
# node namespace made here
# (tests/integration/lib/topology.sh, the pods of
# tests/data/learn/snapshot.json, no NetworkPolicy), learning for
# LEARN seconds:
#   1. x/web -> y/api TCP 80 is learned; every namespace is in learn and
#      the table holds no proposal chain; 'bulkhead enforce --namespace y'
#      is exit 2 (no proposal yet).
#   2. After the window: y is in preview, its proposal stored (GET
#      /proposal?namespace=y; 'bulkhead proposal --namespace y' prints it,
#      JSON and YAML, y's policies only; while learning it is exit 3, an
#      unknown namespace, a name that is no namespace name or with
#      --compute exit 2), the
#      table holds its chains (pi/y/proposal_...).
#      x/cache-0 -> y/api TCP 80 (never seen) passes and becomes an open
#      alert naming the proposal's policy (no "proposal:" prefix).
#   3. 'bulkhead enforce --namespace y' refuses (exit 2, naming the
#      alert).  'bulkhead allow ID' takes the flow into y's proposal (a
#      new rule from x's cache pods, the alert "allowed"): cache -> api
#      passes in preview without a new alert, and enforce needs no
#      --force now ("namespace y: preview -> enforce"): the learned and
#      the allowed connections pass, y/late-0 -> y/api (never seen) is
#      dropped.
#   4. 'bulkhead preview --all' rolls back: y switched, late -> api
#      passes again, with an alert.
#   5. enforce again, kill -9, restart: y is still in enforce, the same
#      ruleset (nft_canon.py), the connection still dropped; a second
#      kill -9 and restart adopts the table with the same digest.
#   6. 'bulkhead relearn --namespace y': learning again, the proposal
#      chains leave the table, the connection passes.
#   The alert and the report name y's proposal policy as its proposal
#   does.
#   CLI errors: an unknown namespace exit 2, no --namespace/--all exit 2,
#   no agent exit 3.  Every report validates.
# Steps 3 and 5 need the compiler to honour the proposal policies' origin
# (preview vs enforce per namespace); without it proposal policies are
# compiled in the agent's --policy-mode.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_stages: curl missing" >&2; exit 1; }
command -v nft > /dev/null || { echo "agent_stages: nft missing, skipping" >&2; exit 77; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
learn=${BH_STAGES_LEARN:-6}
# (BH_STAGES_POLICY_MODE=preview: the whole table in preview, for a
# compiler that does not read the policies' origin)
mode=${BH_STAGES_POLICY_MODE:+--policy-mode $BH_STAGES_POLICY_MODE}
printf 'interfaces: ["bhv*"]\ncheckpointInterval: 1s\n' > "$out/config.yaml"
api=$(awk '$1 == "y/api-7c8d9f-xyz12" { print $2 }' "$out/pods")
[ -n "$api" ] || { echo "agent_stages: no y/api pod in $snap" >&2; exit 1; }
web=x/web-5f6d8c9b7-abcde
cache=x/cache-0
late=y/late-0

# The cluster: the snapshot file, or (BH_STAGES_SOURCE=api) the test API
# server serving it, on the node namespace's loopback.
source_args=(--snapshot "$snap")
if [ "${BH_STAGES_SOURCE:-snapshot}" = api ]; then
	"$BH_SOURCE_DIR/tests/apiserver/mkcerts.sh" "$out/certs" > /dev/null
	mkdir "$out/data"
	cp "$snap" "$out/data/objects.json"
	topo_bg ip netns exec "$TOPO_NODE" /usr/bin/python3 "$BH_SOURCE_DIR/tests/apiserver/apiserver.py" \
		--dir "$out/data" --cert "$out/certs/server.crt" --key "$out/certs/server.key" \
		--token-file "$out/certs/token" --port-file "$out/port" 2> "$out/api.log"
	for _ in $(seq 100); do [ -s "$out/port" ] && break; sleep 0.1; done
	[ -s "$out/port" ] || { echo "agent_stages: the API server did not start" >&2; exit 1; }
	"$BH_SOURCE_DIR/tests/apiserver/kubeconfig.sh" "$out/kubeconfig" "$(cat "$out/port")"
	source_args=(--kubeconfig "$out/kubeconfig")
fi

agent=
start_agent() { # LOG
	rm -f "$sock"
	topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 "${source_args[@]}" \
		--config "$out/config.yaml" --learn-duration "${learn}s" --state-dir "$state" $mode \
		--socket "$sock" --listen 127.0.0.1:9464 > "$out/$1" 2>&1
	agent=$TOPO_LAST_PID
	agent_wait_ready 300 || { cat "$out/$1"; return 1; }
}
cli() { topo_node_exec "$BULKHEAD" "$@" --socket "$sock"; }
# stage NS: the namespace's stage in /status.
stage() {
	agent_get /status | python3 -c '
import json, sys
s = [x["stage"] for x in json.load(sys.stdin)["stages"] if x["namespace"] == sys.argv[1]]
print(s[0] if s else "none")' "$1"
}
wait_stage() { # NS STAGE SECONDS
	for _ in $(seq $((${3:-10} * 10))); do [ "$(stage "$1")" = "$2" ] && return 0; sleep 0.1; done
	bad "namespace $1 is in $(stage "$1"), expected $2"; return 1
}
# passes FROM: whether TCP 80 from pod FROM to y/api connects (true/false).
passes() {
	echo "y/api $api 80 TCP" | topo_pod_exec "$1" "$(topo_tool probe)" --timeout-ms 1000 |
		grep -q '"ok":true' && echo true || echo false
}
table() { topo_node_exec nft list table inet bulkhead; }
canon() { # OUT: the table's verdicts, class numbering abstracted away
	table > "$out/listing.txt"
	topo_node_exec nft -j list table inet bulkhead > "$out/listing.json"
	python3 "$BH_SOURCE_DIR/tests/integration/lib/nft_canon.py" "$out/listing.txt" \
		"$out/listing.json" > "$out/canon.tmp" || bad "nft_canon.py failed"
	# (the table's comment is the digest of its last full replace; the
	# counters start again)
	python3 - "$out/canon.tmp" > "$1" <<'PY'
import re, sys
# (and the preview log's dynamic set, whose elements expire)
lines = [re.sub(r"counter packets \d+ bytes \d+", "counter", l) for l in open(sys.argv[1])
         if 'comment "bulkhead:' not in l and "expires" not in l]
out = []
for l in lines:
    if l.strip() == "}" and out and out[-1].strip() == "elements = {":
        out.pop()
        continue
    out.append(l)
sys.stdout.write("".join(out))
PY
}
digest() { agent_field "['enforcement']['digest']"; }
settled() {
	for _ in $(seq 100); do
		[ "$(agent_field "['enforcement']['settled']")" = True ] && return 0
		sleep 0.1
	done
	bad "the enforcement did not settle: $(agent_get /status)"
}
# The report validates against the schema (and its cross-references:
# an alert's policy is one of proposals[] or existingPolicies[]).
report_ok() { # OUT
	agent_get /report > "$1"
	python3 "$BH_SOURCE_DIR/scripts/validate-report.py" "$1" > "$1.check" 2>&1 && return 0
	cat "$1.check"
	bad "$1 is not a valid report"
}

# --- 1. learning ---
start_agent agent.log || exit 1
[ "$(stage y)" = learn ] && [ "$(stage x)" = learn ] || bad "not learning at start: $(agent_get /status)"
for _ in 1 2 3; do [ "$(passes "$web")" = true ] || bad "web -> api 80 did not connect"; done
cli enforce --namespace y > "$out/early.out" 2> "$out/early.err"
rc=$?
[ "$rc" = 2 ] && grep -q "still learning until" "$out/early.err" && [ ! -s "$out/early.out" ] ||
	bad "enforce while learning: exit $rc: $(cat "$out/early.err")"
table | grep -q 'proposal_' && bad "a proposal chain while learning"
cli proposal --namespace y > "$out/early-prop.out" 2> "$out/early-prop.err"
rc=$?
[ "$rc" = 3 ] && grep -q "no proposal of that namespace yet" "$out/early-prop.err" ||
	bad "proposal --namespace y while learning: exit $rc: $(cat "$out/early-prop.err")"

# --- 2. preview ---
wait_stage y preview $((learn + 15)) || { cat "$out/agent.log"; exit 1; }
wait_stage x preview 5
settled
agent_get '/proposal?namespace=y' > "$out/proposal-y.json"
python3 - "$out/proposal-y.json" <<'PY' || bad "y's proposal: $(head -c 400 "$out/proposal-y.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "List" and d["items"], d
assert all(i["metadata"]["namespace"] == "y" for i in d["items"]), d
assert any(i["spec"]["podSelector"].get("matchLabels", {}).get("app") == "api" and
           "Ingress" in i["spec"]["policyTypes"] for i in d["items"]), d
PY
cli proposal --namespace y -o json > "$out/proposal-y.cli.json" ||
	bad "proposal --namespace y -o json: exit $?"
cmp -s "$out/proposal-y.json" "$out/proposal-y.cli.json" ||
	bad "proposal --namespace y differs from GET /proposal?namespace=y"
cli proposal --namespace y > "$out/proposal-y.yaml" || bad "proposal --namespace y: exit $?"
python3 - "$out/proposal-y.yaml" "$out/proposal-y.json" <<'PY' || bad "proposal --namespace y (YAML): $(head -c 400 "$out/proposal-y.yaml")"
import json, re, sys
text, d = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
assert text.startswith("apiVersion: v1\nkind: List\n"), text[:80]
# ("y" is quoted: YAML 1.1 reads it as a boolean)
assert re.findall(r'^    namespace: "?([^"\s]+)"?$', text, re.M) == ["y"] * len(d["items"]), text
assert sorted(re.findall(r"^    name: (\S+)$", text, re.M)) == sorted(
    i["metadata"]["name"] for i in d["items"]), text
PY
cli proposal --namespace nope > "$out/ns-nope.out" 2> "$out/ns-nope.err"
rc=$?
[ "$rc" = 2 ] && grep -q "no namespace 'nope' on this agent" "$out/ns-nope.err" && [ ! -s "$out/ns-nope.out" ] ||
	bad "proposal --namespace nope: exit $rc: $(cat "$out/ns-nope.err")"
cli proposal --namespace 'y&format=xml' > /dev/null 2> "$out/ns-bad.err"
[ $? = 2 ] || bad "proposal --namespace 'y&format=xml': not exit 2: $(cat "$out/ns-bad.err")"
cli proposal --namespace y --compute > /dev/null 2> "$out/ns-compute.err"
[ $? = 2 ] || bad "proposal --namespace y --compute: not exit 2: $(cat "$out/ns-compute.err")"
table > "$out/table-preview.nft"
grep -q 'pi/y/proposal_' "$out/table-preview.nft" || bad "no proposal chain of y in the table"
[ "$(passes "$web")" = true ] || bad "web -> api 80 (learned) does not pass in preview"
[ "$(passes "$cache")" = true ] || bad "cache -> api 80 does not pass in preview"
for _ in $(seq 50); do
	[ "$(agent_get /alerts | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 1 ] && break
	sleep 0.1
done
agent_get /alerts > "$out/alerts.json"
read -r id apol < <(python3 - "$out/alerts.json" <<'PY'
import json, sys
a = [x for x in json.load(open(sys.argv[1])) if x["dst"].get("workload") == "y/Deployment/api"]
assert len(a) == 1, a
a = a[0]
assert a["src"]["workload"] == "x/StatefulSet/cache" and a["port"] == 80 and a["state"] == "open", a
assert a["policy"].startswith("y/") and "proposal:" not in a["policy"], a
print(a["id"], a["policy"])
PY
)
[ -n "${apol:-}" ] || bad "the alert of cache -> api: $(cat "$out/alerts.json")"
report_ok "$out/report-preview.json"
python3 - "$out/report-preview.json" <<'PY' || bad "the report in preview"
import json, sys
r = json.load(open(sys.argv[1]))
assert not [p for p in r["existingPolicies"] if "proposal:" in p["name"]], r["existingPolicies"]
y = [n for n in r["namespaces"] if n["name"] == "y"][0]
assert y["mode"] == "preview", y
# The alert in the report: the pods, the port, the deciding policy, which
# is one of y's proposals (and says why).
a = [x for x in r["alerts"] if x["dst"].get("workload") == "y/Deployment/api"]
assert len(a) == 1, r["alerts"]
a = a[0]
assert a["src"]["pod"] == "cache-0" and a["dst"]["pod"] == "api-7c8d9f-xyz12", a
assert a["port"] == 80 and a["protocol"] == "TCP" and a["direction"] == "ingress", a
ns, name = a["policy"].split("/", 1)
pol = [p for p in r["proposals"] if p["namespace"] == ns and p["name"] == name]
assert ns == "y" and len(pol) == 1, (a["policy"], [(p["namespace"], p["name"]) for p in r["proposals"]])
assert name in a["explanation"], a
PY

# pcount VERDICT: bulkhead_policy_packets_total of y's proposal policy
# that decided the alert (labelled "proposal:NAME"), waited for up to 8 s
# to reach at least 1 (the counters are read every 5 s).
ppol="proposal:${apol#y/}"
pcount() {
	local n
	for _ in $(seq 80); do
		n=$(node_curl http://127.0.0.1:9464/metrics | awk -v p="$ppol" -v v="$1" \
			'index($0, "bulkhead_policy_packets_total{namespace=\"y\",policy=\"" p "\",verdict=\"" v "\"}") == 1 { print $2 }')
		[ "${n:-0}" -ge 1 ] && break
		sleep 0.1
	done
	echo "${n:-0}"
}
[ "$(pcount would_deny)" -ge 1 ] || bad "no would_deny packets counted for y/$ppol in preview"

# --- 3. enforce: refused while the alert is open; allow; enforce ---
cli enforce --namespace y > "$out/refused.out" 2> "$out/refused.err"
rc=$?
[ "$rc" = 2 ] && grep -q "$id" "$out/refused.err" && [ "$(stage y)" = preview ] ||
	bad "enforce with an open alert: exit $rc: $(cat "$out/refused.err")"
cli allow 0123456789abcdef > /dev/null 2> "$out/allow-unknown.err"
rc=$?
[ "$rc" = 2 ] && grep -q "no alert '0123456789abcdef'" "$out/allow-unknown.err" ||
	bad "allow of an unknown alert: exit $rc: $(cat "$out/allow-unknown.err")"
gen_before=$(agent_get '/proposal?namespace=y' | md5sum)
cli allow "$id" > "$out/allow.out" 2> "$out/allow.err" || bad "allow: exit $?: $(cat "$out/allow.err")"
grep -qx "$id: allowed, x/StatefulSet/cache (cache-0) -> y/Deployment/api (api-7c8d9f-xyz12) TCP/80 is allowed by the proposal" "$out/allow.out" ||
	bad "allow printed: $(cat "$out/allow.out")"
settled
agent_get '/proposal?namespace=y' > "$out/proposal-y2.json"
[ "$(md5sum < "$out/proposal-y2.json")" != "$gen_before" ] || bad "allow did not change y's proposal"
python3 - "$out/proposal-y2.json" <<'PY' || bad "y's amended proposal: $(cat "$out/proposal-y2.json")"
import json, sys
d = json.load(open(sys.argv[1]))
api = [i for i in d["items"] if i["spec"]["podSelector"].get("matchLabels", {}).get("app") == "api"
       and "Ingress" in i["spec"]["policyTypes"]]
assert len(api) == 1, api
peers = [p for r in api[0]["spec"].get("ingress", []) for p in r.get("from", [])]
assert any(p.get("podSelector", {}).get("matchLabels", {}).get("app") == "cache" and
           p.get("namespaceSelector") for p in peers), peers
PY
# kubectl takes the amended proposal as it is served (YAML).
agent_get '/proposal?namespace=y&format=yaml' > "$out/proposal-y2.yaml"
"$BH_SOURCE_DIR/tests/golden/propose_kubectl.sh" "$out/proposal-y2.yaml" > "$out/kubectl.out" 2>&1 ||
	bad "kubectl refused the amended proposal: $(cat "$out/kubectl.out")"
count() { agent_get /alerts | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin) if x["id"] == sys.argv[1]]
print(a[0]["state"] + " " + str(a[0]["count"]) if a else "none")' "$1"; }
c1=$(count "$id")
[ "${c1% *}" = allowed ] || bad "the alert is $c1 after allow"
cli dismiss "$id" > /dev/null 2> "$out/dismiss-allowed.err"
rc=$?
[ "$rc" = 2 ] && grep -q "is allowed" "$out/dismiss-allowed.err" && [ "$(count "$id")" = "$c1" ] ||
	bad "dismiss of an allowed alert: exit $rc: $(cat "$out/dismiss-allowed.err")"
[ "$(passes "$cache")" = true ] || bad "cache -> api 80 does not pass after allow"
sleep 1.5
[ "$(count "$id")" = "$c1" ] || bad "cache -> api 80 was logged again after allow: $c1 -> $(count "$id")"
cli enforce --namespace y > "$out/enforce.out" 2> "$out/enforce.err" ||
	bad "enforce after allow: exit $?: $(cat "$out/enforce.err")"
[ "$(cat "$out/enforce.out")" = "namespace y: preview -> enforce" ] ||
	bad "enforce printed: $(cat "$out/enforce.out")"
[ "$(stage y)" = enforce ] || bad "y is in $(stage y) after enforce"
settled
[ "$(passes "$web")" = true ] || bad "web -> api 80 (learned) does not pass in enforce"
[ "$(passes "$cache")" = true ] || bad "cache -> api 80 (allowed) does not pass in enforce"
[ "$(passes "$late")" = false ] || bad "late -> api 80 (never seen) passes in enforce"
[ "$(pcount dropped)" -ge 1 ] || bad "no dropped packets counted for y/$ppol in enforce"

# --- 4. the rollback ---
cli preview --all > "$out/preview.out" 2> "$out/preview.err" || bad "preview --all: exit $?"
grep -qx "namespace y: enforce -> preview" "$out/preview.out" &&
	grep -qx "namespace x: already in preview" "$out/preview.out" ||
	bad "preview --all printed: $(cat "$out/preview.out")"
settled
[ "$(passes "$late")" = true ] || bad "late -> api 80 does not pass after the rollback"
late_alert() { agent_get /alerts | python3 -c '
import json, sys
sys.exit(not [a for a in json.load(sys.stdin) if a["state"] == "open" and a["port"] == 80 and
              (a["src"].get("pod") or "").startswith("late-")])'; }
for _ in $(seq 50); do late_alert && break; sleep 0.1; done
late_alert || bad "late -> api 80 raised no alert after the rollback: $(agent_get /alerts)"
report_ok "$out/report-rollback.json"

# --- 5. kill -9 and restart in enforce ---
# The stage switch went in as an incremental batch: the restart compiles
# the same ruleset (the same verdicts, nft_canon.py) and replaces the
# table once (it holds deltas); a second restart adopts it, same digest.
cli enforce --namespace y --force > /dev/null || bad "enforce again: exit $?"
settled
canon "$out/canon-before.txt"
kill_9() { kill -9 "$(pgrep -P "$agent" -x bulkhead || echo "$agent")"; wait "$agent" 2> /dev/null; }
kill_9
start_agent agent2.log || exit 1
settled
[ "$(stage y)" = enforce ] || bad "y is in $(stage y) after the restart"
canon "$out/canon-after.txt"
cmp -s "$out/canon-before.txt" "$out/canon-after.txt" ||
	bad "the ruleset changed across the restart: $(diff "$out/canon-before.txt" "$out/canon-after.txt" | head -12)"
[ "$(passes "$late")" = false ] || bad "late -> api 80 passes after the restart"
[ "$(passes "$web")" = true ] || bad "web -> api 80 does not pass after the restart"
d1=$(digest)
kill_9
start_agent agent3.log || exit 1
settled
[ "$(stage y)" = enforce ] || bad "y is in $(stage y) after the second restart"
[ "$(digest)" = "$d1" ] || bad "the digest changed across the second restart: $d1 -> $(digest)"
[ "$(agent_field "['enforcement']['table']")" = adopted ] ||
	bad "the table was not adopted: $(agent_field "['enforcement']")"

# --- 6. relearn ---
cli relearn --namespace y > "$out/relearn.out" || bad "relearn: exit $?"
[ "$(cat "$out/relearn.out")" = "namespace y: enforce -> learn" ] ||
	bad "relearn printed: $(cat "$out/relearn.out")"
settled
table | grep -q 'pi/y/proposal_' && bad "y's proposal chains stay after relearn"
[ "$(passes "$late")" = true ] || bad "late -> api 80 does not pass after relearn"
report_ok "$out/report-relearn.json"

# --- CLI errors ---
cli enforce --namespace nope > /dev/null 2> "$out/nope.err"
rc=$?
[ "$rc" = 2 ] && grep -q "no namespace 'nope'" "$out/nope.err" || bad "unknown namespace: exit $rc"
cli preview > /dev/null 2> "$out/usage.err"
[ $? = 2 ] || bad "preview without --namespace or --all: not exit 2"
topo_node_exec "$BULKHEAD" enforce --all --socket "$out/none.sock" > /dev/null 2>&1
[ $? = 3 ] || bad "enforce with no agent: not exit 3"

topo_kill "$agent"
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$out"/agent*.log && bad "sanitizer report"
[ "$fail" = 0 ] && echo "agent_stages: ok"
exit "$fail"
