#!/usr/bin/env bash
# integration.learn_output: `bulkhead learn` checks its output path before
# it captures anything (issue 18: `--duration 3600 -o /missing/dir/f.json`
# lost the hour): a path that cannot be written is exit 2 within seconds,
# with one line naming it, even with --duration 30; a good path is left
# without a stray temporary file.  The run's summary is printed at the
# default log level.  No root needed (the unwritable-directory case runs
# as nobody when we are root).
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
good="$BH_SHARED_DIR/captures/tcpdump-tests/dns_tcp.pcap"
[ -f "$good" ] || { echo "learn_output: '$good' missing (BH_SHARED_DIR)"; exit 1; }

# bad_out PATH-IN-MESSAGE CMD...: exit 2 in under 10 s, one stderr line
# naming the path.  timeout stops the old behaviour (waiting --duration).
bad_out() {
	local word=$1 t0 rc secs
	shift
	t0=$(date +%s)
	timeout 25 "$@" > /dev/null 2> "$tmp/stderr"
	rc=$?
	secs=$(($(date +%s) - t0))
	if [ "$rc" != 2 ]; then
		echo "FAIL: $*: exit $rc after $secs s, expected 2 at once"; cat "$tmp/stderr"; fail=1
	elif [ "$secs" -gt 10 ]; then
		echo "FAIL: $*: took $secs s, expected an immediate failure"; fail=1
	elif [ "$(wc -l < "$tmp/stderr")" != 1 ] || ! grep -qF -- "'$word'" "$tmp/stderr"; then
		echo "FAIL: $*: expected one line naming '$word':"; cat "$tmp/stderr"; fail=1
	fi
}

# A missing directory, with a live source that would otherwise run 30 s.
# The glob matches nothing, so this needs no privileges.
bad_out "$tmp/missing/f.json" "$BULKHEAD" learn --interface 'bhnomatch*' --duration 30 \
	-o "$tmp/missing/f.json"
bad_out "$tmp/missing/f.json" "$BULKHEAD" learn --conntrack --duration 30 \
	-o "$tmp/missing/f.json"
# A directory given as the file.
mkdir "$tmp/dir"
bad_out "$tmp/dir" "$BULKHEAD" learn --interface 'bhnomatch*' --duration 30 -o "$tmp/dir"
# A capture file: the path is still checked before reading it.
bad_out "$tmp/missing/f.json" "$BULKHEAD" learn --pcap "$good" -o "$tmp/missing/f.json"
# A directory we may not write to (root writes anywhere: run as nobody).
mkdir "$tmp/ro"
chmod 0555 "$tmp/ro"
chmod 0755 "$tmp"
if [ "$(id -u)" = 0 ]; then
	bad_out "$tmp/ro/f.json" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BULKHEAD" learn --interface 'bhnomatch*' --duration 30 -o "$tmp/ro/f.json"
else
	bad_out "$tmp/ro/f.json" "$BULKHEAD" learn --interface 'bhnomatch*' --duration 30 \
		-o "$tmp/ro/f.json"
fi
{ [ -z "$(ls -A "$tmp/ro")" ] && [ -z "$(ls -A "$tmp/dir")" ]; } || { echo "FAIL: files left behind"; fail=1; }

# A good path: the check leaves nothing behind, the run writes the file and
# prints its summary without -v.
"$BULKHEAD" learn --pcap "$good" -o "$tmp/ok.json" 2> "$tmp/stderr" ||
	{ echo "FAIL: learn --pcap"; cat "$tmp/stderr"; fail=1; }
[ "$(ls "$tmp" | grep -c '^ok\.json')" = 1 ] || { echo "FAIL: temporary files left"; ls "$tmp"; fail=1; }
grep 'level=notice' "$tmp/stderr" | grep -qE "learn: capture files: 1, [1-9][0-9]* packets" ||
	{ echo "FAIL: no capture file summary:"; cat "$tmp/stderr"; fail=1; }
grep 'level=notice' "$tmp/stderr" | grep -qE "learn: [1-9][0-9]* flows, .*written to '$tmp/ok.json'" ||
	{ echo "FAIL: no flows summary:"; cat "$tmp/stderr"; fail=1; }

[ "$fail" = 0 ] && echo "learn_output: ok"
exit $fail
