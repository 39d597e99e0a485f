#!/usr/bin/env bash
# Generates the TLS material of one test run into DIR:
#   ca.crt/ca.key         the cluster CA
#   server.crt/server.key for 127.0.0.1 and localhost, signed by the CA
#   client.crt/client.key a client certificate signed by the CA
#   other-ca.crt          an unrelated CA (for the "wrong CA" test)
#   token                 a random bearer token
set -euo pipefail
dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=bulkhead-test-ca" -keyout ca.key -out ca.crt
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=other-ca" -keyout other-ca.key -out other-ca.crt
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
	-keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
ossl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile server.ext -out server.crt
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bulkhead/O=system:masters" \
	-keyout client.key -out client.csr
printf 'extendedKeyUsage=clientAuth\n' > client.ext
ossl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
	-extfile client.ext -out client.crt
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > token
rm -f server.csr client.csr server.ext client.ext
