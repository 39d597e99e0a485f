# Helpers of the tests that run 'bulkhead agent' in the node namespace of
# tests/integration/lib/topology.sh.  Source it after topology.sh; the
# test sets $sock (the agent's control socket) before calling them.
#   bad MSG...          prints "FAIL: MSG" and marks the test failed ($fail)
#   node_curl ARGS...   curl -s inside the node namespace
#   agent_get PATH      GET PATH on the control socket, the body on stdout
#   agent_field EXPR    a field of /status: EXPR is a Python subscript
#                       ("['counts']['flows']"), printed as Python prints it
#   agent_readyz        /readyz's HTTP code on the socket (its body in
#                       $TOPO_DIR/readyz)
#   agent_wait_ready [TENTHS]  /readyz is 200 within TENTHS tenths of a
#                       second (100); 1 and a FAIL line otherwise
# Readiness is asked on the socket: a TCP connection on the node's loopback
# would be a flow for conntrack.
fail=0
bad() { echo "FAIL: $*"; fail=1; }
node_curl() { ip netns exec "$TOPO_NODE" curl -s "$@"; }
agent_get() { node_curl --unix-socket "$sock" "http://agent$1"; }
agent_field() {
	agent_get /status |
		python3 -c "import json, sys; d = json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"
}
agent_readyz() {
	node_curl --unix-socket "$sock" -o "$TOPO_DIR/readyz" -w '%{http_code}' http://agent/readyz
}
agent_wait_ready() {
	for _ in $(seq "${1:-100}"); do [ "$(agent_readyz)" = 200 ] && return 0; sleep 0.1; done
	bad "agent not ready in $((${1:-100} / 10)) s: $(cat "$TOPO_DIR/readyz" 2> /dev/null)"
	return 1
}
