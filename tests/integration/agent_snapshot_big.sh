#!/usr/bin/env bash
# netns.agent_snapshot_big: with --snapshot, a file reload that changes a
# policy at scale is compiled off the agent's event loop.
# A 10,000-pod, 1,000-policy cluster (bench/gen-snapshot.py, 256 pods on
# node-1) in a --snapshot file; the agent enforces it in a network
# namespace of its own (unique name, deleted at exit).  Once it has taken
# the table and settled, the file is replaced by one with a NetworkPolicy
# more (it selects a local pod).  /healthz, asked every 2 ms
# (loop_probe.py) from the change until the agent has settled again, is
# answered in under BH_STALL_MAX_MS (50; 200 under the sanitizers) each time (the reload used to
# recompile on the loop: 100 ms and more), the kernel ends up holding the
# policy, and the table is changed by a delta, not replaced.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "agent_snapshot_big: needs root, skipping" >&2; exit 77; }
command -v nft > /dev/null || { echo "agent_snapshot_big: nft missing, skipping" >&2; exit 77; }
command -v curl > /dev/null || { echo "agent_snapshot_big: curl missing" >&2; exit 1; }
tmp=$(mktemp -d)
ns=bh-sbig-$$-$RANDOM
agent= probe=
# Under the sanitizers everything is 3-10 times slower (the parse on the
# loop took 1.4 s there): a bound of 200 ms still tells the two apart.
stall_max=${BH_STALL_MAX_MS:-$([ -n "${BH_SANITIZE:-}" ] && echo 200 || echo 50)}
fail=0
bad() { echo "FAIL: $*"; fail=1; }
cleanup() {
	[ -n "$probe" ] && kill "$probe" 2> /dev/null && wait "$probe" 2> /dev/null
	[ -n "$agent" ] && kill -9 "$agent" 2> /dev/null && wait "$agent" 2> /dev/null
	ip netns delete "$ns" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up

"$BH_SOURCE_DIR/bench/gen-snapshot.py" --pods 10000 --policies 1000 --namespaces 50 --nodes 40 \
	--seed 1 > "$tmp/cluster.json"
python3 - "$tmp/cluster.json" > "$tmp/cluster2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = next(o for o in d["items"] if o["kind"] == "Pod" and o["spec"].get("nodeName") == "node-1")
d["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "bh-test-pol", "namespace": p["metadata"]["namespace"]},
    "spec": {"podSelector": {"matchLabels": {"app": p["metadata"]["labels"]["app"]}},
             "ingress": [{"from": [{"ipBlock": {"cidr": "10.99.77.0/24"}}],
                          "ports": [{"protocol": "TCP", "port": 7777}]}]}})
json.dump(d, sys.stdout)
PY
mkdir "$tmp/snap"
cp "$tmp/cluster.json" "$tmp/snap/cluster.json"
sock=$tmp/agent.sock
ip netns exec "$ns" "$BULKHEAD" agent --node node-1 --snapshot "$tmp/snap/cluster.json" \
	--state-dir "$tmp/state" --socket "$sock" --listen "" > "$tmp/agent.log" 2>&1 &
agent=$!
status() { curl -s --unix-socket "$sock" http://agent/status; }
# (grep reads the status whole: grep -q leaving a pipe early can kill the
# writer with SIGPIPE, which pipefail reports as a failed match)
settled() { grep -q '"settled":true' <<< "$(status)"; }
full_replaces() { status | sed -n 's/.*"enforcement":{[^}]*"full_replaces":\([0-9]*\).*/\1/p'; }
for _ in $(seq 600); do settled && break; sleep 0.1; done
settled || { bad "the agent did not take the table and settle in 60 s: $(status)"; cat "$tmp/agent.log"; exit 1; }
f0=$(full_replaces)

python3 "$BH_SOURCE_DIR/tests/integration/loop_probe.py" "$sock" "$tmp/hz" &
probe=$!
sleep 0.3
cp "$tmp/cluster2.json" "$tmp/snap/cluster.json.new"
mv "$tmp/snap/cluster.json.new" "$tmp/snap/cluster.json"
t0=$(date +%s)
# (until the refill that follows, 2 s later, is over too)
for _ in $(seq 300); do [ $(($(date +%s) - t0)) -ge 3 ] && settled && break; sleep 0.1; done
kill "$probe"
wait "$probe"
probe=
n=$(wc -l < "$tmp/hz")
echo "/healthz during the reload: $n answers, the slowest: $(sort -k2 -n "$tmp/hz" | tail -1 | cut -d' ' -f2) ms"
[ "$n" -ge 100 ] || bad "only $n /healthz answers"
awk -v max="$stall_max" '$3 != 200 || $2 >= max { bad = 1 } END { exit bad }' "$tmp/hz" ||
	bad "/healthz slow or failing during the reload (ms): $(sort -k2 -n "$tmp/hz" | tail -3 | cut -d' ' -f2,3 | tr '\n' ' ')"
settled || bad "the agent did not settle after the reload: $(status)"
ip netns exec "$ns" nft list table inet bulkhead > "$tmp/table" 2> /dev/null
grep -A3 'set p/.*/bh-test-pol/i0/cidr4 {' "$tmp/table" | grep -q "10.99.77.0/24" ||
	bad "the new policy's ipBlock is not in the kernel's table"
[ "$(full_replaces)" = "$f0" ] || bad "the reload replaced the table ($f0 -> $(full_replaces) full replaces)"
grep -E "ruleset updated|updating the ruleset" "$tmp/agent.log" | sed 's/.*msg="/  /' | cut -c1-160
[ "$fail" = 0 ] || tail -20 "$tmp/agent.log"
[ "$fail" = 0 ] && echo "agent_snapshot_big: ok"
exit "$fail"
