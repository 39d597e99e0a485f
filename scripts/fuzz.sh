#!/usr/bin/env bash
# Runs every libFuzzer target of a -DBH_FUZZ=ON build for a bounded time,
# seeded from tests/fuzz/corpus/<target>/.  New inputs go to a scratch
# directory; a crash fails the run and leaves its input in build-fuzz/.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?build dir}
secs=${2:-60}
shift 2 || true
cd "$build"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
	for f in tests/fuzz_*_lf; do
		[ -x "$f" ] || continue
		t=${f#tests/fuzz_}
		targets+=("${t%_lf}")
	done
fi
for t in "${targets[@]}"; do
	scratch=$(mktemp -d)
	seed="$top/tests/fuzz/corpus/$t"
	mkdir -p "$seed"
	echo "fuzz: $t for ${secs}s"
	ASAN_OPTIONS=detect_leaks=1 ./tests/fuzz_"$t"_lf -max_total_time="$secs" \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
		-artifact_prefix="$PWD/crash-$t-" "$scratch" "$seed" 2>&1 | tail -3
	rc=${PIPESTATUS[0]}
	rm -rf "$scratch"
	[ "$rc" = 0 ] || { echo "fuzz: $t failed (rc=$rc)"; exit 1; }
done
