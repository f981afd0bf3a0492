#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR VERSION LIBDIR [FLAGS]: installs the
# build into a temporary prefix with `cmake --install`, checks what is there
# (the soname among it), then builds a small C program on the C API and a C++
# one on lumbung::replica with find_package(lumbung), and the C one again with
# pkg-config, and runs each without LD_LIBRARY_PATH. FLAGS (the sanitizers of
# the build, if any) go to the consumers' compiler and linker.
set -euo pipefail
build=$1 source=$2 version=$3 libdir=$4 flags=${5:-}
major=${version%%.*}

work=$(mktemp -d "${TMPDIR:-/tmp}/lumbung-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install_test: $*" >&2; exit 1; }
unset LD_LIBRARY_PATH

cmake --install "$build" --prefix "$prefix" >"$work/install.log" || {
  cat "$work/install.log" >&2
  fail "cmake --install failed"
}

# What is installed, and nothing of src/.
for file in bin/lumbungd bin/lumbung include/lumbung.h include/lumbung/replica.hpp \
  include/lumbung/error_codes.inc "$libdir/liblumbung.so.$version" \
  "$libdir/liblumbung_replica.a" "$libdir/cmake/lumbung/lumbungConfig.cmake" \
  "$libdir/cmake/lumbung/lumbungConfigVersion.cmake" "$libdir/pkgconfig/lumbung.pc"; do
  [[ -e $prefix/$file ]] || fail "missing $file"
done
[[ $(readlink "$prefix/$libdir/liblumbung.so.$major") == "liblumbung.so.$version" ]] ||
  fail "liblumbung.so.$major does not point at liblumbung.so.$version"
[[ $(readlink "$prefix/$libdir/liblumbung.so") == "liblumbung.so.$major" ]] ||
  fail "liblumbung.so does not point at liblumbung.so.$major"
soname=$(readelf -d "$prefix/$libdir/liblumbung.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "liblumbung.so.$major" ]] || fail "soname '$soname', expected liblumbung.so.$major"
if grep -rl --include='*.hpp' -e '#include "core/' -e '#include "replica/' "$prefix/include" >&2; then
  fail "an installed header includes a private one"
fi
if grep -rq -e "$build" -e "$source/engine/src" "$prefix/$libdir/cmake/lumbung"; then
  fail "the installed CMake package names the build or source tree"
fi
# (Output captured before it is matched: with pipefail, grep -q ending a
# pipeline early would fail the writer.)
said=$("$prefix/bin/lumbungd" --version)
[[ ${said%%$'\n'*} == "lumbungd $version" ]] || fail "installed lumbungd --version says '$said'"

# Runs CONSUMER on a fresh replica: its output, and that it loads the installed
# library (the dynamic loader's search path has no other one).
run() {  # run NAME EXPECTED
  local program=$work/$1 expected=$2 out
  if [[ $1 != *cxx ]]; then
    out=$(env -u LD_LIBRARY_PATH ldd "$program")
    [[ $out == *"liblumbung.so.$major => $prefix/$libdir/"* ]] ||
      fail "$1 does not load $prefix/$libdir/liblumbung.so.$major"
  fi
  out=$(env -u LD_LIBRARY_PATH "$program" "$work/$1.db") || fail "$1 failed: $out"
  [[ $out == "$expected" ]] || fail "$1 printed '$out', expected '$expected'"
}

# find_package(lumbung): CMake sets the consumer's RPATH to the imported
# library's directory.
cmake -S "$source/tests/install/consumer" -B "$work/consumer-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DLUMBUNG_EXPECTED_VERSION="$version" \
  -DLUMBUNG_EXPECTED_PREFIX="$prefix" -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/consumer.log" 2>&1 || {
  cat "$work/consumer.log" >&2
  fail "the find_package consumer does not configure"
}
cmake --build "$work/consumer-build" >>"$work/consumer.log" 2>&1 || {
  cat "$work/consumer.log" >&2
  fail "the find_package consumer does not build"
}
cp "$work/consumer-build/c_consumer" "$work/cmake_c"
cp "$work/consumer-build/cxx_consumer" "$work/cmake_cxx"
dynamic=$(readelf -d "$work/cmake_c")
[[ $dynamic =~ R(UN)?PATH[^$'\n']*"$prefix/$libdir" ]] ||
  fail "the find_package consumer has no RPATH to $prefix/$libdir"
run cmake_c "lumbung $version: village Juntinyuat"
run cmake_cxx "lumbung C++: village Juntinyuat"

# pkg-config, with an RPATH to the library's directory given as docs/bindings/c.md shows.
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
[[ $(pkg-config --modversion lumbung) == "$version" ]] || fail "pkg-config --modversion lumbung"
pc_libdir=$(pkg-config --variable=libdir lumbung)
[[ $pc_libdir == "$prefix/$libdir" ]] || fail "lumbung.pc's libdir is $pc_libdir"
# shellcheck disable=SC2046,SC2086  # the flags are words
cc -std=c11 $flags "$source/tests/install/consumer/consumer.c" -o "$work/pkg_config_c" \
  $(pkg-config --cflags --libs lumbung) -Wl,-rpath,"$pc_libdir" ||
  fail "the pkg-config consumer does not build"
run pkg_config_c "lumbung $version: village Juntinyuat"
echo "install_test: installed into a temporary prefix; find_package and pkg-config consumers ran"
