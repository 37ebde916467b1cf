#!/usr/bin/env bash
# `npm run package:image`: the sidecar image, localhost/reconfig:<version> (and :latest), built with podman from
# contrib/container/Containerfile around the single executable.
#   package-image.sh [--local-base]
# --local-base builds FROM Debian 12 made here by mmdebstrap (scripts/stock-debian.sh) instead of pulling the
# Containerfile's FROM (docker.io/library/debian:bookworm-slim): for machines that reach no registry.
# ARCH and RECONFIG_EXECUTABLE: see package-common.sh. podman runs with the caller's store and settings
# (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF).
set -euo pipefail
# shellcheck source=package-common.sh
. "$(dirname "$0")/package-common.sh"
cd "$root"
base=()
if [ "${1:-}" = --local-base ]; then
  # shellcheck source=stock-debian.sh
  . "$root/scripts/stock-debian.sh"
  stock_debian
  base=(--build-arg "BASE=$STOCK_IMAGE")
elif [ -n "${1:-}" ]; then
  echo "usage: package-image.sh [--local-base]" >&2; exit 2
fi
exe=$(executable)
context=$(mktemp -d /tmp/reconfig-image-XXXXXX)
trap 'rm -rf "$context"' EXIT
install -m 0755 "$exe" "$context/reconfig"
install -m 0644 "$(dirname "$exe")/THIRD-PARTY" LICENSE "$context/"
mkdir -p "$context/etc/reconfig/conf.d" "$context/etc/reconfig/templates"
chmod -R u=rwX,go=rX "$context/etc"
image="localhost/reconfig:$version"
podman build --quiet --platform "linux/$debarch" "${base[@]}" --build-arg "VERSION=$version" \
  -f contrib/container/Containerfile -t "$image" -t localhost/reconfig:latest "$context" >/dev/null
echo "$image"
