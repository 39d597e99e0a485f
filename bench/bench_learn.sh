#!/usr/bin/env bash
# bench.learn: the learner's three figures, each side by side with its
# baseline in one run (docs/learner.md records the results):
#   1. capture file: `bulkhead learn --pcap` against `tcpdump -r FILE -w
#      /dev/null` on the same 5M-packet capture (bench/gen_pcap.c), runs
#      alternated, REPEAT times; medians of wall and CPU (user+sys) time.
#      Fails when the median CPU ratio exceeds 1.5.
#   2. memory per distinct flow at 1M flows (bench/bench_flow_mem.c).
#      Fails above 128 bytes.
#   2b. a high-cardinality capture: an ingress pod facing the internet
#      (gen_pcap ingress: PACKETS packets, about 700,000 distinct flows at
#      5M), against tcpdump as in 1, with the resident memory per flow
#      (getrusage of the child: maximum RSS / flows).  Fails above 1.5x CPU
#      or 128 bytes a flow.
#   3. (root) a conntrack event storm: STORM new UDP connections (distinct
#      flows) made as fast as python can send them, in a netns topology,
#      learned by `bulkhead learn --conntrack`; every flow must be present
#      or the loss reported (overruns > 0).
# Knobs: PACKETS (5000000), FLOWS (1000000), STORM (120000; 0 skips 3), REPEAT (5),
# SECTIONS ("1 2 2b 3": which to run, e.g. SECTIONS=2b for the 700k-flow figures).
set -euo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
PACKETS=${PACKETS:-5000000} FLOWS=${FLOWS:-1000000} STORM=${STORM:-120000} REPEAT=${REPEAT:-5}
SECTIONS=" ${SECTIONS:-1 2 2b 3} "
section() { [[ $SECTIONS == *" $1 "* ]]; }
gen=${GEN_PCAP:-$BH_BUILD_DIR/tests/gen_pcap} mem="$BH_BUILD_DIR/bench/bench_flow_mem"
rc=0

work=$(mktemp -d /tmp/bh-bench-learn.XXXXXX)
cleanup_work() { rm -rf "$work"; }
trap cleanup_work EXIT

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# Bash's own `time` (wall, user, sys): no dependency on time(1).
TIMEFORMAT='%R %U %S'
timed() { # OUT-PREFIX CMD...
	local p=$1 t
	shift
	t=$({ time "$@" >/dev/null 2>&1; } 2>&1)
	read -r e u s <<< "$t"
	echo "$e" >> "$work/$p.wall"
	awk -v u="$u" -v s="$s" 'BEGIN { print u + s }' >> "$work/$p.cpu"
}

if section 1; then
echo "== 1. capture file, $PACKETS packets =="
"$gen" mix "$PACKETS" "$work/mix.pcap"
ls -l "$work/mix.pcap" | awk '{print "capture:", $5, "bytes"}'
cat "$work/mix.pcap" > /dev/null # page cache, for both
for ((i = 0; i < REPEAT; i++)); do
	timed td tcpdump -r "$work/mix.pcap" -w /dev/null
	timed bh "$BULKHEAD" learn --pcap "$work/mix.pcap" -o "$work/flows.json"
done
tdw=$(median < "$work/td.wall") tdc=$(median < "$work/td.cpu")
bhw=$(median < "$work/bh.wall") bhc=$(median < "$work/bh.cpu")
flows=$(grep -c '"protocol"' "$work/flows.json")
echo "tcpdump -r FILE -w /dev/null:      wall $tdw s, cpu $tdc s (median of $REPEAT)"
echo "bulkhead learn --pcap FILE -o ...: wall $bhw s, cpu $bhc s ($flows flows)"
wr=$(awk -v a="$bhw" -v b="$tdw" 'BEGIN { printf "%.2f", a / b }')
cr=$(awk -v a="$bhc" -v b="$tdc" 'BEGIN { printf "%.2f", a / b }')
echo "ratio: wall ${wr}x, cpu ${cr}x (limit 1.5x)"
if awk -v r="$cr" 'BEGIN { exit !(r > 1.5) }'; then echo "FAIL: capture file too slow"; rc=1; fi
rm -f "$work/mix.pcap"
fi

if section 2; then
echo "== 2. memory per distinct flow, $FLOWS flows =="
out=$("$mem" "$FLOWS")
echo "$out"
python3 - "$out" <<'PY' || rc=1
import json, sys
d = json.loads(sys.argv[1])
ok = d["table_bytes_per_flow"] <= 128 and d["rss_bytes_per_flow"] <= 128 and d["evicted"] == 0
print("memory per flow:", "ok" if ok else "FAIL (limit 128 bytes)")
sys.exit(0 if ok else 1)
PY
fi

if section 2b; then
echo "== 2b. high-cardinality capture (ingress), $PACKETS packets =="
"$gen" ingress "$PACKETS" "$work/ingress.pcap"
cat "$work/ingress.pcap" > /dev/null
rm -f "$work"/td.* "$work"/bh.* "$work/rss"
for ((i = 0; i < REPEAT; i++)); do
	timed td tcpdump -r "$work/ingress.pcap" -w /dev/null
	timed bh "$BULKHEAD" learn --pcap "$work/ingress.pcap" -o "$work/flows.json"
	python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)' \
		"$BULKHEAD" learn --pcap "$work/ingress.pcap" -o "$work/flows.json" >> "$work/rss"
done
tdw=$(median < "$work/td.wall") tdc=$(median < "$work/td.cpu")
bhw=$(median < "$work/bh.wall") bhc=$(median < "$work/bh.cpu")
flows=$(grep -c '"protocol"' "$work/flows.json")
size=$(stat -c %s "$work/flows.json")
rss=$(median < "$work/rss")
echo "tcpdump -r FILE -w /dev/null:      wall $tdw s, cpu $tdc s (median of $REPEAT)"
echo "bulkhead learn --pcap FILE -o ...: wall $bhw s, cpu $bhc s ($flows flows)"
wr=$(awk -v a="$bhw" -v b="$tdw" 'BEGIN { printf "%.2f", a / b }')
cr=$(awk -v a="$bhc" -v b="$tdc" 'BEGIN { printf "%.2f", a / b }')
bpf=$(awk -v a="$rss" -v n="$flows" 'BEGIN { printf "%.1f", a / n }')
fpf=$(awk -v a="$size" -v n="$flows" 'BEGIN { printf "%.1f", a / n }')
echo "ratio: wall ${wr}x, cpu ${cr}x (limit 1.5x); resident $bpf bytes a flow (limit 128); file $fpf bytes a flow"
if awk -v r="$cr" 'BEGIN { exit !(r > 1.5) }'; then echo "FAIL: high-cardinality capture too slow"; rc=1; fi
if awk -v r="$bpf" 'BEGIN { exit !(r > 128) }'; then echo "FAIL: too much memory per flow"; rc=1; fi
rm -f "$work/ingress.pcap"
fi

echo "== 3. conntrack event storm, $STORM new connections =="
if ! section 3; then
	echo "not in SECTIONS: storm skipped"
	exit $rc
fi
if [ "$(id -u)" != 0 ]; then
	echo "not root: storm skipped"
	exit $rc
fi
if [ "$STORM" = 0 ]; then
	echo "STORM=0: storm skipped"
	exit $rc
fi
trap - EXIT
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
topo_init
topo_on_exit 'rm -rf "$work"'
printf 'a/a 10.88.0.1\nb/b 10.88.0.2\nc/c 10.88.0.3\n' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
# Connection tracking runs in a namespace once a rule needs it.
topo_node_exec nft -f - <<'NFT'
table ip bhbenchct {
	chain forward_ct {
		type filter hook forward priority 0; policy accept;
		ct state new counter
	}
}
NFT
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" learn --conntrack --max-flows 2000000 \
	-o "$work/ct.json"
learner=$TOPO_LAST_PID
sleep 1
half=$((STORM / 2))
storm='
import socket, sys, time
n = int(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t = time.time()
for i in range(n):
    s.sendto(b"x", ("10.88.0.2", 1024 + i))
print(f"{n} datagrams in {time.time() - t:.2f} s", file=sys.stderr)
'
start=$(date +%s%N)
topo_pod_exec a/a python3 -c "$storm" "$half" &
p1=$!
topo_pod_exec c/c python3 -c "$storm" "$half" &
p2=$!
wait $p1 $p2
made=$(topo_node_exec conntrack -C 2>/dev/null || echo "?")
echo "storm sent; conntrack entries in the node namespace: $made"
sleep 3
kill -TERM "$learner"
wait "$learner" || { echo "FAIL: learner"; exit 1; }
end=$(date +%s%N)
python3 - "$work/ct.json" "$half" "$(( (end - start) / 1000000 ))" <<'PY' || rc=1
import json, sys
d = json.load(open(sys.argv[1])); half = int(sys.argv[2])
want = {(c, 1024 + i) for c in ("10.88.0.1", "10.88.0.3") for i in range(half)}
got = {(f["src"]["ip"], f["port"]) for f in d["flows"]
       if f["protocol"] == "UDP" and f["dst"]["ip"] == "10.88.0.2"}
missing = len(want - got)
over = d["stats"]["overruns"]
print(f"conntrack storm: {len(want)} connections, {len(want & got)} flows learned, "
      f"{missing} missing, overruns {over}, {int(sys.argv[3]) / 1000:.1f} s from storm to file")
ok = missing == 0 or over > 0
print("storm:", "ok" if ok else "FAIL (flows lost without an overrun reported)")
sys.exit(0 if ok else 1)
PY
exit $rc
