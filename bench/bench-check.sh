#!/usr/bin/env bash
# bench.check: generate a 10,000-pod / 1,000-policy snapshot, time the engine
# (bench_check: load, index, one probe, 100x100 truth tables, and the naive
# baseline side by side), then `bulkhead check` end to end for one probe
# with hyperfine when it is installed, and `bulkhead check` printing the
# full truth table of a 2,000-pod snapshot (200 policies) for one probe.
#   bench/bench-check.sh BENCH_CHECK BULKHEAD [REPEATS]
set -euo pipefail
bench=${1:?bench_check binary} bulkhead=${2:?bulkhead binary} reps=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
snap=$tmp/snap-10k.json
"$here/gen-snapshot.py" --pods 10000 --policies 1000 --namespaces 50 --nodes 20 --seed 1 >"$snap"
"$bench" "$snap" "$reps"
from=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=[i for i in d["items"] if i["kind"]=="Pod"]; print(p[0]["metadata"]["namespace"]+"/"+p[0]["metadata"]["name"]); print(p[-1]["metadata"]["namespace"]+"/"+p[-1]["metadata"]["name"])' "$snap")
src=$(echo "$from" | sed -n 1p) dst=$(echo "$from" | sed -n 2p)
if command -v hyperfine >/dev/null; then
	hyperfine --warmup 1 --runs "$reps" -N -i --export-json "$tmp/hf.json" \
		"$bulkhead check --snapshot $snap --from $src --to $dst --port 8080 --protocol TCP"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("  bulkhead check, one probe, end to end: median %.1f ms wall, mean %.1f ms user + %.1f ms system" % (r["median"]*1e3, r["user"]*1e3, r["system"]*1e3))' "$tmp/hf.json"
else
	time "$bulkhead" check --snapshot "$snap" --from "$src" --to "$dst" --port 8080 --protocol TCP || true
fi
snap2k=$tmp/snap-2k.json
"$here/gen-snapshot.py" --pods 2000 --policies 200 --namespaces 10 --nodes 20 --seed 1 >"$snap2k"
cmd2k="$bulkhead check --snapshot $snap2k --port 8080 --protocol TCP"
if command -v hyperfine >/dev/null; then
	hyperfine --warmup 1 --runs "$reps" -N -i --output=null --export-json "$tmp/hf2k.json" "$cmd2k"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("  bulkhead check, full 2,000-pod matrix, one probe: median %.1f ms wall, mean %.1f ms user + %.1f ms system" % (r["median"]*1e3, r["user"]*1e3, r["system"]*1e3))' "$tmp/hf2k.json"
else
	time $cmd2k >/dev/null || true
fi
