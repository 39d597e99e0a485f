#!/usr/bin/env bash
# integration.learn_corpus: `bulkhead learn --pcap` over every capture of
# the tcpdump test corpus (830 real-world and malformed captures on many
# link types).  Each run must end in success (0) or a clean input error
# (2: an unsupported link type, a truncated file); anything else is a
# crash, a sanitizer report or a leak (ASan exits 1 or aborts).
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SHARED_DIR:?}"
dir="$BH_SHARED_DIR/captures/tcpdump-tests"
[ -d "$dir" ] || { echo "learn_corpus: '$dir' missing (BH_SHARED_DIR)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

n=0 ok=0 bad=0 fail=0
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	"$BULKHEAD" learn --pcap "$f" -o "$out/flows.json" >/dev/null 2>"$out/err"
	rc=$?
	case $rc in
	0)
		ok=$((ok + 1))
		grep -Eq '"version": ?1,' "$out/flows.json" ||
			{ echo "FAIL (bad output): $f"; fail=$((fail + 1)); }
		;;
	2)
		bad=$((bad + 1))
		# One line naming the file.
		if [ "$(wc -l < "$out/err")" != 1 ] || ! grep -qF "$(basename "$f")" "$out/err"; then
			echo "FAIL (error message): $f"; cat "$out/err"; fail=$((fail + 1))
		fi
		;;
	*)
		echo "FAIL (exit $rc): $f"; head -20 "$out/err"; fail=$((fail + 1))
		;;
	esac
	rm -f "$out/flows.json"
done
echo "learn_corpus: $n captures, $ok learned, $bad refused cleanly, $fail failures"
[ "$n" -ge 800 ] || { echo "learn_corpus: expected the full corpus"; exit 1; }
[ "$fail" = 0 ]
