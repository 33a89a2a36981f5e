#!/bin/sh
# test-mqtt with a fresh test PKI (make-certs.sh); TAP from test-mqtt.
#   run-test-mqtt.sh TEST_MQTT MAKE_CERTS [CASE...]
set -eu
bin=$1
certs=$2
shift 2
command -v openssl >/dev/null 2>&1 || { echo "1..0 # SKIP no openssl"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/seccbridge-certs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
sh "$certs" "$dir"
rc=0
"$bin" "$dir" "$@" || rc=$?
exit "$rc"
