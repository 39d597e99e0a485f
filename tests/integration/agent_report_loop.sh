#!/usr/bin/env bash
# integration.agent_report_loop: GET /report does not hold the agent's
# loop.  'bulkhead agent --snapshot --no-enforce', started by this test (by
# pid), on a large cluster (bench/gen-snapshot.py: 10,000 pods) with a
# large learned state (bench/gen-flows.py: 200,000 flows, put into its
# state directory by tests/tools/report_db_fill): a 20 MB report that
# takes about half a second to make.  No root.
#   - while a /report is made, /healthz on the same socket is answered in
#     under STALL_MS (200 ms: generous on a loaded machine; made on the
#     loop it waited the whole report), median over three reports
#     (bench/report-stall.py), and each report is whole (its
#     Content-Length), valid (scripts/validate-report.py), and complete
#     (every pod of the cluster in its workloads, the same flows each time);
#   - three /report at once: all three 200 with the same report, made by
#     fewer processes than requests (docs/agent-api.md: requests that come
#     while one is made share the next);
#   - SIGTERM while a report is made: the waiting request is answered (503)
#     or closed, the agent exits 0 (no leak under ASan), and the child
#     making the report is gone.
# REPORT_PODS and REPORT_FLOWS change the size.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
pods=${REPORT_PODS:-10000} flows=${REPORT_FLOWS:-200000} stall_ms=${STALL_MS:-200}
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
validate=$BH_SOURCE_DIR/scripts/validate-report.py
stall=$BH_SOURCE_DIR/bench/report-stall.py

"$BH_SOURCE_DIR/bench/gen-snapshot.py" --pods "$pods" --policies $((pods / 10)) --namespaces 50 \
	--nodes 20 --seed 1 > "$tmp/snap.json" || { echo "FAIL: gen-snapshot"; exit 1; }
"$BH_SOURCE_DIR/bench/gen-flows.py" "$tmp/snap.json" --flows "$flows" --seed 1 > "$tmp/flows.json" ||
	{ echo "FAIL: gen-flows"; exit 1; }
mkdir "$tmp/state"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/state" "$tmp/flows.json" > /dev/null ||
	{ echo "FAIL: report_db_fill"; exit 1; }
rm -f "$tmp/flows.json"

sock=$tmp/agent.sock
start_agent() {
	"$BULKHEAD" --log-level debug agent --node node-1 --snapshot "$tmp/snap.json" --no-enforce \
		--state-dir "$tmp/state" --socket "$sock" --listen "" > "$tmp/agent.log" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] &&
			return 0
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	echo "FAIL: agent not ready"
	cat "$tmp/agent.log"
	exit 1
}
start_agent

# --- /healthz while /report is made ---
python3 "$stall" "$sock" "$tmp/report.json" 3 > "$tmp/stall.out" 2>&1 ||
	bad "report-stall: a /report not whole, or no /healthz during it: $(cat "$tmp/stall.out")"
cat "$tmp/stall.out"
python3 - "$tmp/stall.out" "$stall_ms" <<'PY' || bad "/healthz waited for the report"
import statistics, sys
runs = [dict(kv.split("=") for kv in line.split()) for line in open(sys.argv[1]) if "report_ms=" in line]
worst = [float(r["healthz_max_ms"]) for r in runs]
med = statistics.median(worst) if worst else float("inf")
print("the longest /healthz wait during a /report, median of %d: %.1f ms (bound %s ms)" %
      (len(worst), med, sys.argv[2]))
sys.exit(0 if len(runs) == 3 and 0 <= med < float(sys.argv[2]) else 1)
PY
python3 "$validate" "$tmp/report.json" > "$tmp/val" 2>&1 || { bad "report invalid:"; cat "$tmp/val"; }
python3 - "$tmp/report.json" "$pods" > "$tmp/complete" 2>&1 <<'PY' || { bad "report incomplete:"; cat "$tmp/complete"; }
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(len(w["pods"]) for w in r["workloads"])
assert n == int(sys.argv[2]), "%d pods in the workloads, want %s" % (n, sys.argv[2])
assert len(r["flows"]) > 1000 and len(r["existingPolicies"]) == int(sys.argv[2]) // 10, \
    "%d flows, %d policies" % (len(r["flows"]), len(r["existingPolicies"]))
print(len(r["flows"]), "flow edges")
PY

# --- three at once share ---
before=$(grep -c 'GET /report: [0-9]* bytes' "$tmp/agent.log")
cpids=()
for i in 1 2 3; do
	curl -s --unix-socket "$sock" -o "$tmp/par$i.json" -w '%{http_code}\n' http://agent/report > "$tmp/par$i.code" &
	cpids+=($!)
done
wait "${cpids[@]}"
for i in 1 2 3; do
	[ "$(cat "$tmp/par$i.code")" = 200 ] || bad "concurrent /report $i: $(cat "$tmp/par$i.code")"
done
norm() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); [r.pop(k) for k in ("generatedAt", "namespaces")]; print(json.dumps(r, sort_keys=True))' "$1"; }
[ "$(norm "$tmp/par1.json")" = "$(norm "$tmp/par2.json")" ] && [ "$(norm "$tmp/par2.json")" = "$(norm "$tmp/par3.json")" ] ||
	bad "the concurrent reports differ"
[ "$(norm "$tmp/par1.json")" = "$(norm "$tmp/report.json")" ] || bad "the concurrent reports differ from the first"
made=$(($(grep -c 'GET /report: [0-9]* bytes' "$tmp/agent.log") - before))
[ "$made" -ge 1 ] && [ "$made" -lt 3 ] || bad "3 concurrent /report made $made reports, want fewer than 3"

# --- SIGTERM while a report is made ---
curl -s --unix-socket "$sock" -o "$tmp/term.json" -w '%{http_code}\n' http://agent/report > "$tmp/term.code" &
cpid=$!
child=
for _ in $(seq 100); do
	child=$(ps -o pid= --ppid "$pid" | tr -d ' ' | head -1)
	[ -n "$child" ] && break
	sleep 0.01
done
[ -n "$child" ] || bad "no child process making the report"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || { bad "agent exit $rc after SIGTERM during a report"; tail -20 "$tmp/agent.log"; }
wait "$cpid"
code=$(cat "$tmp/term.code")
[ "$code" = 503 ] || [ "$code" = 000 ] || bad "/report during SIGTERM: $code, want 503 or closed"
[ -n "$child" ] && kill -0 "$child" 2> /dev/null && bad "the report's process $child outlived the agent"
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$tmp/agent.log" && bad "sanitizer report"

[ "$fail" = 0 ] && echo "integration.agent_report_loop: ok"
exit "$fail"
