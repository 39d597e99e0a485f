#!/usr/bin/env bash
# The live demo: Bulkhead's whole lifecycle on this machine, as root, with no
# Kubernetes.  scripts/demo.sh runs it after installing bulkhead; the test
# netns.demo runs it with the built binary.
#
#   examples/demo/run.sh [--bulkhead PATH] [--report FILE] [--learn SECONDS]
#
# It builds a node out of network namespaces: one namespace per pod of
# examples/demo/shop.yaml (a shop: frontend, api, database, cache; DNS in
# kube-system; a customer and an attacker in default), each wired to a
# "node" namespace by a veth as a routed CNI does, and runs the pods' code
# (examples/demo/app.py).  Then, in the node namespace, 'bulkhead agent'
# with that snapshot and its per-namespace stages (--learn-duration, the
# --learn seconds, 10 by default): it learns from the traffic, proposes
# NetworkPolicies for each namespace at the end of the window and previews
# them; one unexpected connection becomes an alert, 'bulkhead enforce'
# refuses while it is open, 'bulkhead allow' takes it into the proposal,
# 'bulkhead enforce --all' enforces, and the attacker's connection to the
# database is dropped while the shop keeps working.  The report
# ('bulkhead export') is left in --report (./report.json) for the
# dashboard.
#
# Every claim the demo prints is checked: the script exits 1 when one does
# not hold (the shop fails, the attacker gets through, no alert...).  No
# packet leaves the namespaces made here: the node's default route is a
# blackhole.  Everything started is stopped by pid, and the namespaces (and
# with them the node's table inet bulkhead) deleted on exit, Ctrl-C included.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bulkhead=bulkhead
report=$PWD/report.json
learn=10
while [ $# -gt 0 ]; do
	case $1 in
	--bulkhead) bulkhead=$2; shift 2 ;;
	--report) report=$2; shift 2 ;;
	--learn) learn=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed -e 's/^# \{0,1\}//' -e '$d'; exit 0 ;;
	*) echo "demo: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case $report in /*) ;; *) report=$PWD/$report ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it builds network namespaces and nftables tables)" >&2
	exit 77
fi
bulkhead=$(command -v "$bulkhead") || { echo "demo: no bulkhead binary" >&2; exit 2; }
for t in ip python3 nft; do
	command -v "$t" > /dev/null || { echo "demo: '$t' missing (scripts/install-deps.sh)" >&2; exit 2; }
done
# The lifecycle's verbs (a bulkhead without them cannot run the demo).
for v in enforce allow; do
	"$bulkhead" help "$v" > /dev/null 2>&1 || { echo "demo: '$bulkhead' has no '$v' verb" >&2; exit 2; }
done
"$bulkhead" proposal --help 2>&1 | grep -q -- --namespace ||
	{ echo "demo: '$bulkhead proposal' has no --namespace" >&2; exit 2; }
# The interpreter itself, not a version manager's shim in front of it: the
# demo stops the pods' servers by pid, and a shim's pid is not theirs.
py=$(python3 -c 'import sys; print(sys.executable)')

id=bhdemo$$
node=$id-node
work=$(mktemp -d "/tmp/$id.XXXXXX")
netns=()
pids=()
agent=
t0=$(date +%s)

# The demo's own stdout and stderr, for cleanup: a signal's trap can run
# while a command's redirection (to a file of $work) is still in place.
exec 3>&1 4>&2
cleanup() {
	local rc=$? p ns
	trap - EXIT INT TERM
	exec 1>&3 2>&4
	[ -n "$agent" ] && kill "$agent" 2> /dev/null
	for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
	for p in "$agent" "${pids[@]}"; do [ -n "$p" ] && wait "$p" 2> /dev/null; done
	# (a sanitizer build's agent reports at exit: that fails the demo too)
	if [ -s "$work/agent.log" ] &&
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/agent.log"; then
		echo "demo: the agent's log has a sanitizer report:" >&2
		grep -E -A 12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/agent.log" | head -n 40 >&2
		[ "$rc" = 0 ] && rc=1
	fi
	# The agent leaves its table in the kernel on SIGTERM (fail static);
	# the demo takes it out, then the namespaces.
	ip netns exec "$node" nft delete table inet bulkhead 2> /dev/null
	for ns in "${netns[@]}"; do ip netns del "$ns" 2> /dev/null; done
	if [ "$rc" = 130 ] || [ "$rc" = 143 ]; then
		echo "demo: interrupted"
	elif [ "$rc" != 0 ] && [ -s "$work/agent.log" ]; then
		echo "demo: failed (exit $rc); the agent's log:" >&2
		tail -n 20 "$work/agent.log" >&2
	fi
	rm -rf "$work"
	echo "demo: cleaned up (processes stopped, namespaces deleted)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -t 1 ]; then b=$(tput bold 2> /dev/null); n=$(tput sgr0 2> /dev/null); else b='' n=''; fi
step=0
# say TEXT: what the demo does next, in plain words.
say() {
	step=$((step + 1))
	printf '\n%s%d. %s%s\n' "$b" "$step" "$*" "$n"
}
note() { printf '   %s\n' "$*"; }
die() { echo "demo: FAILED: $*" >&2; exit 1; }
# run CMD...: prints the bulkhead command as typed, then runs it.
run() {
	echo "\$ bulkhead $*"
	"$bulkhead" "$@" --socket agent.sock
}
# status_lines FIELD...: the lines of 'bulkhead status' for FIELDs.
status_lines() {
	local re
	re=$(IFS='|'; echo "$*")
	echo "\$ bulkhead status | grep -E '^($re):'"
	"$bulkhead" status --socket agent.sock | grep -E "^($re):" || die "bulkhead status failed"
}
cd "$work" || exit 1

# --- the node and its pods ---
declare -A pod_ip pod_name
pods=(coredns frontend api database cache customer attacker)
hosts=$work/hosts
: > "$hosts"
while read -r ns name ip; do
	short=${name%%-*}
	pod_name[$short]=$ns/$name
	pod_ip[$short]=$ip
	[ "$ns" = default ] || echo "${short/coredns/dns}.$ns $ip" >> "$hosts"
done < <("$py" - "$here/shop.yaml" <<'PY'
import re, sys
# The pods of shop.yaml: namespace, name, address (the file's own layout).
text = open(sys.argv[1]).read()
for item in text.split("\n- ")[1:]:
    if "kind: Pod" in item:
        g = lambda k: re.search(r"\n\s+" + k + r": (\S+)", item).group(1)
        print(g("namespace"), g("name"), g("podIP"))
PY
)
[ "${#pod_ip[@]}" = 7 ] || die "examples/demo/shop.yaml: expected 7 pods, read ${#pod_ip[@]}"

mkns() {
	ip netns add "$1" || die "cannot create network namespace '$1'"
	netns+=("$1")
	ip -n "$1" link set lo up
}

say "Building a small Kubernetes node on this machine, without Kubernetes."
note "Each pod is a network namespace with its own address, wired to a 'node'"
note "namespace by a virtual cable (veth), as a CNI plugin wires real pods:"
mkns "$node"
ip netns exec "$node" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' || die "ip_forward"
ip -n "$node" addr add 169.254.1.1/32 dev lo
ip -n "$node" route add blackhole default
for p in "${pods[@]}"; do
	ns=$id-$p
	mkns "$ns"
	ip -n "$node" link add "bh-$p" type veth peer name eth0 netns "$ns" || die "veth for $p"
	ip -n "$node" link set "bh-$p" up
	ip netns exec "$node" sh -c "echo 1 > /proc/sys/net/ipv4/conf/bh-$p/proxy_arp"
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "${pod_ip[$p]}/32" dev eth0
	ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$ns" route add default via 169.254.1.1 dev eth0
	ip -n "$node" route add "${pod_ip[$p]}/32" dev "bh-$p"
	printf '     %-38s %-12s (interface bh-%s)\n' "${pod_name[$p]}" "${pod_ip[$p]}" "$p"
done

# The pods' code.
app() { # POD ARGS...: runs app.py in POD's namespace
	local p=$1
	shift
	ip netns exec "$id-$p" "$py" "$here/app.py" "$@"
}
dns=${pod_ip[coredns]}
for p in coredns database cache api frontend; do
	role=${p/coredns/dns}
	# (not through app(): a backgrounded function is a subshell, whose pid is
	# not the server's)
	ip netns exec "$id-$p" "$py" "$here/app.py" serve "$role" --hosts "$hosts" --dns "$dns" \
		> "$work/$p.log" 2>&1 3>&- 4>&- &
	pids+=($!)
done
# shop PATH: one customer request, quiet; its answer in $work/answer.
shop() { app customer shop "$1" --hosts "$hosts" --dns "$dns" > "$work/answer" 2>&1; }
# shop_show PATH: the same, shown.
shop_show() {
	echo "[customer]\$ shop GET $1"
	shop "$1"
	local rc=$?
	sed 's/^/  /' "$work/answer"
	return "$rc"
}
for _ in $(seq 50); do shop / && break; sleep 0.1; done
grep -q '^ok' "$work/answer" || die "the shop does not answer: $(cat "$work/answer")"

say "The shop runs: a customer's request goes frontend -> api -> database and cache."
note "Every pod finds the others through DNS (kube-system/coredns, UDP 53)."
shop_show / || die "the shop failed"
note "Nothing stops anyone yet: the attacker pod reaches the database too."
echo "[attacker]\$ connect ${pod_ip[database]} 5432"
app attacker connect "${pod_ip[database]}" 5432 | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] || die "the attacker could not reach the database before any policy"

# --- the agent ---
# Flows reach the state database at each checkpoint: every second here.
printf 'checkpointInterval: 1s\n' > config.yaml
say "Starting the Bulkhead agent on the node, with a snapshot of the cluster."
note "It reads the pods from examples/demo/shop.yaml (there are no NetworkPolicies),"
note "watches the pods' interfaces (bh-*), learns each namespace for $learn seconds"
note "(--learn-duration; a day by default) and answers on a control socket"
note "(the commands below are run with --socket $work/agent.sock, left out here):"
args=(--node node-1 --snapshot examples/demo/shop.yaml --learn-duration "${learn}s"
	--interface 'bh-*' --config config.yaml --state-dir "$work/state" --socket "$work/agent.sock"
	--listen 127.0.0.1:9464)
echo "\$ bulkhead agent ${args[*]}" | sed "s/ bh-\*/ 'bh-*'/"
args[3]=$here/shop.yaml
ip netns exec "$node" "$bulkhead" agent "${args[@]}" > agent.log 2>&1 3>&- 4>&- &
agent=$!
for _ in $(seq 300); do
	"$bulkhead" status --socket agent.sock 2> /dev/null | grep -q '^health: *ready' && break
	kill -0 "$agent" 2> /dev/null || die "the agent stopped: $(tail -n 3 agent.log)"
	sleep 0.1
done
"$bulkhead" status --socket agent.sock 2> /dev/null | grep -q '^health: *ready' ||
	die "the agent is not ready after 30 s"
run status || die "bulkhead status failed"

# stage NS: namespace NS's stage on the agent (learn, proposed, preview,
# enforce), empty when it does not answer.
stage() {
	"$bulkhead" status -o json --socket agent.sock 2> /dev/null | "$py" -c '
import json, sys
print(*[s["stage"] for s in json.load(sys.stdin)["stages"] if s["namespace"] == sys.argv[1]])' "$1" 2> /dev/null
}
say "Learning for $learn seconds what talks to what, while customers shop."
note "The agent's learning window started with it; until it ends nothing is"
note "blocked or reported, every connection is only recorded."
count=0
t_learn=$(date +%s)
while [ "$(stage shop)" = learn ]; do
	[ $(($(date +%s) - t_learn)) -lt $((learn + 30)) ] || die "namespace shop still learning after $((learn + 30)) s"
	shop / || die "the shop failed while learning: $(cat "$work/answer")"
	count=$((count + 1))
	sleep 0.3
done
note "$count requests served; every connection's first packet was seen by the agent."
status_lines flows

say "Proposing: at the end of the window the agent proposed NetworkPolicies."
note "For each namespace, one ingress and one egress policy per workload, allowing"
note "exactly what it did (shown: the shop's database ingress policy in full, the"
note "others by name):"
for ((i = 0; i < 100; i++)); do
	[ "$(stage shop)" = preview ] && break
	sleep 0.2
done
[ "$i" -lt 100 ] || die "namespace shop is in '$(stage shop)', not preview, 20 s after learning"
run proposal --namespace shop > proposal.out 2>&1 || die "no proposal: $(tail -n 1 proposal.out)"
# The database's ingress policy, the one that matters for the attacker, in
# full; the others named.
"$py" - proposal.out <<'PY' || die "the proposal does not read"
import sys
docs = open(sys.argv[1]).read().split("\n- ")
print(docs[0].rstrip())
names = []
for d in docs[1:]:
    name = next(l.split(": ", 1)[1] for l in d.splitlines() if l.strip().startswith("name: "))
    if "database-ingress" in name:
        print("- " + d.rstrip())
    else:
        names.append(name)
print(f"  # ... and {len(names)} more: {', '.join(names)}")
PY
grep -q 'bulkhead-database-ingress' proposal.out || die "no policy for the database in the proposal"

say "Previewing the proposal: what it would block is let through, and reported."
note "Every namespace went on to preview with its proposal, compiled into the kernel:"
status_lines namespaces alerts
shop_show / || die "the shop failed in preview"

# alerts_json: the agent's alerts, JSON.
alerts_json() { "$bulkhead" alerts --state all -o json --socket agent.sock; }
say "Something new happens: the shop's new cart page reads the cache from the frontend."
note "Nobody did that while Bulkhead was learning, so the proposal does not allow it."
note "In preview it still works, and it becomes an alert:"
shop_show /cart || die "the cart page failed in preview"
for _ in $(seq 100); do
	"$bulkhead" alerts --state open -o json --socket agent.sock 2> /dev/null | grep -q '"id"' && break
	sleep 0.1
done
run alerts || die "bulkhead alerts failed"
alert=$("$bulkhead" alerts --state open -o json --socket agent.sock | "$py" -c '
import json, sys
a = [x for x in json.load(sys.stdin) if x["dst"].get("workload") == "shop/StatefulSet/cache" and x["port"] == 6379]
print(a[0]["id"] if a else "")')
[ -n "$alert" ] || die "no alert for the frontend's connection to the cache"

say "Enforcing now is refused: an alert is open, and nobody has looked at it yet."
run enforce --all > enforce.out 2>&1
rc=$?
cat enforce.out
[ "$rc" = 2 ] && grep -q "$alert" enforce.out || die "enforce with an open alert: exit $rc, expected 2 naming $alert"
[ "$(stage shop)" = preview ] || die "namespace shop left preview though enforce was refused"
note "Each open alert is allowed (the flow is wanted) or dismissed (it stays denied) first."

say "The cart page is wanted: allowing it amends the proposal."
run allow "$alert" || die "bulkhead allow failed"
"$bulkhead" proposal --namespace shop -o json --socket agent.sock > amended.json ||
	die "no proposal after allow"
"$py" - amended.json <<'PY' || die "the proposal does not let the frontend reach the cache after allow"
import json, sys
pols = {p["metadata"]["name"]: p["spec"] for p in json.load(open(sys.argv[1]))["items"]}
def has(name, key, side, app):
    return any(p.get("podSelector", {}).get("matchLabels", {}).get("app") == app and
               {"protocol": "TCP", "port": 6379} in r.get("ports", [])
               for r in pols[name].get(key, []) for p in r.get(side, []))
assert has("bulkhead-frontend-egress", "egress", "to", "cache")
assert has("bulkhead-cache-ingress", "ingress", "from", "frontend")
PY
note "The frontend's egress policy and the cache's ingress policy each got the rule."
note "The cart page still works in preview, and raises no new alert:"
count_before=$(alerts_json | "$py" -c 'import json, sys; print(sum(a["count"] for a in json.load(sys.stdin)))')
shop_show /cart || die "the cart page failed after allow"
sleep 1.5 # the preview log reaches the agent's alerts at once; give it time
run alerts --state all || die "bulkhead alerts failed"
alerts_json | "$py" -c '
import json, sys
a = json.load(sys.stdin)
assert len(a) == 1 and a[0]["id"] == sys.argv[1] and a[0]["state"] == "allowed", a
assert sum(x["count"] for x in a) == int(sys.argv[2]), a' "$alert" "$count_before" ||
	die "the cart page raised an alert again after allow"

say "Enforcing: from now on what the proposals do not allow is dropped."
run enforce --all || die "bulkhead enforce failed"
[ "$(stage shop)" = enforce ] || die "namespace shop is in '$(stage shop)' after enforce"
status_lines namespaces alerts

say "The shop keeps working, the new cart page included:"
shop_show / || die "the shop failed after enforce"
shop_show /cart || die "the cart page failed after enforce"

say "The attacker tries the database again. Its connection is dropped:"
note "(dropped, not rejected: the attacker learns nothing, it just waits)"
echo "[attacker]\$ connect ${pod_ip[database]} 5432"
app attacker connect "${pod_ip[database]}" 5432 --timeout 2 > attacker.out
sed 's/^/  /' attacker.out
grep -q 'dropped' attacker.out || die "the attacker's connection was not dropped"

say "Writing the report, the dashboard's input."
run export -o report.json || die "bulkhead export failed"
mkdir -p "$(dirname "$report")" && cp report.json "$report" || die "cannot write '$report'"
echo
echo "Done in $(($(date +%s) - t0)) s. The report is $report."
echo "To see it: open agent/dashboard/index.html in a browser and choose it with"
echo "\"Open report...\" (on a node, the agent serves the dashboard at / on its"
echo "--listen port, 9464)."
