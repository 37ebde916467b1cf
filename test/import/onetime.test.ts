/**
 * End to end: the fixture confdir imported by the built CLI (`reconfig import confd`), its data put into a real
 * etcd under a prefix of the test's own, and the built CLI run with --onetime on the imported directory, as a
 * user would (pgbouncer's resource reads two keys: a target with `keys`);
 * the files written must be what confd writes, and the check command (a real process) sees the staged file.
 * A second confdir uses lookupIP and lookupSRV, answered by a real DNS server (dnsmasq) that reconfig finds
 * through /etc/resolv.conf, replaced for its process alone in a mount namespace of its own.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cliCommand, runCli } from '../support/cli';
import { Dnsmasq } from '../support/dnsmasq';
import { sharedEtcd, uniquePrefix } from '../support/etcd';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'test', 'import', 'fixtures');
const shared = sharedEtcd();

test('imported targets, run with --onetime against etcd, write what confd writes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-import-e2e-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const confdir = path.join(dir, 'confd');
  const out = path.join(dir, 'reconfig');
  cpSync(path.join(FIXTURES, 'confd'), confdir, { recursive: true });
  rmSync(path.join(confdir, 'confd.toml'));
  const IDS = ['haproxy', 'nginx', 'pgbouncer'];
  for (const id of IDS) {
    const file = path.join(confdir, 'conf.d', `${id}.toml`);
    const text = readFileSync(file, 'utf8')
      .replace(/^dest = .*$/m, `dest = "${path.join(dir, 'files', id)}"`)
      .replace(/^check_cmd = .*$/m, 'check_cmd = "test -s {{.src}}"')
      .replace(/^reload_cmd = .*$/m, `reload_cmd = "touch ${path.join(dir, `${id}.reloaded`)}"`)
      .replace(/^(uid|gid) = .*$/gm, '');
    writeFileSync(file, text);
  }
  const imported = await runCli(['import', 'confd', '--confdir', confdir, '--out', out]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /wrote 3 target\(s\)/);

  const prefix = uniquePrefix('import');
  const data = JSON.parse(readFileSync(path.join(FIXTURES, 'confd-data.json'), 'utf8')) as Record<string, string>;
  for (const [k, v] of Object.entries(data)) await shared.client.put(`${prefix}${k}`).value(v);

  const run = await runCli(['-c', out, '--port', String(shared.etcd.clientPort), '-p', prefix, '--onetime']);
  assert.equal(run.code, 0, run.stderr);
  for (const id of IDS) {
    assert.equal(readFileSync(path.join(dir, 'files', id), 'utf8'), readFileSync(path.join(FIXTURES, 'confd-expected', 'rendered', id), 'utf8'), id);
    readFileSync(path.join(dir, `${id}.reloaded`));
  }
});

/** `reconfig args` run as runCli does, but in a mount namespace whose /etc/resolv.conf is `resolvConf`. */
function runWithResolvConf(resolvConf: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const [cmd, ...pre] = cliCommand();
  const script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"';
  const child = spawn('unshare', ['--mount', 'sh', '-c', script, 'sh', resolvConf, cmd, ...pre, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('an imported template with lookupIP and lookupSRV, run with --onetime, resolves through the system resolver', async (t) => {
  const probe = spawnSync('unshare', ['--mount', 'true']);
  if (probe.status !== 0) return t.skip(`needs unshare --mount (root) to give reconfig its own /etc/resolv.conf: ${probe.stderr.toString().trim()}`);
  const dns = await Dnsmasq.start({
    hosts: { 'e1.reconfig.test': '10.0.1.1' },
    srv: [
      { name: '_etcd-client._tcp.reconfig.test', target: 'e2.reconfig.test', port: 2380, priority: 0, weight: 10 },
      { name: '_etcd-client._tcp.reconfig.test', target: 'e1.reconfig.test', port: 2379, priority: 0, weight: 10 },
    ],
  });
  t.after(() => dns.stop());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reconfig-import-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const confdir = path.join(dir, 'confd');
  mkdirSync(path.join(confdir, 'conf.d'), { recursive: true });
  mkdirSync(path.join(confdir, 'templates'));
  writeFileSync(
    path.join(confdir, 'conf.d', 'members.toml'),
    `[template]\nsrc = "members.tmpl"\ndest = "${path.join(dir, 'members')}"\nkeys = ["/cluster"]\ncheck_cmd = "grep -q e1.reconfig.test {{.src}}"\n`,
  );
  writeFileSync(
    path.join(confdir, 'templates', 'members.tmpl'),
    '# {{getv "/cluster/name"}}\n{{range lookupSRV "etcd-client" "tcp" (getv "/cluster/domain")}}member {{.Target}}:{{.Port}}\n{{end}}' +
      'local {{join (lookupIP "localhost") ","}}\nnone {{len (lookupSRV "gone" "tcp" "reconfig.test")}}\n',
  );
  const out = path.join(dir, 'reconfig');
  const imported = await runCli(['import', 'confd', '--confdir', confdir, '--out', out]);
  assert.equal(imported.code, 0, imported.stderr);
  const prefix = uniquePrefix('import-dns');
  await shared.client.put(`${prefix}/cluster/name`).value('main');
  await shared.client.put(`${prefix}/cluster/domain`).value('reconfig.test');
  // c-ares (SRV) reads a port after the address; getaddrinfo (lookupIP) cannot, and finds localhost in /etc/hosts.
  const resolvConf = path.join(dir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${dns.address}\n`);
  const run = await runWithResolvConf(resolvConf, ['-c', out, '--port', String(shared.etcd.clientPort), '-p', prefix, '--onetime']);
  assert.equal(run.code, 0, run.stderr);
  const local = (await lookup('localhost', { all: true })).map((a) => a.address).sort().join(',');
  assert.equal(readFileSync(path.join(dir, 'members'), 'utf8'), `# main\nmember e1.reconfig.test.:2379\nmember e2.reconfig.test.:2380\nlocal ${local}\nnone 0\n`);
});
