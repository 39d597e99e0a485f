#!/usr/bin/env bash
# Installs the dependencies, builds bulkhead and runs the main job on the
# bundled example: the truth table of who may talk to whom in examples/shop.json.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh" >/dev/null
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "\$ bulkhead check --snapshot examples/shop.json --port 8080"
./build/bulkhead check --snapshot examples/shop.json --port 8080 || true
