#!/usr/bin/env bash
# The first set-up command: installs the dependencies, builds bulkhead,
# installs it as /usr/local/bin/bulkhead (and the kubectl plugin name
# kubectl-bulkhead), and runs the README's first quick-start command on the
# bundled example, so that everything the quick start shows works from here.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh" >/dev/null
cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cmake --install build >/dev/null
echo "installed: $(command -v bulkhead) ($(bulkhead --version))"
echo

# check exits 1 when a connection in the table is denied: that is the answer
# here, not a failure.
echo "\$ bulkhead check --snapshot examples/minimal.yaml --port 80"
bulkhead check --snapshot examples/minimal.yaml --port 80 || [ $? -eq 1 ]
echo
echo "Next: the quick start in README.md."
