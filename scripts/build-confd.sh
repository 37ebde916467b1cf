#!/usr/bin/env bash
# Builds confd from a confd source tree with the modules it vendors, for the comparison in
# test/import/real-confd.test.ts (docs/development.md, "Comparing the import with the real confd"):
#   scripts/build-confd.sh CONFD_SOURCE_DIR [OUTPUT]
# OUTPUT defaults to CONFD_SOURCE_DIR/bin/confd. Needs Go (Debian's golang-go); never touches the network:
# GOFLAGS=-mod=vendor builds from vendor/, GOPROXY=off refuses any module that is not there. Prints the path of
# the binary and its version.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 CONFD_SOURCE_DIR [OUTPUT]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
out=${2:-$src/bin/confd}
case "$out" in /*) ;; *) out=$(pwd)/$out ;; esac
if [ ! -f "$src/go.mod" ] || [ ! -f "$src/confd.go" ]; then
  echo "$src: not a confd source tree (no go.mod and confd.go)" >&2
  exit 2
fi
if [ ! -f "$src/vendor/modules.txt" ]; then
  echo "$src: no vendor/modules.txt: run 'go mod vendor' in it where the network is available" >&2
  exit 2
fi
command -v go >/dev/null || { echo "go not found: apt-get install golang-go" >&2; exit 2; }
mkdir -p "$(dirname "$out")"
sha=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || true)
# The module cache and build cache go to a temporary directory, so that nothing outside it and OUTPUT is written;
# CGO_ENABLED=0 as confd's own release builds (its Makefile), so names resolve with Go's resolver as there.
cache=$(mktemp -d /tmp/build-confd-XXXXXX)
trap 'chmod -R u+w "$cache" 2>/dev/null; rm -rf "$cache"' EXIT
(cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$cache/build" GOPATH="$cache/gopath" CGO_ENABLED=0 \
  go build -ldflags "-X main.GitSHA=$sha" -o "$out" .)
echo "$out"
"$out" -version
