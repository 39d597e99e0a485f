#!/usr/bin/env bash
# Every malformed snapshot in tests/data/snapshot/bad makes every command that
# reads cluster state exit 2 with exactly one line on stderr that names the
# file, print nothing on stdout and write no output file.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# An empty but valid capture file (pcap global header, Ethernet) for learn.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' >"$tmp/empty.pcap"
flows="$BH_SOURCE_DIR/tests/data/propose/flows-node-1.json"
fail=0
n=0
for f in "$BH_SOURCE_DIR"/tests/data/snapshot/bad/*.json; do
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
	done
done
echo "$n runs"
exit "$fail"
