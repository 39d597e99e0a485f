#!/usr/bin/env bash
# integration.cluster_propose: the proposer Lease and the holder's Proposal
# objects (docs/cluster.md, "The Lease and the proposer") with two agent
# processes in cluster mode on the test API server (loopback, no root, no
# nftables: --no-enforce).  The NodeFlows objects of node-1 and node-2 are
# put through /_control (tests/data/propose's two flows files; the agents
# are agent-1 and agent-2, each the one writer of its own NodeFlows,
# empty here), the pods of
# the application's workloads run on both nodes:
#   - exactly one agent holds the Lease; one Proposal per workload appears,
#     its policies those `bulkhead propose` makes from both files, spec.nodes
#     naming both nodes, status.mode preview (no PolicyMode), even though
#     the API server refused the first create (the namespace is computed
#     and written again);
#   - kill -9 of the holder: the other agent takes the Lease (the time is
#     measured, and must stay within leaseDuration + 1 s);
#   - a round cut short (one of shop's objects deleted as the holder dies,
#     another amended): the new holder writes the missing one, keeps the
#     amendment, and marks every object with one round (spec.computation);
#     an object deleted under it later is written again;
#   - a PolicyMode learn of namespace shop (written through /_control): once
#     learnDuration has passed the new holder computes shop's proposals
#     again (computedAt after the switch), still from both nodes' flows.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
src=$BH_SOURCE_DIR
data=$src/tests/data
tmp=$(mktemp -d /tmp/bh-clusterprop.XXXXXX)
a1= a2=
cleanup() {
	for p in $a1 $a2; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
	api_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"

# Lease timings of this test (the defaults are 15 s and 5 s).
DURATION=3 RENEW=1 LEARN=2

mkdir "$tmp/data"
cp "$data/propose/snapshot.json" "$tmp/data/objects.json"
api_start --crd-file "$data/cluster/crds.yaml"
base=https://127.0.0.1:$apiport
control() { api_control > /dev/null; }
get() { api_get "$1"; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

# Each node's NodeFlows: its flows file's members as the spec; node-1's
# with a flow between two pods of namespace ghost that are gone (propose
# places neither: ghost gets no object, and is not computed at every tick).
for n in 1 2; do
	python3 - "$data/propose/flows-node-$n.json" node-$n << 'P' | control
import json, sys
f = json.load(open(sys.argv[1]))
if sys.argv[2] == "node-1":
    g = json.loads(json.dumps(f["flows"][0]))
    g["src"] = {"ip": "10.9.9.9", "kind": "pod", "namespace": "ghost", "name": "gone-1",
                "workload": {"kind": "Deployment", "name": "gone"}, "labels": {"app": "gone"}}
    g["dst"] = {"ip": "10.9.9.8", "kind": "pod", "namespace": "ghost", "name": "gone-2",
                "workload": {"kind": "Deployment", "name": "gone2"}, "labels": {"app": "gone2"}}
    f["flows"].append(g)
print(json.dumps({"op": "put", "object": {
    "apiVersion": "bulkhead.io/v1alpha1", "kind": "NodeFlows",
    "metadata": {"name": sys.argv[2]},
    "spec": {"node": sys.argv[2], "generated": f["generated"], "stats": f["stats"],
             "flows": f["flows"]}}}))
P
done
[ "$(get /apis/bulkhead.io/v1alpha1/nodeflows | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))')" = 2 ] ||
	{ echo "FAIL: the NodeFlows objects were not stored"; cat "$tmp/api.log"; exit 1; }

# The first create of a Proposal is refused (422, not retried): the holder
# must write that workload's object at its next tick all the same (the
# namespace has its other objects by then), and say which object failed.
echo '{"op": "fault", "fault": "write_status", "status": 422, "count": 1, "resource": "proposals", "verb": "create"}' |
	control

cat > "$tmp/config.yaml" << EOF
cluster: true
namespace: bulkhead-system
leaseDuration: ${DURATION}s
leaseRenew: ${RENEW}s
learnDuration: ${LEARN}s
logLevel: info
EOF
start_agent() { # N
	"$BULKHEAD" agent --node "agent-$1" --kubeconfig "$tmp/kubeconfig" --config "$tmp/config.yaml" \
		--state-dir "$tmp/state-$1" --no-enforce --socket "$tmp/agent-$1.sock" --listen "" \
		> "$tmp/agent-$1.log" 2>&1 &
}
start_agent 1
a1=$!
start_agent 2
a2=$!
wait_for() { # SECONDS CMD...
	local t=$1
	shift
	for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}
status() { # N EXPR
	curl -s --max-time 5 --unix-socket "$tmp/agent-$1.sock" http://agent/status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$2" 2> /dev/null
}
holder_is() { [ "$(status "$1" "['cluster']['leaseHolder']")" = True ]; }
one_holder() { holder_is 1 || holder_is 2; }
wait_for 20 one_holder || { bad "no agent took the Lease"; tail -n 5 "$tmp"/agent-*.log; exit 1; }
if holder_is 1; then holder=1 other=2; else holder=2 other=1; fi
sleep "$RENEW"
holder_is "$other" && bad "both agents hold the Lease"
[ "$(status "$other" "['cluster']['holder']")" = "agent-$holder" ] ||
	bad "node-$other does not see node-$holder as the holder: $(status "$other" "['cluster']")"
lease=$(get /apis/coordination.k8s.io/v1/namespaces/bulkhead-system/leases/bulkhead-proposer)
[ "$(echo "$lease" | python3 -c 'import json, sys; print(json.load(sys.stdin)["spec"]["holderIdentity"])')" = "agent-$holder" ] ||
	bad "the Lease object: $lease"

# The Proposal objects of every namespace, as the holder wrote them.
proposals() { get /apis/bulkhead.io/v1alpha1/proposals > "$tmp/proposals.json"; }
have_proposals() { # NAMESPACE [AFTER_MS]
	proposals
	python3 - "$tmp/proposals.json" "$@" << 'P'
import json, sys, datetime
items = [o for o in json.load(open(sys.argv[1]))["items"] if o["metadata"]["namespace"] == sys.argv[2]]
def ms(t):
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
after = int(sys.argv[3]) if len(sys.argv) > 3 else 0
sys.exit(0 if items and all(ms(o["spec"]["computedAt"]) >= after for o in items) else 1)
P
}
wait_for 30 have_proposals shop || { bad "no Proposal in shop"; tail -20 "$tmp/agent-$holder.log"; exit 1; }
wait_for 10 have_proposals data || bad "no Proposal in data"

# What they hold: the policies `bulkhead propose` makes from both files,
# one object per workload, both nodes named.
"$BULKHEAD" propose --snapshot "$data/propose/snapshot.json" --flows "$data/propose/flows-node-1.json" \
	--flows "$data/propose/flows-node-2.json" -o json > "$tmp/want.json" 2> /dev/null ||
	bad "bulkhead propose failed"
check_objects() { # EXPECTED_MODE
	proposals
	python3 - "$tmp/proposals.json" "$tmp/want.json" "$1" << 'P'
import json, sys
objs = json.load(open(sys.argv[1]))["items"]
want = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in json.load(open(sys.argv[2]))["items"]}
got, errs = {}, []
for o in objs:
    md, spec = o["metadata"], o["spec"]
    pols = spec["policies"]
    stems = {p["name"].rsplit("-", 1)[0] for p in pols}
    if stems != {md["name"]}:
        errs.append("%s: policies %s" % (md["name"], [p["name"] for p in pols]))
    for p in pols:
        got[(md["namespace"], p["name"])] = p
    if md["namespace"] == "shop" and md["name"] in ("bulkhead-api", "bulkhead-frontend") and \
       spec["nodes"] != ["node-1", "node-2"]:
        errs.append("%s: nodes %s" % (md["name"], spec["nodes"]))
    if o.get("status", {}).get("mode") != sys.argv[3]:
        errs.append("%s: status %s" % (md["name"], o.get("status")))
if set(got) != set(want):
    errs.append("policies %s, want %s" % (sorted(got), sorted(want)))
for k in set(got) & set(want):
    if got[k]["spec"] != want[k]["spec"]:
        errs.append("%s/%s: spec differs" % k)
if len({(o["metadata"]["namespace"], o["spec"]["workload"]["kind"], o["spec"]["workload"]["name"]) for o in objs}) != len(objs):
    errs.append("two objects for one workload")
print("\n".join(errs))
sys.exit(1 if errs else 0)
P
}
wait_for 10 check_objects preview > /dev/null || bad "the Proposal objects: $(check_objects preview)"
err=$(status "$holder" "['cluster']['proposer']['error']")
[[ "$err" =~ ^create\ Proposal\ \'(shop|data)/bulkhead-[a-z0-9-]+\':\ .*422 ]] ||
	bad "the refused create: proposer error '$err'"
[ "$(status "$holder" "['cluster']['proposer']['writeErrors']")" = 1 ] ||
	bad "write errors: $(status "$holder" "['cluster']['proposer']")"
# ghost made no object: not computed again within clusterInterval (60 s)
c0=$(status "$holder" "['cluster']['proposer']['computations']")
sleep $((RENEW * 3))
c1=$(status "$holder" "['cluster']['proposer']['computations']")
[ "$c0" = "$c1" ] || bad "the holder computed $c0, then $c1 times in $((RENEW * 3)) s (ghost at every tick)"
n_objs=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$tmp/proposals.json")
echo "node-$holder holds the Lease; $n_objs Proposal objects"

# A round cut short: the holder dies after writing some of shop's objects
# (one is deleted, silently: never written; done before the kill, so that
# the next holder's first list, whenever it comes, is of the cut round),
# and an `allow` amended another meanwhile (an annotation of its first
# policy).  The new holder writes the missing one, keeps the amended
# one's content, and leaves every object of shop marked with one round of
# that many objects.
proposals
python3 - "$tmp/proposals.json" "$tmp/cut" << 'P2'
import json, sys
objs = sorted((o for o in json.load(open(sys.argv[1]))["items"] if o["metadata"]["namespace"] == "shop"),
              key=lambda o: o["metadata"]["name"])
assert len(objs) >= 2, objs
gone, amended = objs[0], objs[1]
open(sys.argv[2], "w").write("%s %s\n" % (gone["metadata"]["name"], amended["metadata"]["name"]))
amended["spec"]["policies"][0].setdefault("annotations", {})["test.bulkhead.io/amended"] = "yes"
for k in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
    amended["metadata"].pop(k, None)
open(sys.argv[2] + ".put", "w").write(json.dumps({"op": "put", "object": amended}))
open(sys.argv[2] + ".del", "w").write(json.dumps({
    "op": "delete", "resource": "proposals", "group": "bulkhead.io", "version": "v1alpha1", "namespace": "shop",
    "name": gone["metadata"]["name"], "silent": True}))
P2
control < "$tmp/cut.put"
control < "$tmp/cut.del"
read -r cut_gone cut_amended < "$tmp/cut"
# kill -9 of the holder: the other takes over.
victim=a$holder
kill -9 "${!victim}"
wait "${!victim}" 2> /dev/null
t0=$(now_ms)
eval "$victim="
completed() {
	proposals
	python3 - "$tmp/proposals.json" "$cut_gone" "$cut_amended" << 'P2'
import json, sys
objs = [o for o in json.load(open(sys.argv[1]))["items"] if o["metadata"]["namespace"] == "shop"]
names = {o["metadata"]["name"]: o for o in objs}
if sys.argv[2] not in names:
    sys.exit(1)
ids = {json.dumps(o["spec"].get("computation"), sort_keys=True) for o in objs}
comp = objs[0]["spec"].get("computation") or {}
if len(ids) != 1 or comp.get("count") != len(objs):
    sys.exit(1)
a = names.get(sys.argv[3])
if not a or a["spec"]["policies"][0].get("annotations", {}).get("test.bulkhead.io/amended") != "yes":
    print("the amendment of %s was dropped" % sys.argv[3])
    sys.exit(2)
P2
}
if wait_for $((DURATION + RENEW + 5)) holder_is "$other"; then
	took=$(($(now_ms) - t0))
	echo "takeover: node-$other holds the Lease ${took} ms after the kill -9 of node-$holder" \
		"(leaseDuration ${DURATION}s, leaseRenew ${RENEW}s)"
	# At most leaseDuration after the victim's last renewal, plus a read
	# and a write; the bound leaves a second for a loaded machine.
	[ "$took" -le $((DURATION * 1000 + 1000)) ] ||
		bad "the takeover took ${took} ms, over leaseDuration + 1 s"
else
	bad "node-$other did not take the Lease"
	tail -20 "$tmp/agent-$other.log"
fi

wait_for $((RENEW * 5 + 5)) completed ||
	bad "the round cut short in shop (no $cut_gone) was not completed keeping $cut_amended: $(completed)"
# One of the holder's own whole round deleted (seen by its watch): written
# again once the holder's trust in its own writes ends (2 x leaseRenew).
echo "{\"op\": \"delete\", \"resource\": \"proposals\", \"group\": \"bulkhead.io\", \"version\": \"v1alpha1\", \"namespace\": \"shop\", \"name\": \"$cut_gone\"}" |
	control
wait_for $((RENEW * 5 + 5)) completed ||
	bad "shop/$cut_gone, deleted under the holder, was not written again: $(completed)"

# A relearn of shop: the new holder computes its proposals again.
switched=$(now_ms)
python3 - "$switched" << 'P' | control
import json, sys, datetime
t = datetime.datetime.fromtimestamp(int(sys.argv[1]) / 1000, datetime.timezone.utc)
print(json.dumps({"op": "put", "object": {
    "apiVersion": "bulkhead.io/v1alpha1", "kind": "PolicyMode", "metadata": {"name": "shop"},
    "spec": {"mode": "learn", "namespace": "shop", "force": False,
             "switchedAt": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)}}}))
P
wait_for $((LEARN + RENEW * 3 + 10)) have_proposals shop "$switched" ||
	bad "shop's proposals were not computed again after the relearn"
[ "$(status "$other" "['cluster']['proposer']['computations']")" -ge 1 ] 2> /dev/null ||
	bad "node-$other computed nothing: $(status "$other" "['cluster']")"
wait_for 10 check_objects preview > /dev/null || bad "after the takeover: $(check_objects preview)"

[ "$fail" = 0 ] || { tail -n 30 "$tmp"/agent-*.log; tail -20 "$tmp/api.log"; }
exit "$fail"
