#!/usr/bin/env bash
# style.headers: each include/*.h compiles on its own (self-contained).
set -euo pipefail
top=${1:?source dir}
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
for h in "$top"/include/*.h; do
	printf '#include "%s"\n' "$(basename "$h")" > "$tmp/t.c"
	if ! "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top/include" \
		$(pkg-config --cflags libnftnl libmnl libpcap jansson 2>/dev/null) \
		-fsyntax-only "$tmp/t.c" 2> "$tmp/err"; then
		echo "style.headers: '$h' is not self-contained:"
		head -5 "$tmp/err"
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "style.headers: $(ls "$top"/include/*.h | wc -l) headers self-contained"
exit "$bad"
