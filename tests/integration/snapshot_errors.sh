#!/usr/bin/env bash
# Every malformed snapshot in tests/data/snapshot/bad makes every command that
# reads cluster state exit 2 with exactly one line on stderr that names the
# file, and print nothing on stdout.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
for f in "$BH_SOURCE_DIR"/tests/data/snapshot/bad/*.json; do
	for cmd in "check --port 80 --protocol TCP" "apply --node node-1 --mode enforce --dry-run -o nft"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		"$BULKHEAD" $cmd --snapshot "$f" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		lines=$(wc -l <"$tmp/err")
		if [ "$rc" != 2 ] || [ "$lines" != 1 ] || ! grep -qF "'$f'" "$tmp/err" || [ -s "$tmp/out" ]; then
			echo "FAIL: bulkhead $cmd --snapshot $f: rc=$rc, $lines stderr lines:"
			cat "$tmp/err"
			fail=1
		else
			echo "ok: $(basename "$f") ($cmd): $(cat "$tmp/err")"
		fi
	done
done
echo "$n runs"
exit "$fail"
