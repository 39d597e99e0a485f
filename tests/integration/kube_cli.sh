#!/usr/bin/env bash
# integration.kube_cli: commands read the same cluster from the API
# (--kubeconfig, through the test API server over TLS) as from --snapshot:
# `check -o json` and `propose` print identical output both ways.
# Loopback only, no root.
set -euo pipefail
src=${BH_SOURCE_DIR:?}
bulkhead=${BULKHEAD:?}
tmp=$(mktemp -d /tmp/bh-kubecli.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$src/tests/apiserver/mkcerts.sh" "$tmp/certs"

start() { # $1: snapshot file served
	rm -rf "$tmp/data" "$tmp/port"
	mkdir "$tmp/data"
	cp "$1" "$tmp/data/objects.json"
	/usr/bin/python3 "$src/tests/apiserver/apiserver.py" --dir "$tmp/data" \
		--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
		--token-file "$tmp/certs/token" --port-file "$tmp/port" &
	pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	[ -s "$tmp/port" ] || fail "the API server did not start"
	cat > "$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: t
  cluster: {server: 'https://127.0.0.1:$(cat "$tmp/port")', certificate-authority: certs/ca.crt}
users:
- name: t
  user: {tokenFile: certs/token}
contexts:
- name: t
  context: {cluster: t, user: t}
KC
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

n=0
for f in "$src"/tests/data/netpol-cases/0[1-9]*.json "$src"/tests/data/netpol-cases/1[0-9]*.json; do
	[ -f "$f" ] || continue
	start "$f"
	"$bulkhead" check --snapshot "$f" -o json --port 80 --protocol TCP > "$tmp/snap.out" 2>&1 || true
	"$bulkhead" check --kubeconfig "$tmp/kubeconfig" -o json --port 80 --protocol TCP > "$tmp/api.out" 2>&1 || true
	if ! cmp -s "$tmp/snap.out" "$tmp/api.out"; then
		diff -u "$tmp/snap.out" "$tmp/api.out" | head -20
		fail "check differs between --snapshot and --kubeconfig for $(basename "$f")"
	fi
	grep -q '"matrix"' "$tmp/api.out" || fail "no matrix from check for $(basename "$f"): $(head -c 300 "$tmp/api.out")"
	stop
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no netpol cases found"

# propose: the same proposal from the API as from the snapshot
snap=$src/tests/data/propose/snapshot.json
start "$snap"
for fl in "$src"/tests/data/propose/flows-node-1.json; do
	"$bulkhead" propose --flows "$fl" --snapshot "$snap" -o json > "$tmp/p-snap.out"
	"$bulkhead" propose --flows "$fl" --kubeconfig "$tmp/kubeconfig" -o json > "$tmp/p-api.out"
	cmp -s "$tmp/p-snap.out" "$tmp/p-api.out" || {
		diff -u "$tmp/p-snap.out" "$tmp/p-api.out" | head -20
		fail "propose differs between --snapshot and --kubeconfig"
	}
done

# In-cluster: the service account directory as kubelet lays it out (files
# behind a ..data symlink), no --kubeconfig and no --snapshot.
mkdir -p "$tmp/sa/..2026_01" && cp "$tmp/certs/ca.crt" "$tmp/certs/token" "$tmp/sa/..2026_01/"
ln -s ..2026_01 "$tmp/sa/..data"
ln -s ..data/token "$tmp/sa/token"
ln -s ..data/ca.crt "$tmp/sa/ca.crt"
for fl in "$src"/tests/data/propose/flows-node-1.json; do
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$(cat "$tmp/port") \
		BULKHEAD_SERVICEACCOUNT_DIR=$tmp/sa \
		"$bulkhead" propose --flows "$fl" -o json > "$tmp/p-incluster.out"
	cmp -s "$tmp/p-snap.out" "$tmp/p-incluster.out" || fail "propose differs in-cluster"
done
stop

# The API unreachable: a system error (exit 3) naming the server.
sed "s|127.0.0.1:[0-9]*|127.0.0.1:1|" "$tmp/kubeconfig" > "$tmp/kubeconfig.down"
set +e
"$bulkhead" check --kubeconfig "$tmp/kubeconfig.down" --port 80 > "$tmp/down.out" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "unreachable API: exit $rc, want 3: $(cat "$tmp/down.out")"
grep -q "127.0.0.1:1" "$tmp/down.out" || fail "the error does not name the server: $(cat "$tmp/down.out")"
echo "kube_cli: $n check cases and propose identical from the API and from snapshots"
