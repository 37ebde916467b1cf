/**
 * A target of several files, applied as one, against a real etcd with real check and reload commands: a reload
 * never sees a new file beside an old one; a failed check leaves both as they were; a failed rename of the second
 * file puts the first back; checkcmd names each staged file.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AgentProcess, runCli } from '../support/cli';
import { sharedEtcd, uniquePrefix } from '../support/etcd';
import { makeCfgdir, readOr, waitFor } from '../support/util';

const shared = sharedEtcd();
const port = (): string => String(shared.etcd.clientPort);

/** Two files from one key, /pair/gen: `a.conf` says `a <gen>`, `b.map` says `b <gen>`. */
function pair(extra: (paths: { a: string; b: string }) => Record<string, unknown> = () => ({})): { cfg: string; a: string; b: string; reloads: string } {
  const cfg = makeCfgdir({}, { 'a.ejs': 'a <%= get("/pair/gen") %>\n', 'b.ejs': 'b <%= get("/pair/gen") %>\n' });
  const a = path.join(cfg, 'out', 'a.conf');
  const b = path.join(cfg, 'out', 'b.map');
  const reloads = path.join(cfg, 'reloads');
  makeCfgdir(
    {
      pair: {
        id: 'pair',
        files: [
          { source: 'a.ejs', target: 'out/a.conf' },
          { source: 'b.ejs', target: 'out/b.map', mode: '0640' },
        ],
        key: '/pair',
        recursive: true,
        // The reload records what both files hold when it runs.
        reloadcmd: `echo "$(cat ${a}) | $(cat ${b})" >> ${reloads}`,
        ...extra({ a, b }),
      },
    },
    {},
    cfg,
  );
  return { cfg, a, b, reloads };
}

const lines = (file: string): string[] => readOr(file).split('\n').filter(Boolean);

test('every reload sees both files of the set from the same change, over 50 changes', async () => {
  const p = uniquePrefix('fileset');
  await shared.client.put(`${p}/pair/gen`).value('0');
  const { cfg, a, b, reloads } = pair();
  const agent = AgentProcess.start(['-c', cfg, '--port', port(), '-p', p]);
  try {
    await waitFor(() => readOr(a) === 'a 0\n' && readOr(b) === 'b 0\n', 'the first apply of both files');
    for (let i = 1; i <= 50; i++) await shared.client.put(`${p}/pair/gen`).value(String(i));
    await waitFor(() => lines(reloads).at(-1) === 'a 50 | b 50', 'the last change reloaded');
    const records = lines(reloads);
    const torn = records.filter((r) => {
      const m = /^a (\d+) \| b (\d+)$/.exec(r);
      return !m || m[1] !== m[2];
    });
    assert.deepEqual(torn, [], `a reload saw a new file beside an old one (${records.length} reloads)`);
    assert.equal(statSync(b).mode & 0o777, 0o640, "the second file's own mode");
  } finally {
    await agent.stop();
  }
});

test('checkcmd names each staged file; a failed check leaves both files as they were, and keeps both refused', async () => {
  const p = uniquePrefix('fileset-check');
  await shared.client.put(`${p}/pair/gen`).value('1');
  // Both staged files must hold the same generation, and none may say "bad".
  const check = 'test "$(cut -d" " -f2 {{src}})" = "$(cut -d" " -f2 {{src.b.map}})" && ! grep -q bad {{src}} {{src.b.map}}';
  const { cfg, a, b, reloads } = pair(() => ({ checkcmd: check }));
  const once = (): ReturnType<typeof runCli> => runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal((await once()).code, 0);
  assert.deepEqual([readOr(a), readOr(b)], ['a 1\n', 'b 1\n']);
  await shared.client.put(`${p}/pair/gen`).value('bad');
  const refused = await once();
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /FAILED at check: .*the refused file is kept as .*a\.conf\.reconfig-refused, .*b\.map\.reconfig-refused/);
  assert.deepEqual([readOr(a), readOr(b)], ['a 1\n', 'b 1\n'], 'neither file changed');
  assert.equal(readOr(`${b}.reconfig-refused`), 'b bad\n');
  assert.deepEqual(lines(reloads), ['a 1 | b 1'], 'no reload for a refused set');
});

test('a failed rename of the second file puts the first back; nothing is reloaded', async () => {
  const p = uniquePrefix('fileset-swap');
  await shared.client.put(`${p}/pair/gen`).value('1');
  // The check passes, but on "sabotage" it first puts a non-empty directory where the second file goes.
  const { cfg, a, b, reloads } = pair((f) => ({ checkcmd: `if grep -q sabotage {{src}}; then rm -f ${f.b} && mkdir -p ${f.b}/x; fi; true` }));
  const once = (): ReturnType<typeof runCli> => runCli(['-c', cfg, '--port', port(), '-p', p, '--onetime']);
  assert.equal((await once()).code, 0);
  await shared.client.put(`${p}/pair/gen`).value('sabotage');
  const r = await once();
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAILED at swap: .*b\.map.*; .*a\.conf put back as they were/);
  assert.equal(readOr(a), 'a 1\n', 'the first file is back');
  assert.ok(existsSync(path.join(b, 'x')), 'the obstacle is still where the second file goes');
  assert.deepEqual(lines(reloads), ['a 1 | b 1'], 'no reload of a half-swapped set');
});
