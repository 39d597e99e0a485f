#!/usr/bin/env bash
# bench-cluster-enforce.sh BULKHEAD [SWITCHES] [WATCHERS] [STEADY_S] [INTERVAL]
#
# The cluster-wide switch (docs/cluster.md), as root, on the two-node
# cluster of tests/integration/lib/cluster.sh (two node namespaces, one
# `bulkhead agent --cluster` each, the test API server and the workstation
# in a namespace of their own):
#
# 1. Time from `bulkhead enforce --all` to every agent dropping: a prober in
#    each direction across the nodes tries an unobserved TCP connection
#    every 5 ms (tests/integration/lib/switch_probe.py), each one only one
#    agent decides (ghost-a, an address on node-a the cluster does not
#    know, to db on node-b: node-b's agent; ghost-b to frontend: node-a's);
#    the switch is the first failed attempt after the last one that
#    connected, from the moment the command was started; the later of the
#    two is the time to every agent dropping.  SWITCHES (5) rounds of enforce --all --force
#    (the probers' own packets are alerts in preview) then preview --all
#    (the rollback, timed the same way to both passing); medians.
# 2. The API write latency (one PolicyMode merge patch from the
#    workstation, curl's time after TLS; 20, median) and the watch latency
#    (a PolicyMode put stamped by the test API server's bench hook, from
#    the put to the event written to each agent's watch stream,
#    --sent-log), and the fan-out cost per watcher: the same with WATCHERS
#    ("0 100 400") extra watch connections on policymodes; the spread
#    between the first and the last stream's send, per watcher.
# 3. A projection for 100 and 1,000 nodes from those measurements.  Model:
#    the switch is one write; the server fans the event out to N watchers
#    one after another (the last waits N x the per-watcher cost); each
#    agent applies locally, in parallel, so its part (measured end to end
#    with 2 agents, less the write and the watch) does not grow with N;
#    the CLI's wait then reads N NodeFlows updates (N writes through the
#    server one after another, N x the write latency, and their events).
# 4. API writes per node per minute in steady state, from the test API
#    server's request log: STEADY_S (60) seconds idle, then STEADY_S with
#    steady traffic (a connection of each learned edge every 0.5 s), with
#    --cluster-interval INTERVAL (6s: 10x the default 60s rate; the
#    figure at the default interval is the measured one x INTERVAL/60s,
#    stated as such).  Lease renewals (the holder's, every 5 s) counted
#    apart.
# Prints a table.  Everything runs in namespaces made here (cleaned up on
# exit, processes by pid).
set -uo pipefail
BULKHEAD=$(realpath "${1:?usage: bench-cluster-enforce.sh BULKHEAD [SWITCHES] [WATCHERS] [STEADY_S] [INTERVAL]}")
switches=${2:-5}
watchers=${3:-"0 100 400"}
steady=${4:-60}
interval=${5:-6s}
BH_SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BH_BUILD_DIR=${BH_BUILD_DIR:-$(cd "$(dirname "$BULKHEAD")/.." && pwd)}
export BULKHEAD BH_SOURCE_DIR BH_BUILD_DIR
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/cluster.sh"
topo_init
CL_API_ARGS=--verbose
CL_INTERVAL=$interval
cluster_setup
out=$TOPO_DIR
G=/apis/bulkhead.io/v1alpha1
sp=$BH_SOURCE_DIR/tests/integration/lib/switch_probe.py
say() { echo "bench-cluster-enforce: $*" >&2; }
die() { say "$*"; for n in a b; do tail -n 20 "$out/agent-$n.log" >&2; done; exit 1; }
ms() { echo $((($2 - $1) / 1000000)); }
med() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# (SECTIONS="1 2 4": which parts run; 2 alone needs no agent)
sections=${SECTIONS:-"1 2 4"}
has() { [[ " $sections " == *" $1 "* ]]; }
learn_traffic() {
	cl_pass client frontend 80 > /dev/null
	cl_pass frontend api-a 80 > /dev/null
	cl_pass frontend api-b 80 > /dev/null
	cl_pass api-a db 81 > /dev/null
	cl_pass api-b db 81 > /dev/null
}
applied() { # NODE STAGE
	cl_api "$G/nodeflows/node-$1" | "$TOPO_PY" -c '
import json, sys
d = json.load(sys.stdin)
a = [x for x in d.get("status", {}).get("applied", []) if x["namespace"] == "shop"]
sys.exit(not (a and a[0]["stage"] == sys.argv[1]))' "$2"
}
both() { applied a "$1" && applied b "$1"; }
if has 1 || has 4; then
	for n in a b; do cluster_agent "$n"; done
	for n in a b; do cl_wait 600 cl_ready "$n" || die "node-$n's agent not ready"; done
	learn_traffic
	learn_traffic
	cl_wait 1200 both preview || die "shop not in preview on both nodes"
	say "shop in preview on both nodes"
fi

# --- 1. the switch, end to end ---
drop_all='' cli_all='' pass_all='' pcli_all=''
probe_start() { # FROM TO PORT OUT
	topo_bg ip netns exec "$(topo_pod_ns "${CL_POD[$1]}")" "$TOPO_PY" "$sp" \
		"${CL_POD_IP[${CL_POD[$2]}]}" "$3" "$4" --stop "$out/stop"
}
probing() { [ -s "$out/probe-ab" ] && [ -s "$out/probe-ba" ]; }
if has 1; then
	probe_start ghost-a db 81 "$out/probe-ab"
	probe_start ghost-b frontend 80 "$out/probe-ba"
	cl_wait 100 probing || die "the probers did not start"
fi
when() { # KIND T0: both directions switched to KIND, the later in $w
	local ab ba
	ab=$("$TOPO_PY" "$sp" --when "$out/probe-ab" "$2" "$1")
	ba=$("$TOPO_PY" "$sp" --when "$out/probe-ba" "$2" "$1")
	[ "$ab" != none ] && [ "$ba" != none ] || return 1
	w=$(printf '%s\n%s\n' "$ab" "$ba" | sort -g | tail -1)
}
has 1 || switches=0
for ((i = 1; i <= switches; i++)); do
	t0=$(date +%s%N)
	cl_cli enforce --all --force > /dev/null 2> "$out/enforce.err" || die "enforce --all: $(cat "$out/enforce.err")"
	t1=$(date +%s%N)
	cl_wait 600 when drop "$t0" || die "round $i: not dropped in both directions"
	sleep 0.3
	when drop "$t0" || die "round $i: the drop did not hold"
	drop_all="$drop_all $w" cli_all="$cli_all $(ms "$t0" "$t1")"
	say "round $i: enforce --all: both dropping after $w ms, the CLI returned after $(ms "$t0" "$t1") ms"
	t0=$(date +%s%N)
	cl_cli preview --all > /dev/null 2> "$out/preview.err" || die "preview --all: $(cat "$out/preview.err")"
	t1=$(date +%s%N)
	cl_wait 600 when pass "$t0" || die "round $i: not passing in both directions after preview"
	sleep 0.3
	pass_all="$pass_all $w" pcli_all="$pcli_all $(ms "$t0" "$t1")"
	say "round $i: preview --all: both passing after $w ms, the CLI returned after $(ms "$t0" "$t1") ms"
done
touch "$out/stop"
drop_med=$(med <<< "$drop_all") cli_med=$(med <<< "$cli_all")
pass_med=$(med <<< "$pass_all") pcli_med=$(med <<< "$pcli_all")

# --- 2. write and watch latency, fan-out per watcher ---
# One merge patch of PolicyMode "bench" (no namespace has that name: the
# agents receive it and change nothing), timed by curl after TLS.
write_ms=''
for ((i = 0; i < 20; i++)); do
	body="{\"apiVersion\":\"bulkhead.io/v1alpha1\",\"kind\":\"PolicyMode\",\"metadata\":{\"name\":\"bench\"},\"spec\":{\"mode\":\"preview\",\"namespace\":\"bench\",\"switchedAt\":\"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\",\"force\":false}}"
	if [ "$i" = 0 ]; then
		cl_api "$G/policymodes" -X POST -H 'Content-Type: application/json' -d "$body" -o /dev/null
		continue
	fi
	t=$(cl_api "$G/policymodes/bench" -X PATCH -H 'Content-Type: application/merge-patch+json' \
		-d "$body" -o /dev/null -w '%{time_appconnect} %{time_total}')
	write_ms="$write_ms $(awk '{ printf "%.2f", ($2 - $1) * 1000 }' <<< "$t")"
done
write_med=$(med <<< "$write_ms")

# watchers W: W extra watch streams on policymodes, from the workstation.
active() { cl_control <<< '{"op": "stats"}' | "$TOPO_PY" -c 'import json, sys; print(json.load(sys.stdin)["active"])'; }
watchers_start() {
	local a0 want
	a0=$(active)
	rm -f "$out/watching"
	# (a file: a background command's stdin is /dev/null)
	cat > "$out/watchers.py" <<'PY'
import os, socket, ssl, sys, threading, time
host, port, certs, n, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
token = open(certs + "/token").read().strip()
ctx = ssl.create_default_context(cafile=certs + "/ca.crt")
up = []
def watch():
    s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    s.sendall(("GET /apis/bulkhead.io/v1alpha1/policymodes?watch=1 HTTP/1.1\r\nHost: %s\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (host, token)).encode())
    up.append(1)
    while s.recv(65536):
        pass
for _ in range(n):
    threading.Thread(target=watch, daemon=True).start()
    time.sleep(0.002)
while len(up) < n:
    time.sleep(0.05)
open(ready, "w").write("%d\n" % n)
while True:
    time.sleep(3600)
PY
	topo_bg ip netns exec "$CL_NS_API" "$TOPO_PY" "$out/watchers.py" "$CL_API_IP" "$CL_API_PORT" \
		"$out/certs" "$1" "$out/watching" 2> "$out/watchers.err"
	wpid=$TOPO_LAST_PID
	cl_wait 1200 test -s "$out/watching" || { cat "$out/watchers.err" >&2; die "$1 watchers did not connect"; }
	# (the server answers a watch's headers with its first event: its own
	# count of open watches says when they are all there, give or take an
	# agent's watch being renewed; the streams an event reached are
	# counted from the sent log anyway)
	want=$((a0 + $1 - 3))
	cl_wait 1200 eval '[ "$(active)" -ge "$want" ]' || die "$1 watchers: the server holds $(active) watches, not $want"
	sleep 1
}
# stamped PUTS: PUTS stamped puts of PolicyMode "bench"; per put, the time
# to the first and to the last stream's send (ms), and the streams count.
stamped() {
	: > "$out/sent.log"
	# (one TLS connection kept open, the time taken just before each put is
	# sent: no process start or handshake in the figure)
	ip netns exec "$CL_NS_API" "$TOPO_PY" - "$CL_API_IP" "$CL_API_PORT" "$out/certs" "$1" > "$out/puts" <<'PY' ||
import http.client, json, ssl, sys, time
host, port, certs, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(cafile=certs + "/ca.crt"))
for k in range(n):
    body = json.dumps({"op": "put", "object": {
        "apiVersion": "bulkhead.io/v1alpha1", "kind": "PolicyMode",
        "metadata": {"name": "bench", "annotations": {"bench/sent-ns": "pending"}},
        "spec": {"mode": "preview", "namespace": "bench", "force": False,
                 "switchedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}}})
    t = time.time_ns()
    c.request("POST", "/_control", body, {"Content-Type": "application/json"})
    c.getresponse().read()
    print(t, flush=True)
    time.sleep(0.3)
PY
		die "the stamped puts failed"
	sleep 1
	"$TOPO_PY" - "$out/puts" "$out/sent.log" <<'PY'
import statistics, sys
puts = [int(l) for l in open(sys.argv[1])]
sent = sorted(int(l.split()[1]) for l in open(sys.argv[2]) if l.startswith("/bench "))
first, last, count = [], [], []
for i, t in enumerate(puts):
    end = puts[i + 1] if i + 1 < len(puts) else float("inf")
    s = [x for x in sent if t <= x < end]
    if s:
        first.append((s[0] - t) / 1e6)
        last.append((s[-1] - t) / 1e6)
        count.append(len(s))
print("%.2f %.2f %d" % (statistics.median(first), statistics.median(last), statistics.median(count)))
PY
}
declare -A fan_first fan_last fan_n
for wn in $watchers; do
	wpid=
	[ "$wn" -gt 0 ] && watchers_start "$wn"
	read -r fan_first[$wn] fan_last[$wn] fan_n[$wn] < <(stamped 10)
	say "$wn extra watchers: ${fan_n[$wn]} streams, first send ${fan_first[$wn]} ms, last ${fan_last[$wn]} ms after the put"
	[ -n "$wpid" ] && topo_kill "$wpid"
done
watch_med=${fan_last[0]:-${fan_last[$(echo $watchers | cut -d' ' -f1)]}}
# per watcher: the slope of the last send over the streams, the largest W
wmax=$(echo $watchers | tr ' ' '\n' | sort -g | tail -1)
wmin=$(echo $watchers | tr ' ' '\n' | sort -g | head -1)
per_watcher=$(awk -v a="${fan_last[$wmin]}" -v b="${fan_last[$wmax]}" -v na="${fan_n[$wmin]}" -v nb="${fan_n[$wmax]}" \
	'BEGIN { if (nb > na) printf "%.4f", (b - a) / (nb - na); else print "0" }')

# --- 3. the projection ---
proj() { # N: time to every agent dropping, and the CLI's return (ms)
	awk -v n="$1" -v d="$drop_med" -v c="$cli_med" -v p="$per_watcher" -v w="$write_med" 'BEGIN {
		drop = d + p * (n - 2)
		cli = c + p * (n - 2) + w * (n - 2)
		printf "%.0f %.0f", drop, cli }'
}
read -r p100 c100 < <(proj 100)
read -r p1000 c1000 < <(proj 1000)

# --- 4. API writes per node per minute in steady state ---
# writes KIND SINCE_LINE: PATCH/PUT/POST requests on KIND (nodeflows,
# leases, proposals, policymodes) in the API log after SINCE_LINE.
writes() { tail -n +"$(($2 + 1))" "$out/api.log" | grep -cE "\"(PATCH|PUT|POST) [^ ]*/$1(/|\?| )" || true; }
window() { # SECONDS [TRAFFIC]: the writes of each kind in that window
	local l0 end
	l0=$(wc -l < "$out/api.log")
	end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ -n "${2:-}" ] && learn_traffic
		sleep 0.5
	done
	echo "$(writes nodeflows "$l0") $(writes leases "$l0") $(writes proposals "$l0") $(writes policymodes "$l0")"
}
idle_nf=- idle_lease=- idle_prop=- busy_nf=- busy_lease=- busy_prop=-
if has 4; then
	sleep 2
	read -r idle_nf idle_lease idle_prop _ < <(window "$steady")
	say "idle ${steady} s: NodeFlows writes $idle_nf, Lease writes $idle_lease, Proposal writes $idle_prop"
	read -r busy_nf busy_lease busy_prop _ < <(window "$steady" traffic)
	say "steady traffic ${steady} s: NodeFlows writes $busy_nf, Lease writes $busy_lease, Proposal writes $busy_prop"
fi
ivs=$("$TOPO_PY" -c "import sys; s = sys.argv[1]; print(float(s[:-1]) * {'s': 1, 'm': 60}[s[-1]])" "$interval")
per_min() { awk -v w="$1" -v s="$steady" 'BEGIN { printf "%.2f", w / 2 / (s / 60) }'; }
at_default() { awk -v w="$1" -v s="$steady" -v i="$ivs" 'BEGIN { printf "%.2f", w / 2 / (s / 60) * i / 60 }'; }

printf '\n%-62s %s\n' "what" "result"
printf '%-62s %s\n' "enforce --all to both agents dropping (median of $switches)" "$drop_med ms (each: $drop_all )"
printf '%-62s %s\n' "  the CLI's return (every agent reported enforce)" "$cli_med ms (each: $cli_all )"
printf '%-62s %s\n' "preview --all to both passing again (median)" "$pass_med ms; the CLI $pcli_med ms"
printf '%-62s %s\n' "PolicyMode write (merge patch, after TLS, median of 19)" "$write_med ms"
for wn in $watchers; do
	printf '%-62s %s\n' "watch: put to the last of ${fan_n[$wn]} streams' send (median of 10)" "${fan_last[$wn]} ms (first ${fan_first[$wn]} ms)"
done
printf '%-62s %s\n' "fan-out per watcher (test API server)" "$per_watcher ms"
printf '%-62s %s\n' "projected, 100 nodes: every agent dropping / the CLI" "$p100 ms / $c100 ms"
printf '%-62s %s\n' "projected, 1,000 nodes: every agent dropping / the CLI" "$p1000 ms / $c1000 ms"
printf '%-62s %s\n' "NodeFlows writes per node per minute, idle (interval $interval)" "$(per_min "$idle_nf") (at 60s: $(at_default "$idle_nf"))"
printf '%-62s %s\n' "NodeFlows writes per node per minute, traffic (interval $interval)" "$(per_min "$busy_nf") (at 60s: $(at_default "$busy_nf"))"
printf '%-62s %s\n' "Lease writes per minute (the holder), idle / traffic" "$(awk -v w="$idle_lease" -v s="$steady" 'BEGIN { printf "%.1f", w / (s / 60) }') / $(awk -v w="$busy_lease" -v s="$steady" 'BEGIN { printf "%.1f", w / (s / 60) }')"
printf '%-62s %s\n' "Proposal writes in the windows, idle / traffic" "$idle_prop / $busy_prop"
grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error' "$out"/agent-*.log && exit 1
exit 0
