#!/usr/bin/env bash
# Installs the arm64 .deb on a stock arm64 Debian 12, on an x64 machine, as a new user would:
#   check-stock-debian-arm64.sh reconfig_<version>_arm64.deb
# The root filesystem is made once by `mmdebstrap --arch arm64 --variant=minbase bookworm` from Debian's own
# packages (kept in .cache/deb12-arm64/rootfs.tar); its apt sources are Debian's only, and it has no Node. Every
# arm64 program in it, dpkg and apt included, runs under qemu-aarch64-static through a binfmt_misc registration
# made in a user namespace of this script's own (in_arm64_ns below). In a chroot into it: `apt-get install
# ./reconfig_*_arm64.deb`, nothing of Node; --version; validate -c /etc/reconfig; the haproxy example applied with
# --onetime from an etcd on this machine's loopback; apt-get remove (the configuration stays) and purge (it goes).
# Run by check-arm64.sh. Needs root, Linux 6.7 or later, qemu-user-static, mmdebstrap, etcd and etcdctl.
set -euo pipefail
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
cache=$PWD/.cache/deb12-arm64
work=$(mktemp -d /tmp/reconfig-stock-arm64-XXXXXX)
etcd_pid=
cleanup() {
  if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "check-stock-debian-arm64: $*"; }
fail() { echo "check-stock-debian-arm64: $*" >&2; exit 1; }

# Runs the script $1 (with the arguments after it) as root in user, mount and pid namespaces of its own, where
# uids and gids 0-65535 map to themselves (files keep their owners) and arm64 ELF files run through
# qemu-aarch64-static: the script's first step is to mount that user namespace's own binfmt_misc (Linux 6.7 and
# later give each one its own) and register qemu there, with the F flag so that it works inside a chroot. The
# host's binfmt_misc is not touched, and the registration goes with the namespace. util-linux's --map-users
# needs newuidmap; as root, writing the maps from outside needs nothing.
in_arm64_ns() {
  local go pid rc=0
  # Explicit checks: this runs as `in_arm64_ns ... || fail`, where set -e does not apply.
  go=$(mktemp -u "$work/ns-go-XXXXXX") && mkfifo "$go" || fail "cannot make a fifo in $work"
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --user -- bash -c 'read -r _ < "$0"; exec unshare --mount --pid --fork --mount-proc --kill-child bash "$@"' \
    "$go" "$@" &
  pid=$!
  # The maps are written once unshare has made the namespace (before, they would be this one's).
  while [ "$(readlink "/proc/$pid/ns/user")" = "$(readlink /proc/self/ns/user)" ]; do sleep 0.05; done
  if ! { echo '0 0 65536' > "/proc/$pid/uid_map" && echo '0 0 65536' > "/proc/$pid/gid_map"; }; then
    kill "$pid"; fail "cannot write the uid and gid maps of a user namespace (as root)"
  fi
  echo go > "$go" || { kill "$pid"; fail "cannot start the namespace's script"; }
  wait "$pid" || rc=$?
  rm -f "$go"
  return "$rc"
}

cat > "$work/binfmt.sh" <<'BINFMT'
set -euo pipefail
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || {
  echo "check-stock-debian-arm64: cannot mount a binfmt_misc of its own in a user namespace (Linux 6.7 or later needed; this is $(uname -r))" >&2; exit 1; }
printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
  > /proc/sys/fs/binfmt_misc/register
BINFMT
if [ ! -f "$cache/rootfs.tar" ]; then
  mkdir -p "$cache"
  say "mmdebstrap --arch arm64 --variant=minbase bookworm, under qemu (once; kept in $cache)"
  start=$SECONDS
  # --skip=check/qemu: mmdebstrap's own check needs the arch-test package; binfmt.sh has just registered qemu.
  # sysfs cannot be mounted without a network namespace of its own; mmdebstrap goes on without it.
  cat > "$work/mmdebstrap.sh" <<EOF2
. "$work/binfmt.sh"
mmdebstrap --quiet --variant=minbase --mode=root --arch=arm64 --skip=check/qemu --format=tar bookworm "$cache/rootfs.tar.part"
EOF2
  in_arm64_ns "$work/mmdebstrap.sh" 2> >(grep -v -e '/sys: permission denied' -e 'dmesg(1) may have more' >&2)
  mv "$cache/rootfs.tar.part" "$cache/rootfs.tar"
  say "made $cache/rootfs.tar in $((SECONDS - start)) s"
fi

port=$(( 20000 + RANDOM % 20000 ))
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "default=http://127.0.0.1:$((port + 1))" --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" put /services/web/backends/web1 10.0.0.1:80 >/dev/null 2>&1 && break
  sleep 0.1
done
ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" get /services/web/backends/web1 >/dev/null 2>&1 \
  || { cat "$work/etcd.log" >&2; fail "etcd on 127.0.0.1:$port did not start"; }

mkdir "$work/rootfs"
cp "$deb" "$work/"
cat > "$work/chroot.sh" <<EOF2
. "$work/binfmt.sh"
r=$work/rootfs
# Device nodes cannot be made in a user namespace: /dev is the host's, bound.
tar -C "\$r" --exclude='./dev/*' -xf "$cache/rootfs.tar"
mount --rbind /dev "\$r/dev" && mount -t proc proc "\$r/proc"
cp /etc/resolv.conf "\$r/etc/resolv.conf"
cp "$deb" "$work/inside.sh" "\$r/tmp/"
chroot "\$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEB="$(basename "$deb")" VERSION="$version" PORT="$port" bash /tmp/inside.sh
EOF2
cat > "$work/inside.sh" <<'INSIDE'
set -euo pipefail
say() { echo "  in Debian 12 arm64: $*"; }
export DEBIAN_FRONTEND=noninteractive
[ "$(dpkg --print-architecture)" = arm64 ] || { say "dpkg's architecture is $(dpkg --print-architecture)"; exit 1; }
if command -v node nodejs >/dev/null || dpkg -l 'nodejs*' 2>/dev/null | grep -q '^ii'; then say "Node is installed"; exit 1; fi
say "$(. /etc/os-release && echo "$PRETTY_NAME") on $(uname -m) (qemu), no Node; apt-get install ./$DEB"
apt-get update -qq
dpkg-query -W -f '${Package}\n' | sort > /tmp/before
apt-get install -y -qq "/tmp/$DEB" >/dev/null
dpkg-query -W -f '${Package}\n' | sort > /tmp/after
added=$(comm -13 /tmp/before /tmp/after | tr '\n' ' ')
say "added: $added"
case " $added" in *" reconfig "*) ;; *) say "reconfig is not installed"; exit 1 ;; esac
if echo " $added" | grep -Eq ' (nodejs|libnode|node-)'; then say "apt-get installed Node"; exit 1; fi
test "$(dpkg-query -W -f '${Architecture}' reconfig)" = arm64
test "$(reconfig --version)" = "$VERSION"
test "$(stat -c %a /etc/default/reconfig)" = 600
reconfig validate -c /etc/reconfig --allow-empty
say "--version $VERSION; validate -c /etc/reconfig passed"
mkdir -p /tmp/cfg/conf.d && cp -r /etc/reconfig/templates /tmp/cfg/
# haproxy itself is not installed: the example runs without its checkcmd.
sed 's/"checkcmd": [^,]*,//' /etc/reconfig/conf.d/haproxy.json.example > /tmp/cfg/conf.d/haproxy.json
reconfig -c /tmp/cfg --port "$PORT" --onetime 2>/tmp/onetime.log || { cat /tmp/onetime.log; exit 1; }
grep -q 'server web1 10.0.0.1:80 check' /tmp/cfg/out/haproxy.cfg
say "the haproxy example applied with --onetime from the etcd on the host's loopback"
apt-get remove -y -qq reconfig >/dev/null
hash -r   # bash remembers where it found reconfig; without this, command -v would say it still is there
if command -v reconfig >/dev/null; then say "reconfig is still on PATH after remove"; exit 1; fi
test -f /etc/reconfig/conf.d/haproxy.json.example
apt-get purge -y -qq reconfig >/dev/null
test ! -e /etc/reconfig && test ! -e /etc/default/reconfig
say "removed (the configuration stayed), then purged (it went)"
INSIDE
start=$SECONDS
in_arm64_ns "$work/chroot.sh" || fail "$(basename "$deb") on a stock arm64 Debian 12 failed (above)"
say "$(basename "$deb") installed, run, removed and purged on a stock arm64 Debian 12 in $((SECONDS - start)) s"
