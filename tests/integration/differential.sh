#!/usr/bin/env bash
# netns.differential: random policy sets (tests/integration/gen_policies.py,
# fixed seeds) over the x/y/z model, applied by bulkhead in the node
# namespace; every pod probes every pod on TCP and UDP 80 and 81, and the
# kernel's verdict must equal `bulkhead check`'s (the userspace engine) on
# every probe.  Preview mode runs too: nothing dropped, one alert per cell
# check denies.
#
#   BH_DIFF_ROUNDS   policy sets to try (default 15)
#   BH_DIFF_SEED     first seed (default 1); round i uses seed BH_DIFF_SEED+i
#   BH_DIFF_SECONDS  time budget (default 300): stop starting rounds after it
# A failing round prints its seed; reproduce with
#   BH_DIFF_SEED=<seed> BH_DIFF_ROUNDS=1 tests/integration/differential.sh
set -euo pipefail
: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BULKHEAD:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/matrix.sh"

model="$BH_SOURCE_DIR/tests/data/netpol-cases/model.json"
gen="$BH_SOURCE_DIR/tests/integration/gen_policies.py"
rounds=${BH_DIFF_ROUNDS:-15}
seed0=${BH_DIFF_SEED:-1}
budget=${BH_DIFF_SECONDS:-300}
MATRIX_NODE=node-1

topo_init
topo_pods_from_json "$model" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

start=$(date +%s)
done_rounds=0 failed=()
for ((i = 0; i < rounds; i++)); do
	if [ $(($(date +%s) - start)) -ge "$budget" ]; then
		echo "time budget of $budget s reached after $done_rounds rounds"
		break
	fi
	seed=$((seed0 + i))
	set_file="$TOPO_DIR/set.$seed.json"
	"$TOPO_PY" "$gen" "$seed" "$model" > "$set_file"
	echo "seed $seed: $("$TOPO_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$set_file") policies"
	if ! matrix_run "seed$seed" - "$model" "$set_file"; then
		failed+=("$seed")
		echo "seed $seed FAILED; policy set:"
		cat "$set_file"
	fi
	done_rounds=$((done_rounds + 1))
done
echo "differential: $done_rounds rounds in $(($(date +%s) - start)) s, ${#failed[@]} failed${failed:+ (seeds ${failed[*]})}"
[ "$done_rounds" -gt 0 ] && [ "${#failed[@]}" = 0 ]
