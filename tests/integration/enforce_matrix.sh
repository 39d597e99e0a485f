#!/usr/bin/env bash
# netns.enforce_matrix: every case of tests/data/netpol-cases through the
# kernel.  The upstream e2e model (x/y/z x a/b/c, from model.json) is built
# as network namespaces behind a routed "node" namespace; for each case
# bulkhead applies model + case in enforce mode inside the node namespace,
# every pod probes every pod on TCP and UDP 80 and 81 (IPv6 too when the
# case has an IPv6 table), and each cell must agree with the case's truth
# table and with `bulkhead check` on the same snapshot.  Then preview mode:
# nothing is dropped, and each would-deny cell is read back from NFLOG as
# exactly one alert (tests/tools/nflog_dump, enforcer/preview.c).  SCTP is
# not in this kernel: SCTP rules are covered by the golden ruleset tests.
#
#   BH_CASES="01 02" limits the run to cases with those prefixes.
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/matrix.sh"

cases_dir="$BH_SOURCE_DIR/tests/data/netpol-cases"
model="$cases_dir/model.json"
MATRIX_NODE=node-1

topo_init
topo_pods_from_json "$model" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

# Without a ruleset everything is open (the topology itself works).
TOPO_IPV6=1 topo_probe_all "$TOPO_DIR/open.jsonl"
if grep -q '"ok":false' "$TOPO_DIR/open.jsonl"; then
	echo "topology broken: closed without any ruleset:"
	grep '"ok":false' "$TOPO_DIR/open.jsonl"
	exit 1
fi

n=0 failed=()
start=$(date +%s)
for case in "$cases_dir"/[0-9]*.json; do
	name=$(basename "$case" .json)
	if [ -n "${BH_CASES:-}" ]; then
		sel=0
		for c in $BH_CASES; do [[ $name == "$c"* ]] && sel=1; done
		[ "$sel" = 1 ] || continue
	fi
	echo "case $name"
	n=$((n + 1))
	matrix_run "$name" "$case" "$model" "$case" || failed+=("$name")
done

# reset removes the table: everything is open again.
topo_node_exec "$BULKHEAD" reset
if topo_node_exec nft list table inet bulkhead > /dev/null 2>&1; then
	echo "reset left table inet bulkhead behind"
	failed+=(reset)
fi
topo_probe_all "$TOPO_DIR/after-reset.jsonl"
grep -q '"ok":false' "$TOPO_DIR/after-reset.jsonl" && failed+=(after-reset)

echo "enforce_matrix: $n cases in $(($(date +%s) - start)) s, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ "$n" -ge 40 ] || { echo "fewer than 40 cases"; exit 1; }
[ "${#failed[@]}" = 0 ]
