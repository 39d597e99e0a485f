#!/usr/bin/env bash
# bench.throughput (issue 3, benchmark c): what enforcement costs a
# connection.  Two pods of the bench snapshot (10,000 pods, 1,000 policies,
# bench/gen-snapshot.py) get network namespaces behind a routed node
# namespace (tests/integration/lib/topology.sh), with the addresses the
# snapshot gives them; two extra policies (bench-*) allow the client to
# reach the server on TCP 5201 (iperf3) and 80 (the connection loop).
# Three rulesets in the node namespace, interleaved, BENCH_REPS times:
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
# and measures TCP throughput (iperf3, BENCH_SECONDS each) and the rate of
# new TCP connections (tests/tools/probe --rate, 4 in flight).  Prints the
# medians, the ratios of the medians to "none", and the medians of the
# paired ratios (each repetition against its own "none" run, which cancels
# the slow phases of a shared machine).  Needs root; not run in CI.
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

BENCH_REPS=${BENCH_REPS:-5}
BENCH_SECONDS=${BENCH_SECONDS:-5}
BENCH_RATE_SECONDS=${BENCH_RATE_SECONDS:-3}
BENCH_LINEAR_RULES=${BENCH_LINEAR_RULES:-200000}
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
ports = [{"protocol": "TCP", "port": 5201}, {"protocol": "TCP", "port": 80}]
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
topo_add_pods "$TOPO_DIR/pods"
cli=$(sed -n 1p "$TOPO_DIR/pods" | cut -d' ' -f1)
srv=$(sed -n 2p "$TOPO_DIR/pods" | cut -d' ' -f1)
srv_ip=$(sed -n 2p "$TOPO_DIR/pods" | cut -d' ' -f2)
echo "pair: $cli -> $srv ($srv_ip)"
TOPO_PORTS="80 81" topo_start_servers
topo_bg ip netns exec "$(topo_pod_ns "$srv")" iperf3 -s -p 5201 > /dev/null 2>&1
sleep 0.3

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

setup() {
	local t0 t1
	topo_node_exec nft delete table inet bulkhead 2> /dev/null || true
	topo_node_exec nft delete table inet bhlinear 2> /dev/null || true
	topo_node_exec nft delete table inet bhct 2> /dev/null || true
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
	esac
	t1=$(date +%s%N)
	echo "$1 load $(((t1 - t0) / 1000000))e-3" >> "$results"
	topo_node_exec conntrack -F > /dev/null 2>&1 || true
	# The ruleset is live: 5201 and 80 pass, 81 only without policies.
	local v
	v=$(printf '%s %s 80 TCP\n%s %s 81 TCP\n' "$srv" "$srv_ip" "$srv" "$srv_ip" |
		topo_pod_exec "$cli" "$probe" --timeout-ms 500 | grep -c '"ok":true' || true)
	local open=1
	case $1 in none | ct) open=2 ;; esac
	if [ "$v" != "$open" ]; then
		echo "mode $1: unexpected verdicts (open probes: $v)"
		exit 1
	fi
}

for ((rep = 1; rep <= BENCH_REPS; rep++)); do
	for mode in $BENCH_MODES; do
		setup "$mode"
		bps=$(topo_pod_exec "$cli" iperf3 -c "$srv_ip" -p 5201 -t "$BENCH_SECONDS" -J |
			"$TOPO_PY" -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
		cps=$(topo_pod_exec "$cli" "$probe" --rate "$BENCH_RATE_SECONDS" --parallel 4 "$srv_ip" 80 |
			"$TOPO_PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["per_second"] if d["failures"] == 0 else -1)')
		echo "rep $rep $mode: $("$TOPO_PY" -c "print(f'{$bps/1e9:.2f}')") Gbit/s, $cps conn/s"
		echo "$mode tput $bps" >> "$results"
		echo "$mode rate $cps" >> "$results"
	done
done

"$TOPO_PY" - "$results" <<'PY'
import statistics, sys
vals, reps = {}, []
for line in open(sys.argv[1]):
    mode, kind, v = line.split()
    vals.setdefault((mode, kind), []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
print("\nmedians (n=%d each):" % len(vals.get(("none", "tput"), [])))
print(f"{'ruleset':8} {'load s':>8} {'Gbit/s':>8} {'x none':>7} {'conn/s':>9} {'x none':>7}"
      f" {'paired tput':>12} {'paired conn':>12}")
modes = ("none", "ct", "sets", "base", "linear")
for mode in modes:
    if (mode, "tput") not in med:
        continue
    t, r, l = med[(mode, "tput")], med[(mode, "rate")], med[(mode, "load")]
    # Paired: each repetition against the "none" run next to it, so slow
    # phases of a shared machine cancel out; the median of those ratios.
    pt = statistics.median(a / b for a, b in zip(vals[(mode, "tput")], vals[("none", "tput")]))
    pr = statistics.median(a / b for a, b in zip(vals[(mode, "rate")], vals[("none", "rate")]))
    print(f"{mode:8} {l:8.2f} {t/1e9:8.2f} {t/med[('none','tput')]:7.2f} {r:9.0f} "
          f"{r/med[('none','rate')]:7.2f} {pt:12.2f} {pr:12.3f}")
if ("ct", "tput") in med:
    # Against conntrack alone: what the policies themselves cost.
    print("\nagainst ct (conntrack on, no policy), paired medians:")
    for mode in modes[2:]:
        if (mode, "tput") not in med:
            continue
        pt = statistics.median(a / b for a, b in zip(vals[(mode, "tput")], vals[("ct", "tput")]))
        pr = statistics.median(a / b for a, b in zip(vals[(mode, "rate")], vals[("ct", "rate")]))
        print(f"{mode:8} tput {pt:5.2f}x  conn {pr:6.3f}x")
PY
