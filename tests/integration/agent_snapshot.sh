#!/usr/bin/env bash
# integration.agent_snapshot: 'bulkhead agent --snapshot' as a daemon, started
# by this test (by pid) on files and a state directory of its own.  No root.
#   - /healthz, /readyz (200), /metrics (promtool check metrics when
#     installed) on the TCP listener; /status only on the socket (403 on
#     TCP, POST 405); the socket is owner-only; 'bulkhead status' prints it;
#   - the dashboard on the TCP listener: / is agent/dashboard/index.html
#     byte for byte, app.js and style.css too, each with its content type
#     and the Content-Security-Policy of docs/dashboard.md;
#   - a second agent on the same socket is refused (exit 3, one line);
#   - a snapshot file changed in place, and replaced by a rename, is picked
#     up (counts in /status change);
#   - a bad snapshot: one error line in the log, the last good cluster kept
#     (/status counts unchanged), /readyz 503 naming the file; fixed: ready;
#   - SIGHUP reads --config again: a changed logLevel is applied and logged,
#     a changed maxFlows is logged as needing a restart, a stateDir the
#     command line gave is ignored; a bad file keeps the
#     running configuration; the command line wins over the file;
#   - SIGTERM: exit 0, socket removed;
#   - usage: no --node, a bad --listen, --snapshot with --kubeconfig: exit 2.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap "" EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v curl > /dev/null || { echo "curl missing, skipping"; exit 77; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
sock=$tmp/agent.sock
snap=$tmp/cluster.yaml
log=$tmp/agent.log
cp "$BH_SOURCE_DIR/examples/minimal.yaml" "$snap"
cat > "$tmp/config.yaml" <<EOC
apiVersion: bulkhead.io/v1alpha1
kind: AgentConfig
logLevel: info
node: from-the-file
EOC

# wait_for CMD...: retries CMD for up to 10 s.
wait_for() {
	for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}
http_code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
status_field() {
	curl -s --unix-socket "$sock" http://agent/status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"
}

"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$tmp/state" \
	--socket "$sock" --listen "127.0.0.1:$port" --config "$tmp/config.yaml" > "$log" 2>&1 &
pid=$!
ready() { [ "$(http_code "http://127.0.0.1:$port/readyz")" = 200 ]; }
wait_for ready || { bad "agent not ready in 10 s"; cat "$log"; exit 1; }

# --- the endpoints ---
[ "$(http_code "http://127.0.0.1:$port/healthz")" = 200 ] && grep -qx ok "$tmp/body" ||
	bad "/healthz: $(cat "$tmp/body")"
[ "$(http_code "http://127.0.0.1:$port/metrics")" = 200 ] || bad "/metrics not 200"
for m in bulkhead_flows_learned_total bulkhead_flows bulkhead_flows_evicted_total \
	bulkhead_conntrack_overruns_total bulkhead_state_db_write_duration_seconds; do
	grep -q "^# TYPE $m " "$tmp/body" || bad "/metrics lacks $m"
done
if command -v promtool > /dev/null; then
	promtool check metrics < "$tmp/body" || bad "promtool check metrics failed"
fi
[ "$(http_code "http://127.0.0.1:$port/status")" = 403 ] || bad "/status on TCP not 403"
[ "$(http_code -X POST "http://127.0.0.1:$port/healthz")" = 405 ] || bad "POST on TCP not 405"
[ "$(stat -c %a "$sock")" = 600 ] || bad "socket mode $(stat -c %a "$sock"), want 600"
[ "$(status_field "['node']")" = node-1 ] || bad "/status node: the command line must win over the file"
[ "$(status_field "['counts']['pods']")" = 2 ] || bad "/status pods: $(status_field "['counts']")"
[ "$(status_field "['counts']['policies']")" = 1 ] || bad "/status policies"
[ "$(status_field "['api']")" = snapshot ] || bad "/status api"
[ "$(status_field "['ready']")" = True ] || bad "/status ready"
"$BULKHEAD" status --socket "$sock" > "$tmp/st" 2> "$tmp/st.err" || bad "bulkhead status: exit $?"
for want in 'node:        node-1' 'mode:        learn' 'pods:        2 on this node' \
	'policies:    1' 'flows:       0' 'api:         snapshot' 'health:      ready'; do
	grep -qxF "$want" "$tmp/st" || bad "bulkhead status lacks '$want'"
done

# --- the dashboard ---
csp="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
for f in /:index.html:text/html /index.html:index.html:text/html /app.js:app.js:text/javascript \
	/style.css:style.css:text/css; do
	IFS=: read -r path file type <<< "$f"
	code=$(curl -s -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$port$path")
	[ "$code" = 200 ] || { bad "GET $path: $code"; continue; }
	cmp -s "$tmp/body" "$BH_SOURCE_DIR/agent/dashboard/$file" || bad "GET $path is not $file"
	tr -d '\r' < "$tmp/hdr" > "$tmp/hdr.txt"
	grep -qi "^content-type: $type; charset=utf-8\$" "$tmp/hdr.txt" || bad "GET $path: content type"
	grep -qixF "content-security-policy: $csp" "$tmp/hdr.txt" || bad "GET $path: no CSP or another"
	grep -qix "x-content-type-options: nosniff" "$tmp/hdr.txt" || bad "GET $path: no nosniff"
done
[ "$(http_code -X POST "http://127.0.0.1:$port/")" = 405 ] || bad "POST / on TCP not 405"
[ "$(http_code "http://127.0.0.1:$port/app.jsx")" = 404 ] || bad "GET /app.jsx not 404"

# --- a second agent on the same socket ---
"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$tmp/state2" \
	--socket "$sock" --listen "" > "$tmp/out2" 2> "$tmp/err2"
rc=$?
[ "$rc" = 3 ] && grep -qF "$sock" "$tmp/err2" ||
	{ bad "second agent on the socket: exit $rc"; cat "$tmp/err2"; }
kill -0 "$pid" || bad "the first agent died"

# --- snapshot changes ---
policies_are() { [ "$(status_field "['counts']['policies']")" = "$1" ]; }
pods_are() { [ "$(status_field "['counts']['pods']")" = "$1" ]; }
# in place: a second policy
cat >> "$snap" <<EOS
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: deny-all
    namespace: demo
  spec:
    podSelector: {}
EOS
wait_for policies_are 2 || bad "a policy added in place was not picked up"
# replaced by a rename, with one pod on another node
sed 's/nodeName: node-1/nodeName: node-2/' "$snap" | sed '0,/node-2/s//node-1/' > "$tmp/new.yaml"
mv "$tmp/new.yaml" "$snap"
wait_for pods_are 1 || bad "a snapshot replaced by rename was not picked up ($(status_field "['counts']"))"
grep -q 'snapshot reloaded' "$log" || bad "no 'snapshot reloaded' in the log"

# a bad file: the last good cluster stays
errs=$(grep -c 'level=err' "$log")
printf 'items: [\n' > "$tmp/bad.yaml" && mv "$tmp/bad.yaml" "$snap"
not_ready() { [ "$(http_code "http://127.0.0.1:$port/readyz")" = 503 ]; }
wait_for not_ready || bad "/readyz still 200 after a bad snapshot"
grep -qF "$snap" "$tmp/body" || bad "/readyz does not name the file: $(cat "$tmp/body")"
[ "$(grep -c 'level=err' "$log")" = $((errs + 1)) ] || bad "a bad snapshot is not one error line"
policies_are 2 && pods_are 1 || bad "the last good cluster was not kept"
"$BULKHEAD" status --socket "$sock" > "$tmp/st" || bad "bulkhead status when not ready: exit $?"
grep -q '^health:      not ready: ' "$tmp/st" || bad "status does not say not ready"
cp "$BH_SOURCE_DIR/examples/minimal.yaml" "$snap"
wait_for ready || bad "not ready again after the file was fixed"
policies_are 1 || bad "the fixed file was not loaded"

# --- SIGHUP ---
sed -i 's/logLevel: info/logLevel: debug/' "$tmp/config.yaml"
kill -HUP "$pid"
reloaded() { grep -q "changed: logLevel" "$log"; }
wait_for reloaded || bad "SIGHUP: logLevel change not logged"
# stateDir is on the command line: the file's is ignored; maxFlows is not.
printf 'stateDir: %s\nmaxFlows: 5000\n' "$tmp/elsewhere" >> "$tmp/config.yaml"
kill -HUP "$pid"
restart_logged() { grep -q "changes maxFlows, which needs a restart" "$log"; }
wait_for restart_logged || bad "SIGHUP: maxFlows change not logged as needing a restart"
echo "bogusKey: 1" >> "$tmp/config.yaml"
kill -HUP "$pid"
kept() { grep -q "bogusKey.*keeping the running configuration" "$log"; }
wait_for kept || bad "SIGHUP: a bad file not refused"
kill -0 "$pid" && ready || bad "agent not ready after the reloads"
[ ! -e "$tmp/elsewhere" ] || bad "a stateDir needing a restart was used"

# --- SIGTERM ---
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || { bad "SIGTERM: exit $rc"; tail -5 "$log"; }
[ ! -e "$sock" ] || bad "socket left behind"
grep -q 'signal TERM, stopping' "$log" || bad "no stop line in the log"

# --- usage ---
expect_usage() {
	local needle=$1
	shift
	"$BULKHEAD" agent "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -qF -- "$needle" "$tmp/err" ||
		{ bad "agent $*: exit $rc"; cat "$tmp/err"; }
}
expect_usage node --snapshot "$snap" --state-dir "$tmp/s" --socket "$tmp/s.sock" --listen ""
expect_usage --listen --node n --snapshot "$snap" --listen nonsense
expect_usage snapshot --node n --snapshot "$snap" --kubeconfig /dev/null --state-dir "$tmp/s" \
	--socket "$tmp/s.sock" --listen ""
expect_usage cluster.yaml --node n --snapshot "$tmp/missing/cluster.yaml" --state-dir "$tmp/s" \
	--socket "$tmp/s.sock" --listen ""

[ "$fail" = 0 ] && echo "agent_snapshot: ok"
exit "$fail"
