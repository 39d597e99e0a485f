#!/usr/bin/env bash
# Installs everything Bulkhead needs to build, test and run on Debian bookworm.
# Run as root (or with sudo available).  Idempotent.
#   --build   only what a release build needs (the Dockerfile's build stage:
#             compiler, cmake and the libraries' -dev packages; no tests)
set -euo pipefail

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

BUILD_PKGS=(
	build-essential cmake pkg-config
	# libraries (the chosen ones, libmicrohttpd for /metrics, libyaml for
	# YAML output, SQLite for the agent's state and libcrypto, which
	# libcurl already brings, for SHA-256 ids)
	libnftnl-dev libmnl-dev libnl-3-dev libnl-route-3-dev
	libcurl4-openssl-dev libjansson-dev libpcap-dev
	libmicrohttpd-dev libyaml-dev libsqlite3-dev libssl-dev
)
PKGS=(
	"${BUILD_PKGS[@]}"
	# tests and the other compilers' builds (fuzzing, clang-format)
	clang clang-format libclang-rt-14-dev libcmocka-dev
	# kernel-side tools the integration tests drive and compare against
	iproute2 nftables conntrack tcpdump iperf3 socat netcat-openbsd
	# test API server and schema validation
	python3 python3-jsonschema python3-yaml openssl
	# promtool (unit.http_server runs 'promtool check metrics' on /metrics);
	# bookworm ships it only in the prometheus package (2.42), whose server
	# the package's unit would start only where systemd runs
	prometheus
	# benchmarks
	hyperfine valgrind
	# the dashboard's browser tests (browser.dashboard, bench.dashboard):
	# headless Chromium driven over its DevTools pipe, and a font for the
	# screenshots
	chromium chromium-driver fonts-dejavu-core
)
# kubectl, which integration.kube_kubectl points at the test API server to
# check its fidelity (it skips without one): Debian's kubernetes-client,
# unless a kubectl is already installed (the Google Cloud SDK's kubectl
# package ships the same /usr/bin/kubectl and would conflict).
command -v kubectl > /dev/null 2>&1 || PKGS+=(kubernetes-client)
[ "${1:-}" = --build ] && PKGS=("${BUILD_PKGS[@]}")

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#PKGS[@]} packages present"
