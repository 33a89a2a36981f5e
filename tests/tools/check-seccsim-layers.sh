#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-seccsim-layers.sh ARCHIVE FILE...
# The objects of `seccsim session` (ARCHIVE) depend on each other one way
# only: FILEs are its sources from the bottom layer to the top, and an
# object may call only functions defined in objects listed before its own.
# Fails on any call up or sideways (a circle), naming the caller, the
# callee and the symbol; fails too when an object is missing or nothing
# calls down at all (the check would see nothing).
set -eu
archive="$1"
shift
command -v nm >/dev/null || { echo "nm not found"; exit 77; }

nm -A -P "$archive" | awk -v layers="$*" '
BEGIN {
        n = split(layers, order, " ")
        for (i = 1; i <= n; i++)
                rank[order[i]] = i
}
{
        # "archive[member.c.o]: symbol type [value size]"
        if (!match($1, /\[[^]]*\]/))
                next
        obj = substr($1, RSTART + 1, RLENGTH - 2)
        sub(/.*\//, "", obj)           # a thin archive names the path
        sub(/\.o$/, "", obj)
        seen[obj] = 1
        if ($3 == "U")
                used[obj, $2] = 1
        else if ($3 ~ /^[TDBR]$/)
                owner[$2] = obj
}
END {
        bad = 0
        for (obj in seen)
                if (!(obj in rank)) {
                        printf "FAIL: %s is in no layer\n", obj
                        bad = 1
                }
        for (i = 1; i <= n; i++)
                if (!(order[i] in seen)) {
                        printf "FAIL: %s is not in the archive\n", order[i]
                        bad = 1
                }
        down = 0
        for (key in used) {
                split(key, k, SUBSEP)
                if (!(k[2] in owner) || owner[k[2]] == k[1])
                        continue
                if (rank[owner[k[2]]] >= rank[k[1]]) {
                        printf "FAIL: %s calls %s of %s, a layer not below its own\n", k[1], k[2], owner[k[2]]
                        bad = 1
                } else {
                        down++
                }
        }
        if (down == 0) {
                print "FAIL: no call between the objects: the check cannot see anything"
                bad = 1
        }
        if (!bad)
                printf "ok: %d calls between %d layers, all downwards\n", down, n
        exit bad
}'
