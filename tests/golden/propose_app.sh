#!/usr/bin/env bash
# golden.propose_app: the realistic application of tests/data/propose/
# (gen.py) through `bulkhead propose`:
#   - YAML and JSON are diffed against tests/golden/propose/app.{yaml,json}
#     (UPDATE_GOLDEN=1 rewrites them);
#   - the output is byte-identical across runs, across permutations of the
#     --flows files, with the flows and snapshot items shuffled, and with
#     every flow in one file; --out-file writes the same bytes;
#   - the self-check covers every learned flow;
#   - both outputs validate against the NetworkPolicy JSON Schema from the
#     Kubernetes OpenAPI spec (tests/data/propose/networkpolicy-list.schema.json)
#     with python3-jsonschema, and no selector carries a volatile label;
#   - kubectl parses both (tests/golden/propose_kubectl.sh).
set -euo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR"
data=tests/data/propose
gold=tests/golden/propose
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

propose() { "$BULKHEAD" propose "$@" 2>>"$tmp/stderr"; }
base=(--flows "$data/flows-node-1.json" --flows "$data/flows-node-2.json"
      --snapshot "$data/snapshot.json")

# Permuted inputs: shuffled flows and items (fixed seeds), and all the flows
# of both nodes in one file.
"$py" - "$data" "$tmp" <<'PY'
import json, random, sys
data, tmp = sys.argv[1], sys.argv[2]
snap = json.load(open(data + "/snapshot.json"))
f1 = json.load(open(data + "/flows-node-1.json"))
f2 = json.load(open(data + "/flows-node-2.json"))
for seed in (1, 2, 3):
    r = random.Random(seed)
    for name, doc in (("snapshot", snap), ("flows-node-1", f1), ("flows-node-2", f2)):
        d = json.loads(json.dumps(doc))
        r.shuffle(d["items" if name == "snapshot" else "flows"])
        json.dump(d, open("%s/%s-%d.json" % (tmp, name, seed), "w"))
both = json.loads(json.dumps(f1))
both["flows"] = f2["flows"] + f1["flows"]
both.pop("node")
json.dump(both, open(tmp + "/flows-both.json", "w"))
PY

for fmt in yaml json; do
	propose "${base[@]}" -o "$fmt" > "$tmp/app.$fmt"
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/app.$fmt" "$gold/app.$fmt"
	fi
	diff -u "$gold/app.$fmt" "$tmp/app.$fmt"
	propose "${base[@]}" -o "$fmt" | cmp - "$tmp/app.$fmt"
	propose --flows "$data/flows-node-2.json" --flows "$data/flows-node-1.json" \
		--snapshot "$data/snapshot.json" -o "$fmt" | cmp - "$tmp/app.$fmt"
	for seed in 1 2 3; do
		propose --flows "$tmp/flows-node-2-$seed.json" --flows "$tmp/flows-node-1-$seed.json" \
			--snapshot "$tmp/snapshot-$seed.json" -o "$fmt" | cmp - "$tmp/app.$fmt"
	done
	propose --flows "$tmp/flows-both.json" --snapshot "$data/snapshot.json" -o "$fmt" |
		cmp - "$tmp/app.$fmt"
	propose "${base[@]}" -o "$fmt" --out-file "$tmp/out.$fmt"
	cmp "$tmp/out.$fmt" "$tmp/app.$fmt"
done
[ "$(ls "$tmp"/out.*.tmp.* 2>/dev/null | wc -l)" = 0 ]

# Every run reported full coverage.
runs=$(grep -c 'self-check:' "$tmp/stderr")
full=$(grep -c 'self-check: 40/40 learned flows allowed (100.0%)' "$tmp/stderr")
[ "$runs" = "$full" ] && [ "$runs" -ge 10 ] || { cat "$tmp/stderr"; exit 1; }
if grep -q 'denied' "$tmp/stderr"; then cat "$tmp/stderr"; exit 1; fi

"$py" - "$data/networkpolicy-list.schema.json" "$tmp/app.yaml" "$tmp/app.json" <<'PY'
import json, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
docs = [yaml.safe_load(open(sys.argv[2])), json.load(open(sys.argv[3]))]
assert docs[0] == docs[1], "YAML and JSON outputs differ"
v = jsonschema.Draft7Validator(schema)
errs = list(v.iter_errors(docs[1]))
for e in errs:
    print("schema:", list(e.path), e.message)
assert not errs
# The validator really checks: a wrong field is refused.
bad = json.loads(json.dumps(docs[1]))
bad["items"][0]["spec"]["ingres"] = []
assert list(v.iter_errors(bad)), "schema accepted an unknown field"
VOLATILE = {"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
            "pod-template-generation", "batch.kubernetes.io/controller-uid", "controller-uid",
            "batch.kubernetes.io/job-name", "job-name", "apps.kubernetes.io/pod-index",
            "batch.kubernetes.io/job-completion-index"}
def selectors(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in ("podSelector", "namespaceSelector"):
                yield v
            yield from selectors(v)
    elif isinstance(o, list):
        for v in o:
            yield from selectors(v)
n = 0
for s in selectors(docs[1]):
    keys = set(s.get("matchLabels", {})) | {e["key"] for e in s.get("matchExpressions", [])}
    assert not keys & VOLATILE, keys & VOLATILE
    n += 1
assert n > 20, n
names = [p["metadata"]["name"] for p in docs[1]["items"]]
assert len(names) == len(set(names))
print("golden.propose_app: %d policies valid, %d selectors, no volatile label" % (len(names), n))
PY

"$BH_SOURCE_DIR/tests/golden/propose_kubectl.sh" "$tmp/app.yaml" "$tmp/app.json"
echo "golden.propose_app: ok"
