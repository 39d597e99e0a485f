#!/usr/bin/env bash
# netns.agent_alerts: preview alerts of 'bulkhead agent --policy-mode
# preview' in a node namespace made here (tests/integration/lib/topology.sh,
# the pods of tests/data/learn/snapshot.json, --snapshot), with policy
# y/api-ingress: pods app=api take TCP 80 from pods app=web only.
#   1. x/web -> y/api TCP 80 is allowed: no alert.  x/cache-0 -> y/api TCP 80
#      would be denied: it passes (preview) and becomes one alert naming the
#      workloads, pods, port, direction, the policy and an explanation;
#      again: still one alert.
#   2. A port scan from x/cache-0 (SCAN ports) with maxAlerts 50: the table
#      holds 50 alerts, every logged message is counted (held counts +
#      dropped = observed, dropped = the new keys past the limit when the
#      socket did not overflow), the metrics say the same (promtool), the
#      table's memory is what it was once full, and the agent's resident
#      memory grows by less than 4 MiB (not under ASan: its quarantine
#      keeps what is freed).
#   (each time /report validates, holds the alerts /alerts lists, and the
#   flows learned from the pods' interfaces: cache -> api 80 alerted, web
#   -> api 80 allowed by y/api-ingress;)
#   bulkhead alerts lists them (text, json, --state); bulkhead dismiss
#   closes two (an unknown id among them: exit 2, none closed).
#   3. kill -9 once the alerts are saved (dismissed ones too): after the restart /alerts is
#      the same, byte for byte; SIGTERM saves and exits 0.
#   4. --policy-mode enforce: the same connection is dropped, no new alert.
#   5. The deciding policy deleted: the alerts stay, their policy null in
#      /report, which still validates.
# And bulkhead_policy_packets_total (the ruleset's nftables counters): y/
# api-ingress's allowed packets (web -> api), would_deny in preview (cache
# -> api and the scan), dropped in enforce.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
. "$BH_SOURCE_DIR/tests/integration/lib/agent.sh"

topo_init
command -v curl > /dev/null || { echo "agent_alerts: curl missing" >&2; exit 1; }
command -v nft > /dev/null || { echo "agent_alerts: nft missing, skipping" >&2; exit 77; }
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers

out=$TOPO_DIR
state=$out/state
sock=$out/agent.sock
scan=${BH_ALERTS_SCAN:-3000}
python3 - "$snap" "$out/cluster.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "api-ingress", "namespace": "y"},
    "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
             "ingress": [{"from": [{"namespaceSelector": {},
                                    "podSelector": {"matchLabels": {"app": "web"}}}],
                          "ports": [{"protocol": "TCP", "port": 80}]}]}})
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
printf 'maxAlerts: 50\ninterfaces: ["bhv*"]\n' > "$out/config.yaml"
api=$(awk '$1 == "y/api-7c8d9f-xyz12" { print $2 }' "$out/pods")
[ -n "$api" ] || { echo "agent_alerts: no y/api pod in $snap" >&2; exit 1; }

agent=
start_agent() { # MODE LOG
	rm -f "$sock"
	topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 \
		--snapshot "$out/cluster.json" --config "$out/config.yaml" --policy-mode "$1" \
		--state-dir "$state" --socket "$sock" --listen 127.0.0.1:9464 > "$out/$2" 2>&1
	agent=$TOPO_LAST_PID
	agent_wait_ready 300 || { cat "$out/$2"; return 1; }
}
status() { agent_field "$1"; }
alerts() { agent_get /alerts; }
# probe FROM PORT...: TCP from pod FROM to y/api, one line per port.
probe() {
	local from=$1
	shift
	for p in "$@"; do echo "y/api $api $p TCP"; done |
		topo_pod_exec "$from" "$(topo_tool probe)" --timeout-ms 1000
}
# wait_status EXPR VALUE: /status's EXPR becomes VALUE within 10 s.
wait_status() {
	for _ in $(seq 100); do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; done
	bad "status$1 is $(status "$1"), expected $2"; return 1
}

# --- 1. one would-deny flow, one alert ---
start_agent preview agent.log || exit 1
[ "$(status "['policy_mode']")" = preview ] || bad "policy_mode: $(status "['policy_mode']")"
[ "$(status "['alerts']['nflog']['bound']")" = True ] || bad "NFLOG not bound: $(status "['alerts']")"
probe x/web-5f6d8c9b7-abcde 80 | grep -q '"ok":true' || bad "web -> api 80 did not connect"
probe x/cache-0 80 | grep -q '"ok":true' || bad "cache -> api 80 did not pass in preview"
wait_status "['alerts']['held']" 1
probe x/cache-0 80 > /dev/null
probe x/web-5f6d8c9b7-abcde 80 > /dev/null
sleep 0.5
alerts > "$out/alerts1.json"
python3 - "$out/alerts1.json" <<'PY' || bad "the first alert: $(cat "$out/alerts1.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
a = a[0]
want = {"src": {"workload": "x/StatefulSet/cache", "pod": "cache-0"},
        "dst": {"workload": "y/Deployment/api", "pod": "api-7c8d9f-xyz12"},
        "port": 80, "protocol": "TCP", "direction": "ingress", "policy": "y/api-ingress",
        "state": "open"}
for k, v in want.items():
    assert a[k] == v, (k, a[k], v)
assert a["count"] == 1, a["count"]  # the kernel logs a flow once a minute
assert "y/api-ingress" in a["explanation"] and "TCP port 80" in a["explanation"], a
assert "x/StatefulSet/cache" in a["explanation"], a
assert len(a["id"]) == 16, a
PY
# The report (GET /report) holds the alert as /alerts does, counted in the
# destination's namespace, and validates against its schema.
report_check() { # OUT ALERTS
	node_curl --unix-socket "$sock" http://agent/report > "$1"
	python3 "$BH_SOURCE_DIR/scripts/validate-report.py" "$1" || bad "$1 is not a valid report"
	python3 - "$1" "$2" <<'PY' || bad "the report's alerts: $(head -c 600 "$1")"
import json, sys
r, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["alerts"] == a, (r["alerts"][:2], a[:2])
y = [n for n in r["namespaces"] if n["name"] == "y"][0]
assert y["counts"]["alerts"] == len(a) and y["counts"]["openAlerts"] == len(a), y
ids = {x["id"] for x in a}
for f in r["flows"]:
    if f["id"] in ids:
        assert f["state"] == "alerted" and f["allowedBy"] is None, f
# the first alert's flow, learned from the pods' interfaces, is that edge
e = [f for f in r["flows"] if f["id"] == a[0]["id"]]
assert e and e[0]["src"]["workload"] == "x/StatefulSet/cache" and e[0]["port"] == 80, r["flows"]
# the allowed one: web -> api 80, allowed by y/api-ingress
w = [f for f in r["flows"] if f["src"].get("workload") == "x/Deployment/web" and
     f["dst"].get("workload") == "y/Deployment/api" and f["port"] == 80]
assert w and w[0]["state"] == "allowed-by-existing-policy" and \
    w[0]["allowedBy"] == {"policy": "y/api-ingress", "origin": "existing", "direction": "ingress", "rule": 0}, w
PY
}
report_check "$out/report1.json" "$out/alerts1.json"

# --- 2. a port scan against maxAlerts 50 ---
pid=$(pgrep -P "$agent" -x bulkhead || echo "$agent")
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss)
# Fill the table first (49 keys), note its memory, then the rest of the scan.
probe x/cache-0 $(seq 1000 1048) > /dev/null
wait_status "['alerts']['held']" 50
mem0=$(status "['alerts']['memory_bytes']")
seq 2000 $((2000 + scan - 1)) > "$out/ports"
# shellcheck disable=SC2046
probe x/cache-0 $(cat "$out/ports") > "$out/scan.jsonl"
ok=$(grep -c '"result":"refused"' "$out/scan.jsonl")
[ "$ok" = "$scan" ] || bad "scan: $ok of $scan ports refused (the rest dropped in preview?)"
# Every scanned port logged and read: messages = 1 + scan.
for _ in $(seq 100); do
	[ "$(status "['alerts']['nflog']['messages']")" -ge $((50 + scan)) ] && break
	[ "$(status "['alerts']['nflog']['overruns']")" -gt 0 ] && break
	sleep 0.1
done
rss1=$(rss)
node_curl --unix-socket "$sock" http://agent/status > "$out/status2.json"
alerts > "$out/alerts2.json"
report_check "$out/report2.json" "$out/alerts2.json"
python3 - "$out/status2.json" "$out/alerts2.json" "$scan" <<'PY' || bad "scan: $(cat "$out/status2.json")"
import json, sys
s = json.load(open(sys.argv[1]))["alerts"]
a = json.load(open(sys.argv[2]))
scan = int(sys.argv[3])
assert s["held"] == 50 == len(a), (s["held"], len(a))
assert s["limit"] == 50
assert s["unresolved"] == 0 and s["stale"] == 0, s
# Every observation is in a held alert's count or in dropped.
assert sum(x["count"] for x in a) + s["dropped"] == s["observed"], s
assert s["observed"] == s["nflog"]["messages"], s
if s["nflog"]["overruns"] == 0:
    # The first alert, then 49 new keys taken, the whole scan dropped.
    assert s["nflog"]["messages"] == 50 + scan, s
    assert s["dropped"] == scan, s
ports = sorted(x["port"] for x in a)
assert ports == [80] + list(range(1000, 1049)), ports
PY
[ "$(status "['alerts']['memory_bytes']")" = "$mem0" ] ||
	bad "the alert table grew in the scan: $mem0 -> $(status "['alerts']['memory_bytes']") bytes"
if [ -z "${BH_SANITIZE:-}" ]; then
	[ $((rss1 - rss0)) -lt 4096 ] || bad "resident memory grew by $((rss1 - rss0)) KiB in the scan"
fi
echo "scan: $scan ports, table $mem0 bytes, rss ${rss0} -> ${rss1} KiB, $(status "['alerts']['dropped']") dropped"
# The metrics (read every 5 s) and promtool.
for _ in $(seq 70); do
	node_curl http://127.0.0.1:9464/metrics > "$out/metrics"
	grep -q "^bulkhead_alerts_dropped_total $(status "['alerts']['dropped']")$" "$out/metrics" && break
	sleep 0.1
done
grep -q "^bulkhead_alerts_dropped_total $(status "['alerts']['dropped']")$" "$out/metrics" ||
	bad "bulkhead_alerts_dropped_total: $(grep '^bulkhead_alerts' "$out/metrics")"
grep -q '^bulkhead_alerts_total 50$' "$out/metrics" ||
	bad "bulkhead_alerts_total: $(grep '^bulkhead_alerts' "$out/metrics")"
grep -q '^bulkhead_nflog_overruns_total ' "$out/metrics" || bad "no bulkhead_nflog_overruns_total"
# pcount VERDICT: bulkhead_policy_packets_total of y/api-ingress.
pcount() {
	node_curl http://127.0.0.1:9464/metrics | awk -v v="$1" \
		'index($0, "bulkhead_policy_packets_total{namespace=\"y\",policy=\"api-ingress\",verdict=\"" v "\"}") == 1 { print $2 }'
}
allowed=$(pcount allowed)
would=$(pcount would_deny)
# web -> api 80 twice (two SYNs reach the chain); cache -> api 80 twice,
# the table's fill (49) and the scan: what reached the class chain's verdict.
[ "${allowed:-0}" -ge 2 ] || bad "policy counter allowed: '${allowed}'"
[ "${would:-0}" -ge $((2 + 49 + scan)) ] || bad "policy counter would_deny: '${would}', expected >= $((2 + 49 + scan))"
if command -v promtool > /dev/null; then
	promtool check metrics < "$out/metrics" > "$out/promtool" 2>&1 ||
		bad "promtool: $(cat "$out/promtool")"
fi

# --- the CLI: bulkhead alerts, bulkhead dismiss ---
bh() { "$BULKHEAD" "$@" --socket "$sock"; }
bh alerts -o json --state open > "$out/open.json" || bad "bulkhead alerts: exit $?"
ids=($(python3 -c 'import json, sys; print(" ".join(a["id"] for a in json.load(open(sys.argv[1]))))' "$out/open.json"))
[ "${#ids[@]}" = 50 ] || bad "bulkhead alerts --state open: ${#ids[@]} alerts, expected 50"
bh alerts > "$out/alerts.txt" || bad "bulkhead alerts (text): exit $?"
grep -q "^${ids[0]}  open " "$out/alerts.txt" && grep -q '^50 alerts, 50 open$' "$out/alerts.txt" ||
	bad "bulkhead alerts (text): $(head -3 "$out/alerts.txt"; tail -1 "$out/alerts.txt")"
head -2 "$out/alerts.txt" | cut -c1-200
# An unknown alert with a known one: exit 2, nothing dismissed.
bh dismiss "${ids[0]}" 0000000000000000 > "$out/dismiss0" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "no alert '0000000000000000'" "$out/dismiss0" ||
	bad "dismiss of an unknown alert: exit $rc: $(cat "$out/dismiss0")"
[ "$(status "['alerts']['open']")" = 50 ] || bad "an unknown alert dismissed some: open $(status "['alerts']['open']")"
bh dismiss not-an-id > /dev/null 2>&1
[ $? = 2 ] || bad "dismiss not-an-id: not exit 2"
bh dismiss "${ids[0]}" "${ids[1]}" > "$out/dismiss1" || bad "dismiss: exit $?"
[ "$(grep -c ': dismissed, .* stays denied$' "$out/dismiss1")" = 2 ] || bad "dismiss printed: $(cat "$out/dismiss1")"
[ "$(status "['alerts']['open']")" = 48 ] || bad "after dismiss: open $(status "['alerts']['open']")"
bh alerts -o json --state dismissed > "$out/dismissed.json"
python3 - "$out/dismissed.json" "${ids[0]}" "${ids[1]}" <<'PY' || bad "dismissed: $(cat "$out/dismissed.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(a["id"] for a in d) == sorted(sys.argv[2:4]), d
assert all(a["state"] == "dismissed" for a in d), d
PY
"$BULKHEAD" alerts --socket "$out/none.sock" > /dev/null 2>&1
[ $? = 3 ] || bad "alerts with no agent: not exit 3"

# --- 3. kill -9 once saved: the same alerts after the restart ---
wait_status "['alerts']['unsaved']" False
alerts > "$out/alerts3.json"
kill -9 "$agent"
wait "$agent" 2> /dev/null
start_agent preview agent2.log || exit 1
alerts > "$out/alerts4.json"
cmp -s "$out/alerts3.json" "$out/alerts4.json" ||
	bad "alerts after kill -9 differ: $(diff "$out/alerts3.json" "$out/alerts4.json" | head -5)"
[ "$(status "['alerts']['open']")" = 48 ] || bad "after kill -9: open $(status "['alerts']['open']"), expected 48 (2 dismissed)"
kill -TERM "$agent"
wait "$agent"
rc=$?
[ "$rc" = 0 ] || bad "SIGTERM: exit $rc"

# --- 4. enforce: dropped, no new alert ---
start_agent enforce agent3.log || exit 1
[ "$(status "['alerts']['held']")" = 50 ] || bad "enforce: held $(status "['alerts']['held']")"
probe x/cache-0 80 | grep -q '"result":"timeout"' || bad "cache -> api 80 not dropped in enforce"
probe x/web-5f6d8c9b7-abcde 80 | grep -q '"ok":true' || bad "web -> api 80 did not connect in enforce"
for _ in $(seq 70); do [ -n "$(pcount dropped)" ] && break; sleep 0.1; done
[ "$(pcount dropped)" -ge 1 ] 2> /dev/null || bad "policy counter dropped: '$(pcount dropped)'"
[ -z "$(pcount would_deny)" ] || bad "enforce: a would_deny series: $(pcount would_deny)"
sleep 0.5
[ "$(status "['alerts']['observed']")" = 0 ] || bad "enforce: observed $(status "['alerts']['observed']")"

# --- 5. the deciding policy deleted: the alerts stay, the report valid ---
python3 - "$out/cluster.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["items"] = [i for i in d["items"] if i["kind"] != "NetworkPolicy"]
json.dump(d, open(sys.argv[1] + ".new", "w"), indent=1)
os.rename(sys.argv[1] + ".new", sys.argv[1])
PY
wait_status "['counts']['policies']" 0
node_curl --unix-socket "$sock" http://agent/report > "$out/report5.json"
python3 "$BH_SOURCE_DIR/scripts/validate-report.py" "$out/report5.json" ||
	bad "the report with the deciding policy deleted is not valid"
python3 - "$out/report5.json" <<'PY' || bad "policy deleted: $(head -c 600 "$out/report5.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["alerts"]) == 50, len(r["alerts"])
for a in r["alerts"]:
    assert a["policy"] is None and "y/api-ingress" in a["explanation"], a
PY
kill -TERM "$agent"
wait "$agent"

[ "$fail" = 0 ] && echo "agent_alerts: ok"
exit "$fail"
