#!/usr/bin/env bash
# bench.enforcer: (a) full apply of a generated snapshot (1,000 policies,
# 10,000 pods, 50 namespaces, 20 nodes) against `nft -f` of the same
# ruleset text, and (b) one pod added / relabelled as one batch, medians.
# Everything runs inside a network namespace of its own.
#   bench/bench-enforcer.sh BENCH_BIN BULKHEAD [RUNS] [EVENTS]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
bench=$1 bulkhead=$2 runs=${3:-5} events=${4:-200}
here=$(cd "$(dirname "$0")" && pwd)
node=${BENCH_NODE:-node-1}
tmp=$(mktemp -d)
ns="bh-bench-$$"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
gen=(--pods 10000 --policies 1000 --namespaces 50 --nodes 20 --seed 1)
echo "snapshot: bench/gen-snapshot.py ${gen[*]}"
python3 "$here/gen-snapshot.py" "${gen[@]}" >"$tmp/snap.json"
"$bulkhead" apply --snapshot "$tmp/snap.json" --node "$node" --mode enforce --dry-run -o nft \
	>"$tmp/ruleset.nft"
echo "ruleset for $node: $(grep -c '' "$tmp/ruleset.nft") lines of nft text"
ip netns add "$ns"
ip netns exec "$ns" "$bench" "$bulkhead" "$tmp/snap.json" "$tmp/ruleset.nft" "$node" "$runs" \
	"$events"
