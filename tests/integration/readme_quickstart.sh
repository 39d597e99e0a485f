#!/usr/bin/env bash
# netns.readme_quickstart: runs the README's quick start as a new user would,
# in a copy of the repository's tracked files (a fresh clone, without the
# build tree), with `bulkhead` on PATH as scripts/demo.sh installs it, inside
# a network namespace of its own so that `apply` and `reset` program that
# namespace's nftables and never the host's.  Every command must print what
# the README shows (tests/integration/readme_quickstart.py).  Exit 77
# without root.
set -euo pipefail
: "${BULKHEAD:?}" "${BH_SOURCE_DIR:?}"
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespace)"; exit 77; }

ns=bhqs-$$
work=$(mktemp -d /tmp/bh-quickstart.XXXXXX)
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"

# A fresh clone's files: what git tracks, as they are in the working tree.
(cd "$BH_SOURCE_DIR" && git ls-files -z | xargs -0 cp --parents -t "$work" 2>/dev/null) ||
	cp -a "$BH_SOURCE_DIR"/. "$work"
mkdir -p "$work/.bin"
ln -s "$BULKHEAD" "$work/.bin/bulkhead"

ip netns exec "$ns" env PATH="$work/.bin:$PATH" \
	python3 "$BH_SOURCE_DIR/tests/integration/readme_quickstart.py" "$work/README.md" "$work"
