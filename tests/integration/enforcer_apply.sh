#!/usr/bin/env bash
# netns.enforcer_apply: `bulkhead apply` against a real kernel, inside a
# network namespace of its own (the host's ruleset is never touched):
#  - the --dry-run text loads with `nft -f`, and the netlink apply of the
#    same snapshot lists byte-identically;
#  - applying twice changes nothing the second time;
#  - a failed batch (BULKHEAD_FAULT_INJECT=commit: one message refused;
#    =batch: the batch refused as a whole) and a bad snapshot leave
#    `nft list table inet bulkhead` byte-identical;
#  - a changed input moves to exactly what a fresh apply gives, both as one
#    full batch and through the incremental update API;
#  - --incremental-from OLD when the kernel does not hold OLD's full apply
#    (no table, another digest, deltas since) is refused: exit 2, one
#    line, table unchanged;
#  - a set outgrowing its size replaces the table in full, whether found
#    in userspace or refused by the kernel (ENFILE);
#  - reset deletes the table.
# Exit 77 without root.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v nft >/dev/null || { echo "SKIP: no nft"; exit 77; }
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
cd "$BH_SOURCE_DIR" || exit 1

ns="bh-enf-$$"
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || { echo "SKIP: cannot create a netns"; exit 77; }
in_ns() { ip netns exec "$ns" "$@"; }
list() { in_ns nft list table inet bulkhead; }
# The listing with class numbering abstracted (bit sets and trie chains
# replaced by where each isolated address leads): incremental updates
# number new classes differently from a fresh build.
# `canon --maps` also lists the addresses the verdict maps hold: an
# incremental apply refills them at the end, so they hold what a fresh
# apply's do.
canon() {
	list >"$tmp/canon.txt" && in_ns nft -j list table inet bulkhead >"$tmp/canon.json" &&
		python3 tests/integration/lib/nft_canon.py "$@" "$tmp/canon.txt" "$tmp/canon.json"
}
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

cases=tests/data/netpol-cases
A=(--snapshot tests/golden/enforcer/constructs.json --node n1)
B=(--snapshot "$cases/model.json" --snapshot "$cases/41-default-deny-everywhere-allow-x-to-y.json" --node node-1)
C=(--snapshot "$cases/model.json" --snapshot "$cases/19-ingress-named-port.json" --node node-1)
D=(--snapshot tests/golden/enforcer/constructs-changed.json --node n1)

# 1. nft -f of the dry-run text == netlink apply, listing for listing.
for mode in enforce preview; do
	"$BULKHEAD" apply "${A[@]}" --mode $mode --dry-run -o nft >"$tmp/a.nft" || bad "dry-run"
	in_ns nft -f "$tmp/a.nft" && ok "nft -f loads the $mode dry-run text" || bad "nft -f $mode"
	list >"$tmp/nftf.txt"
	in_ns "$BULKHEAD" reset >/dev/null || bad "reset"
	in_ns "$BULKHEAD" apply "${A[@]}" --mode $mode >"$tmp/out" || bad "apply $mode: $(cat "$tmp/out")"
	list >"$tmp/nl.txt"
	if cmp -s "$tmp/nftf.txt" "$tmp/nl.txt"; then
		ok "netlink apply lists exactly as nft -f ($mode, $(wc -l <"$tmp/nl.txt") lines)"
	else
		bad "netlink and nft -f listings differ ($mode)"
		diff -u "$tmp/nftf.txt" "$tmp/nl.txt" | head -40
	fi
done

# 2. Twice the same input: nothing sent the second time.
in_ns "$BULKHEAD" apply "${A[@]}" --mode preview >"$tmp/out" 2>&1
if grep -q '^unchanged' "$tmp/out" && cmp -s "$tmp/nl.txt" <(list); then
	ok "second apply: $(cat "$tmp/out")"
else
	bad "second apply changed something: $(cat "$tmp/out")"
fi

# 3. A kernel error leaves the previous ruleset exactly as it was.
list >"$tmp/before.txt"
BULKHEAD_FAULT_INJECT=commit in_ns "$BULKHEAD" apply "${B[@]}" --mode enforce >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 3 ] && grep -q 'rejected the batch' "$tmp/err" && cmp -s "$tmp/before.txt" <(list); then
	ok "failed batch (exit $rc): ruleset byte-identical; $(cat "$tmp/err")"
else
	bad "failed batch: exit $rc, $(cat "$tmp/err"); ruleset changed?"
	diff -u "$tmp/before.txt" <(list) | head -20
fi
BULKHEAD_FAULT_INJECT=commit in_ns "$BULKHEAD" reset >/dev/null 2>&1
[ $? = 3 ] && cmp -s "$tmp/before.txt" <(list) && ok "failed reset: ruleset byte-identical" ||
	bad "failed reset changed the ruleset"
# The batch refused as a whole (the answer to its BEGIN message, as for a
# failed commit): reported at once, not after the receive timeout, and
# not taken for success by the other answers.
t0=$(date +%s)
BULKHEAD_FAULT_INJECT=batch in_ns "$BULKHEAD" apply "${B[@]}" --mode enforce >"$tmp/out" 2>"$tmp/err"
rc=$? t1=$(date +%s)
if [ $rc = 3 ] && grep -q 'rejected the batch as a whole: Invalid argument' "$tmp/err" &&
	[ $((t1 - t0)) -lt 10 ] && [ ! -s "$tmp/out" ] && cmp -s "$tmp/before.txt" <(list); then
	ok "batch refused whole (exit $rc, $((t1 - t0)) s): ruleset byte-identical; $(cat "$tmp/err")"
else
	bad "batch refused whole: exit $rc after $((t1 - t0)) s, $(cat "$tmp/out" "$tmp/err")"
fi
BULKHEAD_FAULT_INJECT=batch in_ns "$BULKHEAD" reset >/dev/null 2>&1
[ $? = 3 ] && cmp -s "$tmp/before.txt" <(list) && ok "reset refused whole: ruleset byte-identical" ||
	bad "reset refused whole changed the ruleset"

# 4. A bad snapshot leaves it exactly as it was too (exit 2).
printf '{"kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":' >"$tmp/bad.json"
in_ns "$BULKHEAD" apply --snapshot "$tmp/bad.json" --node n1 --mode enforce >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && cmp -s "$tmp/before.txt" <(list); then
	ok "bad snapshot (exit 2): ruleset byte-identical; $(cat "$tmp/err")"
else
	bad "bad snapshot: exit $rc, $(cat "$tmp/err")"
fi
# So does a --node the cluster does not know (a typo would otherwise apply
# an empty ruleset): exit 2, one line naming it.
in_ns "$BULKHEAD" apply --snapshot tests/golden/enforcer/constructs.json --node n1-typo \
	--mode enforce >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "'n1-typo'" "$tmp/err" &&
	[ ! -s "$tmp/out" ] && cmp -s "$tmp/before.txt" <(list); then
	ok "unknown --node (exit 2): ruleset byte-identical; $(cat "$tmp/err")"
else
	bad "unknown --node: exit $rc, $(cat "$tmp/out") $(cat "$tmp/err")"
fi

# 5. A changed input, one full batch: equal to loading its text afresh.
in_ns "$BULKHEAD" apply "${B[@]}" --mode enforce >"$tmp/out" || bad "apply B: $(cat "$tmp/out")"
list >"$tmp/b_nl.txt"
"$BULKHEAD" apply "${B[@]}" --mode enforce --dry-run >"$tmp/b.nft"
in_ns nft -f "$tmp/b.nft" || bad "nft -f B"
cmp -s "$tmp/b_nl.txt" <(list) && ok "A -> B in one batch: $(cat "$tmp/out")" || bad "A -> B differs from B"

# 6. Incremental: B -> C, A -> D and D -> A through the update API (one
# batch per event) end where a fresh apply does (same lines; order may
# differ; class ids may too, see canon).  Variants of model.json, each
# changing B's fresh ruleset: NONS, Namespace x removed (its pods stay,
# no namespace selector matches them any more); NODE, node-1's addresses
# changed and a Node node-2 added (NODE -> B removes it); OLD, a pod of
# z on node-2 created last, claiming x/a's address (it owns it), and DONE,
# the same pod Succeeded (x/a owns the address again).
python3 - "$cases/model.json" "$tmp" <<'PY'
import copy, json, sys
model = json.load(open(sys.argv[1]))
def variant(name, edit):
    m = copy.deepcopy(model)
    edit(m["items"])
    json.dump(m, open(f"{sys.argv[2]}/model-{name}.json", "w"))
def no_ns_x(items):
    items[:] = [i for i in items if not (i["kind"] == "Namespace" and i["metadata"]["name"] == "x")]
def node_moved(items):
    for i in items:
        if i["kind"] == "Node":
            i["status"]["addresses"] = [{"type": "InternalIP", "address": "10.100.0.9"},
                                        {"type": "InternalIP", "address": "fd00:100::9"}]
    items.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"},
                  "status": {"addresses": [{"type": "InternalIP", "address": "10.100.0.2"}]}})
def reused(phase):
    def edit(items):
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": "old", "namespace": "z", "labels": {"pod": "old"},
                                   "creationTimestamp": "2024-01-01T00:00:00Z"},
                      "spec": {"nodeName": "node-2", "containers": [{"name": "c"}]},
                      "status": {"phase": phase, "podIP": "10.200.0.1",
                                 "podIPs": [{"ip": "10.200.0.1"}]}})
    return edit
variant("nons", no_ns_x)
variant("node", node_moved)
variant("old", reused("Running"))
variant("done", reused("Succeeded"))
PY
for v in NONS:nons NODE:node OLD:old DONE:done; do
	declare -n V=${v%%:*}
	V=(--snapshot "$tmp/model-${v#*:}.json" --snapshot "$cases/41-default-deny-everywhere-allow-x-to-y.json"
		--node node-1)
	unset -n V
done
for step in "B C" "A D" "D A" "B NONS" "B NODE" "NODE B" "OLD DONE"; do
	read -r from to <<<"$step"
	declare -n F=$from T=$to
	# A step whose two ends compile alike would prove nothing.
	cmp -s <("$BULKHEAD" apply "${F[@]}" --mode enforce --dry-run) \
		<("$BULKHEAD" apply "${T[@]}" --mode enforce --dry-run) && bad "$from -> $to changes nothing"
	in_ns "$BULKHEAD" reset >/dev/null
	in_ns "$BULKHEAD" apply "${F[@]}" --mode enforce >/dev/null || bad "apply $from"
	from_snap=()
	for ((i = 0; i < ${#F[@]}; i++)); do
		[ "${F[$i]}" = --snapshot ] && from_snap+=(--incremental-from "${F[$((i + 1))]}")
	done
	in_ns "$BULKHEAD" apply "${T[@]}" --mode enforce "${from_snap[@]}" >"$tmp/out" 2>"$tmp/err" ||
		bad "incremental $from -> $to: $(cat "$tmp/err")"
	canon --maps | grep -v 'comment "bulkhead:' >"$tmp/incr.txt"
	in_ns "$BULKHEAD" reset >/dev/null
	in_ns "$BULKHEAD" apply "${T[@]}" --mode enforce >/dev/null
	canon --maps | grep -v 'comment "bulkhead:' >"$tmp/full.txt"
	if cmp -s "$tmp/incr.txt" "$tmp/full.txt"; then
		ok "incremental $from -> $to equals a fresh apply: $(cat "$tmp/out")"
	else
		bad "incremental $from -> $to differs from a fresh apply"
		diff -u "$tmp/full.txt" "$tmp/incr.txt" | head -30
	fi
	unset -n F T
done
# A full apply after incremental batches sends the table again, even of
# the snapshot whose digest the table comment still holds (a rollback):
# the batches leave the empty set `incremental`, which says the comment is
# out of date.  The result is byte-identical to a fresh apply, and the
# next apply of it is unchanged.
in_ns "$BULKHEAD" reset >/dev/null
in_ns "$BULKHEAD" apply "${A[@]}" --mode enforce >/dev/null || bad "apply A"
list >"$tmp/a_nl.txt"
in_ns "$BULKHEAD" apply "${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json \
	>/dev/null 2>"$tmp/err" || bad "incremental A -> D: $(cat "$tmp/err")"
in_ns nft list set inet bulkhead incremental >/dev/null 2>&1 || bad "no marker set after incremental batches"
in_ns "$BULKHEAD" apply "${A[@]}" --mode enforce >"$tmp/out" 2>"$tmp/err"
in_ns "$BULKHEAD" apply "${A[@]}" --mode enforce >"$tmp/out2" 2>>"$tmp/err"
if grep -q '^applied:' "$tmp/out" && cmp -s "$tmp/a_nl.txt" <(list) && grep -q '^unchanged:' "$tmp/out2"; then
	ok "A -> D incrementally, then apply A: sent again, byte-identical to a fresh A, then unchanged"
else
	bad "rollback after incremental batches: $(cat "$tmp/out" "$tmp/out2" "$tmp/err")"
	diff -u "$tmp/a_nl.txt" <(list) | head -20
fi

# 6b. --incremental-from OLD is refused (exit 2, one line naming the flag
# and the file, nothing sent) unless the table is the one a full apply of
# OLD for this node and mode put there, with no delta since: the deltas
# are computed from OLD and would otherwise hit objects the kernel does
# not have (a kernel error half way) or silently miss some.
# refused WHAT FILE ARGS...: the kernel's listing (or its absence) must
# not change.
refused() {
	local what=$1 file=$2
	shift 2
	list >"$tmp/before.txt" 2>&1
	in_ns "$BULKHEAD" apply "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc = 2 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -q -- "--incremental-from" "$tmp/err" && grep -qF "'$file'" "$tmp/err" &&
		cmp -s "$tmp/before.txt" <(list 2>&1); then
		ok "$what: refused (exit 2), table unchanged: $(cat "$tmp/err")"
	else
		bad "$what: exit $rc, $(cat "$tmp/out" "$tmp/err")"
		diff -u "$tmp/before.txt" <(list 2>&1) | head -20
	fi
}
printf '%s\n' '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"},' \
	'"status": {"addresses": [{"type": "InternalIP", "address": "10.100.0.2"}]}}' >"$tmp/node-2.json"
in_ns "$BULKHEAD" reset >/dev/null
in_ns "$BULKHEAD" apply "${B[@]}" --snapshot "$tmp/node-2.json" --mode enforce >/dev/null ||
	bad "apply B with a Node node-2"
refused "kernel holds B for node-1, --incremental-from B for node-2" "$tmp/node-2.json" \
	"${B[@]/node-1/node-2}" --snapshot "$tmp/node-2.json" --mode enforce \
	--incremental-from "$cases/model.json" \
	--incremental-from "$cases/41-default-deny-everywhere-allow-x-to-y.json" \
	--incremental-from "$tmp/node-2.json"
in_ns "$BULKHEAD" apply "${B[@]}" --mode enforce >/dev/null || bad "apply B"
refused "kernel holds B, --incremental-from A" tests/golden/enforcer/constructs.json \
	"${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json
refused "kernel holds B in enforce, --incremental-from B in preview" "$cases/model.json" \
	"${C[@]}" --mode preview --incremental-from "$cases/model.json" \
	--incremental-from "$cases/41-default-deny-everywhere-allow-x-to-y.json"
in_ns "$BULKHEAD" reset >/dev/null
refused "no table, --incremental-from A" tests/golden/enforcer/constructs.json \
	"${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json
# The table's digest is A's, but deltas changed it since (A -> D): what it
# holds is D's ruleset as the updates numbered it, which no snapshot
# compiles to, so D -> A cannot start from it.
in_ns "$BULKHEAD" apply "${A[@]}" --mode enforce >/dev/null || bad "apply A"
in_ns "$BULKHEAD" apply "${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json \
	>/dev/null 2>"$tmp/err" || bad "incremental A -> D: $(cat "$tmp/err")"
refused "deltas since the full apply, --incremental-from D" \
	tests/golden/enforcer/constructs-changed.json \
	"${A[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs-changed.json
refused "deltas since the full apply, --incremental-from A" tests/golden/enforcer/constructs.json \
	"${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json
# The right OLD after a full apply still works (step 6 covers the result).
in_ns "$BULKHEAD" apply "${D[@]}" --mode enforce >/dev/null || bad "apply D"
in_ns "$BULKHEAD" apply "${A[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs-changed.json \
	>"$tmp/out" 2>"$tmp/err" && grep -q '^updated:' "$tmp/out" &&
	ok "kernel holds D, --incremental-from D: $(cat "$tmp/out")" ||
	bad "right --incremental-from refused: $(cat "$tmp/out" "$tmp/err")"

# 8. Set sizes (hash sets are created with room, include/ruleset.h).
# a) 300 pods join namespace x (on another node): the peer set of y's
# "from namespace x" rule outgrows its size during the incremental
# updates; that update replaces the table in full (planned in userspace)
# and the result equals a fresh apply.
python3 - "$tmp/more-x.json" <<'PY'
import json, sys
items = [{"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": f"more-{i}", "namespace": "x", "labels": {"pod": "a"}},
          "spec": {"nodeName": "node-2", "containers": [{"name": "c"}]},
          "status": {"phase": "Running", "podIP": f"10.201.{i // 250}.{1 + i % 250}",
                     "podIPs": [{"ip": f"10.201.{i // 250}.{1 + i % 250}"}]}}
         for i in range(300)]
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(sys.argv[1], "w"))
PY
E=("${B[@]}" --snapshot "$tmp/more-x.json")
in_ns "$BULKHEAD" reset >/dev/null
in_ns "$BULKHEAD" apply "${B[@]}" --mode enforce >/dev/null || bad "apply B"
in_ns "$BULKHEAD" apply "${E[@]}" --mode enforce --incremental-from "$cases/model.json" \
	--incremental-from "$cases/41-default-deny-everywhere-allow-x-to-y.json" >"$tmp/out" 2>"$tmp/err" ||
	bad "incremental B -> B + 300 pods: $(cat "$tmp/err")"
canon --maps | grep -v 'comment "bulkhead:' >"$tmp/incr.txt"
in_ns "$BULKHEAD" reset >/dev/null
in_ns "$BULKHEAD" apply "${E[@]}" --mode enforce >/dev/null
canon --maps | grep -v 'comment "bulkhead:' >"$tmp/full.txt"
if grep -q 'table replaced: 1 planned, 0 after' "$tmp/out" && cmp -s "$tmp/incr.txt" "$tmp/full.txt"; then
	ok "a set outgrowing its size: one full replace, equals a fresh apply: $(cat "$tmp/out")"
else
	bad "set outgrowing its size: $(cat "$tmp/out")"
	diff -u "$tmp/full.txt" "$tmp/incr.txt" | head -20
fi
# b) The kernel holds A with every set exactly full (loaded by nft -f with
# sizes cut to the element counts); moving to D adds elements: the kernel
# refuses the batch (ENFILE), nftio replaces the table in full instead,
# and the result equals a fresh apply of D.
"$BULKHEAD" apply "${A[@]}" --mode enforce --dry-run -o nft >"$tmp/a.nft"
python3 - "$tmp/a.nft" "$tmp/a-full.nft" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def cut(m):
    body = m.group(0)
    elems = re.search(r"elements = \{(.*?)\}", body, re.S)
    n = len(elems.group(1).split(",")) if elems else 0
    return re.sub(r"size \d+", f"size {max(n, 1)}", body)
text = re.sub(r"\tset \S+ \{\n\t\ttype [^\n]*\n\t\tsize \d+\n.*?\n\t\}", cut, text, flags=re.S)
open(sys.argv[2], "w").write(text)
PY
in_ns "$BULKHEAD" reset >/dev/null
in_ns nft -f "$tmp/a-full.nft" || bad "nft -f A with full sets"
in_ns "$BULKHEAD" apply "${D[@]}" --mode enforce --incremental-from tests/golden/enforcer/constructs.json \
	>"$tmp/out" 2>"$tmp/err" || bad "incremental A (full sets) -> D: $(cat "$tmp/err")"
canon --maps | grep -v 'comment "bulkhead:' >"$tmp/incr.txt"
in_ns "$BULKHEAD" reset >/dev/null
in_ns "$BULKHEAD" apply "${D[@]}" --mode enforce >/dev/null
canon --maps | grep -v 'comment "bulkhead:' >"$tmp/full.txt"
if grep -q 'table replaced: 0 planned, [1-9][0-9]* after the kernel found a set full' "$tmp/out" &&
	cmp -s "$tmp/incr.txt" "$tmp/full.txt"; then
	ok "kernel refused a full set (ENFILE): table replaced, equals a fresh apply: $(cat "$tmp/out")"
else
	bad "ENFILE fallback: $(cat "$tmp/out") $(cat "$tmp/err")"
	diff -u "$tmp/full.txt" "$tmp/incr.txt" | head -20
fi

# 7. reset deletes the table; a second reset finds none.
in_ns "$BULKHEAD" reset | grep -q deleted && ! list >/dev/null 2>&1 && ok "reset deletes the table" ||
	bad "reset"
in_ns "$BULKHEAD" reset | grep -q 'no table' && ok "reset without a table" || bad "second reset"
exit $fail
