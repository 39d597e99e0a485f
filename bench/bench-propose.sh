#!/usr/bin/env bash
# bench.propose: 200,000 distinct flows over 5,000 pods (50 namespaces, 20
# nodes, ~1,000 workloads) through propose.  bench_propose times each phase
# (CPU time, medians of REPEATS runs) with the baseline side by side:
# reading the inputs, which any implementation pays, against building the
# proposal, the engine self-check and emitting JSON/YAML.  Then
# `bulkhead propose` end to end with hyperfine (wall time) when installed.
#   bench/bench-propose.sh BENCH_PROPOSE BULKHEAD [REPEATS]
set -euo pipefail
bench=${1:?bench_propose binary} bulkhead=${2:?bulkhead binary} reps=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/gen-snapshot.py" --pods 5000 --policies 0 --namespaces 50 --nodes 20 --seed 1 >"$tmp/snap.json"
/usr/bin/python3 "$here/gen-flows.py" "$tmp/snap.json" --flows 200000 --seed 1 >"$tmp/flows.json"
ls -l "$tmp/snap.json" "$tmp/flows.json" | awk '{print "  input:", $5, "bytes", $NF}'
"$bench" "$tmp/snap.json" "$tmp/flows.json" "$reps"
cmd="$bulkhead propose --flows $tmp/flows.json --snapshot $tmp/snap.json -o json"
if command -v hyperfine >/dev/null; then
	hyperfine --warmup 1 --runs "$reps" --output=null --export-json "$tmp/hf.json" "$cmd"
	/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("  bulkhead propose end to end: median %.0f ms wall, %.0f ms user+sys" % (r["median"]*1e3, (r["user"]+r["system"])*1e3))' "$tmp/hf.json"
else
	time $cmd >/dev/null
fi
