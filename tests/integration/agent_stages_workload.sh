#!/usr/bin/env bash
# netns.agent_stages_workload: one workload switched on its own
# (docs/lifecycle.md, "Workload overrides") on 'bulkhead agent
# --snapshot' in a node namespace made here (tests/integration/lib/
# topology.sh, the pods of tests/data/learn/snapshot.json, no
# NetworkPolicy), learning for LEARN seconds:
#   1. x/web -> y/api and x/web -> y/late TCP 80 are learned: y's proposal
#      isolates both workloads (a policy for each, annotated with it).
#      'bulkhead enforce --workload y/Deployment/api' while y is learning
#      is exit 2.
#   2. y in preview: 'enforce --workload y/Deployment/api' prints
#      "workload y/Deployment/api: preview -> enforce"; y stays in
#      preview, /status lists the override.  x/cache-0 -> y/api (never
#      seen) is dropped; x/cache-0 -> y/late (never seen) passes, with an
#      open alert of late's policy, and 'enforce --workload
#      y/StatefulSet/late' refuses (exit 2, naming it).
#   3. kill -9, restart: the override is kept, cache -> api still dropped.
#   4. 'preview --workload y/Deployment/api' rolls back: cache -> api
#      passes again.
#   5. A namespace switch clears the overrides: y enforced, then
#      'preview --workload y/Deployment/api' (api passes, late dropped),
#      then 'preview --namespace y' and 'enforce --namespace y --force':
#      no override left, cache -> api dropped.
#   CLI errors: an unknown workload exit 2, --workload with --namespace
#   exit 2.  Every report validates.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_stages_workload: curl missing" >&2; exit 1; }
command -v nft > /dev/null || { echo "agent_stages_workload: nft missing, skipping" >&2; exit 77; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
learn=${BH_STAGES_LEARN:-6}
printf 'interfaces: ["bhv*"]\ncheckpointInterval: 1s\n' > "$out/config.yaml"
api=$(awk '$1 == "y/api-7c8d9f-xyz12" { print $2 }' "$out/pods")
late_ip=$(awk '$1 == "y/late-0" { print $2 }' "$out/pods")
[ -n "$api" ] && [ -n "$late_ip" ] || { echo "agent_stages_workload: no y/api or y/late pod in $snap" >&2; exit 1; }
web=x/web-5f6d8c9b7-abcde
cache=x/cache-0
wapi=y/Deployment/api
wlate=y/StatefulSet/late

agent=
start_agent() { # LOG
	rm -f "$sock"
	topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$snap" \
		--config "$out/config.yaml" --learn-duration "${learn}s" --state-dir "$state" \
		--socket "$sock" --listen 127.0.0.1:9464 > "$out/$1" 2>&1
	agent=$TOPO_LAST_PID
	agent_wait_ready 300 || { cat "$out/$1"; return 1; }
}
cli() { topo_node_exec "$BULKHEAD" "$@" --socket "$sock"; }
# stage NS [WORKLOAD]: the namespace's stage in /status, or the
# workload's override ("none" without one).
stage() {
	agent_get /status | python3 -c '
import json, sys
s = [x["stage"] for x in json.load(sys.stdin)["stages"]
     if x["namespace"] == sys.argv[1] and x.get("workload") == (sys.argv[2] if len(sys.argv) > 2 else None)]
print(s[0] if s else "none")' "$@"
}
wait_stage() { # NS STAGE SECONDS
	for _ in $(seq $((${3:-10} * 10))); do [ "$(stage "$1")" = "$2" ] && return 0; sleep 0.1; done
	bad "namespace $1 is in $(stage "$1"), expected $2"; return 1
}
# passes FROM TO: whether TCP 80 from pod FROM to y/api or y/late connects.
passes() {
	local ip=$api
	[ "$2" = late ] && ip=$late_ip
	echo "y/$2 $ip 80 TCP" | topo_pod_exec "$1" "$(topo_tool probe)" --timeout-ms 1000 |
		grep -q '"ok":true' && echo true || echo false
}
settled() {
	for _ in $(seq 100); do
		[ "$(agent_field "['enforcement']['settled']")" = True ] && return 0
		sleep 0.1
	done
	bad "the enforcement did not settle: $(agent_get /status)"
}
report_ok() { # OUT
	agent_get /report > "$1"
	python3 "$BH_SOURCE_DIR/scripts/validate-report.py" "$1" > "$1.check" 2>&1 && return 0
	cat "$1.check"
	bad "$1 is not a valid report"
}
# expect RC OUT_OR_ERR_PATTERN CMD...: exit RC, and the pattern in the output
expect() {
	local rc=$1 pat=$2
	shift 2
	cli "$@" > "$out/cmd.out" 2> "$out/cmd.err"
	local got=$?
	[ "$got" = "$rc" ] && grep -q -- "$pat" "$out/cmd.out" "$out/cmd.err" && return 0
	bad "'$*': exit $got (expected $rc, '$pat'): $(cat "$out/cmd.out" "$out/cmd.err")"
}

# --- 1. learning ---
start_agent agent.log || exit 1
for _ in 1 2 3; do
	[ "$(passes "$web" api)" = true ] || bad "web -> api 80 did not connect"
	[ "$(passes "$web" late)" = true ] || bad "web -> late 80 did not connect"
done
expect 2 "namespace 'y' is in learn" enforce --workload "$wapi"

# --- 2. one workload enforced, the other in preview ---
wait_stage y preview $((learn + 15)) || { cat "$out/agent.log"; exit 1; }
settled
agent_get '/proposal?namespace=y' > "$out/proposal-y.json"
python3 - "$out/proposal-y.json" <<'PY' || bad "y's proposal: $(head -c 600 "$out/proposal-y.json")"
import json, sys
d = json.load(open(sys.argv[1]))
w = {i["metadata"].get("annotations", {}).get("bulkhead.io/workload") for i in d["items"]
     if "Ingress" in i["spec"]["policyTypes"]}
assert {"Deployment/api", "StatefulSet/late"} <= w, w
PY
expect 2 "no workload 'y/Deployment/nope'" enforce --workload y/Deployment/nope
expect 2 "expected one of them" enforce --workload "$wapi" --namespace y
expect 2 "expected NS/KIND/NAME" preview --workload api
cli enforce --workload "$wapi" > "$out/enforce.out" 2> "$out/enforce.err" ||
	bad "enforce --workload: exit $?: $(cat "$out/enforce.err")"
[ "$(cat "$out/enforce.out")" = "workload $wapi: preview -> enforce" ] ||
	bad "enforce --workload printed: $(cat "$out/enforce.out")"
[ "$(stage y)" = preview ] && [ "$(stage y "$wapi")" = enforce ] ||
	bad "after enforce --workload: $(agent_get /status)"
expect 0 "workload $wapi: already in enforce" enforce --workload "$wapi"
settled
[ "$(passes "$web" api)" = true ] || bad "web -> api 80 (learned) does not pass, api enforced"
[ "$(passes "$web" late)" = true ] || bad "web -> late 80 (learned) does not pass"
[ "$(passes "$cache" api)" = false ] || bad "cache -> api 80 (never seen) passes, api enforced"
[ "$(passes "$cache" late)" = true ] || bad "cache -> late 80 does not pass, late in preview"
late_alert() { agent_get /alerts | python3 -c '
import json, sys
a = [x for x in json.load(sys.stdin) if x["state"] == "open" and x["dst"].get("workload") == "y/StatefulSet/late"]
print(a[0]["id"] if a else "")'; }
for _ in $(seq 50); do [ -n "$(late_alert)" ] && break; sleep 0.1; done
lid=$(late_alert)
[ -n "$lid" ] || bad "cache -> late raised no alert: $(agent_get /alerts)"
agent_get /alerts | python3 -c '
import json, sys
sys.exit(any(x["dst"].get("workload") == "y/Deployment/api" and x["state"] == "open"
             for x in json.load(sys.stdin)))' || bad "the dropped cache -> api raised an alert"
expect 2 "$lid" enforce --workload "$wlate"
[ "$(stage y "$wlate")" = none ] || bad "late switched despite its open alert"
report_ok "$out/report-workload.json"

# --- 3. kill -9 and restart: the override is kept ---
kill -9 "$(pgrep -P "$agent" -x bulkhead || echo "$agent")"
wait "$agent" 2> /dev/null
start_agent agent2.log || exit 1
settled
[ "$(stage y)" = preview ] && [ "$(stage y "$wapi")" = enforce ] ||
	bad "after the restart: $(agent_get /status)"
[ "$(passes "$cache" api)" = false ] || bad "cache -> api 80 passes after the restart"
[ "$(passes "$cache" late)" = true ] || bad "cache -> late 80 does not pass after the restart"

# --- 4. the rollback of one workload ---
cli preview --workload "$wapi" > "$out/preview.out" 2> "$out/preview.err" ||
	bad "preview --workload: exit $?: $(cat "$out/preview.err")"
[ "$(cat "$out/preview.out")" = "workload $wapi: enforce -> preview" ] ||
	bad "preview --workload printed: $(cat "$out/preview.out")"
[ "$(stage y "$wapi")" = none ] || bad "an override left after the rollback: $(agent_get /status)"
settled
[ "$(passes "$cache" api)" = true ] || bad "cache -> api 80 does not pass after the rollback"

# --- 5. a namespace switch clears the overrides ---
expect 0 "namespace y: preview -> enforce" enforce --namespace y --force
cli preview --workload "$wapi" > "$out/preview2.out" 2>&1 || bad "preview --workload in enforce: $(cat "$out/preview2.out")"
[ "$(stage y "$wapi")" = preview ] || bad "no preview override in enforce: $(agent_get /status)"
settled
[ "$(passes "$cache" api)" = true ] || bad "cache -> api 80 does not pass, api in preview"
[ "$(passes "$cache" late)" = false ] || bad "cache -> late 80 passes, late enforced"
expect 0 "namespace y: enforce -> preview" preview --namespace y
[ "$(stage y "$wapi")" = none ] || bad "the namespace switch left the override: $(agent_get /status)"
expect 0 "namespace y: preview -> enforce" enforce --namespace y --force
settled
[ "$(passes "$cache" api)" = false ] || bad "cache -> api 80 passes: the override outlived the namespace switch"
report_ok "$out/report-cleared.json"

topo_kill "$agent"
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$out"/agent*.log && bad "sanitizer report"
[ "$fail" = 0 ] && echo "agent_stages_workload: ok"
exit "$fail"
