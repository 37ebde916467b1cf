#!/usr/bin/env bash
# Installs a reconfig .deb on a stock Debian 12 (scripts/stock-debian.sh) as a new user would, and checks it:
#   check-stock-debian.sh reconfig_<version>_amd64.deb
# In a container with Debian's apt sources only and no Node anywhere: `apt-get install ./reconfig_*.deb` adds
# that package and what it recommends (procps), nothing of Node; --version; validate -c /etc/reconfig; the haproxy example applied from an
# etcd on this machine's loopback, once with --onetime and once by the watching agent; systemd-analyze verify of
# the unit; then apt-get remove (the configuration stays) and purge (it goes).
set -euo pipefail
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=stock-debian.sh
. "$root/scripts/stock-debian.sh"
version=$(node -p "require('$root/package.json').version")
work=$(mktemp -d /tmp/reconfig-stock-XXXXXX)
etcd_pid=
cleanup() {
  podman_cleanup
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "check-stock-debian: $*"; }

podman_store "$work/podman"
stock_debian

port=$(( 20000 + RANDOM % 20000 ))
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "default=http://127.0.0.1:$((port + 1))" --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
ctl() { ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" "$@"; }
for _ in $(seq 100); do ctl put /services/web/backends/web1 10.0.0.1:80 >/dev/null 2>&1 && break; sleep 0.1; done

# What runs inside the container. The agent's change comes from outside: the container waits for a file that
# this script writes after its put.
cat > "$work/inside.sh" <<'INSIDE'
set -euo pipefail
say() { echo "  in Debian 12: $*"; }
export DEBIAN_FRONTEND=noninteractive
if command -v node nodejs >/dev/null || dpkg -l 'nodejs*' 2>/dev/null | grep -q '^ii'; then say "Node is installed"; exit 1; fi
say "$(. /etc/os-release && echo "$PRETTY_NAME"), no Node; apt-get install ./reconfig_*.deb"
apt-get update -qq
dpkg-query -W -f '${Package}\n' | sort > /tmp/before
apt-get install -y -qq /tmp/deb/"$DEB" >/dev/null
dpkg-query -W -f '${Package}\n' | sort > /tmp/after
added=$(comm -13 /tmp/before /tmp/after | tr '\n' ' ')
say "added: $added"
case " $added" in *" reconfig "*) ;; *) say "reconfig is not installed"; exit 1 ;; esac
# Depends are the executable's libraries, all in minbase already; what comes in is reconfig and what it
# recommends (procps, for the unit's /bin/kill), and nothing of Node.
if echo " $added" | grep -Eq ' (nodejs|libnode|node-)'; then say "apt-get installed Node"; exit 1; fi
if command -v node nodejs >/dev/null; then say "Node is on PATH"; exit 1; fi
test "$(reconfig --version)" = "$VERSION"
test "$(stat -c %a /etc/default/reconfig)" = 600
# As installed, /etc/reconfig holds only examples (*.json.example): no target, which validate refuses (exit 2),
# naming the examples; with --allow-empty it passes. Then the examples themselves validate once enabled.
if reconfig validate -c /etc/reconfig 2>/tmp/validate.log; then say "validate passed a conf.d with no target"; exit 1; fi
grep -q 'no targets: only files that are not targets (haproxy.json.example' /tmp/validate.log || { cat /tmp/validate.log; exit 1; }
reconfig validate -c /etc/reconfig --allow-empty

say "the haproxy example from the etcd on the host's loopback"
mkdir -p /tmp/cfg/conf.d && cp -r /etc/reconfig/templates /tmp/cfg/
# haproxy itself is not installed: the example runs without its checkcmd.
sed 's/"checkcmd": [^,]*,//' /etc/reconfig/conf.d/haproxy.json.example > /tmp/cfg/conf.d/haproxy.json
reconfig -c /tmp/cfg --port "$PORT" --onetime 2>/tmp/onetime.log || { cat /tmp/onetime.log; exit 1; }
grep -q 'server web1 10.0.0.1:80 check' /tmp/cfg/out/haproxy.cfg
reconfig -c /tmp/cfg --port "$PORT" 2>/tmp/agent.log &
agent=$!
for _ in $(seq 300); do grep -q 'first full apply done' /tmp/agent.log && break; sleep 0.1; done
touch /tmp/deb/agent-ready
for _ in $(seq 300); do grep -q 'server web2 10.0.0.2:80 check' /tmp/cfg/out/haproxy.cfg && break; sleep 0.1; done
grep -q 'server web2 10.0.0.2:80 check' /tmp/cfg/out/haproxy.cfg || { say "the agent did not follow the change"; cat /tmp/agent.log; exit 1; }
kill -TERM "$agent"; wait "$agent"

say "systemd-analyze verify (systemd installed from Debian for it)"
apt-get install -y -qq --no-install-recommends systemd >/dev/null
systemd-analyze verify /lib/systemd/system/reconfig.service

say "apt-get remove: the configuration stays; purge: it goes"
apt-get remove -y -qq reconfig >/dev/null
hash -r   # bash remembers where it found reconfig; without this, command -v would say it still is there
if command -v reconfig >/dev/null; then say "reconfig is still on PATH after remove"; exit 1; fi
test -f /etc/reconfig/conf.d/haproxy.json.example
test -f /etc/default/reconfig
apt-get purge -y -qq reconfig >/dev/null
test ! -e /etc/reconfig && test ! -e /etc/default/reconfig
say ok
INSIDE

mkdir -p "$work/share"
cp "$deb" "$work/share/"
say "$(basename "$deb") on $STOCK_IMAGE"
podman run --rm --network host -v "$work/share:/tmp/deb" -v "$work/inside.sh:/tmp/inside.sh:ro" \
  -e DEB="$(basename "$deb")" -e VERSION="$version" -e PORT="$port" "$STOCK_IMAGE" bash /tmp/inside.sh &
container=$!
for _ in $(seq 1200); do [ -e "$work/share/agent-ready" ] && break; kill -0 "$container" 2>/dev/null || break; sleep 0.1; done
if [ -e "$work/share/agent-ready" ]; then ctl put /services/web/backends/web2 10.0.0.2:80 >/dev/null; fi
wait "$container"
say ok
