#!/usr/bin/env bash
# bench-agent-restart.sh STATE_DB_TOOL BULKHEAD [FLOWS] [RUNS]: restart to
# ready of 'bulkhead agent' (--snapshot, no learning source) with FLOWS
# (default 1,000,000) learned flows in its state database, written once by
# tests/tools/state_db_tool; prints the median of RUNS (default 3) starts,
# wall and CPU (the median run's CPU), the agent's resident memory once ready, and the time SIGTERM takes.
set -euo pipefail
tool=${1:?state_db_tool}
bulkhead=${2:?bulkhead}
flows=${3:-1000000}
runs=${4:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/state"
"$tool" "$tmp/state" fill "$flows" 1 > /dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
times=()
cpus=()
for _ in $(seq "$runs"); do
	t0=$(date +%s%N)
	"$bulkhead" agent --node node-1 --snapshot "$src/examples/minimal.yaml" --no-enforce \
		--state-dir "$tmp/state" --socket "$tmp/sock" --listen "127.0.0.1:$port" \
		2> "$tmp/log" &
	pid=$!
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
		kill -0 "$pid" || { cat "$tmp/log"; exit 1; }
		sleep 0.02
	done
	times+=($((($(date +%s%N) - t0) / 1000000)))
	rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
	cpus+=($(awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$pid/stat"))
	t1=$(date +%s%N)
	kill -TERM "$pid"
	wait "$pid"
	pid=
	stop=$((($(date +%s%N) - t1) / 1000000))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
echo "agent restart to ready with $flows flows: median ${median} ms wall, ${cpu} ms CPU" \
	"(runs: ${times[*]} ms);" \
	"resident ${rss} kB; SIGTERM to exit ${stop} ms"
