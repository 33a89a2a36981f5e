#!/usr/bin/env bash
# The Debian package, end to end on this machine:
#  1. built with dpkg-buildpackage -us -uc -b from a clean copy of the tree
#     (the tracked and new files, no build directory) in a temporary
#     directory; the source tree is left as it was;
#  2. lintian: no error (its warnings are printed; README.md explains them);
#  3. its contents: the programs, the units (the template too), the
#     sysusers entry, the D-Bus policy, the manual pages, the configuration
#     and every profile as conffiles, the example drop-ins;
#  4. installed with dpkg: the files are there, the seccbridge user exists,
#     the programs run, `systemd-analyze verify` accepts the installed units
#     (an instance of the template too), neither unit is enabled;
#  5. removed: the programs are gone, the conffiles stay; purged: nothing of
#     it is left (files, directories, unit state).
# The seccbridge system user stays after a purge, as Debian's users do (it
# may still own files elsewhere); the test deletes it when it created it.
#
#   tests/package/test-package.sh [--keep DIR]   (DIR: keep the .deb and logs there)
#
# Needs root, dpkg-dev, debhelper, lintian and the build dependencies
# (scripts/install-deps.sh).  Exit 0 passed, 1 failed, 77 skipped.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
keep=
while [ $# -gt 0 ]; do
        case "$1" in
        --keep) keep=$2; shift ;;
        *) echo "test-package.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

[ "$(id -u)" = 0 ] || skip "needs root to install the package"
for c in dpkg-buildpackage dh lintian systemd-analyze; do
        command -v "$c" >/dev/null 2>&1 || skip "$c not found (scripts/install-deps.sh)"
done
if dpkg-query -W -f='${Status}\n' seccbridge 2>/dev/null | grep -qv "not-installed"; then
        skip "a seccbridge package is already on this machine; the test would remove it"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seccbridge-package.XXXXXX")
user_existed=0
getent passwd seccbridge >/dev/null && user_existed=1
installed=0
cleanup() {
        local rc=$?
        set +e
        if [ "$installed" = 1 ]; then
                dpkg --purge seccbridge >/dev/null 2>&1
        fi
        if [ "$user_existed" = 0 ] && getent passwd seccbridge >/dev/null; then
                userdel seccbridge 2>/dev/null
                getent group seccbridge >/dev/null && groupdel seccbridge 2>/dev/null
        fi
        if [ -n "$keep" ]; then
                mkdir -p "$keep"
                cp "$tmp"/*.deb "$tmp"/*.log "$keep"/ 2>/dev/null
        fi
        rm -rf "$tmp"
        exit "$rc"
}
trap cleanup EXIT

version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb=$tmp/seccbridge_${version}_$arch.deb

# 1. A clean copy: what git tracks plus new files not ignored (so a change
# not yet committed is tested too), or without git everything but build
# directories.
src=$tmp/seccbridge-$version
mkdir -p "$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$root" && git ls-files -z --cached --others --exclude-standard \
                | tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$src"
else
        (cd "$root" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$src"
fi
start=$SECONDS
if ! (cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)" \
        dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1; then
        tail -n 40 "$tmp/build.log"
        fail "dpkg-buildpackage failed (log above)"
fi
[ -f "$deb" ] || fail "no $deb after the build"
ok "built $(basename "$deb") in $(( SECONDS - start )) s ($(du -k "$deb" | cut -f1) kB)"
grep -E "^ *[0-9]+/[0-9]+ .* (OK|FAIL|SKIP|ERROR)" "$tmp/build.log" | sed 's/^/     test during the build: /' | tail -n 40 || true

# 2. lintian.
lintian --fail-on error --tag-display-limit 0 "$deb" >"$tmp/lintian.log" 2>&1 || {
        cat "$tmp/lintian.log"
        fail "lintian found errors"
}
sed 's/^/     lintian: /' "$tmp/lintian.log"
ok "lintian: no error ($(grep -c '^W:' "$tmp/lintian.log" || true) warnings, listed above)"

# 3. The contents.
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/contents"
dpkg-deb -f "$deb" Version Architecture Depends | sed 's/^/     /'
# The shared libraries the daemon links, found by dh_shlibdeps: MQTT's
# among them (libmosquitto-dev in Build-Depends).
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libev4 libsystemd0 libsocketcan2 libinih1 libmodbus5 libmosquitto1; do
        [[ "$depends" =~ (^|[ ,])$lib([ ,]|$) ]] || fail "Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$tmp/conffiles" 2>/dev/null || : >"$tmp/conffiles"
want=(
        /usr/sbin/seccbridge /usr/bin/seccsim /usr/bin/seccbridgectl
        /lib/systemd/system/seccbridge.service /lib/systemd/system/seccbridge@.service
        /usr/lib/sysusers.d/seccbridge.conf
        /usr/share/dbus-1/system.d/org.seccbridge.conf
        /usr/share/man/man8/seccbridge.8.gz /usr/share/man/man5/seccbridge.conf.5.gz
        /usr/share/man/man1/seccsim.1.gz /usr/share/man/man1/seccbridgectl.1.gz
        /usr/share/doc/seccbridge/copyright /usr/share/doc/seccbridge/examples/80-can0.network
        /etc/seccbridge/seccbridge.conf
)
for d in "$root"/systemd/drop-ins/*.conf; do
        want+=("/usr/share/doc/seccbridge/examples/drop-ins/$(basename "$d")")
done
conffiles=(/etc/seccbridge/seccbridge.conf)
for p in "$root"/conf/profiles/*.conf; do
        want+=("/etc/seccbridge/profiles/$(basename "$p")")
        conffiles+=("/etc/seccbridge/profiles/$(basename "$p")")
done
for f in "${want[@]}"; do
        grep -qxF "$f" "$tmp/contents" || fail "$f is not in the package"
done
ok "the package holds all ${#want[@]} expected files"
for f in "${conffiles[@]}"; do
        grep -qxF "$f" "$tmp/conffiles" || fail "$f is not a conffile"
done
ok "${#conffiles[@]} conffiles: the configuration and every profile"

# 4. Installed.
dpkg -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i failed"; }
installed=1
dpkg -L seccbridge >"$tmp/installed"
for f in "${want[@]}"; do
        [ -e "$f" ] || fail "$f missing after installation"
done
ok "installed: every expected file in place"
getent passwd seccbridge >/dev/null || fail "no seccbridge user after installation (sysusers)"
ok "the seccbridge system user exists ($(getent passwd seccbridge | cut -d: -f3,7))"
got=$(seccbridge --version) && [ "$got" = "seccbridge $version" ] || fail "seccbridge --version said '$got'"
seccbridge --check-config -c /etc/seccbridge/seccbridge.conf >/dev/null || fail "the installed configuration is not valid"
got=$(seccsim encode Charging_Loop Target_Voltage=450 Target_Current=50 State_of_Charge=40)
[ "$got" = "01068005#9411F40128" ] || fail "seccsim encode said '$got'"
seccbridgectl --help >/dev/null || fail "seccbridgectl --help failed"
ok "the programs run: $version, the shipped configuration valid, seccsim encodes"
mkdir -p "$tmp/units"
ln -s /lib/systemd/system/seccbridge@.service "$tmp/units/seccbridge@pistol1.service"
for u in /lib/systemd/system/seccbridge.service "$tmp/units/seccbridge@pistol1.service"; do
        systemd-analyze verify "$u" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify $u"; }
        ! grep -q . "$tmp/verify.log" || { cat "$tmp/verify.log"; fail "systemd-analyze verify $u complained"; }
done
ok "systemd-analyze verify: seccbridge.service and seccbridge@pistol1.service"
if ls /etc/systemd/system/*.wants/seccbridge*.service >/dev/null 2>&1; then
        fail "a seccbridge unit was enabled at installation (the limits must be set first)"
fi
ok "no unit enabled at installation"

# 5. Removed, then purged.
dpkg --remove seccbridge >"$tmp/remove.log" 2>&1 || { cat "$tmp/remove.log"; fail "dpkg --remove failed"; }
for f in /usr/sbin/seccbridge /usr/bin/seccsim /lib/systemd/system/seccbridge.service; do
        [ ! -e "$f" ] || fail "$f still there after removal"
done
[ -f /etc/seccbridge/seccbridge.conf ] || fail "the configuration went with the removal (a conffile stays until purge)"
ok "removed: the programs gone, the configuration kept"
dpkg --purge seccbridge >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg --purge failed"; }
installed=0
dpkg-query -W -f='${Status}\n' seccbridge 2>/dev/null | grep -qv "not-installed" \
        && fail "dpkg still knows seccbridge after the purge"
left=()
while read -r f; do
        case "$f" in
        /.|/etc|/lib|/lib/systemd|/lib/systemd/system|/usr|/usr/*/|/usr/bin|/usr/sbin|/usr/lib|/usr/share|/usr/share/man|/usr/share/man/*|/usr/share/doc|/usr/share/dbus-1|/usr/share/dbus-1/system.d|/usr/lib/systemd|/usr/lib/systemd/system|/usr/lib/sysusers.d|/usr/share/lintian|/usr/share/lintian/overrides)
                # Directories other packages share.
                [ -d "$f" ] && continue ;;
        esac
        [ ! -e "$f" ] || left+=("$f")
done <"$tmp/installed"
for f in /etc/seccbridge /usr/share/doc/seccbridge /var/lib/systemd/deb-systemd-helper-enabled/seccbridge.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-masked/seccbridge.service; do
        [ ! -e "$f" ] || left+=("$f")
done
[ ${#left[@]} -eq 0 ] || fail "left after the purge: ${left[*]}"
ok "purged: nothing left ($(wc -l <"$tmp/installed") paths checked)"
