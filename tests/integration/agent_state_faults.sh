#!/usr/bin/env bash
# integration.agent_state_faults: the agent on a read-only state directory
# (a tmpfs remounted ro in a private mount namespace, unshare -m; root):
#   - a state database saved before (tools/state_db_tool: 50 flows) is
#     opened read-only: the agent starts, restores the 50 flows, /readyz is
#     503 naming the database, /status says not ready with that reason;
#     SIGTERM: exit 0, nothing lost;
#   - after a remount rw the agent is ready and still has the 50 flows;
#   - no database and a read-only directory: exit 3, one line naming it.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_BUILD_DIR:?}" "${BH_SOURCE_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "agent_state_faults: needs root (mounts), skipping"; exit 77; }
command -v unshare > /dev/null || { echo "agent_state_faults: no unshare, skipping"; exit 77; }
command -v curl > /dev/null || { echo "agent_state_faults: no curl, skipping"; exit 77; }
TOOL=$BH_BUILD_DIR/tests/tools/state_db_tool
[ -x "$TOOL" ] || { echo "agent_state_faults: $TOOL not built"; exit 1; }
if [ "${1:-}" != inner ]; then
	exec unshare -m --propagation private "$0" inner
fi

work=$(mktemp -d /tmp/bh-agent-faults.XXXXXX)
agent=
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2> /dev/null && wait "$agent" 2> /dev/null
	umount "$work/ro" 2> /dev/null || umount -l "$work/ro" 2> /dev/null
	umount "$work/empty" 2> /dev/null || umount -l "$work/empty" 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
mkdir "$work/ro" "$work/empty"
mount -t tmpfs -o size=8m tmpfs "$work/ro"
mount -t tmpfs -o size=1m tmpfs "$work/empty"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
snap=$BH_SOURCE_DIR/examples/minimal.yaml
sock=$work/agent.sock

"$TOOL" "$work/ro" fill 50 1 > "$work/fill.out" || { bad "state_db_tool fill"; cat "$work/fill.out"; }
mount -o remount,ro "$work/ro"

start() { # LOG
	"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$work/ro" \
		--socket "$sock" --listen "127.0.0.1:$port" > "$work/$1" 2>&1 &
	agent=$!
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] &&
			return 0
		sleep 0.1
	done
	bad "agent not serving in 10 s"; cat "$work/$1"; exit 1
}
stop() {
	kill -TERM "$agent"
	wait "$agent"
	rc=$?
	agent=
	[ "$rc" = 0 ] || bad "SIGTERM: exit $rc"
}
field() {
	curl -s --unix-socket "$sock" http://agent/status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"
}

# --- read-only ---
start ro.log
code=$(curl -s -o "$work/readyz" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$code" = 503 ] || bad "/readyz on a read-only state directory: $code"
grep -qF "state database cannot be written" "$work/readyz" && grep -qF "$work/ro/state.db" "$work/readyz" ||
	bad "/readyz reason: $(cat "$work/readyz")"
[ "$(field "['counts']['flows']")" = 50 ] || bad "flows restored read-only: $(field "['counts']")"
[ "$(field "['ready']")" = False ] || bad "/status ready on a read-only directory"
"$BULKHEAD" status --socket "$sock" | grep -q '^health:      not ready: state database cannot be written' ||
	bad "bulkhead status does not say why"
grep -q 'level=err .*state.db' "$work/ro.log" || bad "no error line naming the database in the log"
stop
mount -o remount,rw "$work/ro"
"$TOOL" "$work/ro" verify 50 1 > "$work/verify.out" || { bad "the saved state changed"; cat "$work/verify.out"; }

# --- writable again ---
start rw.log
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] ||
	bad "not ready on a writable directory"
[ "$(field "['counts']['flows']")" = 50 ] || bad "flows after remount rw: $(field "['counts']")"
stop

# --- read-only and empty: the agent cannot start ---
mount -o remount,ro "$work/empty"
"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$work/empty" \
	--socket "$sock" --listen "" > "$work/out" 2> "$work/err"
rc=$?
[ "$rc" = 3 ] && [ "$(wc -l < "$work/err")" = 1 ] && grep -qF "$work/empty" "$work/err" ||
	{ bad "read-only empty state directory: exit $rc"; cat "$work/err"; }

[ "$fail" = 0 ] && echo "agent_state_faults: ok"
exit "$fail"
