#!/usr/bin/env bash
# integration.cluster_cli: the verbs acting on the cluster from a
# workstation (docs/cluster.md, "Commands from a workstation") against the
# test API server (TLS, bearer token, loopback, no root), with NodeFlows,
# Proposal and PolicyMode objects put through POST /_control and a fake
# agent (cluster_fake_agent.py) mirroring the PolicyMode into each live
# node's NodeFlows status.applied:
#   - enforce refused (exit 2) naming the open alert and its node, then
#     --force: one PolicyMode write (spec.mode, namespace, switchedAt with
#     ms, force), "namespace shop: preview -> enforce", waits for both
#     nodes;
#   - a 409 on the PolicyMode write is read again and retried;
#   - preview --all: PolicyMode `all`, the learning namespace skipped;
#   - a silent node: exit 4 naming it (and not the live one);
#   - unknown namespace, no proposal yet: exit 2; no API server: exit 3;
#     --socket with --kubeconfig: exit 2;
#   - relearn: PolicyMode mode learn;
#   - alerts: every node's, with the node; proposal -o yaml|json: the
#     plain NetworkPolicies, through kubectl apply --dry-run=client;
#   - allow: an unknown alert exit 2; the deciding Proposal (and the other
#     end's, which isolates it too) amended with the rule and its flow,
#     through an injected 409; again: nothing to amend; the second
#     object's update refused (422): the first put back, one line, exit 1+;
#   - export: the cluster report (every node's flows and alerts, the
#     proposals, the namespaces' stages, nodes listed) validates against
#     docs/report.schema.json; no API server: exit 3, no file.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
src=$BH_SOURCE_DIR
tmp=$(mktemp -d /tmp/bh-clustercli.XXXXXX)
fake=
cleanup() {
	[ -n "$fake" ] && kill "$fake" 2> /dev/null && wait "$fake" 2> /dev/null
	api_stop
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
source "$src/tests/integration/lib/apiserver.sh"

mkdir "$tmp/data"
# Pods, namespaces and nodes: the propose test's cluster (shop, data).
cp "$src/tests/data/propose/snapshot.json" "$tmp/data/objects.json"
api_start
kc=$tmp/kubeconfig
control() { api_control; }
get() { api_get "$1"; } # PATH: the object, JSON
jq_() { # EXPR: evaluated on the JSON of stdin as d
	python3 -c "import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}

# --- the cluster: namespaces, two nodes, one proposal, an open alert ---
G=bulkhead.io/v1alpha1
alert='{"id": "0123456789abcdef", "state": "open", "direction": "ingress",
 "src": {"workload": "web/Deployment/frontend", "pod": "frontend-1"},
 "dst": {"workload": "shop/Deployment/api", "pod": "api-1"},
 "port": 8080, "protocol": "TCP", "policy": "shop/bulkhead-api-ingress",
 "count": 3, "firstSeen": "2026-12-04T10:00:00Z", "lastSeen": "2026-12-04T10:01:00Z"}'
nodeflows() { # NODE ALERTS
	cat <<J
{"op": "put", "object": {"apiVersion": "$G", "kind": "NodeFlows",
 "metadata": {"name": "$1"},
 "spec": {"node": "$1", "generated": "2026-12-04T10:00:00Z", "flows": []},
 "status": {"truncated": 0, "alerts": $2, "alertsTruncated": 0,
  "applied": [{"namespace": "shop", "stage": "preview", "modeSwitchedAt": ""},
              {"namespace": "web", "stage": "learn", "modeSwitchedAt": ""}]}}}
J
}
# The three CustomResourceDefinitions (as manifests/ has them, schema
# left out: the test server does not validate).
crd() { # KIND PLURAL SCOPE
	cat <<J
{"op": "put", "object": {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "$2.bulkhead.io"},
 "spec": {"group": "bulkhead.io", "scope": "$3",
  "names": {"plural": "$2", "singular": "$(echo "$1" | tr A-Z a-z)", "kind": "$1", "listKind": "$1List"},
  "versions": [{"name": "v1alpha1", "served": true, "storage": true,
   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}}
J
}
crd NodeFlows nodeflows Cluster | control > /dev/null
crd Proposal proposals Namespaced | control > /dev/null
crd PolicyMode policymodes Cluster | control > /dev/null
for ns in shop web; do
	echo "{\"op\": \"put\", \"object\": {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"$ns\"}}}" | control > /dev/null
done
nodeflows node-1 '[]' | control > /dev/null
nodeflows node-2 "[$alert]" | control > /dev/null
control > /dev/null <<J
{"op": "put", "object": {"apiVersion": "$G", "kind": "Proposal",
 "metadata": {"name": "bulkhead-api", "namespace": "shop",
              "labels": {"app.kubernetes.io/managed-by": "bulkhead"}},
 "spec": {"workload": {"kind": "Deployment", "name": "api"},
  "computedAt": "2026-12-04T10:01:00.000Z",
  "window": {"learnedFrom": "2026-12-04T09:00:00Z", "learnedUntil": "2026-12-04T10:00:00Z"},
  "nodes": ["node-1", "node-2"],
  "policies": [{"name": "bulkhead-api-ingress",
    "labels": {"app.kubernetes.io/managed-by": "bulkhead"},
    "annotations": {"bulkhead.io/workload": "shop/Deployment/api"},
    "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
             "ingress": [{"from": [{"namespaceSelector": {"matchLabels":
                 {"kubernetes.io/metadata.name": "shop"}},
               "podSelector": {"matchLabels": {"app": "frontend"}}}],
               "ports": [{"protocol": "TCP", "port": 8080}]}]},
    "rules": [{"flows": [{"src": "shop/Deployment/frontend", "dst": "shop/Deployment/api",
               "protocol": "TCP", "port": 8080, "connections": 4,
               "lastSeen": "2026-12-04T10:00:00Z", "nodes": ["node-1"]}]}]}]},
 "status": {"mode": "preview"}}}
J
echo node-1 node-2 > "$tmp/live"
python3 "$src/tests/integration/cluster_fake_agent.py" "$apiport" "$tmp/certs/token" "$tmp/live" \
	2> "$tmp/fake.log" &
fake=$!

bh() { # RC NAME ARGS...: runs bulkhead, $tmp/NAME.out and .err; checks the exit
	local want=$1 name=$2
	shift 2
	"$BULKHEAD" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
	local rc=$?
	[ "$rc" = "$want" ] || { bad "bulkhead $*: exit $rc, want $want"; cat "$tmp/$name.out" "$tmp/$name.err"; }
}

# --- enforce: refused on the open alert of node-2, then --force ---
bh 2 refused enforce --kubeconfig "$kc" --namespace shop
grep -q "0123456789abcdef on node-2" "$tmp/refused.err" || bad "refusal: $(cat "$tmp/refused.err")"
[ "$(get /apis/$G/policymodes/shop | jq_ "d.get('kind')")" = Status ] ||
	bad "a refused enforce wrote PolicyMode shop"
bh 0 forced enforce --kubeconfig "$kc" --namespace shop --force --timeout 20
[ "$(cat "$tmp/forced.out")" = "namespace shop: preview -> enforce" ] ||
	bad "enforce --force printed: $(cat "$tmp/forced.out" "$tmp/forced.err")"
get /apis/$G/policymodes/shop > "$tmp/pm.json"
python3 - "$tmp/pm.json" <<'PY' || bad "PolicyMode shop: $(cat "$tmp/pm.json")"
import json, re, sys
d = json.load(open(sys.argv[1]))
s = d["spec"]
assert s["mode"] == "enforce" and s["namespace"] == "shop" and s["force"] is True, s
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s["switchedAt"]), s
assert d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bulkhead"
PY
for n in node-1 node-2; do
	[ "$(get /apis/$G/nodeflows/$n | jq_ "[a['stage'] for a in d['status']['applied'] if a['namespace'] == 'shop'][0]")" = enforce ] ||
		bad "$n does not report shop enforced after the command returned"
done

# --- the alert is gone; a 409 on the PolicyMode write is retried ---
nodeflows node-2 '[]' | control > /dev/null
bh 0 same enforce --kubeconfig "$kc" --namespace shop --timeout 20
[ "$(cat "$tmp/same.out")" = "namespace shop: already in enforce" ] || bad "again: $(cat "$tmp/same.out")"
echo '{"op": "fault", "fault": "conflict", "count": 1, "resource": "policymodes"}' | control > /dev/null
bh 0 conflict preview --kubeconfig "$kc" --namespace shop --timeout 20
[ "$(cat "$tmp/conflict.out")" = "namespace shop: enforce -> preview" ] ||
	bad "preview after a 409: $(cat "$tmp/conflict.out")"
[ "$(echo '{"op": "stats"}' | control | jq_ "(d['writes_by']['policymodes']['update'], d['faulted'])")" = "(3, 1)" ] ||
	bad "the 409 was not answered by a second update: $(echo '{"op": "stats"}' | control)"
[ "$(get /apis/$G/policymodes/shop | jq_ "d['spec']['mode']")" = preview ] || bad "PolicyMode shop not preview after the 409"

# --- --all: PolicyMode all; web, still learning, skipped ---
bh 0 all enforce --kubeconfig "$kc" --all --timeout 20
printf 'namespace shop: preview -> enforce\nnamespace web: skipped: still learning\n' > "$tmp/all.want"
cmp -s "$tmp/all.want" "$tmp/all.out" || bad "enforce --all printed: $(cat "$tmp/all.out" "$tmp/all.err")"
[ "$(get /apis/$G/policymodes/all | jq_ "(d['spec']['mode'], d['spec']['namespace'])")" = "('enforce', '')" ] ||
	bad "PolicyMode all: $(get /apis/$G/policymodes/all)"

# --- a silent node: exit 4 naming it ---
echo node-1 > "$tmp/live"
bh 4 silent preview --kubeconfig "$kc" --all --timeout 2
grep -q "node-2" "$tmp/silent.err" && ! grep -q "node-1" "$tmp/silent.err" ||
	bad "timeout: $(cat "$tmp/silent.err")"
[ "$(wc -l < "$tmp/silent.err")" = 1 ] || bad "timeout: not one line: $(cat "$tmp/silent.err")"
echo node-1 node-2 > "$tmp/live"

# --- relearn ---
bh 0 relearn relearn --kubeconfig "$kc" --namespace shop --timeout 20
[ "$(cat "$tmp/relearn.out")" = "namespace shop: preview -> learn" ] || bad "relearn: $(cat "$tmp/relearn.out" "$tmp/relearn.err")"
[ "$(get /apis/$G/policymodes/shop | jq_ "d['spec']['mode']")" = learn ] || bad "relearn: PolicyMode shop"

# --- two namespaces, the second write refused: the first said switched ---
echo '{"op": "fault", "fault": "write_status", "status": 422, "count": 1, "resource": "policymodes", "verb": "create"}' |
	control > /dev/null
bh 3 half relearn --kubeconfig "$kc" --namespace shop --namespace web --timeout 5
[ "$(cat "$tmp/half.out")" = "namespace shop: already in learn" ] ||
	bad "relearn of shop and web, web refused: stdout $(cat "$tmp/half.out")"
grep -q "PolicyMode 'web'" "$tmp/half.err" || bad "relearn, web refused: $(cat "$tmp/half.err")"

# --- refusals ---
bh 2 unknown enforce --kubeconfig "$kc" --namespace nope
grep -q "unknown namespace 'nope'" "$tmp/unknown.err" || bad "unknown: $(cat "$tmp/unknown.err")"
bh 2 noprop enforce --kubeconfig "$kc" --namespace web
grep -q "no proposal yet" "$tmp/noprop.err" || bad "no proposal: $(cat "$tmp/noprop.err")"
bh 2 both enforce --kubeconfig "$kc" --socket "$tmp/none.sock" --all
bh 2 wl enforce --kubeconfig "$kc" --workload shop/Deployment/api
port0=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$src/tests/apiserver/kubeconfig.sh" "$tmp/down.kubeconfig" "$port0"
bh 3 down enforce --kubeconfig "$tmp/down.kubeconfig" --all
bh 3 downalerts alerts --kubeconfig "$tmp/down.kubeconfig"
# $KUBECONFIG alone chooses the cluster; --socket the local agent.
KUBECONFIG=$kc bh 0 env alerts -o json
bh 3 sock alerts --socket "$tmp/none.sock"

# --- alerts: every node's, with its node ---
nodeflows node-2 "[$alert]" | control > /dev/null
bh 0 alerts alerts --kubeconfig "$kc" -o json
[ "$(jq_ "[(a['id'], a['node']) for a in d]" < "$tmp/alerts.out")" = "[('0123456789abcdef', 'node-2')]" ] ||
	bad "alerts -o json: $(cat "$tmp/alerts.out")"
bh 0 alerts_text alerts --kubeconfig "$kc" --state open
grep -qE '^node-2 +0123456789abcdef +open ' "$tmp/alerts_text.out" || bad "alerts: $(cat "$tmp/alerts_text.out")"

# --- proposal: plain NetworkPolicies, kubectl takes them ---
bh 0 prop proposal --kubeconfig "$kc" -o yaml
bh 0 propjson proposal --kubeconfig "$kc" -o json --namespace shop
python3 - "$tmp/propjson.out" <<'PY' || bad "proposal -o json: $(cat "$tmp/propjson.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "List" and len(d["items"]) == 1
p = d["items"][0]
assert p["kind"] == "NetworkPolicy" and p["apiVersion"] == "networking.k8s.io/v1"
assert p["metadata"]["name"] == "bulkhead-api-ingress" and p["metadata"]["namespace"] == "shop"
assert "rules" not in p and p["spec"]["policyTypes"] == ["Ingress"]
PY
bh 2 propnone proposal --kubeconfig "$kc" --namespace web
cp "$tmp/prop.out" "$tmp/proposal.yaml"
"$src/tests/golden/propose_kubectl.sh" "$tmp/proposal.yaml" > "$tmp/kubectl.log" 2>&1 ||
	bad "kubectl dry-run of proposal -o yaml: $(cat "$tmp/kubectl.log")"

# --- allow: the alert's flow into the Proposal objects ---
# The shop Proposal objects as the holder writes them, from what propose
# makes of the propose test's flows (one object per workload).
"$BULKHEAD" propose --flows "$src/tests/data/propose/flows-node-1.json" \
	--flows "$src/tests/data/propose/flows-node-2.json" \
	--snapshot "$src/tests/data/propose/snapshot.json" --namespace shop -o json > "$tmp/shop.json" 2> "$tmp/propose.err" ||
	bad "propose for the allow fixture: exit $?"
python3 - "$tmp/shop.json" <<'PY' | control > /dev/null
import json, sys
objs = {}
for np in json.load(open(sys.argv[1]))["items"]:
    md = np["metadata"]
    stem = md["name"].rsplit("-", 1)[0]
    o = objs.setdefault(stem, {"apiVersion": "bulkhead.io/v1alpha1", "kind": "Proposal",
        "metadata": {"name": stem, "namespace": md["namespace"],
                     "labels": {"app.kubernetes.io/managed-by": "bulkhead"}},
        "spec": {"workload": {"kind": "Deployment", "name": stem[len("bulkhead-"):]},
                 "computedAt": "2026-12-04T10:01:00.000Z", "nodes": ["node-1", "node-2"],
                 "policies": []}})
    n = len(np["spec"].get("ingress", [])) + len(np["spec"].get("egress", []))
    o["spec"]["policies"].append({"name": md["name"], "labels": md.get("labels", {}),
        "annotations": md.get("annotations", {}), "spec": np["spec"],
        "rules": [{"flows": []} for _ in range(n)]})
print(json.dumps({"op": "put_many", "objects": list(objs.values())}))
PY
walert='{"id": "77ec37f64b8efbcf", "state": "open", "direction": "ingress",
 "src": {"workload": "shop/Deployment/worker", "pod": "worker-7c9d8f6b4-aaaaa"},
 "dst": {"workload": "shop/Deployment/api", "pod": "api-5d4c8b7f9-aaaaa"},
 "port": 9999, "protocol": "TCP", "policy": "shop/bulkhead-api-ingress",
 "count": 2, "firstSeen": "2026-12-04T10:00:00Z", "lastSeen": "2026-12-04T10:02:00Z"}'
nodeflows node-1 "[$walert]" | control > /dev/null
get /apis/$G/namespaces/shop/proposals/bulkhead-api > "$tmp/api.before.json"
bh 2 allow_unknown allow --kubeconfig "$kc" 0000000000000000
grep -q "no alert '0000000000000000'" "$tmp/allow_unknown.err" || bad "allow unknown: $(cat "$tmp/allow_unknown.err")"
# All or none: the second object's update refused (422, after the first
# went through): the first is put back as read, the command fails in one
# line saying so.
echo '{"op": "fault", "fault": "write_status", "status": 422, "count": 1, "after": 1, "resource": "proposals", "verb": "update"}' |
	control > /dev/null
"$BULKHEAD" allow --kubeconfig "$kc" 77ec37f64b8efbcf > "$tmp/allow_half.out" 2> "$tmp/allow_half.err" &&
	bad "allow with a refused second write: exit 0"
get /apis/$G/namespaces/shop/proposals/bulkhead-api > "$tmp/api.half.json"
python3 - "$tmp/api.before.json" "$tmp/api.half.json" <<'PY' ||
import json, sys
b, a = (json.load(open(f)) for f in sys.argv[1:])
assert b["spec"]["policies"] == a["spec"]["policies"]
PY
	bad "allow with a refused second write left shop/bulkhead-api amended"
[ "$(wc -l < "$tmp/allow_half.err")" = 1 ] && grep -q "nothing amended (put back as read: shop/bulkhead-api)" "$tmp/allow_half.err" ||
	bad "allow with a refused second write said: $(cat "$tmp/allow_half.err")"
grep -q "amended" "$tmp/allow_half.out" && bad "allow with a refused second write printed: $(cat "$tmp/allow_half.out")"
echo '{"op": "fault", "fault": "conflict", "count": 1, "resource": "proposals"}' | control > /dev/null
bh 0 allow allow --kubeconfig "$kc" 77ec37f64b8efbcf
grep -q "^77ec37f64b8efbcf: allowed, shop/Deployment/worker -> shop/Deployment/api TCP/9999 is allowed by the proposal (seen on node-1)$" "$tmp/allow.out" || bad "allow printed: $(cat "$tmp/allow.out")"
grep -q "^Proposal shop/bulkhead-api: amended" "$tmp/allow.out" || bad "allow printed: $(cat "$tmp/allow.out")"
get /apis/$G/namespaces/shop/proposals/bulkhead-api > "$tmp/api.after.json"
get /apis/$G/namespaces/shop/proposals/bulkhead-worker > "$tmp/worker.after.json"
python3 - "$tmp/api.before.json" "$tmp/api.after.json" "$tmp/worker.after.json" <<'PY' ||
import json, sys
b, a, w = (json.load(open(f)) for f in sys.argv[1:])
pol = lambda o, n: [p for p in o["spec"]["policies"] if p["name"] == n][0]
bi, ai = pol(b, "bulkhead-api-ingress"), pol(a, "bulkhead-api-ingress")
assert len(ai["spec"]["ingress"]) == len(bi["spec"]["ingress"]) + 1, ai["spec"]
new = ai["spec"]["ingress"][-1]
assert new["ports"] == [{"protocol": "TCP", "port": 9999}], new
assert new["from"][0]["podSelector"] == {"matchLabels": {"app": "worker"}}, new
assert len(ai["rules"]) == len(ai["spec"]["ingress"]), ai["rules"]
f = ai["rules"][-1]["flows"][0]
assert (f["src"], f["dst"], f["port"], f["nodes"]) == ("shop/Deployment/worker", "shop/Deployment/api", 9999, ["node-1"]), f
# the other end: worker's egress, which its proposal isolates, takes it too
we = pol(w, "bulkhead-worker-egress")
assert any(r.get("ports") == [{"protocol": "TCP", "port": 9999}] for r in we["spec"]["egress"]), we["spec"]
assert a["spec"]["computedAt"] == b["spec"]["computedAt"]
PY
	bad "allow: the Proposal objects: $(cat "$tmp/api.after.json")"
bh 0 allow_again allow --kubeconfig "$kc" 77ec37f64b8efbcf
grep -q "nothing to amend" "$tmp/allow_again.out" || bad "allow again: $(cat "$tmp/allow_again.out")"

# --- export: the cluster report, the node report's schema ---
# Each node's flows: the propose test's flows.json files as NodeFlows specs.
for n in 1 2; do
	python3 - "$src/tests/data/propose/flows-node-$n.json" "node-$n" <<'PY' | control > /dev/null
import json, sys
d = json.load(open(sys.argv[1]))
spec = {k: d[k] for k in ("node", "generated", "stats", "flows")}
st = {"truncated": 0, "alertsTruncated": 0, "applied": [], "alerts": []}
print(json.dumps({"op": "put", "object": {"apiVersion": "bulkhead.io/v1alpha1", "kind": "NodeFlows",
    "metadata": {"name": sys.argv[2]}, "spec": spec, "status": st}}))
PY
done
nf1=$(get /apis/$G/nodeflows/node-1)
# node-1's alert (the one allowed above)
echo "{\"op\": \"put\", \"object\": $(echo "$nf1" | python3 -c "
import json, sys
d = json.load(sys.stdin)
for k in ('resourceVersion', 'uid', 'creationTimestamp'):
    d['metadata'].pop(k, None)
d['status']['alerts'] = [json.loads(sys.argv[1])]
print(json.dumps(d))" "$walert")}" | control > /dev/null
bh 0 export export --kubeconfig "$kc" -o "$tmp/report.json"
python3 "$src/scripts/validate-report.py" "$tmp/report.json" > "$tmp/validate.out" 2>&1 ||
	bad "the cluster report does not validate: $(head -5 "$tmp/validate.out")"
python3 - "$tmp/report.json" <<'PY' || bad "the cluster report: $(head -c 600 "$tmp/report.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["nodes"] == ["node-1", "node-2"], d["nodes"]
assert d["node"]["name"] == "*", d["node"]
assert len(d["flows"]) > 10, len(d["flows"])
ends = {(f["src"].get("workload"), f["dst"].get("workload")) for f in d["flows"]}
assert ("shop/Deployment/frontend", "shop/Deployment/api") in ends, ends
assert [a["id"] for a in d["alerts"]] == ["77ec37f64b8efbcf"], d["alerts"]
names = {p["name"] for p in d["proposals"]}
assert "bulkhead-api-ingress" in names, names
modes = {n["name"]: n["mode"] for n in d["namespaces"]}
assert modes["shop"] in ("preview", "enforce", "learning"), modes
assert d["cluster"]["source"] == "api"
PY
bh 3 exportdown export --kubeconfig "$tmp/down.kubeconfig" -o "$tmp/down.json"
[ ! -e "$tmp/down.json" ] || bad "a failed export wrote its file"

# --- more objects than one page: the lists go on with their continue token ---
# (CLUSTER_LIST_PAGE is 64: 70 more nodes' NodeFlows, one open alert each;
# the fake agent stopped, so that the API server counts the CLI's lists)
kill "$fake" 2> /dev/null && wait "$fake" 2> /dev/null
fake=
python3 - "$walert" <<'PY' | control > /dev/null
import json, sys
a = json.loads(sys.argv[1])
objs = []
for i in range(70):
    al = dict(a, id="%016x" % (0xa000 + i))
    objs.append({"apiVersion": "bulkhead.io/v1alpha1", "kind": "NodeFlows",
                 "metadata": {"name": "node-p%02d" % i},
                 "spec": {"node": "node-p%02d" % i, "flows": []},
                 "status": {"truncated": 0, "alertsTruncated": 0, "applied": [], "alerts": [al]}})
print(json.dumps({"op": "put_many", "objects": objs}))
PY
lists0=$(echo '{"op": "stats"}' | control | jq_ 'd["lists"]')
bh 0 paged alerts --kubeconfig "$kc" -o json
lists1=$(echo '{"op": "stats"}' | control | jq_ 'd["lists"]')
python3 - "$tmp/paged.out" <<'PY' || bad "alerts over two pages: $(head -c 300 "$tmp/paged.out")"
import json, sys
d = json.load(open(sys.argv[1]))
items = d if isinstance(d, list) else d.get("alerts", d.get("items"))
nodes = {x["node"] for x in items if x["node"].startswith("node-p")}
assert len(nodes) == 70, len(nodes)
PY
[ $((lists1 - lists0)) -ge 2 ] || bad "alerts read 72 NodeFlows in $((lists1 - lists0)) list request(s), not pages of 64"

[ "$fail" = 0 ] && echo "cluster_cli: enforce/preview/relearn, alerts, proposal, allow and export act on the cluster"
exit "$fail"
