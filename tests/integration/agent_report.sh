#!/usr/bin/env bash
# integration.agent_report: GET /report of 'bulkhead agent --snapshot
# --no-enforce', started by this test (by pid) on the shop snapshot
# (tests/data/snapshot/shop.yaml) with a state directory filled by
# tests/tools/report_db_fill as if it had learned
# tests/data/agent/report-flows.json, with namespace shop stored in preview
# mode.  No root.
#   - /report on the socket and on the TCP listener: 200, application/json,
#     valid (scripts/validate-report.py), and what it says: the node and
#     its address, the workloads with their pods and stable labels, the
#     flows aggregated to workload edges (two pods' flows into one edge,
#     counts summed, times widened), the existing policy and rule allowing
#     each, "uncovered" for the others, node-to-node traffic left out,
#     namespaces with their mode, windows and counts, the existing
#     policies with the workloads they select and their YAML;
#   - a second agent with shop stored in enforce mode and the cluster's
#     mode preview: shop's allowed edges are "enforced", the other
#     namespaces take the cluster's mode and its preview window;
#   - bulkhead export -o FILE (-o - too) writes the same report (modulo
#     generatedAt and the secondsLeft computed from it);
#   - export errors, exit 3 and one line, the file left as it was and no
#     temporary file behind: no agent, an answer that is no report, HTTP
#     500; -o missing: exit 2.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
tmp=$(mktemp -d)
pid= spid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	[ -n "$spid" ] && kill "$spid" 2> /dev/null && wait "$spid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v curl > /dev/null || { echo "curl missing, skipping"; exit 77; }
validate=$BH_SOURCE_DIR/scripts/validate-report.py

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sock=$tmp/agent.sock
since=$(($(date +%s) - 3600))
mkdir "$tmp/state"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/state" "$BH_SOURCE_DIR/tests/data/agent/report-flows.json" \
	"shop=preview@$since" > "$tmp/fill.out" || { echo "FAIL: report_db_fill"; exit 1; }

"$BULKHEAD" agent --node node-1 --snapshot "$BH_SOURCE_DIR/tests/data/snapshot/shop.yaml" --no-enforce \
	--state-dir "$tmp/state" --socket "$sock" --listen "127.0.0.1:$port" --preview-window 7200 \
	> "$tmp/agent.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] && break
	sleep 0.1
done
[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] ||
	{ echo "FAIL: agent not ready"; cat "$tmp/agent.log"; exit 1; }

# --- /report on both listeners ---
head=$(curl -s --unix-socket "$sock" -D - -o "$tmp/socket.json" http://agent/report | tr -d '\r')
echo "$head" | grep -q '^HTTP/1.1 200' || bad "socket /report: $head"
echo "$head" | grep -qi '^content-type: application/json' || bad "socket /report content type: $head"
head=$(curl -s -D - -o "$tmp/tcp.json" "http://127.0.0.1:$port/report" | tr -d '\r')
echo "$head" | grep -q '^HTTP/1.1 200' || bad "TCP /report: $head"
echo "$head" | grep -qi '^content-type: application/json' || bad "TCP /report content type: $head"
for f in socket tcp; do
	python3 "$validate" "$tmp/$f.json" > "$tmp/$f.val" 2>&1 || { bad "$f report invalid:"; cat "$tmp/$f.val"; }
done

python3 - "$tmp/socket.json" "$since" > "$tmp/content.out" 2>&1 <<'PY' || { bad "report content:"; cat "$tmp/content.out"; }
import hashlib, json, sys
r = json.load(open(sys.argv[1]))
since = int(sys.argv[2])
errors = []
def want(cond, what):
    if not cond:
        errors.append(what)
want(r["schemaVersion"] == 1 and r["agent"]["version"], "schemaVersion, agent.version")
want(r["cluster"]["source"] == "snapshot" and "api" not in r["cluster"] and r["cluster"]["lastSync"],
     "cluster: %r" % r["cluster"])
want(r["node"]["name"] == "node-1" and r["node"]["addresses"] == ["192.168.56.1"], "node: %r" % r["node"])
want(r["enforcement"] == {"rulesetDigest": None, "lastProgrammed": None, "errors": []},
     "enforcement with --no-enforce: %r" % r["enforcement"])
wl = {w["id"]: w for w in r["workloads"]}
want(sorted(wl) == sorted(["kube-system/Deployment/coredns", "monitoring/StatefulSet/prometheus",
                           "shop/Deployment/frontend", "shop/Deployment/api", "shop/StatefulSet/postgres",
                           "shop/Deployment/redis", "shop/Deployment/worker", "shop/CronJob/report"]),
     "workloads: %r" % sorted(wl))
fe = wl.get("shop/Deployment/frontend", {})
want(fe.get("labels") == {"app": "frontend", "tier": "web"}, "frontend labels: %r" % fe.get("labels"))
want(sorted((p["name"], p.get("ip"), p.get("node")) for p in fe.get("pods", [])) ==
     [("frontend-7c9f8d6b5-abcde", "10.244.1.10", "node-1"), ("frontend-7c9f8d6b5-fghij", "10.244.2.10", "node-2")],
     "frontend pods: %r" % fe.get("pods"))
want(wl.get("shop/StatefulSet/postgres", {}).get("labels") == {"app": "postgres", "tier": "data"},
     "postgres labels (volatile ones dropped): %r" % wl.get("shop/StatefulSet/postgres", {}).get("labels"))
def key(f):
    end = lambda p: p.get("workload") or p.get("cidr")
    return (end(f["src"]), end(f["dst"]), f["port"], f["protocol"])
flows = {key(f): f for f in r["flows"]}
want(len(r["flows"]) == 5, "5 flow edges (node-to-node left out), got %d: %r" % (len(r["flows"]), sorted(flows)))
def check(k, state, count, first, last, by=None):
    f = flows.get(k)
    if not f:
        errors.append("no flow %r" % (k,))
        return
    want(f["id"] == hashlib.sha256("\n".join(map(str, k)).encode()).hexdigest()[:16], "%r id" % (k,))
    want(f["state"] == state, "%r state %s, want %s" % (k, f["state"], state))
    want(f["count"] == count, "%r count %d, want %d" % (k, f["count"], count))
    want((f["firstSeen"], f["lastSeen"]) == (first, last), "%r times %s %s" % (k, f["firstSeen"], f["lastSeen"]))
    want(f["allowedBy"] == by, "%r allowedBy %r, want %r" % (k, f["allowedBy"], by))
def by(policy, direction, rule):
    return {"policy": policy, "origin": "existing", "direction": direction, "rule": rule}
check(("shop/Deployment/frontend", "shop/Deployment/api", 8080, "TCP"), "allowed-by-existing-policy", 8,
      "2026-12-01T09:30:00Z", "2026-12-01T11:00:00Z", by("shop/api-from-frontend", "ingress", 0))
check(("shop/Deployment/api", "shop/StatefulSet/postgres", 5432, "TCP"), "allowed-by-existing-policy", 7,
      "2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z", by("shop/postgres-from-backend", "ingress", 0))
check(("shop/Deployment/worker", "shop/Deployment/redis", 6379, "TCP"), "uncovered", 2,
      "2026-12-01T10:01:00Z", "2026-12-01T10:02:00Z")
check(("shop/Deployment/worker", "203.0.113.5/32", 443, "TCP"), "allowed-by-existing-policy", 4,
      "2026-12-01T10:03:00Z", "2026-12-01T10:04:00Z", by("shop/worker-egress", "egress", 2))
check(("shop/Deployment/api", "kube-system/Deployment/coredns", 53, "UDP"), "uncovered", 9,
      "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z")
f = flows.get(("shop/Deployment/frontend", "shop/Deployment/api", 8080, "TCP"), {})
want(f.get("src", {}).get("pod") in ("frontend-7c9f8d6b5-abcde", "frontend-7c9f8d6b5-fghij"), "src pod: %r" % f.get("src"))
ns = {n["name"]: n for n in r["namespaces"]}
want(sorted(ns) == ["kube-system", "monitoring", "shop"], "namespaces: %r" % sorted(ns))
shop = ns.get("shop", {})
want(shop.get("mode") == "preview" and shop.get("learning") is None, "shop mode: %r" % shop)
want(shop.get("preview", {}).get("start") and shop["preview"]["end"] and
     shop["preview"]["secondsLeft"] in range(3300, 3601), "shop preview window: %r" % shop.get("preview"))
want(shop.get("counts") == {"workloads": 6, "flows": 4, "uncoveredFlows": 1, "alerts": 0, "openAlerts": 0},
     "shop counts: %r" % shop.get("counts"))
want(shop.get("enforceCommand") == "bulkhead enforce --namespace shop", "enforceCommand")
ks = ns.get("kube-system", {})
want(ks.get("mode") == "learning" and ks.get("preview") is None and ks.get("learning", {}).get("secondsLeft", 0) > 0,
     "kube-system mode: %r" % ks)
want(ks.get("counts") == {"workloads": 1, "flows": 1, "uncoveredFlows": 1, "alerts": 0, "openAlerts": 0},
     "kube-system counts: %r" % ks.get("counts"))
want(r["alerts"] == [] and r["proposals"] == [], "alerts and proposals empty")
pol = {"%s/%s" % (p["namespace"], p["name"]): p for p in r["existingPolicies"]}
want(len(pol) == 7, "7 existing policies: %r" % sorted(pol))
want(sorted(pol.get("shop/default-deny-ingress", {}).get("selects", [])) ==
     sorted(w for w in wl if w.startswith("shop/")), "default-deny-ingress selects every shop workload")
want(pol.get("shop/redis-from-api", {}).get("selects") == ["shop/Deployment/redis"], "redis-from-api selects")
want("kind: NetworkPolicy\n" in pol.get("shop/redis-from-api", {}).get("yaml", "") and
     "port: 6379\n" in pol["shop/redis-from-api"]["yaml"], "redis-from-api YAML")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# --- export ---
# same A B: equal but for generatedAt and the secondsLeft derived from it.
same() {
	python3 - "$1" "$2" <<'PY'
import calendar, json, sys, time
def norm(path):
    r = json.load(open(path))
    now = calendar.timegm(time.strptime(r.pop("generatedAt"), "%Y-%m-%dT%H:%M:%SZ"))
    for n in r["namespaces"]:
        for w in ("learning", "preview"):
            win = n[w]
            if win:
                end = calendar.timegm(time.strptime(win["end"], "%Y-%m-%dT%H:%M:%SZ"))
                assert win.pop("secondsLeft") == max(0, end - now), (path, n["name"], w)
    return r
sys.exit(0 if norm(sys.argv[1]) == norm(sys.argv[2]) else 1)
PY
}
"$BULKHEAD" export -o "$tmp/export.json" --socket "$sock" > "$tmp/out" 2> "$tmp/err"
rc=$?
[ "$rc" = 0 ] && [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ] || { bad "export: exit $rc"; cat "$tmp/err"; }
curl -s --unix-socket "$sock" -o "$tmp/again.json" http://agent/report
same "$tmp/export.json" "$tmp/again.json" || bad "the exported file differs from /report"
python3 "$validate" "$tmp/export.json" > /dev/null || bad "the exported file is invalid"
"$BULKHEAD" export --output - --socket "$sock" > "$tmp/stdout.json" 2> "$tmp/err" || bad "export -o -: exit $?"
same "$tmp/stdout.json" "$tmp/again.json" || bad "export -o - differs from /report"
[ "$(stat -c %a "$tmp/export.json")" != "" ] || bad "no export file"

# expect_err RC NEEDLE ARGS...: exit RC, one line on stderr holding NEEDLE,
# nothing on stdout, the old file untouched, no temporary file left.
expect_err() {
	local want=$1 needle=$2
	shift 2
	echo old > "$tmp/keep/report.json"
	"$BULKHEAD" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "$rc" != "$want" ] || [ "$(wc -l < "$tmp/err")" != 1 ] ||
		! grep -qF -- "$needle" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "bulkhead $*: exit $rc (want $want, '$needle'), stderr:"; cat "$tmp/err"
	fi
	[ "$(cat "$tmp/keep/report.json")" = old ] || bad "bulkhead $*: report.json changed"
	[ "$(ls "$tmp/keep")" = report.json ] || bad "bulkhead $*: left $(ls "$tmp/keep")"
}
mkdir "$tmp/keep"
expect_err 3 "export: no agent answering on socket '$tmp/none.sock': No such file or directory" \
	export -o "$tmp/keep/report.json" --socket "$tmp/none.sock"
expect_err 2 "export: -o: expected the file to write" export --socket "$sock"
# An agent that answers something else (the stand-in of integration.cli_status).
ssock=$tmp/stand-in.sock
printf '200 application/json\n{"version": 1}\n' > "$tmp/answer"
python3 "$BH_SOURCE_DIR/tests/integration/status_server.py" "$ssock" "$tmp/answer" &
spid=$!
for _ in $(seq 100); do [ -S "$ssock" ] && break; sleep 0.05; done
expect_err 3 "export: the agent on socket '$ssock' sent no report to GET /report" \
	export -o "$tmp/keep/report.json" --socket "$ssock"
printf '500 text/plain\ninternal error\n' > "$tmp/answer"
expect_err 3 "export: the agent on socket '$ssock' answered HTTP 500 to GET /report" \
	export -o "$tmp/keep/report.json" --socket "$ssock"
grep -q "GET /report" "$ssock.log" || bad "the stand-in was not asked GET /report"

kill "$pid" && wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || bad "agent exit $rc after SIGTERM"

# --- shop in enforce mode, the cluster's mode preview for the others ---
mkdir "$tmp/state2"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/state2" "$BH_SOURCE_DIR/tests/data/agent/report-flows.json" \
	"shop=enforce@$since" "=preview@$since" > "$tmp/fill.out" || bad "report_db_fill (enforce)"
"$BULKHEAD" agent --node node-1 --snapshot "$BH_SOURCE_DIR/tests/data/snapshot/shop.yaml" --no-enforce \
	--state-dir "$tmp/state2" --socket "$sock" --listen "" --preview-window 7200 > "$tmp/agent2.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] && break
	sleep 0.1
done
"$BULKHEAD" export -o "$tmp/enforce.json" --socket "$sock" 2> "$tmp/err" || { bad "export (enforce)"; cat "$tmp/err"; }
python3 "$validate" "$tmp/enforce.json" > "$tmp/val" 2>&1 || { bad "enforce report invalid:"; cat "$tmp/val"; }
python3 - "$tmp/enforce.json" > "$tmp/content.out" 2>&1 <<'PY' || { bad "enforce report content:"; cat "$tmp/content.out"; }
import json, sys
r = json.load(open(sys.argv[1]))
errors = []
ns = {n["name"]: n for n in r["namespaces"]}
shop = ns["shop"]
if (shop["mode"], shop["learning"], shop["preview"]) != ("enforce", None, None):
    errors.append("shop: %r" % shop)
for n in ("kube-system", "monitoring"):
    if ns[n]["mode"] != "preview" or not ns[n]["preview"] or ns[n]["preview"]["secondsLeft"] not in range(3300, 3601):
        errors.append("%s takes the cluster's mode: %r" % (n, ns[n]))
fl = {(f["src"].get("workload"), f["dst"].get("workload") or f["dst"].get("cidr"), f["port"]): f for f in r["flows"]}
f = fl[("shop/Deployment/frontend", "shop/Deployment/api", 8080)]
if f["state"] != "enforced" or f["allowedBy"] != {"policy": "shop/api-from-frontend", "origin": "existing",
                                                  "direction": "ingress", "rule": 0}:
    errors.append("frontend -> api in enforce mode: %r" % f)
if fl[("shop/Deployment/worker", "shop/Deployment/redis", 6379)]["state"] != "uncovered":
    errors.append("worker -> redis: %r" % fl[("shop/Deployment/worker", "shop/Deployment/redis", 6379)])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
kill "$pid" && wait "$pid"
pid=
[ "$fail" = 0 ] && echo "agent_report: ok"
exit "$fail"
