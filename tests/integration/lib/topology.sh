# shellcheck shell=bash
# topology.sh: the netns test topology of shared/design.md ("Test topology"),
# sourced by tests/integration/*.sh and bench/*.sh.
#
# One "node" namespace routes to one namespace per pod, like a routed CNI
# (Calico): a veth per pod, the pod's address as /32 (/128) on its eth0, a
# /32 (/128) route per pod on the node, proxy ARP on the node's veth ends and
# a default route in each pod through the link-local gateway 169.254.1.1
# (fe80::1 for IPv6).  The node's own default route is a blackhole, so no
# test packet can leave the namespaces made here.
#
# Usage:
#   . "$BH_SOURCE_DIR/tests/integration/lib/topology.sh"
#   topo_init                       # exits 77 without root; sets TOPO_NODE,
#                                   # TOPO_DIR and an EXIT trap that cleans up
#   topo_pods_from_json SNAPSHOT... > "$TOPO_DIR/pods"   # "ns/pod IPv4 [IPv6]"
#   topo_add_pods "$TOPO_DIR/pods"  # one netns + veth + routes per pod
#   topo_start_servers              # serve TCP+UDP 80 and 81 in every pod
#   topo_node_exec "$BULKHEAD" apply --snapshot S --node NODE --mode enforce
#   topo_probe_all OUT.jsonl        # every pod -> every pod, 80/81 x TCP/UDP
#   topo_pod_exec x/a CMD...        # run in a pod's namespace
#   topo_neigh_flush                # empty every ARP/NDP cache
#   topo_bg CMD...                  # background process, killed at cleanup
#   topo_node_add NAME              # another node namespace, now the current one
#   topo_on_exit 'shell code'       # extra cleanup, run before the netns go
#
# Hairpin (TOPO_HAIRPIN=1, the default): a pod's traffic to its own address
# is routed out through the node and back, instead of over loopback, so the
# node's ruleset decides self cells too (a NetworkPolicy truth table has
# them).  Policy routing in the pod sends locally generated packets to its
# own address via the gateway; accept_local lets them back in.
#
# Bridged (TOPO_BRIDGED=1): what flannel or kindnet build instead.  A
# bridge cni0 in the node namespace holds the gateway addresses
# (TOPO_BRIDGE_IP4/6, with the prefix that covers the pods: /22 and /62
# for model.json), each pod's veth is a port of it, pods carry their
# address with that prefix (on-link to each other: pod-to-pod frames are
# bridged, never routed) and a default route via the gateway.
# TOPO_BR_NF=0|1 sets bridge-nf-call-iptables/-ip6tables in the node
# namespace (per namespace since Linux 5.3; the test skips when the
# sysctls are missing).
#
# Knobs (environment): TOPO_IPV6=1 probes IPv6 as well (when pods have one),
# TOPO_PORTS ("80 81"), TOPO_PROTOS ("TCP UDP"), TOPO_TIMEOUT_MS (400),
# BH_BUILD_DIR (where tests/tools/{probe,serve} are built).
#
# Names: every netns is "bh<PID>-...", so parallel tests never collide, and
# the EXIT trap kills what this shell started (by PID) and deletes every
# netns it created, on failure too.

TOPO_ID="bh$$"
TOPO_NODE="$TOPO_ID-node"
TOPO_NODE_IP4=169.254.1.1
TOPO_NODE_IP6=fe80::1
TOPO_NETNS=()
TOPO_PIDS=()
TOPO_HOOKS=()
TOPO_PODS=()
declare -A TOPO_POD_NS TOPO_POD_IP4 TOPO_POD_IP6
TOPO_PORTS=${TOPO_PORTS:-"80 81"}
TOPO_PROTOS=${TOPO_PROTOS:-"TCP UDP"}
TOPO_TIMEOUT_MS=${TOPO_TIMEOUT_MS:-400}
TOPO_IPV6=${TOPO_IPV6:-0}
TOPO_HAIRPIN=${TOPO_HAIRPIN:-1}
TOPO_BRIDGED=${TOPO_BRIDGED:-0}
TOPO_BR_NF=${TOPO_BR_NF:-0}
TOPO_BRIDGE_IP4=${TOPO_BRIDGE_IP4:-10.200.3.254/22}
TOPO_BRIDGE_IP6=${TOPO_BRIDGE_IP6:-fd00:200:0:3::fe/62}
if [ "$TOPO_BRIDGED" = 1 ]; then
	TOPO_NODE_IP4=${TOPO_BRIDGE_IP4%/*}
	TOPO_NODE_IP6=${TOPO_BRIDGE_IP6%/*}
fi
# The interpreter itself, not a version-manager shim in front of it: the
# tests run python a few hundred times and a shim costs ~0.4 s a call.
TOPO_PY=$(python3 -c 'import sys; print(sys.executable)' 2> /dev/null || echo python3)

topo_log() { echo "topology: $*" >&2; }
topo_die() { echo "topology: $*" >&2; exit 1; }

topo_tool() {
	local t="${BH_BUILD_DIR:-}/tests/tools/$1"
	[ -x "$t" ] || topo_die "test tool '$t' not built (set BH_BUILD_DIR)"
	echo "$t"
}

topo_cleanup() {
	local rc=$? h p ns
	trap - EXIT INT TERM
	for h in "${TOPO_HOOKS[@]}"; do eval "$h" || true; done
	for p in "${TOPO_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${TOPO_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in "${TOPO_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	[ -n "${TOPO_DIR:-}" ] && rm -rf "$TOPO_DIR"
	exit "$rc"
}

topo_on_exit() { TOPO_HOOKS+=("$1"); }

# Runs @2.. in netns @1, with sysctl writes batched by the caller.
topo_netns_add() {
	ip netns add "$1" || topo_die "cannot create netns '$1'"
	TOPO_NETNS+=("$1")
	ip -n "$1" link set lo up
}

topo_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "topology: needs root (network namespaces), skipping" >&2
		exit 77
	fi
	command -v ip >/dev/null || { echo "topology: iproute2 missing, skipping" >&2; exit 77; }
	TOPO_DIR=$(mktemp -d "/tmp/$TOPO_ID.XXXXXX")
	trap topo_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if ! ip netns add "$TOPO_NODE" 2>/dev/null; then
		echo "topology: cannot create network namespaces here, skipping" >&2
		exit 77
	fi
	TOPO_NETNS+=("$TOPO_NODE")
	ip -n "$TOPO_NODE" link set lo up
	topo_node_setup
}

# Another node namespace @1 (a "$TOPO_ID-" name), set up as topo_init's and
# made the current one: pods added from now on hang off it.  Benchmarks
# keep one node per ruleset, each loaded once, and alternate between them.
topo_node_add() {
	TOPO_NODE=$1
	topo_netns_add "$TOPO_NODE"
	topo_node_setup
}

topo_node_setup() {
	ip netns exec "$TOPO_NODE" sh -c '
		echo 1 > /proc/sys/net/ipv4/ip_forward
		echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
		echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
		echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
		echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
		echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
		echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter' ||
		topo_die "cannot set sysctls in '$TOPO_NODE'"
	# The node's own address is the pods' gateway (as Calico's 169.254.1.1,
	# answered by ARP because it is local; proxy ARP on the veths answers
	# for everything else routed elsewhere), and the default route is a
	# blackhole: a packet not routed to a pod ends here, it never leaves.
	if [ "$TOPO_BRIDGED" = 1 ]; then
		topo_bridge_setup
	else
		ip -n "$TOPO_NODE" addr add "$TOPO_NODE_IP4/32" dev lo
	fi
	ip -n "$TOPO_NODE" route add blackhole default
	ip -n "$TOPO_NODE" -6 route add blackhole default 2>/dev/null || true
}

# The bridge of TOPO_BRIDGED=1 and br_netfilter's switch (TOPO_BR_NF).
topo_bridge_setup() {
	ip -n "$TOPO_NODE" link add cni0 type bridge || topo_die "cannot create a bridge"
	ip -n "$TOPO_NODE" addr add "$TOPO_BRIDGE_IP4" dev cni0
	ip -n "$TOPO_NODE" addr add "$TOPO_BRIDGE_IP6" dev cni0 nodad
	ip -n "$TOPO_NODE" link set cni0 up
	topo_br_nf "$TOPO_BR_NF"
}

# br_netfilter on (1) or off (0) in the node namespace; exits 77 when the
# kernel has no per-namespace switch (no br_netfilter).
topo_br_nf() {
	ip netns exec "$TOPO_NODE" sh -c "
		[ -w /proc/sys/net/bridge/bridge-nf-call-iptables ] || exit 1
		echo $1 > /proc/sys/net/bridge/bridge-nf-call-iptables &&
		echo $1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables" || {
		echo "topology: no per-namespace br_netfilter switch here, skipping" >&2
		exit 77
	}
}

# "ns/pod IPv4 [IPv6]" per pod ("-" for a missing family) from Kubernetes
# List JSON files (a snapshot) or tests/data/netpol-cases/model.json.
topo_pods_from_json() {
	"$TOPO_PY" "$(dirname "${BASH_SOURCE[0]}")/pods.py" "$@"
}

topo_add_pod() {
	local id=$1 ip4=$2 ip6=${3:--} i=${#TOPO_PODS[@]}
	local ns="$TOPO_ID-p$i" veth="bhv$i"

	topo_netns_add "$ns"
	ip netns exec "$ns" sh -c '
		echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
		echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad
		echo "1024 65000" > /proc/sys/net/ipv4/ip_local_port_range'
	ip -n "$TOPO_NODE" link add "$veth" type veth peer name eth0 netns "$ns" ||
		topo_die "veth for '$id'"
	ip -n "$TOPO_NODE" link set "$veth" up
	ip -n "$ns" link set eth0 up
	if [ "$TOPO_BRIDGED" = 1 ]; then
		ip -n "$TOPO_NODE" link set "$veth" master cni0 || topo_die "bridge port for '$id'"
		if [ "$ip4" != - ]; then
			ip -n "$ns" addr add "$ip4/${TOPO_BRIDGE_IP4#*/}" dev eth0
			ip -n "$ns" route add default via "$TOPO_NODE_IP4" dev eth0
		fi
		if [ "$ip6" != - ]; then
			ip -n "$ns" -6 addr add "$ip6/${TOPO_BRIDGE_IP6#*/}" dev eth0 nodad
			ip -n "$ns" -6 route add default via "$TOPO_NODE_IP6" dev eth0
		fi
	else
		topo_add_routed "$ns" "$veth" "$ip4" "$ip6"
	fi
	[ "$TOPO_HAIRPIN" = 1 ] && topo_hairpin "$ns" "$ip4" "$ip6"
	TOPO_PODS+=("$id")
	TOPO_POD_NS[$id]=$ns
	TOPO_POD_IP4[$id]=$ip4
	TOPO_POD_IP6[$id]=$ip6
}

# A routed CNI's pod: proxy ARP, a /32 (/128) per pod both ways.
topo_add_routed() {
	local ns=$1 veth=$2 ip4=$3 ip6=$4
	ip netns exec "$TOPO_NODE" sh -c "
		echo 1 > /proc/sys/net/ipv4/conf/$veth/proxy_arp
		echo 0 > /proc/sys/net/ipv4/neigh/$veth/proxy_delay"
	if [ "$ip4" != - ]; then
		ip -n "$ns" addr add "$ip4/32" dev eth0
		ip -n "$ns" route add "$TOPO_NODE_IP4" dev eth0 scope link
		ip -n "$ns" route add default via "$TOPO_NODE_IP4" dev eth0
		ip -n "$TOPO_NODE" route add "$ip4/32" dev "$veth"
	fi
	if [ "$ip6" != - ]; then
		ip -n "$TOPO_NODE" addr add "$TOPO_NODE_IP6/64" dev "$veth" nodad
		ip -n "$ns" -6 addr add "$ip6/128" dev eth0 nodad
		ip -n "$ns" -6 route add default via "$TOPO_NODE_IP6" dev eth0
		ip -n "$TOPO_NODE" -6 route add "$ip6/128" dev "$veth"
	fi
}

topo_hairpin() {
	local ns=$1 ip4=$2 ip6=$3
	ip netns exec "$ns" sh -c '
		echo 1 > /proc/sys/net/ipv4/conf/all/accept_local
		echo 1 > /proc/sys/net/ipv4/conf/eth0/accept_local
		echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
		echo 0 > /proc/sys/net/ipv4/conf/eth0/rp_filter'
	if [ "$ip4" != - ]; then
		ip -n "$ns" rule add pref 10 iif lo to "$ip4/32" lookup 100
		ip -n "$ns" route add default via "$TOPO_NODE_IP4" dev eth0 table 100
	fi
	if [ "$ip6" != - ]; then
		ip -n "$ns" -6 rule add pref 10 iif lo to "$ip6/128" lookup 100
		ip -n "$ns" -6 route add default via "$TOPO_NODE_IP6" dev eth0 table 100
	fi
	# The local table after our rule: pref 0 would answer first.
	ip -n "$ns" rule add pref 100 lookup local
	ip -n "$ns" rule del pref 0 lookup local
	ip -n "$ns" -6 rule add pref 100 lookup local
	ip -n "$ns" -6 rule del pref 0 lookup local
}

# Adds every pod of a "ns/pod IPv4 [IPv6]" file.
topo_add_pods() {
	local id ip4 ip6
	while read -r id ip4 ip6; do
		[ -n "$id" ] || continue
		topo_add_pod "$id" "$ip4" "${ip6:--}"
	done < "$1"
	[ "${#TOPO_PODS[@]}" -gt 0 ] || topo_die "no pods in '$1'"
}

topo_pod_ns() { echo "${TOPO_POD_NS[$1]:?unknown pod $1}"; }
topo_node_exec() { ip netns exec "$TOPO_NODE" "$@"; }
topo_pod_exec() {
	local ns=${TOPO_POD_NS[$1]:?unknown pod $1}
	shift
	ip netns exec "$ns" "$@"
}

# Forgets every neighbour (ARP and NDP) entry in the node and the pods, so
# the next probes resolve addresses afresh through whatever ruleset is
# loaded: a ruleset that drops neighbour discovery must fail now, not
# minutes later when a cached entry expires.
topo_neigh_flush() {
	local ns
	ip -n "$TOPO_NODE" neigh flush all 2> /dev/null || true
	for ns in "${TOPO_POD_NS[@]}"; do
		ip -n "$ns" neigh flush all 2> /dev/null || true
	done
}

# Starts @@ in the background; its PID is killed at cleanup.  Sets TOPO_LAST_PID.
topo_bg() {
	"$@" &
	TOPO_LAST_PID=$!
	TOPO_PIDS+=("$TOPO_LAST_PID")
}

# Stops one process started with topo_bg.
topo_kill() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

topo_start_servers() {
	local serve id ready i=0 t
	serve=$(topo_tool serve)
	for id in "${TOPO_PODS[@]}"; do
		topo_bg ip netns exec "${TOPO_POD_NS[$id]}" "$serve" \
			--ready "$TOPO_DIR/ready.$i" $TOPO_PORTS
		i=$((i + 1))
	done
	for ((t = 0; t < 100; t++)); do
		ready=$(find "$TOPO_DIR" -maxdepth 1 -name 'ready.*' | wc -l)
		[ "$ready" -ge "$i" ] && return 0
		sleep 0.05
	done
	topo_die "servers not ready after 5 s ($ready of $i)"
}

# Probes the cells listed in @1 ("FROM TO ADDR PORT PROTO" per line), each
# source's targets at once, with timeout @3 ms; appends the results to @2
# in topo_probe_all's format.  Used to re-probe suspected drops with a
# longer timeout, so a slow moment on a loaded machine is not a verdict.
topo_probe_list() {
	local list=$1 out=$2 timeout=$3 probe src i=0 pids=() srcs=()
	probe=$(topo_tool probe)
	for src in $(cut -d' ' -f1 "$list" | sort -u); do
		awk -v s="$src" '$1 == s { print $2, $3, $4, $5 }' "$list" > "$TOPO_DIR/retarget.$i"
		ip netns exec "${TOPO_POD_NS[$src]}" "$probe" --timeout-ms "$timeout" \
			< "$TOPO_DIR/retarget.$i" > "$TOPO_DIR/reprobed.$i" &
		pids+=($!)
		srcs+=("$src")
		i=$((i + 1))
	done
	for ((i = 0; i < ${#srcs[@]}; i++)); do
		wait "${pids[$i]}" || topo_die "probe from '${srcs[$i]}' failed"
		sed -e "s|^{|{\"from\":\"${srcs[$i]}\",|" "$TOPO_DIR/reprobed.$i" >> "$out"
	done
}

# Probes from every pod to every pod, all sources at once; writes one JSON
# line per probe to @1: the probe tool's line plus "from" (an IPv6 probe
# is one whose "addr" has a colon).
topo_probe_all() {
	local out=$1 probe src dst port proto i=0 pids=()
	probe=$(topo_tool probe)
	: > "$out"
	for src in "${TOPO_PODS[@]}"; do
		{
			for dst in "${TOPO_PODS[@]}"; do
				for port in $TOPO_PORTS; do
					for proto in $TOPO_PROTOS; do
						if [ "${TOPO_POD_IP4[$dst]}" != - ] && [ "${TOPO_POD_IP4[$src]}" != - ]; then
							echo "$dst ${TOPO_POD_IP4[$dst]} $port $proto"
						fi
						if [ "$TOPO_IPV6" = 1 ] && [ "${TOPO_POD_IP6[$dst]}" != - ] &&
							[ "${TOPO_POD_IP6[$src]}" != - ]; then
							echo "$dst ${TOPO_POD_IP6[$dst]} $port $proto"
						fi
					done
				done
			done
		} > "$TOPO_DIR/targets.$i"
		ip netns exec "${TOPO_POD_NS[$src]}" "$probe" --timeout-ms "$TOPO_TIMEOUT_MS" \
			< "$TOPO_DIR/targets.$i" > "$TOPO_DIR/probed.$i" &
		pids+=($!)
		i=$((i + 1))
	done
	i=0
	for src in "${TOPO_PODS[@]}"; do
		wait "${pids[$i]}" || topo_die "probe from '$src' failed"
		sed -e "s|^{|{\"from\":\"$src\",|" \
			"$TOPO_DIR/probed.$i" >> "$out"
		i=$((i + 1))
	done
}
