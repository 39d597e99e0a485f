#!/usr/bin/env bash
# golden.check_output: `bulkhead check` text and JSON output over the e2e
# model and one case (28-two-rules-union), diffed against tests/golden/check/.
# UPDATE_GOLDEN=1 rewrites the expected files.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR" || exit 1
dir=tests/golden/check
snap="--snapshot tests/data/netpol-cases/model.json --snapshot tests/data/netpol-cases/28-two-rules-union.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# name | arguments | expected exit status
runs=(
	"all-json|-o json|1"
	"all-text||1"
	"tcp80-json|-o json --port 80 --protocol TCP|1"
	"from-xb-text|--from x/b --port 80|0"
	"cell-text|--from y/a --to x/a --port 81|0"
	"explain-text|--from x/c --to x/a --port 80 --explain|1"
	"explain-json|--from x/b --to x/a --port 80 --explain -o json|0"
	"ipv6-text|--family ipv6 --to x/a --protocol UDP|1"
	"numbered-text|--to fd00:200:0:1::1 --port 80|0"
	"help|--help|0"
	"node-explain|--from 10.100.0.1 --to x/a --port 80 --protocol SCTP --explain|0"
)
for r in "${runs[@]}"; do
	IFS='|' read -r name args want <<<"$r"
	# shellcheck disable=SC2086
	"$BULKHEAD" check $snap $args >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" != "$want" ] || [ -s "$tmp/$name.err" ]; then
		echo "FAIL: check $args: exit $rc (want $want), stderr: $(cat "$tmp/$name.err")"
		fail=1
	fi
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$dir/$name.out"
	elif ! diff -u "$dir/$name.out" "$tmp/$name.out"; then
		echo "FAIL: check $args: output differs from $dir/$name.out"
		fail=1
	else
		echo "ok: $name"
	fi
done
# Two origins of policy (docs/enforcer.md): tests/data/origins, the
# cluster's allow-b-to-a on x/a and --proposal's a-in (x/a), c-in and
# c-eg (x/c), in preview (the default) and in enforce.
osnap="--snapshot tests/data/netpol-cases/model.json --snapshot tests/data/origins/cluster.json
	--proposal tests/data/origins/proposal.json"
oruns=(
	"origins-preview-explain-text|--from x/a --to x/c --port 80 --explain|0"
	"origins-preview-explain-json|--from x/a --to x/c --port 80 --explain -o json|0"
	"origins-preview-egress-text|--from x/c --to x/a --port 81 --explain|1"
	"origins-enforce-explain-text|--proposal-mode enforce --from x/c --to x/a --port 80 --explain|0"
	"origins-preview-text|--port 80|1"
	"origins-enforce-text|--proposal-mode enforce --port 80|1"
)
for r in "${oruns[@]}"; do
	IFS='|' read -r name args want <<<"$r"
	# shellcheck disable=SC2086
	"$BULKHEAD" check $osnap $args >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	if [ "$rc" != "$want" ] || [ -s "$tmp/$name.err" ]; then
		echo "FAIL: check $args: exit $rc (want $want), stderr: $(cat "$tmp/$name.err")"
		fail=1
	fi
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$dir/$name.out"
	elif ! diff -u "$dir/$name.out" "$tmp/$name.out"; then
		echo "FAIL: check $args: output differs from $dir/$name.out"
		fail=1
	else
		echo "ok: $name"
	fi
done
# --proposal's errors: exit 2, one line naming the flag or file.
printf '%s\n' '{"kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"x"}}]}' \
	>"$tmp/pods.json"
eruns=(
	"--proposal-mode enforce|--proposal-mode needs --proposal FILE"
	"--proposal tests/data/origins/proposal.json --proposal-mode drop|--proposal-mode: expected preview or enforce, got 'drop'"
	"--proposal $tmp/pods.json|--proposal: a proposal holds NetworkPolicies only, found a Pod"
	"--proposal $tmp/missing.json|$tmp/missing.json"
)
for r in "${eruns[@]}"; do
	IFS='|' read -r args msg <<<"$r"
	# shellcheck disable=SC2086
	"$BULKHEAD" check --snapshot tests/data/netpol-cases/model.json $args --port 80 \
		>/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -qF -- "$msg" "$tmp/err"; then
		echo "ok: check $args: exit 2, '$msg'"
	else
		echo "FAIL: check $args: exit $rc, stderr: $(cat "$tmp/err") (want 2, '$msg')"
		fail=1
	fi
done
# Every JSON line parses and has the documented shape.
if command -v python3 >/dev/null; then
	python3 - "$tmp/all-json.out" <<'PY' || fail=1
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 6, len(lines)
seen = set()
for l in lines:
    o = json.loads(l)
    assert list(o) == ["port", "protocol", "matrix"], list(o)
    seen.add((o["port"], o["protocol"]))
    assert len(o["matrix"]) == 9 and all(len(v) == 9 for v in o["matrix"].values())
assert seen == {(p, q) for p in (80, 81) for q in ("TCP", "UDP", "SCTP")}, seen
print("ok: JSON shape")
PY
fi
exit "$fail"
