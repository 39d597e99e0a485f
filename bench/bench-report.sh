#!/usr/bin/env bash
# bench-report.sh BULKHEAD BUILD_DIR [PODS] [FLOWS] [RUNS]: how long GET
# /report keeps the agent's loop busy for a cluster of PODS pods (default
# 10,000, bench/gen-snapshot.py: 1 policy per 10 pods, 50 namespaces, 20
# nodes) and FLOWS learned flows (default 200,000, bench/gen-flows.py), put
# into its state directory by tests/tools/report_db_fill.  The agent runs
# with --snapshot --no-enforce (no root needed).  Prints the report's size,
# the time to the whole answer (best and median of RUNS, default 5), the
# time the agent logged for making it, and the loop's longest stall during
# a report: RUNS more reports, each with /healthz asked every 5 ms on the
# same socket while it is made (bench/report-stall.py), the longest
# /healthz wait of each (median and worst of RUNS).  CACHE=DIR keeps the
# generated inputs there for the next run (gen-flows.py takes a minute).
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
in=$tmp
if [ -n "${CACHE:-}" ]; then
	in=$CACHE/report-$pods-$flows
	mkdir -p "$in"
fi
if [ ! -s "$in/flows.json" ]; then
	"$src/bench/gen-snapshot.py" --pods "$pods" --policies $((pods / 10)) --namespaces 50 \
		--nodes 20 --seed 1 > "$in/snap.json"
	"$src/bench/gen-flows.py" "$in/snap.json" --flows "$flows" --seed 1 > "$in/flows.json.new"
	mv "$in/flows.json.new" "$in/flows.json"
fi
cp "$in/snap.json" "$tmp/snap.json"
mkdir "$tmp/state"
"$build/tests/tools/report_db_fill" "$tmp/state" "$in/flows.json" > /dev/null
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
# The loop's part: all of it before the report moved off the loop; the
# fork() after (logged as "the loop: fork N ms").
onloop=$(grep -o 'GET /report: [0-9]* bytes in [0-9.]* ms[^"]*' "$tmp/agent.log" |
	sed -nE 's/.*bytes in ([0-9.]+) ms$/\1/p; s/.*the loop: fork ([0-9.]+) ms.*/\1/p' | paste -sd,)
python3 "$src/bench/report-stall.py" "$sock" "$tmp/stall.json" "$runs" > "$tmp/stall.out"
python3 - "$tmp/report.json" "$made" "$onloop" "$tmp/stall.out" "${times[@]}" <<'PY'
import json, os, statistics, sys
r = json.load(open(sys.argv[1]))
t = sorted(float(x) for x in sys.argv[5:])
m = sorted(float(x) for x in sys.argv[2].split(","))
o = sorted(float(x) for x in sys.argv[3].split(","))
st = [dict(kv.split("=") for kv in l.split()) for l in open(sys.argv[4]) if "report_ms=" in l]
h = sorted(float(x["healthz_max_ms"]) for x in st)
print("report of %d pods, %d workloads, %d flow edges, %d policies: %.1f MB; "
      "GET /report %.0f ms best, %.0f ms median of %d; made in %.0f ms best, %.0f ms median; "
      "on the loop %.1f ms median; longest /healthz wait during a report %.1f ms median, %.1f ms worst "
      "of %d" % (
          sum(len(w["pods"]) for w in r["workloads"]), len(r["workloads"]), len(r["flows"]),
          len(r["existingPolicies"]), os.path.getsize(sys.argv[1]) / 1e6,
          t[0] * 1000, statistics.median(t) * 1000, len(t), m[0], statistics.median(m),
          statistics.median(o), statistics.median(h), h[-1], len(h)))
PY
