#!/usr/bin/env bash
# netns.agent_enforce_big: the agent's full build and policy updates run off
# its event loop.
# A 10,000-pod, 1,000-policy cluster (bench/gen-snapshot.py, 256 pods on
# node-1) served by the test API server; the agent, in a network namespace
# of its own (unique name, deleted at exit), copies the cluster in steps and
# compiles it in a worker thread (about a second).  While it builds:
#   1. /healthz is answered in under 100 ms, every time it is asked;
#   2. pods created and relabelled through the API (local ones, whose
#      addresses the table names) reach the kernel once the build is
#      taken over (the diff from the copy to the cluster now), and so does
#      a pod created after it;
#   4. a NetworkPolicy created through the API (it selects a local pod)
#      is compiled off the loop: /healthz, asked every 2 ms
#      (loop_probe.py) from the change until the agent has settled (the
#      verdict-map refill 2 s later included), is answered in under 50 ms
#      each time (the recompile, 100 ms and more, used to run on the
#      loop), the kernel ends up holding the policy, and the table is
#      changed by a delta, not replaced;
#   5. SIGTERM while a build runs (the retry after a refused batch, with
#      BULKHEAD_FAULT_INJECT=commit) stops the agent cleanly and leaves the
#      table as it was.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "agent_enforce_big: needs root, skipping" >&2; exit 77; }
command -v nft > /dev/null || { echo "agent_enforce_big: nft missing, skipping" >&2; exit 77; }
command -v curl > /dev/null || { echo "agent_enforce_big: curl missing" >&2; exit 1; }
tmp=$(mktemp -d)
ns=bh-big-$$-$RANDOM
agent= api= probe=
# The longest /healthz wait allowed during a policy change (ms): the
# issue's 50 ms budget.  Measured: about 6 ms off the loop, 120-140 ms
# when the change is compiled on the loop (10,000 pods, 1,000 policies).
# Under the sanitizers everything is 3-10 times slower: 200 ms there.
stall_max=${BH_STALL_MAX_MS:-$([ -n "${BH_SANITIZE:-}" ] && echo 200 || echo 50)}
fail=0
bad() { echo "FAIL: $*"; fail=1; }
cleanup() {
	[ -n "$probe" ] && kill "$probe" 2> /dev/null && wait "$probe" 2> /dev/null
	[ -n "$agent" ] && kill -9 "$agent" 2> /dev/null && wait "$agent" 2> /dev/null
	[ -n "$api" ] && kill "$api" 2> /dev/null && wait "$api" 2> /dev/null
	ip netns delete "$ns" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up
nx() { ip netns exec "$ns" "$@"; }

mkdir "$tmp/api"
"$BH_SOURCE_DIR/bench/gen-snapshot.py" --pods 10000 --policies 1000 --namespaces 50 --nodes 40 \
	--seed 1 > "$tmp/api/objects.json"
"$BH_SOURCE_DIR/tests/apiserver/mkcerts.sh" "$tmp/certs" > /dev/null
apiport=$(nx python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BH_SOURCE_DIR/tests/apiserver/kubeconfig.sh" "$tmp/kubeconfig" "$apiport"
ip netns exec "$ns" /usr/bin/python3 "$BH_SOURCE_DIR/tests/apiserver/apiserver.py" --dir "$tmp/api" \
	--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
	--token-file "$tmp/certs/token" --port-file "$tmp/port" --port "$apiport" 2> "$tmp/api.log" &
api=$!
for _ in $(seq 300); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/api.log"; echo "FAIL: the API server did not start"; exit 1; }
control() { nx curl -s -k -X POST --data-binary @- "https://127.0.0.1:$apiport/_control" > /dev/null; }

# A new local pod: a copy of node-1's first pod under NAME with address IP
# and label LABEL=VALUE (or the same labels without).
newpod() { # NAME IP [LABEL VALUE]
	python3 - "$tmp/api/objects.json" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = next(o for o in d["items"] if o["kind"] == "Pod" and o["spec"].get("nodeName") == "node-1")
p["metadata"]["name"] = sys.argv[2]
p["metadata"].pop("uid", None)
p["status"]["podIP"] = sys.argv[3]
p["status"]["podIPs"] = [{"ip": sys.argv[3]}]
if len(sys.argv) > 5:
    p["metadata"]["labels"][sys.argv[4]] = sys.argv[5]
print(json.dumps({"op": "put", "object": p}))
PY
}
newpod during-a 10.64.250.1 > "$tmp/put-a"
newpod during-b 10.64.250.2 bh-test relabelled > "$tmp/put-b"
newpod after-c 10.64.250.3 > "$tmp/put-c"
newpod during-d 10.64.250.4 > "$tmp/put-d"
table() { nx nft list table inet bulkhead 2> /dev/null; }
# (one listing of the table is seconds at this size: list once, grep many)
has_ip() { grep -qE "[ {]$1[,} ]" "$tmp/table"; }
sock=$tmp/agent.sock
start_agent() { # LOG [VAR=VALUE]...
	local log=$1
	shift
	ip netns exec "$ns" env "$@" "$BULKHEAD" agent --node node-1 --kubeconfig "$tmp/kubeconfig" \
		--state-dir "$tmp/state" --socket "$sock" --listen "" > "$tmp/$log" 2>&1 &
	agent=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
	cat "$tmp/$log"
	bad "the agent did not serve in 10 s"
	exit 1
}
status() { curl -s --unix-socket "$sock" http://agent/status; }
# (grep reads the status whole: grep -q leaving a pipe early can kill the
# writer with SIGPIPE, which pipefail reports as a failed match)
building() { grep -q '"building":true' <<< "$(status)"; }
taken() { grep -qE '"table":"(replaced|adopted)".*"building":false' <<< "$(status)"; }
events() { status | sed -n 's/.*"enforcement":{[^}]*"events":\([0-9]*\).*/\1/p'; }

# --- 1. /healthz while the build runs ---
echo "1. /healthz answered in under 100 ms while 10,000 pods compile"
start_agent agent1.log
: > "$tmp/hz"
sent=0 seen=0
for _ in $(seq 3000); do
	s=$(status)
	case $s in
	*'"building":true'*)
		seen=$((seen + 1))
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --unix-socket "$sock" \
			http://agent/healthz >> "$tmp/hz"
		if [ "$sent" = 0 ]; then
			# --- 2. events during the build ---
			control < "$tmp/put-a"
			control < "$tmp/put-b"
			sent=1
			building && sent=2 # (still building after they were sent)
		fi
		;;
	*'"table":"replaced"'*) [ "$seen" -gt 0 ] && break ;;
	esac
	sleep 0.01
done
[ "$seen" -ge 3 ] || bad "the build was seen running only $seen times"
n=$(wc -l < "$tmp/hz")
slow=$(sort -k2 -n "$tmp/hz" | tail -1)
echo "  /healthz during the build: $n answers, the slowest: $slow s"
awk '$1 != 200 || $2 >= 0.1 { bad = 1 } END { exit bad }' "$tmp/hz" ||
	bad "/healthz slow or failing during the build: $(sort -k2 -n "$tmp/hz" | tail -3 | tr '\n' ' ')"
grep -q 'in a worker thread' "$tmp/agent1.log" || bad "no worker build in the log"

echo "2. pods created during the build reach the kernel"
[ "$sent" = 2 ] || echo "  (note: the build ended before the events were in: $sent)"
for _ in $(seq 300); do taken && break; sleep 0.1; done
taken || bad "the table is not taken: $(status)"
table > "$tmp/table"
has_ip 10.64.250.1 || bad "pod during-a (created during the build) is not in the table"
has_ip 10.64.250.2 || bad "pod during-b (created during the build) is not in the table"
e0=$(events)
control < "$tmp/put-c"
for _ in $(seq 100); do [ "$(events)" -gt "$e0" ] && break; sleep 0.1; done
sleep 0.5
table > "$tmp/table"
has_ip 10.64.250.3 || bad "pod after-c (created after the build) is not in the table"
grep -E "compiled in|during the build" "$tmp/agent1.log" | sed 's/.*msg="/  /' | cut -c1-160

# --- 4. a policy change off the loop ---
echo "4. a policy change: /healthz in under $stall_max ms, the kernel follows by a delta"
python3 - "$tmp/api/objects.json" > "$tmp/put-pol" <<'PY2'
import json, sys
d = json.load(open(sys.argv[1]))
p = next(o for o in d["items"] if o["kind"] == "Pod" and o["spec"].get("nodeName") == "node-1")
pol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
       "metadata": {"name": "bh-test-pol", "namespace": p["metadata"]["namespace"]},
       "spec": {"podSelector": {"matchLabels": {"app": p["metadata"]["labels"]["app"]}},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.99.77.0/24"}}],
                             "ports": [{"protocol": "TCP", "port": 7777}]}]}}
print(json.dumps({"op": "put", "object": pol}))
PY2
settled() { grep -q '"settled":true' <<< "$(status)"; }
full_replaces() { status | sed -n 's/.*"enforcement":{[^}]*"full_replaces":\([0-9]*\).*/\1/p'; }
for _ in $(seq 300); do settled && break; sleep 0.1; done
settled || bad "the agent did not settle before the policy change: $(status)"
f0=$(full_replaces)
python3 "$BH_SOURCE_DIR/tests/integration/loop_probe.py" "$sock" "$tmp/hz4" &
probe=$!
sleep 0.3
control < "$tmp/put-pol"
t0=$(date +%s)
# (until the refill that follows, 2 s later, is over too)
for _ in $(seq 300); do [ $(($(date +%s) - t0)) -ge 3 ] && settled && break; sleep 0.1; done
kill "$probe"
wait "$probe"
probe=
n=$(wc -l < "$tmp/hz4")
echo "  /healthz during the change: $n answers, the slowest: $(sort -k2 -n "$tmp/hz4" | tail -1 | cut -d' ' -f2) ms"
awk -v max="$stall_max" '$3 != 200 || $2 >= max { bad = 1 } END { exit bad }' "$tmp/hz4" ||
	bad "/healthz slow or failing during a policy change (ms): $(sort -k2 -n "$tmp/hz4" | tail -3 | cut -d' ' -f2,3 | tr '\n' ' ')"
settled || bad "the agent did not settle after the policy change: $(status)"
table > "$tmp/table"
grep -A3 'set p/.*/bh-test-pol/i0/cidr4 {' "$tmp/table" | grep -q "10.99.77.0/24" ||
	bad "the new policy's ipBlock is not in the kernel's table"
[ "$(full_replaces)" = "$f0" ] || bad "the policy change replaced the table ($f0 -> $(full_replaces) full replaces)"
grep -E "ruleset updated|updating the ruleset|refilling" "$tmp/agent1.log" | sed 's/.*msg="/  /' | cut -c1-160

# --- 5. SIGTERM while a build runs ---
echo "5. SIGTERM during a build: a clean stop, the table as it was"
kill -9 "$agent"
wait "$agent" 2> /dev/null
agent=
before=$(table | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/')
control < "$tmp/put-d"
start_agent agent2.log BULKHEAD_FAULT_INJECT=commit
for _ in $(seq 300); do building && break; sleep 0.02; done
building || bad "no build under way to stop"
kill -TERM "$agent"
wait "$agent"
rc=$?
agent=
[ "$rc" = 0 ] || bad "SIGTERM during the build: exit $rc"
after=$(table | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/')
[ -n "$before" ] && [ "$after" = "$before" ] || bad "the table changed at SIGTERM during a build"

[ "$fail" = 0 ] && echo "agent_enforce_big: ok"
exit "$fail"
