#!/usr/bin/env bash
# image.dockerfile: the Dockerfile's stages run as a script, since no
# container engine runs here or in CI.
#   1. the build stage: a clean copy of the repository (git clone of HEAD,
#      what `COPY . .` of a checkout gives; uncommitted changes are not
#      in it) and each RUN of the stage in it, WORKDIR mapped to the clone;
#   2. the final stage: its one `apt-get install` list must name the package
#      of every library bulkhead links directly (readelf -d NEEDED, dpkg -S;
#      libc6 is in the base image), and every library ldd resolves must
#      come from that list's dependency closure;
#   3. a root holding only the files of that closure (dpkg -L, copied from
#      this bookworm host, merged /usr) plus the COPY --from=build files:
#      `bulkhead --help` must run there (chroot), so nothing else is needed.
# Usage: check-dockerfile.sh TOP [DOCKERFILE]   (DOCKERFILE: another file
# to check against TOP's HEAD, for the tests of this script).
# Needs root (chroot) and git; exit 77 (skip) without them.
set -euo pipefail
top=$(cd "${1:?usage: check-dockerfile.sh TOP [DOCKERFILE]}" && pwd)
dockerfile=${2:-$top/Dockerfile}
fail() { echo "check-dockerfile: FAIL: $*"; exit 1; }
if [ "$(id -u)" -ne 0 ] || ! command -v git > /dev/null || ! command -v chroot > /dev/null; then
	echo "check-dockerfile: SKIP: needs root (chroot) and git"
	exit 77
fi
tmp=$(mktemp -d /tmp/bh-dockerfile.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# One instruction per line: continuations joined, comments dropped.
sed -e '/^[[:space:]]*#/d' "$dockerfile" | awk '
	/\\$/ { sub(/\\$/, ""); line = line $0; next }
	{ line = line $0; if (line ~ /[^[:space:]]/) print line; line = "" }' > "$tmp/instructions"

git clone -q "$top" "$tmp/src"
stage=0
workdir=
root=$tmp/root
apt_pkgs=
copies=()
while IFS= read -r ins; do
	op=${ins%%[[:space:]]*}
	arg=${ins#"$op"}
	arg=${arg#"${arg%%[![:space:]]*}"}
	case "$op" in
	FROM) stage=$((stage + 1)) ;;
	WORKDIR) workdir=$arg ;;
	COPY)
		if [ "$stage" = 1 ]; then
			[ "$arg" = ". ." ] || fail "build stage: COPY $arg (only 'COPY . .' is run)"
		else
			# COPY --from=build SRC DST: SRC under the build stage's WORKDIR.
			read -r from src dst <<< "$arg"
			[ "$from" = --from=build ] || fail "final stage: COPY $arg (only --from=build)"
			copies+=("$tmp/src${src#"$build_workdir"}" "$dst")
		fi
		;;
	RUN)
		if [ "$stage" = 1 ]; then
			build_workdir=$workdir
			echo "check-dockerfile: RUN $arg"
			(cd "$tmp/src" && sh -ec "$arg") > "$tmp/run.log" 2>&1 ||
				{ tail -40 "$tmp/run.log"; fail "build stage: RUN $arg"; }
		else
			case "$arg" in
			*apt-get\ install*)
				apt_pkgs=$(sed -e 's/.*apt-get install//' -e 's/&&.*//' <<< "$arg" |
					tr ' ' '\n' | grep -v '^-' | grep . | sort -u | tr '\n' ' ')
				;;
			*) fail "final stage: RUN $arg (only the apt-get install line is known)" ;;
			esac
		fi
		;;
	ENTRYPOINT | CMD | ENV | LABEL) ;;
	*) fail "instruction $op is not known to this script" ;;
	esac
done < "$tmp/instructions"
[ "$stage" = 2 ] || fail "want 2 stages, found $stage"
[ -n "$apt_pkgs" ] || fail "the final stage installs no packages"
[ "${#copies[@]}" -gt 0 ] || fail "the final stage copies nothing from the build stage"
echo "check-dockerfile: build stage done in $(($(date +%s) - start)) s; final packages: $apt_pkgs"

# The final stage's packages and everything apt would install with them.
for p in $apt_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		fail "package $p of the final stage is not a bookworm package installed here"
done
# shellcheck disable=SC2086
apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances $apt_pkgs libc6 |
	awk '/^[a-z0-9]/ { print $1 } /(Pre)?Depends:/ { print $2 }' | grep -v '^<' |
	sed 's/:.*//' | sort -u | while read -r p; do
		# Alternatives apt would not pick here (libelogind0 for libsystemd0).
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			echo "$p"
		fi
	done > "$tmp/closure"
echo "check-dockerfile: $(wc -l < "$tmp/closure") packages in the final stage's closure"

mkdir -p "$root/usr/lib" "$root/usr/lib64" "$root/usr/bin" "$root/usr/sbin" "$root/tmp"
for d in lib lib64 bin sbin; do ln -s "usr/$d" "$root/$d"; done
i=0
while [ "$i" -lt "${#copies[@]}" ]; do
	src=${copies[$i]} dst=${copies[$((i + 1))]}
	[ -e "$src" ] || fail "COPY --from=build: $src was not made by the build stage"
	mkdir -p "$root$dst"
	cp -a "$src"/. "$root$dst"
	i=$((i + 2))
done
bin=$root/usr/local/bin/bulkhead
[ -x "$bin" ] || fail "the build stage installed no /usr/local/bin/bulkhead"
[ -L "$root/usr/local/bin/kubectl-bulkhead" ] || fail "no kubectl-bulkhead link installed"

# Every directly linked library from a listed package.
for lib in $(readelf -d "$bin" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }'); do
	owner=$(dpkg -S "*/$lib" 2>/dev/null | head -1 | sed 's/[:].*//') ||
		fail "no package owns $lib"
	[ "$owner" = libc6 ] && continue
	grep -qw -- "$owner" <<< "$apt_pkgs" ||
		fail "bulkhead links $lib from $owner, which the final stage does not install"
done
# Every library the loader resolves, from the closure.
ldd "$bin" | awk '/=> \// { print $3 }' | while read -r lib; do
	owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) ||
		fail "no package owns $lib"
	owner=${owner%%:*}
	grep -qx -- "$owner" "$tmp/closure" ||
		fail "$lib ($owner) is not in the final stage's packages or their dependencies"
done

# The closure's files alone, and bulkhead run there.
while read -r p; do dpkg -L "$p" 2>/dev/null; done < "$tmp/closure" | sort -u |
	while read -r f; do
		if [ -f "$f" ] || [ -L "$f" ]; then echo "${f#/}"; fi
	done > "$tmp/files"
tar -C / --no-recursion -cf - -T "$tmp/files" 2> /dev/null | tar -C "$root" --keep-directory-symlink -xf -
chroot "$root" /usr/local/bin/bulkhead --help > "$tmp/help.out" 2>&1 ||
	{ cat "$tmp/help.out"; fail "bulkhead --help does not run with only the final stage's packages"; }
grep -q agent "$tmp/help.out" || fail "bulkhead --help printed no usage"
chroot "$root" /usr/local/bin/kubectl-bulkhead --help > /dev/null 2>&1 ||
	fail "kubectl-bulkhead --help does not run in the final stage's root"
echo "check-dockerfile: ok: $(du -sm "$root" | cut -f1) MB root of $(wc -l < "$tmp/closure")" \
	"packages runs bulkhead --help; $(($(date +%s) - start)) s in all"
