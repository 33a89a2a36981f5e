#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-libmodbus-calls.sh LIB_WITHOUT_IO.a LIB_ONLY_IO.a LIBMODBUS_LIBDIR
# Fails when an object of the first archive references a symbol that
# libmodbus defines: only modbus_io.c may call libmodbus.  The second
# archive (modbus_io.c alone) must reference some, or the check itself is
# broken.
set -eu
without="$1" only="$2" libdir="$3"
so=
for f in "$libdir/libmodbus.so" "$libdir"/libmodbus.so.*; do
        [ -e "$f" ] && { so="$f"; break; }
done
[ -n "$so" ] || { echo "libmodbus shared library not found in $libdir"; exit 77; }
command -v nm >/dev/null || { echo "nm not found"; exit 77; }

defined=$(mktemp)
trap 'rm -f "$defined"' EXIT
nm -D --defined-only "$so" | awk '{ print $NF }' | sort -u > "$defined"

refs() {        # archive -> "object symbol" of undefined libmodbus symbols
        nm -u -A "$1" | awk '{ n = split($1, p, ":"); print p[n-1], $NF }' |
                sort -u | while read -r obj sym; do
                        grep -qx "$sym" "$defined" && echo "$obj $sym"
                done || true
}

io_refs=$(refs "$only")
if [ -z "$io_refs" ]; then
        echo "FAIL: modbus_io.c references no libmodbus symbol: the check cannot see anything"
        exit 1
fi
bad=$(refs "$without")
if [ -n "$bad" ]; then
        echo "FAIL: libmodbus called outside modbus_io.c:"
        echo "$bad"
        exit 1
fi
echo "ok: $(echo "$io_refs" | wc -l) libmodbus symbols, all from modbus_io.c"
