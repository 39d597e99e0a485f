#!/usr/bin/env bash
# The first set-up command: installs the dependencies, builds bulkhead,
# installs it as /usr/local/bin/bulkhead (and the kubectl plugin name
# kubectl-bulkhead), then runs the live demo (examples/demo/run.sh): the
# whole lifecycle on a small shop application built here in network
# namespaces, no Kubernetes needed.  It leaves ./report.json for the
# dashboard and cleans up after itself.  Root; under two minutes once built.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh" >/dev/null
cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cmake --install build >/dev/null
echo "installed: $(command -v bulkhead) ($(bulkhead --version))"

exec "$top/examples/demo/run.sh" --bulkhead /usr/local/bin/bulkhead --report "$top/report.json" "$@"
