#!/usr/bin/env bash
# golden.check_differential: `bulkhead check -o json` against an independent
# Python evaluator (netpol_ref.py) on random realistic snapshots from
# bench/gen-snapshot.py (several seeds, ports the generated policies use,
# named ports and endPort ranges among them) with a host-network pod per
# node, every cell compared; then with every other policy given as a
# proposal (check --proposal) in preview and in enforce.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
gen=$BH_SOURCE_DIR/bench/gen-snapshot.py
ref=$BH_SOURCE_DIR/tests/golden/netpol_ref.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
probes=("TCP 8080" "TCP 9090" "TCP 5432" "TCP 8500" "UDP 53" "UDP 8125" "SCTP 3868" "TCP 6379"
	"TCP 9100")
for seed in 1 2 3 4 5 6; do
	"$gen" --pods 60 --policies 40 --namespaces 5 --nodes 3 --seed "$seed" \
		--hostnet >"$tmp/snap.json"
	: >"$tmp/check.json"
	for p in "${probes[@]}"; do
		set -- $p
		"$BULKHEAD" check --snapshot "$tmp/snap.json" -o json --protocol "$1" --port "$2" \
			>>"$tmp/check.json" 2>"$tmp/err"
		rc=$?
		if [ "$rc" -gt 1 ]; then
			echo "FAIL: seed $seed $p: exit $rc: $(cat "$tmp/err")"
			fail=1
		fi
	done
	printf 'seed %s: ' "$seed"
	python3 "$ref" --compare "$tmp/snap.json" "$tmp/check.json" || fail=1
	# Every other policy of the snapshot as a proposal (check --proposal),
	# in preview and in enforce: the two origins of policy.
	python3 - "$tmp/snap.json" "$tmp/split.json" "$tmp/proposal.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pols = [o for o in d["items"] if o["kind"] == "NetworkPolicy"]
prop = pols[1::2]
d["items"] = [o for o in d["items"] if not any(o is p for p in prop)]
json.dump(d, open(sys.argv[2], "w"))
json.dump({"apiVersion": "v1", "kind": "List", "items": prop}, open(sys.argv[3], "w"))
PY
	for pmode in preview enforce; do
		: >"$tmp/check.json"
		for p in "${probes[@]}"; do
			set -- $p
			"$BULKHEAD" check --snapshot "$tmp/split.json" --proposal "$tmp/proposal.json" \
				--proposal-mode "$pmode" -o json --protocol "$1" --port "$2" \
				>>"$tmp/check.json" 2>"$tmp/err"
			rc=$?
			if [ "$rc" -gt 1 ]; then
				echo "FAIL: seed $seed $p proposal $pmode: exit $rc: $(cat "$tmp/err")"
				fail=1
			fi
		done
		printf 'seed %s, proposal in %s: ' "$seed" "$pmode"
		python3 "$ref" --compare "$tmp/split.json" "$tmp/check.json" "$tmp/proposal.json" \
			"$pmode" || fail=1
	done
done
exit "$fail"
