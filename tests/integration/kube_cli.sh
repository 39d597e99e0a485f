#!/usr/bin/env bash
# integration.kube_cli: commands read the same cluster from the API
# (--kubeconfig, through the test API server over TLS) as from --snapshot:
# `check -o json` and `propose` print identical output both ways.  Then
# cluster access as kubectl users expect it: $KUBECONFIG with two files
# merged, ~/.kube/config, --context, an exec credential plugin whose token
# the server checks (run once per process), and the usage errors.
# Loopback only, no root.
set -euo pipefail
# Nothing from the machine running the test: no kubeconfig, not in a pod.
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
src=${BH_SOURCE_DIR:?}
bulkhead=${BULKHEAD:?}
tmp=$(mktemp -d /tmp/bh-kubecli.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$src/tests/apiserver/mkcerts.sh" "$tmp/certs"
export HOME=$tmp/home
mkdir -p "$HOME"

start() { # $1: snapshot file served
	rm -rf "$tmp/data" "$tmp/port"
	mkdir "$tmp/data"
	cp "$1" "$tmp/data/objects.json"
	/usr/bin/python3 "$src/tests/apiserver/apiserver.py" --dir "$tmp/data" \
		--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
		--token-file "$tmp/certs/token" --port-file "$tmp/port" &
	pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	[ -s "$tmp/port" ] || fail "the API server did not start"
	"$src/tests/apiserver/kubeconfig.sh" "$tmp/kubeconfig" "$(cat "$tmp/port")"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

n=0
for f in "$src"/tests/data/netpol-cases/0[1-9]*.json "$src"/tests/data/netpol-cases/1[0-9]*.json; do
	[ -f "$f" ] || continue
	start "$f"
	"$bulkhead" check --snapshot "$f" -o json --port 80 --protocol TCP > "$tmp/snap.out" 2>&1 || true
	"$bulkhead" check --kubeconfig "$tmp/kubeconfig" -o json --port 80 --protocol TCP > "$tmp/api.out" 2>&1 || true
	if ! cmp -s "$tmp/snap.out" "$tmp/api.out"; then
		diff -u "$tmp/snap.out" "$tmp/api.out" | head -20
		fail "check differs between --snapshot and --kubeconfig for $(basename "$f")"
	fi
	grep -q '"matrix"' "$tmp/api.out" || fail "no matrix from check for $(basename "$f"): $(head -c 300 "$tmp/api.out")"
	stop
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no netpol cases found"

# propose: the same proposal from the API as from the snapshot
snap=$src/tests/data/propose/snapshot.json
start "$snap"
for fl in "$src"/tests/data/propose/flows-node-1.json; do
	"$bulkhead" propose --flows "$fl" --snapshot "$snap" -o json > "$tmp/p-snap.out"
	"$bulkhead" propose --flows "$fl" --kubeconfig "$tmp/kubeconfig" -o json > "$tmp/p-api.out"
	cmp -s "$tmp/p-snap.out" "$tmp/p-api.out" || {
		diff -u "$tmp/p-snap.out" "$tmp/p-api.out" | head -20
		fail "propose differs between --snapshot and --kubeconfig"
	}
done

# In-cluster: the service account directory as kubelet lays it out (files
# behind a ..data symlink), no --kubeconfig and no --snapshot.
mkdir -p "$tmp/sa/..2026_01" && cp "$tmp/certs/ca.crt" "$tmp/certs/token" "$tmp/sa/..2026_01/"
ln -s ..2026_01 "$tmp/sa/..data"
ln -s ..data/token "$tmp/sa/token"
ln -s ..data/ca.crt "$tmp/sa/ca.crt"
for fl in "$src"/tests/data/propose/flows-node-1.json; do
	KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$(cat "$tmp/port") \
		BULKHEAD_SERVICEACCOUNT_DIR=$tmp/sa \
		"$bulkhead" propose --flows "$fl" -o json > "$tmp/p-incluster.out"
	cmp -s "$tmp/p-snap.out" "$tmp/p-incluster.out" || fail "propose differs in-cluster"
done
stop

# The API unreachable: a system error (exit 3) naming the server.
sed "s|127.0.0.1:[0-9]*|127.0.0.1:1|" "$tmp/kubeconfig" > "$tmp/kubeconfig.down"
set +e
"$bulkhead" check --kubeconfig "$tmp/kubeconfig.down" --port 80 > "$tmp/down.out" 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "unreachable API: exit $rc, want 3: $(cat "$tmp/down.out")"
grep -q "127.0.0.1:1" "$tmp/down.out" || fail "the error does not name the server: $(cat "$tmp/down.out")"
echo "kube_cli: $n check cases and propose identical from the API and from snapshots"

# --- kubectl-style access -------------------------------------------------
snap=$src/tests/data/netpol-cases/model.json
start "$snap"
port=$(cat "$tmp/port")
"$bulkhead" check --snapshot "$snap" -o json --port 80 --protocol TCP > "$tmp/want.out" || true
run() { # WANT_RC OUT ARGS... (environment from the caller)
	local want=$1 out=$2 rc=0
	shift 2
	"$bulkhead" check "$@" > "$out" 2> "$out.err" || rc=$?
	[ "$rc" = "$want" ] || fail "check $*: exit $rc, want $want: $(cat "$out.err")"
}

# $KUBECONFIG: the cluster in one file, users and contexts in another, in
# another directory (relative paths follow the file that holds them).  The
# first file to name an entry wins: a.yaml's cluster 't' and current-context
# 'good' shadow b.yaml's (which point to a dead port and a wrong token).
mkdir -p "$tmp/ka" "$tmp/kb"
cp "$tmp/certs/ca.crt" "$tmp/ka/ca.crt"
cp "$tmp/certs/token" "$tmp/kb/token"
cat > "$tmp/ka/a.yaml" <<KC
apiVersion: v1
kind: Config
current-context: good
clusters:
- name: t
  cluster: {server: 'https://127.0.0.1:$port', certificate-authority: ca.crt}
KC
cat > "$tmp/kb/b.yaml" <<KC
apiVersion: v1
kind: Config
current-context: bad
clusters:
- name: t
  cluster: {server: 'https://127.0.0.1:1', certificate-authority: '$tmp/certs/ca.crt'}
users:
- name: u
  user: {tokenFile: token}
- name: wrong
  user: {token: not-the-token}
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      args: ['$tmp/runs']
      env: [{name: PLUGIN_TOKEN_FILE, value: '$tmp/kb/token'}]
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- name: good
  context: {cluster: t, user: u, namespace: x}
- name: bad
  context: {cluster: t, user: wrong}
- name: exec
  context: {cluster: t, user: plugin}
KC
ka=$tmp/ka/a.yaml kb=$tmp/kb/b.yaml
KUBECONFIG="$ka:$kb" run 0 "$tmp/merged.out" -o json --port 80 --protocol TCP ||
	true
cmp -s "$tmp/want.out" "$tmp/merged.out" || fail "KUBECONFIG a:b differs from the snapshot"
# The other order: b.yaml's current-context and cluster win (a dead port).
KUBECONFIG="$kb:$ka" run 3 "$tmp/rev.out" --port 80
grep -q "127.0.0.1:1'" "$tmp/rev.out.err" || fail "KUBECONFIG b:a: $(cat "$tmp/rev.out.err")"
# A missing file in the list is skipped, as kubectl skips it.
KUBECONFIG="$tmp/missing.yaml:$ka:$kb" run 0 "$tmp/skip.out" -o json --port 80 --protocol TCP
# ~/.kube/config when $KUBECONFIG is not set (one file, a and b merged by hand).
mkdir -p "$HOME/.kube"
sed "s|certificate-authority: ca.crt|certificate-authority: $tmp/ka/ca.crt|" "$ka" > "$HOME/.kube/config"
sed -n '/^users:/,$p' "$kb" | sed "s|tokenFile: token|tokenFile: $tmp/kb/token|" >> "$HOME/.kube/config"
run 0 "$tmp/home.out" -o json --port 80 --protocol TCP
cmp -s "$tmp/want.out" "$tmp/home.out" || fail "~/.kube/config differs from the snapshot"
rm -r "$HOME/.kube"

# --context: a context with a wrong token is refused by the server (exit 3,
# and the error says so); the good one works; an unknown one is exit 2
# naming it and both files.
export KUBECONFIG="$ka:$kb"
run 3 "$tmp/ctx-bad.out" --context bad --port 80
grep -qi 'unauthorized\|401' "$tmp/ctx-bad.out.err" || fail "no 401 named: $(cat "$tmp/ctx-bad.out.err")"
run 0 "$tmp/ctx-good.out" --context good -o json --port 80 --protocol TCP
cmp -s "$tmp/want.out" "$tmp/ctx-good.out" || fail "--context good differs from the snapshot"
run 2 "$tmp/ctx-nope.out" --context nope --port 80
grep -q "'nope'" "$tmp/ctx-nope.out.err" && grep -qF "$ka" "$tmp/ctx-nope.out.err" &&
	grep -qF "$kb" "$tmp/ctx-nope.out.err" ||
	fail "unknown context: $(cat "$tmp/ctx-nope.out.err")"
# A context's namespace (good's is x) does not narrow anything (the run
# above printed the whole matrix); --namespace does: rows and columns are
# the pods of y, the same from the API as from the snapshot.
run 0 "$tmp/ns-api.out" --context good --namespace y -o json --port 80 --protocol TCP
"$bulkhead" check --snapshot "$snap" --namespace y -o json --port 80 --protocol TCP > "$tmp/ns-snap.out" || true
cmp -s "$tmp/ns-snap.out" "$tmp/ns-api.out" || fail "check --namespace differs between the API and the snapshot"
/usr/bin/python3 - "$tmp/ns-api.out" <<'PY' || fail "check --namespace y: not only the pods of y: $(cat "$tmp/ns-api.out")"
import json, sys
m = json.loads(open(sys.argv[1]).readline())["matrix"]
keys = set(m) | {k for row in m.values() for k in row}
sys.exit(0 if keys == {"y/a", "y/b", "y/c"} else 1)
PY
run 2 "$tmp/ns-nope.out" --context good --namespace nope --port 80
grep -q "'nope'" "$tmp/ns-nope.out.err" || fail "--namespace nope: $(cat "$tmp/ns-nope.out.err")"
# propose and apply --dry-run take --context too.
"$bulkhead" propose --flows "$src/tests/data/propose/flows-node-1.json" --context nope \
	> /dev/null 2> "$tmp/p-nope.err" && fail "propose --context nope succeeded"
grep -q "'nope'" "$tmp/p-nope.err" || fail "propose --context nope: $(cat "$tmp/p-nope.err")"

# An exec credential plugin: the server checks its token; it sees the
# cluster in KUBERNETES_EXEC_INFO (provideClusterInfo); it runs once per
# process while its credential has not expired (counted in a file).
cat > "$tmp/kb/plugin.sh" <<'SH'
#!/bin/sh
printf x >> "$1"
case "$KUBERNETES_EXEC_INFO" in
*'"server":"https://127.0.0.1:'*) ;;
*) echo "plugin: no cluster in KUBERNETES_EXEC_INFO" >&2; exit 4 ;;
esac
exp=$(date -u -d "${PLUGIN_EXPIRES:-+1 hour}" +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
printf '"status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$(cat "$PLUGIN_TOKEN_FILE")" "$exp"
SH
chmod +x "$tmp/kb/plugin.sh"
rm -f "$tmp/runs"
run 0 "$tmp/exec.out" --context exec -o json --port 80 --protocol TCP
cmp -s "$tmp/want.out" "$tmp/exec.out" || fail "exec plugin: output differs from the snapshot"
[ "$(wc -c < "$tmp/runs")" = 1 ] || fail "exec plugin ran $(wc -c < "$tmp/runs") times in one process, want 1"
# (This server holds another cluster than the flows': their ends are not
# placed, which --allow-uncovered lets through; the point is the plugin.)
"$bulkhead" propose --flows "$src/tests/data/propose/flows-node-1.json" --context exec -o json \
	--allow-uncovered > /dev/null 2>&1 || fail "propose through the exec plugin failed"
[ "$(wc -c < "$tmp/runs")" = 2 ] || fail "exec plugin: not run once for the second process"
stop
# propose --namespace: only the policies of that namespace, fewer than all.
start "$src/tests/data/propose/snapshot.json"
sed -i "s|127.0.0.1:[0-9]*'|127.0.0.1:$(cat "$tmp/port")'|" "$ka"
"$bulkhead" propose --flows "$src/tests/data/propose/flows-node-1.json" --context exec -o json \
	> "$tmp/p-all.json"
"$bulkhead" propose --flows "$src/tests/data/propose/flows-node-1.json" --context exec \
	--namespace shop -o json > "$tmp/p-shop.json"
/usr/bin/python3 - "$tmp/p-all.json" "$tmp/p-shop.json" <<'PY' || fail "propose --namespace shop"
import json, sys
a = json.load(open(sys.argv[1]))["items"]
s = json.load(open(sys.argv[2]))["items"]
assert s and all(i["metadata"]["namespace"] == "shop" for i in s), "other namespaces"
assert s == [i for i in a if i["metadata"]["namespace"] == "shop"], "not the same policies"
assert len(s) < len(a), "nothing was left out"
PY
stop
start "$snap"
sed -i "s|127.0.0.1:[0-9]*'|127.0.0.1:$(cat "$tmp/port")'|" "$ka"
# An expired credential is not reused: several runs in one process.
rm -f "$tmp/runs"
PLUGIN_EXPIRES="-1 minute" run 0 "$tmp/exp.out" --context exec -o json --port 80 --protocol TCP
[ "$(wc -c < "$tmp/runs")" -ge 2 ] || fail "an expired credential was reused"
# A wrong token from the plugin: the server refuses it (exit 3).
echo not-the-token > "$tmp/wrong-token"
sed "s|value: '$tmp/kb/token'|value: '$tmp/wrong-token'|" "$kb" > "$tmp/kb/b-wrong.yaml"
KUBECONFIG="$ka:$tmp/kb/b-wrong.yaml" run 3 "$tmp/exec-wrong.out" --context exec --port 80
grep -q not-the-token "$tmp/exec-wrong.out.err" && fail "the token appears in the error"
# A plugin that fails: exit 3 naming the plugin and its exit status, its
# stderr passed through.
printf '#!/bin/sh\necho "plugin: log in first" >&2\nexit 5\n' > "$tmp/kb/plugin.sh"
run 3 "$tmp/exec-fail.out" --context exec --port 80
grep -q "plugin.sh'.*status 5" "$tmp/exec-fail.out.err" || fail "plugin failure: $(cat "$tmp/exec-fail.out.err")"
grep -q "log in first" "$tmp/exec-fail.out.err" || fail "the plugin's stderr was not passed through"
unset KUBECONFIG

# --snapshot with --kubeconfig or --context: a usage error, not a choice.
run 2 "$tmp/both.out" --snapshot "$snap" --kubeconfig "$ka" --port 80
grep -q -- "--snapshot and --kubeconfig" "$tmp/both.out.err" || fail "both: $(cat "$tmp/both.out.err")"
# Nothing configured: exit 2, saying where it looked and suggesting --snapshot.
run 2 "$tmp/none.out" --port 80
for w in "--snapshot" "KUBECONFIG" "$HOME/.kube/config" "KUBERNETES_SERVICE_HOST"; do
	grep -qF -- "$w" "$tmp/none.out.err" || fail "no configuration: '$w' not named: $(cat "$tmp/none.out.err")"
done
stop
echo "kube_cli: KUBECONFIG merge, ~/.kube/config, --context and the exec plugin work"
