#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead and runs the main job on the
# bundled example: who may talk to whom in examples/shop.json, and why one
# connection is allowed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh" >/dev/null
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bulkhead=$top/build/agent/bulkhead

# check exits 1 when a connection in the table is denied: that is the answer
# here, not a failure.
run() {
	echo "\$ bulkhead $*"
	"$bulkhead" "$@" || [ $? -eq 1 ]
	echo
}
run check --snapshot examples/shop.json --port 8080 --protocol TCP
run check --snapshot examples/shop.json --from shop/worker-85c6d7f9b-zabcd \
	--to shop/postgres-0 --port 5432 --explain
