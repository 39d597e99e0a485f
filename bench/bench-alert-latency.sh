#!/usr/bin/env bash
# bench-alert-latency.sh BULKHEAD [TRIALS] [PATH]: preview alert latency of
# 'bulkhead agent --policy-mode preview', from the packet to the alert in
# PATH (default /report; /alerts is the socket's alert list).  As root:
# the node and pods of tests/data/learn/snapshot.json in network
# namespaces (tests/integration/lib/topology.sh), policy y/api-ingress
# (api takes TCP 80 from web only).  Each trial opens one new connection
# from x/cache-0 to y/api on a port not used before (a new alert key; the
# connection passes, preview) and polls PATH over the control socket every
# millisecond until the alert with that port is there.  Prints the median,
# p90 and max of TRIALS (default 50), and the same with the NFLOG flush
# interval (PREVIEW_FLUSH_CS, 50 ms: the kernel holds a lone logged packet
# that long before it sends the batch) for scale.
set -euo pipefail
BULKHEAD=$(realpath "${1:?bulkhead}")
trials=${2:-50}
path=${3:-/report}
BH_SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
BH_BUILD_DIR=$(cd "$(dirname "$BULKHEAD")/.." && pwd)
export BULKHEAD BH_SOURCE_DIR BH_BUILD_DIR
. "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
topo_init
snap="$BH_SOURCE_DIR/tests/data/learn/snapshot.json"
topo_pods_from_json "$snap" > "$TOPO_DIR/pods"
topo_add_pods "$TOPO_DIR/pods"
topo_start_servers
out=$TOPO_DIR
python3 - "$snap" "$out/cluster.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"].append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "api-ingress", "namespace": "y"},
    "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Ingress"],
             "ingress": [{"from": [{"namespaceSelector": {},
                                    "podSelector": {"matchLabels": {"app": "web"}}}],
                          "ports": [{"protocol": "TCP", "port": 80}]}]}})
json.dump(d, open(sys.argv[2], "w"))
PY
sock=$out/agent.sock
topo_bg ip netns exec "$TOPO_NODE" "$BULKHEAD" agent --node node-1 --snapshot "$out/cluster.json" \
	--policy-mode preview --state-dir "$out/state" --socket "$sock" --listen "" \
	> "$out/agent.log" 2>&1
for _ in $(seq 300); do
	[ "$(curl -s --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://agent/readyz)" = 200 ] &&
		break
	sleep 0.1
done
api=$(awk '$1 == "y/api-7c8d9f-xyz12" { print $2 }' "$out/pods")
python3 - "/run/netns/$(topo_pod_ns x/cache-0)" "$api" "$sock" "$path" "$trials" <<'PY'
import ctypes, json, os, socket, statistics, sys, time
netns, api, sock, path, trials = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
home = os.open("/proc/self/ns/net", os.O_RDONLY)
pod = os.open(netns, os.O_RDONLY)

def get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(f"GET {path} HTTP/1.0\r\nHost: agent\r\n\r\n".encode())
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return json.loads(body)

def alerts(doc):
    return doc["alerts"] if isinstance(doc, dict) else doc

def connect(port):
    assert libc.setns(pod, CLONE_NEWNET) == 0
    c = socket.socket()
    assert libc.setns(home, CLONE_NEWNET) == 0
    c.setblocking(False)
    t0 = time.monotonic()
    try:
        c.connect((api, port))
    except BlockingIOError:
        pass
    return c, t0

lat = []
for i in range(trials):
    port = 3000 + i
    c, t0 = connect(port)
    while not any(a["port"] == port for a in alerts(get(path))):
        if time.monotonic() - t0 > 5:
            sys.exit(f"no alert for port {port} in 5 s")
        time.sleep(0.001)
    lat.append((time.monotonic() - t0) * 1000)
    c.close()
lat.sort()
print(json.dumps({"path": path, "trials": trials,
                  "median_ms": round(statistics.median(lat), 1),
                  "p90_ms": round(lat[int(0.9 * (len(lat) - 1))], 1),
                  "max_ms": round(lat[-1], 1), "nflog_flush_ms": 50}))
PY
