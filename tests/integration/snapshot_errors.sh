#!/usr/bin/env bash
# Every malformed snapshot in tests/data/snapshot/bad (JSON and YAML), and a
# flows file given as a snapshot, makes every command that reads cluster
# state exit 2 with exactly one line on stderr that names the file, print
# nothing on stdout and write no output file.  Then: --skip-unknown skips
# what cannot be read, with a warning; kinds Bulkhead does not read are
# skipped with a warning; and YAML reads as the same cluster as JSON
# (propose -o yaml fed back to check gives the verdicts -o json gives).
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# An empty but valid capture file (pcap global header, Ethernet) for learn.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' >"$tmp/empty.pcap"
data="$BH_SOURCE_DIR/tests/data"
flows="$data/propose/flows-node-1.json"
fail=0
n=0
for f in "$data"/snapshot/bad/*.json "$data"/snapshot/bad/*.yaml "$flows"; do
	for cmd in "check --port 80 --protocol TCP" \
		"apply --node node-1 --mode enforce --dry-run -o nft" \
		"learn --pcap $tmp/empty.pcap -o $tmp/flows.json" \
		"propose --flows $flows -o json"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		"$BULKHEAD" $cmd --snapshot "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		lines=$(wc -l <"$tmp/err")
		if [ "$rc" != 2 ] || [ "$lines" != 1 ] || ! grep -qF "'$f'" "$tmp/err" ||
			[ -s "$tmp/out" ] || [ -e "$tmp/flows.json" ] || grep -qF ": : " "$tmp/err"; then
			echo "FAIL: bulkhead $cmd --snapshot $f: rc=$rc, $lines stderr lines:"
			cat "$tmp/err"
			fail=1
		else
			echo "ok: $(basename "$f") ($cmd): $(cat "$tmp/err")"
		fi
		rm -f "$tmp/flows.json" # so one failure is reported once
	done
done
echo "$n runs"

# What the one-line errors say (the loop above checks only their shape).
expect_err() { # file substring
	"$BULKHEAD" check --port 80 --protocol TCP --snapshot "$1" >/dev/null 2>"$tmp/err"
	if ! grep -qF -- "$2" "$tmp/err"; then
		echo "FAIL: $(basename "$1"): want '$2', got: $(cat "$tmp/err")"
		fail=1
	fi
}
bad="$data/snapshot/bad"
expect_err "$bad/items-object.json" "items: expected an array of objects in a List, got an object"
expect_err "$bad/items-object.yaml" "line 1, column 1: items: expected an array of objects in a List, got an object"
expect_err "$bad/policy-typo.yaml" "line 27, column 3: items[2]: object 'x/deny-all' of kind 'Networkpolicy' (apiVersion 'networking.k8s.io/v1') cannot be read as a NetworkPolicy (kind NetworkPolicy, apiVersion networking.k8s.io/v1); --skip-unknown skips it"
expect_err "$bad/policy-v1beta1.json" "items[2]: object 'x/deny-all' of kind 'NetworkPolicy' (apiVersion 'networking.k8s.io/v1beta1') cannot be read"
expect_err "$flows" "kind 'FlowList' (apiVersion 'bulkhead.io/v1') is a flows file (read by propose --flows), not cluster state; --skip-unknown skips it"
expect_err "$bad/alias.yaml" "line 8, column 3: YAML aliases (*ns) are not supported"
expect_err "$bad/syntax.yaml" "line 7, column 1: invalid YAML: did not find expected ',' or '}'"
expect_err "$bad/port-string.yaml" "line 1, column 1: pod 'x/a': spec.containers[0].ports[0].containerPort: expected an integer 1..65535, got a string"

# --skip-unknown: the policy that cannot be read is skipped, with one
# warning naming the file, the object, its kind and apiVersion.
for f in "$bad/policy-typo.yaml" "$bad/policy-v1beta1.json"; do
	for cmd in "check --port 80 --protocol TCP" \
		"apply --node node-1 --mode enforce --dry-run -o nft"; do
		# shellcheck disable=SC2086
		"$BULKHEAD" $cmd --skip-unknown --snapshot "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ "$rc" != 0 ] || [ "$(wc -l <"$tmp/err")" != 1 ] ||
			! grep -q "level=warning.*snapshot '$f': skipped 'x/deny-all' of kind 'Network[Pp]olicy' (apiVersion 'networking.k8s.io/v1[a-z0-9]*')" "$tmp/err" ||
			[ ! -s "$tmp/out" ]; then
			echo "FAIL: --skip-unknown $cmd $(basename "$f"): rc=$rc:"
			cat "$tmp/err"
			fail=1
		else
			echo "ok: --skip-unknown $cmd $(basename "$f"): $(cat "$tmp/err")"
		fi
	done
done
"$BULKHEAD" check --port 80 --protocol TCP --skip-unknown --snapshot "$data/snapshot/services.yaml" \
	--snapshot "$flows" >"$tmp/out" 2>"$tmp/err"
if [ $? != 0 ] || ! grep -qF "skipped (document) of kind 'FlowList'" "$tmp/err"; then
	echo "FAIL: --skip-unknown with a flows file:"
	cat "$tmp/err"
	fail=1
fi

# Kinds that are not read are skipped by default, with one warning per kind.
"$BULKHEAD" check --port 80 --protocol TCP --snapshot "$data/snapshot/services.yaml" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" != 0 ] || [ "$(wc -l <"$tmp/err")" != 1 ] ||
	! grep -qF "snapshot '$data/snapshot/services.yaml': skipped 'x/web' and 1 more of kind 'Service' (apiVersion 'v1')" "$tmp/err" ||
	! grep -qF "TCP/80 x/a -> x/a: allowed" "$tmp/out"; then
	echo "FAIL: services.yaml: rc=$rc:"
	cat "$tmp/err" "$tmp/out"
	fail=1
else
	echo "ok: services.yaml: $(cat "$tmp/err")"
fi

# Round trip: propose's YAML reads back as the policies of its JSON.
snap="$data/propose/snapshot.json"
"$BULKHEAD" propose --flows "$flows" --flows "$data/propose/flows-node-2.json" --snapshot "$snap" \
	-o json >"$tmp/p.json" 2>/dev/null
"$BULKHEAD" propose --flows "$flows" --flows "$data/propose/flows-node-2.json" --snapshot "$snap" \
	-o yaml >"$tmp/p.yaml" 2>/dev/null
if ! grep -q '^kind: List' "$tmp/p.yaml" || ! grep -q '"kind": "List"' "$tmp/p.json"; then
	echo "FAIL: propose did not print a JSON and a YAML List"
	fail=1
fi
"$BULKHEAD" check -o json --snapshot "$snap" --snapshot "$tmp/p.json" >"$tmp/v.json" 2>"$tmp/e.json"
rc_json=$?
"$BULKHEAD" check -o json --snapshot "$snap" --snapshot "$tmp/p.yaml" >"$tmp/v.yaml" 2>"$tmp/e.yaml"
rc_yaml=$?
if [ "$rc_json" != "$rc_yaml" ] || ! cmp -s "$tmp/v.json" "$tmp/v.yaml" || [ ! -s "$tmp/v.json" ] ||
	[ -s "$tmp/e.yaml" ]; then
	echo "FAIL: check over propose -o yaml differs from -o json (rc $rc_json/$rc_yaml):"
	head -c 600 "$tmp/e.yaml"
	diff "$tmp/v.json" "$tmp/v.yaml" | head -20
	fail=1
else
	echo "ok: propose -o yaml and -o json give the same check verdicts ($(wc -l <"$tmp/v.json") probes, exit $rc_json)"
fi

# The cluster itself as YAML (kubectl get -o yaml style, with a stream of
# --- documents), when PyYAML is there to write it.
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$snap" "$tmp/s.yaml" <<'PY'
import json, sys, yaml
doc = json.load(open(sys.argv[1]))
items = doc["items"]
with open(sys.argv[2], "w") as f:
    # a List of half the objects, then the rest one document each
    half = dict(doc, items=items[: len(items) // 2])
    f.write(yaml.safe_dump(half, sort_keys=True, default_flow_style=False))
    for o in items[len(items) // 2 :]:
        f.write("---\n" + yaml.safe_dump(o, sort_keys=True, default_flow_style=False))
PY
	"$BULKHEAD" check -o json --snapshot "$tmp/s.yaml" --snapshot "$tmp/p.yaml" >"$tmp/w.yaml" 2>"$tmp/e.yaml"
	rc=$?
	if [ "$rc" != "$rc_json" ] || ! cmp -s "$tmp/v.json" "$tmp/w.yaml" || [ -s "$tmp/e.yaml" ]; then
		echo "FAIL: check over a YAML snapshot differs from JSON (rc $rc_json/$rc):"
		head -c 600 "$tmp/e.yaml"
		fail=1
	else
		echo "ok: a YAML stream snapshot gives the same verdicts as its JSON"
	fi
else
	echo "skip: no PyYAML for the YAML snapshot round trip"
fi
exit "$fail"
