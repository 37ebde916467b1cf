#!/usr/bin/env bash
# `npm run package:deb`: builds reconfig_<version>_<arch>.deb with Debian's own dpkg-deb. It carries the single
# executable (npm run package:bin), so it needs no Node: Depends names only the libraries the executable links,
# as dpkg-shlibdeps finds them.
#
#   /usr/bin/reconfig           the executable
#   /lib/systemd/system/reconfig.service
#   /etc/reconfig/conf.d/*.json.example, /etc/reconfig/templates/*.ejs   conffiles: examples, inactive until renamed
#   /etc/default/reconfig       conffile, mode 0600: RECONFIG_* settings and secrets for the unit
#   /usr/share/doc/reconfig/    README, docs, examples, copyright, THIRD-PARTY (what the executable contains), changelog
#   /usr/share/man/man1/reconfig.1.gz
#
#   package-deb.sh [--arch x64|arm64] [outdir]     (npm run package:deb -- --arch arm64)
# The .deb lands in outdir (default: the current directory). --arch and RECONFIG_EXECUTABLE: see
# package-common.sh. For arm64, dpkg-shlibdeps reads the arm64 libraries' symbols files: libc6:arm64,
# libstdc++6:arm64 and libgcc-s1:arm64 must be installed (Debian's multiarch, as for building the executable).
set -euo pipefail
# shellcheck source=package-common.sh
. "$(dirname "$0")/package-common.sh"
package_args "$@"
if [ "$debarch" != "$(dpkg --print-architecture)" ]; then
  missing=()
  for lib in libc6 libstdc++6 libgcc-s1; do dpkg -s "$lib:$debarch" >/dev/null 2>&1 || missing+=("$lib:$debarch"); done
  [ ${#missing[@]} -eq 0 ] || {
    echo "package-deb: dpkg-shlibdeps needs ${missing[*]} for the $debarch Depends; as root: dpkg --add-architecture $debarch && apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1; }
fi
cd "$root"
work=$(mktemp -d /tmp/reconfig-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"
exe=$(executable)

mkdir -p "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/share/man/man1" "$pkg/etc/default" \
  "$pkg/etc/reconfig/conf.d" "$pkg/etc/reconfig/templates" "$pkg/usr/share/doc/reconfig"
cp "$exe" "$pkg/usr/bin/reconfig"
cp systemd/reconfig.service "$pkg/lib/systemd/system/"
# The man page is generated from the CLI, the schema and the docs (scripts/man-page.ts).
node dist/scripts/man-page.js "$work/reconfig.1"
gzip -9n < "$work/reconfig.1" > "$pkg/usr/share/man/man1/reconfig.1.gz"
for f in conf.d/*.json; do cp "$f" "$pkg/etc/reconfig/conf.d/$(basename "$f").example"; done
cp templates/*.ejs "$pkg/etc/reconfig/templates/"
doc="$pkg/usr/share/doc/reconfig"
cp README.md "$doc/"
cp -r docs "$doc/docs"
copy_examples "$doc/examples"
mv "$doc/examples/conf.d"/* "$doc/examples/" && rmdir "$doc/examples/conf.d"
cp "$(dirname "$exe")/THIRD-PARTY" "$doc/THIRD-PARTY"
mkdir -p "$pkg/usr/share/lintian/overrides"
cat > "$pkg/usr/share/lintian/overrides/reconfig" <<'LINTIAN'
# The executable is Node.js, which builds in its own copy of zlib (Chromium's, with SIMD changes); it cannot
# link Debian's without rebuilding Node.
reconfig: embedded-library zlib [usr/bin/reconfig]
LINTIAN

cat > "$pkg/etc/default/reconfig" <<'ENV'
# Settings for the reconfig service (systemd reads this file; it is mode 0600 because secrets may go here).
# Every command-line flag has a RECONFIG_<FLAG> variable; see `reconfig --help`.
RECONFIG_CFGDIR=/etc/reconfig
#RECONFIG_ENDPOINTS=https://etcd1:2379,https://etcd2:2379,https://etcd3:2379
#RECONFIG_SSL=true
#RECONFIG_SSL_CAFILE=/etc/reconfig/ca.pem
#RECONFIG_SSL_CERT=/etc/reconfig/client.pem
#RECONFIG_SSL_KEY=/etc/reconfig/client.key
#RECONFIG_SSL_PASSPHRASE=
#RECONFIG_USER=reconfig
#RECONFIG_ETCD_PASSWORD=
#RECONFIG_PREFIX=/production
#RECONFIG_LISTEN=127.0.0.1:9333
ENV

cat > "$doc/copyright" <<EOF2
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: reconfig
Source: https://github.com/reconfig/reconfig

Files: *
Copyright: 2026 the reconfig developers
License: MIT

Files: usr/bin/reconfig
Copyright: the reconfig developers; the Node.js contributors; the authors of each npm package it contains
License: MIT and others
 usr/bin/reconfig is Node.js with reconfig and its npm dependencies built in.
 /usr/share/doc/reconfig/THIRD-PARTY names Node's version and every npm
 package inside, with the license each one's package.json names (MIT, ISC,
 Apache-2.0, BSD-3-Clause, Unlicense). Node.js's own license and those of the
 libraries it contains are in its LICENSE file:
 https://github.com/nodejs/node/blob/main/LICENSE

License: MIT
$(sed -e '1,2d' -e 's/^$/./' -e 's/^/ /' LICENSE)
EOF2
printf 'reconfig (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- reconfig developers <maintainers@reconfig.dev>  %s\n' \
  "$version" "$version" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$doc/changelog.gz"

# Depends: what the executable links, from dpkg-shlibdeps (it wants a debian/control to read; this one is
# only for it). Recommends: procps, for the unit's `ExecReload=/bin/kill`: Debian's minbase has no /bin/kill,
# and there `systemctl reload reconfig` would fail.
mkdir -p "$work/src/debian"
printf 'Source: reconfig\n\nPackage: reconfig\nArchitecture: any\n' > "$work/src/debian/control"
depends=$(cd "$work/src" && DEB_HOST_ARCH=$debarch dpkg-shlibdeps -O -e"$pkg/usr/bin/reconfig" 2>"$work/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p') \
  || { cat "$work/shlibdeps.err" >&2; exit 1; }
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies for the executable" >&2; cat "$work/shlibdeps.err" >&2; exit 1; }

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF2
Package: reconfig
Version: $version
Architecture: $debarch
Maintainer: reconfig developers <maintainers@reconfig.dev>
Depends: $depends
Recommends: procps
Section: admin
Priority: optional
Installed-Size: $size
Homepage: https://github.com/reconfig/reconfig
Description: keep configuration files in step with etcd
 reconfig watches keys in etcd and renders EJS templates into configuration
 files for haproxy, varnish, nginx, pgbouncer and others. Each change is
 rendered, checked with the daemon's own check command, swapped into place
 atomically and followed by a reload. Values are checked before they reach a
 file, and a failed render or check never replaces a good file.
 .
 The program is a single executable with Node.js built in: no Node.js needs
 to be installed.
EOF2
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) > "$pkg/DEBIAN/conffiles"

# Ownership and modes are deliberate: root everywhere, files 0644, directories and the program 0755, and the
# defaults file (which may hold a password) 0600.
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f -exec chmod 0644 {} +
chmod 0755 "$pkg/usr/bin/reconfig"
chmod 0600 "$pkg/etc/default/reconfig"
deb="$outdir/reconfig_${version}_${debarch}.deb"
# xz at level 1: the executable (110 MB) packs to 32 MB in ~30 s here, against 28 MB in ~4.5 min at the default 6.
dpkg-deb --root-owner-group -Zxz -z1 --build "$pkg" "$deb" >/dev/null
echo "$deb"
