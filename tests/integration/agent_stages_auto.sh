#!/usr/bin/env bash
# integration.agent_stages_auto: the stage timer of 'bulkhead agent
# --snapshot --no-enforce' (started by this test by pid) on the shop
# snapshot (tests/data/snapshot/shop.yaml), its state directory filled by
# tests/tools/report_db_fill as if it had learned
# tests/data/agent/report-flows.json.  No root.
#   - learning 1 s, a preview window of 2 s, autoPromote on: every
#     namespace goes learn -> preview (its proposal stored) -> enforce,
#     each switch logged, /status's stages say so with since and until;
#   - the stages survive kill -9: after a restart nothing learns again;
#   - autoPromote off (the default): a namespace stays in preview after
#     its window;
#   - POST /stage bodies it does not take: 400.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v curl > /dev/null || { echo "curl missing, skipping"; exit 77; }
snap=$BH_SOURCE_DIR/tests/data/snapshot/shop.yaml
flows=$BH_SOURCE_DIR/tests/data/agent/report-flows.json
sock=$tmp/agent.sock
# (a port of its own: tests run in parallel)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_agent() { # STATE CONFIG LOG
	"$BULKHEAD" agent --node node-1 --snapshot "$snap" --no-enforce --state-dir "$1" \
		--config "$2" --socket "$sock" --listen "127.0.0.1:$port" > "$tmp/$3" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] &&
			return 0
		sleep 0.1
	done
	echo "FAIL: agent not ready"; cat "$tmp/$3"; exit 1
}
stages() { curl -s --unix-socket "$sock" http://agent/status > "$tmp/status.json"; python3 -c '
import json, sys
print(" ".join("%s=%s" % (s["namespace"], s["stage"]) for s in json.load(open(sys.argv[1]))["stages"]))' "$tmp/status.json"; }
wait_stages() { # WANT SECONDS
	for _ in $(seq $(($2 * 10))); do [ "$(stages)" = "$1" ] && return 0; sleep 0.1; done
	bad "stages: $(stages), expected $1"; return 1
}
all_in() { echo "kube-system=$1 monitoring=$1 shop=$1"; }
post() { curl -s --unix-socket "$sock" -o "$tmp/post.out" -w '%{http_code}' -d "$1" http://agent/stage; }

# --- autoPromote on ---
mkdir "$tmp/s1"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/s1" "$flows" > /dev/null || { echo "FAIL: report_db_fill"; exit 1; }
printf 'learnDuration: 1s\npreviewWindow: 2s\nautoPromote: true\n' > "$tmp/auto.yaml"
start_agent "$tmp/s1" "$tmp/auto.yaml" auto.log
# (on a loaded machine the first window may be over before /status is
# asked: each stage is judged by its own window)
stages > /dev/null
python3 - "$tmp/status.json" <<'PY' || bad "/status stages: $(cat "$tmp/status.json")"
import json, sys
from datetime import datetime
st = json.load(open(sys.argv[1]))["stages"]
assert [s["namespace"] for s in st] == ["kube-system", "monitoring", "shop"], st
for s in st:
    t = lambda k: datetime.strptime(s[k], "%Y-%m-%dT%H:%M:%SZ")
    want = {"learn": 1, "preview": 2}.get(s["stage"])
    if want is None:
        assert s["until"] is None, s
    else:
        assert (t("until") - t("since")).total_seconds() == want, s
PY
for ns in kube-system monitoring shop; do
	grep -q "namespace '$ns' first seen: learn" "$tmp/auto.log" || bad "$ns did not start learning"
done
wait_stages "$(all_in enforce)" 15
for ns in kube-system monitoring shop; do
	grep -q "namespace '$ns': its proposal is previewed" "$tmp/auto.log" &&
		grep -q "namespace '$ns': preview window over with no open alert, enforcing (autoPromote)" "$tmp/auto.log" ||
		bad "no log lines of $ns's switches"
	[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' "http://agent/proposal?namespace=$ns")" = 200 ] ||
		bad "no stored proposal of $ns"
done
kill -9 "$pid"; wait "$pid" 2> /dev/null; pid=
start_agent "$tmp/s1" "$tmp/auto.yaml" auto2.log
[ "$(stages)" = "$(all_in enforce)" ] || bad "after kill -9: $(stages)"
grep -q "first seen" "$tmp/auto2.log" && bad "namespaces seen anew after the restart"

# --- POST /stage: bodies it does not take ---
[ "$(post 'x')" = 400 ] || bad "a body that is no JSON: $(cat "$tmp/post.out")"
[ "$(post '{"stage":"drop","all":true}')" = 400 ] || bad "stage drop: $(cat "$tmp/post.out")"
[ "$(post '{"stage":"preview"}')" = 400 ] || bad "no namespaces: $(cat "$tmp/post.out")"
[ "$(post '{"stage":"preview","all":true,"namespaces":["shop"]}')" = 400 ] || bad "both: $(cat "$tmp/post.out")"
[ "$(post '{"stage":"preview","namespaces":["shop"]}')" = 200 ] &&
	grep -q '"switched":\[{"namespace":"shop","from":"enforce","to":"preview"}\]' "$tmp/post.out" ||
	bad "preview shop: $(cat "$tmp/post.out")"
kill "$pid"; wait "$pid" || bad "SIGTERM: exit $?"; pid=

# --- autoPromote off: preview stays ---
mkdir "$tmp/s2"
"$BH_BUILD_DIR/tests/tools/report_db_fill" "$tmp/s2" "$flows" > /dev/null || { echo "FAIL: report_db_fill"; exit 1; }
printf 'learnDuration: 1s\npreviewWindow: 1s\n' > "$tmp/manual.yaml"
start_agent "$tmp/s2" "$tmp/manual.yaml" manual.log
wait_stages "$(all_in preview)" 15
sleep 2.5
[ "$(stages)" = "$(all_in preview)" ] || bad "autoPromote off: $(stages) after the window"
kill "$pid"; wait "$pid"; pid=

# --- POST /alerts/allow without an enforcement (--no-enforce: the
# enforcement never holds a cluster): an alert of a previewed proposal
# policy, restored from the state database, is taken into the proposal
# from the source cluster (it crashed on a NULL cluster) ---
curl_ok=1
db=$(ls "$tmp/s2"/*.db 2> /dev/null | head -1)
command -v sqlite3 > /dev/null || curl_ok=0
if [ "$curl_ok" = 1 ] && [ -n "$db" ]; then
	start_agent "$tmp/s2" "$tmp/manual.yaml" allow.log
	curl -s --unix-socket "$sock" "http://agent/proposal?namespace=shop" > "$tmp/shop.json"
	kill "$pid"; wait "$pid"; pid=
	# the egress policy of a workload of shop (its ingress is the cluster's)
	read -r pol wl < <(python3 - "$tmp/shop.json" <<'PY'
import json, sys
for it in json.load(open(sys.argv[1]))["items"]:
    md = it["metadata"]
    if "Egress" in it["spec"].get("policyTypes", []) and "bulkhead.io/workload" in md.get("annotations", {}):
        print(md["name"], "shop/" + md["annotations"]["bulkhead.io/workload"])
        break
PY
)
	[ -n "$pol" ] || bad "no egress policy of a workload in shop's proposal: $(cat "$tmp/shop.json")"
	sqlite3 "$db" "INSERT INTO alerts (id, src_workload, dst_workload, port, proto, direction,
		policy, count, first_seen, last_seen, state) VALUES ('00000000000000a1', '$wl',
		'192.0.2.7', 4444, 6, 'egress', 'shop/$pol', 1, 1700000000000, 1700000000000, 'open'),
		('00000000000000a2', '$wl', '192.0.2.8', 4444, 6, 'egress', 'shop/$pol', 1,
		1700000000000, 1700000000000, 'open');" ||
		bad "cannot insert an alert"
	start_agent "$tmp/s2" "$tmp/manual.yaml" allow2.log
	code=$(curl -s --unix-socket "$sock" -o "$tmp/allow.out" -w '%{http_code}' \
		-d '{"ids":["00000000000000a1"]}' http://agent/alerts/allow)
	[ "$code" = 200 ] && grep -q '"state":"allowed"' "$tmp/allow.out" ||
		bad "allow without an enforcement: $code $(cat "$tmp/allow.out"); $(tail -3 "$tmp/allow2.log")"
	curl -s --unix-socket "$sock" "http://agent/proposal?namespace=shop" > "$tmp/shop2.json"
	grep -q '4444' "$tmp/shop2.json" ||
		bad "the allowed flow is not in shop's proposal: $(head -c 300 "$tmp/shop2.json"); $(grep -i 'allow\|propos' "$tmp/allow2.log")"
	# shop learns again: its proposal is not compiled, an alert of it is
	# refused as such (not as a cluster policy's), and 'bulkhead allow'
	# says why, exit 2
	[ "$(post '{"stage":"learn","namespaces":["shop"]}')" = 200 ] || bad "relearn shop: $(cat "$tmp/post.out")"
	"$BULKHEAD" allow 00000000000000a2 --socket "$sock" > /dev/null 2> "$tmp/allow.err"
	rc=$?
	[ "$rc" = 2 ] && grep -q 'no policy of a proposal in preview or enforce' "$tmp/allow.err" ||
		bad "allow while shop learns: exit $rc: $(cat "$tmp/allow.err")"
	kill "$pid"; wait "$pid" || bad "SIGTERM after allow: exit $?"; pid=
	# A stored proposal the agent cannot read whole (kube-system's, with a
	# policy that has no podSelector last) is left out whole: none of its
	# policies is compiled, so an alert of its first is no proposal's.
	sqlite3 "$db" "SELECT json FROM proposals WHERE scope = 'kube-system'" > "$tmp/ks.json"
	read -r first fwl < <(python3 -c '
import json, sys
md = json.load(open(sys.argv[1]))["items"][0]["metadata"]
print(md["name"], "kube-system/" + md["annotations"]["bulkhead.io/workload"])' "$tmp/ks.json")
	python3 - "$tmp/ks.json" > "$tmp/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "broken", "namespace": "kube-system"}, "spec": {}})
print(json.dumps(d))
PY
	sqlite3 "$db" "UPDATE proposals SET json = readfile('$tmp/broken.json') WHERE scope = 'kube-system';
		INSERT INTO alerts (id, src_workload, dst_workload, port, proto, direction, policy,
		count, first_seen, last_seen, state) VALUES ('00000000000000a3', '192.0.2.9',
		'$fwl', 4444, 6, 'ingress', 'kube-system/$first', 1, 1700000000000,
		1700000000000, 'open');" || bad "cannot break kube-system's proposal"
	start_agent "$tmp/s2" "$tmp/manual.yaml" allow3.log
	grep -q "the proposal of namespace 'kube-system' is left out" "$tmp/allow3.log" ||
		bad "kube-system's broken proposal not said: $(cat "$tmp/allow3.log")"
	code=$(curl -s --unix-socket "$sock" -o "$tmp/allow.out" -w '%{http_code}' \
		-d '{"ids":["00000000000000a3"]}' http://agent/alerts/allow)
	[ "$code" = 409 ] && grep -q 'no policy of a proposal in preview or enforce' "$tmp/allow.out" ||
		bad "an alert of a proposal left out: $code $(cat "$tmp/allow.out")"
	kill "$pid"; wait "$pid" || bad "SIGTERM: exit $?"; pid=
fi

[ "$fail" = 0 ] && echo "agent_stages_auto: ok"
exit "$fail"
