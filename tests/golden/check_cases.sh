#!/usr/bin/env bash
# golden.check_cases: `bulkhead check -o json` over the model and every netpol
# case agrees with the case's expected truth tables, cell for cell (IPv4, and
# IPv6 where the case has expectations), as read by an independent parser
# (tests/integration/lib/netpol_expect.py).
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cases=$BH_SOURCE_DIR/tests/data/netpol-cases
expect=$BH_SOURCE_DIR/tests/integration/lib/netpol_expect.py
command -v python3 >/dev/null || { echo "python3 missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
for f in "$cases"/[0-9]*.json; do
	n=$((n + 1))
	"$BULKHEAD" check --snapshot "$cases/model.json" --snapshot "$f" -o json >"$tmp/v4" 2>"$tmp/err"
	rc=$?
	"$BULKHEAD" check --snapshot "$cases/model.json" --snapshot "$f" -o json \
		--family ipv6 >"$tmp/v6" 2>>"$tmp/err"
	if [ "$rc" -gt 1 ] || [ -s "$tmp/err" ]; then
		echo "FAIL: $(basename "$f"): exit $rc: $(cat "$tmp/err")"
		fail=1
		continue
	fi
	# Exit 0 exactly when the case expects every IPv4 cell allowed.
	want_rc=0
	python3 "$expect" "$f" >"$tmp/cells"
	grep -q '^IPv4 .* deny$' "$tmp/cells" && want_rc=1
	if [ "$rc" != "$want_rc" ]; then
		echo "FAIL: $(basename "$f"): exit $rc, want $want_rc"
		fail=1
	fi
	python3 "$expect" --compare "$f" "$tmp/v4" "$tmp/v6" || fail=1
done
[ "$fail" = 0 ] && echo "ok: $n cases agree"
exit "$fail"
