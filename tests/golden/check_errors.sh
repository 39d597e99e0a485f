#!/usr/bin/env bash
# golden.check_errors: bad usage and bad input make `bulkhead check` exit 2
# with exactly one line on stderr naming the flag, pod or file at fault,
# and print nothing on stdout.  The lines are diffed against
# tests/golden/check/errors.txt (UPDATE_GOLDEN=1 rewrites it).
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR" || exit 1
# No API configuration from the machine running the test.
export HOME=/nonexistent
unset KUBECONFIG KUBERNETES_SERVICE_HOST
want=tests/golden/check/errors.txt
snap="--snapshot tests/data/netpol-cases/model.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

cases=(
	"$snap --from xa"
	"$snap --from x/zz"
	"$snap --to q/a"
	"$snap --from x/a/b"
	"$snap --port 0"
	"$snap --port 65536"
	"$snap --port 80x"
	"$snap --protocol 6"
	"$snap --protocol ICMP"
	"$snap -o yaml"
	"$snap --family ipv5"
	"$snap --explain"
	"$snap --explain --from x/a --to x/b"
	"$snap --explain --from x/a --port 80"
	"$snap --from x/a --from x/b"
	"$snap --bogus"
	"$snap --from"
	"$snap stray"
	"$snap --from 10.200.0.1 --to fd00:200::2"
	"$snap --family ipv4 --to fd00:200::2"
	"--snapshot tests/data/netpol-cases/does-not-exist.json"
	"--port 80"
	"--snapshot tests/data/netpol-cases/does-not-exist.json --to nope"
	"$snap --kubeconfig tests/data/netpol-cases/model.json"
	"$snap --context prod"
	"--context prod --port 80"
	"$snap --namespace nope --port 80"
)
: >"$tmp/got"
for args in "${cases[@]}"; do
	# shellcheck disable=SC2086
	"$BULKHEAD" check $args >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" != 2 ] || [ "$lines" != 1 ] || [ -s "$tmp/out" ]; then
		echo "FAIL: check $args: exit $rc, $lines stderr lines, $(wc -c <"$tmp/out") bytes out"
		fail=1
	fi
	printf '%s\n  -> %s\n' "$args" "$(cat "$tmp/err")" >>"$tmp/got"
done
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
	cp "$tmp/got" "$want"
elif ! diff -u "$want" "$tmp/got"; then
	echo "FAIL: error lines differ from $want"
	fail=1
fi
[ "$fail" = 0 ] && echo "ok: ${#cases[@]} error cases"
exit "$fail"
