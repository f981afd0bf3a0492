#!/usr/bin/env bash
# package_test.sh BUILD_DIR VERSION: makes the Debian packages with CPack
# (cmake/packaging.cmake) into a temporary directory and checks each one's
# files, control fields and, for lumbungd, the maintainer script that creates
# its user. Installs nothing on this machine.
set -euo pipefail
build=$1 version=$2
major=${version%%.*}
work=$(mktemp -d "${TMPDIR:-/tmp}/lumbung-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "package_test: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  fail "cpack failed"
}
daemon=$work/lumbungd_${version}_amd64.deb
device=$work/lumbung-device_${version}_amd64.deb
[[ -f $daemon && -f $device ]] || fail "expected $(basename "$daemon") and $(basename "$device"): $(ls "$work")"

files() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort; }
field() { dpkg-deb -f "$1" "$2"; }

# The daemon's package: the binary, stripped, its service and default
# configuration, and nothing of the device side.
expected=$'/usr/bin/lumbungd\n/usr/lib/systemd/system/lumbungd.service\n/usr/share/lumbungd/lumbungd.toml'
[[ $(files "$daemon") == "$expected" ]] || fail "lumbungd holds: $(files "$daemon")"
[[ $(field "$daemon" Package) == lumbungd && $(field "$daemon" Version) == "$version" ]] ||
  fail "lumbungd's control fields"
# (Output captured before it is matched: with pipefail, grep -q ending a
# pipeline early would fail the writer.)
depends=$(field "$daemon" Depends)
for dep in adduser libsqlite3-0 libssl3 libprotobuf-lite32 libzstd1 libtomlplusplus3; do
  [[ $depends == *"$dep"* ]] || fail "lumbungd does not depend on $dep: $depends"
done
dpkg-deb -e "$daemon" "$work/daemon-control"
grep -q 'adduser --system --group' "$work/daemon-control/postinst" ||
  fail "lumbungd's postinst does not create its user"
sh -n "$work/daemon-control/postinst" || fail "lumbungd's postinst is not valid sh"
grep -q '/etc/lumbungd/lumbungd.toml' "$work/daemon-control/postinst" ||
  fail "lumbungd's postinst does not install its configuration"
dpkg-deb -x "$daemon" "$work/daemon-root"
# The unit runs the daemon as its own user, confined to its data directory.
unit=$work/daemon-root/usr/lib/systemd/system/lumbungd.service
for line in User=lumbung NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
  ReadWritePaths=/var/lib/lumbungd "ExecReload=/bin/kill -HUP \$MAINPID" \
  "ExecStart=/usr/bin/lumbungd serve --config /etc/lumbungd/lumbungd.toml"; do
  grep -qxF "$line" "$unit" || fail "lumbungd.service lacks '$line'"
done
if command -v systemd-analyze >/dev/null; then
  # As systemd reads it, naming the packaged binary where it was unpacked:
  # any remark (an unknown or malformed setting, a missing program) fails.
  mkdir "$work/unit"
  sed "s|/usr/bin/lumbungd|$work/daemon-root/usr/bin/lumbungd|g" "$unit" >"$work/unit/lumbungd.service"
  verified=$(systemd-analyze verify "$work/unit/lumbungd.service" 2>&1) && [[ -z $verified ]] ||
    fail "systemd-analyze verify: $verified"
fi
# The default configuration is one the packaged daemon accepts.
sed "s|/var/lib/lumbungd|$work/data|" "$work/daemon-root/usr/share/lumbungd/lumbungd.toml" \
  >"$work/lumbungd.toml"
"$work/daemon-root/usr/bin/lumbungd" check-config --config "$work/lumbungd.toml" >/dev/null ||
  fail "the packaged lumbungd.toml does not pass check-config"
sections=$(readelf -S "$work/daemon-root/usr/bin/lumbungd")
[[ $sections != *.debug_* ]] || fail "lumbungd is not stripped"
said=$("$work/daemon-root/usr/bin/lumbungd" --version)
[[ ${said%%$'\n'*} == "lumbungd $version" ]] || fail "the packaged lumbungd says '$said'"

# The device package: library, headers, CMake package, pkg-config file, CLI.
device_files=$(files "$device")
for file in /usr/bin/lumbung /usr/include/lumbung.h /usr/include/lumbung/replica.hpp \
  "/usr/lib/liblumbung.so.$version" "/usr/lib/liblumbung.so.$major" /usr/lib/liblumbung.so \
  /usr/lib/liblumbung_replica.a /usr/lib/cmake/lumbung/lumbungConfig.cmake \
  /usr/lib/pkgconfig/lumbung.pc; do
  grep -qx "$file" <<<"$device_files" || fail "lumbung-device lacks $file"
done
if grep -q lumbungd <<<"$device_files"; then fail "lumbung-device holds the daemon"; fi
dpkg-deb -x "$device" "$work/device-root"
grep -qx 'prefix=/usr' "$work/device-root/usr/lib/pkgconfig/lumbung.pc" ||
  fail "lumbung.pc's prefix is not /usr"
echo "package_test: lumbungd and lumbung-device $version hold what they should"
