#!/bin/sh
# A throwaway PKI for the TLS tests, made with openssl:
#   ca.crt/.key         the test CA
#   server.crt/.key     the broker, signed by it, for IP 127.0.0.1 and ::1
#   client.crt/.key     a client certificate, signed by it
#   other-ca.crt/.key   a CA that signed nothing the broker shows
#
#   make-certs.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key ca.key
ossl req -x509 -new -key ca.key -days 2 -subj "/CN=seccbridge test CA" -out ca.crt
key other-ca.key
ossl req -x509 -new -key other-ca.key -days 2 -subj "/CN=another test CA" -out other-ca.crt

key server.key
ossl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
printf 'subjectAltName=IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >server.ext
ossl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt

key client.key
ossl req -new -key client.key -subj "/CN=seccbridge-client" -out client.csr
printf 'extendedKeyUsage=clientAuth\n' >client.ext
ossl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt

# The broker may run as another user: the files readable by all (test keys).
chmod 0644 ./*.key ./*.crt
rm -f ./*.csr ./*.ext ./*.srl
