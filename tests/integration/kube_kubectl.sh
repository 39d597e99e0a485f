#!/usr/bin/env bash
# integration.kube_kubectl: the fidelity of the test API server, checked by
# pointing the real kubectl at it: get, list in chunks (--chunk-size) and
# watch must work as against a real API server.  Loopback only, no root.
# Skips (77) only when kubectl is not installed, and says so.
set -euo pipefail
src=${BH_SOURCE_DIR:?}
kubectl=${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}
if [ ! -x "$kubectl" ]; then
	echo "SKIP: kubectl is not installed at $kubectl (scripts/install-deps.sh installs" \
		"Debian's kubernetes-client); the API server's fidelity is not checked"
	exit 77
fi
tmp=$(mktemp -d /tmp/bh-kubectl.XXXXXX)
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null || true
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"
fail() { echo "FAIL: $*"; exit 1; }

api_start --generate-pods 57 --bookmark-interval 1
export KUBECONFIG=$tmp/kubeconfig
export HOME=$tmp   # kubectl's discovery cache goes here, not in the user's home
k() { timeout 30 "$kubectl" --request-timeout=20s "$@"; }

# get: one object, by name, as JSON
name=$(k get pod -n ns-3 pod-00003 -o jsonpath='{.metadata.name}')
[ "$name" = pod-00003 ] || fail "get pod returned '$name'"
k get namespaces > "$tmp/ns.out"
grep -q '^ns-19 ' "$tmp/ns.out" || fail "get namespaces (table) lacks ns-19"

# list in chunks: every pod, across pages, exactly once
k get pods -A --chunk-size=5 -v=6 > "$tmp/list.out" 2> "$tmp/list.err"
n=$(grep -c ' pod-' "$tmp/list.out" || true)
[ "$n" = 57 ] || fail "list --chunk-size=5 printed $n pods, want 57"
pages=$(grep -c 'continue=' "$tmp/list.err" || true)
[ "$pages" -ge 11 ] || fail "list --chunk-size=5 made $pages continued requests, want >= 11"
k get pods -A --chunk-size=7 -o json > "$tmp/list.json"
n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$tmp/list.json")
[ "$n" = 57 ] || fail "list -o json returned $n items"
k get pods -A -l app=app-3 -o name > /dev/null || true

# watch: a pod created and deleted while kubectl watches shows up
timeout 15 "$kubectl" get pods -n ns-1 --watch --output-watch-events > "$tmp/watch.out" 2> "$tmp/watch.err" &
wpid=$!
sleep 2
ctl() { curl -sf --cacert "$tmp/certs/ca.crt" "https://127.0.0.1:$apiport/_control" -d "$1" > /dev/null; }
ctl '{"op":"put","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"watched","namespace":"ns-1"},"status":{"phase":"Pending"}}}'
sleep 1
ctl '{"op":"delete","resource":"pods","namespace":"ns-1","name":"watched"}'
for _ in $(seq 50); do grep -q 'DELETED *watched' "$tmp/watch.out" && break; sleep 0.2; done
kill "$wpid" 2>/dev/null || true
wpid=
grep -q 'ADDED *watched' "$tmp/watch.out" || { cat "$tmp/watch.out" "$tmp/watch.err"; fail "watch did not show ADDED"; }
grep -q 'DELETED *watched' "$tmp/watch.out" || { cat "$tmp/watch.out"; fail "watch did not show DELETED"; }

# a wrong token is refused as a real server does
sed 's|tokenFile: [^}]*|token: wrong|' "$tmp/kubeconfig" > "$tmp/kubeconfig.bad"
if KUBECONFIG=$tmp/kubeconfig.bad k get pods -A > /dev/null 2> "$tmp/auth.err"; then
	fail "a wrong token was accepted"
fi
grep -qi 'unauthorized\|must be logged in' "$tmp/auth.err" || fail "no Unauthorized error: $(cat "$tmp/auth.err")"
echo "kubectl fidelity: get, list --chunk-size ($pages pages), watch and 401 all work"
