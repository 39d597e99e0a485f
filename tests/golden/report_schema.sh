#!/usr/bin/env bash
# golden.report_schema: the example reports (examples/reports/) are
# scripts/gen-report.py's output byte for byte, and they and a generated
# large report (2,000 workloads, 50,000 flows, 5,000 alerts; in the build
# directory, not committed) validate against docs/report.schema.json with
# scripts/validate-report.py; python3-jsonschema, where installed, agrees on
# the examples (the large one would take it a minute).  Broken reports are
# refused with the field at fault.
# UPDATE_GOLDEN=1 rewrites the examples.
set -uo pipefail
: "${BH_SOURCE_DIR:?source dir}" "${BH_BUILD_DIR:?build dir}"
cd "$BH_SOURCE_DIR" || exit 1
gen=scripts/gen-report.py
val=scripts/validate-report.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for shape in small:small empty:empty hostile:hostile-labels; do
	python3 "$gen" "${shape%%:*}" -o "$tmp/${shape#*:}.json" || fail=1
	want=examples/reports/${shape#*:}.json
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
		cp "$tmp/${shape#*:}.json" "$want"
	elif ! cmp -s "$tmp/${shape#*:}.json" "$want"; then
		echo "FAIL: $want is not what '$gen ${shape%%:*}' writes:"
		diff -u "$want" "$tmp/${shape#*:}.json" | head -20
		fail=1
	fi
done
mkdir -p "$BH_BUILD_DIR/reports"
large=$BH_BUILD_DIR/reports/large.json
python3 "$gen" large --if-stale -o "$large" || fail=1
python3 "$val" examples/reports/*.json "$large" || fail=1
if python3 -c 'import jsonschema' 2> /dev/null; then
	python3 - examples/reports/*.json << 'PY' || fail=1
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open("docs/report.schema.json")))
bad = 0
for p in sys.argv[1:]:
    errs = list(v.iter_errors(json.load(open(p))))
    for e in errs[:5]:
        print("FAIL (jsonschema): %s: %s: %s" % (p, "/".join(map(str, e.path)), e.message[:200]))
    bad |= bool(errs)
print("jsonschema %s agrees" % ("does not" if bad else "also"))
sys.exit(bad)
PY
else
	echo "python3-jsonschema not installed: cross-check skipped"
fi

# Broken reports: refused (exit 1) with the field at fault.
refuse() { # NEEDLE PYTHON-EDIT
	local needle=$1
	python3 -c "import json,sys; r=json.load(open('examples/reports/small.json')); $2; json.dump(r, open(sys.argv[1], 'w'))" "$tmp/bad.json"
	python3 "$val" "$tmp/bad.json" > "$tmp/out" 2>&1
	local rc=$?
	if [ $rc != 1 ] || ! grep -qF -- "$needle" "$tmp/out"; then
		echo "FAIL: ($2) -> exit $rc, want 1 and '$needle':"; cat "$tmp/out"; fail=1
	else
		echo "ok: refused: $(head -1 "$tmp/out")"
	fi
}
refuse '/schemaVersion: expected 1' "r['schemaVersion'] = 2"
refuse "missing required member 'alerts'" "del r['alerts']"
refuse '/flows/0/port: 70000 is above 65535' "r['flows'][0]['port'] = 70000"
refuse '/alerts/0/state: "acked" is not one of' "r['alerts'][0]['state'] = 'acked'"
refuse '/workloads/0/labels/app: expected string' "r['workloads'][0]['labels']['app'] = 1"
refuse '/flows/0/src: matches 2 of the 2 alternatives' "r['flows'][0]['src'] = {'workload': 'a/b/c', 'cidr': '1.2.3.4/32'}"
refuse '/alerts/0/id: is not derived from the key' "r['alerts'][0]['id'] = '0' * 16"
refuse '/alerts/0/id: is not derived from the key' "r['alerts'][0]['port'] = 5433"
refuse "/proposals/0/rules/0/flows/0: unknown flow" "r['proposals'][0]['rules'][0]['flows'][0] = 'f' * 16"
refuse "/flows/1/dst: unknown workload 'shop/Deployment/nope'" "r['flows'][1]['dst']['workload'] = 'shop/Deployment/nope'; r['flows'][1]['id'] = __import__('hashlib').sha256('\n'.join([r['flows'][1]['src']['workload'], 'shop/Deployment/nope', str(r['flows'][1]['port']), r['flows'][1]['protocol']]).encode()).hexdigest()[:16]"
refuse '/namespaces/0/counts/openAlerts: says 7, the arrays hold 1' "r['namespaces'][0]['counts']['openAlerts'] = 7"
refuse '/generatedAt: "2026-12-04 06:00:00" does not match' "r['generatedAt'] = '2026-12-04 06:00:00'"
refuse '/generatedAt: "2026-12-04T06:00:00Z\n" does not match' "r['generatedAt'] += '\n'"
refuse '/alerts/0/extra: unknown member' "r['alerts'][0]['extra'] = 1"
refuse '/enforcement/rulesetDigest: "sha256:' "r['enforcement']['rulesetDigest'] = 'sha256:' + '0' * 64"
for f in tests/browser/data/malformed.json tests/browser/data/old-version.json; do
	python3 "$val" "$f" > "$tmp/out" 2>&1
	rc=$?
	if [ $rc != 1 ]; then
		echo "FAIL: $f -> exit $rc, want 1"; cat "$tmp/out"; fail=1
	else
		echo "ok: refused: $(head -1 "$tmp/out")"
	fi
done
[ $fail = 0 ] && echo "golden.report_schema: ok"
exit $fail
