#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. installs the dependencies (scripts/install-deps.sh),
#   2. a normal build with -Werror: every test but the benchmarks,
#   3. a separate AddressSanitizer + UndefinedBehaviorSanitizer build: unit,
#      golden, fuzz-replay and integration tests again,
#   4. bounded libFuzzer runs of every fuzz target (clang), FUZZ_SECONDS each.
# Tests that need root skip (exit 77) without it; CI runs as root.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

FUZZ_SECONDS=${FUZZ_SECONDS:-45}
jobs=$(nproc)

"$top/scripts/install-deps.sh"

echo "== build (-Werror) =="
cmake -S . -B build -DBH_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests =="
(cd build && ctest --output-on-failure -LE bench -j"$jobs")

echo "== build (ASan + UBSan) =="
cmake -S . -B build-san -DBH_WERROR=ON -DBH_SANITIZE=address,undefined \
	-DBH_BENCH=OFF >/dev/null
cmake --build build-san -j"$jobs"
echo "== tests under ASan + UBSan =="
(cd build-san && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -L 'unit|golden|fuzz|integration' -j"$jobs")

if [ "$FUZZ_SECONDS" -gt 0 ]; then
	echo "== libFuzzer, ${FUZZ_SECONDS}s per target =="
	CC=clang cmake -S . -B build-fuzz -DBH_FUZZ=ON -DBH_SANITIZE=address,undefined \
		-DBH_BENCH=OFF -DBH_WERROR=ON >/dev/null
	cmake --build build-fuzz -j"$jobs" --target fuzzers
	"$top/scripts/fuzz.sh" build-fuzz "$FUZZ_SECONDS"
fi
echo "== all tests passed =="
