#!/usr/bin/env bash
# integration.learn_cli: `bulkhead learn` usage and input errors: exit 2
# with one line naming the flag or file, and an existing output file left
# exactly as it was (no truncated or half-written file); a good run
# replaces it atomically.  No root needed.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
out="$tmp/flows.json"
echo "previous content" > "$out"
good="$BH_SHARED_DIR/captures/tcpdump-tests/dns_tcp.pcap"
[ -f "$good" ] || { echo "learn_cli: '$good' missing (BH_SHARED_DIR)"; exit 1; }
head -c 100 "$good" > "$tmp/cut.pcap"
printf 'not a capture' > "$tmp/junk.pcap"

expect() { # EXIT-CODE WORD-IN-MESSAGE ARGS...
	local want=$1 word=$2 rc
	shift 2
	"$BULKHEAD" learn "$@" > "$tmp/stdout" 2> "$tmp/stderr"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL: learn $*: exit $rc, expected $want"; cat "$tmp/stderr"; fail=1
	elif [ "$want" != 0 ] && { [ "$(wc -l < "$tmp/stderr")" != 1 ] ||
		! grep -qF -- "$word" "$tmp/stderr"; }; then
		echo "FAIL: learn $*: expected one line naming '$word':"; cat "$tmp/stderr"; fail=1
	fi
	if [ "$want" != 0 ] && [ "$(cat "$out")" != "previous content" ]; then
		echo "FAIL: learn $*: the output file was touched"; fail=1
	fi
}

expect 2 "expected a source" -o "$out"
expect 2 "-o FLOWS.json" --pcap "$good"
expect 2 "--max-flows" --pcap "$good" --max-flows 0 -o "$out"
expect 2 "--max-flows" --pcap "$good" --max-flows 12x -o "$out"
expect 2 "--duration" --pcap "$good" --duration 5 -o "$out"
expect 2 "--duration" --conntrack --duration -1 -o "$out"
expect 2 "unexpected argument" --pcap "$good" extra -o "$out"
expect 2 "unknown option '--bogus'" --pcap "$good" --bogus -o "$out"
expect 2 "'--node' needs a value" --pcap "$good" -o "$out" --node
expect 2 "missing.pcap" --pcap "$tmp/missing.pcap" -o "$out"
expect 2 "junk.pcap" --pcap "$tmp/junk.pcap" -o "$out"
expect 2 "cut.pcap" --pcap "$tmp/cut.pcap" -o "$out"
# The second file is bad: nothing is written, not even the first's flows.
expect 2 "cut.pcap" --pcap "$good" --pcap "$tmp/cut.pcap" -o "$out"
expect 2 "snapshot" --pcap "$good" --snapshot "$tmp/missing.json" -o "$out"

# A good run replaces the file, and leaves no temporary file behind.
expect 0 "" --pcap "$good" --max-flows 10 -o "$out"
grep -Eq '"kind": ?"FlowList"' "$out" || { echo "FAIL: output not written"; fail=1; }
[ "$(ls "$tmp" | grep -c flows)" = 1 ] || { echo "FAIL: temporary files left"; ls "$tmp"; fail=1; }
# An output directory that does not exist: a system error, not a crash.
"$BULKHEAD" learn --pcap "$good" -o "$tmp/nodir/flows.json" 2> "$tmp/stderr"
rc=$?
[ "$rc" = 3 ] || [ "$rc" = 2 ] || { echo "FAIL: missing directory: exit $rc"; fail=1; }
# The same capture file gives the same flows (all but the "generated"
# time), even when the session cache is under pressure.
gen=${GEN_PCAP:?}
{
	"$gen" mix 300000 "$tmp/mix.pcap"
	"$BULKHEAD" learn --pcap "$tmp/mix.pcap" -o "$tmp/a.json" &&
		"$BULKHEAD" learn --pcap "$tmp/mix.pcap" -o "$tmp/b.json" ||
		{ echo "FAIL: learn on generated capture"; fail=1; }
	nogen() { sed -E 's/"generated": ?"[^"]*"//' "$1"; }
	if ! diff <(nogen "$tmp/a.json") <(nogen "$tmp/b.json") >/dev/null; then
		echo "FAIL: two runs over the same capture differ"; fail=1
	fi
}
[ "$fail" = 0 ] && echo "learn_cli: ok"
exit $fail
