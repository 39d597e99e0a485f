#!/usr/bin/env bash
# golden.propose_rollout: `bulkhead propose` after a rollout that gave the
# old api pod's address to a redis pod (issue 18).
#
# tests/golden/propose/rollout-flows.json was learned before the rollout:
# frontend -> shop/api-...-aaaaa (10.1.1.20) TCP 8080, and that api pod ->
# data/redis-...-aaaaa TCP 6379.  In rollout-snapshot.json, taken after it,
# the api Deployment runs a new pod (10.1.1.21) and a redis pod created
# after the flows holds 10.1.1.20.  A flow end belongs to the workload the
# flow recorded, never to today's owner of its address:
#   - the output is diffed against tests/golden/propose/rollout.yaml
#     (UPDATE_GOLDEN=1 rewrites it), exit 0, self-check 2/2 (100.0%);
#   - independently of the golden file: with the proposal loaded,
#     `bulkhead check` allows frontend -> new api pod on 8080 and api ->
#     redis on 6379, and denies frontend -> redis on 8080;
#   - the summary names the policies that deny all of one direction, and why
#     (frontend's ingress: only seen as a client; redis's egress: only seen
#     as a server);
#   - with the api Deployment gone (its pod removed from the snapshot), no
#     workload can take the two flows: both are reported as not placed, the
#     self-check is below 100%, nothing is written and the exit status is 3;
#     with --allow-uncovered the List is written (empty: nothing placed).
set -euo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR"
gold=tests/golden/propose
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

snap=$gold/rollout-snapshot.json
flows=$gold/rollout-flows.json
fe=shop/frontend-6b7f8c9d5-aaaaa
api=shop/api-7c9d8f6b4-bbbbb
redis=data/redis-8f6d5c4b7-ccccc

fail() { echo "FAIL: $*"; cat "$tmp/err" 2>/dev/null || true; exit 1; }

rc=0
"$BULKHEAD" propose --flows "$flows" --snapshot "$snap" > "$tmp/out.yaml" 2> "$tmp/err" || rc=$?
[ $rc = 0 ] || fail "propose exit $rc"
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
	cp "$tmp/out.yaml" "$gold/rollout.yaml"
fi
diff -u "$gold/rollout.yaml" "$tmp/out.yaml"
grep -qF 'propose: self-check: 2/2 learned flows allowed (100.0%)' "$tmp/err" ||
	fail "self-check line"
if grep -q 'not placed' "$tmp/err"; then fail "a flow reported as not placed"; fi

# The proposal enforced over the snapshot (check exits 0 allowed, 1 denied).
"$BULKHEAD" propose --flows "$flows" --snapshot "$snap" -o json > "$tmp/p.json" 2>/dev/null
probe() { # WANT FROM TO PORT
	local rc=0
	"$BULKHEAD" check --snapshot "$snap" --snapshot "$tmp/p.json" --from "$2" --to "$3" \
		--port "$4" > "$tmp/check" 2>&1 || rc=$?
	[ $rc = "$1" ] || { cat "$tmp/check"; fail "check $2 -> $3 $4: exit $rc, want $1"; }
	echo "ok: $(cat "$tmp/check")"
}
probe 0 "$fe" "$api" 8080
probe 0 "$api" "$redis" 6379
probe 1 "$fe" "$redis" 8080

# Policies that deny all of one direction are named on stderr, with why.
grep -qF 'propose: shop/bulkhead-frontend-ingress denies all ingress' "$tmp/err" ||
	fail "frontend's ingress not reported as deny-all"
grep -F 'propose: shop/bulkhead-frontend-ingress denies all ingress' "$tmp/err" |
	grep -qF 'only seen as a client' || fail "no reason for frontend's ingress"
grep -qF 'propose: data/bulkhead-redis-egress denies all egress' "$tmp/err" ||
	fail "redis's egress not reported as deny-all"
grep -F 'propose: data/bulkhead-redis-egress denies all egress' "$tmp/err" |
	grep -qF 'only seen as a server' || fail "no reason for redis's egress"
n=$(grep -c 'denies all' "$tmp/err")
[ "$n" = 2 ] || fail "$n deny-all lines, want 2"

# The api Deployment is gone: its flows cannot be placed.
"$py" - "$snap" "$tmp/gone.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["items"] = [i for i in s["items"] if not i["metadata"]["name"].startswith("api-")]
json.dump(s, open(sys.argv[2], "w"))
PY
rc=0
"$BULKHEAD" propose --flows "$flows" --snapshot "$tmp/gone.json" --out-file "$tmp/gone.yaml" \
	> "$tmp/out" 2> "$tmp/err" || rc=$?
[ $rc = 3 ] || fail "gone: exit $rc, want 3"
[ ! -e "$tmp/gone.yaml" ] && [ ! -s "$tmp/out" ] || fail "gone: output written"
[ "$(grep -vc '^propose: ' "$tmp/err")" = 1 ] || fail "gone: not one error line"
grep -v '^propose: ' "$tmp/err" | grep -qF '2 of 2 learned flows could not be placed' ||
	fail "gone: error line"
grep -qF 'propose: 0 policies for 0 workloads from 2 flows (2 not placed)' "$tmp/err" ||
	fail "gone: summary"
grep -qF 'propose: self-check: 0/2 learned flows allowed (0.0%)' "$tmp/err" ||
	fail "gone: self-check line"
grep -qF "propose: not placed: 10.1.1.10 $fe (shop/Deployment/frontend) -> 10.1.1.20 shop/api-5d4c8b7f9-aaaaa (shop/Deployment/api) TCP/8080 (1 flow): " "$tmp/err" ||
	fail "gone: frontend -> api flow not listed"
[ "$(grep -c '^propose: not placed: ' "$tmp/err")" = 2 ] || fail "gone: not 2 pairs listed"
grep -qF "shop/Deployment/api has no pod in the cluster and 10.1.1.20 is now $redis, created after the flow was last seen" "$tmp/err" ||
	fail "gone: no reason"
rc=0
"$BULKHEAD" propose --flows "$flows" --snapshot "$tmp/gone.json" --allow-uncovered \
	-o json > "$tmp/gone.json.out" 2> "$tmp/err" || rc=$?
[ $rc = 0 ] || fail "gone --allow-uncovered: exit $rc"
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["items"] == [], d' \
	"$tmp/gone.json.out" || fail "gone --allow-uncovered: policies written"
echo "ok: propose_rollout"
