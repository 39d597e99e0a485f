#!/usr/bin/env bash
# netns.enforce_origins: the two origins of policy (docs/enforcer.md) with
# real traffic.  Pods x/a, x/b, x/c and y/a of model.json behind a routed
# node; the cluster's policy allow-b-to-a (tests/data/origins/cluster.json)
# isolates x/a; the proposal (tests/data/origins/proposal.json, applied
# with --proposal) adds a-in on x/a (TCP 80 from x/c), c-in on x/c (TCP 80
# from x/b) and c-eg on x/c (TCP 80 to x/a).  The ruleset's mode is
# enforce throughout; only the proposal's changes:
#  - preview: x/a is decided by the cluster's policy alone (a-in left out:
#    x/c -> x/a:80 stays dropped, y/a -> x/a too, and x/c -> x/a:81, which
#    x/c's previewed egress logs, is still dropped by x/a's ingress); what
#    only the proposal
#    denies (x/a -> x/c, x/c -> x/b) passes and is logged to NFLOG with
#    its class's prefix (read back by nflog_dump, and the class chain's
#    counter moved); what it allows (x/b -> x/c:80) passes unlogged;
#  - enforce: x/c -> x/a:80 passes (the union of allow-b-to-a and a-in),
#    x/a -> x/c and x/c -> x/b are dropped, x/b -> x/a still passes;
#  - back to preview: the dropped flows pass again.
# Each expectation is also held to `bulkhead check --proposal`.
set -uo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

data=$BH_SOURCE_DIR/tests/data
snap=(--snapshot "$data/netpol-cases/model.json" --snapshot "$data/origins/cluster.json")
proposal=(--proposal "$data/origins/proposal.json")
group=16968
TOPO_PORTS="80 81"
TOPO_PROTOS=TCP
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

topo_init
topo_pods_from_json "$data/netpol-cases/model.json" | grep -E '^(x/a|x/b|x/c|y/a) ' \
	> "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers
probe_tool=$(topo_tool probe)

# FROM TO PORT [TIMEOUT_MS]: 0 when the TCP handshake completes.
connects() {
	echo "$2 ${TOPO_POD_IP4[$2]} $3 TCP" |
		topo_pod_exec "$1" "$probe_tool" --timeout-ms "${4:-400}" | grep -q '"ok":true'
}

# MODE (the proposal's: none, preview, enforce) FROM TO PORT pass|drop.
# A drop where a pass is expected is probed again with 2 s (a slow moment
# on a loaded machine is not a verdict).
expect() {
	local mode=$1 from=$2 to=$3 port=$4 want=$5 got=drop rc=0 args=()
	if connects "$from" "$to" "$port" || { [ "$want" = pass ] && connects "$from" "$to" "$port" 2000; }; then
		got=pass
	fi
	[ "$mode" = none ] || args=("${proposal[@]}" --proposal-mode "$mode")
	"$BULKHEAD" check "${snap[@]}" "${args[@]}" --from "$from" --to "$to" --port "$port" \
		> /dev/null 2>&1 || rc=$?
	if [ "$got" != "$want" ]; then
		bad "proposal $mode: $from -> $to TCP/$port: got $got, want $want"
	elif [ "$rc" != "$([ "$want" = pass ] && echo 0 || echo 1)" ]; then
		bad "proposal $mode: $from -> $to TCP/$port: check exits $rc, the kernel: $got"
	else
		ok "proposal $mode: $from -> $to TCP/$port: $got (check agrees)"
	fi
}

apply() { # the proposal's mode, or none
	local args=()
	[ "$1" = none ] || args=("${proposal[@]}" --proposal-mode "$1")
	topo_node_exec conntrack -F > /dev/null 2>&1 || true
	if ! topo_node_exec "$BULKHEAD" apply "${snap[@]}" "${args[@]}" --node node-1 \
		--mode enforce > "$TOPO_DIR/apply.out" 2>&1; then
		bad "apply (proposal $1): $(cat "$TOPO_DIR/apply.out")"
		exit 1
	fi
	topo_neigh_flush
}

# The packets counted before the final verdict of the class chain that
# jumps to policy chain @1 first.
class_counter() {
	topo_node_exec nft list table inet bulkhead | awk -v want="jump $1" '
		/^\tchain c[ie]\// { inchain = 1; first = ""; next }
		/^\t}/ { inchain = 0 }
		inchain && first == "" && $1 == "jump" { first = $1 " " $2 }
		inchain && first == want && $1 == "counter" { print $3; exit }'
}

# 1. The cluster's policy alone.
apply none
expect none x/b x/a 80 pass
expect none x/c x/a 80 drop
expect none x/a x/c 80 pass
expect none x/c x/b 80 pass

# 2. The proposal in preview, NFLOG read back.
rm -f "$TOPO_DIR/nflog.ready"
topo_bg ip netns exec "$TOPO_NODE" "$(topo_tool nflog_dump)" --group "$group" \
	--ready "$TOPO_DIR/nflog.ready" > "$TOPO_DIR/alerts.jsonl" 2> "$TOPO_DIR/nflog.err"
dump=$TOPO_LAST_PID
for _ in $(seq 100); do [ -e "$TOPO_DIR/nflog.ready" ] && break; sleep 0.02; done
[ -e "$TOPO_DIR/nflog.ready" ] || { bad "nflog_dump did not start: $(cat "$TOPO_DIR/nflog.err")"; exit 1; }
apply preview
expect preview x/b x/a 80 pass
expect preview x/b x/a 81 pass
expect preview x/c x/a 80 drop # a-in left out: the cluster's policy decides
expect preview x/c x/a 81 drop # c-eg would deny (logged), x/a's ingress still drops
expect preview y/a x/a 80 drop
expect preview x/a x/c 80 pass # would be denied by c-in: logged
expect preview x/b x/c 80 pass # allowed by c-in: not logged
expect preview x/c x/b 80 pass # would be denied by c-eg: logged
n=$(class_counter pi/x/proposal_c-in)
[ "${n:-0}" -gt 0 ] && ok "preview: x/c's ingress class counted $n would-deny packets" ||
	bad "preview: x/c's ingress class counter is '${n:-}'"
sleep 0.15 # the kernel flushes NFLOG batches every 50 ms
topo_kill "$dump"
a=${TOPO_POD_IP4[x/a]} b=${TOPO_POD_IP4[x/b]} c=${TOPO_POD_IP4[x/c]}
alert() { # SRC DST PORT PREFIX-START: 0 when such an alert was read
	grep -F "\"src\":\"$1\",\"dst\":\"$2\"" "$TOPO_DIR/alerts.jsonl" |
		grep -F "\"port\":$3," | grep -qF "\"prefix\":\"$4"
}
alert "$a" "$c" 80 "bh:i:x:" && ok "preview: x/a -> x/c logged by x/c's ingress class" ||
	bad "preview: no alert bh:i:x: for x/a -> x/c: $(cat "$TOPO_DIR/alerts.jsonl")"
alert "$c" "$b" 80 "bh:e:x:" && ok "preview: x/c -> x/b logged by x/c's egress class" ||
	bad "preview: no alert bh:e:x: for x/c -> x/b: $(cat "$TOPO_DIR/alerts.jsonl")"
alert "$c" "$a" 81 "bh:e:x:" && ok "preview: x/c -> x/a:81 logged by x/c's egress class" ||
	bad "preview: no alert bh:e:x: for x/c -> x/a:81: $(cat "$TOPO_DIR/alerts.jsonl")"
if grep -F "\"dst\":\"$a\"" "$TOPO_DIR/alerts.jsonl" | grep -qF '"prefix":"bh:i:' ||
	grep -F "\"src\":\"$b\",\"dst\":\"$c\"" "$TOPO_DIR/alerts.jsonl" | grep -qF '"port":80,'; then
	bad "preview: alerts for flows the proposal does not decide: $(cat "$TOPO_DIR/alerts.jsonl")"
else
	ok "preview: no alert from x/a's ingress (the cluster's policy drops) nor x/b -> x/c:80"
fi

# 3. The proposal in enforce.
apply enforce
expect enforce x/b x/a 80 pass
expect enforce x/c x/a 80 pass # allow-b-to-a + a-in
expect enforce x/c x/a 81 drop
expect enforce y/a x/a 80 drop
expect enforce x/a x/c 80 drop
expect enforce x/b x/c 80 pass
expect enforce x/c x/b 80 drop
topo_node_exec nft list table inet bulkhead | grep -q 'log prefix' &&
	bad "enforce: the table still logs" || ok "enforce: nothing logs"

# 4. Back to preview.
apply preview
expect preview x/a x/c 80 pass
expect preview x/c x/b 80 pass
expect preview x/c x/a 80 drop
exit "$fail"
