#!/usr/bin/env bash
# integration.apiserver_crd: the test API server's custom resources, Leases
# and conflicts on demand, checked with the real kubectl as against a real
# API server: CRDs applied and registered (discovery, scope, short names,
# printer columns, kubectl wait), field and label selectors, custom objects
# created, patched and read, the status
# subresource's semantics, a Lease updated with a stale resourceVersion
# (409), a conflict fault for one resource and verb only, the CRD deleted,
# the state kept across a restart, --crd-file and --address.  Loopback
# only, no root.  Skips (77) only when kubectl is not installed.
set -euo pipefail
src=${BH_SOURCE_DIR:?}
kubectl=${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}
if [ ! -x "$kubectl" ]; then
	echo "SKIP: kubectl is not installed at $kubectl (scripts/install-deps.sh installs" \
		"Debian's kubernetes-client); the API server's CRDs are not checked"
	exit 77
fi
data=$src/tests/data/apiserver
tmp=$(mktemp -d /tmp/bh-apicrd.XXXXXX)
pid=
pid2=
cleanup() {
	[ -n "$pid2" ] && kill "$pid2" 2> /dev/null && wait "$pid2" 2> /dev/null || true
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

"$src/tests/apiserver/mkcerts.sh" "$tmp/certs"
mkdir "$tmp/data"
start() {
	rm -f "$tmp/port"
	/usr/bin/python3 "$src/tests/apiserver/apiserver.py" --dir "$tmp/data" \
		--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
		--token-file "$tmp/certs/token" --port-file "$tmp/port" "$@" &
	pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	[ -s "$tmp/port" ] || fail "the API server did not start"
	port=$(cat "$tmp/port")
	"$src/tests/apiserver/kubeconfig.sh" "$tmp/kubeconfig" "$port" certs
}
stop() {
	kill "$pid"
	wait "$pid" || true
	pid=
}
start --crd-file "$src/manifests/crd-policymode.yaml"
export KUBECONFIG=$tmp/kubeconfig
export HOME=$tmp # kubectl's discovery cache goes here, not in the user's home
k() { timeout 30 "$kubectl" --request-timeout=20s "$@"; }
# Client-side validation downloads the server's OpenAPI document, which this
# test does not need (integration.manifests_kubectl checks that).
ka() { k apply --validate=false "$@"; }
ctl() {
	curl -sf --cacert "$tmp/certs/ca.crt" "https://127.0.0.1:$port/_control" -d "$1"
}
# stat PY: a Python expression on s, the server's counters
stat() {
	ctl '{"op":"stats"}' | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}
# api PATH: the HTTP status of GET PATH with the test's token
api() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/certs/ca.crt" \
		-H "Authorization: Bearer $(cat "$tmp/certs/token")" "https://127.0.0.1:$port$1"
}
# expect WANT WHAT CMD...: CMD's output is WANT
expect() {
	local want=$1 what=$2 got
	shift 2
	got=$("$@") || fail "$what: '$*' failed"
	[ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
}

# --crd-file registered the project's PolicyMode at start (cluster-scoped).
k api-resources --api-group=bulkhead.io > "$tmp/res.out"
grep -Eq '^policymodes +([a-z]+ +)?bulkhead.io/v1alpha1 +false +PolicyMode' "$tmp/res.out" ||
	fail "--crd-file did not register policymodes: $(cat "$tmp/res.out")"
ka -f - > /dev/null <<'EOF'
apiVersion: bulkhead.io/v1alpha1
kind: PolicyMode
metadata: {name: all}
spec: {mode: enforce, namespace: ""}
EOF
k get policymodes > "$tmp/pm.out"
grep -Eq '^NAME +MODE( |$)' "$tmp/pm.out" || fail "policymodes columns: $(cat "$tmp/pm.out")"
grep -Eq '^all +enforce ' "$tmp/pm.out" || fail "policymodes row: $(cat "$tmp/pm.out")"

# kubectl apply -f registers both CRDs; discovery lists them as the real
# server does (short name, scope, category, the preferred version).
ka -f "$data/crd-widgets.yaml" > /dev/null
expect True "CRD Established" k get crd widgets.example.test \
	-o jsonpath='{.status.conditions[?(@.type=="Established")].status}'
# kubectl wait watches the one CRD by a field selector.
expect "customresourcedefinition.apiextensions.k8s.io/gadgets.example.test condition met" \
	"kubectl wait" k wait --for condition=established --timeout=10s crd/gadgets.example.test
expect customresourcedefinition.apiextensions.k8s.io/widgets.example.test "a field selector" \
	k get crd --field-selector metadata.name=widgets.example.test -o name
k api-resources --api-group=example.test > "$tmp/res.out"
grep -Eq '^widgets +wd +example.test/v1alpha1 +true +Widget' "$tmp/res.out" ||
	fail "widgets not discovered: $(cat "$tmp/res.out")"
grep -Eq '^gadgets +example.test/v1 +false +Gadget' "$tmp/res.out" ||
	fail "gadgets not discovered at their preferred version v1: $(cat "$tmp/res.out")"
k get testing -A > /dev/null 2>&1 || fail "the category testing is unknown"
expect 404 "a cluster-scoped resource under a namespace" api /apis/example.test/v1/namespaces/shop/gadgets
expect 200 "the other served version" api /apis/example.test/v1beta1/gadgets

# A namespaced object with a status subresource: create drops its status;
# the printer columns (string, list index, integer, date as an age,
# priority 1 only with -o wide; kubectl prints a missing value as blank).
ka -f "$data/objects.yaml" > /dev/null
expect "" "status after create (status subresource)" k get widget -n shop api -o jsonpath='{.status}'
k get wd -n shop > "$tmp/wd.out"
grep -Eq '^NAME +MODE +FIRST-NODE +TRUNCATED +AGE *$' "$tmp/wd.out" || fail "widget columns: $(cat "$tmp/wd.out")"
grep -Eq '^api +preview +node-1 +[0-9]+s *$' "$tmp/wd.out" || fail "widget row: $(cat "$tmp/wd.out")"
k get wd -n shop -o wide > "$tmp/wd.out"
grep -Eq '^api +preview +node-1 +wide-only +[0-9]+s *$' "$tmp/wd.out" ||
	fail "widget row -o wide: $(cat "$tmp/wd.out")"
# Label selectors.
expect "" "a label selector before the label" k get wd -A -l 'tier in (web,db)' -o name
k label widget -n shop api tier=web > /dev/null
expect widget.example.test/api "a label selector" k get wd -A -l 'tier in (web,db)' -o name
expect "" "a negated label selector" k get wd -A -l 'tier!=web' -o name
# Writes to the main resource keep the stored status; writes to /status
# keep the spec.
k patch widget -n shop api --type=merge -p '{"spec":{"mode":"enforce"},"status":{"truncated":1}}' > /dev/null
expect "enforce||2" "main patch" k get widget -n shop api \
	-o jsonpath='{.spec.mode}|{.status.truncated}|{.metadata.generation}'
k patch widget -n shop api --subresource=status --type=merge \
	-p '{"spec":{"mode":"learn"},"status":{"truncated":3}}' > /dev/null
expect "enforce|3|2" "status patch" k get widget -n shop api \
	-o jsonpath='{.spec.mode}|{.status.truncated}|{.metadata.generation}'
grep -Eq '^api +enforce +node-1 +3 ' <(k get wd -n shop) || fail "widget row after the status patch"

# A cluster-scoped object without a status subresource: create keeps its
# status, main writes change everything, /status is 404.
expect "node-1|2" "gadget after create" k get gadget node-1 -o jsonpath='{.spec.node}|{.status.truncated}'
grep -Eq '^node-1 +node-1 +2 *$' <(k get gadgets) || fail "gadget row: $(k get gadgets)"
k patch gadget node-1 --type=merge -p '{"status":{"truncated":5}}' > /dev/null
expect 5 "gadget main patch" k get gadget node-1 -o jsonpath='{.status.truncated}'
if k patch gadget node-1 --subresource=status --type=merge -p '{"status":{"truncated":6}}' \
	> /dev/null 2> "$tmp/err"; then
	fail "a status patch of a resource without a status subresource succeeded"
fi
grep -q NotFound "$tmp/err" || fail "status patch without subresource: $(cat "$tmp/err")"
expect 404 "GET gadgets/status" api /apis/example.test/v1/gadgets/node-1/status

# A Lease: created, renewed with the read resourceVersion, refused (409)
# with a stale one, as the proposer's election needs.
ka -f - > /dev/null <<'EOF'
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: bulkhead-proposer, namespace: bulkhead-system}
spec: {holderIdentity: node-1, leaseDurationSeconds: 15}
EOF
grep -Eq '^bulkhead-proposer +node-1 +[0-9]+s *$' <(k get leases -n bulkhead-system) ||
	fail "lease row: $(k get leases -n bulkhead-system)"
k get lease -n bulkhead-system bulkhead-proposer -o json > "$tmp/lease.json"
sed 's/"holderIdentity": "node-1"/"holderIdentity": "node-2"/' "$tmp/lease.json" > "$tmp/lease2.json"
k replace --validate=false -f "$tmp/lease2.json" > /dev/null || fail "a lease update with the current resourceVersion"
sed 's/"holderIdentity": "node-1"/"holderIdentity": "node-3"/' "$tmp/lease.json" > "$tmp/lease3.json"
if k replace --validate=false -f "$tmp/lease3.json" > /dev/null 2> "$tmp/err"; then
	fail "a lease update with a stale resourceVersion succeeded"
fi
grep -q 'Conflict' "$tmp/err" || fail "stale lease update: $(cat "$tmp/err")"
expect node-2 "lease holder" k get lease -n bulkhead-system bulkhead-proposer -o jsonpath='{.spec.holderIdentity}'

# Conflicts on demand for one resource and verb: gadget patches conflict,
# widget patches and gadget updates do not.
before=$(stat 's["writes_by"]["gadgets"].get("patch", 0)')
ctl '{"op":"fault","fault":"conflict","count":2,"resource":"gadgets","verb":"patch"}' > /dev/null
k patch widget -n shop api --type=merge -p '{"spec":{"mode":"preview"}}' > /dev/null ||
	fail "a widget patch conflicted"
k get gadget node-1 -o json | k replace --validate=false -f - > /dev/null || fail "a gadget update conflicted"
for i in 1 2; do
	if k patch gadget node-1 --type=merge -p '{"spec":{"n":1}}' > /dev/null 2> "$tmp/err"; then
		fail "gadget patch $i did not conflict"
	fi
	grep -q 'Conflict' "$tmp/err" || fail "gadget patch $i: $(cat "$tmp/err")"
done
k patch gadget node-1 --type=merge -p '{"spec":{"n":2}}' > /dev/null || fail "the third gadget patch conflicted"
expect 3 "gadget patches counted" stat "s['writes_by']['gadgets']['patch'] - $before"
expect 2 "faults fired" stat 's["faulted"]'
# create, patch, replace, 2 conflicted patches, patch
expect 6 "writes of gadget node-1" stat 's["writes_by_object"]["gadgets"]["node-1"]'

# The state (CRDs, their objects) survives a restart.
stop
start
expect "preview|3" "widget after a restart" k get widget -n shop api -o jsonpath='{.spec.mode}|{.status.truncated}'
grep -Eq '^api +preview +node-1 +3 ' <(k get wd -n shop) || fail "widget row after a restart: $(k get wd -n shop)"

# Deleting a CRD deletes its objects and unregisters its resource.
k delete crd gadgets.example.test > /dev/null
expect 404 "gadgets after the CRD's deletion" api /apis/example.test/v1/gadgets
k api-resources --api-group=example.test > "$tmp/res.out"
if grep -q gadgets "$tmp/res.out"; then fail "gadgets still discovered"; fi
grep -q widgets "$tmp/res.out" || fail "widgets lost with gadgets"
ka -f "$data/crd-widgets.yaml" > /dev/null
expect "" "gadgets after re-creating the CRD" k get gadgets -o name

# --address: another server on another loopback address.
/usr/bin/python3 "$src/tests/apiserver/apiserver.py" --dir "$tmp/data" \
	--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" --address 127.0.0.2 \
	--token-file "$tmp/certs/token" --port-file "$tmp/port2" &
pid2=$!
for _ in $(seq 100); do [ -s "$tmp/port2" ] && break; sleep 0.1; done
[ -s "$tmp/port2" ] || fail "the API server on 127.0.0.2 did not start"
expect 200 "--address 127.0.0.2" curl -sk -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $(cat "$tmp/certs/token")" "https://127.0.0.2:$(cat "$tmp/port2")/version"
echo "apiserver CRDs: registration, printer columns, status subresource, Lease 409," \
	"per-resource conflicts, restart, deletion and --address all work"
