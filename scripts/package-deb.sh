#!/usr/bin/env bash
# `npm run package:deb`: builds reconfig_<version>_all.deb with Debian's own dpkg-deb.
#
#   /usr/lib/reconfig/          the npm package (dist/, package.json) and its production node_modules
#   /usr/bin/reconfig           runs it with the system's node (Depends: nodejs (>= 20))
#   /lib/systemd/system/reconfig.service
#   /etc/reconfig/conf.d/*.json.example, /etc/reconfig/templates/*.ejs   conffiles: examples, inactive until renamed
#   /etc/default/reconfig       conffile, mode 0600: RECONFIG_* settings and secrets for the unit
#   /usr/share/doc/reconfig/    README, docs, copyright, changelog
#
# The .deb lands in the current directory (or $1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
outdir=$(cd "${1:-.}" && pwd)
cd "$root"
version=$(node -p "require('./package.json').version")
work=$(mktemp -d /tmp/reconfig-deb-XXXXXX)
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"

# The npm tarball is what ships: `npm pack` builds it (prepack) and lists its files (package.json "files").
npm pack --silent --pack-destination "$work" >/dev/null
mkdir -p "$pkg/usr/lib/reconfig"
tar -xzf "$work/reconfig-$version.tgz" -C "$pkg/usr/lib/reconfig" --strip-components=1
cp package-lock.json "$pkg/usr/lib/reconfig/"
# Production dependencies at the locked versions, no install scripts: the optional native add-ons that
# dockerode pulls in (ssh2, cpu-features) are not needed, and an Architecture: all package carries no binaries.
(cd "$pkg/usr/lib/reconfig" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
find "$pkg/usr/lib/reconfig/node_modules" \( -name '*.node' -o -name 'build' -path '*/cpu-features/*' -o -name 'build' -path '*/ssh2/lib/protocol/crypto/*' \) -prune -exec rm -rf {} +
# What a running agent does not need: type definitions, source maps, docs and tests inside dependencies.
find "$pkg/usr/lib/reconfig/node_modules" -type f \( -name '*.d.ts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.gitignore' -o -name '*.html' -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '*.ts' -o -name '*.sh' \) -delete
find "$pkg/usr/lib/reconfig/node_modules" -depth -type d \( -name test -o -name tests -o -name example -o -name examples -o -name '.github' -o -name '.husky' -o -path '*/cpu-features/deps' \) -exec rm -rf {} +
find "$pkg/usr/lib/reconfig/node_modules" -depth -type d -empty -delete
rm -f "$pkg/usr/lib/reconfig/package-lock.json"
# Examples and docs move to /etc and /usr/share/doc.
mkdir -p "$pkg/etc/reconfig/conf.d" "$pkg/etc/reconfig/templates" "$pkg/usr/share/doc/reconfig"
for f in "$pkg"/usr/lib/reconfig/conf.d/*.json; do cp "$f" "$pkg/etc/reconfig/conf.d/$(basename "$f").example"; done
cp "$pkg"/usr/lib/reconfig/templates/*.ejs "$pkg/etc/reconfig/templates/"
mv "$pkg/usr/lib/reconfig/README.md" "$pkg/usr/lib/reconfig/docs" "$pkg/usr/share/doc/reconfig/"
mv "$pkg/usr/lib/reconfig/conf.d" "$pkg/usr/lib/reconfig/templates" "$pkg/usr/lib/reconfig/plugins" "$pkg/usr/share/doc/reconfig/"
mv "$pkg/usr/share/doc/reconfig/conf.d" "$pkg/usr/share/doc/reconfig/examples"
mv "$pkg/usr/share/doc/reconfig/templates" "$pkg/usr/share/doc/reconfig/plugins" "$pkg/usr/share/doc/reconfig/examples/"
rm -f "$pkg/usr/lib/reconfig/LICENSE"
mkdir -p "$pkg/lib/systemd/system"
mv "$pkg/usr/lib/reconfig/systemd/reconfig.service" "$pkg/lib/systemd/system/"
rmdir "$pkg/usr/lib/reconfig/systemd"

mkdir -p "$pkg/usr/bin" "$pkg/usr/share/man/man1"
cat <<'MAN' | gzip -9n > "$pkg/usr/share/man/man1/reconfig.1.gz"
.TH RECONFIG 1 "" "reconfig" "User Commands"
.SH NAME
reconfig \- keep configuration files in step with etcd
.SH SYNOPSIS
.B reconfig
[\fIoptions\fR] [\fB\-\-\fR \fIprogram\fR [\fIargs\fR...]]
.br
.B reconfig validate
[\fB\-c\fR \fIdir\fR]
.br
.B reconfig render
\fItarget-id\fR \fB\-\-data\fR \fIfile\fR [\fB\-c\fR \fIdir\fR]
.SH DESCRIPTION
reconfig watches keys in etcd and renders EJS templates into configuration files. Each target in
\fI/etc/reconfig/conf.d/*.json\fR binds a key to a template in \fI/etc/reconfig/templates/\fR and a file; on a
change the file is rendered, checked with \fBcheckcmd\fR, swapped into place atomically and followed by
\fBreloadcmd\fR.
.PP
\fBreconfig \-\-help\fR lists every option; each can also be set as a \fBRECONFIG_\fR\fIFLAG\fR environment
variable, which is how the systemd unit reads \fI/etc/default/reconfig\fR.
.SH EXIT STATUS
0 success; 1 a target failed (\fB\-\-onetime\fR); 2 bad flags or configuration; 3 etcd unreachable or refused;
70 an internal error.
.SH FILES
\fI/etc/reconfig/conf.d/\fR, \fI/etc/reconfig/templates/\fR, \fI/etc/default/reconfig\fR
.SH SEE ALSO
\fI/usr/share/doc/reconfig/README.md\fR
MAN
cat > "$pkg/usr/bin/reconfig" <<'SH'
#!/bin/sh
# reconfig, as installed by its Debian package.
exec /usr/bin/node /usr/lib/reconfig/dist/src/cli.js "$@"
SH

mkdir -p "$pkg/etc/default"
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

doc="$pkg/usr/share/doc/reconfig"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: reconfig
Source: https://github.com/reconfig/reconfig

Files: *
Copyright: 2026 the reconfig developers
License: MIT

Files: usr/lib/reconfig/node_modules/*
Copyright: the authors of each npm package, as named in its package.json
License: various (MIT, ISC, Apache-2.0, BSD-3-Clause), as named in each package.json

License: MIT
$(sed -e '1,2d' -e 's/^$/./' -e 's/^/ /' LICENSE)
EOF
printf 'reconfig (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- reconfig developers <maintainers@reconfig.dev>  %s\n' \
  "$version" "$version" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$doc/changelog.gz"

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: reconfig
Version: $version
Architecture: all
Maintainer: reconfig developers <maintainers@reconfig.dev>
Depends: nodejs (>= 20)
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
EOF
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) > "$pkg/DEBIAN/conffiles"

# Ownership and modes are deliberate: root everywhere, files 0644, directories and programs 0755, and the
# defaults file (which may hold a password) 0600.
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f -exec chmod 0644 {} +
chmod 0755 "$pkg/usr/bin/reconfig" "$pkg/usr/lib/reconfig/dist/src/cli.js"
# Dependencies' own command-line scripts keep their executable bit (their shebang says they are programs).
grep -rlZ -m1 '^#!' "$pkg/usr/lib/reconfig/node_modules" | xargs -0 -r chmod 0755
chmod 0600 "$pkg/etc/default/reconfig"
deb="$outdir/reconfig_${version}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
