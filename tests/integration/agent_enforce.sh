#!/usr/bin/env bash
# netns.agent_enforce: 'bulkhead agent' enforcing in a node namespace made
# here (tests/integration/lib/topology.sh, the pods of
# tests/data/learn/snapshot.json), following the test API server
# (tests/apiserver, TLS and a bearer token, inside the node namespace).
# BH_AGENT_SOURCE=snapshot (netns.agent_enforce_snapshot) runs the same on a
# --snapshot file the test edits, with no API server.  After every step the
# kernel's verdicts (every pod probes every pod, TCP and UDP 80 and 81) must
# agree with `bulkhead check` on the same cluster state:
#   1. a table applied before the agent (`bulkhead apply` of the same
#      cluster) is adopted: nothing sent, the same digest; with the API,
#      the agent started before the API server keeps the table untouched
#      (not ready) until the cluster is listed;
#   2. a NetworkPolicy changed, a pod relabelled, the policy deleted, another
#      created: each reaches the kernel;
#   3. the API server stopped for a minute (BH_API_OUTAGE seconds): the
#      table unchanged, verdicts unchanged, flows still learned from the
#      pods' interfaces; a policy deleted while it is away is caught up
#      after it is back (with
#      --snapshot: a broken file keeps the table, the fixed file catches
#      up);
#   4. kill -9 and restart: the table stays while the agent is down; after
#      incremental batches it is replaced in one batch, the same verdicts;
#      killed and restarted again it is adopted (the same digest, nothing
#      sent);
#   5. a change while the agent is down and every batch refused by the
#      kernel (BULKHEAD_FAULT_INJECT=commit): not ready, the error in
#      /readyz, the table as it was; restarted without the fault: in step;
#   6. /metrics (the ruleset families, promtool); SIGTERM: exit 0 and the
#      table stays.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/matrix.sh"
source=${BH_AGENT_SOURCE:-kube}
name=agent_enforce${BH_AGENT_SOURCE:+_$BH_AGENT_SOURCE}

topo_init
command -v curl > /dev/null || { echo "$name: curl missing" >&2; exit 1; }
command -v nft > /dev/null || { echo "$name: nft missing, skipping" >&2; exit 77; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

out=$TOPO_DIR
cluster=$out/cluster.json # the cluster as the test made it (check reads it)
state=$out/state
sock=$out/agent.sock

# --- the cluster: cluster.json, and the API server or the agent's file ---
cat > "$out/edit.py" <<'PY'
import json, os, sys
path, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
d = json.load(open(path))
items = d["items"]
ctl = []
RES = {"Pod": ("pods", ""), "NetworkPolicy": ("networkpolicies", "networking.k8s.io")}
def key(o):
    return (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
if op == "put":
    o = json.loads(args[0])
    items[:] = [i for i in items if key(i) != key(o)] + [o]
    ctl.append({"op": "put", "object": o})
elif op == "delete":  # KIND NS NAME
    k = tuple(args[:3])
    assert any(key(i) == k for i in items), k
    items[:] = [i for i in items if key(i) != k]
    ctl.append({"op": "delete", "resource": RES[k[0]][0], "group": RES[k[0]][1],
                "namespace": k[1], "name": k[2]})
elif op == "label":  # NS POD KEY VALUE
    for i in items:
        if key(i) == ("Pod", args[0], args[1]):
            i["metadata"].setdefault("labels", {})[args[2]] = args[3]
            ctl.append({"op": "put", "object": i})
    assert ctl, args
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(d, f, indent=1)
os.rename(tmp, path)
for c in ctl:
    print(json.dumps(c))
PY
python3 - "$snap" "$cluster" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "guard", "namespace": "x"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
agent_file=$out/agent/cluster.json # --snapshot: the agent's file
mkdir -p "$out/agent"
cp "$cluster" "$agent_file"

api= apiport=
control() { node_curl -k -X POST --data-binary @- "https://127.0.0.1:$apiport/_control" > /dev/null; }
# change OP ARGS...: cluster.json edited, then the agent's source.
change() {
	python3 "$out/edit.py" "$cluster" "$@" > "$out/ctl" || { bad "edit $*"; return 1; }
	if [ "$source" = kube ]; then
		while read -r line; do echo "$line" | control || bad "control: $line"; done < "$out/ctl"
	else
		cp "$cluster" "$agent_file.tmp" && mv "$agent_file.tmp" "$agent_file"
	fi
}
src_args=()
if [ "$source" = kube ]; then
	"$BH_SOURCE_DIR/tests/apiserver/mkcerts.sh" "$out/certs" > /dev/null
	mkdir "$out/api"
	cp "$cluster" "$out/api/objects.json"
	apiport=$(ip netns exec "$TOPO_NODE" python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$BH_SOURCE_DIR/tests/apiserver/kubeconfig.sh" "$out/kubeconfig" "$apiport"
	src_args=(--kubeconfig "$out/kubeconfig")
else
	src_args=(--snapshot "$agent_file")
fi
start_api() {
	rm -f "$out/port"
	topo_bg ip netns exec "$TOPO_NODE" /usr/bin/python3 "$BH_SOURCE_DIR/tests/apiserver/apiserver.py" \
		--dir "$out/api" --cert "$out/certs/server.crt" --key "$out/certs/server.key" \
		--token-file "$out/certs/token" --port-file "$out/port" --port "$apiport" \
		2>> "$out/api.log"
	api=$TOPO_LAST_PID
	for _ in $(seq 100); do [ -s "$out/port" ] && return 0; sleep 0.1; done
	bad "the API server did not start"; cat "$out/api.log"; exit 1
}
stop_api() { topo_kill "$api"; api=; }

# --- the agent ---
agent=
start_agent() { # LOG [VAR=VALUE]...
	local log=$1
	shift
	topo_bg ip netns exec "$TOPO_NODE" env "$@" "$BULKHEAD" agent --node node-1 "${src_args[@]}" \
		--interface 'bhv*' --state-dir "$state" --socket "$sock" --listen 127.0.0.1:9464 \
		> "$out/$log" 2>&1
	agent=$TOPO_LAST_PID
	for _ in $(seq 50); do [ -S "$sock" ] && return 0; sleep 0.1; done
	bad "agent did not serve in 5 s"; cat "$out/$log"; return 1
}
kill9() { kill -9 "$agent"; wait "$agent" 2> /dev/null; agent=; }
events() { agent_field "['enforcement']['events']"; }
# wait_events N: the sync object took more than N events within 60 s (a
# relist after an outage waits out the watch backoff).
wait_events() {
	local n
	for _ in $(seq 600); do
		n=$(events 2> /dev/null)
		[ -n "$n" ] && [ "$n" -gt "$1" ] && return 0
		sleep 0.1
	done
	bad "no enforcement event past $1 (events: $(events))"; return 1
}
# wait_settled: nothing left for the agent to send (no build, retry or
# verdict-map refill waiting: the refill runs 2 s after the last change),
# so the table read next is the one a kill would leave.
wait_settled() {
	for _ in $(seq 100); do [ "$(agent_field "['enforcement']['settled']")" = True ] && return 0; sleep 0.1; done
	bad "the agent did not settle in 10 s: $(agent_field "['enforcement']")"; return 1
}
# The table, its counters left out (they move with the probes).
table() {
	topo_node_exec nft list table inet bulkhead 2> /dev/null |
		sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'
}
digest() { table | sed -n 's/.*comment "\(bulkhead:[^"]*\)".*/\1/p'; }

# verify LABEL some|none: every probe against `bulkhead check` on
# cluster.json; some|none: whether check denies some cell (so the kernel,
# agreeing with it, drops some).
round=0
verify() {
	local d="$out/r$round" rc=0
	round=$((round + 1))
	mkdir -p "$d"
	"$BULKHEAD" check --snapshot "$cluster" --family ipv4 -o json > "$d/check.4" \
		2> "$d/check.err" || rc=$?
	if [ "$rc" -gt 1 ] || [ ! -s "$d/check.4" ]; then
		bad "$1: check failed ($rc): $(cat "$d/check.err")"
		return 1
	fi
	sed 's/^{/{"family": "IPv4", /' "$d/check.4" > "$d/check.jsonl"
	matrix_settle
	topo_node_exec conntrack -F > /dev/null 2>&1 || true
	topo_neigh_flush
	topo_probe_all "$d/probes.jsonl"
	matrix_reprobe - "$d/probes.jsonl" "$d/check.jsonl"
	if "$TOPO_PY" "$MATRIX_LIB/netpol_cases.py" enforce - "$TOPO_DIR/pods" "$d/probes.jsonl" \
		"$d/check.jsonl" > "$d/cmp" 2>&1; then
		echo "  $1: the kernel agrees with check ($(tail -1 "$d/cmp" | sed 's/^ *//'))"
	else
		bad "$1: the kernel disagrees with check:"
		cat "$d/cmp"
	fi
	case $2 in
	some) grep -q false "$d/check.4" || bad "$1: check denies nothing" ;;
	none) grep -q false "$d/check.4" && bad "$1: check denies something" ;;
	esac
}

# --- 1. taking the table ---
echo "1. the table applied before the agent is adopted"
topo_node_exec "$BULKHEAD" apply --snapshot "$cluster" --node node-1 --mode enforce > "$out/apply.out" ||
	{ bad "bulkhead apply: $(cat "$out/apply.out")"; exit 1; }
before=$(table)
d0=$(digest)
[ -n "$d0" ] || bad "no digest comment on the applied table"
verify "applied by bulkhead apply" some
if [ "$source" = kube ]; then
	start_agent agent1.log
	sleep 2
	[ "$(agent_readyz)" = 200 ] && bad "ready without the API server"
	[ "$(agent_field "['enforcement']['table']")" = waiting ] ||
		bad "table before the cluster is listed: $(agent_field "['enforcement']")"
	[ "$(table)" = "$before" ] || bad "the table changed before the cluster was listed"
	start_api
else
	start_agent agent1.log
fi
agent_wait_ready 300 || { cat "$out/agent1.log"; exit 1; }
[ "$(agent_field "['enforcement']['table']")" = adopted ] ||
	bad "not adopted: $(agent_field "['enforcement']")"
[ "$(agent_field "['enforcement']['batches']")" = 0 ] || bad "batches sent on adoption"
[ "$(agent_field "['enforcement']['digest']")" = "$d0" ] || bad "digest $(agent_field "['enforcement']['digest']"), want $d0"
[ "$(table)" = "$before" ] || bad "the adopted table changed"

# --- 2. changes ---
echo "2. a policy changed, a pod relabelled, the policy deleted, another created"
n=$(events)
change put '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
 "metadata": {"name": "guard", "namespace": "x"},
 "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
   {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}],
   "ports": [{"protocol": "TCP", "port": 80}]}]}}'
wait_events "$n" && verify "policy changed" some
n=$(events)
change label y late-0 app api
wait_events "$n" && verify "pod relabelled" some
n=$(events)
change delete NetworkPolicy x guard
wait_events "$n" && verify "policy deleted" none
n=$(events)
change put '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
 "metadata": {"name": "fence", "namespace": "y"},
 "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
   "ingress": [{"from": [{"podSelector": {}}]}]}}'
wait_events "$n" && verify "policy created" some

# --- 3. the source away ---
n=$(events)
wait_settled
before=$(table)
if [ "$source" = kube ]; then
	echo "3. the API server stopped for a minute; a policy deleted while it is away"
	stop_api
	t_stop=$(date +%s)
	for _ in $(seq 100); do [ "$(agent_field "['api']")" = unreachable ] && break; sleep 0.1; done
	[ "$(agent_field "['api']")" = unreachable ] || bad "api: $(agent_field "['api']")"
	[ "$(table)" = "$before" ] || bad "the table changed with the API server away"
	verify "the API server away" some
	# BH_API_OUTAGE seconds (a minute) away: a new port probed every 5 s
	# is a new flow each (denied: an opener nothing answers), learned from
	# the pods' interfaces meanwhile.
	f0=$(agent_field "['counts']['flows']")
	api_ip=$(awk '$1 == "y/api-7c8d9f-xyz12" { print $2 }' "$out/pods")
	port=7000
	while [ $(($(date +%s) - t_stop)) -lt "${BH_API_OUTAGE:-60}" ]; do
		echo "y/api $api_ip $port TCP" |
			topo_pod_exec x/web-5f6d8c9b7-abcde "$(topo_tool probe)" --timeout-ms 300 > /dev/null
		port=$((port + 1))
		sleep 5
	done
	# (an unanswered opener is learned LEARN_PENDING_TIMEOUT, 5 s, after it)
	for _ in $(seq 150); do
		f1=$(agent_field "['counts']['flows']")
		[ "$f1" -ge $((f0 + port - 7000)) ] && break
		sleep 0.1
	done
	echo "  $(($(date +%s) - t_stop)) s without the API server: flows $f0 -> $f1"
	[ "$f1" -ge $((f0 + port - 7000)) ] ||
		bad "learning stopped without the API server: flows $f0 -> $f1, $((port - 7000)) new ports probed; learned: $(node_curl --unix-socket "$sock" http://agent/report | python3 -c 'import json, sys; print(sorted(f["port"] for f in json.load(sys.stdin)["flows"] if f["port"] >= 7000))')"
	[ "$(agent_field "['api']")" = unreachable ] || bad "api after the outage: $(agent_field "['api']")"
	[ "$(table)" = "$before" ] || bad "the table changed in the outage"
	verify "a minute without the API server" some
	python3 "$out/edit.py" "$cluster" delete NetworkPolicy y fence > /dev/null
	python3 - "$out/api/.state.json" <<'PY' || bad "cannot edit the API server's state"
import json, sys
p = sys.argv[1]
d = json.load(open(p))
assert "fence" in json.dumps(d)
def drop(o):
    if isinstance(o, dict):
        return {k: drop(v) for k, v in o.items()
                if not (isinstance(v, dict) and v.get("metadata", {}).get("name") == "fence")}
    if isinstance(o, list):
        return [drop(v) for v in o
                if not (isinstance(v, dict) and v.get("metadata", {}).get("name") == "fence")]
    return o
d = drop(d)
assert "fence" not in json.dumps(d)
d["rv"] += 1  # a deletion is a write: the store's revision moves on
json.dump(d, open(p, "w"))
PY
	start_api
else
	echo "3. a broken snapshot file keeps the table; the fixed file catches up"
	echo '{"apiVersion": "v1", "kind": "List", "items": [' > "$agent_file.tmp"
	mv "$agent_file.tmp" "$agent_file"
	for _ in $(seq 50); do [ "$(agent_readyz)" = 503 ] && break; sleep 0.1; done
	[ "$(agent_readyz)" = 503 ] || bad "ready with a broken snapshot file"
	[ "$(table)" = "$before" ] || bad "the table changed with a broken snapshot file"
	verify "a broken snapshot file" some
	change delete NetworkPolicy y fence
fi
wait_events "$n"
agent_wait_ready 300
[ "$(agent_field "['counts']['policies']")" = 0 ] || bad "the deleted policy is still there"
topo_node_exec nft list chain inet bulkhead pi/y/fence > /dev/null 2>&1 &&
	bad "chain pi/y/fence still in the kernel"
verify "caught up" none

# --- 4. kill -9 ---
echo "4. kill -9 and restarts"
n=$(events)
change put '{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
 "metadata": {"name": "guard", "namespace": "x"},
 "spec": {"podSelector": {"matchLabels": {"app": "cache"}}, "policyTypes": ["Ingress"],
   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}}'
wait_events "$n" && verify "before kill -9" some
# The incremental batches so far (information, not asserted).
node_curl http://127.0.0.1:9464/metrics > "$out/metrics1"
awk '/^bulkhead_ruleset_program_duration_seconds_(sum|count)\{kind="incremental"\}/ {
	v[$1 ~ /_sum/ ? "s" : "c"] = $2 }
	END { if (v["c"] > 0) printf "  %d incremental batches, %.2f ms each on average\n",
		v["c"], 1000 * v["s"] / v["c"] }' "$out/metrics1"
grep -q '^bulkhead_ruleset_batches_total{kind="incremental"} [1-9]' "$out/metrics1" ||
	bad "no incremental batch counted"
wait_settled
before=$(table)
kill9
[ "$(table)" = "$before" ] || bad "the table changed at kill -9"
verify "agent down" some
start_agent agent2.log
agent_wait_ready 300
[ "$(agent_field "['enforcement']['table']")" = replaced ] || bad "after deltas: $(agent_field "['enforcement']")"
[ "$(agent_field "['enforcement']['full_replaces']")" = 1 ] || bad "full replaces: $(agent_field "['enforcement']")"
verify "restarted (table replaced in one batch)" some
d1=$(digest)
wait_settled
before=$(table)
kill9
start_agent agent3.log
agent_wait_ready 300
[ "$(agent_field "['enforcement']['table']")" = adopted ] || bad "second restart: $(agent_field "['enforcement']")"
[ "$(agent_field "['enforcement']['batches']")" = 0 ] || bad "batches sent on adoption"
[ "$(digest)" = "$d1" ] || bad "digest $(digest), want $d1"
[ "$(table)" = "$before" ] || bad "the adopted table changed"
verify "restarted again (adopted)" some

# --- 5. the kernel refuses ---
echo "5. every batch refused: not ready, the table as it was"
kill9
change delete NetworkPolicy x guard
start_agent agent4.log BULKHEAD_FAULT_INJECT=commit
for _ in $(seq 100); do grep -q enforcement "$out/readyz" 2> /dev/null && break; agent_readyz > /dev/null; sleep 0.1; done
[ "$(agent_readyz)" = 503 ] && grep -q 'enforcement: replacing the table' "$out/readyz" ||
	bad "/readyz with every batch refused: $(cat "$out/readyz")"
[ "$(table)" = "$before" ] || bad "the table changed although the kernel refused the batch"
[ "$(agent_field "['enforcement']['errors']")" -ge 1 ] || bad "no error counted"
kill9
start_agent agent5.log
agent_wait_ready 300
verify "the fault gone" none

# --- 6. metrics, SIGTERM ---
node_curl http://127.0.0.1:9464/metrics > "$out/metrics"
for m in 'bulkhead_ruleset_batches_total{kind="full"} 1' "bulkhead_ruleset_info{digest=\"$(digest)\"} 1" \
	'bulkhead_ruleset_program_duration_seconds_count{kind="full"} 1' 'bulkhead_ruleset_errors_total 0'; do
	grep -qF "$m" "$out/metrics" || bad "/metrics lacks '$m'"
done
grep -q '^bulkhead_ruleset_last_sync_timestamp_seconds [1-9]' "$out/metrics" ||
	bad "/metrics: no last sync time"
if command -v promtool > /dev/null; then
	promtool check metrics < "$out/metrics" || bad "promtool check metrics failed"
fi
wait_settled
before=$(table)
kill -TERM "$agent"
wait "$agent"
rc=$?
agent=
[ "$rc" = 0 ] || bad "SIGTERM: exit $rc"
[ -n "$before" ] && [ "$(table)" = "$before" ] || bad "the table changed at SIGTERM"
grep -q 'stays as it is' "$out/agent5.log" || bad "no stop line in the log"

[ "$fail" = 0 ] && echo "$name: ok"
exit "$fail"
