#!/usr/bin/env bash
# netns.learn_sources: a live learn that cannot learn anything says so, at
# the default log level, and fails at once when no source can be opened
# (issue 18), in a fresh node namespace made here:
#   1. --interface with a glob that matches no interface: exit 0 (one may
#      appear), a warning naming the glob at start and at the end, and the
#      summary (interfaces, flows) without -v;
#   2. --conntrack where nothing is tracked (traffic, but no rule uses
#      conntrack in this namespace): a warning naming conntrack, the
#      summary's conntrack line;
#   3. --interface and --conntrack as an unprivileged user (setpriv to
#      nobody): every open fails, so exit 3 within seconds (not after
#      --duration) with one line that says to run as root;
#   4. a capture that works: the summary counts it;
#   5. SIGHUP stops a live run and the file is written.
set -uo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
fail=0
out=$TOPO_DIR
chmod 0777 "$out"

# learn_in NAME ARGS...: runs learn in the node namespace (stderr to
# $out/NAME.err, exit status to $out/NAME.rc, seconds to $out/NAME.s).
learn_in() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	timeout 60 ip netns exec "$TOPO_NODE" "$@" > /dev/null 2> "$out/$name.err"
	rc=$?
	echo "$rc" > "$out/$name.rc"
	echo $(($(date +%s) - t0)) > "$out/$name.s"
}
has() { # NAME LEVEL TEXT: a log line of that level holding TEXT
	grep "level=$2 " "$out/$1.err" | grep -qF -- "$3" ||
		{ echo "FAIL: $1: no level=$2 line with '$3':"; cat "$out/$1.err"; fail=1; }
}
rc_is() { # NAME RC
	[ "$(cat "$out/$1.rc")" = "$2" ] ||
		{ echo "FAIL: $1: exit $(cat "$out/$1.rc"), expected $2"; cat "$out/$1.err"; fail=1; }
}

# 1. A glob matching nothing (a learner outside the node's namespace).
learn_in glob "$BULKHEAD" learn --interface 'bhnomatch*' --duration 2 -o "$out/glob.json"
rc_is glob 0
has glob warning "--interface 'bhnomatch*' matches no interface"
has glob warning "--interface 'bhnomatch*' matched no interface during the run"
has glob notice "learn: interfaces: 0 captured"
has glob notice "learn: 0 flows"
has glob warning "no flow was learned"

# 2. Conntrack tracking nothing, with traffic on the node's loopback.
learn_in ct "$BULKHEAD" learn --conntrack --duration 3 -o "$out/ct.json" &
learner=$!
sleep 1
topo_node_exec "$TOPO_PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):
    s.sendto(b"x", ("127.0.0.1", 20000 + i))
'
wait "$learner"
rc_is ct 0
has ct warning "--conntrack: the conntrack table of this network namespace is empty"
has ct warning "--conntrack: no connection was tracked during the run"
has ct notice "learn: conntrack: 0 entries"

# 3. Not root: nothing can be opened.  --duration 30 must not be waited out.
nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
if ! ip netns exec "$TOPO_NODE" "${nobody[@]}" true 2> /dev/null; then
	nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
for src in "--interface lo" "--conntrack" "--interface lo --conntrack"; do
	name=nobody$(echo "$src" | tr -d ' -')
	# shellcheck disable=SC2086
	learn_in "$name" "${nobody[@]}" "$BULKHEAD" learn $src --duration 30 -o "$out/$name.json"
	rc_is "$name" 3
	if [ "$(cat "$out/$name.s")" -gt 10 ]; then
		echo "FAIL: $name: took $(cat "$out/$name.s") s, expected an immediate failure"
		fail=1
	fi
	if [ "$(wc -l < "$out/$name.err")" != 1 ] ||
		! grep -qF "no source could be opened" "$out/$name.err" ||
		! grep -qF "run learn as root" "$out/$name.err"; then
		echo "FAIL: $name: expected one line saying to run as root:"; cat "$out/$name.err"
		fail=1
	fi
	[ ! -e "$out/$name.json" ] || { echo "FAIL: $name: a flows file was written"; fail=1; }
done

# 4. A capture that opens: counted in the summary, no warning about it.
learn_in lo "$BULKHEAD" learn --interface lo --duration 2 -o "$out/lo.json"
rc_is lo 0
has lo notice "learn: interfaces: 1 captured (1 at the end), 0 could not be opened"
if grep -q "level=warning.*--interface 'lo'" "$out/lo.err"; then
	echo "FAIL: lo: a warning about a glob that matched:"; cat "$out/lo.err"; fail=1
fi

# 5. SIGHUP (a closed terminal) stops a live run like SIGTERM: the flows
# learned so far are written.  timeout sends it, to its child only.
timeout --preserve-status -s HUP 2 ip netns exec "$TOPO_NODE" \
	"$BULKHEAD" learn --interface lo -o "$out/hup.json" 2> "$out/hup.err"
echo $? > "$out/hup.rc"
rc_is hup 0
grep -Eq '"kind": ?"FlowList"' "$out/hup.json" 2> /dev/null ||
	{ echo "FAIL: hup: no flows file after SIGHUP"; fail=1; }

[ "$fail" = 0 ] && echo "learn_sources: ok"
exit $fail
