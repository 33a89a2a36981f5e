#!/usr/bin/env bash
# The demo: seccbridge on its built-in simulated converter, with seccsim
# playing the ADVANTICS charge controller through a complete charge, on a
# real vcan0 -- natively when the kernel has CAN, otherwise inside a
# throwaway VM booting Debian's kernel.  Installs what it needs on Debian 12.
#
#   scripts/demo.sh [--no-install] [--build-dir DIR] [SECCSIM SESSION OPTIONS...]
#
# Examples:  scripts/demo.sh                       a CCS charge
#            scripts/demo.sh --protocol chademo    a CHAdeMO charge
#            scripts/demo.sh --fault estop         an emergency stop mid-charge
#            scripts/demo.sh --interface-version 3 the same on interface version 3
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

install=1
build_dir=build
while [ $# -gt 0 ]; do
        case "$1" in
        --no-install) install=0 ;;
        --build-dir) build_dir=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
        esac
        shift
done

if [ "$install" = 1 ]; then
        scripts/install-deps.sh
fi
if [ ! -d "$build_dir" ]; then
        meson setup "$build_dir" >/dev/null
fi
ninja -C "$build_dir" src/seccbridge src/seccsim/seccsim >/dev/null

# shellcheck source=../tests/integration/lib.sh
. tests/integration/lib.sh
if ! have_vcan; then
        echo "demo: this kernel has no CAN; running on vcan0 inside a throwaway VM" >&2
fi
with_vcan bash scripts/demo-session.sh "$build_dir" "$@"
