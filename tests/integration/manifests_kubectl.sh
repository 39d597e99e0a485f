#!/usr/bin/env bash
# integration.manifests_kubectl: manifests/ through the real kubectl's
# client-side checks, against the test API server serving the Kubernetes
# OpenAPI documents of tests/data/openapi (--openapi-dir: /openapi/v3, and
# /openapi/v2 as protobuf, which kubectl's schema validation reads):
#   kubectl kustomize manifests | kubectl apply --dry-run=client --validate=strict
# must create every object (dry run), and the same with a misspelled field,
# a wrong type or a missing required field must be refused naming it.  Then
# for real, and where the server registers CRDs (the api branch's), the
# examples of examples/cluster: validated by kubectl against the CRDs'
# published schemas (a misspelled field refused), then created and listed
# with the CRDs' printer columns.
# Loopback only, no root.  Skips (77) only when kubectl is not installed.
set -euo pipefail
src=${BH_SOURCE_DIR:?}
kubectl=${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}
if [ ! -x "$kubectl" ]; then
	echo "SKIP: kubectl is not installed at $kubectl (scripts/install-deps.sh installs" \
		"Debian's kubernetes-client); the manifests are not checked through kubectl"
	exit 77
fi
tmp=$(mktemp -d /tmp/bh-manifests-kubectl.XXXXXX)
cleanup() {
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"
fail() { echo "FAIL: $*"; exit 1; }

api_start --openapi-dir "$src/tests/data/openapi"
export KUBECONFIG=$tmp/kubeconfig
export HOME=$tmp   # kubectl's caches go here, not in the user's home
k() { timeout 60 "$kubectl" --request-timeout=30s "$@"; }

"$kubectl" kustomize "$src/manifests" > "$tmp/all.yaml"
want=$(grep -c '^kind:' "$tmp/all.yaml")
apply() { k apply --dry-run=client --validate=strict -f "$1"; }

# The manifests as they are: every object accepted.
apply "$tmp/all.yaml" > "$tmp/ok.out" 2> "$tmp/ok.err" ||
	{ cat "$tmp/ok.out" "$tmp/ok.err"; fail "kubectl apply --dry-run=client refused the manifests"; }
n=$(grep -c 'created (dry run)' "$tmp/ok.out" || true)
[ "$n" = "$want" ] || { cat "$tmp/ok.out"; fail "$n of $want objects created (dry run)"; }

# Broken copies: each refused by kubectl's schema validation, naming it.
refused() { # NAME SED-EXPRESSION WANT
	sed -e "$2" "$tmp/all.yaml" > "$tmp/$1.yaml"
	cmp -s "$tmp/all.yaml" "$tmp/$1.yaml" && fail "$1: the edit '$2' changed nothing"
	if apply "$tmp/$1.yaml" > "$tmp/$1.out" 2> "$tmp/$1.err"; then
		fail "$1: kubectl accepted it: $(cat "$tmp/$1.out")"
	fi
	grep -q "$3" "$tmp/$1.err" || fail "$1: no '$3' in: $(cat "$tmp/$1.err")"
	echo "refused as it should be ($1): $(grep -o 'ValidationError([^)]*)[^;]*' "$tmp/$1.err" | head -1)"
}
refused misspelled 's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' \
	'unknown field "readOnlyRootFileSystem" in io.k8s.api.core.v1.SecurityContext'
refused wrong_type 's/containerPort: 9464/containerPort: nine/' \
	'ValidationError(DaemonSet.spec.template.spec.containers\[0\].ports\[0\].containerPort)'
refused missing_required 's/^    - jsonPath: .spec.mode$/    - jsonpath: .spec.mode/' \
	'missing required field "jsonPath"'
refused rbac_field 's/^  resources:/  resource:/' 'unknown field "resource" in io.k8s.api.rbac.v1.PolicyRule'
echo "kubectl: the $want objects of manifests/ pass apply --dry-run=client --validate=strict;" \
	"4 broken copies refused"

# For real: the objects created, then (on a server that registers
# CustomResourceDefinitions) the examples of examples/cluster, listed with
# the CRDs' printer columns and short names.
k apply -f "$tmp/all.yaml" > "$tmp/real.out" 2>&1 || { cat "$tmp/real.out"; fail "kubectl apply"; }
if ! k api-resources --api-group=bulkhead.io -o name 2> /dev/null | grep -q '^nodeflows'; then
	echo "note: this API server does not register CRDs; the examples are not applied"
	exit 0
fi
# The server now publishes the CRDs' schemas: kubectl validates the custom
# resources on the client too, and refuses a misspelled field.
rm -rf "$tmp/.kube/cache"
k apply --dry-run=client --validate=strict -f "$src/examples/cluster/" > "$tmp/exdry.out" 2>&1 ||
	{ cat "$tmp/exdry.out"; fail "kubectl apply --dry-run=client examples/cluster"; }
sed 's/      seen_by: \[conntrack\]/      seenBy: [conntrack]/' "$src/examples/cluster/nodeflows.yaml" > "$tmp/nf-bad.yaml"
cmp -s "$src/examples/cluster/nodeflows.yaml" "$tmp/nf-bad.yaml" && fail "the seen_by edit changed nothing"
if apply "$tmp/nf-bad.yaml" > "$tmp/nf-bad.out" 2> "$tmp/nf-bad.err"; then
	fail "kubectl accepted a NodeFlows with seenBy: $(cat "$tmp/nf-bad.out")"
fi
grep -q 'unknown field "seenBy" in io.bulkhead.v1alpha1.NodeFlows' "$tmp/nf-bad.err" ||
	fail "no unknown field seenBy in: $(cat "$tmp/nf-bad.err")"
echo "refused as it should be (example): $(grep -o 'ValidationError([^)]*)[^;]*' "$tmp/nf-bad.err" | head -1)"
k apply -f "$src/examples/cluster/" > "$tmp/ex.out" 2>&1 || { cat "$tmp/ex.out"; fail "kubectl apply examples/cluster"; }
k get nf > "$tmp/nf.out"
head -1 "$tmp/nf.out" | grep -q 'NAME *GENERATED *PACKETS *TRUNCATED *AGE' ||
	fail "NodeFlows columns: $(head -1 "$tmp/nf.out")"
grep -q '^node-1 .* 123 *0 ' "$tmp/nf.out" || fail "NodeFlows row: $(cat "$tmp/nf.out")"
# Proposal has a status subresource: create drops the example's status (as
# a real server does) and the Lease holder writes it through /status.
k get bhp -n shop -o jsonpath='{.status.mode}' | grep -q . && fail "create kept a Proposal's status"
k patch proposal bulkhead-api -n shop --subresource=status --type=merge \
	-p '{"status":{"mode":"preview","observedAt":"2026-12-04T10:01:05Z"}}' > /dev/null
k get bhp -n shop > "$tmp/bhp.out"
grep -q '^bulkhead-api *Deployment *api *preview ' "$tmp/bhp.out" || fail "Proposal: $(cat "$tmp/bhp.out")"
k get bhmode > "$tmp/mode.out"
grep -q '^shop *enforce *shop ' "$tmp/mode.out" || fail "PolicyMode: $(cat "$tmp/mode.out")"
echo "kubectl: CRDs registered; the examples listed with their printer columns:"
cat "$tmp/nf.out" "$tmp/bhp.out" "$tmp/mode.out"
