#!/usr/bin/env bash
# integration.cli_flags: the command line as a user meets it.  No root.
#   - 'bulkhead help', --help, -h, 'help COMMAND', 'COMMAND --help' and
#     'COMMAND -h': stdout, exit 0, every flag of the command and the exit
#     codes; 'help bogus' and a missing command: exit 2, one line;
#   - -o and --output are one flag: the format in check, apply and propose,
#     the file in learn; propose writes a file with --out-file only, and
#     'propose --output FILE' (its old meaning) is refused naming --out-file,
#     never writing a file named after a format or the value;
#   - --protocol in any case; learn --duration with units, and one line
#     naming --duration for a bad one, the output file untouched.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
cd "$BH_SOURCE_DIR" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# run ARGS...: runs bulkhead from an empty directory (a file it should not
# write would show there); sets rc, leaves $tmp/out and $tmp/err.
mkdir "$tmp/cwd"
run() {
	(cd "$tmp/cwd" && "$BULKHEAD" "$@") > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
# expect_err RC NEEDLE ARGS...: exit RC, one line on stderr holding NEEDLE,
# nothing on stdout, nothing written in the working directory.
expect_err() {
	local want=$1 needle=$2
	shift 2
	run "$@"
	if [ "$rc" != "$want" ] || [ "$(wc -l < "$tmp/err")" != 1 ] ||
		! grep -qF -- "$needle" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "bulkhead $*: exit $rc (want $want), stderr:"; cat "$tmp/err"
	fi
	if [ -n "$(ls -A "$tmp/cwd")" ]; then
		bad "bulkhead $*: wrote $(ls -A "$tmp/cwd")"; rm -rf "${tmp:?}/cwd/"*
	fi
}

snap=$BH_SOURCE_DIR/tests/data/netpol-cases/model.json
pd=tests/data/propose
pok=(--flows "$BH_SOURCE_DIR/$pd/flows-node-1.json" --snapshot "$BH_SOURCE_DIR/$pd/snapshot.json")

# --- help ---
declare -A flags=(
	[check]="snapshot kubeconfig context skip-unknown namespace from to port protocol family output explain proposal proposal-mode help"
	[apply]="snapshot kubeconfig context skip-unknown node mode nflog-group dry-run output incremental-from datapath proposal proposal-mode help"
	[reset]="help"
	[learn]="pcap interface conntrack snapshot kubeconfig context skip-unknown duration max-flows node conntrack-rcvbuf output help"
	[propose]="flows snapshot kubeconfig context skip-unknown namespace output out-file ingress-only egress-only aggregate-ips aggregate-prefix4 aggregate-prefix6 allow-uncovered help"
	[status]="socket output help"
	[enforce]="namespace all workload force socket kubeconfig context cluster timeout help"
	[preview]="namespace all workload socket kubeconfig context cluster timeout help"
	[relearn]="namespace socket kubeconfig context cluster timeout help"
	[alerts]="state output socket kubeconfig context cluster help"
	[allow]="socket kubeconfig context cluster help"
	[dismiss]="socket help"
	[proposal]="compute namespace output socket kubeconfig context cluster help"
	[export]="output socket kubeconfig context cluster help"
	[agent]="node kubeconfig context snapshot state-dir socket listen interface conntrack nflog-group config learn-duration preview-window no-enforce policy-mode cluster namespace cluster-interval help"
)
for top in help --help -h; do
	run "$top"
	[ "$rc" = 0 ] && [ ! -s "$tmp/err" ] || bad "bulkhead $top: exit $rc"
	for cmd in "${!flags[@]}"; do
		grep -qE "^  $cmd " "$tmp/out" || bad "bulkhead $top does not list '$cmd'"
	done
done
for cmd in "${!flags[@]}"; do
	run help "$cmd"
	cp "$tmp/out" "$tmp/help.$cmd"
	[ "$rc" = 0 ] && [ ! -s "$tmp/err" ] || bad "bulkhead help $cmd: exit $rc"
	for form in --help -h "--bogus --help" "stray -h"; do
		# shellcheck disable=SC2086
		run "$cmd" $form
		[ "$rc" = 0 ] && [ ! -s "$tmp/err" ] || { bad "bulkhead $cmd $form: exit $rc"; cat "$tmp/err"; }
		cmp -s "$tmp/out" "$tmp/help.$cmd" || bad "bulkhead $cmd $form differs from 'bulkhead help $cmd'"
	done
	for f in ${flags[$cmd]}; do
		grep -qE -- "^ +(-[a-z], )?--$f( |$)" "$tmp/help.$cmd" ||
			bad "bulkhead $cmd --help: no line for --$f"
	done
	grep -q "^exit status: 0 .*2 bad usage.*3 system error" "$tmp/help.$cmd" ||
		bad "bulkhead $cmd --help: no exit status"
	# One line per flag: as many flag lines as flags.
	n=$(grep -cE '^ +(-[a-z], )?--[a-z]' "$tmp/help.$cmd")
	[ "$n" = "$(wc -w <<< "${flags[$cmd]}")" ] || bad "bulkhead $cmd --help: $n flag lines"
done
grep -q "^  -o, --output json|yaml " "$tmp/help.propose" || bad "propose --help: -o, --output"
grep -q "^  -o, --output FLOWS.json " "$tmp/help.learn" || bad "learn --help: -o, --output"
grep -q "^  -o, --output text|json " "$tmp/help.status" || bad "status --help: -o, --output"
expect_err 2 "unknown command 'bogus'" help bogus
expect_err 2 "unknown command 'bogus'" bogus
expect_err 2 "expected a command"
expect_err 2 "check: '--from' needs a value" check --snapshot "$snap" --from
expect_err 2 "check: --from: expected NS/POD" check --snapshot "$snap" --from --help
expect_err 2 "reset: unexpected argument 'now'" reset now
# The target of the verbs that act on the local agent or on the cluster
# (docs/cluster.md): one of them; --timeout and --workload only where they
# mean something; --timeout a duration.
expect_err 2 "enforce: --socket and --kubeconfig" enforce --all --socket /nonexistent --kubeconfig /nonexistent
expect_err 2 "alerts: --socket and --cluster" alerts --socket /nonexistent --cluster
expect_err 2 "preview: --timeout: only on a cluster" preview --all --socket /nonexistent --timeout 5s
expect_err 2 "enforce: --timeout" enforce --all --cluster --timeout 5x
expect_err 2 "enforce: --workload: only on the local agent" enforce --kubeconfig /nonexistent --workload a/Deployment/b
expect_err 2 "proposal: --compute: only on the local agent" proposal --kubeconfig /nonexistent --compute
expect_err 2 "relearn: " relearn --namespace a --kubeconfig /nonexistent

# --- -o and --output ---
# check: the format either way.
run check --snapshot "$snap" --port 80 --from x/a -o json
cp "$tmp/out" "$tmp/check-o"
run check --snapshot "$snap" --port 80 --from x/a --output json
cmp -s "$tmp/out" "$tmp/check-o" && grep -q '"matrix"' "$tmp/out" || bad "check --output json != -o json"
expect_err 2 "-o: expected text or json, got 'yaml'" check --snapshot "$snap" --output yaml
# apply: the --dry-run format either way.
run apply --snapshot "$snap" --node node-1 --mode enforce --dry-run -o payload
cp "$tmp/out" "$tmp/apply-o"
run apply --snapshot "$snap" --node node-1 --mode enforce --dry-run --output payload
[ "$rc" = 0 ] && [ -s "$tmp/out" ] && cmp -s "$tmp/out" "$tmp/apply-o" ||
	bad "apply --dry-run --output payload != -o payload (exit $rc)"
expect_err 2 "-o: expected nft or payload, got 'x.nft'" apply --snapshot "$snap" --node node-1 \
	--mode enforce --dry-run --output x.nft
# propose: the format either way; the file is --out-file.
run propose "${pok[@]}" -o json
cp "$tmp/out" "$tmp/p.json"
run propose "${pok[@]}" --output json
[ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/p.json" || bad "propose --output json != -o json (exit $rc)"
[ -z "$(ls -A "$tmp/cwd")" ] || bad "propose --output json wrote $(ls -A "$tmp/cwd")"
head -c 1 "$tmp/out" | grep -q '{' || bad "propose --output json: not JSON"
run propose "${pok[@]}" --output=yaml
grep -q '^apiVersion: v1' "$tmp/out" || bad "propose --output=yaml: not YAML"
run propose "${pok[@]}" --output json --out-file p.json
[ "$rc" = 0 ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/cwd/p.json" "$tmp/p.json" ||
	bad "propose --out-file p.json (exit $rc)"
rm -f "$tmp/cwd/p.json"
expect_err 2 "propose: --output is the format now ('json' or 'yaml'); write to a file with --out-file proposed.json" \
	propose "${pok[@]}" --output proposed.json
expect_err 2 "--out-file proposed.yaml" propose "${pok[@]}" -o json --output=proposed.yaml
expect_err 2 "-o: expected 'json' or 'yaml', got 'xml'" propose "${pok[@]}" -o xml
expect_err 2 "--output given twice" propose "${pok[@]}" -o json --output yaml
# learn: the file either way (one format).
good="${BH_SHARED_DIR:-$BH_SOURCE_DIR/../shared}/captures/tcpdump-tests/dns_tcp.pcap"
if [ -f "$good" ]; then
	run learn --pcap "$good" --output flows-a.json
	run learn --pcap "$good" -o flows-b.json
	[ "$rc" = 0 ] && diff <(grep -v '"generated"' "$tmp/cwd/flows-a.json") \
		<(grep -v '"generated"' "$tmp/cwd/flows-b.json") > /dev/null ||
		bad "learn --output FILE != -o FILE"
	rm -f "$tmp/cwd/"flows-*.json
else
	echo "cli_flags: '$good' missing, learn -o/--output not run"
	good=$BH_SOURCE_DIR/README.md # a path for the usage errors below
fi

# --- protocol, any case ---
run check --snapshot "$snap" --from x/a --to x/b --port 80 --protocol TCP
cp "$tmp/out" "$tmp/tcp"
want=$rc
for p in tcp Tcp tCP; do
	run check --snapshot "$snap" --from x/a --to x/b --port 80 --protocol "$p"
	[ "$rc" = "$want" ] && cmp -s "$tmp/out" "$tmp/tcp" || bad "check --protocol $p != TCP"
done
run check --snapshot "$snap" --from x/a --to x/b --port 80 --protocol sctp
grep -q "^SCTP/80 " "$tmp/out" || bad "check --protocol sctp: $(cat "$tmp/out" "$tmp/err")"
run check --snapshot "$snap" --from x/a --to x/b --protocol udp -o json
[ "$(grep -c '"protocol": "UDP"' "$tmp/out")" = 2 ] || bad "check --protocol udp"
expect_err 2 "--protocol: expected TCP, UDP or SCTP, got 'icmp'" check --snapshot "$snap" --protocol icmp

# --- durations ---
echo "previous content" > "$tmp/flows.json"
for d in 10x -5s 1.5h 1h30 0 0s 367d 99999999999999999999 "" " 5"; do
	expect_err 2 "learn: --duration: expected seconds or a duration like 90s, 10m, 24h or 1h30m (1s..366d), got '$d'" \
		learn --conntrack --duration "$d" -o "$tmp/flows.json"
done
# Accepted durations get past the parser to the next check (a capture
# file is not a live source), without a live capture that needs root.
for d in 90 90s 10m 24h 1h30m 366d; do
	expect_err 2 "--duration applies to --interface and --conntrack" \
		learn --pcap "$good" --duration "$d" -o "$tmp/flows.json"
done
[ "$(cat "$tmp/flows.json")" = "previous content" ] || bad "a refused learn touched the output file"

[ "$fail" = 0 ] && echo "cli_flags: ok"
exit "$fail"
