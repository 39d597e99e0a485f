#!/usr/bin/env bash
# netns.topology: the test topology itself, without any ruleset: every pod
# reaches every pod on TCP and UDP 80 and 81 over IPv4 and IPv6, a port
# nobody listens on is refused (so a probe can tell refused from dropped),
# an nftables drop in the node namespace shows as a timeout, and the
# cleanup leaves no namespace behind.
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
cat > "$TOPO_DIR/pods" <<PODS
x/a 10.77.0.1 fd77::1
x/b 10.77.0.2 fd77::2
y/a 10.77.1.1 fd77::101
PODS
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

TOPO_IPV6=1 topo_probe_all "$TOPO_DIR/open.jsonl"
python3 - "$TOPO_DIR/open.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 * 3 * 4 * 2, f"expected 72 probes, got {len(rows)}"
bad = [r for r in rows if not r["ok"]]
for r in bad:
    print("unexpectedly closed:", r)
sys.exit(1 if bad else 0)
PY

# Hairpin: a pod's traffic to itself crosses the node's forward hook.
topo_node_exec nft -f - <<'NFT'
table inet bhtopocount {
	chain filter_fwd {
		type filter hook forward priority 0; policy accept;
		ip saddr 10.77.0.1 ip daddr 10.77.0.1 tcp dport 80 counter
		ip6 saddr fd77::1 ip6 daddr fd77::1 udp dport 81 counter
	}
}
NFT
probe=$(topo_tool probe)
out=$(printf 'x/a 10.77.0.1 80 TCP\nx/a fd77::1 81 UDP\n' | topo_pod_exec x/a "$probe")
[ "$(echo "$out" | grep -c '"ok":true')" = 2 ] || { echo "self probes: $out"; exit 1; }
topo_node_exec nft list table inet bhtopocount | grep -q 'counter packets 0' &&
	{ echo "self traffic did not cross the node:"; topo_node_exec nft list table inet bhtopocount; exit 1; }
topo_node_exec nft delete table inet bhtopocount

# Refused is not a drop.
out=$(echo "x/b 10.77.0.2 9 TCP" | topo_pod_exec x/a "$probe")
echo "$out" | grep -q '"result":"refused"' || { echo "port 9: $out"; exit 1; }

# A drop in the node's forward path is a timeout, for TCP and UDP.
topo_node_exec nft -f - <<'NFT'
table inet bhtopotest {
	chain filter_fwd {
		type filter hook forward priority 0; policy accept;
		ip daddr 10.77.0.2 th dport 81 drop
	}
}
NFT
out=$(printf 'x/b 10.77.0.2 81 TCP\nx/b 10.77.0.2 81 UDP\nx/b 10.77.0.2 80 TCP\n' |
	topo_pod_exec x/a "$probe" --timeout-ms 300)
echo "$out"
[ "$(echo "$out" | grep -c '"result":"timeout"')" = 2 ] || { echo "drops not seen"; exit 1; }
echo "$out" | grep -q '"port":80,"protocol":"TCP","ok":true' || exit 1

# A test that fails half way still removes its namespaces and servers.
bash -c '. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
	topo_init
	topo_add_pod x/a 10.78.0.1
	topo_start_servers
	echo "$TOPO_ID ${TOPO_PIDS[*]}" > "$1"
	false' inner "$TOPO_DIR/inner" && { echo "inner test did not fail"; exit 1; }
read -r inner_id inner_pids < "$TOPO_DIR/inner"
if ip netns list | grep -q "^$inner_id-"; then
	echo "netns of a failed test left behind:"; ip netns list | grep "^$inner_id-"
	exit 1
fi
for p in $inner_pids; do
	if kill -0 "$p" 2>/dev/null; then echo "process $p left behind"; exit 1; fi
done
echo "netns.topology: ok"
