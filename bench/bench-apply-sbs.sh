#!/usr/bin/env bash
# bench-apply-sbs: two bulkhead binaries side by side on one full apply,
# each against `nft -f` of its own --dry-run text, alternating in one run
# (old apply, new apply, nft -f old text, nft -f new text), each from an
# empty table, inside a network namespace of its own; medians.
#   bench/bench-apply-sbs.sh OLD_BULKHEAD NEW_BULKHEAD SNAPSHOT [REPS] [NODE]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
old=$1 new=$2 snap=$3 reps=${4:-5} node=${5:-node-1}
ns="bh-sbs-$$"
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns"
"$old" apply --snapshot "$snap" --node "$node" --mode enforce --dry-run -o nft >"$tmp/old.nft"
"$new" apply --snapshot "$snap" --node "$node" --mode enforce --dry-run -o nft >"$tmp/new.nft"
run_ms() {
	local s e
	ip netns exec "$ns" nft delete table inet bulkhead 2>/dev/null || true
	s=$(date +%s%N)
	ip netns exec "$ns" "$@" >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
echo "ms: old apply, new apply, nft -f old text, nft -f new text"
for _ in $(seq "$reps"); do
	echo "$(run_ms "$old" apply --snapshot "$snap" --node "$node" --mode enforce)" \
		"$(run_ms "$new" apply --snapshot "$snap" --node "$node" --mode enforce)" \
		"$(run_ms nft -f "$tmp/old.nft")" "$(run_ms nft -f "$tmp/new.nft")"
done | tee "$tmp/runs"
python3 - "$tmp/runs" <<'PY'
import statistics, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1])]
m = [statistics.median(c) for c in zip(*rows)]
print("medians: old apply %d ms, new apply %d ms, nft -f old text %d ms, nft -f new text %d ms" % tuple(m))
print("nft -f / apply: old %.2fx, new %.2fx; new apply / old apply %.2f" % (m[2] / m[0], m[3] / m[1], m[1] / m[0]))
PY
