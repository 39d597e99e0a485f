#!/usr/bin/env bash
# golden.propose_existing: the application of tests/data/propose/ with one
# existing NetworkPolicy in its snapshot, isolating postgres's ingress and
# letting only shop's api in on TCP 5432 (docs/propose.md, "Existing
# policies"):
#   - postgres gets no proposed ingress policy, everything else is as
#     without the policy;
#   - the self-check joins the existing policy and the proposal: api ->
#     postgres is allowed by the existing policy, report -> postgres and
#     postgres -> postgres are denied by it and are no failure of the
#     proposal (exit 0, the summary says so);
#   - the YAML and the summary are diffed against
#     tests/golden/propose/existing.{yaml,stderr} (UPDATE_GOLDEN=1 rewrites them).
set -euo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR"
data=tests/data/propose
gold=tests/golden/propose
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$data/snapshot.json" "$tmp/snapshot.json" <<'PY'
import json, sys
snap = json.load(open(sys.argv[1]))
snap["items"].append({
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "postgres-from-api", "namespace": "data", "uid": "uid-np-1"},
    "spec": {
        "podSelector": {"matchLabels": {"app": "postgres"}},
        "policyTypes": ["Ingress"],
        "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
                      "podSelector": {"matchLabels": {"app": "api"}}}],
            "ports": [{"protocol": "TCP", "port": 5432}]}]}})
json.dump(snap, open(sys.argv[2], "w"), indent=1)
PY

args=(--flows "$data/flows-node-1.json" --flows "$data/flows-node-2.json")
"$BULKHEAD" propose "${args[@]}" --snapshot "$tmp/snapshot.json" >"$tmp/existing.yaml" \
	2>"$tmp/existing.stderr"
"$BULKHEAD" propose "${args[@]}" --snapshot "$data/snapshot.json" >"$tmp/app.yaml" 2>/dev/null
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
	cp "$tmp/existing.yaml" "$gold/existing.yaml"
	cp "$tmp/existing.stderr" "$gold/existing.stderr"
fi
diff -u "$gold/existing.yaml" "$tmp/existing.yaml"
diff -u "$gold/existing.stderr" "$tmp/existing.stderr"

# The only policy gone is postgres's ingress; the rest is byte for byte the
# proposal without the existing policy.
/usr/bin/python3 - "$tmp/app.yaml" "$tmp/existing.yaml" <<'PY'
import sys, yaml
a = yaml.safe_load(open(sys.argv[1]))["items"]
b = yaml.safe_load(open(sys.argv[2]))["items"]
name = lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])
gone = sorted(set(map(name, a)) - set(map(name, b)))
assert gone == [("data", "bulkhead-postgres-ingress")], gone
assert [p for p in a if name(p) not in gone] == b
PY
grep -q 'self-check: 38/38 learned flows allowed (100.0%)' "$tmp/existing.stderr"
grep -q '1 workload direction already isolated' "$tmp/existing.stderr"
grep -q "denied by one (not counted as the proposal's failures" "$tmp/existing.stderr"
echo "golden.propose_existing: ok"
