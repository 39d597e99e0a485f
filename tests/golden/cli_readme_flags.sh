#!/usr/bin/env bash
# golden.cli_readme_flags: the command summaries of README.md's "Commands"
# section list exactly the flags that 'bulkhead COMMAND --help' lists (one
# line per flag, from the command's flag table), for every command
# 'bulkhead help' names; and --help mentions no flag, in its prose, that its
# own list lacks.  -o is --output; -h/--help, which every command takes, is
# left out of the summaries.
set -uo pipefail
: "${BULKHEAD:?path to the bulkhead binary}" "${BH_SOURCE_DIR:?source dir}"
readme=${README:-$BH_SOURCE_DIR/README.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# The summaries: indented lines from "    bulkhead CMD" up to a blank line
# or the next "    bulkhead", within "## Commands", one file per command.
awk -v dir="$tmp" '
	/^## / { in_cmds = ($0 == "## Commands"); cmd = ""; next }
	!in_cmds { next }
	/^    bulkhead [a-z]/ { cmd = $2; print > (dir "/readme." cmd); next }
	/^     +[^ ]/ && cmd != "" { print > (dir "/readme." cmd); next }
	{ cmd = "" }
' "$readme"

# The flags of a text, one per line, sorted: -o is --output, help dropped.
flags_of() {
	grep -oE -- '(^|[^a-z0-9-])(--[a-z][a-z0-9-]*|-[a-z])' |
		sed -E 's/^[^-]//; s/^-o$/--output/; s/^-h$/--help/' |
		grep -vx -- '--help' | sort -u
}

"$BULKHEAD" help > "$tmp/help" || { echo "FAIL: bulkhead help: exit $?"; exit 1; }
mapfile -t cmds < <(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/help")
[ "${#cmds[@]}" -gt 0 ] || { echo "FAIL: 'bulkhead help' lists no command"; exit 1; }
for cmd in "${cmds[@]}"; do
	if [ ! -s "$tmp/readme.$cmd" ]; then
		echo "FAIL: README.md has no summary for '$cmd' under ## Commands"
		fail=1
		continue
	fi
	if ! "$BULKHEAD" "$cmd" --help > "$tmp/h.$cmd"; then
		echo "FAIL: bulkhead $cmd --help: exit $?"
		fail=1
		continue
	fi
	# The flag list: lines "  -o, --output ARG  help" or "      --name ARG  help".
	sed -n '/^flags:/,/^$/p' "$tmp/h.$cmd" | grep -E '^ +(-[a-z], )?--[a-z]' |
		sed -E 's/^ +(-[a-z], )?(--[a-z0-9-]+).*/\2/' | grep -vx -- '--help' |
		sort -u > "$tmp/list.$cmd"
	flags_of < "$tmp/readme.$cmd" > "$tmp/rflags.$cmd"
	if ! diff -u --label "README.md: $cmd" --label "bulkhead $cmd --help" \
		"$tmp/rflags.$cmd" "$tmp/list.$cmd"; then
		echo "FAIL: $cmd: README.md's summary and --help list different flags"
		fail=1
	fi
	# The usage line and the prose name only flags of the list.
	grep -v '^ \+\(-[a-z], \)\?--[a-z]' "$tmp/h.$cmd" | flags_of > "$tmp/prose.$cmd"
	extra=$(comm -23 "$tmp/prose.$cmd" "$tmp/list.$cmd")
	if [ -n "$extra" ]; then
		echo "FAIL: bulkhead $cmd --help names flags it does not list: $extra"
		fail=1
	fi
done
[ "$fail" = 0 ] && echo "cli_readme_flags: ${#cmds[@]} commands, README.md and --help agree"
exit "$fail"
