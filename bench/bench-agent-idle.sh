#!/usr/bin/env bash
# bench-agent-idle.sh BULKHEAD [IDLE_SECONDS] [PODS] [NODES]: what an idle
# 'bulkhead agent' costs on a node with PODS/NODES local pods in a cluster of
# PODS pods (default 10,000 pods over 40 nodes: 250 on node-1, 1,000
# policies), read from a --snapshot.  The agent runs in a network namespace
# of its own (when root), so whatever it programs stays there; it is stopped
# by its pid and the namespace deleted at exit.  Prints the time to ready,
# the resident memory once ready and after the idle period, and the CPU the
# agent used over IDLE_SECONDS (default 60) of idling, as a share of one core.
set -euo pipefail
bulkhead=${1:?bulkhead binary}
idle=${2:-60}
pods=${3:-10000}
nodes=${4:-40}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pid= ns=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	[ -n "$ns" ] && ip netns delete "$ns" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
"$src/bench/gen-snapshot.py" --pods "$pods" --policies $((pods / 10)) --namespaces 50 \
	--nodes "$nodes" --seed 1 > "$tmp/snap.json"
local_pods=$(python3 -c 'import json, sys
print(sum(1 for o in json.load(open(sys.argv[1]))["items"]
          if o["kind"] == "Pod" and o.get("spec", {}).get("nodeName") == "node-1"))' "$tmp/snap.json")
run=() enforce=(--no-enforce) # without root the agent cannot program nftables
if [ "$(id -u)" = 0 ]; then
	ns=bh-idle-$$
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	run=(ip netns exec "$ns")
	enforce=() # enforcing: the table of the 250 local pods in the namespace
fi
sock=$tmp/agent.sock
t0=$(date +%s%N)
"${run[@]}" "$bulkhead" agent --node node-1 --snapshot "$tmp/snap.json" --state-dir "$tmp/state" \
	--socket "$sock" --listen "" "${enforce[@]}" 2> "$tmp/log" &
pid=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://agent/readyz)" = 200 ]; do
	kill -0 "$pid" 2> /dev/null || { cat "$tmp/log"; exit 1; }
	sleep 0.05
done
ready=$((($(date +%s%N) - t0) / 1000000))
sleep 2 # let the first timers run
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss)
c0=$(ticks)
w0=$(date +%s%N)
sleep "$idle"
c1=$(ticks)
w1=$(date +%s%N)
rss1=$(rss)
awk -v c="$((c1 - c0))" -v hz="$hz" -v w="$((w1 - w0))" -v ready="$ready" -v r0="$rss0" \
	-v r1="$rss1" -v pods="$pods" -v lp="$local_pods" -v idle="$idle" 'BEGIN {
	printf "agent, %d local pods of %d: ready in %d ms; resident %.1f MiB ready, %.1f MiB after %d s idle; idle CPU %.3f%% of a core (%d ms over %.1f s)\n",
		lp, pods, ready, r0 / 1024, r1 / 1024, idle, 100 * (c / hz) / (w / 1e9), c * 1000 / hz, w / 1e9 }'
