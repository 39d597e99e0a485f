#!/usr/bin/env bash
# integration.agent_proposal: the agent's proposal ('bulkhead agent
# --snapshot --no-enforce', started by this test by pid) on the shop
# snapshot (tests/data/snapshot/shop.yaml), its state directory filled by
# tests/tools/report_db_fill as if it had learned
# tests/data/agent/report-flows.json.  No root.
#   - before any: 'bulkhead proposal' is exit 3 and says there is none;
#   - 'bulkhead proposal --compute -o json' (POST /proposal, computed off
#     the loop from the stored flows) prints exactly what 'bulkhead
#     propose' prints for the same flows and snapshot, and the YAML form
#     likewise; /status's proposal object says it is done, no error;
#   - the report (GET /report) before it has no proposals and no flow
#     allowed by one; after it, it shows the stored proposal: every policy
#     of it, rules with the ids of the flows that justify them (flows of
#     the report, each allowed by the rule's peer and port), flows
#     'allowed-by-proposal' with allowedBy naming a proposal; it validates
#     against the schema (scripts/validate-report.py);
#   - GET /proposal?format=xml is 400; no agent is exit 3;
#   - after a restart the stored proposal is served the same.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v curl > /dev/null || { echo "curl missing, skipping"; exit 77; }
snap=$BH_SOURCE_DIR/tests/data/snapshot/shop.yaml
flows=$BH_SOURCE_DIR/tests/data/agent/report-flows.json
sock=$tmp/agent.sock
mkdir "$tmp/state"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/state" "$flows" > "$tmp/fill.out" ||
	{ echo "FAIL: report_db_fill"; exit 1; }
start_agent() { # LOG
	"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$tmp/state" \
		--socket "$sock" --listen "" > "$tmp/$1" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] &&
			return 0
		sleep 0.1
	done
	echo "FAIL: agent not ready"; cat "$tmp/$1"; exit 1
}
stop_agent() { kill "$pid"; wait "$pid"; pid=; }
start_agent agent1.log

# --- none yet ---
"$BULKHEAD" proposal --socket "$sock" > "$tmp/none.out" 2> "$tmp/none.err"
rc=$?
[ "$rc" = 3 ] && grep -q 'no proposal yet' "$tmp/none.err" && [ ! -s "$tmp/none.out" ] ||
	bad "no proposal yet: exit $rc: $(cat "$tmp/none.err")"

validate=$BH_SOURCE_DIR/scripts/validate-report.py
curl -s --unix-socket "$sock" -o "$tmp/report0.json" http://agent/report
python3 "$validate" "$tmp/report0.json" || bad "the report before a proposal is not valid"
python3 - "$tmp/report0.json" <<'PY' || bad "the report before a proposal"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["proposals"] == [], d["proposals"][:1]
assert not [f for f in d["flows"] if f["state"] == "allowed-by-proposal"]
PY

# --- computed: what propose prints for the same flows ---
"$BULKHEAD" propose --flows "$flows" --snapshot "$snap" -o json --allow-uncovered \
	> "$tmp/propose.json" 2> /dev/null
"$BULKHEAD" propose --flows "$flows" --snapshot "$snap" -o yaml --allow-uncovered \
	> "$tmp/propose.yaml" 2> /dev/null
[ -s "$tmp/propose.json" ] || { echo "FAIL: bulkhead propose printed nothing"; exit 1; }
"$BULKHEAD" proposal --compute -o json --socket "$sock" > "$tmp/agent.json" 2> "$tmp/agent.err" ||
	bad "proposal --compute: exit $?: $(cat "$tmp/agent.err")"
cmp -s "$tmp/propose.json" "$tmp/agent.json" ||
	bad "the agent's proposal differs from propose's: $(diff "$tmp/propose.json" "$tmp/agent.json" | head -5)"
"$BULKHEAD" proposal --socket "$sock" > "$tmp/agent.yaml" || bad "proposal (yaml): exit $?"
cmp -s "$tmp/propose.yaml" "$tmp/agent.yaml" ||
	bad "the YAML differs: $(diff "$tmp/propose.yaml" "$tmp/agent.yaml" | head -5)"
python3 - "$tmp/agent.json" <<'PY' || bad "the proposal: $(head -c 300 "$tmp/agent.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "List" and d["items"], d
assert all(i["kind"] == "NetworkPolicy" and i["apiVersion"] == "networking.k8s.io/v1" for i in d["items"])
PY
curl -s --unix-socket "$sock" http://agent/status | python3 -c '
import json, sys
p = json.load(sys.stdin)["proposal"]
assert p["computing"] is False and p["error"] is None, p' || bad "/status proposal after it"
grep -q 'agent: proposal 1: .* policies from .* flows' "$tmp/agent1.log" || bad "no proposal line in the log"

# --- the report shows it ---
curl -s --unix-socket "$sock" -o "$tmp/report1.json" http://agent/report
python3 "$validate" "$tmp/report1.json" || bad "the report with a proposal is not valid"
python3 - "$tmp/report1.json" "$tmp/agent.json" <<'PY' || bad "the report's proposals"
import json, sys
d = json.load(open(sys.argv[1]))
stored = json.load(open(sys.argv[2]))["items"]
props = d["proposals"]
want = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in stored)
assert sorted((p["namespace"], p["name"]) for p in props) == want, (len(props), len(want))
flows = {f["id"]: f for f in d["flows"]}
wl = {w["id"] for w in d["workloads"]}
cited = 0
for p in props:
    assert p["yaml"].startswith("apiVersion: networking.k8s.io/v1"), p["yaml"][:80]
    assert p["selects"] and all(s in wl for s in p["selects"]), p
    for r in p["rules"]:
        assert r["peers"] and r["ports"], r
        for fid in r["flows"]:
            f = flows[fid]
            cited += 1
            # the flow's own side is one the policy selects, its port one of the rule's
            self = f["dst"] if r["direction"] == "ingress" else f["src"]
            assert self.get("workload") in p["selects"], (p["name"], r, f)
            assert any(q["port"] in (0, f["port"]) and q["protocol"] == f["protocol"]
                       for q in r["ports"]), (r, f)
assert cited > 0, "no rule has a justifying flow"
by_prop = [f for f in d["flows"] if f["state"] == "allowed-by-proposal"]
assert by_prop, "no flow allowed by the proposal"
names = {"%s/%s" % (p["namespace"], p["name"]) for p in props}
for f in by_prop:
    assert f["allowedBy"]["origin"] == "proposal" and f["allowedBy"]["policy"] in names, f
    p = [q for q in props if "%s/%s" % (q["namespace"], q["name"]) == f["allowedBy"]["policy"]][0]
    rule = [r for r in p["rules"] if r["direction"] == f["allowedBy"]["direction"]
            and r["index"] == f["allowedBy"]["rule"]][0]
    assert f["id"] in rule["flows"], (f, rule)
print("report: %d proposals, %d rule citations, %d flows allowed by the proposal"
      % (len(props), cited, len(by_prop)))
PY
code=$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' 'http://agent/proposal?format=xml')
[ "$code" = 400 ] || bad "GET /proposal?format=xml: $code"
"$BULKHEAD" proposal --socket "$tmp/none.sock" > /dev/null 2>&1
[ $? = 3 ] || bad "proposal with no agent: not exit 3"

# --- kept across a restart ---
stop_agent
start_agent agent2.log
"$BULKHEAD" proposal -o json --socket "$sock" > "$tmp/again.json" || bad "after the restart: exit $?"
cmp -s "$tmp/agent.json" "$tmp/again.json" || bad "the proposal changed across a restart"
curl -s --unix-socket "$sock" -o "$tmp/report2.json" http://agent/report
python3 - "$tmp/report1.json" "$tmp/report2.json" <<'PY' || bad "the report's proposals changed across a restart"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["proposals"] == b["proposals"]
PY
stop_agent

[ "$fail" = 0 ] && echo "agent_proposal: ok"
exit "$fail"
