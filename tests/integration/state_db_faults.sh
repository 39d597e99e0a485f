#!/usr/bin/env bash
# integration.state_db_faults: a full and a read-only state directory.
# Each is a small tmpfs mounted in a private mount namespace (unshare -m),
# so nothing is mounted outside this test and the mounts go with it.
#
# Full (tmpfs of 1 MiB): a checkpoint that does not fit fails with one
# line naming the file and ENOSPC, the store reports degraded, the previous
# checkpoint (flows and the other records) is still there for the same
# process and for another one; once the tmpfs grows, the same process's
# next try succeeds and the store is ok again.
#
# Read-only (tmpfs remounted ro): the saved state opens read-only and reads
# whole, the store reports degraded from the start, a write fails with one
# line naming the file; after a remount rw the next try succeeds.
set -euo pipefail
: "${BH_BUILD_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "state_db_faults: needs root (mounts), skipping"; exit 77; }
command -v unshare > /dev/null || { echo "state_db_faults: no unshare, skipping"; exit 77; }
TOOL=$BH_BUILD_DIR/tests/tools/state_db_tool
[ -x "$TOOL" ] || { echo "state_db_faults: $TOOL not built"; exit 1; }

if [ "${1:-}" != inner ]; then
	exec unshare -m --propagation private "$0" inner
fi

work=$(mktemp -d /tmp/bh-statedb-faults.XXXXXX)
tool_pid=
cleanup() {
	# The tool first (it holds files open: a busy tmpfs would not unmount
	# and would keep rm from removing its mount point).
	if [ -n "$tool_pid" ]; then
		kill "$tool_pid" 2> /dev/null || true
		wait "$tool_pid" 2> /dev/null || true
	fi
	for m in "$work/full" "$work/ro"; do
		umount "$m" 2> /dev/null || umount -l "$m" 2> /dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/full" "$work/ro"

fail() {
	echo "state_db_faults: $*"
	for f in "$work"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

# Waits up to 20 s for a line matching $2 in file $1.
wait_for() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	fail "no '$2' in $1"
}

# The one error line of $1 names the file and the errno.
one_line_error() {
	local line
	line=$(grep '^fail: ' "$1") || fail "no error in $1"
	[ "$(grep -c '^fail: ' "$1")" = 1 ] || fail "more than one error line in $1"
	case $line in
	*"state database '$2/state.db'"*"($3)") ;;
	*) fail "error line does not name '$2/state.db' and $3: $line" ;;
	esac
	grep -q "^health: degraded: state database '$2/state.db'.*($3)" "$1" ||
		fail "health not degraded with the error in $1"
}

# --- a full state directory ---
d=$work/full
mount -t tmpfs -o size=1m,mode=0700 bh-statedb-full "$d"
"$TOOL" "$d" fill 2000 1 > "$work/full-fill.out" || fail "first checkpoint failed"
# 60,000 flows are about 3 MiB: they cannot fit in 1 MiB.
"$TOOL" "$d" retry 60000 2 60 > "$work/full-retry.out" 2>&1 &
tool_pid=$!
wait_for "$work/full-retry.out" '^kept: '
one_line_error "$work/full-retry.out" "$d" ENOSPC
grep -q '^kept: flows=2000 gen=1 records_gen=1$' "$work/full-retry.out" ||
	fail "the process lost what was saved before the failed checkpoint"
# Another process reads the same: nothing saved was lost.
"$TOOL" "$d" verify 2000 1 > "$work/full-verify1.out" ||
	fail "another process does not read the previous checkpoint whole"
# Space returns: the in-memory generation is written on the next try.
mount -o remount,size=64m "$d"
wait "$tool_pid" || fail "the checkpoint was not retried successfully"
tool_pid=
grep -q '^ok$' "$work/full-retry.out" || fail "no success after space returned"
[ "$(tail -n 1 "$work/full-retry.out")" = "health: ok" ] || fail "health did not return to ok"
"$TOOL" "$d" verify 60000 2 > "$work/full-verify2.out" || fail "the retried checkpoint is not whole"
umount "$d"
echo "state_db_faults: full directory: ENOSPC reported, nothing lost, recovered"

# --- a read-only state directory ---
d=$work/ro
mount -t tmpfs -o size=64m,mode=0700 bh-statedb-ro "$d"
"$TOOL" "$d" fill 3000 1 > "$work/ro-fill.out" || fail "first checkpoint failed"
mount -o remount,ro "$d"
"$TOOL" "$d" verify 3000 1 > "$work/ro-verify1.out" ||
	fail "the saved state does not read whole from a read-only directory"
grep -q "^health: degraded: state database '$d/state.db': opened read-only: .*(EROFS)$" \
	"$work/ro-verify1.out" || fail "a read-only store does not report degraded at open"
"$TOOL" "$d" retry 5000 2 60 > "$work/ro-retry.out" 2>&1 &
tool_pid=$!
wait_for "$work/ro-retry.out" '^kept: '
one_line_error "$work/ro-retry.out" "$d" EROFS
grep -q '^kept: flows=3000 gen=1 records_gen=1$' "$work/ro-retry.out" ||
	fail "the read-only store does not hold what was saved"
mount -o remount,rw "$d"
wait "$tool_pid" || fail "the write was not retried successfully"
tool_pid=
grep -q '^ok$' "$work/ro-retry.out" || fail "no success once writable"
[ "$(tail -n 1 "$work/ro-retry.out")" = "health: ok" ] || fail "health did not return to ok"
"$TOOL" "$d" verify 5000 2 > "$work/ro-verify2.out" || fail "the retried write is not whole"
umount "$d"
echo "state_db_faults: read-only directory: EROFS reported, saved state readable, recovered"
