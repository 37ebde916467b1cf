# Sourced by the packaging checks: a stock Debian 12 to install packages on, run with podman.
#   podman_store <dir>   a private podman store in <dir> with the settings this kind of sandbox needs (runc,
#                        cgroupfs, file events; docs/testing-podman.md), for every podman call that follows
#   stock_debian         imports Debian 12 (bookworm, minbase) as localhost/deb12:stock into that store. The root
#                        filesystem is made once by mmdebstrap from Debian's own packages and kept in
#                        .cache/deb12/rootfs.tar; its apt sources are Debian's only, and it has no Node.
#   podman_cleanup       removes every container and image of the store (call it from a trap)
stock_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STOCK_IMAGE=localhost/deb12:stock

podman_store() {
  local dir=$1
  mkdir -p "$dir/tmp" "$dir/netcfg"
  cat > "$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$dir/tmp"
network_config_dir = "$dir/netcfg"
CONF
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$dir" "$dir" > "$dir/storage.conf"
  export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
}

stock_debian() {
  local cache="$stock_root/.cache/deb12"
  if [ ! -f "$cache/rootfs.tar" ]; then
    command -v mmdebstrap >/dev/null || { echo "mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; return 1; }
    mkdir -p "$cache"
    # --format=tar: the name's .part suffix would otherwise make mmdebstrap write a directory.
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar bookworm "$cache/rootfs.tar.part" >&2
    mv "$cache/rootfs.tar.part" "$cache/rootfs.tar"
  fi
  podman import --quiet "$cache/rootfs.tar" "$STOCK_IMAGE" >/dev/null
}

podman_cleanup() {
  [ -n "${CONTAINERS_CONF:-}" ] || return 0
  podman rm -f -a -t 0 >/dev/null 2>&1 || true
  podman system reset -f >/dev/null 2>&1 || true
}
