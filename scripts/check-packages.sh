#!/usr/bin/env bash
# CI's packaging check, run by .ci/run as root on a Debian machine with etcd installed:
#  1. `npm pack`, then `npm install -g` of the tarball into a scratch prefix: `reconfig --version` runs with
#     production dependencies only.
#  2. `npm run package:deb`, lintian (no errors), `apt-get install ./reconfig_*.deb`, then the installed
#     program: --version, validate -c /etc/reconfig, systemd-analyze verify on the installed unit, and the
#     haproxy example (enabled by renaming it) applied from a throwaway etcd, once with --onetime and once by
#     the watching agent (the gRPC path). Then `apt-get remove`: /etc/reconfig stays.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/reconfig-pkgcheck-XXXXXX)
etcd_pid=
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "check-packages: $*"; }

version=$(node -p "require('./package.json').version")

say "npm pack and npm install -g"
npm pack --silent --pack-destination "$work" >/dev/null
npm install -g --prefix "$work/npm-global" --no-audit --no-fund --loglevel=error "$work/reconfig-$version.tgz" >/dev/null
[ ! -e "$work/npm-global/lib/node_modules/reconfig/node_modules/typescript" ] || { say "typescript was installed"; exit 1; }
test "$("$work/npm-global/bin/reconfig" --version)" = "$version"

say "npm run package:deb, lintian"
deb=$(bash scripts/package-deb.sh "$work" | tail -1)
if command -v lintian >/dev/null 2>&1; then
  lintian --fail-on error "$deb"
fi

say "apt-get install $deb"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$deb" >/dev/null
test "$(reconfig --version)" = "$version"
test "$(stat -c %a /etc/default/reconfig)" = 600
reconfig validate -c /etc/reconfig
systemd-analyze verify /lib/systemd/system/reconfig.service

say "the installed program against a throwaway etcd"
cp /etc/reconfig/conf.d/haproxy.json.example "$work/haproxy.json"
mkdir -p "$work/cfg/conf.d" && cp "$work/haproxy.json" "$work/cfg/conf.d/" && cp -r /etc/reconfig/templates "$work/cfg/"
sed -i 's/"checkcmd": [^,]*,//' "$work/cfg/conf.d/haproxy.json"   # haproxy itself need not be installed here
port=$(( 20000 + RANDOM % 20000 ))
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
  --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
  --initial-cluster "default=http://127.0.0.1:$((port + 1))" --log-level error >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" put /services/web/backends/web1 10.0.0.1:80 >/dev/null 2>&1 && break; sleep 0.1; done
reconfig -c "$work/cfg" --port "$port" --onetime
grep -q 'server web1 10.0.0.1:80 check' "$work/cfg/out/haproxy.cfg"
reconfig -c "$work/cfg" --port "$port" 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do grep -q 'first full apply done' "$work/agent.log" && break; sleep 0.1; done
ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" put /services/web/backends/web2 10.0.0.2:80 >/dev/null
for _ in $(seq 100); do grep -q 'server web2 10.0.0.2:80 check' "$work/cfg/out/haproxy.cfg" && break; sleep 0.1; done
grep -q 'server web2 10.0.0.2:80 check' "$work/cfg/out/haproxy.cfg" || { say "the agent did not follow the change"; cat "$work/agent.log"; exit 1; }
kill "$agent_pid"; wait "$agent_pid" || true; agent_pid=

say "apt-get remove: the configuration stays"
apt-get remove -y -q reconfig >/dev/null
! command -v reconfig >/dev/null
test -f /etc/reconfig/conf.d/haproxy.json.example
test -f /etc/reconfig/templates/haproxy.cfg.ejs
test -f /etc/default/reconfig
apt-get purge -y -q reconfig >/dev/null
say "ok"
