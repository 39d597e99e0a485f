# The Bulkhead agent's image (manifests/daemonset.yaml runs it):
#   docker build -t bulkhead:0.1.0 .
# Two stages from Debian bookworm: the build stage compiles and installs
# into a staging directory; the final stage has only the runtime libraries
# and the installed files.  No container engine runs in CI:
# scripts/check-dockerfile.sh runs these stages as a script (ctest
# image.dockerfile).  Keep to FROM, WORKDIR, COPY, RUN, ENTRYPOINT and one
# `apt-get install` line in the final stage: that script parses them.

FROM debian:bookworm AS build
WORKDIR /src
COPY . .
# The compiler, cmake and the libraries' -dev packages (the project's own
# list, scripts/install-deps.sh --build).
RUN scripts/install-deps.sh --build
# A release build without the tests and benchmarks, installed under stage/.
RUN cmake -S . -B build-image -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr/local \
	-DBH_TESTS=OFF -DBH_BENCH=OFF > /dev/null && \
	cmake --build build-image -j"$(nproc)" && \
	DESTDIR="$PWD/stage" cmake --install build-image

FROM debian:bookworm-slim
# The shared libraries bulkhead links (readelf -d: NEEDED) and the CA
# certificates for the API server's TLS; nothing else.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libpcap0.8 libmnl0 libnl-3-200 libnl-route-3-200 libnftnl11 libjansson4 libcurl4 libmicrohttpd12 libyaml-0-2 libsqlite3-0 libssl3 && rm -rf /var/lib/apt/lists/*
# bin/bulkhead and the kubectl-bulkhead link.
COPY --from=build /src/stage/usr/local/ /usr/local/
# Runs as root: the agent programs nftables and reads conntrack in the
# host network namespace, which needs CAP_NET_ADMIN there (the DaemonSet
# grants NET_ADMIN and NET_RAW and drops every other capability); a
# non-root user would lose them (no file capabilities under no_new_privs).
ENTRYPOINT ["bulkhead"]
CMD ["--help"]
