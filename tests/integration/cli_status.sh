#!/usr/bin/env bash
# integration.cli_status: 'bulkhead status' against a stand-in agent
# (tests/integration/status_server.py) serving canned answers on a Unix
# socket made by this test.  No root.
#   - text: every field of tests/data/agent/status.json, exactly
#     status.txt; missing fields print '-', not ready prints the reason;
#   - -o json / --output json: the agent's object (unknown fields kept);
#   - it asked GET /status over the socket given by --socket;
#   - no agent: no socket file, a stale socket (nothing accepting), the
#     default socket: exit 3, one line naming the socket, nothing on stdout;
#   - an agent answering HTTP 500, text that is not JSON, another version:
#     exit 3, one line; -o yaml: exit 2.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
data=$BH_SOURCE_DIR/tests/data/agent
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

sock=$tmp/agent.sock
answer=$tmp/answer
# serve STATUS TYPE FILE: the next answers.
serve() { { echo "$1 $2"; cat "$3"; } > "$answer"; }
run() {
	"$BULKHEAD" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
# expect_err RC NEEDLE ARGS...: exit RC, one line on stderr holding NEEDLE,
# nothing on stdout.
expect_err() {
	local want=$1 needle=$2
	shift 2
	run "$@"
	if [ "$rc" != "$want" ] || [ "$(wc -l < "$tmp/err")" != 1 ] ||
		! grep -qF -- "$needle" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "bulkhead $*: exit $rc (want $want, '$needle'), stderr:"; cat "$tmp/err"
	fi
}

# --- no agent ---
expect_err 3 "status: no agent answering on socket '$sock': No such file or directory" \
	status --socket "$sock"
if [ ! -e /run/bulkhead/agent.sock ]; then
	expect_err 3 "no agent answering on socket '/run/bulkhead/agent.sock'" status
fi

# --- the stand-in agent ---
serve 200 application/json "$data/status.json"
python3 "$BH_SOURCE_DIR/tests/integration/status_server.py" "$sock" "$answer" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "FAIL: the stand-in agent did not start"; exit 1; }

run status --socket "$sock"
[ "$rc" = 0 ] && [ ! -s "$tmp/err" ] || bad "status: exit $rc: $(cat "$tmp/err")"
diff -u "$data/status.txt" "$tmp/out" || bad "status: text output differs from status.txt"
grep -qx "GET /status HTTP/1.1" "$sock.log" || bad "status did not ask GET /status: $(cat "$sock.log")"

for o in "-o json" "--output json" "--output=json"; do
	# shellcheck disable=SC2086
	run status --socket "$sock" $o
	[ "$rc" = 0 ] || bad "status $o: exit $rc"
	python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a != b)' \
		"$data/status.json" "$tmp/out" || bad "status $o: not the agent's object: $(cat "$tmp/out")"
done

serve 200 application/json "$data/status-not-ready.json"
run status --socket "$sock" -o text
[ "$rc" = 0 ] || bad "status (not ready): exit $rc"
diff -u "$data/status-not-ready.txt" "$tmp/out" || bad "status (not ready): text differs"

echo "internal error" > "$tmp/body"
serve 500 text/plain "$tmp/body"
expect_err 3 "status: the agent on socket '$sock' answered HTTP 500 to GET /status" \
	status --socket "$sock"
echo "<html>not json</html>" > "$tmp/body"
serve 200 text/html "$tmp/body"
expect_err 3 "status: the agent on socket '$sock' sent no status object of version 1" \
	status --socket "$sock"
echo '{"version": 2, "node": "n"}' > "$tmp/body"
serve 200 application/json "$tmp/body"
expect_err 3 "sent no status object of version 1" status --socket "$sock" -o json
expect_err 2 "status: -o: expected text or json, got 'yaml'" status --socket "$sock" -o yaml
expect_err 2 "status: unexpected argument 'now'" status --socket "$sock" now

# --- the agent gone, its socket file left behind ---
kill "$pid" && wait "$pid" 2>/dev/null
pid=
[ -S "$sock" ] || bad "the stand-in agent left no socket file"
expect_err 3 "status: no agent answering on socket '$sock': Connection refused" \
	status --socket "$sock"

[ "$fail" = 0 ] && echo "cli_status: ok"
exit "$fail"
