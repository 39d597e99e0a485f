#!/usr/bin/env bash
# netns.learn_ct_overrun: conntrack events lost to a full socket buffer
# (ENOBUFS) are counted as overruns and answered with a fresh dump, so the
# connections still in the table are learned all the same.  The learner is
# stopped (SIGSTOP) while 3000 new UDP connections are made, with a small
# receive buffer, so the overrun is certain; after SIGCONT every flow must
# be in the file and the overrun reported.
set -euo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}"
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"

topo_init
printf 'a/a 10.78.0.1\nb/b 10.78.0.2\n' > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
# Connection tracking runs in a namespace once a rule needs it.
topo_node_exec nft -f - <<'NFT'
table ip bhctoverrun {
	chain forward_ct {
		type filter hook forward priority 0; policy accept;
		ct state new counter
	}
}
NFT
out=$TOPO_DIR
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" learn --conntrack --conntrack-rcvbuf 65536 \
	-o "$out/ct.json"
learner=$TOPO_LAST_PID
sleep 1
kill -STOP "$learner"
topo_pod_exec a/a python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(b"x", ("10.78.0.2", 20000 + i))
'
kill -CONT "$learner"
sleep 2
kill -TERM "$learner"
wait "$learner" || { echo "learner failed"; exit 1; }
python3 - "$out/ct.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
got = {f["port"] for f in d["flows"] if f["protocol"] == "UDP"
       and f["src"]["ip"] == "10.78.0.1" and f["dst"]["ip"] == "10.78.0.2"}
want = set(range(20000, 23000))
print(f"flows {len(got & want)} of {len(want)}, overruns {d['stats']['overruns']}")
if want - got:
    print("missing after resync:", sorted(want - got)[:10]); sys.exit(1)
if d["stats"]["overruns"] < 1:
    print("the overrun was not reported"); sys.exit(1)
PY
