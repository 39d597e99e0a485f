#!/usr/bin/env bash
# Before and after a change, side by side in one run on the same machine:
# builds BEFORE (a commit) and AFTER (default HEAD) in their own trees, then
# runs today's benchmark scripts against each side's binaries, the sides
# alternated ROUNDS times so that the machine's noise falls on both.  Each
# script is given the same inputs (the generators of AFTER), so only the code
# under test differs.  Logs land in OUT (one file per script, side and
# round); the summary prints each script's result lines per side.
#   bench/before-after.sh BEFORE [AFTER] [ROUNDS]
# Knobs: OUT (/tmp/bh-before-after), BENCHES ("enforcer learn propose check";
# "report" too: bench-report.sh, its inputs generated once into OUT), and
# each script's own knobs (REPEAT, PACKETS, RUNS...).
set -euo pipefail
before=${1:?usage: bench/before-after.sh BEFORE [AFTER] [ROUNDS]} after=${2:-HEAD} rounds=${3:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/bh-before-after}
benches=${BENCHES:-enforcer learn propose check}
mkdir -p "$out"

build_side() { # NAME REF
	# The ref is resolved here: HEAD inside a side's worktree is that tree's.
	local name=$1 ref tree="$out/$1-src"
	ref=$(git -C "$src" rev-parse --verify "$2^{commit}")
	if [ ! -d "$tree" ]; then
		git -C "$src" worktree add -q --detach "$tree" "$ref"
	else
		git -C "$tree" checkout -q --detach "$ref"
	fi
	cmake -S "$tree" -B "$out/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBH_BENCH=ON \
		-DBH_WERROR=OFF >/dev/null
	cmake --build "$out/$name" -j"$(nproc)" --target bulkhead bench_enforcer bench_check \
		bench_propose bench_flow_mem gen_pcap tool_report_db_fill >/dev/null
	echo "$name: $(git -C "$tree" log -1 --format='%h %s' | cut -c1-100)"
}
build_side before "$before"
build_side after "$after"

run_one() { # BENCH SIDE ROUND
	local b=$1 side=$2 d="$out/$2" log="$out/$1.$2.$3.log"
	case $b in
	enforcer) "$src/bench/bench-enforcer.sh" "$d/bench/bench_enforcer" "$d/agent/bulkhead" \
		"${RUNS:-3}" "${EVENTS:-200}" ;;
	learn) BULKHEAD="$d/agent/bulkhead" BH_SOURCE_DIR="$src" BH_BUILD_DIR="$d" \
		GEN_PCAP="$out/after/tests/gen_pcap" STORM=${STORM:-0} "$src/bench/bench_learn.sh" ;;
	propose) "$src/bench/bench-propose.sh" "$d/bench/bench_propose" "$d/agent/bulkhead" \
		"${REPEAT:-3}" ;;
	check) "$src/bench/bench-check.sh" "$d/bench/bench_check" "$d/agent/bulkhead" \
		"${REPEAT:-3}" ;;
	report) CACHE="$out" "$src/bench/bench-report.sh" "$d/agent/bulkhead" "$d" 10000 200000 \
		"${RUNS:-5}" ;;
	*) echo "unknown bench '$b'" >&2; return 2 ;;
	esac >"$log" 2>&1 || echo "($b $side round $3: exit $?, see $log)"
}

for ((i = 1; i <= rounds; i++)); do
	for b in $benches; do
		# Alternate which side goes first, round by round.
		if ((i % 2)); then sides="before after"; else sides="after before"; fi
		for s in $sides; do
			echo "round $i: $b, $s"
			run_one "$b" "$s" "$i"
		done
	done
done
echo
for b in $benches; do
	for s in before after; do
		for ((i = 1; i <= rounds; i++)); do
			echo "== $b $s round $i"
			grep -E 'median|ratio|x |bytes|ms|[0-9]s\b' "$out/$b.$s.$i.log" | head -40 || true
		done
	done
done
