#!/usr/bin/env bash
# kubectl parses proposals: `kubectl apply --dry-run=client --validate=false
# -f FILE` for each FILE, against propose_kubectl.py (discovery only, on
# loopback), because client dry-run still needs discovery to map kinds and
# a GET per object; every policy must be reported "created (dry run)".
# Skipped (exit 0 with a message) only when kubectl is not installed.
set -euo pipefail
kubectl=${KUBECTL:-/usr/bin/kubectl}
if [ ! -x "$kubectl" ]; then
	echo "propose_kubectl: kubectl not installed at $kubectl, kubectl check skipped"
	exit 0
fi
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
/usr/bin/python3 "$(dirname "$0")/propose_kubectl.py" "$tmp/port" &
pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
cat > "$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: stub, cluster: {server: "http://127.0.0.1:$port"}}]
users: [{name: stub, user: {}}]
contexts: [{name: stub, context: {cluster: stub, user: stub}}]
current-context: stub
KC
for f in "$@"; do
	want=$(/usr/bin/python3 -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["items"]))' "$f")
	out=$("$kubectl" --kubeconfig "$tmp/kubeconfig" --cache-dir "$tmp/cache" \
		apply --dry-run=client --validate=false -f "$f" 2>&1) || { echo "$out"; exit 1; }
	got=$(echo "$out" | grep -c '^networkpolicy.networking.k8s.io/bulkhead-.* created (dry run)$' || true)
	if [ "$got" != "$want" ]; then
		echo "propose_kubectl: '$f': $got of $want policies accepted:"
		echo "$out"
		exit 1
	fi
	# What kubectl decoded is what we wrote: same names, namespaces,
	# labels, annotations and specs.
	"$kubectl" --kubeconfig "$tmp/kubeconfig" --cache-dir "$tmp/cache" \
		apply --dry-run=client --validate=false -o json -f "$f" > "$tmp/decoded.json"
	/usr/bin/python3 - "$f" "$tmp/decoded.json" <<'PY'
import json, sys, yaml
mine = yaml.safe_load(open(sys.argv[1]))["items"]
out = json.load(open(sys.argv[2]))
theirs = out["items"] if out.get("kind") == "List" else [out]
assert len(mine) == len(theirs), (len(mine), len(theirs))
for a, b in zip(mine, theirs):
    b["metadata"]["annotations"].pop("kubectl.kubernetes.io/last-applied-configuration", None)
    for k in ("apiVersion", "kind", "spec"):
        assert a[k] == b[k], (a["metadata"]["name"], k)
    for k in ("name", "namespace", "labels", "annotations"):
        assert a["metadata"].get(k) == b["metadata"].get(k), (a["metadata"]["name"], k)
PY
	echo "propose_kubectl: '$f': kubectl decoded $got policies as written (dry run)"
done
