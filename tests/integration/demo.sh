#!/usr/bin/env bash
# netns.demo: the live demo (examples/demo/run.sh, what scripts/demo.sh runs
# after installing) with the built binary, judged by its outcome:
#   - it exits 0 in under two minutes, its steps in order, with the
#     lifecycle's own verbs only: the agent's --learn-duration and its
#     per-namespace proposal ('bulkhead proposal --namespace shop'),
#     'bulkhead enforce --all' refused (exit 2, naming the alert) while it
#     is open, 'bulkhead allow', 'bulkhead enforce --all' printing what
#     switched, 'bulkhead export';
#   - before any policy the attacker reaches the database; after enforce the
#     shop still answers (/ and the allowed /cart) and the attacker's
#     connection to the database is dropped;
#   - one alert was raised in preview, for shop/frontend -> shop/cache TCP
#     6379, naming the proposal's policy; after allow it is "allowed" and
#     the cart page passes in preview raising no new alert;
#   - the report it leaves validates against docs/report.schema.json
#     (scripts/validate-report.py) and holds that alert, the learned flows
#     (api -> database 5432 allowed by the proposal, in enforce) and the
#     proposals of the three namespaces, each rule justified by flows of
#     the report (the frontend -> cache rule by the allowed flow);
#   - it cleans up: no namespace, process or temporary directory of its
#     own is left, on success and when stopped by SIGTERM while learning.
# Skips (77) without root.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root, skipping" >&2
	exit 77
fi
tmp=$(mktemp -d)
demo=
cleanup() {
	[ -n "$demo" ] && kill "$demo" 2> /dev/null && wait "$demo" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
run=$BH_SOURCE_DIR/examples/demo/run.sh

# leftovers PID: what the demo of pid PID left (its names are bhdemoPID).
leftovers() {
	ip netns list | grep "^bhdemo$1-"
	pgrep -af "bhdemo$1[.-]"
	ls -d /tmp/bhdemo"$1".* 2> /dev/null
}

# --- the whole demo ---
start=$(date +%s)
"$run" --bulkhead "$BULKHEAD" --report "$tmp/report.json" > "$tmp/out" 2>&1 &
demo=$!
wait "$demo"
rc=$?
pid=$demo
demo=
secs=$(($(date +%s) - start))
cat "$tmp/out"
[ "$rc" = 0 ] || bad "the demo exited $rc"
[ "$secs" -lt 120 ] || bad "the demo took $secs s (two minutes at most)"
echo "demo: $secs s"
left=$(leftovers "$pid")
[ -z "$left" ] || bad "the demo left: $left"

# The steps, in order, each once.
python3 - "$tmp/out" <<'PY' || bad "the demo's output"
import re, sys
out = open(sys.argv[1]).read()
steps = re.findall(r"^\d+\. (.*)$", out, re.M)
want = ["Building a small", "The shop runs", "Starting the Bulkhead agent", "Learning for",
        "Proposing", "Previewing", "Something new", "Enforcing now is refused", "allowing it",
        "Enforcing:", "The shop keeps working", "The attacker tries", "Writing the report"]
assert len(steps) == len(want) and all(s.startswith(w) or w in s for s, w in zip(steps, want)), steps
def section(title):
    return out.split(title, 1)[1].split("\n\n", 1)[0]
assert "connected to 10.44.0.12:5432" in section("The shop runs"), "the attacker before any policy"
after = section("The shop keeps working")
assert re.search(r"^  ok frontend /: ", after, re.M), after
assert re.search(r"^  ok frontend /cart: .*cart read directly", after, re.M), after
assert "the connection was dropped" in section("The attacker tries"), section("The attacker tries")
alerts = section("Something new")
assert re.search(r"^[0-9a-f]{16}  open .*shop/Deployment/frontend.*shop/StatefulSet/cache.*TCP/6379",
                 alerts, re.M), alerts
assert "bulkhead-database-ingress" in section("Proposing")
assert "--learn-duration 10s" in section("Starting the Bulkhead agent")
assert "$ bulkhead proposal --namespace shop\n" in section("Proposing")
assert "namespaces:  0 learn, 0 proposed, 3 preview, 0 enforce" in section("Previewing")
refused = section("Enforcing now is refused")
assert re.search(r"^\$ bulkhead enforce --all\n.*enforce: 1 open alert: [0-9a-f]{16} "
                 r"\(shop/Deployment/frontend -> shop/StatefulSet/cache port 6379\)", refused, re.M), refused
allowed = section("allowing it")
assert re.search(r"^[0-9a-f]{16}: allowed, shop/Deployment/frontend .* TCP/6379 is allowed by the proposal$",
                 allowed, re.M), allowed
assert re.search(r"^[0-9a-f]{16}  allowed .*shop/StatefulSet/cache", allowed, re.M), allowed
assert "1 alert, 0 open" in allowed, allowed
enforced = section("Enforcing:")
assert sorted(re.findall(r"^namespace (\S+): preview -> enforce$", enforced, re.M)) == [
    "default", "kube-system", "shop"], enforced
assert "namespaces:  0 learn, 0 proposed, 0 preview, 3 enforce" in enforced, enforced
for stand_in in ("stand-in", "TODO", "# bulkhead", "restarted"):
    assert stand_in not in out, stand_in
assert re.search(r"^Done in \d+ s\. The report is ", out, re.M)
PY
python3 - "$tmp/report.json" <<'PY' || bad "the demo's report: $(head -c 600 "$tmp/report.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert {"default", "kube-system", "shop"} <= {n["name"] for n in r["namespaces"]}, r["namespaces"]
a = r["alerts"]
assert len(a) == 1, a
a = a[0]
assert a["src"]["workload"] == "shop/Deployment/frontend" and a["src"]["pod"] == "frontend-7c9f8d6b5-abcde", a
assert a["dst"]["workload"] == "shop/StatefulSet/cache" and a["dst"]["pod"] == "cache-0", a
assert a["port"] == 6379 and a["protocol"] == "TCP", a
assert a["policy"] in ("shop/bulkhead-frontend-egress", "shop/bulkhead-cache-ingress"), a
assert a["state"] == "allowed", a
assert {n["name"]: n["mode"] for n in r["namespaces"]} == {
    "default": "enforce", "kube-system": "enforce", "shop": "enforce"}, r["namespaces"]
def flow(src, dst, port):
    f = [f for f in r["flows"] if f["src"].get("workload") == src and
         f["dst"].get("workload") == dst and f["port"] == port]
    assert len(f) == 1, (src, dst, port, r["flows"])
    return f[0]
for src, dst, port in (("default/Deployment/customer", "shop/Deployment/frontend", 80),
                       ("shop/Deployment/frontend", "shop/Deployment/api", 8080),
                       ("shop/Deployment/api", "shop/StatefulSet/database", 5432),
                       ("shop/Deployment/api", "shop/StatefulSet/cache", 6379),
                       ("shop/Deployment/api", "kube-system/Deployment/coredns", 53)):
    f = flow(src, dst, port)
    assert f["state"] in ("allowed-by-proposal", "enforced"), f
    assert f["allowedBy"] is not None and f["allowedBy"]["origin"] == "proposal", f
assert flow("shop/Deployment/frontend", "shop/StatefulSet/cache", 6379)["id"] == a["id"]
# the attacker never reached anything it was allowed to
assert not any(f["src"].get("workload", "").startswith("default/attacker") and f["allowedBy"]
               for f in r["flows"]), r["flows"]
# The proposals: the three namespaces', every rule justified by flows of
# the report that it allows; the frontend -> cache rules by the alert's flow.
props = r["proposals"]
assert {p["namespace"] for p in props} == {"default", "kube-system", "shop"}, props
flows = {f["id"]: f for f in r["flows"]}
for p in props:
    for rule in p["rules"]:
        assert rule["flows"], (p["name"], rule)
        for fid in rule["flows"]:
            f = flows[fid]
            own = f["dst"] if rule["direction"] == "ingress" else f["src"]
            assert own.get("workload") in p["selects"], (p["name"], rule, f)
            assert any(q["port"] in (0, f["port"]) and q["protocol"] == f["protocol"]
                       for q in rule["ports"]), (rule, f)
cited = {(p["name"], fid) for p in props for rule in p["rules"] for fid in rule["flows"]}
assert ("bulkhead-frontend-egress", a["id"]) in cited, "the allowed flow justifies no egress rule"
assert ("bulkhead-cache-ingress", a["id"]) in cited, "the allowed flow justifies no ingress rule"
PY
python3 "$BH_SOURCE_DIR/scripts/validate-report.py" "$tmp/report.json" ||
	bad "the demo's report does not validate"
# README.md's excerpt of the demo's output (between <!-- demo --> and
# <!-- /demo -->) is what it printed: its runs of lines, separated by '...'
# lines, each found whole and in order; '...' within a line stands for any
# text.
python3 - "$BH_SOURCE_DIR/README.md" "$tmp/out" <<'PY' || bad "README.md's demo excerpt differs from the demo's output"
import re, sys
readme, out = open(sys.argv[1]).read(), open(sys.argv[2]).read().splitlines()
m = re.search(r"<!-- demo -->\n```text\n(.*?)```\n<!-- /demo -->", readme, re.S)
assert m, "README.md has no <!-- demo --> excerpt"
runs, cur = [], []
for line in m.group(1).splitlines():
    if line == "...":
        runs.append(cur)
        cur = []
    else:
        cur.append(re.compile(".*".join(map(re.escape, line.rstrip().split("...")))))
runs.append(cur)
at = 0
for run in [r for r in runs if r]:
    for i in range(at, len(out) - len(run) + 1):
        if all(p.fullmatch(out[i + j].rstrip()) for j, p in enumerate(run)):
            at = i + len(run)
            break
    else:
        sys.exit("README.md's demo excerpt: not found in order in the output:\n  " +
                 "\n  ".join(p.pattern for p in run))
PY

# --- stopped while learning: everything cleaned up too ---
"$run" --bulkhead "$BULKHEAD" --report "$tmp/report2.json" > "$tmp/out2" 2>&1 &
demo=$!
for _ in $(seq 300); do grep -q 'Learning for' "$tmp/out2" && break; sleep 0.1; done
grep -q 'Learning for' "$tmp/out2" || bad "the second demo did not reach learning: $(cat "$tmp/out2")"
kill -TERM "$demo"
wait "$demo"
rc=$?
pid=$demo
demo=
[ "$rc" = 143 ] || bad "SIGTERM while learning: exit $rc, expected 143"
grep -q "demo: cleaned up" "$tmp/out2" || bad "SIGTERM: no clean-up line: $(cat "$tmp/out2")"
left=$(leftovers "$pid")
[ -z "$left" ] || bad "the demo stopped by SIGTERM left: $left"
[ ! -e "$tmp/report2.json" ] || bad "a stopped demo wrote a report"

[ "$fail" = 0 ] && echo "demo: ok"
exit "$fail"
