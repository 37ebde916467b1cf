/**
 * Finds an etcd binary for the demo and the tests: `etcd` on PATH, else one unpacked earlier into .cache/,
 * else (on Debian or Ubuntu) Debian's etcd-server package fetched with `apt-get download` and unpacked with
 * `dpkg -x`, which needs no root. Anywhere else it says how to install etcd.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, '.cache', 'etcd');

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

export function etcdBinary(): string {
  const found = process.env.RECONFIG_ETCD_BIN ?? onPath('etcd');
  if (found) return found;
  const cached = path.join(CACHE, 'usr', 'bin', 'etcd');
  if (existsSync(cached)) return cached;
  if (!onPath('apt-get') || !onPath('dpkg')) {
    throw new Error(
      'etcd is not on PATH. Install etcd 3.4 or later: on Debian/Ubuntu `apt-get install etcd-server`, on macOS ' +
        '`brew install etcd`, elsewhere a release from https://github.com/etcd-io/etcd/releases; or set RECONFIG_ETCD_BIN.',
    );
  }
  mkdirSync(CACHE, { recursive: true });
  process.stderr.write('etcd is not on PATH: fetching Debian\'s etcd-server package into .cache/etcd (no root needed)\n');
  execFileSync('apt-get', ['download', 'etcd-server'], { cwd: CACHE, stdio: ['ignore', 'inherit', 'inherit'] });
  const deb = readdirSync(CACHE).find((n) => n.startsWith('etcd-server') && n.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download etcd-server produced no package; run `apt-get update` first');
  execFileSync('dpkg', ['-x', deb, '.'], { cwd: CACHE, stdio: 'inherit' });
  if (!existsSync(cached)) throw new Error(`unpacked etcd-server but found no ${cached}`);
  return cached;
}
