#!/usr/bin/env bash
# `npm run package:tarball`: reconfig-<version>-linux-<arch>.tar.gz, for distributions other than Debian's:
#   reconfig-<version>-linux-<arch>/
#     reconfig               the single executable (npm run package:bin): needs glibc 2.34+ (arm64: 2.28+), libstdc++, libgcc
#     reconfig.service       the systemd unit (it runs /usr/bin/reconfig)
#     reconfig.1             the man page
#     examples/              conf.d/*.json, templates/*.ejs, plugins/*.js
#     README.md LICENSE THIRD-PARTY
#   package-tarball.sh [--arch x64|arm64] [outdir]     (npm run package:tarball -- --arch arm64)
# It lands in outdir (default: the current directory). --arch and RECONFIG_EXECUTABLE: see package-common.sh.
set -euo pipefail
# shellcheck source=package-common.sh
. "$(dirname "$0")/package-common.sh"
package_args "$@"
cd "$root"
work=$(mktemp -d /tmp/reconfig-tarball-XXXXXX)
trap 'rm -rf "$work"' EXIT
exe=$(executable)
name="reconfig-$version-linux-$arch"
dir="$work/$name"
mkdir -p "$dir"
install -m 0755 "$exe" "$dir/reconfig"
node dist/scripts/man-page.js "$work/reconfig.1"
install -m 0644 systemd/reconfig.service "$work/reconfig.1" README.md LICENSE "$(dirname "$exe")/THIRD-PARTY" "$dir/"
copy_examples "$dir/examples"
find "$dir/examples" -type d -exec chmod 0755 {} + && find "$dir/examples" -type f -exec chmod 0644 {} +
tarball="$outdir/$name.tar.gz"
# Reproducible: sorted names, root-owned, every mtime the last commit's.
mtime="@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -c "$name" | gzip -6n > "$tarball"
echo "$tarball"
