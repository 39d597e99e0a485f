# shellcheck shell=bash
# cluster.sh: a two-node cluster in network namespaces for the cluster-wide
# tests (docs/cluster.md), sourced by tests/integration/cluster.sh and
# bench/bench-cluster-enforce.sh after topology.sh.
#
#   node-a ($CL_NS_A)  10.0.0.1 ---- bhn-a/bhn-b ---- 10.0.0.2  node-b ($CL_NS_B)
#   pods 10.244.1.0/24      \                       /      pods 10.244.2.0/24
#                            \-- bhapi -- api ns --/
#                          10.255.0.1: the test API server and the "workstation"
#
# Each node namespace is topology.sh's routed node (a veth per pod, "bhv*",
# proxy ARP, the gateway 169.254.1.1 on lo, a blackhole default route) plus
# a route to the other node's pod CIDR over the node-to-node veth.  The API
# namespace ($CL_NS_API) holds 10.255.0.1 on lo, one veth to each node and
# nothing else: the test API server listens there (TLS, a certificate for
# 10.255.0.1 signed by mkcerts.sh's CA), and the CLI runs there as a
# workstation would, with its own kubeconfig.  No route leads out of the
# namespaces made here.
#
# The cluster (CL_PODS, "NODE NS/NAME IP KIND WORKLOAD LABEL" per pod):
#   shop/frontend (Deployment)  node-a
#   shop/api      (Deployment)  node-a and node-b (one workload on both)
#   shop/client   (Deployment)  node-a (talks to frontend; a new flow later)
#   shop/db       (StatefulSet) node-b
#   ghost/a, ghost/b            node-a, node-b: a veth and an address each,
#                               but no Pod object (an address the cluster
#                               does not know: no policy isolates it, so a
#                               probe from ghost-a to db is decided by
#                               node-b's agent alone, ghost-b to frontend
#                               by node-a's)
# The objects (Nodes, Namespaces, Pods with nodeName, labels and
# ownerReferences) and the project's CRDs (manifests/crd-*.yaml) are the
# API server's initial state.
#
#   cluster_setup               the namespaces, pods, servers and API server
#   cluster_agent NODE [ARGS]   starts NODE's agent (a or b) in its node
#                               namespace with --cluster; CL_AGENT[NODE]
#   cluster_agent_pid NODE      the agent process's pid (for kill -9)
#   cl_cli ARGS...              bulkhead --kubeconfig ... ARGS in the API ns
#   cl_api PATH [CURL ARGS]     a GET of PATH on the API server (JSON)
#   cl_control                  POST stdin to /_control
#   cl_pass FROM TO PORT [MS]   whether FROM's TCP connection to TO:PORT
#                               completes within MS ms ("true"/"false")
#   cl_wait TENTHS CMD...       CMD succeeds within TENTHS tenths of a second
# Cleanup is topology.sh's EXIT trap: every process by pid, every netns.

CL_API_IP=10.255.0.1
CL_NODES="a b"
declare -A CL_NS CL_AGENT CL_SOCK CL_NODE_IP CL_POD_IP CL_POD_NODE
CL_NODE_IP[a]=10.0.0.1
CL_NODE_IP[b]=10.0.0.2
CL_PODS=$(cat <<'P'
a shop/frontend-6b7c8d9f4-fa001 10.244.1.10 Deployment frontend frontend
a shop/api-5d6e7f8a9-aa001 10.244.1.11 Deployment api api
a shop/client-7f8e9d0c1-cc001 10.244.1.12 Deployment client client
b shop/api-5d6e7f8a9-bb002 10.244.2.11 Deployment api api
b shop/db-0 10.244.2.12 StatefulSet db db
a ghost/a 10.244.1.99 - - -
b ghost/b 10.244.2.99 - - -
P
)
# The pods by short name (the tests' words).
declare -A CL_POD
CL_POD[frontend]=shop/frontend-6b7c8d9f4-fa001
CL_POD[api-a]=shop/api-5d6e7f8a9-aa001
CL_POD[client]=shop/client-7f8e9d0c1-cc001
CL_POD[api-b]=shop/api-5d6e7f8a9-bb002
CL_POD[db]=shop/db-0
CL_POD[ghost-a]=ghost/a
CL_POD[ghost-b]=ghost/b
# 12 s: the whole of step 1 (21 connections, then each node's NodeFlows
# written) must fit in the learning window on a loaded CI runner under ASan,
# or the proposal is computed from part of the flows.
CL_LEARN=${CL_LEARN:-12s}
CL_INTERVAL=${CL_INTERVAL:-1s}

cl_log() { echo "cluster: $(date +%T.%N | cut -c1-12) $*" >&2; }

cluster_setup() {
	local n p ns name ip kind wl app
	for t in nft curl openssl; do
		command -v "$t" > /dev/null || { echo "cluster: $t missing, skipping" >&2; exit 77; }
	done
	TOPO_HAIRPIN=0
	CL_NS[a]=$TOPO_NODE
	CL_NS_A=$TOPO_NODE
	topo_node_add "$TOPO_ID-b"
	CL_NS[b]=$TOPO_NODE
	CL_NS_B=$TOPO_NODE
	CL_NS_API=$TOPO_ID-api
	topo_netns_add "$CL_NS_API"

	# node-a <-> node-b, each routing the other's pod CIDR.
	ip -n "$CL_NS_A" link add bhn-b type veth peer name bhn-a netns "$CL_NS_B" ||
		topo_die "the node-to-node veth"
	ip -n "$CL_NS_A" addr add "${CL_NODE_IP[a]}/30" dev bhn-b
	ip -n "$CL_NS_B" addr add "${CL_NODE_IP[b]}/30" dev bhn-a
	ip -n "$CL_NS_A" link set bhn-b up
	ip -n "$CL_NS_B" link set bhn-a up
	ip -n "$CL_NS_A" route add 10.244.2.0/24 via "${CL_NODE_IP[b]}" dev bhn-b
	ip -n "$CL_NS_B" route add 10.244.1.0/24 via "${CL_NODE_IP[a]}" dev bhn-a

	# The API namespace: 10.255.0.1, a /30 to each node.
	ip -n "$CL_NS_API" addr add "$CL_API_IP/32" dev lo
	ip -n "$CL_NS_API" route add blackhole default
	local i=1
	for n in $CL_NODES; do
		ip -n "${CL_NS[$n]}" link add bhapi type veth peer name "api-$n" netns "$CL_NS_API" ||
			topo_die "the API veth of node-$n"
		ip -n "${CL_NS[$n]}" addr add "10.255.$i.1/30" dev bhapi
		ip -n "$CL_NS_API" addr add "10.255.$i.2/30" dev "api-$n"
		ip -n "${CL_NS[$n]}" link set bhapi up
		ip -n "$CL_NS_API" link set "api-$n" up
		ip -n "${CL_NS[$n]}" route add "$CL_API_IP/32" via "10.255.$i.2" dev bhapi
		i=$((i + 1))
	done

	# The pods, each behind its node.
	: > "$TOPO_DIR/pods"
	while read -r n p ip kind wl app; do
		TOPO_NODE=${CL_NS[$n]}
		topo_add_pod "$p" "$ip"
		CL_POD_IP[$p]=$ip
		CL_POD_NODE[$p]=$n
		echo "$p $ip" >> "$TOPO_DIR/pods"
	done <<< "$CL_PODS"
	TOPO_NODE=$CL_NS_A
	topo_start_servers

	cluster_objects > "$TOPO_DIR/objects.json" || topo_die "the cluster's objects"
	cluster_apiserver
}

# The API server's initial objects: Namespaces, Nodes, Pods, the CRDs.
cluster_objects() {
	"$TOPO_PY" - "$BH_SOURCE_DIR" "${CL_NODE_IP[a]}" "${CL_NODE_IP[b]}" "$CL_PODS" <<'PY'
import glob, json, sys
import yaml
src, ip_a, ip_b, pods = sys.argv[1:5]
items = [{"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}
         for ns in ("shop", "bulkhead-system")]
for n, ip in (("a", ip_a), ("b", ip_b)):
    items.append({"apiVersion": "v1", "kind": "Node",
                  "metadata": {"name": "node-" + n, "labels": {"kubernetes.io/hostname": "node-" + n}},
                  "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                           {"type": "Hostname", "address": "node-" + n}]}})
for i, line in enumerate(pods.split("\n")):
    if not line.strip():
        continue
    n, pod, ip, kind, wl, app = line.split()
    if kind == "-":
        continue
    ns, name = pod.split("/")
    labels = {"app": app}
    if kind == "Deployment":
        rs = name.rsplit("-", 1)[0]
        labels["pod-template-hash"] = rs.rsplit("-", 1)[1]
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs}
    else:
        labels["statefulset.kubernetes.io/pod-name"] = name
        owner = {"apiVersion": "apps/v1", "kind": kind, "name": wl}
    owner.update({"uid": "uid-%s" % wl, "controller": True, "blockOwnerDeletion": True})
    items.append({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"namespace": ns, "name": name, "uid": "pod-%d" % i,
                               "creationTimestamp": "2026-12-01T00:00:00Z",
                               "labels": labels, "ownerReferences": [owner]},
                  "spec": {"nodeName": "node-" + n,
                           "containers": [{"name": "c", "image": "serve",
                                           "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
                  "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                             "hostIP": ip_a if n == "a" else ip_b}})
# The project's CRDs, as kubectl apply -f manifests/ would create them.
for f in sorted(glob.glob(src + "/manifests/crd-*.yaml")):
    items.extend(d for d in yaml.safe_load_all(open(f)) if d)
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout, indent=1)
PY
}

# The test API server in the API namespace on 10.255.0.1, a certificate for
# that address, and the kubeconfigs: $TOPO_DIR/kubeconfig (the nodes' and
# the workstation's: every client reaches 10.255.0.1).
cluster_apiserver() {
	local d=$TOPO_DIR certs=$TOPO_DIR/certs
	"$BH_SOURCE_DIR/tests/apiserver/mkcerts.sh" "$certs" > /dev/null || topo_die "mkcerts.sh"
	(
		cd "$certs" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-subj "/CN=$CL_API_IP" -keyout server.key -out server.csr &&
			printf 'subjectAltName=IP:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
				"$CL_API_IP" > server.ext &&
			openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
				-days 2 -extfile server.ext -out server.crt
	) > /dev/null 2>&1 || topo_die "the API server's certificate for $CL_API_IP"
	mkdir -p "$d/data"
	cp "$d/objects.json" "$d/data/objects.json"
	rm -f "$d/port"
	topo_bg ip netns exec "$CL_NS_API" "$TOPO_PY" "${CL_APISERVER:-$BH_SOURCE_DIR/tests/apiserver/apiserver.py}" \
		--dir "$d/data" --cert "$certs/server.crt" --key "$certs/server.key" \
		--token-file "$certs/token" --port-file "$d/port" --address "$CL_API_IP" \
		--sent-log "$d/sent.log" ${CL_API_ARGS:-} 2> "$d/api.log"
	CL_API_PID=$TOPO_LAST_PID
	cl_wait 300 test -s "$d/port" || { cat "$d/api.log" >&2; topo_die "the API server did not start"; }
	CL_API_PORT=$(cat "$d/port")
	CL_API=https://$CL_API_IP:$CL_API_PORT
	"$BH_SOURCE_DIR/tests/apiserver/kubeconfig.sh" "$d/kubeconfig" "$CL_API_PORT"
	sed -i "s|https://127.0.0.1:|https://$CL_API_IP:|" "$d/kubeconfig"
	CL_KUBECONFIG=$d/kubeconfig
}

# Starts NODE's agent (a or b) in its node namespace: --cluster, learning
# on the pod veths and conntrack, no TCP listener (the control socket
# only).  ARGS are added to its command line.
cluster_agent() {
	local n=$1 log
	shift
	log=$TOPO_DIR/agent-$n.log
	[ -e "$log" ] && cat "$log" >> "$TOPO_DIR/agent-$n.old.log"
	CL_SOCK[$n]=$TOPO_DIR/agent-$n.sock
	rm -f "${CL_SOCK[$n]}"
	topo_bg ip netns exec "${CL_NS[$n]}" "$BULKHEAD" agent ${CL_CLUSTER---cluster} --node "node-$n" \
		--kubeconfig "$CL_KUBECONFIG" --interface 'bhv*' --conntrack \
		--learn-duration "$CL_LEARN" --cluster-interval "$CL_INTERVAL" --listen "" \
		--state-dir "$TOPO_DIR/state-$n" --socket "${CL_SOCK[$n]}" ${CL_AGENT_ARGS:-} "$@" \
		> "$log" 2>&1
	CL_AGENT[$n]=$TOPO_LAST_PID
}

# The pid of NODE's agent process (ip netns exec execs it; should a version
# fork, its child).
cluster_agent_pid() {
	local p=${CL_AGENT[$1]}
	pgrep -P "$p" -x bulkhead || echo "$p"
}

# Whether NODE's agent answers /readyz 200.
cl_ready() {
	[ "$(ip netns exec "${CL_NS[$1]}" curl -s -o /dev/null -w '%{http_code}' \
		--unix-socket "${CL_SOCK[$1]}" http://agent/readyz)" = 200 ]
}

# GET PATH on NODE's control socket.
cl_agent_get() { ip netns exec "${CL_NS[$1]}" curl -s --unix-socket "${CL_SOCK[$1]}" "http://agent$2"; }

# The CLI as a workstation runs it: in the API namespace, the kubeconfig.
cl_cli() {
	ip netns exec "$CL_NS_API" "$BULKHEAD" "$@" --kubeconfig "$CL_KUBECONFIG"
}

# GET PATH on the API server (as the workstation, with the token).
cl_api() {
	local path=$1
	shift
	ip netns exec "$CL_NS_API" curl -s --cacert "$TOPO_DIR/certs/ca.crt" \
		-H "Authorization: Bearer $(cat "$TOPO_DIR/certs/token")" "$@" "$CL_API$path"
}
cl_control() {
	ip netns exec "$CL_NS_API" curl -s --cacert "$TOPO_DIR/certs/ca.crt" \
		-X POST --data-binary @- "$CL_API/_control"
}

# cl_pass FROM TO PORT [MS]: FROM's TCP connection to TO's PORT (pods by
# short name) completes within MS ms (2000: a pass on a loaded machine is
# not a drop; a drop is never a pass, so a check for one can be shorter).
cl_pass() {
	echo "${CL_POD[$2]} ${CL_POD_IP[${CL_POD[$2]}]} $3 TCP" |
		topo_pod_exec "${CL_POD[$1]}" "$(topo_tool probe)" --timeout-ms "${4:-2000}" |
		grep -q '"ok":true' && echo true || echo false
}

# cl_wait TENTHS CMD...: CMD succeeds within TENTHS tenths of a second.
cl_wait() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}
