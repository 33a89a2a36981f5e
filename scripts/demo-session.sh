#!/usr/bin/env bash
# Inside the demo (scripts/demo.sh), where vcan0 is up: start the daemon on
# the sim converter, play a charge session with seccsim, stop the daemon.
#
#   scripts/demo-session.sh BUILD_DIR [SECCSIM SESSION OPTIONS...]
set -euo pipefail

build_dir=$1
shift
ifc=${SECCBRIDGE_VCAN_IF:-vcan0}
tmp=$(mktemp -d)
daemon_pid=
cleanup() {
        if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
                kill -TERM "$daemon_pid" 2>/dev/null || true
                wait "$daemon_pid" 2>/dev/null || true
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT

# The daemon speaks the interface version the controller plays.
version=2
prev=
for a in "$@"; do
        case "$a" in
        --interface-version=*) version=${a#*=} ;;
        *) [ "$prev" != --interface-version ] || version=$a ;;
        esac
        prev=$a
done

cat > "$tmp/seccbridge.conf" <<CONF
[can]
interface = $ifc
pistol_index = 1
interface_version = $version

[limits]
max_voltage = 1000
max_current = 125
max_power = 50000

[converter]
backend = sim
CONF

echo "== seccbridge on $ifc, interface version $version, sim converter (log: daemon lines prefixed 'seccbridge |')"
"$build_dir/src/seccbridge" -c "$tmp/seccbridge.conf" > "$tmp/daemon.log" 2>&1 &
daemon_pid=$!
# READY is for systemd; here, wait until the daemon says it is running.
for _ in $(seq 1 100); do
        grep -q "ready: pistol" "$tmp/daemon.log" 2>/dev/null && break
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$tmp/daemon.log"; exit 1; }
        sleep 0.1
done

echo "== seccsim session: the controller side"
rc=0
# The daemon enforces max_power on the commanded voltage; tell seccsim so
# that it expects the derated current.
"$build_dir/src/seccsim/seccsim" session -i "$ifc" --charger-power 50 "$@" || rc=$?

kill -TERM "$daemon_pid"
drc=0
wait "$daemon_pid" || drc=$?
daemon_pid=
echo
echo "== seccbridge log"
sed 's/^<[0-9]>/seccbridge | /' "$tmp/daemon.log"
echo
if [ "$rc" -eq 0 ] && [ "$drc" -eq 0 ]; then
        echo "demo: session completed cleanly; seccbridge stopped with status 0"
else
        echo "demo: seccsim exited $rc, seccbridge exited $drc"
        exit 1
fi
