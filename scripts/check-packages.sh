#!/usr/bin/env bash
# CI's packaging check, run by .ci/run as root on a Debian machine with etcd, podman and mmdebstrap installed:
#  1. `npm pack`, then `npm install -g` of the tarball into a scratch prefix: `reconfig --version` runs with
#     production dependencies only (the npm package, for Node users).
#  2. The single executable (`npm run package:bin`, or RECONFIG_EXECUTABLE if it is built already), then from it
#     the .deb (`npm run package:deb`, lintian with no errors) and the release tarball.
#  3. The .deb installed on a stock Debian 12 with no Node (check-stock-debian.sh): --version, validate, the
#     haproxy example from an etcd on loopback (--onetime and the watching agent), systemd-analyze verify,
#     remove and purge.
#  4. The tarball unpacked: its executable's --version, and validate of its examples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/reconfig-pkgcheck-XXXXXX)
trap 'rm -rf "$work"' EXIT
say() { echo "check-packages: $*"; }

version=$(node -p "require('./package.json').version")

say "npm pack and npm install -g"
npm pack --silent --pack-destination "$work" >/dev/null
npm install -g --prefix "$work/npm-global" --no-audit --no-fund --loglevel=error "$work/reconfig-$version.tgz" >/dev/null
[ ! -e "$work/npm-global/lib/node_modules/reconfig/node_modules/typescript" ] || { say "typescript was installed"; exit 1; }
test "$("$work/npm-global/bin/reconfig" --version)" = "$version"

if [ -z "${RECONFIG_EXECUTABLE:-}" ]; then
  say "npm run package:bin"
  RECONFIG_EXECUTABLE=$(node dist/scripts/bin/package-bin.js | tail -1)
fi
export RECONFIG_EXECUTABLE

say "npm run package:deb, lintian"
deb=$(bash scripts/package-deb.sh "$work" | tail -1)
lintian --fail-on error "$deb"

say "the .deb on a stock Debian 12"
bash scripts/check-stock-debian.sh "$deb"

say "the release tarball"
tarball=$(bash scripts/package-tarball.sh "$work" | tail -1)
mkdir "$work/unpacked" && tar -C "$work/unpacked" -xzf "$tarball"
dir="$work/unpacked/reconfig-$version-linux-x64"
test "$("$dir/reconfig" --version)" = "$version"
"$dir/reconfig" validate -c "$dir/examples"
say "ok"
