#!/usr/bin/env bash
# netns.enforce_bridged: the enforce matrix on a bridged node (flannel or
# kindnet style, tests/integration/lib/topology.sh TOPO_BRIDGED=1): a
# bridge cni0 in the node namespace holds the gateway, every pod's veth is
# a port of it, pods are on-link to each other.
#
#  1. br_netfilter off: pod-to-pod frames are bridged and never reach the
#     inet forward hook.  apply must say so ("bridged without
#     br_netfilter"), add `table bridge bulkhead`, and the cases must hold
#     as on a routed node: enforce drops exactly the denied cells, preview
#     drops nothing and alerts each would-deny cell once.
#  2. reset removes both tables: everything open again.
#  3. br_netfilter on: bridged IP traffic traverses the inet hooks; apply
#     says "bridged with br_netfilter", adds no bridge table, the same
#     cases hold.
#  4. a snapshot whose local pods are on no interface: apply says in one
#     warning line that the ruleset cannot see pod traffic.
#
# Self cells (x/a -> x/a) go out through the gateway and back (hairpin
# routing in the pod), so the node decides them too.
#   BH_CASES="01 02" picks cases by prefix (default: eight covering
#   ingress, egress, both, namespaces, ports, ipBlocks).
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
export TOPO_BRIDGED=1 TOPO_BR_NF=0
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/matrix.sh"

cases_dir="$BH_SOURCE_DIR/tests/data/netpol-cases"
model="$cases_dir/model.json"
MATRIX_NODE=node-1
BH_CASES=${BH_CASES:-"01 02 03 07 18 30 36 38"}

topo_init
topo_pods_from_json "$model" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

TOPO_IPV6=1 topo_probe_all "$TOPO_DIR/open.jsonl"
if grep -q '"ok":false' "$TOPO_DIR/open.jsonl"; then
	echo "topology broken: closed without any ruleset:"
	grep '"ok":false' "$TOPO_DIR/open.jsonl"
	exit 1
fi

failed=()
run_cases() { # label
	local case name c sel
	for case in "$cases_dir"/[0-9]*.json; do
		name=$(basename "$case" .json)
		sel=0
		for c in $BH_CASES; do [[ $name == "$c"* ]] && sel=1; done
		[ "$sel" = 1 ] || continue
		echo "case $name ($1)"
		matrix_run "$1.$name" "$case" "$model" "$case" || failed+=("$1:$name")
	done
}

# The datapath line apply prints, and whether the bridge table exists.
expect_datapath() { # label, expected start of the line, bridge table yes|no
	local out
	out=$(topo_node_exec "$BULKHEAD" apply --snapshot "$model" \
		--snapshot "$cases_dir/01-deny-all-ingress.json" --node "$MATRIX_NODE" --mode enforce 2>&1)
	if ! grep -q "^datapath: $2" <<<"$out"; then
		echo "FAIL: $1: apply did not say 'datapath: $2': $out"
		failed+=("$1:datapath")
	else
		echo "ok: $1: $(grep '^datapath:' <<<"$out")"
	fi
	if topo_node_exec nft list table bridge bulkhead > /dev/null 2>&1; then
		[ "$3" = yes ] || { echo "FAIL: $1: table bridge bulkhead present"; failed+=("$1:bridge-table"); }
	else
		[ "$3" = no ] || { echo "FAIL: $1: no table bridge bulkhead"; failed+=("$1:bridge-table"); }
	fi
}

# 1. br_netfilter off.
expect_datapath br-nf-off "bridged without br_netfilter (0 routed, 18 bridged; diverted to IP: 'cni0')" yes
run_cases br-nf-off

# 2. reset removes both tables.
topo_node_exec "$BULKHEAD" reset
for fam in inet bridge; do
	if topo_node_exec nft list table "$fam" bulkhead > /dev/null 2>&1; then
		echo "FAIL: reset left table $fam bulkhead behind"
		failed+=("reset:$fam")
	fi
done
TOPO_IPV6=1 topo_probe_all "$TOPO_DIR/after-reset.jsonl"
grep -q '"ok":false' "$TOPO_DIR/after-reset.jsonl" && failed+=(after-reset)

# 3. br_netfilter on.
topo_br_nf 1
expect_datapath br-nf-on "bridged with br_netfilter" no
run_cases br-nf-on
topo_node_exec "$BULKHEAD" reset > /dev/null

# 4. Pods on no interface of the node's namespace: apply still loads the
# ruleset, and says in one warning line (not again on stdout) that it
# cannot see pod traffic.
sed 's/10\.200\./10.201./g; s/fd00:200:/fd00:201:/g' "$model" > "$TOPO_DIR/elsewhere.json"
if topo_node_exec "$BULKHEAD" apply --snapshot "$TOPO_DIR/elsewhere.json" --node "$MATRIX_NODE" \
	--mode enforce > "$TOPO_DIR/blind.out" 2> "$TOPO_DIR/blind.err" &&
	[ "$(wc -l < "$TOPO_DIR/blind.err")" = 1 ] &&
	grep -q 'level=warning.*datapath: unknown.*cannot see pod traffic' "$TOPO_DIR/blind.err" &&
	grep -q '^applied:' "$TOPO_DIR/blind.out" && ! grep -q '^datapath:' "$TOPO_DIR/blind.out"; then
	echo "ok: blind: $(cat "$TOPO_DIR/blind.err")"
else
	echo "FAIL: blind: expected one warning line: $(cat "$TOPO_DIR/blind.out" "$TOPO_DIR/blind.err")"
	failed+=(blind)
fi
topo_node_exec "$BULKHEAD" reset > /dev/null

echo "enforce_bridged: ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ "${#failed[@]}" = 0 ]
