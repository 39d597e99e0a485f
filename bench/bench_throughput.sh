#!/usr/bin/env bash
# bench.throughput (issue 3, benchmark c): what enforcement costs a
# connection.  Two pods of the bench snapshot (10,000 pods, 1,000 policies,
# bench/gen-snapshot.py) get network namespaces behind a routed node
# namespace (tests/integration/lib/topology.sh), with the addresses the
# snapshot gives them; two extra policies (bench-*) allow the client to
# reach the server on TCP 5201 (iperf3), 80 and 8000-8031 (the connection
# loop).
# Each ruleset gets its own node namespace with its own copy of the pair,
# loaded once; the measurements then alternate between them, BENCH_REPS
# rounds, so a slow phase of the machine falls on every ruleset alike:
#   none    no ruleset at all
#   sets    bulkhead apply --mode enforce of the whole snapshot (sets and
#           the class dispatch trie, docs/enforcer.md)
#   ct      conntrack only: one table whose forward chain accepts
#           established and related packets, nothing else.  No ruleset at
#           all ("none") leaves conntrack off in the node namespace; a
#           Kubernetes node always has it on (kube-proxy, the CNI), so
#           this is what a node pays before any NetworkPolicy
#   base    (when BULKHEAD_BASE names another bulkhead binary, e.g. the
#           previous release) the same as sets with that binary, to
#           compare two rulesets side by side
#   linear  the same policies as one nft rule per (local pod, peer, port)
#           (bench/linear_ruleset.py), cut at BENCH_LINEAR_RULES rules with
#           the bench policies last
#   NAME    any other name: the nft file in $BENCH_NFT_NAME (e.g. a
#           hand-edited `apply --dry-run` text, to try a layout before
#           building it; the bench policies must be in it)
# and measures TCP throughput (iperf3, BENCH_SECONDS each, BENCH_REPS
# rounds) and the rate of new TCP connections (tests/integration/probe.c
# --rate, BENCH_PARALLEL in flight (4), connect and reset;
# BENCH_RATE_SECONDS windows, BENCH_RATE_REPS rounds) twice:
#   conn/s  over the 32 server ports 8000-8031 in turn (BENCH_RATE_PORTS):
#           every connection a 4-tuple conntrack has not seen in the last
#           10 s, as with many clients
#   1 port  all to port 80: at 40,000 connections a second the pod's
#           64,000 ephemeral ports bring a 4-tuple back every 1.6 s, while
#           conntrack keeps a reset connection 10 s (CLOSE), so nearly every
#           SYN takes conntrack's reopen path (kill the old entry, look up
#           again): what one client hammering one port pays
# The clients run on CPU 0 and the servers on CPU 1 (BENCH_PIN=0 lets the
# scheduler place them), which narrows the spread between runs.  Prints the
# medians, the ratios of the medians to "none", and the medians of the
# paired ratios (each round against its own "none" run, which cancels the
# slow phases of a shared machine).  Needs root; not run in CI.
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

BENCH_REPS=${BENCH_REPS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-3}
BENCH_RATE_REPS=${BENCH_RATE_REPS:-60}
BENCH_RATE_SECONDS=${BENCH_RATE_SECONDS:-0.5}
BENCH_LINEAR_RULES=${BENCH_LINEAR_RULES:-200000}
BENCH_RATE_PORTS=${BENCH_RATE_PORTS:-8000-8031}
BENCH_PIN=${BENCH_PIN:-1}
BENCH_PARALLEL=${BENCH_PARALLEL:-4}
BENCH_MODES=${BENCH_MODES:-"none ct sets ${BULKHEAD_BASE:+base }linear"}
command -v iperf3 > /dev/null || { echo "iperf3 missing (scripts/install-deps.sh)"; exit 1; }

topo_init
snap="$TOPO_DIR/snap.json"
"$TOPO_PY" "$BH_SOURCE_DIR/bench/gen-snapshot.py" --pods 10000 --policies 1000 \
	--namespaces 50 --nodes 20 --seed 1 > "$snap"

# The pair: the first two pods of node-1 in different namespaces, and the
# two policies that let the client reach the server.
"$TOPO_PY" - "$snap" "$TOPO_DIR" <<'PY'
import json, sys
snap, d = sys.argv[1], sys.argv[2]
pods = [i for i in json.load(open(snap))["items"] if i["kind"] == "Pod"
        and i["spec"].get("nodeName") == "node-1"]
srv = pods[0]
cli = next(p for p in pods if p["metadata"]["namespace"] != srv["metadata"]["namespace"])
def peer(p):
    return {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": p["metadata"]["namespace"]}},
            "podSelector": {"matchLabels": {"app": p["metadata"]["labels"]["app"]}}}
ports = [{"protocol": "TCP", "port": 5201}, {"protocol": "TCP", "port": 80},
         {"protocol": "TCP", "port": 8000, "endPort": 8031}]
def pol(name, p, types, rule):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": p["metadata"]["namespace"]},
            "spec": {"podSelector": {"matchLabels": {"app": p["metadata"]["labels"]["app"]}},
                     "policyTypes": types, **rule}}
items = [pol("bench-ingress", srv, ["Ingress"], {"ingress": [{"from": [peer(cli)], "ports": ports}]}),
         pol("bench-egress", cli, ["Egress"], {"egress": [{"to": [peer(srv)], "ports": ports}]})]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(f"{d}/bench-policies.json", "w"))
with open(f"{d}/pods", "w") as f:
    for role, p in (("client", cli), ("server", srv)):
        print(f'{p["metadata"]["namespace"]}/{p["metadata"]["name"]} {p["status"]["podIP"]}', file=f)
PY
cli=$(sed -n 1p "$TOPO_DIR/pods" | cut -d' ' -f1)
cli_ip=$(sed -n 1p "$TOPO_DIR/pods" | cut -d' ' -f2)
srv=$(sed -n 2p "$TOPO_DIR/pods" | cut -d' ' -f1)
srv_ip=$(sed -n 2p "$TOPO_DIR/pods" | cut -d' ' -f2)
echo "pair: $cli -> $srv ($srv_ip)"
pin_client=() pin_server=()
if [ "$BENCH_PIN" = 1 ] && [ "$(nproc)" -ge 2 ]; then
	pin_client=(taskset -c 0)
	pin_server=(taskset -c 1)
fi

if [[ " $BENCH_MODES " == *" linear "* ]]; then
	echo "generating the linear baseline (cut at $BENCH_LINEAR_RULES rules)..."
	"$TOPO_PY" "$BH_SOURCE_DIR/bench/linear_ruleset.py" --node node-1 \
		--max-rules "$BENCH_LINEAR_RULES" --keep-prefix bench- \
		"$snap" "$TOPO_DIR/bench-policies.json" > "$TOPO_DIR/linear.nft" 2> "$TOPO_DIR/linear.log"
	cat "$TOPO_DIR/linear.log"
fi

probe=$(topo_tool probe)
results="$TOPO_DIR/results"
: > "$results"

# A node namespace for ruleset $1 (the first one is topo_init's), the
# pair behind it, the servers, the ruleset loaded and checked.
declare -A NODE_OF CLI_NS
node_n=0
setup() {
	local t0 t1 t v open=1 serve
	[ "$node_n" -gt 0 ] && topo_node_add "$TOPO_ID-node$node_n"
	node_n=$((node_n + 1))
	NODE_OF[$1]=$TOPO_NODE
	topo_add_pod "$1:$cli" "$cli_ip"
	topo_add_pod "$1:$srv" "$srv_ip"
	CLI_NS[$1]=$(topo_pod_ns "$1:$cli")
	serve=$(topo_tool serve)
	topo_bg ip netns exec "$(topo_pod_ns "$1:$srv")" "${pin_server[@]}" "$serve" \
		--ready "$TOPO_DIR/ready.$1" 80 81 "$BENCH_RATE_PORTS"
	topo_bg ip netns exec "$(topo_pod_ns "$1:$srv")" "${pin_server[@]}" iperf3 -s -p 5201 \
		> /dev/null 2>&1
	t0=$(date +%s%N)
	case $1 in
	none) ;;
	ct) echo 'table inet bhct { chain forward { type filter hook forward priority filter;
		ct state established,related accept; }; }' | topo_node_exec nft -f - ;;
	sets) topo_node_exec "$BULKHEAD" apply --snapshot "$snap" \
		--snapshot "$TOPO_DIR/bench-policies.json" --node node-1 --mode enforce > /dev/null ;;
	base) topo_node_exec "$BULKHEAD_BASE" apply --snapshot "$snap" \
		--snapshot "$TOPO_DIR/bench-policies.json" --node node-1 --mode enforce > /dev/null ;;
	linear) topo_node_exec nft -f "$TOPO_DIR/linear.nft" ;;
	*)
		local file_var="BENCH_NFT_$1"
		[ -n "${!file_var:-}" ] || topo_die "unknown mode '$1' (no BENCH_NFT_$1 file)"
		topo_node_exec nft -f "${!file_var}"
		;;
	esac
	t1=$(date +%s%N)
	echo "$1 load $(((t1 - t0) / 1000000))e-3" >> "$results"
	for ((t = 0; t < 100; t++)); do
		[ -e "$TOPO_DIR/ready.$1" ] && break
		sleep 0.05
	done
	sleep 0.2 # iperf3 -s has no ready signal
	# The ruleset is live: 5201 and 80 pass, 81 only without policies.
	v=$(printf '%s %s 80 TCP\n%s %s 81 TCP\n' "$srv" "$srv_ip" "$srv" "$srv_ip" |
		ip netns exec "${CLI_NS[$1]}" "$probe" --timeout-ms 500 | grep -c '"ok":true' || true)
	case $1 in none | ct) open=2 ;; esac
	if [ "$v" != "$open" ]; then
		echo "mode $1: unexpected verdicts (open probes: $v)"
		exit 1
	fi
}

# New connections a second from the pair of ruleset $1 to ports $2, from
# an empty conntrack table.
rate() {
	ip netns exec "${NODE_OF[$1]}" conntrack -F > /dev/null 2>&1 || true
	ip netns exec "${CLI_NS[$1]}" "${pin_client[@]}" "$probe" --rate "$BENCH_RATE_SECONDS" \
		--parallel "$BENCH_PARALLEL" "$srv_ip" "$2" |
		"$TOPO_PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["per_second"] if d["failures"] == 0 else -1)'
}

for mode in $BENCH_MODES; do
	setup "$mode"
done
for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	for mode in $BENCH_MODES; do
		bps=$(ip netns exec "${CLI_NS[$mode]}" "${pin_client[@]}" iperf3 -c "$srv_ip" -p 5201 \
			-t "$BENCH_SECONDS" -J |
			"$TOPO_PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
		echo "round $rep $mode: $("$TOPO_PY" -c "print(f'{$bps/1e9:.2f}')") Gbit/s"
		echo "$mode tput $bps" >> "$results"
	done
done
# The connection rate swings most with the machine's phases: short windows,
# many rounds.
for ((rep = 1; rep <= BENCH_RATE_REPS; rep++)); do
	line="round $rep conn/s (1 port):"
	for mode in $BENCH_MODES; do
		cps=$(rate "$mode" "$BENCH_RATE_PORTS")
		cps1=$(rate "$mode" 80)
		line+=" $mode $cps ($cps1)"
		echo "$mode rate $cps" >> "$results"
		echo "$mode rate1 $cps1" >> "$results"
	done
	echo "$line"
done

"$TOPO_PY" - "$results" $BENCH_MODES <<'PY'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    mode, kind, v = line.split()
    vals.setdefault((mode, kind), []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
def paired(mode, kind, base):
    # Each repetition against the base run next to it, so slow phases of a
    # shared machine cancel out; the median of those ratios.
    return statistics.median(a / b for a, b in zip(vals[(mode, kind)], vals[(base, kind)]))
print("\nmedians (throughput n=%d, connection rates n=%d each):"
      % (len(vals[("none", "tput")]), len(vals[("none", "rate")])))
print(f"{'ruleset':8} {'load s':>7} {'Gbit/s':>7} {'x none':>7} {'conn/s':>7} {'x none':>7}"
      f" {'1 port':>7} {'x none':>7}   paired x none: {'tput':>5} {'conn':>5} {'1 port':>6}")
modes = ["none", "ct"] + [m for m in sys.argv[2:] if m not in ("none", "ct")]
for mode in modes:
    if (mode, "tput") not in med:
        continue
    t, r, r1, l = (med[(mode, k)] for k in ("tput", "rate", "rate1", "load"))
    print(f"{mode:8} {l:7.2f} {t/1e9:7.2f} {t/med[('none','tput')]:7.2f} {r:7.0f} "
          f"{r/med[('none','rate')]:7.2f} {r1:7.0f} {r1/med[('none','rate1')]:7.2f}   "
          f"{'':14} {paired(mode, 'tput', 'none'):5.2f} {paired(mode, 'rate', 'none'):5.2f}"
          f" {paired(mode, 'rate1', 'none'):6.2f}")
if ("ct", "tput") in med:
    # Against conntrack alone: what the policies themselves cost.
    print("\nagainst ct (conntrack on, no policy), paired medians:")
    for mode in modes[2:]:
        if (mode, "tput") not in med:
            continue
        print(f"{mode:8} tput {paired(mode, 'tput', 'ct'):5.2f}x  conn {paired(mode, 'rate', 'ct'):5.2f}x"
              f"  1 port {paired(mode, 'rate1', 'ct'):5.2f}x")
PY
