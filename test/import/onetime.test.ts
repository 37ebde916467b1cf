/**
 * End to end: the fixture confdir imported by the built CLI (`reconfig import confd`), its data put into a real
 * etcd under a prefix of the test's own, and the built CLI run with --onetime on the imported directory, as a
 * user would (pgbouncer's resource reads two keys: a target with `keys`);
 * the files written must be what confd writes, and the check command (a real process) sees the staged file.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/cli';
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
