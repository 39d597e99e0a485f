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

# Preview with a full seen set (the kernel's one-log-per-flow memory):
# the `add` to it fails, and the rate-limited log rule after it still
# alerts every flow.  The seen sets are cut to 2 elements in the dry-run
# text; every pod probes x/a, x/b and x/c (isolated by
# 01-deny-all-ingress, which denies them all) on TCP and UDP 80 and 81:
# 96 flows, all passed, all alerted, 2 of them in the set.
echo "preview with a full seen set"
"$BULKHEAD" apply --snapshot "$model" --snapshot "$cases_dir/01-deny-all-ingress.json" \
	--node "$MATRIX_NODE" --mode preview --dry-run |
	"$TOPO_PY" -c 'import re, sys
t = sys.stdin.read()
t, n = re.subn(r"(\tset seen[46] \{\n[^}]*?\t\tsize )\d+", r"\g<1>2", t)
assert n == 2, n
sys.stdout.write(t)' > "$TOPO_DIR/seen-full.nft"
topo_node_exec nft -f "$TOPO_DIR/seen-full.nft"
rm -f "$TOPO_DIR/seen.ready"
topo_bg ip netns exec "$TOPO_NODE" "$(topo_tool nflog_dump)" --group "$MATRIX_GROUP" \
	--snapshot "$model" --snapshot "$cases_dir/01-deny-all-ingress.json" --node "$MATRIX_NODE" \
	--ready "$TOPO_DIR/seen.ready" > "$TOPO_DIR/seen-alerts.jsonl" 2> "$TOPO_DIR/seen-nflog.err"
dump=$TOPO_LAST_PID
for _ in $(seq 100); do [ -e "$TOPO_DIR/seen.ready" ] && break; sleep 0.02; done
for src in "${TOPO_PODS[@]}"; do
	for dst in x/a x/b x/c; do
		[ "$src" = "$dst" ] && continue
		for port in 80 81; do
			printf '%s %s %s %s TCP\n%s %s %s %s UDP\n' "$src" "$dst" "${TOPO_POD_IP4[$dst]}" \
				"$port" "$src" "$dst" "${TOPO_POD_IP4[$dst]}" "$port"
		done
	done
done > "$TOPO_DIR/seen-targets"
: > "$TOPO_DIR/seen-probes.jsonl"
topo_probe_list "$TOPO_DIR/seen-targets" "$TOPO_DIR/seen-probes.jsonl" 1000
sleep 0.15 # the kernel flushes NFLOG batches every 50 ms
topo_kill "$dump"
in_set=$(topo_node_exec nft -j list set inet bulkhead seen4 | "$TOPO_PY" -c 'import json, sys
print(sum(len(o["set"].get("elem", [])) for o in json.load(sys.stdin)["nftables"] if "set" in o))')
if "$TOPO_PY" - "$TOPO_DIR/seen-probes.jsonl" "$TOPO_DIR/seen-alerts.jsonl" "$in_set" <<'PY'
import json, sys
probes = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
alerts = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
flows = {(a["src"], a["dst"], a["protocol"], a["port"]) for a in alerts}
ok = sum(1 for p in probes if p.get("ok"))
print(f"  {len(probes)} flows, {ok} passed, {len(flows)} alerted, seen set: {sys.argv[3]} elements")
sys.exit(0 if len(probes) == 96 and ok == 96 and len(flows) == 96 and sys.argv[3] == "2" else 1)
PY
then
	echo "  ok: every flow alerted with the seen set full"
else
	echo "  FAIL: flows went unalerted with the seen set full ($(cat "$TOPO_DIR/seen-nflog.err"))"
	failed+=(seen-full)
fi

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
