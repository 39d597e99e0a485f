# shellcheck shell=bash
# Helpers of the tests that run the test API server (tests/apiserver) on
# loopback, no root (and the benchmarks under bench/ that do).  Source it
# once $tmp (the test's directory) is set.  The test puts its objects in
# $tmp/data/objects.json before api_start, and calls api_stop in its
# cleanup (the EXIT trap).  Sourcing it also unsets the variables that
# would point a client at another cluster (KUBECONFIG, KUBERNETES_SERVICE_*),
# sets fail=0 and exits 77 (skipped) without curl.
#   bad MSG...           prints "FAIL: MSG" and marks the test failed ($fail)
#   api_start [ARGS...]  the certificates and bearer token in $tmp/certs
#                        (mkcerts.sh) the first time, then apiserver.py on
#                        $tmp/data with TLS, the token and ARGS, its stderr
#                        appended to $tmp/api.log; sets $api (its pid) and
#                        $apiport and writes $tmp/kubeconfig once it listens.
#                        Not listening in 10 s: "FAIL: the API server did
#                        not start", the log, exit 1
#   api_stop             stops $api (kill, wait) if it runs
#   api_control          POSTs stdin (JSON) to /_control, the reply on stdout
#   api_get PATH         GET PATH with the bearer token, the body on stdout
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
api_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
api=
api_start() {
	[ -s "$tmp/certs/token" ] || "$api_src/tests/apiserver/mkcerts.sh" "$tmp/certs" > /dev/null 2>&1
	mkdir -p "$tmp/data"
	rm -f "$tmp/port"
	/usr/bin/python3 "$api_src/tests/apiserver/apiserver.py" --dir "$tmp/data" \
		--cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
		--token-file "$tmp/certs/token" --port-file "$tmp/port" "$@" 2>> "$tmp/api.log" &
	api=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	if [ ! -s "$tmp/port" ]; then
		echo "FAIL: the API server did not start"
		cat "$tmp/api.log"
		exit 1
	fi
	apiport=$(cat "$tmp/port")
	"$api_src/tests/apiserver/kubeconfig.sh" "$tmp/kubeconfig" "$apiport"
}
api_stop() {
	if [ -n "$api" ]; then
		kill "$api" 2> /dev/null || true
		wait "$api" 2> /dev/null || true
	fi
	api=
}
api_control() {
	curl -sk -X POST --data-binary @- "https://127.0.0.1:$apiport/_control"
}
api_get() {
	curl -sk -H "Authorization: Bearer $(cat "$tmp/certs/token")" "https://127.0.0.1:$apiport$1"
}
command -v curl > /dev/null || { echo "curl missing, skipping"; exit 77; }
