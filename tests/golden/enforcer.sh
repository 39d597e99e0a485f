#!/usr/bin/env bash
# golden.enforcer: `bulkhead apply --dry-run` over tests/golden/enforcer/*.json
# (node n1 unless the file is named after the model cases), diffed against
# the checked-in nft text (*.nft, the pfctl .ok idea) and libnftnl objects
# (*.payload, nftables tests/py).  SCTP is covered here: the test kernels
# have no SCTP module.  UPDATE_GOLDEN=1 rewrites the expected files.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR" || exit 1
dir=tests/golden/enforcer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # name, expected file, command...
	local name=$1 want=$2
	shift 2
	if ! "$@" >"$tmp/out" 2>"$tmp/err" || [ -s "$tmp/err" ]; then
		echo "FAIL: $name: $* failed: $(cat "$tmp/err")"
		fail=1
		return
	fi
	if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
		cp "$tmp/out" "$want"
	elif ! diff -u "$want" "$tmp/out"; then
		echo "FAIL: $name: output differs from $want"
		fail=1
	else
		echo "ok: $name"
	fi
}

# snapshot files | node | name
runs=(
	"$dir/constructs.json|n1|constructs"
	"$dir/constructs-changed.json|n1|constructs-changed"
	"tests/data/netpol-cases/model.json tests/data/netpol-cases/01-deny-all-ingress.json|node-1|deny-all-ingress"
	"tests/data/netpol-cases/model.json tests/data/netpol-cases/39-egress-named-port.json|node-1|egress-named-port"
	"tests/data/netpol-cases/model.json tests/data/netpol-cases/40-egress-sctp-range.json|node-1|egress-sctp-range"
)
for r in "${runs[@]}"; do
	IFS='|' read -r files node name <<<"$r"
	args=()
	for f in $files; do args+=(--snapshot "$f"); done
	for mode in enforce preview; do
		check "$name.$mode.nft" "$dir/$name.$mode.nft" \
			"$BULKHEAD" apply "${args[@]}" --node "$node" --mode "$mode" --dry-run -o nft
	done
	check "$name.enforce.payload" "$dir/$name.enforce.payload" \
		"$BULKHEAD" apply "${args[@]}" --node "$node" --mode enforce --dry-run -o payload
done

# Two origins of policy (docs/enforcer.md): the cluster's policy
# allow-b-to-a isolates x/a; the proposal (tests/data/origins/proposal.json) adds
# a-in (x/a, which the cluster's policy isolates: left out of x/a's class
# in preview, in it in enforce), c-in and c-eg (x/c, which only the
# proposal isolates: log and pass in preview, goto ingress for egress;
# drop in enforce).  The ruleset's own mode stays enforce, but for one run
# in preview (every class logs).
origins=(--snapshot tests/data/netpol-cases/model.json --snapshot tests/data/origins/cluster.json
	--proposal tests/data/origins/proposal.json --node node-1)
for pmode in preview enforce; do
	check "origins-$pmode.enforce.nft" "$dir/origins-$pmode.enforce.nft" \
		"$BULKHEAD" apply "${origins[@]}" --proposal-mode "$pmode" --mode enforce --dry-run
	check "origins-$pmode.enforce.payload" "$dir/origins-$pmode.enforce.payload" \
		"$BULKHEAD" apply "${origins[@]}" --proposal-mode "$pmode" --mode enforce \
		--dry-run -o payload
done
check "origins-preview.preview.nft" "$dir/origins-preview.preview.nft" \
	"$BULKHEAD" apply "${origins[@]}" --proposal-mode preview --mode preview --dry-run

# A bridged node without br_netfilter (--datapath bridged=MAC,PREFIX...,
# what apply detects on such a node): the same inet table (its digest
# comment aside) and `table bridge bulkhead`, whose one chain diverts
# pod-to-pod frames to IP (docs/enforcer.md, "Bridged pod networks").
bridged=(--snapshot tests/data/netpol-cases/model.json
	--snapshot tests/data/netpol-cases/01-deny-all-ingress.json --node node-1
	--datapath bridged=0a:58:0a:c8:03:fe,10.200.0.0/22,fd00:200::/62)
for mode in enforce preview; do
	check "bridged-deny-all-ingress.$mode.nft" "$dir/bridged-deny-all-ingress.$mode.nft" \
		"$BULKHEAD" apply "${bridged[@]}" --mode "$mode" --dry-run -o nft
done
check "bridged-deny-all-ingress.enforce.payload" "$dir/bridged-deny-all-ingress.enforce.payload" \
	"$BULKHEAD" apply "${bridged[@]}" --mode enforce --dry-run -o payload
# Without the bridge table the text is the routed one, but for the digest.
if diff <("$BULKHEAD" apply "${bridged[@]}" --mode enforce --dry-run | sed '/^table bridge/,$d' |
	grep -v 'comment "bulkhead:v1:') <(grep -v 'comment "bulkhead:v1:' "$dir/deny-all-ingress.enforce.nft") \
	> "$tmp/diff"; then
	echo "ok: bridged: the inet table is the routed one"
else
	echo "FAIL: bridged: the inet table differs from the routed one:"
	cat "$tmp/diff"
	fail=1
fi

# --nflog-group N puts N in every log rule, 0 included (a valid group, not
# "unset"); without it the default 16968.
for g in 0 7 ""; do
	want=${g:-16968}
	gargs=()
	[ -n "$g" ] && gargs=(--nflog-group "$g")
	"$BULKHEAD" apply --snapshot "$dir/constructs.json" --node n1 --mode preview --dry-run \
		"${gargs[@]}" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	logs=$(grep -c ' log prefix ' "$tmp/out")
	with=$(grep -Ec " log prefix \"[^\"]*\" group $want accept\$" "$tmp/out")
	if [ "$rc" = 0 ] && [ "$logs" -gt 0 ] && [ "$with" = "$logs" ]; then
		echo "ok: --nflog-group '${g}': $with log rules, all group $want"
	else
		echo "FAIL: --nflog-group '${g}': exit $rc, $with of $logs log rules in group $want: $(cat "$tmp/err")"
		fail=1
	fi
done

# Bad input: exit 2, one line naming the flag or file, nothing on stdout.
for bad in "--node n1 --mode enforce --dry-run" \
	"--snapshot $dir/constructs.json --node n1 --mode block --dry-run" \
	"--snapshot $dir/nonexistent.json --node n1 --mode enforce --dry-run" \
	"--snapshot $dir/constructs.json --mode enforce --dry-run" \
	"--snapshot $dir/constructs.json --node n9 --mode enforce --dry-run"; do
	# shellcheck disable=SC2086
	"$BULKHEAD" apply $bad >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 2 ] || [ -s "$tmp/out" ] || [ "$(wc -l <"$tmp/err")" != 1 ]; then
		echo "FAIL: apply $bad: exit $rc, stdout $(wc -c <"$tmp/out") bytes, stderr: $(cat "$tmp/err")"
		fail=1
	else
		echo "ok: apply $bad -> $(cat "$tmp/err")"
	fi
done
# An unknown --node is that error too (above), and names the node; a node
# known only by its pods (n2) or only by its Node object (n4) is not.
"$BULKHEAD" apply --snapshot "$dir/constructs.json" --node n9 --mode enforce --dry-run \
	>/dev/null 2>"$tmp/err"
grep -q "'n9'" "$tmp/err" && echo "ok: unknown --node named: $(cat "$tmp/err")" ||
	{ echo "FAIL: unknown --node not named: $(cat "$tmp/err")"; fail=1; }
cat >"$tmp/node-only.json" <<'EOF'
{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "n4"},
 "status": {"addresses": [{"type": "InternalIP", "address": "10.100.0.4"}]}}]}
EOF
for known in "n2|--snapshot $dir/constructs.json" \
	"n4|--snapshot $dir/constructs.json --snapshot $tmp/node-only.json"; do
	IFS='|' read -r node files <<<"$known"
	# shellcheck disable=SC2086
	if "$BULKHEAD" apply $files --node "$node" --mode enforce --dry-run >"$tmp/out" 2>"$tmp/err" &&
		grep -q '^table inet bulkhead' "$tmp/out" && [ ! -s "$tmp/err" ]; then
		echo "ok: --node $node (known by ${files##* })"
	else
		echo "FAIL: --node $node: $(cat "$tmp/err")"
		fail=1
	fi
done
exit $fail
