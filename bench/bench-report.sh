#!/usr/bin/env bash
# bench-report.sh BULKHEAD BUILD_DIR [PODS] [FLOWS] [RUNS]: how long GET
# /report keeps the agent's loop busy for a cluster of PODS pods (default
# 10,000, bench/gen-snapshot.py: 1 policy per 10 pods, 50 namespaces, 20
# nodes) and FLOWS learned flows (default 200,000, bench/gen-flows.py), put
# into its state directory by tests/tools/report_db_fill.  The agent runs
# with --snapshot --no-enforce (no root needed).  Prints the report's size,
# the time to the whole answer (best and median of RUNS, default 5) and the
# time the agent logged for making it (its event loop is busy that long).
set -euo pipefail
bulkhead=$1 build=$2 pods=${3:-10000} flows=${4:-200000} runs=${5:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
"$src/bench/gen-snapshot.py" --pods "$pods" --policies $((pods / 10)) --namespaces 50 \
	--nodes 20 --seed 1 > "$tmp/snap.json"
"$src/bench/gen-flows.py" "$tmp/snap.json" --flows "$flows" --seed 1 > "$tmp/flows.json"
mkdir "$tmp/state"
"$build/tests/tools/report_db_fill" "$tmp/state" "$tmp/flows.json" > /dev/null
sock=$tmp/agent.sock
"$bulkhead" --log-level debug agent --node node-1 --snapshot "$tmp/snap.json" --no-enforce \
	--state-dir "$tmp/state" --socket "$sock" --listen "" \
	> "$tmp/agent.log" 2>&1 &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://agent/readyz)" = 200 ]; do
	kill -0 "$pid" || { cat "$tmp/agent.log"; exit 1; }
	sleep 0.2
done
times=()
for _ in $(seq "$runs"); do
	times+=("$(curl -s --unix-socket "$sock" -o "$tmp/report.json" -w '%{time_total}' http://agent/report)")
done
python3 "$src/scripts/validate-report.py" "$tmp/report.json" > /dev/null
made=$(grep -o 'GET /report: [0-9]* bytes in [0-9.]* ms' "$tmp/agent.log" | awk '{print $6}' | paste -sd,)
python3 - "$tmp/report.json" "$made" "${times[@]}" <<'PY'
import json, os, statistics, sys
r = json.load(open(sys.argv[1]))
t = sorted(float(x) for x in sys.argv[3:])
m = sorted(float(x) for x in sys.argv[2].split(","))
print("report of %d pods, %d workloads, %d flow edges, %d policies: %.1f MB; "
      "GET /report %.0f ms best, %.0f ms median of %d; made on the loop in %.0f ms best, %.0f ms median" % (
          sum(len(w["pods"]) for w in r["workloads"]), len(r["workloads"]), len(r["flows"]),
          len(r["existingPolicies"]), os.path.getsize(sys.argv[1]) / 1e6,
          t[0] * 1000, statistics.median(t) * 1000, len(t), m[0], statistics.median(m)))
PY
