#!/usr/bin/env bash
# style.format: every C source and header is as clang-format (.clang-format,
# kernel style) would write it.  Fix with: scripts/check-format.sh --fix
set -euo pipefail
fix=0
[ "${1:-}" = "--fix" ] && { fix=1; shift; }
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
cf=$(command -v clang-format || command -v clang-format-14 || true)
[ -n "$cf" ] || { echo "clang-format not installed (scripts/install-deps.sh installs it)"; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
[ "${#files[@]}" -gt 0 ] || exit 0
if [ "$fix" = 1 ]; then
	"$cf" -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! "$cf" "$f" | cmp -s - "$f"; then
		echo "style.format: '$f' differs from clang-format output (run scripts/check-format.sh --fix)"
		bad=1
	fi
done
exit "$bad"
