#!/usr/bin/env bash
# golden.propose_errors: bad usage and bad input make `bulkhead propose`
# exit 2 (a system error 3) with one line on stderr naming the flag, file,
# flow index or field at fault, and print nothing on stdout; --out-file
# never leaves a file behind on failure, and --output (now the format, as
# -o) never writes a file named after its value.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR" || exit 1
# No API configuration from the machine running the test.
export HOME=/nonexistent
unset KUBECONFIG KUBERNETES_SERVICE_HOST
d=tests/data/propose
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
printf '{"version":1,"flows":[{"src":{"ip":"1.2.3"}}]}' > "$tmp/bad-ip.json"
printf '{"version":3,"flows":[]}' > "$tmp/v3.json"
printf '{"version":1,"flows":[' > "$tmp/trunc.json"
ok=(--flows "$d/flows-node-1.json" --snapshot "$d/snapshot.json")

check() { # RC NEEDLE ARGS...
	local want=$1 needle=$2
	shift 2
	"$BULKHEAD" propose "$@" > "$tmp/out" 2> "$tmp/err"
	local rc=$? lines
	lines=$(grep -vc '^propose: ' "$tmp/err")
	if [ $rc != "$want" ] || [ "$lines" != 1 ] || ! grep -qF -- "$needle" "$tmp/err" ||
		[ -s "$tmp/out" ]; then
		echo "FAIL: propose $* -> exit $rc (want $want), stderr:"; cat "$tmp/err"
		fail=1
	else
		echo "ok: exit $rc: $(grep -v '^propose: ' "$tmp/err")"
	fi
}
check 2 "flows '$tmp/bad-ip.json': flows[0].src.ip: expected an IPv4 or IPv6 address" \
	--flows "$tmp/bad-ip.json" --snapshot "$d/snapshot.json"
check 2 "field 'version': version 3 is not supported (expected 1)" \
	--flows "$tmp/v3.json" --snapshot "$d/snapshot.json"
check 2 "flows '$tmp/trunc.json': line 1 column" --flows "$tmp/trunc.json" --snapshot "$d/snapshot.json"
check 2 "flows '$tmp/missing.json': No such file" --flows "$tmp/missing.json" --snapshot "$d/snapshot.json"
check 2 "--flows FILE is required" --snapshot "$d/snapshot.json"
check 2 "--snapshot FILE is required" --flows "$d/flows-node-1.json"
check 2 "snapshot '$tmp/bad-ip.json'" --flows "$d/flows-node-1.json" --snapshot "$tmp/bad-ip.json"
check 2 "-o: expected 'json' or 'yaml', got 'xml'" "${ok[@]}" -o xml
check 2 "--ingress-only and --egress-only exclude each other" "${ok[@]}" --ingress-only --egress-only
check 2 "--aggregate-prefix4: expected an integer 0..32, got '33'" "${ok[@]}" --aggregate-prefix4 33
check 2 "unknown option '--bogus'" "${ok[@]}" --bogus
check 2 "--namespace 'nope': no such namespace" "${ok[@]}" --namespace nope
check 2 "--snapshot and --kubeconfig exclude each other" "${ok[@]}" --kubeconfig "$d/snapshot.json"
check 2 "unexpected argument 'stray'" "${ok[@]}" stray
check 3 "output '$tmp/no/dir/p.yaml'" "${ok[@]}" --out-file "$tmp/no/dir/p.yaml"
[ -e "$tmp/no" ] && { echo "FAIL: --out-file left something behind"; fail=1; }
exit $fail
