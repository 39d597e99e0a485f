# shellcheck shell=bash
# matrix.sh: one policy set through the kernel in both modes, compared cell
# by cell; shared by enforce_matrix.sh and differential.sh.  Source after
# topology.sh, once topo_add_pods and topo_start_servers have run.
#
#   matrix_run NAME CASE SNAPSHOT...
#	CASE: a netpol case file with a truth table, or "-" for none (the
#	kernel is then compared with `bulkhead check` only).
#	Enforce: apply --mode enforce in the node netns, probe every pod pair
#	on 80/81 x TCP/UDP over IPv4 and IPv6, compare with the truth table
#	(where it has the cell) and `bulkhead check --family ipv4|ipv6`.
#	Preview: apply --mode preview, read NFLOG back with nflog_dump while
#	probing again: nothing dropped, one alert per would-deny cell with the
#	exact prefix of the deciding direction and pod (bh:e:SRC when the
#	source's egress denies, else bh:i:DST; from `check --explain`), none
#	for allowed cells.
#	Returns 0 when every cell agrees; prints each disagreement.
#
# Needs: BULKHEAD, MATRIX_NODE (the snapshot's node name), TOPO_* from
# topology.sh.  MATRIX_PREVIEW=0 skips the preview half.

MATRIX_GROUP=${MATRIX_GROUP:-16968}
MATRIX_PREVIEW=${MATRIX_PREVIEW:-1}
MATRIX_LIB=$(dirname "${BASH_SOURCE[0]}")

# Waits (at most 2 s) until the previous round's TCP connections have
# finished closing.  A teardown packet (a FIN or the last ACK) that arrives
# after the conntrack flush below is picked up by conntrack as a new
# connection from the server to the client's port: enforce drops it
# harmlessly, but preview reports it as a would-deny alert for a cell that
# was never probed.
matrix_settle() {
	local open
	for _ in $(seq 100); do
		open=$(topo_node_exec conntrack -L -p tcp 2> /dev/null |
			grep -cE ' (SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK) ' || true)
		[ "$open" = 0 ] && return 0
		sleep 0.02
	done
}

matrix_apply() {
	local mode=$1 out=$2
	shift 2
	local args=() s
	for s in "$@"; do args+=(--snapshot "$s"); done
	matrix_settle
	if ! topo_node_exec "$BULKHEAD" apply "${args[@]}" --node "$MATRIX_NODE" \
		--mode "$mode" > "$out" 2>&1; then
		echo "  apply --mode $mode failed: $(cat "$out")"
		return 1
	fi
	# Connections of the previous round must not pass as established, and
	# neighbour entries must be resolved under this ruleset.
	topo_node_exec conntrack -F > /dev/null 2>&1 || true
	topo_neigh_flush
}

# Cells that timed out where the reference says allowed are probed once
# more with a 2 s timeout (appended to the probe file, the later result
# wins): a drop stays a drop, a slow moment on a loaded CI machine does not.
matrix_reprobe() {
	local case=$1 probes=$2 check=$3 n
	shift 3
	"$TOPO_PY" "$MATRIX_LIB/netpol_cases.py" suspects "$case" "$TOPO_DIR/pods" "$probes" \
		"$check" "$@" > "$probes.suspects"
	n=$(wc -l < "$probes.suspects")
	[ "$n" -gt 0 ] || return 0
	echo "  re-probing $n cells with a 2 s timeout"
	topo_probe_list "$probes.suspects" "$probes" 2000
}

matrix_run() {
	local name=$1 case=$2
	shift 2
	local d="$TOPO_DIR/m.$name" args=() s rc=0 dump fams
	mkdir -p "$d"
	for s in "$@"; do args+=(--snapshot "$s"); done

	# Both families, always: the truth table covers IPv4 (and IPv6 when
	# the case has an IPv6 table); every other cell is held to check.
	fams="4 6"
	TOPO_IPV6=1
	# The engine's verdicts, per family (check prints IPv4 unless asked).
	: > "$d/check.jsonl"
	for f in $fams; do
		local rc_check=0
		"$BULKHEAD" check "${args[@]}" --family "ipv$f" -o json > "$d/check.$f" \
			2> "$d/check.err" || rc_check=$?
		# Exit 1 only means some probe was denied.
		if [ "$rc_check" -gt 1 ] || [ ! -s "$d/check.$f" ]; then
			echo "  check --family ipv$f failed ($rc_check): $(cat "$d/check.err")"
			return 1
		fi
		sed "s/^{/{\"family\": \"IPv$f\", /" "$d/check.$f" >> "$d/check.jsonl"
	done

	echo " enforce:"
	if matrix_apply enforce "$d/apply.out" "$@"; then
		topo_probe_all "$d/enforce.jsonl"
		matrix_reprobe "$case" "$d/enforce.jsonl" "$d/check.jsonl"
		"$TOPO_PY" "$MATRIX_LIB/netpol_cases.py" enforce "$case" "$TOPO_DIR/pods" \
			"$d/enforce.jsonl" "$d/check.jsonl" || rc=1
	else
		rc=1
	fi
	[ "$MATRIX_PREVIEW" = 1 ] || return $rc

	echo " preview:"
	rm -f "$d/nflog.ready"
	# nflog_dump resolves the logged class prefixes to the deciding pod
	# through the same snapshot, as the agent does.
	topo_bg ip netns exec "$TOPO_NODE" "$(topo_tool nflog_dump)" --group "$MATRIX_GROUP" \
		"${args[@]}" --node "$MATRIX_NODE" \
		--ready "$d/nflog.ready" > "$d/alerts.jsonl" 2> "$d/nflog.err"
	dump=$TOPO_LAST_PID
	for _ in $(seq 100); do [ -e "$d/nflog.ready" ] && break; sleep 0.02; done
	[ -e "$d/nflog.ready" ] || { echo "  nflog_dump did not start: $(cat "$d/nflog.err")"; return 1; }
	if matrix_apply preview "$d/apply.out" "$@"; then
		topo_probe_all "$d/preview.jsonl"
		matrix_reprobe "$case" "$d/preview.jsonl" "$d/check.jsonl" --preview
		sleep 0.15 # the kernel flushes NFLOG batches every 50 ms
		topo_kill "$dump"
		"$TOPO_PY" "$MATRIX_LIB/netpol_cases.py" preview "$case" "$TOPO_DIR/pods" \
			"$d/preview.jsonl" "$d/alerts.jsonl" "$d/check.jsonl" \
			"$MATRIX_NODE" "$BULKHEAD" "$@" || rc=1
	else
		topo_kill "$dump"
		rc=1
	fi
	return $rc
}
