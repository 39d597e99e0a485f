#!/usr/bin/env bash
# Writes the kubeconfig of one test run: the test API server at
# https://127.0.0.1:PORT, its CA and bearer token from mkcerts.sh's files in
# CERTS (relative to the kubeconfig's directory, as kubectl resolves them).
#   kubeconfig.sh FILE PORT [CERTS]   (CERTS: certs)
set -euo pipefail
file=${1:?usage: kubeconfig.sh FILE PORT [CERTS]} port=${2:?usage: kubeconfig.sh FILE PORT [CERTS]}
certs=${3:-certs}
cat > "$file.tmp" <<KC
apiVersion: v1
kind: Config
current-context: t
clusters:
- name: t
  cluster: {server: 'https://127.0.0.1:$port', certificate-authority: $certs/ca.crt}
users:
- name: t
  user: {tokenFile: $certs/token}
contexts:
- name: t
  context: {cluster: t, user: t}
KC
mv "$file.tmp" "$file"
